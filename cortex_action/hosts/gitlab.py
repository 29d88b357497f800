"""GitLab CI: collapsible sections and colour in the job log, result files in the project folder.

GitLab has no step outputs or job summary: a later job reads ``cortex-action.env`` through
``artifacts:reports:dotenv``, the merge-request widget reads ``cortex-action-junit.xml`` through
``artifacts:reports:junit``, and the job page links to the Cortex run through
``cortex-action-annotations.json`` (``artifacts:reports:annotations``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from cortex_action.hosts.base import Host, no_color
from cortex_action.render import result_files as render_files
from cortex_action.render.result_files import EnvSyntax
from cortex_action.report import Report

_SECTION_NAME = re.compile(r"[^a-z0-9_.-]+")


def section_name(title: str, number: int) -> str:
    """A section name GitLab accepts (letters, digits, ``_.-``), unique within the job."""
    slug = _SECTION_NAME.sub("_", title.lower()).strip("_")[:40] or "section"
    return f"cortex_{number}_{slug}"


class GitLabHost(Host):
    commit_variables = ("CI_COMMIT_SHA",)
    env_syntax = EnvSyntax.DOTENV
    ci_name = "GitLab CI"
    # Sections opened so far: a section's name must be unique within the job.
    _sections = 0

    @property
    def job_url(self) -> str | None:
        return self.env.get("CI_JOB_URL") or None

    @property
    def job_name(self) -> str | None:
        project = self.env.get("CI_PROJECT_PATH", "").strip()
        job = self.env.get("CI_JOB_NAME", "").strip()
        return " / ".join(p for p in (project, job) if p) or None

    @property
    def workspace(self) -> str | None:
        return self.env.get("CI_PROJECT_DIR") or None

    def _use_colour(self) -> bool:
        # GitLab's job log always renders ANSI colour, whatever the runner's terminal is.
        return not no_color(self.env)

    def result_files(self, report: Report) -> dict[str, str]:
        files = super().result_files(report)
        files[render_files.ANNOTATIONS_FILE] = render_files.gitlab_annotations(report)
        return files

    def link_files(self, label: str, url: str | None) -> dict[str, str]:
        return {render_files.ANNOTATIONS_FILE: render_files.annotations_report(label, url)}

    def default_result_dir(self) -> Path | None:
        # artifacts: paths are relative to CI_PROJECT_DIR, so that is where the files must be.
        return Path(self.workspace) if self.workspace else None

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._sections += 1
        name = section_name(title, self._sections)
        heading = self.paint(self._clean(title).replace("\n", " "), "title")
        # Section markers carry a Unix time: GitLab shows each section's duration.
        self._write(
            f"\x1b[0Ksection_start:{int(self._wall())}:{name}[collapsed=true]\r\x1b[0K{heading}"
        )
        try:
            yield
        finally:
            self._write(f"\x1b[0Ksection_end:{int(self._wall())}:{name}\r\x1b[0K")
