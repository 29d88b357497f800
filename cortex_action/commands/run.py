"""``run``: trigger a workflow run with an idempotency key, then follow it to its end."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cortex_action.client import path_segment
from cortex_action.commands.context import Context
from cortex_action.commands.follow import follow
from cortex_action.commands.preflight import preflight
from cortex_action.endings import Ending
from cortex_action.errors import ExitCode
from cortex_action.idempotency import Key, derive_key, looks_derived
from cortex_action.render.summary import dry_run_summary
from cortex_action.sanitize import json_for_log, log_text
from cortex_action.settings import RunSettings

DRY_RUN = "DRY_RUN"  # the `status` output of a dry run


def request_body(settings: RunSettings) -> dict[str, Any]:
    """The trigger's body; optional inputs left empty are left out."""
    scope: dict[str, Any] = (
        {"type": "ENTITY", "entityId": settings.entity} if settings.entity else {"type": "GLOBAL"}
    )
    body: dict[str, Any] = {"scope": scope}
    if settings.run_as:
        body["runAs"] = settings.run_as
    if settings.notification_recipients:
        body["notificationRecipients"] = list(settings.notification_recipients)
    if settings.initial_context:
        body["initialContext"] = settings.initial_context
    return body


def idempotency_key(ctx: Context[RunSettings], body: dict[str, Any]) -> Key:
    """The given key, else the derived one; a key we derived for another request is not reused."""
    settings = ctx.settings
    derived = derive_key(
        workflow=settings.workflow,
        body=body,
        commit=ctx.host.commit,
        attempt=ctx.host.run_attempt,
        looked_in=ctx.host.commit_sources,
    )
    given = settings.idempotency_key
    if not given:
        return derived
    if looks_derived(given) and given != derived.value:
        # A result file of an earlier job can hand its key on to later jobs, where it reads as
        # this input: reusing it would replay that job's run.
        ctx.host.warning(
            f"idempotency-key {given} was derived by cortex-action for another request (an "
            "earlier job's cortex-action.env passes CORTEX_IDEMPOTENCY_KEY on to later jobs); "
            f"using the key derived for this request instead: {derived.value}",
            title="Idempotency key",
        )
        return derived
    return Key(given, "given by the `idempotency-key` input")


def run(ctx: Context[RunSettings]) -> Ending:
    settings = ctx.settings
    progress = ctx.progress
    progress.begin("run", settings.workflow, ctx.wall())
    deadline = progress.started + settings.timeout
    body = request_body(settings)
    key = idempotency_key(ctx, body)
    progress.scope = body["scope"]["type"]
    progress.entity = settings.entity
    if settings.preflight or settings.dry_run:
        # Before the key is on record: a refusal here says "no run was started", truly.
        preflight(ctx, deadline)
    scope = "GLOBAL scope" if not settings.entity else f"entity {log_text(settings.entity, 200)}"
    verb = "Dry run: would trigger" if settings.dry_run else "Triggering"
    ctx.host.info(
        f"{verb} Cortex workflow {log_text(settings.workflow, 200)} ({scope}) "
        f"at {settings.base_url}"
    )
    if key.random:  # why it is random, and what to do, said once: in the warning
        ctx.host.info(f"Idempotency key: {key.value} (random)")
        ctx.host.warning(key.source, title="No commit SHA")
    else:
        ctx.host.info(f"Idempotency key: {key.value} ({key.source})")
    if settings.dry_run:
        return dry_run(ctx, body, key, deadline)
    progress.idempotency_key, progress.key_source = key.value, key.source
    with ctx.host.group("Request body"):
        ctx.host.detail(json.dumps(body, indent=2, ensure_ascii=False))

    run = ctx.client.trigger(
        settings.workflow, body, idempotency_key=key.value, deadline=deadline, watch=progress
    )
    progress.run = run
    ctx.host.info(
        f"Run {run.id} accepted: {log_text(run.status, 100)}. Follow it in Cortex: {ctx.runs_url}"
    )
    if not settings.wait:
        return progress.ended(
            ExitCode.OK, f"Run {run.id} was triggered ({run.status}); not waiting (wait: false)."
        )
    return follow(ctx, run, deadline)


@dataclass(frozen=True)
class DryRun:
    """What a dry run prints on stdout with ``--json``: what the trigger would have been."""

    workflow: str
    body: dict[str, Any]
    key: Key

    def result(self) -> dict[str, Any]:
        return {
            "command": "run",
            "dryRun": True,
            "workflow": self.workflow,
            "status": DRY_RUN,
            "idempotencyKey": self.key.value,
            "keySource": self.key.source,
            "body": self.body,
            "exitCode": 0,
        }

    def stdout(self, *, as_json: bool) -> str:
        if not as_json:
            return ""
        return json_for_log(json.dumps(self.result(), indent=2, ensure_ascii=False)) + "\n"


def dry_run(ctx: Context[RunSettings], body: dict[str, Any], key: Key, deadline: float) -> Ending:
    """Everything a trigger needs, checked, and the trigger shown; never sent."""
    settings = ctx.settings
    # Can this token read runs? A refusal is exit 3, as it would be after a real trigger.
    ctx.client.list_runs(
        {"workflowIds": [settings.workflow], "page": 0, "size": 1}, deadline=deadline
    )
    ctx.host.info("The token can read runs (one list request answered).")
    path = f"/api/v1/workflows/{path_segment(settings.workflow)}/runs"
    ctx.host.info(
        f"The trigger it would send: POST {settings.base_url}{path}\n"
        f"Idempotency-Key: {key.value}\n{json.dumps(body, indent=2, ensure_ascii=False)}"
    )
    dry = DryRun(settings.workflow, body, key)
    return Ending(
        ExitCode.OK,
        outputs={"idempotency-key": key.value, "status": DRY_RUN},
        summary=dry_run_summary(
            workflow=settings.workflow,
            body=body,
            key=key.value,
            key_source=key.source,
        ),
        printout=dry,
        closing=(
            "Dry run: the trigger would be sent; nothing was started. Set `dry-run: false` "
            "to trigger it."
        ),
    )
