"""Runs in a fresh venv where the package is installed (copied there as test_installed.py).

tests/package/test_package.py builds the wheel, installs it with ops[testing] and
pytest, and runs this file outside the repository.
"""

from __future__ import annotations

import importlib
import pkgutil
import sysconfig
from pathlib import Path

import ops
import pydantic
from ops import testing

import charms
from charms.leader_config.v0 import leader_config
from charms.leader_config.v0.leader_config import LeaderConfig, LeaderConfigChangedEvent


class Shared(pydantic.BaseModel):
    cluster_name: str = "demo"
    members: list[str] = []


class Charm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared)
        framework.observe(self.shared.on.changed, self._on_changed)

    def _on_changed(self, event: LeaderConfigChangedEvent) -> None:
        cfg = self.shared.get()
        if cfg is not None:
            self.unit.status = ops.ActiveStatus(f"{cfg.cluster_name}: {sorted(event.changed)}")


def test_the_library_comes_from_the_installed_wheel():
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert Path(leader_config.__file__).resolve().is_relative_to(site_packages)


def test_every_library_module_imports():
    v0 = importlib.import_module("charms.leader_config.v0")
    names = [module.name for module in pkgutil.iter_modules(v0.__path__)]
    assert "leader_config" in names
    for name in names:
        module = importlib.import_module(f"charms.leader_config.v0.{name}")
        assert module.__file__
        assert Path(module.__file__).resolve().is_relative_to(Path(leader_config.__file__).parent)


def test_charms_is_a_namespace_shared_with_other_libraries():
    other_lib = importlib.import_module("charms.other_lib.v0.other_lib")
    assert other_lib.ANSWER == 42
    assert getattr(charms, "__file__", None) is None
    assert len(list(charms.__path__)) >= 2


def test_leader_publishes_and_emits_changed():
    ctx = testing.Context(Charm, meta={"name": "app", "peers": {"cluster": {"interface": "x"}}})
    relation = testing.PeerRelation("cluster")
    out = ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations={relation}))
    assert out.get_relation(relation.id).local_app_data == {
        "cluster_name": '"demo"',
        "members": "[]",
        "leader-config-revision": "1",
    }
    assert out.unit_status == ops.ActiveStatus("demo: ['cluster_name', 'members']")
