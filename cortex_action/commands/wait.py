"""``wait``: follow a run that already exists (started by another job, or before an approval)
to its end, with the same waiting, outputs, summary and exit codes as ``run``.
"""

from __future__ import annotations

from cortex_action import render
from cortex_action.commands.context import Context
from cortex_action.commands.follow import Progress, conclude, follow, publish
from cortex_action.commands.get import scope_of
from cortex_action.errors import CortexActionError, Interrupted
from cortex_action.report import Report
from cortex_action.sanitize import log_text


def wait(ctx: Context) -> Report:
    settings = ctx.settings
    assert settings.workflow is not None
    assert settings.run_id is not None
    started = ctx.clock()
    deadline = started + settings.timeout
    progress = Progress(
        command="wait", workflow=settings.workflow, started=started, started_at=ctx.wall()
    )
    ctx.host.info(
        f"Waiting for run {log_text(settings.run_id, 200)} of Cortex workflow "
        f"{log_text(settings.workflow, 200)} at {settings.base_url}"
    )
    report: Report | None = None
    error: BaseException | None = None
    try:
        run = ctx.client.get_run(settings.workflow, settings.run_id, deadline=deadline)
        progress.run = run
        scope_of(progress, run)
        ctx.host.info(
            f"Run {log_text(run.id, 200)} is {log_text(run.status, 100)}. "
            f"Follow it in Cortex: {ctx.runs_url}"
        )
        report = follow(ctx, progress, run, deadline)
        return report
    except BaseException as exc:
        error = exc
        raise
    finally:
        # As in `run`: outputs and summary on every way out once the run is known.
        final = conclude(ctx, progress, error, report)
        if final is not None:
            publish(ctx, final)
            if isinstance(error, CortexActionError | Interrupted):
                error.report = final
            elif error is None:
                ctx.host.info(f"Done in {render.format_duration(final.duration)}: {final.headline}")
