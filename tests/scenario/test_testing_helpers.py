"""The testing helpers charm authors use: a state holding a config, and reading one back."""

from __future__ import annotations

import ast
import dataclasses
import logging
import uuid
from pathlib import Path

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0 import leader_config
from charms.leader_config.v0 import testing as helpers
from charms.leader_config.v0.leader_config import (
    InvalidConfigError,
    LeaderConfig,
    LeaderConfigAppliedEvent,
    LeaderConfigChangedEvent,
    SecretUnavailableError,
)
from charms.leader_config.v0.testing import (
    config_from_state,
    follower_state,
    peer_relation,
    published_state,
    upgraded_peer_data,
)
from conftest import (
    META,
    AdoptingCharm,
    LegacyCluster,
    Shared,
    SharedCharm,
    changed_events,
    make_context,
)


class WithSecret(pydantic.BaseModel):
    region: str = "eu"
    token: pydantic.SecretStr | None = None


class WithSecretCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", WithSecret, prefix="x-")


def _relation(state: testing.State) -> testing.RelationBase:
    (relation,) = state.get_relations("cluster")
    return relation


def test_a_follower_reads_the_config_that_the_helper_puts_in_the_state():
    state = published_state("cluster", Shared(log_level="debug"), peers_data={0: {}})
    assert not state.leader
    ctx = testing.Context(SharedCharm, meta=META, unit_id=1)
    out = ctx.run(ctx.on.relation_changed(_relation(state), remote_unit=0), state)
    assert out.unit_status == ops.ActiveStatus("log_level=debug")


def test_a_leader_state_from_the_helper_is_published_and_handled_like_any_other():
    state = published_state("cluster", Shared(log_level="debug"), leader=True)
    ctx = make_context()
    with ctx(ctx.on.update_status(), state) as mgr:
        assert mgr.charm.shared.get() == Shared(log_level="debug")
        assert mgr.charm.shared.revision == 1
        mgr.run()


def test_published_state_keeps_the_rest_of_the_state_it_is_given():
    base = testing.State(config={"x": 1}, relations={testing.Relation("db")})
    state = published_state("cluster", Shared(), state=base)
    assert state.config == {"x": 1}
    assert {r.endpoint for r in state.relations} == {"db", "cluster"}


def test_secret_fields_go_into_a_secret_that_the_charm_reads():
    config = WithSecret(region="us", token=pydantic.SecretStr("tok-987"))
    state = published_state("cluster", config, prefix="x-", peers_data={0: {}})
    assert "tok-987" not in str(dict(_relation(state).local_app_data))
    ctx = testing.Context(WithSecretCharm, meta=META, unit_id=1)
    with ctx(ctx.on.update_status(), state) as mgr:
        assert mgr.charm.shared.get() == config
        mgr.run()


def test_a_followers_state_from_the_leaders_output_gets_one_changed_event():
    ctx = make_context()
    leader_out = ctx.run(
        ctx.on.leader_elected(),
        testing.State(leader=True, relations={testing.PeerRelation("cluster")}),
    )
    state = follower_state(leader_out, "cluster", unit_id=1)
    assert not state.leader
    assert state.stored_states == frozenset()
    ctx = make_context(unit_id=1)
    out = ctx.run(ctx.on.relation_changed(_relation(state), remote_unit=0), state)
    assert changed_events(ctx) == [frozenset({"log_level", "members"})]
    # Its own output fed back with the leader's next output: only the change is named.
    with make_context()(make_context().on.update_status(), leader_out) as mgr:
        mgr.charm.shared.update(log_level="debug")
        leader_out = mgr.run()
    state = follower_state(leader_out, "cluster", unit_id=1, state=out)
    ctx = make_context(unit_id=1)
    ctx.run(ctx.on.relation_changed(_relation(state), remote_unit=0), state)
    assert changed_events(ctx) == [frozenset({"log_level"})]


def test_config_from_state_reads_what_the_leader_wrote():
    ctx = testing.Context(WithSecretCharm, meta=META)
    state = published_state("cluster", WithSecret(), prefix="x-", leader=True)
    with ctx(ctx.on.update_status(), state) as mgr:
        mgr.charm.shared.update(token=pydantic.SecretStr("tok-555"))
        out = mgr.run()
    config = config_from_state(out, "cluster", WithSecret, prefix="x-")
    assert config == WithSecret(token=pydantic.SecretStr("tok-555"))


def test_config_from_state_reads_the_latest_secret_revision_after_a_rotation():
    ctx = testing.Context(WithSecretCharm, meta=META)
    state = published_state(
        "cluster", WithSecret(token=pydantic.SecretStr("tok-1")), prefix="x-", leader=True
    )
    with ctx(ctx.on.update_status(), state) as mgr:
        mgr.charm.shared.update(token=pydantic.SecretStr("tok-2"))
        out = mgr.run()
    config = config_from_state(out, "cluster", WithSecret, prefix="x-")
    assert config == WithSecret(token=pydantic.SecretStr("tok-2"))


def test_the_helpers_round_trip_and_keep_other_keys():
    config = WithSecret(region="ap", token=pydantic.SecretStr("abc-123"))
    relation, secrets = peer_relation("cluster", config, local_app_data={"other": "raw"}, id=3)
    assert relation.id == 3
    assert relation.local_app_data["other"] == "raw"
    state = testing.State(relations={relation}, secrets=secrets)
    assert config_from_state(state, "cluster", WithSecret) == config


def test_config_from_state_is_none_without_the_relation_or_a_published_config():
    assert config_from_state(testing.State(), "cluster", Shared) is None
    state = testing.State(relations={testing.PeerRelation("cluster", local_app_data={"x": "1"})})
    assert config_from_state(state, "cluster", Shared) is None


def test_config_from_state_names_a_missing_secret():
    state = published_state("cluster", WithSecret(token=pydantic.SecretStr("t-1")))
    with pytest.raises(SecretUnavailableError, match="token"):
        config_from_state(dataclasses.replace(state, secrets=frozenset()), "cluster", WithSecret)


def test_the_helpers_of_earlier_patches_still_work_with_a_deprecation_warning():
    config = WithSecret(region="ap", token=pydantic.SecretStr("abc-123"))
    with pytest.warns(DeprecationWarning, match=r"v0\.testing\.peer_relation"):
        relation, secrets = leader_config.peer_relation_with("cluster", config)
    state = testing.State(relations={relation}, secrets=secrets)
    with pytest.warns(DeprecationWarning, match=r"v0\.testing\.config_from_state"):
        assert leader_config.config_from_state(state, "cluster", WithSecret) == config


# The helpers speak to the core through its public names only


def test_the_testing_library_imports_only_public_names_of_the_core():
    tree = ast.parse(Path(helpers.__file__).read_text())
    core = leader_config.__name__
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == core
        for alias in node.names
    ]
    assert imported  # it uses the core
    assert [name for name in imported if name.startswith("_")] == []
    modules = {
        (getattr(node, "module", None), alias.name)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    # No module object to reach private names through.
    assert not modules & {(None, core), ("charms.leader_config.v0", "leader_config")}


def test_configs_that_differ_only_in_a_secret_value_are_published_apart():
    states = [
        published_state("cluster", WithSecret(token=pydantic.SecretStr(token)))
        for token in ("tok-a", "tok-b", "tok-a")
    ]
    configs = [config_from_state(state, "cluster", WithSecret) for state in states]
    tokens = [c.token.get_secret_value() for c in configs if c is not None and c.token]
    assert tokens == ["tok-a", "tok-b", "tok-a"]


def test_the_helpers_leave_no_log_records_and_no_logging_set_up_behind(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG)
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    unique = Shared(members=[str(uuid.uuid4())])  # a value no earlier call has published
    state = published_state("cluster", unique)
    assert config_from_state(state, "cluster", Shared) == unique
    assert caplog.records == []
    assert (root.level, root.handlers) == (level, handlers)


# A follower keeps what is its own, and gets only what the leader's commit shows it


class KeyCharm(ops.CharmBase):
    """Shares a token, and keeps a private key of its own unit in a unit-owned secret."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Token, acknowledge=True)
        framework.observe(self.on.install, self._on_install)
        framework.observe(self.shared.on.changed, self._on_changed)

    def _on_install(self, event: ops.InstallEvent) -> None:
        self.unit.add_secret({"private-key": f"key-of-{self.unit.name}"}, label="private-key")

    def _on_changed(self, event: LeaderConfigChangedEvent) -> None:
        self.shared.acknowledge()


class Token(pydantic.BaseModel):
    token: pydantic.SecretStr = pydantic.SecretStr("t-1")


def _key_context(unit_id: int) -> testing.Context[KeyCharm]:
    return testing.Context(KeyCharm, meta=META, unit_id=unit_id)


def _installed(unit_id: int, *, leader: bool, peers: dict[int, dict[str, str]]) -> testing.State:
    ctx = _key_context(unit_id)
    state = testing.State(
        leader=leader, relations={testing.PeerRelation("cluster", peers_data=peers)}
    )
    return ctx.run(ctx.on.install(), state)


def _private_keys(state: testing.State) -> list[str]:
    return sorted(
        s.latest_content["private-key"] for s in state.secrets if "private-key" in s.latest_content
    )


def _leader_writes(state: testing.State, token: str) -> testing.State:
    ctx = _key_context(0)
    with ctx(ctx.on.update_status(), state) as mgr:
        mgr.charm.shared.update(token=pydantic.SecretStr(token))
        return mgr.run()


@pytest.mark.modules
def test_follower_state_keeps_the_followers_own_secrets_and_gives_it_none_of_the_leaders():
    leader_out = _installed(0, leader=True, peers={1: {}})
    leader_out = _leader_writes(leader_out, "t-2")
    follower = _installed(1, leader=False, peers={0: {}})
    state = follower_state(leader_out, "cluster", state=follower)
    assert _private_keys(state) == ["key-of-app/1"]
    ctx = _key_context(1)
    with ctx(ctx.on.relation_changed(_relation(state), remote_unit=0), state) as mgr:
        out = mgr.run()
        assert mgr.charm.shared.get() == Token(token=pydantic.SecretStr("t-2"))
    assert _private_keys(out) == ["key-of-app/1"]


@pytest.mark.modules
def test_follower_state_keeps_the_followers_committed_unit_databag_not_the_leaders_view_of_it():
    leader_out = _leader_writes(_installed(0, leader=True, peers={1: {}}), "t-2")
    ctx = _key_context(1)
    state = follower_state(leader_out, "cluster", state=_installed(1, leader=False, peers={0: {}}))
    follower_out = ctx.run(ctx.on.relation_changed(_relation(state), remote_unit=0), state)
    record = dict(_relation(follower_out).local_unit_data)
    assert record["leader-config-unit"] == '{"applied": 1}'
    # The leader's next commit, before it has seen the follower's record.
    leader_out = _leader_writes(leader_out, "t-3")
    state = follower_state(leader_out, "cluster", state=follower_out)
    assert dict(_relation(state).local_unit_data) == record


@pytest.mark.modules
def test_follower_state_keeps_the_secret_revision_the_follower_tracks_and_shows_the_latest():
    first = _leader_writes(_installed(0, leader=True, peers={1: {}}), "t-1")
    ctx = _key_context(1)
    state = follower_state(first, "cluster", state=_installed(1, leader=False, peers={0: {}}))
    follower_out = ctx.run(ctx.on.relation_changed(_relation(state), remote_unit=0), state)
    rotated = _leader_writes(_leader_writes(first, "t-2"), "t-3")
    state = follower_state(rotated, "cluster", state=follower_out)
    (shared,) = [s for s in state.secrets if "token" in s.latest_content]
    assert (shared.tracked_content["token"], shared.latest_content["token"]) == ("t-1", "t-3")
    ctx = _key_context(1)
    with ctx(ctx.on.relation_changed(_relation(state), remote_unit=0), state) as mgr:
        assert mgr.charm.shared.get() == Token(token=pydantic.SecretStr("t-3"))
        mgr.run()


@pytest.mark.modules
def test_follower_state_gives_a_follower_new_to_a_secret_its_latest_revision():
    rotated = _leader_writes(
        _leader_writes(_installed(0, leader=True, peers={1: {}}), "t-2"), "t-3"
    )
    state = follower_state(rotated, "cluster")
    (shared,) = [s for s in state.secrets if "token" in s.latest_content]
    assert (shared.tracked_content["token"], shared.latest_content["token"]) == ("t-3", "t-3")
    assert shared.owner == "app"


# Reading during an adoption, as a follower reads


LEGACY_SECRET = testing.Secret({"password": "kept-pass"}, owner="app", label="admin")
LEGACY = {"salt": "s4lt", "cluster-state": "existing", "admin-secret-id": LEGACY_SECRET.id}


@pytest.mark.modules
def test_config_from_state_reads_legacy_values_through_migrate_as_a_follower_does():
    state = testing.State(
        relations={testing.PeerRelation("cluster", local_app_data=LEGACY, peers_data={0: {}})},
        secrets={LEGACY_SECRET},
    )
    ctx = testing.Context(AdoptingCharm, meta=META, unit_id=1)
    with ctx(ctx.on.update_status(), state) as mgr:
        followers_view = mgr.charm.shared.get()
        mgr.run()
    assert followers_view == LegacyCluster(
        state="existing", salt="s4lt", password=pydantic.SecretStr("kept-pass")
    )
    config = config_from_state(state, "cluster", LegacyCluster, migrate=AdoptingCharm.legacy)
    assert config == followers_view
    with pytest.raises(InvalidConfigError):  # without migrate: the plaintext is no JSON
        config_from_state(state, "cluster", LegacyCluster)


# The unit databag of a peer that runs a revision that uses the library


@pytest.mark.modules
def test_a_peer_with_upgraded_peer_data_counts_as_running_a_revision_that_uses_the_library():
    peers = {1: upgraded_peer_data(), 2: upgraded_peer_data()}
    relation = testing.PeerRelation("cluster", local_app_data=LEGACY, peers_data=peers)
    state = testing.State(leader=True, relations={relation}, secrets={LEGACY_SECRET})
    ctx = testing.Context(AdoptingCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), state)
    assert config_from_state(out, "cluster", LegacyCluster) == LegacyCluster(
        state="existing", salt="s4lt", password=pydantic.SecretStr("kept-pass")
    )  # taken over: every unit runs the new revision
    assert "cluster-state" not in _relation(out).local_app_data  # and retired


@pytest.mark.modules
def test_a_peer_with_no_record_counts_as_running_the_old_revision():
    relation = testing.PeerRelation("cluster", local_app_data=LEGACY, peers_data={1: {}})
    state = testing.State(leader=True, relations={relation}, secrets={LEGACY_SECRET})
    ctx = testing.Context(AdoptingCharm, meta=META)
    out = ctx.run(ctx.on.upgrade_charm(), state)
    assert dict(_relation(out).local_app_data) == LEGACY  # left alone for unit 1


@pytest.mark.modules
def test_upgraded_peer_data_is_what_an_upgraded_unit_writes_in_its_first_hook():
    ctx = testing.Context(AdoptingCharm, meta=META, unit_id=1)
    relation = testing.PeerRelation(
        "cluster", local_app_data=LEGACY, local_unit_data={}, peers_data={0: {}}
    )
    state = testing.State(relations={relation}, secrets={LEGACY_SECRET})
    out = ctx.run(ctx.on.upgrade_charm(), state)
    assert dict(_relation(out).local_unit_data) == upgraded_peer_data()
    assert upgraded_peer_data("v2-").keys() == {"v2-leader-config-unit"}


@pytest.mark.modules
@pytest.mark.parametrize(("applied", "complete"), [(0, False), (1, True), (2, True)])
def test_a_peer_with_upgraded_peer_data_applied_n_counts_as_having_applied_revision_n(
    applied: int, complete: bool
):
    peers = {1: upgraded_peer_data(applied=applied)}
    state = published_state("cluster", Token(), leader=True, peers_data=peers)
    ctx = _key_context(0)
    with ctx(ctx.on.update_status(), state) as mgr:
        mgr.charm.shared.acknowledge()  # revision 1, on the leader
        rollout = mgr.charm.shared.rollout()
        mgr.run()
    assert rollout.revision == 1
    assert rollout.pending == (set() if complete else {"app/1"})
    applied_events = [e for e in ctx.emitted_events if isinstance(e, LeaderConfigAppliedEvent)]
    assert [e.revision for e in applied_events] == ([1] if complete else [])


def test_upgraded_peer_data_refuses_a_negative_revision():
    with pytest.raises(ValueError, match="applied"):
        upgraded_peer_data(applied=-1)


def test_follower_state_refuses_a_relation_that_is_not_a_peer_relation():
    leader_out = testing.State(leader=True, relations={testing.Relation("db")})
    with pytest.raises(TypeError, match="'db' is not a peer relation"):
        follower_state(leader_out, "db")
    with pytest.raises(TypeError, match="'cluster' is not a peer relation"):  # none at all
        follower_state(leader_out, "cluster")
