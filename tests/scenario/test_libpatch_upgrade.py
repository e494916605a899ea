"""Units upgraded from LIBPATCH 19 keep working on this patch, with the core and its modules.

`compat/leader_config_libpatch19.py` is LIBPATCH 19's library, as released. Each test
runs an application on it, then refreshes the charm unit by unit to the same charm on
this patch (the same class name, so each unit keeps its stored state) and checks the
promises: nothing generated again, no changed event for a view that did not change,
records, tallies and `applied` carried over, retired legacy data left retired.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0.leader_config import LeaderConfig, LeaderConfigChangedEvent, Legacy
from cluster import Cluster

GENERATED: list[str] = []


def _load_libpatch19() -> Any:
    path = Path(__file__).parent / "compat" / "leader_config_libpatch19.py"
    spec = importlib.util.spec_from_file_location("leader_config_libpatch19", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


LIBPATCH19 = _load_libpatch19()


def generate_password() -> pydantic.SecretStr:
    GENERATED.append("password")
    return pydantic.SecretStr(f"generated-{len(GENERATED)}")


class Shared(pydantic.BaseModel):
    log_level: str = "info"
    admin_password: pydantic.SecretStr = pydantic.Field(default_factory=generate_password)


META = {"name": "app", "peers": {"cluster": {"interface": "app_cluster"}}}


def _charm(library: Any, **options: Any) -> type[ops.CharmBase]:
    """The same charm on either patch: one class name, so stored state carries over."""

    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = library.LeaderConfig(self, "cluster", Shared, **options)
            framework.observe(self.shared.on.changed, self._on_changed)
            if options.get("acknowledge"):
                framework.observe(self.shared.on.applied, self._on_applied)

        def _on_changed(self, event: LeaderConfigChangedEvent) -> None:
            cfg = self.shared.get()
            if cfg is not None:
                self.unit.status = ops.ActiveStatus(f"{cfg.log_level} r{event.revision}")
            if options.get("acknowledge"):
                self.shared.acknowledge()

        def _on_applied(self, event: Any) -> None:
            self.unit.status = ops.ActiveStatus(f"applied r{event.revision}")

    return Charm


def _write_debug(charm: Any) -> None:
    charm.shared.update(log_level="debug")


def _password(cluster: Cluster[Any], unit: int) -> str:
    seen: list[str] = []

    def read(charm: Any) -> None:
        cfg = charm.shared.get()
        seen.append(cfg.admin_password.get_secret_value())

    cluster.run(unit, "update-status", prepare=read)
    return seen[0]


def test_a_refresh_from_libpatch_19_regenerates_nothing_and_emits_nothing_for_an_unchanged_view():
    GENERATED.clear()
    cluster = Cluster(_charm(LIBPATCH19), META)
    cluster.deploy(3)
    cluster.settle()
    password = _password(cluster, 1)
    before = {unit: len(cluster.changed_events(unit)) for unit in (0, 1, 2)}
    for unit in (1, 2, 0):
        cluster.upgrade(unit, _charm(sys.modules[LeaderConfig.__module__]))
        cluster.settle()
    assert {unit: len(cluster.changed_events(unit)) for unit in (0, 1, 2)} == before
    assert [_password(cluster, unit) for unit in (0, 1, 2)] == [password] * 3
    assert GENERATED == ["password"]
    cluster.run(0, "update-status", prepare=_write_debug)
    cluster.settle()
    assert [cluster.changed_events(unit)[-1] for unit in (0, 1, 2)] == [{"log_level"}] * 3


@pytest.mark.modules
def test_a_refresh_from_libpatch_19_carries_records_and_tallies_over_to_the_rollouts_module():
    GENERATED.clear()
    cluster = Cluster(_charm(LIBPATCH19, acknowledge=True), META)
    cluster.deploy(3)
    cluster.settle()
    assert cluster.state(0).unit_status == ops.ActiveStatus("applied r1")
    for unit in (1, 2, 0):
        cluster.upgrade(unit, _charm(sys.modules[LeaderConfig.__module__], acknowledge=True))
        cluster.settle()
    cluster.run(0, "update-status", prepare=_write_debug)
    cluster.settle()
    assert cluster.state(0).unit_status == ops.ActiveStatus("applied r2")
    assert GENERATED == ["password"]


class Legacy19(pydantic.BaseModel):
    log_level: str = "info"
    admin_password: pydantic.SecretStr = pydantic.Field(default_factory=generate_password)


def _adopting(library: Any) -> type[ops.CharmBase]:
    """A charm that adopted `log-level` under a prefix: retired on LIBPATCH 19 already."""

    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = library.LeaderConfig(
                self, "cluster", Legacy19, prefix="v2-", migrate=self._legacy
            )

        def _legacy(self, relation: ops.Relation) -> Legacy | None:
            old = relation.data[self.app].get("log-level")
            return None if old is None else LIBPATCH19.Legacy({"log_level": old}, ["log-level"])

    return Charm


@pytest.mark.modules
def test_an_adoption_retired_on_libpatch_19_stays_retired_and_adopts_nothing_again():
    GENERATED.clear()
    legacy = {"log-level": "debug"}
    record = {"v2-leader-config-unit": "{}"}  # unit 1 runs LIBPATCH 19 too
    relation = testing.PeerRelation("cluster", local_app_data=legacy, peers_data={1: record})
    ctx = testing.Context(_adopting(LIBPATCH19), meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), testing.State(leader=True, relations={relation}))
    (adopted,) = out.get_relations("cluster")
    assert "log-level" not in adopted.local_app_data  # retired on LIBPATCH 19
    assert adopted.local_app_data["v2-log_level"] == '"debug"'
    for hook in ("upgrade_charm", "leader_elected", "update_status"):
        ctx = testing.Context(_adopting(sys.modules[LeaderConfig.__module__]), meta=META)
        after = ctx.run(getattr(ctx.on, hook)(), out)
        (relation,) = after.get_relations("cluster")
        assert relation.local_app_data == adopted.local_app_data
        assert [e for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)] == []
        assert after.secrets == out.secrets
    assert GENERATED == ["password"]
