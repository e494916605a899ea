"""Build the package from the one library file in the repository's lib/ folder.

The metadata hook reads LIBAPI and LIBPATCH (without importing the library, as
charmcraft does) and makes the version `LIBAPI.LIBPATCH`; the package description is
the library's module docstring. The build hook puts the library file, and a
`py.typed` marker, into the wheel and the sdist under the same import path, with no
`__init__.py`, so `charms` and `charms.leader_config` stay namespace packages.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

LIBRARY = "charms/leader_config/v0/leader_config.py"
TYPED_MARKER = "charms/leader_config/py.typed"


def library_file(root: str) -> Path:
    """The library file: bundled in an sdist, else in the repository next to package/."""
    for candidate in (Path(root, LIBRARY), Path(root).parent / "lib" / LIBRARY):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"cannot find {LIBRARY} in {root} or in ../lib")


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


class LibraryMetadataHook(MetadataHookInterface):
    """Version and description from the library file."""

    def update(self, metadata: dict[str, Any]) -> None:
        """Set the dynamic `version` and `readme` fields."""
        api, patch, docstring = library_header(library_file(self.root))
        metadata["version"] = f"{api}.{patch}"
        metadata["readme"] = {"content-type": "text/markdown", "text": docstring}


class LibraryBuildHook(BuildHookInterface):  # pyright: ignore[reportMissingTypeArgument]
    """Ship the library file and the typed marker at their import paths."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Add the files to the artifact being built."""
        force_include: dict[str, str] = build_data["force_include"]
        force_include[str(library_file(self.root))] = LIBRARY
        if self.target_name == "wheel":  # an sdist keeps the marker where it is
            force_include[str(Path(self.root, "py.typed"))] = TYPED_MARKER
