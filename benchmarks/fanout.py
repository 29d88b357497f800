"""Fan-out against a CI matrix, on the emulator in real time: makespan, requests and memory.

N entities, each run taking R seconds on the emulator (0.5 s NOT_INITIATED, then one block),
at most five at once. Side by side: one ``cortex-action run --entities ...`` process with
``max-parallel: 5``, and N separate ``cortex-action run --entity ...`` processes started together
(what a CI matrix of N jobs does: each races for Cortex's five slots on its own). Makespan is
from the first request Cortex received to the last (the poll that saw the last run end); wall
adds the processes' start-up; requests are those the emulator received; memory is the peak
resident set of the process (fan-out) or the sum over the N processes (matrix).

Rerun: ``python benchmarks/fanout.py`` (about five minutes; ``--cases 5:2,10:2`` for fewer).
Each case is N entities at R seconds a run; the last default case, 40 runs of 10 s, is the one
the request goal is read at (with 2-second runs no client can meet it: 40 triggers are more than
a fifth of what the matrix sends).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cortex_action.emulator import EmulatorServer, default_config
from cortex_action.fanout import Done, FanOut, Poll, Sleep, Slot, Sweep, Trigger
from cortex_action.models import Run
from cortex_action.settings import OnPaused
from cortex_action.waiting import wait_for_run

ROOT = Path(__file__).resolve().parent.parent
CASES = "5:2,10:2,20:2,40:2,40:10"  # N entities : R seconds a run (0.5 s NOT_INITIATED, a block)


def workflow(tag: str, length: float) -> dict[str, object]:
    return {
        "tag": tag,
        "name": f"Benchmark scan, {length:g} s",
        "scope": "ENTITY",
        "blocks": [{"name": "Scan", "slug": "scan", "duration": length - 0.5}],
    }


def tag_of(length: float) -> str:
    return f"bench-scan-{length:g}".replace(".", "-")


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cortex_action", *argv],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def reap(processes: list[subprocess.Popen[bytes]]) -> tuple[list[int], int]:
    """Wait for every process: their exit codes, and the sum of their peak memory (KiB)."""
    codes, memory = [], 0
    for process in processes:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        codes.append(process.returncode)
        memory += usage.ru_maxrss
    return codes, memory


def scenario(
    emu: EmulatorServer, n: int, length: float, *, matrix: bool
) -> tuple[float, float, int, int, int]:
    """(makespan from the first request to the last, wall time with start-up, requests, peak
    memory in KiB, failed processes) of one way of running N entities."""
    emu.reset()
    entities = [f"service-{i:02d}" for i in range(1, n + 1)]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CORTEX_API_TOKEN": emu.token,
        "CORTEX_BASE_URL": emu.url,
        "CORTEX_WORKFLOW": tag_of(length),
        "CORTEX_TIMEOUT": "10m",
        "GIT_COMMIT": os.urandom(20).hex(),  # a fresh key each time: no replays
        "NO_COLOR": "1",
    }
    began = time.monotonic()
    if matrix:
        processes = [start(["run", "--entity", e], env) for e in entities]
    else:
        processes = [start(["run", "--entities", ",".join(entities), "--max-parallel", "5"], env)]
    codes, memory = reap(processes)
    wall = time.monotonic() - began
    times = [dt.datetime.fromisoformat(r.time).timestamp() for r in emu.requests]
    makespan = max(times) - min(times) if times else float("nan")
    return makespan, wall, len(emu.requests), memory, sum(1 for c in codes if c != 0)


SIM_LENGTHS = (30.0, 120.0, 600.0)  # seconds per run, simulated: no real waiting


def simulate_fanout(n: int, length: float) -> tuple[float, int]:
    """The fan-out's own scheduler on a simulated clock: (makespan, requests)."""
    fan = FanOut(
        [Slot(index=i, entity=f"e{i}") for i in range(n)],
        max_parallel=5,
        fail_fast=False,
        on_paused=OnPaused.WAIT,
        deadline=1e9,
    )
    now, requests = 0.0, 0
    while not isinstance(step := fan.next_step(now), Done):
        if isinstance(step, Sleep):
            now = step.until
            continue
        requests += 1
        if isinstance(step, Trigger):
            fan.triggered(step.slot, Run("r", "NOT_INITIATED", {}), False, now)
        elif isinstance(step, Poll | Sweep):
            # A sweep is one listing that shows every run followed.
            seen = fan.followed() if isinstance(step, Sweep) else [step.slot]
            for slot in seen:
                assert slot.triggered_at is not None
                done = now - slot.triggered_at >= length
                fan.polled(slot, Run("r", "COMPLETED" if done else "IN_PROGRESS", {}), now)
        fan.sent(now)
    return now, requests


def simulate_matrix(n: int, length: float) -> int:
    """N single-run processes (the real waiting loop, with its jitter), all triggered at once;
    Cortex queues them five at a time: requests, triggers included."""
    requests = 0
    for i in range(n):
        end = (i // 5 + 1) * length
        now = [0.0]
        polls = [0]

        def fetch(end: float = end, now: list[float] = now, polls: list[int] = polls) -> Run:
            polls[0] += 1
            return Run("r", "COMPLETED" if now[0] >= end else "IN_PROGRESS", {})

        def sleep(seconds: float, now: list[float] = now) -> None:
            now[0] += seconds

        def clock(now: list[float] = now) -> float:
            return now[0]

        wait_for_run(
            Run("r", "NOT_INITIATED", {}),
            fetch,
            clock=clock,
            sleep=sleep,
            deadline=1e9,
            on_paused=OnPaused.WAIT,
            events=lambda event: None,
        )
        requests += 1 + polls[0]
    return requests


def print_table(head: tuple[str, ...], rows: Sequence[tuple[object, ...]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows, strict=True)]
    for row in (head, *rows):
        print("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", default=CASES, help=f"N:R pairs, comma-separated (default {CASES})"
    )
    args = parser.parse_args()
    cases = [(int(n), float(r)) for n, r in (c.split(":") for c in args.cases.split(","))]
    counts = sorted({n for n, _ in cases})
    lengths = sorted({r for _, r in cases})
    config = default_config({"workflows": [workflow(tag_of(r), r) for r in lengths]})
    rows = []
    with EmulatorServer(config, speed=1.0, log=lambda line: None) as emu:
        for n, length in cases:
            bound = math.ceil(n / 5) * length
            fan = scenario(emu, n, length, matrix=False)
            mat = scenario(emu, n, length, matrix=True)
            rows.append(
                (
                    n,
                    f"{length:g}s",
                    f"{bound:.1f}s",
                    f"{fan[0]:.1f}s",
                    "yes" if fan[0] <= 1.05 * bound + 1 else "NO",
                    f"{fan[1]:.1f}s",
                    f"{fan[2]}",
                    f"{fan[3] / 1024:.0f}",
                    f"{mat[0]:.1f}s",
                    f"{mat[1]:.1f}s",
                    f"{mat[2]}",
                    f"{mat[3] / 1024:.0f}",
                    f"{mat[2] / max(1, fan[2]):.1f}x",
                    f"{mat[3] / max(1, fan[3]):.0f}x",
                    f"{fan[4]}/{mat[4]}",
                )
            )
    head = (
        "N",
        "R",
        "bound",
        "fan-out",
        "<=1.05b+1s",
        "wall",
        "requests",
        "MiB",
        "matrix",
        "wall",
        "requests",
        "MiB(sum)",
        "req ratio",
        "mem ratio",
        "failed f/m",
    )
    print_table(head, rows)
    print("\nR: seconds per run (0.5 s NOT_INITIATED + one block); max-parallel 5.")
    print(
        "fan-out/matrix: makespan from the first request Cortex received to the last; wall: "
        "from starting the process(es) to the last exit (start-up included)."
    )
    print("\nLonger runs, simulated (the same scheduler and waiting loop, on a simulated clock):")
    sim = []
    for length in SIM_LENGTHS:
        for n in counts:
            makespan, fan_requests = simulate_fanout(n, length)
            matrix_requests = simulate_matrix(n, length)
            bound = math.ceil(n / 5) * length
            sim.append(
                (
                    n,
                    f"{length:.0f}s",
                    f"{bound:.0f}s",
                    f"{makespan:.0f}s",
                    f"{makespan / bound:.3f}",
                    fan_requests,
                    matrix_requests,
                    f"{matrix_requests / fan_requests:.1f}x",
                )
            )
    print_table(
        ("N", "R", "bound", "fan-out", "ratio", "requests", "matrix requests", "req ratio"), sim
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
