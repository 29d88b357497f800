"""Follow a run to its end and say what its end means: an ``Ending`` and log lines.

Shared by ``run`` (after the trigger) and ``wait`` (an existing run).
"""

from __future__ import annotations

from collections.abc import Callable

from cortex_action.commands import forecast
from cortex_action.commands.context import Context
from cortex_action.endings import Ending, Failure, retry_advice
from cortex_action.errors import DeadlineReached, ExitCode
from cortex_action.identity import Asked, check_poll_answer
from cortex_action.models import Outcome, Run
from cortex_action.render.terminal import format_duration
from cortex_action.report import redacted
from cortex_action.sanitize import log_text
from cortex_action.settings import OnPaused, ReadSettings, RunSettings
from cortex_action.waiting import (
    BlockChange,
    EventKind,
    Stop,
    WaitEvent,
    current_block,
    wait_for_run,
)

# How often the live line of a terminal ticks between polls.
TICK = 1.0
MAX_BLOCK_LINES = 400


def elapsed(seconds: float) -> str:
    return f"[{format_duration(seconds):>7}]"


def block_line(change: BlockChange) -> str:
    """``Block 2/5 Deploy: started`` / ``: COMPLETED in 4s`` / ``: FAILED after 4s: <error>``."""
    block = change.block
    head = f"Block {change.position}/{change.total} {log_text(block.name, 200)}"
    if change.kind is EventKind.BLOCK_STARTED:
        return f"{head}: started"
    status = log_text(block.status or ("FAILED" if block.failed else "ended"), 60)
    took = None
    if change.duration is not None:  # blocks are often short: tenths below ten seconds
        took = (
            f"{change.duration:.1f}s" if change.duration < 10 else format_duration(change.duration)
        )
    if block.failed:
        line = f"{head}: {status}" + (f" after {took}" if took else "")
        return line + (f": {log_text(block.error, 2000)}" if block.error else "")
    return f"{head}: {status}" + (f" in {took}" if took else "")


def running_now(run: Run) -> str:
    """`` (block 2/5 Deploy)`` while a block runs, else empty."""
    found = current_block(run)
    if found is None:
        return ""
    position, total, block = found
    return f" (block {position}/{total} {log_text(block.name, 100)})"


def checkpoint(ctx: Context[RunSettings] | Context[ReadSettings], run: Run) -> None:
    """On hosts that may stop the step without a signal (Jenkins), the result files as they stand
    now: the run and its last status, marked as not the end. The ending replaces them."""
    if not ctx.host.checkpoint_files:
        return
    progress = ctx.progress
    progress.run = run
    report = progress.report(
        ExitCode.SIGTERM,
        f"Run {run.id} was {run.status} when last seen; cortex-action was still following it "
        "(this file is rewritten at every status change and replaced at the end: if it is what "
        "remains, the step was stopped before the run ended).",
    )
    try:
        ctx.host.write_files(ctx.host.result_files(redacted(report, ctx.settings.token)))
    except OSError as exc:  # a checkpoint is a courtesy: the ending says the rest
        ctx.host.detail(f"Could not update the result files: {exc}")


def log_event(
    ctx: Context[RunSettings] | Context[ReadSettings],
    event: WaitEvent,
    outlook: forecast.Outlook | None = None,
    said: list[int] | None = None,
) -> None:
    status = log_text(event.run.status, 100)
    when = elapsed(event.elapsed)
    running = event.run.outcome is Outcome.RUNNING
    left = outlook.time_left(event.elapsed) if outlook and running else ""
    eta = f"; {left}" if left else ""
    if event.kind is EventKind.STATUS:
        was = f" (was {log_text(event.previous, 100)})" if event.previous else ""
        # A line that stays: on a terminal, only the ticking line is rewritten.
        ctx.host.info(f"{when} {status}{was}{eta}")
        checkpoint(ctx, event.run)
    elif event.block is not None:
        # A run of thousands of blocks must not bury the log: the first ones, then one line.
        said = said if said is not None else [0]
        said[0] += 1
        if said[0] <= MAX_BLOCK_LINES:
            ctx.host.info(f"{when} {block_line(event.block)}")
        elif said[0] == MAX_BLOCK_LINES + 1:
            ctx.host.info(
                f"{when} More blocks start and end than the log shows ({MAX_BLOCK_LINES} lines); "
                "the summary and the `result` output have them all."
            )
    elif event.kind is EventKind.QUEUED:
        ctx.host.info(
            f"{when} Still NOT_INITIATED: Cortex runs at most 5 workflow runs at once (paused "
            "runs don't count), so this run is likely waiting for a free slot."
        )
    elif event.kind is EventKind.UNKNOWN_STATUS:
        ctx.host.warning(
            f"Cortex reported status {status!r}, which this version of cortex-action does not "
            "know. Treating it as not finished and waiting on; please report it.",
            title="Unknown run status",
        )
    elif event.kind is EventKind.PAUSED:
        policy = ctx.settings.on_paused
        then = {
            OnPaused.WAIT: "on-paused is `wait`: waiting until it resumes or `timeout` runs out",
            OnPaused.SUCCEED: "on-paused is `succeed`: stopping here with success",
            OnPaused.FAIL: "on-paused is `fail`: stopping here with failure",
        }[policy]
        ctx.host.info(
            f"{when} The run is PAUSED: it waits for a person in Cortex (an approval, user "
            f"input, or the choice of an initiator; `run-as` avoids the last), or for a "
            f"callback to an asynchronous HTTP block (`cortex-action callback`). {then}. "
            f"Open it: {ctx.runs_url}"
        )
    elif event.kind is EventKind.HEARTBEAT:
        ctx.host.status(f"{when} still {status}{running_now(event.run)}{eta}: {ctx.runs_url}")


def ticking(
    ctx: Context[RunSettings] | Context[ReadSettings], latest: Callable[[], Run]
) -> Callable[[float], None]:
    """A sleep that, on a live terminal, redraws the progress line each second: the elapsed
    time and the block running now. Anywhere else, the plain sleep: no line without news."""
    if not ctx.host.live:
        return ctx.sleep
    began = ctx.progress.started

    def sleep(seconds: float) -> None:
        end = ctx.clock() + seconds
        while (left := end - ctx.clock()) > 0:
            run = latest()
            ctx.host.status(
                f"{elapsed(ctx.clock() - began)} {log_text(run.status, 100)}{running_now(run)}"
            )
            ctx.sleep(min(TICK, left))

    return sleep


def follow(
    ctx: Context[RunSettings] | Context[ReadSettings],
    run: Run,
    deadline: float,
    *,
    asked: Asked,
    accepted_at: float | None = None,
) -> Ending:
    """Wait for ``run`` to end (or pause, or time out), and say what that means.

    Every poll's answer is checked against ``asked``; ``accepted_at`` (a clock time) is when a
    trigger was accepted, so that a 404 just after it is read as lag."""
    progress = ctx.progress
    workflow = progress.workflow
    timeout = format_duration(ctx.settings.timeout)

    def fetch() -> Run:
        polled = ctx.client.poll_run(workflow, run.id, deadline=deadline, accepted_at=accepted_at)
        check_poll_answer(polled, asked)
        progress.run = polled
        return polled

    outlook = forecast.load(ctx, run, deadline) if run.outcome is Outcome.RUNNING else None
    waiting_since = ctx.clock()
    said: list[int] = [0]  # block lines logged so far
    try:
        result = wait_for_run(
            run,
            fetch,
            clock=ctx.clock,
            sleep=ticking(ctx, lambda: progress.run or run),
            deadline=deadline,
            on_paused=ctx.settings.on_paused,
            events=lambda event: log_event(ctx, event, outlook, said),
            cadence=outlook.forecast if outlook else None,
        )
    except DeadlineReached as exc:
        # The real time spent, and why it is less than `timeout`: the next retry would pass it.
        return _gave_up(
            ctx,
            f"Stopped after {format_duration(ctx.clock() - progress.started)} of `timeout` "
            f"({timeout}): Cortex was failing to answer, and its next retry would have come "
            f"after the deadline.\n{exc}\nThe run goes on in Cortex: {ctx.runs_url}\n"
            + retry_advice(progress, run_known=True),
        )
    final = result.run
    progress.run = final
    if outlook is not None:
        progress.compared = forecast.compared(outlook, final, ctx.clock() - waiting_since)
        if progress.compared:
            ctx.host.info(f"Compared with its history: {progress.compared}.")
    took = format_duration(ctx.clock() - progress.started)
    completed_in, ended_after = f" in {took}", f" after {took}"
    if progress.command == "wait" and run.outcome in (Outcome.SUCCESS, Outcome.FAILURE):
        # It had ended before we looked: its own duration, not the seconds spent looking; and
        # none at all when it doesn't give its times.
        own = run.times.duration
        progress.duration = own
        progress.duration_known = own is not None
        completed_in = ended_after = " (it had already ended)"
        if own is not None:
            completed_in = f" in {format_duration(own)} (it had already ended)"
            ended_after = f" after {format_duration(own)} (it had already ended)"
    if result.stop is Stop.TIMEOUT:
        return _gave_up(
            ctx,
            f"After {took}, the run is still {log_text(final.status, 100)} and `timeout` is "
            f"{timeout}. The run goes on in Cortex: {ctx.runs_url}\n"
            + retry_advice(progress, run_known=True),
        )
    if result.stop is Stop.PAUSED:
        if ctx.settings.on_paused is OnPaused.FAIL:
            return _failed(
                ctx,
                f"Run {final.id} is PAUSED, waiting for a person, and on-paused is `fail`. "
                f"Open it in Cortex: {ctx.runs_url}\n" + retry_advice(progress, run_known=True),
            )
        return progress.ended(
            ExitCode.OK, f"Run {final.id} is PAUSED; on-paused is `succeed`, so this step passes."
        )
    # A replay's end is an earlier request's: the last line says so, not just "COMPLETED in 1s".
    existing = " (an existing run: no new run was started)" if progress.replayed else ""
    if final.outcome is Outcome.SUCCESS:
        return progress.ended(ExitCode.OK, f"Run {final.id}{existing} COMPLETED{completed_in}.")
    reasons = [
        f"{log_text(block.name, 200)}: {log_text(block.error or block.status or 'failed', 2000)}"
        for block in final.failed_blocks
    ]
    detail = ("\n" + "\n".join(f"  - {r}" for r in reasons)) if reasons else ""
    return _failed(
        ctx,
        f"Run {final.id}{existing} ended {log_text(final.status, 100)}{ended_after}.{detail}\n"
        f"Open it in Cortex: {ctx.runs_url}\n" + retry_advice(progress, run_known=True, ended=True),
    )


def _failed(ctx: Context[RunSettings] | Context[ReadSettings], message: str) -> Ending:
    failure = Failure("Cortex workflow run failed", message)
    return ctx.progress.ended(ExitCode.RUN_FAILED, message.splitlines()[0], failure)


def _gave_up(ctx: Context[RunSettings] | Context[ReadSettings], message: str) -> Ending:
    # The title says "Gave up waiting"; the message says when and why, without repeating it.
    failure = Failure("Gave up waiting", message)
    headline = f"Gave up waiting: {message.splitlines()[0]}"
    return ctx.progress.ended(ExitCode.WAIT_TIMEOUT, headline, failure)
