"""The layers hold: who may import whom, and who may read a CI variable (read from the source)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cortex_action"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))
CI_VARIABLE = re.compile(
    r"\b(GITHUB_[A-Z_]+|CI_COMMIT[A-Z_]*|GIT_COMMIT|JENKINS_[A-Z_]+|GITLAB_[A-Z_]+)"
)


def name_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(
        ".__init__"
    )


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("cortex_action")}


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_layers(path: Path) -> None:
    """The emulator imports nothing of the action; hosts and renderers never import commands,
    the client or the CLI; renderers never import hosts."""
    module, used = name_of(path), imports(path)
    if within(module, "cortex_action.emulator"):
        assert all(within(u, "cortex_action.emulator") or u == "cortex_action" for u in used)
    for layer in ("cortex_action.hosts", "cortex_action.render"):
        if within(module, layer):
            forbidden = ("cortex_action.commands", "cortex_action.client", "cortex_action.cli")
            assert not [u for u in used if any(within(u, f) for f in forbidden)], used
    if within(module, "cortex_action.render"):
        assert not [u for u in used if within(u, "cortex_action.hosts")], used


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_only_host_adapters_name_ci_variables(path: Path) -> None:
    """A CI variable is a host fact: no module outside hosts/ names one."""
    if within(name_of(path), "cortex_action.hosts"):
        return
    assert not CI_VARIABLE.findall(path.read_text("utf-8"))


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_nothing_catches_base_exception(path: Path) -> None:
    """Only the signal's own class names BaseException: nothing below cli.main swallows a
    signal or an exit."""
    text = path.read_text("utf-8")
    if name_of(path) == "cortex_action.errors":
        assert text.count("BaseException") == 2  # the class Interrupted and its docstring
    else:
        assert "BaseException" not in text
