"""Invariants of what ships besides the Python code: the Dockerfile and the workflows. The image
itself is built by .ci/image.sh and run by tests/image/test_image_scenarios.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
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
