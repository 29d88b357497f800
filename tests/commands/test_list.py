"""``list``: every filter reaches Cortex in its parameter, pages are followed, output is right."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support import base_env, github_env, invoke, query_of, tagged_run

LIST_PATH = "/api/v1/workflows/runs"


def make_runs(count: int, statuses: tuple[str, ...] = ("COMPLETED",)) -> list[dict[str, Any]]:
    return [
        tagged_run(
            f"run-{n:03d}",
            statuses[n % len(statuses)],
            dateCreated=f"2026-11-29T{n % 24:02d}:00:00Z",
            initiatedBy={"email": "ci-bot@example.com"},
        )
        for n in range(count)
    ]


@dataclass
class Listing:
    """A Cortex stand-in for the run listing: pages by `page`/`size`, in either envelope."""

    runs: list[dict[str, Any]]
    envelope: str = "spring"  # or "cortex", or "bare" (no paging signals at all)
    max_size: int = 1000
    ignore_page: bool = False
    seen: list[dict[str, list[str]]] = field(default_factory=list)

    def __call__(self, request: Request) -> Response:
        self.seen.append(query_of(request))
        page = 0 if self.ignore_page else int(request.args.get("page", "0"))
        size = min(int(request.args.get("size", "20")), self.max_size)
        chunk = self.runs[page * size : (page + 1) * size]
        pages = -(-len(self.runs) // size)
        body: Any
        if self.envelope == "spring":
            body = {
                "content": chunk,
                "totalElements": len(self.runs),
                "totalPages": pages,
                "number": page,
                "size": size,
                "last": page >= pages - 1,
            }
        elif self.envelope == "cortex":
            body = {"runs": chunk, "page": page, "total": len(self.runs), "totalPages": pages}
        else:
            body = {"workflowRuns": chunk}
        return Response(json.dumps(body), content_type="application/json")


def serve(server: HTTPServer, listing: Listing) -> Listing:
    server.expect_request(LIST_PATH, method="GET").respond_with_handler(listing)
    return listing


def list_cmd(*args: str) -> list[str]:
    return ["list", *args]


# -- the query Cortex receives ------------------------------------------------------------------


def test_no_filters_sends_paging_and_sort_only(api: HTTPServer) -> None:
    """Without filters, the one request carries page 0, size = limit, and dateCreated,desc."""
    listing = serve(api, Listing(make_runs(3)))
    result = invoke(base_env(api), list_cmd())
    assert result.exit_code == 0, result.stderr
    assert listing.seen == [
        {
            "includeContext": ["true"],
            "sort": ["dateCreated,desc"],
            "page": ["0"],
            "size": ["50"],
        }
    ]


def test_every_filter_reaches_cortex_in_its_parameter(api: HTTPServer) -> None:
    """workflow, search, entity, initiated-by and both dates map to the API's parameters
    (docs/cortex-api.md)."""
    listing = serve(api, Listing(make_runs(2)))
    result = invoke(
        base_env(api),
        list_cmd(
            "--workflow", "deploy-service",
            "--workflow", "scaffold-repo",
            "--search", "deploy",
            "--entity", "service-frontend",
            "--initiated-by", "deployer@example.com",
            "--started-after", "2026-11-28",
            "--started-before", "2026-11-30T10:00:00+02:00",
        ),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert listing.seen == [
        {
            "workflowIds": ["deploy-service", "scaffold-repo"],
            "searchQuery": ["deploy"],
            "entityId": ["service-frontend"],
            "initiatedBy": ["deployer@example.com"],
            "startedAfter": ["2026-11-28T00:00:00Z"],
            "startedBefore": ["2026-11-30T08:00:00Z"],
            "includeContext": ["true"],
            "sort": ["dateCreated,desc"],
            "page": ["0"],
            "size": ["50"],
        }
    ]


def test_workflows_comma_separated_are_repeated_workflow_ids(api: HTTPServer) -> None:
    """--workflow a,b sends workflowIds twice (the chosen encoding), never one joined value."""
    listing = serve(api, Listing([]))
    result = invoke(base_env(api), list_cmd("--workflow", "deploy-service, scaffold-repo"))
    assert result.exit_code == 0, result.stderr
    assert listing.seen[0]["workflowIds"] == ["deploy-service", "scaffold-repo"]


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("2026-11-30", "2026-11-30T00:00:00Z"),
        ("2026-11-30T08:00:00Z", "2026-11-30T08:00:00Z"),
        ("2026-11-30T08:00Z", "2026-11-30T08:00:00Z"),
        ("2026-11-30 08:00:00z", "2026-11-30T08:00:00Z"),
        ("2026-11-30T10:30:00+02:00", "2026-11-30T08:30:00Z"),
        ("2026-11-29T22:00:00-05:00", "2026-11-30T03:00:00Z"),
        ("2026-11-30T08:00:00.250Z", "2026-11-30T08:00:00.250Z"),
        ("24h", "2026-11-29T09:00:00Z"),
        ("7d", "2026-11-23T09:00:00Z"),
        ("30m", "2026-11-30T08:30:00Z"),
        ("1d12h", "2026-11-28T21:00:00Z"),
        ("2w", "2026-11-16T09:00:00Z"),
    ],
)
def test_date_forms_are_sent_as_iso_utc(api: HTTPServer, value: str, sent: str) -> None:
    """Dates, times with Z or offsets, and ages (against the injected now) become ISO 8601 UTC."""
    listing = serve(api, Listing([]))
    result = invoke(base_env(api), list_cmd("--started-after", value))
    assert result.exit_code == 0, result.stderr
    assert listing.seen[0]["startedAfter"] == [sent]
    result = invoke(base_env(api), list_cmd("--started-before", value))
    assert listing.seen[1]["startedBefore"] == [sent]


def test_filters_combine_with_relative_window_and_status(api: HTTPServer) -> None:
    """A relative window, an entity, a workflow and a status filter all apply at once."""
    listing = serve(api, Listing(make_runs(6, ("COMPLETED", "FAILED", "IN_PROGRESS"))))
    result = invoke(
        base_env(api),
        list_cmd(
            "--workflow", "deploy-service", "--entity", "service-frontend",
            "--started-after", "7d", "--started-before", "1h", "--status", "failed",
            "--format", "json",
        ),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert [r["id"] for r in json.loads(result.stdout)] == ["run-001", "run-004"]
    query = listing.seen[0]
    assert query["startedAfter"] == ["2026-11-23T09:00:00Z"]
    assert query["startedBefore"] == ["2026-11-30T08:00:00Z"]
    assert query["entityId"] == ["service-frontend"]
    assert query["workflowIds"] == ["deploy-service"]
    assert "status" not in query
    assert query["size"] == ["100"]


# -- paging -----------------------------------------------------------------------------------


@pytest.mark.parametrize("envelope", ["spring", "cortex"])
def test_pages_are_followed_until_the_last(api: HTTPServer, envelope: str) -> None:
    """A server that caps size at 4 is read page by page (0, 1, 2) in either envelope."""
    listing = serve(api, Listing(make_runs(10), envelope=envelope, max_size=4))
    result = invoke(base_env(api), list_cmd("--json"))
    assert result.exit_code == 0, result.stderr
    assert [q["page"] for q in listing.seen] == [["0"], ["1"], ["2"]]
    assert [r["id"] for r in json.loads(result.stdout)] == [f"run-{n:03d}" for n in range(10)]


def test_paging_stops_at_the_limit(api: HTTPServer) -> None:
    """With --limit 6 and pages of 4, two pages are read and 6 runs shown, with a note."""
    listing = serve(api, Listing(make_runs(20), max_size=4))
    result = invoke(base_env(api), list_cmd("--limit", "6", "--format", "jsonl"))
    assert result.exit_code == 0, result.stderr
    assert [q["size"] for q in listing.seen] == [["6"], ["6"]]
    lines = result.stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [f"run-{n:03d}" for n in range(6)]
    assert "more runs match" in result.stderr


def test_status_filter_reads_more_pages_to_fill_the_limit(api: HTTPServer) -> None:
    """Status is filtered here: pages are read until --limit runs of that status are found."""
    runs = make_runs(250, ("COMPLETED", "COMPLETED", "COMPLETED", "FAILED"))
    listing = serve(api, Listing(runs))
    result = invoke(base_env(api), list_cmd("--status", "FAILED", "--limit", "30", "--json"))
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert len(found) == 30
    assert {r["status"] for r in found} == {"FAILED"}
    assert [q["page"] for q in listing.seen] == [["0"], ["1"]]


def test_status_is_repeatable_and_any_case(api: HTTPServer) -> None:
    """--status may be repeated and comma-separated, in any case."""
    serve(api, Listing(make_runs(8, ("COMPLETED", "FAILED", "PAUSED", "CANCELLED"))))
    result = invoke(
        base_env(api), list_cmd("--status", "paused", "--status", "Cancelled,failed", "--json")
    )
    assert result.exit_code == 0, result.stderr
    assert [r["status"] for r in json.loads(result.stdout)] == ["FAILED", "PAUSED", "CANCELLED"] * 2


def test_a_page_without_signals_stops_when_short(api: HTTPServer) -> None:
    """An envelope with no paging fields stops at a page shorter than size."""
    listing = serve(api, Listing(make_runs(7), envelope="bare", max_size=5))
    result = invoke(base_env(api), list_cmd("--limit", "5", "--status", "completed", "--json"))
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 5
    assert len(listing.seen) == 1


def test_a_page_without_signals_stops_when_empty(api: HTTPServer) -> None:
    """With no paging fields and full pages, an empty page ends the listing."""
    listing = serve(api, Listing(make_runs(200), envelope="bare"))
    result = invoke(base_env(api), list_cmd("--limit", "1000", "--json"))
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 200
    assert [q["page"] for q in listing.seen] == [["0"], ["1"], ["2"]]


def test_a_server_that_ignores_page_is_not_read_forever(api: HTTPServer) -> None:
    """If every page is page 0 again, listing stops at the first page with nothing new."""
    listing = serve(api, Listing(make_runs(100), envelope="bare", ignore_page=True))
    result = invoke(base_env(api), list_cmd("--limit", "500", "--json"))
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 100
    assert len(listing.seen) == 2


# -- output -----------------------------------------------------------------------------------


def test_table_is_aligned_and_missing_fields_are_dashes(api: HTTPServer) -> None:
    """The table has a header, one aligned line per run, and '-' where Cortex said nothing."""
    runs = [
        tagged_run(
            "run-a",
            "COMPLETED",
            scope={"type": "ENTITY", "entityId": "service-frontend"},
            dateStarted="2026-11-30T07:00:00.123Z",
            initiatedBy={"email": "ci-bot@example.com"},
        ),
        {"id": "run-bb", "status": "in_progress"},
    ]
    serve(api, Listing(runs))
    result = invoke(base_env(api), list_cmd())
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ID      STATUS       WORKFLOW        ENTITY            STARTED               INITIATOR",
        "run-a   COMPLETED    deploy-service  service-frontend  2026-11-30 07:00:00Z  "
        "ci-bot@example.com",
        "run-bb  IN_PROGRESS  -               -                 -                     -",
    ]
    assert "2 runs found (1 page read)" in result.stderr


def test_empty_results_in_every_format(api: HTTPServer, tmp_path: Path) -> None:
    """No runs: a plain sentence in the table, [] in JSON, nothing in JSONL; count 0."""
    serve(api, Listing([]))
    assert invoke(base_env(api), list_cmd()).stdout == "No runs matched.\n"
    assert json.loads(invoke(base_env(api), list_cmd("--json")).stdout) == []
    assert invoke(base_env(api), list_cmd("--format", "jsonl")).stdout == ""
    result = invoke(github_env(tmp_path, api, workflow="", command="list"))
    assert result.exit_code == 0, result.stdout
    assert result.outputs == {"runs": "[]", "count": "0"}
    assert "No runs matched" in result.summary


def test_json_keeps_the_runs_as_cortex_sent_them(api: HTTPServer) -> None:
    """--json prints one array of the raw run objects, unknown fields included."""
    runs = [tagged_run("run-x", "FAILED", childRuns=[{"id": "c1"}], extra={"n": 1})]
    serve(api, Listing(runs))
    result = invoke(base_env(api), list_cmd("--json"))
    assert json.loads(result.stdout) == runs


def test_json_output_cannot_carry_a_workflow_command(api: HTTPServer) -> None:
    """A Cortex string with ##[ stays valid JSON but is no workflow command in the log."""
    runs = [tagged_run("run-x", "FAILED", note="##[error]fake")]
    serve(api, Listing(runs))
    result = invoke(base_env(api), list_cmd("--json"))
    assert "##[" not in result.stdout
    assert json.loads(result.stdout)[0]["note"] == "##[error]fake"


# -- action mode ------------------------------------------------------------------------------


def test_action_mode_list_writes_runs_count_and_a_summary(api: HTTPServer, tmp_path: Path) -> None:
    """command: list with newline-separated workflows and filters writes runs, count, a summary."""
    listing = serve(api, Listing(make_runs(5, ("COMPLETED", "FAILED"))))
    env = github_env(
        tmp_path,
        api,
        command="list",
        workflow="deploy-service\nscaffold-repo",
        status="completed",
        limit="2",
        started_after="24h",
        search="deploy",
        initiated_by="ci-bot@example.com",
    )
    result = invoke(env)
    assert result.exit_code == 0, result.stdout
    assert listing.seen[0]["workflowIds"] == ["deploy-service", "scaffold-repo"]
    assert listing.seen[0]["startedAfter"] == ["2026-11-29T09:00:00Z"]
    assert listing.seen[0]["searchQuery"] == ["deploy"]
    assert listing.seen[0]["initiatedBy"] == ["ci-bot@example.com"]
    assert result.outputs["count"] == "2"
    assert [r["id"] for r in json.loads(result.outputs["runs"])] == ["run-000", "run-002"]
    assert "| Run | Status | Workflow | Entity | Started | Initiator |" in result.summary
    assert "[`run-000`](http://localhost" in result.summary
    assert "✅ COMPLETED" in result.summary
    assert "run-000" in result.stdout  # the table is in the log too


def test_summary_escapes_cortex_strings(api: HTTPServer, tmp_path: Path) -> None:
    """Workflow tags and initiators from Cortex can't break the Markdown table or add HTML."""
    runs = [
        tagged_run(
            "run-x",
            "FAILED",
            workflow="<img src=x onerror=alert(1)>|pwn",
            initiatedBy={"email": "a|b@example.com"},
        )
    ]
    serve(api, Listing(runs))
    result = invoke(github_env(tmp_path, api, workflow="", command="list"))
    assert result.exit_code == 0, result.stdout
    row = next(line for line in result.summary.splitlines() if "run-x" in line)
    assert "<img" not in row
    assert "&lt;img src=x onerror=alert(1)&gt;\\|pwn" in row
    assert row.count(" | ") == 5  # six cells, none added by Cortex's text
    assert result.outputs["count"] == "1"


# -- workflows are sent as given ----------------------------------------------------------------


def test_workflow_is_sent_as_given_with_no_other_request(api: HTTPServer) -> None:
    """`list --workflow deploy-service` sends workflowIds=deploy-service and nothing else: no
    lookup of the definition (it has no id field, and may need a permission the token lacks)."""
    listing = serve(api, Listing([]))
    result = invoke(base_env(api), list_cmd("--workflow", "deploy-service"))
    assert result.exit_code == 0, result.stderr
    assert listing.seen[0]["workflowIds"] == ["deploy-service"]
    assert [r.path for r, _ in api.log] == [LIST_PATH]


def test_workflow_ids_and_tags_are_sent_alike(api: HTTPServer) -> None:
    """A CID and a tag side by side are both sent as given, in order, once each."""
    listing = serve(api, Listing([]))
    result = invoke(
        base_env(api), list_cmd("--workflow", "wf5a1c0e7d9b3f2a41,deploy-service,deploy-service")
    )
    assert result.exit_code == 0, result.stderr
    assert listing.seen[0]["workflowIds"] == ["wf5a1c0e7d9b3f2a41", "deploy-service"]
    assert [r.path for r, _ in api.log] == [LIST_PATH]


def test_listing_errors_are_exit_3(api: HTTPServer) -> None:
    """A 401 on the listing is exit 3 with the hint about the token."""
    api.expect_request(LIST_PATH).respond_with_json({"message": "Unauthorized"}, status=401)
    result = invoke(base_env(api), list_cmd())
    assert result.exit_code == 3
    assert "api-token" in result.stderr


# -- bad values: exit 2, nothing sent -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--started-after", "yesterday"], "started-after:"),
        (["--started-after", "2026-13-01"], "started-after:"),
        (["--started-after", "30/11/2026"], "started-after:"),
        (["--started-after", "0001-01-01T00:00:00+01:00"], "started-after:"),  # before year 1
        (
            ["--started-before", "2026-11-30T08:00:00"],
            "started-before: '2026-11-30T08:00:00' has no",
        ),
        (["--started-before", "0h"], "started-before:"),
        (["--started-before", "-5d"], "started-before:"),
        (["--started-after", "2026-12-01", "--started-before", "2026-11-30"], "started-after:"),
        (["--started-after", "1d", "--started-before", "7d"], "started-after: must be earlier"),
        (["--status", "DONE"], "status: expected statuses among"),
        (["--status", "completed,, nope"], "'NOPE'"),
        (["--limit", "0"], "limit:"),
        (["--limit", "1001"], "limit:"),
        (["--limit", "ten"], "limit:"),
        (["--format", "xml"], "format:"),
        (["--initiated-by", "bob"], "initiated-by:"),
        (["--search", "a\x1bb"], "search:"),
        (["--workflow", "a\x07b"], "workflow:"),
    ],
)
def test_bad_filter_values_exit_2_and_send_nothing(
    api: HTTPServer, args: list[str], named: str
) -> None:
    """Each bad value is exit 2, names its input, and no request reaches Cortex."""
    result = invoke(base_env(api), list_cmd(*args))
    assert result.exit_code == 2, result.stderr
    assert named in result.stderr
    assert api.log == []


def test_bad_action_inputs_are_all_reported_at_once(api: HTTPServer, tmp_path: Path) -> None:
    """In action mode, several bad list inputs are listed together; nothing is sent."""
    env = github_env(
        tmp_path, api, workflow="", command="list", status="done", limit="-1", started_after="later"
    )
    result = invoke(env)
    assert result.exit_code == 2
    assert "3 inputs are invalid" in result.stdout
    for name in ("status:", "limit:", "started-after:"):
        assert name in result.stdout
    assert api.log == []


def test_help_states_the_window_and_client_side_status(api: HTTPServer) -> None:
    """--help says Cortex keeps 30 days and that status is filtered here."""
    result = invoke(base_env(api), ["list", "--help"])
    shown = result.stdout
    assert result.exit_code == 0
    assert "last 30 days" in shown
    assert "Cortex has no status filter" in shown


def test_started_after_older_than_30_days_warns(api: HTTPServer) -> None:
    """An older start than Cortex keeps is sent, with a warning that older runs aren't listed."""
    serve(api, Listing([]))
    result = invoke(base_env(api), list_cmd("--started-after", "45d"))
    assert result.exit_code == 0
    assert "only the runs of the last 30 days" in result.stderr
