"""On Jenkins the result files are rewritten at every status change: an aborted build (no SIGTERM
reaches the step) still leaves the last known state for `post { always { } }`."""

from __future__ import annotations

import io
from pathlib import Path

import httpx

from cortex_action.cli import main
from tests.readers import parse_gitlab_dotenv
from tests.support import SHA, TOKEN, FakeTime, with_definition


def test_result_files_follow_each_status_change_on_jenkins(tmp_path: Path) -> None:
    """While the run is IN_PROGRESS the env file already names it, with that status; the end
    replaces it with COMPLETED."""
    statuses = iter(["IN_PROGRESS", "IN_PROGRESS", "COMPLETED"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"id": "run-9", "status": "NOT_INITIATED"})
        return httpx.Response(200, json={"id": "run-9", "status": next(statuses)})

    env = {
        "JENKINS_URL": "https://jenkins.example.com/",
        "BUILD_URL": "https://jenkins.example.com/job/deploy/7/",
        "WORKSPACE": str(tmp_path),
        "GIT_COMMIT": SHA,
        "CORTEX_API_TOKEN": TOKEN,
        "CORTEX_BASE_URL": "https://api.example.com",
        "CORTEX_WORKFLOW": "deploy-service",
    }
    seen: list[dict[str, str]] = []
    time = FakeTime()

    def sleep(seconds: float) -> None:
        env_file = tmp_path / "cortex-action.env"
        if env_file.exists():
            seen.append(parse_gitlab_dotenv(env_file.read_bytes()))
        time.sleep(seconds)

    code = main(
        [],
        env,
        out=io.StringIO(),
        err=io.StringIO(),
        transport=httpx.MockTransport(with_definition(handler)),
        clock=time.clock,
        sleep=sleep,
    )
    assert code == 0
    assert seen, "no result file while the run was followed"
    assert seen[0]["CORTEX_RUN_ID"] == "run-9"
    assert {s["CORTEX_RUN_STATUS"] for s in seen} <= {"NOT_INITIATED", "IN_PROGRESS"}
    final = parse_gitlab_dotenv((tmp_path / "cortex-action.env").read_bytes())
    assert final["CORTEX_RUN_STATUS"] == "COMPLETED"
