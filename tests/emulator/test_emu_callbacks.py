"""Async HTTP blocks: the run pauses for a callback, and the callback endpoint's answers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cortex_action.emulator import EmulatorServer
from cortex_action.emulator.cli import main
from cortex_action.emulator.testing import EmulatorFactory

from .conftest import GLOBAL, ManualClock, api_client

ERROR_KEYS = {"type", "message", "details", "requestId", "httpStatus"}


def start(c: httpx.Client, emu: EmulatorServer) -> tuple[str, str]:
    """Trigger await-callback and wait until its async block waits; the run and callback ids."""
    run_id = c.post("/workflows/await-callback/runs", json=GLOBAL).json()["id"]
    return run_id, emu.wait_for_callback(run_id, timeout=5)


def call(c: httpx.Client, callback_id: str, body: Any, tag: str = "await-callback") -> Any:
    return c.post(f"/workflows/{tag}/callback/{callback_id}", json=body)


def test_the_block_pauses_with_an_unguessable_callback_id(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    run_id, callback_id = start(client, emulator)
    run = emulator.wait_for_status(run_id, "PAUSED")
    block = run["actions"][1]
    assert block["type"] == "ASYNC_HTTP_REQUEST"
    assert block["state"]["status"] == "PAUSED"
    assert block["state"]["callbackId"] == callback_id
    assert len(callback_id) >= 24
    assert emulator.callbacks(run_id) == [
        {
            "callbackId": callback_id,
            "block": "start-ci",
            "workflow": "await-callback",
            "runId": run_id,
        }
    ]
    control = httpx.get(f"{emulator.url}/_emulator/runs/{run_id}/callbacks").json()
    assert control == {"callbacks": emulator.callbacks(run_id)}


def test_update_then_success_resumes_the_run(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    run_id, callback_id = start(client, emulator)
    emulator.wait_for_status(run_id, "PAUSED")
    update = call(client, callback_id, {"status": "UPDATE", "message": "50 % done"})
    assert update.status_code == 200
    run = client.get(f"/workflows/await-callback/runs/{run_id}").json()
    assert run["status"] == "PAUSED"
    updates = run["actions"][1]["state"]["updates"]
    assert [(u["status"], u["message"]) for u in updates] == [("UPDATE", "50 % done")]
    done = call(
        client, callback_id, {"status": "SUCCESS", "message": "CI passed", "response": {"n": 1}}
    )
    assert done.status_code == 200
    final = emulator.wait_for_status(run_id, "COMPLETED")
    state = final["actions"][1]["state"]
    assert state["status"] == "COMPLETED"
    assert state["callback"]["response"] == {"n": 1}
    assert final["actions"][2]["state"]["status"] == "COMPLETED"
    again = call(client, callback_id, {"status": "SUCCESS", "message": "twice"})
    assert again.status_code == 406
    assert again.json()["message"] == "Workflow block is not waiting for callback"
    assert emulator.callbacks(run_id) == []


def test_failure_fails_the_block_and_the_run(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    run_id, callback_id = start(client, emulator)
    assert (
        call(client, callback_id, {"status": "FAILURE", "message": "tests red"}).status_code == 200
    )
    run = emulator.wait_for_status(run_id, "FAILED")
    assert run["actions"][1]["state"]["errorMessage"] == "tests red"
    assert run["actions"][2]["state"]["status"] == "NOT_STARTED"


def test_unknown_callback_or_other_workflow_is_404(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    _, callback_id = start(client, emulator)
    for resp in (
        call(client, "not-a-callback-id", {"status": "SUCCESS", "message": "x"}),
        call(client, callback_id, {"status": "SUCCESS", "message": "x"}, tag="deploy-service"),
    ):
        assert resp.status_code == 404
        assert resp.json()["message"] == "Workflow run or block not found"
    assert call(client, "x", {"status": "SUCCESS", "message": "x"}, tag="nope").status_code == 404


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"status": "SUCCESS"}, "/message"),
        ({"status": "DONE", "message": "x"}, "/status"),
        ({"status": "SUCCESS", "message": "x", "response": [1]}, "/response"),
    ],
)
def test_bad_body_is_400(
    emulator: EmulatorServer, client: httpx.Client, body: Any, pointer: str
) -> None:
    run_id, callback_id = start(client, emulator)
    resp = call(client, callback_id, body)
    assert resp.status_code == 400
    assert [v["pointer"] for v in resp.json()["violations"]] == [pointer]
    assert emulator.callbacks(run_id) != []


def test_token_without_edit_workflow_runs_is_403(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    _, callback_id = start(client, emulator)
    with api_client(emulator, "emulator-view-only") as viewer:
        resp = call(viewer, callback_id, {"status": "SUCCESS", "message": "x"})
    assert resp.status_code == 403
    assert "Edit workflow runs" in resp.json()["details"]


def test_timeout_in_seconds_ends_timed_out(
    make_emulator: EmulatorFactory, clock: ManualClock
) -> None:
    """timeoutInSeconds from the block's start: the block and the run end TIMED_OUT."""
    emu = make_emulator(speed=1.0, clock=clock)
    with api_client(emu) as c:
        run_id = c.post("/workflows/await-callback/runs", json=GLOBAL).json()["id"]
        clock.advance(2)
        callback_id = emu.callbacks(run_id)[0]["callbackId"]
        clock.advance(599)
        assert c.get(f"/workflows/await-callback/runs/{run_id}").json()["status"] == "TIMED_OUT"
        late = call(c, callback_id, {"status": "SUCCESS", "message": "late"})
    assert late.status_code == 406
    run = emu.run(run_id)
    state = run["actions"][1]["state"]
    assert state["status"] == "TIMED_OUT"
    assert "timed out" in state["errorMessage"]
    assert state["completedAt"] == run["dateCompleted"]


def test_cli_prints_the_pending_callback_ids(
    emulator: EmulatorServer, client: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id, callback_id = start(client, emulator)
    assert main(["callbacks", run_id, "--url", emulator.url], {}) == 0
    assert capsys.readouterr().out == f"{callback_id}\n"
    assert main(["callbacks", "nope"], {"CORTEX_EMULATOR_URL": emulator.url}) == 1
    assert httpx.get(f"{emulator.url}/_emulator/runs/nope/callbacks").status_code == 404


def test_the_log_shows_the_pause_and_the_resume(make_emulator: EmulatorFactory) -> None:
    """A paused run frees its slot (active drops) and a called-back run takes one again."""
    lines: list[str] = []
    emu = make_emulator(log=lines.append)
    with api_client(emu) as c:
        run_id, callback_id = start(c, emu)
        emu.wait_for_status(run_id, "PAUSED")
        call(c, callback_id, {"status": "SUCCESS", "message": "ok"})
    emu.wait_for_status(run_id, "COMPLETED")
    events = [line.split(": ", 1) for line in lines if line.startswith(f"run {run_id}")]
    assert [(e[0].rsplit(" ", 1)[-1], e[1]) for e in events] == [
        ("started", "active=1/5 queued=0"),
        ("paused", "active=0/5 queued=0"),
        ("resumed", "active=1/5 queued=0"),
        ("COMPLETED", "active=0/5 queued=0"),
    ]
