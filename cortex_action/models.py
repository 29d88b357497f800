"""The run object as far as Cortex documents it, kept with its raw JSON.

Cortex publishes only ``id``, ``status``, ``workflow`` and ``actions[].state.errorMessage``;
everything else is read defensively and the raw object is kept for users.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from cortex_action.errors import TransportError


class Outcome(enum.Enum):
    """What a status means for the job."""

    SUCCESS = "success"
    FAILURE = "failure"
    PAUSED = "paused"
    RUNNING = "running"
    UNKNOWN = "unknown"


SUCCESS_STATUSES = frozenset({"COMPLETED"})
FAILURE_STATUSES = frozenset({"FAILED", "CANCELLED", "TIMED_OUT"})
RUNNING_STATUSES = frozenset({"NOT_INITIATED", "IN_PROGRESS"})
PAUSED_STATUSES = frozenset({"PAUSED"})


def classify(status: str) -> Outcome:
    """Statuses compare case-insensitively; one we don't know is not terminal."""
    upper = status.upper()
    if upper in SUCCESS_STATUSES:
        return Outcome.SUCCESS
    if upper in FAILURE_STATUSES:
        return Outcome.FAILURE
    if upper in PAUSED_STATUSES:
        return Outcome.PAUSED
    if upper in RUNNING_STATUSES:
        return Outcome.RUNNING
    return Outcome.UNKNOWN


@dataclass(frozen=True)
class Block:
    """One block (action) of a run, as far as the run object tells."""

    name: str
    status: str | None
    error: str | None


@dataclass(frozen=True)
class Run:
    """A workflow run: the fields we act on, and the raw JSON for everything else."""

    id: str
    status: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def outcome(self) -> Outcome:
        return classify(self.status)

    @property
    def blocks(self) -> list[Block]:
        actions = self.raw.get("actions")
        if not isinstance(actions, list):
            return []
        return [_block(index, item) for index, item in enumerate(actions) if isinstance(item, dict)]

    @property
    def failed_blocks(self) -> list[Block]:
        return [b for b in self.blocks if b.error or classify(b.status or "") is Outcome.FAILURE]

    @property
    def workflow_name(self) -> str | None:
        workflow = self.raw.get("workflow")
        if isinstance(workflow, dict):
            for key in ("name", "tag", "cid"):
                value = workflow.get(key)
                if isinstance(value, str) and value:
                    return value
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _block(index: int, item: dict[str, Any]) -> Block:
    state = item.get("state") if isinstance(item.get("state"), dict) else {}
    assert isinstance(state, dict)
    name = next(
        (
            t
            for t in (_text(item.get(k)) for k in ("name", "title", "slug", "actionSlug", "id"))
            if t
        ),
        f"block {index + 1}",
    )
    status = _text(state.get("status")) or _text(item.get("status"))
    error = _text(state.get("errorMessage")) or _text(item.get("errorMessage"))
    return Block(name=name, status=status, error=error)


def parse_run(payload: Any, *, what: str = "the run") -> Run:
    """A run object from decoded JSON, or a ``TransportError`` saying what is wrong with it."""
    if not isinstance(payload, dict):
        raise TransportError(
            f"Cortex answered with JSON that is not a run object ({what}): "
            f"expected an object, got {type(payload).__name__}."
        )
    run_id = payload.get("id")
    if not isinstance(run_id, str | int) or isinstance(run_id, bool) or not str(run_id).strip():
        raise TransportError(
            f"Cortex answered with a run object without a usable `id` ({what}); "
            "cannot follow it. Keys present: " + ", ".join(sorted(map(str, payload))[:20])
        )
    status = payload.get("status")
    if not isinstance(status, str) or not status.strip():
        raise TransportError(
            f"Cortex answered with a run object whose `status` is not a text ({what}): "
            f"got {type(status).__name__}."
        )
    return Run(id=str(run_id), status=status.strip().upper(), raw=payload)
