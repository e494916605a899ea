"""Run the tester charm as a simulated application and print what happens, hook by hook.

`tox -e demo` runs this. Part 1: three units deploy; the leader's config changes and
the revision rolls out to every unit; the leader rotates the admin password;
leadership moves and the new leader writes; a fourth unit joins late (pending until
it acknowledges); a follower's write is refused. Part 2: an application of the old
revision, which hand-writes its peer data, is refreshed unit by unit to a revision
that adopts it with `LeaderConfig(..., migrate=...)`: the generated admin password is
kept and the legacy keys are retired at the end.

Each hook prints one line (the unit, the hook, the changed events with their field
names, the unit's status); steps end with the application databag and the secret's
content keys (values masked). The run exits 1 if any unit ends with a view that
differs from the leader's, or if the upgrade lost the password or left legacy keys.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sys
from pathlib import Path
from typing import Any

import ops
import yaml

from charm import LeaderConfigTesterCharm, Shared
from charms.leader_config.v0.leader_config import LeaderConfig, Legacy, NotLeaderError
from cluster import Cluster, HookRecord

CHARMCRAFT = yaml.safe_load((Path(__file__).parents[1] / "charmcraft.yaml").read_text())
APP = CHARMCRAFT["name"]

LEGEND = """\
How to read this
  Each hook prints one line: the unit, the hook, the `changed` events the library
  emitted (the names of the fields whose value changed; {} for a new revision with
  the same values), and the unit's status after the hook. A follower's status shows
  the config it applied and its revision; the leader's shows how many units have
  acknowledged the latest revision ("rolled out revision N to k/n units").
  The app databag never holds the admin password: under `admin_password` it holds a
  random token that changes whenever the password does (never derived from it), and
  `secret-id` names the Juju secret that holds the value. Secret contents print as
  ****; passwords are shown only as a short fingerprint (sha256, 8 hex digits).
  Each step names the Juju command it models: `juju deploy`, `juju config`,
  `juju run` (an action), `juju add-unit`, `juju refresh` (an upgrade).
  One failure is deliberate: in "unit/2 (a follower) tries to write", a follower
  calls update(); the library refuses with NotLeaderError, as Juju would refuse a
  non-leader's write to the application databag. Nothing else should fail.
"""


class Printer:
    """Prints each hook as it runs, unless `quiet` (for the demo's own probes)."""

    def __init__(self) -> None:
        self.quiet = False

    def __call__(self, record: HookRecord) -> None:
        """Print one line for the hook."""
        if self.quiet:
            return
        events = " ".join("{" + ", ".join(sorted(c)) + "}" for c in record.changed)
        changed = f"changed {events}" if events else "no change"
        outcome = f"  FAILED: {record.error}" if record.failed else ""
        print(f"  unit/{record.unit:<2} {record.hook:<31} {changed:<51} {record.status}{outcome}")


def _step(title: str) -> None:
    print(f"\n== {title}")


def _show_data(cluster: Cluster[Any]) -> None:
    print("  app databag:")
    for key, value in sorted(cluster.app_data.items()):
        print(f"    {key} = {value}")
    for secret in cluster.secrets:
        keys = ", ".join(f"{key}=****" for key in sorted(secret.latest_content))
        print(f"  secret {secret.label or secret.id}: {keys}")


def _probe(cluster: Cluster[Any], printer: Printer, unit: int, read: Any) -> Any:
    """Run update-status on `unit`, quietly, and return what `read(charm)` returned."""
    seen: list[Any] = []
    printer.quiet = True
    try:
        cluster.run(unit, "update-status", prepare=lambda charm: seen.append(read(charm)))
    finally:
        printer.quiet = False
    return seen[0]


def _action(cluster: Cluster[Any], printer: Printer, unit: int, name: str) -> dict[str, Any]:
    """Run an action on `unit` quietly; return its results."""
    results: dict[str, Any] = {}

    def capture(charm: ops.CharmBase) -> None:
        original = charm.framework.model._backend.action_set  # pyright: ignore[reportPrivateUsage]

        def action_set(values: dict[str, Any]) -> None:
            results.update(values)
            original(values)

        charm.framework.model._backend.action_set = action_set  # pyright: ignore[reportPrivateUsage, reportAttributeAccessIssue]

    printer.quiet = True
    try:
        cluster.run(unit, f"{name}-action", prepare=capture)
    finally:
        printer.quiet = False
    return results


def _rollout(cluster: Cluster[Any], printer: Printer, unit: int) -> str:
    results = _action(cluster, printer, unit, "show-rollout")
    units = {key: len(json.loads(results[key])) for key in ("applied", "pending")}
    return (
        f"revision {results['revision']}, applied by {units['applied']} units,"
        f" pending on {units['pending']}, complete: {results['complete']}"
    )


def _shared_view(charm: LeaderConfigTesterCharm) -> Shared | None:
    return charm.shared.get()


def _fingerprint(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()[:8]


# Part 1: the tester charm


def tester_story(printer: Printer) -> bool:
    """Deploy, configure, rotate, move leadership, add a unit; True if every view agrees."""
    cluster = Cluster(
        LeaderConfigTesterCharm,
        {key: CHARMCRAFT[key] for key in ("name", "peers")},
        config_meta=CHARMCRAFT["config"],
        actions=CHARMCRAFT["actions"],
        on_hook=printer,
    )
    _step(f"juju deploy {APP} -n 3 (unit/0 leads)")
    cluster.deploy(3)
    _show_data(cluster)

    _step(
        f"juju config {APP} log-level=debug: the leader publishes revision 2;"
        " each follower applies and acknowledges it"
    )
    cluster.configure({"log-level": "debug"})
    cluster.settle()
    _show_data(cluster)
    print(f"  juju run {APP}/0 show-rollout: {_rollout(cluster, printer, 0)}")

    _step(f"juju run {APP}/0 rotate-password")
    cluster.run(0, "rotate-password-action")
    cluster.settle()
    _show_data(cluster)

    _step(f"leadership moves to unit/1; juju config {APP} cluster-name=prod")
    cluster.elect(1)
    cluster.configure({"cluster-name": "prod"})
    cluster.settle()
    _show_data(cluster)

    _step(
        f"juju add-unit {APP}: unit/3 joins late; the leader counts it pending from its"
        " relation-joined until unit/3's acknowledgement arrives"
    )
    cluster.add_unit()
    cluster.settle()
    print(f"  juju run {APP}/1 show-rollout: {_rollout(cluster, printer, 1)}")

    _step("unit/2 (a follower) tries to write: the demo's deliberate failure")

    def follower_write(charm: LeaderConfigTesterCharm) -> None:
        try:
            charm.shared.update(log_level="error")
        except NotLeaderError as e:
            print(f"  refused, as intended: {e}")

    cluster.run(2, "update-status", prepare=follower_write)
    _show_data(cluster)

    _step("every unit's view")
    views: dict[int, Shared | None] = {
        unit: _probe(cluster, printer, unit, _shared_view) for unit in cluster.units
    }
    for unit, view in views.items():
        role = "leader" if unit == cluster.leader else "follower"
        shown = "nothing" if view is None else view.model_dump_json()
        print(f"  unit/{unit} ({role}): {shown}")
    published = views.get(cluster.leader) if cluster.leader is not None else None
    differ = [unit for unit, view in views.items() if published is None or view != published]
    if differ:
        print(f"\nFAILED: units {differ} do not see the leader's config")
        return False
    print(f"\nOK: all {len(views)} units see the leader's config")
    return True


# Part 2: from hand-written peer data to the library, by `juju refresh`

LEGACY_KEYS = ("log-level", "cluster-name", "admin-secret-id")


class HandWrittenTesterCharm(ops.CharmBase):
    """The tester charm's old revision: it writes its peer data by hand.

    The leader copies `log-level` and `cluster-name` as plain strings into the peer
    app databag and keeps a generated admin password in an app secret whose id is
    under `admin-secret-id`. Every unit shows the two values in its status.
    """

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(self.on.install, self._on_install)
        for event in (
            self.on.leader_elected,
            self.on.config_changed,
            self.on.update_status,
            self.on["cluster"].relation_created,
            self.on["cluster"].relation_changed,
        ):
            framework.observe(event, self._reconcile)

    def _on_install(self, _: ops.InstallEvent) -> None:
        self.unit.status = ops.WaitingStatus("waiting for the leader to share config")

    def _reconcile(self, _: ops.EventBase) -> None:
        relation = self.model.get_relation("cluster")
        if relation is None:
            return
        data = relation.data[self.app]
        if self.unit.is_leader():
            wanted = {
                "log-level": str(self.config["log-level"]),
                "cluster-name": str(self.config["cluster-name"]),
            }
            if "admin-secret-id" not in data:
                secret = self.app.add_secret(
                    {"admin-password": secrets.token_urlsafe(24)}, label="tester-admin"
                )
                wanted["admin-secret-id"] = str(secret.id)
            data.update(wanted)
        if "admin-secret-id" not in data:
            self.unit.status = ops.WaitingStatus("waiting for the leader to share config")
            return
        self.unit.status = ops.ActiveStatus(
            f"{data['cluster-name']}: log-level={data['log-level']}"
        )

    def admin_password(self) -> str:
        """The admin password, read as this revision reads it."""
        relation = self.model.get_relation("cluster")
        if relation is None:
            raise RuntimeError("no peer relation yet")
        secret = self.model.get_secret(id=relation.data[self.app]["admin-secret-id"])
        return secret.get_content(refresh=True)["admin-password"]


class AdoptingTesterCharm(LeaderConfigTesterCharm):
    """The tester charm, refreshed over the old revision: it adopts the hand-written data."""

    def _shared_config(self) -> LeaderConfig[Shared]:
        return LeaderConfig(self, "cluster", Shared, acknowledge=True, migrate=self._legacy)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        data = relation.data[self.app]
        if "admin-secret-id" not in data:
            return None
        secret = self.model.get_secret(id=data["admin-secret-id"])
        values = {
            "log_level": data["log-level"],
            "cluster_name": data["cluster-name"],
            # Same content key as the field's: the library takes the secret over.
            "admin_password": secret.get_content()["admin-password"],
        }
        return Legacy(values, keys=LEGACY_KEYS, secret=secret)


def _password(charm: ops.CharmBase) -> str:
    if isinstance(charm, HandWrittenTesterCharm):
        return charm.admin_password()
    cfg = charm.shared.get() if isinstance(charm, LeaderConfigTesterCharm) else None
    if cfg is None:
        raise RuntimeError(f"{charm.unit.name} has no admin password to show")
    return cfg.admin_password.get_secret_value()


def _show_passwords(cluster: Cluster[Any], printer: Printer) -> set[str]:
    seen = {
        unit: _fingerprint(_probe(cluster, printer, unit, _password)) for unit in cluster.units
    }
    print(
        "  admin password fingerprint, as each unit reads it: "
        + ", ".join(f"unit/{unit} {fingerprint}" for unit, fingerprint in seen.items())
    )
    return set(seen.values())


def upgrade_story(printer: Printer) -> bool:
    """Refresh a hand-written application to the library; True if nothing was lost."""
    cluster: Cluster[Any] = Cluster(
        HandWrittenTesterCharm,
        {key: CHARMCRAFT[key] for key in ("name", "peers")},
        config={"log-level": "warning"},
        config_meta=CHARMCRAFT["config"],
        actions=CHARMCRAFT["actions"],
        on_hook=printer,
    )
    _step(f"juju deploy {APP} --revision <old> -n 3: the old revision writes peer data by hand")
    cluster.deploy(3)
    _show_data(cluster)
    before = _show_passwords(cluster, printer)

    for unit in (1, 2, 0):
        role = "the leader" if unit == cluster.leader else "a follower"
        _step(f"juju refresh {APP}: unit/{unit} ({role}) runs the revision that adopts the data")
        cluster.upgrade(unit, AdoptingTesterCharm)
        cluster.settle()
        _show_data(cluster)
        after = _show_passwords(cluster, printer)
        if after != before:
            print("\nFAILED: the admin password changed")
            return False

    left = sorted(set(LEGACY_KEYS) & cluster.app_data.keys())
    if left:
        print(f"\nFAILED: legacy keys left: {', '.join(left)}")
        return False
    print("\nOK: every unit runs the new revision; same password; legacy keys retired")
    return True


def main() -> int:
    """Run both stories; return 0 if each ended as it should, else 1."""
    print(LEGEND)
    printer = Printer()
    print("Part 1: the tester charm")
    ok = tester_story(printer)
    print("\nPart 2: refreshing an application whose old revision wrote its peer data by hand")
    ok = upgrade_story(printer) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
