"""Bad inputs: a clear message naming each input, exit 2, and no request sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import TOKEN, ScriptedCortex, github_env, invoke


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("wait", "yes", "wait: expected true or false, got 'yes'"),
        ("allow-insecure-http", "1", "allow-insecure-http: expected true or false, got '1'"),
        ("timeout", "soon", "timeout: expected a number of seconds or a duration"),
        ("timeout", "0", "timeout: expected a duration of at least 1s"),
        ("timeout", "-5", "timeout: expected a number of seconds"),
        ("timeout", "1y", "timeout: expected a number of seconds"),
        ("timeout", "9999h", "timeout: expected a duration of at most 7 days"),
        ("on-paused", "ignore", "on-paused: expected 'wait', 'succeed' or 'fail', got 'ignore'"),
        ("initial-context", "[1, 2]", "initial-context: expected a JSON object, got a JSON list"),
        ("initial-context", "{not json", "initial-context: looks like JSON but does not parse"),
        ("initial-context", "just words", "initial-context: line 1: expected key=value"),
        ("initial-context", "a=1\na=2", "initial-context: line 2: key 'a' is given twice"),
        ("initial-context", "=x", "initial-context: line 1: expected a key"),
        ("run-as", "not-an-email", "run-as: expected an email address"),
        ("notification-recipients", "a@example.com, bob", "not an email: 'bob'"),
        ("idempotency-key", "has space", "idempotency-key: expected 1 to 255 printable ASCII"),
        ("idempotency-key", "k" * 256, "idempotency-key: expected 1 to 255 printable ASCII"),
        # Unexpanded, it would be the same key for every pipeline: each replays the first run.
        ("idempotency-key", "${{github.sha}}", "idempotency-key: got '${{github.sha}}', which"),
        ("idempotency-key", "$CI_COMMIT_SHA", "looks like a CI expression or variable that was"),
        ("base-url", "ftp://cortex.example.com", "base-url: expected an http(s) URL"),
        ("base-url", "http://cortex.example.com", "base-url: plain http:// to cortex.example.com"),
        ("app-url", "not a url", "app-url: expected an http(s) URL"),
        ("entity", "two\nlines", "entity: expected a single line"),
        ("workflow", "bad\x1bname", "workflow: expected a single line"),
    ],
)
def test_bad_input_exits_2_naming_it_without_a_request(
    cortex: ScriptedCortex, tmp_path: Path, name: str, value: str, message: str
) -> None:
    """Each bad value is named with what was expected; nothing reaches Cortex."""
    env = github_env(tmp_path, cortex.base_url)
    env[f"INPUT_{name.upper()}"] = value
    result = invoke(env)
    assert result.exit_code == 2, result.log
    assert message in result.log
    assert "::error title=Invalid input::" in result.stdout
    assert cortex.requests() == []
    assert result.outputs == {}


def test_every_problem_is_reported_at_once(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """Several bad inputs are listed together, missing required ones included."""
    env = github_env(tmp_path, cortex.base_url, wait="maybe", timeout="later")
    env["INPUT_API-TOKEN"] = ""
    env["INPUT_WORKFLOW"] = ""
    result = invoke(env)
    assert result.exit_code == 2
    for text in (
        "4 inputs are invalid",
        "api-token: required",
        "workflow: required",
        "wait: expected",
        "timeout: expected",
    ):
        assert text in result.stdout
    assert cortex.requests() == []


def test_missing_token_names_every_way_to_give_it(tmp_path: Path) -> None:
    """Without a token the message says where one can come from."""
    result = invoke({"CORTEX_WORKFLOW": "w"})
    assert result.exit_code == 2
    assert "CORTEX_API_TOKEN" in result.stderr
    assert "CORTEX_API_KEY" in result.stderr


def test_bad_token_never_echoed_even_when_invalid(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """The token stays out of error messages when other inputs are invalid."""
    env = github_env(tmp_path, cortex.base_url, timeout="nope")
    result = invoke(env)
    assert result.exit_code == 2
    assert TOKEN not in result.log


def test_unknown_command_line_flag_exits_2(tmp_path: Path) -> None:
    """A flag that doesn't exist is an input error, not a traceback."""
    result = invoke({}, ["run", "--no-such-flag"])
    assert result.exit_code == 2
    assert "unrecognized arguments: --no-such-flag" in result.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workflow", "deploy-staging", "--workflow=deploy-prod"], "workflow: given twice"),
        (["--wait", "true", "--no-wait"], "wait: given twice"),
        (["--timeout", "5m", "--timeout", "1h"], "timeout: given twice"),
        (["get", "r1", "--run-id", "r2"], "run-id: given twice"),
        (["get", "--run-id", "r1", "--run-id", "r2"], "run-id: given twice"),
        (["list", "--limit", "1", "--limit", "2"], "limit: given twice"),
    ],
)
def test_a_flag_given_twice_with_two_values_exits_2(
    cortex: ScriptedCortex, tmp_path: Path, argv: list[str], message: str
) -> None:
    """argparse kept the last value: a wrapper appending `--workflow deploy-prod` to the user's
    `--workflow deploy-staging` deployed to production without a word."""
    args = argv if argv[0] in ("get", "list") else ["run", *argv]
    result = invoke(github_env(tmp_path, cortex.server.url_for("/")), args)
    assert result.exit_code == 2, result.log
    assert message in result.log
    assert "deploy-prod" not in result.log
    assert cortex.server.log == []


@pytest.mark.parametrize("argv", [["--dry-run="], ["--dry-run", ""], ["--wait= "]])
def test_a_switch_given_an_empty_value_exits_2(
    cortex: ScriptedCortex, tmp_path: Path, argv: list[str]
) -> None:
    """`--dry-run="$DRY"` with DRY unset fell back to the default, false, and deployed."""
    env = github_env(tmp_path, cortex.server.url_for("/"))
    result = invoke(env, ["run", "--workflow", "deploy-service", *argv])
    assert result.exit_code == 2, result.log
    assert "expected true or false, got an empty value" in result.log
    assert cortex.server.log == []


def test_a_flag_given_twice_with_one_value_is_fine(cortex: ScriptedCortex, tmp_path: Path) -> None:
    result = invoke(
        github_env(tmp_path, cortex.server.url_for("/")),
        [
            "run",
            "--workflow",
            "deploy-service",
            "--workflow=deploy-service",
            "--no-wait",
            "--wait=false",
        ],
    )
    assert result.exit_code == 0, result.log
    assert len(cortex.requests()) == 1  # one trigger (the preflight's read is not counted)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["-tS3CRETVALUE"], "unrecognized arguments: 1 flag not shown"),
        (["--tokenS3CRETVALUE9"], "unrecognized arguments: 1 flag not shown"),
        (["-t", "S3CRETVALUE"], "no one-letter options"),
        (["--", "S3CRETVALUE"], "--: ends the options"),
        (["--", "--workflow", "S3CRETVALUE"], "--workflow: give it before `--`"),
    ],
)
def test_a_value_glued_to_an_unknown_flag_or_after_dashes_is_never_shown(
    argv: list[str], says: str
) -> None:
    """The unknown flag's name was shown whole, value and all (``-tSECRET``); after ``--`` a
    known flag got "did you mean" itself."""
    result = invoke({}, ["run", *argv])
    assert result.exit_code == 2, result.log
    assert says in result.log
    assert "S3CRET" not in result.log
    assert "did you mean --workflow?" not in result.log


def test_token_file_that_is_missing_exits_2(tmp_path: Path) -> None:
    """An unreadable --api-token-file is named."""
    result = invoke({"CORTEX_WORKFLOW": "w"}, ["run", "--api-token-file", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "api-token-file: cannot read" in result.stderr


def test_ca_bundle_that_is_missing_exits_2(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A CA bundle that can't be loaded is an input error, before any request."""
    env = {"CORTEX_API_TOKEN": TOKEN, "CORTEX_WORKFLOW": "w", "CORTEX_BASE_URL": cortex.base_url}
    result = invoke(env, ["run", "--ca-bundle", str(tmp_path / "missing.pem")])
    assert result.exit_code == 2
    assert "ca-bundle: cannot load" in result.stderr
    assert cortex.requests() == []


def test_invalid_bytes_and_lone_surrogates_are_input_errors(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """Non-UTF-8 bytes in a variable, or a \\ud800 escape in JSON, are exit 2, not a crash."""
    env = github_env(tmp_path, cortex.base_url)
    env["INPUT_ENTITY"] = "svc-\udcff"  # how Python shows a non-UTF-8 byte from the environment
    env["INPUT_INITIAL-CONTEXT"] = '{"a": "\\ud800"}'
    result = invoke(env)
    assert result.exit_code == 2, result.log
    assert "entity: expected UTF-8 text" in result.stdout
    assert "initial-context: looks like JSON but holds an escape" in result.stdout
    assert cortex.requests() == []


@pytest.mark.parametrize(
    ("env", "argv", "says"),
    [
        ({"CORTEX_COMMAND": "ghp_S3CRET12"}, [], "got another value (not shown)"),
        ({"INPUT_COMMAND": "lst"}, [], "got 'lst'"),
        ({"CORTEX_COMMAND": "emulator"}, ["--port", "0"], "by CORTEX_COMMAND=emulator with no"),
        ({"INPUT_COMMAND": "emulator"}, [], "started by `cortex-action emulator [OPTIONS]`"),
    ],
)
def test_a_bad_command_input_is_named_and_a_secret_there_is_not_shown(
    env: dict[str, str], argv: list[str], says: str
) -> None:
    """A token pasted into the wrong variable was echoed; `emulator` with flags was refused
    without saying how the emulator is started."""
    result = invoke(env, argv)
    assert result.exit_code == 2, result.log
    assert "command: expected 'run', 'get', 'wait', 'list' or 'callback'" in result.log
    assert says in result.log
    assert "S3CRET" not in result.log


def test_a_token_given_as_the_token_file_name_is_not_shown(tmp_path: Path) -> None:
    """`--api-token-file "$CORTEX_TOKEN"` (the token, not a file) printed the token as the
    missing file's name."""
    result = invoke({"CORTEX_WORKFLOW": "w"}, ["run", "--api-token-file", "ghp_S3CRET0123"])
    assert result.exit_code == 2
    assert "api-token-file: cannot read it: no such file" in result.log
    assert "S3CRET" not in result.log


def test_an_existing_token_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    result = invoke({"CORTEX_WORKFLOW": "w"}, ["run", "--api-token-file", str(tmp_path)])
    assert result.exit_code == 2
    assert f"api-token-file: cannot read {str(tmp_path)!r}" in result.log


@pytest.mark.parametrize(
    ("argv", "says", "code"),
    [
        (["help"], "usage: cortex-action [COMMAND] [OPTIONS]", 0),
        (["run", "--version"], "--version: give it alone, before any command", 2),
    ],
)
def test_help_as_a_word_and_version_after_a_command(argv: list[str], says: str, code: int) -> None:
    """`cortex-action help` was an invalid choice; `run --version` got "did you mean --json?"."""
    result = invoke({}, argv)
    assert result.exit_code == code, result.log
    assert says in result.log
    assert "did you mean --json" not in result.log
