"""The inputs table (``inputs.py``) is the one source: ``action.yml``, ``--help`` and the README's
inputs table say the same names and defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cortex_action.inputs import INPUTS, Command, Input, for_command
from tests.support import invoke

ROOT = Path(__file__).resolve().parent.parent
ACTION: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))["inputs"]
ROW = re.compile(r"^\| `([a-z-]+)` \| ([^|]+) \|", re.MULTILINE)


def readme_defaults() -> dict[str, str]:
    text = (ROOT / "README.md").read_text("utf-8")
    table = text[text.index("| input | default | meaning |") :]
    table = table[: table.index("\n\n")]
    return {name: cell.strip().strip("`") for name, cell in ROW.findall(table)}


def test_action_yml_declares_exactly_the_action_inputs() -> None:
    """Every input meant for the action is declared, and nothing else is."""
    assert set(ACTION) == {i.name for i in INPUTS if i.action}


@pytest.mark.parametrize("spec", [i for i in INPUTS if i.action], ids=lambda i: i.name)
def test_action_yml_states_each_default(spec: Input) -> None:
    """action.yml declares empty defaults (so CORTEX_* still apply) and states the real one."""
    declared = ACTION[spec.name]
    assert declared.get("default", "") == ""
    if spec.default_text not in ("empty", "required"):
        assert f"Default: {spec.default_text}" in " ".join(declared["description"].split())


def test_readme_table_lists_each_action_input_with_its_default() -> None:
    """The README's inputs table has one row per input, with the default of inputs.py."""
    rows = readme_defaults()
    assert set(rows) == {i.name for i in INPUTS if i.action}
    for spec in INPUTS:
        if spec.action:
            assert rows[spec.name] == spec.default_text, spec.name


@pytest.mark.parametrize("command", list(Command))
def test_help_lists_each_flag_with_its_default(command: Command) -> None:
    """``COMMAND --help`` offers every input the command reads, with its default."""
    text = " ".join(invoke({}, [command.value, "--help"]).stdout.split())
    for spec in for_command(command):
        if not spec.flag:
            continue
        assert f"--{spec.name}" in text
        if spec.default is not None:
            assert f"(default {spec.default})" in text, spec.name
