"""Follow a run until it ends: a pure function of ``(fetch, clock, sleep)``.

It does no I/O of its own. It tells what happens through ``events`` (the caller logs them) and
returns why it stopped: a terminal status, a pause that ``on-paused`` accepts or refuses, or the
deadline.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from cortex_action.models import Outcome, Run
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


@dataclass(frozen=True)
class WaitEvent:
    kind: EventKind
    run: Run
    elapsed: float
    previous: str | None = None


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

    while True:
        now = clock()
        changed = run.status != previous or running_block(run) != block
        block = running_block(run)
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
