"""A thin, typed client of Cortex's Workflow Runs API over an injected ``httpx.Client``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from cortex_action import __version__
from cortex_action.errors import ApiError, CortexError, ForeignRun, TransportError
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
from cortex_action.transport import AnswerTooLarge, read_bounded

USER_AGENT = f"cortex-action/{__version__}"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A 409 on a trigger is "busy" (the limit of 5 concurrent runs [unknown]) only when it says so:
# a Retry-After, or a message about the limit. Any other 409 is a conflict, final at once.
_BUSY_WORDS = re.compile(
    r"concurren|at once|at the same time|simultaneous|runs? (?:is|are) (?:already )?running"
    r"|too many (?:workflow )?runs|free slot|run limit|limit of \d+",
    re.IGNORECASE,
)
# Polls are GETs: retried until the deadline, waiting at most this long between two, so that a
# recovering Cortex is seen within about 15 s.
POLL_MAX_DELAY = 15.0
# How long after an accepted trigger a 404 on its run is read-after-write lag, not a wrong id.
LAG_WINDOW = 30.0
# Stripe's replay marker; what Cortex sends is [unknown], the emulator sends this one.
REPLAY_HEADER = "idempotent-replayed"

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
        "Cortex refused the trigger as a conflict (not a wait for a free slot, so it was not "
        "retried). If it says the idempotency key was used before for another request, give "
        "this request a key of its own: set `idempotency-key` to a value that names this "
        "workflow, entity and pipeline, or leave it empty to derive one from the commit and the "
        "request. Otherwise change what the message names."
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


CALLBACK_HINTS: dict[int, str] = {
    400: (
        "Cortex refused the callback's body: check `response` (a JSON object, or key=value "
        "lines) and `message`."
    ),
    403: (
        'The token\'s role lacks the "Edit workflow runs" permission, which a callback needs '
        "(triggering and reading runs need others): give the token a role that has it."
    ),
    404: (
        "Check `callback-id` (the id the async HTTP block handed to this job, passed on "
        "unchanged), `workflow` (the tag or id of the workflow that started this job, not "
        "another one), and that `base-url` is the tenant that runs that workflow."
    ),
    406: (
        "The block is not waiting for a callback any more: it was already called back (success "
        "and failure are taken once), it timed out (its timeoutInSeconds passed: the run shows "
        "TIMED_OUT), or the run was cancelled. Look at the run in Cortex."
    ),
}


@dataclass(frozen=True)
class CallbackAnswer:
    """How Cortex took a callback: its HTTP status, and whether a lost attempt had landed."""

    status_code: int
    # Set when Cortex answered 406 after an earlier attempt of ours got no answer (a 5xx or a
    # broken connection): that attempt was received, and this is why we think so.
    landed_earlier: str | None = None


BUSY_HINT = (
    "Cortex runs at most 5 workflow runs at once (paused runs don't count): the trigger was "
    "retried with the same idempotency key, waiting for a free slot, until `timeout`."
)


def is_busy(error: ApiError) -> bool:
    """Whether a trigger's 409 means "no free slot, come back later" rather than a conflict."""
    if error.retry_after is not None:
        return True
    text = " ".join(t for t in (error.api_message, error.details) if t)
    return _BUSY_WORDS.search(text) is not None


def poll_is_transient(error: CortexError, *, lag: bool) -> bool:
    """Whether a failed poll is worth another look (until the deadline): the one place that
    classifies them. A poll is a GET, so repeating it changes nothing in Cortex: no answer, a
    garbled one, a 2xx that is not a run, 5xx and 429 are retried; a 404 only while ``lag`` (just
    after an accepted trigger, the run may not be readable yet). Everything else is final,
    and so is an answer about another run (``ForeignRun``)."""
    if isinstance(error, ForeignRun | WrongHost):  # another run; not the API at all (issue 12)
        return False
    if isinstance(error, ApiError):
        if error.status_code == 404:
            return lag
        return error.status_code in RETRY_STATUSES
    return isinstance(error, TransportError)


class Busy(Exception):
    """Cortex is busy (429, or a 409 at its limit of concurrent runs), raised instead of retried
    when the caller schedules the retry itself (a fan-out keeps polling its other runs)."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = error.retry_after


@dataclass(frozen=True)
class Triggered:
    """The trigger's answer: the run, and what tells whether Cortex replayed an earlier one."""

    run: Run
    replay_marker: bool  # the answer carried `Idempotent-Replayed: true`
    attempts: int  # how many times the trigger was sent (after 1, a replay may be our own)


@dataclass(frozen=True)
class _Answer:
    payload: Any
    headers: httpx.Headers


def path_segment(value: str) -> str:
    """Percent-encode user input for one path segment; ``.`` and ``..`` can't climb the path."""
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if set(value) <= {"."} else encoded


class TriggerWatch(Protocol):
    """Told about each trigger attempt, so an interruption or a failure can say truthfully
    whether a run may have started (``Progress`` implements it)."""

    def trigger_sending(self) -> None: ...

    def trigger_answered(self, *, definite: bool) -> None:
        """``definite``: this attempt certainly started no run (a 429, a busy 409, any other
        4xx or 3xx, a web page instead of the API, a refused connection). A 2xx (whatever its
        body), a timeout, a broken connection or a 5xx may have started one."""


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

    def trigger(  # noqa: PLR0913 - keyword-only: the request, and who waits when busy
        self,
        workflow: str,
        body: Mapping[str, Any],
        *,
        idempotency_key: str,
        deadline: float,
        watch: TriggerWatch | None = None,
        wait_when_busy: bool = True,
    ) -> Triggered:
        """Start a run. Retried only because the idempotency key makes a retry a replay."""
        url = f"{self._root}/workflows/{path_segment(workflow)}/runs"
        attempts = 0

        def on_attempt() -> None:
            nonlocal attempts
            attempts += 1

        try:
            answer = self._call(
                "POST",
                url,
                what=f"triggering workflow {workflow!r}",
                deadline=deadline,
                json_body=dict(body),
                headers={"Idempotency-Key": idempotency_key},
                trigger=True,
                on_attempt=on_attempt,
                watch=watch,
                busy_raises=not wait_when_busy,
            )
        except ApiError as error:
            if error.status_code == 409:  # a conflict (a busy 409 is retried, not raised here)
                raise _with_hint(
                    error, f"The idempotency key sent: {idempotency_key}. {HINTS[409]}"
                ) from None
            raise
        run = parse_run(answer.payload, what="the trigger's answer")
        marker = answer.headers.get(REPLAY_HEADER, "").strip().lower() == "true"
        return Triggered(run, replay_marker=marker, attempts=max(1, attempts))

    def get_run(self, workflow: str, run_id: str, *, deadline: float) -> Run:
        """One read of a run (``get``, and the first look of ``wait``): the retry budget applies."""
        url = self._run_url(workflow, run_id)
        payload = self._call("GET", url, what=f"reading run {run_id}", deadline=deadline).payload
        return _same_run(parse_run(payload, what=f"run {run_id}"), run_id)

    def poll_run(
        self, workflow: str, run_id: str, *, deadline: float, accepted_at: float | None = None
    ) -> Run:
        """A poll while following a run: transient failures (``poll_is_transient``) are retried
        until ``deadline``, however many; ``accepted_at`` (a clock time) is when the trigger was
        accepted, for the read-after-write lag of a 404 just after it."""
        url = self._run_url(workflow, run_id)

        def parse(answer: _Answer) -> Run:
            return _same_run(parse_run(answer.payload, what=f"run {run_id}"), run_id)

        def transient(error: CortexError) -> bool:
            lag = accepted_at is not None and self._clock() - accepted_at < LAG_WINDOW
            return poll_is_transient(error, lag=lag)

        run: Run = self._call(
            "GET",
            url,
            what=f"reading run {run_id}",
            deadline=deadline,
            parse=parse,
            until_deadline=transient,
        )
        return run

    def _run_url(self, workflow: str, run_id: str) -> str:
        return f"{self._root}/workflows/{path_segment(workflow)}/runs/{path_segment(run_id)}"

    def get_workflow(
        self, workflow: str, *, deadline: float, quiet: bool = False
    ) -> dict[str, Any]:
        """A workflow's definition [seen], for the preflight. ``quiet``: its retries are not
        announced (the preflight says once that it gave up)."""
        url = f"{self._root}/workflows/{path_segment(workflow)}"
        payload = self._call(
            "GET", url, what=f"reading workflow {workflow!r}", deadline=deadline, quiet=quiet
        ).payload
        if not isinstance(payload, dict):
            raise TransportError(
                f"Cortex answered with JSON that is not a workflow ({workflow!r}): "
                f"expected an object, got {type(payload).__name__}."
            )
        return payload

    def callback(
        self,
        workflow: str,
        callback_id: str,
        body: Mapping[str, Any],
        *,
        final: bool,
        deadline: float,
    ) -> CallbackAnswer:
        """Call back an async HTTP block; retried like any request that is safe to repeat.

        A retry of a final callback (SUCCESS, FAILURE) whose earlier attempt got no answer may
        find the block already resumed by that attempt: Cortex then answers 406, which here
        means "received". An UPDATE leaves the block waiting, so a 406 is always a refusal.
        """
        url = (
            f"{self._root}/workflows/{path_segment(workflow)}/callback/{path_segment(callback_id)}"
        )
        lost: list[str] = []  # why earlier attempts got no answer, in order

        def attempt(timeout: float) -> CallbackAnswer:
            try:
                response = self._post_once(url, timeout, dict(body))
            except Transient as transient:
                lost.append(transient.error.message.splitlines()[0])
                raise
            foreign = web_app_answer(response)
            if foreign is not None:  # the web app or another site took it: not Cortex's API
                raise foreign
            status = response.status_code
            if 200 <= status < 300:
                return CallbackAnswer(status)  # the body is Cortex's choice: not read
            if status == 406 and final and lost:
                return CallbackAnswer(status, landed_earlier=lost[-1])
            try:
                self._decode(response, hints=CALLBACK_HINTS)
            except Transient as transient:
                if status >= 500:  # the request may have been processed before the error
                    lost.append(transient.error.message.splitlines()[0])
                raise
            raise AssertionError("unreachable: an error status always raises")  # pragma: no cover

        return call_with_retries(
            attempt,
            what=f"calling back workflow {workflow!r}",
            deadline=deadline,
            clock=self._clock,
            sleep=self._sleep,
            policy=self._policy,
            notify=self._notify,
        )

    def list_runs(
        self, params: Mapping[str, Any], *, deadline: float, policy: RetryPolicy | None = None
    ) -> ListPage:
        """One page of runs; ``policy`` overrides the client's (a one-shot look-up)."""
        answer = self._call(
            "GET",
            f"{self._root}/workflows/runs",
            what="listing runs",
            deadline=deadline,
            params=params,
            policy=policy,
        )
        return parse_page(answer.payload)

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
        trigger: bool = False,
        parse: Callable[[_Answer], Any] | None = None,
        until_deadline: Callable[[CortexError], bool] | None = None,
        on_attempt: Callable[[], None] | None = None,
        policy: RetryPolicy | None = None,
        watch: TriggerWatch | None = None,
        quiet: bool = False,
        busy_raises: bool = False,
    ) -> Any:
        """One request with retries. ``parse`` reads the answer inside the attempt, so that
        ``until_deadline`` (polls) can retry an answer that is not what was asked for; with it,
        every failure it calls transient is retried until ``deadline``, not against the budget."""
        request_headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **(headers or {}),
        }

        def send(timeout: float) -> Any:
            if on_attempt is not None:
                on_attempt()
            if watch is not None:
                watch.trigger_sending()
            try:
                response = self._send(
                    self._http.build_request(
                        method,
                        url,
                        json=json_body,
                        params=params,
                        headers=request_headers,
                        timeout=httpx.Timeout(timeout),
                    )
                )
            except (httpx.TransportError, httpx.DecodingError) as exc:
                if watch is not None:  # a connection never made sent nothing
                    watch.trigger_answered(
                        definite=isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                    )
                if isinstance(exc, httpx.TimeoutException):
                    raise Transient(
                        TransportError(
                            f"{method} {url}: no answer within {timeout:.0f}s "
                            f"({type(exc).__name__})."
                        )
                    ) from None
                # DecodingError: a body that does not decompress as its Content-Encoding says.
                raise Transient(
                    TransportError(f"{method} {url}: {_describe_transport(exc)}")
                ) from None
            if watch is not None:
                watch.trigger_answered(definite=_started_nothing(response))
            decoded = self._decode(response, trigger=trigger, busy_raises=busy_raises)
            answer = _Answer(decoded, response.headers)
            return parse(answer) if parse is not None else answer

        policy = policy or self._policy
        attempt = send
        if until_deadline is not None:
            policy = replace(policy, max_delay=min(policy.max_delay, POLL_MAX_DELAY))
            classify = until_deadline

            def attempt(timeout: float) -> Any:
                try:
                    return send(timeout)
                except Transient as transient:
                    error, retry_after = transient.error, transient.retry_after
                except CortexError as final:
                    error, retry_after = final, getattr(final, "retry_after", None)
                if classify(error):
                    raise Transient(error, retry_after, counts=False)
                raise error

        return call_with_retries(
            attempt,
            what=what,
            deadline=deadline,
            clock=self._clock,
            sleep=self._sleep,
            policy=policy,
            notify=None if quiet else self._notify,
        )

    def _post_once(self, url: str, timeout: float, body: dict[str, Any]) -> httpx.Response:
        """One POST of a callback; no answer at all raises ``Transient``."""
        request = self._http.build_request(
            "POST",
            url,
            json=body,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=httpx.Timeout(timeout),
        )
        try:
            return self._send(request)
        except httpx.TimeoutException as exc:
            raise Transient(
                TransportError(
                    f"POST {url}: no answer within {timeout:.0f}s ({type(exc).__name__})."
                )
            ) from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise Transient(TransportError(f"POST {url}: {_describe_transport(exc)}")) from None

    def _send(self, request: httpx.Request) -> httpx.Response:
        """Send, and read the answer (decompressed) at most ``MAX_ANSWER_BYTES``: an endless or
        huge answer is refused as it streams in, never held whole."""
        response = self._http.send(request, stream=True, follow_redirects=False)
        try:
            body = read_bounded(response.iter_bytes(), request)
        finally:
            response.close()
        headers = response.headers.copy()
        for name in ("content-encoding", "content-length", "transfer-encoding"):
            headers.pop(name, None)  # the body below is already decoded
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=body,
            request=request,
            extensions=response.extensions,
        )

    def _decode(
        self,
        response: httpx.Response,
        *,
        trigger: bool = False,
        hints: Mapping[int, str] | None = None,
        busy_raises: bool = False,
    ) -> Any:
        request = response.request
        status = response.status_code
        foreign = web_app_answer(response)
        if foreign is not None:
            raise foreign
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
                # The server's text, bounded: a header can be tens of kilobytes.
                f"a redirect to {log_text(response.headers.get('location', '(no location)'), 300)}",
                method=request.method,
                url=str(request.url),
                hint=(
                    "cortex-action does not follow redirects, so the token is never sent to "
                    "another host. Set `base-url` to the final API address."
                ),
            )
        error = api_error(response, hints)
        busy = trigger and status == 409 and is_busy(error)
        if busy:  # the hint of a 409 is the conflict's; a busy one says it waited for a slot
            error = _with_hint(error, BUSY_HINT)
        if busy_raises and (status == 429 or busy):
            raise Busy(error)  # the caller waits, and does other work meanwhile
        if status == 429 or busy:
            # Busy, not broken: the rate limit, or (for a trigger) the limit of 5 runs at once.
            # Retried until `timeout`, however long that is, never against the attempt budget.
            raise Transient(error, retry_after=error.retry_after, counts=False)
        if status in RETRY_STATUSES:
            raise Transient(error, retry_after=error.retry_after)
        raise error


def _with_hint(error: ApiError, hint: str) -> ApiError:
    return ApiError(
        error.status_code,
        error.api_message,
        method=error.method,
        url=error.url,
        details=error.details,
        request_id=error.request_id,
        hint=hint,
        retry_after=error.retry_after,
    )


def _same_run(run: Run, run_id: str) -> Run:
    if run.id.lower() != run_id.lower():
        # Never start reporting another run's status and id as if it were ours.
        raise ForeignRun(
            f"Cortex answered a request for run {run_id} with another run, "
            f"{log_text(run.id, 100)!r}; cannot trust this answer. Stopped following it."
        )
    return run


def _started_nothing(response: httpx.Response) -> bool:
    """Whether a trigger's answer says for sure that no run was started (``TriggerWatch``)."""
    return 300 <= response.status_code < 500 or web_app_answer(response) is not None


class WrongHost(TransportError):
    """``base-url`` answers, but it is not the API: retrying can't help."""

    title = "base-url is not the Cortex API"


def web_app_answer(response: httpx.Response) -> WrongHost | None:
    """The one place that tells the web app (or any web page) from the API: an HTML answer where
    JSON was expected, either a success (an API never answers one with a page; a single-page app
    answers every path with one) or from a host named like Cortex's web app (``app.``). A proxy's
    HTML error page on the API host (502 from nginx) is not this: it stays a transient error."""
    content_type = response.headers.get("content-type", "").lower()
    # A byte-order mark or an XML prologue may come first (pages saved by Windows editors,
    # XHTML): JSON never starts with "<", whatever follows.
    head = response.content[:1024].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    # The body decides: valid JSON labelled text/html is still JSON.
    html = head.startswith(b"<") and (
        "html" in content_type or b"<!doctype html" in head or b"<html" in head
    )
    if not html:
        return None
    host = response.request.url.host
    if not (200 <= response.status_code < 300 or host.startswith("app.")):
        return None
    cloud = (
        f" (on Cortex cloud, the API is {'api.' + host.removeprefix('app.')}, not {host})"
        if host.startswith("app.")
        else " (on Cortex cloud, `api.` rather than `app.`: https://api.getcortexapp.com)"
    )
    request = response.request
    return WrongHost(
        f"{request.method} {request.url}: the answer is a web page "
        f"({_snippet(response)}, status {response.status_code}), not JSON from the Cortex API. "
        f"`base-url` must be the API host{cloud}, not the web app or another site."
    )


# A JSON escape of one half of a UTF-16 surrogate pair, e.g. "\ud800" (any case).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def answer_json(response: httpx.Response) -> Any:
    """The answer's JSON, every lone surrogate replaced by U+FFFD.

    ``"\\ud800"`` is valid JSON but not text: left in, it breaks every later encode (the run's
    URL, the outputs, the result files), far from here and on the way out of errors too.
    """
    value = response.json()
    if _too_deep(value):
        # Every later step (the token's redaction, the outputs, the result files) walks the
        # answer recursively: one nested past Python's stack would crash the step there.
        raise ValueError(f"JSON nested more than {MAX_DEPTH} levels deep")
    if not _SURROGATE_ESCAPE.search(response.content):
        return value  # the usual answer: nothing to scrub
    return _scrub(value)


# Cortex's run objects nest a handful of levels (run, actions, state); far below the stack.
MAX_DEPTH = 64


def _too_deep(value: Any) -> bool:
    """Whether JSON nests past ``MAX_DEPTH``: a loop, as recursion could overflow here too."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value


def _describe_transport(exc: httpx.TransportError | httpx.DecodingError) -> str:
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
    if isinstance(exc, AnswerTooLarge):
        return f"{text}; treated as a garbled answer."
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


def api_error(response: httpx.Response, hints: Mapping[int, str] | None = None) -> ApiError:
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
                # An int past a float's range, 1e400 (read as infinity), NaN: no wait at all.
                retry_after = parse_retry_after(str(value)) if len(str(value)) < 400 else None
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
        hint=(hints or {}).get(status, HINTS.get(status)),
        retry_after=retry_after,
    )


def _violation(item: Mapping[str, Any]) -> str:
    parts = [as_text(item.get(k)) for k in ("title", "description")]
    text = ": ".join(p for p in parts if p)
    pointer = as_text(item.get("pointer"))
    return f"{text} (at {pointer})" if pointer else text
