"""Networks users really have: proxies, NO_PROXY, private CAs, and both together."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from pytest_httpserver import HTTPServer

from cortex_action.transport import choose_proxy, redact
from tests.proxy import forward_proxy
from tests.support import TOKEN, invoke

RUN = {"id": "r1", "status": "COMPLETED"}


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("https://api.example.com", {"HTTPS_PROXY": "http://p:3128"}, "http://p:3128"),
        ("https://api.example.com", {"https_proxy": "p:3128", "HTTPS_PROXY": "x"}, "http://p:3128"),
        ("http://api.example.com", {"HTTPS_PROXY": "http://p:3128"}, None),
        ("http://api.example.com", {"HTTP_PROXY": "http://p:1"}, "http://p:1"),
        ("https://api.example.com", {"ALL_PROXY": "http://p:2"}, "http://p:2"),
        ("https://api.example.com", {"HTTPS_PROXY": "http://p", "NO_PROXY": "example.com"}, None),
        ("https://api.example.com", {"HTTPS_PROXY": "http://p", "NO_PROXY": ".example.com"}, None),
        ("https://api.example.com", {"HTTPS_PROXY": "http://p", "no_proxy": "*"}, None),
        (
            "https://api.example.com",
            {"HTTPS_PROXY": "http://p", "NO_PROXY": "ample.com"},
            "http://p",
        ),
        ("https://10.1.2.3", {"HTTPS_PROXY": "http://p", "NO_PROXY": "10.0.0.0/8"}, None),
        (
            "https://api.example.com:8443",
            {"HTTPS_PROXY": "http://p", "NO_PROXY": "api.example.com:443"},
            "http://p",
        ),
        ("http://127.0.0.1:8080", {"HTTP_PROXY": "http://p"}, None),
        ("http://localhost:8080", {"HTTP_PROXY": "http://p"}, None),
    ],
)
def test_proxy_choice(url: str, env: dict[str, str], expected: str | None) -> None:
    """HTTPS_PROXY/HTTP_PROXY/ALL_PROXY and NO_PROXY follow curl's rules; loopback is direct."""
    assert choose_proxy(url, env)[0] == expected


def test_proxy_credentials_are_redacted() -> None:
    """A proxy URL's user and password never reach the log."""
    assert redact("http://user:pw@proxy:3128") == "http://***@proxy:3128"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[HTTPServer]:
    """A Cortex stand-in on loopback with a certificate for cortex.test from a private CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("cortex.test").configure_cert(context)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.expect_request("/api/v1/workflows/deploy-service/runs", method="POST").respond_with_json(
        RUN, status=201
    )
    server.expect_request("/api/v1/workflows/deploy-service", method="GET").respond_with_json(
        {"isRunnableViaApi": True}  # the preflight's read of the definition
    )
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def env_for(port: int, **extra: str) -> dict[str, str]:
    return {
        "CORTEX_API_TOKEN": TOKEN,
        "CORTEX_WORKFLOW": "deploy-service",
        "CORTEX_BASE_URL": f"https://cortex.test:{port}",
        "GITHUB_SHA": "a" * 40,
        **extra,
    }


def test_https_through_proxy_with_private_ca(
    tls_server: HTTPServer, ca: trustme.CA, tmp_path: Path
) -> None:
    """ca-bundle and HTTPS_PROXY work together: CONNECT through the proxy, TLS verified."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with forward_proxy() as proxy:
        env = env_for(tls_server.port, HTTPS_PROXY=f"http://127.0.0.1:{proxy.server_address[1]}")
        result = invoke(env, ["run", "--ca-bundle", str(bundle), "--no-wait"])
        assert result.exit_code == 0, result.log
        # Each request (the preflight's read, then the trigger) tunnels through the proxy.
        assert set(proxy.seen) == {f"CONNECT cortex.test:{tls_server.port} HTTP/1.1"}
    assert "Using proxy http://127.0.0.1" in result.stderr


def test_ssl_cert_file_is_honoured(tls_server: HTTPServer, ca: trustme.CA, tmp_path: Path) -> None:
    """SSL_CERT_FILE from the environment is the trust store, through a proxy too."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with forward_proxy() as proxy:
        env = env_for(
            tls_server.port,
            SSL_CERT_FILE=str(bundle),
            HTTPS_PROXY=f"127.0.0.1:{proxy.server_address[1]}",
        )
        result = invoke(env, ["run", "--no-wait"])
    assert result.exit_code == 0, result.log


def test_unknown_ca_fails_with_a_hint(tls_server: HTTPServer, tmp_path: Path) -> None:
    """Without the private CA, TLS fails with exit 3 and says how to add the CA."""
    with forward_proxy() as proxy:
        env = env_for(tls_server.port, HTTPS_PROXY=f"http://127.0.0.1:{proxy.server_address[1]}")
        result = invoke(env, ["run", "--no-wait", "--timeout", "5"])
    assert result.exit_code == 3
    assert "TLS certificate verification failed" in result.stderr
    assert "`ca-bundle`" in result.stderr


def test_plain_http_through_proxy(httpserver: HTTPServer) -> None:
    """HTTP_PROXY carries a plain-http request (allowed with allow-insecure-http)."""
    httpserver.expect_request("/api/v1/workflows/deploy-service/runs").respond_with_json(RUN)
    httpserver.expect_request("/api/v1/workflows/deploy-service").respond_with_json(
        {"isRunnableViaApi": True}  # the preflight's read of the definition
    )
    with forward_proxy() as proxy:
        env = {
            "CORTEX_API_TOKEN": TOKEN,
            "CORTEX_WORKFLOW": "deploy-service",
            "CORTEX_BASE_URL": f"http://cortex.test:{httpserver.port}",
            "CORTEX_ALLOW_INSECURE_HTTP": "true",
            "GITHUB_SHA": "a" * 40,
            "HTTP_PROXY": f"http://127.0.0.1:{proxy.server_address[1]}",
        }
        result = invoke(env, ["run", "--no-wait"])
        assert result.exit_code == 0, result.log
        # The preflight's read, then the trigger: both through the proxy.
        assert proxy.seen[0].startswith(f"GET http://cortex.test:{httpserver.port}/api/v1/")
        assert proxy.seen[1].startswith(f"POST http://cortex.test:{httpserver.port}/api/v1/")
