"""What a failed, timed-out or interrupted step says about re-running it is true on its host:
on GitHub a re-run is a new attempt (a new key, a new run); on GitLab, Jenkins and in a shell a
retried job sends the same key, so Cortex returns the same run. One place says it
(``endings.retry_advice``); here each host's real command says it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cortex_action.endings import Progress, for_error, interrupted_message, retry_advice
from cortex_action.errors import Interrupted
from cortex_action.hosts.base import Host
from cortex_action.hosts.github import GitHubHost
from cortex_action.hosts.gitlab import GitLabHost
from cortex_action.hosts.jenkins import JenkinsHost
from cortex_action.hosts.local import LocalHost
from tests.support import EmulatedCortex

SHA = "0123456789abcdef0123456789abcdef01234567"
NEW_ATTEMPT = "A re-run of this job is a new attempt: it sends a new idempotency key"
SAME_KEY = "Retrying this job sends the same idempotency key"
SAME_RUN = "Retrying this job follows the same run"


def host_env(host: str, emulated: EmulatedCortex, folder: Path, **inputs: str) -> dict[str, str]:
    values = {"workflow": "deploy-service", "entity": "service-frontend", **inputs}
    if host == "github":
        (folder / "out").write_text("")
        env = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_SHA": SHA,
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_OUTPUT": str(folder / "out"),
            "INPUT_API-TOKEN": emulated.token,
            "INPUT_BASE-URL": emulated.url,
        }
        return env | {f"INPUT_{k.upper().replace('_', '-')}": v for k, v in values.items()}
    env = {"CORTEX_API_TOKEN": emulated.token, "CORTEX_BASE_URL": emulated.url}
    env |= {f"CORTEX_{k.upper()}": v for k, v in values.items()}
    if host == "gitlab":
        return env | {"GITLAB_CI": "true", "CI_COMMIT_SHA": SHA, "CI_PROJECT_DIR": str(folder)}
    if host == "jenkins":
        return env | {
            "JENKINS_URL": "https://j.example/",
            "GIT_COMMIT": SHA,
            "WORKSPACE": str(folder),
        }
    return env | {"GIT_COMMIT": SHA}  # a shell, or a CI we don't know


HOSTS = ["github", "gitlab", "jenkins", "local"]


@pytest.mark.parametrize("host", HOSTS)
def test_a_failed_run_says_what_a_rerun_does(
    emulated: EmulatedCortex, tmp_path: Path, host: str
) -> None:
    result = emulated.run([], host_env(host, emulated, tmp_path, workflow="failing-deploy"))
    assert result.exit_code == 1
    log = result.log
    if host == "github":
        assert NEW_ATTEMPT in log
        assert SAME_KEY not in log
    else:
        assert SAME_KEY in log
        assert "Cortex returns this same run" in log
        assert "no new run starts" in log
        assert NEW_ATTEMPT not in log


@pytest.mark.parametrize("host", HOSTS)
def test_a_timeout_says_what_a_rerun_does(
    emulated: EmulatedCortex, tmp_path: Path, host: str
) -> None:
    env = host_env(host, emulated, tmp_path, workflow="needs-approval", entity="", timeout="20s")
    result = emulated.run([], env)
    assert result.exit_code == 4
    log = result.log
    if host == "github":
        assert NEW_ATTEMPT in log
        assert "use `command: wait` with its `run-id`" in log
    else:
        assert SAME_RUN in log
        assert NEW_ATTEMPT not in log


@pytest.mark.parametrize("host", HOSTS)
def test_a_given_key_is_sent_again_on_every_host(
    emulated: EmulatedCortex, tmp_path: Path, host: str
) -> None:
    env = host_env(host, emulated, tmp_path, workflow="failing-deploy", idempotency_key="rel-42")
    result = emulated.run([], env)
    assert result.exit_code == 1
    log = result.log
    assert "sends the `idempotency-key` input again: while its value stays rel-42" in log
    assert NEW_ATTEMPT not in log


@pytest.mark.parametrize(
    ("host", "same_key"),
    [(GitHubHost, False), (GitLabHost, True), (JenkinsHost, True), (LocalHost, True)],
)
def test_interruption_messages_follow_the_host(host: type[Host], same_key: bool) -> None:
    """The interruption's own line, before and after a run is known, from the host's fact."""
    assert host.retry_sends_same_key is same_key
    progress = Progress("https://app/runs", None, lambda: 0.0, host.retry_sends_same_key)
    progress.begin("run", "deploy-service", "2026-12-06T05:00:00Z")
    progress.idempotency_key = "cortex-action-0123456789ab-1-0123456789abcdef"
    before = retry_advice(progress, run_known=False)
    after = retry_advice(progress, run_known=True)
    # Interrupted while the trigger was in flight: the one error line says it too.
    progress.trigger_sending()  # the trigger is on its way: Cortex may start the run
    ending = for_error(Interrupted(15), 143, progress)
    assert before in interrupted_message(ending, progress)
    if same_key:
        assert "instead of starting a second one" in before
        assert SAME_RUN in after
    else:
        assert "would start a second run if this one started" in before
        assert NEW_ATTEMPT in after


def test_wait_never_speaks_of_keys() -> None:
    progress = Progress("https://app/runs", None, lambda: 0.0, False)
    progress.begin("wait", "deploy-service", "2026-12-06T05:00:00Z")
    advice = retry_advice(progress, run_known=True, ended=True)
    assert "idempotency" not in advice
    assert "reads the same run again" in advice


def test_a_random_key_never_promises_the_same_key(emulated: EmulatedCortex, tmp_path: Path) -> None:
    """Without a commit the key is random: repeating sends another one, even on GitLab."""
    env = host_env("gitlab", emulated, tmp_path, workflow="failing-deploy")
    del env["CI_COMMIT_SHA"]
    result = emulated.run([], env)
    assert result.exit_code == 1
    assert SAME_KEY not in result.stderr
    assert NEW_ATTEMPT in result.stderr
