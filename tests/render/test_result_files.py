"""The result-file renderers: each file read back the way its host reads it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from cortex_action.models import parse_run
from cortex_action.render import outputs, result_files
from cortex_action.render.result_files import EnvSyntax
from cortex_action.report import Report
from tests.readers import java_load_properties, parse_gitlab_dotenv, read_junit

AWKWARD = [
    "",
    "plain-value_1.2",
    "https://app.getcortexapp.com/admin/workflows?activeTab=runs",
    "$HOME and ${CI_JOB_TOKEN}",
    "'quoted' \"twice\"",
    "  spaces around  ",
    "a=b:c#d!e\\f",
    "line\nbreak\r\tand tab",
    "snow ☃ emoji 😀 é",
    "# looks like a comment",
    "~user & (sub) ; `cmd` | pipe > out",
]


def report(**changes: object) -> Report:
    run = parse_run(
        {
            "id": "7f3c",
            "status": "FAILED",
            "actions": [
                {
                    "name": "ok",
                    "state": {
                        "status": "COMPLETED",
                        "dateStarted": "2026-01-01T10:00:00.000Z",
                        "dateCompleted": "2026-01-01T10:00:02.500Z",
                    },
                },
                "not an object",
                {"name": "boom", "state": {"status": "FAILED", "errorMessage": "bad \x00 <x>"}},
                {"name": "later"},
                {"name": "waiting", "state": {"status": "PAUSED"}},
            ],
        }
    )
    values: dict[str, object] = {
        "command": "run",
        "workflow": "deploy-service",
        "exit_code": 1,
        "headline": "Run 7f3c ended FAILED.",
        "run": run,
        "run_url": "https://app.example/admin/workflows?activeTab=runs",
        "idempotency_key": "cortex-action-abc",
        "replayed": False,
        "duration": 12.5,
        "job_url": "https://ci.example/job/1",
    }
    values.update(changes)
    return Report(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", AWKWARD)
def test_dotenv_values_are_literal_for_gitlab_and_decode_back(value: str) -> None:

    text = result_files.dotenv({"CORTEX_RUN_ID": value})

    parsed = parse_gitlab_dotenv(text.encode())
    if not value:
        assert parsed == {}
        return
    assert list(parsed) == ["CORTEX_RUN_ID"]
    assert unquote(parsed["CORTEX_RUN_ID"]) == value
    assert text.count("\n") == 1


def test_dotenv_reads_the_same_when_a_shell_sources_it(tmp_path: Path) -> None:
    shell = shutil.which("sh")
    if shell is None:
        pytest.skip("no POSIX shell")
    values = [v for v in AWKWARD if v] + ["~", "a:~b"]
    path = tmp_path / "cortex-action.env"
    path.write_text(
        result_files.dotenv({f"V{i}": value for i, value in enumerate(values)}), encoding="utf-8"
    )
    script = ". ./cortex-action.env; " + "; ".join(
        f'printf "%s\\n" "$V{i}"' for i in range(len(values))
    )
    done = subprocess.run(
        [shell, "-c", script],
        cwd=tmp_path,
        env={"HOME": "/nonexistent", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines() == [result_files.dotenv_value(v) for v in values]
    assert [unquote(line) for line in done.stdout.splitlines()] == values


def test_dotenv_keeps_ordinary_values_as_they_are() -> None:
    variables = outputs.result_variables(report())
    parsed = parse_gitlab_dotenv(result_files.dotenv(variables).encode())
    assert parsed == variables


def test_dotenv_refuses_a_name_gitlab_would_refuse() -> None:
    with pytest.raises(ValueError, match="not a dotenv variable name"):
        result_files.dotenv({"BAD-NAME": "x"})


def test_properties_round_trip_through_java(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    variables = {f"KEY_{i}": value for i, value in enumerate(AWKWARD)}
    variables["key with = and : and space"] = "v"
    path = tmp_path / "cortex-action.env"
    text = result_files.java_properties(variables)
    assert text.isascii()
    path.write_text(text, encoding="ascii")

    assert java_load_properties(path, tmp_path_factory) == variables


def test_properties_escapes_what_java_would() -> None:
    assert result_files.properties_escape("a:b=c#d!e\\f") == "a\\:b\\=c\\#d\\!e\\\\f"
    assert result_files.properties_escape(" lead") == "\\ lead"
    assert result_files.properties_escape("é😀") == "\\u00E9\\uD83D\\uDE00"


def test_junit_counts_cases_and_keeps_messages() -> None:
    root, cases = read_junit(result_files.junit_xml(report()).encode())

    assert [(c.name, c.outcome) for c in cases] == [
        ("workflow run", "failure"),
        ("block 1: ok", "passed"),
        ("block 2: boom", "failure"),
        ("block 3: later", "passed"),
        ("block 4: waiting", "skipped"),
    ]
    assert cases[2].text == "bad \\x00 <x>"
    assert {c.classname for c in cases} == {"cortex.deploy-service"}
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["run.id"] == "7f3c"
    assert props["job.url"] == "https://ci.example/job/1"


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        ("COMPLETED", 0, "passed"),
        ("FAILED", 1, "failure"),
        ("FAILED", 0, "failure"),  # `get` of a failed run: the command passed, the run did not
        ("PAUSED", 1, "failure"),  # on-paused fail
        ("IN_PROGRESS", 4, "error"),  # gave up waiting
        ("IN_PROGRESS", 143, "error"),
        ("NOT_INITIATED", 0, "skipped"),  # wait false
        ("PAUSED", 0, "skipped"),  # on-paused succeed
    ],
)
def test_junit_run_case(status: str, code: int, kind: str) -> None:
    run = parse_run({"id": "r1", "status": status})
    _, cases = read_junit(result_files.junit_xml(report(run=run, exit_code=code)).encode())
    assert [(c.name, c.outcome) for c in cases] == [("workflow run", kind)]


def test_junit_without_a_run_still_parses() -> None:
    _, cases = read_junit(result_files.junit_xml(report(run=None, exit_code=3)).encode())
    assert [(c.name, c.outcome) for c in cases] == [("workflow run", "error")]


def test_result_files_in_both_syntaxes() -> None:
    dotenv = result_files.result_files(report(), EnvSyntax.DOTENV)
    props = result_files.result_files(report(), EnvSyntax.PROPERTIES)
    assert list(dotenv) == [
        "cortex-action.env",
        "cortex-action.json",
        "cortex-action.md",
        "cortex-action-junit.xml",
    ]
    assert "CORTEX_RUN_URL=https://app.example/" in dotenv["cortex-action.env"]
    assert "CORTEX_RUN_URL=https\\://app.example/" in props["cortex-action.env"]
    assert dotenv["cortex-action.json"] == props["cortex-action.json"]


def test_junit_block_times_where_cortex_gives_them() -> None:
    root, _ = read_junit(result_files.junit_xml(report()).encode())
    times = {c.get("name"): c.get("time") for c in root.iter("testcase")}
    assert times["block 1: ok"] == "2.500"
    assert times["block 2: boom"] is None
    assert result_files.block_seconds({"state": {"dateStarted": "x", "dateCompleted": "y"}}) is None


def test_gitlab_annotations_link_the_run() -> None:
    data = json.loads(result_files.gitlab_annotations(report()))
    assert data == {
        "cortex": [
            {
                "external_link": {
                    "label": "Cortex run 7f3c (FAILED): deploy-service",
                    "url": "https://app.example/admin/workflows?activeTab=runs",
                }
            }
        ]
    }


def test_gitlab_annotations_without_a_link_are_an_empty_section() -> None:
    assert json.loads(result_files.gitlab_annotations(report(run=None, run_url=None))) == {
        "cortex": []
    }
