"""Type-check the library as a charm vendors it: its files in a charm's lib/, no config of ours.

Copies every file of lib/charms/leader_config/v0/ into a fresh charm directory and runs
`mypy --strict` with no config file, and pyright in strict mode, over them, with the
interpreter's ops and pydantic. Usage: `python tests/vendored_types.py [--no-pyright]`
(`tox -e static` runs both checkers; `tox -e static-mypy119` runs mypy 1.19 alone).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "lib" / "charms" / "leader_config" / "v0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-pyright", action="store_true", help="run mypy only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vendored-") as directory:
        charm = Path(directory)
        vendored = charm / "lib" / "charms" / "leader_config" / "v0"
        vendored.mkdir(parents=True)
        for file in sorted(LIBRARY.glob("*.py")):
            shutil.copy(file, vendored / file.name)
        # Every command runs this interpreter's own mypy and pyright.
        mypy = [sys.executable, "-m", "mypy", "--strict", "--config-file=", "--no-incremental"]
        env = {**os.environ, "MYPYPATH": "lib"}
        version = subprocess.run([*mypy, "--version"], capture_output=True, text=True)  # noqa: S603
        print("mypy", version.stdout)
        package = ["-p", "charms.leader_config.v0"]  # its files, found through MYPYPATH
        failed = subprocess.run([*mypy, *package], cwd=charm, env=env, check=False).returncode  # noqa: S603
        if not args.no_pyright:
            config = {"typeCheckingMode": "strict", "extraPaths": ["lib"], "include": ["lib"]}
            (charm / "pyrightconfig.json").write_text(json.dumps(config))
            pyright = [sys.executable, "-m", "pyright", "--pythonpath", sys.executable]
            failed |= subprocess.run(pyright, cwd=charm, check=False).returncode  # noqa: S603
    return failed


if __name__ == "__main__":
    sys.exit(main())
