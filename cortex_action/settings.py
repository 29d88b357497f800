"""Every input, its default and its validation, parsed once into one frozen object.

Inputs are looked up in layers: command-line flags, then ``INPUT_<NAME>`` (as GitHub sets them,
hyphens kept, or with underscores), then ``CORTEX_<NAME>``, then the default here. An empty value
means "not given". Defaults live here, not only in ``action.yml``, so the command behaves the same
on every host.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from cortex_action import dates, parse
from cortex_action.errors import InputError
from cortex_action.models import (
    FAILURE_STATUSES,
    PAUSED_STATUSES,
    RUNNING_STATUSES,
    SUCCESS_STATUSES,
)

DEFAULT_BASE_URL = "https://api.getcortexapp.com"

# Environment names that other tools already use, accepted as the last fallback for an input.
ALIASES: dict[str, tuple[str, ...]] = {"api-token": ("CORTEX_API_KEY",)}


class OnPaused(enum.StrEnum):
    WAIT = "wait"
    SUCCEED = "succeed"
    FAIL = "fail"


class Command(enum.StrEnum):
    RUN = "run"
    GET = "get"
    WAIT = "wait"
    LIST = "list"


class OutputFormat(enum.StrEnum):
    """How ``list`` prints its runs on stdout."""

    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"


KNOWN_STATUSES = SUCCESS_STATUSES | FAILURE_STATUSES | RUNNING_STATUSES | PAUSED_STATUSES
MAX_LIMIT = 1000
DEFAULT_LIMIT = 50


def input_name(field: str) -> str:
    """The public name of a field: ``api_token`` -> ``api-token``."""
    return field.replace("_", "-")


class EnvInputsSource(PydanticBaseSettingsSource):
    """Inputs from an injected environment mapping, under one prefix (``INPUT_``, ``CORTEX_``)."""

    def __init__(
        self, settings_cls: type[BaseSettings], env: Mapping[str, str], prefix: str
    ) -> None:
        super().__init__(settings_cls)
        self.env = env
        self.prefix = prefix

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        name = input_name(field_name).upper()
        candidates = [self.prefix + name, self.prefix + name.replace("-", "_")]
        if self.prefix == "CORTEX_":
            candidates += list(ALIASES.get(input_name(field_name), ()))
        for key in candidates:
            value = self.env.get(key, "")
            if value.strip():
                return value, key, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(field, field_name)
            if value is not None:
                found[field_name] = value
        return found


class Settings(BaseSettings):
    """The validated inputs of one invocation."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_default=False)

    # Inputs that an InputError must never echo.
    SECRET_FIELDS: ClassVar[frozenset[str]] = frozenset({"api_token"})

    command: Command = Command.RUN
    api_token: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    allow_insecure_http: bool = False
    app_url: str | None = None
    workflow: str | None = None
    entity: str | None = None
    initial_context: dict[str, Any] | None = None
    run_as: str | None = None
    notification_recipients: tuple[str, ...] = ()
    idempotency_key: str | None = None
    wait: bool = True
    timeout: float = Field(default=30 * 60.0)
    on_paused: OnPaused = OnPaused.WAIT
    run_id: str | None = None
    ca_bundle: str | None = None
    output_dir: str | None = None
    # The run listing (command list). `workflow` may name several workflows there; they are
    # split into `workflows` (see _split_workflows), which is not an input of its own.
    workflows: tuple[str, ...] = ()
    search: str | None = None
    initiated_by: str | None = None
    started_after: dates.When | None = None
    started_before: dates.When | None = None
    status: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT
    format: OutputFormat = OutputFormat.TABLE

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

    @field_validator("api_token", mode="before")
    @classmethod
    def _token(cls, value: Any) -> Any:
        # The token goes into an HTTP header. A line break or a non-ASCII character would make
        # the HTTP library refuse it with an error that quotes the header, token and all.
        if isinstance(value, str):
            value = value.strip()
            if not all("\x21" <= c <= "\x7e" for c in value):
                raise ValueError(
                    "expected printable ASCII characters without spaces or line breaks; the "
                    "value has other characters (it is a secret, so it is not shown)"
                )
        return value

    @field_validator("allow_insecure_http", "wait", mode="before")
    @classmethod
    def _bool(cls, value: Any) -> Any:
        return parse.parse_bool(value) if isinstance(value, str) else value

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse.parse_duration(value) if isinstance(value, str) else value

    @field_validator("initial_context", mode="before")
    @classmethod
    def _context(cls, value: Any) -> Any:
        return parse.parse_context(value) if isinstance(value, str) else value

    @field_validator("run_as", "initiated_by", mode="before")
    @classmethod
    def _email(cls, value: Any) -> Any:
        return parse.parse_email(value) if isinstance(value, str) else value

    @field_validator("notification_recipients", mode="before")
    @classmethod
    def _emails(cls, value: Any) -> Any:
        return parse.parse_email_list(value) if isinstance(value, str) else value

    @field_validator("idempotency_key", "run_id", mode="before")
    @classmethod
    def _header_token(cls, value: Any) -> Any:
        return parse.parse_header_token(value) if isinstance(value, str) else value

    @field_validator("search", mode="before")
    @classmethod
    def _search(cls, value: Any) -> Any:
        return parse.single_line(value, 200) if isinstance(value, str) else value

    @field_validator("started_after", "started_before", mode="before")
    @classmethod
    def _when(cls, value: Any) -> Any:
        return dates.parse_when(value) if isinstance(value, str) else value

    @field_validator("status", mode="before")
    @classmethod
    def _statuses(cls, value: Any) -> Any:
        return _parse_statuses(value) if isinstance(value, str | list | tuple) else value

    @field_validator("limit", mode="before")
    @classmethod
    def _limit(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
                raise ValueError(
                    f"expected a whole number from 1 to {MAX_LIMIT}, got {text[:20]!r}"
                )
            return int(text)
        return value

    @field_validator("command", "on_paused", "format", mode="before")
    @classmethod
    def _enum(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("workflow", "entity", "ca_bundle", "output_dir", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return parse.single_line(value, 1024) if isinstance(value, str) else value

    @field_validator("base_url", "app_url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        url = value.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http(s) URL such as {DEFAULT_BASE_URL}, got {url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"expected a URL without query or fragment, got {url!r}")
        # Users paste the API root they see in docs; we add /api/v1 ourselves.
        return url.removesuffix("/api/v1")

    @model_validator(mode="before")
    @classmethod
    def _split_workflows(cls, values: Any) -> Any:
        """For ``list``, ``workflow`` holds several: repeated, or comma/newline-separated."""
        if not isinstance(values, dict):
            return values
        values = dict(values)
        raw = values.get("workflow")
        if str(values.get("command") or "").strip().lower() != Command.LIST:
            values.pop("workflows", None)
            return values
        values.pop("workflow", None)
        items = [raw] if isinstance(raw, str) else list(raw or [])
        names = [n.strip() for item in items for n in re.split(r"[,\n]", str(item))]
        names = [n for n in names if n]
        for name in names:
            try:
                parse.single_line(name, 1024)
            except ValueError:
                raise ValueError(
                    "workflow: expected tags or ids separated by commas or newlines, "
                    f"got {name[:60]!r}"
                ) from None
        values["workflows"] = tuple(dict.fromkeys(names))
        return values

    @model_validator(mode="after")
    def _window(self) -> Settings:
        after, before = self.started_after, self.started_before
        if (
            after
            and before
            and after.instant
            and before.instant
            and after.instant >= before.instant
        ):
            raise ValueError(
                "started-after: must be earlier than started-before "
                f"({dates.iso_utc(after.instant)} is not before {dates.iso_utc(before.instant)})"
            )
        return self

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        parts = urlsplit(self.base_url)
        if (
            parts.scheme == "http"
            and not self.allow_insecure_http
            and not _is_loopback(parts.hostname)
        ):
            raise ValueError(
                f"base-url: plain http:// to {parts.hostname} would send the token unencrypted. "
                "Use https://, or set allow-insecure-http to true if this network is trusted."
            )
        return self

    @property
    def token(self) -> str:
        assert self.api_token is not None  # guaranteed by load_settings (_missing)
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


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_statuses(value: str | list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
    """Statuses, repeated or comma/newline-separated, any case; unknown names are typos."""
    items = [value] if isinstance(value, str) else [str(v) for v in value]
    names = [n.strip().upper() for item in items for n in re.split(r"[,\n]", item)]
    names = [n for n in names if n]
    bad = [n for n in names if n not in KNOWN_STATUSES]
    if bad:
        raise ValueError(
            "expected statuses among "
            + ", ".join(sorted(KNOWN_STATUSES))
            + "; not a status: "
            + ", ".join(repr(b[:40]) for b in bad)
        )
    return tuple(dict.fromkeys(names))


def _missing(values: Mapping[str, Any]) -> list[str]:
    """Required inputs that are absent; checked on raw values too, so they join other errors."""
    problems: list[str] = []
    command = str(values.get("command") or "run").strip().lower()
    if not values.get("api_token"):
        problems.append(
            "api-token: required. Give the action input `api-token` (GitHub), or set "
            "CORTEX_API_TOKEN (or CORTEX_API_KEY) in the environment, or pass --api-token-file."
        )
    if command != Command.LIST and not values.get("workflow"):
        problems.append(
            "workflow: required: the tag or id of the Cortex workflow, e.g. deploy-service."
        )
    if command in (Command.GET, Command.WAIT) and not values.get("run_id"):
        problems.append(f"run-id: required for command {command}.")
    return problems


def load_settings(env: Mapping[str, str], flags: Mapping[str, Any] | None = None) -> Settings:
    """Parse every input once; raise ``InputError`` listing every problem at once."""
    layers: list[Mapping[str, Any]] = [
        EnvInputsSource(Settings, env, "CORTEX_")(),
        EnvInputsSource(Settings, env, "INPUT_")(),
        {k: v for k, v in (flags or {}).items() if v is not None and v != ""},
    ]
    merged: dict[str, Any] = {}
    for layer in layers:  # later layers win
        merged.update(layer)
    problems = _missing(merged)
    for name, value in list(merged.items()):
        # Bytes that are not UTF-8 reach os.environ as lone surrogates: refuse them here, once.
        if isinstance(value, str) and not _is_text(value):
            problems.append(f"{input_name(name)}: expected UTF-8 text; the value has invalid bytes")
            del merged[name]
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        problems += _describe(exc)
    if problems:
        raise InputError(problems)
    return settings


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
        if not loc:  # a cross-field check: its message names the inputs itself
            problems.append(message)
        elif error["type"] == "enum" and loc[0] not in Settings.SECRET_FIELDS:
            shown = repr(str(error.get("input", ""))[:60])
            expected = message.removeprefix("Input should be ")
            problems.append(f"{input_name(loc[0])}: expected {expected}, got {shown}")
        else:  # our own validators' messages; they never contain a secret
            problems.append(f"{input_name(loc[0])}: {message}")
    return problems
