#!/usr/bin/env python3
"""A tiny charm that exercises charms.leader_config: the leader shares two config options.

Every unit applies the shared config (here: shows it in its status) and acknowledges
the revision it applied; the leader's status shows how far the revision rolled out.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import ClassVar, Literal

import ops
import pydantic

from charms.leader_config.v0.leader_config import (
    LeaderConfig,
    LeaderConfigChangedEvent,
    LeaderConfigError,
    NotLeaderError,
    NotReadyError,
)

logger = logging.getLogger(__name__)

WAITING = "waiting for the leader to share config"


def generate_password() -> pydantic.SecretStr:
    """A fresh random admin password."""
    return pydantic.SecretStr(secrets.token_urlsafe(24))


class Shared(pydantic.BaseModel):
    """What the leader shares with every unit."""

    # Hooks that never read the config (most of them) then skip building the validator.
    model_config = pydantic.ConfigDict(defer_build=True)

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    cluster_name: str = "demo"
    # Generated once by the first leader; kept in a Juju secret, never in the databag.
    admin_password: pydantic.SecretStr = pydantic.Field(default_factory=generate_password)


class LeaderConfigTesterCharm(ops.CharmBase):
    """Publishes `log-level` and `cluster-name` from the leader; every unit applies them.

    A follower's status shows the config and its revision, for example
    `demo: log-level=debug (revision 3)`; the leader's shows the rollout, for example
    `rolled out revision 3 to 2/3 units`.
    """

    ACKNOWLEDGE: ClassVar[bool] = True
    """Acknowledge applied revisions; False gives the charm of LIBPATCH 10 and earlier."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        # The status this unit last set, whether it was the leader's rollout, and why the
        # leader is blocked ("" if it is not).
        self._stored.set_default(status="", rollout_shown=False, blocked="")
        self.shared = self._shared_config()
        framework.observe(self.shared.on.changed, self._on_shared_changed)
        framework.observe(self.on.install, self._on_install)
        framework.observe(self.on.leader_elected, self._publish)
        framework.observe(self.on.config_changed, self._publish)
        framework.observe(self.on["cluster"].relation_created, self._publish)
        framework.observe(self.on.get_shared_action, self._on_get_shared)
        framework.observe(self.on.set_shared_action, self._on_set_shared)
        framework.observe(self.on.rotate_password_action, self._on_rotate_password)
        framework.observe(self.on.show_rollout_action, self._on_show_rollout)
        if self.ACKNOWLEDGE:
            framework.observe(self.shared.on.applied, self._show_rollout)
            # The leader's tally changes when a unit joins, acknowledges or departs.
            for event in ("relation_joined", "relation_changed", "relation_departed"):
                framework.observe(getattr(self.on["cluster"], event), self._show_rollout)

    def _shared_config(self) -> LeaderConfig[Shared]:
        """The shared config; a revision that adopts older peer data passes `migrate=`."""
        return LeaderConfig(self, "cluster", Shared, acknowledge=self.ACKNOWLEDGE)

    def _show(self, status: ops.StatusBase, *, rollout: bool = False) -> None:
        """Set this unit's status, unless it already shows it (a status-set costs a call)."""
        shown = f"{status.name}: {status.message}"
        if shown != self._stored.status:
            self.unit.status = status
            self._stored.status = shown
        self._stored.rollout_shown = rollout

    def _stepped_down(self) -> bool:
        """If this unit shows a leader's status but no longer leads, show what it applied."""
        if not (self._stored.rollout_shown or self._stored.blocked) or self.unit.is_leader():
            return False
        self._stored.blocked = ""  # publishing, and its invalid config, are the leader's
        self._apply()
        return True

    def _on_install(self, _: ops.InstallEvent):
        self._show(ops.WaitingStatus(WAITING))

    def _publish(self, event: ops.EventBase):
        if not self.unit.is_leader():
            self._stepped_down()
            return
        try:
            self.shared.update(
                log_level=self.config["log-level"], cluster_name=self.config["cluster-name"]
            )
        except NotReadyError:
            return  # the peer relation's relation-created hook publishes
        except pydantic.ValidationError as e:
            self._stored.blocked = f"invalid config: {e.error_count()} error(s)"
            self._show(ops.BlockedStatus(self._stored.blocked))
            return
        if self._stored.blocked:
            self._stored.blocked = ""
            self._apply()  # valid again, perhaps the values already published: no `changed`
        elif isinstance(event, ops.LeaderElectedEvent):
            self._show_rollout(event)

    def _on_shared_changed(self, event: LeaderConfigChangedEvent):
        changed = ", ".join(sorted(event.changed)) or "no field (a new revision)"
        logger.info("shared config changed: %s", changed)
        self._apply()

    def _apply(self) -> None:
        """Apply the shared config (this charm shows it in its status), then acknowledge it."""
        try:
            cfg = self.shared.get()
        except LeaderConfigError as e:
            logger.warning("cannot apply the shared config: %s", e)
            self._show(ops.WaitingStatus(f"cannot read the shared config: {type(e).__name__}"))
            return
        if cfg is None:  # nothing shared, or no longer
            self._show(ops.WaitingStatus(WAITING))
            return
        applied = f"{cfg.cluster_name}: log-level={cfg.log_level}"
        if not self.ACKNOWLEDGE:
            self._show(ops.ActiveStatus(applied))
            return
        if not self.unit.is_leader():
            revision = self.shared.revision
            shown = "adopted" if revision is None else f"revision {revision}"
            self._show(ops.ActiveStatus(f"{applied} ({shown})"))
        self.shared.acknowledge()
        self._show_rollout()

    def _show_rollout(self, _: ops.EventBase | None = None) -> None:
        """On the leader, show how far the revision rolled out: no call once it has a tally."""
        if not self.ACKNOWLEDGE or self._stepped_down():
            return
        if not self.unit.is_leader() or self._stored.blocked:
            return
        rollout = self.shared.rollout()
        if rollout.revision is None:
            return
        units = len(rollout.applied | rollout.pending)
        message = f"rolled out revision {rollout.revision} to {len(rollout.applied)}/{units} units"
        self._show(ops.ActiveStatus(message), rollout=True)

    def _on_get_shared(self, event: ops.ActionEvent):
        try:
            cfg = self.shared.get()
        except LeaderConfigError as e:
            event.fail(f"cannot read the shared config: {e}")
            return
        if cfg is None:
            event.fail("nothing has been shared yet: the leader has not published")
            return
        event.set_results({"config": cfg.model_dump_json()})  # secrets show as **********

    def _on_set_shared(self, event: ops.ActionEvent):
        try:
            values = json.loads(event.params["values"])
        except ValueError as e:
            event.fail(f"values must be a JSON object: {e}")
            return
        if not isinstance(values, dict):
            event.fail("values must be a JSON object")
            return
        try:
            self.shared.update(**values)  # pyright: ignore[reportUnknownArgumentType]
        except NotLeaderError:
            event.fail("only the leader can write the shared config; run this on the leader")
        except (LeaderConfigError, ValueError) as e:
            event.fail(str(e))

    def _on_rotate_password(self, event: ops.ActionEvent):
        try:
            self.shared.update(admin_password=generate_password())
        except NotLeaderError:
            event.fail("only the leader can rotate the password; run this on the leader")
        except LeaderConfigError as e:
            event.fail(str(e))
        else:
            event.set_results({"rotated": "true"})

    def _on_show_rollout(self, event: ops.ActionEvent):
        if not self.ACKNOWLEDGE:
            event.fail("this revision of the charm does not acknowledge config revisions")
            return
        try:
            rollout = self.shared.rollout()
        except LeaderConfigError as e:
            event.fail(f"cannot read the shared config: {e}")
            return
        event.set_results(
            {
                "revision": "none" if rollout.revision is None else str(rollout.revision),
                "applied": json.dumps(sorted(rollout.applied)),
                "pending": json.dumps(sorted(rollout.pending)),
                "complete": json.dumps(rollout.complete),
            }
        )


if __name__ == "__main__":  # pragma: nocover
    ops.main(LeaderConfigTesterCharm)
