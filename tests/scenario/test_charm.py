"""The tester charm: the leader shares two config options; each unit applies and acknowledges them.

A follower shows the config and its revision; the leader shows how far the revision
rolled out. `NoAckTesterCharm` (the benchmarks' variant without acknowledgements)
behaves as the charm did before acknowledgements.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import ops
import pytest
import yaml
from ops import testing

from benchmarks.charms.tester_no_ack import NoAckTesterCharm
from charm import LeaderConfigTesterCharm, Shared
from charms.leader_config.v0.leader_config import LeaderConfigChangedEvent
from charms.leader_config.v0.testing import config_from_state, published_state
from conftest import app_data, follower_state, peer, peer_of

CHARMCRAFT = yaml.safe_load((Path(__file__).parents[2] / "charmcraft.yaml").read_text())
RECORD = "leader-config-unit"


def _tester(
    *, unit_id: int = 0, charm: type[LeaderConfigTesterCharm] = LeaderConfigTesterCharm
) -> testing.Context[LeaderConfigTesterCharm]:
    return testing.Context(
        charm,
        meta={key: CHARMCRAFT[key] for key in ("name", "peers")},
        config=CHARMCRAFT["config"],
        actions=CHARMCRAFT["actions"],
        unit_id=unit_id,
    )


def _leader(config: dict[str, Any] | None = None) -> testing.State:
    return testing.State(leader=True, relations={peer()}, config=config or {})


def _unit_data(state: testing.State) -> dict[str, str]:
    return dict(peer_of(state).local_unit_data)


def _acknowledged(state: testing.State) -> int | None:
    """The revision this unit's databag says it applied (None: no record)."""
    record = _unit_data(state).get(RECORD)
    return None if record is None else json.loads(record).get("applied")


def _with_peers(state: testing.State, peers_data: dict[int, dict[str, str]]) -> testing.State:
    relation = dataclasses.replace(peer_of(state), peers_data=peers_data)
    return dataclasses.replace(state, relations={relation})


def _record(applied: int) -> dict[str, str]:
    return {RECORD: json.dumps({"applied": applied})}


@pytest.mark.modules
def test_install_waits_for_the_leader():
    ctx = _tester()
    out = ctx.run(ctx.on.install(), testing.State(leader=True))
    assert out.unit_status == ops.WaitingStatus("waiting for the leader to share config")


@pytest.mark.modules
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
    # The leader applied revision 1 and acknowledged it; units 1 and 2 have not yet.
    assert _acknowledged(out) == 1
    assert out.unit_status == ops.ActiveStatus("rolled out revision 1 to 1/3 units")


@pytest.mark.modules
def test_a_follower_shows_the_shared_values_and_revision_then_acknowledges_it():
    shared = Shared(log_level="warning", cluster_name="prod")
    state = published_state("cluster", shared, peers_data={0: {}})
    ctx = _tester(unit_id=1)
    out = ctx.run(ctx.on.relation_changed(peer_of(state), remote_unit=0), state)
    assert out.unit_status == ops.ActiveStatus("prod: log-level=warning (revision 1)")
    assert _unit_data(out)[RECORD] == '{"applied": 1}'


@pytest.mark.modules
def test_a_follower_shows_the_leaders_values_and_publishes_nothing():
    leader = _tester()
    leader_out = leader.run(leader.on.config_changed(), _leader({"log-level": "debug"}))
    follower = _tester(unit_id=1)
    state = dataclasses.replace(follower_state(leader_out), config={"log-level": "error"})
    out = follower.run(follower.on.relation_changed(peer_of(state), remote_unit=0), state)
    assert out.unit_status == ops.ActiveStatus("demo: log-level=debug (revision 1)")
    assert app_data(out) == app_data(leader_out)


@pytest.mark.modules
def test_a_follower_config_change_publishes_nothing():
    follower = _tester(unit_id=1)
    state = testing.State(relations={peer(peers=(0,))}, config={"log-level": "debug"})
    out = follower.run(follower.on.config_changed(), state)
    assert app_data(out) == {}


@pytest.mark.modules
def test_config_changed_before_the_peer_relation_exists_waits_for_relation_created():
    ctx = _tester()
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    assert out.unit_status == ops.UnknownStatus()


@pytest.mark.modules
def test_an_invalid_log_level_blocks_the_leader_and_publishes_nothing_new():
    ctx = _tester()
    out = ctx.run(ctx.on.config_changed(), _leader({"log-level": "verbose"}))
    assert out.unit_status == ops.BlockedStatus("invalid config: 1 error(s)")
    assert "verbose" not in str(app_data(out))


@pytest.mark.modules
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


@pytest.mark.modules
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "nothing has been shared yet"),
        ({"log_level": "oops", "admin_password": "null"}, "'log_level'"),
        # An upgrade added the generated password; the leader has not published it yet.
        (
            {"log_level": '"info"', "cluster_name": '"demo"', "leader-config-revision": "3"},
            "cannot read the shared config: .* lacks admin_password",
        ),
    ],
    ids=["unpublished", "invalid", "pending-generated-field"],
)
def test_get_shared_fails_clearly_without_a_valid_view(data: dict[str, str], message: str):
    ctx = _tester(unit_id=1)
    state = testing.State(relations={peer(data, peers=(0,))})
    with pytest.raises(testing.ActionFailed, match=message):
        ctx.run(ctx.on.action("get-shared"), state)


@pytest.mark.modules
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
    assert _acknowledged(out) == 2
    assert out.unit_status == ops.ActiveStatus("rolled out revision 2 to 1/3 units")


@pytest.mark.modules
def test_set_shared_fails_on_a_follower_saying_only_the_leader_can_write():
    ctx = _tester(unit_id=1)
    state = testing.State(relations={peer({"log_level": '"info"'}, peers=(0,))})
    with pytest.raises(testing.ActionFailed, match="only the leader can write"):
        ctx.run(ctx.on.action("set-shared", params={"values": '{"log_level": "error"}'}), state)


@pytest.mark.modules
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


@pytest.mark.modules
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


@pytest.mark.modules
def test_the_first_leader_generates_an_admin_password_kept_in_a_secret():
    out = _tester().run(_tester().on.leader_elected(), _leader())
    password = _password(out)
    assert len(password) >= 24
    assert password not in json.dumps(app_data(out))


@pytest.mark.modules
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


@pytest.mark.modules
def test_rotate_password_fails_on_a_follower_saying_only_the_leader_can():
    published = _tester().run(_tester().on.leader_elected(), _leader())
    ctx = _tester(unit_id=1)
    with pytest.raises(testing.ActionFailed, match="only the leader can rotate"):
        ctx.run(ctx.on.action("rotate-password"), follower_state(published))


@pytest.mark.modules
def test_rotate_password_before_the_peer_relation_exists_fails_clearly():
    ctx = _tester()
    with pytest.raises(testing.ActionFailed, match="does not exist"):
        ctx.run(ctx.on.action("rotate-password"), testing.State(leader=True))


# Acknowledgements and the rollout


@pytest.mark.modules
def test_each_unit_acknowledges_every_revision_it_applies_once():
    leader = _tester()
    published = leader.run(leader.on.config_changed(), _leader())
    follower = _tester(unit_id=1)
    state = follower_state(published)
    seen = follower.run(follower.on.relation_changed(peer_of(state), remote_unit=0), state)
    assert _acknowledged(seen) == 1
    leader = _tester()
    changed = leader.run(
        leader.on.config_changed(), dataclasses.replace(published, config={"log-level": "debug"})
    )
    assert _acknowledged(changed) == 2
    relation = dataclasses.replace(peer_of(seen), local_app_data=app_data(changed))
    follower = _tester(unit_id=1)
    out = follower.run(
        follower.on.relation_changed(relation, remote_unit=0),
        dataclasses.replace(seen, relations={relation}),
    )
    assert _acknowledged(out) == 2
    assert out.unit_status == ops.ActiveStatus("demo: log-level=debug (revision 2)")
    # The same view again: nothing new to apply, nothing written.
    follower = _tester(unit_id=1)
    again = follower.run(follower.on.relation_changed(peer_of(out), remote_unit=0), out)
    assert _unit_data(again) == _unit_data(out)


@pytest.mark.modules
def test_the_leaders_status_counts_each_acknowledgement_as_it_hears_of_it():
    leader = _tester()
    state = leader.run(leader.on.config_changed(), _leader())
    statuses: list[str] = []
    steps: list[tuple[int, dict[int, dict[str, str]]]] = [
        (1, {1: {}, 2: {}}),  # unit 1 changed its databag, but not its record
        (1, {1: _record(1), 2: _record(1)}),  # unit 2's record: the leader has not heard
        (2, {1: _record(1), 2: _record(1)}),
    ]
    for remote, records in steps:
        state = _with_peers(state, records)
        leader = _tester()
        state = leader.run(leader.on.relation_changed(peer_of(state), remote_unit=remote), state)
        statuses.append(state.unit_status.message)
    assert statuses == [
        "rolled out revision 1 to 1/3 units",
        "rolled out revision 1 to 2/3 units",
        "rolled out revision 1 to 3/3 units",
    ]


@pytest.mark.modules
def test_a_unit_that_joins_is_pending_until_it_acknowledges():
    leader = _tester()
    state = _with_peers(leader.run(leader.on.config_changed(), _leader()), {1: _record(1)})
    leader = _tester()
    state = leader.run(leader.on.relation_changed(peer_of(state), remote_unit=1), state)
    assert state.unit_status == ops.ActiveStatus("rolled out revision 1 to 2/2 units")
    state = _with_peers(state, {1: _record(1), 3: {}})
    leader = _tester()
    state = leader.run(leader.on.relation_joined(peer_of(state), remote_unit=3), state)
    assert state.unit_status == ops.ActiveStatus("rolled out revision 1 to 2/3 units")
    state = _with_peers(state, {1: _record(1), 3: _record(1)})
    leader = _tester()
    state = leader.run(leader.on.relation_changed(peer_of(state), remote_unit=3), state)
    assert state.unit_status == ops.ActiveStatus("rolled out revision 1 to 3/3 units")


@pytest.mark.modules
def test_a_new_leader_shows_the_rollout_it_takes_over():
    leader = _tester()
    published = leader.run(leader.on.config_changed(), _leader())
    follower = _tester(unit_id=1)
    state = follower_state(published)
    seen = follower.run(follower.on.relation_changed(peer_of(state), remote_unit=0), state)
    assert seen.unit_status == ops.ActiveStatus("demo: log-level=info (revision 1)")
    state = _with_peers(dataclasses.replace(seen, leader=True), {0: _record(1), 2: {}})
    ctx = _tester(unit_id=1)
    out = ctx.run(ctx.on.leader_elected(), state)
    assert app_data(out) == app_data(published)
    assert out.unit_status == ops.ActiveStatus("rolled out revision 1 to 2/3 units")


@pytest.mark.modules
def test_a_new_leader_that_had_not_seen_the_revision_applies_and_acknowledges_it():
    leader = _tester()
    published = leader.run(leader.on.config_changed(), _leader())
    state = dataclasses.replace(follower_state(published), leader=True)
    state = _with_peers(state, {0: _record(1), 2: {}})
    ctx = _tester(unit_id=1)
    out = ctx.run(ctx.on.leader_elected(), state)
    assert _acknowledged(out) == 1
    assert out.unit_status == ops.ActiveStatus("rolled out revision 1 to 2/3 units")


@pytest.mark.modules
def test_the_leader_stays_blocked_while_units_acknowledge_and_shows_the_rollout_once_valid():
    leader = _tester()
    published = leader.run(leader.on.config_changed(), _leader())
    leader = _tester()
    blocked = leader.run(
        leader.on.config_changed(), dataclasses.replace(published, config={"log-level": "loud"})
    )
    assert blocked.unit_status == ops.BlockedStatus("invalid config: 1 error(s)")
    state = _with_peers(blocked, {1: _record(1), 2: {}})
    leader = _tester()
    state = leader.run(leader.on.relation_changed(peer_of(state), remote_unit=1), state)
    assert state.unit_status == ops.BlockedStatus("invalid config: 1 error(s)")
    # Back to the value already published: no new revision, no changed event.
    leader = _tester()
    out = leader.run(leader.on.config_changed(), dataclasses.replace(state, config={}))
    assert app_data(out) == app_data(published)
    assert out.unit_status == ops.ActiveStatus("rolled out revision 1 to 2/3 units")


@pytest.mark.modules
def test_a_changed_event_whose_view_is_none_leaves_the_unit_waiting_and_acknowledges_nothing():
    state = published_state("cluster", Shared(), peers_data={0: {}})
    follower = _tester(unit_id=1)
    seen = follower.run(follower.on.relation_changed(peer_of(state), remote_unit=0), state)
    assert _acknowledged(seen) == 1
    emptied = dataclasses.replace(peer_of(seen), local_app_data={})
    follower = _tester(unit_id=1)
    out = follower.run(
        follower.on.relation_changed(emptied, remote_unit=0),
        dataclasses.replace(seen, relations={emptied}),
    )
    (event,) = [e for e in follower.emitted_events if isinstance(e, LeaderConfigChangedEvent)]
    assert event.changed == frozenset({"log_level", "cluster_name", "admin_password"})
    assert out.unit_status == ops.WaitingStatus("waiting for the leader to share config")
    assert _unit_data(out) == _unit_data(seen)


@pytest.mark.modules
@pytest.mark.parametrize("leader", [True, False], ids=["leader", "follower"])
def test_show_rollout_returns_the_revision_and_the_applied_and_pending_units(leader: bool):
    ctx = _tester()
    published = _with_peers(ctx.run(ctx.on.config_changed(), _leader()), {1: {}, 2: {}})
    if leader:
        state, ctx = published, _tester()
    else:
        followed = follower_state(published)
        relation = dataclasses.replace(
            peer_of(followed), peers_data={0: _record(1), 2: {}}, local_unit_data=_record(1)
        )
        state, ctx = dataclasses.replace(followed, relations={relation}), _tester(unit_id=1)
    ctx.run(ctx.on.action("show-rollout"), state)
    acked = "leader-config-tester/0" if leader else "leader-config-tester/1"
    assert ctx.action_results == {
        "revision": "1",
        "applied": json.dumps(sorted({"leader-config-tester/0", acked})),
        "pending": json.dumps(
            sorted({"leader-config-tester/1", "leader-config-tester/2"} - {acked})
        ),
        "complete": "false",
    }


@pytest.mark.modules
def test_show_rollout_before_anything_is_published_says_none():
    ctx = _tester(unit_id=1)
    ctx.run(ctx.on.action("show-rollout"), testing.State(relations={peer(peers=(0,))}))
    assert ctx.action_results is not None
    assert ctx.action_results["revision"] == "none"
    assert ctx.action_results["complete"] == "false"


# Without acknowledgements (the benchmarks' variant)


def test_without_acknowledgements_units_show_the_config_and_write_no_unit_data():
    leader = _tester(charm=NoAckTesterCharm)
    published = leader.run(leader.on.config_changed(), _leader({"log-level": "debug"}))
    assert published.unit_status == ops.ActiveStatus("demo: log-level=debug")
    follower = _tester(unit_id=1, charm=NoAckTesterCharm)
    state = follower_state(published)
    out = follower.run(follower.on.relation_changed(peer_of(state), remote_unit=0), state)
    assert out.unit_status == ops.ActiveStatus("demo: log-level=debug")
    assert RECORD not in _unit_data(published)
    assert RECORD not in _unit_data(out)


def test_without_acknowledgements_show_rollout_fails_clearly():
    ctx = _tester(charm=NoAckTesterCharm)
    with pytest.raises(testing.ActionFailed, match="does not acknowledge"):
        ctx.run(ctx.on.action("show-rollout"), _leader())


@pytest.mark.modules
@pytest.mark.parametrize("config", [{}, {"log-level": "loud"}], ids=["rollout", "blocked"])
def test_a_leader_that_loses_leadership_shows_the_config_it_applied_again(
    config: dict[str, str],
):
    leader = _tester()
    published = leader.run(leader.on.config_changed(), _leader())
    leader = _tester()
    state = leader.run(leader.on.config_changed(), dataclasses.replace(published, config=config))
    assert state.unit_status.message.startswith(("rolled out", "invalid config"))
    ctx = _tester()
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(state, leader=False))
    assert out.unit_status == ops.ActiveStatus("demo: log-level=info (revision 1)")
    assert app_data(out) == app_data(published)
