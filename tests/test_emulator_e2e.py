"""The real command against the project's emulator: each kind of run ends as documented.

Real time here (the emulator runs its scripts 20 times faster), so these are the tests closest to
a pipeline against a Cortex tenant.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from cortex_action.emulator import EmulatorServer, default_config
from cortex_action.emulator.testing import EmulatorFactory
from tests.support import Outcome, RealTime, github_env, invoke

# Real time against the emulator in this process: seconds per test.
pytestmark = pytest.mark.slow


def run_action(emu: EmulatorServer, tmp_path: Path, **inputs: str) -> Outcome:
    """Run the action as GitHub would (INPUT_* variables) against ``emu``, in real time."""
    given = {"api_token": emu.token, "timeout": "60s", **inputs}
    return invoke(github_env(tmp_path, emu.url, **given), time=RealTime())


@pytest.mark.parametrize(
    ("workflow", "entity", "code", "status"),
    [
        ("deploy-service", "service-frontend", 0, "COMPLETED"),
        ("scaffold-repo", "", 0, "COMPLETED"),
        ("failing-deploy", "service-frontend", 1, "FAILED"),
        ("times-out", "", 1, "TIMED_OUT"),
        ("cancelled-deploy", "service-frontend", 1, "CANCELLED"),
    ],
)
def test_each_ending_has_its_exit_code(  # noqa: PLR0913 - fixtures and parameters
    emulator: EmulatorServer, tmp_path: Path, workflow: str, entity: str, code: int, status: str
) -> None:
    """Completed runs exit 0, failed, timed-out and cancelled ones exit 1, with outputs."""
    result = run_action(emulator, tmp_path, workflow=workflow, entity=entity)
    assert result.exit_code == code, result.log
    assert result.outputs["status"] == status
    assert emulator.run(result.outputs["run-id"])["status"] == status
    assert status.replace("_", "\\_") in result.summary  # Markdown-escaped


def test_failed_block_message_reaches_the_annotation(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    """The emulator's failing block message is in the error annotation and the summary."""
    result = run_action(emulator, tmp_path, workflow="failing-deploy", entity="service-frontend")
    run = emulator.run(result.outputs["run-id"])
    messages = [
        a["state"].get("errorMessage") for a in run["actions"] if a["state"].get("errorMessage")
    ]
    assert messages
    error_line = next(line for line in result.log.splitlines() if line.startswith("::error"))
    assert messages[0].split("\n")[0][:30] in error_line


@pytest.mark.parametrize(
    ("inputs", "text"),
    [
        ({"workflow": "not-runnable"}, "Runnable via API"),
        ({"workflow": "deploy-service"}, "Cortex answered 400"),
        ({"workflow": "scaffold-repo", "initial_context": "colour=red"}, "colour"),
        ({"workflow": "no-such-workflow"}, "Cortex answered 404"),
        ({"workflow": "deploy-service", "entity": "no-such-entity"}, "Cortex answered 404"),
    ],
)
def test_refusals_exit_3_and_start_nothing(
    emulator: EmulatorServer, tmp_path: Path, inputs: dict[str, str], text: str
) -> None:
    """Not runnable, scope mismatch, unknown variable or entity: exit 3, no run (Cortex's own
    refusals, with the preflight off)."""
    result = run_action(emulator, tmp_path, preflight="false", **inputs)
    assert result.exit_code == 3, result.log
    assert text in result.log
    assert emulator.runs == []


@pytest.mark.parametrize(
    ("inputs", "text", "code"),
    [
        ({"workflow": "not-runnable"}, "Runnable via API", 2),
        ({"workflow": "deploy-service"}, "Cortex answered 400", 3),
        ({"workflow": "scaffold-repo", "initial_context": "colour=red"}, "'colour'", 2),
        ({"workflow": "no-such-workflow"}, "Cortex answered 404", 2),
        ({"workflow": "deploy-service", "entity": "no-such-entity"}, "Cortex answered 404", 3),
    ],
)
def test_refusals_with_the_preflight(
    emulator: EmulatorServer, tmp_path: Path, inputs: dict[str, str], text: str, code: int
) -> None:
    """Issue 13: what the definition says for sure (not runnable, an unknown variable, no such
    workflow) is exit 2 before the trigger; the rest is still Cortex's refusal, exit 3."""
    result = run_action(emulator, tmp_path, **inputs)
    assert result.exit_code == code, result.log
    assert text in result.log
    assert emulator.runs == []


def test_view_only_token_is_told_which_permission(emulator: EmulatorServer, tmp_path: Path) -> None:
    """A token without the trigger permission gets a 403 that names the permission."""
    result = run_action(
        emulator, tmp_path, workflow="scaffold-repo", api_token="emulator-view-only"
    )
    assert result.exit_code == 3
    assert "Execute Workflow Runs" in result.log


def test_same_commit_twice_starts_one_run(emulator: EmulatorServer, tmp_path: Path) -> None:
    """Two pipelines for the same commit send one key, and Cortex starts one run."""
    first = run_action(emulator, tmp_path, workflow="scaffold-repo")
    second = run_action(emulator, tmp_path, workflow="scaffold-repo")
    assert first.exit_code == second.exit_code == 0
    assert first.outputs["run-id"] == second.outputs["run-id"]
    assert len(emulator.runs) == 1


def test_dropped_trigger_answer_is_retried_into_one_run(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    """The connection drops after the run is created; the retry replays it: one run."""
    emulator.add_fault(method="POST", path="/api/v1/workflows/*/runs", drop="after")
    result = run_action(emulator, tmp_path, workflow="scaffold-repo")
    assert result.exit_code == 0, result.log
    assert len(emulator.runs) == 1
    posts = [r for r in emulator.requests if r.method == "POST"]
    assert len(posts) == 2


def test_paused_run_resumed_by_a_person_completes(emulator: EmulatorServer, tmp_path: Path) -> None:
    """A run paused for approval is followed until someone approves it, then completes."""

    def approve() -> None:
        for _ in range(400):
            paused = [r for r in emulator.runs if r["status"] == "PAUSED"]
            if paused:
                time.sleep(1.0)
                emulator.resume(paused[0]["id"])
                return
            time.sleep(0.025)

    helper = threading.Thread(target=approve)
    helper.start()
    result = run_action(emulator, tmp_path, workflow="needs-approval")
    helper.join()
    assert result.exit_code == 0, result.log
    assert "PAUSED" in result.log
    assert result.outputs["status"] == "COMPLETED"


def test_paused_with_on_paused_fail_exits_1(emulator: EmulatorServer, tmp_path: Path) -> None:
    """on-paused fail ends the step at the pause."""
    result = run_action(emulator, tmp_path, workflow="needs-approval", on_paused="fail")
    assert result.exit_code == 1
    assert result.outputs["status"] == "PAUSED"


def test_run_without_initiator_pauses(emulator: EmulatorServer, tmp_path: Path) -> None:
    """needs-initiator pauses without run-as and completes with it."""
    paused = run_action(emulator, tmp_path, workflow="needs-initiator", on_paused="succeed")
    assert paused.outputs["status"] == "PAUSED"
    done = run_action(emulator, tmp_path, workflow="needs-initiator", run_as="dev@example.com")
    assert done.exit_code == 0, done.log
    assert done.outputs["status"] == "COMPLETED"


def test_timeout_on_a_long_run_exits_4_in_time(emulator: EmulatorServer, tmp_path: Path) -> None:
    """A run longer than timeout gives exit 4 within a second or two of it."""
    started = time.monotonic()
    result = run_action(emulator, tmp_path, workflow="long-running", timeout="3s")
    took = time.monotonic() - started
    assert result.exit_code == 4
    assert result.outputs["status"] == "IN_PROGRESS"
    assert took < 3 + 2.5


@pytest.mark.parametrize("mode", ["queue", "refuse"])
def test_sixth_run_waits_for_a_free_slot(
    make_emulator: EmulatorFactory, tmp_path: Path, mode: str
) -> None:
    """With five runs going, a sixth waits (queued, or retried after a 429) and then completes."""
    # At speed 200 the 10-minute long-running workflow takes 3 s: the slots free by themselves.
    emu = make_emulator(default_config({"behaviour": {"concurrency": {"mode": mode}}}), speed=200)
    for number in range(5):
        busy = run_action(
            emu, tmp_path, workflow="long-running", wait="false", idempotency_key=f"busy-{number}"
        )
        assert busy.exit_code == 0, busy.log
    result = run_action(emu, tmp_path, workflow="scaffold-repo")
    assert result.exit_code == 0, result.log
    assert len([r for r in emu.runs if r["workflow"]["tag"] == "scaffold-repo"]) == 1
    if mode == "refuse":
        assert "Cortex asked to retry after" in result.log


def run_now(emu: EmulatorServer, tmp_path: Path, **inputs: str) -> Outcome:
    """``run_action`` on the real wall clock: the emulator stamps runs with real times."""
    given = {"api_token": emu.token, "timeout": "60s", **inputs}
    env = github_env(tmp_path, emu.url, **given)
    return invoke(env, time=RealTime(), now=lambda: dt.datetime.now(dt.UTC))


def timed_config(**history: object) -> dict[str, object]:
    """One GLOBAL workflow of two blocks, 1 s in all at the test speed; ``history`` seeds runs."""
    workflow: dict[str, object] = {
        "tag": "nightly",
        "scope": "GLOBAL",
        "blocks": [
            {"name": "Build", "slug": "build", "duration": 8},
            {"name": "Ship", "slug": "ship", "duration": 12},
        ],
    }
    if history:
        workflow["history"] = history
    token = {"value": "nightly-token-0123", "permissions": ["trigger", "view"]}
    return {"tokens": [token], "workflows": [workflow]}


def test_a_workflow_run_a_few_times_then_again_shows_its_eta_and_comparison(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """Three runs build the history (each says it has too little); the fourth shows the ETA
    line, the time left, and its summary says how it compared."""
    emu = make_emulator(timed_config())
    for number in range(3):
        # A key each: the same commit and body would otherwise replay the first run.
        result = run_now(emu, tmp_path, workflow="nightly", idempotency_key=f"nightly-{number}")
        assert result.exit_code == 0, result.log
        assert "No duration history" in result.log
        assert "Usually takes" not in result.log
        assert f"{number} ended run" in result.log or "no ended runs" in result.log
    result = run_now(emu, tmp_path, workflow="nightly", idempotency_key="nightly-3")
    assert result.exit_code == 0, result.log
    assert (
        "Usually takes 1s (median of the last 3 runs; 90 % within 1s); expected to end around"
        in (result.log)
    )
    assert "No duration history" not in result.log
    assert "| Against history | typical: 1s, against a median of 1s over 3 runs" in result.summary


def test_seeded_history_gives_the_eta_of_the_first_run(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """`history:` seeds 12 runs of ~10 s; this one takes ~1 s: faster, seen within seconds."""
    emu = make_emulator(timed_config(count=12, duration=200, spread=0.1, statuses={"FAILED": 2}))
    started = time.monotonic()
    result = run_now(emu, tmp_path, workflow="nightly")
    assert result.exit_code == 0, result.log
    assert "(median of the last 12 runs; 90 % within" in result.log
    assert "Usually takes 10s" in result.log or "Usually takes 9s" in result.log
    assert "| Against history | faster: 1s" in result.summary
    assert time.monotonic() - started < 8
