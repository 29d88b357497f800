"""The emulator-only endpoints under /_emulator/ (no auth, not logged, never faulted)."""

from __future__ import annotations

import httpx

from cortex_action.emulator import EmulatorServer

from .conftest import FRONTEND, GLOBAL


def test_health(emulator: EmulatorServer) -> None:
    """GET /_emulator/health says ok, with the speed factor."""
    body = httpx.get(f"{emulator.url}/_emulator/health").json()
    assert body == {"status": "ok", "runs": 0, "speed": emulator.speed}


def test_request_log_endpoint(emulator: EmulatorServer, client: httpx.Client) -> None:
    """GET /_emulator/requests returns the API requests as JSON; DELETE empties the log."""
    client.post("/workflows/deploy-service/runs", json=FRONTEND)
    log = httpx.get(f"{emulator.url}/_emulator/requests").json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", "/api/v1/workflows/deploy-service/runs", 200)
    ]
    assert log[0]["headers"]["authorization"] == "Bearer ***"
    assert log[0]["json"] == FRONTEND
    assert httpx.delete(f"{emulator.url}/_emulator/requests").status_code == 204
    assert emulator.requests == []


def test_resume_endpoint(emulator: EmulatorServer, client: httpx.Client) -> None:
    """POST /_emulator/runs/{id}/resume approves a paused run; bad bodies and states are refused."""
    run_id = client.post("/workflows/needs-approval/runs", json=GLOBAL).json()["id"]
    emulator.wait_for_status(run_id, "PAUSED")
    base = f"{emulator.url}/_emulator/runs"
    assert httpx.post(f"{base}/{run_id}/resume", json={"action": "maybe"}).status_code == 400
    resp = httpx.post(f"{base}/{run_id}/resume", json={"action": "approve"})
    assert resp.status_code == 200
    assert resp.json()["status"] == "IN_PROGRESS"
    assert httpx.post(f"{base}/{run_id}/resume", json={"action": "approve"}).status_code == 409
    assert httpx.post(f"{base}/missing/resume", json={"action": "approve"}).status_code == 404
    assert emulator.wait_for_status(run_id, "COMPLETED")["status"] == "COMPLETED"


def test_runs_and_reset(emulator: EmulatorServer, client: httpx.Client) -> None:
    """GET /_emulator/runs lists every run with context; POST /_emulator/reset forgets them."""
    client.post("/workflows/scaffold-repo/runs", json=GLOBAL, headers={"Idempotency-Key": "r"})
    runs = httpx.get(f"{emulator.url}/_emulator/runs").json()["runs"]
    assert len(runs) == 1
    assert "context" in runs[0]
    assert httpx.post(f"{emulator.url}/_emulator/reset").status_code == 204
    assert emulator.runs == []
    assert emulator.requests == []
    again = client.post(
        "/workflows/scaffold-repo/runs", json=GLOBAL, headers={"Idempotency-Key": "r"}
    )
    assert again.json()["id"] != runs[0]["id"]


def test_control_endpoints_are_not_logged_and_unknown_is_404(emulator: EmulatorServer) -> None:
    """Control requests stay out of the request log; an unknown one gets 404."""
    assert httpx.get(f"{emulator.url}/_emulator/nope").status_code == 404
    httpx.get(f"{emulator.url}/_emulator/health")
    assert emulator.requests == []
