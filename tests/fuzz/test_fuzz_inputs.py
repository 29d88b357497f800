"""Fuzzing the inputs: any value of any input gives Settings or an InputError naming the input.

Never another exception, never the token in a message, and through ``cli.main``: exit 0 or 2,
and no request at all when the exit is 2.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cortex_action.errors import InputError
from cortex_action.parse import parse_header_token
from cortex_action.settings import RunSettings, Settings, load_settings
from tests.fuzz.strategies import (
    INPUT_SETS,
    INPUT_VALUES,
    INPUTS,
    NASTY_TOKEN,
    fuzz,
    fuzz_few,
)
from tests.support import github_env, invoke, with_definition

# What an InputError's problems may start with: an input's public name and a colon.
NAMES = (*INPUTS, "api-token", "api-token-file", "run-id", "output-dir", "command", "cortex-action")


def _env(values: Mapping[str, str], style: str, token: str = NASTY_TOKEN) -> dict[str, str]:
    """The inputs as GitHub (hyphens or underscores) or another CI (CORTEX_) would set them."""
    env: dict[str, str] = {}
    for name, value in values.items():
        if style == "github":
            env[f"INPUT_{name.upper()}"] = value
        elif style == "github_underscore":
            env[f"INPUT_{name.upper().replace('-', '_')}"] = value
        else:
            env[f"CORTEX_{name.upper().replace('-', '_')}"] = value
    env.setdefault("CORTEX_API_TOKEN", token)
    env.setdefault("CORTEX_WORKFLOW", "deploy-service")
    return env


def _load(env: Mapping[str, str]) -> Settings | InputError:
    try:
        return load_settings(env)
    except InputError as exc:
        return exc


def _check_settings(settings: Settings) -> None:
    """A Settings object is only ever one that can be sent as it is."""
    assert isinstance(settings, RunSettings)
    assert 1 <= settings.timeout <= 7 * 24 * 3600
    assert urlsplit(settings.base_url).scheme in ("http", "https")
    if settings.initial_context is not None:
        assert isinstance(settings.initial_context, dict)
        json.dumps(settings.initial_context, allow_nan=False)  # sendable as strict JSON
    for value in (settings.idempotency_key, settings.token):
        if value is not None:
            assert parse_header_token(value) == value
    for text in (settings.workflow, settings.entity):
        if text is not None:
            assert text == text.strip()
            assert not any(ord(c) < 0x20 for c in text)


@pytest.mark.slow
@fuzz
@given(values=INPUT_SETS, style=st.sampled_from(["github", "github_underscore", "cortex"]))
@example(values={"initial-context": "[" * 50_000}, style="github")
@example(values={"initial-context": '{"a": NaN}'}, style="cortex")
@example(values={"timeout": "9" * 5000}, style="github")
@example(values={"base-url": "http://example.com"}, style="github")
@example(values={"entity": "true", "entities": "true"}, style="github")  # found by this test
@example(values={"entities": "a", "wait": "false"}, style="cortex")
@example(values={"entities": "a", "dry-run": "true"}, style="github")
def test_any_input_gives_settings_or_an_input_error_naming_it(
    values: dict[str, str], style: str
) -> None:
    """Every problem names its input; the token never shows, not even in repr."""
    settings = _load(_env(values, style))
    if isinstance(settings, InputError):
        assert settings.problems
        for problem in settings.problems:
            assert problem.startswith(tuple(f"{n}:" for n in NAMES)), problem
        for text in (str(settings), repr(settings), settings.message, *settings.problems):
            assert NASTY_TOKEN not in text
            assert "5ecret" not in text
    else:
        _check_settings(settings)
        assert NASTY_TOKEN not in repr(settings)
        assert NASTY_TOKEN not in str(settings)
        assert NASTY_TOKEN not in repr(settings.model_dump())


@fuzz
@given(token=st.text(max_size=60))
def test_any_token_is_accepted_as_a_header_or_refused_unseen(token: str) -> None:
    """Whatever the token, it is a clean header value or an InputError that doesn't show it."""
    marked = f"t0k{token}"
    settings = _load({"CORTEX_API_TOKEN": marked, "CORTEX_WORKFLOW": "w"})
    if isinstance(settings, InputError):
        assert len(settings.problems) == 1
        assert settings.problems[0].startswith("api-token: expected printable ASCII")
        assert marked.strip() not in str(settings)
    else:
        assert settings.token == marked.strip()
        assert parse_header_token(settings.token) == settings.token


def _run_cli(env: dict[str, str], argv: list[str] | None = None) -> tuple[int, str, int, Path]:
    """cli.main against a Cortex that completes every run at once; (exit, log, triggers)."""
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        # A run of its own for each trigger: with `entities`, one run for two would be refused
        # as a foreign answer (exit 3), which is this stand-in's fault, not the input's.
        run_id = f"r{sum(r.method == 'POST' for r in requests)}"
        return httpx.Response(201, json={"id": run_id, "status": "COMPLETED"})

    result = invoke(env, argv or [], transport=httpx.MockTransport(with_definition(handler)))
    triggers = [r for r in requests if r.method == "POST"]
    return result.exit_code, result.log, len(triggers), Path(env["GITHUB_OUTPUT"])


def _log_without_masks(log: str) -> str:
    return "\n".join(line for line in log.splitlines() if not line.startswith("::add-mask::"))


@pytest.mark.slow
@fuzz_few
@given(values=INPUT_SETS)
@example(values={"initial-context": '{"a": 1e400}'})
@example(values={"notification-recipients": "a@b.c,,\n"})
@example(values={"dry-run": "true"})
@example(values={"entities": "0\n1"})
def test_cli_with_any_input_exits_0_or_2_and_sends_nothing_on_2(values: dict[str, str]) -> None:
    """Through the one boundary: exit 0 (valid) or 2 (invalid, no request), never a traceback."""
    with tempfile.TemporaryDirectory() as tmp:
        env = github_env(Path(tmp), "https://api.example.com", api_token=NASTY_TOKEN)
        env.update({f"INPUT_{k.upper()}": v for k, v in values.items()})
        code, log, sent, outputs = _run_cli(env)
        written = outputs.read_text() + (Path(tmp) / "step_summary").read_text()
    assert code in (0, 2), log
    assert "Traceback" not in log
    assert "internal error" not in log
    if code == 2:
        assert sent == 0
        assert "::error title=Invalid input::" in log
    elif "DRY_RUN" in written:
        assert sent == 0  # a dry run never triggers
    else:
        assert sent >= 1  # one trigger, or one per entity of a fan-out
    assert NASTY_TOKEN not in _log_without_masks(log)
    assert NASTY_TOKEN not in written


FLAGS = [f"--{name}" for name in INPUTS if name not in ("ca-bundle",)] + ["--no-wait", "--json"]


@fuzz_few
@given(
    pairs=st.lists(
        st.tuples(st.sampled_from(FLAGS), st.one_of(st.none(), INPUT_VALUES)), max_size=5
    ),
    extra=st.lists(st.text(max_size=10), max_size=2),
)
@example(pairs=[("--timeout", "-5")], extra=[])
@example(pairs=[], extra=["--api-token", "x"])
def test_any_command_line_exits_0_or_2(
    pairs: list[tuple[str, str | None]], extra: list[str]
) -> None:
    """Flags in any order with any values (or none), plus stray words: exit 0 or 2, cleanly."""
    argv = ["run"]
    for flag, value in pairs:
        argv += [flag] if value is None else [flag, value]
    argv += extra
    with tempfile.TemporaryDirectory() as tmp:
        env = github_env(Path(tmp), "https://api.example.com", api_token=NASTY_TOKEN)
        code, log, sent, _ = _run_cli(env, argv)
    assert code in (0, 2), log
    assert "Traceback" not in log
    assert "internal error" not in log
    if "Dry run: the trigger would be sent" in log:  # issue 13: a dry run never triggers
        assert code == 0
        assert sent == 0
    else:
        assert (code == 2) == (sent == 0)
    assert NASTY_TOKEN not in _log_without_masks(log)
