"""The README's first command: the main job, end to end, on the local emulator.

Starts the emulator on a free loopback port, runs the action exactly as GitHub runs the container
(``python entrypoint.py`` with ``INPUT_*`` variables, ``GITHUB_OUTPUT`` and
``GITHUB_STEP_SUMMARY``), shows the log the way the runner displays it, prints where the outputs
and summary went, and stops the emulator.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cortex_action.hosts.github import parse_outputs

ROOT = Path(__file__).resolve().parent.parent

LISTENING = re.compile(r"listening on (http://\S+)")


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cortex_action", "emulator", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = LISTENING.search(line)
        if match:
            return proc, match.group(1)
    proc.kill()
    sys.exit("The emulator did not start; run `cortex-action emulator --port 0` to see why.")


def show(line: str) -> str | None:
    """Display a log line as GitHub's runner would: commands become markers or disappear."""
    if line.startswith(("::add-mask::", "::endgroup::")):
        return None
    match = re.match(r"::(\w+)(?: ([^:]*))?::(.*)", line)
    if not match:
        return line
    name, props, message = match.groups()
    message = message.replace("%0A", "\n    ").replace("%0D", "").replace("%25", "%")
    title = re.search(r"title=([^,]*)", props or "")
    label = f"{title.group(1).replace('%3A', ':').replace('%2C', ',')}: " if title else ""
    marks = {"group": "▸ ", "error": "Error: ", "warning": "Warning: ", "notice": "Notice: "}
    return f"{marks.get(name, '')}{label}{message}"


def main() -> int:
    emulator, url = start_emulator()
    work = Path(tempfile.mkdtemp(prefix="cortex-action-demo-"))
    outputs, summary = work / "github_output", work / "step_summary.md"
    outputs.touch()
    summary.touch()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "CORTEX_"))},
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "INPUT_API-TOKEN": "emulator-token",
        "INPUT_BASE-URL": url,
        "INPUT_WORKFLOW": "deploy-service",
        "INPUT_ENTITY": "service-frontend",
        "INPUT_INITIAL-CONTEXT": "environment=staging\nversion=1.4.2",
        "INPUT_TIMEOUT": "2m",
    }
    print(f"Cortex emulator: {url}")
    print("Running the action as GitHub would: python entrypoint.py with INPUT_* variables\n")
    try:
        action = subprocess.Popen(
            [sys.executable, str(ROOT / "entrypoint.py")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert action.stdout is not None
        for raw in action.stdout:
            shown = show(raw.rstrip("\n"))
            if shown is not None:
                print(f"  {shown}", flush=True)
        code = action.wait()
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    print(f"\nExit code: {code}")
    print(f"Step outputs ({outputs}):")
    for name, value in parse_outputs(outputs.read_text()).items():
        shown = value if len(value) <= 100 else value[:100] + "…"
        print(f"  {name} = {shown}")
    print(f"Job summary (Markdown, as GitHub renders it on the job's page): {summary}")
    for line in summary.read_text(encoding="utf-8").splitlines():
        print(f"  {line}")
    print("The emulator was stopped.")
    return code


if __name__ == "__main__":
    sys.exit(main())
