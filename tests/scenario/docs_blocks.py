"""Find, run and type-check the Python code blocks of the docs.

The documents are README.md and every page of docs/ (`docs/*.md`). The rules, which
the docs follow:

- Every fenced block whose info string is `python` is checked. Other blocks
  (`shell`, `yaml`, ...) are not, except that a document's `yaml` blocks declaring
  `peers`, `requires` or `provides` give the metadata, config options and actions its
  example charms run with. A document that defines a charm has such a block; one
  without may define none.
- A document's blocks run in order in one namespace, so a block can use what earlier
  blocks in the same document defined or imported.
- A block runs unless the line right before its fence (blank lines aside) is
  `<!-- not executed: <reason> -->`; such a block is still type-checked.
- A block whose fence follows `<!-- file: <path> -->` is a whole file of the
  quick-start charm (`charmcraft.yaml`, `src/charm.py`, `tests/unit/test_charm.py`,
  ...). The file blocks of all documents make up that one charm, which the
  quick-start test assembles into a charm directory (so a path is one block in all
  the docs). A Python file block runs in a module of its own, so it must import or
  define every name it uses; a file under `src/` (or `lib/`) is importable by its
  module name (`charm`) from later blocks, as in the charm's tests, and from every
  block of the other documents. Its names then join the document's namespace too.
- For pyright, each block is its own module in strict mode that imports, from the
  block that last defined it, each name it uses from earlier blocks (a file block
  imports nothing: it is written as it stands, `src/charm.py` as `charm.py`).
- Every `ops.CharmBase` subclass a block defines is run through `leader-elected` as
  the leader, with the document's metadata, config options and actions and an empty
  peer relation per peer endpoint.
"""

from __future__ import annotations

import builtins
import functools
import itertools
import json
import re
import subprocess
import symtable
import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import ops
import yaml

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib"
DOCS = ROOT / "docs"
STUBS = ROOT / "tests" / "docs_stubs"

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)[^`]*$")
_SKIP = re.compile(r"^\s*<!--\s*not executed:(?P<reason>.*?)-->\s*$")
_FILE = re.compile(r"^\s*<!--\s*file:(?P<path>.*?)-->\s*$")
_FILE_PATH = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
# charmcraft.yaml keys that Context takes apart from the metadata (config, actions).
_NOT_METADATA = ("config", "actions")
_unique = itertools.count()


class DocsFormatError(ValueError):
    """A document breaks the rules above (an unclosed fence, a marker without its text...)."""


@dataclass(frozen=True)
class Block:
    """One fenced code block.

    Attributes:
        document: the document's name, as it appears in messages.
        path: the file the document is in.
        line: the line of `path` on which the block's code starts (1-based).
        language: the fence's info string (`python`, `yaml`, ...).
        code: the code, dedented to the fence.
        skip_reason: why the block is not executed, or None if it is.
        file: the path, in a charm directory, of the file that the block is, or None.
    """

    document: str
    path: Path
    line: int
    language: str
    code: str
    skip_reason: str | None = None
    file: str | None = None

    @property
    def where(self) -> str:
        """`file:line` of the block, for messages."""
        path = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{path}:{self.line}"


def fenced_blocks(text: str, *, document: str, path: Path, first_line: int = 1) -> list[Block]:
    """Every fenced code block of a Markdown `text` that starts on line `first_line` of `path`.

    Raises:
        DocsFormatError: for a fence that is never closed, a skip marker without a reason,
            or a file marker without a relative path.
    """
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        end = next(
            (
                i
                for i in range(index + 1, len(lines))
                if lines[i].strip().startswith(fence) and not lines[i].strip().strip(fence[0])
            ),
            None,
        )
        if end is None:
            raise DocsFormatError(f"{path}:{first_line + index}: the code fence is never closed")
        code = "\n".join(_dedent(line, indent) for line in lines[index + 1 : end])
        blocks.append(
            Block(
                document=document,
                path=path,
                line=first_line + index + 1,
                language=opening["info"].lower(),
                code=code + "\n",
                skip_reason=_skip_reason(lines[:index], f"{path}:{first_line + index}"),
                file=_file_path(lines[:index], f"{path}:{first_line + index}"),
            )
        )
        index = end + 1
    return blocks


def _dedent(line: str, indent: int) -> str:
    """The line without the fence's indentation (or as much of it as it has)."""
    return line[min(indent, len(line) - len(line.lstrip(" "))) :]


def _previous_line(before: list[str]) -> str:
    return next((line for line in reversed(before) if line.strip()), "")


def _file_path(before: list[str], where: str) -> str | None:
    marker = _FILE.match(_previous_line(before))
    if marker is None:
        return None
    path = marker["path"].strip()
    if not _FILE_PATH.fullmatch(path) or ".." in path.split("/"):
        raise DocsFormatError(f"{where}: a file marker needs a relative path, not {path!r}")
    return path


def _skip_reason(before: list[str], where: str) -> str | None:
    marker = _SKIP.match(_previous_line(before))
    if marker is None:
        return None
    reason = marker["reason"].strip()
    if not reason:
        raise DocsFormatError(f"{where}: say why the block is not executed")
    return reason


def document(name: str) -> list[Block]:
    """The code blocks of a document, by its path from the repository's root."""
    path = ROOT / name
    return fenced_blocks(path.read_text(), document=name, path=path)


def readme() -> list[Block]:
    """The code blocks of README.md."""
    return document("README.md")


def document_names() -> list[str]:
    """README.md, then every page of docs/, by name."""
    return ["README.md", *(f"docs/{page.name}" for page in sorted(DOCS.glob("*.md")))]


DOCUMENTS = {name: functools.partial(document, name) for name in document_names()}


def quick_start_files() -> dict[str, Block]:
    """The quick-start charm's files, from the file blocks of every document, by path.

    Raises:
        DocsFormatError: if two blocks claim the same path.
    """
    return files([block for load in DOCUMENTS.values() for block in load()])


def importable_elsewhere(name: str) -> list[Block]:
    """The file blocks of the other documents that are importable modules (`src/charm.py`)."""
    return [
        block
        for other, load in DOCUMENTS.items()
        if other != name
        for block in load()
        if block.file is not None and import_name(block.file) and block.language == "python"
    ]


def run_document(name: str) -> list[ExampleCharm]:
    """Run a document's blocks, with the modules that other documents' file blocks are."""
    return run_blocks(DOCUMENTS[name](), modules=importable_elsewhere(name))


def python_blocks(blocks: list[Block]) -> list[Block]:
    """The blocks the docs check runs and type-checks."""
    return [block for block in blocks if block.language == "python"]


def _endpoint_snippets(blocks: list[Block]) -> Iterator[dict[str, Any]]:
    """The document's `yaml` blocks that declare relation endpoints, parsed."""
    for block in blocks:
        if block.language != "yaml":
            continue
        data: object = yaml.safe_load(block.code)
        if not isinstance(data, dict):
            continue
        snippet = cast("dict[str, Any]", data)
        if {"peers", "requires", "provides"} & snippet.keys():
            yield snippet


def charm_metadata(blocks: list[Block]) -> dict[str, Any]:
    """The document's metadata: its `yaml` blocks that declare relation endpoints, merged.

    A whole `charmcraft.yaml` counts too; its `config` and `actions` are left out (see
    `charm_config`).
    """
    meta: dict[str, Any] = {"name": "docs-example"}
    for snippet in _endpoint_snippets(blocks):
        meta.update({key: value for key, value in snippet.items() if key not in _NOT_METADATA})
    return meta


def charm_config(blocks: list[Block]) -> dict[str, Any] | None:
    """The config options of the document's `charmcraft.yaml`-like blocks, merged, if any."""
    options: dict[str, Any] = {}
    for snippet in _endpoint_snippets(blocks):
        config: Any = snippet.get("config") or {}
        options.update(config.get("options") or {})
    return {"options": options} if options else None


def charm_actions(blocks: list[Block]) -> dict[str, Any] | None:
    """The actions of the document's `charmcraft.yaml`-like blocks, merged, if any."""
    actions: dict[str, Any] = {}
    for snippet in _endpoint_snippets(blocks):
        actions.update(snippet.get("actions") or {})
    return actions or None


def files(blocks: list[Block]) -> dict[str, Block]:
    """The blocks that are whole files, by their path in the charm directory.

    Raises:
        DocsFormatError: if two blocks claim the same path.
    """
    found: dict[str, Block] = {}
    for block in blocks:
        if block.file is None:
            continue
        if block.file in found:
            raise DocsFormatError(
                f"{block.where}: {block.file} is already the block at {found[block.file].where}"
            )
        found[block.file] = block
    return found


def import_name(file: str) -> str | None:
    """The module name a charm's Python file is imported by (`src/charm.py`: `charm`), if any."""
    for root in ("src/", "lib/"):
        if file.startswith(root) and file.endswith(".py"):
            return file[len(root) : -len(".py")].replace("/", ".")
    return None


# Running


@dataclass(frozen=True)
class ExampleCharm:
    """An `ops.CharmBase` subclass a block defined."""

    block: Block
    name: str
    charm_type: type[Any]


def run_blocks(blocks: list[Block], *, modules: Sequence[Block] = ()) -> list[ExampleCharm]:
    """Execute the executable Python blocks in order in one fresh module's namespace.

    A file block runs in a module of its own (importable by its module name while the
    blocks run, if it is under `src/` or `lib/`), whose names then join the namespace.
    `modules` are file blocks of other documents, each run first as the module it is
    (`src/charm.py` as `charm`), importable while the blocks run; their names do not
    join the namespace. A traceback names the document's file and line. Returns the
    charm classes that the blocks defined, each with the block that defined it.
    """
    namespace = types.ModuleType(f"docs_example_{next(_unique)}")
    replaced: dict[str, types.ModuleType | None] = {}

    def register(name: str, module: types.ModuleType) -> None:
        if name not in replaced:
            replaced[name] = sys.modules.get(name)
        sys.modules[name] = module  # pydantic and ops look classes' modules up

    register(namespace.__name__, namespace)
    charms: list[ExampleCharm] = []
    try:
        for block in modules:
            name = import_name(block.file or "")
            if name is None:
                raise DocsFormatError(f"{block.where}: not a module of the charm")
            module = types.ModuleType(name)
            register(name, module)
            code = compile("\n" * (block.line - 1) + block.code, str(block.path), "exec")
            exec(code, module.__dict__)  # noqa: S102 (our own docs)
        for block in python_blocks(blocks):
            if block.skip_reason is not None:
                continue
            module = namespace
            if block.file is not None:
                name = import_name(block.file) or f"docs_file_{next(_unique)}"
                module = types.ModuleType(name)
                register(name, module)
            before = dict(namespace.__dict__)
            # Padding keeps line numbers: tracebacks point into the document itself.
            code = compile("\n" * (block.line - 1) + block.code, str(block.path), "exec")
            exec(code, module.__dict__)  # noqa: S102 (our own docs)
            if module is not namespace:
                namespace.__dict__.update(
                    (name, value)
                    for name, value in module.__dict__.items()
                    if not name.startswith("__")
                )
            for name, value in namespace.__dict__.items():
                if (
                    isinstance(value, type)
                    and issubclass(value, ops.CharmBase)
                    and value.__module__ == module.__name__
                    and before.get(name) is not value
                ):
                    charms.append(ExampleCharm(block, name, value))
    finally:
        for name, previous in replaced.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return charms


# Type-checking


def _bound_names(table: symtable.SymbolTable) -> set[str]:
    """The names a module binds at its top level."""
    return {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}


def _global_uses(table: symtable.SymbolTable, *, top: bool = True) -> set[str]:
    """The module-level names a module uses, at its top level or in any nested scope."""
    names = {
        symbol.get_name()
        for symbol in table.get_symbols()
        if symbol.is_referenced() and (top or symbol.is_global())
    }
    for child in table.get_children():
        names |= _global_uses(child, top=False)
    return names


@dataclass(frozen=True)
class CheckedFile:
    """A block written out for pyright, and how its lines map back to the document."""

    block: Block
    path: Path
    offset: int  # how many import lines come before the block's code

    def document_line(self, file_line: int) -> int:
        """The document line of a 0-based line of the written file."""
        return self.block.line + file_line - self.offset


def write_for_pyright(documents: dict[str, list[Block]], directory: Path) -> list[CheckedFile]:
    """Write each Python block as a module of its own, importing what it uses from earlier ones.

    A module lists in `__all__` the names that later blocks import from it, so that an
    import which only later blocks use is not reported as unused. A file block is
    written as it stands, under its module name if it has one (`src/charm.py` as
    `charm.py`), so that later blocks import it as the charm's tests do.

    Raises:
        DocsFormatError: if a file block uses a name that only earlier blocks define,
            or two documents have a file with the same module name.
    """
    written: list[CheckedFile] = []
    taken: dict[str, Block] = {}  # module names of file blocks, across documents
    for number, blocks in enumerate(documents.values()):
        defined_in: dict[str, str] = {}  # name -> the module of the block that last bound it
        exported: dict[str, set[str]] = {}  # module -> names later blocks import from it
        modules: list[tuple[str, Block, list[str]]] = []
        for index, block in enumerate(python_blocks(blocks)):
            module_name = f"doc{number}_block{index:02d}"
            table = symtable.symtable(block.code, block.where, "exec")
            bound = _bound_names(table)
            earlier = sorted(
                (_global_uses(table) - bound - set(dir(builtins))) & defined_in.keys()
            )
            if block.file is not None:
                if earlier:
                    raise DocsFormatError(
                        f"{block.where}: {block.file} is a whole file, but it uses"
                        f" {', '.join(earlier)} from earlier blocks"
                    )
                module_name = import_name(block.file) or module_name
                if module_name in taken:
                    raise DocsFormatError(
                        f"{block.where}: module {module_name} is already the block at"
                        f" {taken[module_name].where}"
                    )
                taken[module_name] = block
            for name in earlier:
                exported.setdefault(defined_in[name], set()).add(name)
            modules.append(
                (
                    module_name,
                    block,
                    [f"from {defined_in[name]} import {name}" for name in earlier],
                )
            )
            defined_in.update(dict.fromkeys(bound, module_name))
        for module_name, block, imports in modules:
            path = directory / f"{module_name}.py"
            names = sorted(exported.get(module_name, ()))
            footer = f"\n__all__ = {names!r}\n" if names else ""
            path.write_text("".join(f"{line}\n" for line in imports) + block.code + footer)
            written.append(CheckedFile(block, path, len(imports)))
    (directory / "pyrightconfig.json").write_text(
        json.dumps(
            {
                "typeCheckingMode": "strict",
                "pythonVersion": "3.10",
                "extraPaths": [str(LIB), str(STUBS)],
                "reportMissingModuleSource": False,
            }
        )
    )
    return written


def pyright_problems(files: list[CheckedFile], directory: Path) -> Iterator[str]:
    """Run pyright (the one installed with this Python) on the written blocks.

    Yields:
        One `file:line: severity: message` per error or warning, with the document's
        file and line.
    """
    result = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        yield f"pyright did not run: {result.stdout}{result.stderr}"
        return
    by_path = {str(file.path.resolve()): file for file in files}
    for diagnostic in report["generalDiagnostics"]:
        if diagnostic["severity"] not in ("error", "warning"):
            continue
        file = by_path[str(Path(diagnostic["file"]).resolve())]
        line = file.document_line(diagnostic["range"]["start"]["line"])
        where = f"{file.block.where.rsplit(':', 1)[0]}:{line}"
        rule = f" ({diagnostic['rule']})" if "rule" in diagnostic else ""
        yield f"{where}: {diagnostic['severity']}: {diagnostic['message']}{rule}"
    if result.returncode not in (0, 1):
        yield f"pyright exited {result.returncode}: {result.stderr}"
