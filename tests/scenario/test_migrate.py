"""Adopting data that a deployed charm kept before it used LeaderConfig."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0.leader_config import (
    InvalidConfigError,
    LeaderConfig,
    LeaderConfigChangedEvent,
)
from conftest import META, app_data, peer, peer_of

GENERATED: list[str] = []


def generate_password() -> pydantic.SecretStr:
    GENERATED.append("generated")
    return pydantic.SecretStr("generated-password")


class Cluster(pydantic.BaseModel):
    admin_password: pydantic.SecretStr = pydantic.Field(default_factory=generate_password)
    state: str = "new"
    salt: str = "fresh"


# How the charm kept its values before: raw strings, not JSON, and a secret of its own.
LEGACY_SECRET = testing.Secret({"password": "old-pass-1"}, owner="app", label="legacy")
LEGACY = {"secrets": LEGACY_SECRET.id, "cluster-state": "existing", "salt": "s4lt"}


class AdoptingCharm(ops.CharmBase):
    """The charm after the switch: its LeaderConfig adopts the old keys and secret."""

    prefix = "lc-"

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(
            self, "cluster", Cluster, prefix=self.prefix, migrate=self._from_legacy
        )
        framework.observe(self.shared.on.changed, self._on_changed)

    def _from_legacy(self, relation: ops.Relation) -> Mapping[str, Any] | None:
        old = relation.data[self.app]
        if "secrets" not in old:
            return None
        password = self.model.get_secret(id=old["secrets"]).get_content()["password"]
        return {"admin_password": password, "state": old["cluster-state"], "salt": old["salt"]}

    def _on_changed(self, event: LeaderConfigChangedEvent) -> None:
        cfg = self.shared.get()
        assert cfg is not None
        self.unit.status = ops.ActiveStatus(f"{cfg.state} {cfg.salt}")


class SameKeysCharm(AdoptingCharm):
    """The new schema's keys are the old ones (`salt` held a raw string)."""

    prefix = ""


class NoMigrationCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Cluster)


@pytest.fixture(autouse=True)
def _fresh_factory():
    GENERATED.clear()


def _legacy_state(*, leader: bool, unit_id: int = 0) -> testing.State:
    others = tuple(u for u in (0, 1, 2) if u != unit_id)
    return testing.State(
        leader=leader, relations={peer(LEGACY, peers=others)}, secrets={LEGACY_SECRET}
    )


def _password(state: testing.State, label: str) -> str:
    (secret,) = [s for s in state.secrets if s.label == label]
    return secret.latest_content["password" if label == "legacy" else "admin-password"]


def test_the_leader_adopts_old_values_publishes_them_and_leaves_the_old_keys_alone():
    ctx = testing.Context(AdoptingCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), _legacy_state(leader=True))
    data = app_data(out)
    assert {key: data[key] for key in LEGACY} == LEGACY
    assert (data["lc-state"], data["lc-salt"]) == ('"existing"', '"s4lt"')
    assert _password(out, "leader-config-cluster-lc-") == "old-pass-1"
    assert _password(out, "legacy") == "old-pass-1"
    assert GENERATED == []  # nothing regenerated
    assert out.unit_status == ops.ActiveStatus("existing s4lt")


def test_a_follower_reads_the_adopted_values_before_the_leader_has_published():
    ctx = testing.Context(AdoptingCharm, meta=META, unit_id=1)
    state = _legacy_state(leader=False, unit_id=1)
    out = ctx.run(ctx.on.upgrade_charm(), state)
    assert out.unit_status == ops.ActiveStatus("existing s4lt")
    assert app_data(out) == LEGACY  # a follower writes nothing
    with ctx(ctx.on.update_status(), out) as mgr:
        cfg = mgr.charm.shared.get()
        assert cfg is not None
        assert cfg.admin_password.get_secret_value() == "old-pass-1"
        mgr.run()
    assert GENERATED == []


def test_once_published_a_follower_reads_the_library_format_and_sees_no_change():
    leader = testing.Context(AdoptingCharm, meta=META)
    published = leader.run(leader.on.upgrade_charm(), _legacy_state(leader=True))
    ctx = testing.Context(AdoptingCharm, meta=META, unit_id=1)
    seen = ctx.run(ctx.on.upgrade_charm(), _legacy_state(leader=False, unit_id=1))
    relation = dataclasses.replace(peer_of(seen), local_app_data=app_data(published))
    ctx = testing.Context(AdoptingCharm, meta=META, unit_id=1)
    state = dataclasses.replace(seen, relations={relation}, secrets=published.secrets)
    with ctx(ctx.on.relation_changed(relation, remote_unit=0), state) as mgr:
        mgr.run()
        cfg = mgr.charm.shared.get()
    assert cfg is not None
    assert cfg.admin_password.get_secret_value() == "old-pass-1"
    changed = [e.changed for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)]
    # New keys in the databag, the same values: no change (the secret's compares by value).
    assert changed == []


def test_a_raw_value_under_an_own_key_is_invalid_without_a_migration_path():
    ctx = testing.Context(NoMigrationCharm, meta=META, unit_id=1)
    with ctx(ctx.on.update_status(), _legacy_state(leader=False, unit_id=1)) as mgr:
        with pytest.raises(InvalidConfigError) as caught:
            mgr.charm.shared.get()
        mgr.run()
    assert caught.value.keys == ("salt",)


def test_a_raw_value_under_an_own_key_is_adopted_and_replaced_with_a_migration_path():
    ctx = testing.Context(SameKeysCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), _legacy_state(leader=True))
    assert app_data(out)["salt"] == '"s4lt"'
    assert out.unit_status == ops.ActiveStatus("existing s4lt")
    ctx = testing.Context(SameKeysCharm, meta=META)
    with ctx(ctx.on.update_status(), out) as mgr:
        mgr.charm.shared.update(state="running")
        mgr.run()
    assert GENERATED == []


def test_without_old_data_the_leader_publishes_and_generates_as_usual():
    ctx = testing.Context(AdoptingCharm, meta=META)
    out = ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations={peer()}))
    assert GENERATED == ["generated"]
    assert app_data(out)["lc-state"] == '"new"'


class BadMigrationCharm(AdoptingCharm):
    def _from_legacy(self, relation: ops.Relation) -> Mapping[str, Any] | None:
        return {"state": 3, "colour": "red"}


def test_invalid_adopted_values_are_a_clear_error_and_no_hook_fails(
    caplog: pytest.LogCaptureFixture,
):
    ctx = testing.Context(BadMigrationCharm, meta=META)
    with caplog.at_level(logging.WARNING):
        out = ctx.run(ctx.on.upgrade_charm(), _legacy_state(leader=True))
    assert app_data(out) == LEGACY
    assert any("migrate returned" in r.getMessage() for r in caplog.records)
    with ctx(ctx.on.update_status(), out) as mgr:
        with pytest.raises(InvalidConfigError, match="colour"):
            mgr.charm.shared.get()
        mgr.run()
