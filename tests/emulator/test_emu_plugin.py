"""The pytest plugin works as documented (``pytest_plugins = [...emulator.testing]``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = """
import httpx

def test_default(emulator):
    resp = httpx.post(
        f"{emulator.url}/api/v1/workflows/scaffold-repo/runs",
        json={"scope": {"type": "GLOBAL"}},
        headers={"Authorization": f"Bearer {emulator.token}"},
    )
    assert resp.status_code == 200
    assert emulator.wait_for_status(resp.json()["id"], "COMPLETED", timeout=5)

def test_factory(make_emulator):
    emu = make_emulator({"tokens": [{"value": "t"}], "workflows": [{"tag": "w"}]}, speed=5)
    assert emu.token == "t"
    assert emu.speed == 5
"""


@pytest.mark.slow
def test_plugin_fixtures_in_a_fresh_project(tmp_path: Path) -> None:
    """A project that only names the plugin gets working emulator/make_emulator fixtures."""
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["cortex_action.emulator.testing"]\n', encoding="utf-8"
    )
    (tmp_path / "test_sample.py").write_text(SAMPLE, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
