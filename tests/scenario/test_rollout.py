"""Config revisions, acknowledgements and rollouts."""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0.leader_config import (
    LeaderConfig,
    LeaderConfigAppliedEvent,
    LeaderConfigChangedEvent,
    Rollout,
)
from charms.leader_config.v0.testing import published_state
from cluster import HOOKCMDS, JUJU_UNIT_KEYS, Cluster
from conftest import (
    META,
    Shared,
    SharedCharm,
    app_data,
    counting_relation_sets,
    peer,
    peer_of,
    recording_unit_reads,
)

REVISION = "leader-config-revision"
RECORD = "leader-config-unit"


class AckCharm(ops.CharmBase):
    """Applies the config on `changed`, then acknowledges it; the leader notes rollouts."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared, acknowledge=True)
        self.applied: list[int] = []
        framework.observe(self.shared.on.changed, self._on_changed)
        framework.observe(self.shared.on.applied, self._on_applied)

    def _on_changed(self, _: LeaderConfigChangedEvent) -> None:
        self.shared.acknowledge()

    def _on_applied(self, event: LeaderConfigAppliedEvent) -> None:
        self.unit.status = ops.ActiveStatus(f"applied {event.revision}")


def _record(applied: int | None = None) -> dict[str, str]:
    return {RECORD: json.dumps({} if applied is None else {"applied": applied})}


def _applied_events(ctx: testing.Context[Any]) -> list[int]:
    return [e.revision for e in ctx.emitted_events if isinstance(e, LeaderConfigAppliedEvent)]


def _run(
    charm: type[ops.CharmBase],
    state: testing.State,
    do: Callable[[Any], None] | None = None,
    *,
    event: Callable[[testing.Context[Any], testing.State], Any] | None = None,
    unit_id: int = 0,
) -> tuple[testing.State, testing.Context[Any]]:
    ctx = testing.Context(charm, meta=META, unit_id=unit_id)
    trigger = event(ctx, state) if event is not None else ctx.on.update_status()
    with ctx(trigger, state) as mgr:
        if do is not None:
            do(mgr.charm)
        out = mgr.run()
    return out, ctx


def _changed_from(remote: int) -> Callable[[testing.Context[Any], testing.State], Any]:
    return lambda ctx, state: ctx.on.relation_changed(peer_of(state), remote_unit=remote)


# Revisions


def test_the_revision_is_none_before_anything_is_published_and_goes_up_with_each_write():
    seen: list[int | None] = []

    def writes(charm: SharedCharm) -> None:
        seen.append(charm.shared.revision)
        charm.shared.update(log_level="debug")
        seen.append(charm.shared.revision)
        charm.shared.update(log_level="debug")  # no effective write: no new revision
        charm.shared.update(members=["a"])
        seen.append(charm.shared.revision)

    out, ctx = _run(SharedCharm, testing.State(leader=True, relations={peer()}), writes)
    assert seen == [None, 1, 2]
    assert app_data(out)[REVISION] == "2"
    (event,) = [e for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)]
    assert event.revision == 2


def test_a_followers_view_and_event_carry_the_published_revision():
    state = dataclasses.replace(
        published_state("cluster", Shared(), peers_data={0: {}}),
    )
    relation = peer_of(state)
    relation = dataclasses.replace(
        relation, local_app_data={**relation.local_app_data, REVISION: "7"}
    )
    state = dataclasses.replace(state, relations={relation})
    out, ctx = _run(SharedCharm, state, event=_changed_from(0), unit_id=1)
    (event,) = [e for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)]
    assert event.revision == 7
    _, ctx = _run(SharedCharm, out, lambda c: ctx_seen.append(c.shared.revision), unit_id=1)
    assert ctx_seen == [7]


ctx_seen: list[int | None] = []


@pytest.fixture(autouse=True)
def _clear_seen():
    ctx_seen.clear()


def test_data_published_without_a_revision_reads_as_revision_0_and_the_next_write_numbers_it():
    data = {"log_level": '"debug"', "members": "[]", "other-lib": "x"}
    out, _ = _run(
        SharedCharm,
        testing.State(leader=True, relations={peer(data)}),
        lambda c: ctx_seen.append(c.shared.revision),
    )
    assert ctx_seen == [0]
    assert app_data(out) == data  # complete, valid data: nothing rewritten
    out, _ = _run(SharedCharm, out, lambda c: c.shared.update(members=["a"]))
    assert app_data(out)[REVISION] == "1"
    assert app_data(out)["other-lib"] == "x"


def test_a_new_leader_whose_stored_state_is_gone_continues_above_the_stored_revision():
    state = published_state("cluster", Shared(), leader=True)
    relation = peer_of(state)
    relation = dataclasses.replace(
        relation, local_app_data={**relation.local_app_data, REVISION: "41"}
    )
    state = dataclasses.replace(state, relations={relation}, stored_states=frozenset())
    out, _ = _run(
        SharedCharm,
        state,
        lambda c: c.shared.update(log_level="debug"),
        event=lambda ctx, _: ctx.on.leader_elected(),
    )
    assert app_data(out)[REVISION] == "42"


def test_a_stored_revision_that_is_not_a_number_is_invalid_data_and_set_repairs_it(
    caplog: pytest.LogCaptureFixture,
):
    state = testing.State(
        leader=True, relations={peer({"log_level": '"info"', REVISION: "seven"})}
    )

    def read_then_repair(charm: SharedCharm) -> None:
        with pytest.raises(ValueError, match=REVISION):
            charm.shared.get()
        charm.shared.set(Shared(log_level="debug"))

    out, _ = _run(SharedCharm, state, read_then_repair)
    assert app_data(out)[REVISION] == "1"


# Acknowledgements


@pytest.mark.modules
def test_acknowledge_records_the_revision_in_the_units_own_databag_once():
    state = dataclasses.replace(
        published_state("cluster", Shared(), peers_data={0: {}}), leader=False
    )

    def ack_twice(charm: AckCharm) -> None:
        with counting_relation_sets(charm) as sets:
            charm.shared.acknowledge()
            charm.shared.acknowledge()
        assert len(sets) == 1

    out, _ = _run(AckCharm, state, ack_twice, unit_id=1)
    relation = peer_of(out)
    assert relation.local_unit_data[RECORD] == json.dumps({"applied": 1})
    assert all(relation.local_unit_data[key] for key in JUJU_UNIT_KEYS)
    assert app_data(out) == dict(peer_of(state).local_app_data)  # a follower writes no app data


@pytest.mark.modules
def test_acknowledge_before_anything_is_published_records_nothing():
    state = testing.State(relations={peer(peers=(0,))})

    def ack(charm: AckCharm) -> None:
        with counting_relation_sets(charm) as sets:
            charm.shared.acknowledge()
            assert charm.shared.rollout() == Rollout(
                None, frozenset(), frozenset({"app/0", "app/1"})
            )
        assert sets == []

    _run(AckCharm, state, ack, unit_id=1)


def test_acknowledge_and_rollout_need_acknowledge_true():
    def misuse(charm: SharedCharm) -> None:
        with pytest.raises(RuntimeError, match="acknowledge=True"):
            charm.shared.acknowledge()
        with pytest.raises(RuntimeError, match="acknowledge=True"):
            charm.shared.rollout()

    _run(SharedCharm, published_state("cluster", Shared(), leader=True), misuse)


def test_without_acknowledge_or_migrate_no_unit_data_is_ever_written():
    cluster = Cluster(SharedCharm, META)
    cluster.deploy(3)
    cluster.elect(1)
    cluster.run(1, "update-status", prepare=lambda c: c.shared.update(log_level="debug"))
    cluster.settle()
    for unit in cluster.units:
        assert set(cluster.unit_data(unit)) == set(JUJU_UNIT_KEYS)


@pytest.mark.modules
def test_rollout_is_an_immutable_value_counting_the_units_in_the_relation_and_this_one():
    state = published_state(
        "cluster", Shared(), peers_data={0: _record(1), 2: _record(0), 3: {}}, leader=False
    )
    seen: list[Rollout] = []
    _run(AckCharm, state, lambda c: seen.append(c.shared.rollout()), unit_id=1)
    (rollout,) = seen
    assert rollout.revision == 1
    assert rollout.applied == frozenset({"app/0"})
    assert rollout.pending == frozenset({"app/1", "app/2", "app/3"})
    assert not rollout.complete
    with pytest.raises(dataclasses.FrozenInstanceError):
        rollout.revision = 2  # pyright: ignore[reportAttributeAccessIssue]


@pytest.mark.modules
def test_a_unit_record_that_is_not_json_or_juju_keys_alone_count_as_no_record():
    state = published_state(
        "cluster", Shared(), peers_data={0: {RECORD: "garbage"}, 2: {"ingress-address": "x"}}
    )
    seen: list[Rollout] = []
    _run(AckCharm, state, lambda c: seen.append(c.shared.rollout()), unit_id=1)
    assert seen[0].applied == frozenset()


# The applied event, on the leader


@pytest.mark.modules
def test_applied_fires_once_when_the_last_unit_acknowledges_in_its_relation_changed():
    cluster = Cluster(AckCharm, META)
    cluster.deploy(3)
    cluster.settle()
    applied = [r for r in cluster.log if r.unit == 0 and "applied" in r.status]
    assert applied, "the deployment's first revision was applied by every unit"
    cluster.run(0, "update-status", prepare=lambda c: c.shared.update(log_level="debug"))
    cluster.deliver(1)
    before = cluster.log[-1]
    assert before.status != "active: applied 2"
    cluster.settle()
    assert cluster.state(0).unit_status == ops.ActiveStatus("applied 2")


@pytest.mark.modules
def test_applied_does_not_fire_again_for_the_same_revision():
    state = published_state(
        "cluster", Shared(), leader=True, peers_data={1: _record(1), 2: _record(1)}
    )
    out, ctx = _run(AckCharm, state, lambda c: c.shared.acknowledge())
    assert _applied_events(ctx) == [1]
    for remote in (1, 2):
        out, ctx = _run(AckCharm, out, event=_changed_from(remote))
        assert _applied_events(ctx) == []


@pytest.mark.modules
def test_a_departed_unit_is_not_pending_and_its_departure_can_complete_a_rollout():
    state = published_state("cluster", Shared(), leader=True, peers_data={1: _record(1), 2: {}})
    out, ctx = _run(AckCharm, state, lambda c: c.shared.acknowledge())
    assert _applied_events(ctx) == []
    relation = dataclasses.replace(peer_of(out), peers_data={1: _record(1)})
    out = dataclasses.replace(out, relations={relation})
    ctx = testing.Context(AckCharm, meta=META)
    out = ctx.run(ctx.on.relation_departed(relation, remote_unit=2, departing_unit=2), out)
    assert _applied_events(ctx) == [1]


@pytest.mark.modules
def test_a_unit_that_joins_later_is_pending_until_it_acknowledges():
    state = published_state("cluster", Shared(), leader=True, peers_data={1: _record(1)})
    out, ctx = _run(AckCharm, state, lambda c: c.shared.acknowledge())
    assert _applied_events(ctx) == [1]
    relation = dataclasses.replace(peer_of(out), peers_data={1: _record(1), 2: {}})
    out = dataclasses.replace(out, relations={relation})
    seen: list[Rollout] = []
    out, _ = _run(AckCharm, out, lambda c: seen.append(c.shared.rollout()))
    assert seen[-1].pending == frozenset({"app/2"})
    relation = dataclasses.replace(peer_of(out), peers_data={1: _record(1), 2: _record(1)})
    out = dataclasses.replace(out, relations={relation})
    out, ctx = _run(AckCharm, out, event=_changed_from(2))
    _run(AckCharm, out, lambda c: seen.append(c.shared.rollout()))
    assert seen[-1].complete
    assert _applied_events(ctx) == []  # it fired for revision 1 already


class MigratingCharm(ops.CharmBase):
    """Gives `migrate=` (so each unit keeps a record) without acknowledge=True."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared, migrate=lambda _: None)


@pytest.mark.modules
def test_a_unit_whose_stored_state_is_gone_keeps_the_acknowledgement_in_its_databag():
    state = published_state("cluster", Shared(), peers_data={0: {}}, leader=False)
    relation = peer_of(state)
    relation = dataclasses.replace(
        relation, local_unit_data={**relation.local_unit_data, **_record(1)}
    )
    assert not state.stored_states
    state = dataclasses.replace(state, relations={relation})
    out, _ = _run(MigratingCharm, state, event=lambda c, _: c.on.upgrade_charm(), unit_id=1)
    assert peer_of(out).local_unit_data[RECORD] == json.dumps({"applied": 1})


@pytest.mark.modules
def test_the_leaders_own_departure_leaves_its_rollout_as_it_was():
    # The leader is app/1 here: scenario reads a departing unit 0 as none given.
    state = published_state("cluster", Shared(), leader=True, peers_data={0: _record(1)})
    out, ctx = _run(AckCharm, state, lambda c: c.shared.acknowledge(), unit_id=1)
    assert _applied_events(ctx) == [1]
    ctx = testing.Context(AckCharm, meta=META, unit_id=1)
    trigger = ctx.on.relation_departed(peer_of(out), remote_unit=0, departing_unit=1)
    with ctx(trigger, out) as mgr:
        assert mgr.charm.model.unit.name == os.environ["JUJU_DEPARTING_UNIT"]
        mgr.run()
        rollout = mgr.charm.shared.rollout()
    assert rollout.complete


def test_a_departure_is_no_concern_of_an_object_without_acknowledgements():
    state = published_state("cluster", Shared(), leader=True, peers_data={1: {}, 2: {}})
    relation = dataclasses.replace(peer_of(state), peers_data={1: {}})
    state = dataclasses.replace(state, relations={relation})
    ctx = testing.Context(SharedCharm, meta=META)
    out = ctx.run(ctx.on.relation_departed(relation, remote_unit=2, departing_unit=2), state)
    assert peer_of(out).local_unit_data == relation.local_unit_data
    assert app_data(out) == dict(relation.local_app_data)


def _leader_and_peer_both_applied_revision_1() -> testing.State:
    """Revision 1 published; the leader's record and its peer's both say they applied it."""
    state = published_state("cluster", Shared(), leader=True, peers_data={1: _record(1)})
    relation = peer_of(state)
    relation = dataclasses.replace(
        relation, local_unit_data={**relation.local_unit_data, **_record(1)}
    )
    return dataclasses.replace(state, relations={relation})


@pytest.mark.modules
def test_without_acknowledge_applied_never_fires_even_over_recorded_acknowledgements():
    state = _leader_and_peer_both_applied_revision_1()
    _, ctx = _run(MigratingCharm, state, event=lambda c, _: c.on.leader_elected())
    assert _applied_events(ctx) == []


@pytest.mark.modules
def test_the_leaders_hook_for_one_acknowledgement_reads_only_that_units_databag():
    peers = {unit: _record(1) for unit in range(1, 20)}
    state = published_state("cluster", Shared(), leader=True, peers_data=peers)
    out, _ = _run(AckCharm, state, lambda c: c.shared.acknowledge())  # builds the tally
    relation = peer_of(out)
    relation = dataclasses.replace(relation, peers_data={**relation.peers_data, 7: _record(2)})
    out = dataclasses.replace(out, relations={relation})
    reads: list[str] = []
    _run(AckCharm, out, lambda c: recording_unit_reads(c, reads), event=_changed_from(7))
    assert reads == ["app/7"]


@pytest.mark.modules
def test_a_new_leader_rebuilds_its_tally_from_every_units_record():
    peers: Mapping[int, dict[str, str]] = {1: _record(1), 2: _record(1)}
    state = published_state("cluster", Shared(), leader=True, peers_data=dict(peers))
    state = dataclasses.replace(state, stored_states=frozenset())
    out, ctx = _run(AckCharm, state, event=lambda c, _: c.on.leader_elected())
    # The leader's own first view: it acknowledges, and every unit has applied revision 1.
    assert _applied_events(ctx) == [1]
    assert out.unit_status == ops.ActiveStatus("applied 1")


class QuietAckCharm(ops.CharmBase):
    """Opts into acknowledgements and does nothing on its events."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared, acknowledge=True)


@pytest.mark.modules
def test_a_new_leader_fires_applied_in_its_election_hook_for_a_complete_rollout():
    state = _leader_and_peer_both_applied_revision_1()
    _, ctx = _run(QuietAckCharm, state, event=lambda c, _: c.on.leader_elected())
    assert _applied_events(ctx) == [1]


@pytest.mark.modules
def test_a_leader_whose_stored_state_is_gone_fires_applied_in_a_hook_where_it_reads_the_rollout():
    state = dataclasses.replace(_leader_and_peer_both_applied_revision_1(), stored_states=set())
    complete: list[bool] = []
    _, ctx = _run(QuietAckCharm, state, lambda c: complete.append(c.shared.rollout().complete))
    assert complete == [True]
    assert _applied_events(ctx) == [1]


@pytest.mark.modules
def test_a_leader_with_ack_that_writes_a_value_back_emits_the_new_revision_naming_no_field():
    state = _leader_and_peer_both_applied_revision_1()
    handled, _ = _run(AckCharm, state, event=lambda c, _: c.on.leader_elected())

    def write_and_write_back(charm: AckCharm) -> None:
        charm.shared.update(log_level="debug")
        charm.shared.update(log_level="info")

    out, ctx = _run(AckCharm, handled, write_and_write_back)
    (event,) = [e for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)]
    assert (event.changed, event.revision) == (frozenset(), 3)
    assert peer_of(out).local_unit_data[RECORD] == json.dumps({"applied": 3})


@pytest.mark.modules
def test_a_leader_that_does_not_yet_see_every_planned_unit_holds_applied_back():
    # A new leader whose relation-joined hook for unit 1 has not run yet.
    joined = dataclasses.replace(_leader_and_peer_both_applied_revision_1(), planned_units=2)
    relation = dataclasses.replace(peer_of(joined), peers_data={})
    state = dataclasses.replace(joined, relations={relation})
    complete: list[bool] = []
    out, ctx = _run(
        QuietAckCharm,
        state,
        lambda c: complete.append(c.shared.rollout().complete),
        event=lambda c, _: c.on.leader_elected(),
    )
    assert complete == [True]  # by the units it sees
    assert _applied_events(ctx) == []
    out = dataclasses.replace(
        out, relations={dataclasses.replace(peer_of(out), peers_data=peer_of(joined).peers_data)}
    )
    _, ctx = _run(QuietAckCharm, out, event=_changed_from(1))  # unit 1 joined
    assert _applied_events(ctx) == [1]


@pytest.mark.modules
def test_a_unit_removed_before_it_acknowledged_no_longer_holds_the_rollout_back():
    cluster = Cluster(AckCharm, META)
    cluster.deploy(2)
    cluster.settle()
    cluster.run(0, "update-status", prepare=lambda c: c.shared.update(log_level="debug"))
    cluster.remove_unit(1)  # before its relation-changed for revision 2: Juju plans 1 unit
    cluster.settle()
    assert cluster.state(0).unit_status == ops.ActiveStatus("applied 2")


def test_acknowledgements_work_on_a_charm_that_also_logs(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING):
        cluster = Cluster(AckCharm, META)
        cluster.deploy(2)
        cluster.settle()
    assert caplog.records == []


class Plain(pydantic.BaseModel):
    x: int = 1


@pytest.mark.modules
def test_with_acknowledgements_a_new_revision_alone_is_a_change_naming_no_field():
    data = {"log_level": '"info"', "members": "[]"}  # published before revisions were numbered
    state = testing.State(relations={peer(data, peers=(0,))})
    handled, ctx = _run(AckCharm, state, event=_changed_from(0), unit_id=1)
    assert [e.revision for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)] == [
        0
    ]
    numbered = dataclasses.replace(peer_of(handled), local_app_data={**data, REVISION: "1"})
    out, ctx = _run(
        AckCharm,
        dataclasses.replace(handled, relations={numbered}),
        event=_changed_from(0),
        unit_id=1,
    )
    (event,) = [e for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)]
    assert (event.changed, event.revision) == (frozenset(), 1)
    assert peer_of(out).local_unit_data[RECORD] == json.dumps({"applied": 1})


def test_without_acknowledgements_a_new_revision_alone_emits_nothing():
    data = {"log_level": '"info"', "members": "[]"}
    state = testing.State(relations={peer(data, peers=(0,))})
    handled, _ = _run(SharedCharm, state, event=_changed_from(0), unit_id=1)
    numbered = dataclasses.replace(peer_of(handled), local_app_data={**data, REVISION: "1"})
    _, ctx = _run(
        SharedCharm,
        dataclasses.replace(handled, relations={numbered}),
        event=_changed_from(0),
        unit_id=1,
    )
    assert [e for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)] == []


class SecretShared(pydantic.BaseModel):
    level: str = "info"
    token: pydantic.SecretStr | None = None


class SecretAckCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", SecretShared, acknowledge=True)


@pytest.mark.modules
def test_the_revision_and_the_leaders_rollout_read_no_secret_and_validate_nothing():
    config = SecretShared(token=pydantic.SecretStr("t-1"))
    state = published_state("cluster", config, leader=True, peers_data={1: _record(1)})
    seen: list[Any] = []

    def read(charm: SecretAckCharm) -> None:
        backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]

        def secret_get(*_: Any, **__: Any) -> Any:
            raise AssertionError("the secret was read")

        backend.secret_get = secret_get
        seen.extend([charm.shared.revision, charm.shared.rollout()])

    _run(SecretAckCharm, state, read)
    assert seen == [1, Rollout(1, frozenset({"app/1"}), frozenset({"app/0"}))]


@pytest.mark.modules
def test_a_planned_unit_removed_before_it_ever_joined_holds_applied_back_no_longer():
    # Juju planned unit 2, which never joined the relation, then removed it.
    planned = dataclasses.replace(_leader_and_peer_both_applied_revision_1(), planned_units=3)
    out, ctx = _run(QuietAckCharm, planned, event=lambda c, _: c.on.leader_elected())
    assert _applied_events(ctx) == []  # unit 2 may join and not have applied revision 1
    removed = dataclasses.replace(out, planned_units=2)
    _, ctx = _run(QuietAckCharm, removed)  # update-status: the leader checks again
    assert _applied_events(ctx) == [1]


@pytest.mark.modules
@pytest.mark.parametrize("read", ["get", "rollout"])
def test_a_planned_unit_removed_before_it_joined_holds_applied_back_no_longer_in_a_reconciler(
    read: str,
):
    # A reconciler reads the config (or the rollout) in update-status, before the end of
    # the hook: that read finds every planned unit, and `applied` still fires.
    planned = dataclasses.replace(_leader_and_peer_both_applied_revision_1(), planned_units=3)
    out, _ = _run(QuietAckCharm, planned, event=lambda c, _: c.on.leader_elected())
    removed = dataclasses.replace(out, planned_units=2)
    _, ctx = _run(QuietAckCharm, removed, lambda charm: getattr(charm.shared, read)())
    assert _applied_events(ctx) == [1]


@pytest.fixture
def goal_state(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Stands in for Juju's `goal-state` hook tool: unit name -> status."""
    hookcmds = pytest.importorskip("ops.hookcmds")  # ops before hookcmds counts units only
    units: dict[str, str] = {}
    since = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)

    def goal_state() -> Any:
        goals = {name: hookcmds.Goal(status=status, since=since) for name, status in units.items()}
        return hookcmds.GoalState(units=goals, relations={})

    monkeypatch.setattr(hookcmds, "goal_state", goal_state)
    return units


@pytest.mark.modules
def test_a_dying_unit_does_not_stand_in_for_a_new_one_that_has_not_joined(
    goal_state: dict[str, str],
):
    # remove-unit 1 and add-unit: unit 1 is dying but still in the relation; unit 2 is
    # planned and has not joined. Counted, the two look like every planned unit.
    goal_state.update({"app/0": "active", "app/1": "dying", "app/2": "waiting"})
    state = dataclasses.replace(_leader_and_peer_both_applied_revision_1(), planned_units=2)
    out, ctx = _run(QuietAckCharm, state, event=lambda c, _: c.on.leader_elected())
    assert _applied_events(ctx) == []
    # Unit 2 joins and applies revision 1; unit 1 departs.
    goal_state.update({"app/2": "active"})
    goal_state.pop("app/1")
    relation = dataclasses.replace(peer_of(out), peers_data={2: _record(1)})
    out = dataclasses.replace(out, relations={relation})
    _, ctx = _run(QuietAckCharm, out, event=_changed_from(2))
    assert _applied_events(ctx) == [1]


class BeforeAcknowledgements(ops.CharmBase):
    """The charm's revision before it turned acknowledgements on."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared)


@pytest.mark.modules
def test_units_upgraded_to_acknowledgements_acknowledge_the_revision_they_run():
    published = published_state("cluster", Shared(log_level="debug"), peers_data={0: {}})
    relation = peer_of(published)
    before = type("Charm", (BeforeAcknowledgements,), {})
    ran, _ = _run(before, published, event=_changed_from(0), unit_id=1)  # handles revision 1
    after = type("Charm", (QuietAckCharm,), {})
    out, ctx = _run(after, ran, event=lambda c, _: c.on.upgrade_charm(), unit_id=1)
    assert peer_of(out).local_unit_data[RECORD] == json.dumps({"applied": 1})
    assert app_data(out) == dict(relation.local_app_data)
    assert [e for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)] == []


@pytest.mark.modules
def test_an_upgraded_unit_that_acknowledged_before_keeps_its_own_record():
    published = published_state("cluster", Shared(log_level="debug"), peers_data={0: {}})
    ran, _ = _run(QuietAckCharm, published, event=_changed_from(0), unit_id=1)
    relation = dataclasses.replace(peer_of(ran), local_unit_data=_record(0))
    state = dataclasses.replace(ran, relations={relation})
    out, _ = _run(QuietAckCharm, state, event=lambda c, _: c.on.upgrade_charm(), unit_id=1)
    assert peer_of(out).local_unit_data[RECORD] == json.dumps({"applied": 0})


@pytest.mark.modules
def test_an_upgrade_that_turns_acknowledgements_on_completes_the_rollout_of_the_current_revision():
    cluster = Cluster(type("Charm", (BeforeAcknowledgements,), {}), META)
    cluster.deploy(3)
    cluster.settle()
    for unit in (1, 2, 0):
        cluster.upgrade(unit, type("Charm", (AckCharm,), {}))
        cluster.settle()
    assert cluster.state(0).unit_status == ops.ActiveStatus("applied 1")


def _revision_2_acknowledged_by_unit_0_following(charm: type[AckCharm]) -> Cluster[AckCharm]:
    """Unit 1 leads and writes revision 2; unit 0, following, applies and acknowledges it."""
    cluster = Cluster(charm, META)
    cluster.deploy(3)
    cluster.elect(1)
    cluster.run(1, "update-status", prepare=lambda c: c.shared.update(log_level="debug"))
    cluster.deliver(0)
    return cluster


@pytest.mark.modules
def test_a_unit_that_leads_again_before_its_leader_elected_hook_counts_what_it_saw_following():
    cluster = _revision_2_acknowledged_by_unit_0_following(AckCharm)
    cluster.deliver(1)  # the leader, unit 1, sees it
    cluster.elect(0, run_hook=False)  # unit 0 leads again; its leader-elected is queued
    while cluster.pending(2):
        cluster.deliver(2)  # the last unit acknowledges revision 2
    rollouts: list[Rollout] = []
    cluster.run(
        0, "relation-changed", remote=2, prepare=lambda c: rollouts.append(c.shared.rollout())
    )
    assert rollouts[0].complete
    assert cluster.state(0).unit_status == ops.ActiveStatus("applied 2")


class AcknowledgesWhenItSetsItsStatus(ops.CharmBase):
    """Acknowledges in collect-status, once its workload runs the config."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared, acknowledge=True)
        framework.observe(self.on.collect_unit_status, self._on_collect_status)
        framework.observe(self.shared.on.applied, self._on_applied)

    def _on_collect_status(self, event: ops.CollectStatusEvent) -> None:
        if self.shared.get() is not None:
            self.shared.acknowledge()
        event.add_status(ops.ActiveStatus())

    def _on_applied(self, event: LeaderConfigAppliedEvent) -> None:
        self.unit.status = ops.ActiveStatus(f"applied {event.revision}")


@pytest.mark.modules
def test_the_leaders_acknowledgement_in_a_collect_status_handler_fires_applied_in_that_hook():
    state = published_state("cluster", Shared(), leader=True, peers_data={1: _record(1)})
    out, ctx = _run(
        AcknowledgesWhenItSetsItsStatus, state, event=lambda c, _: c.on.leader_elected()
    )
    assert peer_of(out).local_unit_data[RECORD] == json.dumps({"applied": 1})
    assert _applied_events(ctx) == [1]


def _goal_state_calls(cluster: Cluster[Any], hook: str) -> int:
    before = cluster.goal_state_calls
    cluster.run(0, hook)
    return cluster.goal_state_calls - before


@pytest.mark.modules
@pytest.mark.skipif(HOOKCMDS is None, reason="goal-state through ops.hookcmds (ops 3.x)")
@pytest.mark.parametrize(("hook", "calls"), [("update-status", 1), ("config-changed", 0)])
def test_a_leader_that_acknowledges_in_collect_status_asks_goal_state_only_where_it_matters(
    hook: str, calls: int
):
    cluster = Cluster(AcknowledgesWhenItSetsItsStatus, META)
    cluster.deploy(2)
    cluster.add_unit(join=False)  # planned, not in the relation yet: applied waits for it
    cluster.run(0, "update-status", prepare=lambda c: c.shared.update(log_level="debug"))
    cluster.settle()
    assert _goal_state_calls(cluster, hook) == calls


class AcknowledgesInEveryHook(AckCharm):
    """Acknowledges what it applied in update-status too, as a reconciler does."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(self.on.update_status, self._on_changed)


@pytest.mark.modules
def test_a_unit_that_leads_again_looks_at_the_rollout_in_a_hook_in_which_it_acknowledges():
    cluster = _revision_2_acknowledged_by_unit_0_following(AcknowledgesInEveryHook)
    cluster.elect(0, run_hook=False)  # it leads again; its leader-elected is queued
    for unit in (1, 2):  # the others acknowledge revision 2; unit 0's hooks stay queued
        while cluster.pending(unit):
            cluster.deliver(unit)
    cluster.run(0, "update-status")  # it acknowledges again: its record is unchanged
    assert cluster.state(0).unit_status == ops.ActiveStatus("applied 2")
