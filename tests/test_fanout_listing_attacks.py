"""The fan-out's listings against a hostile Cortex: rows that look whole but are summaries, a
listing that never moves on, ids as numbers, statuses in lower case. Whatever the listing says,
the result is what the runs' own reads say, within `timeout`."""

from __future__ import annotations

import json
import time as real_time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cortex_action.errors import Interrupted
from tests.support import FakeTime, RealTime, github_env, invoke, json_response
from tests.test_fanout_listings import ENTITIES, LIST_PATH, ManyRuns, runs_of


def step(server: ManyRuns, tmp_path: Path, **inputs: str) -> Any:
    inputs = {"entities": ENTITIES, **inputs}
    env = github_env(tmp_path, server.server, **inputs)
    time = FakeTime()
    begun = time.clock()
    done = invoke(env, time=time)
    done.took = time.clock() - begun  # type: ignore[attr-defined]
    return done


def test_a_summary_row_with_every_key_of_a_read_is_still_confirmed(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """Rows with the same top-level keys as a read, but blocks without their state: a FAILED
    row is no result, the read (with the block's message) is."""

    def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
        for run in runs:
            run["actions"] = [{"name": a["name"]} for a in run["actions"]]
        return {"runs": runs}

    cortex = ManyRuns(httpserver, summary)
    cortex.failing = {"service-02"}
    done = step(cortex, tmp_path)
    assert done.exit_code == 1, done.log
    assert runs_of(done)[1]["run"]["actions"][0]["state"]["errorMessage"] == (
        "scan of service-02 failed"
    )
    assert "scan of service-02 failed" in done.summary
    # Every run's result is its read, blocks with their state, the completed ones too.
    assert all("state" in r["run"]["actions"][0] for r in runs_of(done))


def test_a_failed_row_without_any_block_message_is_confirmed_by_a_read(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """The row keeps every field but drops the error (a listing may leave it out): read."""

    def quiet(runs: list[dict[str, Any]]) -> dict[str, Any]:
        for run in runs:
            for action in run["actions"]:
                action["state"].pop("errorMessage", None)
        return {"runs": runs}

    cortex = ManyRuns(httpserver, quiet)
    cortex.failing = {"service-03"}
    done = step(cortex, tmp_path)
    assert done.exit_code == 1, done.log
    assert "scan of service-03 failed" in done.summary


def test_a_listing_stuck_on_in_progress_does_not_hold_the_step_until_timeout(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """A cached listing that shows every run IN_PROGRESS for ever, while the runs' own reads say
    COMPLETED: the runs are read now and then, so the step ends soon after they do."""

    def stale(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"runs": [run | {"status": "IN_PROGRESS"} for run in runs]}

    cortex = ManyRuns(httpserver, stale)
    done = step(cortex, tmp_path, timeout="3600")
    assert done.exit_code == 0, done.log
    assert [r["status"] for r in runs_of(done)] == ["COMPLETED"] * 5
    # Each run read on its own a minute after its last read: not the hour of `timeout`.
    assert done.took < 90
    assert len(cortex.reads()) <= 10


class NumericIds(ManyRuns):
    """Run ids as JSON numbers, statuses in lower case."""

    def _trigger(self, request: Request) -> Response:
        entity = json.loads(request.get_data())["scope"]["entityId"]
        run_id = str(100 + len(self.runs))
        self.runs[run_id] = entity
        run = self.run(run_id, look=False)
        return json_response(run | {"id": int(run_id), "status": "not_initiated"}, 201)

    def _get(self, request: Request) -> Response:
        run = self.run(request.path.rsplit("/", 1)[1])
        return json_response(run | {"id": int(run["id"]), "status": run["status"].lower()})


def test_numeric_ids_and_lower_case_statuses_are_found_in_listings(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    cortex = NumericIds(
        httpserver,
        lambda runs: {
            "content": [r | {"id": int(r["id"]), "status": r["status"].lower()} for r in runs]
        },
    )
    cortex.failing = {"service-05"}
    done = step(cortex, tmp_path)
    assert done.exit_code == 1, done.log
    assert [r["status"] for r in runs_of(done)] == [*["COMPLETED"] * 4, "FAILED"]
    assert "scan of service-05 failed" in done.summary
    assert len(cortex.reads()) == 0  # the listing's rows were whole: no read needed


def test_fail_fast_stops_triggering_on_a_failure_seen_in_a_listing(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    cortex = ManyRuns(httpserver)
    cortex.failing = {"service-01"}
    done = step(cortex, tmp_path, max_parallel="2", fail_fast="true")
    assert done.exit_code == 1, done.log
    statuses = [r["status"] for r in runs_of(done)]
    assert statuses[0] == "FAILED"
    assert statuses[2:] == ["SKIPPED"] * 3
    assert len(cortex.runs) == 2  # nothing triggered after the failure was seen


def test_other_pipelines_runs_and_a_foreign_twin_of_our_id(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """Rows of other pipelines' runs of the workflow come first; one of them has our first run's
    id as a number on another entity (a twin): it is ignored and our run read on its own."""

    def crowded(runs: list[dict[str, Any]]) -> dict[str, Any]:
        others = [
            {
                "id": f"other-{i}",
                "status": "FAILED",
                "workflow": {"cid": "wf123", "tag": "deploy-service"},
                "scope": {"type": "ENTITY", "entityId": f"elsewhere-{i}"},
                "actions": [],
            }
            for i in range(30)
        ]
        twin = runs[-1] | {"scope": {"type": "ENTITY", "entityId": "elsewhere"}}
        twin["status"] = "FAILED"
        return {"runs": [twin, *others, *runs]}

    cortex = ManyRuns(httpserver, crowded)
    done = step(cortex, tmp_path)
    assert done.exit_code == 0, done.log
    runs = runs_of(done)
    assert [r["status"] for r in runs] == ["COMPLETED"] * 5
    assert runs[0]["run"]["scope"]["entityId"] == "service-01"


class NeverEnds(ManyRuns):
    """Runs that stay IN_PROGRESS: only `timeout` ends the step."""

    def run(self, run_id: str, *, look: bool = True) -> dict[str, Any]:
        return super().run(run_id, look=False) | {"status": "IN_PROGRESS"}


def test_timeout_during_listings_says_what_was_still_running(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    cortex = NeverEnds(httpserver)
    done = step(cortex, tmp_path, timeout="120")
    assert done.exit_code == 4, done.log
    assert done.took <= 120 + 5
    assert "`timeout` ran out: 5 running." in done.log  # not "5 done"
    assert [r["status"] for r in runs_of(done)] == ["IN_PROGRESS"] * 5
    # Listings look at the five runs; a read of each now and then; no storm.
    assert len(cortex.listings()) + len(cortex.reads()) <= 60


def test_a_row_nested_deeper_than_the_stack_is_no_crash(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """A row with a field nested 900 levels deep (valid JSON): compared, not a traceback."""

    def deep(runs: list[dict[str, Any]]) -> Response:
        nested = "[" * 900 + "]" * 900
        text = json.dumps({"runs": runs})
        return Response(
            text.replace('"actions": [', f'"extra": {nested}, "actions": ['),
            200,
            content_type="application/json",
        )

    cortex = ManyRuns(httpserver, deep)
    cortex.failing = {"service-01"}
    done = step(cortex, tmp_path)
    assert done.exit_code == 1, done.log
    assert "Traceback" not in done.log
    assert "scan of service-01 failed" in done.summary


def test_a_listing_fine_then_429_with_a_long_retry_after_is_not_waited_for(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """The listing answers, then asks to come back in 10 minutes: reads take over at once."""
    answers = iter([None])

    def then_busy(runs: list[dict[str, Any]]) -> Any:
        if next(answers, "busy") is None:
            return {"runs": runs}
        return json_response({"message": "slow down"}, 429, {"Retry-After": "600"})

    cortex = ManyRuns(httpserver, then_busy)
    cortex.failing = {"service-04"}
    done = step(cortex, tmp_path)
    assert done.exit_code == 1, done.log
    assert [r["status"] for r in runs_of(done)] == [*["COMPLETED"] * 3, "FAILED", "COMPLETED"]
    assert "scan of service-04 failed" in done.summary
    assert len(cortex.listings()) == 2
    assert done.took < 30  # not the 600 s asked for


class Pausing(ManyRuns):
    """service-02's run pauses for a person at its third look instead of ending."""

    def run(self, run_id: str, *, look: bool = True) -> dict[str, Any]:
        run = super().run(run_id, look=look)
        if self.runs[run_id] == "service-02" and run["status"] == "COMPLETED":
            run["status"] = "PAUSED"
            run["actions"][0]["state"]["status"] = "PAUSED"
        return run


@pytest.mark.parametrize(("on_paused", "code"), [("fail", 1), ("succeed", 0)])
def test_a_pause_seen_in_a_listing_is_decided_by_on_paused(
    httpserver: HTTPServer, tmp_path: Path, on_paused: str, code: int
) -> None:
    cortex = Pausing(httpserver)
    done = step(cortex, tmp_path, on_paused=on_paused)
    assert done.exit_code == code, done.log
    assert [r["status"] for r in runs_of(done)][1] == "PAUSED"
    assert len(cortex.runs) == 5


def test_a_pause_with_on_paused_wait_frees_its_slot_after_30_s(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """One at a time but two runs followed once the pause has lasted: listings serve both, and
    the step waits out `timeout` on the paused run only (exit 4), each entity triggered once."""
    cortex = Pausing(httpserver)
    done = step(cortex, tmp_path, max_parallel="1", timeout="300")
    assert done.exit_code == 4, done.log
    statuses = [r["status"] for r in runs_of(done)]
    assert statuses == ["COMPLETED", "PAUSED", *["COMPLETED"] * 3]
    assert len(cortex.runs) == 5
    assert done.took <= 305
    assert len(cortex.listings()) + len(cortex.reads()) <= 80


def test_five_hundred_entities(httpserver: HTTPServer, tmp_path: Path) -> None:
    entities = ",".join(f"svc-{i:03d}" for i in range(500))
    cortex = ManyRuns(httpserver)
    cortex.failing = {"svc-250"}
    done = step(cortex, tmp_path, entities=entities, timeout="3600")
    assert done.exit_code == 1, done.log
    runs = runs_of(done)
    assert len(runs) == 500
    assert runs[250]["status"] == "FAILED"
    assert len(cortex.runs) == 500  # each once
    looks = len(cortex.listings()) + len(cortex.reads())
    assert looks <= 400, looks  # 3 listings a wave of 5; a poll a run would be 1500


class StopOnListing(httpx.BaseTransport):
    """The network, with SIGTERM arriving while the second listing is on its way."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.listings = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == LIST_PATH and "includeContext" not in request.url.params:
            self.listings += 1
            if self.listings == 2:
                raise Interrupted(15)
        return self.inner.handle_request(request)


def test_sigterm_during_a_listing(httpserver: HTTPServer, tmp_path: Path) -> None:
    """Exit 143 with every entity's run known, each its last whole object, nothing triggered
    twice."""
    cortex = ManyRuns(httpserver)
    env = github_env(tmp_path, httpserver, entities=ENTITIES)
    done = invoke(env, time=FakeTime(), transport=StopOnListing())
    assert done.exit_code == 143, done.log
    runs = runs_of(done)
    assert [r["entity"] for r in runs] == ENTITIES.split(",")
    assert all(r["run"]["scope"]["entityId"] == r["entity"] for r in runs)
    assert "Interrupted by SIGTERM" in done.summary
    assert len(cortex.runs) == 5


@pytest.mark.realtime
def test_a_listing_that_stalls_at_the_end_never_overruns_timeout(tmp_path: Path) -> None:
    """Runs that don't end, and a listing that never answers: the step stops at `timeout`, not
    5 s past it, and the last listing's failure sends no read past the deadline."""
    server = HTTPServer(threaded=True)  # a stalled listing must not hold the reads up
    server.start()
    try:

        def stall(runs: list[dict[str, Any]]) -> dict[str, Any]:
            real_time.sleep(30)
            return {"runs": runs}

        cortex = NeverEnds(server, stall)
        env = github_env(tmp_path, server, entities=ENTITIES, timeout="6")
        begun = real_time.monotonic()
        done = invoke(env, time=RealTime())
        took = real_time.monotonic() - begun
    finally:
        server.clear()
        server.stop()
    assert done.exit_code == 4, done.log
    assert took < 6 + 5
    assert "`timeout` ran out: 5 running." in done.log
    assert [r["status"] for r in runs_of(done)] == ["NOT_INITIATED"] * 5
    assert "Listing the workflow's runs failed" in done.log
    assert cortex.reads() == []  # none sent past the deadline


class TerseTrigger(ManyRuns):
    """The trigger answers only id, status and scope: less than a read, and less than rows."""

    def _trigger(self, request: Request) -> Response:
        answer = json.loads(super()._trigger(request).get_data())
        return json_response({k: answer[k] for k in ("id", "status", "scope")}, 201)


def test_a_run_never_read_is_not_ended_by_a_row_without_its_blocks(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """Rows with more than the trigger's answer but no `actions` (a summary): a run that ends
    there is read, so `runs` holds its blocks, documented parts of a run object."""

    def no_blocks(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"runs": [{k: v for k, v in r.items() if k != "actions"} for r in runs]}

    cortex = TerseTrigger(httpserver, no_blocks)
    done = step(cortex, tmp_path)
    assert done.exit_code == 0, done.log
    assert all(r["run"]["actions"][0]["name"] == "Scan" for r in runs_of(done))
