"""Text from Cortex is data: it can't run workflow commands, add outputs, or inject HTML."""

from __future__ import annotations

import json
from pathlib import Path

from cortex_action.render import SUMMARY_LIMIT
from tests.support import ScriptedCortex, github_env, invoke, json_response, run_object

EVIL = "x\n::set-output name=run-id::pwned\n::add-mask::x\n##[error]fake\nrun-id<<EOF\npwned\nEOF\n"


def test_cortex_text_cannot_start_a_workflow_command(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """Block messages and statuses full of commands never start a command line in the log."""
    actions = [{"name": "::warning::x", "state": {"status": "FAILED", "errorMessage": EVIL}}]
    cortex.statuses("IN_PROGRESS", "FAILED", actions=actions)
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 1
    ours = ("::add-mask::", "::group::", "::endgroup::", "::error ", "::warning ")
    for line in result.stdout.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("::"):
            assert stripped.startswith(ours), line
        assert "##[" not in line, line
    masks = [
        line for line in result.stdout.splitlines() if line.lstrip().startswith("::add-mask::")
    ]
    assert len(masks) == 1


def test_cortex_text_cannot_add_or_overwrite_outputs(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """A status or message with heredoc markers can't add or change an output."""
    cortex.on_trigger(json_response(run_object(status="IN_PROGRESS"), 201))
    cortex.statuses("FAILED", actions=[{"name": EVIL, "state": {"errorMessage": EVIL}}])
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert set(result.outputs) == {"run-id", "status", "run-url", "idempotency-key", "result"}
    assert result.outputs["run-id"] == "run-1"
    assert json.loads(result.outputs["result"])["actions"][0]["name"] == EVIL


def test_summary_escapes_html_and_markdown(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """HTML, links and table breakers from Cortex are shown as text in the summary."""
    message = "<img src=x onerror=alert(1)> [click](https://evil.example) | cell ` code"
    cortex.statuses(
        "FAILED", actions=[{"name": "<b>Deploy</b>", "state": {"errorMessage": message}}]
    )
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert "<img" not in result.summary
    assert "<b>" not in result.summary
    assert "&lt;img src=x onerror=alert(1)&gt;" in result.summary
    assert "\\[click\\](https://evil.example)" in result.summary
    assert "\\| cell" in result.summary


def test_summary_stays_under_github_limit(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A run with thousands of huge block messages still gives a summary under 1 MiB."""
    actions = [{"name": f"block {i}", "state": {"errorMessage": "e" * 5000}} for i in range(2000)]
    cortex.statuses("FAILED", actions=actions)
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 1
    assert len(result.summary.encode()) <= SUMMARY_LIMIT
    assert "more blocks are in the `result` output" in result.summary


def test_terminal_escapes_are_made_visible(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """ANSI escapes in Cortex text never reach the terminal raw."""
    cortex.statuses("FAILED", actions=[{"name": "b", "state": {"errorMessage": "\x1b[2Jcleared"}}])
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert "\x1b" not in result.stdout
    assert "\\x1b[2Jcleared" in result.stdout


def test_token_echoed_by_cortex_is_redacted_everywhere(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """If Cortex puts the token in a message, log, summary and outputs show *** instead."""
    from tests.support import TOKEN

    cortex.statuses("FAILED", actions=[{"name": "b", "state": {"errorMessage": f"bad {TOKEN}"}}])
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 1
    rest = result.stdout.split("\n", 1)[1]  # the first line is the ::add-mask:: itself
    assert TOKEN not in rest + result.summary + json.dumps(result.outputs)
    assert "bad \\*\\*\\*" in result.summary


def test_token_redacted_before_markdown_escaping(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A token with Markdown specials is still redacted once the summary escapes them."""
    token = "tok_with*specials|and`ticks"
    cortex.statuses("FAILED", actions=[{"name": "b", "state": {"errorMessage": f"bad {token}"}}])
    env = github_env(tmp_path, cortex.base_url)
    env["INPUT_API-TOKEN"] = token
    result = invoke(env)
    assert result.exit_code == 1
    assert "with" not in result.summary.replace("without", "")
    assert "specials" not in result.summary
    assert "specials" not in json.dumps(result.outputs)
