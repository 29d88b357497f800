"""Fault injection: statuses and bodies, counts, delays, dropped connections, bad JSON."""

from __future__ import annotations

import json

import httpx
import pytest

from cortex_action.emulator import ConfigError, EmulatorServer
from cortex_action.emulator.testing import EmulatorFactory

from .conftest import FRONTEND, GLOBAL, api_client

TRIGGER = "/api/v1/workflows/*/runs"
POLL = "/api/v1/workflows/*/runs/*"


def test_status_fault_with_html_body_and_retry_after(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    """A status fault answers its status, an HTML body and Retry-After, and creates no run."""
    emulator.add_fault(
        method="POST", path=TRIGGER, status=502, body="<html>Bad gateway</html>", retry_after=7
    )
    resp = client.post("/workflows/deploy-service/runs", json=FRONTEND)
    assert resp.status_code == 502
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.text == "<html>Bad gateway</html>"
    assert resp.headers["Retry-After"] == "7"
    assert emulator.runs == []
    assert emulator.requests[-1].fault == "status:502"
    assert emulator.requests[-1].status == 502


def test_status_fault_with_json_and_empty_bodies(
    client: httpx.Client, emulator: EmulatorServer
) -> None:
    """No body means an empty answer; a dict body is sent as JSON; each fault counts alone."""
    emulator.add_fault({"method": "GET", "path": "/api/v1/workflows", "status": 503, "count": 2})
    emulator.add_fault(method="GET", path="/api/v1/workflows", nth=3, status=500, body={"oops": 1})
    first = client.get("/workflows")
    second = client.get("/workflows")
    third = client.get("/workflows")
    assert (first.status_code, first.content) == (503, b"")
    assert second.status_code == 503
    assert (third.status_code, third.json()) == (500, {"oops": 1})
    assert client.get("/workflows").status_code == 200


def test_nth_request_gets_the_fault(emulator: EmulatorServer, client: httpx.Client) -> None:
    """nth=3 leaves the first two matching requests alone and faults the third only."""
    emulator.add_fault(method="GET", path=POLL, nth=3, status=504)
    run_id = client.post("/workflows/deploy-service/runs", json=FRONTEND).json()["id"]
    codes = [client.get(f"/workflows/deploy-service/runs/{run_id}").status_code for _ in range(5)]
    assert codes == [200, 200, 504, 200, 200]


def test_count_zero_faults_every_request_from_nth_on(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    """count=0 faults every matching request from nth on; other paths are untouched."""
    emulator.add_fault(method="GET", path="/api/v1/workflows", nth=2, count=0, status=500)
    codes = [client.get("/workflows").status_code for _ in range(4)]
    assert codes == [200, 500, 500, 500]
    assert client.get("/workflows/runs").status_code == 200


def test_commit_true_runs_the_request_then_answers_the_fault(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    """With commit=true the trigger is committed (a run exists) but the client sees the fault."""
    emulator.add_fault(method="POST", path=TRIGGER, status=500, commit=True)
    assert client.post("/workflows/deploy-service/runs", json=FRONTEND).status_code == 500
    assert len(emulator.runs) == 1
    assert emulator.requests[-1].run_id == emulator.runs[0]["id"]


def test_delay_makes_a_slow_server(emulator: EmulatorServer) -> None:
    """A delay longer than the client's timeout makes the client time out."""
    emulator.add_fault(method="GET", path="/api/v1/workflows", delay=0.5)
    with api_client(emulator) as c, pytest.raises(httpx.ReadTimeout):
        c.get("/workflows", timeout=0.1)


def test_drop_before_commit(emulator: EmulatorServer, client: httpx.Client) -> None:
    """drop=before closes the connection without an answer, and no run is created."""
    emulator.add_fault(method="POST", path=TRIGGER, drop="before")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/workflows/deploy-service/runs", json=FRONTEND)
    assert emulator.runs == []
    assert emulator.requests[-1].status is None
    assert emulator.requests[-1].fault == "drop-before"


def test_drop_after_commit_then_replay_by_idempotency_key(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    """drop=after commits the run but sends no answer; a retry with the key gets that run."""
    emulator.add_fault(method="POST", path=TRIGGER, drop="after")
    headers = {"Idempotency-Key": "retry-me"}
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/workflows/deploy-service/runs", json=FRONTEND, headers=headers)
    assert len(emulator.runs) == 1
    retry = client.post("/workflows/deploy-service/runs", json=FRONTEND, headers=headers)
    assert retry.status_code == 200
    assert retry.json()["id"] == emulator.runs[0]["id"]
    assert len(emulator.runs) == 1


@pytest.mark.parametrize("kind", ["truncated-json", "not-json"])
def test_malformed_json(emulator: EmulatorServer, client: httpx.Client, kind: str) -> None:
    """truncated-json / not-json answer 200 with a body that does not parse (the run exists)."""
    emulator.add_fault(method="POST", path=TRIGGER, malform=kind)
    resp = client.post("/workflows/deploy-service/runs", json=FRONTEND)
    assert resp.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.content)
    assert len(emulator.runs) == 1


def test_short_body_cuts_the_connection(emulator: EmulatorServer, client: httpx.Client) -> None:
    """short-body announces the full Content-Length, sends half and closes."""
    emulator.add_fault(method="GET", path=POLL, malform="short-body")
    run_id = client.post("/workflows/deploy-service/runs", json=FRONTEND).json()["id"]
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(f"/workflows/deploy-service/runs/{run_id}")
    assert client.get(f"/workflows/deploy-service/runs/{run_id}").status_code == 200


def test_json_that_is_not_a_run(emulator: EmulatorServer, client: httpx.Client) -> None:
    """missing-id, wrong-status-type and not-an-object give valid JSON that is not a run."""
    run_id = client.post("/workflows/deploy-service/runs", json=FRONTEND).json()["id"]
    for nth, kind in enumerate(("missing-id", "wrong-status-type", "not-an-object"), start=1):
        emulator.add_fault(method="GET", path=POLL, nth=nth, malform=kind)
    first = client.get(f"/workflows/deploy-service/runs/{run_id}").json()
    assert "id" not in first
    assert first["status"]
    second = client.get(f"/workflows/deploy-service/runs/{run_id}").json()
    assert second["id"] == run_id
    assert second["status"] == 42
    assert client.get(f"/workflows/deploy-service/runs/{run_id}").json() == ["not", "a", "run"]


def test_faults_from_the_config_file(make_emulator: EmulatorFactory) -> None:
    """Faults in the config apply from the start and are re-armed by reset()."""
    emu = make_emulator(
        {
            "tokens": [{"value": "t"}],
            "workflows": [{"tag": "w"}],
            "faults": [{"method": "POST", "path": TRIGGER, "status": 429, "retryAfter": 1}],
        }
    )
    with api_client(emu) as c:
        assert c.post("/workflows/w/runs", json=GLOBAL).status_code == 429
        assert c.post("/workflows/w/runs", json=GLOBAL).status_code == 200
        emu.reset()
        assert c.post("/workflows/w/runs", json=GLOBAL).status_code == 429


def test_faults_over_http_control_endpoint(emulator: EmulatorServer, client: httpx.Client) -> None:
    """POST /_emulator/faults adds faults, GET lists them with counts, DELETE clears them."""
    added = httpx.post(
        f"{emulator.url}/_emulator/faults",
        json=[{"method": "GET", "path": "/api/v1/workflows", "status": 418}],
    )
    assert added.status_code == 201
    assert client.get("/workflows").status_code == 418
    listing = httpx.get(f"{emulator.url}/_emulator/faults").json()["faults"]
    assert listing[0]["status"] == 418
    assert (listing[0]["seen"], listing[0]["applied"]) == (1, 1)
    assert httpx.delete(f"{emulator.url}/_emulator/faults").status_code == 204
    assert httpx.get(f"{emulator.url}/_emulator/faults").json() == {"faults": []}


def test_invalid_fault_is_refused(emulator: EmulatorServer) -> None:
    """A fault without an action, or with two, is refused by the API and by add_fault."""
    resp = httpx.post(f"{emulator.url}/_emulator/faults", json={"path": "*"})
    assert resp.status_code == 400
    assert "status, drop, malform or delay" in resp.json()["details"]
    with pytest.raises(ConfigError, match="at most one"):
        emulator.add_fault(status=500, drop="before")


def test_faults_never_touch_the_control_endpoints(emulator: EmulatorServer) -> None:
    """A catch-all fault leaves /_emulator/ alone, so tests can always clean up."""
    emulator.add_fault(path="*", count=0, status=500)
    assert httpx.get(f"{emulator.url}/_emulator/health").status_code == 200
