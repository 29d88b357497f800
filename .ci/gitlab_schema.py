"""Validate GitLab CI files against GitLab's CI schema (check-jsonschema's vendored copy).

A CI/CD component's template has two YAML documents (the ``spec:`` header, then the jobs), which
check-jsonschema refuses as one file: each document is checked on its own, as GitLab reads them.
Usage: python .ci/gitlab_schema.py FILE...  (exit 1 when any document fails).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path


def documents(text: str) -> list[str]:
    """The YAML documents of a file, split at ``---`` lines."""
    parts: list[list[str]] = [[]]
    for line in text.splitlines(keepends=True):
        if line.rstrip() == "---":
            parts.append([])
        else:
            parts[-1].append(line)
    return ["".join(p) for p in parts if "".join(p).strip()]


def main(paths: list[str]) -> int:
    failed = 0
    with tempfile.TemporaryDirectory() as folder:
        for path in paths:
            for number, document in enumerate(documents(Path(path).read_text("utf-8")), 1):
                part = Path(folder) / f"{Path(path).stem}-{number}.yml"
                part.write_text(document, encoding="utf-8")
                done = subprocess.run(
                    ["check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(part)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                where = f"{path} (document {number})"
                print(f"{'ok' if done.returncode == 0 else 'FAILED'}: {where}")
                if done.returncode:
                    print(done.stdout + done.stderr)
                    failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
