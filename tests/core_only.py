"""Run the core's tests with only the core and the test helpers on the path.

As a charm that uses neither rollouts nor adoption vendors the library: copies
`leader_config.py` and `testing.py` alone into a fresh `lib/`, then runs pytest over
tests/scenario with that `lib/` on the path instead of the repository's, leaving out
the tests marked `modules` (they need rollouts.py, adoption.py or testing_harness.py)
and the pyright check. The quick start (tests/scenario/test_quickstart.py) is among them. Usage:
`python tests/core_only.py [pytest arguments]` (`tox -e unit-core`).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ("leader_config.py", "testing.py")
# Test files that import a module at the top (testing_harness.py), not only in a test.
IMPORTING_MODULES = ("test_harness.py",)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="core-only-") as directory:
        lib = Path(directory) / "lib"
        vendored = lib / "charms" / "leader_config" / "v0"
        vendored.mkdir(parents=True)
        for name in CORE:
            shutil.copy(ROOT / "lib" / "charms" / "leader_config" / "v0" / name, vendored)
        arguments = [
            "-p",
            "no:cacheprovider",
            "-m",
            "not pyright and not modules",
            "-o",
            f"pythonpath={lib} src .",
            str(ROOT / "tests" / "scenario"),
            *(f"--ignore={ROOT / 'tests' / 'scenario' / name}" for name in IMPORTING_MODULES),
            *sys.argv[1:],
        ]
        return int(pytest.main(arguments))


if __name__ == "__main__":
    sys.exit(main())
