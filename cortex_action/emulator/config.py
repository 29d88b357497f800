"""The emulator's configuration: tokens, entities, workflows and their scripts, behaviour, faults.

Keys are camelCase in files (like Cortex's own descriptors, e.g. ``isRunnableViaApi``); the
snake_case attribute names are accepted too. Unknown keys are refused so that a typo in a config
file is an error, not a silently ignored setting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

Permission = Literal["trigger", "view"]
ScopeType = Literal["GLOBAL", "ENTITY"]
Outcome = Literal["complete", "fail", "timeout", "cancel", "approval", "input", "callback"]
Malform = Literal[
    "truncated-json",
    "not-json",
    "short-body",
    "missing-id",
    "wrong-status-type",
    "not-an-object",
    "huge-body",
    "endless-body",
]


_ALL_PERMISSIONS: tuple[Permission, ...] = ("trigger", "view")


class ConfigError(ValueError):
    """A configuration file or value is invalid; the message names every problem."""


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def derived_cid(prefix: str, tag: str) -> str:
    """A stable CID-like id (``wf`` + 16 hex) derived from a tag, for configs that omit ids."""
    return prefix + hashlib.sha256(tag.encode()).hexdigest()[:16]


class TokenConfig(_Model):
    """An API key and what it may do."""

    value: str = Field(min_length=1)
    permissions: list[Permission] = Field(default_factory=lambda: list(_ALL_PERMISSIONS))
    # The initiator recorded on runs triggered with this key when the body has no runAs.
    email: str = "api-key@example.com"
    # Cortex's "Edit workflow runs": needed to call back an async HTTP block (else 403).
    edit_runs: bool = True
    # May read workflow definitions (GET /workflows/{tagOrId}); false: 403 there while
    # triggers still work (which permission Cortex asks for there is unknown).
    view_workflows: bool = True


class GenerateEntitiesConfig(_Model):
    """A generated catalogue: ``prefix`` + a zero-padded number, 1 to ``count``."""

    prefix: str = Field(default="service-", min_length=1)
    count: int = Field(default=40, ge=1, le=10_000)
    # Digits of the number (service-01 .. service-40 with width 2).
    width: int = Field(default=2, ge=1, le=9)


class EntityConfig(_Model):
    """An entity of the catalog that runs can be scoped to (by tag or id)."""

    tag: str = Field(min_length=1)
    id: str = ""
    name: str = ""

    @model_validator(mode="after")
    def _fill(self) -> EntityConfig:
        if not self.id:
            self.id = derived_cid("en", self.tag)
        if not self.name:
            self.name = self.tag
        return self


class BlockConfig(_Model):
    """One block (action) of a workflow's script: it runs ``duration`` seconds, then ``outcome``."""

    name: str = Field(min_length=1)
    slug: str = Field(min_length=1)
    type: str = "HTTP_REQUEST"
    duration: float = Field(default=1.0, ge=0)
    outcome: Outcome = "complete"
    # The errorMessage of a failed / timed out / cancelled block.
    message: str = ""
    # outcome callback (an async HTTP block): scripted seconds from the block's start after
    # which it ends TIMED_OUT unless called back; none waits forever.
    timeout_in_seconds: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _async_type(self) -> BlockConfig:
        if self.outcome == "callback" and "type" not in self.model_fields_set:
            self.type = "ASYNC_HTTP_REQUEST"
        return self


class VariableConfig(_Model):
    """A workflow variable as the definition shows it (``variables`` may list plain slugs)."""

    slug: str = Field(min_length=1)
    name: str = ""
    type: str = "TEXT"


class FailForConfig(_Model):
    """Make the runs of some entities fail (for fan-out tests): ``block`` fails with ``message``."""

    entities: list[str] = Field(default_factory=list)
    # The slug of the block that fails; default: the last block.
    block: str | None = None
    message: str = ""


class HistoryConfig(_Model):
    """Past ended runs seeded at start (and after a reset), for duration models and ETAs."""

    count: int = Field(default=12, ge=0, le=10_000)
    # Scripted seconds a past run took (divided by the speed); default: the sum of the blocks.
    duration: float | None = Field(default=None, ge=0)
    # Each duration varies by up to this fraction either way (0.1: +-10 %).
    spread: float = Field(default=0.1, ge=0, le=1)
    # How many runs end with each status; the rest COMPLETED. E.g. {FAILED: 2}.
    statuses: dict[Literal["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"], int] = Field(
        default_factory=dict
    )
    # Real days back over which the runs are spread (the list shows the last 30).
    days: float = Field(default=7.0, gt=0, le=30)
    # ENTITY workflows: the entities the runs are against, in turn; default: every entity.
    entities: list[str] = Field(default_factory=list)
    initiated_by: str = "ci-bot@example.com"


class WorkflowConfig(_Model):
    """A workflow: identity, scope, variables and the script a run follows."""

    tag: str = Field(min_length=1)
    id: str = ""
    name: str = ""
    description: str = ""
    scope: ScopeType = "GLOBAL"
    is_runnable_via_api: bool = True
    # A draft workflow: its definition says isDraft, and a trigger gets 403.
    is_draft: bool = False
    # The definition's restrictActionCompletionToRunnerUser (shown only, not enforced).
    restrict_action_completion_to_runner_user: bool = False
    # The definition's filter as served (Cortex's shape is unknown); default: from the scope.
    filter: dict[str, Any] | None = None
    # Pause (before the first block) for the choice of an initiator when the trigger has no runAs.
    requires_initiator: bool = False
    # Variable slugs; an entry may be an object {slug, name, type} (kept in variableDetails).
    variables: list[str] = Field(default_factory=list)
    variable_details: dict[str, VariableConfig] = Field(default_factory=dict)
    blocks: list[BlockConfig] = Field(default_factory=list)
    fail_for: FailForConfig | None = None
    history: HistoryConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _variable_objects(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("variables"), list):
            return data
        data = dict(data)
        details = dict(data.get("variableDetails") or data.get("variable_details") or {})
        slugs: list[Any] = []
        for item in data["variables"]:
            if isinstance(item, Mapping) and isinstance(item.get("slug"), str):
                slugs.append(item["slug"])
                details[item["slug"]] = dict(item)
            else:
                slugs.append(item)
        data["variables"] = slugs
        data.pop("variable_details", None)
        data["variableDetails"] = details
        return data

    @model_validator(mode="after")
    def _fill(self) -> WorkflowConfig:
        if not self.id:
            self.id = derived_cid("wf", self.tag)
        if not self.name:
            self.name = self.tag
        slugs = [b.slug for b in self.blocks]
        if len(set(slugs)) != len(slugs):
            raise ValueError(f"workflow {self.tag!r}: block slugs must be unique")
        if self.fail_for and self.fail_for.block and self.fail_for.block not in slugs:
            raise ValueError(
                f"workflow {self.tag!r}: failFor.block {self.fail_for.block!r}"
                " is not one of its block slugs"
            )
        for slug in self.variables:
            self.variable_details.setdefault(slug, VariableConfig(slug=slug))
        return self


class FaultConfig(_Model):
    """A fault injected into the answer to some requests (see docs/emulator.md, "Faults").

    Requests are counted per fault: those matching ``method`` and ``path`` (an fnmatch glob
    over the path, without the query) number 1, 2, 3...; the fault applies to numbers
    ``nth`` .. ``nth + count - 1``, or to every one from ``nth`` on when ``count`` is 0.
    """

    method: str = "*"
    path: str = "*"
    nth: int = Field(default=1, ge=1)
    count: int = Field(default=1, ge=0)
    # Real seconds to wait before answering (never scaled by the speed factor).
    delay: float = Field(default=0.0, ge=0)
    # Answer this status (and body) instead of, or after (commit=true), handling the request.
    status: int | None = Field(default=None, ge=100, le=599)
    body: Any = None
    content_type: str | None = None
    retry_after: str | int | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    commit: bool = False
    # Close the connection without an answer: before handling the request, or after it.
    drop: Literal["before", "after"] | None = None
    # Handle the request, then corrupt the answer.
    malform: Malform | None = None
    # Read-after-write lag: a GET of a run answers 404 for its first lagPolls GETs and/or
    # while it is younger than lagSeconds (real seconds, never scaled).
    lag_polls: int | None = Field(default=None, ge=1)
    lag_seconds: float | None = Field(default=None, gt=0)
    # A fault that lasts: every matching request for this many seconds of the emulator's clock
    # (scripted seconds, like a run's) from the first one it applied to ("503 for 90 s").
    for_seconds: float | None = Field(default=None, gt=0)

    @property
    def lag(self) -> bool:
        return self.lag_polls is not None or self.lag_seconds is not None

    @model_validator(mode="after")
    def _one_action(self) -> FaultConfig:
        actions = [
            self.status is not None,
            self.drop is not None,
            self.malform is not None,
            self.lag,
        ]
        if sum(actions) > 1:
            raise ValueError("a fault takes at most one of status, drop, malform (or a lag)")
        if sum(actions) == 0 and self.delay == 0:
            raise ValueError(
                "a fault needs one of status, drop, malform or delay (or lagPolls/lagSeconds)"
            )
        if self.for_seconds is not None and "count" not in self.model_fields_set:
            self.count = 0  # the window bounds it, not a number of requests
        if self.lag:
            # A lag concerns every run's polls: by default from the first match on, and only polls.
            if "count" not in self.model_fields_set:
                self.count = 0
            if "path" not in self.model_fields_set:
                self.path = "/api/v1/workflows/*/runs/*"
            if "method" not in self.model_fields_set:
                self.method = "GET"
        return self


class ConcurrencyConfig(_Model):
    """Cortex runs at most 5 workflow runs at once per tenant; paused runs don't count."""

    limit: int = Field(default=5, ge=1)
    # queue: accept and wait as NOT_INITIATED; refuse: refuseStatus with Retry-After.
    mode: Literal["queue", "refuse"] = "queue"
    # refuse mode: 429 (problem+json) or 409 (Cortex's error body, naming the limit).
    refuse_status: Literal[429, 409] = 429


class IdempotencyConfig(_Model):
    """How Idempotency-Key replay behaves (Cortex's window and conflict answer are unknown)."""

    window_seconds: float = Field(default=86400.0, gt=0)
    # What a reused key with a different body gets: a 409 / 422 error, or the cached result.
    conflict: Literal["cached", "409", "422"] = "409"


class ListConfig(_Model):
    """The list-runs endpoint: envelope and paging limits."""

    envelope: Literal["cortex", "spring"] = "cortex"
    window_days: float = Field(default=30.0, gt=0)
    default_size: int = Field(default=250, ge=1)
    max_size: int = Field(default=1000, ge=1)


class RateLimitConfig(_Model):
    """Cortex allows 1000 requests a minute per client; off by default in the emulator."""

    enabled: bool = False
    per_minute: int = Field(default=1000, ge=1)


class BehaviourConfig(_Model):
    """Tenant-wide behaviour, including the choices made where Cortex's behaviour is unknown."""

    trigger_status: Literal[200, 201, 202] = 200
    # Scripted seconds a new run stays NOT_INITIATED before it may start.
    start_delay: float = Field(default=0.5, ge=0)
    # Off: every trigger gets 403 "Running a workflow is not enabled".
    workflow_runs_api_enabled: bool = True
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1)
    concurrency: ConcurrencyConfig = Field(default_factory=ConcurrencyConfig)
    idempotency: IdempotencyConfig = Field(default_factory=IdempotencyConfig)
    list_runs: ListConfig = Field(default_factory=ListConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)


class EmulatorConfig(_Model):
    """The whole configuration (a YAML or JSON file, a dict, or :func:`default_config`)."""

    tokens: list[TokenConfig] = Field(default_factory=list)
    entities: list[EntityConfig] = Field(default_factory=list)
    # A generated catalogue added to ``entities`` (tags already listed are kept as listed).
    generate_entities: GenerateEntitiesConfig | None = None
    workflows: list[WorkflowConfig] = Field(default_factory=list)
    behaviour: BehaviourConfig = Field(default_factory=BehaviourConfig)
    faults: list[FaultConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> EmulatorConfig:
        gen = self.generate_entities
        if gen is not None:
            listed = {e.tag for e in self.entities}
            for n in range(1, gen.count + 1):
                tag = f"{gen.prefix}{n:0{gen.width}d}"
                if tag not in listed:
                    self.entities.append(EntityConfig(tag=tag))
        for kind, keys in (
            ("token", [t.value for t in self.tokens]),
            ("entity tag or id", [e.tag for e in self.entities] + [e.id for e in self.entities]),
            (
                "workflow tag or id",
                [w.tag for w in self.workflows] + [w.id for w in self.workflows],
            ),
        ):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            if dupes:
                raise ValueError(f"duplicate {kind}: {', '.join(dupes)}")
        return self


def _format_validation_error(source: str, err: ValidationError) -> str:
    lines = [f"{source}: {err.error_count()} problem(s):"]
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  - {where}: {e['msg']}")
    return "\n".join(lines)


def parse_config(data: Any, source: str = "config") -> EmulatorConfig:
    """Validate a mapping (already parsed from YAML/JSON) into an :class:`EmulatorConfig`."""
    if isinstance(data, EmulatorConfig):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: the top level must be a mapping, not {type(data).__name__}")
    try:
        return EmulatorConfig.model_validate(dict(data))
    except ValidationError as err:
        raise ConfigError(_format_validation_error(source, err)) from None


def load_config(path: str | Path) -> EmulatorConfig:
    """Read a YAML or JSON config file (JSON is YAML, so one parser reads both)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read config file {p}: {err.strerror or err}") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise ConfigError(f"{p}: not valid YAML/JSON: {err}") from None
    return parse_config(data, str(p))


def _merge(base: Any, overrides: Any) -> Any:
    if isinstance(base, dict) and isinstance(overrides, Mapping):
        merged = dict(base)
        for key, value in overrides.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return overrides


def default_config(overrides: Mapping[str, Any] | None = None) -> EmulatorConfig:
    """The built-in configuration (``default.yaml`` in this package), optionally with
    ``overrides`` merged in: mappings merge key by key (in the file's camelCase), any other
    value (a list of workflows, say) replaces the default's."""
    text = (
        resources.files("cortex_action.emulator")
        .joinpath("default.yaml")
        .read_text(encoding="utf-8")
    )
    data = yaml.safe_load(text)
    if overrides:
        data = _merge(data, overrides)
    return parse_config(data, "built-in default.yaml" + (" with overrides" if overrides else ""))


def parse_fault(data: FaultConfig | Mapping[str, Any]) -> FaultConfig:
    """Validate one fault given as a mapping (from a config file, the API, or a test)."""
    if isinstance(data, FaultConfig):
        return data
    try:
        return FaultConfig.model_validate(dict(data))
    except ValidationError as err:
        raise ConfigError(_format_validation_error("fault", err)) from None
