"""Read result files the way each host reads them: the Actions runner's GITHUB_OUTPUT reader,
GitLab's dotenv parser, Java's Properties, and the JUnit readers of GitLab and Jenkins.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

# -- GitHub: GITHUB_OUTPUT ---------------------------------------------------------------------
# The runner's file-command reader: `name=value` lines, or `name<<DELIMITER`, value lines, and a
# line that is exactly the delimiter. A line of neither form, or a heredoc with no closing
# delimiter, fails the step.


def parse_github_outputs(text: str) -> dict[str, str]:
    """A GITHUB_OUTPUT file's outputs, read as the runner reads them; ValueError if malformed."""
    outputs: dict[str, str] = {}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines):
        line = lines[i].removesuffix("\r")
        i += 1
        if not line:
            continue
        eq, hd = line.find("="), line.find("<<")
        if hd > 0 and (eq < 0 or hd < eq):
            name, delim = line[:hd], line[hd + 2 :]
            if not name or not delim:
                raise ValueError(f"invalid heredoc line: {line!r}")
            body: list[str] = []
            while True:
                if i >= len(lines):
                    raise ValueError(f"heredoc for {name!r} has no closing {delim!r}")
                cur = lines[i].removesuffix("\r")
                i += 1
                if cur == delim:
                    break
                body.append(cur)
            outputs[name] = "\n".join(body)
        elif eq > 0:
            outputs[line[:eq]] = line[eq + 1 :]
        else:
            raise ValueError(f"invalid line: {line!r}")
    return outputs


# -- GitLab: artifacts:reports:dotenv ---------------------------------------------------------
# GitLab's ParseDotenvArtifactService: the file must be under 5 KiB; every line is
# `^(.*?)=(.*)$` (so no empty lines or comments), both sides stripped, nothing unquoted or
# unescaped; a key is [a-zA-Z0-9_]+ (a CI variable's key); the smallest plan allows 20
# variables. Variables from a dotenv report are expandable in later jobs, so a `$` in a value
# would be replaced there.
GITLAB_DOTENV_MAX_BYTES = 5 * 1024
GITLAB_DOTENV_MAX_VARIABLES = 20
_GITLAB_LINE = re.compile(r"^(.*?)=(.*)$")
_GITLAB_KEY = re.compile(r"[a-zA-Z0-9_]+")


class DotenvRejected(AssertionError):
    """GitLab would refuse the artifact (400 Bad Request) or mangle a value."""


def parse_gitlab_dotenv(data: bytes) -> dict[str, str]:
    if len(data) >= GITLAB_DOTENV_MAX_BYTES:
        raise DotenvRejected(f"dotenv report is {len(data)} bytes; GitLab takes < 5 KiB")
    text = data.decode("utf-8")
    variables: dict[str, str] = {}
    for line in text.splitlines():
        match = _GITLAB_LINE.match(line)
        if match is None:
            raise DotenvRejected(f"Invalid Format: {line!r}")
        key, value = match.group(1).strip(), match.group(2).strip()
        if not _GITLAB_KEY.fullmatch(key):
            raise DotenvRejected(f"invalid variable key {key!r}")
        if "$" in value:
            raise DotenvRejected(f"{key}: a later job would expand {value!r}")
        if value and value[0] in "\"'":
            raise DotenvRejected(f"{key}: GitLab keeps quotes literally: {value!r}")
        variables[key] = value
    if len(variables) > GITLAB_DOTENV_MAX_VARIABLES:
        raise DotenvRejected(f"{len(variables)} variables; GitLab may allow only 20")
    return variables


# -- Jenkins: readProperties (java.util.Properties) ---------------------------------------------

_JAVA_SOURCE = """
import java.io.*;
import java.util.*;

public class LoadProperties {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        if (args[1].equals("stream")) {
            try (InputStream in = new FileInputStream(args[0])) { props.load(in); }
        } else {
            try (Reader in = new InputStreamReader(new FileInputStream(args[0]), "UTF-8")) {
                props.load(in);
            }
        }
        for (String key : new TreeSet<>(props.stringPropertyNames())) {
            StringBuilder line = new StringBuilder();
            for (String part : new String[] {key, props.getProperty(key)}) {
                StringBuilder units = new StringBuilder();
                for (char c : part.toCharArray()) {
                    if (units.length() > 0) units.append(',');
                    units.append((int) c);
                }
                if (line.length() > 0) line.append(' ');
                line.append('[').append(units).append(']');
            }
            System.out.println(line);
        }
    }
}
"""


@functools.cache
def _java_loader(folder: str) -> Path:
    source = Path(folder) / "LoadProperties.java"
    source.write_text(_JAVA_SOURCE, encoding="utf-8")
    subprocess.run(["javac", str(source)], check=True, capture_output=True, timeout=120)
    return Path(folder)


def java_load_properties(path: Path, tmp_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Load ``path`` with java.util.Properties, both as a byte stream (ISO-8859-1, which
    readProperties gets for a file) and as a UTF-8 reader; both must agree."""
    if not (shutil.which("java") and shutil.which("javac")):
        pytest.skip("java/javac are not installed: can't check java.util.Properties semantics")
    folder = _java_loader(str(tmp_factory.getbasetemp()))
    results = []
    for mode in ("stream", "reader"):
        done = subprocess.run(
            ["java", "-cp", str(folder), "LoadProperties", str(path), mode],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        loaded: dict[str, str] = {}
        for line in done.stdout.splitlines():
            key_units, value_units = re.findall(r"\[([0-9,]*)\]", line)
            loaded[_from_units(key_units)] = _from_units(value_units)
        results.append(loaded)
    assert results[0] == results[1], "the file reads differently as bytes and as UTF-8"
    return results[0]


def _from_units(units: str) -> str:
    data = b"".join(int(u).to_bytes(2, "big") for u in units.split(",") if u)
    return data.decode("utf-16-be", "surrogatepass")


# -- JUnit: GitLab's test report parser and Jenkins' junit step ---------------------------------


@dataclass
class Case:
    classname: str
    name: str
    outcome: str  # passed, failure, error, skipped
    message: str | None
    text: str | None


def read_junit(data: bytes) -> tuple[ET.Element, list[Case]]:
    """Parse like both readers do, asserting what each relies on: a `testsuites`/`testsuite`
    root, counts that match the cases, a name on every case, times that are numbers."""
    root = ET.fromstring(data)  # noqa: S314 - our own file, in a test
    assert root.tag in ("testsuites", "testsuite")
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    assert suites, "no test suite"
    cases: list[Case] = []
    for suite in suites:
        assert suite.get("name"), "Jenkins names the suite from `name`"
        suite_cases = suite.findall("testcase")
        counted = {"failure": 0, "error": 0, "skipped": 0}
        for element in suite_cases:
            assert element.get("name"), "Jenkins needs a name on every test case"
            if element.get("time") is not None:
                float(element.get("time", ""))
            outcome, message, text = "passed", None, None
            for kind in ("failure", "error", "skipped"):
                child = element.find(kind)
                if child is not None:
                    outcome, message, text = kind, child.get("message"), child.text
                    counted[kind] += 1
            cases.append(
                Case(element.get("classname", ""), element.get("name", ""), outcome, message, text)
            )
        assert int(suite.get("tests", "-1")) == len(suite_cases)
        assert int(suite.get("failures", "0")) == counted["failure"]
        assert int(suite.get("errors", "0")) == counted["error"]
        assert int(suite.get("skipped", "0")) == counted["skipped"]
        if suite.get("time") is not None:
            float(suite.get("time", ""))
    return root, cases


# -- a POSIX shell: `. ./cortex-action.env` in a job's script or a Jenkins `sh` step -------------


def shell_source(path: Path, names: list[str]) -> dict[str, str]:
    """What ``sh -c '. ./file'`` leaves in ``names`` (unset ones are left out)."""
    shell = shutil.which("sh")
    if shell is None:
        pytest.skip("no POSIX shell")
    script = (
        ". ./"
        + path.name
        + "".join(
            f'; if [ -n "${{{name}+set}}" ]; then printf "%s\\0%s\\0" {name} "${name}"; fi'
            for name in names
        )
    )
    done = subprocess.run(
        [shell, "-c", script],
        cwd=path.parent,
        env={"HOME": "/nonexistent", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
        timeout=60,
    )
    fields = done.stdout.decode("utf-8").split("\0")[:-1]
    return dict(zip(fields[::2], fields[1::2], strict=True))
