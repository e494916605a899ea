"""Faults at the ops boundary, bad stored data and schema upgrades: clear errors, nothing lost."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0.leader_config import (
    InvalidConfigError,
    LeaderConfig,
    LeaderConfigChangedEvent,
    NotLeaderError,
    NotReadyError,
)

META: dict[str, Any] = {"name": "app", "peers": {"cluster": {"interface": "app_cluster"}}}
STORED = {"log_level": '"debug"', "members": '["a"]', "other-lib": "not json"}


class Shared(pydantic.BaseModel):
    log_level: Literal["debug", "info"] = "info"
    members: list[str] = []


class OldShared(pydantic.BaseModel):
    """An older revision's schema: no `members` field yet."""

    log_level: Literal["debug", "info"] = "info"


class NewShared(pydantic.BaseModel):
    """A newer revision's schema: `members` removed, `replicas` added, `trace` allowed."""

    log_level: Literal["trace", "debug", "info"] = "info"
    replicas: int = 1


class RenamedShared(pydantic.BaseModel):
    """A newer revision that renamed `members` and keeps its databag key."""

    log_level: Literal["debug", "info"] = "info"
    peers: list[str] = pydantic.Field(default=[], alias="members")


class Charm(ops.CharmBase):
    """A charm whose LeaderConfig schema and prefix are set by `charm_with`."""

    schema: type[pydantic.BaseModel] = Shared
    prefix = ""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", self.schema, prefix=self.prefix)


def charm_with(schema: type[pydantic.BaseModel], prefix: str = "") -> type[Charm]:
    # One class name for every revision: ops keys stored state by it.
    return type("Charm", (Charm,), {"schema": schema, "prefix": prefix})


def peer(data: Mapping[str, str]) -> testing.PeerRelation:
    return testing.PeerRelation("cluster", id=3, local_app_data=dict(data), peers_data={1: {}})


def run(
    charm: type[Charm],
    state: testing.State,
    do: Callable[[Charm], None] | None = None,
    *,
    event: str = "update_status",
) -> tuple[testing.State, list[frozenset[str]]]:
    """Run one hook (calling `do` with the charm first); return the state and changed events."""
    ctx = testing.Context(charm, meta=META, unit_id=0 if state.leader else 2)
    relations = list(state.relations)
    trigger = (
        getattr(ctx.on, event)(relations[0])
        if event.startswith("relation_")
        else getattr(ctx.on, event)()
    )
    if event == "relation_changed":
        trigger = ctx.on.relation_changed(relations[0], remote_unit=1)
    with ctx(trigger, state) as mgr:
        if do is not None:
            do(mgr.charm)
        out = mgr.run()
    return out, [e.changed for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)]


def app_data(state: testing.State) -> dict[str, str]:
    (relation,) = state.get_relations("cluster")
    return dict(relation.local_app_data)


def failing_relation_set(charm: ops.CharmBase, error: Exception) -> None:
    """Make every relation-set of this hook fail with `error`, as Juju would refuse it."""
    backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]

    def relation_set(*args: Any, **kwargs: Any) -> None:
        raise error

    backend.relation_set = relation_set


# Faults at the ops boundary


def test_a_refused_relation_set_raises_not_leader_error_with_the_cause_and_loses_nothing():
    refusal = ops.ModelError("ERROR cannot write relation settings: not the leader")
    caught: list[NotLeaderError] = []

    def write(charm: Charm):
        failing_relation_set(charm, refusal)
        with pytest.raises(NotLeaderError) as error:
            charm.shared.update(log_level="info")
        caught.append(error.value)
        assert charm.shared.get() == Shared(log_level="debug", members=["a"])

    out, events = run(Charm, testing.State(leader=True, relations={peer(STORED)}), write)

    assert caught[0].__cause__ is refusal
    assert caught[0].relation_name == "cluster"
    assert app_data(out) == STORED
    assert events == []


def test_a_relation_gone_during_the_write_raises_not_ready_error_with_the_cause():
    gone = ops.RelationNotFoundError()
    caught: list[NotReadyError] = []

    def write(charm: Charm):
        failing_relation_set(charm, gone)
        with pytest.raises(NotReadyError) as error:
            charm.shared.update(members=["b"])
        caught.append(error.value)

    out, events = run(Charm, testing.State(leader=True, relations={peer(STORED)}), write)

    assert caught[0].__cause__ is gone
    assert app_data(out) == STORED
    assert events == []


@pytest.mark.parametrize("leader", [True, False])
def test_during_install_reads_are_none_and_writes_raise_not_ready(leader: bool):
    def read_and_write(charm: Charm):
        assert charm.shared.get() is None
        with pytest.raises(NotReadyError):
            charm.shared.update(log_level="debug")

    out, events = run(Charm, testing.State(leader=leader), read_and_write, event="install")
    assert events == []
    assert out.get_relations("cluster") == ()


def test_a_removed_peer_relation_reads_none_and_emits_nothing_until_it_is_back():
    handled, first = run(Charm, testing.State(relations={peer(STORED)}), event="relation_changed")
    assert first == [{"log_level", "members"}]
    views: list[pydantic.BaseModel | None] = []

    def read(charm: Charm):
        views.append(charm.shared.get())

    gone, events = run(
        Charm, testing.State(stored_states=handled.stored_states), read, event="leader_elected"
    )
    assert views == [None]
    assert events == []
    back = testing.State(relations={peer(STORED)}, stored_states=gone.stored_states)
    _, events = run(Charm, back, event="relation_changed")
    assert events == []


def test_peer_relation_broken_fails_nothing_and_writes_nothing():
    out, events = run(
        Charm, testing.State(leader=True, relations={peer(STORED)}), event="relation_broken"
    )
    assert events == []
    assert app_data(out) == STORED


# Bad stored data


BAD_DATA = {
    "not-json": {"log_level": "debug"},
    "wrong-type": {"members": '{"a": 1}'},
    "truncated": {"members": '["a", "b'},
    "newer-schema-value": {"log_level": '"trace"'},
}


@pytest.mark.parametrize("bad", BAD_DATA.values(), ids=BAD_DATA.keys())
def test_bad_data_reaching_a_follower_fails_no_hook_and_keeps_its_last_view(
    bad: dict[str, str],
):
    handled, first = run(Charm, testing.State(relations={peer(STORED)}), event="relation_changed")
    assert first == [{"log_level", "members"}]
    broken = {**STORED, **bad}
    state = testing.State(relations={peer(broken)}, stored_states=handled.stored_states)

    out, events = run(Charm, state, event="relation_changed")

    assert events == []
    assert app_data(out) == broken
    fixed = {**STORED, "members": '["a", "z"]'}
    state = testing.State(relations={peer(fixed)}, stored_states=out.stored_states)
    _, events = run(Charm, state, event="relation_changed")
    assert events == [{"members"}]


@pytest.mark.parametrize("bad", BAD_DATA.values(), ids=BAD_DATA.keys())
def test_bad_data_makes_the_leaders_update_raise_naming_the_key_and_set_overwrite_it(
    bad: dict[str, str],
):
    broken = {**STORED, **bad}

    def update(charm: Charm):
        with pytest.raises(InvalidConfigError) as error:
            charm.shared.update(members=["b"])
        assert error.value.keys == tuple(bad)

    out, events = run(Charm, testing.State(leader=True, relations={peer(broken)}), update)
    assert app_data(out) == broken
    assert events == []

    def replace(charm: Charm):
        charm.shared.set(Shared(members=["b"]))

    out, _ = run(Charm, testing.State(leader=True, relations={peer(broken)}), replace)
    repaired = {"log_level": '"info"', "members": '["b"]', "leader-config-revision": "1"}
    assert app_data(out) == {**STORED, **repaired}


def test_a_leader_finding_bad_data_publishes_nothing_over_it():
    broken = {"log_level": "debug"}  # not JSON, and `members` missing
    out, events = run(
        Charm, testing.State(leader=True, relations={peer(broken)}), event="leader_elected"
    )
    assert events == []
    assert app_data(out) == broken


def test_a_one_megabyte_value_is_written_read_and_noticed():
    members = [f"unit-{i:07d}" for i in range(80_000)]  # about 1 MB of JSON

    def write(charm: Charm):
        charm.shared.update(members=members)

    out, events = run(Charm, testing.State(leader=True, relations={peer(STORED)}), write)
    assert events == [{"log_level", "members"}]  # the leader's first view
    assert len(app_data(out)["members"]) > 1_000_000
    _, events = run(
        Charm, testing.State(relations={peer(app_data(out))}), event="relation_changed"
    )
    assert events == [{"log_level", "members"}]


# Keys of other prefixes


def test_a_key_named_like_a_field_under_another_prefix_is_not_this_objects():
    prefixed = charm_with(Shared, prefix="app-")
    data = {"log_level": '"debug"', "app-members": '["p"]'}
    views: list[pydantic.BaseModel | None] = []

    def read(charm: Charm):
        views.append(charm.shared.get())

    run(Charm, testing.State(relations={peer(data)}), read)
    run(prefixed, testing.State(relations={peer(data)}), read)
    assert views == [Shared(log_level="debug"), Shared(members=["p"])]

    def write(charm: Charm):
        charm.shared.update(log_level="info")

    out, _ = run(prefixed, testing.State(leader=True, relations={peer(data)}), write)
    assert app_data(out) == {**data, "app-log_level": '"info"', "app-leader-config-revision": "1"}


def test_a_write_under_another_prefix_emits_nothing_for_this_object():
    handled, _ = run(Charm, testing.State(relations={peer(STORED)}), event="relation_changed")
    data = {**STORED, "app-log_level": '"info"', "app-members": '["q"]'}
    state = testing.State(relations={peer(data)}, stored_states=handled.stored_states)
    _, events = run(Charm, state, event="relation_changed")
    assert events == []


# Upgrades: what the module docstring's "Evolving a schema" promises


def test_an_added_field_reads_as_its_default_from_an_older_leaders_data():
    views: list[pydantic.BaseModel | None] = []

    def read(charm: Charm):
        views.append(charm.shared.get())

    run(Charm, testing.State(relations={peer({"log_level": '"debug"'})}), read)
    assert views == [Shared(log_level="debug", members=[])]


def test_the_upgraded_leader_publishes_an_added_field_and_old_units_ignore_it():
    old = charm_with(OldShared)
    old_leader, _ = run(
        old, testing.State(leader=True, relations={peer({})}), event="leader_elected"
    )
    assert app_data(old_leader) == {"log_level": '"info"', "leader-config-revision": "1"}
    upgraded = testing.State(
        leader=True, relations=old_leader.relations, stored_states=old_leader.stored_states
    )

    new_leader, events = run(Charm, upgraded, event="upgrade_charm")

    # A default that old units already read: published, but no new revision.
    assert app_data(new_leader) == {
        "log_level": '"info"',
        "members": "[]",
        "leader-config-revision": "1",
    }
    assert events == []  # it read the default before it published it: no change
    old_follower, first = run(
        old, testing.State(relations={peer(app_data(old_leader))}), event="relation_changed"
    )
    assert first == [{"log_level"}]
    state = testing.State(
        relations={peer(app_data(new_leader))}, stored_states=old_follower.stored_states
    )
    _, events = run(old, state, event="relation_changed")
    assert events == []


def test_a_removed_field_keeps_its_key_for_old_units_until_the_charm_deletes_it():
    new = charm_with(NewShared)

    def write(charm: Charm):
        charm.shared.update(replicas=3)

    out, _ = run(new, testing.State(leader=True, relations={peer(STORED)}), write)
    assert app_data(out)["members"] == STORED["members"]
    views: list[pydantic.BaseModel | None] = []

    def read(charm: Charm):
        views.append(charm.shared.get())

    run(Charm, testing.State(relations={peer(app_data(out))}), read)
    deleted = {k: v for k, v in app_data(out).items() if k != "members"}
    run(Charm, testing.State(relations={peer(deleted)}), read)
    assert views == [Shared(log_level="debug", members=["a"]), Shared(log_level="debug")]


def test_a_renamed_field_with_the_old_key_as_alias_reads_and_writes_the_old_key():
    renamed = charm_with(RenamedShared)
    views: list[pydantic.BaseModel | None] = []

    def read_and_write(charm: Charm):
        views.append(charm.shared.get())
        charm.shared.update(peers=["a", "b"])

    out, events = run(
        renamed, testing.State(leader=True, relations={peer(STORED)}), read_and_write
    )
    assert views == [RenamedShared(log_level="debug", members=["a"])]
    assert app_data(out)["members"] == '["a", "b"]'
    assert events == [{"log_level", "peers"}]  # the leader's first view


def test_a_narrowed_value_from_a_newer_leader_is_invalid_for_old_units_until_upgraded():
    new = charm_with(NewShared)

    def write(charm: Charm):
        charm.shared.update(log_level="trace")

    out, _ = run(new, testing.State(leader=True, relations={peer(STORED)}), write)
    data = app_data(out)
    assert json.loads(data["log_level"]) == "trace"

    def read_old(charm: Charm):
        with pytest.raises(InvalidConfigError) as error:
            charm.shared.get()
        assert error.value.keys == ("log_level",)

    _, events = run(
        Charm, testing.State(relations={peer(data)}), read_old, event="relation_changed"
    )
    assert events == []
    views: list[pydantic.BaseModel | None] = []

    def read_new(charm: Charm):
        views.append(charm.shared.get())

    run(new, testing.State(relations={peer(data)}), read_new)
    assert views == [NewShared(log_level="trace", replicas=1)]
