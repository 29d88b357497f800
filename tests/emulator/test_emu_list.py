"""GET /api/v1/workflows/runs: filters, paging, sorting, envelopes and the 30-day window."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cortex_action.emulator import EmulatorServer, default_config
from cortex_action.emulator.api import CortexApi, Request
from cortex_action.emulator.engine import Engine
from cortex_action.emulator.testing import EmulatorFactory

from .conftest import FRONTEND, GLOBAL, ManualClock, api_client

DEPLOY_ID = "wf5a1c0e7d9b3f2a41"
SCAFFOLD_ID = "wf7c2d4e6f8a0b1c32"
BACKEND = {"scope": {"type": "ENTITY", "entityId": "service-backend"}}


def iso_at(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


@pytest.fixture
def seeded(timed: EmulatorServer, clock: ManualClock) -> dict[str, str]:
    """Four runs one minute apart: deploy/frontend, deploy/backend (runAs), scaffold, scaffold."""
    ids: dict[str, str] = {}
    with api_client(timed) as c:
        for name, tag, body in [
            ("d-front", "deploy-service", FRONTEND),
            ("d-back", "deploy-service", {**BACKEND, "runAs": "Dev@Example.com"}),
            ("s1", "scaffold-repo", GLOBAL),
            ("s2", "scaffold-repo", GLOBAL),
        ]:
            ids[name] = c.post(f"/workflows/{tag}/runs", json=body).json()["id"]
            clock.advance(60)
    return ids


def listed(c: httpx.Client, **params: Any) -> list[str]:
    resp = c.get("/workflows/runs", params=params)
    assert resp.status_code == 200, resp.text
    return [r["id"] for r in resp.json()["runs"]]


def test_default_order_is_date_created_desc(tclient: httpx.Client, seeded: dict[str, str]) -> None:
    """Without sort the newest run comes first, in the Cortex-style envelope."""
    resp = tclient.get("/workflows/runs").json()
    assert [r["id"] for r in resp["runs"]] == [
        seeded["s2"],
        seeded["s1"],
        seeded["d-back"],
        seeded["d-front"],
    ]
    assert (resp["page"], resp["total"], resp["totalPages"]) == (0, 4, 1)


def test_sort_ascending(tclient: httpx.Client, seeded: dict[str, str]) -> None:
    """sort=dateCreated,asc puts the oldest first."""
    assert listed(tclient, sort="dateCreated,asc")[0] == seeded["d-front"]


def test_bad_sort_or_size_is_400(tclient: httpx.Client) -> None:
    """An unknown sort field or a size out of range gets 400 violations."""
    for params in ({"sort": "colour,asc"}, {"size": "0"}, {"page": "-1"}, {"size": "x"}):
        resp = tclient.get("/workflows/runs", params=params)
        assert resp.status_code == 400
        assert resp.json()["violations"]


def test_workflow_ids_comma_separated_and_repeated(
    tclient: httpx.Client, seeded: dict[str, str]
) -> None:
    """workflowIds filters by CID, given comma-separated or as a repeated parameter."""
    assert set(listed(tclient, workflowIds=SCAFFOLD_ID)) == {seeded["s1"], seeded["s2"]}
    both = set(seeded.values())
    assert set(listed(tclient, workflowIds=f"{DEPLOY_ID},{SCAFFOLD_ID}")) == both
    assert set(listed(tclient, workflowIds=[DEPLOY_ID, SCAFFOLD_ID])) == both
    assert listed(tclient, workflowIds="wf0000000000000000") == []


def test_workflow_ids_take_tags_too(tclient: httpx.Client, seeded: dict[str, str]) -> None:
    """workflowIds takes tags as well, as Cortex's own page sends one there; mixed with CIDs."""
    assert set(listed(tclient, workflowIds="scaffold-repo")) == {seeded["s1"], seeded["s2"]}
    both = set(seeded.values())
    assert set(listed(tclient, workflowIds=["deploy-service", SCAFFOLD_ID])) == both
    assert listed(tclient, workflowIds="no-such-workflow") == []


def test_search_query_matches_name_or_description(
    tclient: httpx.Client, seeded: dict[str, str]
) -> None:
    """searchQuery matches the workflow's name or description, case-insensitively."""
    assert set(listed(tclient, searchQuery="SCAFFOLD")) == {seeded["s1"], seeded["s2"]}
    assert set(listed(tclient, searchQuery="smoke")) == set()
    assert set(listed(tclient, searchQuery="builds, deploys")) == {
        seeded["d-front"],
        seeded["d-back"],
    }


def test_entity_filter_by_tag_or_id(tclient: httpx.Client, seeded: dict[str, str]) -> None:
    """entityId / entityTag filter on the run's entity, given by tag or id."""
    assert listed(tclient, entityId="service-backend") == [seeded["d-back"]]
    assert listed(tclient, entityTag="en1f2e3d4c5b6a7980") == [seeded["d-front"]]


def test_initiated_by_filter(tclient: httpx.Client, seeded: dict[str, str]) -> None:
    """initiatedBy matches the initiator's email case-insensitively (runAs, else the key's)."""
    assert listed(tclient, initiatedBy="dev@example.com") == [seeded["d-back"]]
    assert len(listed(tclient, initiatedBy="ci-bot@example.com")) == 3


def test_started_after_and_before(
    tclient: httpx.Client, seeded: dict[str, str], clock: ManualClock
) -> None:
    """startedAfter/startedBefore take ISO 8601 and bound the runs' start times."""
    t0 = clock.now - 240  # when the first run was created
    assert set(listed(tclient, startedAfter=iso_at(t0 + 90))) == {seeded["s1"], seeded["s2"]}
    assert set(listed(tclient, startedBefore=iso_at(t0 + 90))) == {
        seeded["d-front"],
        seeded["d-back"],
    }
    zulu = datetime.fromtimestamp(t0 + 150, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert listed(tclient, startedAfter=zulu) == [seeded["s2"]]
    resp = tclient.get("/workflows/runs", params={"startedAfter": "yesterday"})
    assert resp.status_code == 400


def test_paging(tclient: httpx.Client, seeded: dict[str, str]) -> None:
    """page (from 0) and size cut the sorted list; past the end is an empty page."""
    p0 = tclient.get("/workflows/runs", params={"size": 3, "page": 0}).json()
    p1 = tclient.get("/workflows/runs", params={"size": 3, "page": 1}).json()
    p2 = tclient.get("/workflows/runs", params={"size": 3, "page": 2}).json()
    assert len(p0["runs"]) == 3
    assert [r["id"] for r in p1["runs"]] == [seeded["d-front"]]
    assert p2["runs"] == []
    assert p0["totalPages"] == p1["totalPages"] == 2


def test_spring_envelope(make_emulator: EmulatorFactory) -> None:
    """behaviour.listRuns.envelope=spring answers a Spring page."""
    emu = make_emulator(default_config({"behaviour": {"listRuns": {"envelope": "spring"}}}))
    with api_client(emu) as c:
        for _ in range(3):
            c.post("/workflows/scaffold-repo/runs", json=GLOBAL)
        page = c.get("/workflows/runs", params={"size": 2, "page": 1}).json()
    assert len(page["content"]) == 1
    assert page["totalElements"] == 3
    assert page["totalPages"] == 2
    assert page["number"] == 1
    assert page["last"] is True
    assert "runs" not in page


def test_only_the_last_30_days_are_listed(
    timed: EmulatorServer, tclient: httpx.Client, clock: ManualClock
) -> None:
    """Runs created more than 30 days ago drop out of the list but can still be read."""
    old = tclient.post("/workflows/scaffold-repo/runs", json=GLOBAL).json()["id"]
    clock.advance(29 * 86400)
    assert listed(tclient) == [old]
    clock.advance(2 * 86400)
    new = tclient.post("/workflows/scaffold-repo/runs", json=GLOBAL).json()["id"]
    assert listed(tclient) == [new]
    assert tclient.get(f"/workflows/scaffold-repo/runs/{old}").status_code == 200
    assert len(timed.runs) == 2


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(count=st.integers(0, 12), size=st.integers(1, 5), asc=st.booleans())
def test_pages_partition_the_runs(count: int, size: int, asc: bool) -> None:
    """Walking every page returns each run exactly once, in the requested order."""
    clock = ManualClock()
    config = default_config()
    engine = Engine(config, clock=clock)
    api = CortexApi(config, engine)
    wf = engine.find_workflow("scaffold-repo")
    assert wf is not None
    made = []
    for _ in range(count):
        run = engine.create_run(
            wf,
            scope_type="GLOBAL",
            entity=None,
            run_as=None,
            initiated_by="a@example.com",
            initial_context={},
            notification_recipients=[],
        )
        made.append(run.id)
        clock.advance(1)
    seen: list[str] = []
    page = 0
    while True:
        order = "asc" if asc else "desc"
        query = {"size": [str(size)], "page": [str(page)], "sort": [f"dateCreated,{order}"]}
        resp = api.handle(
            Request(
                "GET",
                "/api/v1/workflows/runs",
                query=query,
                headers={"authorization": "Bearer emulator-token"},
            )
        )
        body = json.loads(resp.body)
        if not body["runs"]:
            break
        assert body["totalPages"] == -(-count // size)
        seen += [r["id"] for r in body["runs"]]
        page += 1
    assert seen == (made if asc else made[::-1])
