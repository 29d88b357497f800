"""What a person (or a pipe) reads on stdout and in the log: one run as a block (``get``), a
listing as a table, JSON or JSON lines (``list``), and durations. Strings in, strings out.

Cortex documents only a run's ``id``, ``status``, ``workflow`` and ``actions``; every other column
is shown as ``-`` when the run object doesn't give it (see ``models.parse_row``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cortex_action.models import MISSING, ended_at, parse_row
from cortex_action.report import Report
from cortex_action.sanitize import defuse_commands, json_for_log, log_text

MAX_CELL = 48


def format_duration(seconds: float | None) -> str:
    """``1h02m05s``, ``4m05s`` or ``7s``; ``-`` when the duration is unknown."""
    if seconds is None:
        return "-"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


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
