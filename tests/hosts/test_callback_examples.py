"""The callback examples (a GitHub workflow_dispatch workflow, a GitLab triggered pipeline, a
Jenkins parameterised job): linted, checked against the rules they rely on, and their callback
steps run against the emulator's `await-callback` workflow as the host would run them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from cortex_action.emulator import EmulatorServer
from cortex_action.inputs import INPUTS
from tests.support import invoke

from .test_examples import EXAMPLES, ROOT, load_yaml, matches_schema, passes, tool

GITHUB = "github-callback.yml"
GITLAB = "gitlab-callback.yml"
JENKINS = "Jenkinsfile.callback"
SHA = "89abcdef0123456789abcdef0123456789abcdef"


def cortex_names() -> set[str]:
    return {f"CORTEX_{spec.field.upper()}" for spec in INPUTS} | {
        alias for spec in INPUTS for alias in spec.aliases
    }


def paused_run(emu: EmulatorServer) -> tuple[str, str]:
    """A run of await-callback whose async HTTP block waits: its id and the callback id."""
    env = {"CORTEX_API_TOKEN": emu.token, "CORTEX_BASE_URL": emu.url, "GIT_COMMIT": SHA}
    result = invoke(env, ["run", "--workflow", "await-callback", "--no-wait", "--json"])
    assert result.exit_code == 0, result.log
    run_id = re.search(r'"runId": "([^"]+)"', result.stdout)
    assert run_id
    return run_id.group(1), emu.wait_for_callback(run_id.group(1), timeout=10)


# -- GitHub Actions -----------------------------------------------------------------------------


def test_github_callback_example_passes_actionlint_and_the_schema() -> None:
    passes(tool("actionlint"), "-no-color", str(EXAMPLES / GITHUB))
    matches_schema("vendor.github-workflows", GITHUB)


def test_github_callback_example_passes_zizmor() -> None:
    passes(tool("zizmor"), "--offline", "--no-progress", str(EXAMPLES / GITHUB))


def github_steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = load_yaml(GITHUB)["jobs"]["build"]["steps"]
    return steps


def test_github_callback_example_follows_the_rules_it_relies_on() -> None:
    """Dispatched with the two inputs; the last step always runs and passes job.status via env:
    (no expression is pasted into a script); only declared inputs are used."""
    workflow: dict[Any, Any] = load_yaml(GITHUB)
    # PyYAML reads the key `on` as True.
    dispatch = workflow[True]["workflow_dispatch"]["inputs"]
    assert {"callback-id", "workflow"} <= set(dispatch)
    steps = github_steps()
    ours = [s for s in steps if str(s.get("uses", "")).startswith("OWNER/cortex-action@")]
    last = ours[-1]
    assert last is steps[-1]
    assert last["if"] == "always()"
    assert last["env"]["CORTEX_CALLBACK_STATUS"] == "${{ job.status }}"
    declared = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))["inputs"]
    for step in ours:
        assert set(step["with"]) <= set(declared)
        assert step["with"]["command"] == "callback"
        assert set(step.get("env", {})) <= cortex_names()
    for step in steps:
        assert "${{" not in str(step.get("run", ""))


def run_github_step(
    emu: EmulatorServer, tmp_path: Path, step: dict[str, Any], values: dict[str, str]
) -> int:
    """The step as the runner runs a Docker action: every declared input, then its env:."""
    action = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))

    def evaluate(value: object) -> str:
        def one(match: re.Match[str]) -> str:
            assert match.group(1) in values, f"unknown expression {match.group(1)}"
            return values[match.group(1)]

        return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", one, str(value))

    (tmp_path / "out").write_text("")
    (tmp_path / "summary").write_text("")
    env = {
        f"INPUT_{name.upper()}": evaluate(step["with"].get(name, spec.get("default", "")))
        for name, spec in action["inputs"].items()
    }
    env |= {k: evaluate(v) for k, v in step.get("env", {}).items()}
    env |= {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": SHA,
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "INPUT_BASE-URL": emu.url,
    }
    result = invoke(env)
    return result.exit_code


def test_github_callback_example_runs(emulator: EmulatorServer, tmp_path: Path) -> None:
    """The update step keeps the block waiting; the last step resumes it and the run ends."""
    run_id, callback_id = paused_run(emulator)
    values = {
        "inputs.workflow": "await-callback",
        "inputs.callback-id": callback_id,
        "secrets.CORTEX_API_TOKEN": emulator.token,
        "job.status": "success",
    }
    first, *_, last = [s for s in github_steps() if "uses" in s]
    assert run_github_step(emulator, tmp_path, first, values) == 0
    block = next(a for a in emulator.run(run_id)["actions"] if a["state"].get("callbackId"))
    assert [u["message"] for u in block["state"]["updates"]] == ["Build started"]
    assert run_github_step(emulator, tmp_path, last, values) == 0
    emulator.wait_for_status(run_id, "COMPLETED", timeout=10)


# -- GitLab CI ----------------------------------------------------------------------------------


def test_gitlab_callback_example_matches_the_gitlab_ci_schema() -> None:
    matches_schema("vendor.gitlab-ci", GITLAB)


def test_gitlab_callback_example_runs_its_after_script(emulator: EmulatorServer) -> None:
    """after_script passes CI_JOB_STATUS as GitLab sets it: `failed` fails the block and run."""
    job = load_yaml(GITLAB)["build-for-cortex"]
    assert "trigger" in job["rules"][0]["if"]
    (command,) = job["after_script"]
    argv = shlex.split(command.replace('"$CI_JOB_STATUS"', "failed"))
    assert argv[:2] == ["cortex-action", "callback"]
    run_id, callback_id = paused_run(emulator)
    env = {
        "GITLAB_CI": "true",
        "CI_JOB_URL": "https://gitlab.example.com/acme/app/-/jobs/7",
        "CI_JOB_NAME": "build-for-cortex",
        "CI_COMMIT_SHA": SHA,
        "CORTEX_API_TOKEN": emulator.token,
        "CORTEX_BASE_URL": emulator.url,
        # The trigger's variables, as the Cortex block sends them.
        "CORTEX_CALLBACK_ID": callback_id,
        "CORTEX_WORKFLOW": "await-callback",
    }
    result = invoke(env, argv[1:])
    assert result.exit_code == 0, result.log
    run = emulator.wait_for_status(run_id, "FAILED", timeout=10)
    block = next(a for a in run["actions"] if a["state"].get("callbackId"))
    assert block["state"]["errorMessage"] == (
        "GitLab CI job build-for-cortex ended: failed: https://gitlab.example.com/acme/app/-/jobs/7"
    )


# -- Jenkins ------------------------------------------------------------------------------------


def test_jenkins_callback_example_uses_names_the_tool_reads() -> None:
    text = (EXAMPLES / JENKINS).read_text(encoding="utf-8")
    parameters = set(re.findall(r"string\(name: '([A-Z_]+)'", text))
    assert parameters == {"CORTEX_CALLBACK_ID", "CORTEX_WORKFLOW"}
    assert parameters <= cortex_names()
    assert "CORTEX_CALLBACK_STATUS=${status}" in text
    assert "sh 'cortex-action callback'" in text  # single quotes: Groovy interpolates nothing
    assert re.search(r"post \{\s*always \{", text)
