"""docs/hosts.md, "Deploy the same commit again on purpose": each host's line, as written
there, run against the emulator. Two pipelines for one commit start two runs; the same pipeline
again gets its run back, and says so."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from cortex_action.hosts.github import parse_outputs
from tests.readers import parse_gitlab_dotenv
from tests.support import EmulatedCortex

ROOT = Path(__file__).resolve().parents[2]
SHA = "fedcba9876543210fedcba9876543210fedcba98"


def section() -> str:
    text = (ROOT / "docs" / "hosts.md").read_text(encoding="utf-8")
    start = text.index("### Deploy the same commit again on purpose")
    return text[start : text.index("\n## ", start)]


def documented(pattern: str) -> str:
    found = re.search(pattern, section())
    assert found, f"docs/hosts.md no longer shows {pattern}"
    return found.group(1)


def github_key(run_id: str) -> str:
    """GitHub's `${{ github.X }}` expressions, evaluated."""
    context = {"github.run_id": run_id, "github.run_attempt": "1", "github.sha": SHA}
    template = documented(r"idempotency-key: (.+)")
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: context[m.group(1)], template)


def gitlab_key(pipeline_id: str) -> str:
    variables = {"CI_COMMIT_SHA": SHA, "CI_PIPELINE_ID": pipeline_id}
    template = documented(r'CORTEX_IDEMPOTENCY_KEY: "([^"]+)"')
    return re.sub(r"\$\{?(\w+)\}?", lambda m: variables[m.group(1)], template)


def jenkins_key(build: str) -> str:
    """A Groovy GString's `${env.X}`, evaluated."""
    env = {"BUILD_TAG": f"jenkins-app-{build}", "GIT_COMMIT": SHA, "BUILD_NUMBER": build}
    template = documented(r'CORTEX_IDEMPOTENCY_KEY = "([^"]+)"')
    return re.sub(r"\$\{env\.(\w+)\}", lambda m: env[m.group(1)], template)


COMMON = {"CORTEX_WORKFLOW": "deploy-service", "CORTEX_ENTITY": "service-frontend"}


def on_github(emulated: EmulatedCortex, folder: Path, pipeline: str) -> dict[str, str]:
    out = folder / "github_output"
    out.write_text("")
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": SHA,
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_OUTPUT": str(out),
        "INPUT_API-TOKEN": emulated.token,
        "INPUT_BASE-URL": emulated.url,
        "INPUT_WORKFLOW": "deploy-service",
        "INPUT_ENTITY": "service-frontend",
        "INPUT_IDEMPOTENCY-KEY": github_key(pipeline),
    }
    result = emulated.run([], env)
    assert result.exit_code == 0, result.stdout
    outputs = parse_outputs(out.read_text(encoding="utf-8"))
    return {"id": outputs["run-id"], "replayed": outputs["replayed"]}


def on_gitlab(emulated: EmulatedCortex, folder: Path, pipeline: str) -> dict[str, str]:
    env = {
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(folder),
        "CI_COMMIT_SHA": SHA,
        "CI_PIPELINE_ID": pipeline,
        "CORTEX_API_TOKEN": emulated.token,
        "CORTEX_BASE_URL": emulated.url,
        "CORTEX_IDEMPOTENCY_KEY": gitlab_key(pipeline),
        **COMMON,
    }
    result = emulated.run([], env)
    assert result.exit_code == 0, result.stderr
    dotenv = parse_gitlab_dotenv((folder / "cortex-action.env").read_bytes())
    return {"id": dotenv["CORTEX_RUN_ID"], "replayed": dotenv["CORTEX_RUN_REPLAYED"]}


def on_jenkins(emulated: EmulatedCortex, folder: Path, build: str) -> dict[str, str]:
    env = {
        "JENKINS_URL": "https://jenkins.example.com/",
        "WORKSPACE": str(folder),
        "GIT_COMMIT": SHA,
        "CORTEX_API_TOKEN": emulated.token,
        "CORTEX_BASE_URL": emulated.url,
        "CORTEX_IDEMPOTENCY_KEY": jenkins_key(build),
        **COMMON,
    }
    result = emulated.run([], env)
    assert result.exit_code == 0, result.stderr
    # As the Jenkinsfile example reads it (readJSON); the properties file carries the same.
    data = json.loads((folder / "cortex-action.json").read_text(encoding="utf-8"))
    return {"id": data["runId"], "replayed": str(data["replayed"]).lower()}


HOSTS: dict[str, Callable[[EmulatedCortex, Path, str], dict[str, str]]] = {
    "github": on_github,
    "gitlab": on_gitlab,
    "jenkins": on_jenkins,
}


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_a_new_pipeline_deploys_the_same_commit_again(
    emulated: EmulatedCortex, tmp_path: Path, host: str
) -> None:
    def pipeline(name: str, number: str) -> dict[str, str]:
        folder = tmp_path / name
        folder.mkdir()
        return HOSTS[host](emulated, folder, number)

    first = pipeline("p1", "1001")
    second = pipeline("p2", "1002")
    again = pipeline("p2-retried", "1002")
    assert first["replayed"] == second["replayed"] == "false"
    assert first["id"] != second["id"]
    assert again == {"id": second["id"], "replayed": "true"}
    assert len(emulated.emulator.runs) == 2
