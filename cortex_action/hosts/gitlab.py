"""GitLab CI: collapsible sections and colour in the job log, result files in the project folder.

GitLab has no step outputs or job summary: a later job reads ``cortex-action.env`` through
``artifacts:reports:dotenv``, the merge-request widget reads ``cortex-action-junit.xml`` through
``artifacts:reports:junit``.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TextIO

from cortex_action.hosts.base import Host, no_color
from cortex_action.render.result_files import EnvSyntax

_SECTION_NAME = re.compile(r"[^a-z0-9_.-]+")


def section_name(title: str, number: int) -> str:
    """A section name GitLab accepts (letters, digits, ``_.-``), unique within the job."""
    slug = _SECTION_NAME.sub("_", title.lower()).strip("_")[:40] or "section"
    return f"cortex_{number}_{slug}"


class GitLabHost(Host):
    name = "gitlab"
    env_syntax = EnvSyntax.DOTENV

    def __init__(
        self,
        env: Mapping[str, str],
        out: TextIO,
        err: TextIO,
        *,
        output_dir: str | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(env, out, err, output_dir=output_dir)
        self._wall = wall  # section markers carry a Unix time: GitLab shows each one's duration
        self._numbers = itertools.count(1)

    @property
    def stream(self) -> TextIO:
        # The job log shows both streams; stderr keeps stdout clean for `--json > result.json`.
        return self.err

    @property
    def job_url(self) -> str | None:
        return self.env.get("CI_JOB_URL") or None

    @property
    def workspace(self) -> str | None:
        return self.env.get("CI_PROJECT_DIR") or None

    def _use_colour(self) -> bool:
        # GitLab's job log always renders ANSI colour, whatever the runner's terminal is.
        return not no_color(self.env)

    def default_result_dir(self) -> Path | None:
        # artifacts: paths are relative to CI_PROJECT_DIR, so that is where the files must be.
        return Path(self.workspace) if self.workspace else None

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        name = section_name(title, next(self._numbers))
        heading = self.paint(self._clean(title).replace("\n", " "), "title")
        self._write(
            f"\x1b[0Ksection_start:{int(self._wall())}:{name}[collapsed=true]\r\x1b[0K{heading}"
        )
        try:
            yield
        finally:
            self._write(f"\x1b[0Ksection_end:{int(self._wall())}:{name}\r\x1b[0K")
