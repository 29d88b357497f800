"""Runs and their life: a small discrete-event simulation driven by the clock.

Nothing runs in the background. Every read first calls :meth:`Engine.advance`, which replays
the events (a block ends, a queued run may start) that are due by "now", in time order. So a
run queued behind the concurrency limit starts exactly when a slot freed, not when somebody
next looked, and tests can drive time with a fake clock.
"""

from __future__ import annotations

import math
import random
import secrets
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
PauseKind = Literal["initiator", "approval", "input", "callback"]
Clock = Callable[[], float]


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds and ``Z``; None stays None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RunStateError(Exception):
    """The run is not in a state that allows the operation (e.g. resuming a run not paused)."""


class CallbackNotFound(KeyError):
    """No block of a run of this workflow has this callback id (Cortex: 404)."""


class NotWaiting(Exception):
    """The block of this callback id is not waiting for a callback any more (Cortex: 406)."""


@dataclass
class ActionState:
    """The state of one block of one run."""

    block: BlockConfig
    status: str = "NOT_STARTED"
    error_message: str | None = None
    started: float | None = None
    completed: float | None = None
    # An async HTTP block (outcome callback): its id, deadline, UPDATE messages and final call.
    callback_id: str | None = None
    deadline: float | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)
    callback: dict[str, Any] | None = None

    @property
    def waiting(self) -> bool:
        """An async HTTP block that started and has not ended: it takes callbacks."""
        return self.callback_id is not None and self.status in ("IN_PROGRESS", "PAUSED")

    def to_json(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "status": self.status,
            "dateStarted": iso(self.started),
            "dateCompleted": iso(self.completed),
            "startedAt": iso(self.started),
            "completedAt": iso(self.completed),
        }
        if self.error_message is not None:
            state["errorMessage"] = self.error_message
        if self.callback_id is not None:
            state["callbackId"] = self.callback_id
            state["updates"] = [dict(u) for u in self.updates]
            if self.callback is not None:
                state["callback"] = dict(self.callback)
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
    # callback id -> (run id, block index)
    callbacks: dict[str, tuple[str, int]] = field(default_factory=dict)
    # Receives a line when a run starts or ends (with the count of active runs).
    on_event: Callable[[str], None] | None = None
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

    def _deadlines(self) -> list[tuple[float, Run]]:
        """Async HTTP blocks waiting for a callback that have a timeout."""
        out = []
        for run in self.runs.values():
            if run.status in ("IN_PROGRESS", "PAUSED") and 0 <= run.current < len(run.actions):
                action = run.actions[run.current]
                if action.waiting and action.deadline is not None:
                    out.append((action.deadline, run))
        return out

    def advance(self, now: float | None = None) -> None:
        """Apply, in time order, every event due by ``now``."""
        with self.lock:
            now = self.now() if now is None else now
            while True:
                times = [r.phase_end for r in self._running() if r.phase_end is not None]
                times += [r.eligible_at for r in self._queued() if r.eligible_at > self._sim_time]
                times += [d for d, _ in self._deadlines()]
                t = min(times, default=None)
                if t is None or t > now:
                    break
                self._sim_time = t
                for deadline, run in self._deadlines():
                    if deadline <= t:
                        self._time_out_callback(run, t)
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
        self._event(run, "started")
        self._start_block(run, 0, t)

    def _event(self, run: Run, what: str) -> None:
        if self.on_event is None:
            return
        limit = self.config.behaviour.concurrency.limit
        where = f" entity={run.entity.tag}" if run.entity is not None else ""
        self.on_event(
            f"run {run.id} {run.workflow.tag}{where} {what}:"
            f" active={len(self._running())}/{limit} queued={len(self._queued())}"
        )

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
        if action.block.outcome == "callback":
            action.callback_id = secrets.token_urlsafe(24)
            self.callbacks[action.callback_id] = (run.id, index)
            if action.block.timeout_in_seconds is not None:
                action.deadline = t + self.scaled(action.block.timeout_in_seconds)

    def _finish(self, run: Run, status: str, t: float) -> None:
        was = run.status
        run.status = status
        run.completed = t
        run.updated = t
        run.phase_end = None
        run.paused_for = None
        if was in ("IN_PROGRESS", "NOT_INITIATED", "PAUSED"):
            self._event(run, f"ended {status}")

    def _time_out_callback(self, run: Run, t: float) -> None:
        action = run.actions[run.current]
        action.status = "TIMED_OUT"
        action.completed = t
        seconds = action.block.timeout_in_seconds
        action.error_message = action.block.message or (
            f"Block {action.block.slug} timed out after {seconds:g} seconds waiting for a callback"
        )
        self._finish(run, "TIMED_OUT", t)

    def _end_phase(self, run: Run, t: float) -> None:
        action = run.actions[run.current]
        block = action.block
        run.phase_end = None
        if block.outcome == "complete":
            action.status = "COMPLETED"
            action.completed = t
            self._start_block(run, run.current + 1, t)
        elif block.outcome in ("approval", "input", "callback"):
            action.status = "PAUSED"
            run.status = "PAUSED"
            run.paused_for = block.outcome
            run.updated = t
            self._event(run, "paused")
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

    def create_run(  # noqa: PLR0913 - keyword-only: the trigger's parts
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
                actions=[ActionState(block=b) for b in _blocks_for(workflow, entity)],
            )
            self.runs[run.id] = run
            self._fill_slots(now)
            return run

    def callback(
        self,
        workflow: WorkflowConfig,
        callback_id: str,
        status: str,
        message: str,
        response: dict[str, Any] | None,
    ) -> Run:
        """Take a call back to an async HTTP block: UPDATE keeps it waiting, SUCCESS completes
        it (the run goes on), FAILURE fails it and the run. CallbackNotFound, NotWaiting."""
        with self.lock:
            now = self.now()
            self.advance(now)
            where = self.callbacks.get(callback_id)
            run = self.runs.get(where[0]) if where is not None else None
            if where is None or run is None or run.workflow.id != workflow.id:
                raise CallbackNotFound(callback_id)
            action = run.actions[where[1]]
            if not action.waiting or run.current != where[1]:
                raise NotWaiting(callback_id)
            received = {"status": status, "message": message, "response": response}
            received["receivedAt"] = iso(now)
            run.updated = now
            if status == "UPDATE":
                action.updates.append(received)
                return run
            action.callback = received
            action.completed = now
            running = run.status == "IN_PROGRESS"
            run.phase_end = None
            run.paused_for = None
            if status == "SUCCESS":
                action.status = "COMPLETED"
                if not running:
                    run.status = "IN_PROGRESS"
                    self._event(run, "resumed")
                self._start_block(run, where[1] + 1, now)
            else:
                action.status = "FAILED"
                action.error_message = message
                self._finish(run, "FAILED", now)
            self._fill_slots(now)
            return run

    def pending_callbacks(self, run_id: str) -> list[dict[str, Any]]:
        """The callback ids of a run's blocks that wait for one; KeyError if no such run."""
        with self.lock:
            self.advance()
            run = self.runs[run_id]
            return [
                {
                    "callbackId": a.callback_id,
                    "block": a.block.slug,
                    "workflow": run.workflow.tag,
                    "runId": run.id,
                }
                for a in run.actions
                if a.waiting
            ]

    def seed_history(self) -> None:
        """Add each workflow's configured past runs (ended, within the last 30 days)."""
        with self.lock:
            now = self.now()
            for wf in self.config.workflows:
                if wf.history is not None and wf.history.count > 0:
                    for run in _history(self, wf, now):
                        self.runs[run.id] = run

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
            if run.status == "IN_PROGRESS":
                self._event(run, "resumed")
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
            self.callbacks.clear()
            self.seed_history()


def _blocks_for(workflow: WorkflowConfig, entity: EntityConfig | None) -> list[BlockConfig]:
    """The workflow's blocks, with ``failFor``'s block made to fail for the listed entities."""
    blocks = list(workflow.blocks)
    rule = workflow.fail_for
    if rule is None or entity is None or not blocks:
        return blocks
    if entity.tag not in rule.entities and entity.id not in rule.entities:
        return blocks
    index = len(blocks) - 1
    if rule.block:
        index = [b.slug for b in blocks].index(rule.block)
    block = blocks[index]
    blocks[index] = block.model_copy(
        update={
            "outcome": "fail",
            "message": rule.message or f"{block.name} failed for entity {entity.tag}",
        }
    )
    return blocks


def _history(engine: Engine, wf: WorkflowConfig, now: float) -> list[Run]:
    """Past ended runs of ``wf`` (deterministic per workflow tag), oldest first."""
    h = wf.history
    assert h is not None
    rnd = random.Random(wf.tag)
    entities: list[EntityConfig | None] = [None]
    if wf.scope == "ENTITY":
        found = [engine.find_entity(ref) for ref in h.entities] if h.entities else []
        entities = [e for e in found if e is not None] or list(engine.config.entities) or [None]
    ends: list[str] = []
    for status, n in h.statuses.items():
        ends += [status] * n
    ends = (ends + ["COMPLETED"] * h.count)[: h.count]
    rnd.shuffle(ends)
    nominal = h.duration if h.duration is not None else sum(b.duration for b in wf.blocks)
    start_delay = engine.scaled(engine.config.behaviour.start_delay)
    span = h.days * 86400
    runs = []
    for i in range(h.count):
        engine._seq += 1
        created = now - span + span * (i + 0.5) / h.count
        duration = engine.scaled(nominal * (1 + rnd.uniform(-h.spread, h.spread)))
        started = created + start_delay
        entity = entities[i % len(entities)]
        run = Run(
            id=str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            seq=engine._seq,
            workflow=wf,
            scope_type=wf.scope,
            entity=entity,
            run_as=None,
            initiated_by=h.initiated_by,
            initial_context={},
            notification_recipients=[],
            created=created,
            eligible_at=created,
            actions=[ActionState(block=b) for b in wf.blocks],
            status=ends[i],
            started=started,
            completed=started + duration,
            updated=started + duration,
        )
        _fill_history_blocks(run, started, started + duration)
        runs.append(run)
    return runs


def _fill_history_blocks(run: Run, started: float, completed: float) -> None:
    """Share the run's duration among its blocks in proportion to their scripted durations;
    a run that did not complete ends in its last block (later ones NOT_STARTED)."""
    actions = run.actions
    if not actions:
        return
    last = len(actions) - 1
    if run.status != "COMPLETED":
        last = next(
            (i for i, a in enumerate(actions) if a.block.outcome not in ("complete", "approval")),
            len(actions) - 1,
        )
    weights = [max(a.block.duration, 0.001) for a in actions[: last + 1]]
    total = sum(weights)
    t = started
    block_status = {"FAILED": "FAILED", "TIMED_OUT": "TIMED_OUT", "CANCELLED": "CANCELLED"}
    for i, action in enumerate(actions[: last + 1]):
        action.started = t
        t += (completed - started) * weights[i] / total
        action.completed = t
        action.status = "COMPLETED"
        if i == last and run.status in block_status:
            action.status = block_status[run.status]
            action.error_message = action.block.message or f"Block {action.block.slug} failed"
    run.current = last
