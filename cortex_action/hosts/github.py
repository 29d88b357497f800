"""GitHub Actions: workflow commands, step outputs and the job summary."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from cortex_action.hosts.base import Host

# GitHub refuses a step summary over 1 MiB; stay well clear of it.
SUMMARY_LIMIT = 1_000_000


def escape_data(text: str) -> str:
    """The runner's escaping for a command's message, so it stays on its one line."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def fit_summary(markdown: str) -> str:
    """The summary cut at a line end to stay under GitHub's limit, saying that it was cut."""
    if len(markdown.encode()) <= SUMMARY_LIMIT:
        return markdown
    cut = markdown.encode()[: SUMMARY_LIMIT - 200].decode("utf-8", "ignore")
    return (
        cut.rsplit("\n", 1)[0] + "\n\n_The summary was cut to stay under GitHub's 1 MiB limit._\n"
    )


class GitHubHost(Host):
    commit_variables = ("GITHUB_SHA",)
    retry_sends_same_key = False
    ci_name = "GitHub Actions"

    @property
    def stream(self) -> TextIO:
        # Log lines and workflow commands go to stdout, where GitHub's own toolkit writes them.
        return self.out

    @property
    def run_attempt(self) -> str | None:
        return self.env.get("GITHUB_RUN_ATTEMPT") or None

    @property
    def job_url(self) -> str | None:
        server = self.env.get("GITHUB_SERVER_URL", "").rstrip("/")
        repo = self.env.get("GITHUB_REPOSITORY", "")
        run_id = self.env.get("GITHUB_RUN_ID", "")
        if server and repo and run_id:
            return f"{server}/{repo}/actions/runs/{run_id}"
        return None

    @property
    def job_name(self) -> str | None:
        workflow = self.env.get("GITHUB_WORKFLOW", "").strip()
        job = self.env.get("GITHUB_JOB", "").strip()
        return " / ".join(p for p in (workflow, job) if p) or None

    @property
    def workspace(self) -> str | None:
        return self.env.get("GITHUB_WORKSPACE") or None

    def _command(self, name: str, message: str, **properties: str) -> None:
        props = ",".join(
            f"{k}={escape_property(self.redact(v))}" for k, v in properties.items() if v
        )
        # The message is data: secrets masked first (escaping would change their characters),
        # then cleaned like every line, then escaped so that it can't open a new line.
        message = escape_data(self._clean(message))
        self._write(f"::{name}{' ' + props if props else ''}::{message}")

    def _warning(self, text: str, title: str | None) -> None:
        self._command("warning", text, title=title or "")

    def _error(self, text: str, title: str | None) -> None:
        self._command("error", text, title=title or "")

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._command("group", title)
        try:
            yield
        finally:
            self._write("::endgroup::")

    def mask(self, secret: str) -> None:
        if secret and secret not in self._secrets:
            # Mask each line: the runner matches masks line by line.
            for line in secret.splitlines():
                if line.strip():
                    self.stream.write(f"::add-mask::{escape_data(line)}\n")
            self.stream.flush()
        super().mask(secret)

    def write_outputs(self, outputs: Mapping[str, str]) -> None:
        path = self.env.get("GITHUB_OUTPUT")
        if not path:
            self.warning("GITHUB_OUTPUT is not set: step outputs were not written.")
            return
        chunks = []
        for name, raw in outputs.items():
            value = self.redact(raw)
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            while delimiter in value:  # a value can't end the heredoc early
                delimiter = f"ghadelimiter_{uuid.uuid4()}"
            chunks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        self._append(path, "".join(chunks), "step outputs (GITHUB_OUTPUT)")

    def write_summary(self, markdown: str) -> None:
        path = self.env.get("GITHUB_STEP_SUMMARY")
        if not path:
            return
        # Cut after redacting: a cut can't leave part of a secret that no longer matches its mask.
        text = fit_summary(self.redact(markdown))
        self._append(path, text if text.endswith("\n") else text + "\n", "the job summary")

    def _append(self, path: str, text: str, what: str) -> None:
        # Said, not raised: this runs on the way out of a failed run too, and must not turn its
        # exit code into another one.
        try:
            with Path(path).open("a", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            self.warning(f"Could not write {what} to {path}: {exc}", title="Outputs")


def parse_outputs(text: str) -> dict[str, str]:
    """Read a GITHUB_OUTPUT file as the runner does: ``name=value`` lines or ``name<<DELIM``
    heredocs (for the demo and the tests; the runner is the real reader)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        heredoc = re.fullmatch(r"([^=<]+)<<(.+)", line)
        if heredoc:
            name, delimiter = heredoc.groups()
            body: list[str] = []
            while lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            index += 1
            values[name] = "\n".join(body)
        else:
            name, _, value = line.partition("=")
            values[name] = value
    return values
