"""Acknowledgements and rollouts for `charms.leader_config.v0.leader_config`.

An optional module: vendor it next to `leader_config.py` only for a `LeaderConfig`
made with `acknowledge=True` (or `migrate=`, whose takeover counts the units that
run this library); the core loads it then. The manual is docs/rollouts.md.
"""

from __future__ import annotations

import json

import ops

from charms.leader_config.v0 import leader_config as core
from charms.leader_config.v0.leader_config import Rollout

LIBID = "b27e5c1d9a4f4e3b8c6d0f2a1e9b7c54"
LIBAPI = 0
LIBPATCH = 3

# The version of the interface between the core and its modules that this file needs.
MODULE_API = 1

if getattr(core, "MODULE_API", 0) < MODULE_API:  # a core from before the modules: none
    raise ImportError(
        f"{__name__.rpartition('.')[2]}.py (LIBPATCH {LIBPATCH}) needs a newer"
        f" leader_config.py than LIBPATCH {core.LIBPATCH} (module interface {MODULE_API}, not"
        f" {getattr(core, 'MODULE_API', 0)}): update it: copy"
        " leader_config.py from the charms.leader_config repository or its wheel"
    )


def _applied(revision: int | None) -> int:
    return -1 if revision is None else revision


class Rollouts(ops.Object):
    """Each unit's record in its own peer databag, and the leader's tally of them.

    A unit's record (`prefix + "leader-config-unit"`, JSON) says that it runs a
    revision that uses this library, and the config revision it last applied:
    `{}` or `{"applied": N}`. A unit writes only its own; the leader keeps a tally
    in its stored state, updated from the one unit whose databag changed, and
    rebuilt with one read per unit when it becomes leader or its state is gone.
    """

    def __init__(self, host: core.ModuleHost, *, acknowledge: bool, announce: bool = False):
        super().__init__(host.owner, "rollouts")
        self._host = host
        self._announce = announce  # an adoption counts the units that run this library
        self._stored = host.stored
        self._key = host.codec.unit_key
        self._acknowledge = acknowledge
        # held_back: a check found a planned unit not in the relation yet: check again.
        self._stored.set_default(
            record="", tally={}, tally_valid=False, applied_fired=-1, held_back=False
        )
        self._planned_check: tuple[frozenset[str], bool] | None = None  # this hook's answer
        self._update_status = False  # this hook is update-status
        peer_events = host.charm.on[host.codec.relation_name]
        self.framework.observe(peer_events.relation_departed, self._on_departed)
        self.framework.observe(host.charm.on.update_status, self._on_update_status)

    def acknowledge(self) -> None:
        """Record that this unit applied the revision of its view (`LeaderConfig.acknowledge`)."""
        relation = self.model.get_relation(self._host.codec.relation_name)
        revision = self._host.owner.revision
        if relation is None or revision is None:
            return
        stale = not self._stored.tally_valid  # it leads again, before its leader-elected?
        if (self.write(relation, revision) or stale) and self.model.unit.is_leader():
            self._host.units_changed()  # a new record or tally: the rollout may be complete

    def rollout(self) -> Rollout:
        """How far the revision of this unit's view has rolled out (`LeaderConfig.rollout`)."""
        relation = self.model.get_relation(self._host.codec.relation_name)
        if relation is None:
            return Rollout(None, frozenset(), frozenset({self.model.unit.name}))
        leader = self.model.unit.is_leader()
        return self.rollout_of(relation, self._host.owner.revision, leader)

    def emit_applied(self) -> None:
        """Emit `applied` on the leader if every unit has applied the current revision."""
        relation = self.model.get_relation(self._host.codec.relation_name)
        revision = self._host.owner.revision
        if relation is not None and revision is not None and self.due(relation, revision):
            self._host.owner.on.applied.emit(revision)

    def due_for_a_look(self, units_changed: bool) -> bool:
        """Whether the leader looks at the whole rollout at the end of this hook.

        When the units changed, and in update-status while an earlier look waited for
        a planned unit (which may have been removed before it ever joined).
        """
        return units_changed or (self._update_status and bool(self._stored.held_back))

    def _on_update_status(self, _: ops.UpdateStatusEvent) -> None:
        self._update_status = True

    def _on_departed(self, event: ops.RelationDepartedEvent) -> None:
        unit = event.departing_unit
        if unit is not None and unit != self.model.unit and self.model.unit.is_leader():
            self.note(event.relation, unit)
            self._host.units_changed()  # one unit fewer: a rollout may be complete now

    def on_hook(self, relation: ops.Relation, event: ops.EventBase, leader: bool) -> bool:
        """Note what a peer, election or upgrade hook says of the units.

        Returns whether the leader looks at the whole rollout at the end of the hook.
        """
        if self._announce and not self._stored.record:
            self._stored.record = relation.data[self.model.unit].get(self._key, "")
            if not self._stored.record:
                self.write(relation, None)
        # A new leader, or a follower that may lead again (even before its leader-elected
        # hook), may miss records the leader saw: it rebuilds its tally then.
        if self._stored.tally_valid and (isinstance(event, ops.LeaderElectedEvent) or not leader):
            self._stored.tally_valid = False
        upgraded = isinstance(event, ops.UpgradeCharmEvent) and self._acknowledge
        if upgraded and self.read(relation, self.model.unit) in (None, -1):
            # A revision handled before acknowledgements were turned on gets no
            # changed event after it: it would stay pending on every unit.
            ran = self._host.runs(relation)
            if ran is not None:
                self.write(relation, ran)
        if leader and not self._stored.tally_valid:
            return True  # elected, its state gone, or its first hook on this revision
        unit = event.unit if leader and isinstance(event, ops.RelationChangedEvent) else None
        return unit is not None and unit != self.model.unit and self.note(relation, unit)

    def write(self, relation: ops.Relation, applied: int | None) -> bool:
        """Write this unit's record, unless it already holds the same; return whether it did."""
        record = json.dumps({} if applied is None else {"applied": applied})
        if record == self._stored.record:
            return False
        relation.data[self.model.unit].update({self._key: record})
        self._stored.record = record
        if self._stored.tally_valid:
            self._stored.tally = {**self._stored.tally, self.model.unit.name: _applied(applied)}
        return True

    def read(self, relation: ops.Relation, unit: ops.Unit) -> int | None:
        """The revision `unit` applied (-1 for none yet), or None if it has no record."""
        if unit == self.model.unit and self._stored.record:
            text = self._stored.record
        else:
            text = relation.data[unit].get(self._key)
        try:
            record = json.loads(text) if text else None
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        applied = record.get("applied")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return applied if isinstance(applied, int) else -1

    def note(self, relation: ops.Relation, unit: ops.Unit) -> bool:
        """Update the tally for `unit`, which joined, changed or departed; leader only."""
        tally = self.tally(relation)
        applied = self.read(relation, unit) if unit in relation.units else None
        if applied is None:
            tally.pop(unit.name, None)
        else:
            tally[unit.name] = applied
        if tally == self._stored.tally:
            return False
        self._stored.tally = tally
        return True

    def tally(self, relation: ops.Relation) -> dict[str, int]:
        """What each unit applied, by name, for the units with a record; leader only."""
        if not self._stored.tally_valid:
            units = {*relation.units, self.model.unit}
            records = {unit.name: self.read(relation, unit) for unit in units}
            self._stored.tally = {name: n for name, n in records.items() if n is not None}
            self._stored.tally_valid = True
            # Its first look since it was elected or lost its state, perhaps in a hook the
            # library does not watch, or before it sees the hook: look at the end of it.
            self._host.units_changed()
        return dict(self._stored.tally)

    def units(self, relation: ops.Relation) -> set[str]:
        """The names of the units in the relation, and this one."""
        return {unit.name for unit in relation.units} | {self.model.unit.name}

    def all_recorded(self, relation: ops.Relation) -> bool:
        """Whether every unit runs a revision that uses this library; leader only."""
        others = self.units(relation) - {self.model.unit.name}
        return others <= self.tally(relation).keys() and self.sees_every_unit(relation)

    def sees_every_unit(self, relation: ops.Relation) -> bool:
        """Whether the relation holds every unit Juju plans: one `goal-state` per hook.

        A unit new to the relation (a new leader among them) sees another unit only
        once its `relation-joined` for that unit has run. Units compare by name where
        ops gives the names, so that a dying unit does not stand in for a new one.
        """
        seen = frozenset(self.units(relation))
        if self._planned_check is None or self._planned_check[0] != seen:
            planned = _planned_unit_names()
            if planned is None:  # ops without `hookcmds`, or no hook tools (ops.testing)
                answer = len(seen) >= self.model.app.planned_units()
            else:
                answer = planned <= seen
            self._planned_check = (seen, answer)
            if answer and self._stored.held_back:  # what waited may go ahead: look at the end
                self._host.units_changed()
            self._stored.held_back = not answer
        return self._planned_check[1]

    def end_hook(self) -> None:
        """Forget this hook's `goal-state` answer: the planned units may change."""
        self._planned_check = None
        self._update_status = False

    def rollout_of(self, relation: ops.Relation, revision: int | None, leader: bool) -> Rollout:
        """How far `revision` has rolled out: from the tally on the leader."""
        units = self.units(relation)
        applied_by: dict[str, int | None]
        if leader:
            applied_by = {**self.tally(relation)}
        else:
            applied_by = {unit.name: self.read(relation, unit) for unit in relation.units}
            applied_by[self.model.unit.name] = self.read(relation, self.model.unit)
        applied = frozenset(
            name
            for name in units
            if revision is not None and _applied(applied_by.get(name)) >= revision
        )
        return Rollout(revision=revision, applied=applied, pending=frozenset(units - applied))

    def due(self, relation: ops.Relation, revision: int | None) -> bool:
        """Whether `applied` fires now for `revision` (once per revision); leader only."""
        rollout = self.rollout_of(relation, revision, leader=True)
        if not rollout.complete or rollout.revision is None:
            return False
        if self._stored.applied_fired >= rollout.revision:
            return False
        if not self.sees_every_unit(relation):
            return False
        self._stored.applied_fired = rollout.revision
        return True


def _planned_unit_names() -> set[str] | None:
    """The units Juju plans for the application, by name (`goal-state`), if ops tells."""
    try:
        from ops import hookcmds
    except ImportError:  # ops before hookcmds: `planned_units()` gives only a count
        return None
    try:
        goal = hookcmds.goal_state()
    except FileNotFoundError:  # no hook tools: ops.testing or Harness
        return None
    except hookcmds.Error as e:
        raise ops.ModelError(f"goal-state failed: {e.stderr or e}") from e
    return {name for name, unit in goal.units.items() if unit.status != "dying"}
