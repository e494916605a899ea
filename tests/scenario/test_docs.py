"""The docs cannot drift: their Python blocks run, type-check, and their charms work.

Every Python block of README.md and of each page of docs/ runs, type-checks with
pyright in strict mode, and every charm the blocks define handles a hook. The README
stays short enough for an adopter to read, with the commands that run the demo and
the tests at its top.

The rules are in docs_blocks.py's docstring.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from ops import testing

import docs_blocks
from docs_blocks import Block, DocsFormatError

DOCUMENTS = list(docs_blocks.DOCUMENTS)
# The pages whose examples use the optional files (rollouts.py, adoption.py, and
# testing_harness.py in the testing page's Harness section).
WITH_MODULES = {"docs/rollouts.md", "docs/upgrading.md", "docs/testing.md"}
RUNNABLE = [
    pytest.param(name, marks=pytest.mark.modules) if name in WITH_MODULES else name
    for name in DOCUMENTS
]
README_MAX_LINES = 350


@pytest.fixture(autouse=True)
def docs_stubs(monkeypatch: pytest.MonkeyPatch):
    """Stand-ins for other libraries that migration guides show code for."""
    monkeypatch.setattr(sys, "path", [str(docs_blocks.STUBS), *sys.path])


def blocks_of(document: str) -> list[Block]:
    return docs_blocks.DOCUMENTS[document]()


def test_the_documents_are_the_readme_and_every_page_of_docs():
    pages = sorted(f"docs/{p.name}" for p in (docs_blocks.ROOT / "docs").glob("*.md"))
    assert list(docs_blocks.DOCUMENTS) == ["README.md", *pages]
    assert pages, "docs/ has no pages"


def test_the_readme_is_short_and_opens_with_the_set_up_and_the_two_commands():
    lines = (docs_blocks.ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    top = "\n".join(lines[:30])
    assert "python3 -m venv .venv && . .venv/bin/activate && pip install 'tox>=4.22'" in top
    assert re.search(r"^tox -e demo\b", top, re.MULTILINE), top
    assert re.search(r"^tox(\s+#.*)?$", top, re.MULTILINE), top


def heading_anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings, as GitHub makes them."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("document", DOCUMENTS)
def test_links_between_the_documents_lead_to_a_file_and_heading_that_exist(document: str):
    path = docs_blocks.ROOT / document
    broken: list[str] = []
    for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
        if re.match(r"[a-z]+://", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.is_file() or (anchor and anchor not in heading_anchors(linked)):
            broken.append(target)
    assert not broken, f"{document}: {broken}"


def test_the_readme_has_python_blocks():
    assert docs_blocks.python_blocks(blocks_of("README.md"))


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_python_fence_is_a_checked_block(document: str):
    text = (docs_blocks.ROOT / document).read_text()
    fences = re.findall(r"^ *(`{3,}|~{3,}) *python *$", text, re.MULTILINE | re.IGNORECASE)
    assert len(docs_blocks.python_blocks(blocks_of(document))) == len(fences)


@pytest.mark.parametrize("document", RUNNABLE)
def test_python_blocks_run_in_order(document: str):
    docs_blocks.run_document(document)


@pytest.mark.parametrize("document", RUNNABLE)
def test_example_charms_handle_leader_elected(document: str):
    """A document with a charmcraft.yaml block defines charms; one without defines none."""
    blocks = blocks_of(document)
    meta = docs_blocks.charm_metadata(blocks)
    config = docs_blocks.charm_config(blocks)
    actions = docs_blocks.charm_actions(blocks)
    charms = docs_blocks.run_document(document)
    if not meta.get("peers"):
        assert not charms, f"{document} defines charms but no charmcraft.yaml block with `peers`"
        return
    assert charms, f"{document} declares `peers` but defines no charm"
    failures: list[str] = []
    for charm in charms:
        ctx = testing.Context(charm.charm_type, meta=meta, config=config, actions=actions)
        relations = {
            testing.PeerRelation(endpoint, peers_data={1: {}}) for endpoint in meta["peers"]
        }
        try:
            ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations=relations))
        except testing.errors.UncaughtCharmError as e:
            failures.append(f"{charm.block.where}: {charm.name}: {e.__cause__!r}")
    assert not failures, "\n".join(failures)


@pytest.mark.pyright
def test_python_blocks_type_check(tmp_path: Path):
    documents = {name: blocks_of(name) for name in DOCUMENTS}
    files = docs_blocks.write_for_pyright(documents, tmp_path)
    problems = list(docs_blocks.pyright_problems(files, tmp_path))
    assert not problems, "\n".join(problems)


# The rules themselves, on small documents.

SAMPLE = """\
# Title

```python
x = 1
```

<!-- not executed: needs a running Juju -->

```python
import juju_only
```

```shell
python is not run
```

- a list item with an indented block:

  ````python
  y = x + 1
  ````
"""


def sample_blocks() -> list[Block]:
    return docs_blocks.fenced_blocks(SAMPLE, document="sample", path=Path("sample.md"))


def test_blocks_keep_their_document_lines_and_language():
    blocks = sample_blocks()
    assert [(b.line, b.language) for b in blocks] == [
        (4, "python"),
        (10, "python"),
        (14, "shell"),
        (20, "python"),
    ]
    assert blocks[3].code == "y = x + 1\n"


def test_skip_marker_stops_execution_only_of_the_next_block():
    assert [b.skip_reason for b in sample_blocks()] == [None, "needs a running Juju", None, None]


def test_blocks_share_one_namespace_in_order():
    docs_blocks.run_blocks(sample_blocks())  # the last block uses x; juju_only is skipped


def test_a_failing_block_fails_with_the_document_line():
    blocks = docs_blocks.fenced_blocks(
        "```python\n\n1 / 0\n```\n", document="d", path=Path("d.md")
    )
    with pytest.raises(ZeroDivisionError) as info:
        docs_blocks.run_blocks(blocks)
    assert str(info.traceback[-1].path) == "d.md"
    assert info.traceback[-1].lineno + 1 == 3


def test_skip_marker_needs_a_reason():
    with pytest.raises(DocsFormatError, match="say why"):
        docs_blocks.fenced_blocks(
            "<!-- not executed: -->\n```python\nx\n```\n", document="d", path=Path("d.md")
        )


def test_unclosed_fence_is_an_error():
    with pytest.raises(DocsFormatError, match="never closed"):
        docs_blocks.fenced_blocks("```python\nx = 1\n", document="d", path=Path("d.md"))


def test_metadata_comes_from_yaml_blocks_that_declare_endpoints():
    text = "```yaml\npeers:\n  cluster:\n    interface: c\n```\n\n```yaml\nother: 1\n```\n"
    blocks = docs_blocks.fenced_blocks(text, document="d", path=Path("d.md"))
    assert docs_blocks.charm_metadata(blocks) == {
        "name": "docs-example",
        "peers": {"cluster": {"interface": "c"}},
    }
    assert docs_blocks.charm_config(blocks) is None


def test_a_whole_charmcraft_yaml_gives_metadata_and_config_options_apart():
    text = (
        "```yaml\nname: app\npeers:\n  cluster:\n    interface: c\n"
        "config:\n  options:\n    level:\n      type: string\n```\n"
    )
    blocks = docs_blocks.fenced_blocks(text, document="d", path=Path("d.md"))
    assert docs_blocks.charm_metadata(blocks) == {
        "name": "app",
        "peers": {"cluster": {"interface": "c"}},
    }
    assert docs_blocks.charm_config(blocks) == {"options": {"level": {"type": "string"}}}


# File blocks: whole files of a charm, as the quick start gives them.

FILES = """<!-- file: src/charm.py -->

```python
import ops

VALUE = 41


class FileCharm(ops.CharmBase):
    pass
```

```python
after = VALUE + 1
```

<!-- file: tests/unit/test_charm.py -->
```python
from charm import VALUE, FileCharm


def test_value():
    assert VALUE == 41 and FileCharm
```
"""


def file_blocks(text: str = FILES, path: Path = Path("f.md")) -> list[Block]:
    return docs_blocks.fenced_blocks(text, document="f", path=path)


def test_a_file_marker_names_the_file_that_the_next_block_is():
    assert [(b.file, b.skip_reason) for b in file_blocks()] == [
        ("src/charm.py", None),
        (None, None),
        ("tests/unit/test_charm.py", None),
    ]
    assert list(docs_blocks.files(file_blocks())) == ["src/charm.py", "tests/unit/test_charm.py"]
    assert docs_blocks.import_name("src/charm.py") == "charm"
    assert docs_blocks.import_name("tests/unit/test_charm.py") is None


def test_a_file_block_runs_as_its_own_module_importable_from_src_and_joins_the_namespace():
    previous = sys.modules.get("charm")  # the tester charm, if another test imported it
    charms = docs_blocks.run_blocks(file_blocks())  # the test file imports `charm`
    assert [(c.name, c.charm_type.__module__) for c in charms] == [("FileCharm", "charm")]
    assert sys.modules.get("charm") is previous


def test_a_file_block_must_import_what_it_uses():
    text = "```python\nx = 1\n```\n\n<!-- file: src/mod.py -->\n```python\ny = x\n```\n"
    with pytest.raises(NameError):
        docs_blocks.run_blocks(file_blocks(text))
    with pytest.raises(DocsFormatError, match="whole file"):
        docs_blocks.write_for_pyright({"f": file_blocks(text)}, Path("/nonexistent"))


def test_a_file_marker_needs_a_relative_path_and_a_path_is_one_block():
    with pytest.raises(DocsFormatError, match="relative path"):
        file_blocks("<!-- file: ../x.py -->\n```python\nx = 1\n```\n")
    with pytest.raises(DocsFormatError, match="already"):
        docs_blocks.files(file_blocks(FILES + "\n<!-- file: src/charm.py -->\n```python\n```\n"))


@pytest.mark.pyright
def test_file_blocks_type_check_as_the_charms_modules(tmp_path: Path):
    blocks = file_blocks(path=tmp_path / "f.md")
    written = docs_blocks.write_for_pyright({"f": blocks}, tmp_path)
    assert (tmp_path / "charm.py").is_file()
    assert list(docs_blocks.pyright_problems(written, tmp_path)) == []


@pytest.mark.pyright
def test_type_check_reports_document_lines(tmp_path: Path):
    text = "```python\nimport ops\n```\n\ntext\n\n```python\n\nx: int = ops.__name__\n```\n"
    blocks = docs_blocks.fenced_blocks(text, document="d", path=tmp_path / "d.md")
    files = docs_blocks.write_for_pyright({"d": blocks}, tmp_path)
    problems = list(docs_blocks.pyright_problems(files, tmp_path))
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'd.md'}:9: error:")
