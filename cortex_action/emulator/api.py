"""The Cortex Workflow Runs API, transport-free: a :class:`Request` in, a :class:`Response` out.

Every rule here comes from docs/cortex-api.md; where Cortex's behaviour is unknown the
choice made is named in docs/emulator.md.
"""

from __future__ import annotations

import collections
import functools
import json
import math
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import yaml

from cortex_action.emulator.config import EmulatorConfig, TokenConfig, WorkflowConfig
from cortex_action.emulator.engine import (
    CallbackNotFound,
    Engine,
    IdempotencyEntry,
    NotWaiting,
    Run,
)

ERROR_TYPES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    422: "UNPROCESSABLE_ENTITY",
}
SORT_FIELDS = {
    "dateCreated": "created",
    "dateStarted": "started",
    "dateCompleted": "completed",
    "dateUpdated": "updated",
    "status": "status",
}
PERMISSION_NAMES = {
    "trigger": "Execute Workflow Runs",
    "view": "View workflow runs",
    "edit": "Edit workflow runs",
}
CALLBACK_STATUSES = ("SUCCESS", "FAILURE", "UPDATE")
REPLAY_HEADER = "Idempotent-Replayed"


@dataclass
class Request:
    """An HTTP request as the API sees it; header names are lower-case."""

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    client: str = ""


@dataclass
class Response:
    """An answer; ``run_id`` names the run it concerns, for the request log."""

    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None


def json_response(status: int, data: Any, run_id: str | None = None) -> Response:
    return Response(status, json.dumps(data).encode(), "application/json", run_id=run_id)


def error(status: int, message: str, details: str | None = None) -> Response:
    """Cortex's usual error body."""
    return json_response(
        status,
        {
            "type": ERROR_TYPES.get(status, "ERROR"),
            "message": message,
            "details": details,
            "requestId": str(uuid.uuid4()),
            "httpStatus": status,
        },
    )


def violation(description: str, pointer: str, violation_type: str = "INVALID_VALUE") -> Any:
    return {
        "title": "Invalid request",
        "description": description,
        "violationType": violation_type,
        "pointer": pointer,
    }


def violations(items: list[Any]) -> Response:
    """Cortex's validation error body (400)."""
    return json_response(400, {"violations": items})


def too_many(detail: str, retry_after: int) -> Response:
    """The 429 ``application/problem+json`` body, with ``Retry-After`` in seconds."""
    resp = json_response(
        429,
        {
            "type": "about:blank",
            "title": "Too Many Requests",
            "status": 429,
            "detail": detail,
            "retryAfter": retry_after,
        },
    )
    resp.content_type = "application/problem+json"
    resp.headers["Retry-After"] = str(retry_after)
    return resp


class _Invalid(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _parse_time(name: str, value: str) -> float:
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Invalid(
            violations(
                [violation(f"{name} must be an ISO 8601 date-time, got {value!r}", f"/{name}")]
            )
        ) from None
    if when.tzinfo is None:  # a date-time without a zone is read as UTC
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _int_param(query: dict[str, list[str]], name: str, default: int, lo: int, hi: int) -> int:
    raw = query.get(name, [""])[0].strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        raise _Invalid(
            violations([violation(f"{name} must be an integer from {lo} to {hi}", f"/{name}")])
        )
    return value


class CortexApi:
    """Routes ``/api/v1/...`` requests to the engine, with auth, validation and limits."""

    def __init__(self, config: EmulatorConfig, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self._tokens = {t.value: t for t in config.tokens}
        self._rate_lock = threading.Lock()
        self._rate: dict[str, collections.deque[float]] = {}

    # -- entry point ---------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        try:
            return self._handle(req)
        except _Invalid as inv:
            return inv.response

    def _handle(self, req: Request) -> Response:  # noqa: PLR0911, PLR0912 - a router: one branch per endpoint
        limited = self._rate_limited(req)
        if limited is not None:
            return limited
        token = self._authenticate(req)
        if len(req.body) > self.config.behaviour.max_body_bytes:
            return error(413, "Request body too large", "Bodies are limited to 2 MB")
        segments = [unquote(s) for s in req.path.strip("/").split("/")]
        if segments[:3] != ["api", "v1", "workflows"]:
            return error(404, "Not found", f"No endpoint {req.method} {req.path}")
        rest = segments[3:]
        method = req.method.upper()
        if rest in ([], ["runs"]) or len(rest) == 1:
            if method != "GET":
                return error(405, "Method not allowed", f"{method} {req.path}")
            self._require(token, "view")
            if not rest:
                self._require_view_workflows(token)
                return self._list_workflows(req)
            if rest == ["runs"]:
                return self._list_runs(req)
            return self._definition(req, token, rest[0])
        if len(rest) == 2 and rest[1] == "runs":
            if method != "POST":
                return error(405, "Method not allowed", f"{method} {req.path}")
            self._require(token, "trigger")
            return self._trigger(req, token, rest[0])
        if len(rest) == 3 and rest[1] == "callback":
            if method != "POST":
                return error(405, "Method not allowed", f"{method} {req.path}")
            self._require(token, "edit")
            return self._callback(req, rest[0], rest[2])
        if len(rest) == 3 and rest[1] == "runs":
            if method != "GET":
                return error(405, "Method not allowed", f"{method} {req.path}")
            self._require(token, "view")
            return self._get_run(req, rest[0], rest[2])
        return error(404, "Not found", f"No endpoint {req.method} {req.path}")

    # -- auth and limits -----------------------------------------------------------------

    def _authenticate(self, req: Request) -> TokenConfig:
        header = req.headers.get("authorization", "")
        scheme, _, value = header.strip().partition(" ")
        if not header:
            raise _Invalid(
                error(401, "Unauthorized", "Missing Authorization header: send Bearer <API key>")
            )
        token = self._tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise _Invalid(error(401, "Unauthorized", "The API key is invalid or has expired"))
        return token

    @staticmethod
    def _require(token: TokenConfig, permission: str) -> None:
        allowed = token.edit_runs if permission == "edit" else permission in token.permissions
        if not allowed:
            name = PERMISSION_NAMES[permission]
            raise _Invalid(
                error(403, "Forbidden", f"The API key does not have the '{name}' permission")
            )

    def _rate_limited(self, req: Request) -> Response | None:
        settings = self.config.behaviour.rate_limit
        if not settings.enabled:
            return None
        client = req.headers.get("authorization") or req.client
        now = self.engine.now()  # real seconds: a rate window is never scaled by the speed
        with self._rate_lock:
            hits = self._rate.setdefault(client, collections.deque())
            while hits and hits[0] <= now - 60:
                hits.popleft()
            if len(hits) >= settings.per_minute:
                wait = max(1, math.ceil(hits[0] + 60 - now))
                return too_many(
                    f"Rate limit of {settings.per_minute} requests per minute exceeded", wait
                )
            hits.append(now)
        return None

    def reset_rate_limit(self) -> None:
        with self._rate_lock:
            self._rate.clear()

    # -- workflows -----------------------------------------------------------------------

    def _workflow(self, ref: str) -> WorkflowConfig:
        wf = self.engine.find_workflow(ref)
        if wf is None:
            raise _Invalid(error(404, "Workflow not found", f"No workflow with tag or id {ref!r}"))
        return wf

    @staticmethod
    def _describe(wf: WorkflowConfig) -> dict[str, Any]:
        actions = []
        for i, b in enumerate(wf.blocks):
            nxt = [wf.blocks[i + 1].slug] if i + 1 < len(wf.blocks) else []
            actions.append(
                {
                    "name": b.name,
                    "slug": b.slug,
                    "type": b.type,
                    "schema": {"type": b.type},
                    "isRootAction": i == 0,
                    "outgoingActions": nxt,
                }
            )
        return {
            "id": wf.id,
            "cid": wf.id,
            "tag": wf.tag,
            "name": wf.name,
            "description": wf.description,
            "isDraft": wf.is_draft,
            "isRunnableViaApi": wf.is_runnable_via_api,
            "restrictActionCompletionToRunnerUser": wf.restrict_action_completion_to_runner_user,
            "scope": wf.scope,
            "filter": _filter(wf),
            "variables": [
                {
                    "slug": v,
                    "name": wf.variable_details[v].name or v,
                    "type": wf.variable_details[v].type,
                }
                for v in wf.variables
            ],
            "actions": actions,
        }

    @staticmethod
    def _require_view_workflows(token: TokenConfig) -> None:
        if not token.view_workflows:
            raise _Invalid(
                error(
                    403, "Forbidden", "The API key does not have the permission to view workflows"
                )
            )

    def _definition(self, req: Request, token: TokenConfig, ref: str) -> Response:
        wf = self._workflow(ref)
        self._require_view_workflows(token)
        data = self._describe(wf)
        if "yaml" in req.headers.get("accept", ""):
            return Response(200, yaml.safe_dump(data, sort_keys=False).encode(), "application/yaml")
        return json_response(200, data)

    def _list_workflows(self, req: Request) -> Response:
        found = [self._describe(w) for w in self.config.workflows]
        term = req.query.get("searchQuery", [""])[0].lower()
        if term:
            found = [w for w in found if term in f"{w['name']} {w['description']}".lower()]
        return json_response(
            200, {"workflows": found, "page": 0, "total": len(found), "totalPages": 1}
        )

    # -- runs ----------------------------------------------------------------------------

    def _get_run(self, req: Request, ref: str, run_id: str) -> Response:
        wf = self._workflow(ref)
        run = self.engine.get_run(run_id)
        if run is None or run.workflow.id != wf.id:
            return error(404, "Workflow run not found", f"No run {run_id} of workflow {ref}")
        include = req.query.get("includeContext", ["false"])[0].lower() == "true"
        with self.engine.lock:
            return json_response(200, run.to_json(include_context=include), run_id=run.id)

    def _trigger(self, req: Request, token: TokenConfig, ref: str) -> Response:
        wf = self._workflow(ref)
        behaviour = self.config.behaviour
        if not behaviour.workflow_runs_api_enabled:
            return error(403, "Running a workflow is not enabled", "Ask an admin to enable it")
        if not wf.is_runnable_via_api:
            return error(
                403,
                "Workflow is not runnable via API",
                f"Switch on 'Runnable via API' for workflow {wf.tag}",
            )
        if wf.is_draft:
            return error(
                403,
                "Workflow is a draft",
                f"Publish workflow {wf.tag} before running it",
            )
        try:
            body = json.loads(req.body) if req.body.strip() else None
        except ValueError:
            return error(400, "Malformed JSON request", "The request body is not valid JSON")
        key = req.headers.get("idempotency-key", "").strip() or None
        fingerprint = wf.id + " " + json.dumps(body, sort_keys=True)
        with self.engine.lock:
            self.engine.advance()
            if key is not None:
                cached = self._replay(key, fingerprint)
                if cached is not None:
                    return cached
            resp = self._validate_and_create(wf, token, body)
            if key is not None and 200 <= resp.status < 300 and resp.run_id:
                self.engine.idempotency[key] = _entry(self.engine, fingerprint, resp)
            return resp

    def _replay(self, key: str, fingerprint: str) -> Response | None:
        entry = self.engine.idempotency.get(key)
        if entry is None:
            return None
        if entry.expires <= self.engine.now():
            del self.engine.idempotency[key]
            return None
        conflict = self.config.behaviour.idempotency.conflict
        if entry.fingerprint != fingerprint and conflict != "cached":
            return error(
                int(conflict),
                "Idempotency-Key reused with a different request",
                f"The key {key!r} was first used for another request body or workflow",
            )
        resp = Response(entry.status, entry.body, "application/json", run_id=entry.run_id)
        resp.headers[REPLAY_HEADER] = "true"
        return resp

    def _validate_and_create(self, wf: WorkflowConfig, token: TokenConfig, body: Any) -> Response:  # noqa: PLR0911, PLR0912 - one branch per refusal, in Cortex's order
        if not isinstance(body, dict):
            return violations([violation("The body must be a JSON object", "", "INVALID_TYPE")])
        problems: list[Any] = []
        scope = body.get("scope")
        scope_type = None
        entity_ref = None
        if scope is None:
            problems.append(violation("scope is required", "/scope", "REQUIRED"))
        elif not isinstance(scope, dict) or scope.get("type") not in ("GLOBAL", "ENTITY"):
            problems.append(violation("scope.type must be GLOBAL or ENTITY", "/scope/type"))
        else:
            scope_type = scope["type"]
            entity_ref = scope.get("entityId")
            if scope_type == "ENTITY" and (not isinstance(entity_ref, str) or not entity_ref):
                problems.append(
                    violation(
                        "scope.entityId is required for ENTITY", "/scope/entityId", "REQUIRED"
                    )
                )
        run_as = body.get("runAs")
        if run_as is not None and (not isinstance(run_as, str) or "@" not in run_as):
            problems.append(violation("runAs must be a user's email", "/runAs"))
        recipients = body.get("notificationRecipients")
        if recipients is None:
            recipients = []
        elif not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            problems.append(
                violation(
                    "notificationRecipients must be a list of emails", "/notificationRecipients"
                )
            )
        ctx = body.get("initialContext")
        if ctx is None:
            ctx = {}
        elif not isinstance(ctx, dict):
            problems.append(violation("initialContext must be an object", "/initialContext"))
        elif wf.variables:  # a workflow that declares no variables takes any key
            for unknown in sorted(set(ctx) - set(wf.variables)):
                problems.append(
                    violation(
                        f"{unknown!r} is not a variable of workflow {wf.tag}"
                        f" (variables: {', '.join(wf.variables) or 'none'})",
                        f"/initialContext/{unknown}",
                        "UNKNOWN_VARIABLE",
                    )
                )
        if problems:
            return violations(problems)
        if scope_type != wf.scope:
            return error(
                400,
                "Scope mismatch",
                f"Workflow {wf.tag} has scope {wf.scope}; the request asked for {scope_type}",
            )
        entity = None
        if scope_type == "ENTITY":
            entity = self.engine.find_entity(str(entity_ref))
            if entity is None:
                return error(404, "Entity not found", f"No entity with tag or id {entity_ref!r}")
        concurrency = self.config.behaviour.concurrency
        if concurrency.mode == "refuse" and self.engine.active_count() >= concurrency.limit:
            wait = self.engine.seconds_until_slot()
            if concurrency.refuse_status == 409:
                busy = error(
                    409,
                    "Concurrency limit reached",
                    f"At most {concurrency.limit} workflow runs may run at once;"
                    f" retry in {wait} seconds",
                )
                busy.headers["Retry-After"] = str(wait)
                return busy
            return too_many(f"At most {concurrency.limit} workflow runs may run at once", wait)
        run = self.engine.create_run(
            wf,
            scope_type=str(scope_type),
            entity=entity,
            run_as=run_as,
            initiated_by=run_as or token.email,
            initial_context=dict(ctx),
            notification_recipients=list(recipients),
        )
        return json_response(self.config.behaviour.trigger_status, run.to_json(), run_id=run.id)

    def _callback(self, req: Request, ref: str, callback_id: str) -> Response:
        wf = self._workflow(ref)
        try:
            body = json.loads(req.body) if req.body.strip() else None
        except ValueError:
            return error(400, "Malformed JSON request", "The request body is not valid JSON")
        if not isinstance(body, dict):
            return violations([violation("The body must be a JSON object", "", "INVALID_TYPE")])
        problems = []
        status = body.get("status")
        if status not in CALLBACK_STATUSES:
            problems.append(
                violation(f"status must be one of {', '.join(CALLBACK_STATUSES)}", "/status")
            )
        message = body.get("message")
        if not isinstance(message, str) or not message.strip():
            problems.append(violation("message is required", "/message", "REQUIRED"))
        response = body.get("response")
        if response is not None and not isinstance(response, dict):
            problems.append(violation("response must be a JSON object", "/response"))
        if problems:
            return violations(problems)
        try:
            run = self.engine.callback(wf, callback_id, str(status), str(message), response)
        except CallbackNotFound:
            return error(404, "Workflow run or block not found", f"No callback id {callback_id}")
        except NotWaiting:
            return error(
                406,
                "Workflow block is not waiting for callback",
                f"The block of callback id {callback_id} has already ended",
            )
        with self.engine.lock:
            return json_response(
                200, {"status": "received", "runStatus": run.status}, run_id=run.id
            )

    def _list_runs(self, req: Request) -> Response:
        q = req.query
        settings = self.config.behaviour.list_runs
        page = _int_param(q, "page", 0, 0, 1_000_000)
        size = _int_param(q, "size", settings.default_size, 1, settings.max_size)
        ids = {part.strip() for v in q.get("workflowIds", []) for part in v.split(",")} - {""}
        search = q.get("searchQuery", [""])[0].strip().lower()
        entity_ref = (q.get("entityId") or q.get("entityTag") or [""])[0].strip()
        initiator = q.get("initiatedBy", [""])[0].strip().lower()
        after = _parse_time("startedAfter", q["startedAfter"][0]) if "startedAfter" in q else None
        before = (
            _parse_time("startedBefore", q["startedBefore"][0]) if "startedBefore" in q else None
        )
        sorts = self._parse_sort(q.get("sort", []))
        include = q.get("includeContext", ["false"])[0].lower() == "true"
        with self.engine.lock:
            self.engine.advance()
            horizon = self.engine.now() - settings.window_days * 86400
            runs = [r for r in self.engine.runs.values() if r.created >= horizon]
            if ids:
                # Tags or ids, as Cortex's own page sends a tag there [doc].
                runs = [r for r in runs if ids & {r.workflow.id, r.workflow.tag}]
            if search:
                runs = [
                    r
                    for r in runs
                    if search in f"{r.workflow.name}\n{r.workflow.description}".lower()
                ]
            if entity_ref:
                runs = [r for r in runs if r.entity and entity_ref in (r.entity.tag, r.entity.id)]
            if initiator:
                runs = [r for r in runs if r.initiated_by.lower() == initiator]
            if after is not None:
                runs = [r for r in runs if _start(r) >= after]
            if before is not None:
                runs = [r for r in runs if _start(r) <= before]
            for attr, descending in reversed(sorts):
                present = [r for r in runs if getattr(r, attr) is not None]
                missing = [r for r in runs if getattr(r, attr) is None]
                present.sort(key=functools.partial(_sort_key, attr), reverse=descending)
                runs = present + missing  # runs without the field always come last
            total = len(runs)
            chunk = runs[page * size : (page + 1) * size]
            items = [r.to_json(include_context=include) for r in chunk]
        total_pages = math.ceil(total / size)
        if settings.envelope == "spring":
            data: dict[str, Any] = {
                "content": items,
                "totalElements": total,
                "totalPages": total_pages,
                "number": page,
                "size": size,
                "numberOfElements": len(items),
                "first": page == 0,
                "last": page >= total_pages - 1,
                "empty": not items,
            }
        else:
            data = {"runs": items, "page": page, "total": total, "totalPages": total_pages}
        return json_response(200, data)

    @staticmethod
    def _parse_sort(values: list[str]) -> list[tuple[str, bool]]:
        if not values:
            return [("created", True)]
        out = []
        for value in values:
            name, _, direction = value.partition(",")
            direction = direction.strip().lower() or "asc"
            if name.strip() not in SORT_FIELDS or direction not in ("asc", "desc"):
                raise _Invalid(
                    violations(
                        [
                            violation(
                                f"sort must be FIELD[,asc|desc] with FIELD one of "
                                f"{', '.join(SORT_FIELDS)}; got {value!r}",
                                "/sort",
                            )
                        ]
                    )
                )
            out.append((SORT_FIELDS[name.strip()], direction == "desc"))
        return out


def _filter(wf: WorkflowConfig) -> dict[str, Any]:
    """The definition's ``filter`` (the emulator's shape: Cortex's is unknown)."""
    if wf.filter is not None:
        return dict(wf.filter)
    if wf.scope == "ENTITY":
        return {"type": "ENTITY_FILTER", "entityFilterType": "ALL_ENTITIES"}
    return {"type": "GLOBAL_FILTER"}


def _sort_key(attr: str, run: Run) -> tuple[Any, int]:
    return (getattr(run, attr), run.seq)


def _start(run: Run) -> float:
    """When a run started, or was created if it has not started yet (for started* filters)."""
    return run.started if run.started is not None else run.created


def _entry(engine: Engine, fingerprint: str, resp: Response) -> IdempotencyEntry:
    window = engine.scaled(engine.config.behaviour.idempotency.window_seconds)
    return IdempotencyEntry(
        expires=engine.now() + window,
        fingerprint=fingerprint,
        status=resp.status,
        body=resp.body,
        run_id=resp.run_id or "",
    )
