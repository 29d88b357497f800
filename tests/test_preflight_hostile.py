"""A hostile or odd Cortex at the preflight: stalling, foreign or huge definitions never cost
more than the preflight's budget, never block a run on a guess, never bury the log."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cortex_action.commands.preflight import BUDGET
from tests.support import FakeTime, github_env, invoke

DEFINITION = "/api/v1/workflows/deploy-service"


def cortex(
    definition: Callable[[httpx.Request], httpx.Response],
) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == DEFINITION:
            return definition(request)
        if request.method == "POST":
            return httpx.Response(201, json={"id": "r1", "status": "NOT_INITIATED"})
        return httpx.Response(200, json={"id": "r1", "status": "COMPLETED"})

    return httpx.MockTransport(handler), seen


def stall(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("no answer", request=request)


@pytest.mark.parametrize(
    "definition",
    [
        stall,
        lambda r: httpx.Response(503, json={"message": "down"}),
        lambda r: httpx.Response(200, json=[1, 2, 3]),
        lambda r: httpx.Response(200, json={"id": "r1", "status": "COMPLETED"}),
        lambda r: httpx.Response(500, text=""),
        lambda r: httpx.Response(401, json={"message": "bad token"}),
    ],
    ids=["stall", "503", "list", "foreign", "500-empty", "401"],
)
def test_an_unreadable_definition_never_blocks_and_costs_at_most_the_budget(
    tmp_path: Path, definition: Callable[[httpx.Request], httpx.Response]
) -> None:
    transport, seen = cortex(definition)
    time = FakeTime()
    result = invoke(github_env(tmp_path, "https://api.example.com"), time=time, transport=transport)
    assert result.exit_code == 0, result.log
    assert [r.method for r in seen].count("POST") == 1
    notes = [line for line in result.log.splitlines() if line.startswith("Note: ")]
    assert len(notes) == 1, result.log
    assert "Retrying" not in result.log  # a nicety's retries are not announced one by one
    first_trigger = next(i for i, r in enumerate(seen) if r.method == "POST")
    assert all(r.url.path == DEFINITION for r in seen[:first_trigger])
    assert sum(time.sleeps[: first_trigger - 1]) <= BUDGET


def test_the_web_app_at_the_preflight_stops_at_once(tmp_path: Path) -> None:
    """base-url answering with a web page: the trigger would get it too, so nothing is sent."""
    transport, seen = cortex(lambda r: httpx.Response(200, text="<html><title>Login</title>"))
    result = invoke(github_env(tmp_path, "https://api.example.com"), transport=transport)
    assert result.exit_code == 3
    assert "`base-url` must be the API host" in result.log
    assert [r.method for r in seen] == ["GET"]


def test_a_huge_definition_gives_a_short_refusal(tmp_path: Path) -> None:
    slugs = [{"slug": f"var{i}"} for i in range(50_000)]
    transport, seen = cortex(lambda r: httpx.Response(200, json={"variables": slugs}))
    context = json.dumps({f"bad{i}": i for i in range(1000)})
    env = github_env(tmp_path, "https://api.example.com", **{"initial-context": context})
    result = invoke(env, transport=transport)
    assert result.exit_code == 2
    assert "(and 49950 more)" in result.log
    assert len(result.log) < 10_000
    assert [r.method for r in seen] == ["GET"]


def test_a_lying_definition_can_be_skipped(tmp_path: Path) -> None:
    """A definition that wrongly says "not runnable" is refused; preflight false gets past it."""
    transport, seen = cortex(lambda r: httpx.Response(200, json={"isRunnableViaApi": False}))
    refused = invoke(github_env(tmp_path, "https://api.example.com"), transport=transport)
    assert refused.exit_code == 2
    assert "no run was started" in refused.log
    env = github_env(tmp_path, "https://api.example.com", preflight="false")
    passed = invoke(env, transport=transport)
    assert passed.exit_code == 0
    assert [r.method for r in seen].count("POST") == 1


@pytest.mark.parametrize("flag", ["--dry-run=maybe", "--dry-runn", "--dry"])
def test_a_misspelt_dry_run_is_exit_2_and_sends_nothing(tmp_path: Path, flag: str) -> None:
    transport, seen = cortex(stall)
    env = {"CORTEX_API_TOKEN": "t", "CORTEX_BASE_URL": "https://api.example.com"}
    result = invoke(env, ["run", "--workflow", "deploy-service", flag], transport=transport)
    assert result.exit_code == 2
    assert seen == []


def test_a_stalling_definition_leaves_a_short_timeout_to_the_run(tmp_path: Path) -> None:
    """With `timeout: 8s`, a definition that never answers may not take the whole 8 s: the run
    would be started only to be given up at once (exit 4). It gets a quarter of what is left."""
    transport, seen = cortex(stall)
    time = FakeTime()
    env = github_env(tmp_path, "https://api.example.com", timeout="8s")
    result = invoke(env, time=time, transport=transport)
    assert result.exit_code == 0, result.log
    first_trigger = next(i for i, r in enumerate(seen) if r.method == "POST")
    assert sum(time.sleeps[: first_trigger - 1]) <= 8 * 0.25
