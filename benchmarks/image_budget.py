"""Image budget: how big the image is and how fast it gets to work.

Prints a table with
  * the image's size (``podman image inspect``), and the base's when given;
  * container start -> first request: from the moment ``podman run`` is started until the first
    HTTP request reaches a tiny listener on the host's loopback (it answers 401, so the container
    then exits 3 at once);
  * ``podman run ... --version``: the container round trip with Python but no network;
  * a short workflow end to end: ``podman run`` of the action against the emulator, the GLOBAL
    workflow ``scaffold-repo`` followed until COMPLETED;
each the median (and min/max) of N runs.

Run it after ``bash .ci/image.sh`` (it uses the same podman storage and configuration under
.work/image/ and the project venv's emulator)::

    .venv/bin/python benchmarks/image_budget.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("CORTEX_CI_WORK", ROOT / ".work" / "image"))
TOKEN = "emulator-token"


def podman_env() -> dict[str, str]:
    """The environment .ci/podman-env.sh sets up: storage under .work/, runc, ulimits."""
    env = dict(os.environ)
    for var, name in (
        ("CONTAINERS_STORAGE_CONF", "storage.conf"),
        ("CONTAINERS_CONF", "containers.conf"),
        ("CONTAINERS_REGISTRIES_CONF", "registries.conf"),
    ):
        path = WORK / name
        if var not in env and path.is_file():
            env[var] = str(path)
    return env


ENV = podman_env()


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], env=ENV, check=check, capture_output=True, text=True, timeout=600
    )


class FirstRequest:
    """A loopback listener that records when each request arrives and answers 401."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.event = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                owner.arrivals.append(time.perf_counter())
                owner.event.set()
                body = b'{"message": "benchmark listener: unauthorized"}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self._answer()

            def do_GET(self) -> None:
                self._answer()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        self.arrivals.clear()
        self.event.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def github_args(image: str, url: str, workflow: str) -> list[str]:
    return [
        "run",
        "--rm",
        "--network",
        "host",
        "-e",
        f"INPUT_API-TOKEN={TOKEN}",
        "-e",
        f"INPUT_BASE-URL={url}",
        "-e",
        f"INPUT_WORKFLOW={workflow}",
        "-e",
        "INPUT_TIMEOUT=2m",
        "-e",
        "GITHUB_SHA=0123456789abcdef0123456789abcdef01234567",
        image,
    ]


def time_first_request(image: str, listener: FirstRequest) -> float:
    listener.reset()
    start = time.perf_counter()
    proc = subprocess.Popen(
        ["podman", *github_args(image, listener.url, "scaffold-repo")],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not listener.event.wait(60):
            raise RuntimeError("no request reached the listener within 60 s")
        return listener.arrivals[0] - start
    finally:
        proc.wait(timeout=120)


def time_command(args: Sequence[str], expect: int = 0) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        ["podman", *args], check=False, env=ENV, capture_output=True, text=True, timeout=300
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != expect:
        raise RuntimeError(
            f"podman {' '.join(args[:3])}... exited {proc.returncode} (expected {expect}):\n"
            + proc.stdout[-2000:]
            + proc.stderr[-2000:]
        )
    return elapsed


class Emulator:
    """The project's emulator on the host's loopback (``cortex-action emulator --port 0``)."""

    def __init__(self) -> None:
        exe = ROOT / ".venv" / "bin" / "cortex-action"
        command = [str(exe)] if exe.exists() else [sys.executable, "-m", "cortex_action"]
        self.proc = subprocess.Popen(
            [*command, "emulator", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = ""
        deadline = time.monotonic() + 30
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            if match:
                self.url = match.group(0)
                break
        if not self.url:
            self.close()
            raise RuntimeError("the emulator printed no URL")
        # Keep draining its output so it never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def measure(runs: int, fn: Callable[[], float]) -> list[float]:
    return [fn() for _ in range(runs)]


def fmt(samples: Sequence[float]) -> str:
    return (
        f"{statistics.median(samples):8.2f} s  (min {min(samples):.2f}, max {max(samples):.2f},"
        f" n={len(samples)})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--image", default=os.environ.get("CORTEX_IMAGE", "localhost/cortex-action:ci")
    )
    parser.add_argument("--base", default="", help="the base image, to show what the project adds")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if shutil.which("podman") is None:
        print("podman is not installed: run bash .ci/image.sh first", file=sys.stderr)
        return 2
    if podman("image", "exists", args.image, check=False).returncode != 0:
        print(f"no image {args.image}: run bash .ci/image.sh first", file=sys.stderr)
        return 2

    size = int(podman("image", "inspect", args.image, "--format", "{{.Size}}").stdout.strip())
    rows: list[tuple[str, str]] = [("image size", f"{size / 1e6:8.1f} MB")]
    if args.base:
        base = int(podman("image", "inspect", args.base, "--format", "{{.Size}}").stdout.strip())
        rows.append(("  of which the base", f"{base / 1e6:8.1f} MB"))
        rows.append(("  added by the project", f"{(size - base) / 1e6:8.1f} MB"))

    time_command(["run", "--rm", args.image, "--version"])  # warm the page cache once
    rows.append(
        (
            "podman run --version",
            fmt(measure(args.runs, lambda: time_command(["run", "--rm", args.image, "--version"]))),
        )
    )

    listener = FirstRequest()
    try:
        rows.append(
            (
                "container start -> first request",
                fmt(measure(args.runs, lambda: time_first_request(args.image, listener))),
            )
        )
    finally:
        listener.close()

    emulator = Emulator()
    try:
        rows.append(
            (
                "short workflow end to end (scaffold-repo)",
                fmt(
                    measure(
                        args.runs,
                        lambda: time_command(
                            github_args(args.image, emulator.url, "scaffold-repo")
                        ),
                    )
                ),
            )
        )
    finally:
        emulator.close()

    width = max(len(name) for name, _ in rows)
    vwidth = max(len(value) for _, value in rows)
    print(f"\nImage budget: {args.image}\n")
    print(f"| {'measure'.ljust(width)} | {'value (median of runs)'.ljust(vwidth)} |")
    print(f"|-{'-' * width}-|-{'-' * vwidth}-|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value.ljust(vwidth)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
