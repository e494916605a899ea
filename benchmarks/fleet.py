"""A 50-unit application simulated with `ops.testing`: one leader write, every delivery.

The leader handles `juju config log-level=debug` (one write), then each of the
other 49 units handles the `relation-changed` that Juju delivers for the changed
application databag. Every unit starts from the state in which it has already
handled the previous config. Reported: `relation-set` calls over the whole
application, changed events per unit, and the in-process time (`ops.testing`'s
own overhead included) for the tester charm and the hand-written baseline.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from typing import Any

import ops
from ops import testing

from benchmarks.charms.baseline import BaselineCharm
from benchmarks.scenario_tools import charm_metadata, counting_relation_sets
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


def run() -> dict[str, Any]:
    """Simulate the library and the baseline; return both summaries."""
    return {
        "library": simulate("library", LeaderConfigTesterCharm).summary(),
        "baseline": simulate("baseline", BaselineCharm).summary(),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
