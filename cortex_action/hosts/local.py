"""A shell or any CI we don't know: readable lines on stderr (stdout is for ``--json``).

On a terminal: colour, and progress shown on one live line that each update rewrites. Anywhere
else (a pipe, a file, an unknown CI): plain lines, one per update. ``NO_COLOR`` turns colour off.
"""

from __future__ import annotations

import functools
import shutil
from typing import TextIO

from cortex_action.hosts.base import Host, no_color


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # closed or exotic streams: not a terminal
        return False


class LocalHost(Host):
    # A CI we don't know may still set one of the well-known commit variables.
    commit_variables = ("GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT")
    _live = False  # a progress line is on screen, without its newline yet

    @functools.cached_property
    def interactive(self) -> bool:
        """A terminal that can rewrite a line: progress stays on one live line."""
        return is_terminal(self.err) and self.env.get("TERM", "") != "dumb"

    @property
    def live(self) -> bool:
        return self.interactive

    @property
    def checkout(self) -> str | None:
        # Where a CI we don't know checked out: the three hosts' own names, else the cwd.
        env = self.env
        return env.get("GITHUB_WORKSPACE") or env.get("CI_PROJECT_DIR") or env.get("WORKSPACE")

    def _use_colour(self) -> bool:
        return self.interactive and not no_color(self.env)

    def _write(self, text: str) -> None:
        if self._live:  # keep the last progress line, and start the next line below it
            self.stream.write("\n")
            self._live = False
        super()._write(text)

    def status(self, text: str) -> None:
        if not self.interactive:
            super().status(text)
            return
        line = self.redact(self._clean(text).replace("\n", " "))
        # One screen row: a wrapped line can't be rewritten in place.
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        if len(line) > width:
            line = line[: width - 1] + "…"
        self.stream.write("\r\x1b[2K" + self.paint(line, "dim"))
        self.stream.flush()
        self._live = True
