"""Fan-out against the emulator: one step, one run per entity, at most five at once, one ending.

The emulator and the command share one fake clock: runs progress exactly as fast as the command
sleeps, so a fan-out of a dozen runs takes no real time and ends the same way every time.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cortex_action.emulator import EmulatorServer, default_config
from cortex_action.errors import Interrupted
from tests.support import SHA, FakeTime, Outcome, github_env, invoke

TWELVE = [f"service-{i:02d}" for i in range(1, 13)]
ACTIVE = re.compile(r"active=(\d+)/5 queued=(\d+)")


class Tenant:
    """An emulator on a fake clock, its log, and the environment of a GitHub step using it."""

    def __init__(self, overrides: dict[str, Any] | None, tmp_path: Path) -> None:
        self.time = FakeTime(now=dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC).timestamp())
        self.log: list[str] = []
        config = default_config(overrides) if overrides else None
        self.emu = EmulatorServer(config, speed=1.0, clock=self.time.clock, log=self.log.append)
        self.tmp_path = tmp_path

    def step(self, *argv: str, **inputs: str) -> Outcome:
        return invoke(self.env(**inputs), argv, time=self.time)

    def env(self, **inputs: str) -> dict[str, str]:
        env = github_env(self.tmp_path, self.emu.url, **inputs)
        env["INPUT_API-TOKEN"] = self.emu.token
        return env

    def triggers(self) -> list[Any]:
        return [r for r in self.emu.requests if r.method == "POST" and r.path.endswith("/runs")]

    def most_held(self) -> int:
        """The most runs ever IN_PROGRESS or NOT_INITIATED at once, from the emulator's log."""
        return max(int(a) + int(q) for a, q in ACTIVE.findall("\n".join(self.log)))


@pytest.fixture
def tenant(tmp_path: Path) -> Iterator[Tenant]:
    t = Tenant(None, tmp_path)
    with t.emu:
        yield t


def runs_of(outcome: Outcome) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = json.loads(outcome.outputs["runs"])
    return runs


def table_rows(summary: str) -> list[str]:
    return [line for line in summary.splitlines() if line.startswith("| `")]


def test_twelve_entities_five_at_a_time(tenant: Tenant) -> None:
    """All 12 run, never more than five at once, one summary with 12 rows, exit 0."""
    done = tenant.step(entities=",".join(TWELVE), max_parallel="5")

    assert done.exit_code == 0, done.log
    assert len(tenant.triggers()) == 12
    assert {r["context"]["entity"]["tag"] for r in tenant.emu.runs} == set(TWELVE)
    assert tenant.most_held() == 5  # five at once, never six
    runs = runs_of(done)
    assert [r["entity"] for r in runs] == TWELVE  # the order given
    assert {r["status"] for r in runs} == {"COMPLETED"}
    assert all(r["run"]["status"] == "COMPLETED" and r["replayed"] is False for r in runs)
    assert done.outputs["count"] == "12"
    assert done.outputs["status"] == "COMPLETED"
    assert done.outputs["run-id"] == ""
    assert done.outputs["result"] == ""
    rows = table_rows(done.summary)
    assert len(rows) == 12
    assert "**12 runs**: 12 completed" in done.summary
    assert done.summary.count(" :done, r") == 12  # one gantt bar per run
    assert "All 12 runs COMPLETED" in done.log


def test_max_parallel_two_is_kept(tenant: Tenant) -> None:
    done = tenant.step(entities="\n".join(TWELVE[:6]), max_parallel="2")
    assert done.exit_code == 0, done.log
    assert tenant.most_held() == 2


def test_one_failure_fails_the_step_and_the_others_still_run(tenant: Tenant) -> None:
    """scan-service fails for service-07: exit 1, its row names the block; 11 others ran."""
    done = tenant.step(workflow="scan-service", entities=",".join(TWELVE))

    assert done.exit_code == 1, done.log
    assert len(tenant.triggers()) == 12
    runs = runs_of(done)
    assert [r["status"] for r in runs].count("COMPLETED") == 11
    assert runs[6]["entity"] == "service-07"
    assert runs[6]["status"] == "FAILED"
    assert done.outputs["status"] == "FAILED"
    row = next(r for r in table_rows(done.summary) if r.startswith("| `service-07`"))
    assert "Scan" in row
    assert "3 critical vulnerabilities" in row
    assert "service-07: FAILED: block Scan: Scan failed" in done.log
    assert ":crit, r7," in done.summary


def test_fail_fast_triggers_nothing_after_a_failure(tenant: Tenant) -> None:
    """service-07 fails in the first wave; nothing is triggered after that is seen, the rest
    are reported skipped, the runs in flight are followed to their end."""
    entities = [f"service-{i:02d}" for i in range(5, 17)]
    done = tenant.step(workflow="scan-service", entities=",".join(entities), fail_fast="true")

    assert done.exit_code == 1, done.log
    runs = runs_of(done)
    skipped = [r["entity"] for r in runs if r["status"] == "SKIPPED"]
    triggered = [r["entity"] for r in runs if r["runId"]]
    assert skipped
    assert len(skipped) + len(triggered) == 12
    assert len(tenant.triggers()) == len(triggered)
    assert all(r["runId"] is None for r in runs if r["status"] == "SKIPPED")
    failed_at = done.log.index("service-07: FAILED")
    assert "accepted" not in done.log[failed_at:]  # no trigger after the failure was seen
    assert all(
        r["status"] in ("COMPLETED", "FAILED") for r in runs if r["entity"] in triggered
    )  # in flight: followed to their end
    assert "skipped" in done.summary
    assert "SKIPPED" in done.summary


def test_rerunning_the_step_replays_every_run(tenant: Tenant) -> None:
    """The same step again sends the same keys: Cortex replays, no run starts, and it says so."""
    first = tenant.step(entities=",".join(TWELVE[:7]))
    assert first.exit_code == 0, first.log
    runs_before = len(tenant.emu.runs)

    again = tenant.step(entities=",".join(TWELVE[:7]))

    assert again.exit_code == 0, again.log
    assert len(tenant.emu.runs) == runs_before == 7
    assert [r["replayed"] for r in runs_of(again)] == [True] * 7
    assert [r["runId"] for r in runs_of(again)] == [r["runId"] for r in runs_of(first)]
    assert again.log.count("It is a replay") == 7
    assert all("| yes |" in row for row in table_rows(again.summary))


def test_each_entity_has_its_own_key(tenant: Tenant) -> None:
    done = tenant.step(entities="service-01,service-02,service-03")
    keys = [r.headers["idempotency-key"] for r in tenant.triggers()]
    assert len(set(keys)) == 3
    assert [r["idempotencyKey"] for r in runs_of(done)] == keys
    assert all(k.startswith(f"cortex-action-{SHA[:12]}-1-") for k in keys)


def test_a_given_key_is_made_one_per_entity(tenant: Tenant) -> None:
    done = tenant.step(entities="service-01,service-02", idempotency_key="release-42")
    assert done.exit_code == 0, done.log
    keys = [r.headers["idempotency-key"] for r in tenant.triggers()]
    assert len(set(keys)) == 2
    assert all(k.startswith("release-42-") for k in keys)


def test_one_entity_sets_run_id_and_result(tenant: Tenant) -> None:
    done = tenant.step(entities="service-01")
    assert done.exit_code == 0, done.log
    run = runs_of(done)[0]
    assert done.outputs["run-id"] == run["runId"]
    assert json.loads(done.outputs["result"])["id"] == run["runId"]
    assert done.outputs["count"] == "1"


def test_timeout_reports_runs_in_flight_and_entities_never_triggered(tenant: Tenant) -> None:
    """`long-running`'s block takes 10 minutes; a 1-minute timeout gives up (exit 4) and says
    which runs were left going and which entities never got a run."""
    workflow = {
        "tag": "slow-scan",
        "scope": "ENTITY",
        "blocks": [{"name": "Scan", "slug": "scan", "duration": 600}],
    }
    slow = Tenant({"workflows": [workflow]}, tenant.tmp_path)
    with slow.emu:
        done = slow.step(workflow="slow-scan", entities=",".join(TWELVE[:7]), timeout="1m")
    assert done.exit_code == 4, done.log
    statuses = [r["status"] for r in runs_of(done)]
    assert statuses == ["IN_PROGRESS"] * 5 + ["NOT_TRIGGERED"] * 2
    assert "Never triggered (2): service-06, service-07" in done.summary
    assert "Gave up waiting" in done.log


def test_cortex_busy_backs_off_and_says_so_once(tmp_path: Path) -> None:
    """Other pipelines hold all five slots; Cortex refuses triggers with 429 and Retry-After.
    The fan-out backs off, says so once, and runs everything once slots free."""
    busy = Tenant({"behaviour": {"concurrency": {"mode": "refuse"}}}, tmp_path)
    with busy.emu:
        for entity in ("service-31", "service-32", "service-33", "service-34", "service-35"):
            busy.step("--no-wait", entity=entity)  # another pipeline's runs
        done = busy.step(entities="service-01,service-02,service-03")
        refused = [r for r in busy.triggers() if r.status == 429]
    assert done.exit_code == 0, done.log
    assert refused  # Cortex did say busy
    assert done.log.count("Cortex is busy") == 1
    assert [r["status"] for r in runs_of(done)] == ["COMPLETED"] * 3


def test_a_busy_409_is_waited_out_too(tmp_path: Path) -> None:
    overrides = {"behaviour": {"concurrency": {"mode": "refuse", "refuseStatus": 409}}}
    busy = Tenant(overrides, tmp_path)
    with busy.emu:
        for entity in ("service-31", "service-32", "service-33", "service-34", "service-35"):
            busy.step("--no-wait", entity=entity)
        done = busy.step(entities="service-01,service-02")
    assert done.exit_code == 0, done.log
    assert done.log.count("Cortex is busy (409") == 1


def test_paused_runs_free_their_slot(tmp_path: Path) -> None:
    """Runs that wait for a person don't count: the others go on (on-paused succeed ends them
    as passed; the fan-out's status says PAUSED)."""
    workflow = {
        "tag": "approve-each",
        "scope": "ENTITY",
        "blocks": [{"name": "Approve", "slug": "approve", "duration": 0.5, "outcome": "approval"}],
    }
    t = Tenant({"workflows": [workflow]}, tmp_path)
    with t.emu:
        done = t.step(workflow="approve-each", entities=",".join(TWELVE[:8]), on_paused="succeed")
    assert done.exit_code == 0, done.log
    assert done.outputs["status"] == "PAUSED"
    assert [r["status"] for r in runs_of(done)] == ["PAUSED"] * 8


def test_a_refused_entity_is_exit_3_and_the_others_run(tenant: Tenant) -> None:
    done = tenant.step(entities="service-01,no-such-entity,service-02")
    assert done.exit_code == 3, done.log
    statuses = [r["status"] for r in runs_of(done)]
    assert statuses == ["COMPLETED", "REFUSED", "COMPLETED"]
    assert done.outputs["status"] == "REFUSED"


def test_a_refused_token_stops_every_trigger(tenant: Tenant) -> None:
    env = tenant.env(entities=",".join(TWELVE))
    env["INPUT_API-TOKEN"] = "emulator-view-only"
    done = invoke(env, time=tenant.time)
    assert done.exit_code == 3, done.log
    assert len(tenant.triggers()) == 1
    assert [r["status"] for r in runs_of(done)] == ["REFUSED"] + ["SKIPPED"] * 11


def test_an_unknown_workflow_is_tried_once_not_per_entity(tenant: Tenant) -> None:
    """The README's command pasted as written names a workflow this tenant lacks (without the
    preflight, which would refuse it before any trigger: the next test)."""
    env = tenant.env()
    argv = "run --workflow security-scan --entities service-frontend,service-backend"
    flags = ["--max-parallel", "3", "--fail-fast", "--preflight", "false"]
    done = invoke(env, [*argv.split(), *flags], time=tenant.time)
    assert done.exit_code == 3, done.log
    assert len(tenant.triggers()) == 1
    assert [r["status"] for r in runs_of(done)] == ["REFUSED", "SKIPPED"]
    assert "Workflow not found" in done.log


def test_the_preflight_refuses_an_unknown_workflow_before_any_trigger(tenant: Tenant) -> None:
    """Once for the whole fan-out: exit 2, no trigger sent, one line that says what to check."""
    env = tenant.env()
    argv = "run --workflow security-scan --entities service-frontend,service-backend"
    done = invoke(env, argv.split(), time=tenant.time)
    assert done.exit_code == 2, done.log
    assert tenant.triggers() == []
    assert done.log.count("Cortex answered 404 to reading it") == 1
    assert "no run was started" in done.log


def test_the_preflight_warns_once_of_entities_on_a_global_workflow(tenant: Tenant) -> None:
    """A workflow whose filter looks GLOBAL, run per entity: one warning, then the fan-out."""
    env = tenant.env()
    done = invoke(
        env,
        ["run", "--workflow", "scaffold-repo", "--entities", "service-frontend,service-backend"],
        time=tenant.time,
    )
    assert done.log.count("Its filter looks GLOBAL, but `entities` is given") == 1, done.log


class StopAfter:
    """Fake time that raises SIGTERM at the n-th sleep: the signal lands mid-fan-out."""

    def __init__(self, time: FakeTime, sleeps: int) -> None:
        self.time, self.left = time, sleeps

    def clock(self) -> float:
        return self.time.clock()

    def sleep(self, seconds: float) -> None:
        self.left -= 1
        if self.left == 0:
            raise Interrupted(15)
        self.time.sleep(seconds)


def test_interrupted_publishes_every_run_known_and_those_never_triggered(tenant: Tenant) -> None:
    done = invoke(tenant.env(entities=",".join(TWELVE)), time=StopAfter(tenant.time, 8))
    assert done.exit_code == 143
    runs = runs_of(done)
    assert len(runs) == 12
    known = [r for r in runs if r["runId"]]
    assert 0 < len(known) < 12
    assert {r["status"] for r in runs if not r["runId"]} == {"NOT_TRIGGERED"}
    assert "Never triggered" in done.summary
    assert "Interrupted by SIGTERM" in done.summary
    assert "Never triggered:" in done.log  # the error line says what was left


def test_gitlab_files_hold_every_run(tenant: Tenant, tmp_path: Path) -> None:
    env = {
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(tmp_path),
        "CI_COMMIT_SHA": SHA,
        "CORTEX_API_TOKEN": tenant.emu.token,
        "CORTEX_BASE_URL": tenant.emu.url,
        "CORTEX_WORKFLOW": "scan-service",
        "CORTEX_ENTITIES": "service-06\nservice-07\nservice-08",
    }
    done = invoke(env, time=tenant.time)
    assert done.exit_code == 1, done.log
    result = json.loads((tmp_path / "cortex-action.json").read_text())
    assert [r["entity"] for r in result["runs"]] == ["service-06", "service-07", "service-08"]
    assert result["totals"]["completed"] == 2
    assert result["totals"]["failed"] == 1
    variables = (tmp_path / "cortex-action.env").read_text().splitlines()
    assert "CORTEX_RUN_STATUS=FAILED" in variables
    assert "CORTEX_RUN_COUNT=3" in variables
    assert "CORTEX_RUNS_COMPLETED=2" in variables
    assert "CORTEX_RUNS_FAILED=1" in variables
    suites = ET.parse(tmp_path / "cortex-action-junit.xml").getroot().findall("testsuite")  # noqa: S314 - our own file
    assert len(suites) == 3
    assert suites[1].get("name", "").endswith("service-07")
    assert suites[1].get("failures") == "2"
    assert [c.get("name") for c in suites[0].findall("testcase")] == [
        "workflow run",
        "block 1: Checkout",
        "block 2: Scan",
    ]
    assert (tmp_path / "cortex-action.md").read_text().count("| `service-0") == 3
    # The job page links to the runs, as for one run (the component declares the report).
    links = json.loads((tmp_path / "cortex-action-annotations.json").read_text())["cortex"]
    assert [link["external_link"]["url"] for link in links] == [result["runUrl"]]
    assert links[0]["external_link"]["label"] == "Cortex runs (3 entities, FAILED): scan-service"


def test_json_prints_the_whole_fan_out(tenant: Tenant) -> None:
    env = tenant.env(entities="service-01,service-02")
    del env["GITHUB_ACTIONS"]
    done = invoke(env, ["run", "--json"], time=tenant.time)
    assert done.exit_code == 0, done.log
    assert [r["entity"] for r in json.loads(done.stdout)["runs"]] == ["service-01", "service-02"]


@pytest.mark.parametrize(
    ("inputs", "says"),
    [
        ({"entity": "service-01", "entities": "service-02"}, "give one of them"),
        ({"entities": "service-01", "wait": "false"}, "`wait` must be true"),
        ({"entities": "service-01", "max_parallel": "6"}, "max-parallel: expected a whole"),
        ({"entities": "service-01", "max_parallel": "0"}, "max-parallel: expected a whole"),
        ({"entities": "service-01", "max_parallel": "five"}, "max-parallel: expected a whole"),
        ({"entities": "service-01", "fail_fast": "yes"}, "fail-fast"),
        ({"entities": "service-01,service-01"}, "listed more than once"),
        # Attack: one entity spelt twice must not become two keys, hence two runs of it.
        ({"entities": "service-01, SERVICE-01 "}, "listed more than once: 'SERVICE-01'"),
        ({"entities": "service-01\r\n service-01\r\n"}, "listed more than once"),
        # Attack: a huge list is refused by its length, before any per-name work.
        ({"entities": ",".join(f"s{i}" for i in range(20_000))}, "at most 500 entities"),
        ({"entities": "service-01\nbad\x00entity"}, "entities:"),
    ],
)
def test_bad_fan_out_inputs_are_exit_2_and_send_nothing(
    tenant: Tenant, inputs: dict[str, str], says: str
) -> None:
    done = tenant.step(**inputs)
    assert done.exit_code == 2, done.log
    assert says in done.log
    assert tenant.emu.requests == []


def test_flags_on_the_command_line(tenant: Tenant) -> None:
    env = tenant.env()
    done = invoke(
        env,
        ["run", "--entities", "service-01,service-02", "--max-parallel", "1", "--fail-fast"],
        time=tenant.time,
    )
    assert done.exit_code == 0, done.log
    assert tenant.most_held() == 1
    misspelt = invoke(env, ["run", "--entites", "service-01"], time=tenant.time)
    assert misspelt.exit_code == 2
    assert "did you mean --entities?" in misspelt.log


def test_the_workflows_history_times_the_first_polls(tmp_path: Path) -> None:
    """With a history of 30-second runs, the first five runs are looked at near their usual end
    (one list request for all of them), not on the growing schedule (seven polls each)."""
    workflow = {
        "tag": "slow-scan",
        "scope": "ENTITY",
        "blocks": [{"name": "Scan", "slug": "scan", "duration": 30}],
        "history": {"count": 12, "duration": 30.5, "spread": 0.02},
    }
    t = Tenant({"workflows": [workflow]}, tmp_path)
    with t.emu:
        done = t.step(workflow="slow-scan", entities=",".join(TWELVE[:5]))
        polls = [r for r in t.emu.requests if r.method == "GET" and "/runs/" in r.path]
        listings = [r for r in t.emu.requests if r.path == "/api/v1/workflows/runs"]
    # The history look-up asks for the runs' context (to tell entities apart); the listings
    # that look at the runs followed don't.
    history = [r for r in listings if "includeContext" in r.query]
    sweeps = [r for r in listings if "includeContext" not in r.query]
    assert done.exit_code == 0, done.log
    assert "Usually takes" in done.log
    assert len(history) == 1
    assert len(polls) + len(sweeps) <= 5 * 3
    assert len(polls) + len(sweeps) <= 4  # the five runs, triggered together, seen together


def test_a_dry_run_shows_every_trigger_and_sends_none(tenant: Tenant) -> None:
    """`dry-run` with `entities`: the preflight, one list request, each entity's key in the
    outputs, the summary and the result file; no trigger. The real step then sends those keys."""
    three = "service-01,service-02,service-03"
    dry = tenant.step(entities=three, dry_run="true")
    assert dry.exit_code == 0, dry.log
    assert tenant.triggers() == []
    assert dry.outputs["status"] == "DRY_RUN"
    assert dry.outputs["count"] == "3"
    planned = json.loads(dry.outputs["runs"])
    assert [r["entity"] for r in planned] == three.split(",")
    assert {r["status"] for r in planned} == {"DRY_RUN"}
    for entry in planned:
        assert f"`{entry['idempotencyKey']}`" in dry.summary
    assert "Dry run: 3 triggers would be sent; nothing was started" in dry.log
    done = tenant.step(entities=three)
    assert done.exit_code == 0, done.log
    sent = [
        next(v for k, v in r.headers.items() if k.lower() == "idempotency-key")
        for r in tenant.triggers()
    ]
    assert sorted(sent) == sorted(r["idempotencyKey"] for r in planned)


def test_a_dry_run_with_a_token_that_cant_read_runs_is_exit_3(tenant: Tenant) -> None:
    env = tenant.env(entities="service-01,service-02", dry_run="true")
    env["INPUT_API-TOKEN"] = "not-a-token"
    done = invoke(env, time=tenant.time)
    assert done.exit_code == 3, done.log
    assert tenant.triggers() == []


@pytest.mark.parametrize(
    "inputs", [{"entities": "service-01,service-02"}, {"entity": "service-01"}]
)
def test_a_dry_run_on_jenkins_rewrites_the_junit_report(
    tenant: Tenant, tmp_path: Path, inputs: dict[str, str]
) -> None:
    """Jenkins keeps its workspace: a dry run writes a fresh JUnit report (each trigger a skipped
    test), so `junit` never publishes an earlier build's run as this build's, nor fails on a
    report older than the build."""
    stale = tmp_path / "cortex-action-junit.xml"
    stale.write_text('<testsuites><testsuite name="an earlier real run"/></testsuites>')
    env = {
        "JENKINS_URL": "https://jenkins.test/",
        "WORKSPACE": str(tmp_path),
        "GIT_COMMIT": SHA,
        "CORTEX_API_TOKEN": tenant.emu.token,
        "CORTEX_BASE_URL": tenant.emu.url,
        "CORTEX_WORKFLOW": "scan-service",
        "CORTEX_DRY_RUN": "true",
        **{f"CORTEX_{k.upper()}": v for k, v in inputs.items()},
    }
    done = invoke(env, time=tenant.time)
    assert done.exit_code == 0, done.log
    assert tenant.triggers() == []
    root = ET.parse(stale).getroot()  # noqa: S314 - our own file
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["Cortex workflow scan-service (dry run)"]
    cases = suites[0].findall("testcase")
    entities = next(iter(inputs.values())).split(",")
    assert [c.get("name") for c in cases] == [f"trigger for {e}" for e in entities]
    assert all(c.find("skipped") is not None for c in cases)
    assert root.get("skipped") == str(len(entities))
