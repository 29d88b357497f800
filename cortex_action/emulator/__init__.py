"""A local emulator of Cortex's Workflow Runs API, for tests, demos and offline dry runs.

Quick use from Python::

    from cortex_action.emulator import EmulatorServer

    with EmulatorServer(speed=20) as emu:
        ...  # talk to emu.url with emu.token; read emu.requests and emu.runs

See docs/emulator.md for the behaviour and the configuration file.
"""

from cortex_action.emulator.config import (
    ConfigError,
    EmulatorConfig,
    FaultConfig,
    default_config,
    load_config,
    parse_config,
)
from cortex_action.emulator.engine import RunStateError
from cortex_action.emulator.server import EmulatorServer, RecordedRequest

__all__ = [
    "ConfigError",
    "EmulatorConfig",
    "EmulatorServer",
    "FaultConfig",
    "RecordedRequest",
    "RunStateError",
    "default_config",
    "load_config",
    "parse_config",
]
