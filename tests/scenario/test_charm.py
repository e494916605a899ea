"""The tester charm: the leader shares two config options; every unit shows them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import ops
import pytest
import yaml
from ops import testing

from charm import LeaderConfigTesterCharm, Shared
from charms.leader_config.v0.leader_config import LeaderConfigChangedEvent
from charms.leader_config.v0.testing import config_from_state, published_state
from conftest import app_data, follower_state, peer, peer_of

CHARMCRAFT = yaml.safe_load((Path(__file__).parents[2] / "charmcraft.yaml").read_text())


def _tester(*, unit_id: int = 0) -> testing.Context[LeaderConfigTesterCharm]:
    return testing.Context(
        LeaderConfigTesterCharm,
        meta={key: CHARMCRAFT[key] for key in ("name", "peers")},
        config=CHARMCRAFT["config"],
        actions=CHARMCRAFT["actions"],
        unit_id=unit_id,
    )


def _leader(config: dict[str, Any] | None = None) -> testing.State:
    return testing.State(leader=True, relations={peer()}, config=config or {})


def test_install_waits_for_the_leader():
    ctx = _tester()
    out = ctx.run(ctx.on.install(), testing.State(leader=True))
    assert out.unit_status == ops.WaitingStatus("waiting for the leader to share config")


@pytest.mark.parametrize("hook", ["leader_elected", "config_changed", "relation_created"])
def test_the_leader_publishes_its_config_options(hook: str):
    ctx = _tester()
    state = _leader({"log-level": "debug", "cluster-name": "prod"})
    event = (
        ctx.on.relation_created(peer_of(state))
        if hook == "relation_created"
        else getattr(ctx.on, hook)()
    )
    out = ctx.run(event, state)
    data = app_data(out)
    assert (data["log_level"], data["cluster_name"]) == ('"debug"', '"prod"')
    assert set(data) == {
        "log_level",
        "cluster_name",
        "admin_password",
        "secret-id",
        "leader-config-revision",
    }
    assert out.unit_status == ops.ActiveStatus("prod: log-level=debug")


def test_a_follower_shows_the_shared_values_in_its_status():
    shared = Shared(log_level="warning", cluster_name="prod")
    state = published_state("cluster", shared, peers_data={0: {}})
    ctx = _tester(unit_id=1)
    out = ctx.run(ctx.on.relation_changed(peer_of(state), remote_unit=0), state)
    assert out.unit_status == ops.ActiveStatus("prod: log-level=warning")


def test_a_follower_shows_the_leaders_values_and_publishes_nothing():
    leader = _tester()
    leader_out = leader.run(leader.on.config_changed(), _leader({"log-level": "debug"}))
    follower = _tester(unit_id=1)
    state = dataclasses.replace(follower_state(leader_out), config={"log-level": "error"})
    out = follower.run(follower.on.relation_changed(peer_of(state), remote_unit=0), state)
    assert out.unit_status == ops.ActiveStatus("demo: log-level=debug")
    assert app_data(out) == app_data(leader_out)


def test_a_follower_config_change_publishes_nothing():
    follower = _tester(unit_id=1)
    state = testing.State(relations={peer(peers=(0,))}, config={"log-level": "debug"})
    out = follower.run(follower.on.config_changed(), state)
    assert app_data(out) == {}


def test_config_changed_before_the_peer_relation_exists_waits_for_relation_created():
    ctx = _tester()
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    assert out.unit_status == ops.UnknownStatus()


def test_an_invalid_log_level_blocks_the_leader_and_publishes_nothing_new():
    ctx = _tester()
    out = ctx.run(ctx.on.config_changed(), _leader({"log-level": "verbose"}))
    assert out.unit_status == ops.BlockedStatus("invalid config: 1 error(s)")
    assert "verbose" not in str(app_data(out))


@pytest.mark.parametrize("leader", [True, False], ids=["leader", "follower"])
def test_get_shared_returns_this_units_view_as_json(leader: bool):
    published = _tester().run(_tester().on.config_changed(), _leader({"cluster-name": "prod"}))
    state = published if leader else follower_state(published)
    ctx = _tester(unit_id=0 if leader else 1)
    ctx.run(ctx.on.action("get-shared"), state)
    assert ctx.action_results is not None
    assert json.loads(ctx.action_results["config"]) == {
        "log_level": "info",
        "cluster_name": "prod",
        "admin_password": "**********",
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "nothing has been shared yet"),
        ({"log_level": "oops", "admin_password": "null"}, "'log_level'"),
    ],
    ids=["unpublished", "invalid"],
)
def test_get_shared_fails_clearly_without_a_valid_view(data: dict[str, str], message: str):
    ctx = _tester(unit_id=1)
    state = testing.State(relations={peer(data, peers=(0,))})
    with pytest.raises(testing.ActionFailed, match=message):
        ctx.run(ctx.on.action("get-shared"), state)


def test_set_shared_writes_on_the_leader():
    ctx = _tester()
    published = ctx.run(ctx.on.config_changed(), _leader())
    ctx = _tester()
    out = ctx.run(
        ctx.on.action("set-shared", params={"values": '{"log_level": "error"}'}), published
    )
    shared = config_from_state(out, "cluster", Shared)
    assert shared is not None
    assert shared.log_level == "error"
    assert out.unit_status == ops.ActiveStatus("demo: log-level=error")


def test_set_shared_fails_on_a_follower_saying_only_the_leader_can_write():
    ctx = _tester(unit_id=1)
    state = testing.State(relations={peer({"log_level": '"info"'}, peers=(0,))})
    with pytest.raises(testing.ActionFailed, match="only the leader can write"):
        ctx.run(ctx.on.action("set-shared", params={"values": '{"log_level": "error"}'}), state)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ("{not json", "values must be a JSON object"),
        ('["log_level"]', "values must be a JSON object"),
        ('{"colour": "red"}', "unknown field"),
        ('{"log_level": "loud"}', "log_level"),
    ],
    ids=["not-json", "not-object", "unknown-field", "invalid-value"],
)
def test_set_shared_rejects_bad_values_and_writes_nothing(values: str, message: str):
    ctx = _tester()
    published = ctx.run(ctx.on.config_changed(), _leader())
    ctx = _tester()
    with pytest.raises(testing.ActionFailed, match=message):
        ctx.run(ctx.on.action("set-shared", params={"values": values}), published)


def test_set_shared_before_the_peer_relation_exists_fails_clearly():
    ctx = _tester()
    with pytest.raises(testing.ActionFailed, match="does not exist"):
        ctx.run(
            ctx.on.action("set-shared", params={"values": '{"log_level": "error"}'}),
            testing.State(leader=True),
        )


def _password(state: testing.State) -> str:
    (secret,) = state.secrets
    return secret.latest_content["admin-password"]


def test_the_first_leader_generates_an_admin_password_kept_in_a_secret():
    out = _tester().run(_tester().on.leader_elected(), _leader())
    password = _password(out)
    assert len(password) >= 24
    assert password not in json.dumps(app_data(out))


def test_rotate_password_sets_a_new_password_that_a_follower_sees_as_one_change():
    published = _tester().run(_tester().on.leader_elected(), _leader())
    follower = _tester(unit_id=1)
    seen = follower.run(
        follower.on.relation_changed(peer_of(follower_state(published)), remote_unit=0),
        follower_state(published),
    )
    ctx = _tester()
    rotated = ctx.run(ctx.on.action("rotate-password"), published)
    assert ctx.action_results == {"rotated": "true"}
    assert _password(rotated) != _password(published)
    follower = _tester(unit_id=1)
    relation = dataclasses.replace(peer_of(seen), local_app_data=app_data(rotated))
    follower.run(
        follower.on.relation_changed(relation, remote_unit=0),
        dataclasses.replace(seen, relations={relation}, secrets=rotated.secrets),
    )
    changed = [e for e in follower.emitted_events if isinstance(e, LeaderConfigChangedEvent)]
    assert [e.changed for e in changed] == [frozenset({"admin_password"})]


def test_rotate_password_fails_on_a_follower_saying_only_the_leader_can():
    published = _tester().run(_tester().on.leader_elected(), _leader())
    ctx = _tester(unit_id=1)
    with pytest.raises(testing.ActionFailed, match="only the leader can rotate"):
        ctx.run(ctx.on.action("rotate-password"), follower_state(published))


def test_rotate_password_before_the_peer_relation_exists_fails_clearly():
    ctx = _tester()
    with pytest.raises(testing.ActionFailed, match="does not exist"):
        ctx.run(ctx.on.action("rotate-password"), testing.State(leader=True))
