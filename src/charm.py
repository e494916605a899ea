#!/usr/bin/env python3
"""A tiny charm that exercises charms.leader_config: the leader shares two config options."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Literal

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
    """Publishes `log-level` and `cluster-name` from the leader; every unit shows them."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared)
        framework.observe(self.shared.on.changed, self._on_shared_changed)
        framework.observe(self.on.install, self._on_install)
        framework.observe(self.on.leader_elected, self._publish)
        framework.observe(self.on.config_changed, self._publish)
        framework.observe(self.on["cluster"].relation_created, self._publish)
        framework.observe(self.on.get_shared_action, self._on_get_shared)
        framework.observe(self.on.set_shared_action, self._on_set_shared)
        framework.observe(self.on.rotate_password_action, self._on_rotate_password)

    def _on_install(self, _: ops.InstallEvent):
        self.unit.status = ops.WaitingStatus("waiting for the leader to share config")

    def _publish(self, _: ops.EventBase):
        if not self.unit.is_leader():
            return
        try:
            self.shared.update(
                log_level=self.config["log-level"], cluster_name=self.config["cluster-name"]
            )
        except NotReadyError:
            return  # the peer relation's relation-created hook publishes
        except pydantic.ValidationError as e:
            self.unit.status = ops.BlockedStatus(f"invalid config: {e.error_count()} error(s)")

    def _on_shared_changed(self, event: LeaderConfigChangedEvent):
        logger.info("shared config changed: %s", ", ".join(sorted(event.changed)))
        cfg = self.shared.get()
        if cfg is not None:
            self.unit.status = ops.ActiveStatus(f"{cfg.cluster_name}: log-level={cfg.log_level}")

    def _on_get_shared(self, event: ops.ActionEvent):
        try:
            cfg = self.shared.get()
        except LeaderConfigError as e:
            event.fail(str(e))
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


if __name__ == "__main__":  # pragma: nocover
    ops.main(LeaderConfigTesterCharm)
