"""When to look at a run next, from how long the workflow's runs usually take: pure, no I/O.

The waiting loop asks a cadence for the next interval after each look, with what it saw: the time
since it started waiting, the run's status, the running block, and whether one of them changed.
``Forecast`` answers from a ``History``: sparse while the run is far from its expected end, dense
near it and near the expected end of the running block, then a bounded backoff once the run
overruns its history. Where there is no history the loop keeps its own schedule
(``waiting.PollSchedule``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cortex_action.history import History
from cortex_action.models import Outcome, Run, classify

# Never look more often than this: Cortex's rate limit is shared by the whole tenant.
FLOOR = 1.0
# Near the expected end and past it: the cap of the schedule without history.
CAP = 15.0
# Far from the expected end (more than CAP / GROWTH = 75 s before its band): a run that ends
# early there (a block fails) is still seen within a minute, a small part of a run that long (it
# is at least ~2 minutes from its usual end), and a long wait costs one GET a minute instead of
# four. Longer would save little (the band near the end costs most) and hide early failures.
FAR_CAP = 60.0
# Inside the band where the run is expected to end: a look every 1.2 s sees the end 0.6 s late
# on average, below a 2 s poll's 1 s (benchmarks/poll_history.py tunes these four figures).
DENSE = 1.2
# Outside that band the interval grows by this part of the distance to it: the closer to where
# the end is likely, the more often we look, and the lag stays a small part of the surprise.
GROWTH = 0.2
# The band around the expected end: from this quantile of past durations to that one, widened
# by a margin for a sample of a few runs.
BAND = (0.2, 0.8)
MARGIN = 0.01  # of the median, each side
MIN_MARGIN = 0.5  # seconds
RUNNING_BLOCK_STATUSES = frozenset({"IN_PROGRESS", "RUNNING", "STARTED", "ACTIVE", "PENDING"})


@dataclass(frozen=True)
class PollState:
    """What the loop saw at its last look, handed to the cadence."""

    elapsed: float  # seconds since the wait began
    status: str
    block: tuple[int, str] | None  # the running block's position and name, if the run says
    changed: bool  # the status or the running block differs from the look before


def running_block(run: Run) -> tuple[int, str] | None:
    """The first block that is running, by position and name; None if none says so."""
    for index, block in enumerate(run.blocks):
        status = (block.status or "").upper()
        if status in RUNNING_BLOCK_STATUSES:
            return index, block.name
    return None


@dataclass(frozen=True)
class Band:
    """Where an end is expected, in seconds since the wait began."""

    low: float
    high: float

    def interval(self, elapsed: float) -> float:
        """Dense inside, growing with the distance outside."""
        if elapsed < self.low:
            return max(DENSE, GROWTH * (self.low - elapsed))
        if elapsed <= self.high:
            return DENSE
        return max(DENSE, GROWTH * (elapsed - self.high))


def run_band(history: History, start: float) -> Band:
    """The band of the run's end, for a run that began (or would have) at ``start``."""
    values = history.durations
    margin = max(MIN_MARGIN, MARGIN * history.median)
    return Band(start + values.q(BAND[0]) - margin, start + values.q(BAND[1]) + margin)


@dataclass
class Forecast:
    """A cadence from a history; ``offset`` is how old the run was when the wait began."""

    history: History
    offset: float = 0.0
    paused_for: float = 0.0  # seconds the run spent PAUSED: its clock stood still
    _band: Band = field(init=False)
    _block_band: Band | None = field(init=False, default=None)
    _paused_since: float | None = field(init=False, default=None)
    _last: float = field(init=False, default=FLOOR)

    def __post_init__(self) -> None:
        self._band = run_band(self.history, -self.offset)

    @property
    def expected_end(self) -> float:
        """When the run is expected to end, in seconds since the wait began."""
        low, high = self._band.low, self._band.high
        return (low + high) / 2

    def __call__(self, state: PollState) -> float:
        if state.changed:
            self._recompute(state)
        if self._paused_since is not None:
            # Waiting for a person: no history says when; back off to the cap.
            paused = state.elapsed - self._paused_since
            self._last = min(CAP, max(FLOOR, 1.0 + 2 * GROWTH * paused))
            return self._last
        t = state.elapsed
        interval = self._band.interval(t)
        if self._block_band is not None:
            interval = min(interval, self._block_band.interval(t))
        cap = FAR_CAP if t < self._band.low - CAP / GROWTH else CAP
        self._last = min(cap, max(FLOOR, interval))
        return self._last

    def _recompute(self, state: PollState) -> None:
        """A new status or block: replan from what the run shows now."""
        t = state.elapsed
        if classify(state.status) is Outcome.PAUSED:
            if self._paused_since is None:
                self._paused_since = t
            return
        if self._paused_since is not None:
            # Resumed: everything expected moves by the time it stood still.
            stood = t - self._paused_since
            self._paused_since = None
            self.paused_for += stood
            self._band = Band(self._band.low + stood, self._band.high + stood)
        if state.block is None:
            self._block_band = None
            return
        index = state.block[0]
        block = self.history.block_median(index)
        rest = self.history.block_after(index)
        if block is None or rest is None:
            self._block_band = None
            return
        # The block began at most one interval before we saw it: start its bands that early.
        seen_late = self._last
        margin = max(MIN_MARGIN, 0.1 * block)
        self._block_band = Band(t - seen_late + block - margin, t + block + margin)
        # The run's end: the rest of the blocks' usual time from now, with the run's spread.
        band = run_band(self.history, t - (self.history.median - rest))
        self._band = Band(band.low - seen_late, band.high)
