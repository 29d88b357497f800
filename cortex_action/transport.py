"""The HTTP client: which proxy, which CA certificates, from the injected environment.

httpx's own ``trust_env`` reads ``os.environ``; we read the mapping we were given instead, so the
same rules apply in tests, and decide once, for the one host we talk to.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import certifi
import httpx

from cortex_action.errors import InputError

# The most of one answer we read. Cortex documents bodies up to 2 MB; 16 MiB leaves room for a
# listing page of long runs or a chatty proxy, and is still far below what could hurt a runner
# (the whole process stays under about 100 MB with one such answer in memory, twice over).
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class AnswerTooLarge(httpx.ReadError):
    """An answer past ``MAX_ANSWER_BYTES`` (or endless): garbled, like any unreadable answer."""


def read_bounded(
    chunks: Iterable[bytes], request: httpx.Request, limit: int = MAX_ANSWER_BYTES
) -> bytes:
    """The body, chunk by chunk, refused once it grows past ``limit``: never held whole."""
    # A list of chunks, not a growing bytearray: no reallocation copies on the way up, and
    # nothing but the chunks to free when the answer is refused.
    body: list[bytes] = []
    size = 0
    for chunk in chunks:
        body.append(chunk)
        size += len(chunk)
        if size > limit:
            # Freed now: the error's traceback keeps this frame alive through the retry's sleep.
            body.clear()
            raise AnswerTooLarge(
                f"the answer was larger than {limit // (1024 * 1024)} MiB (Cortex's answers are "
                "at most 2 MB), so it was not read to its end",
                request=request,
            )
    return b"".join(body)


@dataclass(frozen=True)
class Network:
    """What was decided, for one log line."""

    proxy: str | None  # the proxy URL, or None for a direct connection
    proxy_source: str | None  # the variable it came from
    trust: str  # where CA certificates come from


def _env(env: Mapping[str, str], name: str) -> str | None:
    """curl's convention: the lower-case name first, then the upper-case one."""
    for key in (name.lower(), name.upper()):
        value = env.get(key, "").strip()
        if value:
            return value
    return None


def _bypassed(host: str, port: int | None, no_proxy: str | None) -> bool:
    """Whether ``host`` is excluded from proxying; loopback always is."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if host.removesuffix(".") == "localhost" or (address is not None and address.is_loopback):
        return True
    for raw in (no_proxy or "").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry_host, _, entry_port = (
            entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        )
        if entry_port and port is not None and entry_port != str(port):
            continue
        entry_host = entry_host or entry
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry_host.strip("[]"), strict=False):
                    return True
            except ValueError:
                pass
            continue
        suffix = entry_host.lstrip(".")
        if host == suffix or host.endswith("." + suffix):
            return True
    return False


def choose_proxy(url: str, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The proxy for ``url`` under HTTPS_PROXY/HTTP_PROXY/ALL_PROXY and NO_PROXY."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if _bypassed(host, parts.port, _env(env, "no_proxy")):
        return None, None
    names = ("https_proxy", "all_proxy") if parts.scheme == "https" else ("http_proxy", "all_proxy")
    for name in names:
        value = _env(env, name)
        if value:
            return (value if "://" in value else f"http://{value}"), name.upper()
    return None, None


def redact(url: str) -> str:
    """A proxy URL without its credentials, for the log."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        netloc = "***@" + (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def ssl_context(ca_bundle: str | None, env: Mapping[str, str]) -> tuple[ssl.SSLContext, str]:
    """Default CAs (or SSL_CERT_FILE / SSL_CERT_DIR), plus ``ca-bundle`` on top when given."""
    cafile = env.get("SSL_CERT_FILE") or env.get("REQUESTS_CA_BUNDLE") or None
    capath = env.get("SSL_CERT_DIR") or None
    try:
        if cafile or capath:
            context = ssl.create_default_context(cafile=cafile, capath=capath)
            trust = f"CA certificates from {cafile or capath}"
        else:
            context = ssl.create_default_context(cafile=certifi.where())
            trust = "the default CA certificates"
    except (OSError, ssl.SSLError) as exc:
        raise InputError(
            [f"SSL_CERT_FILE/SSL_CERT_DIR: cannot load {cafile or capath!r}: {exc}"]
        ) from None
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise InputError(
                [f"ca-bundle: cannot load {ca_bundle!r} as PEM CA certificates: {exc}"]
            ) from None
        trust += f" and {ca_bundle}"
    return context, trust


class WholeRequestTimeout(httpx.BaseTransport):
    """Bound a whole request, answer included, by its timeout.

    httpx applies a timeout to each socket operation (connect, each write, each read), so a server
    that trickles its answer a byte at a time, each within the read timeout, could hold a request
    (and the step) long past ``timeout``. Here the request runs in a daemon thread and the caller
    waits at most the request's largest timeout for the whole answer; past that, it gets a
    ``ReadTimeout`` like any slow answer, and the thread is left to end with the connection. The
    wait is interruptible, so SIGINT/SIGTERM still stop a request at once. The answer is read
    at most ``MAX_ANSWER_BYTES`` (as sent, before any decompression; the client bounds the
    decompressed answer too), so an endless one can't fill the memory.
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout") or {}
        limit = max((v for v in timeouts.values() if v is not None), default=None)
        if limit is None:
            return self.inner.handle_request(request)
        answers: list[httpx.Response] = []
        errors: list[Exception] = []

        def work() -> None:
            try:
                response = self.inner.handle_request(request)
                try:  # the answer in full, within the same time and size limits
                    raw = read_bounded(response.stream, request)  # type: ignore[arg-type]
                finally:
                    response.close()
                answers.append(
                    httpx.Response(
                        response.status_code,
                        headers=response.headers,
                        stream=httpx.ByteStream(raw),
                        extensions=response.extensions,
                        request=request,
                    )
                )
            except Exception as exc:  # handed to the caller (signals go to the main thread)
                errors.append(exc)

        worker = threading.Thread(target=work, name="cortex-action-request", daemon=True)
        worker.start()
        worker.join(limit)
        if worker.is_alive():
            raise httpx.ReadTimeout(
                f"no complete answer within {limit:.0f}s (the answer kept trickling in)",
                request=request,
            )
        if errors:
            raise errors[0]
        return answers[0]

    def close(self) -> None:
        self.inner.close()


def http_client(
    base_url: str,
    ca_bundle: str | None,
    env: Mapping[str, str],
    transport: httpx.BaseTransport | None = None,
) -> tuple[httpx.Client, Network]:
    """An ``httpx.Client`` for ``base_url``; a given ``transport`` (tests) replaces the network."""
    context, trust = ssl_context(ca_bundle, env)
    proxy, source = choose_proxy(base_url, env)
    if transport is not None:
        return httpx.Client(transport=transport, trust_env=False), Network(None, None, trust)
    network = httpx.HTTPTransport(verify=context, proxy=proxy, trust_env=False)
    client = httpx.Client(transport=WholeRequestTimeout(network), trust_env=False)
    return client, Network(redact(proxy) if proxy else None, source, trust)
