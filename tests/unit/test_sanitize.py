"""``sanitize``: text from Cortex made safe for a log line, a Markdown summary and inline code."""

from __future__ import annotations

import json

import pytest

from cortex_action.sanitize import (
    defuse_commands,
    json_for_log,
    log_text,
    markdown_code,
    markdown_text,
    visible_controls,
)


def test_visible_controls_shows_c0_and_c1_controls_as_hex() -> None:
    """C0, DEL and C1 controls become \\xNN; newline, tab and ordinary text stay."""
    assert visible_controls("a\x1b[31mb\x00c\x7fd\x85e") == "a\\x1b[31mb\\x00c\\x7fd\\x85e"
    assert visible_controls("line\nnext\tcol ☃") == "line\nnext\tcol ☃"


def test_visible_controls_turns_unicode_line_separators_into_spaces() -> None:
    """U+2028 and U+2029, which some viewers break lines on, become spaces."""
    assert visible_controls("a\u2028b\u2029c") == "a b c"


def test_log_text_keeps_everything_on_one_line() -> None:
    """Newlines (LF and CRLF) show as ⏎ and tabs as spaces, so the text is one log line."""
    assert log_text("one\r\ntwo\nthree\tfour") == "one ⏎ two ⏎ three four"


def test_log_text_defuses_a_workflow_command_on_a_later_line() -> None:
    """A ::command:: after a newline cannot start a line any more, nor can ##[ anywhere."""
    text = log_text("ok\n::error::forged ##[group]x")
    assert "\n" not in text
    assert "##[" not in text
    assert text == "ok ⏎ ::error::forged ## [group]x"


def test_log_text_defuses_a_command_at_the_start() -> None:
    """Text that itself starts with :: is escaped so the runner does not read a command."""
    assert log_text("::add-mask::x").startswith("\\::")


def test_log_text_shows_escapes_and_cuts_long_text() -> None:
    """Terminal escapes are shown as \\x1b, and text past the limit is cut with a marker."""
    assert log_text("\x1b[2K") == "\\x1b[2K"
    assert log_text("a" * 50, limit=10) == "a" * 10 + "… (truncated)"
    assert log_text("a" * 10, limit=10) == "a" * 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("::error::x", "\\::error::x"),
        ("  ::warning::x", "  \\::warning::x"),
        ("a\n::notice::b", "a\n\\::notice::b"),
        ("mid ::error:: line", "mid ::error:: line"),
        ("x ##[error]y", "x ## [error]y"),
    ],
)
def test_defuse_commands(text: str, expected: str) -> None:
    """:: opening any line (after blanks) is escaped, and ##[ anywhere is split."""
    assert defuse_commands(text) == expected


def test_markdown_text_escapes_html_and_markdown() -> None:
    """HTML is escaped and Markdown specials are backslashed, so nothing renders as markup."""
    assert markdown_text('<b>x</b> & "y"') == "&lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;"
    assert markdown_text("*a* _b_ `c` [d](e) #f !g |h ~i \\j") == (
        "\\*a\\* \\_b\\_ \\`c\\` \\[d\\](e) \\#f \\!g \\|h \\~i \\\\j"
    )


def test_markdown_text_stays_in_one_table_cell() -> None:
    """Newlines become <br>, controls become spaces, and a pipe cannot end the cell."""
    assert markdown_text("a\r\nb\nc\x1bd|e") == "a<br>b<br>c d\\|e"


def test_markdown_text_cuts_before_escaping() -> None:
    """The limit applies to the original text, so an escape is never cut in half."""
    assert markdown_text("<" * 10, limit=3) == "&lt;&lt;&lt;… (truncated)"


def test_markdown_code_is_one_safe_code_span() -> None:
    """Backticks, pipes, newlines and controls cannot end the span or the table cell."""
    assert markdown_code("a`b|c\nd\x00e") == "`a'b\\|c d e`"


def test_markdown_code_of_empty_text_says_empty() -> None:
    """Blank text shows as (empty) rather than an empty code span."""
    assert markdown_code("") == "(empty)"
    assert markdown_code("  ") == "(empty)"


def test_markdown_code_cuts_long_text() -> None:
    """Text past the limit is cut with an ellipsis inside the span."""
    assert markdown_code("x" * 20, limit=5) == "`xxxxx…`"


def test_json_for_log_hides_the_command_form_but_reads_back_the_same() -> None:
    """##[ is written #\\u0023[ so no runner reads a command, and JSON decodes it unchanged."""
    document = {"message": "##[error]forged", "n": 1}
    text = json_for_log(json.dumps(document))
    assert "##[" not in text
    assert json.loads(text) == document
