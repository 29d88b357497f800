"""Transient failures are retried with backoff; the trigger only ever with its key."""

from __future__ import annotations

import email.utils
import time as real_time
from pathlib import Path

import pytest
from werkzeug import Response

from cortex_action.retry import parse_retry_after
from tests.support import FakeTime, ScriptedCortex, github_env, invoke, json_response, run_object


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_trigger_5xx_is_retried_with_the_same_key(
    cortex: ScriptedCortex, tmp_path: Path, status: int
) -> None:
    """A 5xx on the trigger is retried with the same Idempotency-Key and one run results."""
    cortex.on_trigger(
        Response("", status),
        Response("<html><title>Bad gateway</title></html>", status, content_type="text/html"),
        json_response(run_object(status="IN_PROGRESS"), 201),
    )
    cortex.statuses("COMPLETED")
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0, result.log
    posts = cortex.requests("POST")
    assert len(posts) == 3
    assert len({p.headers["Idempotency-Key"] for p in posts}) == 1
    # A retry that recovers is a plain line, not an annotation (issue 12: every retry was a
    # ::warning, pushing the real failure out of GitHub's 10 annotations per step).
    assert "::warning" not in result.stdout
    assert result.stdout.count("Retrying: ") == 2


def test_429_retry_after_seconds_is_honoured(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A 429 with Retry-After waits that long before the next attempt."""
    problem = {
        "type": "about:blank",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "slow down",
        "retryAfter": 7,
    }
    cortex.on_trigger(
        json_response(problem, 429, {"Retry-After": "12"}),
        json_response(run_object(status="COMPLETED"), 201),
    )
    time = FakeTime()
    result = invoke(github_env(tmp_path, cortex.base_url), time=time)
    assert result.exit_code == 0, result.log
    assert time.sleeps[0] == 12
    assert "Cortex asked to retry after 12s" in result.stdout


def test_429_retry_after_in_body_only(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """Without the header, the problem body's retryAfter is used."""
    problem = {"title": "Too Many Requests", "status": 429, "retryAfter": 5}
    cortex.on_trigger(
        json_response(problem, 429), json_response(run_object(status="COMPLETED"), 201)
    )
    time = FakeTime()
    assert invoke(github_env(tmp_path, cortex.base_url), time=time).exit_code == 0
    assert time.sleeps[0] == 5


def test_retry_after_past_the_deadline_gives_up_at_once(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """A Retry-After beyond the timeout ends with exit 3 for the trigger, and says why."""
    cortex.on_trigger(json_response({"message": "busy"}, 429, {"Retry-After": "3600"}))
    time = FakeTime()
    result = invoke(github_env(tmp_path, cortex.base_url, timeout="5m"), time=time)
    assert result.exit_code == 3
    assert time.sleeps == []
    assert "would come after the deadline" in result.stdout


def test_retry_after_past_the_deadline_while_waiting_exits_4(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """While following a run, running out of time on retries is a timeout (exit 4)."""
    cortex.on_get(json_response({"message": "busy"}, 503, {"Retry-After": "3600"}))
    result = invoke(github_env(tmp_path, cortex.base_url, timeout="5m"))
    assert result.exit_code == 4, result.log
    assert result.outputs["run-id"] == "run-1"
    assert result.outputs["status"] == "NOT_INITIATED"


def test_polls_survive_transient_errors(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A 502 or a garbled body while polling is retried, not fatal."""
    cortex.on_get(
        Response("", 502),
        Response("{not json", 200, content_type="application/json"),
        json_response(run_object(status="COMPLETED")),
    )
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0, result.log


def test_persistent_5xx_exhausts_the_budget_with_exit_3(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """A Cortex that keeps failing ends with exit 3 after a bounded number of attempts."""
    cortex.on_trigger(Response("", 503))
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 3
    assert len(cortex.requests("POST")) == 8
    assert "Gave up on triggering workflow 'deploy-service' after 8 attempts" in result.stdout
    # A 503 may come after Cortex committed the run: no run id, but the key and where to look.
    assert result.outputs["run-id"] == ""
    assert result.outputs["status"] == ""
    sent_key = cortex.requests("POST")[0].headers["Idempotency-Key"]
    assert result.outputs["idempotency-key"] == sent_key
    assert "Cortex may have started the run anyway" in result.summary


def test_refusal_writes_no_outputs(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A 4xx refusal started nothing, so nothing is written for later steps."""
    cortex.on_trigger(json_response({"message": "nope"}, 403))
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 3
    assert result.outputs == {}
    assert result.summary == ""


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (400, "every `initial-context` key is a variable"),
        (401, "Check `api-token`"),
        (403, "Execute Workflow Runs"),
        (404, "Check `workflow`"),
    ],
)
def test_refusals_exit_3_with_cortex_details_and_a_hint(
    cortex: ScriptedCortex, tmp_path: Path, status: int, hint: str
) -> None:
    """4xx refusals are not retried; the message, details, request id and a fix are shown."""
    body = {
        "type": "X",
        "message": "nope",
        "details": "because",
        "requestId": "req-42",
        "httpStatus": status,
    }
    cortex.on_trigger(json_response(body, status))
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 3
    assert len(cortex.requests("POST")) == 1
    for text in (f"Cortex answered {status}", "nope", "Details: because", "req-42", hint):
        assert text in result.stdout


def test_validation_violations_are_listed(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A violations body is shown title by title."""
    body = {
        "violations": [
            {
                "title": "Unknown key",
                "description": "colour is not a variable",
                "violationType": "X",
                "pointer": "/initialContext/colour",
            }
        ]
    }
    cortex.on_trigger(json_response(body, 400))
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 3
    assert "Unknown key: colour is not a variable (at /initialContext/colour)" in result.stdout


def test_redirect_is_not_followed(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A redirect is an error: the token never follows it to another host."""
    cortex.on_trigger(Response("", 302, headers={"Location": "https://evil.example/steal"}))
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 3
    assert "does not follow redirects" in result.stdout


def test_a_redirect_s_location_is_shown_bounded(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A Location of 5000 characters (any text the server chose) is cut in the log line."""
    location = "https://evil.example/" + "a" * 5000
    cortex.on_trigger(Response("", 307, headers={"Location": location}))
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 3
    assert "a redirect to https://evil.example/aaa" in result.stdout
    assert "a" * 400 not in result.stdout
    assert "does not follow redirects" in result.stdout


def test_connection_refused_exits_3(tmp_path: Path) -> None:
    """Nothing listening: retried, then exit 3 with a hint about the URL."""
    result = invoke(github_env(tmp_path, "http://127.0.0.1:9"))
    assert result.exit_code == 3
    assert "could not connect" in result.stdout


def test_409_on_trigger_waits_for_a_slot(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A 409 (the concurrency limit, in one reading of Cortex) is retried with the same key."""
    cortex.on_trigger(
        json_response({"message": "Too many concurrent runs"}, 409),
        json_response(run_object(status="NOT_INITIATED"), 201),
    )
    cortex.statuses("COMPLETED")
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0, result.log
    assert len({p.headers["Idempotency-Key"] for p in cortex.requests("POST")}) == 1


def test_retry_after_parsing() -> None:
    """Retry-After is read as seconds or as an HTTP date; junk is ignored."""
    assert parse_retry_after("30") == 30
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-4") == 0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    future = email.utils.formatdate(real_time.time() + 100, usegmt=True)
    parsed = parse_retry_after(future)
    assert parsed is not None
    assert 95 <= parsed <= 101


def test_malformed_run_objects_are_a_clean_error(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """JSON that is not a run (no id, a numeric status) ends with exit 3 and a message."""
    cortex.on_trigger(json_response({"status": 5}, 201))
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 3
    assert "without a usable `id`" in result.stdout
    assert "Traceback" not in result.log


@pytest.mark.parametrize("status", [409, 429])
def test_busy_answers_are_retried_until_the_timeout_not_the_attempt_budget(
    cortex: ScriptedCortex, tmp_path: Path, status: int
) -> None:
    """At the concurrency limit a trigger keeps trying for as long as timeout allows."""
    busy = json_response({"message": "Too many concurrent runs"}, status, {"Retry-After": "20"})
    cortex.on_trigger(*([busy] * 30), json_response(run_object(status="IN_PROGRESS"), 201))
    cortex.statuses("COMPLETED")
    time = FakeTime()
    result = invoke(github_env(tmp_path, cortex.base_url, timeout="30m"), time=time)
    assert result.exit_code == 0, result.log
    assert len(cortex.requests("POST")) == 31
    assert len({p.headers["Idempotency-Key"] for p in cortex.requests("POST")}) == 1
    assert time.now - 1000.0 >= 30 * 20


def test_busy_answers_end_at_the_deadline_with_exit_3(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """A trigger still refused for a free slot when timeout runs out ends with exit 3."""
    cortex.on_trigger(json_response({"message": "Too many concurrent runs"}, 409))
    time = FakeTime()
    result = invoke(github_env(tmp_path, cortex.base_url, timeout="5m"), time=time)
    assert result.exit_code == 3
    assert "would come after the deadline" in result.stdout
    assert time.now - 1000.0 <= 300


def test_retry_after_zero_forever_is_not_a_tight_loop(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """A 429 with Retry-After: 0 on every try waits at least a second between tries."""
    cortex.on_trigger(json_response({"message": "busy"}, 429, {"Retry-After": "0"}))
    time = FakeTime()
    result = invoke(github_env(tmp_path, cortex.base_url, timeout="1m"), time=time)
    assert result.exit_code == 3
    assert min(time.sleeps) >= 1.0
    assert len(cortex.requests("POST")) <= 61
