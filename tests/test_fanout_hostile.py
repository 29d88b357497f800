"""A fan-out against a Cortex that lies, stalls or answers for someone else: an exit code that
says so, every entity reported, no hang past `timeout`, nothing forged into the summary."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from werkzeug import Response

from cortex_action.fanout import EntityReport, FanOutReport, Verdict
from cortex_action.models import Run
from cortex_action.render.fanout_summary import fanout_summary, gantt, mermaid_label, runs_output
from cortex_action.render.outputs import OUTPUT_LIMIT
from cortex_action.report import Report
from tests.support import FakeTime, ScriptedCortex, github_env, invoke, json_response, run_object


def runs_of(outputs: dict[str, str]) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = json.loads(outputs["runs"])
    return runs


def fanout_report(
    entities: tuple[EntityReport, ...],
    exit_code: int,
    status: str,
    headline: str,
    *,
    fail_fast: bool = False,
) -> FanOutReport:
    """A fan-out's result as the renderers get it; what a test varies is given, the rest fixed."""
    return FanOutReport(
        workflow="w",
        exit_code=exit_code,
        status=status,
        headline=headline,
        runs_url="https://app.example/runs",
        job_url=None,
        started_at="2026-11-30T09:00:00Z",
        duration=5.0,
        max_parallel=5,
        fail_fast=fail_fast,
        entities=entities,
    )


def test_the_same_run_for_two_entities_is_not_trusted(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """Every trigger answered with run-1: the second entity's answer is someone else's run."""
    cortex.statuses("COMPLETED")
    env = github_env(tmp_path, cortex.base_url, entities="service-01,service-02,service-03")
    done = invoke(env)
    assert done.exit_code == 3, done.log
    statuses = [r["status"] for r in runs_of(done.outputs)]
    assert statuses == ["COMPLETED", "UNCONFIRMED", "SKIPPED"]
    assert "the run of service-01" in done.log
    assert len(cortex.requests("POST")) == 2  # no third trigger after a foreign answer


def test_a_trigger_that_never_gets_an_answer_stops_the_triggers(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    cortex.on_trigger(json_response({"message": "unavailable"}, 503))
    env = github_env(tmp_path, cortex.base_url, entities="service-01,service-02")
    done = invoke(env)
    assert done.exit_code == 3, done.log
    assert [r["status"] for r in runs_of(done.outputs)] == ["UNCONFIRMED", "SKIPPED"]
    assert "Cortex may have started the run anyway" in done.log
    assert "it cannot start a second run" in done.log


def test_a_poll_answered_with_another_run(cortex: ScriptedCortex, tmp_path: Path) -> None:
    cortex.on_get(json_response(run_object("someone-else", "COMPLETED")))
    env = github_env(tmp_path, cortex.base_url, entities="service-01")
    done = invoke(env)
    assert done.exit_code == 3, done.log
    assert runs_of(done.outputs)[0]["status"] == "NOT_INITIATED"  # as last seen, not forged
    assert "someone-else" in done.log


def test_a_run_held_forever_gives_up_at_the_timeout(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """Cortex holds the run NOT_INITIATED for ever: said once, then exit 4 at `timeout`, on
    time. (One entity: this stand-in answers every trigger with the same run.)"""
    cortex.statuses("NOT_INITIATED")
    time = FakeTime()
    env = github_env(tmp_path, cortex.base_url, entities="service-01", timeout="2m")
    started = time.now
    done = invoke(env, time=time)
    assert done.exit_code == 4, done.log
    assert time.now - started <= 120 + 1
    assert done.log.count("Cortex holds it for a free slot") == 1
    assert done.outputs["status"] == "NOT_INITIATED"


def test_an_endless_stream_of_busy_answers_gives_up_at_the_timeout(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    cortex.on_trigger(
        Response(
            json.dumps({"message": "Too many"}),
            429,
            headers={"Retry-After": "0"},
            content_type="application/json",
        )
    )
    time = FakeTime()
    env = github_env(tmp_path, cortex.base_url, entities="service-01,service-02", timeout="1m")
    done = invoke(env, time=time)
    assert done.exit_code == 4, done.log
    assert [r["status"] for r in runs_of(done.outputs)] == ["NOT_TRIGGERED"] * 2
    assert done.log.count("Cortex is busy") == 1
    # Retry-After 0 is not a tight loop: at least a second between two triggers.
    assert len(cortex.requests("POST")) <= 61


def entry(entity: str, verdict: Verdict, run: Run | None) -> EntityReport:
    report = Report(command="run", workflow="w", exit_code=0, headline="h", run=run, entity=entity)
    return EntityReport(report, run.status if run else "SKIPPED", verdict, False)


def test_hostile_entity_names_cannot_break_the_table_or_the_chart() -> None:
    name = "evil: x; click A call alert()\n%%{init}%%\n```\n| <b>"
    raw = {
        "id": "r1",
        "status": "COMPLETED",
        "dateStarted": "2026-11-30T09:00:00Z",
        "dateCompleted": "2026-11-30T09:00:05Z",
    }
    span = (
        dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 30, 9, 0, 5, tzinfo=dt.UTC),
    )
    good = EntityReport(
        Report(
            command="run",
            workflow="w",
            exit_code=0,
            headline="h",
            run=Run("r1", "COMPLETED", raw),
            entity=name,
        ),
        "COMPLETED",
        Verdict.COMPLETED,
        False,
        span,
    )
    report = fanout_report((good,), 0, "COMPLETED", "All done")
    chart = gantt(report) or ""
    bar = [line for line in chart.splitlines() if ":done," in line]
    assert len(bar) == 1
    label = bar[0].split(" :done,")[0]
    assert not set(label) & set(":;#%`<>{}\n")
    assert chart.count("```") == 2
    summary = fanout_summary(report)
    row = next(line for line in summary.splitlines() if line.startswith("| `"))
    assert row.count(" | ") == 6  # seven cells: a `|` in the name did not add one
    assert mermaid_label("a" * 500).endswith("…")
    # A bidi override in an entity's name must not reverse the rest of its bar's label.
    assert "\u202e" not in mermaid_label("svc\u202eevil")


def test_a_summary_of_500_entities_stays_under_githubs_limit() -> None:
    long_error = "x" * 5000
    raw: dict[str, Any] = {
        "id": "r",
        "status": "FAILED",
        "actions": [{"name": "b" * 300, "state": {"status": "FAILED", "errorMessage": long_error}}],
    }
    entities = tuple(
        entry(f"service-{i:03d}" + "y" * 900, Verdict.FAILED, Run("r", "FAILED", raw))
        for i in range(500)
    )
    report = fanout_report(entities, 1, "FAILED", "h")
    assert len(fanout_summary(report).encode()) < 1024 * 1024


def test_a_poll_of_the_right_run_on_another_entity_is_not_trusted(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """Attack: the poll answers the run's id, but as a run of another entity: not COMPLETED."""
    cortex.statuses("COMPLETED", entityTag="someone-else")
    env = github_env(tmp_path, cortex.base_url, entities="service-01")
    done = invoke(env, time=FakeTime())
    assert done.exit_code == 3, done.log
    assert runs_of(done.outputs)[0]["status"] == "NOT_INITIATED"  # as last trusted
    assert "someone-else" in done.log


def test_a_404_just_after_the_trigger_is_lag_not_a_lost_run(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """Attack: Cortex's read-after-write lag (a 404 on the first polls) must not fail the entity,
    as it doesn't fail a single run."""
    cortex.on_get(
        json_response({"message": "Workflow run not found"}, 404),
        json_response({"message": "Workflow run not found"}, 404),
        json_response(run_object("run-1", "COMPLETED")),
    )
    env = github_env(tmp_path, cortex.base_url, entities="service-01")
    done = invoke(env, time=FakeTime())
    assert done.exit_code == 0, done.log
    assert runs_of(done.outputs)[0]["status"] == "COMPLETED"
    assert len(cortex.requests("POST")) == 1


def test_a_run_that_stays_404_is_lost_after_the_lag_window(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """Attack: a poll answering 404 for ever: lag for a while, then the entity is unreachable
    (3), long before `timeout`, with a bounded number of polls."""
    cortex.on_get(json_response({"message": "Workflow run not found"}, 404))
    time = FakeTime()
    started = time.now
    env = github_env(tmp_path, cortex.base_url, entities="service-01", timeout="30m")
    done = invoke(env, time=time)
    assert done.exit_code == 3, done.log
    assert runs_of(done.outputs)[0]["status"] == "NOT_INITIATED"
    assert time.now - started < 60
    assert len(cortex.requests("GET")) < 20


def test_the_runs_output_of_500_long_names_stays_under_githubs_limit() -> None:
    """Attack: 500 entities of 1024 characters (emoji, quotes), each message naming one: even
    without the run objects, `runs` would be megabytes; GitHub would refuse the step's outputs."""
    names = [f"{i:03d}" + '"\U0001f600' * 510 for i in range(500)]
    entities = tuple(
        EntityReport(
            Report(
                command="run",
                workflow="w",
                exit_code=0,
                headline=f"Skipped: fail-fast: the run of {names[0]} ended FAILED.",
                run=None,
                entity=name,
                idempotency_key="k" * 255,
            ),
            "SKIPPED",
            Verdict.SKIPPED,
            None,
        )
        for name in names
    )
    report = fanout_report(entities, 1, "FAILED", "h", fail_fast=True)
    text = runs_output(report)
    assert len(text.encode()) <= OUTPUT_LIMIT
    runs = json.loads(text)
    assert len(runs) == 500  # every entity still has its row, in order
    assert [r["status"] for r in runs] == ["SKIPPED"] * 500
    # The names had to be cut: said so, and each still starts as given.
    assert runs[1]["entityTruncated"] is True
    assert names[1].startswith(runs[1]["entity"].removesuffix("…"))
