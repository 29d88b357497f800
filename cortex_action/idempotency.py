"""The idempotency key: the same commit and request always give the same key.

So a network retry, or a second pipeline for the same commit, replays the first trigger instead of
starting a second run, while "Re-run job" (a new attempt number) starts a fresh one.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SHA_VARIABLES = ("GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT")
_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
_DERIVED = re.compile(r"cortex-action-(?:[0-9a-f]{7,12}-\d+-[0-9a-f]{16}|random-[0-9a-f]{32})")


def looks_derived(key: str) -> bool:
    """Whether ``key`` has the shape of a key this tool derives (from a commit, or random)."""
    return _DERIVED.fullmatch(key) is not None


@dataclass(frozen=True)
class Key:
    value: str
    source: str  # how it was made, for the log and the summary


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


def commit_sha(
    env: Mapping[str, str], git: Callable[[str | None], str | None] = git_head
) -> tuple[str, str] | None:
    """The commit being built and where it came from, in the documented order."""
    for name in SHA_VARIABLES:
        value = env.get(name, "").strip()
        if _SHA.fullmatch(value):
            return value.lower(), name
    head = git(env.get("GITHUB_WORKSPACE") or env.get("CI_PROJECT_DIR") or env.get("WORKSPACE"))
    if head and _SHA.fullmatch(head):
        return head.lower(), "git rev-parse HEAD"
    return None


def derive_key(
    *,
    workflow: str,
    body: Mapping[str, Any],
    sha: tuple[str, str] | None,
    attempt: str | None,
    random_hex: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> Key:
    """``cortex-action-<sha12>-<attempt>-<digest16>``; random (and said so) without a commit."""
    if sha is None:
        return Key(
            f"cortex-action-random-{random_hex()}",
            "random: no commit SHA was found (GITHUB_SHA, CI_COMMIT_SHA, GIT_COMMIT, git), "
            "so a retried pipeline could start a second run; set `idempotency-key` to avoid it",
        )
    commit, where = sha
    attempt_text = attempt if attempt and attempt.isdigit() else "1"
    canonical = json.dumps(
        {"sha": commit, "workflow": workflow, "attempt": attempt_text, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    source = f"derived from commit {commit[:12]} ({where}), attempt {attempt_text}, and the request"
    return Key(f"cortex-action-{commit[:12]}-{attempt_text}-{digest}", source)
