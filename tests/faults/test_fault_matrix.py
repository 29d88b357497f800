"""The fault matrix, asserted: every fault of tests/faults/matrix.py for every request kind,
against the emulator. The matrix runs once per session; each case is its own test, so a failure
names the fault and the request kind. ``python benchmarks/fault_matrix.py`` prints the table.
"""

from __future__ import annotations

import json

import pytest

from tests.faults.matrix import (
    CASES,
    HARNESS_SLACK,
    KINDS,
    MARGIN,
    TIMEOUT,
    Case,
    Result,
    run_matrix,
    table,
)

# The matrix is one module fixture that takes seconds of real (scaled) time: its cases stay on one
# xdist worker (`--dist loadgroup`), so it runs once, with the other timing-sensitive tests, so
# that they never compete with each other for the CPU.
pytestmark = [pytest.mark.slow, pytest.mark.realtime]

_RESULTS: dict[str, Result] = {}


@pytest.fixture(scope="module")
def results() -> dict[str, Result]:
    """Every case, run once per process (emulators are reset between cases), even if pytest sets
    the fixture up again after running another module's tests in between."""
    if not _RESULTS:
        for result in run_matrix():
            _RESULTS[result.case.id] = result
    return _RESULTS


def test_every_fault_is_tried_for_every_request_kind() -> None:
    """The matrix covers each kind, and the faults the issue names, for each kind."""
    for kind in KINDS:
        names = {case.fault.name for case in CASES if case.kind == kind}
        for must in (
            "connection refused, twice",
            "dropped before the request is handled",
            "dropped after the request is handled (trigger: run committed)",
            "read timeout (no answer within the request timeout)",
            "slow server (answers within the request timeout)",
            "429 without Retry-After",
            "429 with Retry-After in seconds",
            "429 with Retry-After as an HTTP date",
            "500, JSON body",
            "502, HTML body",
            "503, empty body",
            "504, JSON body",
            "truncated JSON",
            "malformed JSON",
        ):
            assert must in names, (kind, must)
    for kind in ("trigger", "get"):
        names = {case.fault.name for case in CASES if case.kind == kind}
        assert "valid JSON, not a run: no `id`" in names
        assert "valid JSON, not a run: `status` a number" in names


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_fault(results: dict[str, Result], case: Case) -> None:
    """The documented outcome, no traceback, no second run, never past timeout + margin."""
    result = results[case.id]
    code, phrase = case.expected
    assert not result.traceback, result.log
    assert result.exit_code == code, result.log
    assert phrase in result.log, result.log
    assert result.duplicates == 0, (result.runs, result.keys)
    assert result.elapsed <= TIMEOUT + MARGIN + HARNESS_SLACK, result.elapsed
    if code == 0 and case.kind in ("trigger", "get"):
        assert result.outputs["status"] == "COMPLETED", result.log
        assert json.loads(result.outputs["result"])["id"] == result.outputs["run-id"]
    if case.kind == "get":  # the run was known: outputs name it on every way out
        assert result.outputs["run-id"], result.log
    if code == 0 and case.kind == "list":
        assert result.outputs, result.log
    if case.fault.name == "429 with Retry-After in seconds":
        assert "Cortex asked to retry after 3s" in result.log


def test_matrix_totals(results: dict[str, Result]) -> None:
    """The table's last line: zero duplicates, zero tracebacks, nothing unexpected."""
    rows = list(results.values())
    assert len(rows) == len(CASES)
    assert sum(r.duplicates for r in rows) == 0
    assert sum(r.traceback for r in rows) == 0
    assert all(r.as_expected for r in rows), [r.case.id for r in rows if not r.as_expected]
    text = table(rows)
    assert "UNEXPECTED" not in text
    assert f"| {len(CASES)} |" in text
