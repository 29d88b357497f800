"""``get``: read one run and show it, as a readable block or the result JSON, with outputs."""

from __future__ import annotations

from dataclasses import dataclass

from cortex_action.commands.context import Context
from cortex_action.endings import Ending
from cortex_action.errors import ExitCode
from cortex_action.identity import Asked, check_poll_answer
from cortex_action.models import Run, parse_row
from cortex_action.render import outputs, terminal
from cortex_action.report import Report
from cortex_action.sanitize import log_text
from cortex_action.settings import ReadSettings


@dataclass(frozen=True)
class RunView:
    """What ``get`` prints on stdout: the run as a block, or the same JSON as ``run --json``."""

    report: Report

    def stdout(self, *, as_json: bool) -> str:
        if as_json:
            return outputs.result_json(self.report, indent=2) + "\n"
        return terminal.run_block(self.report)


def scope_of(ctx: Context[ReadSettings], run: Run) -> None:
    """Fill scope and entity from the run object, where Cortex tells them (for the summary)."""
    scope = run.raw.get("scope")
    if isinstance(scope, dict) and isinstance(scope.get("type"), str):
        ctx.progress.scope = scope["type"].upper()
    ctx.progress.entity = parse_row(run.raw).entity


def get(ctx: Context[ReadSettings]) -> Ending:
    """Read the run once. Exit 0 whatever its status: reading it succeeded (see `status`)."""
    settings = ctx.settings
    progress = ctx.progress
    progress.begin("get", settings.workflow, ctx.wall())
    run = ctx.client.get_run(
        settings.workflow, settings.run_id, deadline=progress.started + settings.timeout
    )
    check_poll_answer(run, Asked(settings.workflow))
    progress.run = run
    scope_of(ctx, run)
    report = progress.report(ExitCode.OK, f"Run {run.id} is {run.status}.")
    return Ending(
        ExitCode.OK,
        report=report,
        printout=RunView(report),
        closing=f"Run {log_text(run.id, 200)} of workflow {log_text(settings.workflow, 200)} is "
        f"{log_text(run.status, 100)}.",
    )
