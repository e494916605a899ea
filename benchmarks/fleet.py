"""A 50-unit application simulated with `ops.testing`: one leader write, every delivery.

`simulate`: the leader handles `juju config log-level=debug` (one write), then each
of the other 49 units handles the `relation-changed` that Juju delivers for the
changed application databag. Every unit starts from the state in which it has
already handled the previous config. Reported: `relation-set` calls over the whole
application, changed events per unit, and the in-process time (`ops.testing`'s own
overhead included) for the tester charm without acknowledgements and the
hand-written baseline.

`rollout`: the same write with the tester charm, whose units acknowledge: each of
the other units applies the new revision and acknowledges it (one `relation-set`
to its own databag), then the leader handles each unit's acknowledgement, its
`relation-changed` from that unit, in turn. Reported: the leader's hook tool calls
per acknowledgement hook and in total (they must not grow with the number of
units: the leader reads only the databag of the unit that changed), the units'
`relation-set` calls, and the leader's status at the end.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import ops
from ops import testing

from benchmarks.charms.baseline import BaselineCharm
from benchmarks.charms.baseline_ack import AckBaselineCharm
from benchmarks.charms.tester_no_ack import NoAckTesterCharm
from benchmarks.scenario_tools import (
    ToolCalls,
    charm_metadata,
    counting_hook_tools,
    counting_relation_sets,
)
from charm import LeaderConfigTesterCharm
from charms.leader_config.v0.leader_config import LeaderConfigChangedEvent

UNITS = 50
PEER = "cluster"


@dataclasses.dataclass(frozen=True)
class FleetResult:
    """What one leader write cost across the application."""

    charm: str
    units: int
    relation_sets: int
    changed_events: dict[int, int]
    statuses: dict[int, str]
    seconds_total: float
    seconds_per_unit_median: float

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary."""
        events = self.changed_events.values()
        return {
            "charm": self.charm,
            "units": self.units,
            "relation_set_calls": self.relation_sets,
            "changed_events_per_unit": {"min": min(events), "max": max(events)},
            "units_showing_the_new_value": sum(
                "log-level=debug" in status for status in self.statuses.values()
            ),
            "seconds_total": round(self.seconds_total, 3),
            "ms_per_unit_median": round(self.seconds_per_unit_median * 1000, 2),
        }


class _Runner:
    def __init__(self, charm_type: type[ops.CharmBase]):
        self.charm_type = charm_type
        self.meta, self.config, self.actions = charm_metadata()

    def context(self, unit_id: int) -> testing.Context[ops.CharmBase]:
        return testing.Context(
            self.charm_type,
            meta=self.meta,
            config=self.config,
            actions=self.actions,
            unit_id=unit_id,
        )

    def run(
        self, unit_id: int, event: Callable[[testing.Context[ops.CharmBase]], Any], state: Any
    ) -> tuple[testing.State, int, int, float]:
        """Run one hook; return the state, relation-sets, changed events and seconds."""
        ctx = self.context(unit_id)
        start = time.perf_counter()
        with ctx(event(ctx), state) as mgr, counting_relation_sets(mgr.charm) as sets:
            out = mgr.run()
        seconds = time.perf_counter() - start
        changed = sum(isinstance(e, LeaderConfigChangedEvent) for e in ctx.emitted_events)
        return out, len(sets), changed, seconds

    def count(
        self, unit_id: int, event: Callable[[testing.Context[ops.CharmBase]], Any], state: Any
    ) -> tuple[testing.State, ToolCalls]:
        """Run one hook; return the state and the hook tool calls it made."""
        ctx = self.context(unit_id)
        with ctx(event(ctx), state) as mgr, counting_hook_tools(mgr.charm) as calls:
            out = mgr.run()
        return out, calls


def _peer(app_data: dict[str, str], unit_id: int) -> testing.PeerRelation:
    others: dict[int, dict[str, str]] = {u: {} for u in range(UNITS) if u != unit_id}
    return testing.PeerRelation(PEER, id=3, local_app_data=app_data, peers_data=others)


def simulate(name: str, charm_type: type[ops.CharmBase]) -> FleetResult:
    """Run the 50-unit write and deliveries for `charm_type`."""
    runner = _Runner(charm_type)
    config = {"log-level": "info", "cluster-name": "bench"}
    # Set-up (not timed): the leader publishes, a follower handles it once.
    relation = _peer({}, 0)
    published, _, _, _ = runner.run(
        0,
        lambda ctx: ctx.on.relation_created(relation),
        testing.State(leader=True, config=config, relations={relation}),
    )
    app_data = dict(published.get_relation(relation.id).local_app_data)
    secrets = published.secrets
    relation = _peer(app_data, 1)
    seen, _, _, _ = runner.run(
        1,
        lambda ctx: ctx.on.relation_changed(relation, remote_unit=0),
        testing.State(leader=False, config=config, relations={relation}, secrets=secrets),
    )
    follower_stored = seen.stored_states
    # The write.
    leader_in = dataclasses.replace(published, config={**config, "log-level": "debug"})
    written, sets, changed, seconds = runner.run(0, lambda ctx: ctx.on.config_changed(), leader_in)
    app_data = dict(written.get_relation(relation.id).local_app_data)
    relation_sets, events, times = sets, {0: changed}, [seconds]
    statuses = {0: written.unit_status.message}
    # The deliveries.
    for unit in range(1, UNITS):
        rel = _peer(app_data, unit)
        state = testing.State(
            leader=False,
            config={**config, "log-level": "debug"},
            relations={rel},
            secrets=written.secrets,
            stored_states=follower_stored,
            unit_status=seen.unit_status,
        )
        out, sets, changed, seconds = runner.run(
            unit, lambda ctx, rel=rel: ctx.on.relation_changed(rel, remote_unit=0), state
        )
        relation_sets += sets
        events[unit] = changed
        statuses[unit] = out.unit_status.message
        times.append(seconds)
    if charm_type is BaselineCharm:
        # The baseline emits no custom event: count the units whose shown status changed.
        events = {unit: int("log-level=debug" in status) for unit, status in statuses.items()}
    return FleetResult(
        charm=name,
        units=UNITS,
        relation_sets=relation_sets,
        changed_events=events,
        statuses=statuses,
        seconds_total=sum(times),
        seconds_per_unit_median=statistics.median(times),
    )


@dataclasses.dataclass(frozen=True)
class RolloutResult:
    """What one revision's rollout cost the leader, acknowledgement by acknowledgement."""

    charm: str
    units: int
    revision: int
    leader_write: ToolCalls  # the leader's config-changed: the write and its own ack
    leader_acks: list[ToolCalls]  # the leader's relation-changed from each other unit
    unit_relation_sets: int  # by the other units, to their own databags
    leader_status: str
    seconds_total: float

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary."""
        per_ack = [calls.total() for calls in self.leader_acks]
        tools = sorted({tool for calls in self.leader_acks for tool in calls.counts()})
        return {
            "charm": self.charm,
            "units": self.units,
            "revision": self.revision,
            "leader_calls_for_the_write": self.leader_write.total(),
            "leader_calls_per_ack_hook": {
                "min": min(per_ack),
                "median": statistics.median(per_ack),
                "max": max(per_ack),
                "by_tool_max": {
                    tool: max(calls.counts()[tool] for calls in self.leader_acks) for tool in tools
                },
            },
            "leader_calls_total": self.leader_write.total() + sum(per_ack),
            "leader_databags_read_per_ack_hook_max": max(
                len(calls.databags_read()) for calls in self.leader_acks
            ),
            "unit_relation_set_calls": self.unit_relation_sets,
            "leader_status": self.leader_status,
            "seconds_total": round(self.seconds_total, 3),
        }


@dataclasses.dataclass(frozen=True)
class AckingCharm:
    """A charm whose units acknowledge, and where it keeps revisions and records."""

    name: str
    charm_type: type[ops.CharmBase]
    revision_key: str
    record: Callable[[int], dict[str, str]]  # a unit databag that says it applied N


LIBRARY_ACK = AckingCharm(
    "library (acknowledge=True)",
    LeaderConfigTesterCharm,
    "leader-config-revision",
    lambda applied: {"leader-config-unit": json.dumps({"applied": applied})},
)
BASELINE_ACK = AckingCharm(
    "baseline+ack", AckBaselineCharm, "revision", lambda applied: {"applied": str(applied)}
)


def rollout(units: int = UNITS, charm: AckingCharm = LIBRARY_ACK) -> RolloutResult:
    """Run one revision's rollout over `units` units of `charm`."""
    runner = _Runner(charm.charm_type)
    _record = charm.record
    config = {"log-level": "info", "cluster-name": "bench"}
    start = time.perf_counter()
    # Set-up (not counted): the leader publishes revision 1, which every unit applied.
    relation = testing.PeerRelation(
        PEER, id=3, peers_data={u: _record(1) for u in range(1, units)}
    )
    published, _, _, _ = runner.run(
        0,
        lambda ctx: ctx.on.relation_created(relation),
        testing.State(leader=True, config=config, relations={relation}, planned_units=units),
    )
    app_data = dict(published.get_relation(relation.id).local_app_data)
    follower_rel = testing.PeerRelation(
        PEER, id=3, local_app_data=app_data, peers_data={u: {} for u in range(units) if u != 1}
    )
    seen, _, _, _ = runner.run(
        1,
        lambda ctx: ctx.on.relation_changed(follower_rel, remote_unit=0),
        testing.State(config=config, relations={follower_rel}, secrets=published.secrets),
    )
    # The write (revision 2), and the leader's own acknowledgement of it.
    leader_in = dataclasses.replace(published, config={**config, "log-level": "debug"})
    state, write = runner.count(0, lambda ctx: ctx.on.config_changed(), leader_in)
    app_data = dict(state.get_relation(relation.id).local_app_data)
    revision = int(app_data[charm.revision_key])
    # Every other unit applies and acknowledges it.
    records: dict[int, dict[str, str]] = {}
    unit_sets = 0
    for unit in range(1, units):
        rel = testing.PeerRelation(
            PEER,
            id=3,
            local_app_data=app_data,
            local_unit_data=_record(1),
            peers_data={u: {} for u in range(units) if u != unit},
        )
        follower_in = dataclasses.replace(seen, relations={rel}, secrets=state.secrets)
        out, calls = runner.count(
            unit, lambda ctx, rel=rel: ctx.on.relation_changed(rel, remote_unit=0), follower_in
        )
        unit_sets += calls.counts()["relation-set"]
        records[unit] = dict(out.get_relation(rel.id).local_unit_data)
    # The leader hears of each acknowledgement in turn.
    acks: list[ToolCalls] = []
    for unit in range(1, units):
        peers = {u: records[u] if u <= unit else _record(1) for u in range(1, units)}
        rel = dataclasses.replace(state.get_relation(relation.id), peers_data=peers)
        leader_in = dataclasses.replace(state, relations={rel})
        state, calls = runner.count(
            0, lambda ctx, rel=rel, u=unit: ctx.on.relation_changed(rel, remote_unit=u), leader_in
        )
        acks.append(calls)
    return RolloutResult(
        charm=charm.name,
        units=units,
        revision=revision,
        leader_write=write,
        leader_acks=acks,
        unit_relation_sets=unit_sets,
        leader_status=state.unit_status.message,
        seconds_total=time.perf_counter() - start,
    )


def run() -> dict[str, Any]:
    """Simulate the library and the baseline, then a rollout; return the summaries."""
    return {
        "library": simulate("library", NoAckTesterCharm).summary(),
        "baseline": simulate("baseline", BaselineCharm).summary(),
        "rollout": rollout().summary(),
        "rollout_baseline": rollout(charm=BASELINE_ACK).summary(),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
