"""Every input the tool reads, in one table: its name, default, help and the commands that read it.

This is the one source that the settings (layers and defaults), the command-line flags and their
``--help``, ``action.yml`` and the README's inputs table are built from or checked against (the
last two by a test). A default is written as a user would type it, and goes through the same
validation as a given value.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Command(enum.StrEnum):
    RUN = "run"
    GET = "get"
    WAIT = "wait"
    LIST = "list"
    CALLBACK = "callback"


RUN = frozenset({Command.RUN})
READ = frozenset({Command.GET, Command.WAIT})
LIST = frozenset({Command.LIST})
CALLBACK = frozenset({Command.CALLBACK})
ALL = RUN | READ | LIST | CALLBACK

DEFAULT_BASE_URL = "https://api.getcortexapp.com"
# A tenant runs at most 5 workflow runs at once (paused runs don't count): a fan-out never asks
# for more. MAX_ENTITIES keeps one step's summary and outputs far under GitHub's limits.
MAX_PARALLEL = 5
MAX_ENTITIES = 500
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Input:
    """One input: ``--name`` on the command line, ``INPUT_NAME`` on GitHub, ``CORTEX_NAME``."""

    name: str
    help: str
    commands: frozenset[Command]
    # As a user would type it; None: no default (empty, required, or derived: ``shown`` says).
    default: str | None = None
    shown: str = "empty"  # the default as the docs show it when ``default`` is None
    metavar: str | None = None
    flag: bool = True  # the token has no flag: it would show in the process list
    secret: bool = False
    repeatable: bool = False  # ``list --workflow a --workflow b``
    aliases: tuple[str, ...] = ()  # other environment names, read after CORTEX_<NAME>
    action: bool = True  # declared in action.yml (``format`` is for a terminal only)

    @property
    def field(self) -> str:
        return self.name.replace("-", "_")

    @property
    def default_text(self) -> str:
        """The default as ``--help``, ``action.yml`` and the README state it."""
        return self.default if self.default is not None else self.shown


INPUTS: tuple[Input, ...] = (
    Input(
        "command",
        "run, get, wait, list or callback",
        ALL,
        default="run",
        flag=False,  # a sub-command on the command line
    ),
    Input(
        "api-token",
        "Cortex API token, from the environment or --api-token-file",
        ALL,
        shown="required",
        flag=False,
        secret=True,
        aliases=("CORTEX_API_KEY",),
    ),
    Input("base-url", "Cortex API host", ALL, default=DEFAULT_BASE_URL, metavar="URL"),
    Input("app-url", "Cortex web app, for links", ALL, shown="derived", metavar="URL"),
    Input(
        "allow-insecure-http",
        "allow plain http:// to a non-loopback host",
        ALL,
        default="false",
        metavar="true|false",
    ),
    Input("ca-bundle", "PEM file of CA certificates to trust", ALL, metavar="FILE"),
    Input("output-dir", "write result files into this folder", ALL, metavar="DIR"),
    Input(
        "workflow",
        "workflow tag or id",
        ALL,
        shown="required",
        metavar="TAG",
        repeatable=True,
    ),
    Input(
        "entity",
        "entity tag or id: ENTITY scope; omit for GLOBAL (list: runs against it)",
        RUN | LIST,
        metavar="TAG",
    ),
    Input(
        "entities",
        "entity tags or ids, comma- or newline-separated: one run each (fan-out); "
        "instead of entity",
        RUN,
        metavar="TAGS",
    ),
    Input(
        "max-parallel",
        f"fan-out: at most this many of its runs at once (1 to {MAX_PARALLEL})",
        RUN,
        default=str(MAX_PARALLEL),
        metavar="N",
    ),
    Input(
        "fail-fast",
        "fan-out: once a run fails, trigger no new one (the rest are reported skipped)",
        RUN,
        default="false",
        metavar="true|false",
    ),
    Input(
        "initial-context",
        "a JSON object, or lines of key=value (string values)",
        RUN,
        metavar="JSON|KEY=VALUE",
    ),
    Input("run-as", "email of the user the run treats as its initiator", RUN, metavar="EMAIL"),
    Input("notification-recipients", "emails, comma- or newline-separated", RUN, metavar="EMAILS"),
    Input(
        "idempotency-key",
        "Idempotency-Key header of the trigger",
        RUN,
        shown="derived",
        metavar="KEY",
    ),
    Input("wait", "follow the run to its end", RUN, default="true", metavar="true|false"),
    Input(
        "preflight",
        "read the workflow's definition first; refuse what Cortex would refuse",
        RUN,
        default="true",
        metavar="true|false",
    ),
    Input(
        "dry-run",
        "check everything, print the trigger; never send it",
        RUN,
        default="false",
        metavar="true|false",
    ),
    Input(
        "timeout",
        "how long to wait (run, wait) or keep retrying (get, list, callback): 90, 90s, 15m, 1h30m, "
        "1d",
        ALL,
        default="30m",
        metavar="DURATION",
    ),
    Input(
        "on-paused",
        "what a PAUSED run means: wait, succeed or fail",
        RUN | frozenset({Command.WAIT}),
        default="wait",
        metavar="wait|succeed|fail",
    ),
    Input("run-id", "the run to read (get) or follow (wait)", READ, shown="required", metavar="ID"),
    Input(
        "search", "text in the workflow's name or description (searchQuery)", LIST, metavar="TEXT"
    ),
    Input("initiated-by", "the initiator's email (initiatedBy)", LIST, metavar="EMAIL"),
    Input(
        "started-after",
        "2026-11-30, 2026-11-30T08:00:00Z, +02:00, or 24h, 7d (startedAfter)",
        LIST,
        metavar="WHEN",
    ),
    Input("started-before", "same forms (startedBefore)", LIST, metavar="WHEN"),
    Input(
        "status",
        "COMPLETED, FAILED, ...; repeat or comma-separate. Filtered here, not by Cortex",
        LIST,
        metavar="STATUS",
        repeatable=True,
    ),
    Input(
        "limit",
        f"at most this many runs (max {MAX_LIMIT})",
        LIST,
        default=str(DEFAULT_LIMIT),
        metavar="N",
    ),
    Input(
        "format",
        "table, json or jsonl; --json is --format json",
        LIST,
        default="table",
        metavar="table|json|jsonl",
        action=False,
    ),
    Input(
        "callback-id",
        "the callback id the async HTTP block handed to this job",
        CALLBACK,
        shown="required",
        metavar="ID",
    ),
    Input(
        "callback-status",
        "success, failure or update, any case; also GitHub's job.status (cancelled is failure)",
        CALLBACK,
        shown="required",
        metavar="STATUS",
    ),
    Input(
        "message",
        "the text Cortex shows for the callback",
        CALLBACK,
        shown="the CI job, its link and outcome",
        metavar="TEXT",
    ),
    Input(
        "response",
        "a JSON object, or lines of key=value, handed to the workflow",
        CALLBACK,
        shown="the job's link, commit and outcome",
        metavar="JSON|KEY=VALUE",
    ),
)

BY_NAME: dict[str, Input] = {i.name: i for i in INPUTS}
BY_FIELD: dict[str, Input] = {i.field: i for i in INPUTS}
SECRET_FIELDS = frozenset(i.field for i in INPUTS if i.secret)


def for_command(command: Command) -> tuple[Input, ...]:
    """The inputs ``command`` reads, in table order."""
    return tuple(i for i in INPUTS if command in i.commands)
