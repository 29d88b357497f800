"""The inputs of one command, parsed once into one frozen object per command family.

Inputs are looked up in layers: command-line flags, then ``INPUT_<NAME>`` (as GitHub sets them,
hyphens kept, or with underscores), then ``CORTEX_<NAME>`` (and the aliases in ``inputs.py``),
then the default from ``inputs.py``. An empty value means "not given". Defaults go through the
same validation as given values, so a default can't be something an input would refuse.

Families: ``RunSettings`` (trigger and follow), ``ReadSettings`` (``get`` and ``wait``: one run),
``ListSettings`` (``list``). Required inputs are plain typed fields: once parsed, they are there.
"""

from __future__ import annotations

import collections
import enum
import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from pydantic import BeforeValidator, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from cortex_action import dates, parse
from cortex_action.errors import InputError
from cortex_action.inputs import (
    BY_FIELD,
    DEFAULT_BASE_URL,
    DEFAULT_LIMIT,
    MAX_ENTITIES,
    MAX_LIMIT,
    MAX_PARALLEL,
    SECRET_FIELDS,
    Command,
    for_command,
)
from cortex_action.models import KNOWN_STATUSES

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "CallbackSettings",
    "CallbackStatus",
    "Command",
    "ListSettings",
    "OnPaused",
    "OutputFormat",
    "ReadSettings",
    "RunSettings",
    "Settings",
    "command_from_env",
    "load_settings",
]


class OnPaused(enum.StrEnum):
    WAIT = "wait"
    SUCCEED = "succeed"
    FAIL = "fail"


class CallbackStatus(enum.StrEnum):
    """What a callback tells the waiting block: done, failed, or still working (Cortex's names)."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    UPDATE = "UPDATE"


# The words CI systems use for a job's outcome, so a job can pass its own: GitHub's job.status
# (success, failure, cancelled), GitLab's CI_JOB_STATUS (success, failed, canceled), Jenkins'
# currentBuild.currentResult (SUCCESS, FAILURE, ABORTED). Anything else is a typo, not a guess.
CALLBACK_STATUS_WORDS: dict[str, CallbackStatus] = {
    "success": CallbackStatus.SUCCESS,
    "failure": CallbackStatus.FAILURE,
    "update": CallbackStatus.UPDATE,
    "failed": CallbackStatus.FAILURE,
    "cancelled": CallbackStatus.FAILURE,
    "canceled": CallbackStatus.FAILURE,
    "aborted": CallbackStatus.FAILURE,
}


def _callback_status(value: str) -> tuple[CallbackStatus, str]:
    """The status to send, and the outcome as the job named it (for the default message)."""
    word = value.strip().lower()
    if word not in CALLBACK_STATUS_WORDS:
        raise ValueError(
            "expected success, failure or update (any case; also cancelled, canceled, failed "
            f"or aborted, which are failure), got {value.strip()[:60]!r}"
        )
    return CALLBACK_STATUS_WORDS[word], word


def _message(value: str) -> str:
    # Shown to a person in Cortex: text, possibly several lines, but nothing that hides.
    text = value.strip()
    if any((ord(c) < 0x20 and c not in "\n\t") or ord(c) == 0x7F for c in text):
        raise ValueError("expected text without control characters (line breaks are fine)")
    return text


class OutputFormat(enum.StrEnum):
    """How ``list`` prints its runs on stdout."""

    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"


def _on_text(parser: Callable[[str], Any]) -> BeforeValidator:
    """Parse a raw text value; values that are already typed pass through."""
    return BeforeValidator(lambda value: parser(value) if isinstance(value, str) else value)


def _token(value: str) -> str:
    # The token goes into an HTTP header. A line break or a non-ASCII character would make
    # the HTTP library refuse it with an error that quotes the header, token and all.
    value = value.strip()
    if value.startswith("\ufeff"):
        raise ValueError(
            "the value starts with a byte-order mark (U+FEFF, added by some Windows editors) "
            "before the token; remove it from the secret or the variable (the token is not "
            "shown)"
        )
    if not all("\x21" <= c <= "\x7e" for c in value):
        raise ValueError(
            "expected printable ASCII characters without spaces or line breaks; the "
            "value has other characters (it is a secret, so it is not shown)"
        )
    return value


def shown_url(url: str) -> str:
    """A URL as an error message may show it: not at all with an ``@`` in it (user info, which
    may hold a password, in whatever mangled form), else quoted and shortened."""
    return "(not shown)" if "@" in url else repr(url[:120])


def _url(value: str) -> str:
    url = value.strip().rstrip("/")
    expected = f"expected an http(s) URL such as {DEFAULT_BASE_URL}"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise ValueError(f"{expected}, without spaces or control characters")
    if "@" in url:  # anywhere: "https:/user:pw@host" is user info too, to a person
        # Never sent, never shown: the Bearer token is the only credential, and a password here
        # would end up in links, outputs and the log.
        raise ValueError(
            "expected a URL without a user name or password (no '@'): the token "
            "(`api-token`) is the only credential sent; the URL is not shown, as it holds one"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{expected}, got {shown_url(url)}: the scheme must be http or https")
    try:
        port = parts.port  # urllib checks the port only when asked
    except ValueError:
        raise ValueError(
            f"{expected}, got {shown_url(url)}: the port must be a number from 1 to 65535"
        ) from None
    if not parts.hostname or port == 0:
        what = "it has no host name" if not parts.hostname else "the port must be 1 to 65535"
        raise ValueError(f"{expected}, got {shown_url(url)}: {what}")
    if "?" in url or "#" in url:
        # Even empty ("https://host#"): what we append would become the query or the fragment,
        # and every request would go to the host's root.
        raise ValueError(f"expected a URL without query or fragment, got {shown_url(url)}")
    if not _valid_host(parts.hostname):
        raise ValueError(
            f"{expected}, got {shown_url(url)}: the host name is not valid (empty labels, a "
            "label over 63 characters, or a malformed international name)"
        )
    # Users paste the API root they see in docs; we add /api/v1 ourselves.
    return url.removesuffix("/api/v1")


def _valid_host(host: str) -> bool:
    """A host the client can connect to: an IP address, or a name whose labels (once encoded
    as IDNA, as the client sends them) are 1 to 63 characters. Else the connection fails with
    a codec error deep in the client, not a message naming `base-url`."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    else:
        return True
    try:
        url = httpx.URL(f"https://{host}/")
        ascii_host = url.raw_host.decode("ascii")
        url.host  # noqa: B018 - decodes each "xn--" label: a malformed one raises here
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return False
    labels = ascii_host.removesuffix(".").split(".")
    return len(ascii_host) <= 253 and all(0 < len(label) <= 63 for label in labels)


def _limit(value: str) -> int:
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ValueError(f"expected a whole number from 1 to {MAX_LIMIT}, got {text[:20]!r}")
    return int(text)


def _statuses(value: str | list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
    """Statuses, repeated or comma/newline-separated, any case; unknown names are typos."""
    names = [n.upper() for n in parse.split_list(value)]
    bad = [n for n in names if n not in KNOWN_STATUSES]
    if bad:
        raise ValueError(
            "expected statuses among "
            + ", ".join(sorted(KNOWN_STATUSES))
            + "; not a status: "
            + ", ".join(repr(b[:40]) for b in bad)
        )
    return tuple(dict.fromkeys(names))


def _workflows(value: str | list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
    """For ``list``, ``workflow`` holds several: repeated, or comma/newline-separated."""
    names = parse.split_list(value)
    for name in names:
        try:
            parse.single_line(name, 1024)
        except ValueError:
            raise ValueError(
                f"expected tags or ids separated by commas or newlines, got {name[:60]!r}"
            ) from None
    return tuple(dict.fromkeys(names))


def _entities(value: str | list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
    """Fan-out: entity tags or ids, comma/newline-separated, each once, in the order given."""
    names = parse.split_list(value)
    if len(names) > MAX_ENTITIES:
        raise ValueError(f"at most {MAX_ENTITIES} entities in one step, got {len(names)}")
    if not names:
        # Only separators: not "no fan-out", which would run once, in GLOBAL scope.
        raise ValueError("expected entity tags or ids separated by commas or newlines; got none")
    for name in names:
        try:
            parse.single_line(name, 1024)
        except ValueError:
            raise ValueError(
                f"expected entity tags or ids separated by commas or newlines, got {name[:60]!r}"
            ) from None
    # Compared case-insensitively: whether Cortex matches tags by case is unknown, and two
    # spellings of one entity would get two keys, hence two runs (two deploys) of that entity.
    seen = collections.Counter(n.casefold() for n in names)
    twice = sorted({n for n in names if seen[n.casefold()] > 1})
    if twice:
        # The same entity twice is the same request, hence the same key: one run, not two.
        raise ValueError(
            "each entity once (case does not tell entities apart): listed more than once: "
            + ", ".join(repr(t[:60]) for t in twice)
        )
    return tuple(names)


def _parallel(value: str) -> int:
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_PARALLEL:
        raise ValueError(
            f"expected a whole number from 1 to {MAX_PARALLEL} (a Cortex tenant runs at most "
            f"{MAX_PARALLEL} workflow runs at once), got {text[:20]!r}"
        )
    return int(text)


def _lower(value: str) -> str:
    return value.strip().lower()


Text = Annotated[str, _on_text(lambda v: parse.single_line(v, 1024))]
Url = Annotated[str, _on_text(_url)]
Bool = Annotated[bool, _on_text(parse.parse_bool)]
Duration = Annotated[float, _on_text(parse.parse_duration)]
Email = Annotated[str, _on_text(parse.parse_email)]
HeaderToken = Annotated[str, _on_text(parse.parse_header_token)]
Token = Annotated[SecretStr, _on_text(_token)]
Paused = Annotated[OnPaused, _on_text(_lower)]


class Settings(BaseSettings):
    """What every command reads: where Cortex is, how to reach it, and where results go."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_default=False)

    api_token: Token
    base_url: Url
    allow_insecure_http: Bool
    app_url: Url | None = None
    ca_bundle: Text | None = None
    output_dir: Text | None = None
    timeout: Duration

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what load_settings() passes in: never the process environment behind our back.
        return (init_settings,)

    @model_validator(mode="after")
    def _plain_http(self) -> Settings:
        parts = urlsplit(self.base_url)
        if (
            parts.scheme == "http"
            and not self.allow_insecure_http
            and not is_loopback(parts.hostname)
        ):
            raise ValueError(
                f"base-url: plain http:// to {parts.hostname} would send the token unencrypted. "
                "Use https://, or set allow-insecure-http to true if this network is trusted."
            )
        return self

    @property
    def token(self) -> str:
        return self.api_token.get_secret_value()

    @property
    def api_root(self) -> str:
        return self.base_url + "/api/v1"

    @property
    def web_url(self) -> str:
        """The web app: ``app-url`` if given, else the API host with ``api.`` made ``app.``."""
        if self.app_url:
            return self.app_url
        parts = urlsplit(self.base_url)
        host = parts.netloc
        if host.startswith("api."):
            host = "app." + host.removeprefix("api.")
        return f"{parts.scheme}://{host}{parts.path}"


class RunSettings(Settings):
    """``run``: trigger a run, then follow it."""

    command: Command = Command.RUN
    workflow: Text
    entity: Text | None = None
    initial_context: Annotated[dict[str, Any], _on_text(parse.parse_context)] | None = None
    run_as: Email | None = None
    notification_recipients: Annotated[tuple[str, ...], _on_text(parse.parse_email_list)] = ()
    idempotency_key: HeaderToken | None = None
    wait: Bool
    preflight: Bool
    dry_run: Bool
    on_paused: Paused
    entities: Annotated[tuple[str, ...], BeforeValidator(_entities)] = ()
    max_parallel: Annotated[int, _on_text(_parallel)] = MAX_PARALLEL
    fail_fast: Bool = False

    @model_validator(mode="after")
    def _fan_out(self) -> RunSettings:
        if self.entities and self.entity:
            raise ValueError(
                "entities: `entity` is given too; give one of them: `entity` for one run, "
                "`entities` for one run per entity (fan-out)"
            )
        if self.entities and not self.wait:
            raise ValueError(
                "entities: `wait` is false; a fan-out follows its runs to keep at most "
                "`max-parallel` of them at once, so `wait` must be true with `entities`"
            )
        return self

    @property
    def fan_out(self) -> bool:
        return bool(self.entities)


class ReadSettings(Settings):
    """``get`` and ``wait``: one run that exists."""

    command: Command
    workflow: Text
    run_id: HeaderToken
    on_paused: Paused = OnPaused.WAIT  # read by ``wait`` only


class ListSettings(Settings):
    """``list``: the runs that match the filters."""

    command: Command = Command.LIST
    workflows: Annotated[tuple[str, ...], BeforeValidator(_workflows)] = ()
    entity: Text | None = None
    search: Annotated[str, _on_text(lambda v: parse.single_line(v, 200))] | None = None
    initiated_by: Email | None = None
    started_after: Annotated[dates.When, _on_text(dates.parse_when)] | None = None
    started_before: Annotated[dates.When, _on_text(dates.parse_when)] | None = None
    status: Annotated[tuple[str, ...], BeforeValidator(_statuses)] = ()
    limit: Annotated[int, _on_text(_limit)]
    format: Annotated[OutputFormat, _on_text(_lower)]

    @model_validator(mode="after")
    def _window(self) -> ListSettings:
        # Relative ages are checked against "now" when the listing is built (list_runs.window).
        after = self.started_after.instant if self.started_after else None
        before = self.started_before.instant if self.started_before else None
        if after and before:
            dates.check_window(after, before)
        return self


class CallbackSettings(Settings):
    """``callback``: tell a paused async HTTP block how this CI job went."""

    command: Command = Command.CALLBACK
    workflow: Text
    callback_id: HeaderToken
    callback_status: Annotated[tuple[CallbackStatus, str], _on_text(_callback_status)]
    message: Annotated[str, _on_text(_message)] | None = None
    response: Annotated[dict[str, Any], _on_text(parse.parse_context)] | None = None

    @property
    def status(self) -> CallbackStatus:
        return self.callback_status[0]

    @property
    def outcome(self) -> str:
        """The job's outcome as it was given (``cancelled``, ``success``...), lower case."""
        return self.callback_status[1]


FAMILIES: dict[Command, type[Settings]] = {
    Command.RUN: RunSettings,
    Command.GET: ReadSettings,
    Command.WAIT: ReadSettings,
    Command.LIST: ListSettings,
    Command.CALLBACK: CallbackSettings,
}


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    host = host.removesuffix(".")  # "localhost." is the same host, fully qualified
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _env_value(env: Mapping[str, str], prefix: str, name: str) -> str | None:
    upper = name.upper()
    candidates = [prefix + upper, prefix + upper.replace("-", "_")]
    if prefix == "CORTEX_":
        candidates += list(BY_FIELD[name.replace("-", "_")].aliases)
    for key in candidates:
        value = env.get(key, "")
        if value.strip():
            return value
    return None


def command_from_env(env: Mapping[str, str]) -> Command:
    """The ``command`` input when no sub-command is given: ``INPUT_COMMAND``, ``CORTEX_COMMAND``,
    else ``run``."""
    raw = _env_value(env, "INPUT_", "command") or _env_value(env, "CORTEX_", "command") or "run"
    word = raw.strip().lower()
    try:
        return Command(word)
    except ValueError:
        *first, last = (repr(c.value) for c in Command)
        expected = f"{', '.join(first)} or {last}"
        # A word is shown; anything else could be a secret in the wrong variable.
        shown = repr(raw.strip()) if re.fullmatch(r"[A-Za-z][A-Za-z-]{0,19}", raw.strip()) else None
        problem = f"command: expected {expected}, got " + (shown or "another value (not shown)")
        if word == "emulator":
            problem += (
                "; the emulator is started by `cortex-action emulator [OPTIONS]`, or by "
                "CORTEX_COMMAND=emulator with no arguments"
            )
        raise InputError([problem]) from None


def _missing(command: Command, values: Mapping[str, Any]) -> list[str]:
    """Required inputs that are absent; checked on raw values too, so they join other errors."""
    problems: list[str] = []
    if not values.get("api_token"):
        problems.append(
            "api-token: required. Give the action input `api-token` (GitHub), or set "
            "CORTEX_API_TOKEN (or CORTEX_API_KEY) in the environment, or pass --api-token-file."
        )
    if command is not Command.LIST and not values.get("workflow"):
        problems.append(
            "workflow: required: the tag or id of the Cortex workflow, e.g. deploy-service."
        )
    if command in (Command.GET, Command.WAIT) and not values.get("run_id"):
        problems.append(f"run-id: required for command {command}.")
    if command is Command.CALLBACK:
        if not values.get("callback_id"):
            problems.append(
                "callback-id: required: the id the workflow's async HTTP block handed to this "
                "job (pass it on unchanged, e.g. from a workflow_dispatch input)."
            )
        if not values.get("callback_status"):
            problems.append(
                "callback-status: required: success, failure or update (on GitHub, pass "
                "${{ job.status }})."
            )
    return problems


def load_settings(
    env: Mapping[str, str],
    flags: Mapping[str, Any] | None = None,
    command: Command | None = None,
) -> Settings:
    """Parse the inputs of ``command`` (default: the ``command`` input) once into its family's
    settings; raise ``InputError`` listing every problem at once."""
    command = command or command_from_env(env)
    merged: dict[str, Any] = {}
    for spec in for_command(command):
        if spec.name == "command":
            continue
        layers = (
            spec.default,
            _env_value(env, "CORTEX_", spec.name),
            _env_value(env, "INPUT_", spec.name),
            (flags or {}).get(spec.field),
        )
        given = [v for v in layers if v is not None and v not in ("", [])]
        if given:
            merged[spec.field] = given[-1]  # later layers win
    problems = _missing(command, merged) + _dry_callback(command, env)
    for name, value in list(merged.items()):
        # Bytes that are not UTF-8 reach os.environ as lone surrogates: refuse them here, once.
        if isinstance(value, str) and not _is_text(value):
            problems.append(
                f"{name.replace('_', '-')}: expected UTF-8 text; the value has invalid bytes"
            )
            del merged[name]
    if command is Command.LIST and "workflow" in merged:
        merged["workflows"] = merged.pop("workflow")
    family = FAMILIES[command]
    if "command" in family.model_fields:
        merged["command"] = command
    try:
        settings = family(**merged)
    except ValidationError as exc:
        problems += [p for p in _describe(exc) if not _is_missing_twice(p, problems)]
    if problems:
        raise InputError(problems)
    return settings


def _dry_callback(command: Command, env: Mapping[str, str]) -> list[str]:
    """``dry-run`` is an input of ``run`` only, but a callback changes a run: one set for the
    whole pipeline (CORTEX_DRY_RUN) or on the step must not let it go out for real."""
    if command is not Command.CALLBACK:
        return []
    for prefix in ("CORTEX_", "INPUT_"):
        raw = _env_value(env, prefix, "dry-run")
        try:
            dry = raw is not None and parse.parse_bool(raw)
        except ValueError:
            dry = True  # unreadable: the safe reading is "the user wanted a dry run"
        if dry:
            return [
                f"dry-run: {(raw or '').strip()[:20]!r}, but command callback has no dry run: "
                "the callback would "
                "resume or fail the workflow for real, so nothing was sent. Remove `dry-run` "
                "from this step (or unset CORTEX_DRY_RUN for it)."
            ]
    return []


def _is_missing_twice(problem: str, problems: list[str]) -> bool:
    """pydantic's "Field required" for an input that ``_missing`` already named."""
    name = problem.split(":", 1)[0]
    return problem.endswith(": Field required") and any(p.startswith(name + ":") for p in problems)


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _describe(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        loc = [str(part) for part in error["loc"]]
        field = "workflow" if loc[:1] == ["workflows"] else (loc[0] if loc else "")
        if not loc:  # a cross-field check: its message names the inputs itself
            problems.append(message)
        elif error["type"] == "enum" and field not in SECRET_FIELDS:
            shown = repr(str(error.get("input", ""))[:60])
            expected = message.removeprefix("Input should be ")
            problems.append(f"{field.replace('_', '-')}: expected {expected}, got {shown}")
        else:  # our own validators' messages; they never contain a secret
            problems.append(f"{field.replace('_', '-')}: {message}")
    return problems
