"""The fan-out's listings (one request that looks at every run followed) against a Cortex whose
listing lies, fails, tells less than a read, or doesn't list our runs: the result is always
what the runs' own reads say, and a listing that can't help is given up for reads."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support import FakeTime, github_env, invoke, json_response

LIST_PATH = "/api/v1/workflows/runs"
Rows = Callable[[list[dict[str, Any]]], Any]


class ManyRuns:
    """A Cortex stand-in with one run per entity; a run completes at its third look (a read or a
    listing that shows it), or fails there when its entity is in ``failing``. ``rows`` turns the
    true run objects into what the listing answers."""

    def __init__(self, server: HTTPServer, rows: Rows = lambda runs: {"runs": runs}) -> None:
        self.server = server
        self.rows = rows
        self.failing: set[str] = set()
        self.looks: dict[str, int] = {}
        self.runs: dict[str, str] = {}  # run id -> entity, in trigger order
        server.expect_request(LIST_PATH, method="GET").respond_with_handler(self._list)
        server.expect_request(
            "/api/v1/workflows/deploy-service/runs", method="POST"
        ).respond_with_handler(self._trigger)
        server.expect_request(
            re.compile(r"/api/v1/workflows/deploy-service/runs/[^/]+"), method="GET"
        ).respond_with_handler(self._get)
        server.expect_request("/api/v1/workflows/deploy-service", method="GET").respond_with_json(
            {"tag": "deploy-service", "isDraft": False, "isRunnableViaApi": True}
        )

    def run(self, run_id: str, *, look: bool = True) -> dict[str, Any]:
        entity = self.runs[run_id]
        if look:
            self.looks[run_id] = self.looks.get(run_id, 0) + 1
        seen = self.looks.get(run_id, 0)
        status = "IN_PROGRESS"
        if seen >= 3:
            status = "FAILED" if entity in self.failing else "COMPLETED"
        state: dict[str, str] = {"status": status}
        if status == "FAILED":
            state["errorMessage"] = f"scan of {entity} failed"
        blocks = [{"name": "Scan", "slug": "scan", "state": state}]
        return {
            "id": run_id,
            "status": status,
            "workflow": {"cid": "wf123", "tag": "deploy-service"},
            "scope": {"type": "ENTITY", "entityId": entity},
            "actions": blocks,
        }

    def _trigger(self, request: Request) -> Response:
        entity = json.loads(request.get_data())["scope"]["entityId"]
        run_id = f"run-{entity}"
        self.runs[run_id] = entity
        return json_response(self.run(run_id, look=False) | {"status": "NOT_INITIATED"}, 201)

    def _get(self, request: Request) -> Response:
        run_id = request.path.rsplit("/", 1)[1]
        return json_response(self.run(run_id))

    def _list(self, request: Request) -> Response:
        if "includeContext" in request.args:  # the history look-up: no history
            return json_response({"runs": []})
        newest = [self.run(r) for r in reversed(list(self.runs))]
        answer = self.rows(newest)
        return answer if isinstance(answer, Response) else json_response(answer)

    def reads(self) -> list[Request]:
        return [r for r, _ in self.server.log if "/runs/" in r.path and r.method == "GET"]

    def listings(self) -> list[Request]:
        return [
            r for r, _ in self.server.log if r.path == LIST_PATH and "includeContext" not in r.args
        ]


ENTITIES = "service-01,service-02,service-03,service-04,service-05"


def step(server: ManyRuns, tmp_path: Path) -> Any:
    env = github_env(tmp_path, server.server, entities=ENTITIES)
    return invoke(env, time=FakeTime())


def runs_of(done: Any) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = json.loads(done.outputs["runs"])
    return runs


def test_listings_see_every_run_with_few_requests(httpserver: HTTPServer, tmp_path: Path) -> None:
    """Five runs triggered together are looked at together: listings, hardly any reads."""
    cortex = ManyRuns(httpserver)
    done = step(cortex, tmp_path)
    assert done.exit_code == 0, done.log
    assert [r["status"] for r in runs_of(done)] == ["COMPLETED"] * 5
    assert len(cortex.listings()) <= 4
    assert len(cortex.reads()) == 0


def test_a_failed_run_seen_in_a_listing_is_reported_with_its_block(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    cortex = ManyRuns(httpserver)
    cortex.failing = {"service-03"}
    done = step(cortex, tmp_path)
    assert done.exit_code == 1, done.log
    assert [r["status"] for r in runs_of(done)][2] == "FAILED"
    assert "scan of service-03 failed" in done.summary


def test_rows_that_tell_less_than_a_read_are_confirmed_by_reads(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """A listing of id and status only: each run that ends there is read, so the result holds
    the run's full object and its failed block."""
    cortex = ManyRuns(
        httpserver, lambda runs: {"runs": [{"id": r["id"], "status": r["status"]} for r in runs]}
    )
    cortex.failing = {"service-02"}
    done = step(cortex, tmp_path)
    assert done.exit_code == 1, done.log
    runs = runs_of(done)
    assert [r["status"] for r in runs] == ["COMPLETED", "FAILED", *["COMPLETED"] * 3]
    assert all(r["run"]["scope"]["entityId"] == r["entity"] for r in runs)
    assert "scan of service-02 failed" in done.summary
    assert len(cortex.reads()) == 5  # one read a run, at its end


def test_a_row_about_another_entity_is_not_trusted(httpserver: HTTPServer, tmp_path: Path) -> None:
    """The listing says service-01's run COMPLETED on another entity: its own read decides."""

    def lie(runs: list[dict[str, Any]]) -> dict[str, Any]:
        for run in runs:
            if run["scope"]["entityId"] == "service-01":
                run["scope"]["entityId"] = "someone-else"
                run["status"] = "COMPLETED"
        return {"runs": runs}

    cortex = ManyRuns(httpserver, lie)
    cortex.failing = {"service-01"}
    done = step(cortex, tmp_path)
    assert done.exit_code == 1, done.log
    assert runs_of(done)[0]["status"] == "FAILED"
    assert runs_of(done)[0]["run"]["scope"]["entityId"] == "service-01"


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param(lambda runs: {"runs": runs + runs}, id="every-row-twice"),
        pytest.param(lambda runs: {"runs": []}, id="none-of-ours"),
        pytest.param(lambda runs: {"runs": [{"id": r["id"]} for r in runs]}, id="no-status"),
    ],
)
def test_a_listing_that_cant_be_used_is_given_up_for_reads(
    httpserver: HTTPServer, tmp_path: Path, rows: Rows
) -> None:
    cortex = ManyRuns(httpserver, rows)
    cortex.failing = {"service-04"}
    done = step(cortex, tmp_path)
    assert done.exit_code == 1, done.log
    assert [r["status"] for r in runs_of(done)] == [*["COMPLETED"] * 3, "FAILED", "COMPLETED"]
    assert "scan of service-04 failed" in done.summary
    # Listings stop once they have found none of the runs for a while; reads do the rest.
    assert len(cortex.listings()) <= 3


@pytest.mark.parametrize(
    "answer",
    [
        Response("<html>502 Bad Gateway</html>", 502, content_type="text/html"),
        Response("{", 200, content_type="application/json"),
        json_response({"message": "forbidden"}, 403),
        json_response({"message": "slow down"}, 429, {"Retry-After": "600"}),
    ],
    ids=["502", "garbled", "403", "429"],
)
def test_a_failing_listing_falls_back_to_reads_at_once(
    httpserver: HTTPServer, tmp_path: Path, answer: Response
) -> None:
    """One failed listing: the run due is read at once, and no listing is sent again."""
    cortex = ManyRuns(httpserver, lambda runs: answer)
    done = step(cortex, tmp_path)
    assert done.exit_code == 0, done.log
    assert [r["status"] for r in runs_of(done)] == ["COMPLETED"] * 5
    assert len(cortex.listings()) == 1
    assert "each run is read on its own from now on" in done.log
