"""The action's `command` input: each mode from the inputs GitHub sets, as action.yml declares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer

from cortex_action.inputs import BY_NAME
from tests.support import github_env, invoke, tagged_run

ACTION = yaml.safe_load((Path(__file__).parents[2] / "action.yml").read_text("utf-8"))
INPUTS: dict[str, Any] = ACTION["inputs"]
RUN_ID = "3f0c9a52-3333-4c1e-9d5e-000000000003"


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_every_declared_input_is_read(name: str) -> None:
    """Each input in action.yml is a setting, so none is silently ignored."""
    assert name in BY_NAME


@pytest.mark.parametrize("name", ["command", "run-id", "started-after", "status", "limit"])
def test_new_inputs_are_documented(name: str) -> None:
    """The monitor inputs have a description and a default in action.yml."""
    assert INPUTS[name]["description"]
    assert "default" in INPUTS[name]


def test_outputs_runs_and_count_are_declared() -> None:
    """list's outputs are declared for workflows that read them."""
    assert {"runs", "count"} <= set(ACTION["outputs"])


def test_list_mode_with_every_other_input_empty(api: HTTPServer, tmp_path: Path) -> None:
    """command: list with every other input empty uses the code's defaults (limit 50)."""
    api.expect_request("/api/v1/workflows/runs").respond_with_json(
        {"content": [tagged_run("r1", "COMPLETED")], "last": True}
    )
    result = invoke(github_env(tmp_path, api, workflow="", command="list"))
    assert result.exit_code == 0, result.stdout
    ((request, _),) = api.log
    assert request.args["size"] == "50"
    assert result.outputs["count"] == "1"


def test_get_mode_reads_the_underscore_spelling(api: HTTPServer, tmp_path: Path) -> None:
    """INPUT_RUN_ID (underscore) works as INPUT_RUN-ID does."""
    api.expect_request(f"/api/v1/workflows/deploy-service/runs/{RUN_ID}").respond_with_json(
        tagged_run(RUN_ID, "IN_PROGRESS")
    )
    env = github_env(tmp_path, api, command="get", workflow="deploy-service")
    env["INPUT_RUN_ID"] = RUN_ID
    result = invoke(env)
    assert result.exit_code == 0, result.stdout
    assert result.outputs["status"] == "IN_PROGRESS"
    assert json.loads(result.outputs["result"])["id"] == RUN_ID


@pytest.mark.parametrize("command", ["get", "wait"])
def test_modes_that_read_a_run_need_run_id(api: HTTPServer, tmp_path: Path, command: str) -> None:
    """get and wait without run-id are exit 2, naming the input; nothing is sent."""
    result = invoke(github_env(tmp_path, api, command=command, workflow="deploy-service"))
    assert result.exit_code == 2
    assert f"run-id: required for command {command}" in result.stdout
    assert api.log == []


def test_unknown_command_is_exit_2(api: HTTPServer, tmp_path: Path) -> None:
    """A command that doesn't exist is exit 2 listing the ones that do."""
    result = invoke(github_env(tmp_path, api, command="cancel", workflow="x"))
    assert result.exit_code == 2
    assert "command: expected 'run', 'get', 'wait', 'list' or 'callback'" in result.stdout
    assert api.log == []


def test_command_is_case_insensitive(api: HTTPServer, tmp_path: Path) -> None:
    """`command: List` is list."""
    api.expect_request("/api/v1/workflows/runs").respond_with_json({"runs": []})
    result = invoke(github_env(tmp_path, api, workflow="", command=" List "))
    assert result.exit_code == 0, result.stdout
    assert result.outputs["count"] == "0"
