"""``run`` with ``entities``: one run per entity, at most ``max-parallel`` at once, one ending.

Each entity gets the single run's request body (its own scope) and so its own derived
idempotency key: a re-run of the step replays every run instead of starting new ones. One loop
(the scheduler in ``cortex_action.fanout``) triggers and polls every run, under one deadline.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any

from cortex_action import dates
from cortex_action.client import LAG_WINDOW, Busy, path_segment, poll_is_transient
from cortex_action.commands import forecast
from cortex_action.commands.context import Context
from cortex_action.commands.follow import elapsed
from cortex_action.commands.preflight import preflight
from cortex_action.commands.run import DRY_RUN, check_reads, idempotency_key, request_body
from cortex_action.endings import Ending, Failure
from cortex_action.errors import ApiError, CortexError, DeadlineReached
from cortex_action.fanout import (
    Done,
    EntityReport,
    FanOut,
    FanOutReport,
    Poll,
    Seen,
    Sleep,
    Slot,
    State,
    Sweep,
    Trigger,
    Verdict,
    cortex_seconds,
    exit_code_of,
    verdict_of,
    worst,
)
from cortex_action.identity import Asked, check_poll_answer, check_trigger_answer, replay_of
from cortex_action.models import Outcome, Run, parse_run
from cortex_action.render import fanout_summary
from cortex_action.render.terminal import format_duration
from cortex_action.report import Report, redacted
from cortex_action.retry import RetryPolicy
from cortex_action.sanitize import json_for_log, log_text
from cortex_action.settings import OnPaused, RunSettings

HEARTBEAT = 60.0  # seconds between two lines that say how the whole fan-out stands
# A listing looks at every run followed in one request: one attempt (a failure turns listings
# off and the run due is read on its own at once), within this many seconds.
SWEEP_BUDGET = 10.0
ENDS = (Outcome.SUCCESS, Outcome.FAILURE, Outcome.PAUSED)
SWEEP_ONCE = RetryPolicy(
    max_attempts=1, base_delay=3600.0, request_timeout=SWEEP_BUDGET, min_request_timeout=1.0
)
RANDOM_IN_DRY_RUN = (
    "These keys are random (no commit SHA): the real run makes new ones, so they will not "
    "match the keys it sends. Set `idempotency-key` for keys a dry run can show."
)
FAILURE_TITLES = {
    Verdict.REFUSED: "Cortex refused or could not be reached",
    Verdict.FAILED: "Cortex workflow run failed",
    Verdict.GAVE_UP: "Gave up waiting",
    Verdict.PAUSED_BY_POLICY: "Cortex workflow run failed",
}


def entity_context(ctx: Context[RunSettings], entity: str) -> Context[RunSettings]:
    """The context of one entity's run: the settings of a single run on that entity."""
    settings = ctx.settings.model_copy(update={"entity": entity, "entities": ()})
    return dataclasses.replace(ctx, settings=settings)


def make_slot(ctx: Context[RunSettings], index: int, entity: str) -> Slot:
    one = entity_context(ctx, entity)
    body = request_body(one.settings)
    key = idempotency_key(one, body)
    value, source = key.value, key.source
    if ctx.settings.idempotency_key and value == ctx.settings.idempotency_key:
        # One given key for many requests would make Cortex refuse all but the first: each
        # entity gets the given key with a digest of its entity, the same on every re-run.
        digest = hashlib.sha256(entity.encode()).hexdigest()[:12]
        value = f"{value[: 255 - 13]}-{digest}"
        source = "the `idempotency-key` input with a digest of the entity"
    return Slot(index=index, entity=entity, key=value, key_source=source, body=body)


def run(ctx: Context[RunSettings]) -> Ending:
    settings = ctx.settings
    progress = ctx.progress
    progress.begin("run", settings.workflow, ctx.wall())
    begun = ctx.now()
    deadline = progress.started + settings.timeout
    if settings.preflight or settings.dry_run:
        # Once for every entity: the workflow's own facts (missing, not runnable via the API, a
        # draft, unknown context keys) would refuse each trigger alike; no run is started yet.
        preflight(ctx, deadline)
    slots = [make_slot(ctx, i, e) for i, e in enumerate(settings.entities)]
    if settings.dry_run:
        return dry_run(ctx, slots, deadline)
    plan = FanOut(
        slots, settings.max_parallel, settings.fail_fast, settings.on_paused, deadline=deadline
    )
    record = Record(ctx, plan, begun)
    progress.fanout = record
    n = len(slots)
    ctx.host.info(
        f"Triggering Cortex workflow {log_text(settings.workflow, 200)} for {n} "
        f"entit{'y' if n == 1 else 'ies'}, at most {settings.max_parallel} at once "
        f"(fail-fast {'on' if settings.fail_fast else 'off'}), at {settings.base_url}"
    )
    _show_requests(ctx, slots, "Idempotency keys and request bodies")
    _loop(ctx, plan)
    return record.ending(None)


def _show_requests(ctx: Context[RunSettings], slots: list[Slot], title: str) -> None:
    """Each entity's key and body, folded; the warning of a random key, once."""
    with ctx.host.group(title):
        for slot in slots:
            ctx.host.detail(
                f"{log_text(slot.entity, 200)}: {slot.key} ({slot.key_source})\n"
                + json.dumps(slot.body, ensure_ascii=False)
            )
    if _random(slots):
        # A dry run's random keys are not the ones a real run will send: said, as that is
        # what a reviewer would compare.
        not_sent = f" {RANDOM_IN_DRY_RUN}" if ctx.settings.dry_run else ""
        ctx.host.warning(slots[0].key_source + not_sent, title="No commit SHA")


def _random(slots: list[Slot]) -> bool:
    return any(s.key.startswith("cortex-action-random-") for s in slots)


def dry_run(ctx: Context[RunSettings], slots: list[Slot], deadline: float) -> Ending:
    """Everything the triggers need, checked, and each entity's trigger shown; none is sent."""
    settings = ctx.settings
    path = f"/api/v1/workflows/{path_segment(settings.workflow)}/runs"
    n = len(slots)
    # Said before the check of the token: if that fails, the log still says no trigger was sent.
    ctx.host.info(
        f"Dry run: would trigger {n} run{'s' if n != 1 else ''} of Cortex workflow "
        f"{log_text(settings.workflow, 200)}, at most {settings.max_parallel} at once: "
        f"POST {settings.base_url}{path} (none is sent)"
    )
    check_reads(ctx, deadline)
    _show_requests(ctx, slots, "Idempotency keys and request bodies (not sent)")
    keys = [(s.entity, s.key) for s in slots]
    result = fanout_summary.dry_run_result(settings.workflow, keys)
    summary = fanout_summary.dry_run_summary(
        settings.workflow,
        keys,
        dict(slots[0].body),
        note=RANDOM_IN_DRY_RUN if _random(slots) else None,
    )
    return Ending(
        0,
        outputs={
            "status": DRY_RUN,
            "count": str(n),
            "runs": fanout_summary.dry_run_runs_output(keys),
            # As a real fan-out of one entity, and a dry run of `entity`: the key it would send.
            "idempotency-key": slots[0].key if n == 1 else "",
        },
        summary=summary,
        files=fanout_summary.dry_run_files(result, summary, n, ctx.host.env_syntax),
        printout=_Printout(json_for_log(json.dumps(result, indent=2, ensure_ascii=False)) + "\n"),
        closing=(
            f"Dry run: {n} trigger{'s' if n != 1 else ''} would be sent; nothing was started. "
            "Set `dry-run: false` to trigger them."
        ),
    )


def _loop(ctx: Context[RunSettings], plan: FanOut) -> None:
    last_heartbeat = ctx.clock()
    while True:
        now = ctx.clock()
        step = plan.next_step(now)
        if isinstance(step, Done):
            break
        if isinstance(step, Sleep):
            ctx.sleep(max(0.0, step.until - now))
        elif isinstance(step, Trigger):
            _trigger(ctx, plan, step.slot)
        elif isinstance(step, Poll):
            _poll(ctx, plan, step.slot)
        elif isinstance(step, Sweep):
            _sweep(ctx, plan, step.slot)
        if ctx.clock() - last_heartbeat >= HEARTBEAT:
            last_heartbeat = ctx.clock()
            ctx.host.status(f"{_when(ctx)} {_standing(plan)}: {ctx.runs_url}")
    if plan.followed() or (plan.pending() and plan.stopped is None):
        standing = _standing(plan)  # before expire: given up on, every run would read "done"
        plan.expire(ctx.clock())
        ctx.host.info(f"{_when(ctx)} `timeout` ran out: {standing}.")


def _when(ctx: Context[RunSettings]) -> str:
    return elapsed(ctx.clock() - ctx.progress.started)


def _standing(plan: FanOut) -> str:
    counts: dict[str, int] = {}
    for slot in plan.slots:
        word = {
            State.PENDING: "waiting to be triggered",
            State.ACTIVE: "running",
            State.PAUSED: "paused",
            State.GAVE_UP: "given up on",
        }.get(slot.state, "done")
        counts[word] = counts.get(word, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in counts.items())


def _name(slot: Slot) -> str:
    return log_text(slot.entity, 200)


def _trigger(ctx: Context[RunSettings], plan: FanOut, slot: Slot) -> None:
    sent_at = ctx.now()
    try:
        triggered = ctx.client.trigger(
            ctx.settings.workflow,
            slot.body,
            idempotency_key=slot.key,
            deadline=plan.deadline,
            wait_when_busy=False,
        )
        # Before anything reports it as this entity's: a run of another request is refused.
        asked = Asked(ctx.settings.workflow, "ENTITY", slot.entity)
        check_trigger_answer(triggered.run, asked, key=slot.key, key_source=slot.key_source)
    except Busy as busy:
        now = ctx.clock()
        plan.sent(now)
        if plan.busy(now, busy.retry_after):
            ctx.host.info(
                f"{_when(ctx)} Cortex is busy ({busy.error.status_code}: "
                f"{log_text(busy.error.api_message, 200)}): other pipelines hold some of its 5 "
                "slots, or its rate limit was reached. Backing off before the next trigger "
                "(as Retry-After asks, else longer each time); runs already started are "
                "followed meanwhile. (Said once.)"
            )
        return
    except ApiError as error:
        now = ctx.clock()
        plan.sent(now)
        first = error.message.splitlines()[0]
        plan.refused(slot, first, now, stop_all=_refuses_every_entity(error))
        ctx.host.warning(f"{_name(slot)}: {error.message}", title="Trigger refused")
        return
    except CortexError as error:
        now = ctx.clock()
        plan.sent(now)
        plan.unreachable(slot, error.message.splitlines()[0], now)
        ctx.host.warning(
            f"{_name(slot)}: {error.message}\nCortex may have started the run anyway; look for "
            f"it in Cortex: {ctx.runs_url} . Re-running the step sends the same key "
            f"({slot.key}), so it cannot start a second run.",
            title="Trigger not confirmed",
        )
        return
    now = ctx.clock()
    plan.sent(now)
    run = triggered.run
    replayed = replay_of(
        run, marker=triggered.replay_marker, attempts=triggered.attempts, sent_at=sent_at
    ).replayed
    other = next((s for s in plan.slots if s is not slot and s.run and s.run.id == run.id), None)
    if other is not None:
        # Two entities can't share a run: one of the answers is not about its request.
        plan.unreachable(
            slot,
            f"Cortex answered the trigger of {slot.entity} with run {run.id}, the run of "
            f"{other.entity}; this answer can't be trusted.",
            now,
        )
        ctx.host.warning(slot.message, title="Foreign answer")
        return
    seen = plan.triggered(slot, run, replayed, now)
    if not plan.looked_up and not replayed and slot.followed:
        # One look at the workflow's recent runs (issue 14's forecast), so that the first runs
        # are looked at near their usual end too, not only those after the first has ended.
        plan.looked_up = True
        outlook = forecast.load(ctx, run, plan.deadline)
        if outlook.history is not None:
            plan.expect(outlook.history.median, outlook.history.p90)
    replay = (
        " It is a replay: Cortex answered an earlier trigger with this idempotency key, so no "
        "new run was started."
        if replayed
        else ""
    )
    ctx.host.info(
        f"{_when(ctx)} {_name(slot)}: run {log_text(run.id, 100)} accepted: "
        f"{log_text(run.status, 100)}.{replay}"
    )
    _said(ctx, plan, slot, seen, first=True)


def _refuses_every_entity(error: ApiError) -> bool:
    """401 and 403 are about the token or the workflow, and so is a 404 that names the workflow
    and not the entity (Cortex's wording is unknown: when in doubt, the entity's alone)."""
    if error.status_code in (401, 403):
        return True
    text = f"{error.api_message} {error.details or ''}".lower()
    return error.status_code == 404 and "workflow" in text and "entity" not in text


def _poll(ctx: Context[RunSettings], plan: FanOut, slot: Slot) -> None:
    assert slot.run is not None
    try:
        run = ctx.client.get_run(ctx.settings.workflow, slot.run.id, deadline=plan.deadline)
        # As a single run's polls: an answer about another workflow or entity is not this run.
        check_poll_answer(run, Asked(ctx.settings.workflow, "ENTITY", slot.entity))
    except DeadlineReached as error:
        now = ctx.clock()
        plan.sent(now)
        plan.gave_up(
            slot,
            f"Gave up waiting: `timeout` ran out while Cortex was failing to answer "
            f"({error.message.splitlines()[0]})",
            now,
        )
        ctx.host.warning(f"{_name(slot)}: {error.message}", title="Gave up waiting")
        return
    except CortexError as error:
        now = ctx.clock()
        plan.sent(now)
        since = slot.triggered_at
        lag = since is not None and now - since < LAG_WINDOW
        if poll_is_transient(error, lag=lag):
            # Read-after-write lag (a 404 just after the trigger) or a passing failure: look
            # again later, as a single run does, without holding up the other entities' runs.
            plan.later(slot, now)
            return
        plan.unreachable(slot, error.message.splitlines()[0], now)
        ctx.host.warning(
            f"{_name(slot)}: stopped following run {slot.run.id}: {error.message}",
            title="Run not readable",
        )
        return
    now = ctx.clock()
    plan.sent(now)
    _said(ctx, plan, slot, plan.polled(slot, run, now), first=False)


def _sweep(ctx: Context[RunSettings], plan: FanOut, due: Slot) -> None:
    """Look at every run followed with one listing of the workflow's runs, newest first.

    A row counts as a poll of its run when it is that run as a read would answer it: the same
    id, workflow and entity (else the run is read on its own, where a foreign answer is
    refused). A row that says the run ended, or paused, but lacks fields the run's own read had
    (a listing may give less than a read: unknown) is confirmed by a read, so the result
    always holds the run's full object. The run due and not found is read at once.
    """
    watched = [s for s in plan.followed() if s.listed and s.run is not None]
    assert due.run is not None  # (followed: triggered, with a run)
    size = min(50, 4 * len(watched) + 10)  # other pipelines' runs of this workflow come between
    params: dict[str, Any] = {
        "workflowIds": forecast.workflow_ids(ctx, due.run),  # the tag, and its id if known
        "sort": "dateCreated,desc",
        "page": 0,
        "size": size,
    }
    deadline = min(plan.deadline, ctx.clock() + SWEEP_BUDGET)
    try:
        page = ctx.client.list_runs(params, deadline=deadline, policy=SWEEP_ONCE)
    except CortexError as error:
        plan.sent(ctx.clock())
        plan.stop_listing()
        ctx.host.detail(
            "Listing the workflow's runs failed "
            f"({log_text(error.message.splitlines()[0], 300)}): each run is read on its own "
            "from now on."
        )
        if ctx.clock() < plan.deadline:  # (past it, a read would only overrun `timeout`)
            _poll(ctx, plan, due)
        return
    now = ctx.clock()
    plan.sent(now)
    rows: dict[str, list[dict[str, object]]] = {}
    for raw in page.runs:
        rows.setdefault(str(raw.get("id")), []).append(raw)
    found = 0
    for slot in watched:
        assert slot.run is not None
        run = _row_run(ctx, slot, rows.get(slot.run.id, []))
        lagging = slot.triggered_at is not None and now - slot.triggered_at < LAG_WINDOW
        if run is None:
            if not lagging:  # (a run just triggered may not be listed yet)
                plan.unlisted(slot)
            if slot is due:
                _poll(ctx, plan, slot)
            continue
        found += 1
        if run.outcome in ENDS and run.status != slot.run.status and not _whole(slot.run, run):
            _poll(ctx, plan, slot)  # its end: read it, for the result's full object
            continue
        if not _paths(slot.run.raw) <= _paths(run.raw):  # the row tells less than a read
            # Going on: the status is news; a field the row tells less of stays as the last read
            # gave it, so that the run's end is still compared with a whole read.
            raw = dict(slot.run.raw)
            for key, value in run.raw.items():
                if _paths(raw.get(key)) <= _paths(value):
                    raw[key] = value
            run = dataclasses.replace(run, raw=raw)
        _said(ctx, plan, slot, plan.polled(slot, run, now, read=False), first=False)
    plan.misses = 0 if found else plan.misses + 1
    late = all(s.triggered_at is not None and now - s.triggered_at >= LAG_WINDOW for s in watched)
    if not found and (late or plan.misses >= 2):
        # (Twice in a row: a listing that lags that much is no help either.)
        plan.stop_listing()
        ctx.host.detail(
            "None of the runs followed is in the listing of the workflow's runs: each run is "
            "read on its own from now on."
        )


# The parts of a run object Cortex documents: a row without them is a summary, whatever the
# trigger's answer (the only "read" of a run not read since) left out.
DOCUMENTED = frozenset({"workflow", "actions"})


def _whole(read: Run, row: Run) -> bool:
    """Whether a row that shows an end can stand for the run's read: it has the documented parts
    and every field the last read had, nested ones too (a summary row may keep ``actions`` but
    drop each block's state), and, for a failure, a block's message (the reason the summary
    gives; a row may leave it out while the read has it)."""
    if not DOCUMENTED.issubset(row.raw) or not _paths(read.raw) <= _paths(row.raw):
        return False
    return row.outcome is not Outcome.FAILURE or any(b.error for b in row.failed_blocks)


def _paths(value: object, depth: int = 12) -> set[str]:
    """The field names of a JSON value as dotted paths (a list's items share ``[]``), ``depth``
    levels deep: a loop, not recursion, as Cortex's JSON may nest deeper than Python's stack."""
    found: set[str] = set()
    stack: list[tuple[str, object, int]] = [("", value, 0)]
    while stack:
        prefix, item, level = stack.pop()
        if level >= depth:
            continue
        if isinstance(item, dict):
            for key, child in item.items():
                path = f"{prefix}.{key}"
                found.add(path)
                stack.append((path, child, level + 1))
        elif isinstance(item, list):
            stack.extend((prefix + "[]", child, level + 1) for child in item)
    return found


def _row_run(ctx: Context[RunSettings], slot: Slot, rows: list[dict[str, object]]) -> Run | None:
    """The run of ``slot`` as one listing shows it, or None when the listing can't say: not
    there, there twice, not a run object, or not about this run's workflow and entity."""
    if len(rows) != 1:
        return None
    try:
        run = parse_run(rows[0], what="a row of the run listing")
        check_poll_answer(run, Asked(ctx.settings.workflow, "ENTITY", slot.entity))
    except CortexError:
        return None
    return run


def _said(ctx: Context[RunSettings], plan: FanOut, slot: Slot, seen: Seen, *, first: bool) -> None:
    """One log line per change of an entity's run."""
    run = slot.run
    assert run is not None
    when = _when(ctx)
    if seen.changed and not first:
        ctx.host.info(
            f"{when} {_name(slot)}: {log_text(run.status, 100)} (was "
            f"{log_text(seen.previous or '-', 100)})"
        )
    if seen.held:
        ctx.host.info(
            f"{when} {_name(slot)} is still NOT_INITIATED: Cortex holds it for a free slot "
            "(other pipelines hold some of its 5). Waiting; no new run is triggered meanwhile "
            "beyond `max-parallel`. (Said once.)"
        )
    if not seen.changed:
        return
    if run.outcome is Outcome.FAILURE:
        for block in run.failed_blocks[:5]:
            ctx.host.info(
                f"{when} {_name(slot)}: block {log_text(block.name, 200)}: "
                f"{log_text(block.error or block.status or 'failed', 1000)}"
            )
    elif run.outcome is Outcome.PAUSED:
        then = {
            OnPaused.WAIT: "waiting until it resumes (it frees its slot after 30 s paused)",
            OnPaused.SUCCEED: "on-paused is `succeed`: counted as passed",
            OnPaused.FAIL: "on-paused is `fail`: counted as failed",
        }[ctx.settings.on_paused]
        ctx.host.info(f"{when} {_name(slot)}: PAUSED, waits for a person in Cortex; {then}.")
    skipped = [s.entity for s in plan.slots if s.state is State.SKIPPED]
    if plan.stopped and skipped and not plan.said_stop:
        plan.said_stop = True
        ctx.host.info(
            f"{when} No new run is triggered ({log_text(plan.stopped, 300)}); skipped: "
            + ", ".join(log_text(s, 100) for s in skipped[:20])
            + (f" and {len(skipped) - 20} more" if len(skipped) > 20 else "")
            + ". Runs in flight are followed to their end (Cortex has no cancel)."
        )


class Record:
    """What the fan-out knows, as an ending: on its own end, or when an error or a signal
    stops it (``cli.main`` asks through ``Progress.fanout``)."""

    def __init__(self, ctx: Context[RunSettings], plan: FanOut, begun: dt.datetime) -> None:
        self.ctx = ctx
        self.plan = plan
        self.begun = begun
        self.stopped_by: str | None = None

    def _wall(self, at: float) -> dt.datetime:
        return self.begun + dt.timedelta(seconds=at - self.ctx.progress.started)

    def _span(self, slot: Slot, now: float) -> tuple[dt.datetime, dt.datetime] | None:
        if slot.triggered_at is None:
            return None
        raw = slot.run.raw if slot.run else {}
        start = _instant(raw, "dateStarted", "startedAt", "dateCreated", "createdAt")
        end = _instant(raw, "dateCompleted", "completedAt", "dateUpdated")
        start = start or self._wall(slot.triggered_at)
        end = end or self._wall(slot.ended_at if slot.ended_at is not None else now)
        return (start, max(start, end))

    def _entity(self, slot: Slot, now: float) -> EntityReport:
        settings = self.ctx.settings
        run = slot.run
        seconds = cortex_seconds(run.raw) if run and slot.state is State.ENDED else None
        if seconds is None and slot.triggered_at is not None:
            seconds = (slot.ended_at if slot.ended_at is not None else now) - slot.triggered_at
        report = Report(
            command="run",
            workflow=settings.workflow,
            exit_code=exit_code_of(slot, settings.on_paused),
            headline=slot.message or _headline(slot),
            run=run,
            run_url=self.ctx.runs_url if run else None,
            scope="ENTITY",
            entity=slot.entity,
            idempotency_key=slot.key,
            key_source=slot.key_source,
            duration=seconds,
            started_at=self.ctx.progress.started_at,
            job_url=self.ctx.progress.job_url,
        )
        return EntityReport(
            report=redacted(report, settings.token),
            status=slot.status,
            verdict=verdict_of(slot),
            replayed=slot.replayed,
            span=self._span(slot, now),
        )

    def report(self, exit_code: int | None) -> FanOutReport:
        now = self.ctx.clock()
        settings = self.ctx.settings
        slots = self.plan.slots
        bad = worst(slots)
        code = exit_code if exit_code is not None else 0
        if exit_code is None and bad is not None:
            code = exit_code_of(bad, settings.on_paused)
        n = len(slots)
        took = format_duration(now - self.ctx.progress.started)
        if bad is None:
            headline = f"All {n} runs COMPLETED in {took}."
        else:
            others = [s for s in slots if verdict_of(s) is not Verdict.COMPLETED]
            headline = (
                f"{n - len(others)} of {n} runs COMPLETED in {took}; the worst: "
                f"{bad.entity} {bad.status}."
            )
        if self.stopped_by:
            headline = f"{self.stopped_by}. " + headline
        notes = []
        never = [s.entity for s in slots if s.state is State.NOT_TRIGGERED]
        if never:
            notes.append(
                f"Never triggered ({len(never)}): "
                + ", ".join(never[:50])
                + (" …" if len(never) > 50 else "")
            )
        going = [s.entity for s in slots if s.followed]
        if going:
            notes.append(
                "Still going in Cortex when this step stopped (Cortex has no cancel): "
                + ", ".join(going[:50])
            )
        if self.plan.stopped:
            notes.append(f"No new run was triggered after this: {self.plan.stopped}.")
        return FanOutReport(
            workflow=settings.workflow,
            exit_code=code,
            status="COMPLETED" if bad is None else bad.status,
            headline=headline,
            runs_url=self.ctx.runs_url,
            job_url=self.ctx.progress.job_url,
            started_at=self.ctx.progress.started_at,
            duration=now - self.ctx.progress.started,
            max_parallel=settings.max_parallel,
            fail_fast=settings.fail_fast,
            entities=tuple(self._entity(s, now) for s in slots),
            notes=tuple(notes),
        )

    def ending(self, exit_code: int | None, stopped_by: str | None = None) -> Ending:
        if stopped_by is not None:
            self.stopped_by = stopped_by
            self.plan.interrupted(stopped_by)
        report = self.report(exit_code)
        failure = None
        closing = None
        if report.exit_code == 0:
            closing = f"Done in {format_duration(report.duration)}: {report.headline}"
        else:
            failure = Failure(self._title(), self._problems(report))
        return Ending(
            report.exit_code,
            printout=_Printout(fanout_summary.result_json(report, indent=2) + "\n"),
            outputs=fanout_summary.fanout_outputs(report),
            summary=fanout_summary.fanout_summary(report),
            files=fanout_summary.fanout_files(report, self.ctx.host.env_syntax),
            link=(
                f"Cortex runs ({len(report.entities)} entities, {report.status}): "
                f"{report.workflow}",
                report.runs_url,
            ),
            closing=closing,
            failure=failure,
        )

    def _title(self) -> str:
        bad = worst(self.plan.slots)
        return FAILURE_TITLES.get(verdict_of(bad), "Fan-out failed") if bad else "Fan-out failed"

    def _problems(self, report: FanOutReport) -> str:
        lines = [report.headline]
        listed = [
            e for e in report.entities if e.verdict not in (Verdict.COMPLETED, Verdict.SKIPPED)
        ]
        for entry in listed[:20]:
            lines.append(
                f"  - {log_text(entry.report.entity or '-', 200)}: {entry.status}: "
                f"{log_text(_reason(entry), 500)}"
            )
        if len(listed) > 20:
            lines.append(f"  … and {len(listed) - 20} more (see the summary and `runs`)")
        skipped = [e.report.entity or "-" for e in report.entities if e.verdict is Verdict.SKIPPED]
        if skipped:
            shown = ", ".join(log_text(s, 100) for s in skipped[:20])
            more = f" and {len(skipped) - 20} more" if len(skipped) > 20 else ""
            lines.append(f"  Skipped ({len(skipped)}, never triggered): {shown}{more}")
        lines.append(f"Open them in Cortex: {report.runs_url}")
        return "\n".join(lines)

    def stopped_message(self) -> str:
        known = [s for s in self.plan.slots if s.run is not None]
        never = [s for s in self.plan.slots if s.state is State.NOT_TRIGGERED]
        return (
            f"Stopped following {len([s for s in known if s.followed])} runs; outputs and summary "
            f"were written for the {len(known)} runs known. Runs go on in Cortex (there is no API "
            f"to cancel them): {self.ctx.runs_url}. Never triggered: {len(never)}. Re-running "
            "the step sends the same idempotency keys: it follows the runs that exist and starts "
            "the others."
        )


@dataclasses.dataclass(frozen=True)
class _Printout:
    """``--json``: the whole fan-out's result on stdout; nothing otherwise (the log says it)."""

    text: str

    def stdout(self, *, as_json: bool) -> str:
        return self.text if as_json else ""


def _reason(entry: EntityReport) -> str:
    run = entry.report.run
    blocks = run.failed_blocks if run else []
    if blocks:
        block = blocks[0]
        return f"block {block.name}: {block.error or block.status or 'failed'}"
    return entry.report.headline


def _headline(slot: Slot) -> str:
    run = slot.run
    if run is None:
        return slot.message or "Not triggered."
    if slot.state is State.ENDED and slot.paused_by_policy:
        return f"Run {run.id} is PAUSED, waiting for a person (on-paused decides)."
    if slot.state is State.ENDED:
        if run.outcome is Outcome.SUCCESS:
            return f"Run {run.id} COMPLETED."
        failed = run.failed_blocks
        why = f": block {failed[0].name}: {failed[0].error or failed[0].status}" if failed else ""
        return f"Run {run.id} ended {run.status}{why}."
    return f"Run {run.id} is {run.status}."


def _instant(raw: dict[str, object], *names: str) -> dt.datetime | None:
    for name in names:
        value = raw.get(name)
        if isinstance(value, str):
            try:
                return dates.parse_instant(value)
            except ValueError:
                continue
    return None


__all__ = ["Record", "run"]
