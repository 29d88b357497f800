"""Jenkins: plain console lines, and result files in the workspace for ``readJSON``,
``readProperties`` and ``junit``.

The console shows ANSI colour only through a plugin (AnsiColor sets ``TERM``), so colour is off
unless ``TERM`` names a colour terminal; anything else would print escape codes as text.
"""

from __future__ import annotations

import re
from pathlib import Path

from cortex_action.hosts.base import Host, no_color
from cortex_action.render.result_files import EnvSyntax

# Terminal types that render SGR colour; "dumb", empty or unknown ones don't get any.
COLOUR_TERMS = re.compile(r"(xterm|vt100|vt220|ansi|linux|screen|tmux|rxvt|konsole)([-.].*)?")


class JenkinsHost(Host):
    # Aborting a build does not always deliver SIGTERM to the step (durable-task), so a later
    # `post { always { } }` must still find the last known state in the result files.
    checkpoint_files = True
    commit_variables = ("GIT_COMMIT",)
    # The one syntax that readProperties (java.util.Properties), `. ./cortex-action.env` in an
    # `sh` step and GitLab's dotenv parser all read alike (see result_files.DOTENV_SAFE).
    env_syntax = EnvSyntax.DOTENV
    ci_name = "Jenkins"

    @property
    def job_url(self) -> str | None:
        return self.env.get("BUILD_URL") or None

    @property
    def job_name(self) -> str | None:
        job = self.env.get("JOB_NAME", "").strip()
        number = self.env.get("BUILD_NUMBER", "").strip()
        if job and number:
            return f"{job} #{number}"
        return job or None

    @property
    def workspace(self) -> str | None:
        return self.env.get("WORKSPACE") or None

    def _use_colour(self) -> bool:
        return not no_color(self.env) and bool(COLOUR_TERMS.fullmatch(self.env.get("TERM", "")))

    def default_result_dir(self) -> Path | None:
        # readJSON, readProperties and junit resolve relative paths against the workspace.
        return Path(self.workspace) if self.workspace else None
