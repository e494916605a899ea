"""Rules for every schema a charm writes and every failure Juju returns.

Each test is named after the rule it pins; most drive the charm through hooks and
chain units by feeding the leader's output state to followers.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any, Literal

import ops
import pydantic
import pytest
from ops import testing
from rich import (
    Endpoint,
    Inventory,
    Mode,
    StrictSettings,
    Topology,
    WithComputed,
    sample_inventory,
    sample_topology,
)

from charms.leader_config.v0.leader_config import (
    Codec,
    LeaderConfig,
    LeaderConfigChangedEvent,
    LeaderConfigError,
    NotLeaderError,
    PendingFieldsError,
    SecretUnavailableError,
)
from charms.leader_config.v0.testing import config_from_state, follower_state, published_state
from conftest import META, app_data, counting_relation_sets, peer, peer_of

REVISION = "leader-config-revision"
GENERATED: list[str] = []


def generate_password() -> pydantic.SecretStr:
    GENERATED.append("generated")
    return pydantic.SecretStr(f"generated-{len(GENERATED)}")


@pytest.fixture(autouse=True)
def _fresh_factory() -> Generator[None, None, None]:
    GENERATED.clear()
    yield
    GENERATED.clear()


class Charm(ops.CharmBase):
    """A charm with one LeaderConfig; `charm_with` sets its schema and options."""

    schema: type[pydantic.BaseModel] = Endpoint
    prefix = ""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", self.schema, prefix=self.prefix)


def charm_with(schema: type[pydantic.BaseModel], prefix: str = "") -> type[Charm]:
    # One class name for every revision: ops keys stored state by it.
    return type("Charm", (Charm,), {"schema": schema, "prefix": prefix})


def run(
    charm: type[Charm],
    state: testing.State,
    do: Callable[[Charm], None] | None = None,
    *,
    event: str = "update_status",
    unit_id: int | None = None,
) -> tuple[testing.State, list[frozenset[str]]]:
    """Run one hook (calling `do` with the charm first); return the state and changed events."""
    unit = unit_id if unit_id is not None else (0 if state.leader else 1)
    ctx = testing.Context(charm, meta=META, unit_id=unit, juju_version="3.6.4")
    if event == "relation_changed":
        trigger = ctx.on.relation_changed(peer_of(state), remote_unit=0 if unit else 1)
    else:
        trigger = getattr(ctx.on, event)()
    with ctx(trigger, state) as mgr:
        if do is not None:
            do(mgr.charm)
        out = mgr.run()
    return out, [e.changed for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)]


def leader_state(data: dict[str, str] | None = None) -> testing.State:
    return testing.State(leader=True, relations={peer(data or {})})


def construction_error(charm: type[ops.CharmBase], error: type[Exception]) -> str:
    """The message of the error that constructing `charm` raises, which must be `error`."""
    ctx = testing.Context(charm, meta=META, juju_version="3.6.4")
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        ctx.run(ctx.on.update_status(), leader_state())
    assert isinstance(caught.value.__cause__, error)
    return str(caught.value.__cause__)


def read(charm: type[Charm], state: testing.State) -> Any:
    seen: list[Any] = []
    run(charm, state, lambda c: seen.append(c.shared.get()))
    return seen[0]


# 1. Secrets anywhere but a top-level SecretStr field: refused, never masked


class NestedSecret(pydantic.BaseModel):
    password: pydantic.SecretStr = pydantic.SecretStr("x")


class InNestedModel(pydantic.BaseModel):
    db: NestedSecret = NestedSecret()


class InList(pydantic.BaseModel):
    keys: list[pydantic.SecretStr] = []


class InDict(pydantic.BaseModel):
    keys: dict[str, pydantic.SecretStr] = {}


class AsBytes(pydantic.BaseModel):
    key: pydantic.SecretBytes = pydantic.SecretBytes(b"x")


class InOptionalList(pydantic.BaseModel):
    keys: list[pydantic.SecretStr] | None = None


@pytest.mark.parametrize(
    ("schema", "field", "kind"),
    [
        (InNestedModel, "db", "SecretStr"),
        (InList, "keys", "SecretStr"),
        (InDict, "keys", "SecretStr"),
        (AsBytes, "key", "SecretBytes"),
        (InOptionalList, "keys", "SecretStr"),
    ],
    ids=["nested-model", "list", "dict", "secret-bytes", "optional-list"],
)
def test_a_secret_value_anywhere_but_a_top_level_secret_str_field_is_refused_naming_it(
    schema: type[pydantic.BaseModel], field: str, kind: str
):
    message = construction_error(charm_with(schema), ValueError)
    assert f"{schema.__name__}.{field}" in message
    assert kind in message
    assert "SecretStr | None" in message  # the supported shapes


GENERIC_SECRET: Any = getattr(pydantic, "Secret", None)  # new in pydantic 2.7


@pytest.mark.skipif(GENERIC_SECRET is None, reason="pydantic.Secret is new in 2.7")
@pytest.mark.parametrize("shape", ["bare", "optional", "in-list"])
def test_a_generic_secret_anywhere_is_refused_naming_the_field(shape: str):
    # `pydantic.Secret[str]` is a generic alias, not a class; it masks its value all the same.
    annotation: Any = {
        "bare": GENERIC_SECRET[str],
        "optional": GENERIC_SECRET[str] | None,
        "in-list": list[GENERIC_SECRET[int]],
    }[shape]
    schema = pydantic.create_model("Generic", key=(annotation, None))
    message = construction_error(charm_with(schema), ValueError)
    assert "Generic.key: a Secret here would reach the databag masked" in message


def test_a_model_without_secrets_nested_anywhere_is_accepted():
    out, _ = run(charm_with(Topology), leader_state(), lambda c: c.shared.update())
    assert REVISION in app_data(out)


# 2. Removing a secret field keeps its value for units on the old revision


def _secret(n: int) -> pydantic.SecretStr:
    return pydantic.SecretStr(f"value-{n}")


class TwoSecrets(pydantic.BaseModel):
    api_key: pydantic.SecretStr = _secret(1)
    db_password: pydantic.SecretStr = _secret(2)


class OneSecret(pydantic.BaseModel):
    api_key: pydantic.SecretStr = _secret(1)


def test_removing_a_secret_field_keeps_its_value_for_units_still_on_the_old_revision():
    old, new = charm_with(TwoSecrets), charm_with(OneSecret)
    published, _ = run(old, leader_state(), event="leader_elected")
    rotated, _ = run(new, published, lambda c: c.shared.update(api_key=_secret(3)))
    state = follower_state(rotated, "cluster")
    cfg = read(old, state)
    assert cfg == TwoSecrets(api_key=_secret(3), db_password=_secret(2))
    _, events = run(old, state, event="relation_changed")
    assert events == [frozenset({"api_key", "db_password"})]  # its first view


# 3. Strict models read back what they wrote


def test_a_strict_model_reads_back_what_it_wrote_on_every_unit():
    charm = charm_with(StrictSettings)
    since = datetime.datetime(2027, 5, 1, 12, 30, tzinfo=datetime.timezone.utc)

    def write(c: Charm) -> None:
        c.shared.update(mode=Mode.STANDBY, window=(2, 9), since=since)
        c.shared.update(labels=frozenset({"z", "y"}), endpoint=Endpoint(port=1))

    out, events = run(charm, leader_state(), write)
    expected = StrictSettings(
        mode=Mode.STANDBY,
        window=(2, 9),
        since=since,
        labels=frozenset({"y", "z"}),
        endpoint=Endpoint(port=1),
    )
    assert events == [frozenset(StrictSettings.model_fields)]
    assert read(charm, out) == expected
    assert read(charm, follower_state(out, "cluster")) == expected


def test_a_strict_model_refuses_a_value_of_another_python_type():
    out, _ = run(charm_with(StrictSettings), leader_state(), event="leader_elected")
    with pytest.raises(pydantic.ValidationError):
        run(charm_with(StrictSettings), out, lambda c: c.shared.update(window=[1, 5]))


class Member(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True)  # hashable, so a set can hold it

    host: str
    port: int = 5432

    def __hash__(self) -> int:  # what `frozen` gives, spelled out for the type checker
        return hash((self.host, self.port))


class Fleet(pydantic.BaseModel):
    members: frozenset[Member] = frozenset()
    mode: str = "single"


def test_a_set_of_models_takes_every_kind_of_write_and_reads_back_on_every_unit():
    charm = charm_with(Fleet)
    a, b, c = Member(host="a"), Member(host="b"), Member(host="c", port=1)

    def writes(charm: Charm) -> None:
        charm.shared.update(members=frozenset({b, a}))
        charm.shared.update(mode="ha")  # a write of another field validates the set again
        charm.shared.set(Fleet(members=frozenset({a, b}), mode="ha"))
        with charm.shared.edit() as cfg:
            assert isinstance(cfg, Fleet)
            cfg.members = cfg.members | {c}

    out, _ = run(charm, leader_state(), writes)
    hosts = [member["host"] for member in json.loads(app_data(out)["members"])]
    assert hosts == ["a", "b", "c"]
    expected = Fleet(members=frozenset({a, b, c}), mode="ha")
    assert read(charm, out) == expected
    assert read(charm, follower_state(out, "cluster")) == expected


@dataclasses.dataclass
class Window:
    low: int = 1
    high: int = 5


class StrictWithDataclass(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(strict=True)

    window: Window = dataclasses.field(default_factory=Window)
    replicas: int = 1


def test_a_strict_model_with_a_dataclass_field_takes_writes_to_its_other_fields():
    charm = charm_with(StrictWithDataclass)

    def writes(charm: Charm) -> None:
        charm.shared.update(replicas=2)
        charm.shared.set(StrictWithDataclass(window=Window(2, 9), replicas=2))
        with charm.shared.edit() as cfg:
            assert isinstance(cfg, StrictWithDataclass)
            cfg.replicas = 3

    out, _ = run(charm, leader_state(), writes)
    expected = StrictWithDataclass(window=Window(2, 9), replicas=3)
    assert read(charm, follower_state(out, "cluster")) == expected
    with pytest.raises(pydantic.ValidationError, match="replicas"):
        run(charm, out, lambda c: c.shared.update(replicas="4"))


# 4. extra="forbid" with computed fields: every write, not just the first


def test_computed_fields_are_not_stored_and_extra_forbid_survives_every_write():
    charm = charm_with(WithComputed)

    def writes(c: Charm) -> None:
        c.shared.update(name="a")
        c.shared.update(name="b")
        c.shared.set(WithComputed(name="c"))
        with c.shared.edit() as cfg:
            assert isinstance(cfg, WithComputed)
            cfg.inner.size = 4

    out, _ = run(charm, leader_state(), writes)
    assert set(app_data(out)) == {"name", "inner", REVISION}
    assert json.loads(app_data(out)["inner"]) == {"size": 4}
    assert read(charm, follower_state(out, "cluster")) == WithComputed(
        name="c", inner=WithComputed.Inner(size=4)
    )


def test_an_edit_that_breaks_a_nested_model_is_refused_before_anything_is_written():
    charm = charm_with(Topology)
    out, _ = run(charm, leader_state(), event="leader_elected")

    def bad_edit(c: Charm) -> None:
        with pytest.raises(pydantic.ValidationError) as caught, c.shared.edit() as cfg:  # noqa: PT012
            assert isinstance(cfg, Topology)
            cfg.primary.port = "not a port"  # pyright: ignore[reportAttributeAccessIssue]
        # pydantic's error, at the nested field, as for a value passed to update()
        assert [error["loc"] for error in caught.value.errors()] == [("primary", "port")]
        assert "databag" not in str(caught.value)

    again, _ = run(charm, out, bad_edit)
    assert app_data(again) == app_data(out)


def test_a_nested_model_changed_after_it_was_validated_is_refused_with_pydantics_error():
    charm = charm_with(Topology)
    out, _ = run(charm, leader_state(), event="leader_elected")

    def bad_update(c: Charm) -> None:
        primary = Topology().primary
        primary.port = "not a port"  # pyright: ignore[reportAttributeAccessIssue]
        with pytest.raises(pydantic.ValidationError) as caught:
            c.shared.update(primary=primary)
        assert [error["loc"] for error in caught.value.errors()] == [("primary", "port")]

    again, _ = run(charm, out, bad_update)
    assert app_data(again) == app_data(out)


# 5. Errors from secret hook tools, and Juju's size limits


class Secrets(pydantic.BaseModel):
    admin_password: pydantic.SecretStr = pydantic.Field(default_factory=generate_password)
    token: pydantic.SecretStr | None = None
    region: str = "eu"


def _refuse(charm: ops.CharmBase, *tools: str) -> None:
    """Make these hook tools fail as Juju fails them once leadership is lost."""
    backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]

    def refused(*_: Any, **__: Any) -> None:
        raise ops.ModelError("ERROR this unit is not the leader")

    for tool in tools:
        setattr(backend, tool.replace("-", "_"), refused)


@pytest.mark.parametrize("tool", ["secret-set", "secret-add"])
def test_a_secret_write_juju_refuses_raises_not_leader_error_and_writes_nothing(tool: str):
    charm = charm_with(Secrets)
    state = leader_state({"region": '"eu"'})  # published, no secret yet: the write adds it
    if tool == "secret-set":
        state, _ = run(charm, leader_state(), event="leader_elected")

    def write(c: Charm) -> None:
        _refuse(c, tool)
        with counting_relation_sets(c) as sets, pytest.raises(NotLeaderError) as caught:
            c.shared.update(token=pydantic.SecretStr("new-token"))
        assert sets == []
        assert isinstance(caught.value.__cause__, ops.ModelError)
        assert "not the leader" in str(caught.value)

    out, _ = run(charm, state, write)
    assert app_data(out) == app_data(state)


@pytest.mark.parametrize("tool", ["relation-set", "secret-add"])
def test_the_end_of_hook_publish_never_fails_the_hook_when_juju_refuses(
    tool: str, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.WARNING):
        out, events = run(
            charm_with(Secrets), leader_state(), lambda c: _refuse(c, tool), event="leader_elected"
        )
    assert app_data(out) == {}
    assert events == []
    assert any("not published" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("tool", ["secret-add", "relation-set"])
def test_an_unpublished_value_generated_for_the_charm_fails_the_hook_so_none_is_kept(tool: str):
    seen: list[Any] = []

    def read_then_refuse(charm: Charm) -> None:
        seen.append(charm.shared.get())  # the charm may act on the generated password
        _refuse(charm, tool)

    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        run(charm_with(Secrets), leader_state(), read_then_refuse, event="leader_elected")
    assert isinstance(caught.value.__cause__, NotLeaderError)
    assert len(seen) == 1  # Juju runs the hook again, and nothing of this one is kept


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"token": "x" * 3841}, "Secrets.token"),  # 5,124 bytes in base64: over 5 KiB
        ({"token": "x" * 3840}, None),  # exactly 5 KiB in base64: allowed
    ],
    ids=["over", "at-the-limit"],
)
def test_a_secret_value_over_jujus_limit_is_a_value_error_before_anything_is_written(
    values: dict[str, str], named: str | None
):
    charm = charm_with(Secrets)
    published, _ = run(charm, leader_state(), event="leader_elected")

    def write(c: Charm) -> None:
        secrets = {k: pydantic.SecretStr(v) for k, v in values.items()}
        with counting_relation_sets(c) as sets:
            if named is None:
                c.shared.update(**secrets)
                return
            with pytest.raises(ValueError, match=named) as caught:
                c.shared.update(**secrets)
            assert "5120" in str(caught.value)
        assert sets == []

    out, _ = run(charm, published, write)
    assert (out.secrets == published.secrets) == (named is not None)


class ManySecrets(pydantic.BaseModel):
    s00: pydantic.SecretStr | None = None
    s01: pydantic.SecretStr | None = None
    s02: pydantic.SecretStr | None = None
    s03: pydantic.SecretStr | None = None
    s04: pydantic.SecretStr | None = None
    s05: pydantic.SecretStr | None = None
    s06: pydantic.SecretStr | None = None
    s07: pydantic.SecretStr | None = None
    s08: pydantic.SecretStr | None = None
    s09: pydantic.SecretStr | None = None
    s10: pydantic.SecretStr | None = None
    s11: pydantic.SecretStr | None = None
    s12: pydantic.SecretStr | None = None


def test_secret_content_over_jujus_total_limit_is_a_value_error_before_anything_is_written():
    values = {name: pydantic.SecretStr("y" * 3840) for name in ManySecrets.model_fields}

    def write(c: Charm) -> None:
        with counting_relation_sets(c) as sets, pytest.raises(ValueError, match="in all"):
            c.shared.update(**values)
        assert sets == []

    out, _ = run(charm_with(ManySecrets), leader_state(), write)
    assert out.secrets == frozenset()


# 6. secret-remove on a unit that is no longer the leader


def test_a_secret_remove_on_a_unit_that_is_not_the_leader_removes_nothing():
    charm = charm_with(Secrets)
    published, _ = run(charm, leader_state(), event="leader_elected")
    (secret,) = published.secrets
    ctx = testing.Context(charm, meta=META, juju_version="3.6.4")
    state = dataclasses.replace(published, leader=False)
    with ctx(ctx.on.secret_remove(secret, revision=1), state) as mgr:
        backend: Any = mgr.charm.model._backend  # pyright: ignore[reportPrivateUsage]
        removed: list[Any] = []
        backend.secret_remove = lambda *a, **k: removed.append((a, k))  # pyright: ignore[reportUnknownLambdaType]
        mgr.run()
    assert removed == []


def test_a_secret_made_under_an_earlier_label_is_still_recognised_on_secret_remove():
    charm = charm_with(Secrets, prefix="v2-")
    published, _ = run(charm, leader_state(), event="leader_elected")
    (secret,) = published.secrets
    # The label an earlier patch gave this prefix, with its trailing separator.
    relabelled = dataclasses.replace(secret, label="leader-config-cluster-v2-")
    state = dataclasses.replace(published, secrets={relabelled})
    ctx = testing.Context(charm, meta=META, juju_version="3.6.4")
    with ctx(ctx.on.secret_remove(relabelled, revision=1), state) as mgr:
        backend: Any = mgr.charm.model._backend  # pyright: ignore[reportPrivateUsage]
        removed: list[Any] = []
        backend.secret_remove = lambda *a, **k: removed.append(k)  # pyright: ignore[reportUnknownLambdaType]
        mgr.run()
    assert removed == [{"revision": 1}]


# 7. Canonical encoding at every depth, whatever the hash seed


ENCODE = """
import json, sys
sys.path[:0] = {paths!r}
from charms.leader_config.v0.leader_config import Codec
from rich import Inventory, Topology, sample_inventory, sample_topology
codecs = Codec(Topology, "", "cluster"), Codec(Inventory, "", "cluster")
encoded = codecs[0].encode(sample_topology()) | codecs[1].encode(sample_inventory())
print(json.dumps(encoded, sort_keys=True))
"""


def test_sets_at_any_depth_encode_alike_under_any_hash_seed():
    root = Path(__file__).resolve().parents[2]
    code = ENCODE.format(paths=[str(root / "lib"), str(root / "tests" / "scenario")])
    outputs = {
        subprocess.run(  # noqa: S603 (this interpreter, this test's own code)
            [sys.executable, "-c", code],
            # The environment passes on, so the child runs the code this process runs.
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3", "4")
    }
    # This process has a hash seed of its own: its encoding is the same again.
    codecs = Codec(Topology, "", "cluster"), Codec(Inventory, "", "cluster")
    encoded = codecs[0].encode(sample_topology()) | codecs[1].encode(sample_inventory())
    assert outputs == {json.dumps(encoded, sort_keys=True) + "\n"}
    assert json.loads(encoded["zones"])[1] == ["one", "three", "two"]
    assert json.loads(encoded["groups"])["a"] == ["q", "r", "s", "t"]
    names = sorted(f"unit-{i}" for i in range(40))
    assert json.loads(encoded["shard"]) == {"replicas": names}
    assert json.loads(encoded["shards"]) == [{"replicas": sorted({"a", "b", "c", *names})}]
    assert json.loads(encoded["placement"]) == {"rackNames": names}
    assert json.loads(encoded["rack"]) == {"hostNames": names}
    assert json.loads(encoded["quota"]) == {"users": names}
    assert json.loads(encoded["window"]) == [names, 3]


def test_repeating_a_value_with_sets_in_another_order_sends_nothing_and_emits_nothing():
    charm = charm_with(Topology)
    out, _ = run(charm, leader_state(), lambda c: c.shared.set(sample_topology()))
    again = sample_topology()
    again.groups = {"a": {"t", "s", "r", "q"}, **again.groups}

    def write(c: Charm) -> None:
        with counting_relation_sets(c) as sets:
            c.shared.set(again)
        assert sets == []

    _, events = run(charm, out, write)
    assert events == []


# 8. Names across renames by alias and removals


class Before(pydantic.BaseModel):
    log_level: Literal["debug", "info"] = "info"
    members: list[str] = []


class Renamed(pydantic.BaseModel):
    log_level: Literal["debug", "info"] = "info"
    peers: list[str] = pydantic.Field(default=[], alias="members")


class Removed(pydantic.BaseModel):
    log_level: Literal["debug", "info"] = "info"


def test_a_field_renamed_by_alias_keeps_the_names_of_later_events_right():
    leader, _ = run(charm_with(Before), leader_state(), lambda c: c.shared.update(members=["a"]))
    follower, _ = run(
        charm_with(Before), follower_state(leader, "cluster"), event="relation_changed"
    )
    # The follower upgrades to the revision that renamed `members` to `peers`.
    upgraded, events = run(charm_with(Renamed), follower, event="upgrade_charm")
    assert events == []
    changed, _ = run(charm_with(Renamed), leader, lambda c: c.shared.update(log_level="debug"))
    state = follower_state(changed, "cluster", state=upgraded)
    _, events = run(charm_with(Renamed), state, event="relation_changed")
    assert events == [frozenset({"log_level"})]
    changed, _ = run(charm_with(Renamed), changed, lambda c: c.shared.update(peers=["a", "b"]))
    state = follower_state(changed, "cluster", state=upgraded)
    _, events = run(charm_with(Renamed), state, event="relation_changed")
    assert events == [frozenset({"log_level", "peers"})]


def test_a_removed_field_is_named_at_most_once():
    leader, _ = run(charm_with(Before), leader_state(), lambda c: c.shared.update(members=["a"]))
    follower, _ = run(
        charm_with(Before), follower_state(leader, "cluster"), event="relation_changed"
    )
    upgraded, first = run(charm_with(Removed), follower, event="upgrade_charm")
    changed, _ = run(charm_with(Removed), leader, lambda c: c.shared.update(log_level="debug"))
    state = follower_state(changed, "cluster", state=upgraded)
    _, second = run(charm_with(Removed), state, event="relation_changed")
    assert [*first, *second].count(frozenset({"members"})) <= 1
    assert second == [frozenset({"log_level"})]


def test_what_an_earlier_patch_handled_carries_over_so_that_only_real_changes_are_named():
    charm = charm_with(Before, prefix="app-")
    data = {"app-log_level": '"info"', "app-members": '["a"]'}
    # Stored state as LIBPATCH 10 kept it: digests by field name, not by databag key.
    handled = testing.StoredState(
        "_stored",
        owner_path="Charm/LeaderConfig[cluster:app-]",
        content={
            "fingerprint": "stale",
            # The digests LIBPATCH 10 stored for '"info"' and '["a"]': the digest must not change.
            "digests": {
                "log_level": "bb902f9deb28989974faa2bb23dfe8d0",
                "members": "6d4c05d02fbc2efea075a1432414b1a2",
            },
            "salt": "0" * 32,
        },
    )
    state = testing.State(
        relations={peer({**data, "app-log_level": '"debug"'}, peers=(0,))},
        stored_states={handled},
    )
    _, events = run(charm, state, event="relation_changed")
    assert events == [frozenset({"log_level"})]


# 9. A transient secret-read failure fails the hook, so Juju retries it


def _published_secrets() -> testing.State:
    published, _ = run(charm_with(Secrets), leader_state(), event="leader_elected")
    return follower_state(published, "cluster")


def _failing_secret_get(error: Exception) -> Callable[[Charm], None]:
    def patch(c: Charm) -> None:
        backend: Any = c.model._backend  # pyright: ignore[reportPrivateUsage]

        def secret_get(*_: Any, **__: Any) -> dict[str, str]:
            raise error

        backend.secret_get = secret_get

    return patch


def test_a_transient_secret_read_failure_fails_the_hook_and_the_retry_announces_the_change():
    state = _published_secrets()
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        run(
            charm_with(Secrets),
            state,
            _failing_secret_get(ops.ModelError("ERROR timeout")),
            event="relation_changed",
        )
    assert isinstance(caught.value.__cause__, SecretUnavailableError)
    _, events = run(charm_with(Secrets), state, event="relation_changed")
    assert events == [frozenset(Secrets.model_fields)]


def test_a_missing_secret_logs_a_warning_and_the_hook_succeeds(caplog: pytest.LogCaptureFixture):
    state = _published_secrets()
    with caplog.at_level(logging.WARNING):
        _, events = run(
            charm_with(Secrets),
            state,
            _failing_secret_get(ops.SecretNotFoundError("ERROR secret not found")),
            event="relation_changed",
        )
    assert events == []
    assert any("admin_password" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("error", "gone"),
    [
        (ops.SecretNotFoundError("ERROR secret not found"), True),
        (ops.ModelError("ERROR timeout"), False),
    ],
    ids=["not-found", "transient"],
)
def test_a_secret_that_is_gone_is_told_from_one_juju_cannot_read_now(
    error: ops.ModelError, gone: bool
):
    caught: list[SecretUnavailableError] = []

    def read(c: Charm) -> None:
        _failing_secret_get(error)(c)
        with pytest.raises(SecretUnavailableError) as raised:
            c.shared.get()
        caught.append(raised.value)

    run(charm_with(Secrets), _published_secrets(), read)
    assert caught[0].gone is gone
    assert caught[0].__cause__ is error


def test_a_secret_id_missing_from_the_databag_is_gone():
    state = _published_secrets()
    relation = peer_of(state)
    data = {k: v for k, v in relation.local_app_data.items() if k != "secret-id"}
    state = dataclasses.replace(
        state, relations={dataclasses.replace(relation, local_app_data=data)}
    )
    caught: list[SecretUnavailableError] = []

    def read(c: Charm) -> None:
        with pytest.raises(SecretUnavailableError) as raised:
            c.shared.get()
        caught.append(raised.value)

    run(charm_with(Secrets), state, read)
    assert caught[0].gone is True


# 10. After a failed write, get() returns what is stored


def test_after_a_failed_write_get_returns_what_is_stored_and_the_secret_is_put_back():
    charm = charm_with(Secrets)
    published, _ = run(charm, leader_state(), event="leader_elected")
    before = config_from_state(published, "cluster", Secrets)
    assert before is not None

    def write(c: Charm) -> None:
        backend: Any = c.model._backend  # pyright: ignore[reportPrivateUsage]

        def refused(*_: Any, **__: Any) -> None:
            raise ops.ModelError("ERROR this unit is not the leader")

        backend.relation_set = refused
        with pytest.raises(NotLeaderError):
            c.shared.update(admin_password=pydantic.SecretStr("rotated"), region="us")
        assert c.shared.get() == before

    out, events = run(charm, published, write)
    assert config_from_state(out, "cluster", Secrets) == before
    assert events == []


# 11. The leader's changed: once per hook, after the handlers, never nested


class Reconciling(ops.CharmBase):
    """Reconciles on `changed`, and writes in its reconcile, as many charms do."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Before)
        self.depth = 0
        self.calls: list[tuple[int, frozenset[str]]] = []
        framework.observe(self.shared.on.changed, self._reconcile)
        framework.observe(self.on.config_changed, self._on_config_changed)

    def _on_config_changed(self, _: ops.ConfigChangedEvent) -> None:
        self.shared.update(log_level="debug")
        self.shared.update(members=["x"])

    def _reconcile(self, event: LeaderConfigChangedEvent) -> None:
        self.depth += 1
        self.calls.append((self.depth, event.changed))
        cfg = self.shared.get()
        assert isinstance(cfg, Before)
        if "u" not in cfg.members:
            self.shared.update(members=[*cfg.members, "u"])
        self.depth -= 1


def test_the_leaders_changed_fires_once_per_hook_after_its_handlers_never_nested():
    ctx = testing.Context(Reconciling, meta=META)
    published = published_state("cluster", Before(), leader=True)
    with ctx(ctx.on.config_changed(), published) as mgr:
        out = mgr.run()
        calls = mgr.charm.calls
    # One event for both writes of the hook, then one for the handler's own write.
    assert calls == [(1, frozenset({"log_level", "members"})), (1, frozenset({"members"}))]
    assert json.loads(app_data(out)["members"]) == ["x", "u"]


class Restless(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Before)
        framework.observe(self.shared.on.changed, self._on_changed)

    def _on_changed(self, _: LeaderConfigChangedEvent) -> None:
        cfg = self.shared.get()
        assert isinstance(cfg, Before)
        self.shared.update(members=[*cfg.members, "again"])


def test_a_handler_that_writes_on_every_event_is_stopped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
):
    ctx = testing.Context(Restless, meta=META)
    with caplog.at_level(logging.WARNING):
        ctx.run(ctx.on.leader_elected(), leader_state())
    changed = [e for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)]
    assert len(changed) == 8
    assert [r.getMessage() for r in caplog.records] == [
        "LeaderConfig(relation_name='cluster', schema=Before): stopped re-emitting:"
        " a handler writes on every event"
    ]


# 12. The leader's get() is the config it publishes


def test_the_leaders_get_is_the_complete_config_it_publishes_generated_once():
    charm = charm_with(Secrets)
    seen: list[Any] = []

    def read_twice(c: Charm) -> None:
        seen.extend([c.shared.get(), c.shared.get()])

    out, events = run(charm, leader_state(), read_twice, event="config_changed")
    assert seen[0] is not None
    assert seen[0] == seen[1]
    assert GENERATED == ["generated"]
    assert config_from_state(out, "cluster", Secrets) == seen[0]
    assert events == [frozenset(Secrets.model_fields)]


@pytest.mark.parametrize("hook", ["update_status", "config_changed", "start"])
def test_the_leader_publishes_at_the_end_of_any_hook_in_which_it_read_keys_missing(hook: str):
    charm = charm_with(Before)
    out, _ = run(charm, leader_state({"log_level": '"debug"'}), read_only, event=hook)
    assert app_data(out) == {"log_level": '"debug"', "members": "[]", REVISION: "1"}


def read_only(charm: Charm) -> None:
    charm.shared.get()


def test_a_hook_in_which_the_leader_does_not_read_publishes_nothing():
    charm = charm_with(Before)
    out, _ = run(charm, leader_state({"log_level": '"debug"'}), event="update_status")
    assert app_data(out) == {"log_level": '"debug"'}


# 13. A generated field added in an upgrade: followers read it once the leader publishes


def test_a_follower_names_a_generated_field_awaiting_the_leader_and_never_generates_it(
    caplog: pytest.LogCaptureFixture,
):
    old_data = {"region": '"us"', REVISION: "4"}
    state = testing.State(relations={peer(old_data, peers=(0,))})
    with caplog.at_level(logging.WARNING):
        _, events = run(charm_with(Secrets), state, event="upgrade_charm")
    assert events == []
    assert caplog.records == []

    def get(c: Charm) -> None:
        with pytest.raises(PendingFieldsError) as caught:
            c.shared.get()
        assert caught.value.fields == ("admin_password",)
        assert isinstance(caught.value, LeaderConfigError)

    run(charm_with(Secrets), state, get)
    assert GENERATED == []
    leader, _ = run(charm_with(Secrets), leader_state(old_data), event="upgrade_charm")
    assert GENERATED == ["generated"]
    assert app_data(leader)[REVISION] == "5"
    _, events = run(
        charm_with(Secrets), follower_state(leader, "cluster"), event="relation_changed"
    )
    assert events == [frozenset(Secrets.model_fields)]
    assert GENERATED == ["generated"]


# 14 and 15: the Juju version, and tidy labels


@pytest.mark.parametrize(
    ("prefix", "label"),
    [
        ("v2-", "leader-config-cluster-v2"),
        ("App_", "leader-config-cluster-app"),
        ("", "leader-config-cluster"),
    ],
)
def test_a_prefix_gives_a_tidy_secret_label(prefix: str, label: str):
    out, _ = run(charm_with(Secrets, prefix=prefix), leader_state(), event="leader_elected")
    assert {s.label for s in out.secrets} == {label}


def test_a_harness_style_unknown_juju_version_does_not_refuse_secret_fields():
    ctx = testing.Context(charm_with(Secrets), meta=META, juju_version="0.0.0")
    ctx.run(ctx.on.update_status(), leader_state())


# Reserved names and shared keys


class UsesRevisionKey(pydantic.BaseModel):
    revision: int = pydantic.Field(default=0, alias="leader-config-revision")


class UsesSecretIdKey(pydantic.BaseModel):
    secret_id: str = pydantic.Field(default="", alias="secret-id")
    token: pydantic.SecretStr | None = None


@pytest.mark.parametrize(
    ("schema", "key"),
    [(UsesRevisionKey, "leader-config-revision"), (UsesSecretIdKey, "secret-id")],
)
def test_reserved_keys_are_refused_as_field_names_or_aliases_naming_the_clash(
    schema: type[pydantic.BaseModel], key: str
):
    message = construction_error(charm_with(schema), ValueError)
    assert repr(key) in message
    assert "reserved" in message


class A(pydantic.BaseModel):
    a: str = "a"
    a_token: pydantic.SecretStr | None = None


class B(pydantic.BaseModel):
    b: str = "b"
    b_token: pydantic.SecretStr | None = None


class PlainA(pydantic.BaseModel):
    a: str = "a"


class PlainB(pydantic.BaseModel):
    b: str = "b"


def _two(first: type[pydantic.BaseModel], second: type[pydantic.BaseModel], **options: Any):
    class Two(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.first = LeaderConfig(self, "cluster", first)
            self.second = LeaderConfig(self, "cluster", second, **options)

    return Two


def test_two_objects_without_a_prefix_and_with_secret_fields_are_refused_naming_secret_id():
    message = construction_error(_two(A, B), ValueError)
    assert "secret-id" in message
    assert "prefix" in message


def test_two_objects_on_one_relation_need_prefixes_for_their_revisions_to_be_their_own():
    message = construction_error(_two(PlainA, PlainB), ValueError)
    assert "leader-config-revision" in message
