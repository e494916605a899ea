"""Rules for reading: get() on any unit, typed, None until published, clear errors."""

from __future__ import annotations

import json

import pydantic
import pytest
from ops import testing

from charms.leader_config.v0.leader_config import (
    InvalidConfigError,
    LeaderConfigError,
)
from conftest import Shared, SharedCharm, make_context, peer

leadership = pytest.mark.parametrize("leader", [True, False], ids=["leader", "follower"])


def _get(state: testing.State, *, leader: bool) -> Shared | None:
    ctx = make_context(unit_id=0 if leader else 1)
    state = testing.State(leader=leader, relations=state.relations)
    if not leader:
        state = testing.State(
            leader=False,
            relations={
                testing.PeerRelation(
                    "cluster", local_app_data=dict(r.local_app_data), peers_data={0: {}}
                )
                for r in state.relations
            },
        )
    with ctx(ctx.on.update_status(), state) as mgr:
        return mgr.charm.shared.get()


@leadership
def test_get_is_none_without_the_peer_relation(leader: bool):
    assert _get(testing.State(), leader=leader) is None


def test_a_followers_get_is_none_while_nothing_is_published():
    assert _get(testing.State(relations={peer()}), leader=False) is None


def test_a_followers_get_is_none_when_only_foreign_keys_are_present():
    state = testing.State(relations={peer({"other-lib": "raw text"})})
    assert _get(state, leader=False) is None


@pytest.mark.parametrize("data", [{}, {"other-lib": "raw text"}], ids=["empty", "foreign-keys"])
def test_the_leaders_get_is_the_config_it_publishes_before_anything_is_published(
    data: dict[str, str],
):
    assert _get(testing.State(relations={peer(data)}), leader=True) == Shared()


@leadership
def test_get_returns_the_typed_published_config(leader: bool):
    state = testing.State(relations={peer({"log_level": '"debug"', "members": '["a", "b"]'})})
    assert _get(state, leader=leader) == Shared(log_level="debug", members=["a", "b"])


@leadership
def test_missing_keys_read_as_the_schema_defaults(leader: bool):
    state = testing.State(relations={peer({"members": '["a"]'})})
    assert _get(state, leader=leader) == Shared(log_level="info", members=["a"])


@leadership
def test_keys_the_schema_does_not_know_are_ignored(leader: bool):
    data = {"log_level": '"debug"', "added_later": '{"x": 1}', "not-json": "plain"}
    state = testing.State(relations={peer(data)})
    assert _get(state, leader=leader) == Shared(log_level="debug")


@pytest.mark.parametrize(
    ("data", "bad_keys", "reason"),
    [
        ({"log_level": "debug"}, ("log_level",), "not JSON"),
        ({"log_level": '"debu'}, ("log_level",), "not JSON"),
        ({"log_level": '"trace"'}, ("log_level",), "'debug' or 'info'"),
        ({"members": '"a"'}, ("members",), "valid list"),
        ({"log_level": "'x'", "members": "{"}, ("log_level", "members"), "not JSON"),
    ],
    ids=["not-json", "truncated", "invalid-value", "wrong-type", "two-keys"],
)
@leadership
def test_undecodable_data_raises_invalid_config_error_naming_keys_and_reason(
    leader: bool, data: dict[str, str], bad_keys: tuple[str, ...], reason: str
):
    with pytest.raises(InvalidConfigError) as caught:
        _get(testing.State(relations={peer(data)}), leader=leader)
    error = caught.value
    assert isinstance(error, LeaderConfigError)
    assert isinstance(error, ValueError)
    assert error.keys == bad_keys
    assert error.relation_name == "cluster"
    for key in bad_keys:
        assert repr(key) in str(error)
    assert reason in str(error)
    if reason != "not JSON":  # pydantic's error, chained: no secret field to hide here
        assert isinstance(error.__cause__, pydantic.ValidationError)


def test_get_returns_a_copy_that_changes_nothing_stored():
    ctx = make_context()
    state = testing.State(relations={peer({"members": '["a"]'})})
    with ctx(ctx.on.update_status(), state) as mgr:
        first = mgr.charm.shared.get()
        assert first is not None
        first.members.append("b")
        first.log_level = "debug"
        assert mgr.charm.shared.get() == Shared(members=["a"])
        out = mgr.run()
    assert out.get_relations("cluster")[0].local_app_data["members"] == '["a"]'


def test_get_sees_the_leaders_own_write_in_the_same_hook(ctx: testing.Context[SharedCharm]):
    with ctx(ctx.on.update_status(), testing.State(leader=True, relations={peer()})) as mgr:
        mgr.charm.shared.update(members=["x"])
        config = mgr.charm.shared.get()
        assert config is not None
        assert config.members == ["x"]
        mgr.run()


@pytest.mark.parametrize("text", ["123", "true", "null", "", '{"a": 1}', " spaced "])
def test_strings_that_look_like_json_round_trip_unchanged(text: str):
    ctx = make_context()
    state = testing.State(leader=True, relations={peer()})
    with ctx(ctx.on.update_status(), state) as mgr:
        mgr.charm.shared.update(members=[text])
        out = mgr.run()
    assert json.loads(out.get_relations("cluster")[0].local_app_data["members"]) == [text]
    follower = make_context(unit_id=1)
    relation = testing.PeerRelation(
        "cluster",
        local_app_data=dict(out.get_relations("cluster")[0].local_app_data),
        peers_data={0: {}},
    )
    with follower(follower.on.update_status(), testing.State(relations={relation})) as mgr:
        assert mgr.charm.shared.get() == Shared(members=[text])
