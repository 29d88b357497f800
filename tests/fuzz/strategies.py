"""Hypothesis strategies shared by the fuzz tests: hostile input values and hostile JSON.

The budget is fixed here so that `.ci/run` stays fast and its cost is documented in one place
(docs/reliability.md): every property runs at most ``EXAMPLES`` (or ``FEW``) examples, with no
per-example deadline (CI machines are slow and shared), and the database of failing examples
lives in ``.hypothesis/`` (ignored by git).
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.support import DECLARED_INPUTS

# Examples per property: cheap properties (pure parsing) and ones that run the whole CLI.
# FUZZ_SCALE=10 (say) runs ten times as many, for a deeper search by hand.
_SCALE = max(1, int(os.environ.get("FUZZ_SCALE", "1") or "1"))
EXAMPLES = 150 * _SCALE
FEW = 60 * _SCALE

fuzz = settings(
    deadline=None,
    max_examples=EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
fuzz_few = settings(fuzz, max_examples=FEW)

# A token with characters that mean something to regexes, Markdown, URLs and printf.
NASTY_TOKEN = "cx.*+?^$|()[]{}\\_`#%s%0A%25<b>&amp;!--5ecret"

# The token as it would appear inside JSON (the outputs' `result`, --json): the backslash is
# escaped there, so a leak into JSON would not contain the token itself.
NASTY_TOKEN_FORMS = (NASTY_TOKEN, json.dumps(NASTY_TOKEN)[1:-1])

# Every input of the `run` command, by its public name: what action.yml declares, but for the
# token (set on its own), `command` (the other commands, get/wait/list, are their own issue; the
# fuzzers here exercise `run`), `output-dir` (a fuzzed folder would get result files written
# into it) and the inputs that only the other commands read.
NOT_RUN_INPUTS = frozenset(
    {
        "api-token",
        "command",
        "output-dir",
        "run-id",
        "search",
        "initiated-by",
        "started-after",
        "started-before",
        "status",
        "limit",
    }
)
INPUTS = tuple(name for name in DECLARED_INPUTS if name not in NOT_RUN_INPUTS)

# Values that have broken parsers before, or that mean something to a host or a shell.
SPECIAL = st.sampled_from(
    [
        "",
        " ",
        "\n",
        "\t\r\n",
        "true",
        "TRUE",
        " false ",
        "yes",
        "0",
        "-1",
        "1.5",
        "1h30m",
        "90s",
        "0s",
        "168h",
        "169h",
        "1h1h",
        "9" * 40,
        "9" * 5000,
        "{}",
        "[]",
        "[",
        "{" * 5000,
        "[" * 50_000,
        '{"a": NaN}',
        '{"a": 1e400}',
        '{"a": 1' + "0" * 5000 + "}",
        "null",
        "a=1\nb=2",
        "a=1\na=2",
        "=x",
        "x=",
        "a==b",
        " a = b ",
        "# c\na=1",
        "a.b-c_d=ü",
        "a=1\r\nb=2",
        "::error::x",
        "##[error]x",
        "%0A::set-output name=x::y",
        "\x00",
        "\x1b[2J",
        "\u2028",
        "\ufeffx",
        "x@y.z",
        "a@b.c, d@e.f\n\ng@h.i",
        "a@b.c,,",
        "not an email",
        "http://example.com",
        "http://127.0.0.1:1",
        "http://[::1]:1",
        "https://api.example.com/api/v1/",
        "https://u:p@example.com",
        "https://example.com?x=1",
        "ftp://example.com",
        "wait",
        "succeed",
        "FAIL",
        "x" * 1025,
        "x" * 300,
    ]
)

_key = st.one_of(
    st.text(max_size=8), st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,6}", fullmatch=True)
)
_sep = st.sampled_from(["=", "", "==", " = ", "=\n"])
KEY_VALUE_LINES = st.lists(st.tuples(_key, _sep, st.text(max_size=12)), max_size=6).map(
    lambda items: "\n".join(k + s + v for k, s, v in items)
)

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
JSON_TEXT = JSON_VALUES.map(json.dumps)

INPUT_VALUES = st.one_of(
    SPECIAL,
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=200),
    KEY_VALUE_LINES,
    JSON_TEXT,
    st.from_regex(r"[0-9]{0,4}(h[0-9]{0,3})?(m[0-9]{0,3})?s?", fullmatch=True),
)

INPUT_SETS = st.dictionaries(st.sampled_from(INPUTS), INPUT_VALUES, max_size=6)

# JSON from a server: run-like objects with every field's type varied, and arbitrary JSON.
RUN_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=20), st.integers(), st.none(), st.booleans(), JSON_VALUES),
        "status": st.one_of(
            st.sampled_from(
                ["COMPLETED", "FAILED", "PAUSED", "IN_PROGRESS", "completed", "WEIRD", ""]
            ),
            JSON_VALUES,
        ),
        "actions": st.one_of(
            JSON_VALUES,
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "name": JSON_VALUES,
                        "state": st.one_of(
                            JSON_VALUES,
                            st.fixed_dictionaries(
                                {},
                                optional={"status": JSON_VALUES, "errorMessage": JSON_VALUES},
                            ),
                        ),
                    },
                ),
                max_size=3,
            ),
        ),
        "workflow": JSON_VALUES,
    },
)
SERVER_JSON = st.one_of(RUN_LIKE, JSON_VALUES)
