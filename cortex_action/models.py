"""The run object and the run listing's page as far as Cortex documents them, with their parsers.

Cortex publishes only a run's ``id``, ``status``, ``workflow`` and ``actions[].state.errorMessage``;
everything else is read defensively (under the names Cortex or the emulator may use) and the raw
object is kept for users.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cortex_action import dates
from cortex_action.errors import TransportError


class Outcome(enum.Enum):
    """What a status means for the job."""

    SUCCESS = "success"
    FAILURE = "failure"
    PAUSED = "paused"
    RUNNING = "running"
    UNKNOWN = "unknown"


SUCCESS_STATUSES = frozenset({"COMPLETED"})
FAILURE_STATUSES = frozenset({"FAILED", "CANCELLED", "TIMED_OUT"})
RUNNING_STATUSES = frozenset({"NOT_INITIATED", "IN_PROGRESS"})
PAUSED_STATUSES = frozenset({"PAUSED"})
KNOWN_STATUSES = SUCCESS_STATUSES | FAILURE_STATUSES | RUNNING_STATUSES | PAUSED_STATUSES


def classify(status: str) -> Outcome:
    """Statuses compare case-insensitively; one we don't know is not terminal."""
    upper = status.upper()
    if upper in SUCCESS_STATUSES:
        return Outcome.SUCCESS
    if upper in FAILURE_STATUSES:
        return Outcome.FAILURE
    if upper in PAUSED_STATUSES:
        return Outcome.PAUSED
    if upper in RUNNING_STATUSES:
        return Outcome.RUNNING
    return Outcome.UNKNOWN


# -- timestamps --------------------------------------------------------------------------------

# Cortex documents no timestamps on runs or blocks [unknown]: every plausible name is read, in
# this order of preference, at the object's top level and under its ``state``.
STARTED_NAMES = ("dateStarted", "startedAt", "startTime", "dateCreated", "createdAt")
ENDED_NAMES = ("dateCompleted", "completedAt", "finishedAt", "endedAt", "endTime")
CREATED_NAMES = ("dateCreated", "createdAt")
UPDATED_NAMES = ("dateUpdated", "updatedAt")
# Epoch numbers above this are milliseconds (1e11 s is the year 5138).
_EPOCH_MS = 1e11


def instant(value: Any, *, naive_utc: bool = True) -> dt.datetime | None:
    """A point in time from Cortex's JSON: ISO 8601 text, or epoch seconds or milliseconds
    (number or digits); None for anything else. Never raises. The one reader of Cortex's times.

    ``naive_utc``: a time without a zone is read as UTC (fine for showing a run and for
    durations, where both ends share the zone); False where an absolute comparison with our own
    clock decides something (a replay, a history's age), so that a guess can't decide it."""
    if value is None:  # the common case: a name this Cortex doesn't use
        return None
    number: float | None = None
    if (isinstance(value, int | float) and not isinstance(value, bool)) or (
        isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value)
    ):
        try:
            number = float(value)
        except OverflowError:  # an integer past a float's range (400 digits): no time
            return None
    try:
        if number is not None:
            seconds = number / 1000 if number > _EPOCH_MS else number
            return dt.datetime.fromtimestamp(seconds, dt.UTC) if seconds > 0 else None
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if (
                naive_utc
                and re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}.*", text)
                and not re.search(r"(Z|z|[+-]\d{2}:?\d{2})$", text)
            ):
                text += "Z"  # a time without a zone: read as UTC
            return dates.parse_instant(text)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def first_instant(
    raw: Mapping[str, Any], names: Iterable[str], *, naive_utc: bool = True
) -> dt.datetime | None:
    """The first readable time among ``names``, at the top level of ``raw`` or in its ``state``."""
    state = raw.get("state")
    for source in (raw, state if isinstance(state, Mapping) else {}):
        for name in names:
            found = instant(source.get(name), naive_utc=naive_utc)
            if found is not None:
                return found
    return None


@dataclass(frozen=True)
class Times:
    """When a run (or a block) was created, started, ended and last updated, where it says."""

    created: dt.datetime | None = None
    started: dt.datetime | None = None
    ended: dt.datetime | None = None
    updated: dt.datetime | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start (else creation) to end; None unless both are known and in order."""
        begin = self.started or self.created
        if begin is None or self.ended is None or self.ended < begin:
            return None
        return (self.ended - begin).total_seconds()


def times_of(raw: Any) -> Times:
    """The timestamps of a run or block object, under any of the names above; never raises."""
    if not isinstance(raw, Mapping):
        return Times()
    return Times(
        created=first_instant(raw, CREATED_NAMES),
        started=first_instant(raw, STARTED_NAMES),
        ended=first_instant(raw, ENDED_NAMES),
        updated=first_instant(raw, UPDATED_NAMES),
    )


class Phase(enum.Enum):
    """Where a block is: not started, running (or paused), or ended."""

    PENDING = "pending"
    RUNNING = "running"
    ENDED = "ended"


_ENDED_BLOCK = frozenset({"SKIPPED", "SUCCEEDED", "SUCCESS", "ERROR", "ABORTED"})
_RUNNING_BLOCK = frozenset({"RUNNING", "STARTED", "WAITING_FOR_CALLBACK"})
_PENDING_BLOCK = frozenset({"NOT_STARTED", "NOT_INITIATED", "PENDING", "QUEUED", "WAITING"})


@dataclass(frozen=True)
class Block:
    """One block (action) of a run, as far as the run object tells."""

    name: str
    status: str | None
    error: str | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @functools.cached_property
    def times(self) -> Times:
        """Read when asked (a run of thousands of blocks is parsed on every poll); a block's
        ``dateCreated`` is when it was defined or queued, not when it ran, so it is not read."""
        return Times(
            started=first_instant(self.raw, STARTED_NAMES[:3]),
            ended=first_instant(self.raw, ENDED_NAMES),
        )

    @property
    def phase(self) -> Phase:
        """From the status where it is known, else from the timestamps."""
        status = (self.status or "").upper()
        outcome = classify(status)
        if outcome in (Outcome.SUCCESS, Outcome.FAILURE) or status in _ENDED_BLOCK:
            return Phase.ENDED
        if status in ("IN_PROGRESS", "PAUSED") or status in _RUNNING_BLOCK:
            return Phase.RUNNING
        if status in _PENDING_BLOCK:
            return Phase.PENDING
        # No status, or one we don't know: the timestamps decide.
        if self.times.ended is not None:
            return Phase.ENDED
        if self.times.started is not None:
            return Phase.RUNNING
        return Phase.PENDING

    @property
    def failed(self) -> bool:
        return bool(self.error) or classify(self.status or "") is Outcome.FAILURE


@dataclass(frozen=True)
class Run:
    """A workflow run: the fields we act on, and the raw JSON for everything else."""

    id: str
    status: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def outcome(self) -> Outcome:
        return classify(self.status)

    @functools.cached_property
    def blocks(self) -> list[Block]:
        actions = self.raw.get("actions")
        if not isinstance(actions, list):
            return []
        return [_block(index, item) for index, item in enumerate(actions) if isinstance(item, dict)]

    @property
    def failed_blocks(self) -> list[Block]:
        return [b for b in self.blocks if b.failed]

    @property
    def times(self) -> Times:
        return times_of(self.raw)


def as_text(value: Any) -> str | None:
    """Text or a number from Cortex's JSON as a stripped string; None for blanks and the rest."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _block(index: int, item: dict[str, Any]) -> Block:
    state = item.get("state") if isinstance(item.get("state"), dict) else {}
    assert isinstance(state, dict)
    name = next(
        (
            t
            for t in (as_text(item.get(k)) for k in ("name", "title", "slug", "actionSlug", "id"))
            if t
        ),
        f"block {index + 1}",
    )
    status = as_text(state.get("status")) or as_text(item.get("status"))
    error = as_text(state.get("errorMessage")) or as_text(item.get("errorMessage"))
    # Bounded here, once, before any log line, summary, report or output shows them.
    if len(name) > MAX_BLOCK_NAME:
        name = name[:MAX_BLOCK_NAME] + "…"
    if status is not None and not _STATUS.fullmatch(status):
        status = "(unreadable status)"
    return Block(name=name, status=status, error=error, raw=item)


# What a run id from Cortex may be: what `run-id` accepts back (1 to 255 printable ASCII
# characters, no spaces), so that every id we publish can be given to `wait` and `get`.
_RUN_ID = re.compile(r"[\x21-\x7e]{1,255}")
# A status is an enum constant [doc: COMPLETED, FAILED...]; unknown ones are waited on, so they
# are only bounded: letters, digits, '_', '-' and spaces, up to 64.
_STATUS = re.compile(r"[A-Za-z0-9_ -]{1,64}")
# Block names are shown, never acted on: cut to this many characters.
MAX_BLOCK_NAME = 200


def parse_run(payload: Any, *, what: str = "the run") -> Run:
    """A run object from decoded JSON, or a ``TransportError`` saying what is wrong with it."""
    if not isinstance(payload, dict):
        raise TransportError(
            f"Cortex answered with JSON that is not a run object ({what}): "
            f"expected an object, got {type(payload).__name__}."
        )
    run_id = payload.get("id")
    if not isinstance(run_id, str | int) or isinstance(run_id, bool) or not str(run_id).strip():
        raise TransportError(
            f"Cortex answered with a run object without a usable `id` ({what}); "
            "cannot follow it. Keys present: " + ", ".join(sorted(map(str, payload))[:20])
        )
    run_id = str(run_id)  # as given: a trimmed id would name another run
    if not _RUN_ID.fullmatch(run_id):
        # Not shown: 100 000 characters, or control characters, have no place in a log line.
        raise TransportError(
            f"Cortex answered with a run id that is not an id ({what}): {len(run_id)} "
            "characters, where an id is 1 to 255 printable ASCII characters without spaces; "
            "cannot follow it."
        )
    status = payload.get("status")
    if not isinstance(status, str) or not status.strip():
        raise TransportError(
            f"Cortex answered with a run object whose `status` is not a text ({what}): "
            f"got {type(status).__name__}."
        )
    if not _STATUS.fullmatch(status.strip()):
        raise TransportError(
            f"Cortex answered with a run `status` that is not a status ({what}): "
            f"{len(status.strip())} characters, where a status is up to 64 letters, digits, "
            "'_', '-' or spaces."
        )
    return Run(id=run_id, status=status.strip().upper(), raw=payload)


# -- a run as a row of a listing ---------------------------------------------------------------

# What a row shows for a fact the run object doesn't give.
MISSING = "-"


@dataclass(frozen=True)
class RunRow:
    """The columns of one run; None where the run object doesn't say."""

    id: str
    status: str
    workflow: str | None
    entity: str | None
    started: str | None
    initiator: str | None


def _first(raw: Mapping[str, Any], *paths: str) -> str | None:
    """The first non-empty text at one of the dotted ``paths``; an object yields its email/tag."""
    for path in paths:
        value: Any = raw
        for key in path.split("."):
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, Mapping):
            value = next(
                (value[k] for k in ("email", "tag", "name", "id", "cid") if as_text(value.get(k))),
                None,
            )
        text = as_text(value)
        if text:
            return text
    return None


def _when(value: str | None) -> str | None:
    """An ISO time shown as ``2026-11-30 08:00:00Z``; epoch numbers too; other text as is."""
    if value is None:
        return None
    try:
        if value.replace(".", "", 1).isdigit():
            number = float(value)
            seconds = number / 1000 if number > 1e11 else number  # epoch milliseconds or seconds
            instant = dt.datetime.fromtimestamp(seconds, dt.UTC)
        else:
            instant = dates.parse_instant(value)
    except (ValueError, OverflowError, OSError):
        return value
    return instant.strftime("%Y-%m-%d %H:%M:%SZ")


def parse_row(raw: Mapping[str, Any]) -> RunRow:
    """The columns of a run object, looked up under every name Cortex may use; never raises."""
    return RunRow(
        id=as_text(raw.get("id")) or MISSING,
        status=(as_text(raw.get("status")) or MISSING).upper(),
        workflow=_first(
            raw,
            "workflow.tag",
            "workflow.name",
            "workflow.cid",
            "workflowTag",
            "workflowName",
            "workflowId",
            "workflow",
        ),
        entity=_first(
            raw,
            "scope.entityId",
            "scope.entityTag",
            "entity",
            "context.entity",
            "entityId",
            "entityTag",
        ),
        started=_when(
            _first(raw, "dateStarted", "startedAt", "dateCreated", "createdAt", "startTime")
        ),
        initiator=_first(raw, "initiatedBy", "initiator", "context.initiator", "runAs"),
    )


def created_at(raw: Mapping[str, Any]) -> dt.datetime | None:
    """When the run was created, where the run object says so with a zone (it is compared with
    our own clock: a guessed zone could make a new run look like a replay)."""
    names = ("dateCreated", "createdAt", "created", "creationDate")
    return first_instant(raw, names, naive_utc=False)


def ended_at(raw: Mapping[str, Any]) -> str | None:
    """When the run ended, shown like ``RunRow.started``; None while it hasn't (or won't say)."""
    return _when(_first(raw, "dateCompleted", "completedAt", "endedAt"))


# -- a page of the run listing -------------------------------------------------------------------


@dataclass(frozen=True)
class ListPage:
    """One page of a run listing, whichever envelope Cortex used."""

    runs: list[dict[str, Any]]
    page: int | None
    total_pages: int | None
    total: int | None
    last: bool | None


def parse_page(payload: Any) -> ListPage:
    """Accept a Cortex-style page (a list under some key) and a Spring-style page (``content``)."""
    if isinstance(payload, list):
        return ListPage(_run_objects(payload), None, None, len(payload), True)
    if not isinstance(payload, dict):
        raise TransportError(
            "Cortex answered the run listing with JSON that is not a page: "
            f"{type(payload).__name__}."
        )
    runs: list[Any] | None = None
    for key in ("content", "runs", "workflowRuns", "items", "data", "results"):
        if isinstance(payload.get(key), list):
            runs = payload[key]
            break
    if runs is None:
        lists = [v for v in payload.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise TransportError(
                "Cortex answered the run listing with an object that has no list of runs; keys: "
                + ", ".join(sorted(map(str, payload))[:20])
            )
        runs = lists[0]

    def number(*keys: str) -> int | None:
        for key in keys:
            value = payload.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    last = payload.get("last")
    return ListPage(
        runs=_run_objects(runs),
        page=number("page", "number"),
        total_pages=number("totalPages"),
        total=number("total", "totalElements"),
        last=last if isinstance(last, bool) else None,
    )


def _run_objects(items: list[Any]) -> list[dict[str, Any]]:
    """The runs of a page. Anything but objects means this is not a page of runs (a garbled or
    foreign answer), never "no runs": that would end a listing with exit 0 and nothing found."""
    strays = sorted({type(item).__name__ for item in items if not isinstance(item, dict)})
    if strays:
        raise TransportError(
            "Cortex answered the run listing with a list that is not a list of run objects "
            f"(it holds {', '.join(strays)})."
        )
    return list(items)


# -- a workflow's definition ---------------------------------------------------------------------


@dataclass(frozen=True)
class Definition:
    """What a workflow's definition says about triggering it [seen]; None where it doesn't say
    (or says it in a shape we don't know), so that only definite facts can refuse a run."""

    name: str | None
    draft: bool | None
    runnable_via_api: bool | None
    restricts_completion: bool | None
    variables: tuple[str, ...] | None  # the declared slugs; None when unreadable
    scope: str | None  # "GLOBAL" or "ENTITY" as the filter suggests; None when unclear


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _variable_slugs(value: Any) -> tuple[str, ...] | None:
    """Slugs of ``variables``: objects with ``slug`` (else ``key``, else ``name``) or plain
    strings, as a list or a mapping keyed by slug. One item we can't read makes the whole list
    unknown: a check against a partial list would refuse keys that are declared."""
    if isinstance(value, Mapping):
        items: list[Any] = [
            {"slug": k, **v} if isinstance(v, Mapping) else k for k, v in value.items()
        ]
    elif isinstance(value, list):
        items = value
    else:
        return None
    slugs: list[str] = []
    for item in items:
        slug = as_text(item) if isinstance(item, str) else None
        if isinstance(item, Mapping):
            slug = next(
                (t for t in (as_text(item.get(k)) for k in ("slug", "key", "name")) if t), None
            )
            if slug is not None and not as_text(item.get("slug")) and not as_text(item.get("key")):
                # Only a `name`: a display name ("Deploy target") is no slug ("deploy_target");
                # refusing a key against it would refuse a declared variable.
                slug = None if any(c.isspace() for c in slug) else slug
        if slug is None:
            return None
        slugs.append(slug)
    return tuple(dict.fromkeys(slugs))


def _filter_scope(definition: Mapping[str, Any]) -> str | None:
    """GLOBAL or ENTITY when the filter's type says so plainly; the shape is [unknown]."""
    found: set[str] = set()
    candidates = [definition.get("filter"), definition.get("scope")]
    for value in candidates:
        text = value.get("type") if isinstance(value, Mapping) else value
        if isinstance(text, str):
            upper = text.upper()
            found |= {s for s in ("GLOBAL", "ENTITY") if s in upper}
    return found.pop() if len(found) == 1 else None


def parse_definition(payload: Any) -> Definition | None:
    """A workflow's definition, read defensively; None when the answer is not an object."""
    if not isinstance(payload, Mapping):
        return None
    return Definition(
        name=as_text(payload.get("name")),
        draft=_flag(payload.get("isDraft")),
        runnable_via_api=_flag(payload.get("isRunnableViaApi")),
        restricts_completion=_flag(payload.get("restrictActionCompletionToRunnerUser")),
        variables=_variable_slugs(payload.get("variables")) if "variables" in payload else None,
        scope=_filter_scope(payload),
    )
