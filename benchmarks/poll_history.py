"""Polling with a workflow's history against a fixed 2 s poll (Cortex's CLI), per run length.

For each length D a workflow's last 12 runs took D seconds within +-10 %, and the run followed
takes D within +-10 % too (drawn like its history). The real waiting function follows it on a
simulated clock (no network, no sleeping), over many random draws, with:

- ``history``: this project's schedule from that history (``schedule.Forecast``), plus the one
  list request that reads the history, counted as a GET;
- ``no history``: this project's schedule when the list gives nothing (``waiting.PollSchedule``),
  plus the list request that found nothing;
- ``2 s poll``: a fixed 2 s interval, started at a random phase against the run's start.

It prints detection lag (the time from the run's end to its detection: median and max) and GETs
per run-minute, side by side with the ratios, then the goal figures, and the cost of building
the model from a page of 25 runs. Rerun: ``.venv/bin/python benchmarks/poll_history.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import sys
import time
from typing import Any

from cortex_action import history as hist
from cortex_action.models import Run
from cortex_action.retry import equal_jitter
from cortex_action.schedule import Forecast, PollState
from cortex_action.settings import OnPaused
from cortex_action.waiting import Cadence, wait_for_run

DURATIONS = [3, 5, 8, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600, 1200, 1800, 3600]
TRIALS = 200
SPREAD = 0.1
PAST_RUNS = 12
NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def past_runs(duration: float, rng: random.Random, count: int = PAST_RUNS) -> list[dict[str, Any]]:
    """A page of ended runs that took ``duration`` within the spread, as Cortex lists them."""
    runs = []
    for number in range(count):
        created = NOW - dt.timedelta(hours=6 * (number + 1))
        took = duration * (1 + rng.uniform(-SPREAD, SPREAD))
        runs.append(
            {
                "id": f"past-{number}",
                "status": "COMPLETED",
                "workflow": {"tag": "deploy"},
                "dateCreated": created.isoformat().replace("+00:00", "Z"),
                "dateCompleted": (created + dt.timedelta(seconds=took))
                .isoformat()
                .replace("+00:00", "Z"),
            }
        )
    return runs


def simulate(duration: float, cadence: Cadence | None, delay: float = 0.0) -> tuple[int, float]:
    """One run ending ``duration`` s after the wait began: (GETs made, seconds end to seen).
    ``delay``: the first look comes this late (a fixed poll's phase)."""
    now = [0.0]
    polls = [0]

    def fetch() -> Run:
        polls[0] += 1
        status = "COMPLETED" if now[0] >= duration else "IN_PROGRESS"
        return Run(id="r", status=status, raw={})

    def sleep(seconds: float) -> None:
        now[0] += seconds

    sleep(delay)
    wait_for_run(
        Run(id="r", status="NOT_INITIATED", raw={}),
        fetch,
        clock=lambda: now[0],
        sleep=sleep,
        deadline=duration * 3 + 3600,
        on_paused=OnPaused.WAIT,
        events=lambda event: None,
        jitter=equal_jitter,
        cadence=cadence,
    )
    return polls[0], now[0] - duration


def fixed(seconds: float) -> Cadence:
    def cadence(state: PollState) -> float:
        return seconds

    return cadence


Row = tuple[list[int], list[float]]


def measure(duration: float, seed: int) -> dict[str, Row]:
    rng = random.Random(seed * 7919 + int(duration))
    random.seed(seed)  # equal_jitter draws from the module's generator
    found = hist.build(
        past_runs(duration, rng), workflow=["deploy"], entity=None, exclude=None, now=NOW
    )
    assert found.history is not None
    took = duration * (1 + rng.uniform(-SPREAD, SPREAD))
    ours = simulate(took, Forecast(found.history))
    today = simulate(took, None)
    cli = simulate(took, fixed(2.0), delay=rng.uniform(0, 2.0))
    return {
        "history": ([ours[0] + 1], [ours[1]]),  # + the list request
        "no history": ([today[0] + 1], [today[1]]),  # the list request is made all the same
        "2 s poll": ([cli[0]], [cli[1]]),
    }


def run_all() -> tuple[list[tuple[str, ...]], dict[str, list[float]], dict[int, dict[str, Row]]]:
    per_duration: dict[int, dict[str, Row]] = {}
    totals: dict[str, list[float]] = {"history": [0, 0], "no history": [0, 0], "2 s poll": [0, 0]}
    rows = []
    for duration in DURATIONS:
        merged: dict[str, Row] = {k: ([], []) for k in totals}
        for seed in range(TRIALS):
            for name, (gets, lags) in measure(duration, seed).items():
                merged[name][0].extend(gets)
                merged[name][1].extend(lags)
        per_duration[duration] = merged
        cells = [format_length(duration)]
        for name in ("history", "no history", "2 s poll"):
            gets, lags = merged[name]
            totals[name][0] += sum(gets)
            totals[name][1] += duration * len(gets) / 60
            cells += [
                f"{statistics.median(lags):.2f}s",
                f"{max(lags):.1f}s",
                f"{sum(gets) / (duration * len(gets) / 60):.1f}",
            ]
        ratio = statistics.median(merged["history"][1]) / statistics.median(merged["2 s poll"][1])
        cost = sum(merged["history"][0]) / sum(merged["2 s poll"][0])
        cells += [f"{ratio:.2f}", f"{cost:.2f}"]
        rows.append(tuple(cells))
    return rows, totals, per_duration


def format_length(seconds: float) -> str:
    return f"{seconds // 60:.0f}m" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:.0f}s"


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "-+-".join("-" * w for w in widths),
    ]
    lines += [" | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines) + "\n"


def model_cost(repeats: int = 200) -> float:
    """Milliseconds to decode and model a page of 25 runs (the work the list request adds)."""
    page = json.dumps({"runs": past_runs(600, random.Random(1), 25)})
    started = time.perf_counter()
    for _ in range(repeats):
        runs = json.loads(page)["runs"]
        hist.build(runs, workflow=["deploy"], entity=None, exclude=None, now=NOW)
    return (time.perf_counter() - started) / repeats * 1000


def main() -> int:
    rows, totals, per_duration = run_all()
    header = (
        "run length",
        "history lag med",
        "max",
        "GETs/min",
        "no history lag med",
        "max",
        "GETs/min",
        "2 s poll lag med",
        "max",
        "GETs/min",
        "lag ratio",
        "GET ratio",
    )
    out = sys.stdout
    out.write(table(header, rows))
    out.write(
        f"\n{TRIALS} trials per row; runs take D within +-{SPREAD:.0%}, like their last "
        f"{PAST_RUNS} runs. Ratios: history against the 2 s poll.\n\n"
    )
    per_minute = {name: gets / minutes for name, (gets, minutes) in totals.items()}
    checks: list[tuple[str, bool]] = []
    for duration, merged in per_duration.items():
        if duration < 8:
            continue
        ours = statistics.median(merged["history"][1])
        cli = statistics.median(merged["2 s poll"][1])
        checks.append(
            (
                f"history, {format_length(duration)}: median lag {ours:.2f}s "
                f"<= {max(cli, 1.0):.2f}s",
                ours <= max(cli, 1.0),
            )
        )
        today = statistics.median(merged["no history"][1])
        checks.append(
            (f"no history, {format_length(duration)}: median lag {today:.2f}s = today's", True)
        )
    ratio = per_minute["history"] / per_minute["2 s poll"]
    checks.append(
        (
            f"history: all GETs / all run-minutes {per_minute['history']:.2f} = {ratio:.3f} of the "
            f"2 s poll's {per_minute['2 s poll']:.2f} (goal <= 0.2)",
            ratio <= 0.2,
        )
    )
    blind = per_minute["no history"] / per_minute["2 s poll"]
    checks.append(
        (
            f"no history: {per_minute['no history']:.2f} GETs per run-minute = {blind:.3f} of the "
            "2 s poll's (goal <= 1)",
            blind <= 1,
        )
    )
    cost = model_cost()
    checks.append(
        (f"model from a page of 25 runs: {cost:.2f} ms of our work (goal <= 50 ms)", cost <= 50)
    )
    for text, ok in checks:
        if "= today's" in text:
            continue
        out.write(f"{'ok  ' if ok else 'FAIL'} {text}\n")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
