"""Fan-out: one run per entity, at most ``max-parallel`` of them at once, served by one loop.

Pure: no I/O and no clock of its own. The command asks ``next_step(now)`` what to do next
(trigger the next entity, poll one run, sleep until a time, or stop), does it, and reports what
Cortex answered. One loop serves every run, so requests never come faster than one per
``1/rate`` seconds on average (600 a minute at most, in bursts of at most 5; Cortex allows 1000),
whatever the number of runs.

Polls follow the single run's schedule until a run of this fan-out has completed; then the others
are looked at when they should end (as learnt from those that did), so a freed slot is taken
again within a fraction of a second while a run costs few requests: its trigger, and a poll or
two.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cortex_action import dates
from cortex_action.models import Outcome, Run
from cortex_action.report import Report
from cortex_action.settings import OnPaused
from cortex_action.waiting import PollSchedule


class State(enum.Enum):
    PENDING = "pending"  # not triggered yet
    ACTIVE = "active"  # NOT_INITIATED, IN_PROGRESS or a status we don't know: holds a slot
    PAUSED = "paused"  # waits for a person (on-paused wait): followed, holds no slot
    ENDED = "ended"  # a terminal status, or a pause that on-paused decides
    SKIPPED = "skipped"  # never triggered: fail-fast, or Cortex refused the workflow itself
    NOT_TRIGGERED = "not_triggered"  # never triggered: timeout or a signal came first
    REFUSED = "refused"  # Cortex refused its trigger (a 4xx)
    UNREACHABLE = "unreachable"  # no usable answer within the retry budget (trigger or poll)
    GAVE_UP = "gave_up"  # `timeout` ran out while it was still going


# What an entity's end means, worst first (README, "Exit codes"): the fan-out exits with the code
# of its worst entity. Refused or unreachable (3), failed (1), gave up waiting (4), paused by
# policy (on-paused fail: 1; succeed: 0), skipped (0: only ever caused by a worse one), completed.
class Verdict(enum.IntEnum):
    COMPLETED = 0
    SKIPPED = 1
    PAUSED_BY_POLICY = 2
    GAVE_UP = 3
    FAILED = 4
    REFUSED = 5


EXIT_CODES: dict[Verdict, int] = {
    Verdict.COMPLETED: 0,
    Verdict.SKIPPED: 0,
    Verdict.PAUSED_BY_POLICY: 0,  # on-paused succeed; fail makes it 1 (exit_code_of)
    Verdict.GAVE_UP: 4,
    Verdict.FAILED: 1,
    Verdict.REFUSED: 3,
}

# The status of an entity that has no run to speak for it.
NO_RUN_STATUS: dict[State, str] = {
    State.PENDING: "NOT_TRIGGERED",
    State.NOT_TRIGGERED: "NOT_TRIGGERED",
    State.SKIPPED: "SKIPPED",
    State.REFUSED: "REFUSED",
    State.UNREACHABLE: "UNCONFIRMED",
    State.GAVE_UP: "NOT_TRIGGERED",
}


@dataclass
class Slot:
    """One entity of the fan-out and what is known of its run."""

    index: int
    entity: str
    key: str = ""
    key_source: str = ""
    body: Mapping[str, Any] = field(default_factory=dict)
    state: State = State.PENDING
    run: Run | None = None
    replayed: bool | None = None
    message: str = ""
    paused_by_policy: bool = False
    triggered_at: float | None = None
    ended_at: float | None = None
    next_poll: float = 0.0
    last_poll: float | None = None
    status_since: float = 0.0
    interval: float = 0.0  # the usual schedule's next interval (0: start again)
    quick: float = 0.0  # past its expected end: the next quick look's interval (0: start)
    listed: bool = True  # its run is looked for in one listing of the workflow's runs
    read_at: float | None = None  # when its run was last read on its own (or triggered)

    @property
    def followed(self) -> bool:
        return self.state in (State.ACTIVE, State.PAUSED)

    @property
    def status(self) -> str:
        if self.run is not None:
            return self.run.status
        return NO_RUN_STATUS.get(self.state, "NOT_TRIGGERED")

    @property
    def verdict(self) -> Verdict:
        return verdict_of(self)


def verdict_of(slot: Slot) -> Verdict:
    if slot.state in (State.REFUSED, State.UNREACHABLE):
        return Verdict.REFUSED
    if slot.state is State.SKIPPED:
        return Verdict.SKIPPED
    if slot.state is State.ENDED and slot.paused_by_policy:
        return Verdict.PAUSED_BY_POLICY
    if slot.state is State.ENDED and slot.run is not None:
        return Verdict.COMPLETED if slot.run.outcome is Outcome.SUCCESS else Verdict.FAILED
    # Still going, never triggered, or given up on: the run did not end while we watched.
    return Verdict.GAVE_UP


def exit_code_of(slot: Slot, on_paused: OnPaused) -> int:
    verdict = verdict_of(slot)
    if verdict is Verdict.PAUSED_BY_POLICY and on_paused is OnPaused.FAIL:
        return 1
    return EXIT_CODES[verdict]


def worst(slots: Sequence[Slot]) -> Slot | None:
    """The entity whose end decides the exit code: the worst verdict, the first one given."""
    bad = [s for s in slots if verdict_of(s) is not Verdict.COMPLETED]
    return max(bad, key=lambda s: (verdict_of(s), -s.index)) if bad else None


def cortex_seconds(raw: Mapping[str, Any]) -> float | None:
    """How long Cortex says the run took (created to completed), where it gives both times."""
    start = _instant(raw, "dateCreated", "createdAt", "dateStarted", "startedAt")
    end = _instant(raw, "dateCompleted", "completedAt", "endedAt")
    return (end - start) if start is not None and end is not None and end >= start else None


def _instant(raw: Mapping[str, Any], *names: str) -> float | None:
    for name in names:
        value = raw.get(name)
        if isinstance(value, str):
            try:
                return dates.parse_instant(value).timestamp()
            except ValueError:
                continue
    return None


@dataclass(frozen=True)
class Trigger:
    slot: Slot


@dataclass(frozen=True)
class Poll:
    slot: Slot


@dataclass(frozen=True)
class Sweep:
    """Look at every run followed with one listing of the workflow's runs (``slot`` is due)."""

    slot: Slot


@dataclass(frozen=True)
class Sleep:
    until: float


@dataclass(frozen=True)
class Done:
    """Nothing is left to do (or the deadline came: ``expire`` says what that leaves)."""


Step = Trigger | Poll | Sweep | Sleep | Done


@dataclass(frozen=True)
class Seen:
    """What one answer changed, for the log."""

    previous: str | None  # the status before, when it changed
    changed: bool
    held: bool = False  # NOT_INITIATED for long: Cortex holds it for a slot (said once)


@dataclass
class FanOut:
    """The scheduler: which entity to trigger next, which run to poll next, and when."""

    slots: list[Slot]
    max_parallel: int
    fail_fast: bool
    on_paused: OnPaused
    deadline: float
    schedule: PollSchedule = field(default_factory=PollSchedule)
    rate: float = 10.0  # requests a second, sustained: at most 600 a minute
    burst: float = 5.0  # back to back at most (a poll that frees a slot, then the trigger)
    tokens: float = 5.0
    refilled: float | None = None
    fast: float = 0.2  # the first quick look after a run should have ended; then doubled
    max_busy_delay: float = 30.0
    # A run frees its slot once PAUSED this long: a person's approval takes minutes, while an
    # async block's pause, or a run flapping PAUSED/IN_PROGRESS, would otherwise let a new run
    # start at each pause and put several times `max-parallel` runs of ours in flight.
    pause_grace: float = 30.0
    busy_until: float = -math.inf
    busy_count: int = 0
    said_busy: bool = False
    said_held: bool = False
    said_stop: bool = False
    looked_up: bool = False  # the workflow's history was asked for (once)
    # One listing of the workflow's runs looks at every run followed for the price of one
    # request; off for good once a listing fails or finds none of them (each run is then read
    # on its own, as before).
    listing: bool = True
    misses: int = 0  # listings in a row that found none of the runs followed
    denser: float = 0.2  # with listings, the usual schedule looks when the age grew this much
    # A listing may be stale (a cache, a lagging replica) and show a run going long after it
    # ended: a run is read on its own when its last read is this old, or half its age if more
    # (so a run costs a few reads, and a stale listing delays its end by half its age at most).
    reread: float = 60.0
    stopped: str | None = None  # why no new run is triggered, once that is so
    samples: list[tuple[float, float]] = field(default_factory=list)
    prior: bool = False  # samples[0] came from the workflow's history, not from this fan-out

    # -- what to do next -----------------------------------------------------------------------

    @property
    def active(self) -> int:
        return sum(1 for s in self.slots if s.state is State.ACTIVE)

    def holding(self, now: float) -> list[Slot]:
        """The runs that count against ``max_parallel``: going, or paused only just now."""
        return [
            s
            for s in self.slots
            if s.state is State.ACTIVE
            or (s.state is State.PAUSED and now - s.status_since < self.pause_grace)
        ]

    def pending(self) -> list[Slot]:
        return [s for s in self.slots if s.state is State.PENDING]

    def followed(self) -> list[Slot]:
        return [s for s in self.slots if s.followed]

    def next_step(self, now: float) -> Step:
        followed = self.followed()
        pending = self.pending() if self.stopped is None else []
        if (not followed and not pending) or now >= self.deadline:
            return Done()
        self._refill(now)
        if self.tokens < 1 - 1e-9:  # rounding must not turn into a sleep of no time at all
            wait = max(1e-3, (1 - self.tokens) / self.rate)
            return Sleep(min(now + wait, self.deadline))
        holding = self.holding(now)
        can_trigger = bool(pending) and len(holding) < self.max_parallel
        if can_trigger and now >= self.busy_until:
            return Trigger(pending[0])
        due = min(followed, key=lambda s: (s.next_poll, s.index)) if followed else None
        if due is not None and due.next_poll <= now:
            return Sweep(due) if self._sweeps(followed, due, now) else Poll(due)
        times = [s.next_poll for s in followed] + ([self.busy_until] if can_trigger else [])
        if pending and not can_trigger:  # a slot frees when a pause has lasted long enough
            times += [s.status_since + self.pause_grace for s in holding if s.state is State.PAUSED]
        return Sleep(min(*times, self.deadline))

    def _sweeps(self, followed: list[Slot], due: Slot, now: float) -> bool:
        """A listing instead of one read: worth it once two runs or more can be found in it,
        unless the run due has not been read on its own for long (``reread``)."""
        if not (self.listing and due.listed and sum(1 for s in followed if s.listed) >= 2):
            return False
        if due.read_at is None or due.triggered_at is None:
            return True
        return now - due.read_at < max(self.reread, 0.5 * (now - due.triggered_at))

    def unlisted(self, slot: Slot) -> None:
        """Its run was not in a listing (too old for the page, or Cortex lists it otherwise):
        it is read on its own from now on."""
        slot.listed = False

    def stop_listing(self) -> None:
        self.listing = False

    def bounds(self) -> tuple[float, float] | None:
        """How long a run of this fan-out takes, from below and from above: the medians of the
        five most precise of those seen (Cortex's own times are exact; else between the last
        poll before the end and the one that saw it)."""
        if not self.samples:
            return None
        best = sorted(self.samples, key=lambda s: s[1] - s[0])[:5]
        return statistics.median(s[0] for s in best), statistics.median(s[1] for s in best)

    # -- what happened -------------------------------------------------------------------------

    def expect(self, usual: float, long: float) -> None:
        """What the workflow's history says before any run of this fan-out has ended: most runs
        take ``usual`` seconds, nine in ten at most ``long``. Runs seen to end replace it."""
        if not self.samples and 0 <= usual <= long:
            self.samples.append((usual, long))
            self.prior = True

    def sent(self, now: float) -> None:
        """A request was answered (or given up on) at ``now``."""
        self._refill(now)
        self.tokens -= 1

    def _refill(self, now: float) -> None:
        if self.refilled is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now

    def triggered(self, slot: Slot, run: Run, replayed: bool, now: float) -> Seen:
        slot.triggered_at = slot.read_at = now
        slot.replayed = replayed
        self.busy_count = 0
        seen = self._observe(slot, run, now)
        if replayed and slot.followed:
            # A replay is the run as it was when first triggered: look at it now.
            slot.next_poll = now
        return seen

    def polled(self, slot: Slot, run: Run, now: float, *, read: bool = True) -> Seen:
        """The run as a read (or, ``read`` False, a listing's row) showed it."""
        if read:
            slot.read_at = now
        return self._observe(slot, run, now)

    def later(self, slot: Slot, now: float) -> None:
        """A poll got no usable answer yet (lag, or a passing failure): look again on the usual
        schedule; the run keeps its slot."""
        slot.last_poll = now
        slot.next_poll = now + self._usual(slot, now, cap=self.schedule.cap)

    def busy(self, now: float, retry_after: float | None) -> bool:
        """Cortex answered a trigger busy: back off. True the first time (say it once)."""
        self.busy_count += 1
        delay = retry_after if retry_after is not None else 2.0**self.busy_count
        self.busy_until = now + max(1.0, min(self.max_busy_delay, delay))
        first = not self.said_busy
        self.said_busy = True
        return first

    def refused(self, slot: Slot, message: str, now: float, *, stop_all: bool) -> None:
        """Cortex refused this entity's trigger; ``stop_all`` when it would refuse every one
        (the token or the workflow, not the entity)."""
        slot.state, slot.message, slot.ended_at = State.REFUSED, message, now
        if stop_all:
            self.stop(f"Cortex refused the trigger of {slot.entity}; it would refuse every one")
        elif self.fail_fast:
            self.stop(f"fail-fast: Cortex refused the trigger of {slot.entity}")

    def unreachable(self, slot: Slot, message: str, now: float) -> None:
        """No usable answer within the retry budget. After a trigger, Cortex may have started the
        run; the next triggers would most likely fare the same, so none is sent."""
        slot.state, slot.message, slot.ended_at = State.UNREACHABLE, message, now
        if slot.run is None:
            self.stop(f"Cortex gave no usable answer to the trigger of {slot.entity}")

    def gave_up(self, slot: Slot, message: str, now: float) -> None:
        slot.state, slot.message, slot.ended_at = State.GAVE_UP, message, now

    def expire(self, now: float) -> None:
        """The deadline came: runs still going are given up on, entities left never started."""
        for slot in self.slots:
            if slot.followed:
                slot.state, slot.ended_at = State.GAVE_UP, now
                slot.message = f"Gave up waiting: still {slot.status} when `timeout` ran out."
            elif slot.state is State.PENDING:
                slot.state = State.NOT_TRIGGERED
                slot.message = "Not triggered: `timeout` ran out first."

    def interrupted(self, reason: str) -> None:
        """An error or a signal stopped the fan-out: the entities left were never triggered."""
        for slot in self.slots:
            if slot.state is State.PENDING:
                slot.state = State.NOT_TRIGGERED
                slot.message = f"Not triggered: stopped first ({reason})."

    def stop(self, reason: str) -> None:
        """Trigger nothing more; the entities left are skipped. Runs in flight are followed."""
        if self.stopped is None:
            self.stopped = reason
        for slot in self.pending():
            slot.state, slot.message = State.SKIPPED, f"Skipped: {reason}."

    # -- one answer ----------------------------------------------------------------------------

    def _observe(self, slot: Slot, run: Run, now: float) -> Seen:
        previous = slot.run.status if slot.run is not None else None
        changed = previous != run.status
        slot.run = run
        if changed:
            slot.status_since = now
            slot.interval = slot.quick = 0.0
        outcome = run.outcome
        if outcome in (Outcome.SUCCESS, Outcome.FAILURE):
            self._ended(slot, now)
            if outcome is Outcome.SUCCESS:
                self._learn(slot, run, now)
            elif self.fail_fast:
                self.stop(f"fail-fast: the run of {slot.entity} ended {run.status}")
        elif outcome is Outcome.PAUSED and self.on_paused is not OnPaused.WAIT:
            self._ended(slot, now)
            slot.paused_by_policy = True
            if self.on_paused is OnPaused.FAIL and self.fail_fast:
                self.stop(f"fail-fast: the run of {slot.entity} is PAUSED")
        else:
            slot.state = State.PAUSED if outcome is Outcome.PAUSED else State.ACTIVE
            self._plan(slot, now)
        slot.last_poll = now
        held = (
            not self.said_held
            and run.status == "NOT_INITIATED"
            and now - slot.status_since >= self.schedule.queued_after
        )
        self.said_held = self.said_held or held
        return Seen(previous if changed else None, changed, held)

    def _ended(self, slot: Slot, now: float) -> None:
        slot.state, slot.ended_at = State.ENDED, now

    def _learn(self, slot: Slot, run: Run, now: float) -> None:
        if self.prior:  # a run of this fan-out has ended: it speaks for the others now
            self.samples, self.prior = [], False
        seconds = cortex_seconds(run.raw)
        if seconds is not None:
            self.samples.append((seconds, seconds))
        elif slot.triggered_at is not None and slot.last_poll is not None and not slot.replayed:
            # (Not from a run that had ended when its trigger answered, nor from a replay: it
            # started before this step, so our clock can't tell how long it took.)
            lo, hi = slot.last_poll - slot.triggered_at, now - slot.triggered_at
            known = self.bounds()
            if known is not None and known[0] <= hi:
                # Runs of one workflow take about as long: what the others taught still holds,
                # so each wave narrows the doubt instead of starting again from zero.
                lo = max(lo, known[0])
            self.samples.append((lo, hi))

    def _plan(self, slot: Slot, now: float) -> None:
        """When to look at ``slot`` again.

        Until a run of this fan-out has completed: the single run's schedule (1 s, then 1.5
        times longer each time, at most 15 s; again from 1 s at each change). Then, knowing
        how long a run takes (between ``lo`` and ``hi``): at ``(lo + hi) / 2``, then just after
        ``hi`` (so each wave halves the doubt), with a look every quarter of ``hi`` (at least
        15 s) before, for an early failure or pause; past ``hi``, quick looks 0.2, 0.4, 0.8 ...
        s apart (at most 15 s)."""
        bounds = self.bounds()
        since = slot.triggered_at
        if slot.state is State.ACTIVE and bounds is not None and since is not None:
            lo, hi = bounds
            late = since + hi + 0.05 + 0.01 * hi
            # Known to the margin (Cortex's own times): a look before the end would only split
            # a wave whose runs end a few hundredths of a second apart.
            middle = late if hi - lo <= 0.05 + 0.01 * hi else since + (lo + hi) / 2
            # A look this close before a planned one (another run's listing saw this run too)
            # stands for it: runs triggered together are then looked at together.
            close = min(1.0, 0.05 * hi) + 1e-6
            if now < middle - close:
                slot.next_poll = min(middle, now + max(self.schedule.cap, hi / 4))
            elif now < late - close:
                slot.next_poll = late
            else:
                step = slot.quick or self.fast
                slot.quick = min(self.schedule.cap, step * 2)
                slot.next_poll = now + step
            return
        slot.next_poll = now + self._usual(slot, now, cap=self.schedule.cap)

    def _usual(self, slot: Slot, now: float, *, cap: float) -> float:
        if self.listing and slot.listed:
            # Listings look at all the runs for one request, so looks can come denser: each
            # when the status's age has grown by a fifth (a run is seen at most a fifth of its
            # age late), and on the age, not the number of looks, as other runs' listings see
            # this one too.
            return min(cap, max(self.schedule.first, self.denser * (now - slot.status_since)))
        step = min(cap, slot.interval or self.schedule.first)
        slot.interval = min(cap, step * self.schedule.factor)
        return step


# -- what is published ------------------------------------------------------------------------


@dataclass(frozen=True)
class EntityReport:
    """One entity's part of the published result: its run's report, and what the fan-out adds."""

    report: Report  # entity, run, key, duration, exit code and what happened (headline)
    status: str  # the run's status, or NOT_TRIGGERED, SKIPPED, REFUSED, UNCONFIRMED
    verdict: Verdict
    replayed: bool | None  # None: not triggered, or the answer never came
    span: tuple[dt.datetime, dt.datetime] | None = None  # for the chart, where times exist


@dataclass(frozen=True)
class FanOutReport:
    """The whole fan-out, for the outputs, the summary and the result files."""

    workflow: str
    exit_code: int
    status: str  # COMPLETED when every run completed, else the worst entity's status
    headline: str
    runs_url: str
    job_url: str | None
    started_at: str
    duration: float
    max_parallel: int
    fail_fast: bool
    entities: tuple[EntityReport, ...]
    notes: tuple[str, ...] = ()

    def count(self, *verdicts: Verdict) -> int:
        return sum(1 for e in self.entities if e.verdict in verdicts)
