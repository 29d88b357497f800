"""``cortex-action emulator [serve|resume|cancel] ...``: run the emulator, or act on its runs.

Every flag has an environment default (``CORTEX_EMULATOR_*``), so a GitHub Actions service
container, which cannot pass arguments, configures it with env only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from cortex_action.emulator.config import ConfigError, default_config, load_config
from cortex_action.emulator.server import EmulatorServer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
USAGE_ERROR = 2

OVERVIEW = """\
usage: cortex-action emulator [serve] [--host H] [--port P] [--config FILE] [--speed F] [--quiet]
                                      [--ready-file PATH]
       cortex-action emulator resume RUN_ID (--approve | --reject) [--url URL] [--by EMAIL]
       cortex-action emulator cancel RUN_ID [--url URL]
       cortex-action emulator callbacks RUN_ID [--url URL]

A local emulator of Cortex's Workflow Runs API (see docs/emulator.md).

  serve    serve the API until SIGINT/SIGTERM (the default command)
  resume   approve or reject a PAUSED run of a running emulator
  cancel   cancel a run of a running emulator, as a person could in Cortex
  callbacks  print the callback ids a run's async HTTP blocks wait for, one a line

Run "cortex-action emulator serve --help" or "... resume --help" for the flags.
"""


class _UsageError(Exception):
    """A bad flag or environment value; the message names it."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print and sys.exit(2)
        raise _UsageError(f"{self.prog}: {message}")


def _serve_parser(env: Mapping[str, str]) -> _Parser:
    p = _Parser(
        prog="cortex-action emulator serve",
        description="Serve the Cortex Workflow Runs API until SIGINT or SIGTERM.",
        epilog="A service container must listen on 0.0.0.0 (CORTEX_EMULATOR_HOST=0.0.0.0).",
    )
    p.add_argument(
        "--host",
        default=env.get("CORTEX_EMULATOR_HOST", DEFAULT_HOST),
        help=f"address to listen on (env CORTEX_EMULATOR_HOST, default {DEFAULT_HOST})",
    )
    p.add_argument(
        "--port",
        default=env.get("CORTEX_EMULATOR_PORT", str(DEFAULT_PORT)),
        help=f"port; 0 picks a free one (env CORTEX_EMULATOR_PORT, default {DEFAULT_PORT})",
    )
    p.add_argument(
        "--config",
        default=env.get("CORTEX_EMULATOR_CONFIG") or None,
        help="YAML or JSON config file (env CORTEX_EMULATOR_CONFIG; default: built in)",
    )
    p.add_argument(
        "--speed",
        default=env.get("CORTEX_EMULATOR_SPEED", "1"),
        help="time factor: 10 runs scripts 10 times faster (env CORTEX_EMULATOR_SPEED, default 1)",
    )
    p.add_argument("--quiet", action="store_true", help="do not log each request to stderr")
    p.add_argument(
        "--ready-file",
        default=env.get("CORTEX_EMULATOR_READY_FILE") or None,
        help="write the base URL to this file once connections are accepted"
        " (env CORTEX_EMULATOR_READY_FILE)",
    )
    return p


def _run_parser(env: Mapping[str, str], command: str) -> _Parser:
    p = _Parser(
        prog=f"cortex-action emulator {command}",
        description={
            "resume": "Approve or reject a PAUSED run.",
            "cancel": "Cancel a run.",
            "callbacks": "Print the callback ids the run's async HTTP blocks wait for.",
        }[command],
    )
    p.add_argument("run_id", metavar="RUN_ID")
    if command == "resume":
        choice = p.add_mutually_exclusive_group(required=True)
        choice.add_argument("--approve", action="store_true", help="approve: the run goes on")
        choice.add_argument("--reject", action="store_true", help="reject: the run ends")
        p.add_argument("--by", default=None, help="email of the person who decides")
    p.add_argument(
        "--url",
        default=env.get("CORTEX_EMULATOR_URL", f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"),
        help="the emulator's base URL (env CORTEX_EMULATOR_URL)",
    )
    return p


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise _UsageError(
            f"--port / CORTEX_EMULATOR_PORT must be a port number from 0 to 65535, got {value!r}"
        )
    return port


def _speed(value: str) -> float:
    try:
        speed = float(value)
    except ValueError:
        speed = 0.0
    if not 0 < speed < float("inf"):
        raise _UsageError(
            f"--speed / CORTEX_EMULATOR_SPEED must be a number above 0, got {value!r}"
        )
    return speed


def _serve(argv: Sequence[str], env: Mapping[str, str]) -> int:
    args = _serve_parser(env).parse_args(argv)
    port = _port(args.port)
    speed = _speed(args.speed)
    config = load_config(args.config) if args.config else default_config()

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        emu = EmulatorServer(config, args.host, port, speed, log=None if args.quiet else log)
    except OSError as err:
        print(
            f"cortex-action emulator: cannot listen on {args.host}:{port}: {err}", file=sys.stderr
        )
        return 1
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread: the caller handles signals
            previous[sig] = signal.signal(sig, on_signal)
    try:
        emu.start()
        bound = "" if emu.url.startswith(f"http://{args.host}:") else f" (bound to {args.host})"
        print(f"Cortex emulator listening on {emu.url}{bound}", flush=True)
        tokens = ", ".join(
            f"{t.value} ({'+'.join(t.permissions) or 'none'})" for t in config.tokens
        )
        print(f"  API: {emu.url}/api/v1   speed: {speed:g}x   tokens: {tokens}", flush=True)
        print(f"  workflows: {', '.join(w.tag for w in config.workflows)}", flush=True)
        print("  stop with Ctrl-C or SIGTERM", flush=True)
        if args.ready_file:
            _write_ready_file(args.ready_file, emu.url)
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Cortex emulator stopped", flush=True)
    return 0


def _write_ready_file(path: str, url: str) -> None:
    """Write the URL atomically (a reader never sees half of it), with a final newline."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(url + "\n", encoding="utf-8")
    tmp.replace(target)


def _callbacks(argv: Sequence[str], env: Mapping[str, str]) -> int:
    args = _run_parser(env, "callbacks").parse_args(argv)
    url = f"{args.url.rstrip('/')}/_emulator/runs/{args.run_id}/callbacks"
    try:
        resp = httpx.get(url, timeout=10)
    except httpx.HTTPError as err:
        print(f"cortex-action emulator callbacks: cannot reach {args.url}: {err}", file=sys.stderr)
        return 1
    try:
        data = resp.json()
    except ValueError:
        data = {}
    if resp.status_code != 200 or not isinstance(data, dict):
        message = data.get("message", resp.reason_phrase) if isinstance(data, dict) else ""
        print(f"cortex-action emulator callbacks: {resp.status_code} {message}", file=sys.stderr)
        return 1
    for item in data.get("callbacks", []):
        print(item["callbackId"])
    return 0


def _act_on_run(argv: Sequence[str], env: Mapping[str, str], command: str) -> int:
    args = _run_parser(env, command).parse_args(argv)
    url = f"{args.url.rstrip('/')}/_emulator/runs/{args.run_id}/{command}"
    body: dict[str, Any] = {}
    if command == "resume":
        body = {"action": "approve" if args.approve else "reject"}
        if args.by:
            body["by"] = args.by
    try:
        resp = httpx.post(url, json=body, timeout=10)
    except httpx.HTTPError as err:
        print(f"cortex-action emulator {command}: cannot reach {args.url}: {err}", file=sys.stderr)
        return 1
    try:
        data = resp.json()
    except ValueError:
        data = {}
    if resp.status_code != 200:
        message = data.get("message", resp.reason_phrase) if isinstance(data, dict) else ""
        details = data.get("details") if isinstance(data, dict) else None
        print(
            f"cortex-action emulator {command}: {resp.status_code} {message}"
            + (f": {details}" if details else ""),
            file=sys.stderr,
        )
        return 1
    print(f"Run {args.run_id} is now {data.get('status')}")
    return 0


def main(argv: Sequence[str], env: Mapping[str, str]) -> int:  # noqa: PLR0911 - one return per sub-command
    """Entry point of ``cortex-action emulator ...``; returns the exit code."""
    args = list(argv)
    try:
        if args[:1] in (["-h"], ["--help"], ["help"]):
            print(OVERVIEW, end="")
            return 0
        if args[:1] == ["callbacks"]:
            return _callbacks(args[1:], env)
        if args[:1] in (["resume"], ["cancel"]):
            return _act_on_run(args[1:], env, args[0])
        if args[:1] == ["serve"]:
            args = args[1:]
        return _serve(args, env)
    except _UsageError as err:
        print(f"{err}\n(see: cortex-action emulator --help)", file=sys.stderr)
        return USAGE_ERROR
    except ConfigError as err:
        print(f"cortex-action emulator: invalid configuration: {err}", file=sys.stderr)
        return USAGE_ERROR
    except SystemExit as exit_:  # argparse's --help
        return exit_.code if isinstance(exit_.code, int) else 0
