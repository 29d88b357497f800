"""Make text that comes from Cortex safe to show: in a log, in Markdown, in one line.

Cortex's text is data. It must never become a GitHub workflow command (``::name::`` at the start
of a line, ``##[name]`` anywhere), a terminal escape, or HTML/Markdown in a summary.
"""

from __future__ import annotations

import html
import re

# Bidirectional overrides and isolates count as controls: in a block name or an error they
# would reverse what follows them on the line (a log, a table row), so text reads as it isn't.
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(rf"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#!|~])")


def _visible(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}" if ord(match.group()) < 0x100 else " "


def visible_controls(text: str) -> str:
    """Control characters (not newlines or tabs) shown as ``\\xNN``: the last line of defence for
    every log line, so an id or a status from Cortex can't move the cursor or rewrite a line."""
    return _CONTROL.sub(_visible, text)


def log_text(text: str, limit: int = 2000) -> str:
    """Text safe on one log line: controls made visible, newlines shown as ⏎, commands defused."""
    text = text.replace("\r\n", "\n").replace("\n", " ⏎ ").replace("\t", " ")
    text = _CONTROL.sub(_visible, text)
    text = defuse_commands(text)
    return text if len(text) <= limit else text[:limit] + "… (truncated)"


def defuse_commands(text: str) -> str:
    """Break both forms of workflow command: ``::`` opening a line and ``##[`` anywhere."""
    text = text.replace("##[", "## [")
    return re.sub(r"(?m)^(\s*):", r"\1\\:", text)


def markdown_text(text: str, limit: int = 4000) -> str:
    """Text safe in Markdown, also in a table cell: HTML and specials escaped, one line."""
    text = text if len(text) <= limit else text[:limit] + "… (truncated)"
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n"))
    text = html.escape(text, quote=True)
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return text.replace("\n", "<br>")


def markdown_code(text: str, limit: int = 200) -> str:
    """Short text shown as inline code; backticks and controls can't break out."""
    text = text if len(text) <= limit else text[:limit] + "…"
    # Code spans show text literally, so no HTML escaping; only what ends the span or the cell.
    text = _CONTROL.sub(" ", text).replace("\n", " ").replace("`", "'").replace("|", "\\|")
    return f"`{text}`" if text.strip() else "(empty)"


def json_for_log(text: str) -> str:
    """JSON text that can be printed into a CI log: the ``##[command]`` form is written
    ``#\\u0023[``, which is the same ``#`` to any JSON parser."""
    return text.replace("##[", "#\\u0023[")
