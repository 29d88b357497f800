"""The idempotency key: the same commit and request always give the same key.

So a network retry, or a second pipeline for the same commit, replays the first trigger instead of
starting a second run, while "Re-run job" (a new attempt number) starts a fresh one.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

RANDOM_PREFIX = "cortex-action-random-"


@dataclass(frozen=True)
class Key:
    value: str
    source: str  # how it was made, for the log and the summary

    @property
    def random(self) -> bool:
        """Made without a commit: a retried pipeline would get another key."""
        return self.value.startswith(RANDOM_PREFIX)


def derive_key(  # noqa: PLR0913 - keyword-only: what the key is derived from
    *,
    workflow: str,
    body: Mapping[str, Any],
    commit: tuple[str, str] | None,
    attempt: str | None,
    looked_in: str = "the CI's commit variable, git",
    random_hex: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> Key:
    """``cortex-action-<sha12>-<attempt>-<digest16>``; random (and said so) without a commit.

    ``commit`` is the host adapter's fact: the commit SHA and where it was found."""
    if commit is None:
        return Key(
            f"{RANDOM_PREFIX}{random_hex()}",
            f"random: no commit SHA was found ({looked_in}), "
            "so a retried pipeline could start a second run; set `idempotency-key` to avoid it",
        )
    sha, where = commit
    # A few ASCII digits only: str.isdigit() is also true for Arabic-Indic or superscript
    # digits, which no HTTP header takes.
    attempt_text = attempt if attempt and re.fullmatch(r"[0-9]{1,9}", attempt) else "1"
    canonical = json.dumps(
        {"sha": sha, "workflow": workflow, "attempt": attempt_text, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    source = f"derived from commit {sha[:12]} ({where}), attempt {attempt_text}, and the request"
    return Key(f"cortex-action-{sha[:12]}-{attempt_text}-{digest}", source)
