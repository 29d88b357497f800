"""The image installs its dependencies from a lock: requirements.txt (``make lock``, pip-compile
--generate-hashes from pyproject.toml), so that two builds of one commit install the same files."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.txt"


def pins() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) for every requirement of the lock."""
    text = re.sub(r"\s*\\\n\s*", " ", LOCK.read_text(encoding="utf-8"))
    found: dict[str, tuple[str, list[str]]] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)((?: --hash=sha256:[0-9a-f]{64})+)", line)
        assert match, f"not a pinned, hashed requirement: {line!r}"
        hashes = re.findall(r"sha256:([0-9a-f]{64})", match.group(3))
        found[canonicalize_name(match.group(1))] = (match.group(2), hashes)
    return found


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    locked = pins()
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is a dependency but not in requirements.txt: make lock"
        version, hashes = locked[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} is outside {requirement.specifier}: make lock"
        )
        assert hashes


def test_the_lock_holds_runtime_dependencies_only() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    tools = {
        canonicalize_name(Requirement(spec).name)
        for specs in project["optional-dependencies"].values()
        for spec in specs
    }
    assert not (tools & set(pins())), "test, lint or dist tools in the image's lock"
    assert "cortex-action" not in pins()


def test_the_dockerfile_installs_the_lock_with_hashes_then_the_package_alone() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    runs = " ".join(re.sub(r"\\\n", " ", text).split())
    assert "COPY requirements.txt" in text
    assert re.search(r"install [^&]*--require-hashes [^&]*-r requirements\.txt", runs)
    assert re.search(r"install [^&]*--no-deps \.", runs)
