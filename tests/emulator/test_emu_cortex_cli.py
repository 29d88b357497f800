"""Cortex's own CLI (cortexapps-cli) against the emulator, unchanged: the best check we have
that the emulator speaks Cortex. Skipped only when the ``cortex`` command is not installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cortex_action.emulator import EmulatorServer

CORTEX = shutil.which(
    "cortex", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
)
# Slow: Cortex's own CLI in a real process against the emulator.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CORTEX is None,
        reason="cortexapps-cli is not installed (pip install 'cortexapps-cli>=1.52'); "
        ".ci/run installs it",
    ),
]


def cortex(emu: EmulatorServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``cortex ARGS`` with only CORTEX_BASE_URL / CORTEX_API_KEY pointing at the emulator."""
    assert CORTEX is not None
    env = {
        **os.environ,
        "CORTEX_BASE_URL": emu.url,
        "CORTEX_API_KEY": emu.token,
        "CORTEX_CONFIG": str(tmp_path / "no-such-config"),  # never a user's real tenant
        "HOME": str(tmp_path),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [CORTEX, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def parsed(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def test_run_wait_then_get_run(emulator: EmulatorServer, tmp_path: Path) -> None:
    """`cortex workflows run --tag deploy-service --wait` ends COMPLETED; get-run reads it back."""
    run = parsed(
        cortex(
            emulator,
            tmp_path,
            "workflows",
            "run",
            "--tag",
            "deploy-service",
            "--scope",
            "ENTITY",
            "--entity",
            "service-frontend",
            "--context",
            '{"environment": "staging", "version": "1.2.3"}',
            "--wait",
            "--timeout",
            "30",
        )
    )
    assert run["status"] == "COMPLETED"
    assert run["workflow"]["tag"] == "deploy-service"
    got = parsed(
        cortex(
            emulator,
            tmp_path,
            "workflows",
            "get-run",
            "--tag",
            "wf5a1c0e7d9b3f2a41",
            "--run-id",
            run["id"],
        )
    )
    assert got["id"] == run["id"]
    assert got["status"] == "COMPLETED"
    trigger = emulator.requests[0]
    assert trigger.json == {
        "scope": {"type": "ENTITY", "entityId": "service-frontend"},
        "initialContext": {"environment": "staging", "version": "1.2.3"},
    }
    assert trigger.headers["user-agent"].startswith("cortexapps-cli/")


def test_cortex_cli_reads_our_error_bodies(emulator: EmulatorServer, tmp_path: Path) -> None:
    """Cortex's CLI shows our 403 message and our 400 violations, and exits non-zero."""
    refused = cortex(emulator, tmp_path, "workflows", "run", "--tag", "not-runnable")
    assert refused.returncode != 0
    assert "HTTP Error 403" in refused.stdout
    assert "not runnable via API" in refused.stdout
    invalid = cortex(
        emulator, tmp_path, "workflows", "run", "--tag", "scaffold-repo", "--context", '{"x": 1}'
    )
    assert invalid.returncode != 0
    assert "Validation failed" in invalid.stdout
    assert "/initialContext/x" in invalid.stdout


def test_cortex_cli_gets_the_definition(emulator: EmulatorServer, tmp_path: Path) -> None:
    """`cortex workflows get --tag` reads the workflow definition."""
    assert parsed(cortex(emulator, tmp_path, "workflows", "get", "--tag", "deploy-service"))[
        "isRunnableViaApi"
    ]
