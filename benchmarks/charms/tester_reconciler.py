#!/usr/bin/env python3
"""The tester charm's job without acknowledgements, written as a reconciler.

As the README recommends for reconcilers: one `_reconcile` for every hook that the
hand-written baseline (`baseline_pydantic.py`) handles (`install`, `leader-elected`,
`config-changed`, the peer relation's `relation-created` and `relation-changed`),
which on the leader writes `log-level` and `cluster-name` with `update()`, then on
every unit applies what `get()` returns (as the actions that write do): it shows
`<cluster-name>: log-level=<level>` in its status, logging a line and setting the
status only when the text changes. It observes nothing of the library's. The actions
behave as the tester charm's do.
"""

from __future__ import annotations

import json
import logging

import ops
import pydantic

from charm import WAITING, Shared, generate_password
from charms.leader_config.v0.leader_config import (
    LeaderConfig,
    LeaderConfigError,
    NotLeaderError,
)

logger = logging.getLogger(__name__)

PEER = "cluster"


class ReconcilerTesterCharm(ops.CharmBase):
    """Reconciles the shared config in every hook the job needs; observes no library event."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(status="")
        self.shared = LeaderConfig(self, PEER, Shared)
        for event in (
            self.on.install,
            self.on.leader_elected,
            self.on.config_changed,
            self.on[PEER].relation_created,
            self.on[PEER].relation_changed,
        ):
            framework.observe(event, self._reconcile)
        framework.observe(self.on.get_shared_action, self._on_get_shared)
        framework.observe(self.on.set_shared_action, self._on_set_shared)
        framework.observe(self.on.rotate_password_action, self._on_rotate_password)

    def _show(self, status: ops.StatusBase) -> None:
        """Set this unit's status, logging it, unless it already shows it."""
        shown = f"{status.name}: {status.message}"
        if shown != self._stored.status:
            if isinstance(status, ops.ActiveStatus):
                logger.info("applied the shared config: %s", status.message)
            self.unit.status = status
            self._stored.status = shown

    def _reconcile(self, _: ops.EventBase) -> None:
        if self.unit.is_leader() and self.model.get_relation(PEER):
            try:
                self.shared.update(
                    log_level=self.config["log-level"], cluster_name=self.config["cluster-name"]
                )
            except pydantic.ValidationError as e:
                self._show(ops.BlockedStatus(f"invalid config: {e.error_count()} error(s)"))
                return
        self._apply()

    def _apply(self) -> None:
        """Apply the shared config (this charm shows it in its status)."""
        try:
            cfg = self.shared.get()
        except LeaderConfigError as e:
            logger.warning("cannot apply the shared config: %s", e)
            self._show(ops.WaitingStatus(f"cannot read the shared config: {type(e).__name__}"))
            return
        if cfg is None:  # nothing shared, or no peer relation yet
            self._show(ops.WaitingStatus(WAITING))
            return
        # Here a workload would get cfg.admin_password along with the other values.
        self._show(ops.ActiveStatus(f"{cfg.cluster_name}: log-level={cfg.log_level}"))

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
            return
        except (LeaderConfigError, ValueError) as e:
            event.fail(str(e))
            return
        self._apply()

    def _on_rotate_password(self, event: ops.ActionEvent):
        try:
            self.shared.update(admin_password=generate_password())
        except NotLeaderError:
            event.fail("only the leader can rotate the password; run this on the leader")
        except LeaderConfigError as e:
            event.fail(str(e))
        else:
            self._apply()
            event.set_results({"rotated": "true"})


if __name__ == "__main__":  # pragma: nocover
    ops.main(ReconcilerTesterCharm)
