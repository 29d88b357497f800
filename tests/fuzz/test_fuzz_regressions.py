"""Inputs and answers that the fuzzers found to escape the error boundary, pinned as examples.

Each was once an ``Unexpected error`` (exit 3, "this is a bug") or leaked part of the token.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support import TOKEN, github_env, invoke, with_definition


def _mock_invoke(tmp_path: Path, handler: httpx.MockTransport, **inputs: str) -> tuple[int, str]:
    # Behind the preflight's read of the definition, which these tests are not about.
    transport = httpx.MockTransport(with_definition(handler.handler))  # type: ignore[arg-type]
    result = invoke(github_env(tmp_path, "https://api.example.com", **inputs), transport=transport)
    return result.exit_code, result.log


def _never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request may be sent for invalid input: {request.url}")


@pytest.mark.parametrize(
    ("context", "says"),
    [
        ("[" * 100_000, "nested too deeply"),
        ('{"a": NaN}', "NaN, Infinity"),
        ('{"a": -Infinity}', "NaN, Infinity"),
        ('{"a": 1e400}', "too large to send"),
        ('{"a": 1' + "0" * 5000 + "}", "thousands of digits"),
    ],
)
def test_initial_context_that_is_not_sendable_json_is_exit_2(
    tmp_path: Path, context: str, says: str
) -> None:
    """Deep nesting, NaN/Infinity and huge numbers are input errors, not internal errors."""
    code, log = _mock_invoke(tmp_path, httpx.MockTransport(_never_called), initial_context=context)
    assert code == 2, log
    assert "initial-context: looks like JSON but" in log
    assert says in log
    assert "internal error" not in log


def test_huge_timeout_is_exit_2_with_the_accepted_forms(tmp_path: Path) -> None:
    """A 5000-digit timeout is refused with the accepted forms, not Python's int-limit text."""
    code, log = _mock_invoke(tmp_path, httpx.MockTransport(_never_called), timeout="9" * 5000)
    assert code == 2, log
    assert "timeout: expected a number of seconds or a duration" in log
    assert "set_int_max_str_digits" not in log


@pytest.mark.parametrize(
    "token", ["tok\nen-5ecret-part", "tök-5ecret-part", "tok\x00en-5ecret-part", "a b-5ecret"]
)
def test_token_that_cannot_be_a_header_is_exit_2_and_not_shown(tmp_path: Path, token: str) -> None:
    """A token the HTTP library would refuse (quoting the header and token) is refused first."""
    code, log = _mock_invoke(tmp_path, httpx.MockTransport(_never_called), api_token=token)
    assert code == 2, log
    assert "api-token: expected printable ASCII" in log
    for part in token.split():
        assert part not in log or len(part) < 4
    assert "5ecret" not in log


def test_token_with_surrounding_whitespace_is_trimmed(tmp_path: Path) -> None:
    """A secret pasted with a trailing newline still works, and is sent trimmed."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(201, json={"id": "r1", "status": "COMPLETED"})

    code, log = _mock_invoke(tmp_path, httpx.MockTransport(handler), api_token=f" {TOKEN}\n")
    assert code == 0, log
    assert seen == [f"Bearer {TOKEN}"]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"id": 1' + b"0" * 5000 + b', "status": "COMPLETED"}',
        # Readable, but deeper than the stack left for the token's redaction and the outputs.
        b'{"id": "r1", "status": "COMPLETED", "x": ' + b"[" * 900 + b"]" * 900 + b"}",
    ],
    ids=["deeply-nested", "huge-number", "readable-but-too-deep"],
)
def test_unreadable_json_answers_are_retried_then_exit_3(tmp_path: Path, body: bytes) -> None:
    """JSON that Python can't read (too deep, too long a number) is a garbled answer: retried."""
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(201, content=body, headers={"content-type": "application/json"})

    code, log = _mock_invoke(tmp_path, httpx.MockTransport(handler))
    assert code == 3, log
    assert "a body that is not JSON" in log
    assert "internal error" not in log
    assert len(calls) == 8


def test_unreadable_json_error_bodies_still_give_the_status(tmp_path: Path) -> None:
    """A 400 whose body is nested JSON too deep to read still reports the 400."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, content=b"[" * 100_000)

    code, log = _mock_invoke(tmp_path, httpx.MockTransport(handler))
    assert code == 3, log
    assert "Cortex answered 400" in log
    assert "internal error" not in log


def test_a_poll_answered_with_another_run_is_not_reported_as_ours(tmp_path: Path) -> None:
    """GET .../runs/r1 answered with run r2 (a confused cache or proxy) is an error, never
    a silent switch to reporting r2's id and status as this step's run."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"id": "r1", "status": "IN_PROGRESS"})
        return httpx.Response(200, json={"id": "r2", "status": "COMPLETED"})

    env = github_env(tmp_path, "https://api.example.com")
    result = invoke(env, transport=httpx.MockTransport(handler))
    assert result.exit_code == 3, result.stdout
    assert "answered a request for run r1 with another run, 'r2'" in result.stdout
    assert result.outputs["run-id"] == "r1"
    assert result.outputs["status"] == "IN_PROGRESS"


@pytest.mark.parametrize(
    "body",
    [["not", "a", "run"], {"content": [1, 2]}, {"runs": [{"id": "r1"}, None]}],
    ids=["bare-list-of-strings", "content-of-numbers", "a-null-among-runs"],
)
def test_a_listing_that_is_not_a_list_of_runs_is_an_error_not_no_runs(
    tmp_path: Path, body: object
) -> None:
    """A list of anything but run objects is a garbled answer (exit 3), never "0 runs found"
    with exit 0, which would hide the failure from the pipeline."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/api/v1/workflows/runs":  # the workflow's definition
            return httpx.Response(200, json={"id": "wf1", "tag": "deploy-service"})
        return httpx.Response(200, json=body)

    env = github_env(tmp_path, "https://api.example.com")
    result = invoke(env, ["list"], transport=httpx.MockTransport(handler))
    assert result.exit_code == 3, result.log
    assert "not a list of run objects" in result.log


# "\ud800" is valid JSON for half of a UTF-16 pair, not text: json.loads keeps it as a lone
# surrogate, which no later step (the poll's URL, the outputs, the files) can encode.
LONE_SURROGATE_RUN = (
    b'{"id": "r1", "status": "FAILED", "name": "n\\ud800", "extra": {"\\uDFFF": ["\\udc00"]},'
    b' "actions": [{"name": "b\\ud800", "slug": "s", "state": {"status": "FAILED",'
    b' "errorMessage": "boom \\udfff"}}]}'
)


def test_answers_with_lone_surrogate_escapes_are_reported_not_a_crash(tmp_path: Path) -> None:
    """Once a traceback out of ``main`` (while publishing the error of the first failure):
    the run's end is now reported, its outputs written, each lone surrogate shown as U+FFFD."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"id": "r1", "status": "IN_PROGRESS"})
        return httpx.Response(200, content=LONE_SURROGATE_RUN)

    env = github_env(tmp_path, "https://api.example.com")
    result = invoke(env, transport=httpx.MockTransport(handler))
    assert result.exit_code == 1, result.log
    assert "internal error" not in result.log
    assert result.outputs["status"] == "FAILED"
    assert "boom \ufffd" in result.log
    assert '"\ufffd": ["\ufffd"]' in result.outputs["result"].replace("\\ufffd", "\ufffd")
