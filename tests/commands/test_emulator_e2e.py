"""End to end against the emulator: trigger with run, then get, wait and list the run."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cortex_action.emulator import EmulatorServer, default_config
from tests.support import NOW, FakeTime, Outcome, invoke


class World:
    """An emulator and the CLI sharing one fake clock: the CLI's sleeps move the runs on."""

    def __init__(self, emu: EmulatorServer, clock: FakeTime) -> None:
        self.emu = emu
        self.clock = clock
        self.env = {
            "CORTEX_API_TOKEN": emu.token,
            "CORTEX_BASE_URL": emu.url,
            "GIT_COMMIT": "0123456789abcdef0123456789abcdef01234567",
        }

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.now, dt.UTC)

    def cli(self, *argv: str) -> Outcome:
        return invoke(self.env, list(argv), time=self.clock, now=self.now)

    def trigger(self, workflow: str, *args: str) -> str:
        result = self.cli("run", "--workflow", workflow, "--no-wait", "--json", *args)
        assert result.exit_code == 0, result.stderr
        run_id: str = json.loads(result.stdout)["runId"]
        return run_id

    def list_ids(self, *args: str) -> list[str]:
        result = self.cli("list", "--json", *args)
        assert result.exit_code == 0, result.stderr
        return [run["id"] for run in json.loads(result.stdout)]

    def list_queries(self) -> list[dict[str, list[str]]]:
        return [r.query for r in self.emu.requests if r.path == "/api/v1/workflows/runs"]


def make_world(overrides: dict[str, Any] | None = None) -> Iterator[World]:
    clock = FakeTime(now=NOW.timestamp())
    config = default_config(overrides) if overrides else None
    with EmulatorServer(config, speed=1.0, clock=clock) as emu:
        yield World(emu, clock)


@pytest.fixture
def world() -> Iterator[World]:
    """The emulator's built-in configuration at speed 1 on a fake clock."""
    yield from make_world()


def test_run_then_get_wait_and_list(world: World) -> None:
    """A deploy triggered without waiting is shown by get, followed by wait, found by list."""
    run_id = world.trigger("deploy-service", "--entity", "service-frontend")

    shown = world.cli("get", run_id, "--workflow", "deploy-service")
    assert shown.exit_code == 0, shown.stderr
    assert f"Run       {run_id}" in shown.stdout
    assert "Status    NOT_INITIATED" in shown.stdout
    assert "Entity    service-frontend" in shown.stdout

    waited = world.cli("wait", run_id, "--workflow", "deploy-service", "--json")
    assert waited.exit_code == 0, waited.stderr
    assert json.loads(waited.stdout)["status"] == "COMPLETED"
    assert "COMPLETED" in waited.stderr

    done = world.cli("get", run_id, "--workflow", "deploy-service", "--json")
    assert json.loads(done.stdout)["run"]["status"] == "COMPLETED"

    assert world.list_ids("--workflow", "deploy-service") == [run_id]
    # The tag as given, and no lookup of the workflow's definition (issue 11).
    before = len(world.emu.requests)
    assert world.list_ids("--workflow", "deploy-service") == [run_id]
    assert [(r.method, r.path) for r in world.emu.requests[before:]] == [
        ("GET", "/api/v1/workflows/runs")
    ]
    assert world.list_queries()[-1]["workflowIds"] == ["deploy-service"]
    # An unknown tag is sent as given too: no runs, and a hint to check it.
    unknown = world.cli("list", "--workflow", "deploy-servise")
    assert unknown.exit_code == 0
    assert "check the workflow's tag or id" in unknown.stderr
    assert world.list_ids("--workflow", "scaffold-repo") == []
    assert world.list_ids("--entity", "service-frontend", "--status", "completed") == [run_id]
    assert world.list_ids("--entity", "service-backend") == []
    assert world.list_ids("--initiated-by", "ci-bot@example.com") == [run_id]
    assert world.list_ids("--initiated-by", "someone@example.com") == []
    assert world.list_ids("--search", "deploy service") == [run_id]
    assert world.list_ids("--started-after", "1h") == [run_id]
    assert world.list_ids("--started-before", "1h") == []
    assert world.list_ids("--status", "failed") == []


def test_list_table_shows_the_emulators_columns(world: World) -> None:
    """The table reads workflow, entity, start and initiator from the emulator's run objects."""
    run_id = world.trigger("deploy-service", "--entity", "service-frontend")
    result = world.cli("list")
    assert result.exit_code == 0, result.stderr
    header, line = result.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "WORKFLOW", "ENTITY", "STARTED", "INITIATOR"]
    assert line.split()[:4] == [run_id, "NOT_INITIATED", "deploy-service", "service-frontend"]
    assert line.endswith("ci-bot@example.com")


def test_wait_on_a_failing_deploy_exits_1(world: World) -> None:
    """wait on a run whose block fails is exit 1 with the block's message."""
    run_id = world.trigger("failing-deploy", "--entity", "service-frontend")
    result = world.cli("wait", run_id, "--workflow", "failing-deploy")
    assert result.exit_code == 1
    assert "CrashLoopBackOff" in result.stderr
    assert world.list_ids("--status", "FAILED") == [run_id]


def test_wait_on_an_approval_then_after_it(world: World) -> None:
    """A paused run fails wait with on-paused fail; once approved, wait sees it complete."""
    run_id = world.trigger("needs-approval")
    paused = world.cli("wait", run_id, "--workflow", "needs-approval", "--on-paused", "fail")
    assert paused.exit_code == 1
    assert "PAUSED" in paused.stderr
    assert world.list_ids("--status", "paused") == [run_id]
    world.emu.resume(run_id)
    done = world.cli("wait", run_id, "--workflow", "needs-approval")
    assert done.exit_code == 0, done.stderr


def test_wait_times_out_on_the_emulator(world: World) -> None:
    """A run still going when timeout runs out is exit 4."""
    run_id = world.trigger("needs-approval")
    result = world.cli("wait", run_id, "--workflow", "needs-approval", "--timeout", "30s")
    assert result.exit_code == 4
    assert "Gave up waiting" in result.stderr


def test_get_of_an_unknown_run_is_exit_3(world: World) -> None:
    """The emulator's 404 for an unknown run is exit 3."""
    result = world.cli("get", "no-such-run", "--workflow", "deploy-service")
    assert result.exit_code == 3


@pytest.mark.parametrize("envelope", ["cortex", "spring"])
def test_list_pages_through_the_emulator(envelope: str) -> None:
    """With 101 runs, list reads two pages of 100 in either envelope and returns them all."""
    for world in make_world({"behaviour": {"listRuns": {"envelope": envelope}}}):
        with httpx.Client(
            base_url=f"{world.emu.url}/api/v1",
            headers={"Authorization": f"Bearer {world.emu.token}"},
        ) as http:
            for _ in range(101):
                http.post("/workflows/scaffold-repo/runs", json={"scope": {"type": "GLOBAL"}})
        ids = world.list_ids("--limit", "1000", "--workflow", "scaffold-repo")
        assert len(ids) == 101
        assert len(set(ids)) == 101
        assert [q["page"] for q in world.list_queries()] == [["0"], ["1"]]
        assert world.list_queries()[0]["size"] == ["100"]
        limited = world.list_ids("--limit", "100", "--status", "not_initiated,in_progress")
        assert len(limited) == 100
