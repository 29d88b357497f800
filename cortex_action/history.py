"""How long a workflow's runs usually take, from a page of its recent runs: pure, no I/O.

Cortex documents no timestamps on a run [unknown]; the emulator serves ``dateCreated``,
``dateStarted``, ``dateCompleted`` and ``dateUpdated`` on runs and ``startedAt``/``completedAt``
on blocks. Every plausible name is read, as ISO 8601 text or epoch seconds or milliseconds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cortex_action import identity
from cortex_action.models import first_instant as models_first_instant
from cortex_action.models import instant

# When a run began, best first: our wait starts at the trigger, so a duration runs from the
# run's creation (its time in the queue included), else from its start.
START_NAMES = ("dateCreated", "createdAt", "created", "dateStarted", "startedAt", "startTime")
END_NAMES = (
    "dateCompleted",
    "completedAt",
    "finishedAt",
    "endedAt",
    "dateEnded",
    "dateFinished",
    "endTime",
    # Last resort: an ended run's last update is its end.
    "dateUpdated",
    "updatedAt",
)
BLOCK_START_NAMES = ("startedAt", "dateStarted", "createdAt", "dateCreated", "startTime")
BLOCK_END_NAMES = (
    "completedAt",
    "dateCompleted",
    "finishedAt",
    "endedAt",
    "endTime",
    "updatedAt",
    "dateUpdated",
)
# Runs whose duration says how long this workflow takes: cancelled and timed-out runs don't.
ENDED_STATUSES = frozenset({"COMPLETED", "FAILED"})
# Cortex keeps 30 days of runs; anything older (a foreign or lying answer) is left out.
WINDOW = dt.timedelta(days=30)
# Fewer runs than this say too little to plan on.
MIN_RUNS = 3
# Longer than this is not a duration we believe (a garbled timestamp).
MAX_DURATION = 31 * 86400.0
# How far ahead of our clock a server's may be before its times are garbage.
SKEW = dt.timedelta(hours=1)
# How far a block's times may stray outside its run's (clocks, rounding to the second).
BLOCK_SLACK = dt.timedelta(seconds=2)
# A server that ignores ``size`` can't make us model thousands of runs: the first ones count.
MAX_RUNS = 100


def read_instant(value: Any) -> dt.datetime | None:
    """An instant as the history reads it: ``models.instant`` without guessing a zone (a run's
    age is compared with our own clock)."""
    return instant(value, naive_utc=False)


def first_instant(raw: Mapping[str, Any], names: Iterable[str]) -> dt.datetime | None:
    """The first readable instant under one of ``names``, also inside a ``state`` object."""
    return models_first_instant(raw, names, naive_utc=False)


def run_duration(raw: Mapping[str, Any]) -> float | None:
    """Seconds from the run's creation (or start) to its end, if its timestamps say."""
    start = first_instant(raw, START_NAMES)
    end = first_instant(raw, END_NAMES)
    if start is None or end is None:
        return None
    seconds = (end - start).total_seconds()
    return seconds if 0 <= seconds <= MAX_DURATION else None


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted ``values`` (linear between neighbours)."""
    if not values:
        raise ValueError("no values")
    position = q * (len(values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


@dataclass(frozen=True)
class Durations:
    """A sorted sample of durations, with the figures the schedule and the ETA read."""

    values: tuple[float, ...]

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return quantile(self.values, 0.5)

    def q(self, fraction: float) -> float:
        return quantile(self.values, fraction)


@dataclass(frozen=True)
class BlockTiming:
    """How long one block usually runs, by its position and name in the workflow."""

    index: int
    name: str
    median: float


@dataclass(frozen=True)
class History:
    """A workflow's recent durations: the whole runs, and per block where blocks carry times."""

    durations: Durations
    scope: str  # "entity X" or "workflow": whose runs these are
    blocks: tuple[BlockTiming, ...] = field(default_factory=tuple)

    @property
    def median(self) -> float:
        return self.durations.median

    @property
    def p90(self) -> float:
        return self.durations.q(0.9)

    def block_after(self, index: int) -> float | None:
        """The usual time from the start of block ``index`` to the run's end, if known."""
        rest = [b.median for b in self.blocks if b.index >= index]
        if not self.blocks or not rest or index >= len(self.blocks):
            return None
        return sum(rest)

    def block_median(self, index: int) -> float | None:
        for block in self.blocks:
            if block.index == index:
                return block.median
        return None

    def compare(self, seconds: float) -> str:
        """``faster``, ``typical`` or ``slower`` than the runs before it: outside the 10th to 90th
        percentile by more than a second or 5 % (a tight history makes no verdict of a tick)."""
        slack = max(1.0, 0.05 * self.median)
        if seconds < self.durations.q(0.1) - slack:
            return "faster"
        if seconds > self.p90 + slack:
            return "slower"
        return "typical"


@dataclass(frozen=True)
class Found:
    """What the list said: a model, or why there is none."""

    history: History | None
    reason: str  # for the note when there is no model; what was used when there is
    used: int = 0


def workflow_names(raw: Mapping[str, Any]) -> set[str]:
    """Every name the run gives its workflow (tag, cid, id), case-folded; empty when none."""
    return identity.workflow_names(raw).every()


def entity_names(raw: Mapping[str, Any]) -> set[str]:
    """Every name the run gives its entity (tag or id), case-folded, wherever Cortex puts it."""
    return identity.entity_names(raw).every()


def _block_timings(runs: Sequence[Mapping[str, Any]]) -> tuple[BlockTiming, ...]:
    """The median time of each block, where every counted run has the same blocks with times."""
    per_run: list[list[tuple[str, float]]] = []
    for raw in runs:
        actions = raw.get("actions")
        if not isinstance(actions, list) or not actions:
            return ()
        # A block runs within its run: times outside it (a block of 20 days in a run of a
        # minute) are garbled, and would move the expected end of every run after the block.
        run_start = first_instant(raw, START_NAMES)
        run_end = first_instant(raw, END_NAMES)
        if run_start is None or run_end is None:
            return ()
        earliest, latest = run_start - BLOCK_SLACK, run_end + BLOCK_SLACK
        row: list[tuple[str, float]] = []
        for index, item in enumerate(actions):
            if not isinstance(item, Mapping):
                return ()
            start = first_instant(item, BLOCK_START_NAMES)
            end = first_instant(item, BLOCK_END_NAMES)
            name = next(
                (str(item[k]) for k in ("slug", "name", "id") if isinstance(item.get(k), str)),
                f"block {index + 1}",
            )
            if start is None or end is None or not earliest <= start <= end <= latest:
                return ()
            row.append((name, (end - start).total_seconds()))
        per_run.append(row)
    if not per_run or len({tuple(n for n, _ in row) for row in per_run}) != 1:
        return ()  # runs with different blocks: the workflow changed; no per-block model
    names = [n for n, _ in per_run[0]]
    return tuple(
        BlockTiming(i, names[i], quantile(sorted(row[i][1] for row in per_run), 0.5))
        for i in range(len(names))
    )


def build(  # noqa: PLR0913 - keyword-only: what a run of this workflow looks like
    runs: Sequence[Mapping[str, Any]],
    *,
    workflow: Iterable[str],
    entity: str | None,
    exclude: str | None,
    now: dt.datetime,
    min_runs: int = MIN_RUNS,
) -> Found:
    """The model from a page of runs: this workflow's ended runs of the last 30 days, the
    entity's own where there are at least ``min_runs`` of them."""
    names = {w.strip().casefold() for w in workflow if w and w.strip()}
    horizon = now - WINDOW
    ended: list[tuple[Mapping[str, Any], float, set[str]]] = []
    for raw in runs[:MAX_RUNS]:
        status = raw.get("status")
        if not isinstance(status, str) or status.strip().upper() not in ENDED_STATUSES:
            continue
        if exclude and str(raw.get("id", "")).lower() == exclude.lower():
            continue
        given = workflow_names(raw)
        if given and names and not given & names:
            continue  # another workflow's run: a listing that ignored the filter
        start = first_instant(raw, START_NAMES)
        seconds = run_duration(raw)
        if seconds is None or start is None or start < horizon:
            continue
        if start + dt.timedelta(seconds=seconds) > now + SKEW:
            continue  # "ended" in the future: a garbled time, or not ended at all
        ended.append((raw, seconds, entity_names(raw)))
    if entity:
        own = [item for item in ended if entity.casefold() in item[2]]
        if len(own) >= min_runs:
            return _found(own, f"entity {entity}")
    if len(ended) < min_runs:
        what = "no ended runs" if not ended else f"only {len(ended)} ended run(s)"
        return Found(None, f"{what} with timestamps in the last 30 days")
    return _found(ended, "workflow")


def _found(items: list[tuple[Mapping[str, Any], float, set[str]]], scope: str) -> Found:
    durations = Durations(tuple(sorted(s for _, s, _ in items)))
    completed = [raw for raw, _, _ in items if str(raw.get("status", "")).upper() == "COMPLETED"]
    history = History(durations, scope, _block_timings(completed))
    return Found(history, scope, len(items))
