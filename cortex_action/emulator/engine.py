"""Runs and their life: a small discrete-event simulation driven by the clock.

Nothing runs in the background. Every read first calls :meth:`Engine.advance`, which replays
the events (a block ends, a queued run may start) that are due by "now", in time order. So a
run queued behind the concurrency limit starts exactly when a slot freed, not when somebody
next looked, and tests can drive time with a fake clock.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from cortex_action.emulator.config import (
    BlockConfig,
    EmulatorConfig,
    EntityConfig,
    WorkflowConfig,
)

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})
PauseKind = Literal["initiator", "approval", "input"]
Clock = Callable[[], float]


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds and ``Z``; None stays None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RunStateError(Exception):
    """The run is not in a state that allows the operation (e.g. resuming a run not paused)."""


@dataclass
class ActionState:
    """The state of one block of one run."""

    block: BlockConfig
    status: str = "NOT_STARTED"
    error_message: str | None = None
    started: float | None = None
    completed: float | None = None

    def to_json(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "status": self.status,
            "dateStarted": iso(self.started),
            "dateCompleted": iso(self.completed),
        }
        if self.error_message is not None:
            state["errorMessage"] = self.error_message
        return {
            "name": self.block.name,
            "slug": self.block.slug,
            "type": self.block.type,
            "state": state,
        }


@dataclass
class Run:
    """One workflow run, as the emulator holds it."""

    id: str
    seq: int
    workflow: WorkflowConfig
    scope_type: str
    entity: EntityConfig | None
    run_as: str | None
    initiated_by: str
    initial_context: dict[str, Any]
    notification_recipients: list[str]
    created: float
    eligible_at: float
    actions: list[ActionState]
    status: str = "NOT_INITIATED"
    started: float | None = None
    completed: float | None = None
    updated: float = 0.0
    current: int = -1
    phase_end: float | None = None
    paused_for: PauseKind | None = None
    idempotency_key: str | None = None

    def to_json(self, include_context: bool = False) -> dict[str, Any]:
        """The run object as the API returns it (field names beyond id/status/workflow/actions
        are the emulator's choice; see docs/emulator.md)."""
        scope: dict[str, Any] = {"type": self.scope_type}
        if self.entity is not None:
            scope["entityId"] = self.entity.tag
        body: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "workflow": {
                "cid": self.workflow.id,
                "tag": self.workflow.tag,
                "name": self.workflow.name,
            },
            "scope": scope,
            "initiatedBy": {"email": self.initiated_by},
            "runAs": self.run_as,
            "dateCreated": iso(self.created),
            "dateStarted": iso(self.started),
            "dateCompleted": iso(self.completed),
            "dateUpdated": iso(self.updated),
            "actions": [a.to_json() for a in self.actions],
        }
        if include_context:
            body["context"] = {
                "initiator": {"email": self.initiated_by},
                "entity": (
                    None
                    if self.entity is None
                    else {"tag": self.entity.tag, "id": self.entity.id, "name": self.entity.name}
                ),
                "initialContext": dict(self.initial_context),
                "notificationRecipients": list(self.notification_recipients),
            }
        return body


@dataclass
class IdempotencyEntry:
    """The answer given to the first trigger with a key, kept for replay."""

    expires: float
    fingerprint: str
    status: int
    body: bytes
    run_id: str


@dataclass
class Engine:
    """All mutable state of one emulator. Callers hold ``lock`` across check-then-act steps."""

    config: EmulatorConfig
    speed: float = 1.0
    clock: Clock = field(default=lambda: datetime.now(UTC).timestamp())
    lock: threading.RLock = field(default_factory=threading.RLock)
    runs: dict[str, Run] = field(default_factory=dict)
    idempotency: dict[str, IdempotencyEntry] = field(default_factory=dict)
    _seq: int = 0
    _sim_time: float = 0.0

    def scaled(self, scripted_seconds: float) -> float:
        """Real seconds that a scripted duration takes at this speed."""
        return scripted_seconds / self.speed

    def now(self) -> float:
        return self.clock()

    # -- lookups -----------------------------------------------------------------------

    def find_workflow(self, tag_or_id: str) -> WorkflowConfig | None:
        for wf in self.config.workflows:
            if tag_or_id in (wf.tag, wf.id):
                return wf
        return None

    def find_entity(self, tag_or_id: str) -> EntityConfig | None:
        for en in self.config.entities:
            if tag_or_id in (en.tag, en.id):
                return en
        return None

    def get_run(self, run_id: str) -> Run | None:
        with self.lock:
            self.advance()
            return self.runs.get(run_id)

    # -- the simulation ------------------------------------------------------------------

    def _running(self) -> list[Run]:
        return [r for r in self.runs.values() if r.status == "IN_PROGRESS"]

    def _queued(self) -> list[Run]:
        return [r for r in self.runs.values() if r.status == "NOT_INITIATED"]

    def active_count(self) -> int:
        """Runs that hold or wait for a slot: IN_PROGRESS and NOT_INITIATED (not PAUSED)."""
        return sum(1 for r in self.runs.values() if r.status in ("IN_PROGRESS", "NOT_INITIATED"))

    def advance(self, now: float | None = None) -> None:
        """Apply, in time order, every event due by ``now``."""
        with self.lock:
            now = self.now() if now is None else now
            while True:
                times = [r.phase_end for r in self._running() if r.phase_end is not None]
                times += [r.eligible_at for r in self._queued() if r.eligible_at > self._sim_time]
                t = min(times, default=None)
                if t is None or t > now:
                    break
                self._sim_time = t
                for run in self._running():
                    if run.phase_end is not None and run.phase_end <= t:
                        self._end_phase(run, t)
                self._fill_slots(t)
            self._sim_time = max(self._sim_time, now)
            self._fill_slots(now)

    def _fill_slots(self, t: float) -> None:
        limit = self.config.behaviour.concurrency.limit
        for run in sorted(self._queued(), key=lambda r: r.seq):
            if len(self._running()) >= limit:
                return
            if run.eligible_at <= t:
                self._start_run(run, t)

    def _start_run(self, run: Run, t: float) -> None:
        run.started = t
        run.updated = t
        if run.workflow.requires_initiator and not run.run_as:
            run.status = "PAUSED"
            run.paused_for = "initiator"
            return
        run.status = "IN_PROGRESS"
        self._start_block(run, 0, t)

    def _start_block(self, run: Run, index: int, t: float) -> None:
        run.updated = t
        if index >= len(run.actions):
            self._finish(run, "COMPLETED", t)
            return
        run.current = index
        action = run.actions[index]
        action.status = "IN_PROGRESS"
        action.started = t
        run.phase_end = t + self.scaled(action.block.duration)

    def _finish(self, run: Run, status: str, t: float) -> None:
        run.status = status
        run.completed = t
        run.updated = t
        run.phase_end = None
        run.paused_for = None

    def _end_phase(self, run: Run, t: float) -> None:
        action = run.actions[run.current]
        block = action.block
        run.phase_end = None
        if block.outcome == "complete":
            action.status = "COMPLETED"
            action.completed = t
            self._start_block(run, run.current + 1, t)
        elif block.outcome in ("approval", "input"):
            action.status = "PAUSED"
            run.status = "PAUSED"
            run.paused_for = block.outcome
            run.updated = t
        else:
            final = {"fail": "FAILED", "timeout": "TIMED_OUT", "cancel": "CANCELLED"}[block.outcome]
            default_message = {
                "fail": f"Block {block.slug} failed",
                "timeout": f"Block {block.slug} timed out",
                "cancel": f"Block {block.slug} was cancelled",
            }[block.outcome]
            action.status = final
            action.completed = t
            action.error_message = block.message or default_message
            self._finish(run, final, t)

    # -- operations ----------------------------------------------------------------------

    def create_run(
        self,
        workflow: WorkflowConfig,
        *,
        scope_type: str,
        entity: EntityConfig | None,
        run_as: str | None,
        initiated_by: str,
        initial_context: dict[str, Any],
        notification_recipients: list[str],
    ) -> Run:
        with self.lock:
            now = self.now()
            self.advance(now)
            self._seq += 1
            run = Run(
                id=str(uuid.uuid4()),
                seq=self._seq,
                workflow=workflow,
                scope_type=scope_type,
                entity=entity,
                run_as=run_as,
                initiated_by=initiated_by,
                initial_context=initial_context,
                notification_recipients=notification_recipients,
                created=now,
                updated=now,
                eligible_at=now + self.scaled(self.config.behaviour.start_delay),
                actions=[ActionState(block=b) for b in workflow.blocks],
            )
            self.runs[run.id] = run
            self._fill_slots(now)
            return run

    def resume(self, run_id: str, approve: bool, by: str | None = None) -> Run:
        """Approve or reject a paused run (what a person does in Cortex's UI)."""
        with self.lock:
            now = self.now()
            self.advance(now)
            run = self.runs.get(run_id)
            if run is None:
                raise KeyError(run_id)
            if run.status != "PAUSED":
                raise RunStateError(f"run {run_id} is {run.status}, not PAUSED")
            kind = run.paused_for
            run.paused_for = None
            if kind == "initiator":
                if not approve:
                    self._finish(run, "CANCELLED", now)
                else:
                    run.run_as = by or run.initiated_by
                    run.status = "IN_PROGRESS"
                    self._start_block(run, 0, now)
            else:
                action = run.actions[run.current]
                action.completed = now
                if approve:
                    action.status = "COMPLETED"
                    run.status = "IN_PROGRESS"
                    self._start_block(run, run.current + 1, now)
                else:
                    action.status = "FAILED"
                    action.error_message = f"{action.block.name} was rejected" + (
                        f" by {by}" if by else ""
                    )
                    self._finish(run, "FAILED", now)
            self._fill_slots(now)
            return run

    def cancel(self, run_id: str) -> Run:
        """Cancel a run that has not ended (what a person does in Cortex's UI)."""
        with self.lock:
            now = self.now()
            self.advance(now)
            run = self.runs.get(run_id)
            if run is None:
                raise KeyError(run_id)
            if run.status in TERMINAL:
                raise RunStateError(f"run {run_id} has already ended: {run.status}")
            if 0 <= run.current < len(run.actions):
                action = run.actions[run.current]
                if action.status in ("IN_PROGRESS", "PAUSED"):
                    action.status = "CANCELLED"
                    action.completed = now
            self._finish(run, "CANCELLED", now)
            self._fill_slots(now)
            return run

    def seconds_until_slot(self) -> int:
        """A Retry-After estimate: whole real seconds until a running run ends or pauses."""
        with self.lock:
            now = self.now()
            ends: list[float] = []
            for run in self._running():
                if run.phase_end is None:
                    continue
                end = run.phase_end
                blocks: Iterable[ActionState] = run.actions[run.current :]
                for i, action in enumerate(blocks):
                    if i > 0:
                        end += self.scaled(action.block.duration)
                    if action.block.outcome != "complete":
                        break
                ends.append(end)
            wait = min(ends, default=now + 1) - now
            return max(1, math.ceil(wait))

    def reset(self) -> None:
        with self.lock:
            self.runs.clear()
            self.idempotency.clear()
