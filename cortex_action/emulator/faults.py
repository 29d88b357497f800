"""Fault injection: which request gets which fault, and how an answer is corrupted."""

from __future__ import annotations

import fnmatch
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cortex_action.emulator.config import FaultConfig


@dataclass
class ArmedFault:
    """A fault and the number of requests that matched it so far."""

    config: FaultConfig
    seen: int = 0
    applied: int = 0
    # A lag fault: GETs seen per run id.
    polls: dict[str, int] = field(default_factory=dict)
    # A forSeconds fault: the emulator's time when it first applied.
    since: float | None = None

    def within_window(self, now: float) -> bool:
        """Whether a forSeconds fault still applies at ``now`` (it starts at its first use)."""
        if self.config.for_seconds is None:
            return True
        if self.since is None:
            self.since = now
        return now - self.since < self.config.for_seconds

    def lagging(self, path: str, run_age: Callable[[str], float | None]) -> bool:
        """Whether a lag fault hides the run this path names (counting this poll)."""
        run_id = path.rstrip("/").rsplit("/", 1)[-1]
        age = run_age(run_id)
        if age is None:  # no such run: the API's own 404 answers
            return False
        n = self.polls[run_id] = self.polls.get(run_id, 0) + 1
        c = self.config
        return (c.lag_polls is not None and n <= c.lag_polls) or (
            c.lag_seconds is not None and age < c.lag_seconds
        )

    def matches(self, method: str, path: str) -> bool:
        c = self.config
        return (c.method == "*" or c.method.upper() == method.upper()) and fnmatch.fnmatchcase(
            path, c.path
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **self.config.model_dump(mode="json", by_alias=True, exclude_defaults=True),
            "seen": self.seen,
            "applied": self.applied,
        }


@dataclass
class FaultSet:
    """The faults in force. The first armed fault that matches and is due applies."""

    faults: list[ArmedFault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: FaultConfig) -> ArmedFault:
        armed = ArmedFault(fault)
        with self.lock:
            self.faults.append(armed)
        return armed

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return [f.to_json() for f in self.faults]

    def pick(
        self,
        method: str,
        path: str,
        run_age: Callable[[str], float | None] | None = None,
        now: Callable[[], float] | None = None,
    ) -> FaultConfig | None:
        """Count this request against every matching fault; return the one that applies.

        ``run_age`` gives the real seconds since a run was created (None: unknown run), for
        lag faults; ``now`` the emulator's time, for forSeconds faults."""
        chosen: FaultConfig | None = None
        with self.lock:
            for armed in self.faults:
                if not armed.matches(method, path):
                    continue
                armed.seen += 1
                c = armed.config
                due = armed.seen >= c.nth and (c.count == 0 or armed.seen < c.nth + c.count)
                if due and c.lag:
                    due = run_age is not None and armed.lagging(path, run_age)
                if due and c.for_seconds is not None and now is not None:
                    due = armed.within_window(now())
                if due and chosen is None:
                    armed.applied += 1
                    chosen = c
        return chosen


def fault_body(fault: FaultConfig) -> tuple[bytes, str | None]:
    """The body and content type a ``status`` fault answers with."""
    if fault.body is None:
        return b"", fault.content_type
    if isinstance(fault.body, dict | list):
        return json.dumps(fault.body).encode(), fault.content_type or "application/json"
    text = str(fault.body)
    default_type = (
        "text/html; charset=utf-8" if text.lstrip().startswith("<") else "text/plain; charset=utf-8"
    )
    return text.encode(), fault.content_type or default_type


HUGE_BODY_BYTES = 20 * 1024 * 1024
# An endless answer stops after this much, so a client that never stops reading can't keep an
# emulator thread busy for ever.
ENDLESS_BODY_BYTES = 4 * 1024 * 1024 * 1024


def malform_body(kind: str, body: bytes) -> bytes:
    """Corrupt a JSON answer. ``short-body`` is handled by the transport (it cuts the stream)."""
    if kind == "truncated-json":
        return body[: max(1, len(body) // 2)]
    if kind == "not-json":
        return b'{"id": "oops", "status": IN_PROGRESS, <not json>'
    if kind == "not-an-object":
        return b'["not", "a", "run"]'
    if kind == "endless-body":  # the start of the answer; the transport sends the rest for ever
        return body.rstrip()[:-1] + b', "padding": "'
    try:
        data = json.loads(body)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if kind == "huge-body":  # valid JSON, past any sane size: 20 MiB of padding
        data["padding"] = "x" * HUGE_BODY_BYTES
    elif kind == "missing-id":
        data.pop("id", None)
    elif kind == "wrong-status-type":
        data["status"] = 42
    return json.dumps(data).encode()
