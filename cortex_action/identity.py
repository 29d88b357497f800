"""Is the run Cortex answered with the run this step asked for, and did the trigger start it?

Cortex answers a trigger whose idempotency key it has seen with the run of that earlier request.
When the key was reused for another request (an earlier job's key inherited through a dotenv
report, a hand-made key without the entity in it), that run belongs to another workflow or
entity: following it would report someone else's deploy as ours. And when the key is the same
request's (a second pipeline for the same commit), no new run was started: users must be told.

Only what the answer carries can be checked; a field it lacks proves nothing and is not guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cortex_action.errors import ForeignRun
from cortex_action.models import Outcome, Run, as_text, created_at
from cortex_action.sanitize import log_text

# A creation time counts as "before this trigger" only this far before it: the runner's clock
# and Cortex's may disagree by this much.
CLOCK_SKEW = dt.timedelta(seconds=60)

# A CID (``wf0123...``, ``en4f5e...``): two letters, then at least six hex digits with one digit
# at least. A tag and a CID of one thing differ, so a value is only compared with the answer's
# values of its own kind: a tag asked for and only a CID answered prove nothing.
_CID = re.compile(r"[a-z]{2}(?=[0-9a-f]*\d)[0-9a-f]{6,}")

TAG, CID, NUMBER = "tag", "cid", "number"


def _kind(value: str) -> str:
    """A CID, a number (an internal id such as the web app's: never a tag or a CID), or a tag."""
    text = value.strip().lower()
    if text.isdigit():
        return NUMBER
    return CID if _CID.fullmatch(text) else TAG


@dataclass(frozen=True)
class Asked:
    """What the request named: the workflow, and for a trigger its scope and entity."""

    workflow: str
    scope: str | None = None  # "GLOBAL" or "ENTITY"; None: not part of the request (wait)
    entity: str | None = None


def _at(raw: Mapping[str, Any], path: str) -> Any:
    value: Any = raw
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


@dataclass(frozen=True)
class _Names:
    """How an answer names one thing: identifiers with their kind (tag or CID), and display
    names (which match, but prove no mismatch: nobody asks for a run by a display name)."""

    ids: tuple[tuple[str, str], ...]
    names: tuple[str, ...]

    @classmethod
    def read(
        cls,
        raw: Mapping[str, Any],
        *,
        tags: tuple[str, ...],
        cids: tuple[str, ...],
        either: tuple[str, ...],
        names: tuple[str, ...],
    ) -> _Names:
        ids: dict[str, str] = {}
        shown = [as_text(_at(raw, path)) for path in names]
        for paths, kind in ((tags, TAG), (cids, CID), (either, None)):
            for path in paths:
                text = as_text(_at(raw, path))
                if not text or text in ids:
                    continue
                if any(c.isspace() for c in text):  # tags and CIDs have no spaces: a name
                    shown.append(text)
                elif kind is None or _kind(text) == NUMBER:
                    ids[text] = _kind(text)
                else:
                    ids[text] = kind
        return cls(tuple(ids.items()), tuple(dict.fromkeys(t for t in shown if t)))

    def matches(self, given: str) -> bool:
        wanted = given.strip().casefold()
        return any(v.casefold() == wanted for v in [v for v, _ in self.ids] + list(self.names))

    def contradicts(self, given: str) -> bool:
        """No identifier matches ``given`` and one of its kind (or of both kinds) is there."""
        if self.matches(given):
            return False
        kinds = {kind for _, kind in self.ids}
        kind = _kind(given)
        if kind == CID:
            # A tag may look like a CID ("cd202401"). A CID's two letters say what it names
            # (``wf``, ``en``): only an answered CID with the same two is one to compare with.
            # One with other letters shows the given value is a tag; then a tag may compare.
            prefixes = {value[:2].casefold() for value, k in self.ids if k == CID}
            if given.strip()[:2].casefold() in prefixes:
                return True
            return bool(prefixes) and TAG in kinds
        return kind in kinds or (kind != NUMBER and {TAG, CID} <= kinds)

    def every(self) -> set[str]:
        """Every identifier and name, case-folded: what a run may be found by."""
        return {v.casefold() for v, _ in self.ids} | {n.casefold() for n in self.names}

    def describe(self) -> str:
        shown = [v for v, _ in self.ids] + list(self.names)
        return " / ".join(log_text(v, 100) for v in list(dict.fromkeys(shown))[:3])


def workflow_names(raw: Mapping[str, Any]) -> _Names:
    """How a run object names its workflow, wherever Cortex may put it (the one reader)."""
    return _Names.read(
        raw,
        tags=("workflow.tag", "workflowTag"),
        cids=("workflow.cid", "workflowCid"),
        either=("workflow.id", "workflowId", "workflow"),
        names=("workflow.name", "workflowName"),
    )


def entity_names(raw: Mapping[str, Any]) -> _Names:
    """How a run object names its entity, wherever Cortex may put it (the one reader)."""
    return _Names.read(
        raw,
        tags=(
            "scope.entityTag",
            "scope.entity.tag",
            "context.entity.tag",
            "entityTag",
            "entity.tag",
        ),
        cids=("scope.entityCid", "context.entity.cid", "entityCid", "entity.cid"),
        # scope.entityId takes "the entity tag or id" in the request, so it may be either here.
        either=(
            "scope.entityId",
            "scope.entity.id",
            "context.entity.id",
            "entityId",
            "entity.id",
            "entity",
        ),
        names=("context.entity.name", "scope.entity.name", "entity.name"),
    )


def _scope_type(raw: Mapping[str, Any]) -> str | None:
    text = as_text(_at(raw, "scope.type")) or as_text(raw.get("scopeType"))
    if text is None and isinstance(raw.get("scope"), str):
        text = as_text(raw.get("scope"))
    return text.upper() if text else None


def belongs_to(run: Run) -> str:
    """What the run object says it belongs to, for messages."""
    workflow = workflow_names(run.raw)
    entity = entity_names(run.raw)
    parts = [f"workflow {workflow.describe() or '(not given)'}"]
    if entity.ids or entity.names:
        parts.append(f"entity {entity.describe()}")
    elif scope := _scope_type(run.raw):
        parts.append(f"{scope} scope")
    return ", ".join(parts)


def mismatches(run: Run, asked: Asked) -> list[str]:
    """What in the answer contradicts the request; empty when nothing does (or can't be told)."""
    found: list[str] = []
    workflow = workflow_names(run.raw)
    if workflow.contradicts(asked.workflow):
        found.append(
            f"it belongs to workflow {workflow.describe()}, not {log_text(asked.workflow, 200)}"
        )
    if asked.scope is None:
        return found
    scope = _scope_type(run.raw)
    entity = entity_names(run.raw)
    if scope is not None and scope != asked.scope:
        found.append(f"its scope is {log_text(scope, 40)}, not {asked.scope}")
    elif asked.scope == "GLOBAL" and entity.ids:
        found.append(f"it is a run on entity {entity.describe()}, not a GLOBAL run")
    elif asked.entity is not None and entity.contradicts(asked.entity):
        found.append(
            f"it is a run on entity {entity.describe()}, not {log_text(asked.entity, 200)}"
        )
    return found


def check_trigger_answer(run: Run, asked: Asked, *, key: str, key_source: str | None) -> None:
    """Refuse (``ForeignRun``, exit 3) a trigger's answer that belongs to another request."""
    found = mismatches(run, asked)
    if not found:
        return
    source = f" ({key_source})" if key_source else ""
    raise ForeignRun(
        f"Cortex answered this trigger with run {log_text(run.id, 100)}, which belongs to "
        f"another request: {'; '.join(found)}. Not following it: it is not this step's run, "
        "and no run was started for this request.\n"
        f"The idempotency key {key}{source} was used before for that other request, so Cortex "
        "returned that request's run. Give this request a key of its own: set "
        "`idempotency-key` to a value that names this workflow, entity and pipeline (for "
        "example `deploy-backend-<pipeline id>`), or leave it empty to derive one from the "
        "commit and the request. On GitLab, check that no variable from an earlier job's "
        "dotenv report sets it."
    )


def check_poll_answer(run: Run, asked: Asked) -> None:
    """Refuse a poll's answer that is about a run of another workflow, scope or entity."""
    found = mismatches(run, asked)
    if found:
        raise ForeignRun(
            f"Cortex answered a poll of run {log_text(run.id, 100)} with a run that does not "
            f"match what was asked: {'; '.join(found)}. Stopped following: cannot trust this "
            "answer."
        )


# -- replays ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """Whether the trigger's answer is a run an earlier request started, and what shows it."""

    replayed: bool
    signs: tuple[str, ...]
    # Signs of a replay after this trigger was sent more than once: the run may be the one our
    # own first attempt started (its answer was lost), so it is not called a replay.
    own_retry: bool = False


def replay_of(run: Run, *, marker: bool, attempts: int, sent_at: dt.datetime) -> Replay:
    """Tell a new run from a replayed one by every sign the answer gives."""
    created = created_at(run.raw)
    early = created is not None and created < sent_at - CLOCK_SKEW
    signs: list[str] = []
    if early:
        assert created is not None
        signs.append(
            f"it was created at {created.isoformat(timespec='seconds')}, more than "
            f"{int(CLOCK_SKEW.total_seconds())} s (the margin for clock skew) before this "
            f"trigger was sent at {sent_at.isoformat(timespec='seconds')}"
        )
    if marker:
        signs.append("Cortex marked the answer as a replay (Idempotent-Replayed: true)")
    if run.outcome in (Outcome.SUCCESS, Outcome.FAILURE):
        signs.append(f"it is already {log_text(run.status, 40)}, which a new run cannot be yet")
    if attempts > 1 and not early:
        return Replay(False, tuple(signs), own_retry=bool(signs))
    return Replay(bool(signs), tuple(signs))
