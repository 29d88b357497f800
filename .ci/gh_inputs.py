"""Print the INPUT_* variables the GitHub runner gives a Docker action, as an env file.

Usage: gh_inputs.py ACTION_YML [name=value]...

Like the runner: every input declared in action.yml is set, to the value the workflow gives
(the name=value arguments) or else to the input's default ('' when it has none); the variable is
INPUT_ + the name upper-cased with hyphens kept (INPUT_API-TOKEN). Values must be one line (an env
file cannot hold more).
"""

from __future__ import annotations

import sys

import yaml


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as fh:
        inputs = yaml.safe_load(fh).get("inputs") or {}
    given: dict[str, str] = {}
    for arg in argv[1:]:
        name, sep, value = arg.partition("=")
        if not sep or name not in inputs:
            raise SystemExit(f"not an input of {argv[0]}: {arg!r}")
        given[name] = value
    for name, spec in inputs.items():
        default = (spec or {}).get("default", "")
        value = given.get(name, "" if default is None else str(default))
        if "\n" in value:
            raise SystemExit(f"input {name}: multi-line values cannot go in an env file")
        print(f"INPUT_{name.upper()}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
