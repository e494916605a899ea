"""The library as a Python package: build it, install it in a fresh venv, use it there.

Needs `uv` (it builds the sdist and the wheel from it, and makes the venv) and an
index to install `ops[testing]` and `pytest` from. Run with `tox -e package`.
"""

from __future__ import annotations

import ast
import email.parser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import TypeVar

import pytest

pytestmark = pytest.mark.package

ROOT = Path(__file__).resolve().parents[2]
LIBRARY_DIR = "charms/leader_config/v0"
LIBRARY = f"{LIBRARY_DIR}/leader_config.py"
# Every module file of the library's folder ships, whatever files it holds.
LIBRARY_FILES = sorted(
    path.relative_to(ROOT / "lib").as_posix() for path in (ROOT / "lib" / LIBRARY_DIR).glob("*.py")
)
INSTALLED_CHECK = Path(__file__).with_name("installed_check.py")
T = TypeVar("T")


def header(name: str, path: Path = ROOT / "lib" / LIBRARY) -> object:
    """A plain top-level assignment of a library file, as charmcraft reads it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == name:
            return ast.literal_eval(node.value)
    raise AssertionError(f"no {name} in {path.name}")


def version() -> str:
    """The package version: the core's LIBAPI.LIBPATCH, then the others' LIBPATCHes summed."""
    others = [p for p in (ROOT / "lib" / LIBRARY_DIR).glob("*.py") if p.name != "leader_config.py"]
    others_patches = 0
    for path in others:
        patch = header("LIBPATCH", path)
        assert isinstance(patch, int)
        others_patches += patch
    return f"{header('LIBAPI')}.{header('LIBPATCH')}.{others_patches}"


def requirement(text: str) -> tuple[str, frozenset[str]]:
    """A requirement's name and set of specifiers, so `a<3,>=2` equals `a >=2, <3`."""
    match = re.fullmatch(r"([A-Za-z0-9_.\[\]-]+)(.*)", text.replace(" ", ""))
    assert match, text
    return match[1].lower(), frozenset(filter(None, match[2].split(",")))


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(  # noqa: S603 (our own commands)
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An sdist and the wheel built from it, as `uv build package/` makes them."""
    uv = shutil.which("uv")
    assert uv, "uv is needed on PATH to build the package"
    out = tmp_path_factory.mktemp("dist")
    run(uv, "build", "--quiet", "--out-dir", out, ROOT / "package")
    return out


def the(items: list[T]) -> T:
    assert len(items) == 1, items
    return items[0]


def test_package_version_is_libapi_dot_libpatch(dist: Path):
    wheel = the(list(dist.glob("*.whl")))
    assert wheel.name == f"charms_leader_config-{version()}-py3-none-any.whl"
    assert the(list(dist.glob("*.tar.gz"))).name == f"charms_leader_config-{version()}.tar.gz"


def test_wheel_holds_the_library_files_in_namespace_packages(dist: Path):
    assert LIBRARY in LIBRARY_FILES
    with zipfile.ZipFile(the(list(dist.glob("*.whl")))) as wheel:
        files = {name for name in wheel.namelist() if ".dist-info/" not in name}
        # No __init__.py added anywhere: `charms` and `charms.leader_config` stay namespaces.
        assert files == {*LIBRARY_FILES, "charms/leader_config/py.typed"}
        for name in LIBRARY_FILES:
            assert wheel.read(name) == (ROOT / "lib" / name).read_bytes(), name


@pytest.mark.parametrize("name", LIBRARY_FILES)
def test_sdist_is_self_contained(dist: Path, name: str):
    with tarfile.open(the(list(dist.glob("*.tar.gz")))) as sdist:
        member = the([m for m in sdist.getmembers() if m.name.endswith(f"/{name}")])
        content = sdist.extractfile(member)
        assert content is not None
        assert content.read() == (ROOT / "lib" / name).read_bytes()


def test_wheel_requires_ops_and_the_library_pydeps(dist: Path):
    with zipfile.ZipFile(the(list(dist.glob("*.whl")))) as wheel:
        (metadata_name,) = (n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(wheel.read(metadata_name).decode())
    pydeps = header("PYDEPS")
    assert isinstance(pydeps, list)
    wanted = ["ops>=2.23", *map(str, pydeps)]  # pyright: ignore[reportUnknownArgumentType]
    requires = metadata.get_all("Requires-Dist") or []
    assert {requirement(r) for r in requires} == {requirement(r) for r in wanted}
    assert metadata["Version"] == version()
    assert metadata["Description-Content-Type"] == "text/markdown"
    description = metadata.get_payload()
    assert isinstance(description, str)
    assert description.startswith(
        str(ast.get_docstring(ast.parse((ROOT / "lib" / LIBRARY).read_text())))[:60]
    )


def test_installed_package_runs_a_scenario_test(dist: Path, tmp_path: Path):
    uv = shutil.which("uv")
    assert uv
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    run(uv, "venv", "--quiet", "--python", sys.executable, venv)
    wheel = the(list(dist.glob("*.whl")))
    run(uv, "pip", "install", "--quiet", "--python", python, wheel, "ops[testing]", "pytest")
    # Another library in the `charms` namespace, from another sys.path entry.
    other = tmp_path / "other" / "charms" / "other_lib" / "v0"
    other.mkdir(parents=True)
    (other / "other_lib.py").write_text("ANSWER = 42\n")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(INSTALLED_CHECK, work / "test_installed.py")
    # An empty config of its own: with none (or `-c /dev/null`), pytest collects from a
    # directory above `work`, and scans every entry of a crowded /tmp on the way.
    (work / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(tmp_path / "other")
    output = run(
        python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
        "--rootdir", work, "-c", work / "pytest.ini", "test_installed.py",
        cwd=work, env=env,
    )  # fmt: skip
    assert "4 passed" in output, output
