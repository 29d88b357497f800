"""The duration model: which past runs count, their timestamps under every plausible name, and
the figures the schedule and the ETA read."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cortex_action import history as hist
from tests.fuzz.strategies import JSON_VALUES, fuzz

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def iso(instant: dt.datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def past(  # noqa: PLR0913 - keyword-only: one past run's facts
    seconds: float,
    *,
    number: int = 0,
    status: str = "COMPLETED",
    start: str = "dateCreated",
    end: str = "dateCompleted",
    hours_ago: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    created = NOW - dt.timedelta(hours=hours_ago if hours_ago is not None else number + 1)
    return {
        "id": f"past-{number}",
        "status": status,
        "workflow": {"tag": "deploy", "cid": "wf1"},
        start: iso(created),
        end: iso(created + dt.timedelta(seconds=seconds)),
        **extra,
    }


def build(runs: list[dict[str, Any]], **kwargs: Any) -> hist.Found:
    given: dict[str, Any] = {"workflow": ["deploy"], "entity": None, "exclude": None, "now": NOW}
    return hist.build(runs, **{**given, **kwargs})


def test_median_and_p90_of_the_ended_runs() -> None:
    found = build([past(s, number=i) for i, s in enumerate([100, 110, 120, 130, 300])])
    assert found.history is not None
    assert found.history.median == 120
    assert 130 < found.history.p90 <= 300
    assert found.used == 5


@pytest.mark.parametrize("start", ["dateCreated", "createdAt", "dateStarted", "startedAt"])
@pytest.mark.parametrize(
    "end", ["dateCompleted", "completedAt", "finishedAt", "endedAt", "dateUpdated"]
)
def test_every_plausible_timestamp_name_is_read(start: str, end: str) -> None:
    runs = [past(60, number=i, start=start, end=end) for i in range(3)]
    found = build(runs)
    assert found.history is not None, found.reason
    assert found.history.median == 60


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-06T11:00:00Z", dt.datetime(2026, 12, 6, 11, tzinfo=dt.UTC)),
        ("2026-12-06T13:00:00+02:00", dt.datetime(2026, 12, 6, 11, tzinfo=dt.UTC)),
        (1796554800, dt.datetime(2026, 12, 6, 11, tzinfo=dt.UTC)),  # epoch seconds
        (1796554800000, dt.datetime(2026, 12, 6, 11, tzinfo=dt.UTC)),  # epoch milliseconds
        ("1796554800000", dt.datetime(2026, 12, 6, 11, tzinfo=dt.UTC)),
        ("2026-12-06T11:00:00", None),  # no zone: ambiguous
        ("yesterday", None),
        (True, None),
        (float("nan"), None),
        (-5, None),
        (1e300, None),
        # An integer past a float's range: was an OverflowError, exit 3.
        pytest.param(10**400, None, id="int-of-400-digits"),
        ("1" * 400, None),
        ({"at": 1}, None),
        ("", None),
    ],
)
def test_instants_in_every_form_and_nothing_from_garbage(value: Any, expected: Any) -> None:
    assert hist.read_instant(value) == expected


def test_cancelled_timed_out_running_and_the_current_run_do_not_count() -> None:
    runs = [
        past(60, number=0),
        past(60, number=1, status="FAILED"),
        past(900, number=2, status="CANCELLED"),
        past(900, number=3, status="TIMED_OUT"),
        {**past(900, number=4), "status": "IN_PROGRESS"},
        past(900, number=5),
    ]
    found = build(runs, exclude="past-5")
    assert found.history is None
    assert "only 2 ended run(s)" in found.reason


def test_foreign_old_and_undated_runs_are_left_out() -> None:
    """A listing that ignored the filter, runs past Cortex's 30 days, garbled times."""
    runs = [past(60, number=i) for i in range(3)]
    runs += [{**past(999, number=10), "workflow": {"tag": "other", "cid": "wf9"}}]
    runs += [past(999, number=11, hours_ago=31 * 24)]
    runs += [{"id": "x", "status": "COMPLETED", "dateCreated": "soon", "dateCompleted": "later"}]
    runs += [past(-30, number=12)]  # ended before it began
    runs += [past(3 * 86400, number=13)]  # "ended" two days from now
    found = build(runs, workflow=["deploy", "wf1"])
    assert found.history is not None
    assert found.history.durations.values == (60, 60, 60)


def test_the_entity_s_own_runs_when_there_are_enough() -> None:
    mine = [past(300, number=i, scope={"entityId": "svc-a"}) for i in range(3)]
    others = [past(60, number=10 + i, scope={"entityId": "svc-b"}) for i in range(5)]
    found = build(mine + others, entity="svc-a")
    assert found.history is not None
    assert (found.history.median, found.history.scope) == (300, "entity svc-a")
    # Too few of its own: the whole workflow's.
    found = build(mine[:2] + others, entity="svc-a")
    assert found.history is not None
    assert (found.history.median, found.history.scope) == (60, "workflow")


def test_the_entity_is_found_in_the_run_s_context_too() -> None:
    runs = [
        past(300, number=i, context={"entity": {"tag": "svc-a", "id": "en1"}}) for i in range(3)
    ]
    found = build(runs + [past(60, number=9 + i) for i in range(4)], entity="EN1")
    assert found.history is not None
    assert found.history.scope == "entity EN1"


def test_too_little_history_says_why() -> None:
    assert build([]).reason == "no ended runs with timestamps in the last 30 days"
    assert build([past(60)]).history is None


def block(slug: str, start: dt.datetime, seconds: float) -> dict[str, Any]:
    return {
        "slug": slug,
        "state": {
            "status": "COMPLETED",
            "startedAt": iso(start),
            "completedAt": iso(start + dt.timedelta(seconds=seconds)),
        },
    }


def test_blocks_with_times_give_a_median_per_block() -> None:
    runs = []
    for i, (build_s, ship_s) in enumerate([(10, 30), (12, 28), (8, 32)]):
        run = past(build_s + ship_s, number=i)
        start = NOW - dt.timedelta(hours=i + 1)
        run["actions"] = [
            block("build", start, build_s),
            block("ship", start + dt.timedelta(seconds=build_s), ship_s),
        ]
        runs.append(run)
    found = build(runs)
    assert found.history is not None
    assert [(b.name, b.median) for b in found.history.blocks] == [("build", 10), ("ship", 30)]
    assert found.history.block_after(1) == 30
    assert found.history.block_after(0) == 40
    assert found.history.block_after(2) is None
    # Runs whose blocks differ (the workflow changed): no per-block model.
    runs[0]["actions"] = runs[0]["actions"][:1]
    found = build(runs)
    assert found.history is not None
    assert found.history.blocks == ()


@pytest.mark.parametrize(
    ("build_from", "ship_seconds"),
    [(0, 20 * 86400), (-10 * 86400, 30)],
    ids=["a block of 20 days in a run of 40 s", "a block begun 10 days before its run"],
)
def test_block_times_outside_their_run_give_no_per_block_model(
    build_from: float, ship_seconds: float
) -> None:
    """Garbled block times would move the expected end of every run after that block (a
    20-day block moved it 20 days on: polls a minute apart near the real end)."""
    runs = []
    for i in range(3):
        run = past(40, number=i)
        start = NOW - dt.timedelta(hours=i + 1)
        run["actions"] = [
            block("build", start + dt.timedelta(seconds=build_from), 10 - build_from),
            block("ship", start + dt.timedelta(seconds=10), ship_seconds),
        ]
        runs.append(run)
    found = build(runs)
    assert found.history is not None
    assert found.history.median == 40  # the runs still count
    assert found.history.blocks == ()


def test_a_run_compared_with_its_history() -> None:
    found = build([past(s, number=i) for i, s in enumerate(range(100, 200, 10))])
    assert found.history is not None
    assert found.history.compare(50) == "faster"
    assert found.history.compare(150) == "typical"
    assert found.history.compare(400) == "slower"


def test_a_page_that_ignores_size_is_read_only_so_far() -> None:
    runs = [past(60, number=i) for i in range(hist.MAX_RUNS)] + [past(999, number=1000)] * 5000
    found = build(runs)
    assert found.history is not None
    assert found.used == hist.MAX_RUNS


# Any JSON, and timestamps in every form, under every name the model reads.
STAMPS = st.one_of(
    JSON_VALUES,
    st.integers(min_value=-(10**30), max_value=10**500),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),
    st.integers(min_value=1_700_000_000, max_value=1_800_000_000_000),
)
NAMES = st.sampled_from(hist.START_NAMES + hist.END_NAMES)
HOSTILE_RUNS = st.lists(
    st.fixed_dictionaries(
        {"status": st.sampled_from(["COMPLETED", "FAILED", "completed", "RUNNING"])},
        optional={
            "id": JSON_VALUES,
            "workflow": st.one_of(JSON_VALUES, st.just({"tag": "deploy"})),
            "actions": st.one_of(
                JSON_VALUES,
                st.lists(
                    st.dictionaries(
                        st.sampled_from(hist.BLOCK_START_NAMES + hist.BLOCK_END_NAMES + ("slug",)),
                        STAMPS,
                        max_size=4,
                    ),
                    max_size=3,
                ),
            ),
            "state": st.dictionaries(NAMES, STAMPS, max_size=3),
        },
    ).flatmap(lambda base: st.dictionaries(NAMES, STAMPS, max_size=4).map(lambda t: {**base, **t})),
    max_size=8,
)


@fuzz
@given(HOSTILE_RUNS)
def test_any_listing_gives_a_model_within_bounds_or_none(runs: list[dict[str, Any]]) -> None:
    """Never an exception (the model is optional: a bug here would fail a deploy that
    succeeded); every duration it keeps is one a run can have."""
    found = hist.build(runs, workflow=["deploy"], entity="e", exclude=None, now=NOW, min_runs=1)
    for raw in runs:
        hist.run_duration(raw)
    if found.history is not None:
        assert all(0 <= v <= hist.MAX_DURATION for v in found.history.durations.values)
