"""Run and block timestamps, seeded history, a generated catalogue, failFor and the active count."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx

from cortex_action.emulator import default_config
from cortex_action.emulator.testing import EmulatorFactory

from .conftest import FRONTEND, GLOBAL, ManualClock, api_client

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_run_and_block_timestamps(tclient: httpx.Client, clock: ManualClock) -> None:
    """dateCreated at once, dateStarted when it leaves NOT_INITIATED, dateCompleted at the end;
    each block has state.status, startedAt and completedAt."""
    run = tclient.post("/workflows/deploy-service/runs", json=FRONTEND).json()
    assert ISO.match(run["dateCreated"])
    assert run["dateStarted"] is None
    assert run["dateCompleted"] is None
    assert run["actions"][0]["state"] == {
        "status": "NOT_STARTED",
        "dateStarted": None,
        "dateCompleted": None,
        "startedAt": None,
        "completedAt": None,
    }
    clock.advance(10)
    got = tclient.get(f"/workflows/deploy-service/runs/{run['id']}").json()
    assert got["status"] == "COMPLETED"
    assert ts(got["dateStarted"]) - ts(got["dateCreated"]) == 0.5
    assert ts(got["dateCompleted"]) - ts(got["dateStarted"]) == 3.5
    assert got["dateUpdated"] == got["dateCompleted"]
    states = [a["state"] for a in got["actions"]]
    assert [s["status"] for s in states] == ["COMPLETED"] * 3
    assert [ts(s["completedAt"]) - ts(s["startedAt"]) for s in states] == [1.0, 1.5, 1.0]
    assert states[0]["startedAt"] == got["dateStarted"]
    assert states[-1]["completedAt"] == got["dateCompleted"]


def test_failed_block_has_an_error_message(tclient: httpx.Client, clock: ManualClock) -> None:
    run = tclient.post("/workflows/failing-deploy/runs", json=FRONTEND).json()
    clock.advance(5)
    got = tclient.get(f"/workflows/failing-deploy/runs/{run['id']}").json()
    state = got["actions"][1]["state"]
    assert (got["status"], state["status"]) == ("FAILED", "FAILED")
    assert "CrashLoopBackOff" in state["errorMessage"]
    assert state["completedAt"] == got["dateCompleted"]
    assert got["actions"][2]["state"]["status"] == "NOT_STARTED"


def history_config(**history: Any) -> dict[str, Any]:
    return {
        "tokens": [{"value": "t"}],
        "entities": [{"tag": "a"}, {"tag": "b"}],
        "workflows": [
            {
                "tag": "deploy",
                "scope": "ENTITY",
                "blocks": [
                    {"name": "Build", "slug": "build", "duration": 10},
                    {"name": "Ship", "slug": "ship", "duration": 30},
                ],
                "history": history,
            }
        ],
    }


def test_history_is_listed_with_timestamps(make_emulator: EmulatorFactory) -> None:
    """12 past runs of ~40 s (+-10 %) within 7 days, 2 FAILED, spread over the entities."""
    emu = make_emulator(
        history_config(count=12, duration=40, spread=0.1, statuses={"FAILED": 2}), speed=1.0
    )
    with api_client(emu, "t") as c:
        runs = c.get("/workflows/runs", params={"size": 50}).json()["runs"]
        only_a = c.get("/workflows/runs", params={"entityId": "a"}).json()["runs"]
    assert len(runs) == 12
    assert sorted(r["status"] for r in runs).count("FAILED") == 2
    now = datetime.now().timestamp()
    for r in runs:
        took = ts(r["dateCompleted"]) - ts(r["dateStarted"])
        assert 36 <= took <= 44
        assert now - 7 * 86400 <= ts(r["dateCreated"]) < now
        assert ts(r["dateCreated"]) < ts(r["dateStarted"]) < ts(r["dateCompleted"])
        states = [a["state"] for a in r["actions"]]
        assert states[0]["startedAt"] == r["dateStarted"]
        if r["status"] == "COMPLETED":
            assert states[-1]["completedAt"] == r["dateCompleted"]
    assert len(only_a) == 6
    assert {r["scope"]["entityId"] for r in only_a} == {"a"}
    failed = next(r for r in runs if r["status"] == "FAILED")
    assert failed["actions"][-1]["state"]["errorMessage"]


def test_history_scales_with_speed_and_comes_back_after_reset(
    make_emulator: EmulatorFactory,
) -> None:
    """At speed 20 the 40-second history takes ~2 s; reset forgets live runs, keeps history."""
    emu = make_emulator(history_config(count=3, spread=0), speed=20.0)
    assert len(emu.runs) == 3
    run = emu.runs[0]
    assert ts(run["dateCompleted"]) - ts(run["dateStarted"]) == 2.0
    with api_client(emu, "t") as c:
        c.post("/workflows/deploy/runs", json={"scope": {"type": "ENTITY", "entityId": "a"}})
    assert len(emu.runs) == 4
    emu.reset()
    assert len(emu.runs) == 3


def test_live_runs_are_listed_with_timestamps(tclient: httpx.Client, clock: ManualClock) -> None:
    run_id = tclient.post("/workflows/scaffold-repo/runs", json=GLOBAL).json()["id"]
    clock.advance(5)
    listed = tclient.get("/workflows/runs").json()["runs"]
    assert [r["id"] for r in listed] == [run_id]
    assert all(listed[0][k] for k in ("dateCreated", "dateStarted", "dateCompleted"))


def test_generated_catalogue() -> None:
    cfg = default_config()
    tags = [e.tag for e in cfg.entities]
    assert "service-01" in tags
    assert "service-40" in tags
    assert "service-41" not in tags
    custom = default_config({"generateEntities": {"prefix": "app-", "count": 3, "width": 3}})
    assert [e.tag for e in custom.entities][-3:] == ["app-001", "app-002", "app-003"]


def test_fan_out_of_40_holds_the_limit_and_logs_the_active_count(
    make_emulator: EmulatorFactory,
) -> None:
    """40 entities triggered at once: all complete, never more than 5 active (the log says so),
    and failFor makes service-07's run fail in its scan block."""
    lines: list[str] = []
    emu = make_emulator(speed=20.0, log=lines.append)
    with api_client(emu) as c:
        ids = {}
        for n in range(1, 41):
            body = {"scope": {"type": "ENTITY", "entityId": f"service-{n:02d}"}}
            resp = c.post("/workflows/scan-service/runs", json=body)
            assert resp.status_code == 200
            ids[n] = resp.json()["id"]
    runs = {n: emu.wait_for_status(i, "COMPLETED", "FAILED", timeout=30) for n, i in ids.items()}
    assert runs[7]["status"] == "FAILED"
    scan = runs[7]["actions"][1]
    assert (scan["slug"], scan["state"]["status"]) == ("scan", "FAILED")
    assert scan["state"]["errorMessage"] == "Scan failed: 3 critical vulnerabilities"
    assert {r["status"] for n, r in runs.items() if n != 7} == {"COMPLETED"}
    events = [line for line in lines if line.startswith("run ")]
    active = [int(m.group(1)) for e in events if (m := re.search(r"active=(\d+)/5", e))]
    assert len(active) == len(events)
    assert len([e for e in events if " started:" in e]) == 40
    assert len([e for e in events if " ended " in e]) == 40
    assert max(active) == 5
    assert "entity=service-07 ended FAILED" in "\n".join(events)
