"""The Markdown job summaries a person reads on GitHub (and in ``cortex-action.md``): one run's
report, or a listing. Every piece of Cortex's text is escaped; the text is whole, and a host
with a size limit (GitHub's 1 MiB) cuts it."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from cortex_action.models import MISSING, Outcome, Phase, Run, classify, parse_row
from cortex_action.render.terminal import format_duration
from cortex_action.report import Report
from cortex_action.sanitize import BIDI_CONTROLS, markdown_code, markdown_text

MAX_BLOCK_ROWS = 200
# Bars in the gantt chart: each is one short line (~100 bytes), so the summary stays far under
# GitHub's 1 MiB whatever the number of blocks, and the chart stays readable.
MAX_CHART_BARS = 100
MAX_BAR_LABEL = 60
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
    # Under the table, where the blocks give their times (``gantt`` says nothing otherwise).
    lines += ["", gantt(report.run) or ""] if report.run else []
    return "\n".join(lines).rstrip("\n") + "\n"


# Characters that mean something to Mermaid's gantt syntax (``:`` ends a task's name, ``;`` and
# a newline end a statement, ``#`` starts an entity, ``%%`` a comment), to HTML, or to the
# Markdown fence around the chart: each is written as Mermaid's entity code (``#58;``), which
# Mermaid decodes after parsing and shows as text, so a name is drawn exactly as it is.
_MERMAID_SPECIAL = frozenset(':;#%<>&`"\\{}')
_BLANKS = re.compile(rf"[\s\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]+")


def mermaid_label(text: str, limit: int = MAX_BAR_LABEL) -> str:
    """A block's name as one safe gantt task name: one line, no syntax, no markup, short."""
    text = _BLANKS.sub(" ", text).strip()
    text = text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return "".join(f"#{ord(c)};" if c in _MERMAID_SPECIAL else c for c in text)


def _millis(instant: dt.datetime) -> int:
    return int(instant.timestamp() * 1000)


# Block times further than this from the run's own are a lie (or a clock gone wrong).
_SLACK = dt.timedelta(days=1)
_LONGEST_RUN = dt.timedelta(days=90)


def _plausible(run: Run) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The span a block's start may fall in: around the run's times, else around the blocks'
    middle start; (None, None) when nothing gives a time."""
    times = run.times
    anchor = times.started or times.created
    if anchor is None:
        starts = sorted(s for s in (b.times.started for b in run.blocks[:1000]) if s is not None)
        if not starts:
            return None, None
        anchor = starts[len(starts) // 2]
    last = max((t for t in (times.ended, times.updated) if t is not None), default=None)
    high = max(last, anchor) + _SLACK if last is not None else anchor + _LONGEST_RUN
    return anchor - _SLACK, high


def gantt(run: Run) -> str | None:
    """A Mermaid gantt chart of the run's blocks, one bar each (failed ones ``crit``), in a
    fenced block; None when no block gives a start time. At most ``MAX_CHART_BARS`` bars."""
    times = run.times
    # A block still running (or cut off) ends, on the chart, where the run was last seen.
    fallback = times.ended or times.updated
    bars: list[str] = []
    blocks = run.blocks
    more = False
    low, high = _plausible(run)
    odd = 0
    for number, block in enumerate(blocks, start=1):
        if len(bars) >= MAX_CHART_BARS:
            more = True  # the rest are not read: a run may have thousands
            break
        start = block.times.started
        if start is None:
            continue
        if low is not None and high is not None and not low <= start <= high:
            odd += 1  # one bar in 1970 or 9999 would squash every other bar to nothing
            continue
        end = block.times.ended
        if end is None or end < start:
            end = fallback if fallback is not None and fallback >= start else start
        if high is not None:
            end = min(end, high)
        tag = "crit" if block.failed else "active" if block.phase is Phase.RUNNING else "done"
        begin = _millis(start)
        label = mermaid_label(block.name) or "block"
        bars.append(
            f"    {number}. {label} :{tag}, b{number}, {begin}, {max(_millis(end), begin + 1)}"
        )
    if not bars:
        return None
    lines = [
        "```mermaid",
        "gantt",
        "    dateFormat x",
        "    axisFormat %H:%M:%S",
        "    todayMarker off",
        "    section Blocks",
        *bars,
        "```",
    ]
    if odd:
        lines.append(
            f"\n_{odd} block{'s' if odd != 1 else ''} with times far from the run's are not "
            "charted; all are in the `result` output._"
        )
    if more:
        lines.append(
            f"\n_The chart shows the first {len(bars)} timed blocks of {len(blocks)}; all are in "
            "the `result` output._"
        )
    return "\n".join(lines)


def fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text``, so it can't be closed early."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def dry_run_summary(*, workflow: str, body: Mapping[str, Any], key: str, key_source: str) -> str:
    """What a dry run checked and the trigger it would send (its body), which it did not."""
    text = json.dumps(body, indent=2, ensure_ascii=False)
    ticks = fence(text)
    scope = body.get("scope") if isinstance(body.get("scope"), Mapping) else {}
    assert isinstance(scope, Mapping)
    entity = scope.get("entityId")
    scope_text = markdown_text(str(scope.get("type", "GLOBAL")), 40)
    scope_text += f" {markdown_code(str(entity))}" if entity else ""
    lines = [
        f"### 🧪 Cortex workflow {markdown_code(workflow)}: dry run",
        "",
        "The workflow and the token were checked; the trigger below was **not** sent.",
        "",
        "| | |",
        "|---|---|",
        f"| Workflow | {markdown_code(workflow)} |",
        f"| Scope | {scope_text} |",
        f"| Idempotency key | {markdown_code(key)} ({markdown_text(key_source, 300)}) |",
        "| Status | DRY\\_RUN |",
        "",
        f"{ticks}json",
        text,
        ticks,
    ]
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
