#!/usr/bin/env python3
"""The hand-written baseline, with config revisions and acknowledgements, written by hand.

The job of the tester charm with `acknowledge=True`: on top of `baseline.py`, the
leader numbers its effective writes (a JSON int under `revision`, in the same
`relation-set`), and every unit, once it has applied a revision (shown it in its
status as `<cluster-name>: log-level=<level> (revision N)`), writes it to its own
unit databag under `applied`. The leader keeps a tally of the units' records in its
stored state, updated from the one unit whose `relation-changed` it gets (one
`relation-get`) and rebuilt with one read per unit when it is elected; its status
shows `rolled out revision N to k/n units`, updated when a unit joins, acknowledges
or departs, and when it writes.

This is the bar for the acknowledging tester charm: the same careful code by hand.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import ops

from benchmarks.charms.baseline import (
    FIELDS,
    PEER,
    SECRET_ID_KEY,
    BaselineCharm,
    generate_password,
)

logger = logging.getLogger(__name__)

REVISION_KEY = "revision"
APPLIED_KEY = "applied"


class AckBaselineCharm(BaselineCharm):
    """The baseline charm, whose units acknowledge the revisions they applied."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(status="", applied=-1, tally={}, tally_valid=False)
        framework.observe(self.on[PEER].relation_joined, self._on_peer_membership)
        framework.observe(self.on[PEER].relation_departed, self._on_peer_membership)

    def _set_status(self, status: ops.StatusBase) -> None:
        shown = f"{status.name}: {status.message}"
        if shown != self._stored.status:
            self.unit.status = status
            self._stored.status = shown

    def _on_install(self, _: ops.InstallEvent):
        self._set_status(ops.WaitingStatus("waiting for the leader to share config"))

    def _publish(self, event: ops.EventBase):
        if not isinstance(event, ops.LeaderElectedEvent):
            super()._publish(event)
            return
        self._stored.tally_valid = False  # the last leader's tally is not this one's
        super()._publish(event)
        relation = self.model.get_relation(PEER)
        if relation is not None:
            self._show_rollout(relation)

    def _on_peer_changed(self, event: ops.RelationChangedEvent):
        if event.unit not in (None, self.unit) and self.unit.is_leader():
            self._note(event.relation, event.unit)
        super()._on_peer_changed(event)
        self._show_rollout(event.relation)

    def _on_peer_membership(self, event: ops.RelationJoinedEvent | ops.RelationDepartedEvent):
        if isinstance(event, ops.RelationDepartedEvent) and self.unit.is_leader():
            self._note(event.relation, event.departing_unit)
        self._show_rollout(event.relation)

    def _write(self, relation: ops.Relation, values: dict[str, Any]) -> None:
        databag = relation.data[self.app]
        wanted = {key: json.dumps(value) for key, value in values.items()}
        changes = {key: value for key, value in wanted.items() if databag.get(key) != value}
        if SECRET_ID_KEY not in databag:
            secret = self.app.add_secret(
                {"admin-password": generate_password()}, label="leader-config-cluster"
            )
            changes[SECRET_ID_KEY] = json.dumps(secret.id)
        if changes:
            changes[REVISION_KEY] = json.dumps(self._revision(relation) + 1)
            databag.update(changes)
        self._show(relation)

    def _revision(self, relation: ops.Relation) -> int:
        return int(json.loads(relation.data[self.app].get(REVISION_KEY, "0")))

    def _show(self, relation: ops.Relation) -> None:
        shared = self._read(relation)
        if shared is None:
            return
        view = {**shared, REVISION_KEY: self._revision(relation)}
        shown: dict[str, Any] = dict(self._stored.shown)
        if view == shown:
            return
        changed = sorted(key for key in FIELDS if shared[key] != shown.get(key))
        logger.info("shared config changed: %s", ", ".join(changed))
        self._stored.shown = view
        revision = view[REVISION_KEY]
        if not self.unit.is_leader():
            message = f"{shared['cluster_name']}: log-level={shared['log_level']}"
            self._set_status(ops.ActiveStatus(f"{message} (revision {revision})"))
        self._acknowledge(relation, revision)
        self._show_rollout(relation)

    def _acknowledge(self, relation: ops.Relation, revision: int) -> None:
        if self._stored.applied == revision:
            return
        relation.data[self.unit].update({APPLIED_KEY: json.dumps(revision)})
        self._stored.applied = revision
        if self._stored.tally_valid:
            self._stored.tally = {**self._stored.tally, self.unit.name: revision}

    def _applied(self, relation: ops.Relation, unit: ops.Unit) -> int:
        try:
            return int(json.loads(relation.data[unit].get(APPLIED_KEY, "-1")))
        except ValueError:
            return -1

    def _tally(self, relation: ops.Relation) -> dict[str, int]:
        if not self._stored.tally_valid:
            tally = {unit.name: self._applied(relation, unit) for unit in relation.units}
            self._stored.tally = {**tally, self.unit.name: self._stored.applied}
            self._stored.tally_valid = True
        return dict(self._stored.tally)

    def _note(self, relation: ops.Relation, unit: ops.Unit | None) -> None:
        if unit is None:
            return
        tally = self._tally(relation)
        if unit in relation.units:
            tally[unit.name] = self._applied(relation, unit)
        else:
            tally.pop(unit.name, None)
        self._stored.tally = tally

    def _show_rollout(self, relation: ops.Relation) -> None:
        if not self.unit.is_leader() or REVISION_KEY not in relation.data[self.app]:
            return
        revision = self._revision(relation)
        tally = self._tally(relation)
        units = {unit.name for unit in relation.units} | {self.unit.name}
        applied = sum(tally.get(name, -1) >= revision for name in units)
        message = f"rolled out revision {revision} to {applied}/{len(units)} units"
        self._set_status(ops.ActiveStatus(message))


if __name__ == "__main__":  # pragma: nocover
    ops.main(AckBaselineCharm)
