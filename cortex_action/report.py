"""What one invocation found out, as plain data for the renderers."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from cortex_action.models import Run


@dataclass(frozen=True)
class Report:
    """The result of ``run``/``wait``/``get``: the run as last seen and what it meant."""

    command: str
    workflow: str
    exit_code: int
    headline: str  # one sentence: what happened
    run: Run | None = None
    run_url: str | None = None
    scope: str | None = None  # "GLOBAL" or "ENTITY"
    entity: str | None = None
    idempotency_key: str | None = None
    key_source: str | None = None
    replayed: bool | None = None  # run: the trigger returned an existing run; None: no trigger
    duration: float | None = None
    started_at: str | None = None  # ISO 8601, UTC
    job_url: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    compared: str | None = None  # "slower: 6m02s, against a median of 4m10s over 12 runs (...)"

    @property
    def run_id(self) -> str | None:
        return self.run.id if self.run else None

    @property
    def status(self) -> str | None:
        return self.run.status if self.run else None


def _scrub(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return value.replace(secret, "***")
    if isinstance(value, list):
        return [_scrub(item, secret) for item in value]
    if isinstance(value, dict):
        return {_scrub(k, secret): _scrub(v, secret) for k, v in value.items()}
    return value


def redacted(report: Report, secret: str) -> Report:
    """The report with ``secret`` replaced in every text, before any escaping can disguise it."""
    if not secret:
        return report
    run = report.run
    if run is not None:
        run = Run(
            id=_scrub(run.id, secret),
            status=_scrub(run.status, secret),
            raw=_scrub(run.raw, secret),
        )
    return replace(
        report,
        run=run,
        headline=_scrub(report.headline, secret),
        notes=tuple(_scrub(n, secret) for n in report.notes),
    )


@dataclass(frozen=True)
class CallbackReport:
    """What ``callback`` sent and how Cortex took it, for the renderers."""

    workflow: str
    callback_id: str
    status: str  # SUCCESS, FAILURE or UPDATE: as sent
    message: str
    response: dict[str, Any]
    # Whether the response's values are shown: ours (job link, commit, outcome) are; a response
    # the user gave may carry anything (a deploy's outputs, a password), so only its keys are.
    response_shown: bool
    exit_code: int
    headline: str
    http_status: int | None = None  # Cortex's last answer; None: no answer at all
    landed_earlier: str | None = None  # why we believe a lost attempt was received
    job_url: str | None = None
