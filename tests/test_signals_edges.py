"""Signals at the edges: before the wait starts, while the outcome is being written, while an
error is being reported, while the result is printed. Each case runs ``cli.main`` in a child
process that sends the signal to itself at that exact point (a patched function), so the
timing is deterministic, and a default SIGTERM or a stray KeyboardInterrupt can't take the test
session down with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.readers import parse_github_outputs

# Real processes and real time, timed to the signal: slow, and kept on one xdist worker with
# the other timing-sensitive tests so that they never compete with each other for the CPU.
pytestmark = [pytest.mark.slow, pytest.mark.realtime]

ROOT = Path(__file__).resolve().parent.parent

# The child: a Cortex on httpx.MockTransport, one function patched to signal the process.
CHILD = """
import io, json, os, signal, sys
import httpx
import cortex_action.cli as cli
from cortex_action.render import outputs, summary
from cortex_action.hosts.github import GitHubHost

where, sig, answer = sys.argv[1], getattr(signal, sys.argv[2]), sys.argv[3]

def handler(request):
    if request.method == "GET" and request.url.path.endswith("/workflows/deploy-service"):
        return httpx.Response(200, json={"isRunnableViaApi": True})  # the preflight's read
    if answer == "404":
        return httpx.Response(404, json={"message": "no such workflow"})
    return httpx.Response(201, json={"id": "run-9", "status": "COMPLETED", "actions": []})

def signalling(original):
    def wrapper(*args, **kwargs):
        os.kill(os.getpid(), sig)
        return original(*args, **kwargs)
    return wrapper

if where == "settings":
    cli.load_settings = signalling(cli.load_settings)
elif where == "summary":
    summary.run_summary = signalling(summary.run_summary)
elif where == "outputs":
    GitHubHost.write_outputs = signalling(GitHubHost.write_outputs)
elif where == "error-report":
    GitHubHost.error = signalling(GitHubHost.error)
elif where == "json-result":
    outputs.result_json = signalling(outputs.result_json)

out = io.StringIO()
code = cli.main(sys.argv[4:], os.environ, out=out, err=out,
                transport=httpx.MockTransport(handler))
sys.stdout.write(out.getvalue())
sys.stdout.write(f"\\nEXIT {code}\\n")
"""


def _child(
    tmp_path: Path, where: str, sig: str, answer: str = "ok", argv: tuple[str, ...] = ()
) -> tuple[int, str, dict[str, str], str]:
    (tmp_path / "out").touch()
    (tmp_path / "summary").touch()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": "0" * 40,
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "INPUT_API-TOKEN": "tok-5ecret",
        "INPUT_WORKFLOW": "deploy-service",
        "INPUT_BASE-URL": "https://api.example.com",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), where, sig, answer, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    log = done.stdout + done.stderr
    outputs = parse_github_outputs((tmp_path / "out").read_text())
    return done.returncode, log, outputs, (tmp_path / "summary").read_text()


@pytest.mark.parametrize(("sig", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_signal_before_the_work_starts_is_a_clean_interrupt(
    tmp_path: Path, sig: str, code: int
) -> None:
    """While the inputs are read (before any request): exit 130/143 with a message."""
    status, log, outputs, _ = _child(tmp_path, "settings", sig)
    assert "Traceback" not in log, log
    assert f"EXIT {code}" in log, log
    assert status == 0  # the child printed main's code itself
    assert outputs == {}
    assert "Stopped; nothing was written." in log


@pytest.mark.parametrize("where", ["outputs", "summary"])
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_signal_while_the_outcome_is_written_finishes_the_writing(
    tmp_path: Path, where: str, sig: str
) -> None:
    """The run COMPLETED and its outputs and summary are being written when the signal lands:
    the writing finishes (the outputs and the summary both describe the completed run) and
    the exit code is the outcome's, never a half-written result with a claim that nothing
    was written."""
    _, log, outputs, summary = _child(tmp_path, where, sig)
    assert "Traceback" not in log, log
    assert "EXIT 0" in log, log
    assert outputs["run-id"] == "run-9"
    assert outputs["status"] == "COMPLETED"
    assert "COMPLETED" in summary
    assert "nothing was written" not in log


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_signal_while_an_error_is_reported(tmp_path: Path, sig: str) -> None:
    """Cortex refused (exit 3) and the error is being printed when the signal lands: the error
    is still reported, with its own exit code, and no traceback."""
    _, log, _, _ = _child(tmp_path, "error-report", sig, answer="404")
    assert "Traceback" not in log, log
    assert "EXIT 3" in log, log
    assert "no such workflow" in log


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_signal_while_the_json_result_is_printed(tmp_path: Path, sig: str) -> None:
    """--json: the result is printed whole, and the exit code is the run's."""
    _, log, _, _ = _child(tmp_path, "json-result", sig, argv=("run", "--json"))
    assert "Traceback" not in log, log
    assert "EXIT 0" in log, log
    start = log.rindex("\n{\n") + 1  # the last JSON object: the result, after the log
    result = json.loads(log[start : log.index("\n}\n", start) + 2])
    assert result["runId"] == "run-9"
