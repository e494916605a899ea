"""Adopting data that a deployed charm kept before it used LeaderConfig."""

from __future__ import annotations

import dataclasses
import json
import logging
import typing
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
    LeaderConfigError,
    Legacy,
    NotReadyError,
    PendingFieldsError,
)
from cluster import Cluster as Application
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


@pytest.mark.modules
def test_the_leader_adopts_old_values_publishes_them_and_leaves_the_old_keys_alone():
    ctx = testing.Context(AdoptingCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), _legacy_state(leader=True))
    data = app_data(out)
    assert {key: data[key] for key in LEGACY} == LEGACY
    assert (data["lc-state"], data["lc-salt"]) == ('"existing"', '"s4lt"')
    assert _password(out, "leader-config-cluster-lc") == "old-pass-1"
    assert _password(out, "legacy") == "old-pass-1"
    assert GENERATED == []  # nothing regenerated
    assert out.unit_status == ops.ActiveStatus("existing s4lt")


@pytest.mark.modules
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


@pytest.mark.modules
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


@pytest.mark.modules
def test_a_raw_value_under_an_own_key_is_adopted_and_taken_over_once_every_unit_upgraded():
    ctx = testing.Context(SameKeysCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), _legacy_state(leader=True))
    # Units 1 and 2 may still run the old revision and read `salt` raw: left alone.
    assert app_data(out)["salt"] == "s4lt"
    assert out.unit_status == ops.ActiveStatus("existing s4lt")
    ctx = testing.Context(SameKeysCharm, meta=META)
    with ctx(ctx.on.update_status(), out) as mgr:
        with pytest.raises(
            NotReadyError, match=r"the leader takes them over once every unit runs this revision$"
        ):
            mgr.charm.shared.update(state="running")
        mgr.run()
    ctx = testing.Context(SameKeysCharm, meta=META)
    with ctx(ctx.on.update_status(), out) as mgr:  # `set` as the hook's first read
        with pytest.raises(NotReadyError):
            mgr.charm.shared.set(Cluster(admin_password=pydantic.SecretStr("x")))
        mgr.run()
    # Both peers say they run a revision that uses the library: the leader takes over.
    record = {"leader-config-unit": "{}"}
    relation = dataclasses.replace(peer_of(out), peers_data={1: record, 2: record})
    out = dataclasses.replace(out, relations={relation})
    for remote in (1, 2):  # Juju runs relation-changed for each unit whose data changed
        ctx = testing.Context(SameKeysCharm, meta=META)
        out = ctx.run(ctx.on.relation_changed(peer_of(out), remote_unit=remote), out)
    assert app_data(out)["salt"] == '"s4lt"'
    assert app_data(out)["leader-config-revision"] == "1"
    ctx = testing.Context(SameKeysCharm, meta=META)
    with ctx(ctx.on.update_status(), out) as mgr:
        mgr.charm.shared.update(state="running")
        mgr.run()
    assert GENERATED == []


@pytest.mark.modules
def test_without_old_data_the_leader_publishes_and_generates_as_usual():
    ctx = testing.Context(AdoptingCharm, meta=META)
    out = ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations={peer()}))
    assert GENERATED == ["generated"]
    assert app_data(out)["lc-state"] == '"new"'


class BadMigrationCharm(AdoptingCharm):
    def _from_legacy(self, relation: ops.Relation) -> Mapping[str, Any] | None:
        return {"state": 3, "colour": "red"}


@pytest.mark.modules
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


# The Legacy contract: what to take over, what to retire, and failures


class Kept(pydantic.BaseModel):
    """Field names whose secret content key is the legacy secret's (`password`)."""

    password: pydantic.SecretStr = pydantic.Field(default_factory=generate_password)
    state: str = "new"


class TakingOverCharm(ops.CharmBase):
    """Returns a Legacy that names the legacy keys and secret."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Kept, prefix="lc-", migrate=self._legacy)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        old = relation.data[self.app]
        if "secrets" not in old:
            return None
        secret = self.model.get_secret(id=old["secrets"])
        values = {"password": secret.get_content()["password"], "state": old["cluster-state"]}
        return Legacy(values, keys=("secrets", "cluster-state", "salt"), secret=secret)


def _with_records(state: testing.State, *units: int, prefix: str = "lc-") -> testing.State:
    """`state` with these peers saying that they run a revision that uses the library."""
    record = {f"{prefix}leader-config-unit": "{}"}
    relation = peer_of(state)
    peers = {
        unit: {**data, **(record if unit in units else {})}
        for unit, data in relation.peers_data.items()
    }
    return dataclasses.replace(state, relations={dataclasses.replace(relation, peers_data=peers)})


@pytest.mark.modules
def test_a_legacy_secret_holding_the_fields_content_keys_is_taken_over_not_copied():
    ctx = testing.Context(TakingOverCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), _legacy_state(leader=True))
    assert {s.id for s in out.secrets} == {LEGACY_SECRET.id}  # one secret, the legacy one
    (secret,) = out.secrets
    assert secret.label == "legacy"  # old units may read it by label
    assert secret.latest_content["password"] == "old-pass-1"
    assert json.loads(app_data(out)["lc-secret-id"]) == LEGACY_SECRET.id
    assert {key: app_data(out)[key] for key in LEGACY} == LEGACY
    assert GENERATED == []


@pytest.mark.modules
def test_legacy_keys_are_retired_once_every_unit_runs_a_revision_that_uses_the_library():
    ctx = testing.Context(TakingOverCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), _legacy_state(leader=True))
    out = _with_records(out, 1)
    ctx = testing.Context(TakingOverCharm, meta=META)
    out = ctx.run(ctx.on.relation_changed(peer_of(out), remote_unit=1), out)
    assert "salt" in app_data(out)  # unit 2 may still read the legacy keys
    out = _with_records(out, 1, 2)
    ctx = testing.Context(TakingOverCharm, meta=META)
    out = ctx.run(ctx.on.relation_changed(peer_of(out), remote_unit=2), out)
    assert not set(LEGACY) & set(app_data(out))
    assert {s.id for s in out.secrets} == {LEGACY_SECRET.id}  # taken over: kept


def _published_by_a_leader_that_left(*, waiting_for: int | None) -> testing.State:
    """Unit 0 took the legacy data over and left; unit 1 is leader, its stored state new.

    Unit 2, if `waiting_for` names it, has no record yet; the other peers have one.
    """
    ctx = testing.Context(TakingOverCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), _legacy_state(leader=True))
    assert "salt" in app_data(out)  # units 1 and 2 have no record yet
    relation = peer_of(out)
    record = {"lc-leader-config-unit": "{}"}
    peers = {2: {} if waiting_for == 2 else record} if waiting_for is not None else {}
    relation = dataclasses.replace(
        relation, peers_data=peers, local_unit_data={**relation.local_unit_data, **record}
    )
    return dataclasses.replace(out, relations={relation}, stored_states=frozenset())


@pytest.mark.modules
def test_a_leader_elected_on_the_old_revision_retires_legacy_data_in_its_first_hook_on_the_new():
    state = _published_by_a_leader_that_left(waiting_for=None)
    ctx = testing.Context(TakingOverCharm, meta=META, unit_id=1)
    out = ctx.run(ctx.on.upgrade_charm(), state)
    assert not set(LEGACY) & set(app_data(out))
    assert {s.id for s in out.secrets} == {LEGACY_SECRET.id}  # taken over: kept


@pytest.mark.modules
def test_the_last_units_record_retires_the_legacy_keys_on_a_leader_whose_stored_state_is_gone():
    state = _published_by_a_leader_that_left(waiting_for=2)
    ctx = testing.Context(TakingOverCharm, meta=META, unit_id=1)
    out = ctx.run(ctx.on.update_status(), state)
    assert "salt" in app_data(out)  # unit 2 may still read the legacy keys
    relation = peer_of(out)
    relation = dataclasses.replace(relation, peers_data={2: {"lc-leader-config-unit": "{}"}})
    out = dataclasses.replace(out, relations={relation}, stored_states=frozenset())
    ctx = testing.Context(TakingOverCharm, meta=META, unit_id=1)
    out = ctx.run(ctx.on.relation_changed(relation, remote_unit=2), out)
    assert not set(LEGACY) & set(app_data(out))


class TakingOverByLabelCharm(TakingOverCharm):
    """Gets the legacy secret by its label alone, as some old revisions did."""

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        old = relation.data[self.app]
        if "secrets" not in old:
            return None
        secret = self.model.get_secret(label="legacy")
        values = {"password": secret.get_content()["password"], "state": old["cluster-state"]}
        return Legacy(values, keys=("secrets", "cluster-state", "salt"), secret=secret)


@pytest.mark.modules
def test_a_legacy_secret_got_by_label_alone_is_taken_over_and_kept_when_legacy_data_retires():
    ctx = testing.Context(TakingOverByLabelCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), _with_records(_legacy_state(leader=True), 1, 2))
    assert not set(LEGACY) & set(app_data(out))  # retired in the same hook
    (secret,) = out.secrets
    assert secret.id == LEGACY_SECRET.id
    assert secret.latest_content["password"] == "old-pass-1"
    assert json.loads(app_data(out)["lc-secret-id"]) == LEGACY_SECRET.id
    assert GENERATED == []


class CopyingCharm(ops.CharmBase):
    """Its secret field's content key is not the legacy secret's: the value is copied."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Cluster, prefix="lc-", migrate=self._legacy)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        old = relation.data[self.app]
        if "secrets" not in old:
            return None
        secret = self.model.get_secret(id=old["secrets"])
        values = {"admin_password": secret.get_content()["password"], "salt": old["salt"]}
        return Legacy(values, keys=("secrets", "cluster-state", "salt"), secret=secret)


@pytest.mark.modules
def test_a_copied_legacy_secret_is_removed_once_every_unit_runs_the_library():
    ctx = testing.Context(CopyingCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), _with_records(_legacy_state(leader=True), 1, 2))
    assert LEGACY_SECRET.id not in {s.id for s in out.secrets}
    (secret,) = out.secrets
    assert secret.latest_content["admin-password"] == "old-pass-1"
    assert not set(LEGACY) & set(app_data(out))
    assert GENERATED == []


@pytest.mark.modules
def test_a_copied_legacy_secret_juju_cannot_remove_keeps_the_legacy_keys_for_a_later_try(
    caplog: pytest.LogCaptureFixture,
):
    ctx = testing.Context(CopyingCharm, meta=META)
    state = _with_records(_legacy_state(leader=True), 1, 2)
    with caplog.at_level(logging.WARNING), ctx(ctx.on.upgrade_charm(), state) as mgr:
        backend: Any = mgr.charm.model._backend  # pyright: ignore[reportPrivateUsage]

        def refused(*_: Any, **__: Any) -> None:
            raise ops.ModelError("ERROR remove refused")

        backend.secret_remove = refused
        out = mgr.run()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "LeaderConfig(relation_name='cluster', schema=Cluster, prefix='lc-'): legacy data"
        " not retired yet: ERROR remove refused"
    ]
    assert {key: app_data(out)[key] for key in LEGACY} == LEGACY
    assert LEGACY_SECRET.id in {s.id for s in out.secrets}
    ctx = testing.Context(CopyingCharm, meta=META)
    out = ctx.run(ctx.on.update_status(), out)  # the next hook, in a steady application
    assert not set(LEGACY) & set(app_data(out))
    assert LEGACY_SECRET.id not in {s.id for s in out.secrets}
    assert GENERATED == []


@pytest.mark.modules
def test_once_published_migrate_is_never_consulted_and_bad_own_data_is_invalid():
    calls: list[str] = []

    class Counting(AdoptingCharm):
        def _from_legacy(self, relation: ops.Relation) -> Mapping[str, Any] | None:
            calls.append("migrate")
            return super()._from_legacy(relation)

    ctx = testing.Context(Counting, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), _legacy_state(leader=True))
    assert calls
    calls.clear()
    relation = peer_of(out)
    broken = {**relation.local_app_data, "lc-state": "not json"}
    out = dataclasses.replace(
        out, relations={dataclasses.replace(relation, local_app_data=broken)}
    )
    ctx = testing.Context(Counting, meta=META)
    with ctx(ctx.on.update_status(), out) as mgr:
        with pytest.raises(InvalidConfigError, match="lc-state"):
            mgr.charm.shared.get()
        mgr.run()
    assert calls == []


@pytest.mark.modules
def test_migrate_runs_once_per_hook_while_the_data_stays_the_same():
    calls: list[str] = []

    class Counting(AdoptingCharm):
        def _from_legacy(self, relation: ops.Relation) -> Mapping[str, Any] | None:
            calls.append("migrate")
            return super()._from_legacy(relation)

    ctx = testing.Context(Counting, meta=META, unit_id=1)
    with ctx(ctx.on.update_status(), _legacy_state(leader=False, unit_id=1)) as mgr:
        first, second = mgr.charm.shared.get(), mgr.charm.shared.get()
        mgr.run()
    assert first == second
    assert calls == ["migrate"]


class Raising(AdoptingCharm):
    def _from_legacy(self, relation: ops.Relation) -> Mapping[str, Any] | None:
        raise KeyError("the legacy secret is gone")


@pytest.mark.modules
def test_a_migrate_function_that_raises_fails_no_hook_logs_once_and_get_chains_it(
    caplog: pytest.LogCaptureFixture,
):
    ctx = testing.Context(Raising, meta=META)
    with caplog.at_level(logging.WARNING):
        out = ctx.run(ctx.on.upgrade_charm(), _legacy_state(leader=True))
    assert app_data(out) == LEGACY
    assert [r for r in caplog.records if "migrate failed" in r.getMessage()] != []
    assert len([r for r in caplog.records if "migrate failed" in r.getMessage()]) == 1
    ctx = testing.Context(Raising, meta=META)
    with ctx(ctx.on.update_status(), out) as mgr:
        with pytest.raises(LeaderConfigError) as caught:
            mgr.charm.shared.get()
        mgr.run()
    assert isinstance(caught.value.__cause__, KeyError)


def test_hand_written_json_under_the_schemas_keys_is_adopted_and_foreign_keys_kept():
    data = {"state": '"existing"', "salt": '"s4lt"', "other-lib": "raw, not json"}

    class Plain(pydantic.BaseModel):
        state: str = "new"
        salt: str = "fresh"

    class PlainCharm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = LeaderConfig(self, "cluster", Plain)

    ctx = testing.Context(PlainCharm, meta=META)
    state = testing.State(leader=True, relations={peer(data)})
    with ctx(ctx.on.upgrade_charm(), state) as mgr:
        assert mgr.charm.shared.get() == Plain(state="existing", salt="s4lt")
        mgr.charm.shared.update(state="running")
        out = mgr.run()
    assert app_data(out)["other-lib"] == "raw, not json"
    assert app_data(out)["salt"] == '"s4lt"'
    assert app_data(out)["leader-config-revision"] == "1"


@pytest.mark.modules
def test_a_generated_value_the_legacy_data_lacks_is_generated_once_by_the_leader_alone():
    class Lacking(AdoptingCharm):
        def _from_legacy(self, relation: ops.Relation) -> Mapping[str, Any] | None:
            values = super()._from_legacy(relation)
            return (
                None
                if values is None
                else {k: v for k, v in values.items() if k != "admin_password"}
            )

    ctx = testing.Context(Lacking, meta=META, unit_id=1)
    with ctx(ctx.on.upgrade_charm(), _legacy_state(leader=False, unit_id=1)) as mgr:
        with pytest.raises(
            PendingFieldsError,
            match=r"lacks admin_password, which only the leader generates: the leader"
            r" generates them when it publishes$",
        ):
            mgr.charm.shared.get()
        mgr.run()
    assert GENERATED == []
    ctx = testing.Context(Lacking, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), _legacy_state(leader=True))
    assert GENERATED == ["generated"]
    ctx = testing.Context(Lacking, meta=META, unit_id=1)
    relation = dataclasses.replace(peer_of(out), peers_data={0: {}, 2: {}})
    state = dataclasses.replace(out, leader=False, relations={relation}, stored_states=frozenset())
    with ctx(ctx.on.relation_changed(relation, remote_unit=0), state) as mgr:
        cfg = mgr.charm.shared.get()
        assert cfg is not None
        assert cfg.admin_password.get_secret_value() == "generated-password"
        mgr.run()
    assert GENERATED == ["generated"]


# Shapes from deployed charms: a secret field over plaintext, a saved `secret-id`,
# a secret field new in this revision, and an old leader that changes a legacy value


class PlainSecret(pydantic.BaseModel):
    secret_key: pydantic.SecretStr = pydantic.Field(default_factory=generate_password)


class PlainSecretCharm(ops.CharmBase):
    """The legacy leader kept `secret_key` in plaintext, under the field's own key."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", PlainSecret, migrate=self._legacy)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        old = relation.data[self.app].get("secret_key")
        return None if old is None else Legacy({"secret_key": old})


@pytest.mark.modules
def test_a_secret_field_over_legacy_plaintext_under_its_own_key_is_read_then_taken_over():
    state = testing.State(relations={peer({"secret_key": "kept-key"}, peers=(0, 2))})
    ctx = testing.Context(PlainSecretCharm, meta=META, unit_id=1)
    with ctx(ctx.on.upgrade_charm(), state) as mgr:
        cfg = mgr.charm.shared.get()
        assert cfg is not None
        assert cfg.secret_key.get_secret_value() == "kept-key"
        mgr.run()
    state = testing.State(leader=True, relations={peer({"secret_key": "kept-key"}, peers=(1, 2))})
    ctx = testing.Context(PlainSecretCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), _with_records(state, 1, 2, prefix=""))
    assert app_data(out)["leader-config-revision"] == "1"
    assert "kept-key" not in app_data(out).values()  # no plaintext left
    (secret,) = out.secrets
    assert secret.latest_content["secret-key"] == "kept-key"
    assert GENERATED == []


class Operator(pydantic.BaseModel):
    cluster_name: str = pydantic.Field(default="new", alias="cluster-name")
    operator_password: pydantic.SecretStr = pydantic.Field(
        default_factory=generate_password, alias="operator-password"
    )


class OperatorCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Operator)


def test_a_secret_saved_under_secret_id_keeps_the_value_it_holds_for_a_field_without_a_key():
    # What `Relation.save` of a model with a `secret-id` field wrote: JSON, no markers.
    saved = testing.Secret({"operator-password": "kept-pass"}, owner="app", label="db-peers")
    data = {"secret-id": json.dumps(saved.id), "cluster-name": '"pg-1"'}
    state = testing.State(leader=True, relations={peer(data, peers=(1,))}, secrets={saved})
    ctx = testing.Context(OperatorCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), state)
    (secret,) = out.secrets
    assert secret.latest_content["operator-password"] == "kept-pass"
    assert app_data(out)["leader-config-revision"] == "1"
    assert GENERATED == []
    follower = testing.Context(OperatorCharm, meta=META, unit_id=1)
    with follower(follower.on.update_status(), follower_of(out)) as mgr:
        cfg = mgr.charm.shared.get()
        assert cfg is not None
        assert cfg.operator_password.get_secret_value() == "kept-pass"
        mgr.run()


def follower_of(leader_out: testing.State) -> testing.State:
    """Unit 1's state once the leader's output is committed (its app databag, its secrets)."""
    relation = dataclasses.replace(peer_of(leader_out), peers_data={0: {}})
    return dataclasses.replace(leader_out, leader=False, relations={relation})


class KeptWithNew(Kept):
    token: pydantic.SecretStr = pydantic.Field(default_factory=generate_password)  # new here


class TakingOverWithNewFieldCharm(TakingOverCharm):
    def __init__(self, framework: ops.Framework):
        ops.CharmBase.__init__(self, framework)
        self.shared = LeaderConfig(
            self, "cluster", KeptWithNew, prefix="lc-", migrate=self._legacy
        )


@pytest.mark.modules
def test_a_secret_field_new_in_this_revision_is_added_to_the_legacy_secret_taken_over():
    content = {"password": "old-pass-1", "internal-ca": "CA"}
    legacy_secret = dataclasses.replace(
        LEGACY_SECRET, tracked_content=content, latest_content=content
    )
    state = dataclasses.replace(_legacy_state(leader=True), secrets={legacy_secret})
    ctx = testing.Context(TakingOverWithNewFieldCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), state)
    out = _with_records(out, 1, 2)
    for unit in (1, 2):  # Juju runs relation-changed for each unit whose data changed
        out = ctx.run(ctx.on.relation_changed(peer_of(out), remote_unit=unit), out)
    (secret,) = out.secrets  # one secret, the legacy one, kept after retirement
    assert secret.id == LEGACY_SECRET.id
    content = secret.latest_content
    assert (content["password"], content["internal-ca"]) == ("old-pass-1", "CA")
    assert content["token"] == "generated-password"
    assert "secrets" not in app_data(out)  # retired
    assert GENERATED == ["generated"]  # the new field only, once


class ShowingCharm(AdoptingCharm):
    def _on_changed(self, event: LeaderConfigChangedEvent) -> None:
        super()._on_changed(event)
        self.unit.status = ops.ActiveStatus(f"{sorted(event.changed)}")


@pytest.mark.modules
def test_a_follower_reading_through_migrate_gets_changed_when_an_old_leader_changes_a_value():
    ctx = testing.Context(ShowingCharm, meta=META, unit_id=1)
    seen = ctx.run(ctx.on.upgrade_charm(), _legacy_state(leader=False, unit_id=1))
    relation = dataclasses.replace(
        peer_of(seen), local_app_data={**LEGACY, "cluster-state": "degraded"}
    )
    ctx = testing.Context(ShowingCharm, meta=META, unit_id=1)
    out = ctx.run(
        ctx.on.relation_changed(relation, remote_unit=0),
        dataclasses.replace(seen, relations={relation}),
    )
    assert out.unit_status == ops.ActiveStatus("['state']")
    ctx = testing.Context(ShowingCharm, meta=META, unit_id=1)
    ctx.run(ctx.on.relation_changed(relation, remote_unit=0), out)
    assert not [e for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)]


@pytest.mark.modules
@pytest.mark.parametrize("charm", [TakingOverCharm, SameKeysCharm])
def test_a_leader_that_does_not_yet_see_every_planned_unit_keeps_the_legacy_data(
    charm: type[ops.CharmBase],
):
    # Units 1 and 2 (on the old revision) are planned; the new leader has not joined them.
    state = testing.State(
        leader=True,
        relations={peer(LEGACY, peers=())},
        secrets={LEGACY_SECRET},
        planned_units=3,
    )
    ctx = testing.Context(charm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), state)
    assert {key: app_data(out)[key] for key in LEGACY} == LEGACY
    assert LEGACY_SECRET.id in {s.id for s in out.secrets}
    if charm is SameKeysCharm:
        assert "leader-config-revision" not in app_data(out)  # not taken over


class NewDeploymentCharm(AdoptingCharm):
    """A revision with `migrate`, deployed anew: notes whether the config was published."""

    calls: typing.ClassVar[list[bool]] = []
    fails = False

    def _from_legacy(self, relation: ops.Relation) -> Mapping[str, Any] | None:
        published = "lc-leader-config-revision" in relation.data[self.app]
        self.calls.append(published)
        if self.fails and published:  # it reads a key the library took over, say
            raise ValueError("cannot read the legacy data")
        return super()._from_legacy(relation)


@pytest.mark.modules
def test_each_leader_calls_migrate_once_more_after_publishing_on_a_new_deployment_too():
    NewDeploymentCharm.calls.clear()
    cluster = Application(NewDeploymentCharm, META)
    cluster.deploy(2)
    assert NewDeploymentCharm.calls.count(True) == 1  # the first leader's retirement
    NewDeploymentCharm.calls.clear()
    cluster.elect(1)
    cluster.settle()

    def read(charm: NewDeploymentCharm) -> None:
        charm.shared.get()

    for _ in range(2):
        cluster.run(1, "update-status", prepare=read)
    assert NewDeploymentCharm.calls == [True]  # the new leader's retirement


@pytest.mark.modules
def test_a_migrate_that_raises_once_published_leaves_a_warning_in_every_hook(
    caplog: pytest.LogCaptureFixture,
):
    class Failing(NewDeploymentCharm):
        fails = True

    cluster = Application(Failing, META)
    cluster.deploy(1)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            cluster.run(0, "update-status")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "LeaderConfig(relation_name='cluster', schema=Cluster, prefix='lc-'): legacy data"
        " not retired yet: cannot read the legacy data"
    ] * 2
