"""The schedule from a history, on a fake clock: its bounds, the deadline, a replan on every status
or block change, and today's schedule where there is no history."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from cortex_action.history import BlockTiming, Durations, History
from cortex_action.models import Run
from cortex_action.schedule import CAP, DENSE, FAR_CAP, FLOOR, GROWTH, Forecast, PollState
from cortex_action.settings import OnPaused
from cortex_action.waiting import Cadence, PollSchedule, wait_for_run
from tests.fuzz.strategies import fuzz
from tests.support import FakeTime

DURATIONS = st.lists(st.floats(0, 10 * 86400), min_size=3, max_size=40).map(
    lambda values: Durations(tuple(sorted(values)))
)
HISTORIES = st.builds(History, DURATIONS, st.just("workflow"))
STATUSES = st.sampled_from(["NOT_INITIATED", "IN_PROGRESS", "PAUSED", "WEIRD"])
BLOCKS = st.one_of(st.none(), st.tuples(st.integers(0, 5), st.sampled_from(["build", "ship"])))


def history_of(*seconds: float, blocks: tuple[BlockTiming, ...] = ()) -> History:
    return History(Durations(tuple(sorted(seconds))), "workflow", blocks)


@fuzz
@given(
    history=HISTORIES,
    offset=st.floats(0, 86400),
    looks=st.lists(
        st.tuples(st.floats(0, 4 * 86400), STATUSES, BLOCKS, st.booleans()), max_size=60
    ),
)
def test_intervals_stay_within_the_floor_and_the_caps(
    history: History, offset: float, looks: list[tuple[float, str, tuple[int, str] | None, bool]]
) -> None:
    """Never under 1 s; never over 60 s; never over 15 s from 75 s before the expected end on."""
    forecast = Forecast(history, offset=offset)
    elapsed = 0.0
    for step, status, block, changed in looks:
        elapsed += step
        interval = forecast(PollState(elapsed, status, block, changed))
        assert FLOOR <= interval <= FAR_CAP
        if elapsed >= forecast.expected_end - CAP / GROWTH:
            assert interval <= CAP


def follow(  # noqa: PLR0913 - keyword-only: the simulated run and the schedule
    *,
    ends_at: float,
    deadline: float,
    cadence: Cadence | None,
    statuses: Callable[[float], str] = lambda t: "IN_PROGRESS",
    jitter: Callable[[float], float] = lambda value: value,
    first: str = "NOT_INITIATED",
) -> FakeTime:
    """Follow a simulated run on a fake clock; the clock and its sleeps afterwards."""
    time = FakeTime(now=0.0)

    def fetch() -> Run:
        status = "COMPLETED" if time.now >= ends_at else statuses(time.now)
        return Run(id="r", status=status, raw={})

    wait_for_run(
        Run(id="r", status=first, raw={}),
        fetch,
        clock=time.clock,
        sleep=time.sleep,
        deadline=deadline,
        on_paused=OnPaused.WAIT,
        events=lambda event: None,
        cadence=cadence,
        jitter=jitter,
    )
    return time


@fuzz
@given(
    history=HISTORIES,
    ends_at=st.floats(0, 20000),
    deadline=st.floats(0, 20000),
)
def test_no_sleep_ends_past_the_deadline(history: History, ends_at: float, deadline: float) -> None:
    time = follow(ends_at=ends_at, deadline=deadline, cadence=Forecast(history))
    assert time.now <= max(deadline, 0.0) + 1e-6
    # Every look but the one the deadline cuts short waits at least the floor.
    assert all(s >= FLOOR for s in time.sleeps[:-1])


@fuzz
@given(median=st.floats(60, 7200), ends=st.floats(0.8, 1.2))
def test_dense_near_the_expected_end_sparse_far_from_it(median: float, ends: float) -> None:
    """Near the median the end is seen within the dense interval; far from it, fewer looks."""
    history = history_of(median * 0.95, median, median * 1.05)
    time = follow(ends_at=median, deadline=10 * median, cadence=Forecast(history))
    assert time.now - median <= DENSE + 1e-6
    far = [s for s in time.sleeps if s > CAP]
    assert far or median < 2 * CAP / GROWTH + 60  # long runs are approached in long strides


def test_overrun_backs_off_to_the_cap() -> None:
    history = history_of(60, 60, 60)
    time = follow(ends_at=3600, deadline=7200, cadence=Forecast(history))
    late = [s for t, s in zip(_times(time), time.sleeps, strict=True) if t > 300]
    assert late
    assert max(late) == CAP
    assert time.now - 3600 <= CAP


def _times(time: FakeTime) -> list[float]:
    """When each sleep began."""
    out, now = [], 0.0
    for s in time.sleeps:
        out.append(now)
        now += s
    return out


@fuzz
@given(block_start=st.floats(0, 3000), build=st.floats(30, 600))
def test_a_block_change_replans_around_the_block_s_end(block_start: float, build: float) -> None:
    """The run started its second block late: the schedule moves its dense band to where that
    block (and the run) now usually ends, instead of where the whole run usually does."""
    history = history_of(
        build + 600,
        build + 600,
        build + 600,
        blocks=(BlockTiming(0, "build", build), BlockTiming(1, "ship", 600)),
    )
    forecast = Forecast(history)
    t = block_start + build  # the second block began here, later than usual
    forecast(PollState(t - 5, "IN_PROGRESS", (0, "build"), False))
    forecast(PollState(t, "IN_PROGRESS", (1, "ship"), True))
    assert abs(forecast.expected_end - (t + 600)) <= 0.05 * 600 + 60
    # At the block's expected end the looks are dense.
    assert forecast(PollState(t + 600, "IN_PROGRESS", (1, "ship"), False)) == DENSE


def test_a_pause_moves_the_expected_end_by_its_length() -> None:
    forecast = Forecast(history_of(100, 100, 100))
    before = forecast.expected_end
    forecast(PollState(10, "PAUSED", None, True))
    waiting = [forecast(PollState(10 + t, "PAUSED", None, False)) for t in range(0, 900, 30)]
    assert max(waiting) == CAP  # waiting for a person: backs off, bounded
    forecast(PollState(510, "IN_PROGRESS", None, True))
    assert forecast.expected_end == before + 500


@fuzz
@given(ends_at=st.floats(0, 3000), deadline=st.floats(0, 3000))
def test_without_history_the_schedule_is_today_s(ends_at: float, deadline: float) -> None:
    """No cadence: 1 s, then x1.5 up to 15 s (no jitter here)."""
    time = follow(ends_at=ends_at, deadline=deadline, cadence=None, first="IN_PROGRESS")
    step = PollSchedule().intervals()
    expected = [min(step(), max(0.0, deadline - t)) for t in _times(time)]
    assert time.sleeps == expected
