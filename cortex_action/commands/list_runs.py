"""``list``: the runs that match the filters, read page by page, shown as a table, JSON or JSON
lines, with the outputs ``runs`` and ``count`` and a job summary.

The filters map to the query parameters of docs/cortex-api.md (docs/commands.md). ``status`` is
applied here: the API has no status filter, so pages are read until ``limit`` runs match or the
runs end.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cortex_action import dates
from cortex_action.commands.context import Context
from cortex_action.endings import Ending, Failure
from cortex_action.errors import ExitCode, InputError
from cortex_action.models import MISSING, ListPage, RunRow, parse_row
from cortex_action.render import terminal
from cortex_action.render.outputs import list_outputs
from cortex_action.render.summary import list_summary
from cortex_action.sanitize import log_text
from cortex_action.settings import MAX_LIMIT, ListSettings, OutputFormat

# Cortex keeps runs for 30 days [seen]; older ones are never listed.
WINDOW = dt.timedelta(days=30)
MAX_PAGE_SIZE = 100
# A server that ignores `page` would hand back page 0 forever; the duplicate check stops that,
# and this bounds any other surprise.
MAX_PAGES = 200
SORT = "dateCreated,desc"


@dataclass(frozen=True)
class Listing:
    """What ``list`` found; printed on stdout by the CLI in the chosen format."""

    runs: tuple[dict[str, Any], ...]
    format: OutputFormat

    def stdout(self, *, as_json: bool) -> str:
        fmt = OutputFormat.JSON if as_json else self.format
        if fmt is OutputFormat.JSON:
            return terminal.json_array(self.runs)
        if fmt is OutputFormat.JSONL:
            return terminal.json_lines(self.runs)
        return terminal.table(self.runs)


@dataclass(frozen=True)
class Window:
    after: dt.datetime | None
    before: dt.datetime | None


def window(settings: ListSettings, now: dt.datetime) -> Window:
    """Resolve relative dates against ``now``; an empty window is an input error (exit 2)."""
    after = settings.started_after.resolve(now) if settings.started_after else None
    before = settings.started_before.resolve(now) if settings.started_before else None
    if after and before:
        try:
            dates.check_window(after, before)
        except ValueError as exc:
            raise InputError([str(exc)]) from None
    return Window(after, before)


def query(settings: ListSettings, ids: Sequence[str], when: Window) -> dict[str, Any]:
    """The filters as query parameters. Workflows are sent as given (tags or ids): Cortex's own
    page puts a tag in ``workflowIds`` [doc]; several repeat the parameter (see docs)."""
    params: dict[str, Any] = {}
    if ids:
        params["workflowIds"] = list(ids)  # httpx sends a list as the parameter repeated
    if settings.search:
        params["searchQuery"] = settings.search
    if settings.entity:
        params["entityId"] = settings.entity
    if settings.initiated_by:
        params["initiatedBy"] = settings.initiated_by
    if when.after:
        params["startedAfter"] = dates.iso_utc(when.after)
    if when.before:
        params["startedBefore"] = dates.iso_utc(when.before)
    # The run's context carries its initiator and entity, shown in the table [seen].
    params["includeContext"] = "true"
    params["sort"] = SORT
    return params


def is_last(page: ListPage, number: int, size: int) -> bool:
    """The envelope's own signals win; "fewer than size" only counts when it gives none, since a
    server may cap ``size`` below what was asked."""
    if not page.runs or page.last is True:
        return True
    if page.total_pages is not None:
        return number + 1 >= page.total_pages
    if page.last is None and page.total is not None:
        return (number + 1) * size >= page.total
    return page.last is None and len(page.runs) < size


def identity(run: dict[str, Any], row: RunRow) -> str:
    """What makes a run the same run on two pages: its id, or all of it if it has none."""
    if row.id != MISSING:
        return row.id
    return json.dumps(run, sort_keys=True, default=str)


def filters_shown(settings: ListSettings, when: Window) -> list[tuple[str, str]]:
    shown: list[tuple[str, str]] = []
    for name, value in (
        ("workflow", ", ".join(settings.workflows)),
        ("search", settings.search or ""),
        ("entity", settings.entity or ""),
        ("initiated by", settings.initiated_by or ""),
        ("started after", dates.iso_utc(when.after) if when.after else ""),
        ("started before", dates.iso_utc(when.before) if when.before else ""),
        ("status", ", ".join(settings.status)),
    ):
        if value:
            shown.append((name, value))
    shown.append(("limit", str(settings.limit)))
    return shown


def list_runs(ctx: Context[ListSettings]) -> Ending:
    settings = ctx.settings
    deadline = ctx.clock() + settings.timeout
    now = ctx.now().astimezone(dt.UTC).replace(microsecond=0)
    when = window(settings, now)
    shown = filters_shown(settings, when)
    ctx.host.info(
        f"Listing Cortex workflow runs at {settings.base_url}: "
        + ", ".join(f"{name} {log_text(value, 200)}" for name, value in shown)
    )
    if when.after and when.after < now - WINDOW:
        ctx.host.warning(
            f"started-after is {dates.iso_utc(when.after)}, but Cortex returns only the runs of "
            "the last 30 days: older runs won't be listed.",
            title="Older than 30 days",
        )
    params = query(settings, settings.workflows, when)
    wanted = set(settings.status)
    size = MAX_PAGE_SIZE if wanted else min(settings.limit, MAX_PAGE_SIZE)

    matched: list[dict[str, Any]] = []
    seen: set[str] = set()
    number = 0
    more = False
    while True:
        page = ctx.client.list_runs({**params, "page": number, "size": size}, deadline=deadline)
        rows = [(r, parse_row(r)) for r in page.runs]
        fresh = [(r, row) for r, row in rows if identity(r, row) not in seen]
        seen.update(identity(r, row) for r, row in fresh)
        matched += [r for r, row in fresh if not wanted or row.status in wanted]
        last = is_last(page, number, size) or not fresh
        if len(matched) >= settings.limit:
            more = len(matched) > settings.limit or not last
            break
        if last:
            break
        number += 1
        if number >= MAX_PAGES:
            more = True
            ctx.host.warning(
                f"Stopped after reading {MAX_PAGES} pages; narrow the filters to see the rest.",
                title="Too many pages",
            )
            break
    runs = tuple(matched[: settings.limit])

    note = (
        f"Showing the first {len(runs)}; more runs match: raise `limit` (at most {MAX_LIMIT}) "
        "or narrow the filters."
        if more
        else None
    )
    if not runs and settings.workflows:
        # Sent as given, with no lookup: Cortex does not say whether it knows the workflow.
        note = (
            "No runs of "
            + ", ".join(log_text(w, 200) for w in settings.workflows)
            + " in the last 30 days matched: check the workflow's tag or id if you expected some."
        )
    outputs, slimmed = list_outputs(runs)
    warnings: tuple[Failure, ...] = ()
    if slimmed:
        warnings = (
            Failure(
                "Output shortened",
                "The runs are too large for a step output: `runs` holds only their columns "
                "(id, status, workflow, entity, started, initiator).",
            ),
        )
    found = (
        f"{len(runs)} run{'' if len(runs) == 1 else 's'} found ({number + 1} "
        f"page{'' if number == 0 else 's'} read). Runs in Cortex: {ctx.runs_url}"
    )
    return Ending(
        ExitCode.OK,
        outputs=outputs,
        summary=list_summary(runs, filters=shown, runs_url=ctx.runs_url, note=note),
        printout=Listing(runs=runs, format=settings.format),
        closing=found + (f"\n{note}" if note else ""),
        warnings=warnings,
    )
