"""What ``callback`` publishes: step outputs, the job summary and the result files, from its
report. Strings in, strings out.

The response a user gives can carry anything, so its values never reach a summary, a log or a
file: only its keys do. The response cortex-action builds (the job's link, the commit, the
outcome) is shown whole.
"""

from __future__ import annotations

import json
from typing import Any

from cortex_action.render.result_files import EnvSyntax, dotenv, java_properties
from cortex_action.report import CallbackReport
from cortex_action.sanitize import json_for_log, markdown_code, markdown_text

ENV_FILE = "cortex-action-callback.env"
JSON_FILE = "cortex-action-callback.json"
SUMMARY_FILE = "cortex-action-callback.md"


def callback_outputs(report: CallbackReport) -> dict[str, str]:
    """``callback-status`` as sent and ``http-status`` as Cortex answered (empty: no answer)."""
    return {
        "callback-status": report.status,
        "http-status": "" if report.http_status is None else str(report.http_status),
    }


def callback_variables(report: CallbackReport) -> dict[str, str]:
    outputs = callback_outputs(report)
    return {
        "CORTEX_CALLBACK_STATUS": outputs["callback-status"],
        "CORTEX_CALLBACK_HTTP_STATUS": outputs["http-status"],
    }


def shown_response(report: CallbackReport) -> dict[str, Any] | list[str]:
    """The response as it may be shown: whole when it is ours, else its keys."""
    return dict(report.response) if report.response_shown else list(report.response)


def callback_object(report: CallbackReport) -> dict[str, Any]:
    return {
        "command": "callback",
        "workflow": report.workflow,
        "callbackId": report.callback_id,
        "status": report.status,
        "message": report.message,
        # Keys only when the user gave the response: its values may be secrets.
        "response" if report.response_shown else "responseKeys": shown_response(report),
        "httpStatus": report.http_status,
        "landedEarlier": report.landed_earlier is not None,
        "exitCode": report.exit_code,
        "headline": report.headline,
        "jobUrl": report.job_url,
    }


def callback_json(report: CallbackReport) -> str:
    text = json.dumps(callback_object(report), indent=2, ensure_ascii=False, default=str)
    return json_for_log(text) + "\n"


def callback_summary(report: CallbackReport) -> str:
    icon = "✅" if report.exit_code == 0 else "⚠️"
    # The status alone in the title ("SUCCESS") read as the outcome when Cortex refused it.
    taken = "" if report.exit_code == 0 else " not taken"
    lines = [
        f"### {icon} Cortex callback to workflow {markdown_code(report.workflow)}: "
        f"{markdown_text(report.status, 20)}{taken}",
        "",
        markdown_text(report.headline),
        "",
        "| | |",
        "|---|---|",
        f"| Workflow | {markdown_code(report.workflow)} |",
        f"| Callback id | {markdown_code(report.callback_id, 300)} |",
        f"| Status sent | {markdown_text(report.status, 20)} |",
        f"| Message | {markdown_text(report.message, 2000)} |",
    ]
    if report.response_shown:
        for key, value in report.response.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            lines.append(f"| Response {markdown_code(key, 100)} | {markdown_text(text, 500)} |")
    elif report.response:
        keys = ", ".join(markdown_code(k, 100) for k in list(report.response)[:50])
        more = f" and {len(report.response) - 50} more" if len(report.response) > 50 else ""
        lines.append(f"| Response keys | {keys}{more} (values not shown: they may be secret) |")
    else:
        lines.append("| Response | `{}` |")
    answer = "no answer" if report.http_status is None else str(report.http_status)
    lines.append(f"| Cortex answered | {answer} |")
    lines.append(f"| Exit code | {report.exit_code} |")
    if report.landed_earlier:
        lines += [
            "",
            f"> An earlier attempt got no answer ({markdown_text(report.landed_earlier, 500)}), "
            "then Cortex said the block was no longer waiting: that attempt was received.",
        ]
    return "\n".join(lines) + "\n"


def callback_files(report: CallbackReport, syntax: EnvSyntax) -> dict[str, str]:
    """The result files of a callback; names of their own, so a job that also ran ``run``
    keeps that run's files."""
    variables = callback_variables(report)
    env = dotenv(variables) if syntax is EnvSyntax.DOTENV else java_properties(variables)
    return {
        ENV_FILE: env,
        JSON_FILE: callback_json(report),
        SUMMARY_FILE: callback_summary(report),
    }
