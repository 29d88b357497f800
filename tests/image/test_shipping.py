"""Invariants of what ships besides the Python code: the Dockerfile, the workflows, the parser
that .ci/image.sh uses for GITHUB_OUTPUT. The image itself is built and run by .ci/image.sh."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml")) + sorted(
    (ROOT / ".github" / "act").glob("*.yml")
)
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _final_stage(dockerfile: str) -> list[str]:
    lines = [ln.strip() for ln in dockerfile.splitlines() if ln.strip() and not ln.startswith("#")]
    starts = [i for i, ln in enumerate(lines) if ln.upper().startswith("FROM ")]
    return lines[starts[-1] :]


def test_dockerfile_base_is_pinned_by_digest_and_overridable() -> None:
    text = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^ARG BASE_IMAGE=(\S+)$", text, re.MULTILINE)
    assert match, "ARG BASE_IMAGE with a default"
    assert re.fullmatch(r"python:3\.1[2-9]-slim@sha256:[0-9a-f]{64}", match.group(1))
    assert all(
        ln.split()[1] == "${BASE_IMAGE}"
        for ln in text.splitlines()
        if ln.upper().startswith("FROM ")
    )


def test_final_stage_runs_python_directly_without_user_or_workdir() -> None:
    final = _final_stage((ROOT / "Dockerfile").read_text())
    keywords = [ln.split()[0].upper() for ln in final]
    assert "USER" not in keywords, "a USER breaks GitHub's workspace mount and Jenkins' -u"
    assert "WORKDIR" not in keywords, "GitHub, GitLab and Jenkins set the working directory"
    (entry,) = [ln for ln in final if ln.upper().startswith("ENTRYPOINT")]
    argv = json.loads(entry.split(None, 1)[1])
    assert argv[0].startswith("/"), argv
    assert re.search(r"/python3?$", argv[0]), argv
    assert argv[1:] == ["/app/entrypoint.py"]


def test_dockerignore_is_an_allow_list() -> None:
    lines = [
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "requirements.txt",
        "README.md",
        "entrypoint.py",
        "cortex_action",
    }


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_actions_are_pinned_and_permissions_least(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    assert doc["permissions"] == {"contents": "read"}
    text = path.read_text()
    for step in _steps(doc):
        uses = step.get("uses")
        if uses is None or uses.startswith("./"):
            continue
        assert SHA_PIN.match(uses), f"{uses} is not pinned by a full commit SHA"
        line = next(ln for ln in text.splitlines() if f"uses: {uses}" in ln)
        assert re.search(r"# v\d", line), f"{uses}: the version belongs in a comment"
        if uses.startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def _load_gh_outputs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gh_outputs", ROOT / ".ci" / "gh_outputs.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gh_outputs"] = module
    spec.loader.exec_module(module)
    return module


def test_gh_outputs_parser_reads_both_forms() -> None:
    parse = _load_gh_outputs().parse
    text = 'run-id=42\nresult<<ghadelimiter_x\n{"a": 1}\nline=2\nghadelimiter_x\nstatus=OK\n'
    assert parse(text) == {"run-id": "42", "result": '{"a": 1}\nline=2', "status": "OK"}
    with pytest.raises(ValueError, match="no closing"):
        parse("result<<EOF\nunterminated\n")


def test_gh_inputs_sets_every_declared_input_like_the_runner(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = importlib.util.spec_from_file_location("gh_inputs", ROOT / ".ci" / "gh_inputs.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([str(ROOT / "action.yml"), "workflow=deploy-service"]) == 0
    lines = dict(ln.split("=", 1) for ln in capsys.readouterr().out.splitlines())
    declared = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    assert set(lines) == {f"INPUT_{name.upper()}" for name in declared}
    assert lines["INPUT_WORKFLOW"] == "deploy-service"
    assert lines["INPUT_API-TOKEN"] == ""  # hyphen kept; required but not given: empty
    assert lines["INPUT_BASE-URL"] == str(declared["base-url"]["default"])
