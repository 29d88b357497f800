"""Follow a run to its end and turn what was seen into a report, an exit code and log lines.

Shared by ``run`` (after the trigger) and ``wait`` (an existing run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from cortex_action.commands.context import Context
from cortex_action.errors import (
    CortexActionError,
    DeadlineReached,
    ExitCode,
    Interrupted,
    RetriesExhausted,
    RunFailed,
    TransportError,
    WaitTimeout,
)
from cortex_action.models import Outcome, Run
from cortex_action.render import outputs, result_files, summary
from cortex_action.render.terminal import format_duration
from cortex_action.report import Report, redacted
from cortex_action.sanitize import log_text
from cortex_action.settings import OnPaused
from cortex_action.signals import finishing
from cortex_action.waiting import EventKind, Stop, WaitEvent, wait_for_run


@dataclass
class Progress:
    """What is known so far; turned into a report on every way out, errors included."""

    command: str
    workflow: str
    started: float
    started_at: str
    run: Run | None = None
    scope: str | None = None
    entity: str | None = None
    idempotency_key: str | None = None
    key_source: str | None = None
    notes: list[str] = field(default_factory=list)

    def report(self, ctx: Context, exit_code: int, headline: str) -> Report:
        return Report(
            command=self.command,
            workflow=self.workflow,
            exit_code=exit_code,
            headline=headline,
            run=self.run,
            run_url=ctx.runs_url if self.run else None,
            scope=self.scope,
            entity=self.entity,
            idempotency_key=self.idempotency_key,
            key_source=self.key_source,
            duration=ctx.clock() - self.started,
            started_at=self.started_at,
            job_url=ctx.host.job_url,
            notes=tuple(self.notes),
        )


def elapsed(seconds: float) -> str:
    return f"[{format_duration(seconds):>7}]"


def log_event(ctx: Context, event: WaitEvent) -> None:
    status = log_text(event.run.status, 100)
    when = elapsed(event.elapsed)
    if event.kind is EventKind.STATUS:
        was = f" (was {log_text(event.previous, 100)})" if event.previous else ""
        ctx.host.status(f"{when} {status}{was}")
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
            f"input, or the choice of an initiator; `run-as` avoids the last). {then}. "
            f"Open it: {ctx.runs_url}"
        )
    elif event.kind is EventKind.HEARTBEAT:
        ctx.host.status(f"{when} still {status}: {ctx.runs_url}")


def follow(ctx: Context, progress: Progress, run: Run, deadline: float) -> Report:
    """Wait for ``run`` to end (or pause, or time out); raise the typed error for a bad end."""
    workflow = progress.workflow

    def fetch() -> Run:
        progress.run = ctx.client.get_run(workflow, run.id, deadline=deadline)
        return progress.run

    try:
        result = wait_for_run(
            run,
            fetch,
            clock=ctx.clock,
            sleep=ctx.sleep,
            deadline=deadline,
            on_paused=ctx.settings.on_paused,
            events=lambda event: log_event(ctx, event),
        )
    except DeadlineReached as exc:
        raise WaitTimeout(
            f"Gave up waiting: `timeout` ({format_duration(ctx.settings.timeout)}) ran out "
            f"while Cortex was failing to answer.\n{exc}\nThe run goes on in Cortex: "
            f"{ctx.runs_url}"
        ) from None
    final = result.run
    progress.run = final
    took = format_duration(ctx.clock() - progress.started)
    if result.stop is Stop.TIMEOUT:
        raise WaitTimeout(
            f"Gave up waiting after {took}: the run is still {log_text(final.status, 100)} and "
            f"`timeout` is {format_duration(ctx.settings.timeout)}. The run goes on in "
            f"Cortex: {ctx.runs_url}"
        )
    if result.stop is Stop.PAUSED:
        if ctx.settings.on_paused is OnPaused.FAIL:
            raise RunFailed(
                f"Run {final.id} is PAUSED, waiting for a person, and on-paused is `fail`. "
                f"Open it in Cortex: {ctx.runs_url}"
            )
        return progress.report(
            ctx,
            ExitCode.OK,
            f"Run {final.id} is PAUSED; on-paused is `succeed`, so this step passes.",
        )
    if final.outcome is Outcome.SUCCESS:
        return progress.report(ctx, ExitCode.OK, f"Run {final.id} COMPLETED in {took}.")
    reasons = [
        f"{log_text(block.name, 200)}: {log_text(block.error or block.status or 'failed', 2000)}"
        for block in final.failed_blocks
    ]
    detail = ("\n" + "\n".join(f"  - {r}" for r in reasons)) if reasons else ""
    raise RunFailed(
        f"Run {final.id} ended {log_text(final.status, 100)} after {took}.{detail}\n"
        f"Open it in Cortex: {ctx.runs_url}"
    )


def conclude(
    ctx: Context, progress: Progress, error: BaseException | None, report: Report | None
) -> Report | None:
    """The report for any way out once a run is known; None when there was never a run."""
    if report is not None:
        return report
    if progress.run is None:
        # The trigger got no usable answer, but it may have reached Cortex: say so, with the key.
        if isinstance(error, Interrupted | TransportError | RetriesExhausted) and (
            progress.idempotency_key
        ):
            return _unconfirmed_trigger(ctx, progress, error)
        return None
    if isinstance(error, Interrupted):
        name = error.name
        progress.notes.append(f"Interrupted by {name}: stopped waiting. The run goes on in Cortex.")
        return progress.report(
            ctx, error.exit_code, f"Interrupted by {name} while the run was {progress.run.status}."
        )
    if isinstance(error, CortexActionError):
        return progress.report(ctx, error.exit_code, error.message.splitlines()[0])
    return progress.report(ctx, ExitCode.CORTEX_ERROR, f"Stopped by an unexpected error: {error!r}")


def _unconfirmed_trigger(
    ctx: Context, progress: Progress, error: Interrupted | CortexActionError
) -> Report:
    """The trigger was interrupted or got no usable answer: Cortex may have started the run. Say
    where to look and that a repeat is safe, in the summary and the outputs (the key, the runs
    page)."""
    if isinstance(error, Interrupted):
        name = error.name
        what, headline = (
            f"Interrupted by {name} while the trigger was in flight",
            f"Interrupted by {name} before Cortex confirmed a run.",
        )
    else:
        what, headline = (
            "The trigger got no usable answer",
            f"Cortex did not confirm a run: {error.message.splitlines()[0]}",
        )
    progress.notes.append(
        f"{what}: Cortex may have started the run anyway. Look for it in Cortex: "
        f"{ctx.runs_url} . Re-running this job attempt sends the same idempotency key "
        f"({progress.idempotency_key}), so it cannot start a second run."
    )
    report = progress.report(ctx, error.exit_code, headline)
    return replace(report, run_url=ctx.runs_url)


def publish(ctx: Context, report: Report) -> None:
    """Outputs, summary and result files, the same on every path that got a run."""
    report = redacted(report, ctx.settings.token)
    ctx.host.write_outputs(outputs.run_outputs(report))
    ctx.host.write_summary(summary.run_summary(report))
    try:
        written = ctx.host.write_files(result_files.result_files(report, ctx.host.env_syntax))
    except OSError as exc:
        # Said, not raised: this runs on the way out of errors too, and must not hide them.
        ctx.host.warning(
            f"Could not write the result files into {ctx.host.result_dir()}: {exc}",
            title="Result files",
        )
        return
    if written:
        ctx.host.info(f"Result files in {written[0].parent}: " + ", ".join(p.name for p in written))


def reported(ctx: Context, progress: Progress, work: Callable[[], Report]) -> Report:
    """Do ``work``; on every way out once a run is known, publish outputs and summary, and hand
    the report to the error so that the CLI can print it with ``--json``."""
    report: Report | None = None
    error: BaseException | None = None
    try:
        report = work()
        return report
    except BaseException as exc:
        error = exc
        raise
    finally:
        finishing()  # the outcome is decided: a late signal must not cut its writing in half
        final = conclude(ctx, progress, error, report)
        if final is not None:
            publish(ctx, final)
            if isinstance(error, CortexActionError | Interrupted):
                error.report = final
            elif error is None:
                ctx.host.info(f"Done in {format_duration(final.duration)}: {final.headline}")
