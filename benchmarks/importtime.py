"""The core's own import time, after ops, pydantic and a pydantic model: `python -X importtime`.

Each run is a fresh interpreter that imports `ops` and `pydantic`, defines a one-field
model (pydantic finishes importing itself on its first model), then imports
`charms.leader_config.v0.leader_config` from the repository's `lib`. `-X importtime`
reports each module's import in microseconds: the figure is the cumulative time of the
core's line, which counts its parent packages (`charms`, `charms.leader_config`,
`charms.leader_config.v0`) and every module that it is first to import; its own line's
self time is reported too. Bytecode is compiled, as for every hook after a unit's
first: a warm-up run writes it under a temporary `PYTHONPYCACHEPREFIX`, so that the
repository's files are left alone. Medians of `--runs` runs (at least 10).

Run it with `tox -e bench -- --import-time`, or as `python -m benchmarks.importtime`
with `lib` importable and ops and pydantic installed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORE = "charms.leader_config.v0.leader_config"
MIN_RUNS = 10
DEFAULT_RUNS = 21
CODE = f"""\
import ops
import pydantic


class _Model(pydantic.BaseModel):
    value: int = 0


import {CORE}
"""


def parse(stderr: str, module: str = CORE) -> tuple[int, int]:
    """Return (self, cumulative) microseconds of `module`'s line in `-X importtime` output.

    Raises:
        ValueError: if no line names `module`.
    """
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) == 3 and fields[2].strip() == module:
            return int(fields[0]), int(fields[1])
    raise ValueError(f"no -X importtime line for {module}")


def _run(env: dict[str, str]) -> tuple[int, int]:
    process = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
        [sys.executable, "-X", "importtime", "-c", CODE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return parse(process.stderr)


def measure(runs: int = DEFAULT_RUNS) -> dict[str, Any]:
    """Import the core `runs` times after ops, pydantic and a model; return the medians.

    Args:
        runs: measured runs, after one warm-up that compiles the bytecode.

    Returns:
        `cumulative_ms_median` (the figure), `self_ms_median`, `cumulative_ms` of every
        run, `runs`, and `python`.
    """
    if runs < MIN_RUNS:
        raise ValueError(f"at least {MIN_RUNS} runs, not {runs}")
    with tempfile.TemporaryDirectory(prefix="leader-config-pycache-") as cache:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PYTHON")  # PYTHONDONTWRITEBYTECODE, PYTHONPATH, ...
        }
        env.update(PYTHONPATH=str(REPO / "lib"), PYTHONPYCACHEPREFIX=cache)
        _run(env)  # compiles every module's bytecode into the cache
        times = [_run(env) for _ in range(runs)]
    cumulative = [c / 1000 for _, c in times]
    return {
        "module": CORE,
        "after": "ops, pydantic and a one-field pydantic model",
        "runs": runs,
        "cumulative_ms_median": round(statistics.median(cumulative), 2),
        "self_ms_median": round(statistics.median(s / 1000 for s, _ in times), 2),
        "cumulative_ms": [round(ms, 2) for ms in cumulative],
        "python": sys.version.split()[0],
    }


def summary(result: dict[str, Any]) -> str:
    """One line: the median import time and how it was measured."""
    return (
        f"Core import after ops, pydantic and a model (python -X importtime, compiled"
        f" bytecode, median of {result['runs']} runs): {result['cumulative_ms_median']:.1f} ms"
        f" cumulative ({result['self_ms_median']:.1f} ms in the module itself)."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Print the core's import time.

    Args:
        argv: command-line arguments (`--runs N`).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(
        description="Print the core's import time after ops, pydantic and a model."
    )
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, metavar="N")
    args = parser.parse_args(argv)
    if args.runs < MIN_RUNS:
        parser.error(f"--runs must be {MIN_RUNS} or more")
    print(summary(measure(args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
