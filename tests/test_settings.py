"""Where inputs come from: flags, INPUT_* (both spellings), CORTEX_*, defaults."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from cortex_action.errors import InputError
from cortex_action.settings import DEFAULT_BASE_URL, OnPaused, RunSettings
from cortex_action.settings import load_settings as load_any


def load_settings(env: Mapping[str, str], flags: Mapping[str, Any] | None = None) -> RunSettings:
    """The settings of the default command, ``run``."""
    settings = load_any(env, flags)
    assert isinstance(settings, RunSettings)
    return settings


BASE = {"CORTEX_API_TOKEN": "t", "CORTEX_WORKFLOW": "w"}


def test_defaults_live_in_the_code() -> None:
    """With only the required inputs, every default is the documented one."""
    settings = load_settings(BASE)
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.web_url == "https://app.getcortexapp.com"
    assert settings.wait is True
    assert settings.timeout == 1800
    assert settings.on_paused is OnPaused.WAIT
    assert settings.entity is None
    assert settings.allow_insecure_http is False


def test_precedence_flag_then_input_then_cortex() -> None:
    """A flag beats INPUT_*, which beats CORTEX_*."""
    env = {**BASE, "INPUT_TIMEOUT": "2m", "CORTEX_TIMEOUT": "3m"}
    assert load_settings(env).timeout == 120
    assert load_settings(env, {"timeout": "1m"}).timeout == 60
    assert load_settings({**BASE, "CORTEX_TIMEOUT": "3m"}).timeout == 180


@pytest.mark.parametrize(
    "name", ["INPUT_API-TOKEN", "INPUT_API_TOKEN", "CORTEX_API_TOKEN", "CORTEX_API_KEY"]
)
def test_token_spellings(name: str) -> None:
    """The token is read from every documented variable."""
    assert load_settings({"CORTEX_WORKFLOW": "w", name: "tok"}).token == "tok"


def test_empty_input_means_not_given() -> None:
    """GitHub sets every declared input; an empty one falls through to the next layer."""
    env = {**BASE, "INPUT_TIMEOUT": "", "INPUT_ON-PAUSED": "  ", "CORTEX_TIMEOUT": "5m"}
    settings = load_settings(env)
    assert settings.timeout == 300
    assert settings.on_paused is OnPaused.WAIT


def test_settings_are_frozen() -> None:
    """Settings can't change after parsing."""
    settings = load_settings(BASE)
    with pytest.raises(Exception, match="frozen"):
        settings.timeout = 5


def test_process_environment_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the injected mapping counts, never os.environ."""
    monkeypatch.setenv("CORTEX_TIMEOUT", "5m")
    monkeypatch.setenv("TIMEOUT", "5m")
    assert load_settings(BASE).timeout == 1800


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("1h30m", 5400), ("1h", 3600), (" 2M ", 120)],
)
def test_duration_forms(value: str, seconds: int) -> None:
    """Every documented timeout form parses."""
    assert load_settings({**BASE, "CORTEX_TIMEOUT": value}).timeout == seconds


@pytest.mark.parametrize("value", ["TRUE", "True", "false", "FALSE"])
def test_booleans_any_case(value: str) -> None:
    """true/false are accepted in any case."""
    assert load_settings({**BASE, "INPUT_WAIT": value}).wait is (value.lower() == "true")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://[::1]:8080", True),
        ("http://cortex.internal:8080", False),
        ("https://cortex.internal", True),
    ],
)
def test_plain_http_only_to_loopback(url: str, allowed: bool) -> None:
    """Plain http:// is refused for a non-loopback host unless allow-insecure-http."""
    env = {**BASE, "CORTEX_BASE_URL": url}
    if allowed:
        assert load_settings(env).base_url == url
    else:
        with pytest.raises(InputError, match="allow-insecure-http"):
            load_settings(env)
        assert load_settings({**env, "CORTEX_ALLOW_INSECURE_HTTP": "true"}).base_url == url


def test_base_url_path_and_app_url() -> None:
    """A pasted /api/v1 is dropped; app-url defaults to api. -> app. and can be overridden."""
    env = {**BASE, "CORTEX_BASE_URL": "https://api.eu.cortex.example/api/v1/"}
    settings = load_settings(env)
    assert settings.api_root == "https://api.eu.cortex.example/api/v1"
    assert settings.web_url == "https://app.eu.cortex.example"
    override = load_settings({**env, "CORTEX_APP_URL": "https://portal.example"})
    assert override.web_url == "https://portal.example"


def test_recipients_split_and_deduplicated() -> None:
    """Commas and newlines both separate recipients; duplicates and blanks are dropped."""
    env = {**BASE, "INPUT_NOTIFICATION-RECIPIENTS": "a@x.io,\n b@x.io ,, a@x.io\n"}
    assert load_settings(env).notification_recipients == ("a@x.io", "b@x.io")


def test_token_not_in_repr() -> None:
    """The settings' repr hides the token."""
    assert "s3cr3t" not in repr(load_settings({**BASE, "CORTEX_API_TOKEN": "s3cr3t"}))


def test_token_file_flag(tmp_path: Path) -> None:
    """--api-token-file reads the token, trimmed."""
    from tests.support import invoke

    token = tmp_path / "token"
    token.write_text("from-file\n")
    result = invoke(
        {"CORTEX_WORKFLOW": "w", "CORTEX_BASE_URL": "http://127.0.0.1:9"},
        ["run", "--api-token-file", str(token), "--timeout", "1"],
    )
    assert result.exit_code == 3  # nothing listens on port 9: the token was accepted
    assert "from-file" not in result.log


def test_action_yml_defaults_never_hide_cortex_variables() -> None:
    """GitHub sets every input to its action.yml default, so those defaults must be empty."""
    import yaml

    action = yaml.safe_load((Path(__file__).parent.parent / "action.yml").read_text())
    env = {
        f"INPUT_{name.upper()}": str(spec.get("default", ""))
        for name, spec in action["inputs"].items()
    }
    env.update(
        {
            "INPUT_API-TOKEN": "t",
            "INPUT_WORKFLOW": "w",
            "CORTEX_BASE_URL": "http://127.0.0.1:8080",
            "CORTEX_TIMEOUT": "5m",
            "CORTEX_WAIT": "false",
            "CORTEX_ON_PAUSED": "fail",
        }
    )
    settings = load_settings(env)
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.timeout == 300
    assert settings.wait is False
    assert settings.on_paused is OnPaused.FAIL
