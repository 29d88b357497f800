"""The callback's renderers, as pure functions: what a summary and the result files show."""

from __future__ import annotations

import json

from cortex_action.render.callback import (
    ENV_FILE,
    JSON_FILE,
    callback_files,
    callback_outputs,
    callback_summary,
)
from cortex_action.render.result_files import EnvSyntax
from cortex_action.report import CallbackReport


def report(**changes: object) -> CallbackReport:
    values: dict[str, object] = {
        "workflow": "deploy-service",
        "callback_id": "cb-1",
        "status": "SUCCESS",
        "message": "done",
        "response": {"jobUrl": "https://ci.example.com/1", "outcome": "success"},
        "response_shown": True,
        "exit_code": 0,
        "headline": "Cortex took callback SUCCESS (200).",
        "http_status": 200,
    }
    values.update(changes)
    return CallbackReport(**values)  # type: ignore[arg-type]


def test_a_hostile_message_cannot_break_the_summary_table() -> None:
    text = callback_summary(report(message="a | b <img src=x onerror=alert(1)> `x`\nline 2"))
    row = next(line for line in text.splitlines() if line.startswith("| Message"))
    assert "<img" not in row
    assert row.count(" | ") == 1  # the message's own bar is escaped
    assert "line 2" in row


def test_a_given_response_shows_keys_never_values() -> None:
    given = report(response={"token": "s3cret", "n": 1}, response_shown=False)
    text = callback_summary(given)
    files = callback_files(given, EnvSyntax.DOTENV)
    assert "`token`" in text
    assert "s3cret" not in text + "".join(files.values())
    assert json.loads(files[JSON_FILE])["responseKeys"] == ["token", "n"]


def test_no_answer_leaves_http_status_empty() -> None:
    lost = report(http_status=None, exit_code=3)
    assert callback_outputs(lost) == {"callback-status": "SUCCESS", "http-status": ""}
    assert "CORTEX_CALLBACK_HTTP_STATUS" not in callback_files(lost, EnvSyntax.DOTENV)[ENV_FILE]
    assert "| Cortex answered | no answer |" in callback_summary(lost)


def test_the_variables_file_is_plain_name_value_lines() -> None:
    """The syntax every host writes, which GitLab, a shell and readProperties read alike."""
    env = callback_files(report(http_status=406), EnvSyntax.DOTENV)[ENV_FILE]
    assert env == "CORTEX_CALLBACK_STATUS=SUCCESS\nCORTEX_CALLBACK_HTTP_STATUS=406\n"
