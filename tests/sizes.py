"""Count the lines of each library file, and what each kind of charm vendors.

Lines of code leave out docstrings, comments and blank lines. Usage: `python
tests/sizes.py` (`tox -e sizes`); it exits non-zero if a budget is exceeded:
the core at most 1,600 lines with at most 1,100 of code, and the core with the
test helpers at most 1,900 lines.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path
from typing import NamedTuple

LIBRARY = Path(__file__).resolve().parents[1] / "lib" / "charms" / "leader_config" / "v0"
FILES = ("leader_config.py", "testing.py", "rollouts.py", "adoption.py", "testing_harness.py")
# What each kind of charm vendors: every charm the core and the test helpers.
CHARMS = {
    "a charm using neither rollouts nor adoption": FILES[:2],
    "a charm with acknowledge=True": FILES[:3],
    "a charm adopting legacy data (migrate=)": FILES[:4],
    "(a charm whose tests use Harness adds)": FILES[4:],
}
CORE_LINES, CORE_CODE, FRESH_LINES = 1600, 1100, 1900


class Count(NamedTuple):
    lines: int
    code: int
    docstrings: int
    comments: int
    blank: int


def count(path: Path) -> Count:
    """The lines of one Python file, by kind."""
    source = path.read_text()
    lines = source.splitlines()
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str) and first:
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    comments = {
        token.start[0]
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT and lines[token.start[0] - 1].lstrip().startswith("#")
    }
    blank = {number for number, line in enumerate(lines, 1) if not line.strip()}
    code = len(lines) - len(blank | docstrings | comments)
    return Count(len(lines), code, len(docstrings - blank), len(comments), len(blank))


def main() -> int:
    counts = {name: count(LIBRARY / name) for name in FILES}
    print(f"{'file':<20}{'lines':>7}{'code':>7}{'docs':>7}{'comments':>10}{'blank':>7}")
    for name, c in counts.items():
        print(f"{name:<20}{c.lines:>7}{c.code:>7}{c.docstrings:>7}{c.comments:>10}{c.blank:>7}")
    print()
    for charm, files in CHARMS.items():
        print(f"{charm}: {sum(counts[f].lines for f in files)} lines ({', '.join(files)})")
    core, fresh = counts["leader_config.py"], sum(counts[f].lines for f in FILES[:2])
    over = [
        f"{what} {value} > {limit}"
        for what, value, limit in (
            ("core lines", core.lines, CORE_LINES),
            ("core code", core.code, CORE_CODE),
            ("core and test helpers", fresh, FRESH_LINES),
        )
        if value > limit
    ]
    for problem in over:
        print(f"over budget: {problem}", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
