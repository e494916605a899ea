#!/usr/bin/env python3
"""The tester charm's job, hand-written with plain relation data access.

The leader copies `log-level` and `cluster-name` into the peer application
databag as JSON (one key per field, `log_level` and `cluster_name`, written only
when a value differs) and, on its first write, generates an admin password that
it keeps in an application-owned Juju secret whose id goes in the `secret-id`
key. Every unit shows the two values in its status as
`<cluster-name>: log-level=<level>`, logging a line and setting the status only
when what it shows changes. The `get-shared`, `set-shared` and `rotate-password`
actions behave like the tester charm's (the password shows masked).

This is the bar the library is measured against: what a careful charm author
writes by hand, observing only the hooks the job needs (`relation-created` and
`relation-changed` are where a follower can first see the leader's data) and
reading the secret only when it changes it.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

import ops

logger = logging.getLogger(__name__)

PEER = "cluster"
LEVELS = ("debug", "info", "warning", "error")
FIELDS = ("log_level", "cluster_name")
SECRET_ID_KEY = "secret-id"  # noqa: S105 (a databag key, not a password)
SECRET_LABEL = "leader-config-cluster"  # noqa: S105 (a label, not a password)
MASK = "**********"


def generate_password() -> str:
    """A fresh random admin password."""
    return secrets.token_urlsafe(24)


class BaselineCharm(ops.CharmBase):
    """Publishes two config options from the leader; every unit shows them."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(shown={})
        framework.observe(self.on.install, self._on_install)
        framework.observe(self.on.leader_elected, self._publish)
        framework.observe(self.on.config_changed, self._publish)
        framework.observe(self.on[PEER].relation_created, self._on_peer_created)
        framework.observe(self.on[PEER].relation_changed, self._on_peer_changed)
        framework.observe(self.on.get_shared_action, self._on_get_shared)
        framework.observe(self.on.set_shared_action, self._on_set_shared)
        framework.observe(self.on.rotate_password_action, self._on_rotate_password)

    def _on_install(self, _: ops.InstallEvent):
        self.unit.status = ops.WaitingStatus("waiting for the leader to share config")

    def _on_peer_created(self, event: ops.RelationCreatedEvent):
        if self.unit.is_leader():
            self._publish(event)
        else:
            self._show(event.relation)

    def _on_peer_changed(self, event: ops.RelationChangedEvent):
        self._show(event.relation)

    def _publish(self, event: ops.EventBase):
        if not self.unit.is_leader():
            return
        relation = self.model.get_relation(PEER)
        if relation is None:
            return  # the peer relation's relation-created hook publishes
        log_level, cluster_name = self.config["log-level"], self.config["cluster-name"]
        if log_level not in LEVELS:
            self.unit.status = ops.BlockedStatus("invalid config: 1 error(s)")
            return
        self._write(relation, {"log_level": log_level, "cluster_name": cluster_name})

    def _write(self, relation: ops.Relation, values: dict[str, Any]) -> None:
        databag = relation.data[self.app]
        wanted = {key: json.dumps(value) for key, value in values.items()}
        changes = {key: value for key, value in wanted.items() if databag.get(key) != value}
        if SECRET_ID_KEY not in databag:
            secret = self.app.add_secret(
                {"admin-password": generate_password()}, label=SECRET_LABEL
            )
            changes[SECRET_ID_KEY] = json.dumps(secret.id)
        if changes:
            databag.update(changes)
        self._show(relation)

    def _read(self, relation: ops.Relation) -> dict[str, Any] | None:
        databag = relation.data[self.app]
        try:
            return {key: json.loads(databag[key]) for key in FIELDS}
        except (KeyError, ValueError):
            return None

    def _show(self, relation: ops.Relation) -> None:
        shared = self._read(relation)
        shown: dict[str, Any] = dict(self._stored.shown)
        if shared is None or shared == shown:
            return
        changed = sorted(key for key in FIELDS if shared[key] != shown.get(key))
        logger.info("shared config changed: %s", ", ".join(changed))
        self._stored.shown = shared
        self.unit.status = ops.ActiveStatus(
            f"{shared['cluster_name']}: log-level={shared['log_level']}"
        )

    def _on_get_shared(self, event: ops.ActionEvent):
        relation = self.model.get_relation(PEER)
        shared = self._read(relation) if relation is not None else None
        if shared is None:
            event.fail("nothing has been shared yet: the leader has not published")
            return
        shown = {**shared, "admin_password": MASK}
        event.set_results({"config": json.dumps(shown, separators=(",", ":"))})

    def _on_set_shared(self, event: ops.ActionEvent):
        try:
            values = json.loads(event.params["values"])
        except ValueError as e:
            event.fail(f"values must be a JSON object: {e}")
            return
        if not isinstance(values, dict):
            event.fail("values must be a JSON object")
            return
        changes: dict[str, Any] = values  # pyright: ignore[reportUnknownVariableType]
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            event.fail(f"unknown field(s) {', '.join(unknown)}")
            return
        if not self.unit.is_leader():
            event.fail("only the leader can write the shared config; run this on the leader")
            return
        relation = self.model.get_relation(PEER)
        if relation is None:
            event.fail("the peer relation does not exist yet")
            return
        merged = {**(self._read(relation) or {}), **changes}
        valid_name = isinstance(merged.get("cluster_name"), str)
        if merged.get("log_level") not in LEVELS or not valid_name:
            event.fail("invalid shared config")
            return
        self._write(relation, merged)

    def _on_rotate_password(self, event: ops.ActionEvent):
        if not self.unit.is_leader():
            event.fail("only the leader can rotate the password; run this on the leader")
            return
        try:
            secret = self.model.get_secret(label=SECRET_LABEL)
        except ops.SecretNotFoundError:
            event.fail("nothing has been shared yet: the leader has not published")
            return
        secret.set_content({"admin-password": generate_password()})
        event.set_results({"rotated": "true"})


if __name__ == "__main__":  # pragma: nocover
    ops.main(BaselineCharm)
