"""The built image, run the ways users run it, each against the emulator on the host's loopback:
(a) as GitHub runs a Docker action, (b) as GitLab runs an ``image:``, (c) as Jenkins'
``docker.image(...).inside`` does, (d) the failure path, (e) the emulator itself from the image
(a service container); and what the image holds.

Marked ``image``: ``.ci/image.sh`` builds the image (podman, no Docker engine) and then runs
``pytest -m image`` with podman configured for this machine. Elsewhere, without podman or the
image ``CORTEX_IMAGE`` (default ``localhost/cortex-action:ci``), these tests are skipped;
``CORTEX_REQUIRE_IMAGE=1`` (set by .ci/image.sh) makes them fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.readers import parse_github_outputs
from tests.support import SHA, runner_inputs, start_emulator_process, wait_for_emulator

IMAGE = os.environ.get("CORTEX_IMAGE", "localhost/cortex-action:ci")
# The emulator's built-in token: not a secret.
EMULATOR_TOKEN = "emulator-token"


def _image_present() -> bool:
    if shutil.which("podman") is None:
        return False
    found = subprocess.run(["podman", "image", "exists", IMAGE], capture_output=True, check=False)
    return found.returncode == 0


pytestmark = [
    pytest.mark.image,
    pytest.mark.slow,
    # One emulator for the module, and podman's store is shared: one worker runs them all.
    pytest.mark.xdist_group("image"),
    # .ci/image.sh sets CORTEX_REQUIRE_IMAGE=1: there a missing image fails instead.
    pytest.mark.skipif(
        os.environ.get("CORTEX_REQUIRE_IMAGE") != "1" and not _image_present(),
        reason=f"no podman or no image {IMAGE}",
    ),
]


@dataclass
class Ran:
    code: int
    log: str


def podman(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Ran:
    """``podman ARGS``, stdout and stderr together; the log is printed for the test report."""
    done = subprocess.run(
        ["podman", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    print(done.stdout)
    return Ran(done.returncode, done.stdout)


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    """The emulator in its own process on the host's loopback, healthy."""
    with start_emulator_process() as url:
        yield url


@dataclass
class GitHubStep:
    """One step run as GitHub's runner runs a Docker action, and what it left behind."""

    ran: Ran
    outputs: dict[str, str]
    summary: str


def github_run(tmp_path: Path, url: str, name: str, workflow: str, entity: str) -> GitHubStep:
    """The runner's ``docker run``: every declared input as INPUT_<NAME> (hyphens kept, defaults
    from action.yml), the token passed with ``-e NAME`` from the environment, the rest with
    --env-file, the workspace and file_commands mounted as the runner mounts them."""
    home, commands, workspace = (tmp_path / d for d in ("home", "file_commands", "workspace"))
    for folder in (home, commands, workspace):
        folder.mkdir()
    (commands / f"set_output_{name}").write_text("")
    (commands / f"step_summary_{name}").write_text("")
    inputs = runner_inputs(
        base_url=url,
        workflow=workflow,
        entity=entity,
        initial_context='{"environment": "ci", "version": "1.2.3"}',
        timeout="2m",
    )
    del inputs["INPUT_API-TOKEN"]
    github = {
        "HOME": "/github/home",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": f"/github/file_commands/set_output_{name}",
        "GITHUB_STEP_SUMMARY": f"/github/file_commands/step_summary_{name}",
        "GITHUB_WORKSPACE": "/github/workspace",
        "GITHUB_SHA": SHA,
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_REPOSITORY": "example/cortex-action",
        "GITHUB_SERVER_URL": "https://github.com",
        "RUNNER_TEMP": "/github/runner_temp",
    }
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in (inputs | github).items()))
    ran = podman(
        "run", "--rm", "--network", "host", "--name", f"cortex-gh-{name}",
        "--workdir", "/github/workspace",
        "-e", "INPUT_API-TOKEN", "--env-file", str(env_file),
        "-v", f"{home}:/github/home", "-v", f"{commands}:/github/file_commands",
        "-v", f"{workspace}:/github/workspace",
        IMAGE,
        env={"INPUT_API-TOKEN": EMULATOR_TOKEN},
    )  # fmt: skip
    return GitHubStep(
        ran,
        parse_github_outputs((commands / f"set_output_{name}").read_text("utf-8")),
        (commands / f"step_summary_{name}").read_text("utf-8"),
    )


def test_image_contents() -> None:
    """cortex-action on PATH, no pip/tests/caches/sources, exec-form entrypoint, no USER."""
    assert podman("run", "--rm", IMAGE, "--version").code == 0
    checks = """
        set -e
        test ! -e /opt/venv/bin/pip
        for d in /opt/venv/lib/python3*/site-packages; do test ! -e "$d/tests"; done
        test -z "$(find /opt /app \\( -name "*.whl" -o -name .cache -o -name "*.egg-info" \\) | head -n1)"
        test ! -e /src
        command -v cortex-action
    """  # noqa: E501
    assert podman("run", "--rm", "--entrypoint", "/bin/sh", IMAGE, "-c", checks).code == 0
    fmt = "{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.WorkingDir}}|{{.Config.User}}"
    entry = podman("image", "inspect", IMAGE, "--format", fmt).log.strip()
    assert entry.startswith('["/opt/venv/bin/python","/app/entrypoint.py"] '), entry
    assert entry.endswith("|"), entry


def test_hyphenated_input_names_reach_python_intact() -> None:
    """INPUT_API-TOKEN and INPUT_BASE-URL arrive as named (a shell in between would drop them)."""
    ran = podman(
        "run", "--rm", "-e", "INPUT_API-TOKEN", "-e", "INPUT_BASE-URL=y",
        "--entrypoint", "/opt/venv/bin/python", IMAGE, "-c",
        'import os; assert os.environ["INPUT_API-TOKEN"] == "x"'
        ' and os.environ["INPUT_BASE-URL"] == "y"',
        env={"INPUT_API-TOKEN": "x"},
    )  # fmt: skip
    assert ran.code == 0


def test_a_github_docker_action(tmp_path: Path, emulator_url: str) -> None:
    """(a) GitHub: exit 0, outputs run-id + status=COMPLETED, summary written, token masked."""
    step = github_run(tmp_path, emulator_url, "deploy", "deploy-service", "service-frontend")
    assert step.ran.code == 0
    assert step.outputs["status"] == "COMPLETED"
    for name in ("run-id", "run-url", "idempotency-key", "result"):
        assert step.outputs.get(name), name
    assert step.summary
    assert "COMPLETED" in step.summary
    assert "::add-mask::" in step.ran.log
    # The runner hides the value of ::add-mask:: itself; nowhere else may the token show.
    shown = [ln for ln in step.ran.log.splitlines() if not ln.startswith("::add-mask::")]
    assert not [ln for ln in shown if EMULATOR_TOKEN in ln]


def test_b_gitlab_image(tmp_path: Path, emulator_url: str) -> None:
    """(b) GitLab: sh -c cortex-action, GLOBAL workflow, exit 0, dotenv + JUnit in the project."""
    project = tmp_path / "project"
    project.mkdir()
    ran = podman(
        "run", "--rm", "--network", "host", "--name", "cortex-gitlab", "--entrypoint", "",
        "-v", f"{project}:/builds/example/project", "-w", "/builds/example/project",
        "-e", "CI=true", "-e", "GITLAB_CI=true", "-e", f"CI_COMMIT_SHA={SHA}",
        "-e", "CI_PIPELINE_ID=77", "-e", "CI_JOB_ID=78",
        "-e", "CI_PROJECT_DIR=/builds/example/project",
        "-e", f"CORTEX_API_TOKEN={EMULATOR_TOKEN}", "-e", f"CORTEX_BASE_URL={emulator_url}",
        "-e", "CORTEX_WORKFLOW=scaffold-repo", "-e", "CORTEX_TIMEOUT=2m",
        IMAGE, "sh", "-c", "cortex-action",
    )  # fmt: skip
    assert ran.code == 0
    assert "COMPLETED" in ran.log
    # The files a later job (artifacts:reports:dotenv) and the MR widget (junit) read.
    lines = (project / "cortex-action.env").read_text("utf-8").splitlines()
    assert "CORTEX_RUN_STATUS=COMPLETED" in lines
    assert [
        ln for ln in lines if ln.startswith("CORTEX_RUN_ID=") and len(ln) > len("CORTEX_RUN_ID=")
    ]
    assert (project / "cortex-action-junit.xml").stat().st_size > 0


def test_c_jenkins_inside(tmp_path: Path, emulator_url: str) -> None:
    """(c) Jenkins inside: exec as uid 1000 in the mounted workspace, exit 0, --json + env file."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    os.chown(workspace, 1000, 1000)  # Jenkins runs the container as the agent's uid:gid
    started = podman(
        "run", "-d", "-t", "--network", "host", "--name", "cortex-jenkins", "--user", "1000:1000",
        "-w", str(workspace), "-v", f"{workspace}:{workspace}:rw",
        "-e", "JENKINS_URL=http://jenkins.invalid/",
        "-e", "BUILD_URL=http://jenkins.invalid/job/x/1/",
        "-e", f"WORKSPACE={workspace}", "-e", f"GIT_COMMIT={SHA}",
        "--entrypoint", "cat", IMAGE,
    )  # fmt: skip
    assert started.code == 0
    try:
        ran = podman(
            "exec", "-w", str(workspace),
            "-e", f"CORTEX_API_TOKEN={EMULATOR_TOKEN}", "-e", f"CORTEX_BASE_URL={emulator_url}",
            "-e", "CORTEX_WORKFLOW=deploy-service", "-e", "CORTEX_ENTITY=service-frontend",
            "-e", "CORTEX_TIMEOUT=2m",
            "cortex-jenkins", "sh", "-xc", "cortex-action run --json > cortex-run.json",
        )  # fmt: skip
    finally:
        podman("rm", "-f", "-t", "0", "cortex-jenkins")
    assert ran.code == 0
    document = json.loads((workspace / "cortex-run.json").read_text("utf-8"))
    assert "COMPLETED" in json.dumps(document)
    lines = (workspace / "cortex-action.env").read_text("utf-8").splitlines()
    assert "CORTEX_RUN_STATUS=COMPLETED" in lines


def test_d_failing_workflow(tmp_path: Path, emulator_url: str) -> None:
    """(d) A failing workflow: exit 1, outputs status=FAILED and run-id, an ::error annotation."""
    step = github_run(tmp_path, emulator_url, "failing", "failing-deploy", "service-frontend")
    assert step.ran.code == 1
    assert step.outputs["status"] == "FAILED"
    assert step.outputs.get("run-id")
    assert "::error" in step.ran.log


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_e_emulator_as_a_service_container(tmp_path: Path) -> None:
    """(e) The emulator from the image (CORTEX_COMMAND=emulator) serves a run on a published
    port."""
    port = _free_port()
    # Its own network namespace, the port published on loopback: as a CI service container.
    started = podman(
        "run", "-d", "--name", "cortex-emulator-svc", "-p", f"127.0.0.1:{port}:8080",
        "-e", "CORTEX_COMMAND=emulator", "-e", "CORTEX_EMULATOR_HOST=0.0.0.0",
        "-e", "CORTEX_EMULATOR_PORT=8080", IMAGE,
    )  # fmt: skip
    assert started.code == 0
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_emulator(url)
        done = subprocess.run(
            [sys.executable, "-m", "cortex_action", "run"],
            env={
                **os.environ,
                "CORTEX_API_TOKEN": EMULATOR_TOKEN,
                "CORTEX_BASE_URL": url,
                "CORTEX_WORKFLOW": "scaffold-repo",
                "CORTEX_TIMEOUT": "1m",
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        print(done.stdout, done.stderr)
    finally:
        podman("rm", "-f", "-t", "0", "cortex-emulator-svc")
    assert done.returncode == 0
