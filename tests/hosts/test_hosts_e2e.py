"""The real command, with each host's environment, against a Cortex-compatible server: the log
format, the exit code, and every result file read the way that host reads it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.readers import java_load_properties, parse_gitlab_dotenv, read_junit
from tests.support import HOSTILE_ERROR, SHA, EmulatedCortex

FILES = ("cortex-action.env", "cortex-action.json", "cortex-action.md", "cortex-action-junit.xml")
# GitLab also gets the annotations report that links the job page to the Cortex run.
GITLAB_FILES = (*FILES, "cortex-action-annotations.json")
SECTION_START = re.compile(
    r"\x1b\[0Ksection_start:(\d{10}):([A-Za-z0-9_.-]+)\[collapsed=true\]\r\x1b\[0K(.*)"
)
SECTION_END = re.compile(r"\x1b\[0Ksection_end:(\d{10}):([A-Za-z0-9_.-]+)\r\x1b\[0K")


def cortex_env(emulated: EmulatedCortex, workflow: str) -> dict[str, str]:
    return {
        "CORTEX_API_TOKEN": emulated.token,
        "CORTEX_BASE_URL": emulated.url,
        "CORTEX_WORKFLOW": workflow,
        "CORTEX_ENTITY": "service-frontend",
    }


def gitlab_env(emulated: EmulatedCortex, project: Path, workflow: str) -> dict[str, str]:
    return {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(project),
        "CI_COMMIT_SHA": SHA,
        "CI_JOB_URL": "https://gitlab.example.com/group/app/-/jobs/4242",
        **cortex_env(emulated, workflow),
    }


def jenkins_env(emulated: EmulatedCortex, workspace: Path, workflow: str) -> dict[str, str]:
    return {
        "JENKINS_URL": "https://jenkins.example.com/",
        "BUILD_URL": "https://jenkins.example.com/job/app/17/",
        "WORKSPACE": str(workspace),
        "GIT_COMMIT": SHA,
        **cortex_env(emulated, workflow),
    }


def load_json(folder: Path) -> dict[str, Any]:
    result = json.loads((folder / "cortex-action.json").read_text(encoding="utf-8"))
    assert isinstance(result, dict)
    return result


def check_sections(log: str) -> list[str]:
    """Every section that opens is closed, in order, with the same name; returns the titles."""
    opened = [(m.group(2), m.group(3)) for m in SECTION_START.finditer(log)]
    closed = [m.group(2) for m in SECTION_END.finditer(log)]
    assert opened, "no collapsible section in the log"
    assert [name for name, _ in opened] == closed
    return [title for _, title in opened]


# -- GitLab -------------------------------------------------------------------------------------


def test_gitlab_completed_run(emulated: EmulatedCortex, tmp_path: Path) -> None:
    result = emulated.run(["run", "--json"], gitlab_env(emulated, tmp_path, "deploy-service"))

    assert result.exit_code == 0, result.stderr
    log = result.stderr
    assert emulated.token not in log + result.stderr
    assert any("Request body" in title for title in check_sections(log))
    assert "\x1b[" in log  # GitLab shows colour
    assert f"Result files in {tmp_path}" in log
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(GITLAB_FILES)
    annotations = json.loads((tmp_path / "cortex-action-annotations.json").read_text("utf-8"))

    data = load_json(tmp_path)
    # The log is on stderr, so stdout is the result alone: `cortex-action --json > x.json`.
    assert json.loads(result.stdout) == data
    variables = parse_gitlab_dotenv((tmp_path / "cortex-action.env").read_bytes())
    assert variables == {
        "CORTEX_RUN_ID": data["runId"],
        "CORTEX_RUN_STATUS": "COMPLETED",
        "CORTEX_RUN_URL": data["runUrl"],
        "CORTEX_RUN_IDEMPOTENCY_KEY": data["idempotencyKey"],
        "CORTEX_RUN_REPLAYED": "false",
    }
    assert data["jobUrl"] == "https://gitlab.example.com/group/app/-/jobs/4242"
    # The job page links to the run (GitLab's annotations report format).
    assert annotations == {
        "cortex": [
            {
                "external_link": {
                    "label": f"Cortex run {data['runId']} (COMPLETED): deploy-service",
                    "url": data["runUrl"],
                }
            }
        ]
    }
    # The commit GitLab names is the one the idempotency key is made from.
    assert data["idempotencyKey"].startswith(f"cortex-action-{SHA[:12]}-")
    assert emulated.trigger["headers"]["idempotency-key"] == data["idempotencyKey"]

    _, cases = read_junit((tmp_path / "cortex-action-junit.xml").read_bytes())
    assert [(c.name, c.outcome) for c in cases] == [
        ("workflow run", "passed"),
        ("block 1: Build image", "passed"),
        ("block 2: Deploy", "passed"),
        ("block 3: Smoke test", "passed"),
    ]
    summary = (tmp_path / "cortex-action.md").read_text(encoding="utf-8")
    assert data["runId"] in summary
    assert "gitlab.example.com/group/app/-/jobs/4242" in summary


def test_gitlab_failed_run(emulated: EmulatedCortex, tmp_path: Path) -> None:
    result = emulated.run([], gitlab_env(emulated, tmp_path, "hostile-deploy"))

    assert result.exit_code == 1
    log = result.stderr
    check_sections(log)
    # EmulatedCortex's text is shown, but can't colour the log or forge a section.
    assert "Rollout <failed>" in log
    assert "\x1b[31m red" not in log
    assert not re.search(r"\x1b\[0Ksection_end:1:x", log)
    assert re.search(r"\x1b\[31mError: .*Run [0-9a-f-]+ ended FAILED", log)

    data = load_json(tmp_path)
    variables = parse_gitlab_dotenv((tmp_path / "cortex-action.env").read_bytes())
    assert variables["CORTEX_RUN_STATUS"] == "FAILED"
    assert variables["CORTEX_RUN_ID"] == data["runId"]
    assert data["exitCode"] == 1

    _, cases = read_junit((tmp_path / "cortex-action-junit.xml").read_bytes())
    outcomes = {c.name: c for c in cases}
    assert outcomes["workflow run"].outcome == "failure"
    deploy = outcomes["block 2: Deploy <prod>"]
    assert deploy.outcome == "failure"
    # The whole message survives XML, with only what XML can't carry made visible.
    assert deploy.text == HOSTILE_ERROR.replace("\x1b", "\\x1b")
    assert deploy.message is not None
    assert 'Rollout <failed> & "stopped"' in deploy.message
    assert outcomes["block 3: Notify"].outcome == "skipped"


def test_gitlab_output_dir_is_relative_to_the_project(
    emulated: EmulatedCortex, tmp_path: Path
) -> None:
    env = gitlab_env(emulated, tmp_path, "deploy-service") | {"CORTEX_OUTPUT_DIR": "reports/cortex"}

    result = emulated.run([], env)

    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "reports" / "cortex").iterdir()) == sorted(
        GITLAB_FILES
    )
    assert not (tmp_path / "cortex-action.json").exists()


def test_gitlab_no_color(emulated: EmulatedCortex, tmp_path: Path) -> None:
    env = gitlab_env(emulated, tmp_path, "hostile-deploy") | {"NO_COLOR": "1"}

    result = emulated.run([], env)

    assert result.exit_code == 1
    check_sections(result.stderr)  # sections still fold; only colour is gone
    assert not re.search(r"\x1b\[[0-9;]*m", result.stderr)


# -- Jenkins ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [("deploy-service", 0, "COMPLETED"), ("hostile-deploy", 1, "FAILED")],
    ids=["completed", "failed"],
)
def test_jenkins_run(
    emulated: EmulatedCortex,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    case: tuple[str, int, str],
) -> None:
    workflow, code, status = case
    result = emulated.run([], jenkins_env(emulated, tmp_path, workflow))

    assert result.exit_code == code
    log = result.stderr
    assert "\x1b" not in log, "the Jenkins console shows no ANSI without a plugin"
    assert emulated.token not in log + result.stderr
    assert "Request body" in log
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)

    data = load_json(tmp_path)  # readJSON
    assert data["status"] == status
    assert data["jobUrl"] == "https://jenkins.example.com/job/app/17/"
    assert data["idempotencyKey"].startswith(f"cortex-action-{SHA[:12]}-")
    properties = java_load_properties(tmp_path / "cortex-action.env", tmp_path_factory)
    assert properties == {
        "CORTEX_RUN_ID": data["runId"],
        "CORTEX_RUN_STATUS": status,
        "CORTEX_RUN_URL": data["runUrl"],
        "CORTEX_RUN_IDEMPOTENCY_KEY": data["idempotencyKey"],
        "CORTEX_RUN_REPLAYED": "false",
    }
    _, cases = read_junit((tmp_path / "cortex-action-junit.xml").read_bytes())
    assert cases[0].name == "workflow run"
    assert cases[0].outcome == ("passed" if code == 0 else "failure")


def test_jenkins_colour_with_ansicolor(emulated: EmulatedCortex, tmp_path: Path) -> None:
    env = jenkins_env(emulated, tmp_path, "hostile-deploy") | {"TERM": "xterm"}

    result = emulated.run([], env)

    assert result.exit_code == 1
    assert "\x1b[31mError: " in result.stderr
    assert "section_start" not in result.stderr


# -- local shell and unknown CIs ----------------------------------------------------------------


def test_local_writes_files_only_with_output_dir(emulated: EmulatedCortex, tmp_path: Path) -> None:
    env = cortex_env(emulated, "deploy-service") | {"CI": "true", "GIT_COMMIT": SHA}

    without = emulated.run(["run", "--json"], env)
    assert without.exit_code == 0
    assert "Result files" not in without.stderr

    folder = tmp_path / "out"
    result = emulated.run(["run", "--json", "--output-dir", str(folder)], env)

    assert result.exit_code == 0
    assert "\x1b" not in result.stderr, "not a terminal: plain lines"
    assert f"Result files in {folder}" in result.stderr
    printed = json.loads(result.stdout)
    assert printed == load_json(folder)
    variables = parse_gitlab_dotenv((folder / "cortex-action.env").read_bytes())
    assert variables["CORTEX_RUN_ID"] == printed["runId"]


def test_github_writes_files_only_with_output_dir(emulated: EmulatedCortex, tmp_path: Path) -> None:
    outputs = tmp_path / "github_output"
    outputs.touch()
    env = cortex_env(emulated, "deploy-service") | {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": SHA,
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_OUTPUT": str(outputs),
    }

    result = emulated.run([], env)
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["github_output"]

    result = emulated.run([], env | {"INPUT_OUTPUT-DIR": "cortex"})
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "cortex").iterdir()) == sorted(FILES)
    assert "run-id<<" in outputs.read_text(encoding="utf-8")


def test_gitlab_timeout_still_leaves_every_file(emulated: EmulatedCortex, tmp_path: Path) -> None:
    env = gitlab_env(emulated, tmp_path, "needs-approval") | {"CORTEX_TIMEOUT": "20s"}
    del env["CORTEX_ENTITY"]  # a GLOBAL workflow

    result = emulated.run([], env)

    assert result.exit_code == 4
    data = load_json(tmp_path)
    assert data["status"] == "PAUSED"
    variables = parse_gitlab_dotenv((tmp_path / "cortex-action.env").read_bytes())
    assert variables["CORTEX_RUN_STATUS"] == "PAUSED"
    _, cases = read_junit((tmp_path / "cortex-action-junit.xml").read_bytes())
    # Not seeing the end is an error of the job, not a failure of the run.
    assert cases[0].outcome == "error"


def test_unwritable_result_folder_is_a_warning(emulated: EmulatedCortex, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder", encoding="utf-8")
    env = gitlab_env(emulated, tmp_path, "deploy-service") | {"CORTEX_OUTPUT_DIR": "taken"}

    result = emulated.run([], env)

    assert result.exit_code == 0
    assert "Warning: Result files: Could not write the result files" in result.stderr


def test_gitlab_get_of_a_failed_run_leaves_the_same_files(
    emulated: EmulatedCortex, tmp_path: Path
) -> None:
    env = gitlab_env(emulated, tmp_path, "failing-deploy")
    assert emulated.run([], env).exit_code == 1
    run_id = load_json(tmp_path)["runId"]
    for path in tmp_path.iterdir():
        path.unlink()

    result = emulated.run(["get", run_id], env)

    assert result.exit_code == 0  # get answers; the run's state is in the files
    variables = parse_gitlab_dotenv((tmp_path / "cortex-action.env").read_bytes())
    assert variables["CORTEX_RUN_ID"] == run_id
    assert variables["CORTEX_RUN_STATUS"] == "FAILED"
    _, cases = read_junit((tmp_path / "cortex-action-junit.xml").read_bytes())
    assert cases[0].outcome == "failure"
    assert any(c.outcome == "failure" and c.name == "block 2: Deploy" for c in cases)
