"""Pure parts of issue 13: timestamps, the definition reader, the preflight's judgement, the
block differ, and the gantt chart (safe names, capped bars, no chart without timings)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from cortex_action.commands.preflight import judge
from cortex_action.models import Phase, instant, parse_definition, parse_run, times_of
from cortex_action.render.summary import MAX_CHART_BARS, gantt, mermaid_label, run_summary
from cortex_action.settings import RunSettings, load_settings
from cortex_action.waiting import EventKind, block_changes
from tests.render.samples import report

T0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def at(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def block(name: str, status: str | None, start: float | None, end: float | None) -> dict[str, Any]:
    state: dict[str, Any] = {"status": status} if status else {}
    if start is not None:
        state["startedAt"] = at(start)
    if end is not None:
        state["completedAt"] = at(end)
    return {"name": name, "state": state}


def run_of(*blocks: dict[str, Any], **fields: Any) -> Any:
    return parse_run({"id": "r", "status": "COMPLETED", "actions": list(blocks), **fields})


# -- timestamps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-30T08:00:00Z", T0),
        ("2026-11-30T10:00:00+02:00", T0),
        ("2026-11-30T08:00:00", T0),  # no zone: UTC
        ("2026-11-30T08:00:00.000Z", T0),
        (T0.timestamp(), T0),
        (int(T0.timestamp() * 1000), T0),
        (str(int(T0.timestamp() * 1000)), T0),
        (None, None),
        (True, None),
        ("", None),
        ("yesterday", None),
        ("2026-13-45T99:00:00Z", None),
        (1e300, None),
        (-5, None),
        ({"when": 1}, None),
    ],
)
def test_instant_reads_every_plausible_form_and_never_raises(value: Any, expected: Any) -> None:
    assert instant(value) == expected


@pytest.mark.parametrize(
    ("started", "ended"),
    [
        ("dateStarted", "dateCompleted"),
        ("startedAt", "completedAt"),
        ("createdAt", "finishedAt"),
        ("dateCreated", "endedAt"),
    ],
)
def test_times_of_a_run_under_any_name(started: str, ended: str) -> None:
    times = times_of({started: at(0), ended: at(65), "dateUpdated": at(70)})
    assert times.duration == 65
    assert times.updated == T0 + dt.timedelta(seconds=70)


def test_times_of_nothing_or_nonsense_is_unknown() -> None:
    assert times_of({}).duration is None
    assert times_of("a string").duration is None
    assert times_of({"dateStarted": at(10), "dateCompleted": at(0)}).duration is None


def test_a_block_phase_from_its_status_else_its_timestamps() -> None:
    run = run_of(
        block("a", "COMPLETED", None, None),
        block("b", "IN_PROGRESS", None, None),
        block("c", "NOT_STARTED", None, None),
        block("d", None, 0, None),
        block("e", "WHATEVER", 0, 5),
        {"name": "f", "status": "FAILED"},
    )
    assert [b.phase for b in run.blocks] == [
        Phase.ENDED,
        Phase.RUNNING,
        Phase.PENDING,
        Phase.RUNNING,
        Phase.ENDED,
        Phase.ENDED,
    ]


# -- the definition -----------------------------------------------------------------------------


def settings(**inputs: str) -> RunSettings:
    env = {"CORTEX_API_TOKEN": "t", "CORTEX_WORKFLOW": "wf"}
    env |= {"CORTEX_" + k.upper(): v for k, v in inputs.items()}
    loaded = load_settings(env)
    assert isinstance(loaded, RunSettings)
    return loaded


@pytest.mark.parametrize(
    "variables",
    [
        [{"slug": "env"}, {"slug": "version"}],
        ["env", "version"],
        [{"key": "env"}, {"name": "version"}],
        {"env": {"type": "TEXT"}, "version": {}},
    ],
)
def test_variables_in_every_plausible_shape(variables: Any) -> None:
    definition = parse_definition({"variables": variables})
    assert definition is not None
    assert definition.variables == ("env", "version")
    verdict = judge(definition, settings(initial_context="env=prod\nverison=1"))
    assert len(verdict.refusals) == 1
    assert "'verison'" in verdict.refusals[0]
    assert "env, version" in verdict.refusals[0]


@pytest.mark.parametrize(
    "variables",
    [
        [{"type": "TEXT"}],
        [1, 2],
        "env",
        None,
        [{"slug": ""}],
        [["env"]],
        # A display name only: "Deploy target" is not the slug deploy_target; refusing the key
        # deploy_target against it refused a declared variable (exit 2, no run).
        [{"name": "Deploy target", "type": "TEXT"}],
    ],
)
def test_variables_we_cannot_read_never_refuse(variables: Any) -> None:
    definition = parse_definition({"variables": variables, "isRunnableViaApi": True})
    assert definition is not None
    assert definition.variables is None
    assert judge(definition, settings(initial_context="anything=1")).refusals == ()


def test_a_key_that_differs_only_in_case_is_a_warning() -> None:
    definition = parse_definition({"variables": ["environment"]})
    assert definition is not None
    verdict = judge(definition, settings(initial_context="Environment=prod"))
    assert verdict.refusals == ()
    assert "differs only in case" in verdict.warnings[0]


def test_only_definite_facts_refuse() -> None:
    """A string "false" is still false; a missing or odd flag is not a refusal."""
    assert judge(parse_definition({"isRunnableViaApi": "false"}), settings()).refusals  # type: ignore[arg-type]
    for odd in ({}, {"isRunnableViaApi": None}, {"isRunnableViaApi": "no"}, {"isDraft": 0}):
        definition = parse_definition(odd)
        assert definition is not None
        assert judge(definition, settings()).refusals == ()


def test_suggestions_are_warnings() -> None:
    entity = parse_definition({"filter": {"type": "ENTITY_FILTER"}})
    assert entity is not None
    assert "entity-scoped" in judge(entity, settings()).warnings[0]
    assert judge(entity, settings(entity="svc")).warnings == ()
    restricted = parse_definition({"restrictActionCompletionToRunnerUser": True})
    assert restricted is not None
    assert "run-as" in judge(restricted, settings()).warnings[0]
    assert judge(restricted, settings(run_as="ada@example.com")).warnings == ()
    unclear = parse_definition({"filter": {"type": "GLOBAL_OR_ENTITY"}, "scope": 3})
    assert unclear is not None
    assert unclear.scope is None


def test_parse_definition_of_a_foreign_answer() -> None:
    assert parse_definition([1, 2]) is None
    assert parse_definition("text") is None


# -- block changes ------------------------------------------------------------------------------


def test_block_changes_between_two_looks() -> None:
    before = run_of(block("a", "IN_PROGRESS", 0, None), block("b", "NOT_STARTED", None, None))
    after = run_of(block("a", "COMPLETED", 0, 3), block("b", "COMPLETED", 3, 4))
    changes = block_changes(before.blocks, after.blocks)
    assert [(c.kind, c.position, c.total, c.duration) for c in changes] == [
        (EventKind.BLOCK_ENDED, 1, 2, 3.0),
        (EventKind.BLOCK_STARTED, 2, 2, None),
        (EventKind.BLOCK_ENDED, 2, 2, 1.0),
    ]
    assert block_changes(after.blocks, after.blocks) == []  # nothing new: nothing said


# -- the chart ----------------------------------------------------------------------------------


def bars(chart: str) -> list[str]:
    return [line for line in chart.splitlines() if re.search(r" :(done|crit|active), b\d+, ", line)]


def test_no_chart_without_timings() -> None:
    assert gantt(run_of(block("a", "COMPLETED", None, None))) is None
    assert "mermaid" not in run_summary(report())  # the sample run has no block timings


def decoded(label: str) -> str:
    """A gantt task name as Mermaid draws it: its entity codes (``#58;``) decoded."""
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label)


@pytest.mark.parametrize(
    "name",
    [
        "deploy: eu;west #1",
        "a\nsection evil\nb",
        "title x",
        "%% comment",
        "<img src=x onerror=alert(1)>",
        "```\n# heading",
        'q"uote\\ {brace} &amp;',
        "\u2028line\x00sep",
        "x" * 500,
    ],
)
def test_names_are_made_safe_for_mermaid(name: str) -> None:
    chart = gantt(run_of(block(name, "COMPLETED", 0, 1), block("ok", "COMPLETED", 1, 2)))
    assert chart is not None
    assert len(bars(chart)) == 2
    lines = chart.splitlines()
    assert lines[0] == "```mermaid"
    assert lines[-1] == "```"
    bar = bars(chart)[0]
    label = bar.split(" :", 1)[0]
    assert label.startswith("    1. ")
    # Outside its entity codes, nothing that Mermaid, HTML or the fence would read as syntax.
    assert not set(re.sub(r"#\d+;", "", label)) & set(':;#%<>&`"\\{}\n')
    assert len(decoded(label)) < 80
    assert sum(line.startswith("```") for line in lines) == 2  # the fence can't close early
    # And the name is drawn as it was given, on one line (shortened when long).
    shown = decoded(label.removeprefix("    1. "))
    assert shown.rstrip("…") in " ".join(name.split()).replace("\x00", " ")


def test_safe_label_keeps_the_name_exact() -> None:
    assert mermaid_label("deploy: eu;west #1") == "deploy#58; eu#59;west #35;1"
    assert decoded(mermaid_label("deploy: eu;west #1")) == "deploy: eu;west #1"


def test_failed_blocks_are_critical_running_ones_active() -> None:
    run = run_of(
        block("a", "COMPLETED", 0, 1),
        block("b", "FAILED", 1, 2),
        block("c", "IN_PROGRESS", 2, None),
        status="IN_PROGRESS",
        dateUpdated=at(5),
    )
    chart = gantt(run)
    assert chart is not None
    tags = [bar.split(" :", 1)[1].split(",")[0] for bar in bars(chart)]
    assert tags == ["done", "crit", "active"]
    start, end = (int(n) for n in bars(chart)[2].rsplit(", ", 2)[1:])
    assert end - start == 3000  # a running block lasts, on the chart, until the run's update


def test_any_number_of_blocks_stays_far_under_githubs_limit() -> None:
    many = [block("b" * 200 + str(i), "FAILED", i, i + 1) for i in range(20_000)]
    for item in many:
        item["state"]["errorMessage"] = "e" * 5000
    text = run_summary(report(run=run_of(*many)))
    assert len(text.encode()) < 1024 * 1024
    assert len(bars(text)) == MAX_CHART_BARS
    assert f"first {MAX_CHART_BARS} timed blocks of 20000" in text


def test_bidi_overrides_cannot_reverse_a_line() -> None:
    """A block named with U+202E would show the rest of its line (a log line, a table row, a
    bar) reversed: overrides and isolates are shown as blanks, like other controls."""
    name = "safe\u202edelpoyed\u202c \u2066x\u2069"
    run = run_of(block(name, "FAILED", 0, 1))
    text = run_summary(report(run=run))
    assert not set(text) & {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2069"}
    assert "safe delpoyed" in text


def test_a_block_with_a_lying_time_is_left_off_the_chart() -> None:
    """One block in 9999 (or 1970) would stretch the axis over millennia and squash every
    other bar to nothing: it is left off, and the chart says so."""
    far = {"name": "far", "state": {"status": "COMPLETED", "startedAt": "9999-12-31T23:59:59Z"}}
    old = {"name": "old", "state": {"status": "COMPLETED", "startedAt": 5, "completedAt": 6}}
    run = run_of(
        block("a", "COMPLETED", 0, 1),
        far,
        old,
        block("b", "COMPLETED", 1, 2),
        dateStarted=at(0),
        dateCompleted=at(2),
    )
    chart = gantt(run)
    assert chart is not None
    assert [bar.split(" :", 1)[0].strip() for bar in bars(chart)] == ["1. a", "4. b"]
    assert "2 blocks with times far from the run's are not charted" in chart
    # Without run times, the blocks' middle start anchors the span.
    lone = run_of(block("a", "COMPLETED", 0, 1), far, block("b", "COMPLETED", 1, 2))
    lone_chart = gantt(lone)
    assert lone_chart is not None
    assert len(bars(lone_chart)) == 2
