"""The core loads an optional module only for its feature, through a versioned interface.

`rollouts.py` (for `acknowledge=True`) and `adoption.py` (for `migrate=`) are charm
libraries of their own, fetched at their own LIBPATCH: a missing file fails the
constructor at once, naming it; a module checks the core's `MODULE_API` when it is
loaded, and the core checks the module's, so that any LIBPATCH of one file works with
any later LIBPATCH of the other, or says exactly which file to update.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import ops
import pytest
from ops import testing

from charms.leader_config.v0 import leader_config as core
from charms.leader_config.v0.leader_config import LeaderConfig
from conftest import META, Shared, peer

ROOT = Path(__file__).resolve().parents[2]
ROLLOUTS, ADOPTION = "charms.leader_config.v0.rollouts", "charms.leader_config.v0.adoption"


def _charm(**options: Any) -> type[ops.CharmBase]:
    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = LeaderConfig(self, "cluster", Shared, **options)

    return Charm


def _construction_error(**options: Any) -> BaseException:
    ctx = testing.Context(_charm(**options), meta=META)
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        ctx.run(ctx.on.update_status(), testing.State(leader=True, relations={peer()}))
    error = caught.value.__cause__
    assert error is not None
    return error


@pytest.fixture
def fresh_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load the modules anew in the test (the process keeps its own copies for the others)."""
    for name in (ROLLOUTS, ADOPTION):
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_a_charm_without_rollouts_or_adoption_loads_neither_module():
    script = textwrap.dedent(
        """
        import sys
        import ops, pydantic
        from ops import testing
        from charms.leader_config.v0.leader_config import LeaderConfig

        class Shared(pydantic.BaseModel):
            log_level: str = "info"

        class Charm(ops.CharmBase):
            def __init__(self, framework):
                super().__init__(framework)
                self.shared = LeaderConfig(self, "cluster", Shared)

        meta = {"name": "app", "peers": {"cluster": {"interface": "app_cluster"}}}
        ctx = testing.Context(Charm, meta=meta)
        state = testing.State(leader=True, relations={testing.PeerRelation("cluster")})
        ctx.run(ctx.on.leader_elected(), state)
        print(sorted(name for name in sys.modules if name.startswith("charms.")))
        """
    )
    result = subprocess.run(  # noqa: S603  # the test's own interpreter and script
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "lib"), "PATH": ""},
    )
    assert result.stdout.strip() == "['charms.leader_config', 'charms.leader_config.v0', " + (
        "'charms.leader_config.v0.leader_config']"
    )


def _nothing_to_adopt(relation: ops.Relation) -> None:
    return None


@pytest.mark.modules
@pytest.mark.parametrize(
    ("options", "missing", "feature"),
    [
        ({"acknowledge": True}, [ROLLOUTS], "acknowledge=True"),
        ({"migrate": _nothing_to_adopt}, [ADOPTION], "migrate="),
        ({"migrate": _nothing_to_adopt}, [ROLLOUTS], "migrate="),  # adoption.py uses rollouts.py
        ({"migrate": _nothing_to_adopt}, [ROLLOUTS, ADOPTION], "migrate="),
    ],
    ids=["rollouts", "adoption", "adoption-without-rollouts", "both"],
)
def test_a_module_file_that_is_missing_fails_the_constructor_naming_it(
    options: dict[str, Any], missing: list[str], feature: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delitem(sys.modules, ADOPTION, raising=False)
    for module in missing:
        monkeypatch.setitem(sys.modules, module, None)  # as if the file were not vendored
    error = _construction_error(**options)
    assert isinstance(error, ImportError)
    files = " and ".join(f"{module.rpartition('.')[2]}.py" for module in missing)
    assert str(error) == (
        f"{feature} needs lib/charms/leader_config/v0/{files} beside leader_config.py:"
        f" copy {files} from the charms.leader_config repository or its wheel"
    )


def _rollouts_libpatch() -> str:
    """rollouts.py's LIBPATCH, read from the file: importing it would run the check."""
    text = Path(core.__file__).with_name("rollouts.py").read_text()
    (libpatch,) = re.findall(r"^LIBPATCH = (\d+)$", text, re.MULTILINE)
    return libpatch


@pytest.mark.modules
@pytest.mark.usefixtures("fresh_modules")
def test_a_module_newer_than_its_core_fails_at_construction_naming_the_core_to_update(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(core, "MODULE_API", 0)  # a core from before this interface version
    error = _construction_error(acknowledge=True)
    assert isinstance(error, ImportError)
    assert str(error) == (
        f"rollouts.py (LIBPATCH {_rollouts_libpatch()}) needs a newer leader_config.py than"
        f" LIBPATCH {core.LIBPATCH}"
        " (module interface 1, not 0): update it: copy leader_config.py from the"
        " charms.leader_config repository or its wheel"
    )


@pytest.mark.modules
def test_a_module_older_than_its_core_can_use_fails_at_construction_naming_the_module(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(core, "MIN_MODULE_API", 2)  # a core that dropped interface 1
    error = _construction_error(acknowledge=True)
    assert isinstance(error, ImportError)
    assert str(error) == (
        f"rollouts.py (LIBPATCH {_rollouts_libpatch()}) is older than leader_config.py"
        f" (LIBPATCH {core.LIBPATCH}) can"
        " use: update it: copy rollouts.py from the charms.leader_config repository or its wheel"
    )


class Acknowledging(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared, acknowledge=True)
        framework.observe(self.shared.on.changed, self._on_changed)
        framework.observe(self.shared.on.applied, self._on_applied)

    def _on_changed(self, _: ops.EventBase) -> None:
        self.shared.acknowledge()

    def _on_applied(self, event: Any) -> None:
        self.unit.status = ops.ActiveStatus(f"applied {event.revision}")


@pytest.mark.modules
@pytest.mark.usefixtures("fresh_modules")
def test_an_older_module_works_with_a_newer_core(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(core, "MODULE_API", 2)  # the interface grew: interface 1 still works
    ctx = testing.Context(Acknowledging, meta=META)
    out = ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations={peer(peers=())}))
    assert out.unit_status == testing.ActiveStatus("applied 1")


# No underscore name crosses a file boundary


NAMED_TUPLE_API = {"_replace", "_asdict", "_fields", "_make"}


@pytest.mark.parametrize(
    "name",
    [
        "leader_config",
        "testing",
        *(
            pytest.param(name, marks=pytest.mark.modules)
            for name in ("rollouts", "adoption", "testing_harness")
        ),
    ],
)
def test_a_library_file_reaches_others_through_public_names_only(name: str):
    tree = ast.parse((Path(core.__file__).parent / f"{name}.py").read_text())
    private_imports = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("charms.")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    # Only an object's own private names: self's (or cls's), never another's (a module's,
    # the core's objects' through ModuleHost, a module's objects from the core).
    foreign = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and node.attr not in NAMED_TUPLE_API
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert (private_imports, foreign) == ([], [])
