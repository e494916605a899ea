"""Check a built sdist and wheel before they are published (`tox -e release-check`).

Usage: python tests/package/check_dist.py DIST_DIR

DIST_DIR must hold exactly one sdist and one wheel of charms-leader-config. Both must
carry version LIBAPI.LIBPATCH.N (the main file's LIBAPI and LIBPATCH, N the sum of the
other files' LIBPATCHes), every module file of
lib/charms/leader_config/v0/ byte for byte, and the metadata a release needs (twine
checks that the description renders). Exits non-zero, saying what is wrong, otherwise.
"""

from __future__ import annotations

import ast
import email.message
import email.parser
import re
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARY_DIR = "charms/leader_config/v0"
LIBRARY = f"{LIBRARY_DIR}/leader_config.py"
TYPED_MARKER = "charms/leader_config/py.typed"
NAME = "charms-leader-config"
NEWEST_PYTHON = (3, 13)  # the newest Python the unit tests run on (tox -e unit-py313)


def library_version() -> str:
    """LIBAPI.LIBPATCH of the main file, then the sum of the other files' LIBPATCHes."""
    headers = {
        path.name: library_header(path) for path in (ROOT / "lib" / LIBRARY_DIR).glob("*.py")
    }
    api, patch = headers.pop(Path(LIBRARY).name)
    return f"{api}.{patch}.{sum(other_patch for _, other_patch in headers.values())}"


def library_header(path: Path) -> tuple[int, int]:
    """LIBAPI and LIBPATCH from a library file's plain top-level assignments."""
    values: dict[str, int] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = ast.unparse(node.targets[0])
            value = ast.literal_eval(node.value) if target in ("LIBAPI", "LIBPATCH") else None
            if isinstance(value, int):
                values[target] = value
    return values["LIBAPI"], values["LIBPATCH"]


def library_files() -> dict[str, bytes]:
    """Every module file of the library's folder, by its path in the package."""
    folder = ROOT / "lib" / LIBRARY_DIR
    return {f"{LIBRARY_DIR}/{p.name}": p.read_bytes() for p in sorted(folder.glob("*.py"))}


def parse_metadata(text: str) -> email.message.Message:
    """A METADATA or PKG-INFO file's headers."""
    return email.parser.Parser().parsestr(text)


def check_metadata(label: str, metadata: email.message.Message, version: str) -> list[str]:
    """What is missing or wrong in one artifact's core metadata."""
    problems: list[str] = []
    if metadata["Name"] != NAME:
        problems.append(f"{label}: Name is {metadata['Name']!r}, not {NAME!r}")
    if metadata["Version"] != version:
        problems.append(f"{label}: Version is {metadata['Version']!r}, not {version!r}")
    for field in ("Summary", "Keywords", "Description-Content-Type", "Requires-Dist"):
        if not metadata.get_all(field):
            problems.append(f"{label}: no {field}")
    classifiers = set(metadata.get_all("Classifier") or [])
    minimum = re.fullmatch(r">=3\.(\d+)", str(metadata["Requires-Python"]))
    if minimum is None:
        problems.append(f"{label}: Requires-Python {metadata['Requires-Python']!r} is not >=3.N")
    else:
        for minor in range(int(minimum[1]), NEWEST_PYTHON[1] + 1):
            if f"Programming Language :: Python :: 3.{minor}" not in classifiers:
                problems.append(f"{label}: no classifier for Python 3.{minor}")
    if "Typing :: Typed" not in classifiers:
        problems.append(f"{label}: no `Typing :: Typed` classifier")
    return problems


def check_wheel(path: Path, version: str, files: dict[str, bytes]) -> list[str]:
    """The wheel holds the library files, the typed marker and nothing else."""
    problems: list[str] = []
    with zipfile.ZipFile(path) as wheel:
        names = set(wheel.namelist())
        shipped = {name for name in names if ".dist-info/" not in name}
        expected = {*files, TYPED_MARKER}
        for name in sorted(shipped - expected):
            problems.append(f"wheel: ships {name}, which is not in lib/{LIBRARY_DIR}")
        for name in sorted(expected - shipped):
            problems.append(f"wheel: lacks {name}")
        for name, content in files.items():
            if name in names and wheel.read(name) != content:
                problems.append(f"wheel: {name} differs from lib/{name}")
        (metadata_name,) = (n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = parse_metadata(wheel.read(metadata_name).decode())
    return problems + check_metadata("wheel", metadata, version)


def check_sdist(path: Path, version: str, files: dict[str, bytes]) -> list[str]:
    """The sdist holds the library files at their import paths, and PKG-INFO."""
    problems: list[str] = []
    prefix = f"{NAME.replace('-', '_')}-{version}/"
    with tarfile.open(path) as sdist:
        for name, content in files.items():
            try:
                member = sdist.extractfile(prefix + name)
            except KeyError:
                member = None
            if member is None:
                problems.append(f"sdist: no {prefix}{name}")
            elif member.read() != content:
                problems.append(f"sdist: {name} differs from lib/{name}")
        pkg_info = sdist.extractfile(prefix + "PKG-INFO")
        if pkg_info is None:
            return [*problems, "sdist: no PKG-INFO"]
        metadata = parse_metadata(pkg_info.read().decode())
    return problems + check_metadata("sdist", metadata, version)


def main(argv: list[str]) -> int:
    """Check the artifacts in the folder given as the only argument."""
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    dist = Path(argv[0])
    version = library_version()
    stem = f"{NAME.replace('-', '_')}-{version}"
    wheel, sdist = dist / f"{stem}-py3-none-any.whl", dist / f"{stem}.tar.gz"
    others = sorted(  # uv build leaves a .gitignore there, which `twine upload DIR/*` skips
        p.name for p in dist.iterdir() if p not in (wheel, sdist) and not p.name.startswith(".")
    )
    problems = [f"{dist}: unexpected {name}" for name in others]
    problems += [f"no {p.name} (version {version})" for p in (wheel, sdist) if not p.is_file()]
    files = library_files()
    if not problems:
        problems = check_wheel(wheel, version, files) + check_sdist(sdist, version, files)
    for problem in problems:
        print(f"release-check: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"release-check: {sdist.name} and {wheel.name} hold {', '.join(files)}: ready")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
