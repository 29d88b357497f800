"""The command line: which command, and its flags, built from the inputs table (``inputs.py``).

A flag is accepted only as spelled (no abbreviations). A misspelt flag or a stray word is named,
never its value: the value after an unknown flag may well be a token.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cortex_action import __version__
from cortex_action.errors import InputError
from cortex_action.inputs import Command, Input, for_command
from cortex_action.settings import command_from_env

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

_SIGNALS = "  130  interrupted by SIGINT; 143 by SIGTERM (the run goes on in Cortex)\n"
RUN_EXIT_CODES_HELP = EXIT_CODES_HELP.replace(
    _SIGNALS,
    _SIGNALS + "  With --entities (a fan-out): the code of the worst entity, in this order: 3,\n"
    "  1, 4, then a pause refused by on-paused (1); 0 when every run COMPLETED.\n",
)

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

CALLBACK_HELP = """\
Tell the Cortex workflow that started this CI job how the job went: POST
/api/v1/workflows/WORKFLOW/callback/CALLBACK_ID with {"status", "message",
"response"}. `success` resumes the workflow, `failure` fails it, `update` sends
progress and leaves it waiting (send it as often as you like; success and
failure only once). The token needs the "Edit workflow runs" permission.
Retried on connection errors, 5xx and 429 until --timeout."""

CALLBACK_EXIT_CODES_HELP = """\
exit codes:
  0    Cortex took the callback (also when it answered 406 to a retry after an
       earlier attempt got no answer: that attempt had landed)
  2    invalid input or configuration; nothing was sent
  3    Cortex refused the callback (404 unknown callback id or workflow, 406 the
       block is not waiting, 403 permission) or could not be reached

Every option can also be given as INPUT_<NAME> (GitHub) or CORTEX_<NAME>
(e.g. CORTEX_CALLBACK_ID); flags win. The token comes only from the
environment (CORTEX_API_TOKEN or CORTEX_API_KEY) or --api-token-file.
"""

TOP_HELP_HEAD = """\
usage: cortex-action [COMMAND] [OPTIONS]

Trigger Cortex workflow runs from CI/CD and follow them to the end.

commands:
  run       trigger a workflow run and follow it to its end (the default)
  get       show one run
  wait      follow an existing run to its end
  list      list recent runs, with filters
  callback  tell the workflow that started this job how it went
  emulator  a local emulator of the Cortex API (see emulator --help)

Without a command, the `command` input decides (INPUT_COMMAND, CORTEX_COMMAND;
default run). `cortex-action COMMAND --help` lists a command's options.

options:
  -h, --help  show this help message and exit
  --version   show the program's version number and exit

"""
TOP_HELP = TOP_HELP_HEAD + EXIT_CODES_HELP

DESCRIPTIONS: dict[Command, tuple[str, str]] = {
    Command.RUN: (
        "Trigger a Cortex workflow run with an idempotency key and follow it; with "
        "--entities, one run per entity, at most --max-parallel at once.",
        RUN_EXIT_CODES_HELP,
    ),
    Command.GET: (
        "Show one Cortex workflow run: its status, blocks and link.",
        READ_EXIT_CODES_HELP,
    ),
    Command.WAIT: (
        "Follow an existing Cortex workflow run to its end, with the same outputs, summary "
        "and exit codes as `run`.",
        EXIT_CODES_HELP,
    ),
    Command.LIST: (LIST_HELP, READ_EXIT_CODES_HELP),
    Command.CALLBACK: (CALLBACK_HELP, CALLBACK_EXIT_CODES_HELP),
}

# Names people try for the token; each gets the same answer, and its value is never shown.
TOKEN_GUESSES = frozenset({"--api-token", "--api_token", "--token", "--api-key", "--api_key"})
_NOT_A_FLAG = (
    "the token is never a flag (it would show in the process list): set CORTEX_API_TOKEN "
    "(or CORTEX_API_KEY) in the environment, or pass --api-token-file FILE"
)


class _Parser(argparse.ArgumentParser):
    """argparse, but errors raise instead of exiting, so ``cli.main`` stays the only exit."""

    def error(self, message: str) -> Any:
        # argparse quotes the values it complains about (``-h0=X``: "ignored explicit argument
        # '0=X'"): one may be a secret, so everything from the first quote to the last goes.
        shown = re.sub(
            r"['\"].*['\"]", "(a value, not shown: it could be a secret)", message, flags=re.S
        )
        raise InputError([f"{self.prog}: {shown}"])


class _Once(argparse.Action):
    """Store a flag's value; the same flag (or its alias) again with another value is an error.

    argparse keeps the last of ``--workflow a --workflow b``: a deploy of the wrong workflow,
    silently, when a wrapper script appends its own flags to the user's.
    """

    def __init__(self, *args: Any, fixed: str | None = None, **kwargs: Any) -> None:
        self._fixed = fixed  # --no-wait: a flag without a value
        super().__init__(*args, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        value = self._fixed if self._fixed is not None else values
        if value is None:
            value = self.const
        elif self.const == "true" and isinstance(value, str) and not value.strip():
            # `--dry-run=` (`--dry-run="$DRY"` with DRY unset) would fall back to the default,
            # false: a real deploy where a dry run was asked for. A switch given says its value.
            name = self.dest.replace("_", "-")
            raise InputError(
                [
                    f"{name}: expected true or false, got an empty value ({option_string}=); "
                    f"give {option_string} alone for true (is a variable unset?)"
                ]
            )
        before = getattr(namespace, self.dest, None)
        if before is not None and before != value:
            name = self.dest.replace("_", "-")
            raise InputError(
                [
                    f"{name}: given twice with two values ({option_string} and an earlier flag); "
                    "give it once"
                ]
            )
        setattr(namespace, self.dest, value)


@dataclass(frozen=True)
class Arguments:
    """What the command line asked for."""

    command: Command
    flags: Mapping[str, Any] = field(default_factory=dict)  # by settings field name
    json: bool = False


def _help(spec: Input) -> str:
    default = spec.default_text
    if default in ("empty", "required"):
        return spec.help + (" (required)" if default == "required" else "")
    return f"{spec.help} (default {default})"


def build_parser(command: Command) -> argparse.ArgumentParser:
    """The parser of one command; its flags are the inputs that command reads."""
    description, epilog = DESCRIPTIONS[command]
    parser = _Parser(
        prog=f"cortex-action {command}",
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    if command in (Command.GET, Command.WAIT):
        parser.add_argument("run_id_arg", nargs="?", metavar="RUN_ID", help="the run's id")
    inputs = parser.add_argument_group("inputs (see the README for each)")
    connection = parser.add_argument_group("connection")
    for spec in for_command(command):
        if not spec.flag:
            continue
        group = connection if spec.name in CONNECTION else inputs
        kwargs: dict[str, Any] = {"help": _help(spec), "dest": spec.field, "action": _Once}
        if spec.metavar:
            kwargs["metavar"] = spec.metavar
        if spec.repeatable and command is Command.LIST:
            kwargs["action"] = "append"
        elif spec.metavar == "true|false":
            kwargs |= {"nargs": "?", "const": "true"}
        group.add_argument(f"--{spec.name}", **kwargs)
        if spec.name == "wait":
            group.add_argument(
                "--no-wait",
                dest="wait",
                action=_Once,
                nargs=0,
                fixed="false",
                help="the same as --wait false",
            )
    connection.add_argument(
        "--api-token-file", metavar="FILE", help="read the token from this file"
    )
    connection.add_argument(
        "--json", action="store_true", help="print the result as JSON on stdout"
    )
    return parser


CONNECTION = frozenset(
    {"base-url", "app-url", "allow-insecure-http", "ca-bundle", "output-dir", "timeout"}
)
COMMAND_WORDS = tuple(c.value for c in Command)


def parse_arguments(argv: Sequence[str], env: Mapping[str, str]) -> Arguments:
    """The command and its flags; ``--help`` and ``--version`` raise ``SystemExit(0)``."""
    args = list(argv)
    if args and args[0] in COMMAND_WORDS:
        command, rest = Command(args[0]), args[1:]
    elif not args or args[0].startswith("-") or args[0] == "help":
        if args and args[0] in ("-h", "--help", "help"):
            print(TOP_HELP, end="")
            raise SystemExit(0)
        if args[:1] == ["--version"]:
            print(f"cortex-action {__version__}")
            raise SystemExit(0)
        command, rest = command_from_env(env), args
    else:
        raise InputError([_not_a_command(args[0])])
    parser = build_parser(command)
    namespace, unknown = parser.parse_known_args(glue_ids(parser, rest))
    if unknown:
        raise InputError([_unknown(parser, command, unknown)])
    values = vars(namespace)
    flags = {k: v for k, v in values.items() if k not in ("json", "api_token_file", "run_id_arg")}
    positional = values.get("run_id_arg")
    if positional:
        if flags.get("run_id") and flags["run_id"] != positional:
            raise InputError(["run-id: given twice, as RUN_ID and as --run-id, with two values"])
        flags["run_id"] = positional
    if values.get("api_token_file"):
        flags["api_token"] = read_token_file(values["api_token_file"])
    if command is Command.LIST and flags.get("workflow") is not None:
        flags["workflow"] = list(flags["workflow"])
    return Arguments(
        command=command,
        flags={k: v for k, v in flags.items() if v is not None},
        json=bool(values.get("json")),
    )


# Opaque ids that may start with "-" (Cortex's callback ids are random URL-safe text): argparse
# would take "--callback-id -x1" for a flag without its value.
ID_FLAGS = frozenset({"--callback-id", "--run-id"})


def glue_ids(parser: argparse.ArgumentParser, args: Sequence[str]) -> list[str]:
    """``--callback-id -x1`` as ``--callback-id=-x1``, unless the next word is a flag we know
    (then the id was forgotten, and argparse says so)."""
    known = {o for a in parser._actions for o in a.option_strings}
    out: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        following = args[index + 1] if index + 1 < len(args) else None
        if word == "--":  # everything after is positional, as given
            out += args[index:]
            break
        if (
            word in ID_FLAGS
            and following is not None
            and following.startswith("-")
            and following.split("=", 1)[0] not in known
        ):
            out.append(f"{word}={following}")
            index += 2
            continue
        out.append(word)
        index += 1
    return out


def _not_a_command(word: str) -> str:
    """A typo of a command is shown; anything that could be a secret is not."""
    choices = ", ".join([*COMMAND_WORDS, "emulator"])
    close = difflib.get_close_matches(word, [*COMMAND_WORDS, "emulator"], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    if re.fullmatch(r"[A-Za-z][A-Za-z-]{0,19}", word):
        return f"cortex-action: invalid choice: {word!r} (choose from {choices}){hint}"
    return (
        "cortex-action: the first argument is not a command (it is not shown: it could be a "
        f"secret); choose from {choices}{hint}"
    )


# What an unknown flag's name is shown as: a word, never a value glued to it (``-tSECRET``).
_FLAG_NAME = re.compile(r"--[A-Za-z][A-Za-z_-]{0,39}|-[A-Za-z]")


def _unknown(parser: argparse.ArgumentParser, command: Command, unknown: list[str]) -> str:
    """Name the unknown flags, never a value: the word after ``--api-tok`` is the token."""
    separator = "--" in unknown
    words = [u for u in unknown if u != "--"]
    flags = [u.split("=", 1)[0] for u in words if u.startswith("-")]
    names = list(dict.fromkeys(f for f in flags if _FLAG_NAME.fullmatch(f)))
    hidden = len([f for f in flags if not _FLAG_NAME.fullmatch(f)])
    strays = len([u for u in words if not u.startswith("-")])
    known = [o for a in parser._actions for o in a.option_strings]
    said = [*names]
    if hidden:
        said.append(f"{hidden} flag{'s' if hidden > 1 else ''} not shown")
    if strays:
        said.append(f"{strays} argument{'s' if strays > 1 else ''}")
    if separator:
        said.append("--")
    parts = [f"cortex-action {command}: unrecognized arguments: {', '.join(said)}"]
    for name in names:
        if name in TOKEN_GUESSES or name.startswith("--api-tok"):
            parts.append(f"{name}: not an option; {_NOT_A_FLAG}")
            continue
        close = difflib.get_close_matches(name, known, n=1)
        if name == "--version":
            parts.append("--version: give it alone, before any command: cortex-action --version")
        elif name in known:  # after `--`, where flags are taken as arguments
            parts.append(f"{name}: give it before `--`")
        elif close:
            parts.append(f"{name}: did you mean {close[0]}?")
    if any(not w.startswith("--") for w in flags):
        parts.append("cortex-action has no one-letter options but -h: spell them out (--workflow)")
    if separator:
        parts.append(
            "--: ends the options, and cortex-action " + str(command) + " takes no arguments "
            "after it" + (" but RUN_ID" if command in (Command.GET, Command.WAIT) else "")
        )
    parts.append("(values given with them are not shown: one could be a secret)")
    return "\n  ".join(parts)


def read_token_file(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        if not os.path.lexists(path):
            # Not shown: `--api-token-file "$CORTEX_TOKEN"` passes the token itself as the name.
            raise InputError(
                [
                    f"api-token-file: cannot read it: no such file (relative to {Path.cwd()}); "
                    "its name is not shown, in case it is the token itself: give a file's "
                    "path, or set CORTEX_API_TOKEN in the environment"
                ]
            ) from None
        raise InputError([f"api-token-file: cannot read {path!r}: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise InputError([f"api-token-file: {path!r} is not UTF-8 text"]) from None
    # A Windows editor starts the file with a byte-order mark: not part of the token.
    token = token.removeprefix("\ufeff").strip()
    if not token:
        raise InputError([f"api-token-file: {path!r} is empty"])
    return token
