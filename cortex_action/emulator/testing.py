"""pytest fixtures for the emulator: ``pytest_plugins = ["cortex_action.emulator.testing"]``.

``emulator`` is a started server with the built-in configuration; ``make_emulator`` builds
more (with another config or speed) and stops them all at the end of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from cortex_action.emulator.config import EmulatorConfig
from cortex_action.emulator.server import EmulatorServer

# Scripted seconds run this many times faster in tests: deploy-service takes ~0.2 s.
TEST_SPEED = 20.0

EmulatorFactory = Callable[..., EmulatorServer]


@pytest.fixture
def make_emulator() -> Iterator[EmulatorFactory]:
    """A factory of started emulators: ``make_emulator(config=None, speed=TEST_SPEED, **kw)``."""
    started: list[EmulatorServer] = []

    def factory(
        config: EmulatorConfig | Mapping[str, Any] | None = None,
        speed: float = TEST_SPEED,
        **kwargs: Any,
    ) -> EmulatorServer:
        emu = EmulatorServer(config, speed=speed, **kwargs).start()
        started.append(emu)
        return emu

    yield factory
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(make_emulator: EmulatorFactory) -> EmulatorServer:
    """A started emulator with the built-in configuration at ``TEST_SPEED``."""
    return make_emulator()
