"""The library stays light: the budgets that tests/sizes.py (`tox -e sizes`) prints."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from charms.leader_config.v0 import testing


def _sizes() -> Any:
    path = Path(__file__).resolve().parents[1] / "sizes.py"
    spec = importlib.util.spec_from_file_location("sizes", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("sizes", module)
    spec.loader.exec_module(module)
    return module


SIZES = _sizes()


def test_the_core_and_the_test_helpers_stay_within_their_line_budgets():
    core = SIZES.count(SIZES.LIBRARY / "leader_config.py")
    helpers = SIZES.count(SIZES.LIBRARY / "testing.py")
    assert core.lines <= SIZES.CORE_LINES
    assert core.code <= SIZES.CORE_CODE
    assert core.lines + helpers.lines <= SIZES.FRESH_LINES


@pytest.mark.modules  # needs testing_harness.py
def test_the_harness_helpers_resolve_from_testing_or_name_the_file_to_fetch(
    monkeypatch: pytest.MonkeyPatch,
):
    assert testing.publish_to_harness.__module__ == "charms.leader_config.v0.testing_harness"
    monkeypatch.setitem(sys.modules, "charms.leader_config.v0.testing_harness", None)
    with pytest.raises(ImportError) as caught:
        testing.config_from_harness  # noqa: B018  # the attribute lookup is the test
    assert str(caught.value) == (
        "config_from_harness is in testing_harness.py: copy it from the"
        " charms.leader_config repository or its wheel"
    )
    with pytest.raises(AttributeError):
        testing.no_such_helper  # noqa: B018


@pytest.mark.modules  # counts every library file
def test_the_readme_states_each_files_lines_and_what_each_kind_of_charm_vendors():
    readme = (SIZES.LIBRARY.parents[3] / "README.md").read_text()
    counts = {name: SIZES.count(SIZES.LIBRARY / name) for name in SIZES.FILES}
    for name, c in counts.items():
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}` |"))
        assert row.endswith(f"| {c.lines:,} ({c.code:,} of code) |"), row
    fresh, acknowledging, adopting = (
        sum(counts[name].lines for name in files) for files in list(SIZES.CHARMS.values())[:3]
    )
    stated = (
        f"A charm vendors {fresh:,} lines with neither feature, {acknowledging:,} with"
        f" `acknowledge=True` and\n{adopting:,} with `migrate=`"
    )
    assert stated in readme
