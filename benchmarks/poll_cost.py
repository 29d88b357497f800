"""How many requests the waiting loop makes, and how late it notices the end, per run length.

Runs the real waiting function against a simulated run on a simulated clock (no network, no
sleeping), over many random jitters, and prints a table. Rerun (the package must be
importable, as in the project's venv): ``make venv && .venv/bin/python benchmarks/poll_cost.py``.
"""

from __future__ import annotations

import random
import statistics
import sys

from cortex_action.models import Run
from cortex_action.retry import equal_jitter
from cortex_action.settings import OnPaused
from cortex_action.waiting import wait_for_run

DURATIONS = [2, 5, 10, 30, 60, 300, 1800, 3600]
TRIALS = 200


def simulate(duration: float, seed: int) -> tuple[int, float]:
    """One run that ends after ``duration`` seconds: (polls made, seconds between end and seen)."""
    random.seed(seed)
    now = [0.0]
    polls = [0]

    def fetch() -> Run:
        polls[0] += 1
        status = "COMPLETED" if now[0] >= duration else "IN_PROGRESS"
        return Run(id="r", status=status, raw={})

    def sleep(seconds: float) -> None:
        now[0] += seconds

    wait_for_run(
        Run(id="r", status="NOT_INITIATED", raw={}),
        fetch,
        clock=lambda: now[0],
        sleep=sleep,
        deadline=duration + 3600,
        on_paused=OnPaused.WAIT,
        events=lambda event: None,
        jitter=equal_jitter,
    )
    return polls[0], now[0] - duration


def main() -> int:
    rows = []
    for duration in DURATIONS:
        results = [simulate(duration, seed) for seed in range(TRIALS)]
        polls = [p for p, _ in results]
        lag = [lag for _, lag in results]
        rows.append(
            (
                f"{duration}s",
                f"{statistics.median(polls):.0f}",
                f"{max(polls)}",
                f"{statistics.median(lag):.1f}s",
                f"{max(lag):.1f}s",
            )
        )
    header = ("run length", "polls (median)", "polls (max)", "lag (median)", "lag (max)")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    sys.stdout.write(line + "\n" + "-+-".join("-" * w for w in widths) + "\n")
    for row in rows:
        sys.stdout.write(" | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + "\n")
    sys.stdout.write(
        f"\n{TRIALS} trials per row; lag = time from the run's end to its detection.\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
