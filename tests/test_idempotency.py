"""The idempotency key: same commit and request, same key; anything else, another key."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from cortex_action.hosts.base import git_head
from cortex_action.hosts.local import LocalHost
from cortex_action.idempotency import derive_key
from tests.support import SHA, ScriptedCortex, github_env, invoke


def key(
    sha: str | None = SHA, attempt: str | None = "1", workflow: str = "w", **body: object
) -> str:
    return derive_key(
        workflow=workflow,
        body={"scope": {"type": "GLOBAL"}, **body},
        commit=(sha, "GITHUB_SHA") if sha else None,
        attempt=attempt,
        random_hex=lambda: "f" * 32,
    ).value


def commit_sha(
    env: Mapping[str, str], git: Callable[[str | None], str | None] = git_head
) -> tuple[str, str] | None:
    """The commit as the adapter of a CI we don't know finds it (it reads every variable)."""
    host = LocalHost(env, io.StringIO(), io.StringIO())
    host.git = git
    return host.commit


def test_same_inputs_same_key() -> None:
    """Deterministic: computing twice gives the same key."""
    assert key() == key()
    assert key().startswith(f"cortex-action-{SHA[:12]}-1-")


@pytest.mark.parametrize(
    "other",
    [
        {"sha": "f" * 40},
        {"attempt": "2"},
        {"workflow": "other"},
        {"scope": {"type": "ENTITY", "entityId": "a"}},
        {"initialContext": {"x": "1"}},
        {"runAs": "a@b.co"},
        {"notificationRecipients": ["a@b.co"]},
    ],
)
def test_any_difference_gives_another_key(other: dict[str, object]) -> None:
    """Another SHA, attempt, workflow, scope, context, run-as or recipients: another key."""
    assert key(**other) != key()  # type: ignore[arg-type]


def test_no_sha_gives_a_random_key() -> None:
    """Without a commit the key is random and marked as such."""
    assert key(sha=None) == "cortex-action-random-" + "f" * 32


def test_sha_order_and_git_fallback(tmp_path: Path) -> None:
    """GITHUB_SHA wins over CI_COMMIT_SHA over GIT_COMMIT; then git; junk is ignored."""
    a, b, c = "a" * 40, "b" * 40, "c" * 40
    assert commit_sha({"GITHUB_SHA": a, "CI_COMMIT_SHA": b, "GIT_COMMIT": c}) == (a, "GITHUB_SHA")
    assert commit_sha({"CI_COMMIT_SHA": b, "GIT_COMMIT": c}) == (b, "CI_COMMIT_SHA")
    assert commit_sha({"GITHUB_SHA": "not-a-sha", "GIT_COMMIT": c}) == (c, "GIT_COMMIT")
    assert commit_sha({}, git=lambda cwd: "d" * 40) == ("d" * 40, "git rev-parse HEAD")
    assert commit_sha({}, git=lambda cwd: None) is None


def test_git_head_reads_a_real_repository(tmp_path: Path) -> None:
    """git rev-parse HEAD works in a repository and returns None elsewhere."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(tmp_path),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        check=True,
    )
    head = git_head(str(tmp_path))
    assert head is not None
    assert len(head) == 40
    assert git_head(str(tmp_path / "nowhere")) is None


def test_rerun_attempt_starts_a_fresh_run(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """Two invocations for one commit send one key; "Re-run job" (attempt 2) sends another."""
    cortex.statuses("COMPLETED")
    env = github_env(tmp_path, cortex.base_url)
    assert invoke(env).exit_code == 0
    assert invoke(env).exit_code == 0
    assert invoke({**env, "GITHUB_RUN_ATTEMPT": "2"}).exit_code == 0
    keys = [p.headers["Idempotency-Key"] for p in cortex.requests("POST")]
    assert keys[0] == keys[1]
    assert keys[2] != keys[0]


def test_given_key_is_sent_as_is(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """An explicit idempotency-key wins over the derived one."""
    cortex.statuses("COMPLETED")
    result = invoke(github_env(tmp_path, cortex.base_url, idempotency_key="deploy-42"))
    assert cortex.requests("POST")[0].headers["Idempotency-Key"] == "deploy-42"
    assert result.outputs["idempotency-key"] == "deploy-42"


def test_missing_sha_warns_and_uses_a_random_key(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """Without any commit SHA the log warns and the key is random."""
    cortex.statuses("COMPLETED")
    env = github_env(tmp_path, cortex.base_url)
    del env["GITHUB_SHA"]
    env["GITHUB_WORKSPACE"] = str(tmp_path)  # not a git repository
    result = invoke(env)
    assert result.exit_code == 0
    assert result.outputs["idempotency-key"].startswith("cortex-action-random-")
    assert "::warning title=No commit SHA::" in result.stdout
    # Said once (issue 12: the log line before the warning said it too).
    assert result.stdout.count("no commit SHA was found") == 1


def test_a_given_key_of_the_derived_shape_is_sent_as_given(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """No heuristic second-guesses the input: a key shaped like a derived one is sent as is
    (the result file no longer exports the input's variable; see tests/hosts/test_two_jobs.py)."""
    cortex.statuses("COMPLETED")
    env = github_env(tmp_path, cortex.base_url, entity="service-frontend")
    first = invoke(env)
    derived = first.outputs["idempotency-key"]
    second = invoke({**env, "INPUT_ENTITY": "service-backend", "INPUT_IDEMPOTENCY-KEY": derived})
    keys = [p.headers["Idempotency-Key"] for p in cortex.requests("POST")]
    assert keys == [derived, derived]
    assert "Idempotency key::" not in second.stdout


def test_own_key_is_kept_as_given(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A key of the user's own shape is sent as is, whatever the request."""
    cortex.statuses("COMPLETED")
    invoke(github_env(tmp_path, cortex.base_url, idempotency_key="release-2026-11-30"))
    assert cortex.requests("POST")[0].headers["Idempotency-Key"] == "release-2026-11-30"


@pytest.mark.parametrize("attempt", ["\u0661", "\u00b2", "9" * 300, "abc", "1\n2"])
def test_an_attempt_that_is_not_a_small_ascii_number_counts_as_attempt_1(
    cortex: ScriptedCortex, tmp_path: Path, attempt: str
) -> None:
    """GITHUB_RUN_ATTEMPT="\\u0661" (Arabic-Indic 1) passed str.isdigit() into the key, and
    the header could not be sent: an internal error. 300 digits made a key longer than 255."""
    cortex.statuses("COMPLETED")
    env = github_env(tmp_path, cortex.base_url)
    result = invoke({**env, "GITHUB_RUN_ATTEMPT": attempt})
    assert result.exit_code == 0, result.log
    assert invoke(env).exit_code == 0  # attempt 1
    keys = [p.headers["Idempotency-Key"] for p in cortex.requests("POST")]
    assert keys[0] == keys[1]
    assert "-1-" in keys[0]
