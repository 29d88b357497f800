"""``cortex-action emulator``: serving from a real process, env-only config, resume, errors."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cortex_action.emulator import EmulatorServer
from cortex_action.emulator.cli import main

from .conftest import GLOBAL, api_client

URL_LINE = re.compile(r"^Cortex emulator listening on (http://\S+)")


class Served:
    """A ``python -m cortex_action ...`` emulator process and the URL it printed."""

    def __init__(
        self, args: list[str], env: dict[str, str], stderr: Path, wrap: list[str] | None = None
    ) -> None:
        self._stderr = stderr.open("w")
        self.proc = subprocess.Popen(
            [*(wrap or []), sys.executable, "-m", "cortex_action", *args],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        assert self.proc.stdout is not None
        self.first_line = self.proc.stdout.readline()
        found = URL_LINE.match(self.first_line)
        assert found, f"no URL line; got {self.first_line!r}; stderr: {stderr.read_text()}"
        self.url = found.group(1)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``sig``; return the exit code and the rest of stdout."""
        self.proc.send_signal(sig)
        out, _ = self.proc.communicate(timeout=10)
        self._stderr.close()
        return self.proc.returncode, out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        self._stderr.close()


Serve = Callable[..., Served]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start emulator processes with ``serve(args, env, wrap)``; any left running are killed."""
    started: list[Served] = []

    def start(
        args: list[str], env: dict[str, str] | None = None, wrap: list[str] | None = None
    ) -> Served:
        served = Served(args, env or {}, tmp_path / f"stderr-{len(started)}.txt", wrap)
        started.append(served)
        return served

    yield start
    for proc in started:
        proc.kill()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_on_a_free_port_and_stop_on_signal(serve: Serve, sig: int) -> None:
    """--port 0 prints the URL first; the API answers; SIGTERM/SIGINT stop it with exit 0."""
    served = serve(["emulator", "--port", "0", "--speed", "50"])
    assert served.url.startswith("http://127.0.0.1:")
    health = httpx.get(f"{served.url}/_emulator/health")
    assert health.json()["status"] == "ok"
    code, rest = served.stop(sig)
    assert code == 0
    assert "Cortex emulator stopped" in rest


@pytest.mark.slow
def test_env_only_as_a_service_container(serve: Serve) -> None:
    """CORTEX_COMMAND=emulator with no argv serves, configured by CORTEX_EMULATOR_* only."""
    served = serve(
        [],
        {
            "CORTEX_COMMAND": "emulator",
            "CORTEX_EMULATOR_HOST": "0.0.0.0",
            "CORTEX_EMULATOR_PORT": "0",
            "CORTEX_EMULATOR_SPEED": "50",
        },
    )
    assert "(bound to 0.0.0.0)" in served.first_line
    resp = httpx.post(
        f"{served.url}/api/v1/workflows/scaffold-repo/runs",
        json=GLOBAL,
        headers={"Authorization": "Bearer emulator-token"},
    )
    assert resp.status_code == 200
    assert served.stop()[0] == 0


@pytest.mark.slow
def test_serve_with_a_config_file_logs_requests(serve: Serve, tmp_path: Path) -> None:
    """--config serves the file's workflows; each request is logged to stderr, token-free."""
    config = tmp_path / "emu.yaml"
    config.write_text(
        "tokens: [{value: s3cret}]\nworkflows: [{tag: my-flow, name: My flow}]\n",
        encoding="utf-8",
    )
    served = serve(["emulator", "serve", "--port", "0", "--config", str(config)])
    resp = httpx.get(
        f"{served.url}/api/v1/workflows/my-flow", headers={"Authorization": "Bearer s3cret"}
    )
    assert resp.json()["name"] == "My flow"
    assert served.stop()[0] == 0
    log = (tmp_path / "stderr-0.txt").read_text()
    assert "GET /api/v1/workflows/my-flow -> 200" in log
    assert "s3cret" not in log


@pytest.mark.slow
def test_ready_file_holds_the_url_once_it_accepts_connections(serve: Serve, tmp_path: Path) -> None:
    """--ready-file (or CORTEX_EMULATOR_READY_FILE) gets the base URL and a newline; no poll."""
    ready = tmp_path / "sub" / "url.txt"
    ready.parent.mkdir()
    served = serve(["emulator", "--port", "0", "--ready-file", str(ready)])
    for _ in range(500):  # the file appears right after the banner lines
        if ready.exists():
            break
        assert served.proc.poll() is None
        time.sleep(0.01)
    assert ready.read_text() == served.url + "\n"
    assert httpx.get(f"{served.url}/_emulator/health").status_code == 200
    assert served.stop()[0] == 0
    by_env = tmp_path / "env-url.txt"
    served = serve(["emulator", "--port", "0"], {"CORTEX_EMULATOR_READY_FILE": str(by_env)})
    for _ in range(500):
        if by_env.exists():
            break
        time.sleep(0.01)
    assert by_env.read_text().strip() == served.url
    assert served.stop()[0] == 0


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    """--help lists the commands; serve --help names the env variables; both exit 0."""
    assert main(["--help"], {}) == 0
    assert "resume" in capsys.readouterr().out
    assert main(["serve", "--help"], {}) == 0
    assert "CORTEX_EMULATOR_HOST" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (["--port", "http"], {}, "--port / CORTEX_EMULATOR_PORT"),
        ([], {"CORTEX_EMULATOR_PORT": "70000"}, "--port / CORTEX_EMULATOR_PORT"),
        (["--speed", "0"], {}, "--speed / CORTEX_EMULATOR_SPEED"),
        ([], {"CORTEX_EMULATOR_SPEED": "fast"}, "--speed / CORTEX_EMULATOR_SPEED"),
        (["--bogus"], {}, "unrecognized arguments: --bogus"),
        (["--config", "/nonexistent/emu.yaml"], {}, "cannot read config file"),
        (["resume", "some-run"], {}, "one of the arguments --approve --reject is required"),
    ],
)
def test_bad_flags_exit_2_naming_the_problem(
    capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str], needle: str
) -> None:
    """Bad flags, env values or config paths exit 2 with a message naming the problem."""
    assert main(argv, env) == 2
    assert needle in capsys.readouterr().err


def test_invalid_config_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A config with a wrong value exits 2 and names the key."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("workflows:\n  - tag: x\n    scope: SOMEWHERE\n", encoding="utf-8")
    assert main(["--config", str(bad)], {}) == 2
    err = capsys.readouterr().err
    assert "workflows.0.scope" in err
    assert "GLOBAL" in err


def test_resume_approve_and_reject(
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """resume --approve moves a paused run on; --reject (URL from env) ends it FAILED."""
    with api_client(emulator) as c:
        ids = [c.post("/workflows/needs-approval/runs", json=GLOBAL).json()["id"] for _ in "ab"]
    for run_id in ids:
        emulator.wait_for_status(run_id, "PAUSED")
    assert main(["resume", ids[0], "--approve", "--url", emulator.url], {}) == 0
    assert f"Run {ids[0]} is now IN_PROGRESS" in capsys.readouterr().out
    assert main(["resume", ids[1], "--reject"], {"CORTEX_EMULATOR_URL": emulator.url}) == 0
    assert "is now FAILED" in capsys.readouterr().out
    assert emulator.run(ids[1])["status"] == "FAILED"


def test_resume_refusals_exit_1(
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Resuming an unknown or running run, or an unreachable emulator, exits 1 with the reason."""
    assert main(["resume", "nope", "--approve", "--url", emulator.url], {}) == 1
    assert "404" in capsys.readouterr().err
    with api_client(emulator) as c:
        run_id = c.post("/workflows/scaffold-repo/runs", json=GLOBAL).json()["id"]
    assert main(["resume", run_id, "--approve", "--url", emulator.url], {}) == 1
    assert "not PAUSED" in capsys.readouterr().err
    assert main(["resume", run_id, "--approve", "--url", "http://127.0.0.1:9"], {}) == 1
    assert "cannot reach" in capsys.readouterr().err


def test_cancel_command(emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]) -> None:
    """cancel ends a run CANCELLED."""
    with api_client(emulator) as c:
        run_id = c.post("/workflows/needs-approval/runs", json=GLOBAL).json()["id"]
    assert main(["cancel", run_id, "--url", emulator.url], {}) == 0
    assert "is now CANCELLED" in capsys.readouterr().out


# A new PID namespace whose first process (the emulator) is PID 1; killed if the test dies.
UNSHARE = ["unshare", "--fork", "--kill-child", "--pid", "--mount-proc"]


def _can_unshare_pid() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run([*UNSHARE, "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not _can_unshare_pid(),
    reason="needs Linux and permission for `unshare --pid` (root or user namespaces)",
)
def test_sigterm_as_pid_1(serve: Serve) -> None:
    """As PID 1 (as in a container, where SIGTERM has no default action) SIGTERM still stops it."""
    served = serve(["emulator", "--port", "0"], wrap=UNSHARE)
    children = Path(f"/proc/{served.proc.pid}/task/{served.proc.pid}/children").read_text()
    pid_1 = int(children.split()[0])
    os.kill(pid_1, signal.SIGTERM)
    out, _ = served.proc.communicate(timeout=10)
    assert served.proc.returncode == 0
    assert "Cortex emulator stopped" in out
