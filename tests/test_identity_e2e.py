"""The run it follows is the run it asked for (issue 11), end to end against the emulator on a
clock shared with the command: replays said plainly, foreign runs refused, 409 conflict versus
busy, and polls that go on until the deadline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from cortex_action.emulator import EmulatorServer, default_config
from tests.support import FakeTime, Outcome, github_env, invoke

POLL = "/api/v1/workflows/*/runs/*"
TRIGGER = "/api/v1/workflows/*/runs"


class World:
    def __init__(self, emu: EmulatorServer, fake: FakeTime, folder: Path) -> None:
        self.emu, self.fake, self.folder = emu, fake, folder
        self.step = 0

    def run(self, **inputs: str) -> Outcome:
        """One GitHub step (its own outputs file) running the action with these inputs."""
        self.step += 1
        step = self.folder / f"step{self.step}"
        step.mkdir()
        inputs = {"entity": "service-frontend", "timeout": "4m", **inputs}
        env = github_env(step, self.emu.url, api_token=self.emu.token, **inputs)
        return invoke(env, time=self.fake)

    def triggers(self) -> list[Any]:
        return [r for r in self.emu.requests if r.method == "POST" and r.path.endswith("/runs")]

    def polls(self) -> list[Any]:
        return [r for r in self.emu.requests if r.method == "GET" and "/runs/" in r.path]


@contextmanager
def make_world(folder: Path, overrides: dict[str, Any] | None = None) -> Iterator[World]:
    fake = FakeTime(now=time.time())
    config = default_config(overrides) if overrides else None
    with EmulatorServer(config, speed=1.0, clock=fake.clock) as emu:
        yield World(emu, fake, folder)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with make_world(tmp_path) as w:
        yield w


# -- replays ------------------------------------------------------------------------------------


def test_a_second_identical_trigger_says_it_started_no_new_run(world: World) -> None:
    first = world.run()
    assert first.exit_code == 0, first.log
    assert first.outputs["replayed"] == "false"
    assert "no new run was started" not in first.log
    assert "| New run | yes |" in first.summary

    second = world.run()
    assert second.exit_code == 0, second.log
    assert second.outputs["replayed"] == "true"
    assert second.outputs["run-id"] == first.outputs["run-id"]
    assert "Cortex returned an existing run for this key: no new run was started" in second.log
    assert "Idempotent-Replayed: true" in second.log
    assert "no: Cortex returned an existing run for this key" in second.summary
    assert "(an existing run: no new run was started) COMPLETED" in second.summary
    assert len(world.emu.runs) == 1


def test_a_replay_without_waiting_says_so_too(world: World) -> None:
    world.run(wait="false")
    again = world.run(wait="false")
    assert again.exit_code == 0
    assert again.outputs["replayed"] == "true"
    assert "returned (an existing run)" in again.log


def test_a_key_with_the_pipelines_own_id_deploys_the_same_commit_again(world: World) -> None:
    """The documented way to deploy one commit again on purpose (docs/hosts.md): a key that
    includes the pipeline's own id starts a new run; the same pipeline retried replays."""
    first = world.run(idempotency_key="deploy-service-frontend-1001-1")
    again = world.run(idempotency_key="deploy-service-frontend-1002-1")
    retried = world.run(idempotency_key="deploy-service-frontend-1002-1")
    assert [first.outputs["replayed"], again.outputs["replayed"]] == ["false", "false"]
    assert first.outputs["run-id"] != again.outputs["run-id"]
    assert retried.outputs["replayed"] == "true"
    assert len(world.emu.runs) == 2


# -- foreign runs -------------------------------------------------------------------------------


def test_a_key_reused_for_another_entity_is_refused_not_followed(tmp_path: Path) -> None:
    """Cortex (here: `conflict: cached`) answers a reused key with the other request's run."""
    overrides = {"behaviour": {"idempotency": {"conflict": "cached"}}}
    with make_world(tmp_path, overrides) as world:
        first = world.run(idempotency_key="deploy-42")
        assert first.exit_code == 0
        other = world.run(idempotency_key="deploy-42", entity="service-backend")
    assert other.exit_code == 3, other.log
    assert "Cortex answered with another run" in other.log
    assert "not service-backend" in other.log
    assert "deploy-42" in other.log
    assert "`idempotency-key`" in other.log
    assert world.polls() == [] or all(first.outputs["run-id"] in p.path for p in world.polls())
    # Nothing reports the other request's run as this step's.
    assert other.outputs.get("run-id", "") == ""
    assert other.outputs.get("status", "") == ""


def test_a_key_reused_for_another_workflow_is_refused(tmp_path: Path) -> None:
    overrides = {"behaviour": {"idempotency": {"conflict": "cached"}}}
    with make_world(tmp_path, overrides) as world:
        assert world.run(idempotency_key="k-1").exit_code == 0
        polls_before = len(world.polls())
        other = world.run(idempotency_key="k-1", workflow="failing-deploy")
    assert other.exit_code == 3, other.log
    assert "belongs to workflow deploy-service" in other.log
    assert len(world.polls()) == polls_before  # not followed


def test_a_poll_answered_with_another_run_is_refused(world: World) -> None:
    world.emu.add_fault(
        {
            "method": "GET",
            "path": POLL,
            "status": 200,
            "body": {"id": "someone-elses-run", "status": "COMPLETED"},
        }
    )
    result = world.run()
    assert result.exit_code == 3, result.log
    assert "with another run" in result.log
    assert result.outputs["status"] != "COMPLETED"


def test_a_poll_answered_with_a_run_of_another_entity_is_refused(world: World) -> None:
    first = world.run(wait="false")
    run_id = first.outputs["run-id"]
    foreign = {
        "id": run_id,
        "status": "COMPLETED",
        "workflow": {"tag": "deploy-service"},
        "scope": {"type": "ENTITY", "entityId": "service-backend"},
    }
    world.emu.add_fault({"method": "GET", "path": POLL, "status": 200, "body": foreign})
    result = world.run()
    assert result.exit_code == 3, result.log
    assert "not service-frontend" in result.log


# -- 409 on a trigger ---------------------------------------------------------------------------


def test_a_409_conflict_is_final_at_once(world: World) -> None:
    """The emulator's default for a key reused with another body: 409, no Retry-After."""
    assert world.run(idempotency_key="deploy-7").exit_code == 0
    started = world.fake.now
    result = world.run(idempotency_key="deploy-7", entity="service-backend")
    assert result.exit_code == 3, result.log
    assert world.fake.now - started < 5  # no waiting for a slot that will never come
    assert len(world.triggers()) == 2  # not retried
    assert "Idempotency-Key reused with a different request" in result.log
    assert "a key of its own" in result.log
    assert "waiting for a free slot" not in result.log


def test_a_409_conflict_shows_the_request_id(world: World) -> None:
    world.emu.add_fault(
        {
            "method": "POST",
            "path": TRIGGER,
            "status": 409,
            "body": {"message": "Conflict", "requestId": "req-409-abc", "httpStatus": 409},
        }
    )
    result = world.run()
    assert result.exit_code == 3
    assert "req-409-abc" in result.log
    assert len(world.triggers()) == 1


def test_a_409_at_the_concurrency_limit_waits_for_a_slot(tmp_path: Path) -> None:
    """refuse mode with 409 + Retry-After: the sixth trigger waits until a slot frees."""
    overrides = {
        "behaviour": {"concurrency": {"mode": "refuse", "refuseStatus": 409, "limit": 1}},
    }
    with make_world(tmp_path, overrides) as world:
        busy = world.run(wait="false", entity="service-backend")
        assert busy.exit_code == 0
        result = world.run()
    assert result.exit_code == 0, result.log
    assert result.outputs["status"] == "COMPLETED"
    assert "Concurrency limit reached" in result.log  # said while it waited
    assert len(world.emu.runs) == 2


def test_a_409_naming_the_limit_without_retry_after_waits_too(world: World) -> None:
    world.emu.add_fault(
        {
            "method": "POST",
            "path": TRIGGER,
            "status": 409,
            "count": 2,
            "body": {"message": "Too many workflow runs at once: the limit is 5"},
        }
    )
    result = world.run()
    assert result.exit_code == 0, result.log
    assert len(world.triggers()) == 3


# -- following until the deadline --------------------------------------------------------------


def test_polls_answered_503_for_90s_end_with_the_runs_real_outcome(world: World) -> None:
    world.emu.add_fault({"method": "GET", "path": POLL, "status": 503, "for_seconds": 90})
    result = world.run()
    assert result.exit_code == 0, result.log
    assert result.outputs["status"] == "COMPLETED"
    failed = [r for r in world.polls() if r.status == 503]
    assert len(failed) > 8  # past the old budget of 8 attempts
    # A recovering Cortex is seen within about 15 s.
    assert max(world.fake.sleeps) <= 15.0


def test_a_failed_run_behind_503s_still_exits_1(world: World) -> None:
    world.emu.add_fault({"method": "GET", "path": POLL, "status": 503, "for_seconds": 90})
    result = world.run(workflow="failing-deploy")
    assert result.exit_code == 1, result.log
    assert result.outputs["status"] == "FAILED"


def test_two_404s_just_after_the_trigger_are_lag(world: World) -> None:
    world.emu.add_fault({"lag_polls": 2})
    result = world.run()
    assert result.exit_code == 0, result.log
    assert [r.status for r in world.polls()][:3] == [404, 404, 200]


def test_a_404_that_lasts_past_30s_is_final(world: World) -> None:
    world.emu.add_fault({"lag_polls": 1000})
    result = world.run()
    assert result.exit_code == 3, result.log
    assert "Workflow run not found" in result.log


def test_a_404_on_wait_is_final_at_once(world: World) -> None:
    first = world.run(wait="false")
    world.emu.add_fault({"lag_polls": 1000})
    step = world.folder / "wait"
    step.mkdir()
    env = github_env(
        step,
        world.emu.url,
        api_token=world.emu.token,
        command="wait",
        run_id=first.outputs["run-id"],
    )
    result = invoke(env, time=world.fake)
    assert result.exit_code == 3
    assert len([r for r in world.polls() if r.status == 404]) == 1


def test_one_2xx_poll_that_is_not_a_run_is_retried(world: World) -> None:
    world.emu.add_fault({"method": "GET", "path": POLL, "malform": "missing-id"})
    result = world.run()
    assert result.exit_code == 0, result.log
    assert result.outputs["status"] == "COMPLETED"
