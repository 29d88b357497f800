"""Pure renderers for runs read back from Cortex: one run as a block (``get``), and a listing as
a table, JSON, JSON lines, outputs and a job summary (``list``). Strings in, strings out.

Cortex documents only a run's ``id``, ``status``, ``workflow`` and ``actions``; every other column
is looked up under the names Cortex (or the emulator) may use, and shown as ``-`` when absent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cortex_action.models import MISSING, classify, ended_at, parse_row
from cortex_action.render import ICONS, OUTPUT_LIMIT, SUMMARY_LIMIT
from cortex_action.report import Report
from cortex_action.sanitize import (
    defuse_commands,
    json_for_log,
    log_text,
    markdown_code,
    markdown_text,
)

MAX_CELL = 48


# -- get ---------------------------------------------------------------------------------------


def run_block(report: Report) -> str:
    """One run, readable in a terminal or a CI log: status, scope, times, blocks and the link."""
    assert report.run is not None
    r = parse_row(report.run.raw)
    lines = [
        f"Run       {log_text(r.id, 200)}",
        f"Status    {log_text(r.status, 100)}",
        f"Workflow  {log_text(r.workflow or report.workflow, 200)}",
    ]
    if r.entity:
        lines.append(f"Entity    {log_text(r.entity, 200)}")
    lines.append(f"Started   {log_text(r.started or MISSING, 100)}")
    if r.initiator:
        lines.append(f"Initiator {log_text(r.initiator, 200)}")
    ended = ended_at(report.run.raw)
    if ended:
        lines.append(f"Ended     {log_text(ended, 100)}")
    blocks = report.run.blocks
    if blocks:
        lines.append("Blocks")
        for number, block in enumerate(blocks, start=1):
            error = f": {log_text(block.error, 500)}" if block.error else ""
            status = log_text(block.status or MISSING, 60)
            lines.append(f"  {number:>2}. {status:<12} {log_text(block.name, 200)}{error}")
    if report.run_url:
        lines.append(f"Link      {report.run_url}")
    return defuse_commands("\n".join(lines)) + "\n"


# -- list --------------------------------------------------------------------------------------

COLUMNS = ("ID", "STATUS", "WORKFLOW", "ENTITY", "STARTED", "INITIATOR")


def _cell(value: str | None, limit: int = MAX_CELL) -> str:
    text = log_text(value, 10_000) if value else MISSING
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(runs: Sequence[Mapping[str, Any]]) -> str:
    """An aligned text table, one run a line; Cortex's text made safe for a terminal and a log."""
    if not runs:
        return "No runs matched.\n"
    rows = [
        (
            _cell(r.id, 200),
            _cell(r.status, 20),
            _cell(r.workflow),
            _cell(r.entity),
            _cell(r.started, 30),
            _cell(r.initiator),
        )
        for r in map(parse_row, runs)
    ]
    widths = [max(len(c[i]) for c in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        for cells in [COLUMNS, *rows]
    ]
    return defuse_commands("\n".join(lines)) + "\n"


def json_array(runs: Sequence[Mapping[str, Any]], *, indent: int | None = 2) -> str:
    """The runs exactly as Cortex sent them, as one JSON array."""
    return (
        json_for_log(json.dumps(list(runs), indent=indent, ensure_ascii=False, default=str)) + "\n"
    )


def json_lines(runs: Sequence[Mapping[str, Any]]) -> str:
    """One run per line, as Cortex sent it."""
    return "".join(
        json_for_log(json.dumps(r, ensure_ascii=False, default=str)) + "\n" for r in runs
    )


def list_outputs(runs: Sequence[Mapping[str, Any]]) -> tuple[dict[str, str], bool]:
    """Outputs ``runs`` and ``count``; the second value tells whether ``runs`` was slimmed to the
    columns because the full objects would pass GitHub's limit on outputs."""
    full = json.dumps(list(runs), ensure_ascii=False, default=str)
    slimmed = len(full.encode()) > OUTPUT_LIMIT
    if slimmed:
        full = json.dumps([parse_row(r).__dict__ for r in runs], ensure_ascii=False)
    return {"runs": full, "count": str(len(runs))}, slimmed


def list_summary(
    runs: Sequence[Mapping[str, Any]],
    *,
    filters: Sequence[tuple[str, str]],
    runs_url: str,
    note: str | None = None,
) -> str:
    """A Markdown job summary: the filters used, then one row per run with its status and link."""
    count = len(runs)
    lines = [f"### Cortex workflow runs: {count} run{'s' if count != 1 else ''}", ""]
    if filters:
        lines.append(
            "Filters: " + ", ".join(f"{name} {markdown_code(value)}" for name, value in filters)
        )
        lines.append("")
    if note:
        lines += [f"> {markdown_text(note)}", ""]
    if not runs:
        lines.append("No runs matched (Cortex returns runs of the last 30 days only).")
    else:
        lines += [
            "| Run | Status | Workflow | Entity | Started | Initiator |",
            "|---|---|---|---|---|---|",
        ]
        for r in map(parse_row, runs):
            icon = ICONS[classify(r.status)]
            lines.append(
                f"| [{markdown_code(r.id)}]({runs_url}) | {icon} {markdown_text(r.status, 40)} | "
                f"{markdown_text(r.workflow or MISSING, 200)} | "
                f"{markdown_text(r.entity or MISSING, 200)} | "
                f"{markdown_text(r.started or MISSING, 40)} | "
                f"{markdown_text(r.initiator or MISSING, 200)} |"
            )
    text = "\n".join(lines) + "\n"
    if len(text.encode()) > SUMMARY_LIMIT:
        cut = text.encode()[: SUMMARY_LIMIT - 200].decode("utf-8", "ignore")
        text = (
            cut.rsplit("\n", 1)[0] + "\n\n_The table was cut to stay under GitHub's 1 MiB limit._\n"
        )
    return text
