"""The main job as GitHub runs it: trigger, follow, outputs, summary, exit codes."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from cortex_action.cli import main
from tests.support import SHA, TOKEN, FakeTime, ScriptedCortex, github_env, invoke, json_response


def test_completed_run_exits_0_with_outputs_and_summary(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """A run that completes gives exit 0, every output, and a summary with the run."""
    cortex.statuses("IN_PROGRESS", "COMPLETED")
    result = invoke(github_env(tmp_path, cortex.base_url, entity="service-frontend"))
    assert result.exit_code == 0, result.log
    assert result.outputs["run-id"] == "run-1"
    assert result.outputs["status"] == "COMPLETED"
    assert result.outputs["run-url"] == f"{cortex.base_url}/admin/workflows?activeTab=runs"
    assert result.outputs["idempotency-key"].startswith(f"cortex-action-{SHA[:12]}-1-")
    assert json.loads(result.outputs["result"])["status"] == "COMPLETED"
    assert "COMPLETED" in result.summary
    assert "`run-1`" in result.summary
    assert "ENTITY `service-frontend`" in result.summary
    assert "IN_PROGRESS (was NOT_INITIATED)" in result.stdout


def test_trigger_request_has_body_headers_and_key(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """The trigger carries the documented body, bearer auth, a User-Agent and the key."""
    cortex.statuses("COMPLETED")
    env = github_env(
        tmp_path,
        cortex.base_url,
        entity="service-frontend",
        run_as="deployer@example.com",
        notification_recipients="a@example.com, b@example.com\nc@example.com",
        initial_context='{"environment": "staging", "replicas": 3, "canary": true}',
    )
    result = invoke(env)
    assert result.exit_code == 0, result.log
    (post,) = cortex.requests("POST")
    assert post.get_json() == {
        "scope": {"type": "ENTITY", "entityId": "service-frontend"},
        "runAs": "deployer@example.com",
        "notificationRecipients": ["a@example.com", "b@example.com", "c@example.com"],
        "initialContext": {"environment": "staging", "replicas": 3, "canary": True},
    }
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert post.headers["User-Agent"].startswith("cortex-action/")
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["Accept"] == "application/json"
    assert post.headers["Idempotency-Key"] == result.outputs["idempotency-key"]


def test_global_scope_body_is_exactly_scope(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """Without an entity and optional inputs, the body is exactly a GLOBAL scope."""
    cortex.statuses("COMPLETED")
    assert invoke(github_env(tmp_path, cortex.base_url)).exit_code == 0
    (post,) = cortex.requests("POST")
    assert post.get_json() == {"scope": {"type": "GLOBAL"}}


def test_key_value_context_is_sent_as_strings(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """``key=value`` lines become an object of strings."""
    cortex.statuses("COMPLETED")
    env = github_env(
        tmp_path, cortex.base_url, initial_context="environment=prod\nversion = 1.2.3\n"
    )
    assert invoke(env).exit_code == 0
    assert cortex.requests("POST")[0].get_json()["initialContext"] == {
        "environment": "prod",
        "version": "1.2.3",
    }


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED", "TIMED_OUT", "failed"])
def test_failed_statuses_exit_1_with_outputs(
    cortex: ScriptedCortex, tmp_path: Path, status: str
) -> None:
    """FAILED, CANCELLED and TIMED_OUT (any case) exit 1 and still write outputs."""
    cortex.statuses("IN_PROGRESS", status)
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 1, result.log
    assert result.outputs["status"] == status.upper()
    assert result.outputs["run-id"] == "run-1"
    assert "::error title=Cortex workflow run failed::" in result.stdout


def test_failure_annotation_and_summary_name_the_failed_block(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """The error annotation and the summary carry each failed block's message."""
    actions = [
        {"name": "Build", "state": {"status": "COMPLETED"}},
        {"name": "Deploy", "state": {"status": "FAILED", "errorMessage": "quota exceeded"}},
    ]
    cortex.statuses("FAILED", actions=actions)
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 1
    error_line = next(line for line in result.stdout.splitlines() if line.startswith("::error"))
    assert "Deploy: quota exceeded" in error_line
    assert "| 2 | Deploy | FAILED | quota exceeded |" in result.summary
    assert "| 1 | Build | COMPLETED |  |" in result.summary


@pytest.mark.parametrize(("on_paused", "code"), [("succeed", 0), ("fail", 1)])
def test_paused_run_follows_on_paused(
    cortex: ScriptedCortex, tmp_path: Path, on_paused: str, code: int
) -> None:
    """A PAUSED run ends the step as on-paused says: succeed gives 0, fail gives 1."""
    cortex.statuses("IN_PROGRESS", "PAUSED")
    result = invoke(github_env(tmp_path, cortex.base_url, on_paused=on_paused))
    assert result.exit_code == code, result.log
    assert result.outputs["status"] == "PAUSED"
    assert "PAUSED: it waits for a person" in result.stdout


def test_paused_run_with_wait_times_out_with_exit_4(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """With on-paused wait, a run that stays PAUSED ends with exit 4 at the timeout."""
    cortex.statuses("PAUSED")
    time = FakeTime()
    result = invoke(github_env(tmp_path, cortex.base_url, timeout="2m"), time=time)
    assert result.exit_code == 4, result.log
    assert result.outputs["status"] == "PAUSED"
    assert time.now - 1000.0 <= 120.0 + 1e-6
    assert "Gave up waiting" in result.stdout
    assert "::error title=Gave up waiting::" in result.stdout


def test_paused_then_resumed_completes(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A paused run that someone approves is followed to COMPLETED."""
    cortex.statuses("PAUSED", "PAUSED", "IN_PROGRESS", "COMPLETED")
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0, result.log


def test_timeout_writes_outputs_and_exits_4(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A run still going at the timeout gives exit 4, its id and status in the outputs."""
    cortex.statuses("IN_PROGRESS")
    time = FakeTime()
    result = invoke(github_env(tmp_path, cortex.base_url, timeout="90"), time=time)
    assert result.exit_code == 4
    assert result.outputs["run-id"] == "run-1"
    assert result.outputs["status"] == "IN_PROGRESS"
    assert time.now - 1000.0 <= 90.0 + 1e-6
    assert "goes on in Cortex" in result.stdout


def test_unknown_status_is_not_terminal_and_warned_once(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """An unknown status keeps the wait going, with one warning."""
    cortex.statuses("WAITING_FOR_GODOT", "WAITING_FOR_GODOT", "WAITING_FOR_GODOT", "COMPLETED")
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0
    assert result.stdout.count("::warning title=Unknown run status::") == 1


def test_wait_false_stops_after_trigger(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """With wait false, the step passes once the trigger is accepted and no run is read."""
    result = invoke(github_env(tmp_path, cortex.base_url, wait="false"))
    assert result.exit_code == 0
    assert result.outputs["status"] == "NOT_INITIATED"
    assert cortex.requests("GET") == []


def test_polling_starts_fast_and_backs_off_to_a_cap(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """The first check comes within a second, later ones back off to at most 15 s."""
    cortex.statuses(*(["IN_PROGRESS"] * 30), "COMPLETED")
    time = FakeTime()
    assert invoke(github_env(tmp_path, cortex.base_url), time=time).exit_code == 0
    assert time.sleeps[0] <= 1.0
    assert max(time.sleeps) <= 15.0
    assert max(time.sleeps) >= 7.5  # it did back off
    assert len(cortex.polls()) == 31


def test_link_is_repeated_while_waiting(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A reader who opens the log late finds the link again."""
    cortex.statuses(*(["IN_PROGRESS"] * 40), "COMPLETED")
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0
    assert result.stdout.count("still IN_PROGRESS: http") >= 2


def test_token_is_masked_and_never_printed(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """The token is masked first thing and appears nowhere else."""
    cortex.statuses("FAILED")
    result = invoke(github_env(tmp_path, cortex.base_url))
    first = result.stdout.splitlines()[0]
    assert first == f"::add-mask::{TOKEN}"
    rest = result.stdout.split("\n", 1)[1]
    assert TOKEN not in rest + result.stderr + result.summary + json.dumps(result.outputs)


def test_app_url_is_derived_and_overridable(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """run-url uses app-url when given."""
    cortex.statuses("COMPLETED")
    env = github_env(tmp_path, cortex.base_url, app_url="https://cortex.example.com/")
    result = invoke(env)
    assert result.outputs["run-url"] == "https://cortex.example.com/admin/workflows?activeTab=runs"


def test_workflow_tag_is_percent_encoded(httpserver: HTTPServer, tmp_path: Path) -> None:
    """A tag with slashes or spaces stays one path segment."""
    # werkzeug decodes %2F before matching, so match loosely and check the raw request line.
    httpserver.expect_request(re.compile(".*"), method="POST").respond_with_json(
        {"id": "r", "status": "COMPLETED"}
    )
    httpserver.expect_request(re.compile(".*"), method="GET").respond_with_json(
        {"isRunnableViaApi": True}
    )
    env = github_env(tmp_path, httpserver.url_for("/").rstrip("/"), workflow="a/b c")
    result = invoke(env)
    assert result.exit_code == 0, result.log
    raw = {r.method: r.environ["RAW_URI"] for r, _ in httpserver.log}
    assert raw["POST"] == "/api/v1/workflows/a%2Fb%20c/runs"
    assert raw["GET"] == "/api/v1/workflows/a%2Fb%20c"  # the preflight's read, too


def test_runs_ids_are_percent_encoded_when_polled(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """The run id from Cortex is data: it can't climb out of its path segment."""
    cortex.on_trigger(json_response({"id": "../../x", "status": "IN_PROGRESS"}, 201))
    cortex.statuses("COMPLETED", run_id="../../x")
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0, result.log
    (get,) = cortex.polls()
    assert get.environ["RAW_URI"] == "/api/v1/workflows/deploy-service/runs/..%2F..%2Fx"


def test_trigger_answer_200_or_201_both_accepted(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """Any 2xx trigger answer with a run is accepted."""
    cortex.on_trigger(json_response({"id": "r9", "status": "IN_PROGRESS"}, 200))
    cortex.statuses("COMPLETED", run_id="r9")
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0
    assert result.outputs["run-id"] == "r9"
    assert cortex.polls()[0].path.endswith("/runs/r9")


def test_summary_lists_duration_and_key(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """The summary has the duration, the idempotency key and how it was made."""
    cortex.statuses("IN_PROGRESS", "COMPLETED")
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert "| Duration |" in result.summary
    key = result.outputs["idempotency-key"]
    assert f"| Idempotency key | `{key}` (derived from commit 0123456789ab" in result.summary


def test_html_error_page_is_described_not_dumped(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A proxy's HTML page becomes a one-line description, and the step exits 3."""
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    cortex.on_trigger(Response(page, 400, content_type="text/html"))
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 3
    assert "an HTML page titled '502 Bad Gateway'" in result.stdout
    assert "<body>" not in result.stdout


def test_long_not_initiated_says_it_waits_for_a_slot(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """A run queued for a while is explained once; a brief NOT_INITIATED is not."""
    cortex.statuses(*(["NOT_INITIATED"] * 12), "COMPLETED")
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0
    assert result.stdout.count("likely waiting for a free slot") == 1
    cortex.statuses("IN_PROGRESS", "COMPLETED")
    quick = invoke(github_env(tmp_path / ".." / tmp_path.name, cortex.base_url))
    assert "free slot" not in quick.stdout


def test_unwritable_outputs_file_keeps_the_run_exit_code(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """A GITHUB_OUTPUT or summary that can't be written is a warning; a failed run still exits 1."""
    cortex.statuses("FAILED")
    env = github_env(tmp_path, cortex.base_url)
    env["GITHUB_OUTPUT"] = str(tmp_path / "missing-dir" / "out")
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path)  # a folder: can't be opened for appending
    time = FakeTime()
    stdout = io.StringIO()
    code = main([], env, out=stdout, err=stdout, clock=time.clock, sleep=time.sleep)
    assert code == 1, stdout.getvalue()
    assert "::warning title=Outputs::Could not write step outputs" in stdout.getvalue()
    # One annotation per kind of problem (issue 12): the second is a plain line.
    assert "Warning: Outputs: Could not write the job summary" in stdout.getvalue()
    assert stdout.getvalue().count("::warning title=Outputs::") == 1
