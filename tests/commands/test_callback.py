"""``callback``: what Cortex receives, and what the user sees for each answer it gives."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from cortex_action.render.callback import ENV_FILE, JSON_FILE, SUMMARY_FILE
from tests.support import TOKEN, base_env, github_env, invoke, requests_to

PATH = "/api/v1/workflows/W/callback/C"
BASE = ["callback", "--workflow", "W", "--callback-id", "C"]


def sent(api: HTTPServer) -> list[dict[str, object]]:
    return [json.loads(r.get_data()) for r in requests_to(api, PATH)]


def test_success_sends_exactly_one_post_and_exits_0(api: HTTPServer) -> None:
    """Done when: one POST with status SUCCESS and the message, exit 0."""
    api.expect_request(PATH, method="POST").respond_with_json({"ok": True})
    result = invoke(base_env(api), [*BASE, "--callback-status", "success", "--message", "done"])
    assert result.exit_code == 0, result.log
    bodies = sent(api)
    assert len(bodies) == 1
    assert bodies[0]["status"] == "SUCCESS"
    assert bodies[0]["message"] == "done"
    assert isinstance(bodies[0]["response"], dict)
    request = requests_to(api, PATH)[0]
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Cortex took callback SUCCESS (200)" in result.log


@pytest.mark.parametrize(
    ("given", "status"),
    [
        ("success", "SUCCESS"),
        ("SUCCESS", "SUCCESS"),
        ("failure", "FAILURE"),
        ("cancelled", "FAILURE"),
        ("canceled", "FAILURE"),
        ("failed", "FAILURE"),
        ("Update", "UPDATE"),
    ],
)
def test_status_words_of_each_ci(api: HTTPServer, given: str, status: str) -> None:
    """GitHub's job.status and GitLab's CI_JOB_STATUS pass through as they are."""
    api.expect_request(PATH, method="POST").respond_with_data("")  # any 2xx body will do
    result = invoke(base_env(api), [*BASE, "--callback-status", given])
    assert result.exit_code == 0, result.log
    assert sent(api)[0]["status"] == status


def test_default_message_and_response_name_the_github_job(api: HTTPServer, tmp_path: Path) -> None:
    """As an action step: the job's name, link, commit and outcome; outputs and summary."""
    api.expect_request(PATH, method="POST").respond_with_json({})
    env = github_env(
        tmp_path,
        api,
        command="callback",
        workflow="W",
        callback_id="C",
        callback_status="cancelled",
    )
    env |= {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/app",
        "GITHUB_RUN_ID": "42",
        "GITHUB_WORKFLOW": "deploy",
        "GITHUB_JOB": "build",
    }
    result = invoke(env)
    assert result.exit_code == 0, result.log
    body = sent(api)[0]
    link = "https://github.com/acme/app/actions/runs/42"
    assert body["status"] == "FAILURE"
    assert body["message"] == f"GitHub Actions job deploy / build ended: cancelled: {link}"
    assert body["response"] == {
        "jobUrl": link,
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "outcome": "cancelled",
    }
    assert result.outputs["callback-status"] == "FAILURE"
    assert result.outputs["http-status"] == "200"
    assert "Cortex callback to workflow `W`: FAILURE" in result.summary
    assert link in result.summary  # our own response is shown whole


def test_a_given_response_shows_only_its_keys(api: HTTPServer, tmp_path: Path) -> None:
    """Values the user gives may be secrets: sent, but never in the log, summary or files."""
    api.expect_request(PATH, method="POST").respond_with_json({})
    env = github_env(tmp_path, api, command="callback", workflow="W", callback_id="C")
    env |= {
        "INPUT_CALLBACK-STATUS": "success",
        "INPUT_RESPONSE": "dbPassword=hunter2-s3cret\nversion=1.2.3",
        "INPUT_OUTPUT-DIR": str(tmp_path / "files"),
    }
    result = invoke(env)
    assert result.exit_code == 0, result.log
    assert sent(api)[0]["response"] == {"dbPassword": "hunter2-s3cret", "version": "1.2.3"}
    files = {p.name: p.read_text() for p in (tmp_path / "files").iterdir()}
    for text in (result.log, result.summary, *files.values()):
        assert "hunter2" not in text
    assert "dbPassword" in result.summary
    assert json.loads(files[JSON_FILE])["responseKeys"] == ["dbPassword", "version"]
    assert "CORTEX_CALLBACK_HTTP_STATUS=200" in files[ENV_FILE]
    assert SUMMARY_FILE in files


def test_a_json_response_is_sent_with_its_types(api: HTTPServer) -> None:
    api.expect_request(PATH, method="POST").respond_with_json({})
    result = invoke(
        base_env(api),
        [*BASE, "--callback-status", "update", "--response", '{"percent": 50, "ok": true}'],
    )
    assert result.exit_code == 0, result.log
    assert sent(api)[0]["response"] == {"percent": 50, "ok": True}


def test_update_can_be_sent_many_times(api: HTTPServer) -> None:
    api.expect_request(PATH, method="POST").respond_with_json({})
    for _ in range(3):
        assert invoke(base_env(api), [*BASE, "--callback-status", "update"]).exit_code == 0
    assert [b["status"] for b in sent(api)] == ["UPDATE"] * 3


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--callback-status", "done"], "callback-status: expected success, failure or update"),
        (["--callback-status", "unstable"], "callback-status: expected"),
        (["--callback-status", "success", "--response", "[1, 2]"], "response: expected a JSON"),
        (["--callback-status", "success", "--response", "no equals"], "response: line 1"),
        (["--callback-status", "success", "--callback-id", "a b"], "callback-id: expected"),
        (["--callback-status", "success", "--message", "a\x1b[31m"], "message: expected text"),
        (["--callback-id", ""], "callback-status: required"),
    ],
)
def test_bad_values_are_exit_2_with_nothing_sent(
    api: HTTPServer, args: list[str], named: str
) -> None:
    base = ["callback", "--workflow", "W"] if "--callback-id" in args else BASE
    result = invoke(base_env(api), [*base, *args])
    assert result.exit_code == 2
    assert named in result.stderr
    assert requests_to(api, PATH) == []


def test_callback_id_and_status_are_required(api: HTTPServer) -> None:
    result = invoke(base_env(api), ["callback", "--workflow", "W"])
    assert result.exit_code == 2
    assert "callback-id: required" in result.stderr
    assert "callback-status: required" in result.stderr
    assert api.log == []


def test_404_is_a_refusal_with_cortex_message(api: HTTPServer, tmp_path: Path) -> None:
    """Done when: 404 exits 3 with Cortex's message, its request id and what to check."""
    api.expect_request(PATH, method="POST").respond_with_json(
        {"message": "Workflow run or block not found", "requestId": "req-404"}, status=404
    )
    env = github_env(
        tmp_path, api, command="callback", workflow="W", callback_id="C", callback_status="success"
    )
    result = invoke(env)
    assert result.exit_code == 3
    assert "Workflow run or block not found" in result.log
    assert "req-404" in result.log
    assert "Check `callback-id`" in result.log
    assert len(requests_to(api, PATH)) == 1  # a refusal is not retried
    assert result.outputs == {"callback-status": "SUCCESS", "http-status": "404"}
    # The summary's title says the callback was not taken, not just "SUCCESS".
    assert result.summary.splitlines()[0].endswith(": SUCCESS not taken")


def test_406_on_the_first_attempt_is_a_refusal(api: HTTPServer) -> None:
    """Done when: a first-attempt 406 exits 3 with Cortex's message and what to check."""
    api.expect_request(PATH, method="POST").respond_with_json(
        {"message": "Workflow block is not waiting for callback", "requestId": "req-406"},
        status=406,
    )
    result = invoke(base_env(api), [*BASE, "--callback-status", "success"])
    assert result.exit_code == 3
    assert "Workflow block is not waiting for callback" in result.stderr
    assert "req-406" in result.stderr
    assert "timed out" in result.stderr
    assert len(requests_to(api, PATH)) == 1


def test_500_then_406_means_the_first_attempt_landed(api: HTTPServer, tmp_path: Path) -> None:
    """Done when: a 500 then a 406 exits 0, saying the callback had landed."""
    api.expect_ordered_request(PATH, method="POST").respond_with_json(
        {"message": "boom"}, status=500
    )
    api.expect_ordered_request(PATH, method="POST").respond_with_json(
        {"message": "Workflow block is not waiting for callback"}, status=406
    )
    env = github_env(
        tmp_path, api, command="callback", workflow="W", callback_id="C", callback_status="success"
    )
    result = invoke(env)
    assert result.exit_code == 0, result.log
    assert "had landed" in result.log
    assert len(requests_to(api, PATH)) == 2
    assert result.outputs == {"callback-status": "SUCCESS", "http-status": "406"}
    assert "that attempt was received" in result.summary


def test_a_406_after_a_lost_update_is_still_a_refusal(api: HTTPServer) -> None:
    """An UPDATE leaves the block waiting: a 406 can't be our own update having landed."""
    api.expect_ordered_request(PATH, method="POST").respond_with_data("", status=502)
    api.expect_ordered_request(PATH, method="POST").respond_with_json(
        {"message": "Workflow block is not waiting for callback"}, status=406
    )
    result = invoke(base_env(api), [*BASE, "--callback-status", "update"])
    assert result.exit_code == 3
    assert "not waiting" in result.stderr


def test_a_406_after_a_429_is_a_refusal(api: HTTPServer) -> None:
    """429 means Cortex did not take the attempt: the 406 that follows is about someone else."""
    api.expect_ordered_request(PATH, method="POST").respond_with_json(
        {"message": "slow down"}, status=429, headers={"Retry-After": "1"}
    )
    api.expect_ordered_request(PATH, method="POST").respond_with_json(
        {"message": "Workflow block is not waiting for callback"}, status=406
    )
    result = invoke(base_env(api), [*BASE, "--callback-status", "failure"])
    assert result.exit_code == 3
    assert len(requests_to(api, PATH)) == 2


def test_403_names_the_edit_workflow_runs_permission(api: HTTPServer) -> None:
    api.expect_request(PATH, method="POST").respond_with_json({"message": "Forbidden"}, status=403)
    result = invoke(base_env(api), [*BASE, "--callback-status", "success"])
    assert result.exit_code == 3
    assert "Edit workflow runs" in result.stderr


def test_5xx_past_the_timeout_is_exit_3_and_says_a_retry_is_safe(api: HTTPServer) -> None:
    api.expect_request(PATH, method="POST").respond_with_data("", status=503)
    result = invoke(base_env(api), [*BASE, "--callback-status", "success", "--timeout", "20s"])
    assert result.exit_code == 3
    assert "Sending the callback again is safe" in result.stderr
    assert len(requests_to(api, PATH)) >= 2


def test_path_segments_are_encoded(api: HTTPServer) -> None:
    """A workflow tag or callback id can't climb out of its path segment."""
    # werkzeug decodes %2F before matching, so match loosely and check the raw request line.
    api.expect_request(re.compile(r".*/callback/.*"), method="POST").respond_with_json({})
    result = invoke(
        base_env(api),
        ["callback", "--workflow", "a/b", "--callback-id", "..", "--callback-status", "success"],
    )
    assert result.exit_code == 0, result.log
    assert api.log[0][0].environ["RAW_URI"] == "/api/v1/workflows/a%2Fb/callback/%2E%2E"


def test_the_token_never_shows(api: HTTPServer) -> None:
    """A message that echoes the token is sent as given but masked everywhere we print."""
    api.expect_request(PATH, method="POST").respond_with_json({})
    result = invoke(
        base_env(api), [*BASE, "--callback-status", "success", "--message", f"oops {TOKEN}"]
    )
    assert result.exit_code == 0
    assert TOKEN not in result.log


def test_json_prints_what_was_sent_and_the_answer(api: HTTPServer) -> None:
    api.expect_request(PATH, method="POST").respond_with_json({})
    result = invoke(
        base_env(api),
        [*BASE, "--callback-status", "success", "--response", "key=s3cret-value", "--json"],
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["status"] == "SUCCESS"
    assert data["httpStatus"] == 200
    assert data["responseKeys"] == ["key"]
    assert "s3cret-value" not in result.log


def test_help_lists_the_inputs_and_exit_codes() -> None:
    result = invoke({}, ["callback", "--help"])
    assert result.exit_code == 0
    for flag in ("--callback-id", "--callback-status", "--message", "--response", "--workflow"):
        assert flag in result.stdout
    assert "Edit workflow runs" in result.stdout
    assert "exit codes:" in result.stdout


def test_a_misspelt_flag_is_named_with_the_right_one(api: HTTPServer) -> None:
    result = invoke(base_env(api), ["callback", "--callback_id", "C", "--workflow", "W"])
    assert result.exit_code == 2
    assert "did you mean --callback-id?" in result.stderr
    assert api.log == []


def test_a_callback_id_that_starts_with_a_dash_is_taken_as_the_id(api: HTTPServer) -> None:
    """Cortex's ids are random URL-safe text, so one may start with "-": it is still the id
    (found by the round trip, where the emulator handed out such an id)."""
    api.expect_request(re.compile(r".*/callback/.*"), method="POST").respond_with_json({})
    result = invoke(
        base_env(api),
        ["callback", "--workflow", "W", "--callback-id", "-x1_y", "--callback-status", "success"],
    )
    assert result.exit_code == 0, result.log
    assert api.log[0][0].path == "/api/v1/workflows/W/callback/-x1_y"


def test_a_forgotten_callback_id_is_not_filled_with_the_next_flag(api: HTTPServer) -> None:
    result = invoke(
        base_env(api),
        ["callback", "--workflow", "W", "--callback-id", "--callback-status", "success"],
    )
    assert result.exit_code == 2
    assert "--callback-id: expected one argument" in result.stderr
    assert api.log == []


def test_a_web_page_is_not_taken_for_cortex_taking_the_callback(api: HTTPServer) -> None:
    """base-url pointing at the web app answers 200 with a page: that is not a callback taken."""
    api.expect_request(PATH, method="POST").respond_with_data(
        "<!doctype html><html><title>Cortex</title></html>", content_type="text/html"
    )
    result = invoke(base_env(api), [*BASE, "--callback-status", "success"])
    assert result.exit_code == 3
    assert "web page" in result.stderr
    assert "Cortex took callback" not in result.log
    assert "may have reached Cortex" not in result.log  # a page is no lost attempt


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--callback-id", "${{steps.cortex.outputs.callback-id}}"),
        ("--callback-id", "$CORTEX_CALLBACK_ID"),
        ("--callback-id", "${CALLBACK_ID}"),
    ],
)
def test_an_unexpanded_expression_is_exit_2_with_nothing_sent(
    api: HTTPServer, flag: str, value: str
) -> None:
    """A GitHub expression pasted into another CI, or a variable single-quoted in a shell:
    sent as is it would be a 404 blamed on Cortex; it is an input error naming the input."""
    result = invoke(
        base_env(api), ["callback", "--workflow", "W", flag, value, "--callback-status", "success"]
    )
    assert result.exit_code == 2
    assert "callback-id" in result.stderr
    assert "not expanded" in result.stderr
    assert api.log == []


@pytest.mark.parametrize(
    ("name", "value"),
    [("INPUT_DRY-RUN", "true"), ("CORTEX_DRY_RUN", "True"), ("CORTEX_DRY_RUN", "perhaps")],
)
def test_a_dry_run_is_never_a_real_callback(api: HTTPServer, name: str, value: str) -> None:
    """`dry-run` set on the step or for the whole pipeline: a callback has no dry run, and
    ignoring the input would resume (or fail) the workflow for real."""
    api.expect_request(PATH, method="POST").respond_with_json({})
    env = {**base_env(api), name: value}
    result = invoke(env, [*BASE, "--callback-status", "success"])
    assert result.exit_code == 2
    assert f"dry-run: {value!r}, but command callback has no dry run" in result.stderr
    assert api.log == []


def test_dry_run_false_lets_a_callback_go(api: HTTPServer) -> None:
    """The action passes every input with its default: `dry-run: false` is no obstacle."""
    api.expect_request(PATH, method="POST").respond_with_json({})
    env = {**base_env(api), "INPUT_DRY-RUN": "false"}
    result = invoke(env, [*BASE, "--callback-status", "success"])
    assert result.exit_code == 0, result.log
