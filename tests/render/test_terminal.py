"""What a person reads on stdout and in the log: ``get``'s block and ``list``'s table."""

from __future__ import annotations

import json

import pytest

from cortex_action.models import parse_run
from cortex_action.render.terminal import (
    MAX_CELL,
    format_duration,
    json_array,
    json_lines,
    run_block,
    table,
)
from tests.render.samples import RAW_RUN, report, run_with

RUN_BLOCK = """\
Run       run-1
Status    FAILED
Workflow  deploy
Entity    svc
Started   2026-11-30 08:00:00Z
Initiator ada@example.com
Ended     2026-11-30 08:01:05Z
Blocks
   1. COMPLETED    Build
   2. FAILED       Deploy: boom|<b>
Link      https://app.example.com/runs
"""

TABLE = """\
ID     STATUS     WORKFLOW  ENTITY  STARTED               INITIATOR
run-1  FAILED     deploy    svc     2026-11-30 08:00:00Z  ada@example.com
r2     COMPLETED  -         -       -                     -
"""


def test_run_block_shows_the_run_its_times_and_blocks() -> None:
    """``get``: one fact a line, the blocks numbered, the link last."""
    assert run_block(report()) == RUN_BLOCK


def test_run_block_leaves_out_what_the_run_does_not_say() -> None:
    """No entity, initiator, end or blocks: those lines are absent; Started shows ``-``."""
    bare = parse_run({"id": "r", "status": "IN_PROGRESS"})
    assert run_block(report(run=bare, run_url=None)) == (
        "Run       r\nStatus    IN_PROGRESS\nWorkflow  deploy\nStarted   -\n"
    )


def test_run_block_defuses_workflow_commands_from_cortex() -> None:
    """A block name that opens a line with ``::`` or holds ``##[`` can't become a command."""
    actions = [{"name": "##[error]x", "state": {"status": "FAILED"}}]
    text = run_block(report(run=parse_run(run_with(id="::error::forged", actions=actions))))
    assert "##[" not in text
    assert not any(line.startswith("::") for line in text.splitlines())


def test_table_aligns_one_run_a_line() -> None:
    """Columns are aligned; what a run doesn't give is ``-``; statuses are upper case."""
    assert table([RAW_RUN, {"id": "r2", "status": "completed"}]) == TABLE


def test_table_of_no_runs_says_so() -> None:
    """An empty listing is one sentence, not an empty table."""
    assert table([]) == "No runs matched.\n"


def test_table_cuts_long_cells() -> None:
    """A long workflow name is cut to the cell width with an ellipsis."""
    text = table([run_with(workflow={"tag": "w" * 100})])
    assert "w" * (MAX_CELL - 1) + "…" in text
    assert "w" * MAX_CELL not in text


def test_json_array_and_lines_keep_the_runs_as_sent() -> None:
    """JSON and JSON lines hold the run objects exactly as Cortex sent them."""
    runs = [RAW_RUN, {"id": 2}]
    assert json.loads(json_array(runs)) == runs
    assert [json.loads(line) for line in json_lines(runs).splitlines()] == runs


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0s"),
        (59.4, "59s"),
        (65.2, "1m05s"),
        (3600, "1h00m00s"),
        (3725, "1h02m05s"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    """Durations read as ``1h02m05s``, with the larger units only when needed."""
    assert format_duration(seconds) == text
