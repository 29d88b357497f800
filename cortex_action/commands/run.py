"""``run``: trigger a workflow run with an idempotency key, then follow it to its end."""

from __future__ import annotations

import json
from typing import Any

from cortex_action.commands.context import Context
from cortex_action.commands.follow import follow
from cortex_action.endings import Ending
from cortex_action.errors import ExitCode
from cortex_action.idempotency import Key, derive_key, looks_derived
from cortex_action.sanitize import log_text
from cortex_action.settings import RunSettings


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
    progress.idempotency_key, progress.key_source = key.value, key.source
    scope = "GLOBAL scope" if not settings.entity else f"entity {log_text(settings.entity, 200)}"
    ctx.host.info(
        f"Triggering Cortex workflow {log_text(settings.workflow, 200)} ({scope}) "
        f"at {settings.base_url}"
    )
    if key.random:  # why it is random, and what to do, said once: in the warning
        ctx.host.info(f"Idempotency key: {key.value} (random)")
        ctx.host.warning(key.source, title="No commit SHA")
    else:
        ctx.host.info(f"Idempotency key: {key.value} ({key.source})")
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
