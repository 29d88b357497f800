"""Each adapter's log: detection order, sections, colour rules, the live line, result folders."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from cortex_action.hosts.detect import detect_host, host_class
from cortex_action.hosts.github import GitHubHost
from cortex_action.hosts.gitlab import GitLabHost, section_name
from cortex_action.hosts.jenkins import JenkinsHost
from cortex_action.hosts.local import LocalHost


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, LocalHost),
        ({"CI": "true"}, LocalHost),
        ({"GITHUB_ACTIONS": "true", "GITLAB_CI": "true", "JENKINS_URL": "x"}, GitHubHost),
        ({"GITHUB_ACTIONS": "false", "GITLAB_CI": "true", "JENKINS_URL": "x"}, GitLabHost),
        ({"GITLAB_CI": "TRUE"}, GitLabHost),
        ({"GITLAB_CI": "", "JENKINS_URL": "https://ci/"}, JenkinsHost),
        ({"JENKINS_URL": ""}, LocalHost),
    ],
)
def test_detection_order(env: dict[str, str], expected: type) -> None:
    assert host_class(env) is expected
    assert type(detect_host(env, io.StringIO(), io.StringIO())) is expected


def test_gitlab_section_markers() -> None:
    out = io.StringIO()
    host = GitLabHost({"GITLAB_CI": "true"}, io.StringIO(), out, wall=lambda: 1767225600.7)
    with host.group("Request body"):
        host.detail("{}")
    assert out.getvalue() == (
        "\x1b[0Ksection_start:1767225600:cortex_1_request_body[collapsed=true]\r\x1b[0K"
        "\x1b[36;1mRequest body\x1b[0m\n{}\n"
        "\x1b[0Ksection_end:1767225600:cortex_1_request_body\r\x1b[0K\n"
    )


def test_gitlab_section_names_are_valid_and_unique() -> None:
    assert section_name("Héllo, wörld! <x>", 3) == "cortex_3_h_llo_w_rld_x"
    assert section_name("!!!", 1) == "cortex_1_section"
    assert re.fullmatch(r"[a-z0-9_.-]+", section_name("A" * 300, 12))


def test_text_cannot_carry_escape_codes() -> None:
    out = io.StringIO()
    host = GitLabHost({}, io.StringIO(), out)
    host.info("x\x1b[0Ksection_end:1:y\r\x1b[0Kz")
    assert "\x1b" not in out.getvalue()
    assert "\r" not in out.getvalue()


@pytest.mark.parametrize(
    ("term", "colour"),
    [("", False), ("dumb", False), ("xterm", True), ("xterm-256color", True), ("foo", False)],
)
def test_jenkins_colour_only_with_a_colour_terminal(term: str, colour: bool) -> None:
    out = io.StringIO()
    JenkinsHost({"TERM": term}, io.StringIO(), out).error("boom")
    assert ("\x1b[" in out.getvalue()) is colour


def test_jenkins_no_color_wins() -> None:
    out = io.StringIO()
    JenkinsHost({"TERM": "xterm", "NO_COLOR": "1"}, io.StringIO(), out).error("boom")
    assert out.getvalue() == "Error: boom\n"


def test_local_plain_when_not_a_terminal() -> None:
    err = io.StringIO()
    host = LocalHost({}, io.StringIO(), err)
    host.status("[ 1s] IN_PROGRESS")
    host.status("[ 2s] COMPLETED")
    host.warning("careful")
    assert err.getvalue() == "[ 1s] IN_PROGRESS\n[ 2s] COMPLETED\nWarning: careful\n"


def test_local_terminal_rewrites_one_live_line() -> None:
    err = Terminal()
    host = LocalHost({"TERM": "xterm"}, io.StringIO(), err)
    host.mask("s3cret")
    host.status("[ 1s] IN_PROGRESS s3cret")
    host.status("[ 2s] COMPLETED")
    host.info("Done")
    assert err.getvalue() == (
        "\r\x1b[2K\x1b[2m[ 1s] IN_PROGRESS ***\x1b[0m\r\x1b[2K\x1b[2m[ 2s] COMPLETED\x1b[0m\nDone\n"
    )


def test_local_terminal_respects_no_color() -> None:
    err = Terminal()
    host = LocalHost({"NO_COLOR": "1"}, io.StringIO(), err)
    host.error("boom")
    assert err.getvalue() == "Error: boom\n"


def test_result_dirs(tmp_path: Path) -> None:
    def folder(cls: type, env: dict[str, str], output_dir: str | None = None) -> Path | None:
        host = cls(env, io.StringIO(), io.StringIO(), output_dir=output_dir)
        result = host.result_dir()
        assert result is None or isinstance(result, Path)
        return result

    ws = str(tmp_path)
    assert folder(GitLabHost, {"CI_PROJECT_DIR": ws}) == tmp_path
    assert folder(JenkinsHost, {"WORKSPACE": ws}) == tmp_path
    assert folder(GitHubHost, {"GITHUB_WORKSPACE": ws}) is None
    assert folder(LocalHost, {}) is None
    assert folder(GitHubHost, {"GITHUB_WORKSPACE": ws}, "out") == tmp_path / "out"
    assert folder(JenkinsHost, {"WORKSPACE": ws}, "/abs") == Path("/abs")
    assert folder(LocalHost, {}, "rel") == Path("rel")
    assert folder(GitLabHost, {}) is None
