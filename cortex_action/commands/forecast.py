"""How long this run will likely take: one look at the workflow's recent runs when the wait
begins, the ETA people read, and how the run compared at its end.

The look-up is one request with a short budget of its own (never the run's ``timeout``); when it
fails, is refused or finds too little, the wait keeps its usual schedule, with one line saying so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cortex_action import history as hist
from cortex_action.commands.context import Context
from cortex_action.errors import CortexError
from cortex_action.models import Run
from cortex_action.render.terminal import format_duration
from cortex_action.retry import RetryPolicy
from cortex_action.sanitize import log_text
from cortex_action.schedule import Forecast
from cortex_action.settings import ReadSettings, RunSettings

# One page of the latest runs: enough for a median and a 90th percentile, small enough to be
# cheap (the run objects come with their context, to tell entities apart).
PAGE_SIZE = 25
# The look-up's own budget: at most this, and at most a tenth of what is left of `timeout`.
BUDGET = 3.0
# One attempt: no retry, whatever the answer (a base delay past any budget rules out a second
# attempt after a 429 too).
ONE_ATTEMPT = RetryPolicy(
    max_attempts=1, base_delay=3600.0, request_timeout=BUDGET, min_request_timeout=1.0
)
# With less of `timeout` left than this, the look-up is not worth its time.
MIN_LEFT = 10.0
# A run this much older than our trigger was started before it: the trigger was a replay.
REPLAYED_AFTER = 60.0


@dataclass(frozen=True)
class Outlook:
    """The model and the cadence for this wait, or None for the usual schedule."""

    history: hist.History | None
    forecast: Forecast | None
    offset: float = 0.0  # how old the run was when the wait began (0 when unknown)
    age_known: bool = True

    def time_left(self, elapsed: float) -> str:
        """``about 2m10s left`` or ``1m05s past its usual end``; empty without a history."""
        if self.forecast is None:
            return ""
        left = self.forecast.expected_end - elapsed
        if left >= 0.5:
            return f"about {format_duration(left)} left"
        if left > -0.5:
            return "due now"
        return f"{format_duration(-left)} past its usual end"


def workflow_ids(ctx: Context[RunSettings] | Context[ReadSettings], run: Run) -> list[str]:
    """The workflow as given, and its id where the run object tells it (``workflow.cid``): the
    list filter takes a tag on Cortex's own page [doc] and an id by its name."""
    ids = [ctx.settings.workflow]
    workflow = run.raw.get("workflow")
    if isinstance(workflow, dict):
        for key in ("cid", "id"):
            value = workflow.get(key)
            usable = isinstance(value, str) and 0 < len(value.strip()) <= 200
            if usable and isinstance(value, str) and value.strip() not in ids:
                ids.append(value.strip())
                break
    return ids


def _age(ctx: Context[RunSettings] | Context[ReadSettings], run: Run) -> tuple[float, bool]:
    """How old the run is now, and whether that is known: for ``run``, the time since the trigger
    (no clock skew), unless the run's own timestamps say it is much older (a replayed trigger
    follows a run started by an earlier attempt); for ``wait``, from its timestamps."""
    stamped: float | None = None
    created = hist.first_instant(run.raw, hist.START_NAMES)
    if created is not None:
        age = (ctx.now() - created).total_seconds()
        # Outside this: a server clock ahead of ours, or a garbled time.
        if 0 <= age <= hist.WINDOW.total_seconds():
            stamped = age
    if ctx.progress.command == "run":
        since_trigger = max(0.0, ctx.clock() - ctx.progress.started)
        if stamped is not None and stamped > since_trigger + REPLAYED_AFTER:
            return stamped, True
        return since_trigger, True
    return (stamped, True) if stamped is not None else (0.0, False)


def load(ctx: Context[RunSettings] | Context[ReadSettings], run: Run, deadline: float) -> Outlook:
    """One list request for the workflow's recent runs, and the model from it; never raises a
    Cortex error (the wait goes on with its usual schedule)."""
    progress = ctx.progress
    if deadline - ctx.clock() < MIN_LEFT:
        ctx.host.info(
            "No duration history (too little of `timeout` left to look it up); polling on the "
            "usual schedule."
        )
        return Outlook(None, None)
    ids = workflow_ids(ctx, run)
    params: dict[str, Any] = {
        "workflowIds": ids,  # httpx sends a list as the parameter repeated
        "sort": "dateCreated,desc",
        "page": 0,
        "size": PAGE_SIZE,
        "includeContext": "true",
    }
    budget = min(BUDGET, max(1.0, (deadline - ctx.clock()) / 10))
    try:
        page = ctx.client.list_runs(
            params, deadline=min(deadline, ctx.clock() + budget), policy=ONE_ATTEMPT
        )
    except CortexError as exc:
        first = exc.message.splitlines()[0] if exc.message else type(exc).__name__
        ctx.host.info(
            "No duration history (listing the workflow's recent runs failed: "
            f"{log_text(first, 300)}); polling on the usual schedule."
        )
        return Outlook(None, None)
    found = hist.build(
        page.runs,
        workflow=ids,
        entity=progress.entity,
        exclude=run.id,
        now=ctx.now(),
    )
    if found.history is None:
        ctx.host.info(f"No duration history ({found.reason}); polling on the usual schedule.")
        return Outlook(None, None)
    age, known = _age(ctx, run)
    outlook = Outlook(found.history, Forecast(found.history, offset=age), age, known)
    ctx.host.info(eta_line(found.history, ctx.now(), age if known else None))
    return outlook


def eta_line(history: hist.History, now: dt.datetime, age: float | None) -> str:
    """``Usually takes 4m10s (median of the last 12 runs; 90 % within 5m00s); expected to end
    around 14:32 UTC.``"""
    whose = "" if history.scope == "workflow" else f" on {log_text(history.scope[7:], 200)}"
    count = history.durations.count
    runs = f"the last {count} runs{whose}" if count > 1 else f"the last run{whose}"
    text = (
        f"Usually takes {format_duration(history.median)} (median of {runs}; 90 % within "
        f"{format_duration(history.p90)})"
    )
    if age is None:
        return f"{text}; when this run began is unknown, so no expected end."
    left = history.median - age
    if left <= 0:
        return (
            f"{text}; due now."
            if left > -1
            else f"{text}; already {format_duration(-left)} past that."
        )
    end = (now + dt.timedelta(seconds=left)).astimezone(dt.UTC)
    return f"{text}; expected to end around {end:%H:%M} UTC."


def compared(outlook: Outlook, run: Run, waited: float) -> str | None:
    """How this run's duration compares with its history, for the summary; None when it can't
    be said (no history, a run that did not end COMPLETED or FAILED, no duration)."""
    history = outlook.history
    if history is None or run.status not in hist.ENDED_STATUSES:
        return None
    took = hist.run_duration(run.raw)
    if took is None:
        if not outlook.age_known:
            return None
        took = outlook.offset + waited
    verdict = history.compare(took)
    return (
        f"{verdict}: {format_duration(took)}, against a median of "
        f"{format_duration(history.median)} over {history.durations.count} runs "
        f"(90 % within {format_duration(history.p90)})"
    )
