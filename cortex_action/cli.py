"""The one error boundary: ``main(argv, env) -> int``.

Commands return their ``Ending``; what they raise is mapped here, through ``EXIT_CODES``, to an
exit code and one message. Either way the ending is published here, once: outputs, summary,
result files, stdout (``--json``, ``get``, ``list``), and the last log line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO
from urllib.parse import urlsplit

import httpx

from cortex_action.arguments import parse_arguments
from cortex_action.client import CortexClient
from cortex_action.commands import callback as callback_command
from cortex_action.commands import fanout as fanout_command
from cortex_action.commands import get as get_command
from cortex_action.commands import list_runs as list_command
from cortex_action.commands import run as run_command
from cortex_action.commands import wait as wait_command
from cortex_action.commands.context import Context, runs_url
from cortex_action.endings import Ending, Failure, Progress, for_error, interrupted_message
from cortex_action.errors import CortexActionError, CortexError, ExitCode, InputError, Interrupted
from cortex_action.hosts import Host, detect_host
from cortex_action.render import outputs, summary
from cortex_action.report import redacted
from cortex_action.retry import Clock, RetryNotice, Sleep
from cortex_action.settings import (
    CallbackSettings,
    Command,
    ListSettings,
    ReadSettings,
    RunSettings,
    Settings,
    load_settings,
)
from cortex_action.signals import finishing, interruptible
from cortex_action.transport import http_client

# What each kind of error means for the exit code (README, "Exit codes"); the first match wins.
# Interrupted carries its own (130 for SIGINT, 143 for SIGTERM); anything else is a bug: 3.
EXIT_CODES: tuple[tuple[type[Exception], ExitCode], ...] = (
    (InputError, ExitCode.INVALID_INPUT),
    (CortexError, ExitCode.CORTEX_ERROR),
)


def exit_code_of(error: Exception | Interrupted) -> ExitCode:
    if isinstance(error, Interrupted):
        return error.exit_code
    return next(
        (code for kind, code in EXIT_CODES if isinstance(error, kind)), ExitCode.CORTEX_ERROR
    )


def failure_of(
    error: Exception | Interrupted, ending: Ending | None, progress: Progress | None
) -> Failure:
    """The one error line for ``error``: what happened, why, and what to do."""
    if isinstance(error, Interrupted):
        return Failure("Interrupted", interrupted_message(ending, progress))
    if isinstance(error, CortexActionError):
        return Failure(error.title, error.message)
    return Failure(
        "cortex-action internal error",
        f"Unexpected error ({type(error).__name__}): {error}. This is a bug in cortex-action; "
        "please report it with this log.",
    )


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def main(  # noqa: PLR0913 - main's seams: I/O, transport and time, injected for tests
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
    args = list(argv)
    if args[:1] == ["emulator"] or (
        not args and env.get("CORTEX_COMMAND", "").strip().lower() == "emulator"
    ):
        from cortex_action.emulator.cli import main as emulator_main  # noqa: PLC0415 - optional

        return int(emulator_main(args[1:], env))
    host = detect_host(env, out or sys.stdout, err or sys.stderr)
    # SIGINT/SIGTERM stop the work from the first line to the last: before any request, during
    # one, while sleeping. Once the ending is being published (``finishing()``), they no longer
    # interrupt, so outputs, summary, message and result are never cut in half.
    with interruptible():
        try:
            return _main(args, env, host, transport, clock, sleep, now)
        except Interrupted as late:  # landed before finishing() on the way out of an error
            return int(late.exit_code)


def _main(  # noqa: PLR0913, PLR0917 - private: main's arguments, passed through
    argv: list[str],
    env: Mapping[str, str],
    host: Host,
    transport: httpx.BaseTransport | None,
    clock: Clock,
    sleep: Sleep,
    now: Callable[[], dt.datetime],
) -> int:
    progress: Progress | None = None
    as_json = False
    token = ""
    try:
        try:
            with contextlib.redirect_stdout(host.out):  # --help and --version go to our stdout
                arguments = parse_arguments(argv, env)
        except SystemExit as exc:  # --help and --version
            return int(exc.code or 0)
        as_json = arguments.json
        settings = load_settings(env, arguments.flags, arguments.command)
        token = settings.token
        host.output_dir = settings.output_dir
        host.mask(token)
        progress = Progress(runs_url(settings), host.job_url, clock, host.retry_sends_same_key)
        ending = _execute(settings, host, progress, transport, clock, sleep, now)
    except (Exception, Interrupted) as error:  # the boundary: every error ends here, once
        finishing()
        code = exit_code_of(error)
        ending = for_error(error, code, progress) or Ending(code)
        ending = dataclasses.replace(
            ending, exit_code=code, closing=None, failure=failure_of(error, ending, progress)
        )
        _publish(ending, host, token, as_json=as_json)
        return code
    finishing()  # the ending is decided: publishing it is not cut short by a late signal
    _publish(ending, host, token, as_json=as_json)
    return ending.exit_code


def _execute(  # noqa: PLR0913, PLR0917 - private, called once
    settings: Settings,
    host: Host,
    progress: Progress,
    transport: httpx.BaseTransport | None,
    clock: Clock,
    sleep: Sleep,
    now: Callable[[], dt.datetime],
) -> Ending:
    def notify(notice: RetryNotice) -> None:
        # A plain line, not an annotation: a retry that recovers changes nothing for the user,
        # and GitHub shows only 10 annotations per step. If retrying fails, the error says so.
        host.detail(
            f"Retrying: {notice.reason}; attempt {notice.attempt + 1} in {notice.delay:.1f}s "
            f"({notice.remaining:.0f}s left of `timeout`)."
        )

    http, network = http_client(settings.base_url, settings.ca_bundle, host.env, transport)
    if network.proxy:
        host.detail(f"Using proxy {network.proxy} (from {network.proxy_source}).")
    tls = urlsplit(settings.base_url).scheme == "https"  # no certificates for plain http://
    if tls and (settings.ca_bundle or network.trust != "the default CA certificates"):
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
        match settings:
            case RunSettings() if settings.fan_out:
                return fanout_command.run(
                    Context(settings, host, client, clock, sleep, now, progress)
                )
            case RunSettings():
                return run_command.run(Context(settings, host, client, clock, sleep, now, progress))
            case ReadSettings():
                read = get_command.get if settings.command is Command.GET else wait_command.wait
                return read(Context(settings, host, client, clock, sleep, now, progress))
            case CallbackSettings():
                return callback_command.callback(
                    Context(settings, host, client, clock, sleep, now, progress)
                )
            case ListSettings():
                return list_command.list_runs(
                    Context(settings, host, client, clock, sleep, now, progress)
                )
    raise AssertionError(f"no command for {type(settings).__name__}")  # pragma: no cover


def _publish(ending: Ending, host: Host, token: str, *, as_json: bool) -> None:
    """Outputs, summary, result files, warnings, the last log line and stdout, in that order."""
    report = redacted(ending.report, token) if ending.report is not None else None
    if report is not None:
        host.write_outputs(outputs.run_outputs(report))
        host.write_summary(summary.run_summary(report))
        _write_files(host, host.result_files(report))
    if ending.outputs is not None:
        host.write_outputs(ending.outputs)
    if ending.summary is not None:
        host.write_summary(ending.summary)
    if ending.files is not None:
        link = host.link_files(*ending.link) if ending.link is not None else {}
        _write_files(host, {**ending.files, **link})
    for warning in ending.warnings:
        host.warning(warning.message, title=warning.title)
    if ending.closing:
        host.info(ending.closing)
    # stdout is the result; like the log, it never shows the token (a run may echo it back).
    if ending.printout is not None:
        host.out.write(host.redact(ending.printout.stdout(as_json=as_json)))
    elif as_json and report is not None:
        host.out.write(host.redact(outputs.result_json(report, indent=2) + "\n"))
    if ending.failure is not None:
        host.error(ending.failure.message, title=ending.failure.title)


def _write_files(host: Host, files: Mapping[str, str]) -> None:
    try:
        written = host.write_files(files)
    except OSError as exc:
        # Said, not raised: this runs on the way out of errors too, and must not hide them.
        host.warning(
            f"Could not write the result files into {host.result_dir()}: {exc}",
            title="Result files",
        )
    else:
        if written:
            names = ", ".join(p.name for p in written)
            host.info(f"Result files in {written[0].parent}: {names}")


def console_main() -> None:
    """The ``cortex-action`` console script."""
    sys.exit(main(sys.argv[1:], os.environ))
