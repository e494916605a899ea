"""Run the tester charm as a simulated application and print what happens, hook by hook.

`tox -e demo` runs this: three units deploy, the leader's config changes, the leader
rotates the admin password, leadership moves and the new leader writes, a fourth unit
joins late, and a follower's write is refused. Each hook prints one line (the unit, the
hook, the changed events with their field names, the unit's status); each step ends
with the application databag and the secret's content keys (values masked). The run
exits 1 if any unit ends with a view of the shared config that differs from the leader's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from charm import LeaderConfigTesterCharm, Shared
from charms.leader_config.v0.leader_config import NotLeaderError
from cluster import Cluster, HookRecord

CHARMCRAFT = yaml.safe_load((Path(__file__).parents[1] / "charmcraft.yaml").read_text())


def _print_hook(record: HookRecord) -> None:
    events = " ".join("{" + ", ".join(sorted(c)) + "}" for c in record.changed)
    changed = f"changed {events}" if events else "no change"
    outcome = f"  FAILED: {record.error}" if record.failed else ""
    print(f"  unit/{record.unit:<2} {record.hook:<31} {changed:<58} {record.status}{outcome}")


def _step(title: str) -> None:
    print(f"\n== {title}")


def _show_data(cluster: Cluster[LeaderConfigTesterCharm]) -> None:
    print("  app databag:")
    for key, value in sorted(cluster.app_data.items()):
        print(f"    {key} = {value}")
    for secret in cluster.secrets:
        keys = ", ".join(f"{key}=****" for key in sorted(secret.latest_content))
        print(f"  secret {secret.label}: {keys}")


def _view(cluster: Cluster[LeaderConfigTesterCharm], unit: int) -> Shared | None:
    seen: list[Shared | None] = []
    cluster.run(unit, "update-status", prepare=lambda charm: seen.append(charm.shared.get()))
    return seen[0]


def main() -> int:
    """Run the story; return 0 if every unit ends with the leader's view, else 1."""
    cluster = Cluster(
        LeaderConfigTesterCharm,
        {key: CHARMCRAFT[key] for key in ("name", "peers")},
        config_meta=CHARMCRAFT["config"],
        actions=CHARMCRAFT["actions"],
        on_hook=_print_hook,
    )
    _step("deploy 3 units (unit/0 leads)")
    cluster.deploy(3)
    _show_data(cluster)

    _step("juju config log-level=debug: the leader publishes, followers hear of it")
    cluster.configure({"log-level": "debug"})
    cluster.settle()
    _show_data(cluster)

    _step("juju run leader-config-tester/0 rotate-password")
    cluster.run(0, "rotate-password-action")
    cluster.settle()
    _show_data(cluster)

    _step("leadership moves to unit/1, which sets cluster-name=prod")
    cluster.elect(1)
    cluster.configure({"cluster-name": "prod"})
    cluster.settle()
    _show_data(cluster)

    _step("juju add-unit: unit/3 joins late")
    cluster.add_unit()
    cluster.settle()

    _step("unit/2 (a follower) tries to write")

    def follower_write(charm: LeaderConfigTesterCharm) -> None:
        try:
            charm.shared.update(log_level="error")
        except NotLeaderError as e:
            print(f"  refused: {e}")

    cluster.run(2, "update-status", prepare=follower_write)
    _show_data(cluster)

    _step("every unit's view")
    views = {unit: _view(cluster, unit) for unit in cluster.units}
    for unit, view in views.items():
        role = "leader" if unit == cluster.leader else "follower"
        shown = "nothing" if view is None else view.model_dump_json()
        print(f"  unit/{unit} ({role}): {shown}")
    published = views.get(cluster.leader) if cluster.leader is not None else None
    differ = [unit for unit, view in views.items() if published is None or view != published]
    if differ:
        print(f"\nFAILED: units {differ} do not see the leader's config")
        return 1
    print(f"\nOK: all {len(views)} units see the leader's config")
    return 0


if __name__ == "__main__":
    sys.exit(main())
