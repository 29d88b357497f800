"""The command line, and the one error boundary: ``main(argv, env) -> int``.

Everything below raises typed errors; this module alone turns them into messages and exit codes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx

from cortex_action import __version__, render
from cortex_action.client import CortexClient
from cortex_action.commands import run as run_command
from cortex_action.commands.context import Context
from cortex_action.errors import CortexActionError, ExitCode, InputError, Interrupted
from cortex_action.hosts import Host, detect_host
from cortex_action.report import Report
from cortex_action.retry import Clock, RetryNotice, Sleep
from cortex_action.settings import DEFAULT_BASE_URL, Command, Settings, load_settings
from cortex_action.signals import interruptible
from cortex_action.transport import http_client

Runner = Callable[[Context], Report]

COMMANDS: dict[Command, Runner] = {Command.RUN: run_command.run}

EXIT_CODES_HELP = """\
exit codes:
  0    the run COMPLETED (or wait is false and the trigger was accepted,
       or the run is PAUSED and on-paused is succeed)
  1    the run ended FAILED, CANCELLED or TIMED_OUT (or PAUSED with on-paused fail)
  2    invalid input or configuration; nothing was sent
  3    Cortex refused the request or could not be reached
  4    timeout reached before the run ended (the run goes on in Cortex)
  130  interrupted by SIGINT; 143 by SIGTERM (the run goes on in Cortex)

Every option can also be given as INPUT_<NAME> (GitHub) or CORTEX_<NAME>
(e.g. CORTEX_WORKFLOW); flags win. The token comes only from the environment
(CORTEX_API_TOKEN or CORTEX_API_KEY) or --api-token-file.
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but errors raise instead of exiting, so ``main`` stays the only exit."""

    def error(self, message: str) -> Any:
        raise InputError([f"{self.prog}: {message}"])


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("inputs (see the README for each)")
    group.add_argument("--workflow", help="workflow tag or id (required)")
    group.add_argument("--entity", help="entity tag or id: ENTITY scope; omit for GLOBAL")
    group.add_argument(
        "--initial-context", help="a JSON object, or lines of key=value (string values)"
    )
    group.add_argument("--run-as", help="email of the user the run treats as its initiator")
    group.add_argument("--notification-recipients", help="emails, comma- or newline-separated")
    group.add_argument("--idempotency-key", help="default: derived from the commit SHA")
    group.add_argument(
        "--wait",
        nargs="?",
        const="true",
        metavar="true|false",
        help="follow the run (default true)",
    )
    group.add_argument("--no-wait", dest="wait", action="store_const", const="false")
    group.add_argument("--timeout", help="how long to wait: 90, 90s, 15m, 1h30m (default 30m)")
    group.add_argument("--on-paused", help="wait (default), succeed or fail")
    _add_connection_options(parser)


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--base-url", help=f"Cortex API host (default {DEFAULT_BASE_URL})")
    group.add_argument("--app-url", help="Cortex web app, for links (default: api. -> app.)")
    group.add_argument(
        "--allow-insecure-http",
        nargs="?",
        const="true",
        metavar="true|false",
        help="allow plain http:// to a non-loopback host",
    )
    group.add_argument("--api-token-file", help="read the token from this file")
    group.add_argument("--ca-bundle", help="PEM file of CA certificates to trust")
    group.add_argument("--output-dir", help="write result files into this folder")
    group.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cortex-action",
        description="Trigger Cortex workflow runs from CI/CD and follow them to the end.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cortex-action {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run_parser = sub.add_parser(
        "run",
        help="trigger a workflow run and follow it to its end (the default)",
        description="Trigger a Cortex workflow run with an idempotency key and follow it.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(run_parser)
    sub.add_parser(
        "emulator", help="a local emulator of the Cortex API (see emulator --help)", add_help=False
    )
    return parser


FLAG_FIELDS = (
    "workflow",
    "entity",
    "initial_context",
    "run_as",
    "notification_recipients",
    "idempotency_key",
    "wait",
    "timeout",
    "on_paused",
    "base_url",
    "app_url",
    "allow_insecure_http",
    "ca_bundle",
    "output_dir",
    "run_id",
)


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    flags: dict[str, Any] = {f: getattr(args, f) for f in FLAG_FIELDS if getattr(args, f, None)}
    if getattr(args, "command", None):
        flags["command"] = args.command
    token_file = getattr(args, "api_token_file", None) or None
    if token_file:
        flags["api_token"] = _read_token_file(token_file)
    return flags


def _read_token_file(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InputError([f"api-token-file: cannot read {path!r}: {exc.strerror}"]) from None
    if not token:
        raise InputError([f"api-token-file: {path!r} is empty"])
    return token


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def main(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> int:
    """Run one command; return its exit code. Never raises, never prints a traceback."""
    args_list = list(argv)
    if args_list[:1] == ["emulator"] or (
        not args_list and env.get("CORTEX_COMMAND", "").strip().lower() == "emulator"
    ):
        from cortex_action.emulator.cli import main as emulator_main  # noqa: PLC0415 - optional

        return int(emulator_main(args_list[1:], env))
    out = out or sys.stdout
    err = err or sys.stderr
    host = detect_host(env, out, err)
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(args_list)
        except SystemExit as exc:  # --help and --version
            return int(exc.code or 0)
        settings = load_settings(env, _flags(args))
        # The same host again, now that we know where `output-dir` wants the result files.
        host = detect_host(env, out, err, output_dir=settings.output_dir)
        host.mask(settings.token)
        return _execute(settings, host, args, transport, clock, sleep)
    except Interrupted as exc:
        _print_result(args_list, exc.report, out)
        host.error(
            "Interrupted: stopped waiting; outputs and summary were written. "
            "The run goes on in Cortex (there is no API to cancel it).",
            title="Interrupted",
        )
        return int(exc.exit_code)
    except CortexActionError as exc:
        _print_result(args_list, exc.report, out)
        host.error(exc.message, title=exc.title)
        return int(exc.exit_code)
    except Exception as exc:  # the boundary: a bug still gets a clean message
        host.error(
            f"Unexpected error ({type(exc).__name__}): {exc}. This is a bug in cortex-action; "
            "please report it with this log.",
            title="cortex-action internal error",
        )
        return int(ExitCode.CORTEX_ERROR)


def _execute(  # noqa: PLR0917 - private, called once
    settings: Settings,
    host: Host,
    args: argparse.Namespace,
    transport: httpx.BaseTransport | None,
    clock: Clock,
    sleep: Sleep,
) -> int:
    def notify(notice: RetryNotice) -> None:
        host.warning(
            f"{notice.reason}; attempt {notice.attempt + 1} in {notice.delay:.1f}s "
            f"({notice.remaining:.0f}s left of `timeout`).",
            title="Retrying",
        )

    http, network = http_client(settings.base_url, settings.ca_bundle, host.env, transport)
    if network.proxy:
        host.detail(f"Using proxy {network.proxy} (from {network.proxy_source}).")
    if settings.ca_bundle or network.trust != "the default CA certificates":
        host.detail(f"Trusting {network.trust}.")
    with interruptible(), http:
        client = CortexClient(
            http,
            api_root=settings.api_root,
            token=settings.token,
            clock=clock,
            sleep=sleep,
            notify=notify,
        )
        ctx = Context(settings, host, client, clock, sleep, _utc_now)
        report = COMMANDS[settings.command](ctx)
    if getattr(args, "json", False):
        host.out.write(render.result_json(report, indent=2) + "\n")
    return report.exit_code


def _print_result(argv: Sequence[str], report: object | None, out: TextIO) -> None:
    if "--json" in argv and isinstance(report, Report):
        out.write(render.result_json(report, indent=2) + "\n")


def console_main() -> None:
    """The ``cortex-action`` console script."""
    sys.exit(main(sys.argv[1:], os.environ))
