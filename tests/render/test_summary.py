"""The Markdown job summaries, as pure functions of a report or a listing."""

from __future__ import annotations

import pytest

from cortex_action.hosts.github import SUMMARY_LIMIT, fit_summary
from cortex_action.models import parse_run
from cortex_action.render.summary import MAX_BLOCK_ROWS, list_summary, run_summary
from tests.render.samples import RAW_RUN, report, run_with

RUN_SUMMARY = """\
### ❌ Cortex workflow `deploy`: FAILED

Run run-1 FAILED.

| | |
|---|---|
| Workflow | `deploy` |
| Scope | ENTITY `svc` |
| Run | `run-1` ([open in Cortex](https://app.example.com/runs)) |
| Status | FAILED |
| Duration | 1m05s |
| Idempotency key | `key-1` (derived) |
| Exit code | 1 |
| CI job | [https://ci.example.com/job/1](https://ci.example.com/job/1) |

> A note.

| # | Block | Status | Error |
|---|---|---|---|
| 1 | Build | COMPLETED |  |
| 2 | Deploy | FAILED | boom\\|&lt;b&gt; |
"""

LIST_SUMMARY = """\
### Cortex workflow runs: 1 run

Filters: workflow `deploy`, limit `20`

> More runs match.

| Run | Status | Workflow | Entity | Started | Initiator |
|---|---|---|---|---|---|
| [`run-1`](https://app.example.com/runs) | ❌ FAILED | deploy | svc | 2026-11-30 08:00:00Z | \
ada@example.com |
"""


def test_run_summary_shows_the_run_its_blocks_and_the_job() -> None:
    """A failed run: headline, facts table, notes and one row per block, Cortex's text escaped."""
    assert run_summary(report()) == RUN_SUMMARY


def test_run_summary_without_a_run_says_so() -> None:
    """No run was confirmed: the title says so and no run or block rows appear."""
    text = run_summary(report(run=None, exit_code=3, notes=()))
    assert text.startswith("### ⚠️ Cortex workflow `deploy`: no run\n")
    assert "| Run |" not in text
    assert "| # | Block |" not in text


@pytest.mark.parametrize(
    ("status", "icon"), [("COMPLETED", "✅"), ("FAILED", "❌"), ("PAUSED", "⏸️"), ("ODD", "❔")]
)
def test_get_summary_shows_the_runs_state_not_the_exit_code(status: str, icon: str) -> None:
    """``get`` exits 0 for any run it read, so the icon is the run's status."""
    text = run_summary(report(command="get", exit_code=0, run=parse_run(run_with(status=status))))
    assert text.startswith(f"### {icon} ")


def test_a_job_url_that_is_not_a_plain_url_is_not_a_link() -> None:
    """The CI's job URL becomes a link only when nothing in it can break out of the link."""
    text = run_summary(report(job_url="https://ci.example.com/a)[x](https://evil"))
    assert "| CI job | https://ci.example.com/a)\\[x\\](https://evil |" in text


def test_blocks_beyond_the_row_limit_are_counted_not_shown() -> None:
    """Past the row limit, the summary says how many blocks the ``result`` output holds."""
    actions = [{"name": f"b{i}", "state": {"status": "COMPLETED"}} for i in range(205)]
    text = run_summary(report(run=parse_run(run_with(actions=actions))))
    assert f"| {MAX_BLOCK_ROWS} | b{MAX_BLOCK_ROWS - 1} |" in text
    assert f"| {MAX_BLOCK_ROWS + 1} |" not in text
    assert "_5 more blocks are in the `result` output._" in text


def test_the_renderer_returns_the_whole_summary_and_github_cuts_it() -> None:
    """The size limit is GitHub's: the renderer keeps everything, the adapter cuts at a line."""
    text = run_summary(report(notes=tuple("n" * 1000 for _ in range(1200))))
    assert len(text.encode()) > SUMMARY_LIMIT
    cut = fit_summary(text)
    assert len(cut.encode()) <= SUMMARY_LIMIT
    assert cut.endswith("\n\n_The summary was cut to stay under GitHub's 1 MiB limit._\n")
    assert cut.startswith(RUN_SUMMARY.split("> A note.", maxsplit=1)[0])


def test_a_summary_under_the_limit_is_left_as_it_is() -> None:
    """GitHub's cut leaves a summary under 1 MiB untouched."""
    assert fit_summary(RUN_SUMMARY) == RUN_SUMMARY


def test_list_summary_shows_filters_note_and_one_row_per_run() -> None:
    """A listing: the filters used, the note, and each run with its status icon and link."""
    text = list_summary(
        [RAW_RUN],
        filters=[("workflow", "deploy"), ("limit", "20")],
        runs_url="https://app.example.com/runs",
        note="More runs match.",
    )
    assert text == LIST_SUMMARY


def test_list_summary_of_no_runs_explains_the_30_days() -> None:
    """No runs matched: the summary says so, and that Cortex keeps 30 days of runs."""
    text = list_summary([], filters=[], runs_url="https://app.example.com/runs")
    assert text == (
        "### Cortex workflow runs: 0 runs\n\n"
        "No runs matched (Cortex returns runs of the last 30 days only).\n"
    )


def test_list_summary_escapes_cortex_text_in_cells() -> None:
    """A workflow name with a pipe and HTML can't add a column or markup."""
    text = list_summary(
        [run_with(workflow={"tag": "a|<img>"})], filters=[], runs_url="https://x.example"
    )
    assert "| a\\|&lt;img&gt; |" in text
