"""Secrets and output safety: the token never shows anywhere, and Cortex's text stays data.

Extends tests/test_injection.py (fixed examples) with properties over generated text, tokens full
of characters that mean something to regexes, Markdown and the runner's %-escaping, tokens read
from a file, and every log level of the HTTP stack.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from werkzeug import Response

from cortex_action.hosts.github import SUMMARY_LIMIT
from tests.fuzz.strategies import NASTY_TOKEN, NASTY_TOKEN_FORMS, fuzz_few
from tests.support import (
    RUN_OUTPUTS,
    ScriptedCortex,
    github_env,
    invoke,
    json_response,
    run_object,
)

OUR_COMMANDS = ("::add-mask::", "::group::", "::endgroup::", "::error ", "::warning ")
OUTPUT_NAMES = set(RUN_OUTPUTS)


def runner_unescape(text: str) -> str:
    """How the runner reads a command's data back (the inverse of escape_data)."""
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _everything_but_masks(log: str) -> str:
    return "\n".join(line for line in log.splitlines() if not line.startswith("::add-mask::"))


# -- the token ----------------------------------------------------------------------------------


def test_nasty_token_is_masked_exactly_and_never_printed(
    cortex: ScriptedCortex, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A token full of regex, Markdown and %-escapes: one exact mask, then never seen again,
    at any log level of httpx and httpcore, through retries, a failure and the summary."""
    caplog.set_level(logging.DEBUG)
    cortex.on_trigger(
        Response("", 503),
        json_response({"message": "slow down"}, 429, {"Retry-After": "1"}),
        json_response(run_object(status="IN_PROGRESS"), 201),
    )
    cortex.on_get(
        Response("<html><title>Bad gateway</title></html>", 502, content_type="text/html"),
        json_response(run_object(status="FAILED", actions=[{"name": "b", "state": {}}])),
    )
    result = invoke(github_env(tmp_path, cortex.base_url, api_token=NASTY_TOKEN))
    assert result.exit_code == 1, result.log
    masks = [line for line in result.stdout.splitlines() if line.startswith("::add-mask::")]
    assert [runner_unescape(m.removeprefix("::add-mask::")) for m in masks] == [NASTY_TOKEN]
    assert NASTY_TOKEN not in _everything_but_masks(result.log)
    assert NASTY_TOKEN not in caplog.text
    assert any("httpx" in r.name or "httpcore" in r.name for r in caplog.records)
    output_file = (tmp_path / "github_output").read_text()
    for form in NASTY_TOKEN_FORMS:
        assert form not in output_file
        assert form not in result.summary
    # It did reach Cortex, in the one place it belongs.
    assert cortex.requests("POST")[0].headers["Authorization"] == f"Bearer {NASTY_TOKEN}"


def test_token_echoed_by_cortex_is_masked_in_the_log(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """A server that echoes the token in its error message can't get it printed."""
    body = {"message": f"token {NASTY_TOKEN} is not valid", "requestId": "r-1"}
    cortex.on_trigger(json_response(body, 401))
    result = invoke(github_env(tmp_path, cortex.base_url, api_token=NASTY_TOKEN))
    assert result.exit_code == 3
    assert "token *** is not valid" in result.stdout
    assert NASTY_TOKEN not in _everything_but_masks(result.log)


@pytest.mark.parametrize("github", [True, False], ids=["github", "local"])
def test_token_from_a_file_is_masked_too(
    cortex: ScriptedCortex, tmp_path: Path, github: bool
) -> None:
    """--api-token-file: masked on GitHub (::add-mask::) and locally, even when echoed back."""
    token_file = tmp_path / "token"
    token_file.write_text(f"{NASTY_TOKEN}\n")
    cortex.on_trigger(json_response({"message": f"bad {NASTY_TOKEN}"}, 403))
    if github:
        env = github_env(tmp_path, cortex.base_url, api_token="")
    else:
        env = {"CORTEX_BASE_URL": cortex.base_url, "CORTEX_WORKFLOW": "deploy-service"}
    result = invoke(env, ["run", "--api-token-file", str(token_file)])
    assert result.exit_code == 3, result.log
    assert "bad ***" in result.log
    assert NASTY_TOKEN not in _everything_but_masks(result.log)
    if github:
        assert f"::add-mask::{NASTY_TOKEN.replace('%', '%25')}" in result.stdout
    assert cortex.requests("POST")[0].headers["Authorization"] == f"Bearer {NASTY_TOKEN}"


def test_token_never_in_exception_text_or_repr_when_httpx_raises(tmp_path: Path) -> None:
    """Every kind of transport failure httpx raises: the message and the log stay clean."""
    failures: list[Exception] = [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message"),
        httpx.LocalProtocolError("Illegal header value"),
        httpx.ProxyError("proxy said no"),
        httpx.ReadError("reset by peer"),
    ]
    for failure in failures:

        def handler(request: httpx.Request, failure: Exception = failure) -> httpx.Response:
            raise failure

        env = github_env(tmp_path, "https://api.example.com", api_token=NASTY_TOKEN)
        result = invoke(env, transport=httpx.MockTransport(handler))
        assert result.exit_code == 3, result.log
        assert NASTY_TOKEN not in _everything_but_masks(result.log)
        assert "internal error" not in result.log


@pytest.mark.slow
@fuzz_few
@given(token=st.from_regex(r"[\x21-\x7e]{12,64}", fullmatch=True))
@example(token="%0A%25::add-mask::x[*]")
@example(token="a" * 12 + "%")
def test_any_header_safe_token_round_trips_through_add_mask(token: str) -> None:
    """Whatever printable token: the runner reads back exactly the token from ::add-mask::,
    and it appears nowhere else, even when the server echoes it."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": f"no: {token}", "details": token})

    with tempfile.TemporaryDirectory() as tmp:
        env = github_env(Path(tmp), "https://api.example.com", api_token=token)
        result = invoke(env, transport=httpx.MockTransport(handler))
    assert result.exit_code == 3
    masks = [line for line in result.log.splitlines() if line.startswith("::add-mask::")]
    assert [runner_unescape(m.removeprefix("::add-mask::")) for m in masks] == [token]
    assert token not in _everything_but_masks(result.log)


# -- Cortex's text ------------------------------------------------------------------------------

# Text built from the pieces that mean something to the runner, Markdown, HTML and the outputs
# file, joined with arbitrary text.
_PIECES = st.sampled_from(
    [
        "::",
        "::error::",
        "::set-output name=run-id::",
        "::add-mask::",
        "::stop-commands::x",
        "##[",
        "##[group]",
        "\n",
        "\r\n",
        "\r",
        "run-id<<EOF\n",
        "EOF\n",
        "ghadelimiter_",
        "<script>",
        "<img src=x onerror=alert(1)>",
        "</td>",
        "[a](https://evil.example)",
        "![i](https://evil.example/i.png)",
        "|",
        "`",
        "```",
        "# ",
        "%0A",
        "%25",
        "\x1b[31m",
        "\u2028",
        "\x00",
        " ",
    ]
)
HOSTILE_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=10).map("".join)


def _hostile_run(run_id: str, status: str, name: str, message: str) -> dict[str, Any]:
    return {
        "id": run_id,
        "status": status,
        "workflow": {"cid": "wf1", "name": name},
        "actions": [
            {"name": name, "state": {"status": status, "errorMessage": message}},
            {"name": "ok", "state": {"status": "COMPLETED"}},
        ],
    }


def _summary_is_inert(summary: str) -> None:
    """Only our own Markdown structure: no raw HTML, no broken table, no extra heading.

    Text in code spans is shown literally by Markdown, so it is taken out first; markdown_code
    turns backticks into quotes, so Cortex's text can't close a span early."""
    assert "<" not in re.sub(r"`[^`\n]*`", "", summary).replace("<br>", ""), summary
    lines = summary.splitlines()
    assert sum(1 for line in lines if line.startswith("#")) == 1
    for line in lines:
        if line.startswith("|"):
            cells = re.findall(r"(?<!\\)\|", line)
            assert len(cells) in (3, 5), line
        assert not line.startswith((">>", "```", "<"))


def _lines(text: str) -> list[str]:
    return [line for line in re.split(r"[\r\n]+", text) if line]


def _log_is_inert(log: str) -> None:
    for line in log.splitlines():
        if line.lstrip().startswith("::"):
            assert line.lstrip().startswith(OUR_COMMANDS), line
        assert "##[" not in line, line
        assert "\x1b" not in line


@pytest.mark.slow
@fuzz_few
@given(
    run_id=HOSTILE_TEXT.filter(lambda t: t.strip() != ""),
    status=st.one_of(st.sampled_from(["FAILED", "COMPLETED", "IN_PROGRESS"]), HOSTILE_TEXT),
    name=HOSTILE_TEXT,
    message=HOSTILE_TEXT,
)
@example(
    run_id="run-id<<EOF\n::set-output name=x::y\nEOF",
    status="FAILED\n::error::forged",
    name="##[error]x",
    message="<script>alert(1)</script>",
)
def test_cortex_text_never_becomes_a_command_an_output_or_markup(
    run_id: str, status: str, name: str, message: str
) -> None:
    """Whatever the id, status, names and messages: the log runs no command of Cortex's, the
    outputs file holds exactly our five keys with Cortex's values intact, and the summary
    renders no HTML, no link and no table of Cortex's making."""
    body = _hostile_run(run_id, status, name, message)
    final = {**body, "status": "FAILED"}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201 if request.method == "POST" else 200, json=final)

    # First the run as Cortex would send it (the status may be anything): then a failure.
    answers = [body, final]

    def scripted(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json=answers[0])
        return httpx.Response(200, json=answers[1])

    with tempfile.TemporaryDirectory() as tmp:
        env = github_env(Path(tmp), "https://api.example.com", timeout="1m")
        result = invoke(env, transport=httpx.MockTransport(scripted))
    code, log, outputs, summary = result.exit_code, result.log, result.outputs, result.summary
    assert code in (0, 1, 3), log
    _log_is_inert(log)
    if code == 3:  # an id or status that is not one: no run was confirmed, only the key is told
        assert set(outputs) == OUTPUT_NAMES
        assert outputs["run-id"] == outputs["status"] == outputs["result"] == ""
        assert outputs["idempotency-key"].startswith("cortex-action-")
        _summary_is_inert(summary)
        assert "Cortex may have started the run anyway" in summary
        return
    _summary_is_inert(summary)
    assert len(summary.encode()) <= SUMMARY_LIMIT
    assert set(outputs) == OUTPUT_NAMES
    # Line breaks are the runner's to read (CR, LF and CRLF all end a line); the rest of the
    # value is intact.
    assert _lines(outputs["run-id"]) == _lines(run_id)
    assert json.loads(outputs["result"])["id"] == run_id


@pytest.mark.slow
@fuzz_few
@given(
    blocks=st.integers(0, 3000),
    size=st.integers(0, 20_000),
    status_size=st.integers(0, 100_000),
)
@example(blocks=3000, size=20_000, status_size=100_000)
def test_summary_stays_under_the_limit_however_large_the_run(
    blocks: int, size: int, status_size: int
) -> None:
    """Thousands of blocks with long messages, a huge status: the summary stays under 1 MiB."""
    from cortex_action.hosts.github import fit_summary
    from cortex_action.models import Run
    from cortex_action.render.summary import run_summary
    from cortex_action.report import Report

    raw = {
        "id": "r" * 300,
        "status": "FAILED" + "x" * status_size,
        "actions": [
            {"name": f"block {i}" * 20, "state": {"errorMessage": "e<" * (size // 2)}}
            for i in range(blocks)
        ],
    }
    report = Report(
        command="run",
        workflow="w" * 2000,
        exit_code=1,
        headline="h" * 5000,
        # Built directly: parse_run refuses such an id and status (issue 12), but the summary
        # must stay under the limit whatever Run it is given.
        run=Run(id=str(raw["id"]), status=str(raw["status"]), raw=raw),
        run_url="https://app.example.com/admin/workflows?activeTab=runs",
        idempotency_key="k" * 255,
        notes=("n" * 10_000,),
    )
    text = fit_summary(run_summary(report))  # the GitHub adapter cuts what it writes
    assert len(text.encode()) <= SUMMARY_LIMIT
    _summary_is_inert(text)


@pytest.mark.parametrize("github", [True, False], ids=["github", "local"])
@pytest.mark.parametrize("final", ["FAILED", "COMPLETED"])
def test_json_result_never_shows_an_echoed_token(tmp_path: Path, github: bool, final: str) -> None:
    """--json prints the run as Cortex sent it, on success and on the error path (exit 1):
    a token that Cortex echoes in the run is redacted there too. (A plain token: JSON would
    escape token's backslash and hide a leak from the check.)"""
    token = "tok-5ecret-0123456789abcdef"

    def handler(request: httpx.Request) -> httpx.Response:
        state = {"errorMessage": f"bad {token}"}
        return httpx.Response(
            201, json={"id": "r1", "status": final, "actions": [{"name": "x", "state": state}]}
        )

    if github:
        env = github_env(tmp_path, "https://api.example.com", api_token=token)
    else:
        env = {
            "CORTEX_API_TOKEN": token,
            "CORTEX_WORKFLOW": "w",
            "CORTEX_BASE_URL": "https://api.example.com",
        }
    result = invoke(env, ["run", "--json"], transport=httpx.MockTransport(handler))
    assert result.exit_code == (1 if final == "FAILED" else 0)
    assert '"runId": "r1"' in result.stdout
    assert token not in _everything_but_masks(result.log)
