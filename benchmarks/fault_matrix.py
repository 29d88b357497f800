"""The fault matrix as a table: every fault for every request kind, against the emulator.

Each case runs the real CLI over real HTTP (loopback) against ``cortex_action.emulator`` with one
fault injected, and reports: recovered (exit 0), failed cleanly (the documented exit code and a
message), duplicates (runs past the one an idempotency key may start), tracebacks, and how far
past ``timeout`` the latest case ended. The cases and their documented outcomes live in
tests/faults/matrix.py; tests/faults/test_fault_matrix.py asserts them.

Rerun: ``.venv/bin/python benchmarks/fault_matrix.py`` (about 15 s; time runs 40 times faster
than real, and 4 workers run cases side by side, each with its own emulator).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.faults.matrix import SCALE, run_matrix, table


def main() -> int:
    started = time.monotonic()
    results = run_matrix()
    print(table(results))
    took = time.monotonic() - started
    print(f"\n{len(results)} cases in {took:.0f} s real time (time scaled {SCALE:.0f}x).")
    bad = [r for r in results if not r.as_expected or r.duplicates or r.traceback]
    for result in bad:
        print(f"\nUNEXPECTED: {result.case.id}: exit {result.exit_code}\n{result.log[-2000:]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
