#!/usr/bin/env python3
"""The tester charm's job without acknowledgements, hand-written with a pydantic model.

The leader validates `log-level` and `cluster-name` with `Shared`, a model with the
tester charm's field types (and `defer_build`, as the tester has it), and publishes
them in the peer application databag as JSON, one key per field, sending only the
keys that differ in one `relation-set`. On its first write it keeps the model's
generated admin password in an application-owned Juju secret, whose id goes under
`secret-id`, and numbers the password under `password-version`, which
`rotate-password` raises.

Every unit applies the three values whenever they change: it shows
`<cluster-name>: log-level=<level>` in its status (setting it only when the text
changes) and logs the changed fields; when the password's version changed, it reads
the password from the secret (`get_content(refresh=True)`: a unit of the owning
application tracks the revision it last read) and validates it with the rest. It
keeps the values it applied and the password's version in its stored state, never
the password. The `get-shared`, `set-shared` and `rotate-password` actions behave as
the tester charm's do (the password shows masked).

This is the bar for the library as a charm author would write the job by hand with
pydantic, observing only the hooks the job needs.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any, Literal

import ops
import pydantic

logger = logging.getLogger(__name__)

PEER = "cluster"
FIELDS = ("log_level", "cluster_name")  # the plain fields, in the databag
SECRET_ID_KEY = "secret-id"  # noqa: S105 (a databag key, not a password)
VERSION_KEY = "password-version"  # a databag key
CONTENT_KEY = "admin-password"  # the secret content key
SECRET_LABEL = "leader-config-cluster"  # noqa: S105 (a label, not a password)
WAITING = "waiting for the leader to share config"


def generate_password() -> pydantic.SecretStr:
    """A fresh random admin password."""
    return pydantic.SecretStr(secrets.token_urlsafe(24))


class Shared(pydantic.BaseModel):
    """What the leader shares with every unit."""

    model_config = pydantic.ConfigDict(defer_build=True)

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    cluster_name: str = "demo"
    admin_password: pydantic.SecretStr = pydantic.Field(default_factory=generate_password)


class PydanticBaselineCharm(ops.CharmBase):
    """Publishes two config options and a generated password; every unit applies them."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        # The plain values and the password version this unit applied, and its status.
        self._stored.set_default(applied={}, password_version=None, status="")
        framework.observe(self.on.install, self._on_install)
        framework.observe(self.on.leader_elected, self._publish)
        framework.observe(self.on.config_changed, self._publish)
        framework.observe(self.on[PEER].relation_created, self._on_peer_created)
        framework.observe(self.on[PEER].relation_changed, self._on_peer_changed)
        framework.observe(self.on.get_shared_action, self._on_get_shared)
        framework.observe(self.on.set_shared_action, self._on_set_shared)
        framework.observe(self.on.rotate_password_action, self._on_rotate_password)

    def _set_status(self, status: ops.StatusBase) -> None:
        shown = f"{status.name}: {status.message}"
        if shown != self._stored.status:
            self.unit.status = status
            self._stored.status = shown

    def _on_install(self, _: ops.InstallEvent):
        self._set_status(ops.WaitingStatus(WAITING))

    def _on_peer_created(self, event: ops.RelationCreatedEvent):
        if self.unit.is_leader():
            self._publish(event)
        else:
            self._apply(event.relation)

    def _on_peer_changed(self, event: ops.RelationChangedEvent):
        self._apply(event.relation)

    def _publish(self, _: ops.EventBase):
        if not self.unit.is_leader():
            return
        relation = self.model.get_relation(PEER)
        if relation is None:
            return  # the peer relation's relation-created hook publishes
        values = {
            "log_level": self.config["log-level"],
            "cluster_name": self.config["cluster-name"],
        }
        try:
            shared = Shared.model_validate(values)
        except pydantic.ValidationError as e:
            self._set_status(ops.BlockedStatus(f"invalid config: {e.error_count()} error(s)"))
            return
        self._write(relation, shared)

    def _write(self, relation: ops.Relation, shared: Shared) -> None:
        """Publish the plain fields that differ and, the first time, the password."""
        databag = relation.data[self.app]
        wanted = shared.model_dump(mode="json", include=set(FIELDS))
        changes = {
            key: json.dumps(value)
            for key, value in wanted.items()
            if databag.get(key) != json.dumps(value)
        }
        password = None
        if SECRET_ID_KEY not in databag:  # generated once, by the first leader to publish
            password = shared.admin_password.get_secret_value()
            secret = self.app.add_secret({CONTENT_KEY: password}, label=SECRET_LABEL)
            changes[SECRET_ID_KEY] = json.dumps(secret.id)
            changes[VERSION_KEY] = json.dumps(1)
        if changes:
            databag.update(changes)
        self._apply(relation, password)

    def _read(self, relation: ops.Relation) -> dict[str, Any] | None:
        """The published plain values, JSON-decoded; None if nothing is published."""
        databag = relation.data[self.app]
        try:
            return {key: json.loads(databag[key]) for key in (*FIELDS, VERSION_KEY)}
        except KeyError:
            return None

    def _apply(self, relation: ops.Relation, password: str | None = None) -> None:
        """Apply what changed since this unit last applied; the leader passes a new password."""
        try:
            published = self._read(relation)
        except ValueError as e:
            logger.warning("cannot apply the shared config: %s", e)
            self._set_status(ops.WaitingStatus("cannot read the shared config"))
            return
        if published is None:
            return  # the leader has not published yet
        version = published.pop(VERSION_KEY)
        applied: dict[str, Any] = dict(self._stored.applied)
        changed = [key for key in FIELDS if published[key] != applied.get(key)]
        if version != self._stored.password_version:
            changed.append("admin_password")
        if changed:
            values = dict(published)
            if "admin_password" in changed:
                values["admin_password"] = password or self._password(relation)
            try:
                shared = Shared.model_validate(values)
            except pydantic.ValidationError as e:
                logger.warning("cannot apply the shared config: %s", e)
                self._set_status(ops.WaitingStatus("cannot read the shared config"))
                return
            # Here a workload would get shared.admin_password along with the other values.
            logger.info("shared config changed: %s", ", ".join(sorted(changed)))
            self._stored.applied = shared.model_dump(mode="json", include=set(FIELDS))
            self._stored.password_version = version
            applied = dict(self._stored.applied)
        self._set_status(
            ops.ActiveStatus(f"{applied['cluster_name']}: log-level={applied['log_level']}")
        )

    def _password(self, relation: ops.Relation) -> str:
        secret_id = json.loads(relation.data[self.app][SECRET_ID_KEY])
        secret = self.model.get_secret(id=secret_id)
        return secret.get_content(refresh=True)[CONTENT_KEY]

    def _on_get_shared(self, event: ops.ActionEvent):
        relation = self.model.get_relation(PEER)
        try:
            published = self._read(relation) if relation is not None else None
            if published is None:
                event.fail("nothing has been shared yet: the leader has not published")
                return
            published.pop(VERSION_KEY)
            shared = Shared.model_validate(published)
        except ValueError as e:  # pydantic's ValidationError is one
            event.fail(f"cannot read the shared config: {e}")
            return
        event.set_results({"config": shared.model_dump_json()})  # the password shows masked

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
        try:
            published = self._read(relation) or {}
            published.pop(VERSION_KEY, None)
            shared = Shared.model_validate({**published, **changes})
        except ValueError as e:
            event.fail(str(e))
            return
        self._write(relation, shared)

    def _on_rotate_password(self, event: ops.ActionEvent):
        if not self.unit.is_leader():
            event.fail("only the leader can rotate the password; run this on the leader")
            return
        relation = self.model.get_relation(PEER)
        published = self._read(relation) if relation is not None else None
        if relation is None or published is None:
            event.fail("nothing has been shared yet: the leader has not published")
            return
        password = generate_password().get_secret_value()
        secret_id = json.loads(relation.data[self.app][SECRET_ID_KEY])
        self.model.get_secret(id=secret_id).set_content({CONTENT_KEY: password})
        relation.data[self.app][VERSION_KEY] = json.dumps(published[VERSION_KEY] + 1)
        self._apply(relation, password)
        event.set_results({"rotated": "true"})


if __name__ == "__main__":  # pragma: nocover
    ops.main(PydanticBaselineCharm)
