"""Fan-out listings against the emulator, as a hostile user and a faulty Cortex: many entities,
one at a time, a listing that fails half-way, a Spring envelope. Each entity is triggered once,
the worst entity decides the exit code, and the requests stay few."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.commands.test_fanout import Tenant, runs_of, tenant

__all__ = ["tenant"]  # the fixture, shared

FORTY = ",".join(f"service-{i:02d}" for i in range(1, 41))


def requests(t: Tenant) -> dict[str, int]:
    counts = {"trigger": 0, "listing": 0, "read": 0}
    for r in t.emu.requests:
        if r.method == "POST" and r.path.endswith("/runs"):
            counts["trigger"] += 1
        elif r.path == "/api/v1/workflows/runs" and "includeContext" not in r.query:
            counts["listing"] += 1
        elif "/runs/" in r.path:
            counts["read"] += 1
    return counts


def check_forty(t: Tenant, done: Any) -> None:
    assert done.exit_code == 1, done.log  # service-07's scan fails
    runs = runs_of(done)
    assert [r["status"] for r in runs].count("FAILED") == 1
    assert runs[6]["status"] == "FAILED"
    assert all(len(r["run"]["actions"]) == 2 for r in runs)  # whole run objects, not rows
    assert len(t.triggers()) == 40  # each entity once
    assert len({r["context"]["entity"]["tag"] for r in t.emu.runs}) == 40


def test_forty_entities_with_listings(tenant: Tenant) -> None:
    done = tenant.step(entities=FORTY, workflow="scan-service")
    check_forty(tenant, done)
    counts = requests(tenant)
    # 16 listings and a read or so here; a poll a run, several a run.
    assert counts["listing"] + counts["read"] <= 30, counts


def test_a_listing_that_fails_half_way_falls_back_to_reads(tenant: Tenant) -> None:
    tenant.emu.add_fault(method="GET", path="/api/v1/workflows/runs", nth=4, status=500)
    done = tenant.step(entities=FORTY, workflow="scan-service")
    check_forty(tenant, done)
    assert "each run is read on its own from now on" in done.log
    assert requests(tenant)["listing"] <= 4  # no listing after the one that failed


def test_one_at_a_time_never_lists(tenant: Tenant) -> None:
    """max-parallel 1: one run followed at a time, so a read is all a look needs."""
    done = tenant.step(
        entities="service-06,service-07,service-08", workflow="scan-service", max_parallel="1"
    )
    assert done.exit_code == 1, done.log
    assert [r["status"] for r in runs_of(done)] == ["COMPLETED", "FAILED", "COMPLETED"]
    assert requests(tenant)["listing"] == 0


def test_dry_run_with_entities_triggers_nothing(tenant: Tenant) -> None:
    """The preflight's look-ups only: no trigger, and no listing of runs to follow."""
    done = tenant.step(entities="service-06,service-07", workflow="scan-service", dry_run="true")
    assert done.exit_code == 0, done.log
    assert "Dry run: would trigger 2 runs" in done.log
    assert tenant.triggers() == []
    assert requests(tenant) == {"trigger": 0, "listing": 1, "read": 0}  # the preflight's one


def test_spring_envelope(tmp_path: Path) -> None:
    t = Tenant({"behaviour": {"listRuns": {"envelope": "spring"}}}, tmp_path)
    with t.emu:
        done = t.step(entities=FORTY, workflow="scan-service")
        check_forty(t, done)
        counts = requests(t)
    assert counts["listing"] > 0, counts  # the Spring page is read as a listing
    assert counts["read"] <= 5, counts
