"""Parse a GITHUB_OUTPUT file the way the Actions runner does, and check it.

Usage: gh_outputs.py FILE [--expect name=value]... [--expect-set name]...

Lines are `name=value`, or `name<<DELIMITER` followed by value lines and a line that is exactly the
delimiter (the runner's heredoc form). Prints the parsed outputs (long values cut) and exits 1 on a
malformed file or a failed expectation.
"""

from __future__ import annotations

import sys


def parse(text: str) -> dict[str, str]:
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


def main(argv: list[str]) -> int:
    path, rest = argv[0], argv[1:]
    with open(path, encoding="utf-8") as fh:
        outputs = parse(fh.read())
    for name, value in outputs.items():
        shown = value if len(value) <= 100 else value[:100] + "..."
        print(f"    output {name} = {shown!r}")
    ok = True
    for flag, arg in zip(rest[::2], rest[1::2], strict=True):
        if flag == "--expect":
            name, _, want = arg.partition("=")
            if outputs.get(name) != want:
                print(f"FAIL: output {name} is {outputs.get(name)!r}, expected {want!r}")
                ok = False
        elif flag == "--expect-set":
            if not outputs.get(arg):
                print(f"FAIL: output {arg} is missing or empty")
                ok = False
        else:
            raise SystemExit(f"unknown flag {flag}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
