"""Run life cycles on a manual clock: statuses advance with (scaled) time, pauses, limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cortex_action.emulator import EmulatorServer, RunStateError, default_config
from cortex_action.emulator.testing import EmulatorFactory

from .conftest import FRONTEND, GLOBAL, ManualClock, api_client


def trigger(c: httpx.Client, tag: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    resp = c.post(f"/workflows/{tag}/runs", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def status(c: httpx.Client, tag: str, run_id: str) -> str:
    resp = c.get(f"/workflows/{tag}/runs/{run_id}")
    assert resp.status_code == 200, resp.text
    return str(resp.json()["status"])


def test_deploy_service_moves_through_every_status(
    tclient: httpx.Client, clock: ManualClock
) -> None:
    """deploy-service is NOT_INITIATED, then IN_PROGRESS block by block, COMPLETED by ~4 s."""
    run = trigger(tclient, "deploy-service", FRONTEND)
    assert run["status"] == "NOT_INITIATED"
    assert [a["state"]["status"] for a in run["actions"]] == ["NOT_STARTED"] * 3
    clock.advance(0.6)
    got = tclient.get(f"/workflows/deploy-service/runs/{run['id']}").json()
    assert got["status"] == "IN_PROGRESS"
    assert [a["state"]["status"] for a in got["actions"]] == [
        "IN_PROGRESS",
        "NOT_STARTED",
        "NOT_STARTED",
    ]
    clock.advance(1.0)
    got = tclient.get(f"/workflows/deploy-service/runs/{run['id']}").json()
    assert [a["state"]["status"] for a in got["actions"]][:2] == ["COMPLETED", "IN_PROGRESS"]
    clock.advance(2.5)
    got = tclient.get(f"/workflows/deploy-service/runs/{run['id']}").json()
    assert got["status"] == "COMPLETED"
    assert got["dateCompleted"] is not None
    assert {a["state"]["status"] for a in got["actions"]} == {"COMPLETED"}


def test_speed_factor_scales_durations(make_emulator: EmulatorFactory, clock: ManualClock) -> None:
    """At speed 10 the 4-second deploy-service is over after 0.4 s of clock time."""
    emu = make_emulator(speed=10.0, clock=clock)
    with api_client(emu) as c:
        run = trigger(c, "deploy-service", FRONTEND)
        clock.advance(0.3)
        assert status(c, "deploy-service", run["id"]) == "IN_PROGRESS"
        clock.advance(0.11)
        assert status(c, "deploy-service", run["id"]) == "COMPLETED"


def test_failed_block_carries_error_message(tclient: httpx.Client, clock: ManualClock) -> None:
    """failing-deploy ends FAILED with the block's state.errorMessage; later blocks never run."""
    run = trigger(tclient, "failing-deploy", FRONTEND)
    clock.advance(10)
    got = tclient.get(f"/workflows/failing-deploy/runs/{run['id']}").json()
    assert got["status"] == "FAILED"
    deploy = got["actions"][1]
    assert deploy["state"]["status"] == "FAILED"
    assert "CrashLoopBackOff" in deploy["state"]["errorMessage"]
    assert got["actions"][2]["state"]["status"] == "NOT_STARTED"


@pytest.mark.parametrize(
    ("tag", "body", "final"),
    [
        ("times-out", GLOBAL, "TIMED_OUT"),
        ("cancelled-deploy", FRONTEND, "CANCELLED"),
        ("scaffold-repo", GLOBAL, "COMPLETED"),
    ],
)
def test_each_scripted_outcome_ends_in_its_status(
    tclient: httpx.Client, clock: ManualClock, tag: str, body: dict[str, Any], final: str
) -> None:
    """Each scripted outcome (timeout, cancel, complete) gives its terminal status."""
    run = trigger(tclient, tag, body)
    clock.advance(60)
    assert status(tclient, tag, run["id"]) == final


def test_approval_pause_then_approve(timed: EmulatorServer, clock: ManualClock) -> None:
    """needs-approval pauses on its approval block and completes once approved."""
    with api_client(timed) as c:
        run = trigger(c, "needs-approval", GLOBAL)
        clock.advance(5)
        got = c.get(f"/workflows/needs-approval/runs/{run['id']}").json()
        assert got["status"] == "PAUSED"
        assert got["actions"][1]["state"]["status"] == "PAUSED"
        clock.advance(3600)  # a pause waits forever
        assert status(c, "needs-approval", run["id"]) == "PAUSED"
        assert timed.resume(run["id"], approve=True)["status"] == "IN_PROGRESS"
        clock.advance(5)
        assert status(c, "needs-approval", run["id"]) == "COMPLETED"


def test_approval_rejected_fails_the_run(timed: EmulatorServer, clock: ManualClock) -> None:
    """Rejecting a paused approval ends the run FAILED with the rejection as errorMessage."""
    with api_client(timed) as c:
        run = trigger(c, "needs-approval", GLOBAL)
        clock.advance(5)
        timed.resume(run["id"], approve=False, by="boss@example.com")
        got = c.get(f"/workflows/needs-approval/runs/{run['id']}").json()
    assert got["status"] == "FAILED"
    assert "rejected by boss@example.com" in got["actions"][1]["state"]["errorMessage"]


def test_resume_refuses_runs_not_paused(timed: EmulatorServer) -> None:
    """Resuming a run that is not PAUSED raises RunStateError; an unknown id raises KeyError."""
    with api_client(timed) as c:
        run = trigger(c, "deploy-service", FRONTEND)
    with pytest.raises(RunStateError):
        timed.resume(run["id"])
    with pytest.raises(KeyError):
        timed.resume("no-such-run")


def test_needs_initiator_pauses_without_run_as(timed: EmulatorServer, clock: ManualClock) -> None:
    """Without runAs needs-initiator pauses before its first block; approving runs it."""
    with api_client(timed) as c:
        run = trigger(c, "needs-initiator", GLOBAL)
        clock.advance(5)
        got = c.get(f"/workflows/needs-initiator/runs/{run['id']}").json()
        assert got["status"] == "PAUSED"
        assert got["actions"][0]["state"]["status"] == "NOT_STARTED"
        timed.resume(run["id"], approve=True, by="lead@example.com")
        clock.advance(5)
        got = c.get(f"/workflows/needs-initiator/runs/{run['id']}").json()
    assert got["status"] == "COMPLETED"
    assert got["runAs"] == "lead@example.com"


def test_needs_initiator_runs_with_run_as(tclient: httpx.Client, clock: ManualClock) -> None:
    """With runAs needs-initiator does not pause, and the run records runAs as its initiator."""
    run = trigger(tclient, "needs-initiator", {**GLOBAL, "runAs": "dev@example.com"})
    assert run["initiatedBy"] == {"email": "dev@example.com"}
    clock.advance(5)
    assert status(tclient, "needs-initiator", run["id"]) == "COMPLETED"


def test_rejecting_the_initiator_cancels(timed: EmulatorServer, clock: ManualClock) -> None:
    """Rejecting the initiator pause ends the run CANCELLED."""
    with api_client(timed) as c:
        run = trigger(c, "needs-initiator", GLOBAL)
        clock.advance(1)
        assert timed.resume(run["id"], approve=False)["status"] == "CANCELLED"


def test_cancel_a_running_run(timed: EmulatorServer, clock: ManualClock) -> None:
    """cancel() ends a running run CANCELLED; cancelling it again is refused."""
    with api_client(timed) as c:
        run = trigger(c, "deploy-service", FRONTEND)
        clock.advance(1)
        got = timed.cancel(run["id"])
    assert got["status"] == "CANCELLED"
    assert got["actions"][0]["state"]["status"] == "CANCELLED"
    with pytest.raises(RunStateError):
        timed.cancel(run["id"])


def test_sixth_run_queues_until_a_slot_frees(tclient: httpx.Client, clock: ManualClock) -> None:
    """With 5 runs in progress a 6th stays NOT_INITIATED and starts when the first ends."""
    first = [trigger(tclient, "deploy-service", FRONTEND) for _ in range(5)]
    clock.advance(1)
    sixth = trigger(tclient, "scaffold-repo", GLOBAL)
    clock.advance(2.9)  # 3.9 s: the first five are still running
    assert status(tclient, "scaffold-repo", sixth["id"]) == "NOT_INITIATED"
    assert {status(tclient, "deploy-service", r["id"]) for r in first} == {"IN_PROGRESS"}
    clock.advance(0.2)  # 4.1 s: they ended at 4.0 s, and the 6th started then
    got = tclient.get(f"/workflows/scaffold-repo/runs/{sixth['id']}").json()
    assert got["status"] == "IN_PROGRESS"
    started = got["dateStarted"]
    completed = tclient.get(f"/workflows/deploy-service/runs/{first[0]['id']}").json()
    assert started == completed["dateCompleted"]


def test_paused_runs_do_not_hold_a_slot(tclient: httpx.Client, clock: ManualClock) -> None:
    """Five PAUSED runs leave room: a 6th run starts at once."""
    for _ in range(5):
        trigger(tclient, "needs-approval", GLOBAL)
    clock.advance(2)
    sixth = trigger(tclient, "scaffold-repo", GLOBAL)
    clock.advance(0.6)
    assert status(tclient, "scaffold-repo", sixth["id"]) == "IN_PROGRESS"


def test_refuse_mode_answers_429_with_retry_after(
    make_emulator: EmulatorFactory, clock: ManualClock
) -> None:
    """In refuse mode a trigger past the limit gets a 429 problem+json with Retry-After."""
    config = default_config({"behaviour": {"concurrency": {"mode": "refuse", "limit": 2}}})
    emu = make_emulator(config, speed=1.0, clock=clock)
    with api_client(emu) as c:
        trigger(c, "deploy-service", FRONTEND)
        trigger(c, "deploy-service", FRONTEND)
        clock.advance(1)
        resp = c.post("/workflows/scaffold-repo/runs", json=GLOBAL)
        assert resp.status_code == 429
        assert resp.headers["content-type"].startswith("application/problem+json")
        body = resp.json()
        assert body["status"] == 429
        assert set(body) >= {"type", "title", "status", "detail", "retryAfter"}
        assert resp.headers["Retry-After"] == str(body["retryAfter"]) == "3"
        clock.advance(3)
        assert c.post("/workflows/scaffold-repo/runs", json=GLOBAL).status_code == 200
    assert len(emu.runs) == 3
