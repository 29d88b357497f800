"""What the block-by-block log and the gantt chart cost, per number of blocks: the summary's
size (GitHub cuts a job summary at 1 MiB), its bars, the time to render it, and the time the
block differ adds to each poll. Pure functions, no network. Rerun (in the project's venv):
``make venv && .venv/bin/python benchmarks/run_picture.py``.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from cortex_action.models import parse_run
from cortex_action.render.summary import run_summary
from cortex_action.report import Report
from cortex_action.waiting import block_changes

COUNTS = [3, 10, 100, 1_000, 10_000]
T0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def at(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def run_of(count: int, *, ended: int) -> Any:
    """``count`` blocks with long names and error messages (the worst case for the summary), of
    which the first ``ended`` have ended and the rest are running."""
    actions = [
        {
            "name": f"deploy: eu;west #{i} " + "x" * 200,
            "state": {
                "status": "FAILED" if i < ended else "IN_PROGRESS",
                "startedAt": at(i),
                "completedAt": at(i + 1) if i < ended else None,
                "errorMessage": "e" * 3000,
            },
        }
        for i in range(count)
    ]
    return parse_run({"id": "r", "status": "FAILED", "actions": actions})


def timed(function: Any, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    print(
        f"{'blocks':>7} {'summary KiB':>12} {'bars':>5} {'render ms':>10} "
        f"{'poll, 1 ends ms':>16} {'poll, all end ms':>17}"
    )
    for count in COUNTS:
        before, after = run_of(count, ended=0), run_of(count, ended=count)
        almost = run_of(count, ended=count - 1)
        report = Report(command="run", workflow="w", exit_code=1, headline="h", run=after)
        text = run_summary(report)
        bars = sum(1 for line in text.splitlines() if ", b" in line and " :" in line)
        render = timed(lambda report=report: run_summary(report))
        # Each poll is a new run object: its blocks are read afresh.
        one = timed(lambda a=almost, b=after: block_changes(run_of_blocks(a), run_of_blocks(b)))
        every = timed(lambda a=before, b=after: block_changes(run_of_blocks(a), run_of_blocks(b)))
        kib = len(text.encode()) / 1024
        print(
            f"{count:>7} {kib:>12.1f} {bars:>5} {render * 1000:>10.1f} "
            f"{one * 1000:>16.1f} {every * 1000:>17.1f}"
        )


def run_of_blocks(run: Any) -> Any:
    """The blocks of a fresh copy of ``run``, as a new poll's answer gives them."""
    return parse_run(run.raw).blocks


if __name__ == "__main__":
    main()
