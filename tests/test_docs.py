"""The docs work as written.

- Every fenced ``sh`` block of README.md and docs/*.md preceded by a ``<!-- runnable -->`` line
  (anything may follow the word, e.g. a note) is run with ``sh -e`` from the repository's root,
  with this venv's ``cortex-action`` first on PATH and ``CORTEX_BASE_URL`` and
  ``CORTEX_API_TOKEN`` pointing at an emulator started for the test on loopback; the block must
  exit 0 within two minutes. A block may start its own emulator (``--port 0``).
- Every ``yaml`` block that is a CI file is linted (others, such as the emulator's configuration,
  are left alone): a GitHub workflow (or a job or steps fragment, wrapped in a
  minimal workflow) with actionlint and zizmor, a GitLab pipeline with GitLab's CI schema.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from cortex_action.emulator.server import EmulatorServer
from cortex_action.emulator.testing import EmulatorFactory

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)
MARKER = re.compile(r"<!--\s*runnable\b[^>]*-->\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    lang: str
    body: str
    runnable: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(paths: list[Path] = DOCS) -> list[Block]:
    found = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            indent = len(match.group("indent"))
            body = "\n".join(line[indent:] for line in match.group("body").splitlines())
            found.append(
                Block(
                    path,
                    text.count("\n", 0, match.start()) + 1,
                    match.group("lang"),
                    body + "\n",
                    bool(MARKER.search(before)),
                )
            )
    return found


def runnable() -> list[Block]:
    return [b for b in blocks() if b.runnable]


def run_block(
    block: Block, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``sh -e`` on the block, in its own process group (killed whole on a timeout)."""
    process = subprocess.Popen(
        ["sh", "-e", "-c", block.body],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        return subprocess.CompletedProcess(process.args, -9, out + "\n(timed out)")
    finally:
        # Whatever the block left running in the background (an emulator it started).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    return subprocess.CompletedProcess(process.args, process.returncode, out)


def block_env(url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CORTEX_", "INPUT_", "GITHUB_", "GITLAB_", "JENKINS_"))
        and k.lower() not in {"http_proxy", "https_proxy", "all_proxy", "ci"}
        and k not in {"BUILD_URL", "WORKSPACE", "CI_PROJECT_DIR"}
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["CORTEX_BASE_URL"] = url
    env["CORTEX_API_TOKEN"] = "emulator-token"
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture
def emulator_url(make_emulator: EmulatorFactory) -> str:
    emu: EmulatorServer = make_emulator(speed=20)
    return str(emu.url)


def test_the_docs_have_runnable_blocks() -> None:
    found = {b.path.name for b in runnable()}
    assert {"README.md", "emulator.md"} <= found
    assert all(b.lang == "sh" for b in runnable()), "only sh blocks are runnable"


@pytest.mark.parametrize("block", runnable(), ids=lambda b: b.where)
def test_runnable_block_works_as_written(block: Block, emulator_url: str) -> None:
    if ".venv/bin/" in block.body and not (ROOT / ".venv/bin/python").is_file():
        pytest.skip("the block runs the project's venv, which `make venv` makes")
    done = run_block(block, block_env(emulator_url))
    assert done.returncode == 0, f"{block.where} failed ({done.returncode}):\n{done.stdout}"


def test_a_broken_block_fails(tmp_path: Path, emulator_url: str) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "<!-- runnable -->\n```sh\ncortex-action emulator resume 0000 --approve\n```\n",
        encoding="utf-8",
    )
    (block,) = blocks([doc])
    assert block.runnable
    # Without --url or CORTEX_EMULATOR_URL, resume assumes port 8080: not this emulator.
    assert run_block(block, block_env(emulator_url), timeout=60).returncode != 0


# -- YAML examples ------------------------------------------------------------------------------


def yaml_blocks() -> list[Block]:
    """The CI examples among the YAML blocks (GitHub and GitLab)."""
    return [
        b for b in blocks() if b.lang in {"yaml", "yml"} and kind(yaml.safe_load(b.body)) != "other"
    ]


def kind(data: Any) -> str:
    if isinstance(data, list):
        return "github-steps"
    assert isinstance(data, dict)
    if "jobs" in data:
        return "github-workflow"
    if "runs-on" in data or "steps" in data:
        return "github-job"
    gitlab_keys = {"script", "stage", "trigger", "extends", "needs", "image"}
    if {"stages", "include", "spec"} & set(data) or any(
        isinstance(v, dict) and gitlab_keys & set(v) for v in data.values()
    ):
        return "gitlab"
    return "other"  # not a CI file (e.g. the emulator's configuration)


def as_github_workflow(block: Block, data: Any) -> str:
    """A fragment made a whole workflow, its text unchanged inside it (YAML 1.1 reads a bare
    ``on`` as true, so the text is wrapped rather than loaded and dumped again)."""
    what = kind(data)
    head = "name: docs example\n"
    if what == "github-workflow" and ("on" in data or True in data):
        return block.body
    head += "on: workflow_dispatch\n"
    if what == "github-workflow":
        return (
            head
            + ("" if "permissions" in data else "permissions:\n  contents: read\n")
            + block.body
        )
    head += "permissions:\n  contents: read\njobs:\n  example:\n"
    if what == "github-job":
        return head + textwrap.indent(block.body, "    ")
    return head + "    runs-on: ubuntu-latest\n    steps:\n" + textwrap.indent(block.body, "      ")


def linter(name: str) -> str:
    for folder in (Path(sys.executable).parent, ROOT / ".work/tools-venv/bin"):
        if (folder / name).is_file():
            return str(folder / name)
    pytest.skip(f"{name} is not installed (bash .ci/lint.sh installs the CI tools)")


def lint(argv: list[str], block: Block) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, f"{block.where}:\n{done.stdout}{done.stderr}"


# needs.start.outputs of a job the fragment does not show.
_UNKNOWN_CONTEXT = re.compile(r"property \"start\" is not defined in object type")


@pytest.mark.parametrize("block", yaml_blocks(), ids=lambda b: b.where)
def test_yaml_example_lints(block: Block, tmp_path: Path) -> None:
    data = yaml.safe_load(block.body)
    if kind(data) == "gitlab":
        path = tmp_path / ".gitlab-ci.yml"
        path.write_text(block.body, encoding="utf-8")
        lint([linter("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(path)], block)
        return
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    path = workflows / "example.yml"
    path.write_text(as_github_workflow(block, data), encoding="utf-8")
    done = subprocess.run(
        [linter("actionlint"), "-no-color", "-oneline", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    problems = [ln for ln in done.stdout.splitlines() if not _UNKNOWN_CONTEXT.search(ln)]
    assert not problems, f"{block.where}: actionlint:\n" + "\n".join(problems)
    # zizmor: template injection and the like. The docs show tag pins (`@v1`) as one choice
    # among several (README: Pinning), so that one rule is left to the real workflows.
    config = tmp_path / "zizmor.yml"
    config.write_text("rules:\n  unpinned-uses:\n    disable: true\n", encoding="utf-8")
    lint(
        [linter("zizmor"), "--offline", "--no-progress", "--config", str(config), str(path)],
        block,
    )


def _steps(data: Any) -> list[dict[str, Any]]:
    if kind(data) == "github-steps":
        return [s for s in data if isinstance(s, dict)]
    jobs = data.get("jobs", {}) if kind(data) == "github-workflow" else {"job": data}
    return [s for job in jobs.values() for s in job.get("steps", []) if isinstance(s, dict)]


@pytest.mark.parametrize(
    "block",
    [b for b in yaml_blocks() if kind(yaml.safe_load(b.body)) != "gitlab"],
    ids=lambda b: b.where,
)
def test_the_action_never_points_at_the_runners_loopback(block: Block) -> None:
    # The action runs in its own container: localhost there is that container, not the runner
    # or a service container (reach those by the service's name, with allow-insecure-http).
    for step in _steps(yaml.safe_load(block.body)):
        if "cortex-action@" in str(step.get("uses", "")) or step.get("uses") == "./":
            url = str(step.get("with", {}).get("base-url", ""))
            assert not re.search(r"//(localhost|127\.0\.0\.1|\[::1\])\b", url), block.where
            if url.startswith("http://"):
                assert str(step["with"].get("allow-insecure-http")) == "true", block.where
