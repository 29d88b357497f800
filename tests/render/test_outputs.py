"""What later steps and jobs read: step outputs, result variables and the JSON result."""

from __future__ import annotations

import json

from cortex_action.models import parse_run
from cortex_action.render.outputs import (
    OUTPUT_LIMIT,
    RESULT_FACTS,
    list_outputs,
    result_json,
    result_object,
    result_variables,
    run_outputs,
)
from tests.render.samples import RAW_RUN, report, run_with
from tests.support import RUN_OUTPUTS


def test_run_outputs_carry_the_facts_and_the_run() -> None:
    """The six outputs, in order, with the run as Cortex sent it in ``result``."""
    outputs = run_outputs(report(replayed=False))
    assert list(outputs) == list(RUN_OUTPUTS)
    assert outputs["replayed"] == "false"
    assert run_outputs(report(replayed=True))["replayed"] == "true"
    assert outputs["run-id"] == "run-1"
    assert outputs["status"] == "FAILED"
    assert outputs["run-url"] == "https://app.example.com/runs"
    assert outputs["idempotency-key"] == "key-1"
    assert json.loads(outputs["result"]) == RAW_RUN


def test_unknown_values_are_empty_strings() -> None:
    """Without a run, every output and variable is an empty string, never missing."""
    empty = report(run=None, run_url=None, idempotency_key=None, replayed=None)
    assert set(run_outputs(empty).values()) == {""}
    assert set(result_variables(empty).values()) == {""}


def test_outputs_and_variables_carry_the_same_facts() -> None:
    """Each fact reads the same under its output name and its variable name."""
    outputs = run_outputs(report(replayed=False))
    variables = result_variables(report(replayed=False))
    assert list(variables) == [variable for _, _, variable in RESULT_FACTS]
    for _, output, variable in RESULT_FACTS:
        assert outputs[output] == variables[variable] != ""


def test_a_run_too_large_for_an_output_is_cut_to_its_core() -> None:
    """Over GitHub's output limit, ``result`` keeps id, status and workflow and says why."""
    huge = parse_run(run_with(context={"blob": "x" * OUTPUT_LIMIT}))
    result = json.loads(run_outputs(report(run=huge))["result"])
    assert result["id"] == "run-1"
    assert result["status"] == "FAILED"
    assert result["workflow"] == {"tag": "deploy"}
    assert "too large" in result["truncated"]


def test_result_json_names_our_fields_and_keeps_the_run() -> None:
    """The JSON result has our camelCase fields and the run as Cortex sent it."""
    data = json.loads(result_json(report(), indent=2))
    assert data == result_object(report())
    assert data["runId"] == "run-1"
    assert data["exitCode"] == 1
    assert data["durationSeconds"] == 65.2
    assert data["run"] == RAW_RUN


def test_result_json_cannot_start_a_workflow_command_in_a_log() -> None:
    """``##[`` in Cortex's text is written as a JSON escape, the same text to a parser."""
    text = result_json(report(headline="##[error]forged"))
    assert "##[" not in text
    assert json.loads(text)["message"] == "##[error]forged"


def test_list_outputs_hold_the_runs_and_their_count() -> None:
    """``runs`` is the JSON array of the runs, ``count`` their number."""
    outputs, slimmed = list_outputs([RAW_RUN, {"id": "r2", "status": "COMPLETED"}])
    assert not slimmed
    assert outputs["count"] == "2"
    assert json.loads(outputs["runs"])[0] == RAW_RUN


def test_list_outputs_over_the_limit_keep_only_the_columns() -> None:
    """Runs too large for an output become their columns, and the caller is told."""
    outputs, slimmed = list_outputs([run_with(context={"blob": "x" * OUTPUT_LIMIT})])
    assert slimmed
    assert json.loads(outputs["runs"]) == [
        {
            "id": "run-1",
            "status": "FAILED",
            "workflow": "deploy",
            "entity": "svc",
            "started": "2026-11-30 08:00:00Z",
            "initiator": "ada@example.com",
        }
    ]
