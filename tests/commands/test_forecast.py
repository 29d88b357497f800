"""``run`` and ``wait`` with a workflow's history: one list request, the ETA line, the time left
while waiting, how the run compared in the summary; and without one (none, too little, a list
that fails or lies): the usual schedule, one line saying so, no error."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support import NOW, FakeTime, github_env, invoke, query_of, tagged_run

RUN_ID = "3f0c9a52-1111-4c1e-9d5e-000000000001"
LIST_PATH = "/api/v1/workflows/runs"
RUN_PATH = f"/api/v1/workflows/deploy-service/runs/{RUN_ID}"


def iso(instant: dt.datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def past_runs(seconds: list[float], **extra: Any) -> list[dict[str, Any]]:
    """Ended runs of deploy-service, one a day, that took ``seconds``."""
    runs = []
    for number, took in enumerate(seconds):
        created = NOW - dt.timedelta(days=number + 1)
        runs.append(
            tagged_run(
                f"past-{number}",
                "COMPLETED",
                dateCreated=iso(created),
                dateCompleted=iso(created + dt.timedelta(seconds=took)),
                **extra,
            )
        )
    return runs


@pytest.fixture(autouse=True)
def definition(api: HTTPServer) -> None:
    """The preflight's read of the workflow's definition, answered as Cortex does."""
    api.expect_request("/api/v1/workflows/deploy-service", method="GET").respond_with_json(
        {"isRunnableViaApi": True, "isDraft": False}
    )


class Simulated:
    """A run of deploy-service that ends ``took`` seconds after its trigger, on the fake clock."""

    def __init__(self, api: HTTPServer, clock: FakeTime, took: float, end: str = "COMPLETED"):
        self.clock, self.took, self.end = clock, took, end
        self.start = clock.now
        api.expect_request(
            "/api/v1/workflows/deploy-service/runs", method="POST"
        ).respond_with_json(tagged_run(RUN_ID, "NOT_INITIATED"), status=201)
        api.expect_request(RUN_PATH, method="GET").respond_with_handler(self.get)

    def get(self, request: Request) -> Response:
        elapsed = self.clock.now - self.start
        created = NOW
        extra: dict[str, Any] = {"dateCreated": iso(created)}
        status = "IN_PROGRESS"
        if elapsed >= self.took:
            status = self.end
            extra["dateCompleted"] = iso(created + dt.timedelta(seconds=self.took))
        body = tagged_run(RUN_ID, status, **extra)
        return Response(json.dumps(body), content_type="application/json")


def lists(api: HTTPServer) -> list[Request]:
    return [r for r, _ in api.log if r.path == LIST_PATH]


def test_a_run_with_history_shows_its_eta_and_how_it_compared(
    api: HTTPServer, tmp_path: Path
) -> None:
    """12 runs of ~4m10s: the ETA line, one list request, the time left while waiting, the end
    seen soon after it happens, and the summary says the run was typical."""
    api.expect_request(LIST_PATH, method="GET").respond_with_json(
        {"runs": past_runs([250 + (i % 5) - 2 for i in range(12)])}
    )
    clock = FakeTime()
    Simulated(api, clock, took=252)
    result = invoke(github_env(tmp_path, api, workflow="deploy-service"), time=clock)
    assert result.exit_code == 0, result.log
    assert (
        "Usually takes 4m10s (median of the last 12 runs; 90 % within 4m12s); "
        "expected to end around 09:04 UTC." in result.log
    )
    (listing,) = lists(api)
    query = query_of(listing)
    assert query["workflowIds"] == ["deploy-service", "wf5a1c0e7d9b3f2a41"]
    assert (query["size"], query["sort"]) == (["25"], ["dateCreated,desc"])
    assert "left" in result.log  # on the status lines and the heartbeat
    assert "still IN_PROGRESS; about" in result.log
    assert clock.now - 1000.0 - 252 <= 1.5  # the end seen within the dense interval
    polls = [r for r, _ in api.log if r.path == RUN_PATH]
    assert len(polls) <= 40  # a 2 s poll makes 126
    assert "| Against history | typical: 4m12s, against a median of 4m10s over 12 runs" in (
        result.summary
    )
    assert "Compared with its history: typical" in result.log


@pytest.mark.parametrize(("took", "verdict"), [(100, "faster"), (600, "slower")])
def test_the_summary_says_faster_or_slower(
    api: HTTPServer, tmp_path: Path, took: float, verdict: str
) -> None:
    api.expect_request(LIST_PATH, method="GET").respond_with_json(
        {"runs": past_runs([250, 255, 245, 260, 240])}
    )
    clock = FakeTime()
    Simulated(api, clock, took=took, end="FAILED" if verdict == "slower" else "COMPLETED")
    result = invoke(github_env(tmp_path, api, workflow="deploy-service"), time=clock)
    assert result.exit_code == (1 if verdict == "slower" else 0), result.log
    assert f"| Against history | {verdict}: " in result.summary


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (Response("{}", 403), "403"),
        (Response("<html>oops</html>", 500), "500"),
        (Response("not json", 200), "not JSON"),
        (Response(json.dumps({"runs": [1, 2]}), 200), "not a list of run objects"),
        (Response(json.dumps({"runs": []}), 200), "no ended runs"),
        (
            Response(json.dumps({"runs": past_runs([60, 60])}), 200),
            "only 2 ended run(s)",
        ),
        (
            Response(
                json.dumps(
                    {"runs": [{**r, "workflow": {"cid": "wf9"}} for r in past_runs([60] * 5)]}
                ),
                200,
            ),
            "no ended runs",
        ),
        (Response("", 429, headers={"Retry-After": "1"}), "429"),
    ],
)
def test_no_usable_history_is_one_line_and_the_usual_schedule(
    api: HTTPServer, tmp_path: Path, answer: Response, why: str
) -> None:
    api.expect_request(LIST_PATH, method="GET").respond_with_response(answer)
    clock = FakeTime()
    Simulated(api, clock, took=5)
    result = invoke(github_env(tmp_path, api, workflow="deploy-service"), time=clock)
    assert result.exit_code == 0, result.log
    notes = [line for line in result.log.splitlines() if "No duration history" in line]
    assert len(notes) == 1, result.log
    assert why in notes[0]
    assert "polling on the usual schedule" in notes[0]
    assert len(lists(api)) == 1  # never retried
    assert "::error" not in result.log
    assert "Warning" not in result.log
    assert "Usually takes" not in result.log
    assert "Against history" not in result.summary
    assert clock.sleeps[0] <= 1.0  # today's schedule: the first look within a second


def test_a_stalled_list_costs_its_budget_not_the_timeout(api: HTTPServer, tmp_path: Path) -> None:
    """A list that doesn't answer is given up after its own few seconds (real ones here: the
    HTTP timeout), once, not retried until `timeout`."""

    def stall(request: Request) -> Response:
        threading.Event().wait(6)
        return Response(json.dumps({"runs": []}), content_type="application/json")

    api.expect_request(LIST_PATH, method="GET").respond_with_handler(stall)
    clock = FakeTime()
    Simulated(api, clock, took=3)
    result = invoke(github_env(tmp_path, api, workflow="deploy-service"), time=clock)
    assert result.exit_code == 0, result.log
    assert "No duration history (listing the workflow's recent runs failed" in result.log
    assert "no answer within 3s" in result.log  # the look-up's budget, not `timeout`
    assert len(lists(api)) == 1


def test_no_look_up_when_timeout_is_nearly_spent(api: HTTPServer, tmp_path: Path) -> None:
    clock = FakeTime()
    Simulated(api, clock, took=3)
    env = github_env(tmp_path, api, workflow="deploy-service", timeout="8s")
    result = invoke(env, time=clock)
    assert result.exit_code == 0, result.log
    assert "too little of `timeout` left" in result.log
    assert lists(api) == []


def test_a_run_that_has_already_ended_asks_for_no_history(api: HTTPServer, tmp_path: Path) -> None:
    api.expect_request("/api/v1/workflows/deploy-service/runs", method="POST").respond_with_json(
        tagged_run(RUN_ID, "COMPLETED"), status=201
    )
    result = invoke(github_env(tmp_path, api, workflow="deploy-service"))
    assert result.exit_code == 0, result.log
    assert lists(api) == []


def test_wait_reads_the_run_s_age_from_its_timestamps(api: HTTPServer, tmp_path: Path) -> None:
    """wait on a run that began 3 minutes ago: 1m10s left of its usual 4m10s."""
    api.expect_request(LIST_PATH, method="GET").respond_with_json({"runs": past_runs([250] * 6)})
    created = iso(NOW - dt.timedelta(minutes=3))
    answers = iter(
        [tagged_run(RUN_ID, "IN_PROGRESS", dateCreated=created)] * 3
        + [tagged_run(RUN_ID, "COMPLETED", dateCreated=created, dateCompleted=iso(NOW))]
    )
    api.expect_request(RUN_PATH, method="GET").respond_with_handler(
        lambda _: Response(json.dumps(next(answers)), content_type="application/json")
    )
    env = github_env(tmp_path, api, command="wait", workflow="deploy-service", run_id=RUN_ID)
    result = invoke(env)
    assert result.exit_code == 0, result.log
    assert "expected to end around 09:01 UTC" in result.log
    assert "about 1m1" in result.log  # 1m10s, less the first look
    assert "| Against history | faster: 3m00s" in result.summary


def test_wait_on_a_run_of_unknown_age_says_no_expected_end(api: HTTPServer, tmp_path: Path) -> None:
    api.expect_request(LIST_PATH, method="GET").respond_with_json({"runs": past_runs([250] * 6)})
    answers = iter([tagged_run(RUN_ID, "IN_PROGRESS")] * 2 + [tagged_run(RUN_ID, "COMPLETED")])
    api.expect_request(RUN_PATH, method="GET").respond_with_handler(
        lambda _: Response(json.dumps(next(answers)), content_type="application/json")
    )
    env = github_env(tmp_path, api, command="wait", workflow="deploy-service", run_id=RUN_ID)
    result = invoke(env)
    assert result.exit_code == 0, result.log
    assert "when this run began is unknown, so no expected end" in result.log
    assert "Against history" not in result.summary  # its duration is unknown too


def test_a_replayed_trigger_follows_the_older_run_s_clock(api: HTTPServer, tmp_path: Path) -> None:
    """The trigger replays a run an earlier attempt started 3 minutes ago: 1m10s are left of its
    usual 4m10s, not 4m10s."""
    api.expect_request(LIST_PATH, method="GET").respond_with_json({"runs": past_runs([250] * 6)})
    created = iso(NOW - dt.timedelta(minutes=3))
    api.expect_request("/api/v1/workflows/deploy-service/runs", method="POST").respond_with_json(
        tagged_run(RUN_ID, "IN_PROGRESS", dateCreated=created), status=200
    )
    answers = iter([tagged_run(RUN_ID, "IN_PROGRESS", dateCreated=created)] * 2)
    api.expect_request(RUN_PATH, method="GET").respond_with_handler(
        lambda _: Response(
            json.dumps(next(answers, tagged_run(RUN_ID, "COMPLETED"))),
            content_type="application/json",
        )
    )
    result = invoke(github_env(tmp_path, api, workflow="deploy-service"))
    assert result.exit_code == 0, result.log
    assert "expected to end around 09:01 UTC" in result.log
    assert "IN_PROGRESS; about 1m10s left" in result.log


def test_a_lying_history_costs_lag_within_the_far_cap_never_a_hang(
    api: HTTPServer, tmp_path: Path
) -> None:
    """Past runs that 'took' 12 hours; this one takes 5 s: seen within a minute."""
    api.expect_request(LIST_PATH, method="GET").respond_with_json(
        {"runs": past_runs([12 * 3600] * 5)}
    )
    clock = FakeTime()
    Simulated(api, clock, took=5)
    result = invoke(github_env(tmp_path, api, workflow="deploy-service"), time=clock)
    assert result.exit_code == 0, result.log
    assert "Usually takes 12h00m00s" in result.log
    assert max(clock.sleeps) <= 60
    assert clock.now - 1000.0 <= 5 + 60


def test_an_outsized_workflow_id_is_not_sent(api: HTTPServer, tmp_path: Path) -> None:
    api.expect_request(LIST_PATH, method="GET").respond_with_json({"runs": []})
    api.expect_request("/api/v1/workflows/deploy-service/runs", method="POST").respond_with_json(
        {**tagged_run(RUN_ID, "IN_PROGRESS"), "workflow": {"cid": "x" * 5000}}, status=201
    )
    api.expect_request(RUN_PATH, method="GET").respond_with_json(tagged_run(RUN_ID, "COMPLETED"))
    result = invoke(github_env(tmp_path, api, workflow="deploy-service"))
    assert result.exit_code == 0, result.log
    (listing,) = lists(api)
    assert query_of(listing)["workflowIds"] == ["deploy-service"]


def test_instant_runs_are_due_now(api: HTTPServer, tmp_path: Path) -> None:
    api.expect_request(LIST_PATH, method="GET").respond_with_json({"runs": past_runs([0] * 4)})
    clock = FakeTime()
    Simulated(api, clock, took=2)
    result = invoke(github_env(tmp_path, api, workflow="deploy-service"), time=clock)
    assert result.exit_code == 0, result.log
    assert "Usually takes 0s (median of the last 4 runs; 90 % within 0s); due now." in result.log


def test_a_timestamp_past_a_float_s_range_is_no_timestamp(api: HTTPServer, tmp_path: Path) -> None:
    """An integer of 400 digits as a time, in the history and in the run that ends: the run's
    COMPLETED is exit 0 (it was an OverflowError when the summary compared the run: exit 3,
    "This is a bug", for a deploy that had succeeded)."""
    runs = past_runs([60] * 4)
    runs[0]["dateCreated"] = 10**400
    api.expect_request(LIST_PATH, method="GET").respond_with_json({"runs": runs})
    api.expect_request("/api/v1/workflows/deploy-service/runs", method="POST").respond_with_json(
        tagged_run(RUN_ID, "IN_PROGRESS"), status=201
    )
    api.expect_request(RUN_PATH, method="GET").respond_with_json(
        tagged_run(RUN_ID, "COMPLETED", dateCreated=iso(NOW), dateCompleted=10**400)
    )
    result = invoke(github_env(tmp_path, api, workflow="deploy-service"), time=FakeTime())
    assert result.exit_code == 0, result.log
    assert "median of the last 3 runs" in result.log  # the garbled one left out
    assert "internal error" not in result.log
    assert result.outputs["status"] == "COMPLETED"
