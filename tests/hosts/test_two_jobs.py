"""Issue 11's GitLab pipeline: job 1 deploys service-frontend and leaves its dotenv report; job 2
(`needs: [job1]`) deploys service-backend with its own per-job key. GitLab gives the variables of
a dotenv report precedence over the job's own `variables:`, so whatever job 1's file exports
reaches job 2's environment last. Job 2 must start its own run and follow it, and a trigger
answered with the other job's run must end with exit 3, never 0."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.readers import parse_gitlab_dotenv
from tests.support import EmulatedCortex, Outcome, emulated_cortex

SHA = "0123456789abcdef0123456789abcdef01234567"
PER_JOB_KEY = "deploy-$CI_COMMIT_SHA-$CI_JOB_ID"  # docs/hosts.md's per-job key


def expand(text: str, variables: dict[str, str]) -> str:
    """GitLab's expansion of $NAME and ${NAME}."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m.group(1), ""), text)


def gitlab_job(
    emulated: EmulatedCortex,
    folder: Path,
    *,
    job_id: str,
    entity: str,
    inherited: dict[str, str] | None = None,
) -> Outcome:
    """One job: GitLab's predefined variables, the job's `variables:`, then the dotenv report
    of the job it needs (which wins over the job's own)."""
    folder.mkdir()
    predefined = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(folder),
        "CI_COMMIT_SHA": SHA,
        "CI_JOB_ID": job_id,
        "CI_PIPELINE_ID": "900",
        "CI_JOB_URL": f"https://gitlab.example.com/group/app/-/jobs/{job_id}",
    }
    job_variables = {
        "CORTEX_WORKFLOW": "deploy-service",
        "CORTEX_ENTITY": entity,
        "CORTEX_IDEMPOTENCY_KEY": expand(PER_JOB_KEY, predefined),
    }
    project = {"CORTEX_API_TOKEN": emulated.token, "CORTEX_BASE_URL": emulated.url}
    env = predefined | job_variables | project | (inherited or {})
    return emulated.run([], env)


def test_two_jobs_two_entities_start_two_runs_and_each_follows_its_own(
    emulated: EmulatedCortex, tmp_path: Path
) -> None:
    job1 = gitlab_job(emulated, tmp_path / "job1", job_id="101", entity="service-frontend")
    assert job1.exit_code == 0, job1.stderr
    report = parse_gitlab_dotenv((tmp_path / "job1" / "cortex-action.env").read_bytes())
    # No input reads what the report exports: nothing of job 1 steers job 2's trigger.
    assert "CORTEX_IDEMPOTENCY_KEY" not in report
    assert report["CORTEX_RUN_IDEMPOTENCY_KEY"] == f"deploy-{SHA}-101"

    before = len(emulated.requests)
    job2 = gitlab_job(
        emulated, tmp_path / "job2", job_id="102", entity="service-backend", inherited=report
    )
    assert job2.exit_code == 0, job2.stderr
    mine = parse_gitlab_dotenv((tmp_path / "job2" / "cortex-action.env").read_bytes())

    runs = {run["id"]: run for run in emulated.emulator.runs}
    assert len(runs) == 2
    assert runs[report["CORTEX_RUN_ID"]]["scope"]["entityId"] == "service-frontend"
    assert runs[mine["CORTEX_RUN_ID"]]["scope"]["entityId"] == "service-backend"
    keys = [r["headers"]["idempotency-key"] for r in emulated.requests if r["method"] == "POST"]
    assert keys == [f"deploy-{SHA}-101", f"deploy-{SHA}-102"]
    # Job 2 polled only its own run.
    polled = {
        r["path"].rsplit("/", 1)[-1]
        for r in emulated.requests[before:]
        if r["method"] == "GET" and "/runs/" in r["path"]
    }
    assert polled == {mine["CORTEX_RUN_ID"]}
    assert mine["CORTEX_RUN_REPLAYED"] == "false"


def run_reads(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The GETs of runs (not of the workflow's definition, which the preflight reads)."""
    return [r for r in requests if r["method"] == "GET" and "/runs/" in r["path"]]


@pytest.mark.parametrize("conflict", ["cached", "409"])
def test_job_1s_key_fed_back_to_job_2_never_exits_0(tmp_path: Path, conflict: str) -> None:
    """A dotenv report as earlier builds wrote it (the key under the input's own variable):
    job 2 sends job 1's key. Whether Cortex answers with job 1's run (`cached`) or refuses the
    reused key (409), job 2 ends with exit 3 and follows nothing."""
    with emulated_cortex({"behaviour": {"idempotency": {"conflict": conflict}}}) as emulated:
        job1 = gitlab_job(emulated, tmp_path / "job1", job_id="101", entity="service-frontend")
        assert job1.exit_code == 0
        report = parse_gitlab_dotenv((tmp_path / "job1" / "cortex-action.env").read_bytes())
        old_style = report | {"CORTEX_IDEMPOTENCY_KEY": report["CORTEX_RUN_IDEMPOTENCY_KEY"]}
        polls_before = len(run_reads(emulated.requests))

        job2 = gitlab_job(
            emulated, tmp_path / "job2", job_id="102", entity="service-backend", inherited=old_style
        )

        assert job2.exit_code == 3, job2.stderr
        assert len(run_reads(emulated.requests)) == polls_before  # the foreign run: never polled
        assert f"deploy-{SHA}-101" in job2.stderr  # the key is named
        if conflict == "cached":
            assert "Cortex answered with another run" in job2.stderr
            assert "not service-backend" in job2.stderr
        else:
            assert "Idempotency-Key reused with a different request" in job2.stderr
        assert len(emulated.emulator.runs) == 1
