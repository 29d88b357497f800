"""What later steps and jobs read: the step outputs (GitHub), the result variables (GitLab's
dotenv report, Jenkins' ``readProperties``) and the JSON result (``--json`` and
``cortex-action.json``). Strings in, strings out."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cortex_action.models import parse_row
from cortex_action.report import Report
from cortex_action.sanitize import json_for_log

# GitHub caps outputs too (about 1 MB per step); a larger value is slimmed.
OUTPUT_LIMIT = 900_000

# The facts a later step or job reads, under their step output name and their variable name:
# one table, so that both namings always carry the same facts.
RESULT_FACTS: tuple[tuple[Callable[[Report], str | None], str, str], ...] = (
    (lambda report: report.run_id, "run-id", "CORTEX_RUN_ID"),
    (lambda report: report.status, "status", "CORTEX_RUN_STATUS"),
    (lambda report: report.run_url, "run-url", "CORTEX_RUN_URL"),
    # Not CORTEX_IDEMPOTENCY_KEY: that is the `idempotency-key` input, and GitLab gives dotenv
    # variables precedence over a later job's own, which would replay this job's run there.
    (lambda report: report.idempotency_key, "idempotency-key", "CORTEX_RUN_IDEMPOTENCY_KEY"),
    (lambda report: _yes_no(report.replayed), "replayed", "CORTEX_RUN_REPLAYED"),
)


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else str(value).lower()


def result_object(report: Report) -> dict[str, Any]:
    """The machine-readable result: our fields, plus the run exactly as Cortex sent it."""
    return {
        "command": report.command,
        "workflow": report.workflow,
        "runId": report.run_id,
        "status": report.status,
        "runUrl": report.run_url,
        "idempotencyKey": report.idempotency_key,
        "replayed": report.replayed,
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


def run_outputs(report: Report) -> dict[str, str]:
    """The step outputs; empty strings where a value is unknown, so ``if:`` tests are simple."""
    outputs = {output: fact(report) or "" for fact, output, _ in RESULT_FACTS}
    return {**outputs, "result": _result_output(report)}


def result_variables(report: Report) -> dict[str, str]:
    """What a later job reads from the variables file; empty where a value is unknown."""
    return {variable: fact(report) or "" for fact, _, variable in RESULT_FACTS}


def list_outputs(runs: Sequence[Mapping[str, Any]]) -> tuple[dict[str, str], bool]:
    """Outputs ``runs`` and ``count``; the second value tells whether ``runs`` was slimmed to the
    columns because the full objects would pass GitHub's limit on outputs."""
    full = json.dumps(list(runs), ensure_ascii=False, default=str)
    slimmed = len(full.encode()) > OUTPUT_LIMIT
    if slimmed:
        full = json.dumps([parse_row(r).__dict__ for r in runs], ensure_ascii=False)
    return {"runs": full, "count": str(len(runs))}, slimmed
