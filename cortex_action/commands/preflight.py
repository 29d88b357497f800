"""Before the trigger: read the workflow's definition and refuse what Cortex would refuse.

Only definite facts refuse a run (exit 2, no run started): the workflow does not exist, it is not
"Runnable via API", it is a draft, an ``initial-context`` key is not one of its variables. What
the definition only suggests is a warning, and a definition that can't be read never blocks.
``judge`` is pure; ``preflight`` does the one request and says what it found.
"""

from __future__ import annotations

from dataclasses import dataclass

from cortex_action.client import WrongHost
from cortex_action.commands.context import Context
from cortex_action.errors import ApiError, CortexError, InputError
from cortex_action.models import Definition, parse_definition
from cortex_action.sanitize import log_text
from cortex_action.settings import RunSettings

# The definition is a nicety: never spend more than this of the run's `timeout` on it, nor
# more than SHARE of what is left, so a short `timeout` still leaves the trigger and the wait
# their time (a slow definition must not start a run only to give up on it at once).
BUDGET = 10.0
SHARE = 0.25
# Shown in full up to this many; a workflow with more variables is cut, and says so.
MAX_SLUGS_SHOWN = 50


class PreflightRefused(InputError):
    """The definition says Cortex would refuse this trigger: nothing was sent (exit 2)."""

    title = "Invalid input or configuration: no run was started"

    def __init__(self, workflow: str, reasons: list[str]) -> None:
        lead = f"Workflow {log_text(workflow, 200)} can't run as asked."
        super().__init__([lead + " " + reasons[0]] if len(reasons) == 1 else [lead, *reasons])


@dataclass(frozen=True)
class Verdict:
    refusals: tuple[str, ...] = ()  # definite: the trigger would be refused
    warnings: tuple[str, ...] = ()  # suggested: trigger anyway, but say it


def _slugs(slugs: tuple[str, ...]) -> str:
    shown = ", ".join(log_text(s, 100) for s in slugs[:MAX_SLUGS_SHOWN])
    more = len(slugs) - MAX_SLUGS_SHOWN
    return shown + (f" (and {more} more)" if more > 0 else "")


def judge(definition: Definition, settings: RunSettings) -> Verdict:
    """What the definition says about this trigger; pure."""
    refusals: list[str] = []
    warnings: list[str] = []
    if definition.runnable_via_api is False:
        refusals.append(
            'It does not have "Runnable via API" switched on, so Cortex refuses to start it '
            'from the API. Switch on "Runnable via API" in the workflow\'s settings in Cortex '
            "(edit the workflow, then save), then run this job again."
        )
    if definition.draft is True:
        refusals.append(
            "It is a draft: Cortex runs only published workflows. Publish it in Cortex, then "
            "run this job again."
        )
    keys = list(settings.initial_context or {})
    declared = definition.variables
    if keys and declared:
        folded = {slug.casefold(): slug for slug in declared}
        unknown = [k for k in keys if k not in declared and k.casefold() not in folded]
        # Whether Cortex matches slugs case-sensitively is unknown: a case slip is a warning.
        for key in [k for k in keys if k not in declared and k.casefold() in folded]:
            warnings.append(
                f"`initial-context` key {log_text(key, 100)!r} differs only in case from its "
                f"variable {log_text(folded[key.casefold()], 100)!r}: Cortex may not match them."
            )
        if unknown:
            refusals.append(
                "`initial-context` "
                + ("key " if len(unknown) == 1 else "keys ")
                + ", ".join(repr(log_text(k, 100)) for k in unknown[:20])
                + (" is not one of" if len(unknown) == 1 else " are not among")
                + f" its variables ({_slugs(declared)}). Use the variables' slugs, or add the "
                "variable to the workflow in Cortex."
            )
    elif keys and declared == ():
        warnings.append(
            "The workflow declares no variables, but `initial-context` gives "
            + ", ".join(repr(log_text(k, 100)) for k in keys[:20])
            + ": Cortex may refuse them or ignore them."
        )
    if definition.scope == "GLOBAL" and settings.entities:
        warnings.append(
            "Its filter looks GLOBAL, but `entities` is given (one ENTITY-scoped run each): "
            "Cortex may refuse every trigger. Use `entity` empty (one GLOBAL run) if the "
            "workflow is global."
        )
    elif definition.scope == "GLOBAL" and settings.entity:
        warnings.append(
            "Its filter looks GLOBAL, but `entity` is given (ENTITY scope): Cortex may refuse "
            "the trigger. Leave `entity` empty if the workflow is global."
        )
    elif definition.scope == "ENTITY" and not settings.entity and not settings.entities:
        warnings.append(
            "Its filter looks entity-scoped, but no `entity` is given (GLOBAL scope): Cortex may "
            "refuse the trigger, or the run may wait for someone to pick an entity."
        )
    if definition.restricts_completion is True and not settings.run_as:
        warnings.append(
            "Only the user who starts it may complete its actions "
            "(restrictActionCompletionToRunnerUser), and `run-as` is empty: approvals and "
            "inputs will wait for the token's own user. Set `run-as` to the person who should "
            "act on them."
        )
    return Verdict(tuple(refusals), tuple(warnings))


def _knows_nothing(definition: Definition) -> bool:
    return all(
        value is None
        for value in (
            definition.draft,
            definition.runnable_via_api,
            definition.restricts_completion,
            definition.variables,
            definition.scope,
        )
    )


def _budget(now: float, deadline: float) -> float:
    return now + max(0.0, min(BUDGET, (deadline - now) * SHARE))


def preflight(ctx: Context[RunSettings], deadline: float) -> Definition | None:
    """Read the definition (within ``BUDGET``) and judge the trigger; raise ``PreflightRefused``
    on a definite fact; warn on suggestions; one note when it can't be read."""
    settings = ctx.settings
    workflow = settings.workflow
    name = log_text(workflow, 200)
    skipped = "; going on without this check."
    try:
        payload = ctx.client.get_workflow(
            workflow, deadline=_budget(ctx.clock(), deadline), quiet=True
        )
    except ApiError as exc:
        if exc.status_code == 404:
            raise PreflightRefused(
                workflow,
                [
                    f"Cortex answered 404 to reading it: there is no such workflow at "
                    f"{settings.base_url}. Check `workflow` (its tag or id, case as in Cortex) "
                    "and `base-url` (your tenant's API host). If the workflow does exist, "
                    "`preflight: false` skips this check."
                ],
            ) from None
        why = {
            403: "the token may lack the permission to view workflows",
            401: "the token was refused",
        }.get(exc.status_code, log_text(exc.api_message, 200))
        ctx.host.info(
            f"Note: could not read workflow {name}'s definition ({exc.status_code}: {why})"
            + skipped
        )
        return None
    except WrongHost:
        raise  # base-url is the web app: the trigger would get the same page; stop at once
    except CortexError as exc:  # garbled, not an object, or transient past the short budget
        first = log_text(exc.message.splitlines()[0] if exc.message else "", 300)
        ctx.host.info(f"Note: could not read workflow {name}'s definition ({first})" + skipped)
        return None
    definition = parse_definition(payload)
    if definition is None or _knows_nothing(definition):
        ctx.host.info(
            f"Note: workflow {name}'s definition has a shape this version does not know" + skipped
        )
        return definition
    verdict = judge(definition, settings)
    if verdict.refusals:
        raise PreflightRefused(workflow, list(verdict.refusals))
    # A dry run triggers nothing: "Triggering anyway" would read as if it had.
    anyway = "A real run would trigger anyway." if settings.dry_run else "Triggering anyway."
    for warning in verdict.warnings:
        ctx.host.warning(f"Workflow {name}: {warning} {anyway}", title="Preflight")
    variables = f" Its variables: {_slugs(definition.variables)}." if definition.variables else ""
    ctx.host.info(
        f"Preflight: nothing in workflow {name}'s definition refuses this trigger.{variables}"
    )
    return definition
