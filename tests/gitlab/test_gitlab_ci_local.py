"""GitLab pipelines run for real, offline: ``gitlab-ci-local`` (npm) runs ``examples/gitlab-ci.yml``
and a pipeline that includes the CI/CD component (``templates/cortex-action``) in its shell
executor, against the emulator on loopback, with the ``cortex-action`` of this venv on PATH.

Skipped unless gitlab-ci-local is installed: ``.ci/gitlab.sh`` installs it (npm, 4.70.0, into
``.ci/.node``; it needs rsync and Node 20) and runs this module; ``GITLAB_CI_LOCAL`` may name the
executable. What gitlab-ci-local does not do, and how this module works around it:

- it sets ``CI_PROJECT_DIR`` to ``/builds/<group>/<project>`` for any job with ``image:``, also in
  the shell executor, whose shell runs in ``.gitlab-ci-local/builds/<job>``: the pipeline's copy
  drops ``image:`` (the shell executor ignores it anyway);
- it sets ``GITLAB_CI=false``: it is set to ``true`` with ``--variable``, as a runner does;
- it has no UI, and keeps only ``paths`` and the dotenv report as a job's artifacts (not the
  JUnit or annotations reports): those are checked as files in the job's build folder, where
  GitLab's runner would collect them (their content is tested in tests/hosts); ``expose_as`` is
  only validated;
- it interpolates only ``$[[ inputs.* ]]`` (no ``$[[ component.* ]]``) and ignores
  ``spec:inputs:regex`` (a warning).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from cortex_action.emulator.server import EmulatorServer
from cortex_action.emulator.testing import EmulatorFactory

pytestmark = pytest.mark.gitlab

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path("templates/cortex-action/template.yml")
RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def gitlab_ci_local() -> str:
    given = os.environ.get("GITLAB_CI_LOCAL")
    candidates = [given] if given else []
    candidates.append(str(ROOT / ".ci/.node/node_modules/.bin/gitlab-ci-local"))
    for candidate in candidates:
        if Path(candidate).is_file() and shutil.which("rsync"):
            return candidate
    found = shutil.which("gitlab-ci-local")
    if found and shutil.which("rsync"):
        return found
    pytest.skip("gitlab-ci-local (and rsync) not installed: bash .ci/gitlab.sh installs them")


def without_images(documents: list[Any]) -> list[Any]:
    """The jobs without ``image:`` (see the module's docstring); the ``spec:`` header as it is."""
    for document in documents:
        if isinstance(document, dict) and "spec" not in document:
            for job in document.values():
                if isinstance(job, dict):
                    job.pop("image", None)
    return documents


def copy_yaml(source: Path, target: Path) -> None:
    documents = list(yaml.safe_load_all(source.read_text(encoding="utf-8")))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        yaml.safe_dump_all(without_images(documents), sort_keys=False), encoding="utf-8"
    )


@dataclass
class Pipeline:
    code: int
    log: str
    folder: Path

    def job_log(self, job: str) -> str:
        return (self.folder / ".gitlab-ci-local/output" / f"{job}.log").read_text("utf-8")

    def artifacts(self, job: str) -> set[str]:
        folder = self.folder / ".gitlab-ci-local/artifacts" / job
        return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}

    def built(self, job: str) -> set[str]:
        """The files the job left in its build folder (what a runner uploads as reports)."""
        return {p.name for p in (self.folder / ".gitlab-ci-local/builds" / job).iterdir()}

    def artifact(self, job: str, name: str) -> str:
        folder = self.folder / ".gitlab-ci-local/artifacts" / job
        (path,) = [p for p in folder.rglob(name) if p.is_file()]
        return path.read_text(encoding="utf-8")


@pytest.fixture
def emulator_url(make_emulator: EmulatorFactory) -> str:
    emu: EmulatorServer = make_emulator(speed=20)
    return str(emu.url)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git checkout for gitlab-ci-local, which reads the committed tree."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def commit(folder: Path) -> None:
    git = ["git", "-C", str(folder), "-c", "user.name=ci", "-c", "user.email=ci@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "pipeline under test"], check=True)


def run_pipeline(folder: Path, url: str, *jobs: str) -> Pipeline:
    commit(folder)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("CORTEX_API_TOKEN", None)
    argv = [
        gitlab_ci_local(),
        "--shell-isolation",
        "--no-color",
        "--ignore-predefined-vars",
        "GITLAB_CI",
        "--variable",
        "GITLAB_CI=true",
        # The project's masked CI/CD variable, and the emulator as the API host.
        "--variable",
        "CORTEX_API_TOKEN=emulator-token",
        "--variable",
        f"CORTEX_BASE_URL={url}",
        *jobs,
    ]
    done = subprocess.run(
        argv, cwd=folder, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    return Pipeline(done.returncode, done.stdout + done.stderr, folder)


def test_the_example_pipeline_passes_the_run_to_the_next_job(
    project: Path, emulator_url: str
) -> None:
    copy_yaml(ROOT / "examples/gitlab-ci.yml", project / ".gitlab-ci.yml")

    pipeline = run_pipeline(project, emulator_url)

    assert pipeline.code == 0, pipeline.log
    assert re.search(r"PASS\s+cortex-deploy", pipeline.log)
    assert re.search(r"PASS\s+use-the-run", pipeline.log)
    # The next job got the run from the dotenv report.
    line = pipeline.job_log("use-the-run")
    found = re.search(rf"Cortex run ({RUN_ID.pattern}) ended COMPLETED; see http://", line)
    assert found, line
    assert found.group(1) in pipeline.job_log("cortex-deploy")
    assert {"cortex-action.json", "cortex-action.md"} <= pipeline.artifacts("cortex-deploy")


COMPONENT_PIPELINE = """\
stages: [deploy, verify]

include:
  - local: templates/cortex-action/template.yml
    inputs:
      workflow: deploy-service
      entity: service-frontend
      initial-context: "version=$CI_COMMIT_SHA"
      timeout: 2m
      job-name: cortex
  - local: templates/cortex-action/template.yml
    inputs:
      workflow: failing-deploy
      entity: service-frontend
      timeout: 2m
      stage: verify
      job-name: cortex-failing

next:
  stage: verify
  needs: [cortex]
  script:
    - test -n "$CORTEX_RUN_ID"
    - echo "next job sees run $CORTEX_RUN_ID status $CORTEX_RUN_STATUS url $CORTEX_RUN_URL"
"""


@pytest.fixture
def component_project(project: Path) -> Path:
    copy_yaml(ROOT / TEMPLATE, project / TEMPLATE)
    (project / ".gitlab-ci.yml").write_text(COMPONENT_PIPELINE, encoding="utf-8")
    return project


def test_the_component_runs_and_the_next_job_sees_the_run(
    component_project: Path, emulator_url: str
) -> None:
    pipeline = run_pipeline(component_project, emulator_url, "cortex", "next")

    assert pipeline.code == 0, pipeline.log
    assert re.search(r"PASS\s+cortex\b", pipeline.log)
    assert re.search(r"PASS\s+next\b", pipeline.log)
    found = re.search(
        rf"next job sees run ({RUN_ID.pattern}) status COMPLETED url http://",
        pipeline.job_log("next"),
    )
    assert found, pipeline.job_log("next")
    # The artifacts, and every report the component declares, where the runner collects them.
    assert {"cortex-action.md", "cortex-action.json"} <= pipeline.artifacts("cortex")
    assert {
        "cortex-action.env",
        "cortex-action-junit.xml",
        "cortex-action-annotations.json",
    } <= pipeline.built("cortex")
    annotations = pipeline.folder / ".gitlab-ci-local/builds/cortex/cortex-action-annotations.json"
    assert found.group(1) in annotations.read_text(encoding="utf-8")
    # The inputs reached the tool: the run had the commit as its initial context.
    assert '"version":' in pipeline.job_log("cortex")


def test_a_failing_workflow_fails_the_component_job(
    component_project: Path, emulator_url: str
) -> None:
    pipeline = run_pipeline(component_project, emulator_url, "cortex-failing")

    assert pipeline.code != 0, pipeline.log
    assert re.search(r"FAIL\s+cortex-failing", pipeline.log)
    assert "ended FAILED" in pipeline.job_log("cortex-failing")
    # artifacts:when always: the failed run's result still reaches later jobs and people.
    assert "CORTEX_RUN_STATUS=FAILED" in pipeline.artifact("cortex-failing", "cortex-action.env")
