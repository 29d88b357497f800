"""One run and one report to render, the same in every renderer test."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cortex_action.models import parse_run
from cortex_action.report import Report

RAW_RUN: dict[str, Any] = {
    "id": "run-1",
    "status": "FAILED",
    "workflow": {"tag": "deploy"},
    "scope": {"type": "ENTITY", "entityId": "svc"},
    "dateStarted": "2026-11-30T08:00:00Z",
    "dateCompleted": "2026-11-30T08:01:05Z",
    "initiatedBy": {"email": "ada@example.com"},
    "actions": [
        {"name": "Build", "state": {"status": "COMPLETED"}},
        {"name": "Deploy", "state": {"status": "FAILED", "errorMessage": "boom|<b>"}},
    ],
}

REPORT = Report(
    command="run",
    workflow="deploy",
    exit_code=1,
    headline="Run run-1 FAILED.",
    run=parse_run(RAW_RUN),
    run_url="https://app.example.com/runs",
    scope="ENTITY",
    entity="svc",
    idempotency_key="key-1",
    key_source="derived",
    duration=65.2,
    job_url="https://ci.example.com/job/1",
    notes=("A note.",),
)


def report(**changes: Any) -> Report:
    """``REPORT`` with some fields changed."""
    return replace(REPORT, **changes)


def run_with(**fields: Any) -> dict[str, Any]:
    """``RAW_RUN`` with some fields changed."""
    return {**RAW_RUN, **fields}
