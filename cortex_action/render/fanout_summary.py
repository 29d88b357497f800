"""A fan-out's results: the step outputs, one job summary (a row per entity, the totals and a
gantt chart), and the result files of GitLab and Jenkins. Strings in, strings out."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from cortex_action.fanout import EntityReport, FanOutReport, Verdict
from cortex_action.render import outputs
from cortex_action.render.result_files import (
    ENV_FILE,
    JSON_FILE,
    JUNIT_FILE,
    SUMMARY_FILE,
    EnvSyntax,
    dotenv,
    dry_run_junit,
    java_properties,
    junit_document,
    junit_suite,
)
from cortex_action.render.summary import ICONS, fence
from cortex_action.render.terminal import format_duration
from cortex_action.sanitize import BIDI_CONTROLS, json_for_log, markdown_code, markdown_text

# How much of an entity's name `runs` keeps when hundreds of long names would not fit otherwise.
NAME_IN_OUTPUT = 200
# GitHub refuses a job summary over 1 MiB: the chart and the rows stay well under it.
SUMMARY_LIMIT = 1024 * 1024 - 4096
MAX_BAR_LABEL = 60

VERDICT_ICONS = {
    Verdict.COMPLETED: "✅",
    Verdict.FAILED: "❌",
    Verdict.REFUSED: "⛔",
    Verdict.GAVE_UP: "⌛",
    Verdict.PAUSED_BY_POLICY: "⏸️",
    Verdict.SKIPPED: "⏭️",
}

# (name in the totals and in cortex-action.json, variable in cortex-action.env, verdicts)
TOTALS: tuple[tuple[str, str, tuple[Verdict, ...]], ...] = (
    ("completed", "CORTEX_RUNS_COMPLETED", (Verdict.COMPLETED,)),
    ("failed", "CORTEX_RUNS_FAILED", (Verdict.FAILED,)),
    ("refused", "CORTEX_RUNS_REFUSED", (Verdict.REFUSED,)),
    ("gaveUp", "CORTEX_RUNS_GAVE_UP", (Verdict.GAVE_UP,)),
    ("paused", "CORTEX_RUNS_PAUSED", (Verdict.PAUSED_BY_POLICY,)),
    ("skipped", "CORTEX_RUNS_SKIPPED", (Verdict.SKIPPED,)),
)
TOTAL_WORDS = {
    "completed": "completed",
    "failed": "failed",
    "refused": "refused or unreachable",
    "gaveUp": "still going or not triggered when waiting stopped",
    "paused": "paused (on-paused decided)",
    "skipped": "skipped",
}


def _one(report: FanOutReport) -> EntityReport | None:
    return report.entities[0] if len(report.entities) == 1 else None


# -- the runs, as JSON ------------------------------------------------------------------------


def entity_object(entry: EntityReport, *, with_run: bool = True) -> dict[str, Any]:
    r = entry.report
    item: dict[str, Any] = {
        "entity": r.entity,
        "runId": r.run_id,
        "status": entry.status,
        "replayed": entry.replayed,
        "idempotencyKey": r.idempotency_key,
        "exitCode": r.exit_code,
        "message": r.headline,
        "durationSeconds": None if r.duration is None else round(r.duration, 3),
    }
    if with_run:
        item["run"] = r.run.raw if r.run else None
    return item


def runs_output(report: FanOutReport) -> str:
    """Every entity's final run object, in the order given; slimmed when GitHub would refuse it."""
    text = json.dumps([entity_object(e) for e in report.entities], ensure_ascii=False, default=str)
    if len(text.encode()) <= outputs.OUTPUT_LIMIT:
        return text
    rows = [entity_object(e, with_run=False) for e in report.entities]
    text = json.dumps(rows, ensure_ascii=False, default=str)
    if len(text.encode()) <= outputs.OUTPUT_LIMIT:
        return text
    # Still too large (hundreds of long names, messages that quote them): every entity keeps its
    # row, in order, with its status and run; messages are in the result file and the summary.
    for row in rows:
        row.pop("message", None)
    text = json.dumps(rows, ensure_ascii=False, default=str)
    if len(text.encode()) <= outputs.OUTPUT_LIMIT:
        return text
    for row in rows:  # the last resort: names cut short, and said to be
        name = row["entity"]
        if isinstance(name, str) and len(name) > NAME_IN_OUTPUT:
            row["entity"] = name[:NAME_IN_OUTPUT] + "…"
            row["entityTruncated"] = True
    return json.dumps(rows, ensure_ascii=False, default=str)


def fanout_outputs(report: FanOutReport) -> dict[str, str]:
    """The step outputs: ``runs``, ``count``, ``status``, ``run-url``; ``run-id``, ``result`` and
    ``idempotency-key`` only when one entity was given."""
    one = _one(report)
    single = outputs.run_outputs(one.report) if one is not None else {}
    return {
        "run-id": single.get("run-id", ""),
        "status": report.status,
        "run-url": report.runs_url,
        "idempotency-key": single.get("idempotency-key", ""),
        "result": single.get("result", ""),
        "runs": runs_output(report),
        "count": str(len(report.entities)),
    }


def result_object(report: FanOutReport) -> dict[str, Any]:
    return {
        "command": "run",
        "workflow": report.workflow,
        "status": report.status,
        "exitCode": report.exit_code,
        "message": report.headline,
        "runUrl": report.runs_url,
        "jobUrl": report.job_url,
        "durationSeconds": round(report.duration, 3),
        "maxParallel": report.max_parallel,
        "failFast": report.fail_fast,
        "count": len(report.entities),
        "totals": {name: report.count(*verdicts) for name, _, verdicts in TOTALS},
        "notes": list(report.notes),
        "runs": [entity_object(e) for e in report.entities],
    }


def result_json(report: FanOutReport, *, indent: int | None = None) -> str:
    text = json.dumps(result_object(report), indent=indent, ensure_ascii=False, default=str)
    return json_for_log(text)


def variables(report: FanOutReport) -> dict[str, str]:
    one = _one(report)
    values = {
        "CORTEX_RUN_STATUS": report.status,
        "CORTEX_RUN_URL": report.runs_url,
        "CORTEX_RUN_COUNT": str(len(report.entities)),
        **{variable: str(report.count(*verdicts)) for _, variable, verdicts in TOTALS},
    }
    if one is not None:
        values |= outputs.result_variables(one.report)
    return values


# -- the summary ------------------------------------------------------------------------------


def fanout_summary(report: FanOutReport) -> str:
    """One summary for the whole fan-out: a row per entity, the totals, and a gantt chart."""
    icon = "✅" if report.exit_code == 0 else ("❌" if report.exit_code == 1 else "⚠️")
    count = len(report.entities)
    lines = [
        f"### {icon} Cortex workflow {markdown_code(report.workflow)} on {count} "
        f"entit{'y' if count == 1 else 'ies'}: {markdown_text(report.status, 40)}",
        "",
        markdown_text(report.headline),
        "",
        _totals(report),
        "",
        f"At most {report.max_parallel} at once; fail-fast "
        f"{'on' if report.fail_fast else 'off'}; took {format_duration(report.duration)}; "
        f"exit code {report.exit_code}. [Runs in Cortex]({report.runs_url})"
        + (f" · [CI job]({report.job_url})" if _plain_url(report.job_url) else ""),
    ]
    for note in report.notes:
        lines += ["", f"> {markdown_text(note)}"]
    lines += [
        "",
        "| Entity | Run | Status | Duration | Replayed | Failed block | Message |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [_row(e) for e in report.entities]
    chart = gantt(report)
    size = sum(len(x.encode()) + 1 for x in [*lines, *rows]) + len((chart or "").encode())
    if size > SUMMARY_LIMIT:
        chart = None  # the rows matter more than the picture
    lines += rows
    if chart:
        lines += ["", chart]
    text = "\n".join(lines) + "\n"
    if len(text.encode()) > SUMMARY_LIMIT:
        text = text.encode()[:SUMMARY_LIMIT].decode("utf-8", "ignore")
        text += "\n\n_The summary was cut at GitHub's size limit; every run is in `runs`._\n"
    return text


def _totals(report: FanOutReport) -> str:
    parts = [
        f"{report.count(*verdicts)} {TOTAL_WORDS[name]}"
        for name, _, verdicts in TOTALS
        if report.count(*verdicts) or name == "completed"
    ]
    return f"**{len(report.entities)} runs**: " + ", ".join(parts)


def _row(entry: EntityReport) -> str:
    r = entry.report
    failed = r.run.failed_blocks if r.run else []
    block = failed[0] if failed else None
    message = (block.error or block.status or "") if block else r.headline
    if entry.verdict is Verdict.COMPLETED:
        message = "-"
    replayed = {True: "yes", False: "no", None: "-"}[entry.replayed]
    icon = VERDICT_ICONS[entry.verdict]
    if r.run is not None and entry.verdict is Verdict.COMPLETED:
        icon = ICONS[r.run.outcome]
    return (
        f"| {markdown_code(r.entity or '-')} | {markdown_code(r.run_id) if r.run_id else '-'} | "
        f"{icon} {markdown_text(entry.status, 40)} | {format_duration(r.duration)} | {replayed} | "
        f"{markdown_text(block.name, 200) if block else '-'} | {markdown_text(message, 300)} |"
    )


_PLAIN_URL = re.compile(r"https?://[^\s<>()\[\]|`\\]+")


def _plain_url(url: str | None) -> bool:
    return bool(url) and _PLAIN_URL.fullmatch(url or "") is not None


# Characters that mean something to Mermaid's gantt syntax (``:`` ends a task's name, ``;`` and
# a newline end a statement, ``#`` an entity, ``%%`` a comment), to HTML in its labels, or to the
# Markdown fence around it: each becomes a look-alike that means nothing there.
_MERMAID_SAFE = str.maketrans(
    {
        ":": "\ua789",
        ";": "\uff1b",
        "#": "\uff03",
        "%": "\uff05",
        "<": "\u2039",
        ">": "\u203a",
        "&": "\uff06",
        "`": "'",
        '"': "'",
        "\\": "\uff3c",
        "{": "(",
        "}": ")",
    }
)
# Bidi controls too: in an entity's name they would reverse the rest of the bar's label.
_BLANKS = re.compile(rf"[\s\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]+")


def mermaid_label(text: str, limit: int = MAX_BAR_LABEL) -> str:
    """An entity as one safe gantt task name: one line, no syntax, no markup, short."""
    text = _BLANKS.sub(" ", text).translate(_MERMAID_SAFE).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _millis(instant: dt.datetime) -> int:
    return int(instant.timestamp() * 1000)


def gantt(report: FanOutReport) -> str | None:
    """A Mermaid gantt chart, one bar per run that has times (failed ones ``crit``)."""
    bars = []
    for number, entry in enumerate(report.entities, start=1):
        if entry.span is None:
            continue
        start, end = entry.span
        tag = {
            Verdict.COMPLETED: "done",
            Verdict.FAILED: "crit",
            Verdict.REFUSED: "crit",
        }.get(entry.verdict, "active")
        label = mermaid_label(entry.report.entity or "") or f"entity {number}"
        begin = _millis(start)
        bars.append(f"    {label} :{tag}, r{number}, {begin}, {max(_millis(end), begin + 1)}")
    if not bars:
        return None
    return "\n".join(
        [
            "```mermaid",
            "gantt",
            "    dateFormat x",
            "    axisFormat %H:%M:%S",
            "    todayMarker off",
            "    section Runs",
            *bars,
            "```",
        ]
    )


# -- the result files -------------------------------------------------------------------------


def junit_xml(report: FanOutReport) -> str:
    """One test suite per entity, its run and its blocks as test cases."""
    root = ET.Element("testsuites", name="cortex-action")
    totals = {"passed": 0, "failure": 0, "error": 0, "skipped": 0}
    for entry in report.entities:
        name = f"Cortex workflow {report.workflow}: {entry.report.entity}"
        for kind, n in junit_suite(root, entry.report, name).items():
            totals[kind] += n
    root.set("tests", str(sum(totals.values())))
    root.set("failures", str(totals["failure"]))
    root.set("errors", str(totals["error"]))
    root.set("skipped", str(totals["skipped"]))
    root.set("time", f"{report.duration:.3f}")
    return junit_document(root)


def fanout_files(report: FanOutReport, syntax: EnvSyntax) -> dict[str, str]:
    values = variables(report)
    return {
        ENV_FILE: dotenv(values) if syntax is EnvSyntax.DOTENV else java_properties(values),
        JSON_FILE: result_json(report, indent=2) + "\n",
        SUMMARY_FILE: fanout_summary(report),
        JUNIT_FILE: junit_xml(report),
    }


def dry_run_summary(
    workflow: str, keys: list[tuple[str, str]], body: dict[str, Any], note: str | None = None
) -> str:
    """A fan-out's dry run: the key each entity's trigger would send, and one body (the others
    differ only in ``scope.entityId``); nothing was sent."""
    text = json.dumps(body, indent=2, ensure_ascii=False)
    ticks = fence(text)
    lines = [
        f"### 🧪 Cortex workflow {markdown_code(workflow)}: dry run of {len(keys)} "
        f"run{'s' if len(keys) != 1 else ''}",
        "",
        "The workflow and the token were checked; the triggers below were **not** sent.",
        "",
        *([f"> ⚠️ {markdown_text(note)}", ""] if note else []),
        "| Entity | Idempotency key |",
        "|---|---|",
        *(f"| {markdown_code(e, NAME_IN_OUTPUT)} | {markdown_code(k)} |" for e, k in keys),
        "",
        "The first entity's request body (the others differ only in `scope.entityId`):",
        "",
        f"{ticks}json",
        text,
        ticks,
    ]
    return "\n".join(lines) + "\n"


def dry_run_result(workflow: str, keys: list[tuple[str, str]]) -> dict[str, Any]:
    """``--json`` and ``cortex-action.json`` of a fan-out's dry run."""
    return {
        "command": "run",
        "dryRun": True,
        "workflow": workflow,
        "status": "DRY_RUN",
        "exitCode": 0,
        "runs": dry_run_runs(keys),
    }


def dry_run_runs(keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"entity": e, "idempotencyKey": k, "status": "DRY_RUN", "run": None} for e, k in keys]


def dry_run_runs_output(keys: list[tuple[str, str]]) -> str:
    """The ``runs`` output of a dry run: 500 long non-ASCII names pass GitHub's limit on outputs,
    so then, as ``runs_output`` does, names are cut short and said to be; every key is kept."""
    rows = dry_run_runs(keys)
    text = json.dumps(rows, ensure_ascii=False)
    if len(text.encode()) <= outputs.OUTPUT_LIMIT:
        return text
    for row in rows:
        name = row["entity"]
        if len(name) > NAME_IN_OUTPUT:
            row["entity"] = name[:NAME_IN_OUTPUT] + "…"
            row["entityTruncated"] = True
    return json.dumps(rows, ensure_ascii=False)


def dry_run_files(
    result: dict[str, Any], summary_md: str, count: int, syntax: EnvSyntax
) -> dict[str, str]:
    variables = {"CORTEX_RUN_STATUS": "DRY_RUN", "CORTEX_RUN_COUNT": str(count)}
    runs = result["runs"]
    if len(runs) == 1:  # as a real fan-out of one entity: its key, for a later job to compare
        variables["CORTEX_RUN_IDEMPOTENCY_KEY"] = runs[0]["idempotencyKey"]
    env = dotenv(variables) if syntax is EnvSyntax.DOTENV else java_properties(variables)
    triggers = [(r["entity"], r["idempotencyKey"]) for r in runs]
    return {
        ENV_FILE: env,
        JSON_FILE: json.dumps(result, indent=2) + "\n",
        SUMMARY_FILE: summary_md,
        JUNIT_FILE: dry_run_junit(result["workflow"], triggers),
    }
