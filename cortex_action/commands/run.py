"""``run``: trigger a workflow run with an idempotency key, then follow it to its end."""

from __future__ import annotations

import json
from typing import Any

from cortex_action.commands.context import Context
from cortex_action.commands.follow import Progress, follow, reported
from cortex_action.errors import ExitCode
from cortex_action.idempotency import Key, commit_sha, derive_key, looks_derived
from cortex_action.report import Report
from cortex_action.sanitize import log_text
from cortex_action.settings import Settings


def request_body(settings: Settings) -> dict[str, Any]:
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


def idempotency_key(ctx: Context, body: dict[str, Any]) -> Key:
    """The given key, else the derived one; a key we derived for another request is not reused."""
    settings = ctx.settings
    assert settings.workflow is not None
    derived = derive_key(
        workflow=settings.workflow,
        body=body,
        sha=commit_sha(ctx.host.env),
        attempt=ctx.host.run_attempt,
    )
    given = settings.idempotency_key
    if not given:
        return derived
    if looks_derived(given) and given != derived.value:
        # GitLab passes an earlier job's cortex-action.env (CORTEX_IDEMPOTENCY_KEY) on to later
        # jobs, where it reads as this input: reusing it would replay that job's run.
        ctx.host.warning(
            f"idempotency-key {given} was derived by cortex-action for another request (an "
            "earlier job's cortex-action.env passes CORTEX_IDEMPOTENCY_KEY on to later jobs); "
            f"using the key derived for this request instead: {derived.value}",
            title="Idempotency key",
        )
        return derived
    return Key(given, "given by the `idempotency-key` input")


def run(ctx: Context) -> Report:
    settings = ctx.settings
    assert settings.workflow is not None
    started = ctx.clock()
    deadline = started + settings.timeout
    body = request_body(settings)
    key = idempotency_key(ctx, body)
    progress = Progress(
        command="run",
        workflow=settings.workflow,
        started=started,
        started_at=ctx.wall(),
        scope=body["scope"]["type"],
        entity=settings.entity,
        idempotency_key=key.value,
        key_source=key.source,
    )
    scope = "GLOBAL scope" if not settings.entity else f"entity {log_text(settings.entity, 200)}"
    ctx.host.info(
        f"Triggering Cortex workflow {log_text(settings.workflow, 200)} ({scope}) "
        f"at {settings.base_url}"
    )
    ctx.host.info(f"Idempotency key: {key.value} ({key.source})")
    if key.value.startswith("cortex-action-random-"):
        ctx.host.warning(key.source, title="No commit SHA")
    with ctx.host.group("Request body"):
        ctx.host.detail(json.dumps(body, indent=2, ensure_ascii=False))

    workflow = settings.workflow

    def work() -> Report:
        run = ctx.client.trigger(workflow, body, idempotency_key=key.value, deadline=deadline)
        progress.run = run
        ctx.host.info(
            f"Run {run.id} accepted: {log_text(run.status, 100)}. "
            f"Follow it in Cortex: {ctx.runs_url}"
        )
        if not settings.wait:
            return progress.report(
                ctx,
                ExitCode.OK,
                f"Run {run.id} was triggered ({run.status}); not waiting (wait: false).",
            )
        return follow(ctx, progress, run, deadline)

    return reported(ctx, progress, work)
