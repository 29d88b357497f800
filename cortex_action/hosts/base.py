"""The interface every CI host adapter implements: logs, groups, annotations, masking, outputs,
summary and result files. Only adapters write to the log streams and to files.

Which adapter runs is decided once, in ``detect.py``; nothing else looks at which host this is.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import ClassVar, TextIO

from cortex_action.render import result_files as render_files
from cortex_action.render.result_files import EnvSyntax
from cortex_action.report import Report
from cortex_action.sanitize import defuse_commands, visible_controls

# SGR codes for the few styles we use; hosts that show colour opt in with ``colour``.
STYLES = {"error": "31", "warning": "33", "title": "36;1", "dim": "2"}


def no_color(env: Mapping[str, str]) -> bool:
    """The NO_COLOR convention (no-color.org): set and not empty means no colour at all."""
    return bool(env.get("NO_COLOR", ""))


def neutralise_terminal(text: str) -> str:
    """Our log lines never carry raw ESC or CR: text can't recolour, rewrite or fake a section.
    Nor any other control character (backspace, NUL, the 8-bit CSI): all shown as ``\\xNN``."""
    text = text.replace("\r\n", "\n").replace("\r", "\\r")
    return visible_controls(text)


_SHA = re.compile(r"[0-9a-fA-F]{7,64}")


def git_head(cwd: str | None) -> str | None:
    """``git rev-parse HEAD`` in ``cwd``, or None where there is no git or no repository."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


class Host:
    """Where the job runs, and how to tell its user what happened there."""

    # The variables that name the commit being built, in order; then git in the workspace.
    commit_variables: ClassVar[tuple[str, ...]] = ()
    # Whether repeating the job sends the same idempotency key (GitHub: a re-run is a new
    # attempt, with a key of its own).
    retry_sends_same_key: ClassVar[bool] = True
    git: Callable[[str | None], str | None] = staticmethod(git_head)
    # Whether the result files are rewritten at every status change, not only at the end: where
    # the CI can stop the step without a signal, a later step still finds the last known state.
    checkpoint_files: ClassVar[bool] = False

    # What the CI is called in messages ("GitHub Actions job ..."); None: a shell or unknown CI.
    ci_name: ClassVar[str | None] = None

    # The syntax of the variables file (``cortex-action.env``) this host's tools read.
    env_syntax: EnvSyntax = EnvSyntax.DOTENV

    def __init__(
        self,
        env: Mapping[str, str],
        out: TextIO,
        err: TextIO,
        *,
        output_dir: str | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.env = env
        self.out = out
        self.err = err
        # The `output-dir` input: where result files go instead of the host's own folder.
        self.output_dir = output_dir or None
        self._wall = wall  # Unix time, for hosts whose log marks carry it (GitLab's sections)
        self._secrets: list[str] = []
        self._annotated: set[tuple[str, str]] = set()  # (level, title) said as annotations
        self.colour = self._use_colour()

    # -- facts about the job ------------------------------------------------------------------

    @property
    def run_attempt(self) -> str | None:
        """The attempt number of a re-run job, where the host has one."""
        return None

    @property
    def job_url(self) -> str | None:
        """A link back to this CI job, if the host gives one."""
        return None

    @property
    def job_name(self) -> str | None:
        """This job's name as its CI shows it, if the host gives one."""
        return None

    @property
    def commit(self) -> tuple[str, str] | None:
        """The commit being built, and where it was found: the host's variable, else git."""
        for name in self.commit_variables:
            value = self.env.get(name, "").strip()
            if _SHA.fullmatch(value):
                return value.lower(), name
        head = self.git(self.checkout)
        if head and _SHA.fullmatch(head):
            return head.lower(), "git rev-parse HEAD"
        return None

    @property
    def checkout(self) -> str | None:
        """Where git looks for the commit: the workspace."""
        return self.workspace

    @property
    def commit_sources(self) -> str:
        """Where ``commit`` looks, for the message that says none was found."""
        return ", ".join([*self.commit_variables, "git"])

    @property
    def workspace(self) -> str | None:
        """The job's checkout folder, if the host names one: a relative output-dir starts here."""
        return None

    # -- the log ----------------------------------------------------------------------------

    @property
    def stream(self) -> TextIO:
        """Where log lines go: stderr, so that stdout stays clean for ``--json > result.json``
        (a CI job log shows both streams)."""
        return self.err

    def _use_colour(self) -> bool:
        """Whether this host's log shows ANSI colour; plain by default."""
        return False

    def paint(self, text: str, style: str) -> str:
        """``text`` in a style, line by line (some viewers reset colour at each line end)."""
        if not self.colour:
            return text
        code = STYLES[style]
        return "\n".join(
            f"\x1b[{code}m{line}\x1b[0m" if line else line for line in text.split("\n")
        )

    def redact(self, text: str) -> str:
        """Every masked secret replaced by ``***``: applied to all we print or write."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _write(self, text: str) -> None:
        text = self.redact(text)
        self.stream.write(text if text.endswith("\n") else text + "\n")
        self.stream.flush()

    def _clean(self, text: str) -> str:
        # Secrets first: neutralising and defusing can change a secret's characters (a token
        # with ``##[`` in it), after which it would no longer match and be printed.
        return defuse_commands(neutralise_terminal(self.redact(text)))

    def info(self, text: str) -> None:
        self._write(self._clean(text))

    def detail(self, text: str) -> None:
        """Detail (request bodies, retries): the same as ``info`` unless a host folds it."""
        self.info(text)

    @property
    def live(self) -> bool:
        """Whether ``status`` rewrites one line in place (a terminal), so it may tick."""
        return False

    def status(self, text: str) -> None:
        """A progress line (status changes, heartbeats): ``info`` unless a host shows it live."""
        self.info(text)

    def warning(self, text: str, title: str | None = None) -> None:
        """A warning: an annotation the first time for its title (its kind of problem), a plain
        line after that, so one repeated problem can't push the others out of the list (GitHub
        shows 10 annotations per step)."""
        if self._said_before("warning", title):
            self.info(f"Warning: {title}: {text}")
        else:
            self._warning(text, title)

    def error(self, text: str, title: str | None = None) -> None:
        """An error, an annotation once per title, like ``warning``."""
        if self._said_before("error", title):
            self.info(f"Error: {title}: {text}")
        else:
            self._error(text, title)

    def _said_before(self, level: str, title: str | None) -> bool:
        if title is None:
            return False
        said = (level, title) in self._annotated
        self._annotated.add((level, title))
        return said

    def _warning(self, text: str, title: str | None) -> None:
        """The annotation itself; hosts with annotations override this."""
        line = self._clean(f"Warning: {title + ': ' if title else ''}{text}")
        self._write(self.paint(line, "warning"))

    def _error(self, text: str, title: str | None) -> None:
        line = self._clean(f"Error: {title + ': ' if title else ''}{text}")
        self._write(self.paint(line, "error"))

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._write(self.paint(self._clean(title), "title"))
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

    def default_result_dir(self) -> Path | None:
        """The host's own folder for result files, or None: no files unless output-dir is given."""
        return None

    def result_dir(self) -> Path | None:
        """Where result files go: output-dir if given (relative to the workspace), else the
        host's own folder, else None for none."""
        if self.output_dir:
            path = Path(self.output_dir)
            if not path.is_absolute() and self.workspace:
                # Not the working directory: a container's cwd is not always the checkout.
                path = Path(self.workspace) / path
            return path
        return self.default_result_dir()

    def result_files(self, report: Report) -> dict[str, str]:
        """The result files this host's tools read, by name (see ``render_files``)."""
        return render_files.result_files(report, self.env_syntax)

    def link_files(self, label: str, url: str | None) -> dict[str, str]:
        """The files that put a link on the job page, where the host has them (GitLab's
        annotations report); for endings that bring their own result files (a fan-out)."""
        return {}

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
            # Cortex's JSON can carry lone surrogates; a result file must still be written.
            tmp.write_text(self.redact(content), encoding="utf-8", errors="replace")
            tmp.replace(path)
            written.append(path)
        return written
