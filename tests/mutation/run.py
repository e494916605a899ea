"""Mutation testing of the library against the unit suite, with mutmut 3 (`tox -e mutate`).

Usage::

    tox -e mutate                                # every mutant of every library file
    tox -e mutate -- --only 'LeaderConfig._write*' --only _digest    # in the core
    tox -e mutate -- --only 'rollouts:*'         # every function of rollouts.py
    tox -e mutate -- --max 40                    # a quick sample
    python tests/mutation/run.py --help          # the same, in any env with mutmut

Options (after `--` with tox):

    --only PATTERN      mutate only the functions whose name matches the glob
                        PATTERN, named as in equivalent.txt (see "Function names"
                        below): `_digest`, `Codec.*`, `LeaderConfig._write*` in the
                        core; `rollouts:Rollouts.rollout`, `testing:*` in the others;
                        `*:_applied` in any file; repeatable.
    --max N             test at most N mutants, spread evenly over the selection.
    --jobs N            mutants tested at once (default: the number of CPUs).
    --skip-tests FILE   leave out the test file tests/scenario/FILE (say
                        test_properties.py, the slowest, for a quicker run);
                        repeatable.
    --rev REV           test the library and the tests of git revision REV (say HEAD)
                        instead of the working tree.
    --list              print the selected mutants (file:line, original → mutated)
                        and test nothing.
    --check-equivalent  also test the mutants listed as equivalent, and report any
                        that a test kills (their entry is then wrong).
    --fail-under P      exit 1 if the overall score is below P percent.
    --workdir DIR       where to build the mutated tree (emptied first; default: a
                        temporary folder, removed afterwards). `tox -e mutate` uses
                        `.tox/mutate/tmp/mutmut` and keeps it, so that
                        `cd .tox/mutate/tmp/mutmut && mutmut show NAME` works.

What it does: every library file, `lib/charms/leader_config/v0/*.py`, is mutated:
the core `leader_config.py`, the optional modules `rollouts.py` and `adoption.py`,
and the test helpers `testing.py` and `testing_harness.py`. mutmut names a module
after its path and strips only `src/`, so the tree is copied to the work folder with
the library package under `src/charms` (`lib/charms` is a symlink to it, for the
pytest `pythonpath` and for code that finds the library by path). mutmut first runs
the suite once to record which tests call each function; each mutant then runs only
those tests, fastest first, stopping at the first failure. The unit suite is
`pytest -m "not pyright" tests/scenario` with hypothesis seeded
(`--hypothesis-seed=0`, so a run is repeatable), less `test_budget.py` (its hooks
run in separate processes that always load the unmutated code, so it cannot kill a
mutant) and the tests of `test_sizes.py` that count the lines of the library files
(mutmut's copy of every function multiplies them; see ALWAYS_DESELECTED). The tests
marked `modules` (they need rollouts.py or adoption.py, and `tox -e unit-core`
leaves them out) run here, as every file is in the tree; they are the ones that
reach the two modules. mutmut does not mutate functions with decorators other than
`staticmethod` and `classmethod` (such as `edit()`, or testing.py's cached
`_unit_record`).

Function names: a mutant's function is its qualified name in its file (`_digest`,
`LeaderConfig._write`). Names clash between files (`rollout` is a method of the
core's `LeaderConfig` and of rollouts.py's `Rollouts`), so a function of a file other
than the core is named after its module and a colon: `rollouts:Rollouts.rollout`,
`adoption:_changed_fields`, `testing:_secret`. A name without a colon means the core
(`leader_config:_digest` is the same as `_digest`), in --only and in equivalent.txt
alike: so `--only '*'` selects the core's functions, and `--only '*:*'` every file's.

mutmut runs the tests in its own process, with changes made here (see LAUNCHER):
the modules it imported whose names the tests use for their own (`rich`,
tests/scenario/rich.py) are dropped first; its record of which function called
which (used only for its own incremental reruns) is off, as it crashed that process
(SIGSEGV in ContextVar.reset); testing.py's caches of throwaway runs are emptied
before each test, since every mutant's tests run in a process forked from the one
that ran the whole suite, where they would answer with the unmutated code; and a
mutant that breaks the import of the tests counts as killed.

Time: a surviving mutant runs every test that calls its function, so survivors cost
most of a run, the property test (`test_properties.py`, the slowest) above all;
`--skip-tests test_properties.py` made a run about twice as quick (on LIBPATCH 10,
where it killed no mutant that the other tests missed). Each run starts afresh:
mutmut's cache of earlier results is not used, as the tests change too.

Equivalent mutants are listed in `tests/mutation/equivalent.txt` (format described
there), each keyed by the function name (as above) and the original and mutated
source text (the changed lines only, stripped: for a call over several lines, the
line that changes), so that entries survive edits elsewhere in the file. They are not
tested (unless `--check-equivalent`) and do not count in the score. Entries that
match no mutant of the current files are reported as stale.

Output: the surviving mutants grouped by function (file:line, original → mutated),
a `survivors.txt` in the work folder in the format of `equivalent.txt` (to copy
entries from), the score of each file, and as the last line `mutation score: K/N
killed (P%)` over every file, where N counts the tested mutants that are not listed
as equivalent, and K those a test killed (a timeout counts as killed).
"""

from __future__ import annotations

import argparse
import ast
import codecs
import difflib
import fnmatch
import importlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LIBRARY = Path("lib/charms/leader_config/v0")  # every `*.py` file in it is mutated
# mutmut derives module names from paths, dropping only a leading `src/`.
STAGED_LIBRARY = Path("src") / LIBRARY.relative_to("lib")
PACKAGE = "charms.leader_config.v0"
# The file whose functions go unqualified in --only and equivalent.txt (`_digest`);
# those of the others are qualified with their module (`rollouts:Rollouts.rollout`).
CORE = "leader_config"
EQUIVALENT = Path(__file__).resolve().parent / "equivalent.txt"

TESTS = Path("tests/scenario")
# Its hooks run in separate processes, which load the unmutated library.
ALWAYS_SKIPPED = ("test_budget.py",)
# They count the lines of the library files, which mutmut's copies of every function
# multiply whatever the mutant: they fail for all and can tell none apart. (A new test
# of that kind fails the run's first step, which names it: add it here.)
ALWAYS_DESELECTED = (
    "test_sizes.py::test_the_core_and_the_test_helpers_stay_within_their_line_budgets",
    "test_sizes.py::test_the_readme_states_each_files_lines_and_what_each_kind_of_charm_vendors",
)


def mutmut_config(sources: Iterable[Path], skipped: Iterable[str]) -> str:
    """The [tool.mutmut] table: the library files to mutate and the tests to run."""
    selection = [TESTS.as_posix(), "-m", "not pyright"]
    selection += [f"--ignore={(TESTS / name).as_posix()}" for name in skipped]
    selection += [f"--deselect={(TESTS / node).as_posix()}" for node in ALWAYS_DESELECTED]
    return f"""

[tool.mutmut]
source_paths = {json.dumps([source.as_posix() for source in sources])}
pytest_add_cli_args_test_selection = {json.dumps(selection)}
pytest_add_cli_args = ["-p", "no:cacheprovider", "--hypothesis-seed=0"]
use_git_change_detection = false
use_setproctitle = false
"""


KILLED = {"killed", "timeout", "segfault", "caught by type check"}
NOT_KILLED = {"survived", "no tests", "suspicious"}
SPINNER = re.compile(r"^[\u2800-\u28ff] ")
REPORT_EVERY = 30.0  # seconds between progress lines


def qualify(name: str) -> str:
    """`_digest` -> `leader_config:_digest`; a name with a module stays as it is."""
    return name if ":" in name else f"{CORE}:{name}"


@dataclass(frozen=True)
class Mutant:
    """One mutant: mutmut's name for it and what it changes."""

    name: str  # mutmut's full name, `charms.leader_config.v0.rollouts.x..__mutmut_N`
    module: str  # the library file's stem: `leader_config`, `rollouts`
    function: str  # qualified name in that file: `LeaderConfig._write`, `_digest`
    line: int  # first changed line in the library file
    original: str  # the changed original lines, stripped, joined by one space
    mutated: str  # the lines that replace them, likewise

    @property
    def file(self) -> str:
        return f"{self.module}.py"

    @property
    def key(self) -> str:
        """The function as --only and equivalent.txt name it: the core's unqualified."""
        return self.function if self.module == CORE else f"{self.module}:{self.function}"

    @property
    def identity(self) -> tuple[str, str, str]:
        return (qualify(self.key), self.original, self.mutated)


@dataclass(frozen=True)
class Equivalent:
    """An entry of equivalent.txt."""

    function: str  # `_digest` (the core) or `rollouts:Rollouts.rollout`
    original: str
    mutated: str
    reason: str
    lineno: int  # in equivalent.txt

    @property
    def identity(self) -> tuple[str, str, str]:
        return (qualify(self.function), self.original, self.mutated)


# The list of equivalent mutants


EQUIVALENT_KEYS = ("function", "original", "mutated", "reason")


def parse_equivalents(text: str, source: str = "equivalent.txt") -> list[Equivalent]:
    """Parse records of `key: value` lines, separated by blank lines; `#` starts a comment.

    A line that starts with whitespace continues the previous value (for long reasons).
    """
    entries: list[Equivalent] = []
    record: dict[str, str] = {}
    start = 0
    last_key = ""

    def close() -> None:
        if not record:
            return
        missing = [key for key in EQUIVALENT_KEYS if not record.get(key)]
        if any(key != "mutated" for key in missing):
            raise ValueError(
                f"{source}:{start}: an entry needs a function, original and reason"
                f" (missing or empty: {', '.join(missing)})"
            )
        record.setdefault("mutated", "")
        entries.append(Equivalent(**record, lineno=start))
        record.clear()

    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        if not line.strip():
            close()
            continue
        if line[0].isspace():
            if not record:
                raise ValueError(f"{source}:{lineno}: a continuation line outside an entry")
            record[last_key] = f"{record[last_key]} {line.strip()}".strip()
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or key not in EQUIVALENT_KEYS:
            raise ValueError(
                f"{source}:{lineno}: expected 'KEY: value' with KEY one of"
                f" {', '.join(EQUIVALENT_KEYS)}, got {line!r}"
            )
        if key in record:
            raise ValueError(f"{source}:{lineno}: {key} given twice in one entry")
        if not record:
            start = lineno
        record[key] = value.strip()
        last_key = key
    close()
    seen: dict[tuple[str, str, str], int] = {}
    for entry in entries:
        if entry.identity in seen:
            raise ValueError(
                f"{source}:{entry.lineno}: the same mutant as the entry at line"
                f" {seen[entry.identity]}"
            )
        seen[entry.identity] = entry.lineno
    return entries


def format_entry(mutant: Mutant, reason: str = "") -> str:
    """An entry of equivalent.txt for `mutant`."""
    lines = [
        f"function: {mutant.key}",
        f"original: {mutant.original}",
        f"mutated: {mutant.mutated}",
        f"reason: {reason}",
    ]
    return "".join(line.rstrip() + "\n" for line in lines)


# Staging the tree that mutmut works in


def run_git(args: Sequence[str], cwd: Path) -> bytes:
    return subprocess.run(  # noqa: S603 (git, with our own arguments)
        ["git", *args],  # noqa: S607 (git from PATH, as a developer runs it)
        cwd=cwd,
        check=True,
        stdout=subprocess.PIPE,
    ).stdout


def copy_tree(workdir: Path, rev: str | None) -> Path:
    """Copy the project (the working tree, or revision `rev`) to `workdir/mutants`."""
    tree = workdir / "mutants"
    tree.mkdir(parents=True)
    if rev is not None:
        archive = run_git(["archive", "--format=tar", rev], REPO)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
        return tree
    listing = run_git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], REPO)
    for name in sorted(set(listing.decode().split("\0")) - {""}):
        source = REPO / name
        if not source.is_file():  # deleted in the working tree, or a submodule
            continue
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return tree


def stage(workdir: Path, rev: str | None, skipped: Sequence[str]) -> list[Path]:
    """Lay out `workdir` for mutmut: config, the library to mutate, the tree to test in.

    Returns the library files staged, relative to `workdir`, the core first.
    """
    if workdir.exists():
        shutil.rmtree(workdir)
    tree = copy_tree(workdir, rev)
    lib_package, src_package = tree / "lib" / "charms", tree / "src" / "charms"
    if not (tree / LIBRARY / f"{CORE}.py").is_file():
        raise SystemExit(f"{LIBRARY / CORE}.py not found in the tree to test")
    if src_package.exists():
        raise SystemExit("src/charms exists: the mutation tree needs that name for the library")
    shutil.move(lib_package, src_package)
    lib_package.symlink_to(Path("..") / "src" / "charms", target_is_directory=True)
    # mutmut copies the library from here into the tree, mutated.
    names = sorted(path.name for path in (tree / STAGED_LIBRARY).glob("*.py"))
    sources = [STAGED_LIBRARY / name for name in sorted(names, key=lambda n: n != f"{CORE}.py")]
    (workdir / STAGED_LIBRARY).mkdir(parents=True)
    for source in sources:
        shutil.move(tree / source, workdir / source)
    for name in skipped:
        if not (tree / TESTS / name).is_file():
            raise SystemExit(f"--skip-tests {name}: no such file in {TESTS}")
    pyproject = (tree / "pyproject.toml").read_text()
    if re.search(r"^\[tool\.mutmut\]", pyproject, flags=re.MULTILINE):
        raise SystemExit("pyproject.toml has a [tool.mutmut] table: this script writes its own")
    pyproject += mutmut_config(sources, [*ALWAYS_SKIPPED, *skipped])
    (tree / "pyproject.toml").write_text(pyproject)
    (workdir / "pyproject.toml").write_text(pyproject)
    return sources


# The mutants


def qualified_name(mangled: str) -> str:
    """`xǁLeaderConfigǁ_write` -> `LeaderConfig._write`; `x__digest` -> `_digest`."""
    if mangled.startswith("x\u01c1"):
        _, cls, function = mangled.split("\u01c1")
        return f"{cls}.{function}"
    return mangled.removeprefix("x_")


def mutated_functions(code: str) -> dict[str, list[str]]:
    """The lines of each function in mutmut's file, by (unique, mangled) name."""
    lines = code.splitlines()
    return {
        node.name: lines[node.lineno - 1 : node.end_lineno or node.lineno]
        for node in ast.walk(ast.parse(code))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def def_lines(source: str) -> dict[str, int]:
    """The `def` line of each function and method of `source`, by name or Class.name."""
    found: dict[str, int] = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{node.name}.{item.name}"] = item.lineno
    return found


def describe(
    module: str, original_source: str, mutated_code: str, names: Iterable[str]
) -> list[Mutant]:
    """Work out each mutant's function, line and changed text from mutmut's mutated file."""
    functions = mutated_functions(mutated_code)
    def_line = def_lines(original_source)
    mutants: list[Mutant] = []
    for name in names:
        mangled, _, _ = name.partition("__mutmut_")
        function = qualified_name(mangled)
        before = functions[f"{mangled}__mutmut_orig"]
        after = functions[name]
        after = [line.replace(name, f"{mangled}__mutmut_orig") for line in after]
        removed: list[str] = []
        added: list[str] = []
        first = -1
        matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            first = i1 if first < 0 else first
            removed += before[i1:i2]
            added += after[j1:j2]
        mutants.append(
            Mutant(
                name=f"{PACKAGE}.{module}.{name}",
                module=module,
                function=function,
                line=def_line[function] + max(first, 0),
                original=" ".join(line.strip() for line in removed),
                mutated=" ".join(line.strip() for line in added),
            )
        )
    return sorted(mutants, key=lambda m: (m.line, m.name))


def generate(workdir: Path, sources: Iterable[Path]) -> list[Mutant]:
    """The mutants of each of `sources`, in order, as `mutmut run` will make them.

    The same code makes them, in the same version of mutmut.
    """
    cwd = Path.cwd()
    os.chdir(workdir)  # mutmut reads its config from the current folder
    mutants: list[Mutant] = []
    try:
        file_mutation: Any = importlib.import_module("mutmut.mutation.file_mutation")
        for path in sources:
            source = path.read_text()
            mutated: Any = file_mutation.mutate_file_contents(str(path), source)
            names = [str(name) for name in mutated.mutant_names]
            mutants += describe(path.stem, source, str(mutated.code), names)
    finally:
        os.chdir(cwd)
    return mutants


def spread(items: list[Mutant], count: int) -> list[Mutant]:
    """At most `count` of `items`, evenly spaced."""
    if count >= len(items):
        return items
    return [items[i * len(items) // count] for i in range(count)]


# Running mutmut


def mutmut_command() -> str:
    found = shutil.which("mutmut", path=str(Path(sys.executable).parent)) or shutil.which("mutmut")
    if found is None:
        raise SystemExit("mutmut is not installed (tox -e mutate installs it)")
    return found


# Runs mutmut's command line, with three changes to its process, where it runs the tests:
# - it drops the modules mutmut imported (`rich`, for its browser) whose names the tests
#   use for modules of their own (tests/scenario/rich.py), which the cached ones would hide;
# - its record of which library function called which (for its incremental reruns, which
#   this script does not use) is turned off: the ContextVar it keeps that record in made
#   the recording run crash (SIGSEGV in ContextVar.reset) with CPython 3.11;
# - before each test, the library's caches of throwaway runs (testing.py's `lru_cache`s)
#   are emptied: each mutant's tests run in a process forked from the one that recorded
#   which tests call each function, whose caches would otherwise answer with the
#   unmutated code, and hide from that record the functions a cached run calls;
# - a mutant that breaks the import of the tests (pytest's exit 4 for a conftest, or 2 for
#   a test module: `hasattr(module, "__path__")` in an import calls the core's module
#   `__getattr__`) counts as killed, not as a broken set-up (exit 4) or an interrupted
#   run (exit 2); so does mutmut's check that a failing library fails the tests.
LAUNCHER = """
import sys
import mutmut.__main__ as main
from mutmut.core import MutmutCallStack
from mutmut.mutation.trampoline import get_mutant_under_test
from mutmut.runners.harness import BadTestExecutionCommandsException, PytestRunner
shadowed = set(sys.argv.pop(1).split(","))
for name in [m for m in sys.modules if m.partition(".")[0] in shadowed]:
    del sys.modules[name]
MutmutCallStack.get = classmethod(lambda cls: (None, 0))
MutmutCallStack.set = classmethod(lambda cls, value: None)
MutmutCallStack.reset = classmethod(lambda cls, token: None)

class ForgetCachedRuns:
    def pytest_runtest_logstart(self, nodeid, location):
        for name, module in list(sys.modules.items()):
            if name.startswith("charms.leader_config."):
                for value in list(vars(module).values()):
                    if callable(getattr(type(value), "cache_clear", None)):
                        value.cache_clear()

execute_pytest = PytestRunner.execute_pytest
def execute(self, params, **kwargs):
    kwargs["plugins"] = [*kwargs.get("plugins", []), ForgetCachedRuns()]
    mutated = get_mutant_under_test()
    mutated = "__mutmut_" in mutated or mutated == "fail"
    try:
        code = execute_pytest(self, params, **kwargs)
    except BadTestExecutionCommandsException:
        if not mutated:
            raise
        return 1
    return 1 if mutated and code == 2 else code
PytestRunner.execute_pytest = execute
sys.argv[0] = "mutmut"
main.cli()
"""


def test_module_names(tree: Path) -> list[str]:
    """The top-level module names that the test folder provides."""
    folder = tree / TESTS
    names = {path.stem for path in folder.glob("*.py")}
    names |= {path.parent.name for path in folder.glob("*/__init__.py")}
    return sorted(names)


def run_mutmut(workdir: Path, names: list[str], jobs: int) -> None:
    """Run `mutmut run` on `names` (all mutants if empty), printing progress now and then."""
    log_path = workdir / "mutmut.log"
    shadowed = ",".join(test_module_names(workdir / "mutants"))
    command = [sys.executable, "-c", LAUNCHER, shadowed, "run", "--max-children", str(jobs)]
    command += names
    env = {key: value for key, value in os.environ.items() if key != "MUTANT_UNDER_TEST"}
    env["PYTHONUNBUFFERED"] = "1"  # progress as it happens, not in blocks
    printed: set[str] = set()
    testing = False  # after this, only the progress line: the rest is in the log
    last_report = time.monotonic()
    status = ""
    with (
        log_path.open("wb") as log,
        subprocess.Popen(  # noqa: S603 (mutmut, with our own arguments)
            command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        ) as process,
    ):
        assert process.stdout is not None
        pending = ""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while chunk := os.read(process.stdout.fileno(), 65536):
            log.write(chunk)
            pending += decoder.decode(chunk)
            *parts, pending = re.split(r"[\r\n]", pending)
            for part in parts:
                text = part.strip()
                spinner = SPINNER.match(text)
                if spinner:
                    text = status = text[spinner.end() :]
                if testing or not text or text in printed or text.startswith("also copying"):
                    continue
                testing = text.startswith("Running mutation testing")
                printed.add(text)
                print(f"  mutmut: {text}", flush=True)
            if testing and time.monotonic() - last_report > REPORT_EVERY:
                last_report = time.monotonic()
                print(f"  mutmut: {status}", flush=True)
        code = process.wait()
    if status:
        print(f"  mutmut: {status}", flush=True)
    if code != 0:
        tail = log_path.read_text(errors="replace").replace("\r", "\n").splitlines()[-40:]
        print("\n".join(tail))
        raise SystemExit(f"mutmut run failed (exit {code}); its output is in {log_path}")


def mutmut_results(workdir: Path) -> dict[str, str]:
    """Each mutant's status (`killed`, `survived`, `no tests`, `timeout`, ...), by name."""
    output = subprocess.run(  # noqa: S603 (mutmut, with our own arguments)
        [mutmut_command(), "results", "--all", "true"],
        cwd=workdir,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    results: dict[str, str] = {}
    for line in output.splitlines():
        name, sep, status = line.strip().partition(": ")
        if sep and name.startswith(f"{PACKAGE}."):
            results[name] = status
    return results


# The report


def print_mutants(title: str, mutants: list[Mutant], statuses: dict[str, str]) -> None:
    print(f"\n{title} ({len(mutants)}), by function:")
    by_function: dict[str, list[Mutant]] = {}
    for mutant in sorted(mutants, key=in_order):
        by_function.setdefault(mutant.key, []).append(mutant)
    for function, group in by_function.items():
        print(f"  {function}")
        for mutant in group:
            status = statuses.get(mutant.name, "")
            note = f"  [{status}]" if status not in ("", "survived", "killed") else ""
            mutated = mutant.mutated or "(removed)"
            print(f"    {mutant.file}:{mutant.line}  {mutant.original}  →  {mutated}{note}")


def in_order(mutant: Mutant) -> tuple[bool, str, int, str]:
    """Sort key: the core's mutants first, then file by file, by line."""
    return (mutant.module != CORE, mutant.module, mutant.line, mutant.name)


def print_stale(stale: list[Equivalent]) -> None:
    if stale:
        print(f"\n{EQUIVALENT.name}: {len(stale)} entries match no mutant of the current files:")
        for entry in stale:
            print(f"  line {entry.lineno}: {entry.function}: {entry.original} → {entry.mutated}")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Mutation testing of the library against the unit suite (mutmut).",
        epilog="See the module docstring of tests/mutation/run.py for how it works.",
    )
    parser.add_argument("--only", action="append", default=[], metavar="PATTERN")
    parser.add_argument("--max", type=int, metavar="N")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, metavar="N")
    parser.add_argument("--skip-tests", action="append", default=[], metavar="FILE")
    parser.add_argument("--rev", metavar="REV")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--check-equivalent", action="store_true")
    parser.add_argument("--fail-under", type=float, metavar="P")
    parser.add_argument("--workdir", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    if args.max is not None and args.max < 1:
        parser.error("--max must be at least 1")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    equivalents = parse_equivalents(EQUIVALENT.read_text(), EQUIVALENT.name)
    listed = {entry.identity: entry for entry in equivalents}
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="leader-config-mutate-"))
    workdir = workdir.resolve()
    try:
        mutants = generate(workdir, stage(workdir, args.rev, args.skip_tests))
        identities = {mutant.identity for mutant in mutants}
        stale = [entry for entry in equivalents if entry.identity not in identities]
        patterns = [qualify(pattern) for pattern in args.only]
        selected = [
            mutant
            for mutant in mutants
            if not patterns or any(fnmatch.fnmatchcase(qualify(mutant.key), p) for p in patterns)
        ]
        untested = 0  # equivalent mutants left out
        if not args.check_equivalent:
            untested = sum(1 for mutant in selected if mutant.identity in listed)
            selected = [mutant for mutant in selected if mutant.identity not in listed]
        if args.max is not None:
            selected = spread(selected, args.max)
        skipped = len(mutants) - len(selected)
        print(
            f"{LIBRARY}: {len(mutants)} mutants ({count_by_file(mutants)}); testing"
            f" {len(selected)} ({skipped} left out: equivalent, --only or --max) with"
            f" {args.jobs} job(s)",
            flush=True,
        )
        if not selected:
            print("no mutant selected")
            return 1
        if args.list:
            print_mutants("Selected mutants", selected, {})
            print_stale(stale)
            return 0
        names = [] if len(selected) == len(mutants) else [mutant.name for mutant in selected]
        run_mutmut(workdir, names, args.jobs)
        statuses = mutmut_results(workdir)
        return report(
            workdir, selected, statuses, listed, stale, started, args.fail_under, untested
        )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def count_by_file(mutants: Iterable[Mutant]) -> str:
    """`leader_config.py 1480, rollouts.py 250`: how many of `mutants` each file has."""
    counts: dict[str, int] = {}
    for mutant in sorted(mutants, key=in_order):
        counts[mutant.file] = counts.get(mutant.file, 0) + 1
    return ", ".join(f"{file} {count}" for file, count in counts.items())


def score_line(killed: int, total: int) -> str:
    percent = 100.0 * killed / total if total else 0.0
    return f"{killed}/{total} killed ({percent:.1f}%)"


def report(
    workdir: Path,
    selected: list[Mutant],
    statuses: dict[str, str],
    listed: dict[tuple[str, str, str], Equivalent],
    stale: list[Equivalent],
    started: float,
    fail_under: float | None,
    untested: int,
) -> int:
    killed: list[Mutant] = []
    surviving: list[Mutant] = []
    unchecked: list[Mutant] = []
    equivalent: list[Mutant] = []
    wrong: list[Mutant] = []  # listed as equivalent, yet killed
    for mutant in selected:
        status = statuses.get(mutant.name, "not checked")
        if mutant.identity in listed:
            (wrong if status in KILLED else equivalent).append(mutant)
        elif status in KILLED:
            killed.append(mutant)
        elif status in NOT_KILLED:
            surviving.append(mutant)
        else:
            unchecked.append(mutant)
    if surviving:
        print_mutants("Surviving mutants", surviving, statuses)
        (workdir / "survivors.txt").write_text("\n".join(format_entry(m) for m in surviving))
        print(f"\n(entries to copy into {EQUIVALENT.name}: {workdir / 'survivors.txt'})")
    if wrong:
        print_mutants(f"Killed, but listed in {EQUIVALENT.name}: fix these entries", wrong, {})
    print_stale(stale)
    if unchecked:
        print_mutants("Not checked (the run did not finish them)", unchecked, statuses)
    score = len(killed) + len(wrong)
    total = score + len(surviving)
    percent = 100.0 * score / total if total else 0.0
    print(
        f"\n{len(selected)} mutants tested in {time.monotonic() - started:.0f} s:"
        f" {score} killed, {len(surviving)} surviving, {len(unchecked)} not checked;"
        f" {len(equivalent) + untested} listed as equivalent (not counted)"
    )
    files = sorted({(mutant.module != CORE, mutant.file) for mutant in selected})
    for _, file in files:
        file_killed = sum(1 for mutant in [*killed, *wrong] if mutant.file == file)
        file_surviving = sum(1 for mutant in surviving if mutant.file == file)
        print(f"  {file}: {score_line(file_killed, file_killed + file_surviving)}")
    print(f"mutation score: {score_line(score, total)}")
    if unchecked or wrong:
        return 1
    return 1 if fail_under is not None and percent < fail_under else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
