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
from cortex_action.idempotency import Key, derive_key
from cortex_action.identity import Asked, check_trigger_answer, replay_of
from cortex_action.render.result_files import dry_run_files
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
    """The given key, else the one derived from the commit and the request."""
    settings = ctx.settings
    if settings.idempotency_key:
        return Key(settings.idempotency_key, "given by the `idempotency-key` input")
    return derive_key(
        workflow=settings.workflow,
        body=body,
        commit=ctx.host.commit,
        attempt=ctx.host.run_attempt,
        looked_in=ctx.host.commit_sources,
    )


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
    progress.key_given = bool(settings.idempotency_key)
    if key.random:  # a repeat makes another random key, whatever the host
        progress.retry_sends_same_key = False
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

    sent_at = ctx.now()
    answer = ctx.client.trigger(
        settings.workflow, body, idempotency_key=key.value, deadline=deadline, watch=progress
    )
    accepted_at = ctx.clock()
    run = answer.run
    asked = Asked(settings.workflow, body["scope"]["type"], settings.entity)
    # Before anything reports it as ours: a run of another request is refused, not followed.
    check_trigger_answer(run, asked, key=key.value, key_source=key.source)
    progress.run = run
    replay = replay_of(run, marker=answer.replay_marker, attempts=answer.attempts, sent_at=sent_at)
    progress.replayed = replay.replayed
    if replay.replayed:
        said = (
            f"Cortex returned an existing run for this key: no new run was started. Run "
            f"{run.id} is {log_text(run.status, 100)}; it was started by an earlier request "
            f"with the same idempotency key ({'; '.join(replay.signs)}). To start a new run on "
            "purpose, give a new `idempotency-key` (see docs/hosts.md)."
        )
        progress.notes.append(said)
        ctx.host.warning(said, title="Existing run")
    elif replay.own_retry:
        ctx.host.info(
            f"Run {run.id} was started by an earlier attempt of this trigger, whose answer was "
            f"lost ({'; '.join(replay.signs)}): still one run for this key."
        )
    ctx.host.info(
        f"Run {run.id} {'returned' if replay.replayed else 'accepted'}: "
        f"{log_text(run.status, 100)}. Follow it in Cortex: {ctx.runs_url}"
    )
    if not settings.wait:
        what = "returned (an existing run)" if replay.replayed else "triggered"
        return progress.ended(
            ExitCode.OK, f"Run {run.id} was {what} ({run.status}); not waiting (wait: false)."
        )
    return follow(ctx, run, deadline, asked=asked, accepted_at=accepted_at)


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


def check_reads(ctx: Context[RunSettings], deadline: float) -> None:
    """A dry run's check that the token can read runs: one list request of one run. A refusal
    is exit 3, as it would be after a real trigger."""
    ctx.client.list_runs(
        {"workflowIds": [ctx.settings.workflow], "page": 0, "size": 1}, deadline=deadline
    )
    ctx.host.info("The token can read runs (one list request answered).")


def dry_run(ctx: Context[RunSettings], body: dict[str, Any], key: Key, deadline: float) -> Ending:
    """Everything a trigger needs, checked, and the trigger shown; never sent."""
    settings = ctx.settings
    check_reads(ctx, deadline)
    path = f"/api/v1/workflows/{path_segment(settings.workflow)}/runs"
    ctx.host.info(
        f"The trigger it would send: POST {settings.base_url}{path}\n"
        f"Idempotency-Key: {key.value}\n{json.dumps(body, indent=2, ensure_ascii=False)}"
    )
    dry = DryRun(settings.workflow, body, key)
    summary = dry_run_summary(
        workflow=settings.workflow, body=body, key=key.value, key_source=key.source
    )
    return Ending(
        ExitCode.OK,
        outputs={"idempotency-key": key.value, "status": DRY_RUN},
        summary=summary,
        files=dry_run_files(
            status=DRY_RUN,
            key=key.value,
            result_json=dry.stdout(as_json=True),
            summary_md=summary,
            syntax=ctx.host.env_syntax,
            workflow=settings.workflow,
            entity=settings.entity,
        ),
        printout=dry,
        closing=(
            "Dry run: the trigger would be sent; nothing was started. Set `dry-run: false` "
            "to trigger it."
        ),
    )
