"""GET /workflows/{tagOrId}: Cortex's field names, and what the definition enforces on a trigger."""

from __future__ import annotations

import httpx

from cortex_action.emulator import EmulatorServer, default_config
from cortex_action.emulator.testing import EmulatorFactory

from .conftest import FRONTEND, GLOBAL, api_client

ERROR_KEYS = {"type", "message", "details", "requestId", "httpStatus"}


def test_definition_has_cortex_field_names(client: httpx.Client) -> None:
    """name, tag, description, isDraft, isRunnableViaApi, variables, filter, actions, restrict..."""
    data = client.get("/workflows/deploy-service").json()
    assert {
        "name",
        "tag",
        "description",
        "isDraft",
        "isRunnableViaApi",
        "variables",
        "filter",
        "actions",
        "restrictActionCompletionToRunnerUser",
    } <= set(data)
    assert data["isDraft"] is False
    assert data["restrictActionCompletionToRunnerUser"] is False
    assert data["variables"][0] == {"slug": "environment", "name": "environment", "type": "TEXT"}
    assert data["filter"] == {"type": "ENTITY_FILTER", "entityFilterType": "ALL_ENTITIES"}
    assert data["actions"][0]["type"] == "HTTP_REQUEST"
    assert [a["name"] for a in data["actions"]] == ["Build image", "Deploy", "Smoke test"]
    assert client.get("/workflows/scaffold-repo").json()["filter"] == {"type": "GLOBAL_FILTER"}


def test_definition_from_config(make_emulator: EmulatorFactory) -> None:
    """Variables may be objects; restrictActionCompletionToRunnerUser comes from the config."""
    wf = {
        "tag": "release",
        "variables": ["env", {"slug": "version", "name": "Version", "type": "SEMVER"}],
        "restrictActionCompletionToRunnerUser": True,
        "blocks": [{"name": "Go", "slug": "go"}],
    }
    emu = make_emulator({"tokens": [{"value": "t"}], "workflows": [wf]})
    with api_client(emu, "t") as c:
        data = c.get("/workflows/release").json()
        assert data["variables"] == [
            {"slug": "env", "name": "env", "type": "TEXT"},
            {"slug": "version", "name": "Version", "type": "SEMVER"},
        ]
        assert data["restrictActionCompletionToRunnerUser"] is True
        ok = c.post("/workflows/release/runs", json={**GLOBAL, "initialContext": {"version": "1"}})
        assert ok.status_code == 200


def test_unknown_workflow_definition_is_404(client: httpx.Client) -> None:
    resp = client.get("/workflows/no-such-workflow")
    assert resp.status_code == 404
    assert set(resp.json()) == ERROR_KEYS


def test_draft_is_refused_with_403(emulator: EmulatorServer, client: httpx.Client) -> None:
    """A draft's definition says isDraft; a trigger gets 403 and no run."""
    assert client.get("/workflows/draft-deploy").json()["isDraft"] is True
    resp = client.post("/workflows/draft-deploy/runs", json=GLOBAL)
    assert resp.status_code == 403
    assert "draft" in resp.json()["message"].lower()
    assert emulator.runs == []


def test_not_runnable_via_api_is_403(client: httpx.Client) -> None:
    assert client.get("/workflows/not-runnable").json()["isRunnableViaApi"] is False
    resp = client.post("/workflows/not-runnable/runs", json=GLOBAL)
    assert resp.status_code == 403
    assert "Runnable via API" in resp.json()["details"]


def test_unknown_context_key_only_when_variables_are_declared(client: httpx.Client) -> None:
    """A workflow with variables refuses other keys (400 violations); one without takes any."""
    bad = client.post(
        "/workflows/deploy-service/runs", json={**FRONTEND, "initialContext": {"colour": "red"}}
    )
    assert bad.status_code == 400
    assert bad.json()["violations"][0]["pointer"] == "/initialContext/colour"
    free = client.post("/workflows/long-running/runs", json={**GLOBAL, "initialContext": {"x": 1}})
    assert free.status_code == 200


def test_token_without_view_workflows_gets_403_on_the_definition_but_triggers(
    emulator: EmulatorServer,
) -> None:
    with api_client(emulator, "emulator-no-workflows") as c:
        denied = c.get("/workflows/deploy-service")
        assert denied.status_code == 403
        assert set(denied.json()) == ERROR_KEYS
        assert c.get("/workflows/no-such-workflow").status_code == 404
        run = c.post("/workflows/deploy-service/runs", json=FRONTEND)
        assert run.status_code == 200
        assert c.get(f"/workflows/deploy-service/runs/{run.json()['id']}").status_code == 200


def test_view_workflows_switch_in_a_config() -> None:
    cfg = default_config({"tokens": [{"value": "x", "viewWorkflows": False}]})
    assert cfg.tokens[0].view_workflows is False
    assert cfg.tokens[0].edit_runs is True


def test_filter_from_config_is_served_as_given(make_emulator: EmulatorFactory) -> None:
    shape = {"type": "ENTITY_FILTER", "entityTypes": ["service"]}
    wf = {"tag": "scoped", "scope": "ENTITY", "filter": shape}
    emu = make_emulator({"tokens": [{"value": "t"}], "workflows": [wf]})
    with api_client(emu, "t") as c:
        assert c.get("/workflows/scoped").json()["filter"] == shape


def test_list_of_workflows_needs_view_workflows(emulator: EmulatorServer) -> None:
    with api_client(emulator, "emulator-no-workflows") as c:
        assert c.get("/workflows").status_code == 403
