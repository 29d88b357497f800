"""End to end against the emulator, as a GitHub job: the preflight before the trigger, the dry
run, block-by-block progress, and the gantt chart in the summary (issue 13's "Done when")."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cortex_action import cli
from cortex_action.emulator import EmulatorServer, default_config
from tests.readers import parse_gitlab_dotenv
from tests.support import NOW, SHA, FakeTime, Outcome, github_env, invoke

TRIGGER = re.compile(r"/api/v1/workflows/[^/]+/runs$")


class Job:
    """A GitHub job step against an emulator sharing the CLI's fake clock."""

    def __init__(self, emu: EmulatorServer, clock: FakeTime, tmp_path: Path) -> None:
        self.emu, self.clock, self.tmp_path = emu, clock, tmp_path

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.now, dt.UTC)

    def step(self, token: str | None = None, **inputs: str) -> Outcome:
        env = github_env(self.tmp_path, self.emu.url, api_token=token or self.emu.token, **inputs)
        return invoke(env, time=self.clock, now=self.now)

    def triggers(self) -> list[Any]:
        return [r for r in self.emu.requests if r.method == "POST" and TRIGGER.search(r.path)]

    def definition_reads(self, workflow: str) -> list[Any]:
        return [
            r for r in self.emu.requests if r.method == "GET" and r.path.endswith(f"/{workflow}")
        ]


def make_job(tmp_path: Path, overrides: dict[str, Any] | None = None) -> Iterator[Job]:
    clock = FakeTime(now=NOW.timestamp())
    config = default_config(overrides) if overrides else None
    with EmulatorServer(config, speed=1.0, clock=clock) as emu:
        yield Job(emu, clock, tmp_path)


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Job]:
    yield from make_job(tmp_path)


# -- preflight ----------------------------------------------------------------------------------


def test_a_workflow_not_runnable_via_api_is_refused_before_any_trigger(job: Job) -> None:
    result = job.step(workflow="not-runnable")
    assert result.exit_code == 2, result.log
    assert "no run was started" in result.log
    assert '"Runnable via API"' in result.log
    assert "Switch on" in result.log
    assert job.triggers() == []
    assert len(job.definition_reads("not-runnable")) == 1


def test_an_unknown_context_key_is_refused_naming_it_and_the_slugs(job: Job) -> None:
    result = job.step(
        workflow="deploy-service",
        entity="service-frontend",
        initial_context='{"enviroment": "prod", "version": "1.2.3"}',
    )
    assert result.exit_code == 2, result.log
    assert "no run was started" in result.log
    assert "'enviroment'" in result.log
    assert "environment, version" in result.log
    assert "'version'" not in result.log  # a declared key is not named as unknown
    assert job.triggers() == []


def test_a_draft_and_an_unknown_workflow_are_refused(job: Job) -> None:
    draft = job.step(workflow="draft-deploy")
    assert draft.exit_code == 2
    assert "draft" in draft.log
    unknown = job.step(workflow="no-such-workflow")
    assert unknown.exit_code == 2
    assert "404" in unknown.log
    assert "preflight: false" in unknown.log
    assert job.triggers() == []


def test_a_definition_that_answers_403_never_blocks_the_run(job: Job) -> None:
    result = job.step(
        token="emulator-no-workflows", workflow="deploy-service", entity="service-frontend"
    )
    assert result.exit_code == 0, result.log
    assert result.outputs["status"] == "COMPLETED"
    assert len(job.triggers()) == 1
    notes = [line for line in result.log.splitlines() if "definition" in line]
    assert len(notes) == 1, notes
    assert "403" in notes[0]
    assert "permission to view workflows" in notes[0]


def test_preflight_false_sends_no_definition_request(job: Job) -> None:
    result = job.step(workflow="deploy-service", entity="service-frontend", preflight="false")
    assert result.exit_code == 0, result.log
    assert job.definition_reads("deploy-service") == []
    assert len(job.triggers()) == 1


def test_preflight_false_lets_cortex_refuse_instead(job: Job) -> None:
    """Skipping the preflight is the user's choice: Cortex's own 403 is exit 3, as before."""
    result = job.step(workflow="not-runnable", preflight="false")
    assert result.exit_code == 3
    assert len(job.triggers()) == 1


def test_suggestions_warn_and_trigger_anyway(job: Job) -> None:
    """A GLOBAL-looking filter with an entity given is only a suggestion: warn and go on."""
    result = job.step(workflow="scaffold-repo", entity="service-frontend")
    assert "looks GLOBAL" in result.log
    assert "Triggering anyway" in result.log
    assert len(job.triggers()) == 1


# -- dry run ------------------------------------------------------------------------------------


def test_a_dry_run_sends_no_trigger_and_prints_the_body_and_the_key(job: Job) -> None:
    result = job.step(
        workflow="deploy-service",
        entity="service-frontend",
        initial_context="environment=prod",
        dry_run="true",
    )
    assert result.exit_code == 0, result.log
    assert job.triggers() == []
    key = result.outputs["idempotency-key"]
    assert key.startswith("cortex-action-0123456789ab-1-")
    assert result.outputs["status"] == "DRY_RUN"
    assert f"Idempotency-Key: {key}" in result.log
    assert "derived from commit 0123456789ab" in result.log
    assert '"entityId": "service-frontend"' in result.log
    assert '"environment": "prod"' in result.log
    assert "nothing was started" in result.log
    assert "dry run" in result.summary
    assert "not** sent" in result.summary
    assert [r.path for r in job.emu.requests] == [
        "/api/v1/workflows/deploy-service",
        "/api/v1/workflows/runs",
    ]


def test_a_dry_run_key_is_the_key_the_real_run_sends(job: Job) -> None:
    """A dry run in a pull request shows the key the real job will send for the same inputs."""
    dry = job.step(workflow="scaffold-repo", dry_run="true")
    real = job.step(workflow="scaffold-repo")
    assert real.exit_code == 0, real.log
    assert dry.outputs["idempotency-key"] == real.outputs["idempotency-key"]
    assert job.triggers()[0].headers["idempotency-key"] == dry.outputs["idempotency-key"]


def test_a_dry_run_refused_by_the_preflight_exits_2(job: Job) -> None:
    result = job.step(workflow="not-runnable", dry_run="true")
    assert result.exit_code == 2
    assert job.triggers() == []


def test_a_dry_run_whose_token_cannot_read_runs_exits_3(job: Job) -> None:
    result = job.step(token="emulator-no-access", workflow="deploy-service", dry_run="true")
    assert result.exit_code == 3, result.log
    assert "View workflow runs" in result.log
    assert job.triggers() == []


def test_the_dry_run_flag_with_json(job: Job) -> None:
    env = {"CORTEX_API_TOKEN": job.emu.token, "CORTEX_BASE_URL": job.emu.url, "GIT_COMMIT": SHA}
    result = invoke(
        env,
        ["run", "--workflow", "scaffold-repo", "--dry-run", "--json"],
        time=job.clock,
        now=job.now,
    )
    assert result.exit_code == 0, result.log
    printed = json.loads(result.stdout)
    assert printed["status"] == "DRY_RUN"
    assert printed["body"] == {"scope": {"type": "GLOBAL"}}
    assert job.triggers() == []


def test_a_dry_run_on_gitlab_leaves_its_outputs_in_the_result_files(job: Job) -> None:
    """On GitLab and Jenkins the result files are the outputs: a dry run wrote none, so a later
    job (or a person reading the artifacts) had no DRY_RUN status and no key."""
    folder = job.tmp_path / "gitlab"
    folder.mkdir()
    env = {
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(folder),
        "CI_COMMIT_SHA": SHA,
        "CORTEX_API_TOKEN": job.emu.token,
        "CORTEX_BASE_URL": job.emu.url,
        "CORTEX_WORKFLOW": "scaffold-repo",
        "CORTEX_DRY_RUN": "true",
    }
    result = invoke(env, time=job.clock, now=job.now)
    assert result.exit_code == 0, result.log
    assert job.triggers() == []
    dotenv = parse_gitlab_dotenv((folder / "cortex-action.env").read_bytes())
    assert dotenv["CORTEX_RUN_STATUS"] == "DRY_RUN"
    assert dotenv["CORTEX_RUN_IDEMPOTENCY_KEY"].startswith("cortex-action-")
    assert "CORTEX_RUN_ID" not in dotenv  # no run was started
    data = json.loads((folder / "cortex-action.json").read_text(encoding="utf-8"))
    assert data["status"] == "DRY_RUN"
    assert "dry run" in (folder / "cortex-action.md").read_text(encoding="utf-8")


# -- blocks, and the picture of the run ---------------------------------------------------------

ODD = "deploy: eu;west #1"


@pytest.fixture
def odd_job(tmp_path: Path) -> Iterator[Job]:
    """A three-block workflow whose middle block has a name full of Mermaid syntax."""
    yield from make_job(
        tmp_path,
        {
            "workflows": [
                {
                    "tag": "three-blocks",
                    "id": "wf0000000000000013",
                    "name": "Three blocks",
                    "scope": "GLOBAL",
                    "blocks": [
                        {"name": "build", "slug": "build", "duration": 1.0},
                        {"name": ODD, "slug": "deploy", "duration": 2.0},
                        {"name": "smoke <b>test</b>\n`x`", "slug": "smoke", "duration": 1.0},
                    ],
                }
            ]
        },
    )


def test_a_run_of_three_blocks_logs_each_start_and_end_and_draws_them(odd_job: Job) -> None:
    result = odd_job.step(workflow="three-blocks")
    assert result.exit_code == 0, result.log
    log = result.log
    for position, name in ((1, "build"), (2, ODD), (3, "smoke <b>test</b>")):
        assert f"Block {position}/3 {name}" in log
        started = [line for line in log.splitlines() if f"Block {position}/3" in line]
        assert len(started) == 2, started  # once started, once ended: no line repeated
        assert started[0].endswith(": started")
        assert "COMPLETED in" in started[1]
    assert "COMPLETED (was" in log  # the status-change lines are kept

    summary = result.summary
    chart = summary[summary.index("```mermaid") :]
    chart = chart[: chart.index("```", 3) + 3]
    assert summary.index("| # | Block |") < summary.index("```mermaid")  # under the table
    bars = [line for line in chart.splitlines() if re.search(r":(done|crit|active), b\d+,", line)]
    assert len(bars) == 3
    odd_bar = bars[1]
    label, _, tags = odd_bar.strip().partition(" :")
    # No colon but the one that ends the name, no statement end, no entity but Mermaid's own
    # codes, no markup: and Mermaid decodes the codes back into the name, exactly.
    bare = re.sub(r"#\d+;", "", label)
    assert ":" not in bare
    assert ";" not in bare
    assert "#" not in bare
    assert re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label) == f"2. {ODD}"
    assert tags.startswith("done, b2, ")
    assert "<" not in chart
    assert "`x`" not in chart
    start, end = (int(n) for n in tags.split(", ")[2:])
    assert end - start == 2000  # the block's own 2 s, from its timestamps


def test_a_failed_block_is_logged_with_its_error_and_marked_critical(job: Job) -> None:
    result = job.step(workflow="failing-deploy", entity="service-frontend")
    assert result.exit_code == 1
    assert "Block 2/3 Deploy: FAILED after 1.0s: Deployment failed" in result.log
    assert "Block 3/3" not in result.log  # never started
    assert re.search(r"2\. Deploy :crit, b2, \d+, \d+", result.summary)
    assert "3. Smoke test" not in result.summary


def test_wait_on_a_run_that_had_ended_reports_its_own_duration(job: Job) -> None:
    first = job.step(workflow="deploy-service", entity="service-frontend", wait="false")
    run_id = first.outputs["run-id"]
    job.clock.sleep(600)  # it ended long ago
    result = job.step(command="wait", workflow="deploy-service", run_id=run_id)
    assert result.exit_code == 0, result.log
    assert "COMPLETED in 4s" in result.log  # 0.5 s queued + 3.5 s of blocks, not 600 s
    assert "| Duration | 4s |" in result.summary


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_live_line_ticks_with_the_block_running_now(job: Job) -> None:
    env = {
        "CORTEX_API_TOKEN": job.emu.token,
        "CORTEX_BASE_URL": job.emu.url,
        "GIT_COMMIT": SHA,
        "TERM": "xterm",
        "NO_COLOR": "1",
    }
    err = Terminal()
    code = cli.main(
        ["run", "--workflow", "deploy-service", "--entity", "service-frontend"],
        env,
        out=io.StringIO(),
        err=err,
        clock=job.clock,
        sleep=job.clock.sleep,
        now=job.now,
    )
    assert code == 0, err.getvalue()
    live = [part.split("\n")[0] for part in err.getvalue().split("\r\x1b[2K")[1:]]
    ticks = [int(m.group(1)) for line in live if (m := re.match(r"\[\s*(\d+)s\]", line))]
    assert ticks == sorted(ticks)
    assert len(set(ticks)) >= 3
    assert any("(block 2/3 Deploy)" in line for line in live)
    assert max(job.clock.sleeps) <= 1.0  # a tick a second at most between redraws
    # The block lines and the status changes stay, each on its own line.
    lines = err.getvalue().split("\n")
    assert any(line.endswith("Block 2/3 Deploy: started") for line in lines)
    assert any("COMPLETED (was" in line for line in lines)


def test_on_github_no_line_is_repeated_without_news(job: Job) -> None:
    result = job.step(workflow="long-running", timeout="3m")
    assert result.exit_code == 4
    progress = [line for line in result.log.splitlines() if re.match(r"\[\s*\S+\]", line)]
    assert len(progress) == len(set(progress))
    heartbeats = [line for line in progress if " still " in line]
    assert 1 <= len(heartbeats) <= 3  # a minute apart, naming the block running now
    assert all("(block 1/1 " in line for line in heartbeats)


def test_wait_on_an_ended_run_without_timestamps_claims_no_duration(tmp_path: Path) -> None:
    """No timestamps: no duration at all, rather than the seconds spent looking."""
    from pytest_httpserver import HTTPServer

    with HTTPServer() as server:
        server.expect_request("/api/v1/workflows/deploy-service/runs/r1").respond_with_json(
            {"id": "r1", "status": "COMPLETED", "actions": [{"name": "a", "status": "COMPLETED"}]}
        )
        env = {"CORTEX_API_TOKEN": "tok-0123456789", "CORTEX_BASE_URL": server.url_for("/")}
        result = invoke(env, ["wait", "r1", "--workflow", "deploy-service", "--json"])
    assert result.exit_code == 0, result.stderr
    assert "Run r1 COMPLETED (it had already ended)." in result.stderr
    assert json.loads(result.stdout)["durationSeconds"] is None
    assert "Done: Run r1" in result.stderr
    assert "Block 1/1 a: COMPLETED\n" in result.stderr  # seen only ended: no made-up duration
