"""The command line and the one error boundary: ``main(argv, env) -> int``."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence


def main(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run cortex-action; return the exit code. (Being written: see issue 2.)"""
    args = list(argv)
    if args[:1] == ["emulator"] or (not args and env.get("CORTEX_COMMAND") == "emulator"):
        from cortex_action.emulator.cli import main as emulator_main

        return emulator_main(args[1:], env)
    return 2


def console_main() -> None:
    sys.exit(main(sys.argv[1:], os.environ))
