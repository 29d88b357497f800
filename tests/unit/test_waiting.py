"""``waiting.wait_for_run`` as a unit: a list of run states, a fake clock and sleep, no HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pytest

from cortex_action.models import Run
from cortex_action.settings import OnPaused
from cortex_action.waiting import (
    EventKind,
    PollSchedule,
    Stop,
    WaitEvent,
    WaitResult,
    wait_for_run,
)
from tests.support import FakeTime


def run(status: str, run_id: str = "run-1") -> Run:
    return Run(id=run_id, status=status, raw={"id": run_id, "status": status})


def no_jitter(value: float) -> float:
    return value


@dataclass
class Waiting:
    """One call of ``wait_for_run`` on a scripted list of statuses (the last one repeats)."""

    statuses: list[str]
    time: FakeTime = field(default_factory=FakeTime)
    events: list[WaitEvent] = field(default_factory=list)
    fetches: int = 0

    def fetch(self) -> Run:
        self.fetches += 1
        index = min(self.fetches, len(self.statuses) - 1)
        return run(self.statuses[index])

    def __call__(
        self,
        *,
        timeout: float = 600.0,
        on_paused: OnPaused = OnPaused.WAIT,
        schedule: PollSchedule | None = None,
        jitter: Callable[[float], float] = no_jitter,
    ) -> WaitResult:
        return wait_for_run(
            run(self.statuses[0]),
            self.fetch,
            clock=self.time.clock,
            sleep=self.time.sleep,
            deadline=self.time.now + timeout,
            on_paused=on_paused,
            events=self.events.append,
            schedule=schedule,
            jitter=jitter,
        )

    def kinds(self, *only: EventKind) -> list[EventKind]:
        return [e.kind for e in self.events if not only or e.kind in only]


def statuses(events: Iterable[WaitEvent]) -> list[tuple[str | None, str]]:
    return [(e.previous, e.run.status) for e in events if e.kind is EventKind.STATUS]


@pytest.mark.parametrize("final", ["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"])
def test_a_terminal_status_stops_the_wait(final: str) -> None:
    """Each terminal status ends the wait at once with Stop.TERMINAL and that run."""
    waiting = Waiting(["NOT_INITIATED", "IN_PROGRESS", final])
    result = waiting()
    assert result.stop is Stop.TERMINAL
    assert result.run.status == final
    assert waiting.fetches == 2


def test_a_run_that_is_already_terminal_is_not_fetched_again() -> None:
    """A first run that has already ended is returned without a fetch or a sleep."""
    waiting = Waiting(["COMPLETED"])
    result = waiting()
    assert (result.stop, waiting.fetches, waiting.time.sleeps) == (Stop.TERMINAL, 0, [])


def test_statuses_are_compared_without_regard_to_case() -> None:
    """A lower-case terminal status ends the wait like its upper-case form."""
    waiting = Waiting(["in_progress", "completed"])
    assert waiting().stop is Stop.TERMINAL


def test_each_change_of_status_is_told_once_with_the_previous_one() -> None:
    """A STATUS event is emitted for the first status and for each change, not for repeats."""
    waiting = Waiting(["NOT_INITIATED", "NOT_INITIATED", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"])
    waiting()
    assert statuses(waiting.events) == [
        (None, "NOT_INITIATED"),
        ("NOT_INITIATED", "IN_PROGRESS"),
        ("IN_PROGRESS", "COMPLETED"),
    ]


def test_polling_starts_fast_then_slows_to_the_cap() -> None:
    """Sleeps grow by the schedule's factor from its first interval up to its cap."""
    waiting = Waiting(["IN_PROGRESS"] * 8 + ["COMPLETED"])
    waiting(schedule=PollSchedule(first=1.0, factor=2.0, cap=5.0, heartbeat=1e9))
    assert waiting.time.sleeps == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0, 5.0]


def test_a_change_of_status_resets_the_polling_interval() -> None:
    """After a status change the next sleep is the schedule's first interval again."""
    waiting = Waiting(["IN_PROGRESS"] * 3 + ["PAUSED"] * 2 + ["COMPLETED"])
    waiting(schedule=PollSchedule(first=1.0, factor=2.0, cap=100.0, heartbeat=1e9))
    assert waiting.time.sleeps == [1.0, 2.0, 4.0, 1.0, 2.0]


def test_the_jitter_is_applied_to_every_interval() -> None:
    """Each sleep is the jitter function's value for the scheduled interval."""
    waiting = Waiting(["IN_PROGRESS", "IN_PROGRESS", "COMPLETED"])
    waiting(schedule=PollSchedule(first=2.0, factor=2.0, heartbeat=1e9), jitter=lambda v: v / 2)
    assert waiting.time.sleeps == [1.0, 2.0]


def test_paused_with_wait_keeps_waiting_until_the_run_resumes_and_ends() -> None:
    """on-paused=wait: a PAUSED run is polled on, and the wait ends at the terminal status."""
    waiting = Waiting(["IN_PROGRESS", "PAUSED", "PAUSED", "IN_PROGRESS", "COMPLETED"])
    result = waiting(on_paused=OnPaused.WAIT)
    assert (result.stop, result.run.status) == (Stop.TERMINAL, "COMPLETED")
    assert waiting.kinds(EventKind.PAUSED) == [EventKind.PAUSED]


@pytest.mark.parametrize("policy", [OnPaused.SUCCEED, OnPaused.FAIL])
def test_paused_with_succeed_or_fail_stops_at_the_pause(policy: OnPaused) -> None:
    """on-paused=succeed or fail: the first PAUSED status ends the wait with Stop.PAUSED."""
    waiting = Waiting(["IN_PROGRESS", "PAUSED", "COMPLETED"])
    result = waiting(on_paused=policy)
    assert (result.stop, result.run.status, waiting.fetches) == (Stop.PAUSED, "PAUSED", 1)


def test_each_pause_is_told_once() -> None:
    """A PAUSED event comes once per pause, not once per poll, and again for a second pause."""
    waiting = Waiting(["PAUSED", "PAUSED", "IN_PROGRESS", "PAUSED", "PAUSED", "COMPLETED"])
    waiting()
    assert waiting.kinds(EventKind.PAUSED) == [EventKind.PAUSED, EventKind.PAUSED]


def test_the_deadline_stops_the_wait_with_the_last_run() -> None:
    """A run that never ends stops at the deadline with Stop.TIMEOUT and the last status seen."""
    waiting = Waiting(["NOT_INITIATED", "IN_PROGRESS"])
    result = waiting(timeout=60.0)
    assert (result.stop, result.run.status) == (Stop.TIMEOUT, "IN_PROGRESS")
    assert waiting.time.now == pytest.approx(1000.0 + 60.0)


def test_no_sleep_goes_past_the_deadline() -> None:
    """The last sleep is cut to the time left, so the wait ends exactly at the deadline."""
    waiting = Waiting(["IN_PROGRESS"])
    waiting(timeout=10.0, schedule=PollSchedule(first=4.0, factor=1.0, heartbeat=1e9))
    assert waiting.time.sleeps == [4.0, 4.0, 2.0]


def test_a_deadline_already_past_stops_before_any_fetch() -> None:
    """With no time left a running first run is returned as Stop.TIMEOUT without a fetch."""
    waiting = Waiting(["IN_PROGRESS"])
    result = waiting(timeout=0.0)
    assert (result.stop, waiting.fetches) == (Stop.TIMEOUT, 0)


def test_a_pause_refused_by_policy_wins_over_the_deadline() -> None:
    """A PAUSED run with on-paused=fail stops as PAUSED even when the deadline has passed."""
    waiting = Waiting(["PAUSED"])
    assert waiting(timeout=0.0, on_paused=OnPaused.FAIL).stop is Stop.PAUSED


def test_a_heartbeat_is_told_after_each_heartbeat_interval_without_change() -> None:
    """With no status change, a HEARTBEAT event comes once per heartbeat interval."""
    waiting = Waiting(["IN_PROGRESS"] * 31 + ["COMPLETED"])
    waiting(schedule=PollSchedule(first=10.0, factor=1.0, heartbeat=60.0))
    heartbeats = [e for e in waiting.events if e.kind is EventKind.HEARTBEAT]
    assert [e.elapsed for e in heartbeats] == [60.0, 120.0, 180.0, 240.0, 300.0]


def test_a_change_of_status_restarts_the_heartbeat() -> None:
    """The heartbeat counts from the last status change, not from the start."""
    waiting = Waiting(["IN_PROGRESS"] * 5 + ["PAUSED"] * 7 + ["COMPLETED"])
    waiting(schedule=PollSchedule(first=10.0, factor=1.0, heartbeat=60.0))
    heartbeats = [e.elapsed for e in waiting.events if e.kind is EventKind.HEARTBEAT]
    assert heartbeats == [110.0]


def test_an_unknown_status_is_told_once_and_is_not_terminal() -> None:
    """A status this version does not know is announced once, and the wait goes on."""
    waiting = Waiting(["IN_PROGRESS", "RETRYING", "IN_PROGRESS", "RETRYING", "COMPLETED"])
    result = waiting()
    assert result.stop is Stop.TERMINAL
    unknown = [e.run.status for e in waiting.events if e.kind is EventKind.UNKNOWN_STATUS]
    assert unknown == ["RETRYING"]


def test_a_long_not_initiated_is_told_once_as_queued() -> None:
    """NOT_INITIATED for the schedule's queued_after is told once as QUEUED, with the time."""
    waiting = Waiting(["NOT_INITIATED"] * 6 + ["IN_PROGRESS", "COMPLETED"])
    waiting(schedule=PollSchedule(first=5.0, factor=1.0, heartbeat=1e9, queued_after=10.0))
    queued = [e.elapsed for e in waiting.events if e.kind is EventKind.QUEUED]
    assert queued == [10.0]


def test_a_short_not_initiated_is_not_told_as_queued() -> None:
    """A run that leaves NOT_INITIATED before queued_after gets no QUEUED event."""
    waiting = Waiting(["NOT_INITIATED", "IN_PROGRESS", "COMPLETED"])
    waiting(schedule=PollSchedule(first=5.0, factor=1.0, heartbeat=1e9, queued_after=10.0))
    assert waiting.kinds(EventKind.QUEUED) == []


def test_elapsed_is_measured_from_the_start_of_the_wait() -> None:
    """Each event's elapsed time is the fake clock's time since wait_for_run began."""
    waiting = Waiting(["NOT_INITIATED", "IN_PROGRESS", "COMPLETED"])
    waiting(schedule=PollSchedule(first=3.0, factor=1.0, heartbeat=1e9))
    assert [e.elapsed for e in waiting.events if e.kind is EventKind.STATUS] == [0.0, 3.0, 6.0]


def test_the_default_schedule_is_fast_first_and_capped() -> None:
    """The default schedule polls after 1 s, grows by 1.5 and never waits more than 15 s."""
    step = PollSchedule().intervals()
    values = [step() for _ in range(12)]
    assert values[:3] == [1.0, 1.5, 2.25]
    assert max(values) == 15.0
    assert values[-1] == 15.0
