"""Rolling upgrades from hand-written peer data to LeaderConfig, old and new units side by side.

Each test deploys the old revision (a charm that hand-writes its peer data, as
deployed charms do), upgrades one unit at a time, the leader first or last, and
checks after every step that every unit, old or new, reads the same values, that
nothing was regenerated, and in the end that no legacy copy is left.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import ops
import pydantic
import pytest

from charms.leader_config.v0.leader_config import LeaderConfig, LeaderConfigError, Legacy
from cluster import Cluster

META: dict[str, Any] = {"name": "app", "peers": {"cluster": {"interface": "app_cluster"}}}
GENERATED: list[str] = []  # every value the new revision's factories made


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:8]


# The old revision: hand-written peer data


class OldCharm(ops.CharmBase):
    """The old revision, which hand-writes its peer data.

    The leader keeps a generated password in an app secret whose id is under a raw
    key, a generated salt in plaintext, and JSON next to another library's raw key.
    """

    BY_LABEL: ClassVar[bool] = False

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        for event in (
            self.on.leader_elected,
            self.on.config_changed,
            self.on.upgrade_charm,
            self.on.update_status,
            self.on["cluster"].relation_changed,
            self.on["cluster"].relation_created,
        ):
            framework.observe(event, self._reconcile)

    def _reconcile(self, _: ops.EventBase) -> None:
        relation = self.model.get_relation("cluster")
        if relation is None:
            return
        data = relation.data[self.app]
        if self.unit.is_leader() and "admin-secret-id" not in data:
            secret = self.app.add_secret(
                {"password": secrets.token_hex(8)}, label="admin-password"
            )
            data.update(
                {
                    "admin-secret-id": str(secret.id),
                    "salt": secrets.token_hex(4),
                    "log_level": json.dumps("debug"),
                    "other-lib": "raw-value",
                }
            )
        if "admin-secret-id" not in data:
            self.unit.status = ops.WaitingStatus("no data yet")
            return
        secret = (
            self.model.get_secret(label="admin-password")
            if self.BY_LABEL
            else self.model.get_secret(id=data["admin-secret-id"])
        )
        password = secret.get_content(refresh=True)["password"]
        level = json.loads(data["log_level"])
        self.unit.status = ops.ActiveStatus(f"{_fingerprint(password)} {data['salt']} {level}")


class OldByLabel(OldCharm):
    BY_LABEL = True


# The new revision: LeaderConfig, adopting the old data


def _generated_password() -> pydantic.SecretStr:
    GENERATED.append("password")
    return pydantic.SecretStr(secrets.token_hex(8))


def _generated_salt() -> str:
    GENERATED.append("salt")
    return secrets.token_hex(4)


class Kept(pydantic.BaseModel):
    """`password` and `salt` keep their legacy names: content key and databag key."""

    password: pydantic.SecretStr = pydantic.Field(default_factory=_generated_password)
    salt: str = pydantic.Field(default_factory=_generated_salt)
    log_level: str = "info"


class NewCharm(ops.CharmBase):
    PREFIX: ClassVar[str] = ""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Kept, prefix=self.PREFIX, migrate=self._legacy)
        framework.observe(self.shared.on.changed, self._show)
        framework.observe(self.on.update_status, self._show)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        data = relation.data[self.app]
        if "admin-secret-id" not in data:
            return None
        secret = self.model.get_secret(id=data["admin-secret-id"])
        values = {
            "password": secret.get_content()["password"],
            "salt": data["salt"],
            "log_level": json.loads(data["log_level"]),
        }
        # `salt` and `log_level` are this object's own keys without a prefix.
        legacy_keys = [key for key in ("admin-secret-id", "salt", "log_level") if key in data]
        return Legacy(values, keys=legacy_keys, secret=secret)

    def _show(self, _: ops.EventBase) -> None:
        try:
            cfg = self.shared.get()
        except LeaderConfigError as e:
            self.unit.status = ops.WaitingStatus(type(e).__name__)
            return
        if cfg is not None:
            password = cfg.password.get_secret_value()
            self.unit.status = ops.ActiveStatus(
                f"{_fingerprint(password)} {cfg.salt} {cfg.log_level}"
            )


class NewPrefixed(NewCharm):
    PREFIX = "lc-"


def _statuses(cluster: Cluster[Any]) -> dict[int, str]:
    return {unit: _status(cluster, unit) for unit in cluster.units}


def _status(cluster: Cluster[Any], unit: int) -> str:
    status = cluster.state(unit).unit_status
    return f"{status.name}: {status.message}"


def _step(cluster: Cluster[Any], expected: str) -> None:
    """Settle, refresh every unit's status, and check that each shows `expected`."""
    cluster.settle()
    for unit in cluster.units:
        cluster.run(unit, "update-status")
    assert _statuses(cluster) == dict.fromkeys(cluster.units, expected)
    assert GENERATED == []


@pytest.fixture(autouse=True)
def _fresh() -> None:
    GENERATED.clear()


def _deploy(old: type[OldCharm]) -> tuple[Cluster[Any], str]:
    cluster: Cluster[Any] = Cluster(old, META)
    cluster.deploy(3)
    expected = _status(cluster, 0)
    assert expected.startswith("active: ")
    assert _statuses(cluster) == dict.fromkeys(cluster.units, expected)
    return cluster, expected


ORDERS = {"leader-first": [0, 1, 2], "leader-last": [1, 2, 0]}


@pytest.mark.modules
@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
@pytest.mark.parametrize("old", [OldCharm, OldByLabel], ids=["by-id", "by-label"])
def test_a_generated_password_in_a_legacy_secret_is_taken_over_never_regenerated(
    order: list[int], old: type[OldCharm]
):
    cluster, expected = _deploy(old)
    (legacy_secret,) = cluster.secrets
    for unit in order:
        cluster.upgrade(unit, NewPrefixed)
        _step(cluster, expected)
    data = cluster.app_data
    # One secret, the legacy one, taken over; old keys retired; the foreign key untouched.
    assert {s.id for s in cluster.secrets} == {legacy_secret.id}
    assert json.loads(data["lc-secret-id"]) == legacy_secret.id
    assert not {"admin-secret-id", "salt", "log_level"} & set(data)
    assert data["other-lib"] == "raw-value"
    assert json.loads(data["lc-salt"]) == expected.split()[2]


@pytest.mark.modules
@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_plaintext_under_the_schemas_own_keys_is_taken_over_once_every_unit_upgraded(
    order: list[int],
):
    cluster, expected = _deploy(OldCharm)
    salt = cluster.app_data["salt"]
    for step, unit in enumerate(order):
        cluster.upgrade(unit, NewCharm)
        _step(cluster, expected)
        if step < len(order) - 1:  # an old unit remains: its keys are left alone
            assert cluster.app_data["salt"] == salt
            assert "leader-config-revision" not in cluster.app_data
    data = cluster.app_data
    assert data["salt"] == json.dumps(salt)
    assert data["leader-config-revision"] == "1"
    assert "admin-secret-id" not in data
    assert data["other-lib"] == "raw-value"
    assert len(cluster.secrets) == 1


class NewMoreGenerated(NewCharm):
    """A schema with a generated value that the legacy data lacks."""

    def __init__(self, framework: ops.Framework):
        ops.CharmBase.__init__(self, framework)
        self.shared = LeaderConfig(self, "cluster", WithCookie, migrate=self._legacy)
        framework.observe(self.shared.on.changed, self._show)
        framework.observe(self.on.update_status, self._show)


def _generated_cookie() -> str:
    GENERATED.append("cookie")
    return secrets.token_hex(4)


class WithCookie(Kept):
    cookie: str = pydantic.Field(default_factory=_generated_cookie)


@pytest.mark.modules
def test_a_value_the_legacy_data_lacks_is_generated_once_at_the_takeover():
    cluster, _ = _deploy(OldCharm)
    cluster.upgrade(1, NewMoreGenerated)
    cluster.settle()
    cluster.run(1, "update-status")
    assert _status(cluster, 1) == "waiting: PendingFieldsError"
    cluster.upgrade(2, NewMoreGenerated)
    cluster.upgrade(0, NewMoreGenerated)
    cluster.settle()
    for unit in cluster.units:
        cluster.run(unit, "update-status")
    assert GENERATED == ["cookie"]
    statuses = _statuses(cluster)
    assert len(set(statuses.values())) == 1
    assert next(iter(statuses.values())).startswith("active: ")


class JsonOld(ops.CharmBase):
    """An old revision that hand-writes JSON per key, next to another library's keys."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(self.on.leader_elected, self._write)
        framework.observe(self.on.update_status, self._show)
        framework.observe(self.on["cluster"].relation_changed, self._show)

    def _write(self, _: ops.EventBase) -> None:
        relation = self.model.get_relation("cluster")
        if relation is not None and "members" not in relation.data[self.app]:
            relation.data[self.app].update(
                {"members": json.dumps(["a", "b"]), "mode": json.dumps("ha"), "lib-x": "{raw"}
            )

    def _show(self, _: ops.EventBase) -> None:
        relation = self.model.get_relation("cluster")
        data: Mapping[str, str] = relation.data[self.app] if relation is not None else {}
        if "members" in data:
            members, mode = json.loads(data["members"]), json.loads(data["mode"])
            self.unit.status = ops.ActiveStatus(f"{mode} {','.join(members)}")


class Topology(pydantic.BaseModel):
    members: list[str] = []
    mode: str = "single"


class JsonNew(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Topology)
        framework.observe(self.on.update_status, self._show)
        framework.observe(self.shared.on.changed, self._show)

    def _show(self, _: ops.EventBase) -> None:
        cfg = self.shared.get()
        if cfg is not None:
            self.unit.status = ops.ActiveStatus(f"{cfg.mode} {','.join(cfg.members)}")


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_hand_written_json_under_the_schemas_keys_is_read_as_published_foreign_keys_kept(
    order: list[int],
):
    cluster: Cluster[Any] = Cluster(JsonOld, META)
    cluster.deploy(3)
    foreign = cluster.app_data["lib-x"]
    for unit in order:
        cluster.upgrade(unit, JsonNew)
        cluster.settle()
        for each in cluster.units:
            cluster.run(each, "update-status")
        assert set(_statuses(cluster).values()) == {"active: ha a,b"}
    cluster.run(cluster.leader or 0, "update-status", prepare=_write_members(["a", "b", "c"]))
    cluster.settle()
    for each in cluster.units:
        cluster.run(each, "update-status")
    assert set(_statuses(cluster).values()) == {"active: ha a,b,c"}
    assert cluster.app_data["lib-x"] == foreign
    assert cluster.app_data["leader-config-revision"] == "1"


def _write_members(members: list[str]) -> Callable[[Any], None]:
    def write(charm: Any) -> None:
        charm.shared.update(members=members)

    return write


def test_old_units_keep_reading_json_the_new_leader_writes_in_the_same_format():
    cluster: Cluster[Any] = Cluster(JsonOld, META)
    cluster.deploy(3)
    cluster.upgrade(0, JsonNew)
    cluster.run(0, "update-status", prepare=_write_members(["x"]))
    cluster.settle()
    for unit in (1, 2):
        cluster.run(unit, "update-status")
        assert _status(cluster, unit) == "active: ha x"


class NewAcknowledging(NewCharm):
    """The new revision with acknowledgements: every unit acknowledges what it applied."""

    def __init__(self, framework: ops.Framework):
        ops.CharmBase.__init__(self, framework)
        self.shared = LeaderConfig(
            self, "cluster", Kept, prefix="lc-", migrate=self._legacy, acknowledge=True
        )
        framework.observe(self.shared.on.changed, self._on_changed)

    def _on_changed(self, _: ops.EventBase) -> None:
        self.shared.acknowledge()


@pytest.mark.modules
def test_after_an_adoption_every_unit_acknowledges_the_first_published_revision():
    cluster, _ = _deploy(OldCharm)
    for unit in (1, 2, 0):
        cluster.upgrade(unit, NewAcknowledging)
        cluster.settle()
    seen: list[Any] = []
    cluster.run(0, "update-status", prepare=lambda charm: seen.append(charm.shared.rollout()))
    (rollout,) = seen
    assert rollout.revision == 1
    assert rollout.complete
    assert GENERATED == []
