"""The fan-out's scheduler on its own: which entity to trigger next, which run to poll next, and
when, driven by a fake clock and a scripted Cortex (no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cortex_action.fanout import (
    Done,
    FanOut,
    Poll,
    Sleep,
    Slot,
    State,
    Sweep,
    Trigger,
    Verdict,
    exit_code_of,
    worst,
)
from cortex_action.models import Run
from cortex_action.settings import OnPaused

# How long each run takes, from its trigger: 10 s, NOT_INITIATED for the first second.
DURATION = 10.0


def run(run_id: str, status: str, raw: dict[str, object] | None = None) -> Run:
    return Run(id=run_id, status=status, raw={"id": run_id, "status": status, **(raw or {})})


def iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(1_800_000_000 + seconds, dt.UTC).isoformat()


def plan(n: int, **kwargs: object) -> FanOut:
    slots = [Slot(index=i, entity=f"e{i}") for i in range(n)]
    settings: dict[str, object] = {
        "max_parallel": 5,
        "fail_fast": False,
        "on_paused": OnPaused.WAIT,
        "deadline": 10_000.0,
    }
    settings.update(kwargs)
    return FanOut(slots, **settings)  # type: ignore[arg-type]


def started(n: int) -> FanOut:
    """A fan-out of ``n`` whose runs were all triggered at 0 s and are IN_PROGRESS."""
    fan = plan(n)
    for i in range(n):
        step = fan.next_step(0.0)
        assert isinstance(step, Trigger)
        fan.triggered(step.slot, run(f"r{i}", "IN_PROGRESS"), False, 0.0)
        fan.sent(0.0)
    return fan


Script = Callable[[Slot, float], str]


def by_age(slot: Slot, now: float) -> str:
    """NOT_INITIATED for a second, IN_PROGRESS until DURATION, then COMPLETED."""
    assert slot.triggered_at is not None
    age = now - slot.triggered_at
    if age < 1:
        return "NOT_INITIATED"
    return "IN_PROGRESS" if age < DURATION else "COMPLETED"


def drive(
    fan: FanOut, script: Script = by_age, limit: int = 10_000, *, times: bool = False
) -> dict[str, object]:
    """Run the loop as the command does; count requests and the most runs holding a slot."""
    now, requests, most = 0.0, 0, 0
    polls: dict[int, int] = {}
    for _ in range(limit):
        step = fan.next_step(now)
        if isinstance(step, Done):
            break
        if isinstance(step, Sleep):
            assert step.until > now  # never a busy loop
            now = step.until
            continue
        requests += 1
        if isinstance(step, Trigger):
            slot = step.slot
            slot.triggered_at = now
            fan.triggered(slot, run(f"r{slot.index}", "NOT_INITIATED"), False, now)
        elif isinstance(step, Poll | Sweep):
            # A sweep (one listing) looks at every run followed that listings find.
            seen = [step.slot]
            if isinstance(step, Sweep):
                seen = [s for s in fan.followed() if s.listed]
            for slot in seen:
                polls[slot.index] = polls.get(slot.index, 0) + 1
                status = script(slot, now)
                raw: dict[str, object] = {}
                if times and status == "COMPLETED" and slot.triggered_at is not None:
                    # Cortex's own times, as the emulator gives them: created, then completed.
                    raw = {
                        "dateCreated": iso(slot.triggered_at),
                        "dateCompleted": iso(slot.triggered_at + DURATION),
                    }
                fan.polled(slot, run(f"r{slot.index}", status, raw), now)
        fan.sent(now)
        most = max(most, fan.active)
    else:
        raise AssertionError("the loop did not end")
    return {"now": now, "requests": requests, "most": most, "polls": polls}


def test_never_more_than_max_parallel_and_everyone_runs() -> None:
    fan = plan(12, max_parallel=5)
    seen = drive(fan)
    assert seen["most"] == 5
    assert all(s.state is State.ENDED for s in fan.slots)
    assert worst(fan.slots) is None


def test_makespan_close_to_the_lower_bound_with_few_polls() -> None:
    """40 runs of 10 s, five at a time: 8 waves, 80 s at best. Once a run completed (Cortex
    gives its times) the others are looked at when they end: the first wave's lag only, and
    about two requests a run."""
    fan = plan(40)
    seen = drive(fan, times=True)
    assert isinstance(seen["now"], float)
    assert seen["now"] <= 80 * 1.05 + 1
    assert isinstance(seen["requests"], int)
    assert seen["requests"] <= 40 * 2 + 5 * 6


def test_listings_look_at_runs_triggered_together_with_one_request() -> None:
    """With listings, the runs of a wave are looked at together: far fewer requests than one
    read per run, and the same makespan."""
    apart = drive(plan(40, listing=False), times=True)
    together = drive(plan(40), times=True)
    assert isinstance(apart["requests"], int)
    assert isinstance(together["requests"], int)
    assert isinstance(together["now"], float)
    assert together["now"] <= 80 * 1.05 + 1
    assert together["requests"] - 40 <= (apart["requests"] - 40) / 2  # polls, triggers aside
    assert together["requests"] <= 40 + 8 * 4  # the triggers, and a few listings a wave


def test_a_run_missing_from_listings_is_read_on_its_own() -> None:
    """Once a listing did not find it, the run is read alone; listings serve the others."""
    fan = started(3)
    step = fan.next_step(5.0)
    assert isinstance(step, Sweep)
    fan.unlisted(fan.slots[0])
    fan.unlisted(fan.slots[1])
    steps: set[str] = set()
    now = 5.0
    while len(steps) < 2 and now < 100:
        step = fan.next_step(now)
        if isinstance(step, Sleep):
            now = step.until
            continue
        steps.add(type(step).__name__)
        assert isinstance(step, Poll | Sweep)
        fan.polled(step.slot, run(f"r{step.slot.index}", "IN_PROGRESS"), now)
        fan.sent(now)
    assert steps == {"Poll"}  # one run left in listings: a listing is not worth it
    fan.stop_listing()
    assert not fan._sweeps(fan.followed(), fan.slots[2], now)


def test_without_cortex_times_each_wave_narrows_the_doubt() -> None:
    """No times in the run objects: learnt from the polls, each wave closer to the bound."""
    fan = plan(40)
    seen = drive(fan)
    assert isinstance(seen["now"], float)
    assert seen["now"] <= 80 * 1.15
    assert isinstance(seen["requests"], int)
    assert seen["requests"] <= 40 * 3 + 5 * 6
    lo, hi = fan.bounds() or (0.0, 0.0)
    assert lo <= DURATION <= hi
    assert hi - lo < 1.0


def test_requests_stay_under_the_rate_whatever_the_number_of_runs() -> None:
    """At most ``burst`` back to back, and ``rate`` a second in the long run."""
    fan = plan(40, rate=2.0, burst=3.0)
    times: list[float] = []
    now = 0.0
    while not isinstance(step := fan.next_step(now), Done):
        if isinstance(step, Sleep):
            now = step.until
            continue
        times.append(now)
        if isinstance(step, Trigger):
            fan.triggered(step.slot, run(f"r{step.slot.index}", "NOT_INITIATED"), False, now)
        elif isinstance(step, Poll | Sweep):
            fan.polled(step.slot, run(f"r{step.slot.index}", by_age(step.slot, now)), now)
        fan.sent(now)
    for i, start in enumerate(times):
        within = [t for t in times[i:] if t < start + 10]
        assert len(within) <= 3 + 2 * 10  # the burst, then the rate


def test_paused_runs_free_their_slot() -> None:
    """Runs that pause (on-paused wait) hold no slot: every other entity gets its run."""
    fan = plan(7, max_parallel=2, deadline=100.0)

    def two_pause(slot: Slot, now: float) -> str:
        status = by_age(slot, now)
        return "PAUSED" if slot.index < 2 and status != "NOT_INITIATED" else status

    drive(fan, two_pause)
    assert [s.state for s in fan.slots] == [State.PAUSED] * 2 + [State.ENDED] * 5


def test_busy_backs_off_as_asked_and_says_so_once() -> None:
    fan = plan(3)
    step = fan.next_step(0.0)
    assert isinstance(step, Trigger)
    assert fan.busy(0.0, retry_after=7.0) is True
    fan.sent(0.0)
    assert fan.next_step(0.5) == Sleep(7.0)
    assert isinstance(fan.next_step(7.0), Trigger)
    assert fan.busy(7.0, retry_after=None) is False  # said once
    assert fan.busy_until >= 7.0 + 1.0


def test_fail_fast_skips_the_rest_and_follows_runs_in_flight() -> None:
    fan = plan(8, max_parallel=3, fail_fast=True)

    def second_fails(slot: Slot, now: float) -> str:
        status = by_age(slot, now)
        return "FAILED" if slot.index == 0 and status == "COMPLETED" else status

    drive(fan, second_fails)
    states = [s.state for s in fan.slots]
    assert states[:3] == [State.ENDED] * 3  # the three in flight ran to their end
    assert set(states[3:]) == {State.SKIPPED}
    bad = worst(fan.slots)
    assert bad is not None
    assert bad.entity == "e0"
    assert exit_code_of(bad, OnPaused.WAIT) == 1


def test_the_deadline_gives_up_on_runs_and_never_triggers_the_rest() -> None:
    fan = plan(8, deadline=15.0)
    drive(fan)
    fan.expire(15.0)
    verdicts = [s.verdict for s in fan.slots]
    assert Verdict.COMPLETED in verdicts
    assert {s.state for s in fan.slots if s.verdict is not Verdict.COMPLETED} <= {
        State.GAVE_UP,
        State.NOT_TRIGGERED,
    }
    bad = worst(fan.slots)
    assert bad is not None
    assert exit_code_of(bad, OnPaused.WAIT) == 4


def test_the_worst_is_refused_then_failed_then_gave_up_then_paused() -> None:
    slots = [Slot(index=i, entity=f"e{i}") for i in range(4)]
    slots[0].state, slots[0].run = State.ENDED, run("a", "PAUSED")
    slots[0].paused_by_policy = True
    slots[1].state = State.GAVE_UP
    slots[2].state, slots[2].run = State.ENDED, run("c", "FAILED")
    slots[3].state = State.REFUSED
    order = []
    while (bad := worst(slots)) is not None:
        order.append(bad.verdict)
        bad.state, bad.run, bad.paused_by_policy = State.ENDED, run("x", "COMPLETED"), False
    assert order == [
        Verdict.REFUSED,
        Verdict.FAILED,
        Verdict.GAVE_UP,
        Verdict.PAUSED_BY_POLICY,
    ]


def test_a_replayed_answer_is_looked_at_at_once() -> None:
    fan = plan(2)
    step = fan.next_step(0.0)
    assert isinstance(step, Trigger)
    fan.triggered(step.slot, run("r0", "NOT_INITIATED"), True, 0.0)
    assert step.slot.next_poll == 0.0


def test_replays_and_runs_ended_at_their_trigger_teach_nothing() -> None:
    """A replay started before this step: its age on our clock says nothing of its length."""
    fan = plan(3)
    first = fan.next_step(0.0)
    assert isinstance(first, Trigger)
    fan.triggered(first.slot, run("r0", "COMPLETED"), True, 0.0)
    fan.sent(0.0)
    second = fan.next_step(0.0)
    assert isinstance(second, Trigger)
    fan.triggered(second.slot, run("r1", "NOT_INITIATED"), True, 0.0)
    fan.polled(second.slot, run("r1", "COMPLETED"), 0.1)
    assert fan.bounds() is None


def flipping(slot: Slot, now: float) -> str:
    """Attack: PAUSED and IN_PROGRESS in turn, every 2 s, for 20 s; then COMPLETED."""
    assert slot.triggered_at is not None
    age = now - slot.triggered_at
    if age >= 20:
        return "COMPLETED"
    return "PAUSED" if int(age // 2) % 2 else "IN_PROGRESS"


def test_runs_flipping_paused_and_in_progress_never_exceed_max_parallel() -> None:
    """Attack: each short pause freed a slot, a new run took it, then the paused one resumed:
    six runs of ours in flight with `max-parallel: 2`. A pause frees its slot only once it has
    lasted `pause_grace`; every run still ends, with requests far under 600 a minute."""
    for limit in (1, 2):
        fan = plan(6, max_parallel=limit)
        seen = drive(fan, flipping)
        assert seen["most"] == limit
        assert all(s.state is State.ENDED for s in fan.slots)
        assert isinstance(seen["now"], float)
        assert isinstance(seen["requests"], int)
        assert seen["requests"] / max(seen["now"], 60.0) * 60 < 600


def test_a_long_pause_still_frees_its_slot_after_the_grace() -> None:
    fan = plan(3, max_parallel=1, deadline=1000.0)

    def first_waits(slot: Slot, now: float) -> str:
        status = by_age(slot, now)
        return "PAUSED" if slot.index == 0 and status != "NOT_INITIATED" else status

    drive(fan, first_waits)
    assert [s.state for s in fan.slots] == [State.PAUSED, State.ENDED, State.ENDED]
    second = fan.slots[1]
    assert second.triggered_at is not None
    assert fan.pause_grace <= second.triggered_at <= fan.pause_grace + 2


def test_a_run_seen_only_in_listings_is_read_on_its_own_now_and_then() -> None:
    """A listing may be stale: past a minute (or half its age) since its last read, the run
    due is read, not listed; reads come further apart as the run grows older."""
    fan = started(2)
    now, reads = 0.0, []
    while now < 600:
        step = fan.next_step(now)
        if isinstance(step, Sleep):
            now = step.until
            continue
        assert isinstance(step, Poll | Sweep)
        if isinstance(step, Poll):
            reads.append((step.slot.index, now))
            fan.polled(step.slot, run(f"r{step.slot.index}", "IN_PROGRESS"), now)
        else:
            for slot in fan.followed():
                fan.polled(slot, run(f"r{slot.index}", "IN_PROGRESS"), now, read=False)
        fan.sent(now)
    first = [t for i, t in reads if i == 0]
    assert 60 <= first[0] < 75
    assert len(first) <= 4  # 60 s, then about 120, 240, 480: few reads for a long run
