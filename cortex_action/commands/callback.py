"""``callback``: tell the Cortex workflow that started this CI job how the job went.

A workflow's asynchronous HTTP request block starts the job, hands it a callback id, and pauses
until the job calls back: ``success`` resumes the workflow, ``failure`` fails it, ``update``
sends progress and leaves it waiting.

Every answer Cortex gives is an ending of this command, refusals included: a later step reads
``http-status`` to tell "already called back" (406) from "unknown id" (404), so the outputs and
the summary are written whatever Cortex said.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cortex_action.client import CallbackAnswer, WrongHost
from cortex_action.commands.context import Context
from cortex_action.endings import Ending, Failure
from cortex_action.errors import ApiError, CortexError, ExitCode
from cortex_action.hosts.base import Host
from cortex_action.render.callback import (
    callback_files,
    callback_json,
    callback_outputs,
    callback_summary,
)
from cortex_action.report import CallbackReport
from cortex_action.sanitize import log_text
from cortex_action.settings import CallbackSettings, CallbackStatus


def default_message(host: Host, settings: CallbackSettings) -> str:
    """One line naming the CI job, its outcome and its link, from what the host tells."""
    running = settings.status is CallbackStatus.UPDATE
    if host.ci_name is None:  # a shell: no job to name
        job = "Called back by cortex-action"
        said = f"{job}: still running" if running else f"{job}: {settings.outcome}"
    else:
        job = f"{host.ci_name} job" + (f" {host.job_name}" if host.job_name else "")
        said = f"{job} is still running" if running else f"{job} ended: {settings.outcome}"
    return f"{said}: {host.job_url}" if host.job_url else said


def default_response(host: Host, settings: CallbackSettings) -> dict[str, Any]:
    """The job's link, its commit and its outcome: what the workflow may want to show or use."""
    commit = host.commit
    facts = {
        "jobUrl": host.job_url,
        "commit": commit[0] if commit else None,
        "outcome": settings.outcome,
    }
    return {key: value for key, value in facts.items() if value is not None}


def callback(ctx: Context[CallbackSettings]) -> Ending:
    settings = ctx.settings
    host = ctx.host
    message = settings.message or default_message(host, settings)
    given = settings.response is not None
    response = (
        settings.response if settings.response is not None else default_response(host, settings)
    )
    body = {"status": settings.status.value, "message": message, "response": response}
    final = settings.status is not CallbackStatus.UPDATE
    host.info(
        f"Calling back workflow {log_text(settings.workflow, 200)} (callback id "
        f"{log_text(settings.callback_id, 300)}): {settings.status.value}, message "
        f"{log_text(message, 300)!r}"
    )
    if given:
        # The values stay out of the log: they may be secrets. The keys say what was sent.
        keys = ", ".join(log_text(k, 100) for k in list(response)[:50]) or "(none)"
        host.detail(f"Response keys: {keys} (values not shown)")
    else:
        host.detail(f"Response: {log_text(json.dumps(response, ensure_ascii=False), 1000)}")

    def report(
        code: int, headline: str, http_status: int | None, landed: str | None = None
    ) -> CallbackReport:
        return CallbackReport(
            workflow=settings.workflow,
            callback_id=settings.callback_id,
            status=settings.status.value,
            message=message,
            response=response,
            response_shown=not given,
            exit_code=code,
            headline=headline,
            http_status=http_status,
            landed_earlier=landed,
            job_url=host.job_url,
        )

    started = ctx.clock()
    try:
        answer = ctx.client.callback(
            settings.workflow,
            settings.callback_id,
            body,
            final=final,
            deadline=started + settings.timeout,
        )
    except CortexError as error:
        status = error.status_code if isinstance(error, ApiError) else None
        text = error.message
        # The web app (or another site) answering is no attempt that reached Cortex's API.
        if status is None and final and not isinstance(error, WrongHost):
            text += (
                "\nAn attempt may have reached Cortex all the same: look at the run in Cortex. "
                "Sending the callback again is safe: if the block was resumed, Cortex answers "
                "406 and cortex-action says the callback had landed."
            )
        return _ending(
            report(ExitCode.CORTEX_ERROR, text.splitlines()[0], status),
            host,
            Failure(error.title, text),
        )
    return _ending(
        report(ExitCode.OK, _taken(settings, answer), answer.status_code, answer.landed_earlier),
        host,
    )


def _taken(settings: CallbackSettings, answer: CallbackAnswer) -> str:
    what = {
        CallbackStatus.SUCCESS: "the workflow goes on with its next block",
        CallbackStatus.FAILURE: "the block and its run fail",
        CallbackStatus.UPDATE: "the block keeps waiting for a final callback",
    }[settings.status]
    if answer.landed_earlier:
        return (
            f"Callback {settings.status.value} had landed: an earlier attempt got no answer "
            f"({answer.landed_earlier}), and Cortex then answered 406, the block is no longer "
            f"waiting, so that attempt was received ({what}; if the block timed out meanwhile, "
            "the run shows TIMED_OUT)."
        )
    return f"Cortex took callback {settings.status.value} ({answer.status_code}): {what}."


@dataclass(frozen=True)
class CallbackView:
    """stdout: with ``--json``, what was sent and how Cortex answered; else nothing (the log
    says it)."""

    report: CallbackReport

    def stdout(self, *, as_json: bool) -> str:
        return callback_json(self.report) if as_json else ""


def _ending(report: CallbackReport, host: Host, failure: Failure | None = None) -> Ending:
    return Ending(
        report.exit_code,
        printout=CallbackView(report),
        outputs=callback_outputs(report),
        summary=callback_summary(report),
        files=callback_files(report, host.env_syntax),
        closing=None if failure else report.headline,
        failure=failure,
    )
