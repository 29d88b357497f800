"""The interface every CI host adapter implements: logs, groups, annotations, masking, outputs,
summary and result files. Only adapters write to the log streams and to files.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from cortex_action.sanitize import defuse_commands


class Host:
    """Where the job runs, and how to tell its user what happened there."""

    name: str = "local"

    def __init__(self, env: Mapping[str, str], out: TextIO, err: TextIO) -> None:
        self.env = env
        self.out = out
        self.err = err
        self._secrets: list[str] = []

    # -- facts about the job ------------------------------------------------------------------

    @property
    def run_attempt(self) -> str | None:
        """The attempt number of a re-run job, where the host has one."""
        return None

    @property
    def job_url(self) -> str | None:
        """A link back to this CI job, if the host gives one."""
        return None

    # -- the log ----------------------------------------------------------------------------

    @property
    def stream(self) -> TextIO:
        """Where log lines go: stdout on CI hosts, stderr locally (stdout is for ``--json``)."""
        return self.out

    def redact(self, text: str) -> str:
        """Every masked secret replaced by ``***``: applied to all we print or write."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _write(self, text: str) -> None:
        text = self.redact(text)
        self.stream.write(text if text.endswith("\n") else text + "\n")
        self.stream.flush()

    def info(self, text: str) -> None:
        self._write(defuse_commands(text))

    def detail(self, text: str) -> None:
        """Detail (request bodies, retries): the same as ``info`` unless a host folds it."""
        self.info(text)

    def warning(self, text: str, title: str | None = None) -> None:
        self._write(defuse_commands(f"Warning: {title + ': ' if title else ''}{text}"))

    def error(self, text: str, title: str | None = None) -> None:
        self._write(defuse_commands(f"Error: {title + ': ' if title else ''}{text}"))

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        self.info(title)
        yield

    def mask(self, secret: str) -> None:
        """Never print ``secret``; hosts that can also ask the CI to mask it."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    # -- results ------------------------------------------------------------------------------

    def write_outputs(self, outputs: Mapping[str, str]) -> None:
        """Step outputs for later steps; hosts without them do nothing."""

    def write_summary(self, markdown: str) -> None:
        """A job summary; hosts without one do nothing."""

    def result_dir(self) -> Path | None:
        """Where result files go on this host, or None for none."""
        return None

    def write_files(self, files: Mapping[str, str]) -> list[Path]:
        """Write result files into ``result_dir()``, atomically; returns what was written."""
        folder = self.result_dir()
        if folder is None:
            return []
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, content in files.items():
            path = folder / name
            tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
            tmp.write_text(self.redact(content), encoding="utf-8")
            tmp.replace(path)
            written.append(path)
        return written
