"""The Markdown job summaries a person reads on GitHub (and in ``cortex-action.md``): one run's
report, or a listing. Every piece of Cortex's text is escaped; the text is whole, and a host
with a size limit (GitHub's 1 MiB) cuts it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from cortex_action.models import MISSING, Outcome, classify, parse_row
from cortex_action.render.terminal import format_duration
from cortex_action.report import Report
from cortex_action.sanitize import markdown_code, markdown_text

MAX_BLOCK_ROWS = 200
_PLAIN_URL = re.compile(r"https?://[^\s<>()\[\]|`\\]+")

ICONS = {
    Outcome.SUCCESS: "✅",
    Outcome.FAILURE: "❌",
    Outcome.PAUSED: "⏸️",
    Outcome.RUNNING: "⏳",
    Outcome.UNKNOWN: "❔",
}


def _new_run_row(report: Report) -> list[str]:
    """Whether the trigger started the run (only ``run`` knows: empty otherwise)."""
    if report.replayed is None:
        return []
    said = "no: Cortex returned an existing run for this key" if report.replayed else "yes"
    return [f"| New run | {said} |"]


def run_summary(report: Report) -> str:
    """One run's report in Markdown, whole; every piece of Cortex's text is escaped."""
    outcome = report.run.outcome if report.run else Outcome.UNKNOWN
    icon = "✅" if report.exit_code == 0 else ICONS.get(outcome, "❌")
    if report.command == "get":  # get exits 0 for any run it could read: show the run's state
        icon = ICONS.get(outcome, "❔")
    if report.exit_code not in (0, 1) and outcome is not Outcome.FAILURE:
        icon = "⚠️"
    lines = [
        f"### {icon} Cortex workflow {markdown_code(report.workflow)}: "
        f"{markdown_text(report.status or 'no run')}",
        "",
        markdown_text(report.headline),
        "",
        "| | |",
        "|---|---|",
        f"| Workflow | {markdown_code(report.workflow)} |",
    ]
    if report.scope:
        scope = markdown_text(report.scope, 40)
        scope += f" {markdown_code(report.entity)}" if report.entity else ""
        lines.append(f"| Scope | {scope} |")
    if report.run:
        link = f" ([open in Cortex]({report.run_url}))" if report.run_url else ""
        lines.append(f"| Run | {markdown_code(report.run.id)}{link} |")
        lines.append(f"| Status | {markdown_text(report.run.status)} |")
    lines.append(f"| Duration | {format_duration(report.duration)} |")
    if report.compared:
        lines.append(f"| Against history | {markdown_text(report.compared, 300)} |")
    if report.idempotency_key:
        source = f" ({markdown_text(report.key_source, 300)})" if report.key_source else ""
        lines.append(f"| Idempotency key | {markdown_code(report.idempotency_key)}{source} |")
    lines += _new_run_row(report)
    lines.append(f"| Exit code | {report.exit_code} |")
    if report.job_url:
        # A link only when the URL can't break out of it; it comes from the CI's environment.
        job = markdown_text(report.job_url, 500)
        if _PLAIN_URL.fullmatch(report.job_url):
            job = f"[{job}]({report.job_url})"
        lines.append(f"| CI job | {job} |")
    for note in report.notes:
        lines += ["", f"> {markdown_text(note)}"]
    blocks = report.run.blocks if report.run else []
    if blocks:
        lines += ["", "| # | Block | Status | Error |", "|---|---|---|---|"]
        for number, block in enumerate(blocks[:MAX_BLOCK_ROWS], start=1):
            lines.append(
                f"| {number} | {markdown_text(block.name, 200)} | "
                f"{markdown_text(block.status or '-', 100)} | "
                f"{markdown_text(block.error or '', 2000)} |"
            )
        if len(blocks) > MAX_BLOCK_ROWS:
            lines.append(
                f"\n_{len(blocks) - MAX_BLOCK_ROWS} more blocks are in the `result` output._"
            )
    return "\n".join(lines) + "\n"


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
    return "\n".join(lines) + "\n"
