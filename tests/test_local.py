"""Outside GitHub: plain log lines on stderr, and the result as JSON on stdout with --json."""

from __future__ import annotations

import json

from tests.support import SHA, TOKEN, ScriptedCortex, invoke


def local_env(cortex: ScriptedCortex) -> dict[str, str]:
    return {"CORTEX_API_KEY": TOKEN, "CORTEX_BASE_URL": cortex.base_url, "GIT_COMMIT": SHA}


def test_plain_lines_on_stderr_and_json_on_stdout(cortex: ScriptedCortex) -> None:
    """With --json, stdout holds only the result; the log on stderr has no workflow commands."""
    cortex.statuses("IN_PROGRESS", "COMPLETED")
    result = invoke(local_env(cortex), ["run", "--workflow", "deploy-service", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["runId"] == "run-1"
    assert data["status"] == "COMPLETED"
    assert data["exitCode"] == 0
    assert data["idempotencyKey"].startswith(f"cortex-action-{SHA[:12]}-1-")
    assert data["run"]["status"] == "COMPLETED"
    assert "::" not in result.stderr
    assert "COMPLETED (was IN_PROGRESS)" in result.stderr
    assert "Request body" in result.stderr


def test_json_result_is_printed_on_failure_too(cortex: ScriptedCortex) -> None:
    """A failed run still prints its result as JSON, and exits 1."""
    cortex.statuses("FAILED")
    result = invoke(local_env(cortex), ["run", "--workflow", "deploy-service", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "FAILED"
    assert "Error: Cortex workflow run failed: Run run-1 ended FAILED" in result.stderr


def test_bare_command_reads_the_environment_only(cortex: ScriptedCortex) -> None:
    """No arguments: run, with every input from CORTEX_* variables."""
    cortex.statuses("COMPLETED")
    env = {
        **local_env(cortex),
        "CORTEX_WORKFLOW": "deploy-service",
        "CORTEX_ENTITY": "svc",
        "CORTEX_WAIT": "false",
    }
    result = invoke(env)
    assert result.exit_code == 0
    assert cortex.requests("POST")[0].get_json() == {"scope": {"type": "ENTITY", "entityId": "svc"}}
    assert cortex.requests("GET") == []


def test_flags_win_over_environment(cortex: ScriptedCortex) -> None:
    """A flag beats the CORTEX_* variable of the same input."""
    cortex.statuses("COMPLETED")
    env = {**local_env(cortex), "CORTEX_WORKFLOW": "other", "CORTEX_ENTITY": "from-env"}
    result = invoke(env, ["run", "--workflow", "deploy-service", "--entity", "from-flag"])
    assert result.exit_code == 0, result.log
    assert cortex.requests("POST")[0].get_json()["scope"]["entityId"] == "from-flag"


def test_token_is_replaced_in_local_logs(cortex: ScriptedCortex) -> None:
    """If Cortex echoes the token back, the local log shows *** instead."""
    cortex.statuses("FAILED", actions=[{"name": "b", "state": {"errorMessage": f"bad {TOKEN}"}}])
    result = invoke(local_env(cortex), ["run", "--workflow", "deploy-service"])
    assert result.exit_code == 1
    assert TOKEN not in result.stderr
    assert "bad ***" in result.stderr
