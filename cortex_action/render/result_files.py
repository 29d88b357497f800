"""The result files a CI job keeps, for GitLab, Jenkins and local runs: the variables file
(dotenv or properties), the JSON result, the Markdown summary and a JUnit report.

Each returns a string; only host adapters write files. Every host gets the variables file in one
syntax, ``dotenv``, that three readers take the same way: GitLab's dotenv parser (every character
literal), a POSIX shell (``. ./cortex-action.env``) and Java's ``Properties`` (Jenkins'
``readProperties``, which reads backslash escapes). Their common ground is a line of characters
that none of them treats specially; any other character is percent-encoded. ``java_properties``
(Java's own escaping) is kept for callers that only feed Java.
"""

from __future__ import annotations

import enum
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from cortex_action import dates
from cortex_action.models import Block, Outcome, classify
from cortex_action.render import outputs, summary
from cortex_action.report import Report
from cortex_action.sanitize import log_text

ENV_FILE = "cortex-action.env"
JSON_FILE = "cortex-action.json"
SUMMARY_FILE = "cortex-action.md"
JUNIT_FILE = "cortex-action-junit.xml"
ANNOTATIONS_FILE = "cortex-action-annotations.json"


class EnvSyntax(enum.Enum):
    """How the variables file is written: DOTENV, which GitLab, a POSIX shell and Java
    properties all read alike (what every host writes), or Java's own properties escaping."""

    DOTENV = "dotenv"
    PROPERTIES = "properties"


# -- dotenv (GitLab's artifacts:reports:dotenv) -------------------------------------------------

_DOTENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# GitLab splits each line at the first `=` and strips both sides; it has no quoting or escapes
# (quotes are kept as they are), no comments, no empty lines, and it expands `$` in values of
# later jobs. So a value may only hold characters that mean nothing there, nor in a POSIX shell
# that sources the file, nor to java.util.Properties: everything else is percent-encoded (UTF-8),
# `%` included. Properties ends the key at the first `=` or `:` and takes the rest of the line
# literally but for `\` (encoded here) and leading blanks (never written), so `:` and `=` may
# stay in a value; a shell takes `=`, `:`, `?`, `,`, `@`, `+` literally in an assignment (no
# field splitting or globbing there; `~` is encoded). Quoting would not help: Java and GitLab
# would keep the quotes.
DOTENV_SAFE = "-_.,:/?=@+"


def dotenv_value(value: str) -> str:
    """One line of literal characters for GitLab's dotenv parser (and ``. file`` in a shell)."""
    # quote() never encodes `~`, but a shell expands it after `=` or `:` in an assignment.
    return quote(value, safe=DOTENV_SAFE).replace("~", "%7E")


def dotenv(variables: Mapping[str, str]) -> str:
    """``NAME=value`` lines that GitLab's dotenv report accepts as they are.

    Empty values are left out: unset and empty read the same in a later job's script, and
    GitLab's checks on a variable's value are not documented.
    """
    lines = []
    for name, value in variables.items():
        if not _DOTENV_NAME.fullmatch(name):
            raise ValueError(f"not a dotenv variable name: {name!r}")
        if value:
            lines.append(f"{name}={dotenv_value(value)}")
    return "".join(line + "\n" for line in lines)


# -- Java properties (Jenkins' readProperties) --------------------------------------------------

_PROPERTIES_SPECIAL = {"\\": "\\\\", ":": "\\:", "=": "\\=", "#": "\\#", "!": "\\!"}
_PROPERTIES_CONTROL = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}


def properties_escape(text: str, *, key: bool = False) -> str:
    """What ``java.util.Properties.store`` writes: ASCII only, specials and non-ASCII escaped.

    Non-ASCII goes out as ``\\uXXXX`` (UTF-16 units), so the file reads the same whether Java
    loads it as ISO-8859-1 (``load(InputStream)``) or as UTF-8 (``load(Reader)``).
    """
    out = []
    for index, char in enumerate(text):
        if char in _PROPERTIES_SPECIAL:
            out.append(_PROPERTIES_SPECIAL[char])
        elif char in _PROPERTIES_CONTROL:
            out.append(_PROPERTIES_CONTROL[char])
        elif char == " " and (key or index == 0):
            out.append("\\ ")  # a key can't hold a bare space; a value's leading one is dropped
        elif " " <= char <= "~":
            out.append(char)
        else:
            data = char.encode("utf-16-be")
            for unit in range(0, len(data), 2):
                out.append(f"\\u{int.from_bytes(data[unit : unit + 2], 'big'):04X}")
    return "".join(out)


def java_properties(variables: Mapping[str, str]) -> str:
    """``key=value`` lines that ``java.util.Properties.load`` reads back exactly."""
    return "".join(
        f"{properties_escape(name, key=True)}={properties_escape(value)}\n"
        for name, value in variables.items()
    )


def variables_file(report: Report, syntax: EnvSyntax) -> str:
    variables = outputs.result_variables(report)
    return dotenv(variables) if syntax is EnvSyntax.DOTENV else java_properties(variables)


# -- JUnit XML (GitLab's artifacts:reports:junit, Jenkins' junit step) --------------------------

# Characters XML 1.0 can't carry at all, even escaped; ElementTree would write them as they are.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str, limit: int = 10_000) -> str:
    """Text that stays well-formed XML: illegal characters shown as ``\\xNN``, size capped."""
    text = text if len(text) <= limit else text[:limit] + "… (truncated)"
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _iso_seconds(value: Any) -> float | None:
    """A Unix time from ISO 8601 text with a zone; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        return dates.parse_instant(value).timestamp()
    except ValueError:
        return None


def block_seconds(raw: Any) -> float | None:
    """A block's duration from ``state.dateStarted``/``dateCompleted``, where Cortex gives them
    (undocumented: absent or unreadable means no time)."""
    state = raw.get("state") if isinstance(raw, dict) else None
    if not isinstance(state, dict):
        return None
    start, end = _iso_seconds(state.get("dateStarted")), _iso_seconds(state.get("dateCompleted"))
    return end - start if start is not None and end is not None and end >= start else None


def _block_case(
    suite: ET.Element, classname: str, number: int, block: Block, seconds: float | None
) -> str:
    """One test case per block; returns what it counted as: passed, failure or skipped."""
    case = ET.SubElement(
        suite,
        "testcase",
        classname=classname,
        name=xml_text(f"block {number}: {block.name}", 500),
    )
    if seconds is not None:
        case.set("time", f"{seconds:.3f}")
    outcome = classify(block.status or "")
    if block.error or outcome is Outcome.FAILURE:
        message = block.error or f"block ended {block.status}"
        failure = ET.SubElement(
            case,
            "failure",
            message=xml_text(log_text(message, 2000)),
            type=xml_text(block.status or "FAILED", 100),
        )
        failure.text = xml_text(message)
        return "failure"
    if block.status and outcome is not Outcome.SUCCESS:
        # Not run, still running, paused, or a status we don't know: not a pass, not a failure.
        ET.SubElement(case, "skipped", message=xml_text(f"block status {block.status}", 200))
        return "skipped"
    return "passed"


def _run_case(suite: ET.Element, classname: str, report: Report) -> str:
    """The run as a whole, so a failed run shows even when no block says why.

    A run that ended badly (or a pause that on-paused refuses) is a failure, also when only
    read by ``get``; not seeing the end (timeout, Cortex error, signal) is an error; a run that
    was left before its end with success (wait false, a pause accepted, ``get``) is skipped.
    """
    case = ET.SubElement(suite, "testcase", classname=classname, name="workflow run")
    if report.duration is not None:
        case.set("time", f"{report.duration:.3f}")
    outcome = report.run.outcome if report.run else None
    if outcome is Outcome.FAILURE or report.exit_code == 1:
        kind = "failure"
    elif report.exit_code != 0:
        kind = "error"
    elif outcome is Outcome.SUCCESS:
        return "passed"
    else:
        status = report.status or "unknown"
        ET.SubElement(case, "skipped", message=xml_text(f"run {status}: {report.headline}", 500))
        return "skipped"
    element = ET.SubElement(
        case,
        kind,
        message=xml_text(log_text(report.headline, 2000)),
        type=xml_text(report.status or f"exit code {report.exit_code}", 100),
    )
    element.text = xml_text(report.headline)
    return kind


def junit_suite(root: ET.Element, report: Report, name: str | None = None) -> dict[str, int]:
    """One run as a test suite of ``root`` (the run, then each block, as test cases); returns
    how many cases passed, failed, erred and were skipped."""
    classname = xml_text(f"cortex.{report.workflow}", 300)
    suite = ET.SubElement(
        root, "testsuite", name=xml_text(name or f"Cortex workflow {report.workflow}", 500)
    )
    props = ET.SubElement(suite, "properties")
    facts = {
        "workflow": report.workflow,
        "scope": report.scope,
        "entity": report.entity,
        "run.id": report.run_id,
        "run.status": report.status,
        "run.url": report.run_url,
        "job.url": report.job_url,
        "idempotency.key": report.idempotency_key,
        "started.at": report.started_at,
        "exit.code": str(report.exit_code),
    }
    for key, value in facts.items():
        if value:
            ET.SubElement(props, "property", name=key, value=xml_text(value, 2000))
    counts = {"passed": 0, "failure": 0, "error": 0, "skipped": 0}
    counts[_run_case(suite, classname, report)] += 1
    if report.run is not None:
        actions = report.run.raw.get("actions")
        # Run.blocks keeps the object entries of `actions`, in order: the same list here.
        raws = [a for a in actions if isinstance(a, dict)] if isinstance(actions, list) else []
        for number, (block, raw) in enumerate(zip(report.run.blocks, raws, strict=True), 1):
            counts[_block_case(suite, classname, number, block, block_seconds(raw))] += 1
    out = ET.SubElement(suite, "system-out")
    out.text = xml_text(report.headline + "\n" + "\n".join(report.notes))
    _set_counts(suite, counts, report.duration)
    return counts


def _set_counts(element: ET.Element, counts: Mapping[str, int], duration: float | None) -> None:
    element.set("tests", str(sum(counts.values())))
    element.set("failures", str(counts["failure"]))
    element.set("errors", str(counts["error"]))
    element.set("skipped", str(counts["skipped"]))
    if duration is not None:
        element.set("time", f"{duration:.3f}")


def junit_document(root: ET.Element) -> str:
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def junit_xml(report: Report) -> str:
    """A JUnit report: the run is a test suite, each workflow block a test case."""
    root = ET.Element("testsuites", name="cortex-action")
    counts = junit_suite(root, report)
    _set_counts(root, counts, report.duration)
    return junit_document(root)


def dry_run_junit(workflow: str, triggers: Sequence[tuple[str | None, str]]) -> str:
    """A dry run's JUnit report: each trigger it would send (entity or none, key) as a skipped
    test case. Written fresh so that a reused workspace (Jenkins) never shows an earlier run's
    report as this build's, nor fails the ``junit`` step for a report older than the build."""
    root = ET.Element("testsuites", name="cortex-action")
    suite = ET.SubElement(
        root, "testsuite", name=xml_text(f"Cortex workflow {workflow} (dry run)", 500)
    )
    classname = xml_text(f"cortex.{workflow}", 300)
    for entity, key in triggers:
        name = f"trigger for {entity}" if entity else "trigger"
        case = ET.SubElement(suite, "testcase", name=xml_text(name, 500), classname=classname)
        ET.SubElement(
            case, "skipped", message=xml_text(f"dry run: not sent (idempotency key {key})", 600)
        )
    counts = {"passed": 0, "failure": 0, "error": 0, "skipped": len(triggers)}
    _set_counts(suite, counts, None)
    _set_counts(root, counts, None)
    return junit_document(root)


# -- GitLab's annotations report (artifacts:reports:annotations) --------------------------------


def gitlab_annotations(report: Report) -> str:
    """The run's link for the job page: ``{"<section>": [{"external_link": {label, url}}]}``.

    GitLab shows each section's links under the job's log; no link (no run yet) is an empty
    section, which GitLab accepts and shows as nothing.
    """
    what = f"Cortex run {report.run_id}" if report.run_id else "Cortex runs"
    status = f" ({report.status})" if report.status else ""
    return annotations_report(f"{what}{status}: {report.workflow}", report.run_url)


def annotations_report(label: str, url: str | None) -> str:
    """One link in GitLab's annotations report, under the section ``cortex`` (none: empty)."""
    links = []
    if url:
        links.append({"external_link": {"label": log_text(label, 200), "url": url}})
    return json.dumps({"cortex": links}, indent=2) + "\n"


# -- all four -----------------------------------------------------------------------------------


def result_files(report: Report, syntax: EnvSyntax) -> dict[str, str]:
    """Every result file, by name, in the order they are written."""
    return {
        ENV_FILE: variables_file(report, syntax),
        JSON_FILE: outputs.result_json(report, indent=2) + "\n",
        SUMMARY_FILE: summary.run_summary(report),
        JUNIT_FILE: junit_xml(report),
    }


def dry_run_files(  # noqa: PLR0913 - keyword-only: the parts of a dry run's files
    *,
    status: str,
    key: str,
    result_json: str,
    summary_md: str,
    syntax: EnvSyntax,
    workflow: str,
    entity: str | None,
) -> dict[str, str]:
    """A dry run's result files, under a run's names: on GitLab and Jenkins they are its only
    outputs (a later job reads CORTEX_RUN_STATUS ``DRY_RUN`` and the key the run would send)."""
    variables = {"CORTEX_RUN_STATUS": status, "CORTEX_RUN_IDEMPOTENCY_KEY": key}
    env = dotenv(variables) if syntax is EnvSyntax.DOTENV else java_properties(variables)
    return {
        ENV_FILE: env,
        JSON_FILE: result_json,
        SUMMARY_FILE: summary_md,
        JUNIT_FILE: dry_run_junit(workflow, [(entity, key)]),
    }
