"""The round trip, end to end on the emulator, in two processes as two CI jobs would be: `run`
starts the `await-callback` workflow and follows it; its async HTTP block pauses the run; a
second process sends `callback` with the id the block handed out; the first sees the run end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from cortex_action.emulator import EmulatorServer
from tests.support import invoke

SHA = "0123456789abcdef0123456789abcdef01234567"


def cli_env(emu: EmulatorServer) -> dict[str, str]:
    """A shell's environment: no CI variables, so the local host adapter answers."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "CORTEX_API_TOKEN": emu.token,
        "CORTEX_BASE_URL": emu.url,
        "GIT_COMMIT": SHA,
        "NO_COLOR": "1",
    }


def cortex_action(*args: str) -> list[str]:
    return [sys.executable, "-m", "cortex_action", *args]


def the_run(emu: EmulatorServer, workflow: str, timeout: float = 30.0) -> str:
    """The id of the run the first process started, once the emulator has it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in emu.runs if r["workflow"]["tag"] == workflow]
        if runs:
            run_id: str = runs[0]["id"]
            return run_id
        time.sleep(0.05)
    raise AssertionError(f"no run of {workflow} within {timeout}s")


def round_trip(emu: EmulatorServer, status: str, message: str) -> tuple[int, dict[str, Any], str]:
    env = cli_env(emu)
    follower = subprocess.Popen(
        cortex_action("run", "--workflow", "await-callback", "--timeout", "120", "--json"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = the_run(emu, "await-callback")
        callback_id = emu.wait_for_callback(run_id, timeout=30)
        emu.wait_for_status(run_id, "PAUSED", timeout=30)
        sender = subprocess.run(
            cortex_action(
                "callback",
                "--workflow",
                "await-callback",
                "--callback-id",
                callback_id,
                "--callback-status",
                status,
                "--message",
                message,
            ),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert sender.returncode == 0, sender.stderr
        out, err = follower.communicate(timeout=90)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    return follower.returncode, json.loads(out), err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("status", "exit_code", "run_status"), [("success", 0, "COMPLETED"), ("failure", 1, "FAILED")]
)
def test_run_follows_the_workflow_through_a_callback_from_another_process(
    emulator: EmulatorServer, status: str, exit_code: int, run_status: str
) -> None:
    code, result, err = round_trip(emulator, status, f"CI said {status}")
    assert code == exit_code, err
    assert result["status"] == run_status
    block = next(a for a in result["run"]["actions"] if a["state"].get("callbackId"))
    if status == "failure":
        assert block["state"]["errorMessage"] == "CI said failure"
    else:
        assert block["state"]["status"] == "COMPLETED"
    posts = [r for r in emulator.requests if "/callback/" in r.path]
    assert len(posts) == 1


@pytest.mark.slow
def test_a_second_final_callback_is_refused(emulator: EmulatorServer) -> None:
    """success and failure are taken once: the block is no longer waiting, 406, exit 3."""
    code, result, _ = round_trip(emulator, "success", "done")
    assert code == 0
    block = next(a for a in result["run"]["actions"] if a["state"].get("callbackId"))
    again = subprocess.run(
        cortex_action(
            "callback",
            "--workflow",
            "await-callback",
            "--callback-id",
            block["state"]["callbackId"],
            "--callback-status",
            "failure",
        ),
        env=cli_env(emulator),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 3
    assert "Workflow block is not waiting for callback" in again.stderr


# -- lost answers, in process against the emulator's faults --------------------------------------

CALLBACK_PATH = "/api/v1/workflows/*/callback/*"


def paused(emu: EmulatorServer) -> tuple[str, str]:
    env = {"CORTEX_API_TOKEN": emu.token, "CORTEX_BASE_URL": emu.url, "GIT_COMMIT": SHA}
    result = invoke(env, ["run", "--workflow", "await-callback", "--no-wait", "--json"])
    assert result.exit_code == 0, result.log
    run_id: str = json.loads(result.stdout)["runId"]
    return run_id, emu.wait_for_callback(run_id, timeout=10)


def send(emu: EmulatorServer, callback_id: str, status: str) -> tuple[int, str]:
    env = {"CORTEX_API_TOKEN": emu.token, "CORTEX_BASE_URL": emu.url, "GIT_COMMIT": SHA}
    args = ["--workflow", "await-callback", "--callback-id", callback_id]
    result = invoke(env, ["callback", *args, "--callback-status", status])
    return result.exit_code, result.log


@pytest.mark.parametrize("fault", [{"drop": "after"}, {"status": 502, "commit": True}])
def test_an_answer_lost_after_cortex_took_the_callback_reads_as_landed(
    emulator: EmulatorServer, fault: dict[str, Any]
) -> None:
    """Cortex resumed the block, the answer was lost; the retry gets 406: exit 0, landed."""
    run_id, callback_id = paused(emulator)
    emulator.add_fault(method="POST", path=CALLBACK_PATH, **fault)
    code, log = send(emulator, callback_id, "success")
    assert code == 0, log
    assert "had landed" in log
    emulator.wait_for_status(run_id, "COMPLETED", timeout=10)


def test_a_connection_dropped_before_cortex_read_it_is_simply_retried(
    emulator: EmulatorServer,
) -> None:
    run_id, callback_id = paused(emulator)
    emulator.add_fault(method="POST", path=CALLBACK_PATH, drop="before")
    code, log = send(emulator, callback_id, "failure")
    assert code == 0, log
    assert "had landed" not in log
    assert "Cortex took callback FAILURE (200)" in log
    emulator.wait_for_status(run_id, "FAILED", timeout=10)


def test_an_update_whose_answer_was_lost_is_sent_again(emulator: EmulatorServer) -> None:
    """An update leaves the block waiting, so its retry is taken again: two progress messages,
    which is harmless, and the block still waits for the final callback."""
    run_id, callback_id = paused(emulator)
    emulator.add_fault(method="POST", path=CALLBACK_PATH, drop="after")
    code, log = send(emulator, callback_id, "update")
    assert code == 0, log
    block = next(a for a in emulator.run(run_id)["actions"] if a["state"].get("callbackId"))
    assert len(block["state"]["updates"]) == 2
    assert emulator.callbacks(run_id)[0]["callbackId"] == callback_id


def test_a_token_without_edit_workflow_runs_is_refused(emulator: EmulatorServer) -> None:
    """The built-in emulator-view-only token reads runs but may not call back: 403, exit 3."""
    _, callback_id = paused(emulator)
    env = {"CORTEX_API_TOKEN": "emulator-view-only", "CORTEX_BASE_URL": emulator.url}
    args = ["--workflow", "await-callback", "--callback-id", callback_id]
    result = invoke(env, ["callback", *args, "--callback-status", "success"])
    assert result.exit_code == 3
    assert "Edit workflow runs" in result.stderr
