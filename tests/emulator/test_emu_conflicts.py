"""Replays are marked, the two kinds of 409 on a trigger, and read-after-write lag."""

from __future__ import annotations

import httpx

from cortex_action.emulator import EmulatorServer, default_config
from cortex_action.emulator.testing import EmulatorFactory

from .conftest import FRONTEND, GLOBAL, ManualClock, api_client

ERROR_KEYS = {"type", "message", "details", "requestId", "httpStatus"}


def test_a_replay_carries_idempotent_replayed(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    """The first answer has no replay header; a replay of the same key says Idempotent-Replayed."""
    headers = {"Idempotency-Key": "replay-1"}
    first = client.post("/workflows/deploy-service/runs", json=FRONTEND, headers=headers)
    assert first.status_code == 200
    assert "idempotent-replayed" not in first.headers
    again = client.post("/workflows/deploy-service/runs", json=FRONTEND, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    plain = client.post("/workflows/deploy-service/runs", json=FRONTEND)
    assert "idempotent-replayed" not in plain.headers


def test_a_key_reused_with_another_body_is_a_final_409_by_default(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    """Default: 409 with Cortex's error body and no Retry-After; no second run."""
    headers = {"Idempotency-Key": "conflict-1"}
    client.post("/workflows/deploy-service/runs", json=FRONTEND, headers=headers)
    body = {**FRONTEND, "scope": {"type": "ENTITY", "entityId": "service-backend"}}
    second = client.post("/workflows/deploy-service/runs", json=body, headers=headers)
    assert second.status_code == 409
    assert set(second.json()) == ERROR_KEYS
    assert second.json()["httpStatus"] == 409
    assert "retry-after" not in second.headers
    assert "idempotent-replayed" not in second.headers
    assert len(emulator.runs) == 1


def test_refuse_mode_with_409_names_the_limit_and_says_when_to_retry(
    make_emulator: EmulatorFactory,
) -> None:
    """concurrency.refuseStatus 409: the 6th trigger gets 409 + Retry-After + the limit."""
    config = default_config({"behaviour": {"concurrency": {"mode": "refuse", "refuseStatus": 409}}})
    emu = make_emulator(config)
    with api_client(emu) as c:
        for _ in range(5):
            assert c.post("/workflows/long-running/runs", json=GLOBAL).status_code == 200
        busy = c.post("/workflows/long-running/runs", json=GLOBAL)
    assert busy.status_code == 409
    assert int(busy.headers["Retry-After"]) >= 1
    data = busy.json()
    assert set(data) == ERROR_KEYS
    assert "concurrency limit" in data["message"].lower()
    assert "5" in data["details"]
    assert len(emu.runs) == 5


def test_lag_fault_hides_a_new_run_for_its_first_polls(emulator: EmulatorServer) -> None:
    """lagPolls 2: each run's first two GETs answer 404, the third the run."""
    emulator.add_fault(lagPolls=2)
    with api_client(emulator) as c:
        run_id = c.post("/workflows/deploy-service/runs", json=FRONTEND).json()["id"]
        path = f"/workflows/deploy-service/runs/{run_id}"
        codes = [c.get(path).status_code for _ in range(3)]
        other = c.post("/workflows/scaffold-repo/runs", json=GLOBAL).json()["id"]
        assert c.get(f"/workflows/scaffold-repo/runs/{other}").status_code == 404
        unknown = c.get("/workflows/deploy-service/runs/no-such-run")
    assert codes == [404, 404, 200]
    assert unknown.status_code == 404
    faults = [r.fault for r in emulator.requests if r.method == "GET"]
    assert faults == ["lag:404", "lag:404", None, "lag:404", None]


def test_lag_fault_by_age(make_emulator: EmulatorFactory, clock: ManualClock) -> None:
    """lagSeconds 3: a run's GETs answer 404 with Cortex's body until it is 3 s old."""
    emu = make_emulator(speed=1.0, clock=clock)
    emu.add_fault({"lagSeconds": 3})
    with api_client(emu) as c:
        run_id = c.post("/workflows/deploy-service/runs", json=FRONTEND).json()["id"]
        early = c.get(f"/workflows/deploy-service/runs/{run_id}")
        clock.advance(2.9)
        still = c.get(f"/workflows/deploy-service/runs/{run_id}")
        clock.advance(0.2)
        later = c.get(f"/workflows/deploy-service/runs/{run_id}")
    assert early.status_code == still.status_code == 404
    assert set(early.json()) == ERROR_KEYS
    assert later.status_code == 200


def test_lag_fault_from_the_config_file() -> None:
    """A lag fault in the config defaults to GET polls of every run, from the first on."""
    config = default_config({"faults": [{"lagPolls": 1}]})
    fault = config.faults[0]
    assert (fault.method, fault.path, fault.count) == ("GET", "/api/v1/workflows/*/runs/*", 0)
