"""Rules a whole application relies on, checked on a simulated cluster of the tester charm.

The tester charm runs here without acknowledgements (`NoAckTesterCharm`): every
unit shows the config it applied, and no unit databag changes add deliveries to the
hook sequences these rules pin. Acknowledgements are covered by test_charm.py,
test_rollout.py and the demo.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, TypeVar

import ops
import pytest
import yaml
from ops import testing

from benchmarks.charms.tester_no_ack import NoAckTesterCharm
from charm import Shared
from charms.leader_config.v0.leader_config import LeaderConfigChangedEvent, NotLeaderError
from cluster import Cluster, ClusterError, HookRecord

CHARMCRAFT: dict[str, Any] = yaml.safe_load(
    (pathlib.Path(__file__).parents[2] / "charmcraft.yaml").read_text()
)
META = {k: v for k, v in CHARMCRAFT.items() if k not in ("config", "actions")}
CharmT = TypeVar("CharmT", bound=NoAckTesterCharm)
ALL_FIELDS = frozenset(Shared.model_fields)
DEFAULTS = {"log_level": "info", "cluster_name": "demo"}


def make_cluster(charm_type: type[CharmT]) -> Cluster[CharmT]:
    return Cluster(
        charm_type,
        META,
        config_meta=CHARMCRAFT["config"],
        actions=CHARMCRAFT["actions"],
    )


def options(app_data: dict[str, str]) -> dict[str, Any]:
    """The shared values of the two config options, decoded from the application databag."""
    return {key: json.loads(app_data[key]) for key in DEFAULTS if key in app_data}


def hooks_of(log: list[HookRecord], unit: int) -> list[str]:
    return [r.hook for r in log if r.unit == unit]


def events_by_hook(log: list[HookRecord], unit: int) -> list[tuple[str, frozenset[str]]]:
    return [(r.hook, c) for r in log if r.unit == unit and not r.failed for c in r.changed]


def test_deployment_in_juju_order_gives_every_unit_the_config_once():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(3)

    assert hooks_of(cluster.log, 0) == [
        "install",
        "relation-created",
        "leader-elected",
        "config-changed",
        "start",
        "cluster-relation-joined(1)",
        "cluster-relation-changed(1)",
        "cluster-relation-joined(2)",
        "cluster-relation-changed(2)",
    ]
    assert hooks_of(cluster.log, 2) == [
        "install",
        "relation-created",
        "config-changed",
        "start",
        "cluster-relation-joined(0)",
        "cluster-relation-changed(0)",
        "cluster-relation-joined(1)",
        "cluster-relation-changed(1)",
    ]
    assert options(cluster.app_data) == DEFAULTS
    for unit in (0, 1, 2):
        # Each unit sees the published config in its relation-created hook, and only once.
        assert events_by_hook(cluster.log, unit) == [("relation-created", ALL_FIELDS)]
        assert cluster.state(unit).unit_status == ops.ActiveStatus("demo: log-level=info")


def test_juju_unit_keys_are_left_alone():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(2)
    assert cluster.unit_data(0) == {
        "egress-subnets": "10.1.0.10",
        "ingress-address": "10.1.0.10",
        "private-address": "10.1.0.10",
    }
    assert cluster.unit_data(1)["ingress-address"] == "10.1.0.11"


@pytest.mark.parametrize("order", [[1, 2], [2, 1]])
def test_a_config_change_reaches_every_follower_with_one_event(order: list[int]):
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(3)
    start = len(cluster.log)

    cluster.configure({"log-level": "debug"})

    assert options(cluster.app_data) == {**DEFAULTS, "log_level": "debug"}
    assert events_by_hook(cluster.log[start:], 0) == [("config-changed", {"log_level"})]
    for unit in (1, 2):
        assert events_by_hook(cluster.log[start:], unit) == []
        assert cluster.pending(unit) == ["cluster-relation-changed(0)"]
    cluster.settle(order)
    for unit in (1, 2):
        assert events_by_hook(cluster.log[start:], unit) == [
            ("cluster-relation-changed(0)", {"log_level"})
        ]
        assert cluster.state(unit).unit_status == ops.ActiveStatus("demo: log-level=debug")
    assert [r.unit for r in cluster.log[start:] if "changed(" in r.hook] == order


def test_the_leader_gets_no_relation_changed_for_its_own_write():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(2)
    cluster.configure({"cluster-name": "prod"})
    assert cluster.pending(0) == []
    assert cluster.pending(1) == ["cluster-relation-changed(0)"]


def test_a_new_leader_writes_and_every_other_unit_follows():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(3)
    cluster.elect(1)
    start = len(cluster.log)

    cluster.configure({"cluster-name": "prod"}, order=[0])

    assert options(cluster.app_data) == {**DEFAULTS, "cluster_name": "prod"}
    cluster.settle()
    assert events_by_hook(cluster.log[start:], 1) == [("config-changed", {"cluster_name"})]
    for unit in (0, 2):
        assert events_by_hook(cluster.log[start:], unit) == [
            ("cluster-relation-changed(1)", {"cluster_name"})
        ]
        assert cluster.state(unit).unit_status == ops.ActiveStatus("prod: log-level=info")


def test_a_new_leader_emits_nothing_when_the_config_is_unchanged():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(3)
    record = cluster.elect(2)
    assert record is not None
    assert record.changed == ()
    assert options(cluster.app_data) == DEFAULTS


def test_a_unit_added_late_sees_the_current_config_with_one_event():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(2)
    cluster.configure({"log-level": "error", "cluster-name": "late"})
    cluster.settle()
    start = len(cluster.log)

    unit = cluster.add_unit()
    cluster.settle()

    assert unit == 2
    assert events_by_hook(cluster.log[start:], unit) == [("relation-created", ALL_FIELDS)]
    assert cluster.changed_events(unit) == [ALL_FIELDS]
    assert cluster.state(unit).unit_status == ops.ActiveStatus("late: log-level=error")
    for old in (0, 1):
        assert events_by_hook(cluster.log[start:], old) == []


def test_the_old_leaders_write_raises_not_leader_error_and_changes_nothing():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(3)
    cluster.elect(1)
    before = cluster.app_data
    raised: list[NotLeaderError] = []

    def write(charm: NoAckTesterCharm):
        try:
            charm.shared.update(log_level="debug")
        except NotLeaderError as e:
            raised.append(e)

    record = cluster.run(0, "update-status", prepare=write)

    assert not record.failed
    assert len(raised) == 1
    assert raised[0].relation_name == "cluster"
    assert record.changed == ()
    assert cluster.app_data == before
    assert not cluster.has_pending()


def test_the_old_leaders_set_shared_action_fails_and_changes_nothing():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(2)
    cluster.elect(1)
    before = cluster.app_data

    record = cluster.run(
        0, "set-shared-action", params={"values": json.dumps({"log_level": "debug"})}
    )

    assert not record.failed
    assert record.changed == ()
    assert cluster.app_data == before
    assert not cluster.has_pending()


def test_a_failed_hook_commits_nothing_and_its_retry_emits_again():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(2)

    cluster.config["log-level"] = "debug"
    failed = cluster.run(0, "config-changed", fail=True)

    assert failed.failed
    assert failed.changed == ({"log_level"},)
    assert options(cluster.app_data) == DEFAULTS
    assert not cluster.has_pending()
    assert cluster.changed_events(0) == [ALL_FIELDS]

    retried = cluster.run(0, "config-changed")
    assert retried.changed == ({"log_level"},)
    assert options(cluster.app_data) == {**DEFAULTS, "log_level": "debug"}
    assert cluster.changed_events(0) == [ALL_FIELDS, {"log_level"}]


class CrashingCharm(NoAckTesterCharm):
    """The tester charm, crashing at the end of config-changed when cluster-name is 'crash'."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(self.on.config_changed, self._crash)

    def _crash(self, _: ops.ConfigChangedEvent):
        if self.config["cluster-name"] == "crash":
            raise RuntimeError("crash after the write")


def test_a_hook_that_raises_loses_its_writes_and_stored_state():
    cluster = make_cluster(CrashingCharm)
    cluster.deploy(2)

    cluster.config["cluster-name"] = "crash"
    record = cluster.run(0, "config-changed")

    assert record.failed
    assert options(cluster.app_data) == DEFAULTS
    assert not cluster.has_pending()
    cluster.config["cluster-name"] = "fixed"
    assert cluster.run(0, "config-changed").changed == ({"cluster_name"},)


def test_a_failed_relation_changed_stays_queued_until_it_succeeds():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(2)
    cluster.configure({"log-level": "warning"})

    failed = cluster.deliver(1, fail=True)
    assert failed is not None
    assert failed.failed
    assert cluster.pending(1) == ["cluster-relation-changed(0)"]
    assert cluster.changed_events(1) == [ALL_FIELDS]

    cluster.settle()
    assert cluster.changed_events(1) == [ALL_FIELDS, {"log_level"}]


class DeferringCharm(NoAckTesterCharm):
    """The tester charm, deferring the changed event while `hold` is set."""

    hold = False

    def _on_shared_changed(self, event: LeaderConfigChangedEvent):
        if self.hold:
            event.defer()
            return
        super()._on_shared_changed(event)


def hold(charm: DeferringCharm):
    charm.hold = True


def test_a_deferred_changed_event_stays_with_its_unit_until_handled():
    cluster = make_cluster(DeferringCharm)
    cluster.deploy(2)
    cluster.configure({"log-level": "debug"})

    record = cluster.deliver(1, prepare=hold)

    assert record is not None
    assert record.changed == ({"log_level"},)

    assert len(cluster.deferred(1)) == 1
    assert cluster.deferred(0) == ()
    assert cluster.state(1).unit_status == ops.ActiveStatus("demo: log-level=info")
    cluster.run(1, "update-status")
    assert cluster.deferred(1) == ()
    assert cluster.state(1).unit_status == ops.ActiveStatus("demo: log-level=debug")


def test_removing_the_leader_moves_leadership_and_the_new_leader_writes():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(3)

    cluster.remove_unit(0)

    assert cluster.units == [1, 2]
    assert cluster.leader == 1
    assert "leader-elected" in hooks_of(cluster.log, 1)
    cluster.configure({"log-level": "error"})
    cluster.settle()
    assert cluster.changed_events(2)[-1] == {"log_level"}
    assert cluster.state(2).unit_status == ops.ActiveStatus("demo: log-level=error")


def test_asking_for_a_unit_that_is_gone_is_an_error():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(2)
    cluster.remove_unit(1)
    with pytest.raises(ClusterError, match="unit/1"):
        cluster.run(1, "update-status")


class BrokenFollower(NoAckTesterCharm):
    """Once broken, fails every peer relation-changed on a follower, as a buggy charm would."""

    broken = False

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(self.on["cluster"].relation_changed, self._break)

    def _break(self, _: ops.RelationChangedEvent) -> None:
        if self.broken and not self.unit.is_leader():
            raise RuntimeError("broken")


def test_settling_stops_with_an_error_when_a_hook_keeps_failing(
    monkeypatch: pytest.MonkeyPatch,
):
    cluster = make_cluster(BrokenFollower)
    cluster.deploy(2)
    monkeypatch.setattr(BrokenFollower, "broken", True)
    cluster.run(0, "update-status", prepare=lambda c: c.shared.update(log_level="debug"))
    with pytest.raises(ClusterError, match=r"on unit/1 failed 20 times in a row") as caught:
        cluster.settle()
    assert isinstance(caught.value.__cause__, testing.errors.UncaughtCharmError)


def test_a_planned_unit_runs_no_hook_and_counts_in_goal_state_until_it_joins():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(2)
    start = len(cluster.log)

    unit = cluster.add_unit(join=False)

    assert (cluster.units, cluster.planned) == ([0, 1], [unit])
    assert cluster.log[start:] == []
    assert cluster.state(0).planned_units == 3
    assert cluster.peers(0) == {1}
    assert cluster.goal_state() == {
        "leader-config-tester/0": "active",
        "leader-config-tester/1": "active",
        "leader-config-tester/2": "waiting",
    }
    with pytest.raises(ClusterError, match="unit/2 has not joined"):
        cluster.elect(unit)

    cluster.join_unit(unit)

    assert (cluster.units, cluster.planned) == ([0, 1, 2], [])
    assert hooks_of(cluster.log, unit) == [
        "install",
        "relation-created",
        "config-changed",
        "start",
        "cluster-relation-joined(0)",
        "cluster-relation-changed(0)",
        "cluster-relation-joined(1)",
        "cluster-relation-changed(1)",
    ]
    assert cluster.peers(0) == {1, 2}
    assert set(cluster.goal_state().values()) == {"active"}
    with pytest.raises(ClusterError, match="unit/2 has joined already"):
        cluster.join_unit(unit)


def test_a_planned_unit_removed_before_it_joined_goes_without_a_hook():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(2)
    unit = cluster.add_unit(join=False)
    start = len(cluster.log)

    cluster.remove_unit(unit)

    assert cluster.log[start:] == []
    assert (cluster.units, cluster.planned) == ([0, 1], [])
    assert cluster.state(0).planned_units == 2
    assert list(cluster.goal_state()) == ["leader-config-tester/0", "leader-config-tester/1"]


def test_a_unit_being_removed_stays_in_the_relation_but_is_no_longer_planned():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(3)

    cluster.begin_removal(2)  # remove-unit plus add-unit: the new unit is planned
    new = cluster.add_unit(join=False)

    assert cluster.dying == [2]
    assert cluster.state(0).planned_units == 3  # units 0, 1 and 3
    assert cluster.peers(0) == {1, 2}  # the relation still has unit 2, not unit 3
    assert cluster.goal_state() == {
        "leader-config-tester/0": "active",
        "leader-config-tester/1": "active",
        "leader-config-tester/2": "dying",
        "leader-config-tester/3": "waiting",
    }
    assert not cluster.run(2, "update-status").failed  # it still runs hooks

    cluster.remove_unit(2)
    cluster.join_unit(new)

    assert (cluster.units, cluster.dying, cluster.planned) == ([0, 1, 3], [], [])
    assert "cluster-relation-departed(2)" in hooks_of(cluster.log, 0)


def test_removing_a_dying_leader_elects_a_unit_that_stays():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(3)
    cluster.begin_removal(1)

    cluster.remove_unit(0)

    assert cluster.leader == 2


def test_during_a_hook_goal_state_names_every_unit_with_its_status():
    hookcmds = pytest.importorskip("ops.hookcmds")
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(2)
    cluster.begin_removal(1)
    cluster.add_unit(join=False)
    real = hookcmds.goal_state
    seen: list[Any] = []

    cluster.run(0, "update-status", prepare=lambda _: seen.append(hookcmds.goal_state()))

    (goal,) = seen
    assert isinstance(goal, hookcmds.GoalState)
    assert {name: g.status for name, g in goal.units.items()} == {
        "leader-config-tester/0": "active",
        "leader-config-tester/1": "dying",
        "leader-config-tester/2": "waiting",
    }
    assert goal.relations == {}
    assert cluster.goal_state_calls == 1
    assert hookcmds.goal_state is real  # put back after the hook


LABEL = "test-secret"


def secret_id(cluster: Cluster[Any]) -> str:
    (secret,) = [s for s in cluster.secrets if s.label == LABEL]
    return secret.id


def read(cluster: Cluster[Any], unit: int, *, refresh: bool = False, fail: bool = False) -> str:
    """What `unit`'s get_content() returns in a hook of its own."""
    words: list[str] = []

    def get(charm: ops.CharmBase):
        secret = charm.model.get_secret(id=secret_id(cluster))
        words.append(secret.get_content(refresh=refresh)["word"])

    cluster.run(unit, "update-status", prepare=get, fail=fail)
    (word,) = words
    return word


def set_word(cluster: Cluster[Any], word: str) -> None:
    def write(charm: ops.CharmBase):
        charm.model.get_secret(id=secret_id(cluster)).set_content({"word": word})

    cluster.run(0, "update-status", prepare=write)


def test_each_unit_reads_the_secret_revision_it_last_saw_until_it_refreshes():
    cluster = make_cluster(NoAckTesterCharm)
    cluster.deploy(3)

    def add(charm: ops.CharmBase):
        charm.app.add_secret({"word": "one"}, label=LABEL)

    cluster.run(0, "update-status", prepare=add)
    assert read(cluster, 1) == "one"

    set_word(cluster, "two")

    assert read(cluster, 1) == "one"  # the revision it last saw
    assert read(cluster, 2) == "two"  # its first read: the latest
    assert read(cluster, 1, refresh=True) == "two"
    assert read(cluster, 1) == "two"
    assert read(cluster, 0) == "one"  # the leader made it, and has not refreshed since
    set_word(cluster, "three")
    assert read(cluster, 2, refresh=True, fail=True) == "three"  # a failed hook keeps nothing
    assert read(cluster, 2) == "two"
    unit = cluster.add_unit()
    assert read(cluster, unit) == "three"
