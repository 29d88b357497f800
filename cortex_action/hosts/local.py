"""A shell or any CI we don't know: plain, readable lines on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from cortex_action.hosts.base import Host


class LocalHost(Host):
    name = "local"

    @property
    def stream(self) -> TextIO:
        return self.err

    def result_dir(self) -> Path | None:
        folder = self.env.get("CORTEX_ACTION_OUTPUT_DIR", "")
        return Path(folder) if folder else None
