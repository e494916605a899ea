"""The testing helpers charm authors use: a state holding a config, and reading one back."""

from __future__ import annotations

import dataclasses

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0 import leader_config
from charms.leader_config.v0.leader_config import LeaderConfig, SecretUnavailableError
from charms.leader_config.v0.testing import (
    config_from_state,
    follower_state,
    peer_relation,
    published_state,
)
from conftest import META, Shared, SharedCharm, changed_events, make_context


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
