"""``wait``: follow a run that already exists (started by another job, or before an approval)
to its end, with the same waiting, outputs, summary and exit codes as ``run``.
"""

from __future__ import annotations

from cortex_action.commands.context import Context
from cortex_action.commands.follow import follow
from cortex_action.commands.get import scope_of
from cortex_action.endings import Ending
from cortex_action.identity import Asked, check_poll_answer
from cortex_action.sanitize import log_text
from cortex_action.settings import ReadSettings


def wait(ctx: Context[ReadSettings]) -> Ending:
    settings = ctx.settings
    progress = ctx.progress
    progress.begin("wait", settings.workflow, ctx.wall())
    deadline = progress.started + settings.timeout
    ctx.host.info(
        f"Waiting for run {log_text(settings.run_id, 200)} of Cortex workflow "
        f"{log_text(settings.workflow, 200)} at {settings.base_url}"
    )
    run = ctx.client.get_run(settings.workflow, settings.run_id, deadline=deadline)
    check_poll_answer(run, Asked(settings.workflow))
    progress.run = run
    scope_of(ctx, run)
    ctx.host.info(
        f"Run {log_text(run.id, 200)} is {log_text(run.status, 100)}. "
        f"Follow it in Cortex: {ctx.runs_url}"
    )
    return follow(ctx, run, deadline, asked=Asked(settings.workflow))
