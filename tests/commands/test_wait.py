"""``wait``: follow an existing run to its end, with run's outputs, summary and exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support import (
    FakeTime,
    base_env,
    github_env,
    invoke,
    requests_to,
    serve_history,
    tagged_run,
)

RUN_ID = "3f0c9a52-2222-4c1e-9d5e-000000000002"
RUN_PATH = f"/api/v1/workflows/deploy-service/runs/{RUN_ID}"


def serve_statuses(server: HTTPServer, *statuses: str, **extra: Any) -> None:
    """Answer each poll with the next status; the last one repeats."""
    seq: Iterator[str] = iter(statuses)
    current = {"status": statuses[0]}

    def handler(request: Request) -> Response:
        current["status"] = next(seq, current["status"])
        body = tagged_run(RUN_ID, current["status"], **extra)
        return Response(json.dumps(body), content_type="application/json")

    server.expect_request(RUN_PATH, method="GET").respond_with_handler(handler)
    serve_history(server)


def test_wait_follows_to_completed(api: HTTPServer, tmp_path: Path) -> None:
    """wait polls until COMPLETED, exits 0 and writes outputs and the summary; no trigger."""
    serve_statuses(api, "IN_PROGRESS", "IN_PROGRESS", "COMPLETED")
    env = github_env(tmp_path, api, command="wait", workflow="deploy-service", run_id=RUN_ID)
    clock = FakeTime()
    result = invoke(env, [], time=clock)
    assert result.exit_code == 0, result.log
    assert len(requests_to(api, RUN_PATH)) == 3
    assert all(request.method == "GET" for request, _ in api.log)
    assert result.outputs["run-id"] == RUN_ID
    assert result.outputs["status"] == "COMPLETED"
    assert "COMPLETED" in result.summary
    assert "IN_PROGRESS" in result.stdout
    assert "COMPLETED" in result.stdout
    assert clock.sleeps
    assert clock.sleeps[0] <= 1.0


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED", "TIMED_OUT"])
def test_wait_on_a_failed_run_exits_1(api: HTTPServer, tmp_path: Path, status: str) -> None:
    """A run that ends badly is exit 1, with the failed block's message as an error annotation."""
    serve_statuses(
        api,
        "IN_PROGRESS",
        status,
        actions=[{"name": "Deploy", "state": {"status": "FAILED", "errorMessage": "CrashLoop"}}],
    )
    env = github_env(tmp_path, api, command="wait", workflow="deploy-service", run_id=RUN_ID)
    result = invoke(env)
    assert result.exit_code == 1
    assert result.outputs["status"] == status
    assert "::error title=Cortex workflow run failed::" in result.stdout
    assert "CrashLoop" in result.stdout
    assert "CrashLoop" in result.summary


def test_wait_times_out_with_exit_4(api: HTTPServer) -> None:
    """timeout applies: a run that stays IN_PROGRESS is exit 4, and the run goes on."""
    serve_statuses(api, "IN_PROGRESS")
    env = {**base_env(api), "CORTEX_TIMEOUT": "2m"}
    clock = FakeTime()
    result = invoke(env, ["wait", RUN_ID, "--workflow", "deploy-service", "--json"], time=clock)
    assert result.exit_code == 4
    assert "Gave up waiting" in result.stderr
    assert json.loads(result.stdout)["status"] == "IN_PROGRESS"
    assert clock.now - 1000.0 == pytest.approx(120.0, abs=1.0)


@pytest.mark.parametrize(("policy", "code"), [("succeed", 0), ("fail", 1)])
def test_wait_honours_on_paused(api: HTTPServer, policy: str, code: int) -> None:
    """on-paused applies to wait as to run: succeed is exit 0, fail is exit 1."""
    serve_statuses(api, "PAUSED")
    result = invoke(
        base_env(api),
        ["wait", RUN_ID, "--workflow", "deploy-service", "--on-paused", policy],
    )
    assert result.exit_code == code
    assert "PAUSED" in result.stderr


def test_wait_for_an_unknown_run_exits_3(api: HTTPServer, tmp_path: Path) -> None:
    """A 404 on the first read is exit 3 and no outputs (no run was ever seen)."""
    api.expect_request(RUN_PATH).respond_with_json({"message": "Run not found"}, status=404)
    env = github_env(tmp_path, api, command="wait", workflow="deploy-service", run_id=RUN_ID)
    result = invoke(env)
    assert result.exit_code == 3
    assert "Run not found" in result.stdout
    assert result.outputs == {}


def test_wait_retries_a_503_while_polling(api: HTTPServer) -> None:
    """A transient 503 while following is retried, not fatal."""
    answers = iter(
        [
            Response(json.dumps(tagged_run(RUN_ID, "IN_PROGRESS")), 200),
            Response("<html><title>Bad gateway</title></html>", 503),
            Response(json.dumps(tagged_run(RUN_ID, "COMPLETED")), 200),
        ]
    )
    api.expect_request(RUN_PATH).respond_with_handler(lambda _req: next(answers))
    serve_history(api)
    result = invoke(base_env(api), ["wait", RUN_ID, "--workflow", "deploy-service"])
    assert result.exit_code == 0, result.stderr
    assert "Retrying" in result.stderr


def test_wait_needs_a_run_id(api: HTTPServer) -> None:
    """wait without a run id is exit 2 and sends nothing."""
    result = invoke(base_env(api), ["wait", "--workflow", "deploy-service"])
    assert result.exit_code == 2
    assert "run-id" in result.stderr
    assert api.log == []


def test_wait_rejects_a_bad_timeout(api: HTTPServer) -> None:
    """A bad timeout is exit 2 naming the input."""
    result = invoke(
        base_env(api), ["wait", RUN_ID, "--workflow", "deploy-service", "--timeout", "soon"]
    )
    assert result.exit_code == 2
    assert "timeout:" in result.stderr
    assert api.log == []
