"""Build the package from the library files in the repository's lib/ folder.

The metadata hook reads LIBAPI and LIBPATCH of each library file (without importing
them, as charmcraft does) and makes the version `LIBAPI.LIBPATCH.N`: the main file's
LIBAPI and LIBPATCH, and N the sum of the other files' LIBPATCHes, so that a new
LIBPATCH of any file, each of which only goes up, makes a higher version. The package
description is the main file's module docstring. The build hook puts every module file
of the library's folder (`lib/charms/leader_config/v0/*.py`), and a `py.typed` marker,
into the wheel and the sdist under the same import paths, with no `__init__.py` added,
so `charms` and `charms.leader_config` stay namespace packages.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

LIBRARY_DIR = "charms/leader_config/v0"
LIBRARY = f"{LIBRARY_DIR}/leader_config.py"
TYPED_MARKER = "charms/leader_config/py.typed"


def library_dir(root: str) -> Path:
    """The library's folder: bundled in an sdist, else in the repository next to package/."""
    for candidate in (Path(root, LIBRARY_DIR), Path(root).parent / "lib" / LIBRARY_DIR):
        if (candidate / Path(LIBRARY).name).is_file():
            return candidate
    raise FileNotFoundError(f"cannot find {LIBRARY} in {root} or in ../lib")


def library_files(root: str) -> dict[str, str]:
    """Every module file of the library's folder: its path here, by its path in the package."""
    return {
        f"{LIBRARY_DIR}/{path.name}": str(path)
        for path in sorted(library_dir(root).glob("*.py"))
        if path.is_file()
    }


def library_header(path: Path) -> tuple[int, int, str]:
    """LIBAPI, LIBPATCH and the module docstring, from plain top-level assignments."""
    module = ast.parse(path.read_text(encoding="utf-8"))
    values: dict[str, int] = {}
    for node in module.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in ("LIBAPI", "LIBPATCH")
            and isinstance(node.value, ast.Constant)
            and type(node.value.value) is int
        ):
            values[node.targets[0].id] = node.value.value
    if values.keys() != {"LIBAPI", "LIBPATCH"}:
        raise ValueError(f"{path}: needs plain `LIBAPI = <int>` and `LIBPATCH = <int>`")
    return values["LIBAPI"], values["LIBPATCH"], ast.get_docstring(module) or ""


def library_version(root: str) -> str:
    """LIBAPI.LIBPATCH of the main file, then the sum of the other files' LIBPATCHes."""
    folder = library_dir(root)
    api, patch, _ = library_header(folder / Path(LIBRARY).name)
    others = [p for p in folder.glob("*.py") if p.name != Path(LIBRARY).name]
    return f"{api}.{patch}.{sum(library_header(p)[1] for p in others)}"


class LibraryMetadataHook(MetadataHookInterface):
    """Version from every library file, description from the main one."""

    def update(self, metadata: dict[str, Any]) -> None:
        """Set the dynamic `version` and `readme` fields."""
        _, _, docstring = library_header(library_dir(self.root) / Path(LIBRARY).name)
        metadata["version"] = library_version(self.root)
        metadata["readme"] = {"content-type": "text/markdown", "text": docstring}


class LibraryBuildHook(BuildHookInterface):  # pyright: ignore[reportMissingTypeArgument]
    """Ship the library files and the typed marker at their import paths."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Add the files to the artifact being built."""
        force_include: dict[str, str] = build_data["force_include"]
        for target, source in library_files(self.root).items():
            force_include[source] = target
        if self.target_name == "wheel":  # an sdist keeps the marker where it is
            force_include[str(Path(self.root, "py.typed"))] = TYPED_MARKER
