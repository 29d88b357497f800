"""The real processes: entrypoint.py as GitHub starts it, the console script, python -m, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cortex_action import __version__
from tests.readers import parse_github_outputs
from tests.support import ScriptedCortex, github_env

# Each test starts the entry point as a real process.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """Only what a container would have, plus the inputs: no CORTEX_/INPUT_ leaks from the host."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "SYSTEMROOT")}
    return {**keep, **extra}


def test_entrypoint_with_only_input_variables(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """python entrypoint.py with INPUT_* variables triggers, follows, writes outputs and summary."""
    cortex.statuses("IN_PROGRESS", "COMPLETED")
    env = clean_env(github_env(tmp_path, cortex.base_url, entity="service-frontend"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "entrypoint.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    outputs = parse_github_outputs((tmp_path / "github_output").read_text())
    assert outputs["status"] == "COMPLETED"
    assert outputs["run-id"] == "run-1"
    assert "COMPLETED" in (tmp_path / "step_summary").read_text()
    assert cortex.requests("POST")[0].get_json() == {
        "scope": {"type": "ENTITY", "entityId": "service-frontend"}
    }


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "cortex_action"],
        [str(Path(sys.executable).parent / "cortex-action")],
        [sys.executable, str(ROOT / "entrypoint.py")],
    ],
)
def test_help_and_version_everywhere(command: list[str]) -> None:
    """--help and --version work from every entry point."""
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, check=False)
    assert version.returncode == 0
    assert version.stdout.strip() == f"cortex-action {__version__}"
    helped = subprocess.run([*command, "--help"], capture_output=True, text=True, check=False)
    assert helped.returncode == 0
    assert "exit codes:" in helped.stdout


def test_run_help_lists_every_input() -> None:
    """cortex-action run --help names a flag for every input."""
    helped = subprocess.run(
        [sys.executable, "-m", "cortex_action", "run", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    for flag in (
        "--workflow",
        "--entity",
        "--initial-context",
        "--run-as",
        "--notification-recipients",
        "--idempotency-key",
        "--wait",
        "--timeout",
        "--on-paused",
        "--base-url",
        "--app-url",
        "--allow-insecure-http",
        "--api-token-file",
    ):
        assert flag in helped.stdout
    assert "--api-token " not in helped.stdout  # never a flag whose value shows in ps


@pytest.mark.realtime
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_while_waiting_writes_outputs_and_exits_fast(
    cortex: ScriptedCortex, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """SIGINT/SIGTERM stop the wait at once: outputs and summary written, exit 130/143 in < 2 s."""
    cortex.statuses("IN_PROGRESS")
    env = clean_env(github_env(tmp_path, cortex.base_url))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "entrypoint.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not cortex.polls() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cortex.polls(), "the run was never polled"
        # The server logs a request before the client has read the answer; give the client
        # time to read it (it then sleeps 0.5 s or more), or the last status seen is the
        # trigger's NOT_INITIATED. A signal mid-poll is tests/test_signals_cancel.py's case.
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(sig)
        stdout, _ = proc.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == code, stdout
    assert took < 2.0
    outputs = parse_github_outputs((tmp_path / "github_output").read_text())
    assert outputs["run-id"] == "run-1"
    assert outputs["status"] == "IN_PROGRESS"
    summary = (tmp_path / "step_summary").read_text()
    assert "Interrupted by" in summary
    assert "goes on in Cortex" in stdout


def test_entrypoint_runs_other_programs_in_its_place() -> None:
    """`cat` (Jenkins' keep-alive) and `sh -c` (GitLab's shell) run as without an entrypoint."""
    cat = subprocess.run(
        [sys.executable, str(ROOT / "entrypoint.py"), "cat"],
        input="kept alive\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert cat.returncode == 0
    assert cat.stdout == "kept alive\n"
    shell = subprocess.run(
        [sys.executable, str(ROOT / "entrypoint.py"), "sh", "-c", "echo from-sh; exit 7"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert shell.returncode == 7
    assert shell.stdout == "from-sh\n"


def test_entrypoint_keeps_its_own_commands_and_typos() -> None:
    """Its own commands are never passed through; an unknown word is an input error, exit 2."""
    typo = subprocess.run(
        [sys.executable, str(ROOT / "entrypoint.py"), "rnu"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=clean_env({}),
    )
    assert typo.returncode == 2
    assert "invalid choice: 'rnu'" in typo.stderr
