"""Text from Cortex is data: it can't run workflow commands, add outputs, or inject HTML."""

from __future__ import annotations

import json
from pathlib import Path

from cortex_action.hosts.github import SUMMARY_LIMIT
from tests.support import RUN_OUTPUTS, ScriptedCortex, github_env, invoke, json_response, run_object

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
    assert set(result.outputs) == set(RUN_OUTPUTS)
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


def test_json_result_on_a_github_log_cannot_carry_a_command(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """--json on GitHub prints into the log: ##[ is escaped, and the JSON still parses the same."""
    message = "boom ##[error]injected"
    cortex.statuses("FAILED", actions=[{"name": "b", "state": {"errorMessage": message}}])
    result = invoke(github_env(tmp_path, cortex.base_url), ["run", "--json"])
    assert result.exit_code == 1
    assert "##[" not in result.stdout
    start = result.stdout.index('{\n  "command"')
    end = result.stdout.index("\n}", start) + 2
    data = json.loads(result.stdout[start:end])
    assert data["run"]["actions"][0]["state"]["errorMessage"] == message


def test_scope_from_cortex_is_escaped_in_the_summary() -> None:
    """A scope type is Cortex's text too: it can't break the table or add HTML."""
    from cortex_action.models import Run
    from cortex_action.render.summary import run_summary
    from cortex_action.report import Report

    report = Report(
        command="get",
        workflow="w",
        exit_code=0,
        headline="h",
        run=Run("r", "COMPLETED", {}),
        scope="<IMG SRC=X>|X|",
    )
    text = run_summary(report)
    assert "<IMG" not in text
    assert "| Scope | &lt;IMG SRC=X&gt;\\|X\\| |" in text


def test_huge_run_is_cut_to_its_core_in_the_result_output(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """A run too large for a GitHub output keeps its id and status and says it was cut."""
    cortex.statuses("COMPLETED", context={"blob": "x" * 1_200_000})
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0
    data = json.loads(result.outputs["result"])
    assert data["id"] == "run-1"
    assert data["status"] == "COMPLETED"
    assert "too large" in data["truncated"]
