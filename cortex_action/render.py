"""Pure renderers: outputs, the job summary and the JSON result, as strings. No I/O."""

from __future__ import annotations

import json
import re
from typing import Any

from cortex_action.models import Outcome
from cortex_action.report import Report
from cortex_action.sanitize import json_for_log, markdown_code, markdown_text

# GitHub refuses a step summary over 1 MiB; stay well clear of it.
SUMMARY_LIMIT = 1_000_000
# GitHub caps outputs too (about 1 MB per step); a larger value is slimmed.
OUTPUT_LIMIT = 900_000
MAX_BLOCK_ROWS = 200
_PLAIN_URL = re.compile(r"https?://[^\s<>()\[\]|`\\]+")

ICONS = {
    Outcome.SUCCESS: "✅",
    Outcome.FAILURE: "❌",
    Outcome.PAUSED: "⏸️",
    Outcome.RUNNING: "⏳",
    Outcome.UNKNOWN: "❔",
}


def format_duration(seconds: float | None) -> str:
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


def result_object(report: Report) -> dict[str, Any]:
    """The machine-readable result: our fields, plus the run exactly as Cortex sent it."""
    return {
        "command": report.command,
        "workflow": report.workflow,
        "runId": report.run_id,
        "status": report.status,
        "runUrl": report.run_url,
        "idempotencyKey": report.idempotency_key,
        "exitCode": report.exit_code,
        "message": report.headline,
        "durationSeconds": None if report.duration is None else round(report.duration, 3),
        "scope": report.scope,
        "entity": report.entity,
        "jobUrl": report.job_url,
        "run": report.run.raw if report.run else None,
    }


def result_json(report: Report, *, indent: int | None = None) -> str:
    """The result as JSON, safe to print into a CI log as well as to store."""
    text = json.dumps(result_object(report), indent=indent, ensure_ascii=False, default=str)
    return json_for_log(text)


def _result_output(report: Report) -> str:
    """The run as JSON for the ``result`` output; a run too large for GitHub is cut to its core."""
    if report.run is None:
        return ""
    text = json.dumps(report.run.raw, ensure_ascii=False, default=str)
    if len(text.encode()) > OUTPUT_LIMIT:
        core = {k: report.run.raw.get(k) for k in ("id", "status", "workflow")}
        core["truncated"] = "too large for a step output; read the run with `cortex-action get`"
        text = json.dumps(core, ensure_ascii=False, default=str)
    return text


def outputs(report: Report) -> dict[str, str]:
    """The step outputs; empty strings where a value is unknown, so ``if:`` tests are simple."""
    return {
        "run-id": report.run_id or "",
        "status": report.status or "",
        "run-url": report.run_url or "",
        "idempotency-key": report.idempotency_key or "",
        "result": _result_output(report),
    }


def summary(report: Report) -> str:
    """The Markdown job summary; every piece of Cortex's text is escaped, the size is capped."""
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
    if report.idempotency_key:
        source = f" ({markdown_text(report.key_source, 300)})" if report.key_source else ""
        lines.append(f"| Idempotency key | {markdown_code(report.idempotency_key)}{source} |")
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
    text = "\n".join(lines) + "\n"
    if len(text.encode()) > SUMMARY_LIMIT:
        cut = text.encode()[: SUMMARY_LIMIT - 200].decode("utf-8", "ignore")
        text = (
            cut.rsplit("\n", 1)[0]
            + "\n\n_The summary was cut to stay under GitHub's 1 MiB limit._\n"
        )
    return text
