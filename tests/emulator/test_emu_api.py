"""The API's rules (docs/cortex-api.md): auth, validation, scope, lookups, idempotency, limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml

from cortex_action.emulator import EmulatorServer, default_config
from cortex_action.emulator.testing import EmulatorFactory

from .conftest import FRONTEND, GLOBAL, ManualClock, api_client

ERROR_KEYS = {"type", "message", "details", "requestId", "httpStatus"}


def assert_cortex_error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert set(body) == ERROR_KEYS
    assert body["httpStatus"] == status
    assert body["message"]
    assert body["requestId"]
    return body


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", "Basic emulator-token", "emulator-token"]
)
def test_missing_or_bad_token_is_401(emulator: EmulatorServer, authorization: str | None) -> None:
    """No token, an unknown token or another scheme get 401 with Cortex's error body."""
    headers = {} if authorization is None else {"Authorization": authorization}
    resp = httpx.post(
        f"{emulator.url}/api/v1/workflows/deploy-service/runs", json=FRONTEND, headers=headers
    )
    body = assert_cortex_error(resp, 401)
    assert body["type"] == "UNAUTHORIZED"
    assert emulator.runs == []


def test_view_only_token_cannot_trigger(emulator: EmulatorServer) -> None:
    """A token without the trigger permission gets 403 and no run is created."""
    with api_client(emulator, "emulator-view-only") as c:
        body = assert_cortex_error(c.post("/workflows/deploy-service/runs", json=FRONTEND), 403)
        assert "Execute Workflow Runs" in body["details"]
        assert c.get("/workflows/runs").status_code == 200
    assert emulator.runs == []


def test_no_access_token_cannot_read(emulator: EmulatorServer, client: httpx.Client) -> None:
    """A token without the view permission gets 403 on reads."""
    run_id = client.post("/workflows/deploy-service/runs", json=FRONTEND).json()["id"]
    with api_client(emulator, "emulator-no-access") as c:
        assert_cortex_error(c.get(f"/workflows/deploy-service/runs/{run_id}"), 403)
        assert_cortex_error(c.get("/workflows/runs"), 403)
        assert_cortex_error(c.get("/workflows/deploy-service"), 403)


def test_trigger_by_tag_and_by_id_and_read_back(client: httpx.Client) -> None:
    """The workflow's tag and its CID both work in the path, for trigger and read."""
    by_tag = client.post("/workflows/deploy-service/runs", json=FRONTEND)
    by_id = client.post("/workflows/wf5a1c0e7d9b3f2a41/runs", json=FRONTEND)
    assert by_tag.status_code == by_id.status_code == 200
    run = by_id.json()
    assert run["workflow"] == {
        "cid": "wf5a1c0e7d9b3f2a41",
        "tag": "deploy-service",
        "name": "Deploy service",
    }
    for ref in ("deploy-service", "wf5a1c0e7d9b3f2a41"):
        got = client.get(f"/workflows/{ref}/runs/{run['id']}")
        assert got.status_code == 200
        assert got.json()["id"] == run["id"]


def test_run_object_shape(client: httpx.Client) -> None:
    """A run has a UUID id, a status, workflow, one action per block, and no context by default."""
    run = client.post("/workflows/deploy-service/runs", json=FRONTEND).json()
    assert len(run["id"]) == 36
    assert run["id"].count("-") == 4
    assert isinstance(run["status"], str)
    assert [a["slug"] for a in run["actions"]] == ["build-image", "deploy", "smoke-test"]
    assert all({"name", "slug", "type", "state"} <= set(a) for a in run["actions"])
    assert "context" not in run
    assert run["scope"] == {"type": "ENTITY", "entityId": "service-frontend"}


def test_include_context_adds_context(client: httpx.Client) -> None:
    """includeContext=true adds the initiator, entity and variables."""
    body = {
        **FRONTEND,
        "runAs": "dev@example.com",
        "initialContext": {"environment": "staging", "version": "1.2.3"},
        "notificationRecipients": ["team@example.com"],
    }
    run_id = client.post("/workflows/deploy-service/runs", json=body).json()["id"]
    got = client.get(
        f"/workflows/deploy-service/runs/{run_id}", params={"includeContext": "true"}
    ).json()
    assert got["context"]["initialContext"] == {"environment": "staging", "version": "1.2.3"}
    assert got["context"]["initiator"] == {"email": "dev@example.com"}
    assert got["context"]["entity"]["tag"] == "service-frontend"
    assert got["context"]["notificationRecipients"] == ["team@example.com"]


def test_entity_by_id_is_accepted(client: httpx.Client) -> None:
    """scope.entityId may be the entity's id as well as its tag."""
    body = {"scope": {"type": "ENTITY", "entityId": "en0a1b2c3d4e5f6071"}}
    resp = client.post("/workflows/deploy-service/runs", json=body)
    assert resp.status_code == 200
    assert resp.json()["scope"]["entityId"] == "service-backend"


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/workflows/no-such-workflow/runs", "POST"),
        ("/workflows/no-such-workflow/runs/123", "GET"),
        ("/workflows/deploy-service/runs/00000000-0000-0000-0000-000000000000", "GET"),
        ("/workflows/no-such-workflow", "GET"),
        ("/no/such/endpoint", "GET"),
    ],
)
def test_unknown_things_are_404(client: httpx.Client, path: str, method: str) -> None:
    """Unknown workflows, runs and endpoints get 404 with Cortex's error body."""
    resp = client.request(method, path, json=FRONTEND if method == "POST" else None)
    assert assert_cortex_error(resp, 404)["type"] == "NOT_FOUND"


def test_run_of_another_workflow_is_404(client: httpx.Client) -> None:
    """A run id read under another workflow's path is not found."""
    run_id = client.post("/workflows/scaffold-repo/runs", json=GLOBAL).json()["id"]
    assert_cortex_error(client.get(f"/workflows/deploy-service/runs/{run_id}"), 404)


def test_unknown_entity_is_404(emulator: EmulatorServer, client: httpx.Client) -> None:
    """An ENTITY scope naming no known entity gets 404 and no run."""
    body = {"scope": {"type": "ENTITY", "entityId": "service-nope"}}
    assert_cortex_error(client.post("/workflows/deploy-service/runs", json=body), 404)
    assert emulator.runs == []


@pytest.mark.parametrize(
    ("tag", "scope"),
    [("deploy-service", {"type": "GLOBAL"}), ("scaffold-repo", FRONTEND["scope"])],
)
def test_scope_mismatch_is_400(client: httpx.Client, tag: str, scope: dict[str, Any]) -> None:
    """A scope type unlike the workflow's own gets 400 with Cortex's error body."""
    body = assert_cortex_error(client.post(f"/workflows/{tag}/runs", json={"scope": scope}), 400)
    assert "scope" in body["details"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/scope"),
        ({"scope": {"type": "SOMETHING"}}, "/scope/type"),
        ({"scope": {"type": "ENTITY"}}, "/scope/entityId"),
        (
            {**FRONTEND, "initialContext": {"environment": "x", "colour": "red"}},
            "/initialContext/colour",
        ),
        ({**FRONTEND, "initialContext": ["environment"]}, "/initialContext"),
        ({**FRONTEND, "runAs": "not-an-email"}, "/runAs"),
        ({**FRONTEND, "notificationRecipients": "team@example.com"}, "/notificationRecipients"),
    ],
)
def test_validation_errors_are_violations(
    emulator: EmulatorServer, client: httpx.Client, body: dict[str, Any], pointer: str
) -> None:
    """Invalid bodies, including unknown initialContext keys, get 400 {"violations": [...]}."""
    resp = client.post("/workflows/deploy-service/runs", json=body)
    assert resp.status_code == 400
    found = resp.json()["violations"]
    assert all({"title", "description", "violationType", "pointer"} <= set(v) for v in found)
    assert pointer in [v["pointer"] for v in found]
    assert emulator.runs == []


def test_malformed_json_body_is_400(client: httpx.Client) -> None:
    """A body that is not JSON gets 400 with Cortex's error body."""
    resp = client.post(
        "/workflows/deploy-service/runs",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert_cortex_error(resp, 400)


def test_not_runnable_via_api_is_403(emulator: EmulatorServer, client: httpx.Client) -> None:
    """A workflow with isRunnableViaApi off is refused with 403."""
    body = assert_cortex_error(client.post("/workflows/not-runnable/runs", json=GLOBAL), 403)
    assert "runnable via API" in body["message"]
    assert emulator.runs == []


def test_api_off_for_the_tenant_is_403(make_emulator: EmulatorFactory) -> None:
    """With the Workflow Runs API off every trigger gets 403 "Running a workflow is not enabled"."""
    emu = make_emulator(default_config({"behaviour": {"workflowRunsApiEnabled": False}}))
    with api_client(emu) as c:
        body = assert_cortex_error(c.post("/workflows/scaffold-repo/runs", json=GLOBAL), 403)
    assert body["message"] == "Running a workflow is not enabled"


@pytest.mark.parametrize("code", [200, 201, 202])
def test_trigger_status_code_is_configurable(make_emulator: EmulatorFactory, code: int) -> None:
    """behaviour.triggerStatus picks the 2xx a trigger answers."""
    emu = make_emulator(default_config({"behaviour": {"triggerStatus": code}}))
    with api_client(emu) as c:
        assert c.post("/workflows/scaffold-repo/runs", json=GLOBAL).status_code == code


def test_body_over_2mb_is_413(emulator: EmulatorServer, client: httpx.Client) -> None:
    """A body above 2 MB is refused."""
    big = {**GLOBAL, "initialContext": {"repoName": "x" * (2 * 1024 * 1024)}}
    assert_cortex_error(client.post("/workflows/scaffold-repo/runs", json=big), 413)
    assert emulator.runs == []


def test_wrong_method_is_405(client: httpx.Client) -> None:
    """Methods the API does not serve on a path get 405."""
    assert_cortex_error(client.delete("/workflows/deploy-service/runs"), 405)
    assert_cortex_error(client.post("/workflows/runs"), 405)


def test_workflow_definition_json_and_yaml(client: httpx.Client) -> None:
    """GET /workflows/{tag} describes the workflow, as JSON or (Accept: yaml) YAML."""
    data = client.get("/workflows/deploy-service").json()
    assert data["tag"] == "deploy-service"
    assert data["isRunnableViaApi"] is True
    assert [v["slug"] for v in data["variables"]] == ["environment", "version"]
    assert [a["slug"] for a in data["actions"]] == ["build-image", "deploy", "smoke-test"]
    resp = client.get("/workflows/wf5a1c0e7d9b3f2a41", headers={"Accept": "application/yaml"})
    assert resp.headers["content-type"] == "application/yaml"
    assert yaml.safe_load(resp.text)["tag"] == "deploy-service"


def test_list_workflows(client: httpx.Client) -> None:
    """GET /workflows lists every configured workflow."""
    data = client.get("/workflows").json()
    assert "deploy-service" in [w["tag"] for w in data["workflows"]]
    assert data["total"] == len(data["workflows"])


# -- Idempotency-Key -------------------------------------------------------------------------


def test_same_idempotency_key_replays_the_cached_response(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    """A repeated key gets the very same status and body, and no second run."""
    headers = {"Idempotency-Key": "key-1"}
    first = client.post("/workflows/deploy-service/runs", json=FRONTEND, headers=headers)
    emulator.wait_for_status(first.json()["id"], "COMPLETED")
    again = client.post("/workflows/deploy-service/runs", json=FRONTEND, headers=headers)
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert len(emulator.runs) == 1
    other = client.post("/workflows/deploy-service/runs", json=FRONTEND)
    assert other.json()["id"] != first.json()["id"]
    assert len(emulator.runs) == 2


def test_failed_trigger_does_not_consume_the_key(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    """Only successful triggers are cached: a corrected retry with the same key runs."""
    headers = {"Idempotency-Key": "key-2"}
    bad = client.post("/workflows/deploy-service/runs", json=GLOBAL, headers=headers)
    assert bad.status_code == 400
    good = client.post("/workflows/deploy-service/runs", json=FRONTEND, headers=headers)
    assert good.status_code == 200
    assert len(emulator.runs) == 1


@pytest.mark.parametrize(("mode", "expected"), [("cached", 200), ("409", 409), ("422", 422)])
def test_reused_key_with_another_body(
    make_emulator: EmulatorFactory, mode: str, expected: int
) -> None:
    """A key reused with another body gets the cached result (default) or 409/422 as configured."""
    emu = make_emulator(default_config({"behaviour": {"idempotency": {"conflict": mode}}}))
    headers = {"Idempotency-Key": "key-3"}
    with api_client(emu) as c:
        first = c.post("/workflows/deploy-service/runs", json=FRONTEND, headers=headers)
        body = {**FRONTEND, "initialContext": {"environment": "prod"}}
        second = c.post("/workflows/deploy-service/runs", json=body, headers=headers)
    assert second.status_code == expected
    if mode == "cached":
        assert second.content == first.content
    else:
        assert set(second.json()) == ERROR_KEYS
    assert len(emu.runs) == 1


def test_idempotency_window_expires(make_emulator: EmulatorFactory, clock: ManualClock) -> None:
    """After behaviour.idempotency.windowSeconds (scaled) the same key starts a new run."""
    config = default_config({"behaviour": {"idempotency": {"windowSeconds": 60}}})
    emu = make_emulator(config, speed=1.0, clock=clock)
    headers = {"Idempotency-Key": "key-4"}
    with api_client(emu) as c:
        first = c.post("/workflows/scaffold-repo/runs", json=GLOBAL, headers=headers).json()
        clock.advance(59)
        assert c.post("/workflows/scaffold-repo/runs", json=GLOBAL, headers=headers).json() == first
        clock.advance(2)
        third = c.post("/workflows/scaffold-repo/runs", json=GLOBAL, headers=headers).json()
    assert third["id"] != first["id"]


# -- rate limit --------------------------------------------------------------------------------


def test_rate_limit_answers_429_problem_json(
    make_emulator: EmulatorFactory, clock: ManualClock
) -> None:
    """Past perMinute requests a client gets 429 problem+json with Retry-After, then recovers."""
    config = default_config({"behaviour": {"rateLimit": {"enabled": True, "perMinute": 3}}})
    emu = make_emulator(config, clock=clock)
    with api_client(emu) as c:
        assert [c.get("/workflows").status_code for _ in range(3)] == [200, 200, 200]
        clock.advance(20)
        resp = c.get("/workflows")
        assert resp.status_code == 429
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.headers["Retry-After"] == "40"
        assert resp.json() == {
            "type": "about:blank",
            "title": "Too Many Requests",
            "status": 429,
            "detail": "Rate limit of 3 requests per minute exceeded",
            "retryAfter": 40,
        }
        clock.advance(40)
        assert c.get("/workflows").status_code == 200


# -- request log -------------------------------------------------------------------------------


def test_request_log_records_requests_without_the_token(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    """The log keeps method, path, query, headers (token redacted), JSON body and status."""
    client.post("/workflows/deploy-service/runs", json=FRONTEND, headers={"Idempotency-Key": "k"})
    client.get("/workflows/runs", params={"workflowIds": ["a", "b"]})
    first, second = emulator.requests
    assert (first.method, first.path, first.status) == (
        "POST",
        "/api/v1/workflows/deploy-service/runs",
        200,
    )
    assert first.json == FRONTEND
    assert first.headers["idempotency-key"] == "k"
    assert first.headers["authorization"] == "Bearer ***"
    assert first.run_id == emulator.runs[0]["id"]
    assert second.query == {"workflowIds": ["a", "b"]}
    assert second.json is None
    assert emulator.token not in repr(emulator.requests)


def test_percent_encoded_tag_is_decoded(client: httpx.Client) -> None:
    """Path segments are percent-decoded: an encoded tag finds its workflow."""
    assert client.get("/workflows/deploy%2Dservice").json()["tag"] == "deploy-service"


def test_config_tokens_and_workflows_are_used(make_emulator: EmulatorFactory) -> None:
    """A config given as a dict defines the tokens and workflows served."""
    emu = make_emulator(
        {
            "tokens": [{"value": "t0k", "permissions": ["trigger", "view"]}],
            "workflows": [{"tag": "hello", "blocks": [{"name": "Hi", "slug": "hi"}]}],
        }
    )
    assert emu.token == "t0k"
    with api_client(emu) as c:
        run = c.post("/workflows/hello/runs", json=GLOBAL).json()
    assert run["workflow"]["cid"].startswith("wf")
    assert emu.wait_for_status(run["id"], "COMPLETED")["status"] == "COMPLETED"


def test_chunked_body_is_read(emulator: EmulatorServer, client: httpx.Client) -> None:
    """A chunked request body is read whole, and the connection stays usable."""
    parts = [b'{"scope": ', b'{"type": "GLOBAL"}}']
    resp = client.post("/workflows/scaffold-repo/runs", content=iter(parts))
    assert resp.status_code == 200
    assert emulator.requests[-1].headers["transfer-encoding"] == "chunked"
    assert client.get("/workflows").status_code == 200


def test_a_bug_answers_500_not_a_dropped_connection(
    emulator: EmulatorServer, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception inside the emulator answers 500 with Cortex's error body."""

    def broken(_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(emulator.api, "handle", broken)
    body = assert_cortex_error(client.get("/workflows"), 500)
    assert "boom" in body["details"]
