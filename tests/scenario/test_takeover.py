"""Taking legacy data over changes nothing that units on the old revision read.

The takeover of a legacy secret builds on its latest revision and adds no key of the
library's own to it; legacy values that an old revision's leader changes after the
adoption win; a departure completes a takeover as an upgrade does.
"""

from __future__ import annotations

import dataclasses
import json
import logging

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
)
from charms.leader_config.v0.testing import config_from_state
from cluster import Cluster
from conftest import META, app_data, peer, peer_of

pytestmark = pytest.mark.modules  # needs rollouts.py or adoption.py


class Admin(pydantic.BaseModel):
    password: pydantic.SecretStr
    state: str = "new"


# Before the upgrade: the old revision's leader rotated the password (revision 2 of its
# secret); every unit still tracks revision 1.
TRACKED = {"password": "before-rotation", "ca-cert": "old-ca"}
LATEST = {"password": "rotated", "ca-cert": "new-ca"}
LEGACY_SECRET = testing.Secret(TRACKED, latest_content=LATEST, owner="app", label="admin")
LEGACY = {"admin-secret": LEGACY_SECRET.id, "cluster-state": "existing"}


class AdminCharm(ops.CharmBase):
    prefix = "lc-"

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(
            self, "cluster", Admin, prefix=self.prefix, migrate=self._legacy
        )
        framework.observe(self.shared.on.changed, self._on_changed)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        old = relation.data[self.app]
        if "admin-secret" not in old:
            return None
        secret = self.model.get_secret(id=old["admin-secret"])
        password = secret.get_content(refresh=True)["password"]  # the latest revision
        values = {"password": password, "state": old["cluster-state"]}
        return Legacy(values, keys=["admin-secret", "cluster-state"], secret=secret)

    def _on_changed(self, _: LeaderConfigChangedEvent) -> None:
        cfg = self.shared.get()
        assert cfg is not None
        self.unit.status = ops.ActiveStatus(cfg.password.get_secret_value())


def _upgraded_leader() -> testing.State:
    state = testing.State(leader=True, relations={peer(LEGACY)}, secrets={LEGACY_SECRET})
    ctx = testing.Context(AdminCharm, meta=META)
    return ctx.run(ctx.on.upgrade_charm(), state)


def _legacy_secret(state: testing.State) -> testing.Secret:
    (secret,) = [s for s in state.secrets if s.id == LEGACY_SECRET.id]
    return secret


def test_a_takeover_builds_on_the_latest_revision_of_the_legacy_secret_not_the_tracked_one():
    out = _upgraded_leader()
    assert _legacy_secret(out).latest_content == LATEST  # nothing reverted
    cfg = config_from_state(out, "cluster", Admin, prefix="lc-")
    assert cfg is not None
    assert cfg.password.get_secret_value() == "rotated"


def test_units_on_the_old_revision_read_a_taken_over_secret_exactly_as_before():
    out = _upgraded_leader()
    assert json.loads(app_data(out)["lc-secret-id"]) == LEGACY_SECRET.id  # taken over
    assert _legacy_secret(out).latest_content == LATEST  # no key of the library's own
    assert len(out.secrets) == 1


def test_a_new_value_written_to_a_taken_over_secret_changes_only_its_own_content_key():
    ctx = testing.Context(AdminCharm, meta=META)
    with ctx(ctx.on.update_status(), _upgraded_leader()) as mgr:
        mgr.charm.shared.update(password=pydantic.SecretStr("after-the-switch"))
        out = mgr.run()
    assert _legacy_secret(out).latest_content == {**LATEST, "password": "after-the-switch"}


def test_a_follower_reads_a_taken_over_secret_at_its_latest_revision():
    out = _upgraded_leader()
    relation = dataclasses.replace(peer_of(out), peers_data={0: {}})
    # The follower still tracks the revision from before the rotation.
    state = dataclasses.replace(out, leader=False, relations={relation})
    ctx = testing.Context(AdminCharm, meta=META, unit_id=1)
    after = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), state)
    assert after.unit_status == testing.ActiveStatus("rotated")


class Salted(pydantic.BaseModel):
    salt: str
    state: str = "new"


class SameKeysCharm(ops.CharmBase):
    """The new schema's keys are the legacy ones: `salt` held a raw string."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Salted, migrate=self._legacy)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        old = relation.data[self.app]
        if "cluster-state" not in old:
            return None
        return Legacy({"salt": old["salt"], "state": old["cluster-state"]}, keys=["cluster-state"])


RECORD = {"leader-config-unit": "{}"}  # what a unit on the new revision writes
# The legacy keys once taken over: the same values, JSON-encoded, at revision 1.
TAKEN_OVER = {"salt": '"s4lt"', "state": '"existing"', "leader-config-revision": "1"}


def test_the_last_unit_on_the_old_revision_removed_completes_the_takeover_as_an_upgrade_does():
    legacy = {"salt": "s4lt", "cluster-state": "existing"}
    relation = testing.PeerRelation(
        "cluster", local_app_data=legacy, peers_data={1: RECORD, 2: {}}
    )
    ctx = testing.Context(SameKeysCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), testing.State(leader=True, relations={relation}))
    assert app_data(out) == legacy  # unit 2 still reads the legacy keys
    departed = dataclasses.replace(peer_of(out), peers_data={1: RECORD})
    state = dataclasses.replace(out, relations={departed})
    ctx = testing.Context(SameKeysCharm, meta=META)
    out = ctx.run(ctx.on.relation_departed(departed, remote_unit=2, departing_unit=2), state)
    assert app_data(out) == TAKEN_OVER


@pytest.mark.parametrize("peers", [(), (1,)], ids=["alone", "with-upgraded-peer"])
def test_a_leader_that_reads_the_config_before_the_library_sees_the_hook_retires_in_it(
    peers: tuple[int, ...],
):
    """A charm's own handler, or its `__init__`, may read first: the look is not lost."""
    legacy = {"salt": "s4lt", "cluster-state": "existing"}
    relation = testing.PeerRelation(
        "cluster", local_app_data=legacy, peers_data=dict.fromkeys(peers, RECORD)
    )
    ctx = testing.Context(SameKeysCharm, meta=META)
    with ctx(ctx.on.upgrade_charm(), testing.State(leader=True, relations={relation})) as mgr:
        assert mgr.charm.shared.get() == Salted(salt="s4lt", state="existing")
        out = mgr.run()
    assert app_data(out) == TAKEN_OVER


class OldRevision(ops.CharmBase):
    """The revision before the library: the leader wrote the raw values by hand."""


def test_a_unit_that_leads_again_before_its_leader_elected_hook_takes_the_legacy_keys_over():
    cluster = Cluster(OldRevision, META, app_data={"salt": "s4lt", "cluster-state": "existing"})
    cluster.deploy(3)
    cluster.upgrade(0, SameKeysCharm)  # the leader first: it counts the units
    cluster.elect(1)  # a unit on the old revision leads for a while
    cluster.upgrade(2, SameKeysCharm)
    cluster.settle()  # unit 0, following, sees unit 2's record
    cluster.elect(0, run_hook=False)  # unit 0 leads again; its leader-elected is queued
    cluster.upgrade(1, SameKeysCharm)  # the last unit on the old revision
    cluster.run(0, "relation-changed", remote=1)  # unit 1's record reaches the leader
    assert cluster.app_data == TAKEN_OVER


def test_a_value_written_by_hand_in_the_legacy_format_while_adopting_reaches_every_unit():
    """Under the legacy keys the leader's writes wait; a value that cannot wait is hand-written."""
    cluster = Cluster(OldRevision, META, app_data={"salt": "s4lt", "cluster-state": "existing"})
    cluster.deploy(3)
    cluster.upgrade(0, SameKeysCharm)
    cluster.upgrade(1, SameKeysCharm)  # unit 2 still runs the old revision
    cluster.settle()
    read: list[Salted | None] = []

    def write_by_hand(charm: ops.CharmBase) -> None:
        assert isinstance(charm, SameKeysCharm)  # unit 0 runs the new revision
        assert charm.shared.adopting
        relation = charm.model.get_relation("cluster")
        assert relation is not None
        relation.data[charm.app]["cluster-state"] = "degraded"  # as the old revision writes
        read.append(charm.shared.get())

    cluster.run(0, "update-status", prepare=write_by_hand)
    cluster.settle()
    assert read == [Salted(salt="s4lt", state="degraded")]
    assert cluster.changed_events(1)[-1] == frozenset({"state"})
    assert cluster.app_data["cluster-state"] == "degraded"  # what unit 2 reads, raw
    cluster.upgrade(2, SameKeysCharm)
    cluster.settle()
    assert cluster.app_data == {
        "salt": '"s4lt"',
        "state": '"degraded"',
        "leader-config-revision": "1",
    }


class PrefixedCharm(ops.CharmBase):
    """Adopts `salt` and `cluster-state` under new keys (`v2-...`)."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Salted, prefix="v2-", migrate=self._legacy)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        old = relation.data[self.app]
        if "cluster-state" not in old:
            return None
        values = {"salt": old["salt"], "state": old["cluster-state"]}
        return Legacy(values, keys=["salt", "cluster-state"])


def _prefixed_adoption() -> testing.State:
    """Unit 0 adopted under `v2-` keys; unit 1 still runs the old revision."""
    legacy = {"salt": "s4lt", "cluster-state": "existing"}
    state = testing.State(leader=True, relations={peer(legacy, peers=(1,))})
    ctx = testing.Context(PrefixedCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), state)
    assert app_data(out)["v2-salt"] == '"s4lt"'
    return out


def _old_leader_rotates_the_salt(state: testing.State) -> testing.State:
    """Leadership went to unit 1 (old revision), which rotated the salt, and came back."""
    relation = peer_of(state)
    data = {**relation.local_app_data, "salt": "rotated"}
    return dataclasses.replace(
        state, relations={dataclasses.replace(relation, local_app_data=data)}
    )


def test_a_legacy_value_an_old_leader_changes_after_the_adoption_wins_and_survives_retirement(
    caplog: pytest.LogCaptureFixture,
):
    state = _old_leader_rotates_the_salt(_prefixed_adoption())
    ctx = testing.Context(PrefixedCharm, meta=META)
    with caplog.at_level(logging.INFO):
        out = ctx.run(ctx.on.leader_elected(), state)
    data = app_data(out)
    assert (data["v2-salt"], data["v2-leader-config-revision"]) == ('"rotated"', "2")
    assert "adopting legacy values changed since: salt" in caplog.text
    upgraded = dataclasses.replace(peer_of(out), peers_data={1: {"v2-leader-config-unit": "{}"}})
    out = dataclasses.replace(out, relations={upgraded})
    ctx = testing.Context(PrefixedCharm, meta=META)
    out = ctx.run(ctx.on.relation_changed(upgraded, remote_unit=1), out)
    assert app_data(out) == {
        "v2-salt": '"rotated"',
        "v2-state": '"existing"',
        "v2-leader-config-revision": "2",
    }


def test_a_field_the_new_revision_wrote_since_the_adoption_keeps_its_value_over_the_legacy_one():
    ctx = testing.Context(PrefixedCharm, meta=META)
    with ctx(ctx.on.config_changed(), _prefixed_adoption()) as mgr:
        mgr.charm.shared.update(salt="mine")
        written = mgr.run()
    ctx = testing.Context(PrefixedCharm, meta=META)
    out = ctx.run(ctx.on.leader_elected(), _old_leader_rotates_the_salt(written))
    assert app_data(out)["v2-salt"] == '"mine"'
    assert app_data(out)["v2-leader-config-revision"] == "2"


def test_adopting_tells_every_unit_that_the_takeover_is_still_to_come_and_when_it_is_done():
    legacy = {"salt": "s4lt", "cluster-state": "existing"}
    relation = testing.PeerRelation(
        "cluster", local_app_data=legacy, peers_data={1: RECORD, 2: {}}
    )
    seen: list[bool] = []
    ctx = testing.Context(SameKeysCharm, meta=META)
    with ctx(ctx.on.upgrade_charm(), testing.State(leader=True, relations={relation})) as mgr:
        seen.append(mgr.charm.shared.adopting)
        out = mgr.run()
    upgraded = dataclasses.replace(peer_of(out), peers_data={1: RECORD, 2: RECORD})
    ctx = testing.Context(SameKeysCharm, meta=META)
    out = ctx.run(
        ctx.on.relation_changed(upgraded, remote_unit=2),
        dataclasses.replace(out, relations={upgraded}),
    )
    for unit, leader in ((0, True), (1, False)):
        ctx = testing.Context(SameKeysCharm, meta=META, unit_id=unit)
        relation = (
            peer_of(out) if leader else dataclasses.replace(peer_of(out), peers_data={0: RECORD})
        )
        with ctx(
            ctx.on.update_status(), dataclasses.replace(out, leader=leader, relations={relation})
        ) as mgr:
            seen.append(mgr.charm.shared.adopting)
            mgr.run()
    assert seen == [True, False, False]


def test_adopting_is_false_for_a_new_deployment_and_without_migrate():
    ctx = testing.Context(SameKeysCharm, meta=META)
    with ctx(ctx.on.update_status(), testing.State(leader=True, relations={peer()})) as mgr:
        assert mgr.charm.shared.adopting is False
        mgr.run()


def test_the_secret_id_names_the_legacy_secret_once_it_is_taken_over():
    ctx = testing.Context(AdminCharm, meta=META)
    with ctx(ctx.on.update_status(), _upgraded_leader()) as mgr:
        assert mgr.charm.shared.secret_id == LEGACY_SECRET.id
        assert mgr.charm.shared.secret_label == "leader-config-cluster-lc"  # not its label
        mgr.run()


# Nothing is written while `migrate` fails, nor over what old units read


class FailingMigrateCharm(ops.CharmBase):
    """`migrate` raises (a legacy secret Juju cannot read now, say)."""

    prefix = ""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(
            self, "cluster", Salted, prefix=self.prefix, migrate=self._legacy
        )

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        raise RuntimeError("the legacy secret cannot be read now")


class PrefixedFailingMigrateCharm(FailingMigrateCharm):
    prefix = "v2-"


def _write(shared: LeaderConfig[Salted], write: str) -> None:
    if write == "set":
        shared.set(Salted(salt="new", state="running"))
    elif write == "update":
        shared.update(salt="new")
    else:
        with shared.edit() as cfg:
            cfg.salt = "new"


@pytest.mark.parametrize("charm", [FailingMigrateCharm, PrefixedFailingMigrateCharm])
@pytest.mark.parametrize("write", ["set", "update", "edit"])
def test_no_write_goes_through_while_migrate_fails_so_old_units_keep_what_they_read(
    charm: type[FailingMigrateCharm], write: str
):
    legacy = {"salt": "s4lt", "cluster-state": "existing"}  # raw strings old units read
    state = testing.State(leader=True, relations={peer(legacy, peers=(1,))})
    ctx = testing.Context(charm, meta=META)
    with ctx(ctx.on.update_status(), state) as mgr:
        with pytest.raises(LeaderConfigError, match="migrate failed") as caught:
            _write(mgr.charm.shared, write)
        out = mgr.run()
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert app_data(out) == legacy


class Counted(pydantic.BaseModel):
    salt: str
    count: int = 0


class InvalidLegacyCharm(ops.CharmBase):
    """`migrate` returns a value that the schema refuses: a `count` that is no number."""

    prefix = ""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(
            self, "cluster", Counted, prefix=self.prefix, migrate=self._legacy
        )

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        old = relation.data[self.app]
        return Legacy({"salt": old["salt"], "count": old["count"]}, keys=["count"])


class PrefixedInvalidLegacyCharm(InvalidLegacyCharm):
    prefix = "v2-"


def test_set_cannot_replace_invalid_legacy_values_that_old_units_read_under_its_keys():
    legacy = {"salt": "s4lt", "count": "many"}
    state = testing.State(leader=True, relations={peer(legacy, peers=(1,))})
    ctx = testing.Context(InvalidLegacyCharm, meta=META)
    with ctx(ctx.on.update_status(), state) as mgr:
        with pytest.raises(InvalidConfigError):
            mgr.charm.shared.get()
        with pytest.raises(NotReadyError, match="old revision"):
            mgr.charm.shared.set(Counted(salt="new", count=1))
        out = mgr.run()
    assert app_data(out) == legacy


def test_set_replaces_invalid_legacy_values_under_new_keys_and_they_stay_over_the_legacy_ones():
    legacy = {"salt": "s4lt", "count": "many"}
    state = testing.State(leader=True, relations={peer(legacy, peers=(1,))})
    ctx = testing.Context(PrefixedInvalidLegacyCharm, meta=META)
    with ctx(ctx.on.update_status(), state) as mgr:
        with pytest.raises(InvalidConfigError):
            mgr.charm.shared.get()
        mgr.charm.shared.set(Counted(salt="new", count=1))
        out = mgr.run()
    assert app_data(out) == {
        **legacy,  # old units read them until they are retired
        "v2-salt": '"new"',
        "v2-count": "1",
        "v2-leader-config-revision": "1",
        "v2-leader-config-adopted": '{"written": ["count", "salt"]}',
    }


# A legacy secret taken over is never removed


class Token(pydantic.BaseModel):
    token: pydantic.SecretStr | None = None


TOKEN_SECRET = testing.Secret({"token": "abc"}, owner="app", label="legacy-token")


class TokenCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Token, prefix="v2-", migrate=self._legacy)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        secret_id = relation.data[self.app].get("token-id")
        if secret_id is None:
            return None
        secret = self.model.get_secret(id=secret_id)
        token = secret.get_content(refresh=True)["token"]
        return Legacy({"token": token}, keys=["token-id"], secret=secret)


def test_a_legacy_secret_taken_over_stays_when_its_last_value_is_cleared():
    relation = peer({"token-id": TOKEN_SECRET.id}, peers=(1,))  # unit 1: the old revision
    state = testing.State(leader=True, relations={relation}, secrets={TOKEN_SECRET})
    ctx = testing.Context(TokenCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), state)
    assert app_data(out)["v2-secret-id"] == json.dumps(TOKEN_SECRET.id)  # taken over
    ctx = testing.Context(TokenCharm, meta=META)
    with ctx(ctx.on.update_status(), out) as mgr:
        mgr.charm.shared.update(token=None)
        out = mgr.run()
    (kept,) = [s for s in out.secrets if s.id == TOKEN_SECRET.id]
    assert kept.latest_content == {"token": "abc"}  # what unit 1 reads
    assert app_data(out)["v2-token"] == "null"
    ctx = testing.Context(TokenCharm, meta=META)
    with ctx(ctx.on.update_status(), out) as mgr:
        assert mgr.charm.shared.get() == Token()
        mgr.charm.shared.update(token="def")
        out = mgr.run()
    (kept,) = [s for s in out.secrets if s.id == TOKEN_SECRET.id]
    assert kept.latest_content == {"token": "def"}  # the same secret, no stamp added


# What waited for a planned unit goes ahead once it is removed, whatever the charm reads


@pytest.mark.parametrize("reads", [False, True])
def test_a_planned_unit_removed_before_it_joined_holds_the_takeover_back_no_longer(reads: bool):
    legacy = {"salt": "s4lt", "cluster-state": "existing"}
    relation = testing.PeerRelation("cluster", local_app_data=legacy)
    state = testing.State(leader=True, relations={relation}, planned_units=2)
    ctx = testing.Context(SameKeysCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), state)
    assert app_data(out) == legacy  # unit 1 is planned: it may start on the old revision
    removed = dataclasses.replace(out, planned_units=1)
    ctx = testing.Context(SameKeysCharm, meta=META)
    with ctx(ctx.on.update_status(), removed) as mgr:
        if reads:  # a reconciler reads the config in every hook, before its end
            assert mgr.charm.shared.get() == Salted(salt="s4lt", state="existing")
        out = mgr.run()
    assert app_data(out) == TAKEN_OVER
