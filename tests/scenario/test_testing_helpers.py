"""The testing helpers charm authors use: a state holding a config, and reading one back."""

from __future__ import annotations

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0.leader_config import (
    LeaderConfig,
    SecretUnavailableError,
    config_from_state,
    peer_relation_with,
)
from conftest import META, Shared, SharedCharm


class WithSecret(pydantic.BaseModel):
    region: str = "eu"
    token: pydantic.SecretStr | None = None


class WithSecretCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", WithSecret, prefix="x-")


def test_a_follower_reads_the_config_that_the_helper_puts_in_the_state():
    relation, secrets = peer_relation_with(
        "cluster", Shared(log_level="debug"), peers_data={0: {}}
    )
    assert secrets == frozenset()
    ctx = testing.Context(SharedCharm, meta=META, unit_id=1)
    state = testing.State(relations={relation})
    out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), state)
    assert out.unit_status == ops.ActiveStatus("log_level=debug")


def test_secret_fields_go_into_a_secret_that_the_charm_reads():
    config = WithSecret(region="us", token=pydantic.SecretStr("tok-987"))
    relation, secrets = peer_relation_with("cluster", config, prefix="x-", peers_data={0: {}})
    assert "tok-987" not in str(dict(relation.local_app_data))
    ctx = testing.Context(WithSecretCharm, meta=META, unit_id=1)
    with ctx(ctx.on.update_status(), testing.State(relations={relation}, secrets=secrets)) as mgr:
        assert mgr.charm.shared.get() == config
        mgr.run()


def test_config_from_state_reads_what_the_leader_wrote():
    ctx = testing.Context(WithSecretCharm, meta=META)
    with ctx(
        ctx.on.update_status(),
        testing.State(
            leader=True, relations={peer_relation_with("cluster", WithSecret(), prefix="x-")[0]}
        ),
    ) as mgr:
        mgr.charm.shared.update(token=pydantic.SecretStr("tok-555"))
        out = mgr.run()
    config = config_from_state(out, "cluster", WithSecret, prefix="x-")
    assert config == WithSecret(token=pydantic.SecretStr("tok-555"))


def test_the_helpers_round_trip_and_keep_other_keys():
    config = WithSecret(region="ap", token=pydantic.SecretStr("abc-123"))
    relation, secrets = peer_relation_with(
        "cluster", config, local_app_data={"other": "raw"}, id=3
    )
    assert relation.id == 3
    assert relation.local_app_data["other"] == "raw"
    state = testing.State(relations={relation}, secrets=secrets)
    assert config_from_state(state, "cluster", WithSecret) == config


def test_config_from_state_is_none_without_the_relation_or_a_published_config():
    assert config_from_state(testing.State(), "cluster", Shared) is None
    state = testing.State(relations={testing.PeerRelation("cluster", local_app_data={"x": "1"})})
    assert config_from_state(state, "cluster", Shared) is None


def test_config_from_state_names_a_missing_secret():
    relation, _ = peer_relation_with("cluster", WithSecret(token=pydantic.SecretStr("t-1")))
    with pytest.raises(SecretUnavailableError, match="token"):
        config_from_state(testing.State(relations={relation}), "cluster", WithSecret)
