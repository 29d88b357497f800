"""Follow a run until it ends: a pure function of ``(fetch, clock, sleep)``.

It does no I/O of its own. It tells what happens through ``events`` (the caller logs them) and
returns why it stopped: a terminal status, a pause that ``on-paused`` accepts or refuses, or the
deadline.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from cortex_action.models import Block, Outcome, Phase, Run
from cortex_action.retry import Clock, Sleep, equal_jitter
from cortex_action.schedule import PollState, running_block
from cortex_action.settings import OnPaused


@dataclass(frozen=True)
class PollSchedule:
    """Fast at first so short runs are seen to end quickly, then slower so long runs cost little."""

    first: float = 1.0
    factor: float = 1.5
    cap: float = 15.0
    # How often to repeat the run's link for people who open the log late.
    heartbeat: float = 60.0
    # How long NOT_INITIATED may last before we say the run is queued for a free slot.
    queued_after: float = 10.0

    def intervals(self) -> Callable[[], float]:
        state = {"next": self.first}

        def step() -> float:
            value = state["next"]
            state["next"] = min(self.cap, value * self.factor)
            return value

        return step


class Stop(enum.Enum):
    TERMINAL = "terminal"
    PAUSED = "paused"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class WaitResult:
    run: Run
    stop: Stop


class EventKind(enum.Enum):
    STATUS = "status"  # the status changed (or the first one seen)
    UNKNOWN_STATUS = "unknown_status"  # a status this version doesn't know; said once each
    HEARTBEAT = "heartbeat"  # still waiting: a good moment to repeat the link
    PAUSED = "paused"  # the run waits for a person; said once per pause
    QUEUED = "queued"  # NOT_INITIATED for a while: likely waiting for a free slot; said once
    BLOCK_STARTED = "block_started"  # a block began (said once per block)
    BLOCK_ENDED = "block_ended"  # a block ended (said once per block), with its duration


@dataclass(frozen=True)
class BlockChange:
    """A block that started or ended between two looks at the run."""

    kind: EventKind  # BLOCK_STARTED or BLOCK_ENDED
    block: Block
    position: int  # 1-based, of ``total``
    total: int
    duration: float | None = None  # an ended block's, from its own timestamps


def block_changes(before: Sequence[Block], after: Sequence[Block]) -> list[BlockChange]:
    """What changed between two looks, in block order; blocks are matched by position. A block
    that started and ended between the looks gives both changes, so each is said once."""
    changes: list[BlockChange] = []
    total = len(after)
    for index, block in enumerate(after):
        was = before[index].phase if index < len(before) else Phase.PENDING
        now = block.phase
        if was is Phase.PENDING and now is not Phase.PENDING:
            changes.append(BlockChange(EventKind.BLOCK_STARTED, block, index + 1, total))
        if was is not Phase.ENDED and now is Phase.ENDED:
            changes.append(
                BlockChange(EventKind.BLOCK_ENDED, block, index + 1, total, block.times.duration)
            )
    return changes


class BlockWatch:
    """Each block's start and end, said once; an ended block's duration from its timestamps,
    else as seen between looks (nothing when it started and ended within one)."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.seen_at: dict[int, float] = {}  # when each block was seen to start

    def changes(self, run: Run, now: float) -> list[BlockChange]:
        said: list[BlockChange] = []
        for found in block_changes(self.blocks, run.blocks):
            change = found
            if change.kind is EventKind.BLOCK_STARTED:
                self.seen_at[change.position] = now
            elif change.duration is None and self.seen_at.get(change.position, now) < now:
                change = replace(change, duration=now - self.seen_at[change.position])
            said.append(change)
        self.blocks = run.blocks
        return said


@dataclass(frozen=True)
class WaitEvent:
    kind: EventKind
    run: Run
    elapsed: float
    previous: str | None = None
    block: BlockChange | None = None  # BLOCK_STARTED and BLOCK_ENDED


def current_block(run: Run) -> tuple[int, int, Block] | None:
    """The block running now (position, total, block): the last one that started."""
    blocks = run.blocks
    running = [(i, b) for i, b in enumerate(blocks, start=1) if b.phase is Phase.RUNNING]
    if not running:
        return None
    index, block = running[-1]
    return index, len(blocks), block


# The next interval from what the last look saw (``schedule.Forecast``); None: ``PollSchedule``.
Cadence = Callable[[PollState], float]


def wait_for_run(  # noqa: PLR0913 - keyword-only: the pure loop's seams (fetch, clock, sleep)
    first: Run,
    fetch: Callable[[], Run],
    *,
    clock: Clock,
    sleep: Sleep,
    deadline: float,
    on_paused: OnPaused,
    events: Callable[[WaitEvent], None],
    schedule: PollSchedule | None = None,
    jitter: Callable[[float], float] = equal_jitter,
    cadence: Cadence | None = None,
) -> WaitResult:
    """Poll until the run ends, a pause decides the result, or ``deadline`` (a ``clock`` time)."""
    schedule = schedule or PollSchedule()
    started = clock()
    next_interval = schedule.intervals()
    last_heartbeat = started
    warned_unknown: set[str] = set()
    run = first
    previous: str | None = None
    status_since = started
    said_queued = False
    block: tuple[int, str] | None = None
    watch = BlockWatch()

    def block_events(now: float) -> None:
        nonlocal last_heartbeat
        for change in watch.changes(run, now):
            last_heartbeat = now  # news: the heartbeat waits for a quiet minute
            events(WaitEvent(change.kind, run, now - started, block=change))

    while True:
        now = clock()
        changed = run.status != previous or running_block(run) != block
        block = running_block(run)
        # Blocks end before their run does; a run starts before its blocks do.
        blocks_first = run.outcome in (Outcome.SUCCESS, Outcome.FAILURE)
        if blocks_first:
            block_events(now)
        if run.status != previous:
            events(WaitEvent(EventKind.STATUS, run, now - started, previous))
            if run.outcome is Outcome.UNKNOWN and run.status not in warned_unknown:
                warned_unknown.add(run.status)
                events(WaitEvent(EventKind.UNKNOWN_STATUS, run, now - started))
            if run.outcome is Outcome.PAUSED:
                events(WaitEvent(EventKind.PAUSED, run, now - started))
            if previous is not None:
                next_interval = schedule.intervals()  # a change: look again soon
            previous = run.status
            last_heartbeat = status_since = now
        if not blocks_first:
            block_events(now)
        if (
            not said_queued
            and run.status == "NOT_INITIATED"
            and now - status_since >= schedule.queued_after
        ):
            said_queued = True
            events(WaitEvent(EventKind.QUEUED, run, now - started))

        if run.outcome in (Outcome.SUCCESS, Outcome.FAILURE):
            return WaitResult(run, Stop.TERMINAL)
        if run.outcome is Outcome.PAUSED and on_paused is not OnPaused.WAIT:
            return WaitResult(run, Stop.PAUSED)
        if now >= deadline:
            return WaitResult(run, Stop.TIMEOUT)
        if now - last_heartbeat >= schedule.heartbeat:
            events(WaitEvent(EventKind.HEARTBEAT, run, now - started))
            last_heartbeat = now

        interval = (
            jitter(next_interval())
            if cadence is None
            else cadence(PollState(now - started, run.status, block, changed))
        )
        sleep(max(0.0, min(interval, deadline - now)))
        run = fetch()
