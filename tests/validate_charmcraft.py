"""Validate the library and the tester charm with charmcraft's and uv's own code.

Run by `tox -e charmcraft`, which installs charmcraft and uv from PyPI. Needs no
network, snapd or LXD. Checks:

- the library header, with charmcraft's library parser (`get_lib_info`,
  `get_lib_internals`): LIBID, LIBAPI matching the `vN` folder, LIBPATCH > 0, and
  PYDEPS naming pydantic;
- `charmcraft.yaml`, with `charmcraft expand-extensions` (charmcraft's project
  model) and charmcraft's model of config options;
- `uv.lock` against `pyproject.toml`, with `uv lock --check --offline`.

Prints one PASS or FAIL line per check; exits 1 if any failed. `--root DIR` checks
another checkout.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

LIBRARY = Path("lib/charms/leader_config/v0")
BIN = Path(sys.executable).parent  # charmcraft and uv come from this environment


class CheckFailedError(Exception):
    """A check found a problem; the message says which."""


def tool(*args: str, root: Path) -> str:
    """Run one of the environment's tools in `root`; its stdout, or CheckFailedError."""
    command = [str(BIN / args[0]), *args[1:]]
    with tempfile.TemporaryDirectory() as runtime_dir:  # or charmcraft warns on stderr
        env = {"XDG_RUNTIME_DIR": runtime_dir, **os.environ}
        result = subprocess.run(  # noqa: S603 (our own commands)
            command, cwd=root, env=env, capture_output=True, text=True, check=False
        )
    if result.returncode != 0:
        output = " / ".join(line.strip() for line in result.stderr.splitlines() if line.strip())
        raise CheckFailedError(f"`{' '.join(args)}` exited {result.returncode}: {output}")
    return result.stdout


def check_library_header(root: Path) -> str:
    """Every library file's header passes charmcraft's parser and holds the values we mean."""
    utils = importlib.import_module("charmcraft.utils")
    problems: list[str] = []
    ids: dict[str, str] = {}
    for path in sorted((root / LIBRARY).glob("*.py")):
        try:
            info: Any = utils.get_lib_info(lib_path=path)
            internals: Any = utils.get_lib_internals(path)
        except Exception as e:  # charmcraft's CraftError says what is wrong with the header
            raise CheckFailedError(f"charmcraft rejects {path.name}: {e}") from e
        if info.full_name != f"charms.leader_config.v0.{path.stem}":
            problems.append(f"{path.name}: library name is {info.full_name!r}")
        if not re.fullmatch(r"[0-9a-f]{32}", info.lib_id or ""):
            problems.append(f"{path.name}: LIBID {info.lib_id!r} is not a 32-digit hex id")
        elif info.lib_id in ids:
            problems.append(f"{path.name}: LIBID {info.lib_id} is {ids[info.lib_id]}'s too")
        ids[info.lib_id] = path.name
        if f"v{info.api}" != LIBRARY.name or info.api != 0:
            problems.append(f"{path.name}: LIBAPI {info.api} does not match the v0 folder")
        if info.patch < 1:
            problems.append(f"{path.name}: LIBPATCH {info.patch} must be 1 or more")
        pydeps: list[str] = internals.pydeps
        imports_pydantic = re.search(r"^import pydantic$", path.read_text(), re.MULTILINE)
        if imports_pydantic and not any(re.match(r"pydantic\b", dep) for dep in pydeps):
            problems.append(f"{path.name}: PYDEPS {pydeps} does not name pydantic")
    if problems:
        raise CheckFailedError("; ".join(problems))
    return ", ".join(f"{name} ({lib_id})" for lib_id, name in ids.items())


def check_charmcraft_yaml(root: Path) -> str:
    """The charmcraft.yaml passes charmcraft's project model and its config options model."""
    yaml = importlib.import_module("yaml")
    expanded: dict[str, Any] = yaml.safe_load(tool("charmcraft", "expand-extensions", root=root))
    juju_config = importlib.import_module("charmcraft.models.config").JujuConfig
    try:
        config: Any = juju_config.model_validate(expanded.get("config") or {})
    except ValueError as e:  # pydantic's ValidationError
        raise CheckFailedError(f"config options: {e}") from e
    actions: dict[str, Any] = expanded.get("actions") or {}
    return (
        f"{expanded['name']} (type {expanded['type']}, base {expanded['base']}):"
        f" {len(config.options or {})} config options, {len(actions)} actions,"
        f" peers {sorted(expanded.get('peers') or {})}"
    )


def check_uv_lock(root: Path) -> str:
    """uv.lock is what `uv lock` would write for pyproject.toml."""
    try:
        tool("uv", "lock", "--check", "--offline", root=root)
    except CheckFailedError as e:
        raise CheckFailedError(f"{e} (to fix: run `uv lock` and commit uv.lock)") from e
    return "uv.lock is in sync with pyproject.toml"


CHECKS: dict[str, Callable[[Path], str]] = {
    "library header": check_library_header,
    "charmcraft.yaml": check_charmcraft_yaml,
    "uv.lock": check_uv_lock,
}


def main() -> int:
    """Run every check, print PASS or FAIL for each; 0 if all passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    root: Path = parser.parse_args().root.resolve()
    failed = 0
    for name, check in CHECKS.items():
        try:
            print(f"PASS {name}: {check(root)}")
        except CheckFailedError as e:
            failed += 1
            print(f"FAIL {name}: {e}")
    print(f"{len(CHECKS) - failed} of {len(CHECKS)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
