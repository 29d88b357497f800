"""The command line, and the one error boundary: ``main(argv, env) -> int``.

Everything below raises typed errors; this module alone turns them into messages and exit codes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

import httpx

from cortex_action import __version__
from cortex_action.client import CortexClient
from cortex_action.commands import get as get_command
from cortex_action.commands import list_runs as list_command
from cortex_action.commands import run as run_command
from cortex_action.commands import wait as wait_command
from cortex_action.commands.context import Context
from cortex_action.errors import CortexActionError, ExitCode, InputError, Interrupted
from cortex_action.hosts import Host, detect_host
from cortex_action.render import outputs
from cortex_action.report import Report
from cortex_action.retry import Clock, RetryNotice, Sleep
from cortex_action.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Command,
    Settings,
    load_settings,
)
from cortex_action.signals import finishing, interruptible
from cortex_action.transport import http_client


class Printout(Protocol):
    """A result that is what a command prints on stdout (``get``, ``list``), with its exit code."""

    @property
    def exit_code(self) -> int: ...

    def stdout(self, *, as_json: bool) -> str: ...


Runner = Callable[[Context], Report | Printout]

COMMANDS: dict[Command, Runner] = {
    Command.RUN: run_command.run,
    Command.GET: get_command.get,
    Command.WAIT: wait_command.wait,
    Command.LIST: list_command.list_runs,
}

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
    group.add_argument(
        "--no-wait",
        dest="wait",
        action="store_const",
        const="false",
        help="the same as --wait false",
    )
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


def _add_monitor_commands(sub: Any) -> None:
    """``get``, ``wait`` and ``list``: read runs that exist (see docs/commands.md)."""
    fmt = argparse.RawDescriptionHelpFormatter
    for name, help_text, description, epilog in (
        (
            "get",
            "show one run",
            "Show one Cortex workflow run: its status, blocks and link.",
            READ_EXIT_CODES_HELP,
        ),
        (
            "wait",
            "follow an existing run to its end",
            "Follow an existing Cortex workflow run to its end, with the same outputs, summary "
            "and exit codes as `run`.",
            EXIT_CODES_HELP,
        ),
    ):
        parser = sub.add_parser(
            name, help=help_text, description=description, epilog=epilog, formatter_class=fmt
        )
        parser.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the run's id")
        group = parser.add_argument_group("inputs")
        group.add_argument("--workflow", metavar="TAG", help="workflow tag or id (required)")
        group.add_argument("--timeout", help="how long to wait / keep retrying (default 30m)")
        if name == "wait":
            group.add_argument("--on-paused", help="wait (default), succeed or fail")
        _add_connection_options(parser)
    parser = sub.add_parser(
        "list",
        help="list recent runs, with filters",
        description=LIST_HELP,
        epilog=READ_EXIT_CODES_HELP,
        formatter_class=fmt,
    )
    group = parser.add_argument_group("filters")
    group.add_argument(
        "--workflow",
        action="append",
        metavar="TAG",
        help="workflow tag or id; repeat it or separate with commas (Cortex: workflowIds)",
    )
    group.add_argument(
        "--search", metavar="TEXT", help="text in the workflow's name or description (searchQuery)"
    )
    group.add_argument(
        "--entity", metavar="TAG", help="entity tag or id the run was against (entityId)"
    )
    group.add_argument(
        "--initiated-by", metavar="EMAIL", help="the initiator's email (initiatedBy)"
    )
    group.add_argument(
        "--started-after",
        metavar="WHEN",
        help="2026-11-30, 2026-11-30T08:00:00Z, +02:00, or 24h, 7d (startedAfter)",
    )
    group.add_argument("--started-before", metavar="WHEN", help="same forms (startedBefore)")
    group.add_argument(
        "--status",
        action="append",
        help="COMPLETED, FAILED, ...; repeat or comma-separate. Filtered here, not by Cortex",
    )
    group.add_argument(
        "--limit",
        metavar="N",
        help=f"at most this many runs (default {DEFAULT_LIMIT}, max {MAX_LIMIT})",
    )
    group.add_argument(
        "--format",
        metavar="table|json|jsonl",
        help="table (default), json or jsonl; --json is --format json",
    )
    group.add_argument("--timeout", help="how long to keep retrying Cortex (default 30m)")
    _add_connection_options(parser)


READ_EXIT_CODES_HELP = """\
exit codes:
  0    Cortex answered (whatever the run's status; see `status`), even with no runs
  2    invalid input or configuration; nothing was sent
  3    Cortex refused the request or could not be reached

Every option can also be given as INPUT_<NAME> (GitHub) or CORTEX_<NAME>
(e.g. CORTEX_STARTED_AFTER); flags win. The token comes only from the
environment (CORTEX_API_TOKEN or CORTEX_API_KEY) or --api-token-file.
"""

LIST_HELP = """\
List recent Cortex workflow runs, newest first (sort dateCreated,desc).

Cortex returns only the runs of the last 30 days: older runs are never listed,
whatever --started-after says. Cortex has no status filter, so --status is
applied here, to the pages Cortex returns, until --limit runs are found.
Pages are read with page (from 0) and size until --limit, the last page, or an
empty or short page."""


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
    _add_monitor_commands(sub)
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
    "search",
    "initiated_by",
    "started_after",
    "started_before",
    "status",
    "limit",
    "format",
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


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def main(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    now: Callable[[], dt.datetime] = _utc_now,
) -> int:
    """Run one command; return its exit code. Never raises, never prints a traceback."""
    # SIGINT/SIGTERM stop the work from the first line to the last: before any request, during
    # one, while sleeping. Once the outcome is being written (``finishing()``), they no longer
    # interrupt, so outputs, summary, message and result are never cut in half.
    with interruptible():
        try:
            return _main(argv, env, out, err, transport, clock, sleep, now)
        except Interrupted as late:  # landed in the error reporting, before finishing()
            return int(late.exit_code)


def _main(  # noqa: PLR0917 - private: main's arguments, passed through
    argv: Sequence[str],
    env: Mapping[str, str],
    out: TextIO | None,
    err: TextIO | None,
    transport: httpx.BaseTransport | None,
    clock: Clock,
    sleep: Sleep,
    now: Callable[[], dt.datetime],
) -> int:
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
            with contextlib.redirect_stdout(out):  # --help and --version go to our stdout
                args = parser.parse_args(args_list)
        except SystemExit as exc:  # --help and --version
            return int(exc.code or 0)
        settings = load_settings(env, _flags(args))
        # The same host again, now that we know where `output-dir` wants the result files.
        host = detect_host(env, out, err, output_dir=settings.output_dir)
        host.mask(settings.token)
        return _execute(settings, host, args, transport, clock, sleep, now)
    except Interrupted as exc:
        finishing()
        _print_result(args_list, exc.report, out, host)
        if isinstance(exc.report, Report) and exc.report.run is not None:
            message = (
                f"Stopped following run {exc.report.run.id}; outputs and summary were written. "
                f"The run goes on in Cortex (there is no API to cancel it): {exc.report.run_url}"
            )
        elif isinstance(exc.report, Report):  # the trigger was in flight
            message = (
                "Stopped before Cortex confirmed a run; it may have started anyway: look for it "
                f"in Cortex: {exc.report.run_url}. Repeating this job attempt is safe: it sends "
                f"the same idempotency key ({exc.report.idempotency_key})."
            )
        else:  # get, list, or before any request: nothing was started or written
            message = "Stopped; nothing was written."
        host.error(message, title="Interrupted")
        return int(exc.exit_code)
    except CortexActionError as exc:
        finishing()
        _print_result(args_list, exc.report, out, host)
        host.error(exc.message, title=exc.title)
        return int(exc.exit_code)
    except Exception as exc:  # the boundary: a bug still gets a clean message
        finishing()
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
    now: Callable[[], dt.datetime],
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
    with http:
        client = CortexClient(
            http,
            api_root=settings.api_root,
            token=settings.token,
            clock=clock,
            sleep=sleep,
            notify=notify,
        )

        def wall() -> str:  # ISO 8601 UTC; `list` resolves relative dates against it
            return now().astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

        ctx = Context(settings, host, client, clock, sleep, wall)
        result = COMMANDS[settings.command](ctx)
    finishing()  # the outcome is decided: printing it is not cut short by a late signal
    # stdout is the result; like the log, it never shows the token (a run may echo it back).
    if not isinstance(result, Report):
        host.out.write(host.redact(result.stdout(as_json=bool(getattr(args, "json", False)))))
    elif getattr(args, "json", False):
        host.out.write(host.redact(outputs.result_json(result, indent=2) + "\n"))
    return result.exit_code


def _print_result(argv: Sequence[str], report: object | None, out: TextIO, host: Host) -> None:
    # On the way out of an error too, the result never shows the token (a run may echo it).
    if "--json" in argv and isinstance(report, Report):
        out.write(host.redact(outputs.result_json(report, indent=2) + "\n"))


def console_main() -> None:
    """The ``cortex-action`` console script."""
    sys.exit(main(sys.argv[1:], os.environ))
