"""The harness's stand-ins for the Actions runner: its GITHUB_OUTPUT reader and its INPUT_*."""

from __future__ import annotations

import pytest
import yaml

from tests.readers import parse_github_outputs
from tests.support import ACTION_YML, runner_inputs


def test_gh_outputs_parser_reads_both_forms() -> None:
    """name=value lines and name<<DELIMITER heredocs are read; an unclosed heredoc is an error."""
    parse = parse_github_outputs
    text = 'run-id=42\nresult<<ghadelimiter_x\n{"a": 1}\nline=2\nghadelimiter_x\nstatus=OK\n'
    assert parse(text) == {"run-id": "42", "result": '{"a": 1}\nline=2', "status": "OK"}
    with pytest.raises(ValueError, match="no closing"):
        parse("result<<EOF\nunterminated\n")


def test_gh_inputs_sets_every_declared_input_like_the_runner() -> None:
    """Every declared input is set, to the value given or action.yml's default, hyphens kept."""
    lines = runner_inputs(workflow="deploy-service")
    declared = yaml.safe_load(ACTION_YML.read_text())["inputs"]
    assert set(lines) == {f"INPUT_{name.upper()}" for name in declared}
    assert lines["INPUT_WORKFLOW"] == "deploy-service"
    assert lines["INPUT_API-TOKEN"] == ""  # hyphen kept; required but not given: empty
    assert lines["INPUT_BASE-URL"] == str(declared["base-url"]["default"])
