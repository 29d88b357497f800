"""``get``: one run, read once, shown as a block or JSON, with outputs and a summary."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_httpserver import HTTPServer

from tests.support import RUN_OUTPUTS, base_env, github_env, invoke, requests_to, tagged_run

RUN_ID = "3f0c9a52-1111-4c1e-9d5e-000000000001"
RUN_PATH = f"/api/v1/workflows/deploy-service/runs/{RUN_ID}"


def failed_run() -> dict[str, object]:
    return tagged_run(
        RUN_ID,
        "FAILED",
        scope={"type": "ENTITY", "entityId": "service-frontend"},
        initiatedBy={"email": "ci-bot@example.com"},
        dateCreated="2026-11-30T08:00:00Z",
        actions=[
            {"name": "Build image", "state": {"status": "COMPLETED"}},
            {"name": "Deploy", "state": {"status": "FAILED", "errorMessage": "exit code 1"}},
        ],
    )


def test_get_prints_a_readable_block(api: HTTPServer) -> None:
    """The block shows status, scope, start, initiator, every block and the runs link."""
    api.expect_request(RUN_PATH, method="GET").respond_with_json(failed_run())
    result = invoke(base_env(api), ["get", RUN_ID, "--workflow", "deploy-service"])
    assert result.exit_code == 0
    assert f"Run       {RUN_ID}" in result.stdout
    assert "Status    FAILED" in result.stdout
    assert "Entity    service-frontend" in result.stdout
    assert "Started   2026-11-30 08:00:00Z" in result.stdout
    assert "Initiator ci-bot@example.com" in result.stdout
    assert "   2. FAILED       Deploy: exit code 1" in result.stdout
    assert "/admin/workflows?activeTab=runs" in result.stdout
    assert len(requests_to(api, RUN_PATH)) == 1


def test_get_json_prints_the_result_json(api: HTTPServer) -> None:
    """With --json, stdout is the same result JSON as run --json, with the raw run."""
    api.expect_request(RUN_PATH).respond_with_json(failed_run())
    result = invoke(base_env(api), ["get", RUN_ID, "--workflow", "deploy-service", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["command"] == "get"
    assert data["runId"] == RUN_ID
    assert data["status"] == "FAILED"
    assert data["run"]["actions"][1]["state"]["errorMessage"] == "exit code 1"


def test_get_as_action_mode_writes_outputs_and_summary(api: HTTPServer, tmp_path: Path) -> None:
    """command: get with run-id writes run-id, status, run-url, result and a summary."""
    api.expect_request(RUN_PATH).respond_with_json(failed_run())
    env = github_env(tmp_path, api, command="get", workflow="deploy-service", run_id=RUN_ID)
    result = invoke(env)
    assert result.exit_code == 0
    assert result.outputs["run-id"] == RUN_ID
    assert result.outputs["status"] == "FAILED"
    assert result.outputs["run-url"].endswith("/admin/workflows?activeTab=runs")
    assert json.loads(result.outputs["result"])["id"] == RUN_ID
    assert "FAILED" in result.summary
    assert "Deploy" in result.summary
    assert "exit code 1" in result.summary
    assert "✅" not in result.summary.splitlines()[0]


def test_get_unknown_run_exits_3_with_the_hint(api: HTTPServer) -> None:
    """A 404 from Cortex is exit 3, with Cortex's message and what to check."""
    api.expect_request(RUN_PATH).respond_with_json(
        {"type": "NOT_FOUND", "message": "Run not found", "requestId": "req-42"}, status=404
    )
    result = invoke(base_env(api), ["get", RUN_ID, "--workflow", "deploy-service"])
    assert result.exit_code == 3
    assert "Run not found" in result.stderr
    assert "req-42" in result.stderr
    assert "run-id" in result.stderr
    assert result.stdout == ""


def test_get_needs_a_run_id_and_sends_nothing(api: HTTPServer) -> None:
    """Without a run id, get exits 2 naming run-id and sends no request."""
    result = invoke(base_env(api), ["get", "--workflow", "deploy-service"])
    assert result.exit_code == 2
    assert "run-id: required for command get" in result.stderr
    assert api.log == []


def test_get_needs_a_workflow(api: HTTPServer) -> None:
    """Without a workflow, get exits 2 naming workflow."""
    result = invoke(base_env(api), ["get", RUN_ID])
    assert result.exit_code == 2
    assert "workflow: required" in result.stderr
    assert api.log == []


def test_get_percent_encodes_the_run_id(api: HTTPServer) -> None:
    """A run id is user input: it is sent as one percent-encoded path segment, never a path."""
    api.expect_request("/api/v1/workflows/deploy-service/runs/a/b").respond_with_json(
        tagged_run("a/b", "IN_PROGRESS")
    )
    result = invoke(base_env(api), ["get", "a/b", "--workflow", "deploy-service"])
    assert result.exit_code == 0, result.stderr
    assert "IN_PROGRESS" in result.stdout
    ((request, _),) = api.log
    assert request.environ["RAW_URI"] == "/api/v1/workflows/deploy-service/runs/a%2Fb"


def test_get_defuses_workflow_commands_from_cortex(api: HTTPServer, tmp_path: Path) -> None:
    """A block error that looks like a workflow command is shown, not obeyed."""
    run = failed_run()
    run["actions"] = [
        {"name": "::set-output name=x::y", "state": {"errorMessage": "##[error]boom"}}
    ]
    api.expect_request(RUN_PATH).respond_with_json(run)
    env = github_env(tmp_path, api, command="get", workflow="deploy-service", run_id=RUN_ID)
    result = invoke(env)
    assert result.exit_code == 0
    assert "##[error]" not in result.stdout
    assert not any(line.lstrip().startswith("::set-output") for line in result.stdout.splitlines())
    assert set(result.outputs) == set(RUN_OUTPUTS)
