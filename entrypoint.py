"""Entry point of the container image: ``python /app/entrypoint.py``.

Starts Python directly (no shell), so variables such as ``INPUT_API-TOKEN`` reach us intact.

A first argument that is not one of ours but a program on ``PATH`` (``cat``, ``sh``) is run in
our place, as official images do: Jenkins' ``docker ... inside`` keeps the container alive with
``cat``, and GitLab hands its shell to the entrypoint, so both work without overriding it.
"""

import os
import shutil
import sys

from cortex_action.cli import main

OWN_COMMANDS = frozenset({"run", "get", "wait", "list", "callback", "emulator"})


def passthrough(args: list[str]) -> str | None:
    """The program to run instead of the tool, if ``args`` names one."""
    if not args or args[0].startswith("-") or args[0] in OWN_COMMANDS:
        return None
    return shutil.which(args[0])


if __name__ == "__main__":
    program = passthrough(sys.argv[1:])
    if program is not None:
        os.execv(program, sys.argv[1:])  # noqa: S606 - by design: the caller chose the program
    sys.exit(main(sys.argv[1:], os.environ))
