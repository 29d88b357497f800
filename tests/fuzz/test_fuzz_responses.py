"""Fuzzing the answers: whatever a server sends for a trigger, a poll or a listing, the CLI ends
with a documented exit code and a clean message; no traceback, no token, no injected command,
no forged output, a summary under 1 MiB.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cortex_action.client import CortexClient
from cortex_action.errors import CortexError
from cortex_action.hosts.github import SUMMARY_LIMIT
from cortex_action.models import ListPage, parse_page
from tests.fuzz.strategies import (
    JSON_VALUES,
    NASTY_TOKEN,
    NASTY_TOKEN_FORMS,
    SERVER_JSON,
    fuzz,
    fuzz_few,
)
from tests.readers import parse_github_outputs
from tests.support import RUN_OUTPUTS, FakeTime, github_env, invoke, with_definition

DOCUMENTED_EXITS = {0, 1, 3, 4}
OUR_COMMANDS = ("::add-mask::", "::group::", "::endgroup::", "::error ", "::warning ")
OUTPUT_NAMES = set(RUN_OUTPUTS)
STATUSES = st.sampled_from([200, 201, 202, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503])


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    retry_after: str | None = None

    def response(self) -> httpx.Response:
        # Raw header bytes, as they come off the wire (a real server can send any octets).
        headers = [(b"content-type", b"application/json")]
        if self.retry_after is not None:
            headers.append((b"retry-after", self.retry_after.encode("utf-8")))
        return httpx.Response(self.status, content=self.body, headers=headers)


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()


BODIES = st.one_of(
    SERVER_JSON.map(_encode),
    st.binary(max_size=64),
    # A hostile server echoing what it knows of us back: the token, commands, heredoc markers.
    st.sampled_from(
        [
            _encode({"message": f"bad token {NASTY_TOKEN}", "requestId": "::error::x"}),
            _encode({"id": "r1", "status": "FAILED", "actions": [{"name": "::warning::x"}]}),
            _encode(
                {
                    "id": "r1",
                    "status": "FAILED",
                    "actions": [{"name": NASTY_TOKEN, "state": {"errorMessage": NASTY_TOKEN}}],
                }
            ),
            _encode({"id": "run-id<<EOF\nx\nEOF", "status": "COMPLETED\n::error::x"}),
            _encode({"id": "r1", "status": "##[error]x"}),
        ]
    ),
)
RETRY_AFTER = st.one_of(
    st.none(),
    st.sampled_from(["0", "1", "3600", "-5", "1e9", "nan", "Wed, 21 Oct 2015 07:28:00 GMT"]),
    # Any octets but line breaks, which no HTTP parser lets through in a header value.
    st.text(max_size=12).filter(lambda t: "\r" not in t and "\n" not in t),
)
ANSWERS = st.builds(Answer, STATUSES, BODIES, RETRY_AFTER)
RUN_STATES = st.sampled_from(["COMPLETED", "FAILED", "IN_PROGRESS", "PAUSED", "TIMED_OUT", "NEW"])
GOOD_RUN = RUN_STATES.map(lambda s: Answer(200, _encode({"id": "r1", "status": s})))


@dataclass
class Seen:
    code: int
    log: str
    outputs_text: str
    summary: str


def _run(trigger: list[Answer], polls: list[Answer], timeout: str = "2m") -> Seen:
    queues = {"POST": list(trigger), "GET": list(polls)}

    def handler(request: httpx.Request) -> httpx.Response:
        queue = queues[request.method]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer.response()

    with tempfile.TemporaryDirectory() as tmp:
        env = github_env(
            Path(tmp), "https://api.example.com", api_token=NASTY_TOKEN, timeout=timeout
        )
        time = FakeTime()
        transport = httpx.MockTransport(with_definition(handler))
        result = invoke(env, time=time, transport=transport)
        started = 1000.0
        # The documented margin past `timeout` (docs/reliability.md): one request timeout (2 s
        # minimum near the deadline) plus scheduling slack; FakeTime only moves on sleeps.
        assert time.now - started <= 120 + 5, time.sleeps
        return Seen(
            result.exit_code,
            result.log,
            Path(env["GITHUB_OUTPUT"]).read_text(),
            result.summary,
        )


def _check(seen: Seen) -> None:
    assert seen.code in DOCUMENTED_EXITS, seen.log
    assert "Traceback" not in seen.log
    assert "internal error" not in seen.log, seen.log
    for line in seen.log.splitlines():
        if line.lstrip().startswith("::"):
            assert line.lstrip().startswith(OUR_COMMANDS), line
        assert "##[" not in line, line
    masks = [line for line in seen.log.splitlines() if line.startswith("::add-mask::")]
    assert len(masks) == 1
    rest = "\n".join(line for line in seen.log.splitlines() if line not in masks)
    assert NASTY_TOKEN not in rest
    outputs = parse_github_outputs(seen.outputs_text)
    assert set(outputs) <= OUTPUT_NAMES
    if outputs:
        assert set(outputs) == OUTPUT_NAMES
    for form in NASTY_TOKEN_FORMS:
        assert form not in seen.outputs_text
        assert form not in seen.summary
    assert len(seen.summary.encode()) <= SUMMARY_LIMIT
    assert "<script" not in seen.summary.lower()


@pytest.mark.slow
@fuzz_few
@given(trigger=st.lists(ANSWERS, min_size=1, max_size=4), polls=st.lists(GOOD_RUN, min_size=1))
@example(trigger=[Answer(201, b"[" * 100_000)], polls=[Answer(200, b"{}")])
@example(trigger=[Answer(429, b"", "Wed, 21 Oct 2015 07:28:00 GMT")], polls=[Answer(200, b"{}")])
def test_any_trigger_answer_ends_cleanly(trigger: list[Answer], polls: list[Answer]) -> None:
    """Any status, body and Retry-After to the trigger: a documented exit, clean output."""
    _check(_run(trigger, polls))


@pytest.mark.slow
@fuzz_few
@given(polls=st.lists(ANSWERS, min_size=1, max_size=6))
@example(polls=[Answer(200, _encode({"id": "r1", "status": 42}))])
@example(polls=[Answer(200, _encode({"status": "COMPLETED"}))])
@example(polls=[Answer(200, _encode({"id": "r1", "status": "FAILED", "x": NASTY_TOKEN}))])
def test_any_poll_answer_ends_cleanly(polls: list[Answer]) -> None:
    """Any answer while following the run: a documented exit, and the outputs name the run."""
    seen = _run([Answer(201, _encode({"id": "r1", "status": "IN_PROGRESS"}))], polls)
    _check(seen)
    outputs = parse_github_outputs(seen.outputs_text)
    assert outputs["run-id"] == "r1"  # the run was known: named on every way out
    if seen.code == 4:
        assert "Gave up waiting" in seen.log
    if seen.code in (1, 3, 4):
        assert "::error title=" in seen.log  # one clear annotation says why


@fuzz
@given(payload=JSON_VALUES)
def test_any_listing_json_is_a_page_or_a_clean_error(payload: Any) -> None:
    """Any JSON for a run listing is a page of run objects or a CortexError (exit 3)."""
    try:
        page = parse_page(payload)
    except CortexError as exc:
        error = str(exc)
    else:
        error = ""
        assert isinstance(page, ListPage)
        assert all(isinstance(run, dict) for run in page.runs)
        for value in (page.page, page.total_pages, page.total):
            assert value is None or isinstance(value, int)
    assert not error or "run listing" in error


@fuzz_few
@given(answers=st.lists(ANSWERS, min_size=1, max_size=4))
def test_any_listing_answer_through_the_client(answers: list[Answer]) -> None:
    """The list request, end to end through the client's retries: a page or a CortexError."""
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer.response()

    time = FakeTime()
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = CortexClient(
            http,
            api_root="https://api.example.com/api/v1",
            token=NASTY_TOKEN,
            clock=time.clock,
            sleep=time.sleep,
        )
        try:
            page: ListPage | CortexError = client.list_runs({"page": 0}, deadline=time.now + 120)
        except CortexError as exc:
            page = exc
    assert isinstance(page, ListPage | CortexError)
    assert time.now <= 1000 + 120
