"""What one invocation found out, as plain data for the renderers."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    duration: float | None = None
    started_at: str | None = None  # ISO 8601, UTC
    job_url: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def run_id(self) -> str | None:
        return self.run.id if self.run else None

    @property
    def status(self) -> str | None:
        return self.run.status if self.run else None
