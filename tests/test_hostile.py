"""Issue 12: hostile input and hostile answers. No secret echoed, no request for a bad input,
foreign or endless answers ended cleanly, and messages that say what really happened."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import certifi
import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from cortex_action.emulator import EmulatorServer
from cortex_action.errors import Interrupted
from cortex_action.settings import load_settings
from tests.support import (
    TOKEN,
    FakeTime,
    ScriptedCortex,
    github_env,
    invoke,
    json_response,
    run_object,
)

SECRET = "MY-SECRET-vAlue-42"


class NoNetwork(httpx.BaseTransport):
    """A transport that records every request: for inputs that must send none."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(500)


def host_envs(tmp_path: Path) -> dict[str, dict[str, str]]:
    """One environment per host adapter, each with a valid token and workflow."""
    plain = {"CORTEX_API_TOKEN": TOKEN, "CORTEX_WORKFLOW": "deploy-service"}
    return {
        "github": github_env(tmp_path, "https://api.getcortexapp.com"),
        "gitlab": {**plain, "GITLAB_CI": "true", "CI_COMMIT_SHA": "a" * 40},
        "jenkins": {**plain, "JENKINS_URL": "https://jenkins.example", "GIT_COMMIT": "b" * 40},
        "local": plain,
    }


# -- secrets never echoed ------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["github", "gitlab", "jenkins", "local"])
@pytest.mark.parametrize(
    "argv",
    [
        ["--api-token", SECRET],
        ["--api-tok", SECRET],
        ["--token", SECRET],
        ["--api-key", SECRET],
        ["--api_token", SECRET],
        [f"--api-token={SECRET}"],
        ["run", "--workflow", "w", "--api-token", SECRET],
    ],
)
def test_a_token_flag_is_refused_and_its_value_never_shown(
    tmp_path: Path, host: str, argv: list[str]
) -> None:
    transport = NoNetwork()
    result = invoke(host_envs(tmp_path)[host], argv, transport=transport)
    assert result.exit_code == 2, result.log
    assert SECRET not in result.stdout + result.stderr
    assert "CORTEX_API_TOKEN" in result.log  # what to do instead
    assert transport.requests == []


@pytest.mark.parametrize("host", ["github", "gitlab", "jenkins", "local"])
@pytest.mark.parametrize("name", ["base-url", "app-url"])
def test_a_password_in_a_url_is_refused_never_shown_and_nothing_is_sent(
    tmp_path: Path, host: str, name: str
) -> None:
    env = host_envs(tmp_path)[host]
    env[f"CORTEX_{name.upper().replace('-', '_')}"] = f"https://deployer:{SECRET}@api.example.com"
    if host == "github":
        env[f"INPUT_{name.upper()}"] = env.pop(f"CORTEX_{name.upper().replace('-', '_')}")
    transport = NoNetwork()
    result = invoke(env, transport=transport)
    assert result.exit_code == 2, result.log
    assert SECRET not in result.stdout + result.stderr + result.summary
    assert "deployer" not in result.stdout + result.stderr
    assert f"{name}: " in result.log
    assert "the only credential" in result.log
    assert transport.requests == []


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("https://api.example.com:99999", "port must be a number from 1 to 65535"),
        ("https://api.example.com:abc", "port must be a number from 1 to 65535"),
        ("https://api.example.com:0", "port must be 1 to 65535"),
        ("ftp://api.example.com", "scheme must be http or https"),
        ("api.example.com", "scheme must be http or https"),
        ("https://", "no host name"),
        ("https://:443", "no host name"),
        ("https://api.example .com", "without spaces"),
        ("https://api.example.com/?x=1", "without query or fragment"),
        # Empty, but what we append would still become a query or a fragment: every request to /.
        ("https://api.example.com#", "without query or fragment"),
        ("https://api.example.com?", "without query or fragment"),
        # Names the client can't encode: they were a UnicodeError (exit 3, "a bug").
        ("https://api..example.com", "host name is not valid"),
        ("https://xn--", "host name is not valid"),
        ("https://" + "a" * 64 + ".example.com", "host name is not valid"),
        ("https://\u2024api.example.com", "host name is not valid"),
    ],
)
@pytest.mark.parametrize("name", ["base-url", "app-url"])
def test_a_bad_url_is_exit_2_naming_the_input_and_nothing_is_sent(
    tmp_path: Path, url: str, phrase: str, name: str
) -> None:
    transport = NoNetwork()
    result = invoke(
        github_env(tmp_path, "https://api.example.com", **{name: url}), transport=transport
    )
    assert result.exit_code == 2, result.log
    assert f"{name}: " in result.log
    assert phrase in result.log
    assert "internal error" not in result.log
    assert transport.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost.:8080",  # fully qualified: still loopback, plain http allowed
        "http://[::1]:8080/prefix/api/v1/",
        "https://b\u00fccher.example",  # an international name, sent as IDNA
        "https://[fe80::1%25eth0]:8443",  # an IPv6 address with its zone
        "https://api.getcortexapp.com.",
    ],
)
def test_unusual_but_valid_urls_are_accepted(url: str) -> None:
    settings = load_settings(
        {"CORTEX_API_TOKEN": TOKEN, "CORTEX_WORKFLOW": "w", "CORTEX_BASE_URL": url}
    )
    assert settings.api_root.endswith("/api/v1")
    assert "/api/v1/api/v1" not in settings.api_root


def test_a_byte_order_mark_before_an_environment_token_is_named(tmp_path: Path) -> None:
    env = github_env(tmp_path, "https://api.example.com")
    env["INPUT_API-TOKEN"] = "\ufeff" + SECRET
    transport = NoNetwork()
    result = invoke(env, transport=transport)
    assert result.exit_code == 2, result.log
    assert "api-token: " in result.log
    assert "byte-order mark (U+FEFF" in result.log
    assert SECRET not in result.log
    assert transport.requests == []


def test_a_byte_order_mark_in_a_token_file_is_dropped(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_bytes("\ufeff".encode() + TOKEN.encode() + b"\r\n")
    cortex.statuses("COMPLETED")
    env = github_env(tmp_path, cortex.base_url)
    env["INPUT_API-TOKEN"] = ""
    result = invoke(env, ["--api-token-file", str(token_file)])
    assert result.exit_code == 0, result.log
    assert cortex.requests("POST")[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_timeout_accepts_days(cortex: ScriptedCortex, tmp_path: Path) -> None:
    cortex.statuses("COMPLETED")
    assert invoke(github_env(tmp_path, cortex.base_url, timeout="1d")).exit_code == 0
    result = invoke(github_env(tmp_path, cortex.base_url, timeout="8d"))
    assert result.exit_code == 2
    assert "timeout: expected a duration of at most 7 days" in result.log


# -- foreign and oversized answers ---------------------------------------------------------------


SPA = "<!doctype html><html><head><title>Cortex</title></head><body><div id=root></div></body>"


@pytest.mark.parametrize("argv", [[], ["list"], ["get", "run-1"], ["wait", "run-1"]])
def test_a_single_page_app_as_base_url_stops_at_once_naming_base_url(
    httpserver: HTTPServer, tmp_path: Path, argv: list[str]
) -> None:
    """A web app answers 200 HTML to every path: one request, no retry, no sleep, exit 3."""
    httpserver.expect_request("").respond_with_data(SPA, content_type="text/html")
    time = FakeTime()
    base = httpserver.url_for("/").rstrip("/")
    result = invoke(github_env(tmp_path, base), argv, time=time)
    assert result.exit_code == 3, result.log
    assert "`base-url` must be the API host" in result.log
    assert "`api.` rather than `app.`" in result.log
    assert len(httpserver.log) == 1
    assert time.sleeps == []
    assert "::warning" not in result.stdout
    # A page answered the trigger: it never reached Cortex's API, so no run can have started.
    assert "may have started" not in result.log + result.summary


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("\ufeff" + SPA, "text/html; charset=utf-8"),  # a byte-order mark first
        ("\ufeff" + SPA, "application/octet-stream"),
        ('<?xml version="1.0"?>\n<!DOCTYPE html>' + SPA[15:], "application/xhtml+xml"),
        ('<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"></html>', "text/xml"),
        ("<!-- built by the web app -->\n" + SPA, ""),
        ("\n\n  <HTML><BODY>Hello</BODY></HTML>", "text/plain"),
    ],
    ids=["bom", "bom-unlabelled", "xhtml", "xhtml-as-xml", "comment-first", "upper-case"],
)
def test_a_web_page_in_any_dress_is_known_as_one(
    httpserver: HTTPServer, tmp_path: Path, body: str, content_type: str
) -> None:
    """Each was read as a garbled answer and retried 8 times (a minute), then "Cortex kept
    failing", without naming `base-url`."""
    httpserver.expect_request("").respond_with_response(
        Response(body.encode(), 200, headers={"Content-Type": content_type} if content_type else {})
    )
    time = FakeTime()
    result = invoke(github_env(tmp_path, httpserver.url_for("/").rstrip("/")), time=time)
    assert result.exit_code == 3, result.log
    assert "`base-url` must be the API host" in result.log
    assert len(httpserver.log) == 1


def test_an_html_error_page_from_the_api_host_is_still_retried(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """A proxy's 502 page on the API host is a blip, not the web app."""
    cortex.on_trigger(
        Response("<html><title>502 Bad Gateway</title></html>", 502, content_type="text/html"),
        json_response(run_object(status="COMPLETED"), 201),
    )
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0, result.log


def test_the_web_app_host_names_the_api_host() -> None:
    """On app.<domain>, even an error page is the web app: the message names api.<domain>."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text=SPA, headers={"content-type": "text/html"})

    time = FakeTime()
    result = invoke(
        {
            "CORTEX_API_TOKEN": TOKEN,
            "CORTEX_WORKFLOW": "deploy-service",
            "CORTEX_BASE_URL": "https://app.getcortexapp.com",
        },
        transport=httpx.MockTransport(answer),
        time=time,
    )
    assert result.exit_code == 3, result.log
    assert "the API is api.getcortexapp.com, not app.getcortexapp.com" in result.log
    assert time.sleeps == []


def test_a_run_id_of_100000_characters_is_exit_3_without_the_id(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    cortex.on_trigger(json_response(run_object("r" * 100_000), 201))
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 3, result.log
    assert "run id that is not an id" in result.log
    assert "rrrrrrrrrr" not in result.log + json.dumps(result.outputs) + result.summary
    assert "internal error" not in result.log


def test_a_compressed_answer_is_bounded_once_decompressed(tmp_path: Path) -> None:
    """A small gzip body that inflates past the limit is garbled, not read whole."""

    bomb = gzip.compress(b" " * (40 * 1024 * 1024))

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            201,
            content=bomb,
            headers={"content-encoding": "gzip", "content-type": "application/json"},
        )

    result = invoke(
        {"CORTEX_API_TOKEN": TOKEN, "CORTEX_WORKFLOW": "w", "CORTEX_TIMEOUT": "20s"},
        transport=httpx.MockTransport(answer),
    )
    assert result.exit_code == 3, result.log
    assert "larger than 16 MiB" in result.log
    assert "internal error" not in result.log


# The CLI as its console script runs it, writing its own peak resident memory when it exits:
# VmHWM of the process after exec (the parent's ru_maxrss for a child also counts the pages the
# fork shared with pytest before exec).
PEAK_SCRIPT = """
import atexit, os, sys, time
from cortex_action.cli import console_main

def peak():
    took = time.monotonic() - started
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["PEAK_FILE"], "w") as out:
        out.write(f"{kb} {took}")

atexit.register(peak)
sys.argv = ["cortex-action", *sys.argv[1:]]
started = time.monotonic()
console_main()
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize(
    ("command", "path", "count", "code"),
    [
        ("run", "/api/v1/workflows/*/runs/*", 1, 0),
        ("run", "/api/v1/workflows/*/runs/*", 0, 4),
        ("list", "/api/v1/workflows/runs", 0, 3),
        # The history list of `run` (one look, never retried): no history, the run followed.
        ("run", "/api/v1/workflows/runs", 0, 0),
    ],
    ids=["poll once", "poll for ever", "list for ever", "history list"],
)
def test_an_endless_answer_keeps_memory_bounded(
    tmp_path: Path, command: str, path: str, count: int, code: int
) -> None:
    """The real CLI in a process of its own against the emulator, whose answers never end (the
    first only, or every one). Once: the retry gets the run's real outcome (exit 0). For ever:
    retried until the next retry would pass `timeout` (20 s; eight attempts' backoff can't fit
    in it), then exit 4 while following a run (it goes on) or 3 for a listing. Never a
    traceback, never past `timeout` plus 5 s, and the peak resident memory stays under 150 MB."""
    with EmulatorServer(speed=20.0) as emu:
        if command == "list":  # something to list
            httpx.post(
                f"{emu.url}/api/v1/workflows/deploy-service/runs",
                json={"scope": {"type": "ENTITY", "entityId": "service-frontend"}},
                headers={"Authorization": f"Bearer {emu.token}"},
            ).raise_for_status()
        emu.add_fault({"method": "GET", "path": path, "malform": "endless-body", "count": count})
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PEAK_FILE": str(tmp_path / "peak"),
            "CORTEX_API_TOKEN": emu.token,
            "CORTEX_BASE_URL": emu.url,
            "CORTEX_WORKFLOW": "deploy-service",
            "CORTEX_ENTITY": "service-frontend",
            "CORTEX_TIMEOUT": "20s",
        }
        done = subprocess.run(
            [sys.executable, "-c", PEAK_SCRIPT, command],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=20 + 5 + 30,  # `timeout`, its margin, and a slow shared machine
            check=False,
        )
    text = done.stdout + done.stderr
    assert done.returncode == code, text
    assert "larger than 16 MiB" in text
    assert "Traceback" not in text
    kb, took = (tmp_path / "peak").read_text().split()
    peak_mb = int(kb) * 1024 / 1e6
    assert peak_mb < 150, f"peak resident memory {peak_mb:.0f} MB"
    # Measured: about 50 MB without a fault, 66 MB with one 16 MiB answer read at a time. An
    # answer kept across retries (it was: a traceback held it through the sleep, 134 MB for a
    # listing) adds 17 MB each: under 100 MB means never more than one at a time.
    assert peak_mb < 100, f"peak resident memory {peak_mb:.0f} MB"
    assert float(took) <= 20 + 5, f"the command took {float(took):.1f}s for a `timeout` of 20s"


# -- annotations for what matters ----------------------------------------------------------------


def test_two_503s_that_recover_write_no_warning(cortex: ScriptedCortex, tmp_path: Path) -> None:
    cortex.on_trigger(
        json_response({"message": "busy"}, 503),
        json_response({"message": "busy"}, 503),
        json_response(run_object(status="IN_PROGRESS"), 201),
    )
    cortex.on_get(
        json_response({"message": "busy"}, 503),
        json_response({"message": "busy"}, 503),
        json_response(run_object(status="COMPLETED"), 200),
    )
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0, result.log
    assert "::warning" not in result.stdout
    assert result.stdout.count("Retrying: ") == 4


def test_one_annotation_per_problem_kind(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """Two unknown statuses: one annotation, the second said as a plain line."""
    cortex.statuses("WEIRD_ONE", "WEIRD_TWO", "COMPLETED")
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0, result.log
    assert result.stdout.count("::warning title=Unknown run status::") == 1
    assert "Warning: Unknown run status: Cortex reported status 'WEIRD_TWO'" in result.stdout


# -- messages that tell the truth ----------------------------------------------------------------


def test_giving_up_early_says_the_real_time_and_why(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """A poll's Retry-After past the deadline: the message says when it stopped, and why before
    `timeout` ran out; no doubled phrase, no doubled number."""
    cortex.on_trigger(json_response(run_object(status="IN_PROGRESS"), 201))
    cortex.on_get(json_response({"message": "busy"}, 503, {"Retry-After": "99999"}))
    time = FakeTime()
    result = invoke(github_env(tmp_path, cortex.base_url, timeout="30s"), time=time)
    assert result.exit_code == 4, result.log
    elapsed = time.now - 1000.0
    assert elapsed < 5
    assert "Stopped after " in result.log
    assert "of `timeout` (30s)" in result.log
    assert "its next retry would have come after the deadline" in result.log
    assert "Cortex asked to retry after 99999s, with" in result.log
    assert "99999s, 99999s" not in result.log
    assert "Gave up waiting: Gave up waiting" not in result.log
    assert "ran out" not in result.log


def test_timing_out_says_gave_up_once(cortex: ScriptedCortex, tmp_path: Path) -> None:
    cortex.statuses("IN_PROGRESS")
    result = invoke(github_env(tmp_path, cortex.base_url, timeout="20s"))
    assert result.exit_code == 4, result.log
    assert "::error title=Gave up waiting::After 20s, the run is still IN_PROGRESS" in result.stdout
    assert "Gave up waiting: Gave up waiting" not in result.log + result.summary


def test_no_ca_line_for_plain_http(cortex: ScriptedCortex, tmp_path: Path) -> None:
    cortex.statuses("COMPLETED")
    result = invoke(github_env(tmp_path, cortex.base_url, ca_bundle=certifi.where()))
    assert result.exit_code == 0, result.log
    assert cortex.base_url.startswith("http://")
    assert "Trusting" not in result.log


@pytest.mark.parametrize(
    ("line", "sent"),
    [
        ('environment="prod"', "prod"),
        ("environment='prod'", "prod"),
        ('environment="prod', '"prod'),
        ('environment=say "hi"', 'say "hi"'),
        ('environment=""', ""),
    ],
)
def test_a_matching_pair_of_quotes_around_a_context_value_is_dropped(
    cortex: ScriptedCortex, tmp_path: Path, line: str, sent: str
) -> None:
    cortex.statuses("COMPLETED")
    result = invoke(github_env(tmp_path, cortex.base_url, initial_context=line))
    assert result.exit_code == 0, result.log
    body = json.loads(cortex.requests("POST")[0].get_data())
    assert body["initialContext"] == {"environment": sent}


class InterruptOnSleep(FakeTime):
    """SIGINT arrives during the first sleep between attempts."""

    def sleep(self, seconds: float) -> None:
        raise Interrupted(signal.SIGINT)


def test_an_interruption_after_a_429_says_no_run_was_started(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    cortex.on_trigger(json_response({"message": "slow down"}, 429, {"Retry-After": "5"}))
    result = invoke(github_env(tmp_path, cortex.base_url), time=InterruptOnSleep())
    assert result.exit_code == 130, result.log
    assert "may have started" not in result.log + result.summary
    assert "no run was started" in result.log.lower()


def test_an_interruption_after_a_503_still_says_it_may_have_started(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """A 5xx after sending is ambiguous: the run may have started, so it is said."""
    cortex.on_trigger(json_response({"message": "oops"}, 503))
    result = invoke(github_env(tmp_path, cortex.base_url), time=InterruptOnSleep())
    assert result.exit_code == 130, result.log
    assert "may have started anyway" in result.log


@pytest.mark.parametrize(
    ("header", "body"),
    [
        ("inf", {"message": "busy"}),
        ("nan", {"message": "busy"}),
        ("1e300", {"message": "busy"}),
        (None, {"message": "busy", "retryAfter": 10**400}),
        (None, {"message": "busy", "retryAfter": 1e308}),
    ],
)
def test_an_absurd_retry_after_is_no_internal_error(
    cortex: ScriptedCortex, tmp_path: Path, header: str | None, body: dict[str, object]
) -> None:
    headers = {"Retry-After": header} if header else {}
    raw = json.dumps(body)  # 10**400 stays an integer literal in the JSON
    cortex.on_trigger(Response(raw, 429, headers=headers, content_type="application/json"))
    result = invoke(github_env(tmp_path, cortex.base_url, timeout="30s"))
    assert result.exit_code == 3, result.log
    assert "internal error" not in result.log
    assert "e+30" not in result.log  # no float spelled out


def test_json_labelled_as_html_is_still_json(cortex: ScriptedCortex, tmp_path: Path) -> None:
    """The body decides, not the label: a server that mislabels JSON is not the web app."""
    cortex.on_trigger(
        Response(json.dumps(run_object(status="COMPLETED")), 201, content_type="text/html")
    )
    result = invoke(github_env(tmp_path, cortex.base_url))
    assert result.exit_code == 0, result.log


def test_the_web_app_answering_a_poll_stops_the_follow_at_once(
    cortex: ScriptedCortex, tmp_path: Path
) -> None:
    """The trigger reached the API, then a poll got a page: exit 3 at once, the run named."""
    cortex.on_get(Response(SPA, 200, content_type="text/html"))
    time = FakeTime()
    result = invoke(github_env(tmp_path, cortex.base_url), time=time)
    assert result.exit_code == 3, result.log
    assert "`base-url` must be the API host" in result.log
    assert result.outputs["run-id"] == "run-1"
    assert len(cortex.polls()) == 1  # the run was polled once (the history list is not a poll)


def test_a_body_that_does_not_decompress_is_a_garbled_answer() -> None:
    """Content-Encoding: gzip over plain bytes: retried like any garbled answer, then exit 3."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            201,
            content=json.dumps(run_object()).encode(),
            headers={"content-encoding": "gzip", "content-type": "application/json"},
        )

    result = invoke(
        {"CORTEX_API_TOKEN": TOKEN, "CORTEX_WORKFLOW": "w", "CORTEX_TIMEOUT": "30s"},
        transport=httpx.MockTransport(answer),
    )
    assert result.exit_code == 3, result.log
    assert "DecodingError" in result.log
    assert "internal error" not in result.log
