"""Issue 12, as properties: URLs built to hurt, unknown flags carrying secrets, quoted context
values, and identifiers from Cortex of any length and character."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
from hypothesis import example, given
from hypothesis import strategies as st

from cortex_action.arguments import build_parser
from cortex_action.errors import InputError, TransportError
from cortex_action.inputs import Command
from cortex_action.models import parse_run
from cortex_action.parse import parse_context
from cortex_action.settings import Settings, load_settings
from tests.fuzz.strategies import fuzz, fuzz_few
from tests.support import TOKEN, github_env, invoke

PASSWORD = "pa55-W0rd-zz"

_ports = st.one_of(
    st.none(),
    st.integers(min_value=-5, max_value=200_000).map(str),
    st.sampled_from(["", "abc", "+80", "8o", "99999", "0", "65535", "65536", " 80"]),
)
_hosts = st.sampled_from(
    ["api.example.com", "", "127.0.0.1", "[::1]", "api example.com", "app.example.com", "x"]
)
_schemes = st.sampled_from(["https://", "http://", "ftp://", "", "https:/", "HTTPS://"])
_userinfo = st.sampled_from(["", f"user:{PASSWORD}@", f":{PASSWORD}@", "user@", "@"])


@fuzz
@given(scheme=_schemes, userinfo=_userinfo, host=_hosts, port=_ports)
@example(scheme="https://", userinfo="", host="api.example.com", port="99999")
@example(scheme="https://", userinfo="", host="api.example.com", port="abc")
@example(scheme="https://", userinfo=f"user:{PASSWORD}@", host="api.example.com", port=None)
def test_any_url_is_a_valid_one_or_exit_2_naming_it(
    scheme: str, userinfo: str, host: str, port: str | None
) -> None:
    """base-url and app-url: a URL the client can use (no user info, a real port), or one
    problem that names the input and never shows a password."""
    url = f"{scheme}{userinfo}{host}{'' if port is None else ':' + port}"
    for name in ("BASE_URL", "APP_URL"):
        env = {
            "CORTEX_API_TOKEN": TOKEN,
            "CORTEX_WORKFLOW": "w",
            "CORTEX_ALLOW_INSECURE_HTTP": "true",
            f"CORTEX_{name}": url,
        }
        settings = _load(env)
        if isinstance(settings, InputError):
            assert settings.problems[0].startswith(name.lower().replace("_", "-") + ": ")
            assert PASSWORD not in str(settings)
            continue
        value = settings.base_url if name == "BASE_URL" else settings.app_url
        if value is None:  # an empty app-url is "not given"
            assert not url.strip()
            continue
        parsed = httpx.URL(value)  # httpx accepts it, so no internal error later
        assert "@" not in str(parsed.netloc.decode())
        assert parsed.port is None or 1 <= parsed.port <= 65535


@fuzz_few
@given(
    url=st.sampled_from(
        [
            f"https://u:{PASSWORD}@api.example.com",
            "https://api.example.com:99999",
            "https://api.example.com:abc",
            "https://api .example.com",
            "gopher://api.example.com",
            "https://",
        ]
    ),
    argv=st.sampled_from([[], ["list"], ["get", "r1"], ["wait", "r1"]]),
)
def test_a_bad_url_sends_nothing_through_the_cli(url: str, argv: list[str]) -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500)

    with tempfile.TemporaryDirectory() as tmp:
        env = github_env(Path(tmp), url)
        result = invoke(env, argv, transport=httpx.MockTransport(handler))
    assert result.exit_code == 2, result.log
    assert "base-url: " in result.log
    assert PASSWORD not in result.log + result.summary
    assert requests == []


def _load(env: dict[str, str]) -> Settings | InputError:
    try:
        return load_settings(env)
    except InputError as exc:
        return exc


KNOWN = {o for c in Command for a in build_parser(c)._actions for o in a.option_strings}


@fuzz_few
@given(
    # "-hh" and "-hx" are -h with more short flags after it: help (exit 0), not an unknown flag.
    name=st.from_regex(r"--?[A-Za-z][A-Za-z0-9_-]{0,14}", fullmatch=True).filter(
        lambda n: n not in KNOWN and not n.startswith("-h")
    ),
    joined=st.booleans(),
    command=st.sampled_from([[], ["run"], ["list"], ["get"], ["wait"]]),
)
@example(name="--api-tok", joined=False, command=[])
@example(name="--api_token", joined=True, command=["run"])
def test_an_unknown_flag_never_shows_its_value(name: str, joined: bool, command: list[str]) -> None:
    secret = "S3cr3t-Val-" + name.strip("-")
    argv = [*command, f"{name}={secret}"] if joined else [*command, name, secret]
    with tempfile.TemporaryDirectory() as tmp:
        result = invoke(github_env(Path(tmp), "https://api.example.com"), argv)
    assert result.exit_code == 2, result.log
    assert secret not in result.stdout + result.stderr


@fuzz
@given(
    quote=st.sampled_from(['"', "'"]),
    value=st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12
    ),
)
def test_one_matching_pair_of_quotes_is_dropped(quote: str, value: str) -> None:
    """``key="v"`` sends v; inner quotes and a lone quote stay as written."""
    inner = value.strip()
    assert parse_context(f"key={quote}{inner}{quote}") == {"key": inner}
    if not (len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "\"'"):
        assert parse_context(f"key={inner}") == {"key": inner}


@fuzz
@given(
    run_id=st.one_of(st.text(max_size=300), st.integers()),
    status=st.one_of(st.text(max_size=80), st.sampled_from(["COMPLETED", "in_progress"])),
)
@example(run_id="r" * 100_000, status="IN_PROGRESS")
@example(run_id="ok", status="X" * 65)
@example(run_id="# ", status="FAILED")  # was trimmed to "#": another run's id
def test_a_run_from_cortex_has_bounded_identifiers_or_is_refused(
    run_id: str | int, status: str
) -> None:
    """An id we can give back as `run-id`, a status that is a word: else a TransportError that
    does not repeat the long value."""
    try:
        run = parse_run({"id": run_id, "status": status})
    except TransportError as error:
        refused = error.message
    else:
        refused = ""
    if refused:
        if isinstance(run_id, str) and len(run_id) > 300:
            assert run_id[:50] not in refused
        return
    assert 1 <= len(run.id) <= 255
    assert all("\x21" <= c <= "\x7e" for c in run.id)
    assert 1 <= len(run.status) <= 64
