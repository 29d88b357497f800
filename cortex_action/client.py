"""A thin, typed client of Cortex's Workflow Runs API over an injected ``httpx.Client``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from cortex_action import __version__
from cortex_action.errors import ApiError, TransportError
from cortex_action.models import ListPage, Run, as_text, parse_page, parse_run
from cortex_action.retry import (
    Clock,
    RetryNotice,
    RetryPolicy,
    Sleep,
    Transient,
    call_with_retries,
    parse_retry_after,
)
from cortex_action.sanitize import log_text

USER_AGENT = f"cortex-action/{__version__}"
# 409 on a trigger is how a tenant at its limit of 5 concurrent runs may answer [unknown].
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

HINTS: dict[int, str] = {
    400: (
        "Check the scope (give `entity` exactly when the workflow is entity-scoped) and that "
        "every `initial-context` key is a variable of the workflow."
    ),
    401: (
        "Check `api-token`: it must be a valid Cortex personal access token or API key for "
        "this tenant (and `base-url` must be this tenant's API host)."
    ),
    403: (
        "The token lacks a permission or the workflow refuses API runs. Check: the token's "
        'role has "Execute Workflow Runs" (to trigger) and "View workflow runs" (to read); '
        'the workflow has "Runnable via API" switched on; the Workflow Runs API is enabled '
        "for the tenant."
    ),
    409: (
        "Cortex runs at most 5 workflow runs at once (paused runs don't count): the trigger "
        "was retried with the same idempotency key, waiting for a free slot, until `timeout`."
    ),
    429: (
        "Cortex's rate limit, or its limit of 5 workflow runs at once: the request was retried "
        "as Retry-After asked, until `timeout`."
    ),
    404: (
        "Check `workflow` (its tag or id), `entity` and `run-id`, and that `base-url` points at "
        "your Cortex tenant (self-hosted installs and other regions have their own host)."
    ),
}


def path_segment(value: str) -> str:
    """Percent-encode user input for one path segment; ``.`` and ``..`` can't climb the path."""
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if set(value) <= {"."} else encoded


class CortexClient:
    """The three verbs of the Workflow Runs API, with retries and Cortex's error shapes."""

    def __init__(  # noqa: PLR0913 - keyword-only injections: http, clock, sleep, notify
        self,
        http: httpx.Client,
        *,
        api_root: str,
        token: str,
        clock: Clock,
        sleep: Sleep,
        policy: RetryPolicy | None = None,
        notify: Callable[[RetryNotice], None] | None = None,
    ) -> None:
        self._http = http
        self._root = api_root.rstrip("/")
        self._token = token
        self._clock = clock
        self._sleep = sleep
        self._policy = policy or RetryPolicy()
        self._notify = notify

    # -- the verbs ---------------------------------------------------------------------------

    def trigger(
        self, workflow: str, body: Mapping[str, Any], *, idempotency_key: str, deadline: float
    ) -> Run:
        """Start a run. Retried only because the idempotency key makes a retry a replay."""
        url = f"{self._root}/workflows/{path_segment(workflow)}/runs"
        payload = self._call(
            "POST",
            url,
            what=f"triggering workflow {workflow!r}",
            deadline=deadline,
            json_body=dict(body),
            headers={"Idempotency-Key": idempotency_key},
            extra_retry_statuses=frozenset({409}),
        )
        return parse_run(payload, what="the trigger's answer")

    def get_run(self, workflow: str, run_id: str, *, deadline: float) -> Run:
        url = f"{self._root}/workflows/{path_segment(workflow)}/runs/{path_segment(run_id)}"
        payload = self._call("GET", url, what=f"reading run {run_id}", deadline=deadline)
        run = parse_run(payload, what=f"run {run_id}")
        if run.id.lower() != run_id.lower():
            # Never start reporting another run's status and id as if it were ours.
            raise TransportError(
                f"Cortex answered a request for run {run_id} with another run, "
                f"{log_text(run.id, 100)!r}; cannot trust this answer."
            )
        return run

    def get_workflow(self, workflow: str, *, deadline: float) -> dict[str, Any]:
        """A workflow's definition [seen]; ``list`` reads its ``id`` for ``workflowIds``."""
        url = f"{self._root}/workflows/{path_segment(workflow)}"
        payload = self._call("GET", url, what=f"reading workflow {workflow!r}", deadline=deadline)
        if not isinstance(payload, dict):
            raise TransportError(
                f"Cortex answered with JSON that is not a workflow ({workflow!r}): "
                f"expected an object, got {type(payload).__name__}."
            )
        return payload

    def list_runs(self, params: Mapping[str, Any], *, deadline: float) -> ListPage:
        payload = self._call(
            "GET",
            f"{self._root}/workflows/runs",
            what="listing runs",
            deadline=deadline,
            params=params,
        )
        return parse_page(payload)

    # -- one request, retried ------------------------------------------------------------------

    def _call(  # noqa: PLR0913 - keyword-only: one request's parts
        self,
        method: str,
        url: str,
        *,
        what: str,
        deadline: float,
        json_body: dict[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        extra_retry_statuses: frozenset[int] = frozenset(),
    ) -> Any:
        request_headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **(headers or {}),
        }

        def attempt(timeout: float) -> Any:
            try:
                response = self._http.request(
                    method,
                    url,
                    json=json_body,
                    params=params,
                    headers=request_headers,
                    timeout=httpx.Timeout(timeout),
                    follow_redirects=False,
                )
            except httpx.TimeoutException as exc:
                raise Transient(
                    TransportError(
                        f"{method} {url}: no answer within {timeout:.0f}s ({type(exc).__name__})."
                    )
                ) from None
            except httpx.TransportError as exc:
                raise Transient(
                    TransportError(f"{method} {url}: {_describe_transport(exc)}")
                ) from None
            return self._decode(response, extra_retry_statuses)

        return call_with_retries(
            attempt,
            what=what,
            deadline=deadline,
            clock=self._clock,
            sleep=self._sleep,
            policy=self._policy,
            notify=self._notify,
        )

    def _decode(self, response: httpx.Response, extra_retry: frozenset[int]) -> Any:
        request = response.request
        status = response.status_code
        if 200 <= status < 300:
            try:
                return answer_json(response)
            except (ValueError, RecursionError):
                # Not JSON (ValueError covers JSONDecodeError and UnicodeDecodeError), nested
                # too deeply to read, or with a number too long to convert: a garbled answer.
                raise Transient(
                    TransportError(
                        f"{request.method} {request.url}: Cortex answered {status} with a body "
                        f"that is not JSON ({_snippet(response)})."
                    )
                ) from None
        if 300 <= status < 400:
            raise ApiError(
                status,
                f"a redirect to {response.headers.get('location', '(no location)')}",
                method=request.method,
                url=str(request.url),
                hint=(
                    "cortex-action does not follow redirects, so the token is never sent to "
                    "another host. Set `base-url` to the final API address."
                ),
            )
        error = api_error(response)
        if status == 429 or status in extra_retry:
            # Busy, not broken: the rate limit, or (for a trigger) the limit of 5 runs at once.
            # Retried until `timeout`, however long that is, never against the attempt budget.
            raise Transient(error, retry_after=error.retry_after, counts=False)
        if status in RETRY_STATUSES:
            raise Transient(error, retry_after=error.retry_after)
        raise error


# A JSON escape of one half of a UTF-16 surrogate pair, e.g. "\ud800" (any case).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def answer_json(response: httpx.Response) -> Any:
    """The answer's JSON, every lone surrogate replaced by U+FFFD.

    ``"\\ud800"`` is valid JSON but not text: left in, it breaks every later encode (the run's
    URL, the outputs, the result files), far from here and on the way out of errors too.
    """
    value = response.json()
    if not _SURROGATE_ESCAPE.search(response.content):
        return value  # the usual answer: nothing to scrub
    return _scrub(value)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value


def _describe_transport(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return (
                f"TLS certificate verification failed ({text}). If Cortex or a proxy on the way "
                "uses a private CA, give its certificates with `ca-bundle` or SSL_CERT_FILE."
            )
        return f"could not connect ({text}). Check `base-url`, DNS, proxy and firewall."
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the connection was closed or broken mid-answer ({text})."
    return f"{type(exc).__name__}: {text}"


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    text = response.content[:4096].decode("utf-8", "replace").strip()
    if not text:
        return "an empty body"
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title:
        return f"an HTML page titled {title.group(1).strip()[:limit]!r}"
    if text.lstrip().startswith("<"):
        return "an HTML page"
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def api_error(response: httpx.Response) -> ApiError:
    """An ``ApiError`` from any error shape Cortex (or a proxy in front of it) sends."""
    request = response.request
    status = response.status_code
    message: str | None = None
    details: str | None = None
    request_id: str | None = None
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    try:
        body = answer_json(response)
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict):
        message = (
            as_text(body.get("message")) or as_text(body.get("title")) or as_text(body.get("error"))
        )
        details = as_text(body.get("details")) or as_text(body.get("detail"))
        request_id = as_text(body.get("requestId")) or as_text(body.get("request_id"))
        violations = body.get("violations")
        if isinstance(violations, list) and violations:
            found = [_violation(v) for v in violations if isinstance(v, dict)]
            message = message or "the request was refused as invalid"
            details = "; ".join(f for f in found if f) or details
        if retry_after is None:
            value = body.get("retryAfter")
            if isinstance(value, int | float) and not isinstance(value, bool):
                retry_after = max(0.0, float(value))
    if message is None:
        message = f"{response.reason_phrase or 'error'} ({_snippet(response)})"
    request_id = request_id or response.headers.get("x-request-id")
    return ApiError(
        status,
        message,
        method=request.method,
        url=str(request.url),
        details=details,
        request_id=request_id,
        hint=HINTS.get(status),
        retry_after=retry_after,
    )


def _violation(item: Mapping[str, Any]) -> str:
    parts = [as_text(item.get(k)) for k in ("title", "description")]
    text = ": ".join(p for p in parts if p)
    pointer = as_text(item.get("pointer"))
    return f"{text} (at {pointer})" if pointer else text
