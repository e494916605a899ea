"""Secret fields live in one app-owned Juju secret; generated values are generated once."""

from __future__ import annotations

import dataclasses
import json
import logging
import traceback
from collections.abc import Generator, Mapping
from typing import Any

import ops
import pydantic
import pydantic_core
import pytest
from ops import testing

from charms.leader_config.v0.leader_config import (
    InvalidConfigError,
    LeaderConfig,
    LeaderConfigChangedEvent,
    LeaderConfigError,
    PendingFieldsError,
    SecretUnavailableError,
)
from charms.leader_config.v0.testing import published_state
from conftest import (
    META,
    SharedCharm,
    app_data,
    counting_relation_sets,
    follower_state,
    peer,
    peer_of,
)

GENERATED: list[str] = []  # every value the factory produced, in order


def generate_password() -> pydantic.SecretStr:
    value = f"generated-{len(GENERATED)}-Zq7"
    GENERATED.append(value)
    return pydantic.SecretStr(value)


class Credentials(pydantic.BaseModel):
    admin_password: pydantic.SecretStr = pydantic.Field(default_factory=generate_password)
    join_token: pydantic.SecretStr | None = None
    pin: pydantic.SecretStr | None = pydantic.Field(default=None, min_length=6)
    log_level: str = "info"


class SecretCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Credentials)
        framework.observe(self.shared.on.changed, self._on_changed)

    def _on_changed(self, event: LeaderConfigChangedEvent) -> None:
        cfg = self.shared.get()
        self.unit.status = ops.ActiveStatus(f"{sorted(event.changed)} {cfg!r}")


@pytest.fixture(autouse=True)
def _fresh_factory() -> Generator[None, None, None]:
    GENERATED.clear()
    yield
    GENERATED.clear()


def _ctx(*, unit_id: int = 0, juju_version: str = "3.6.4") -> testing.Context[SecretCharm]:
    return testing.Context(SecretCharm, meta=META, unit_id=unit_id, juju_version=juju_version)


def _changed(ctx: testing.Context[Any]) -> list[frozenset[str]]:
    return [e.changed for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)]


def _publish() -> testing.State:
    ctx = _ctx()
    return ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations={peer()}))


def _the_secret(state: testing.State) -> testing.Secret:
    (secret,) = state.secrets
    return secret


def _values(secret: testing.Secret) -> dict[str, str]:
    """The secret's latest content, without the stamp that tells revisions apart."""
    return {k: v for k, v in secret.latest_content.items() if k != "leader-config-stamp"}


def _on_follower(state: testing.State) -> tuple[testing.Context[SecretCharm], testing.State]:
    ctx = _ctx(unit_id=1)
    return ctx, ctx.run(ctx.on.relation_changed(peer_of(state), remote_unit=0), state)


def _follow(leader_out: testing.State, follower: testing.State) -> testing.State:
    """The follower's state once the leader's databag and secrets reach it."""
    relation = dataclasses.replace(
        peer_of(follower), local_app_data=dict(peer_of(leader_out).local_app_data)
    )
    return dataclasses.replace(follower, relations={relation}, secrets=leader_out.secrets)


def _leader_writes(state: testing.State, **changes: Any) -> tuple[testing.State, list[Any]]:
    ctx = _ctx()
    with ctx(ctx.on.update_status(), state) as mgr:
        mgr.charm.shared.update(**changes)
        out = mgr.run()
    return out, _changed(ctx)


def test_the_leader_keeps_secret_values_out_of_the_databag_and_in_one_labelled_app_secret():
    out = _publish()
    data = app_data(out)
    secret = _the_secret(out)
    assert secret.label == "leader-config-cluster"
    assert secret.owner in ("app", "application")
    assert _values(secret) == {"admin-password": GENERATED[0]}
    assert json.loads(data["secret-id"]) == secret.id
    assert json.loads(data["join_token"]) is None
    assert json.loads(data["pin"]) is None
    assert data["log_level"] == '"info"'
    marker = json.loads(data["admin_password"])
    assert isinstance(marker, str)
    assert GENERATED[0] not in json.dumps(data)


def test_a_follower_reads_secret_values_through_the_secret_without_generating():
    published = _publish()
    ctx, out = _on_follower(follower_state(published))
    assert _changed(ctx) == [frozenset({"admin_password", "join_token", "pin", "log_level"})]
    with ctx(ctx.on.update_status(), out) as mgr:
        cfg = mgr.charm.shared.get()
        assert cfg is not None
        assert cfg.admin_password.get_secret_value() == GENERATED[0]
        mgr.run()
    assert len(GENERATED) == 1  # only the leader's first publish called the factory


def test_a_prefix_is_part_of_the_label():
    class Prefixed(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = LeaderConfig(self, "cluster", Credentials, prefix="app-")

    ctx = testing.Context(Prefixed, meta=META)
    with ctx(ctx.on.leader_elected(), testing.State(leader=True, relations={peer()})) as mgr:
        out = mgr.run()
        assert mgr.charm.shared.secret_label == "leader-config-cluster-app"
    assert _the_secret(out).label == "leader-config-cluster-app"
    assert set(app_data(out)) == {
        "app-admin_password",
        "app-join_token",
        "app-pin",
        "app-log_level",
        "app-secret-id",
        "app-leader-config-revision",
    }


def _count_secret_gets(charm: ops.CharmBase) -> list[dict[str, Any]]:
    backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]
    original = backend.secret_get
    calls: list[dict[str, Any]] = []

    def secret_get(**kwargs: Any) -> dict[str, str]:
        calls.append(kwargs)
        return original(**kwargs)

    backend.secret_get = secret_get
    return calls


def test_a_config_without_secret_fields_costs_no_secret_calls():
    ctx = testing.Context(SharedCharm, meta=META, unit_id=1)
    state = testing.State(relations={peer({"log_level": '"debug"'}, peers=(0,))})
    with ctx(ctx.on.relation_changed(peer_of(state), remote_unit=0), state) as mgr:
        calls = _count_secret_gets(mgr.charm)
        mgr.run()
        assert mgr.charm.shared.get() is not None
    assert calls == []


def _secret_gets_in_relation_changed(state: testing.State) -> list[bool]:
    """Whether each secret-get a follower's relation-changed makes asks to refresh."""
    ctx = _ctx(unit_id=1)
    with ctx(ctx.on.relation_changed(peer_of(state), remote_unit=0), state) as mgr:
        calls = _count_secret_gets(mgr.charm)
        mgr.run()
        for _ in range(3):
            assert mgr.charm.shared.get() is not None
    return [call.get("refresh", False) for call in calls]


def test_the_secret_is_fetched_once_per_hook_however_often_it_is_read():
    assert _secret_gets_in_relation_changed(follower_state(_publish())) == [False]


def test_a_unit_tracking_an_older_revision_refreshes_to_the_latest_once():
    published = _publish()
    rotated, _ = _leader_writes(published, admin_password=pydantic.SecretStr("rotated-Xy9"))
    # The follower's tracked revision is still the first one: the stamp tells it so.
    assert _the_secret(rotated).tracked_content["admin-password"] == GENERATED[0]
    assert _secret_gets_in_relation_changed(follower_state(rotated)) == [False, True]


def test_rotation_reaches_a_follower_as_one_event_naming_the_field():
    published = _publish()
    _, seen = _on_follower(follower_state(published))
    rotated, leader_events = _leader_writes(
        published, admin_password=pydantic.SecretStr("rotated-Xy9")
    )
    assert leader_events == [frozenset({"admin_password"})]
    assert _values(_the_secret(rotated)) == {"admin-password": "rotated-Xy9"}
    ctx, out = _on_follower(_follow(rotated, seen))
    assert _changed(ctx) == [frozenset({"admin_password"})]
    with ctx(ctx.on.update_status(), out) as mgr:
        cfg = mgr.charm.shared.get()
        assert cfg is not None
        assert cfg.admin_password.get_secret_value() == "rotated-Xy9"
        mgr.run()
    ctx, _ = _on_follower(out)
    assert _changed(ctx) == []


def test_setting_a_secret_field_to_its_value_creates_no_revision_and_sends_nothing():
    published = _publish()
    before = _the_secret(published)
    out, events = _leader_writes(published, admin_password=pydantic.SecretStr(GENERATED[0]))
    after = _the_secret(out)
    assert events == []
    assert app_data(out) == app_data(published)
    assert after.latest_content == before.latest_content
    assert after._latest_revision == before._latest_revision  # pyright: ignore[reportPrivateUsage]


def test_a_plain_write_leaves_the_secret_alone():
    published = _publish()
    out, events = _leader_writes(published, log_level="debug")
    assert events == [frozenset({"log_level"})]
    assert _the_secret(out)._latest_revision == 1  # pyright: ignore[reportPrivateUsage]
    assert app_data(out)["admin_password"] == app_data(published)["admin_password"]


def test_none_removes_a_field_from_the_secret_and_the_last_removal_removes_the_secret():
    published = _publish()
    with_token, _ = _leader_writes(published, join_token=pydantic.SecretStr("tok-123"))
    assert _values(_the_secret(with_token)) == {
        "admin-password": GENERATED[0],
        "join-token": "tok-123",
    }
    without, events = _leader_writes(with_token, join_token=None)
    assert events == [frozenset({"join_token"})]
    assert _values(_the_secret(without)) == {"admin-password": GENERATED[0]}
    assert json.loads(app_data(without)["join_token"]) is None


class OptionalOnly(pydantic.BaseModel):
    token: pydantic.SecretStr | None = None


class OptionalCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", OptionalOnly)


def test_removing_the_last_secret_field_removes_the_secret_and_its_id():
    ctx = testing.Context(OptionalCharm, meta=META)
    with ctx(ctx.on.update_status(), testing.State(leader=True, relations={peer()})) as mgr:
        mgr.charm.shared.update(token=pydantic.SecretStr("abc-123"))
        out = mgr.run()
    assert "secret-id" in app_data(out)
    ctx = testing.Context(OptionalCharm, meta=META)
    with ctx(ctx.on.update_status(), out) as mgr:
        mgr.charm.shared.update(token=None)
        out = mgr.run()
    assert out.secrets == frozenset()
    assert app_data(out) == {"token": "null", "leader-config-revision": "2"}
    ctx = testing.Context(OptionalCharm, meta=META)
    with ctx(ctx.on.update_status(), out) as mgr:
        mgr.charm.shared.update(token=pydantic.SecretStr("def-456"))
        out = mgr.run()
    assert _values(_the_secret(out)) == {"token": "def-456"}


def test_secret_remove_for_the_configs_secret_removes_that_revision():
    rotated, _ = _leader_writes(_publish(), admin_password=pydantic.SecretStr("rotated-Xy9"))
    rotated, _ = _leader_writes(rotated, admin_password=pydantic.SecretStr("rotated-Xy8"))
    ctx = _ctx()
    ctx.run(ctx.on.secret_remove(_the_secret(rotated), revision=1), rotated)
    assert ctx.removed_secret_revisions == [1]


def test_secret_remove_for_another_secret_is_left_to_the_charm():
    other = testing.Secret({"key": "value"}, owner="app", label="someone-else")
    ctx = _ctx()
    ctx.run(ctx.on.secret_remove(other, revision=1), testing.State(leader=True, secrets={other}))
    assert ctx.removed_secret_revisions == []


def test_a_missing_secret_is_a_clear_error_naming_the_field_and_no_hook_fails(
    caplog: pytest.LogCaptureFixture,
):
    follower = follower_state(_publish())
    gone = dataclasses.replace(follower, secrets=frozenset())
    ctx = _ctx(unit_id=1)
    with caplog.at_level(logging.WARNING):
        out = ctx.run(ctx.on.relation_changed(peer_of(gone), remote_unit=0), gone)
    assert _changed(ctx) == []
    assert any("admin_password" in r.getMessage() for r in caplog.records)
    with ctx(ctx.on.update_status(), out) as mgr:
        with pytest.raises(SecretUnavailableError) as caught:
            mgr.charm.shared.get()
        mgr.run()
    assert isinstance(caught.value, LeaderConfigError)
    assert caught.value.fields == ("admin_password",)
    assert isinstance(caught.value.__cause__, ops.SecretNotFoundError)


def test_a_leader_whose_secret_is_gone_writes_a_new_one_with_set():
    published = _publish()
    gone = dataclasses.replace(published, secrets=frozenset())
    ctx = _ctx()
    with ctx(ctx.on.update_status(), gone) as mgr:
        mgr.charm.shared.set(Credentials(admin_password=pydantic.SecretStr("fresh-123")))
        out = mgr.run()
    assert _values(_the_secret(out)) == {"admin-password": "fresh-123"}


def test_a_schema_with_secret_fields_fails_at_construction_on_a_juju_without_secrets():
    ctx = _ctx(juju_version="2.9.44")
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        ctx.run(ctx.on.install(), testing.State())
    error = caught.value.__cause__
    assert isinstance(error, LeaderConfigError)
    assert "need Juju 3.0.3 or later (this is Juju 2.9.44)" in str(error)


def test_a_new_leader_keeps_the_generated_value():
    published = _publish()
    _, seen = _on_follower(follower_state(published))
    ctx = _ctx(unit_id=1)
    out = ctx.run(ctx.on.leader_elected(), dataclasses.replace(seen, leader=True))
    assert len(GENERATED) == 1
    assert app_data(out) == app_data(published)
    assert _changed(ctx) == []


def test_a_follower_reads_nothing_until_the_leader_has_generated_the_value():
    state = testing.State(relations={peer({"log_level": '"debug"'}, peers=(0,))})
    ctx = _ctx(unit_id=1)
    with ctx(ctx.on.update_status(), state) as mgr:
        with pytest.raises(PendingFieldsError) as caught:
            mgr.charm.shared.get()
        mgr.run()
    assert caught.value.fields == ("admin_password",)
    assert "admin_password" in str(caught.value)
    assert GENERATED == []


class Keys(pydantic.BaseModel):
    db_password: pydantic.SecretStr = pydantic.SecretStr("one-111")
    pw: pydantic.SecretStr = pydantic.SecretStr("two-222")
    API_KEY: pydantic.SecretStr = pydantic.SecretStr("three-333")


class KeysCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Keys)


def test_field_names_map_to_valid_secret_content_keys_and_back():
    ctx = testing.Context(KeysCharm, meta=META)
    out = ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations={peer()}))
    assert _values(_the_secret(out)) == {
        "db-password": "one-111",
        "field-pw": "two-222",
        "api-key": "three-333",
    }
    ctx = testing.Context(KeysCharm, meta=META, unit_id=1)
    state = follower_state(out)
    with ctx(ctx.on.update_status(), state) as mgr:
        cfg = mgr.charm.shared.get()
        assert cfg is not None
        assert cfg.pw.get_secret_value() == "two-222"
        mgr.run()


class Clash(pydantic.BaseModel):
    api_key: pydantic.SecretStr = pydantic.SecretStr("x")
    API_KEY: pydantic.SecretStr = pydantic.SecretStr("y")


class Unmappable(pydantic.BaseModel):
    a__b: pydantic.SecretStr = pydantic.SecretStr("x")


class IdClash(pydantic.BaseModel):
    token: pydantic.SecretStr = pydantic.SecretStr("x")
    other: str = pydantic.Field(default="", alias="secret-id")


@pytest.mark.parametrize("schema", [Clash, Unmappable, IdClash])
def test_fields_that_cannot_map_to_secret_keys_are_refused_at_construction(
    schema: type[pydantic.BaseModel],
):
    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            LeaderConfig(self, "cluster", schema)

    ctx = testing.Context(Charm, meta=META)
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        ctx.run(ctx.on.install(), testing.State())
    assert isinstance(caught.value.__cause__, ValueError)
    assert schema.__name__ in str(caught.value.__cause__)


def _every_text(state: testing.State, ctx: testing.Context[Any]) -> str:
    """All that a state and a context record, as text, to search for secret values."""
    texts: list[str] = []
    for relation in state.relations:
        texts.append(json.dumps(dict(relation.local_app_data)))
        texts.append(json.dumps(dict(relation.local_unit_data)))
    texts.extend(repr(stored.content) for stored in state.stored_states)
    texts.extend(repr(event.snapshot_data) for event in state.deferred)
    texts.extend(line.message for line in ctx.juju_log)
    texts.append(repr(state.unit_status))
    return "\n".join(texts)


class DeferringSecretCharm(SecretCharm):
    def _on_changed(self, event: LeaderConfigChangedEvent) -> None:
        event.defer()


def _masked(values: Mapping[str, str], text: str) -> list[str]:
    return [name for name, value in values.items() if value in text]


def test_secret_values_never_leak(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    values = {"generated": "", "rotated": "rotated-Leak1", "pin": "pin-Leak22", "bad": "bad-1"}
    published = _publish()
    values["generated"] = GENERATED[0]
    texts = [_every_text(published, _ctx())]
    ctx = _ctx()
    with ctx(ctx.on.update_status(), published) as mgr:
        with pytest.raises(pydantic.ValidationError) as invalid:
            mgr.charm.shared.update(pin=pydantic.SecretStr(values["bad"]), log_level=7)
        texts.append(str(invalid.value))
        with (
            pytest.raises(pydantic.ValidationError) as invalid_edit,
            mgr.charm.shared.edit() as cfg,
        ):
            cfg.pin = values["bad"]  # pyright: ignore[reportAttributeAccessIssue]
        texts.append(str(invalid_edit.value))
        mgr.charm.shared.update(
            admin_password=pydantic.SecretStr(values["rotated"]),
            pin=pydantic.SecretStr(values["pin"]),
        )
        texts.append(repr(mgr.charm.shared))
        texts.append(repr(mgr.charm.shared.get()))
        texts.append(str(mgr.charm.shared.get()))
        rotated = mgr.run()
    texts.append(_every_text(rotated, ctx))
    follower = testing.Context(DeferringSecretCharm, meta=META, unit_id=1)
    state = follower_state(rotated)
    out = follower.run(follower.on.relation_changed(peer_of(state), remote_unit=0), state)
    assert out.deferred  # the changed event is stored for later
    texts.append(_every_text(out, follower))
    texts.extend(record.getMessage() for record in caplog.records)
    text = "\n".join(texts)
    assert "at least 6" in text  # the invalid values were reported, masked
    assert _masked(values, text) == []


class CustomError(pydantic.BaseModel):
    code: pydantic.SecretStr = pydantic.SecretStr("init-code")

    @pydantic.field_validator("code")
    @classmethod
    def _long_enough(cls, value: pydantic.SecretStr) -> pydantic.SecretStr:
        if len(value.get_secret_value()) < 5:
            raise pydantic_core.PydanticCustomError("too_short_code", "code too short")
        return value


class CustomErrorCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", CustomError)


def test_a_custom_validation_error_about_a_secret_is_a_value_error_without_the_value():
    ctx = testing.Context(CustomErrorCharm, meta=META)
    with ctx(ctx.on.update_status(), testing.State(leader=True, relations={peer()})) as mgr:
        with pytest.raises(ValueError, match="code too short") as caught:
            mgr.charm.shared.update(code=pydantic.SecretStr("ab1"))
        mgr.run()
    assert "ab1" not in str(caught.value)


def _follower_get(state: testing.State) -> Credentials | None:
    ctx = _ctx(unit_id=1)
    with ctx(ctx.on.update_status(), state) as mgr:
        return mgr.charm.shared.get()


def test_a_secret_without_the_fields_value_is_a_clear_error():
    follower = follower_state(_publish())
    emptied = testing.Secret(
        {"other-key": "x"}, id=_the_secret(follower).id, owner="app", label="leader-config-cluster"
    )
    with pytest.raises(SecretUnavailableError, match="does not hold") as caught:
        _follower_get(dataclasses.replace(follower, secrets={emptied}))
    assert caught.value.fields == ("admin_password",)


def test_a_databag_without_the_secret_id_is_a_clear_error():
    follower = follower_state(_publish())
    data = {k: v for k, v in app_data(follower).items() if k != "secret-id"}
    relation = dataclasses.replace(peer_of(follower), local_app_data=data)
    with pytest.raises(SecretUnavailableError, match="holds no secret id"):
        _follower_get(dataclasses.replace(follower, relations={relation}))


def test_a_leader_write_when_juju_refuses_the_secret_raises_and_writes_nothing():
    published = _publish()
    ctx = _ctx()
    error = ops.ModelError("permission denied")
    with ctx(ctx.on.update_status(), published) as mgr:
        backend: Any = mgr.charm.model._backend  # pyright: ignore[reportPrivateUsage]

        def refuse(**_: Any) -> dict[str, str]:
            raise error

        backend.secret_get = refuse
        with pytest.raises(SecretUnavailableError) as caught:
            mgr.charm.shared.set(Credentials(admin_password=pydantic.SecretStr("new-pass-1")))
        out = mgr.run()
    assert caught.value.__cause__ is error
    assert app_data(out) == app_data(published)


def test_repeating_handled_plain_values_reads_no_secret_and_writes_nothing():
    published = _publish()
    ctx = _ctx()
    with ctx(ctx.on.config_changed(), published) as mgr:
        calls = _count_secret_gets(mgr.charm)
        with counting_relation_sets(mgr.charm) as sets:
            mgr.charm.shared.update(log_level="info")
        out = mgr.run()
    assert (calls, sets) == ([], [])
    assert app_data(out) == app_data(published)


def test_a_new_plain_value_is_validated_with_the_whole_config():
    published = _publish()
    ctx = _ctx()
    with ctx(ctx.on.config_changed(), published) as mgr:
        calls = _count_secret_gets(mgr.charm)
        with pytest.raises(pydantic.ValidationError):
            mgr.charm.shared.update(log_level=["not", "a", "string"])
        mgr.charm.shared.update(log_level="debug")
        out = mgr.run()
    assert len(calls) == 1  # the full validation needs the secret fields' values
    assert app_data(out)["log_level"] == '"debug"'


def test_a_secret_value_changed_and_changed_back_between_two_hooks_is_no_change():
    with_token, _ = _leader_writes(_publish(), join_token=pydantic.SecretStr("tok-aaa"))
    _, seen = _on_follower(follower_state(with_token))
    cleared, _ = _leader_writes(with_token, join_token=None)
    restored, _ = _leader_writes(cleared, join_token=pydantic.SecretStr("tok-aaa"))
    assert app_data(restored)["join_token"] != app_data(with_token)["join_token"]  # new marker
    ctx, _ = _on_follower(_follow(restored, seen))
    assert _changed(ctx) == []
    changed, _ = _leader_writes(restored, join_token=pydantic.SecretStr("tok-bbb"))
    ctx, _ = _on_follower(_follow(changed, seen))
    assert _changed(ctx) == [frozenset({"join_token"})]


class NarrowerPin(pydantic.BaseModel):
    """A later revision that asks more of the pin than the one that stored it."""

    admin_password: pydantic.SecretStr | None = None
    pin: pydantic.SecretStr | None = pydantic.Field(default=None, min_length=12)


class NarrowerPinCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", NarrowerPin)


def test_a_stored_secret_value_that_no_longer_validates_is_nowhere_in_the_error_or_its_chain():
    stored = Credentials(
        admin_password=pydantic.SecretStr("pw-Zq7"), pin=pydantic.SecretStr("86420975")
    )
    state = published_state("cluster", stored, peers_data={0: {}})
    ctx = testing.Context(NarrowerPinCharm, meta=META, unit_id=1)
    with ctx(ctx.on.update_status(), state) as mgr:
        with pytest.raises(InvalidConfigError) as caught:
            mgr.charm.shared.get()
        mgr.run()
    text = "".join(traceback.format_exception(caught.value))
    assert "'pin'" in text
    assert "86420975" not in text
    assert "pw-Zq7" not in text


class CredentialsAndRegion(Credentials):
    """A later revision adds a plain field next to the secret ones."""

    region: str = "eu"


class CredentialsAndRegionCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", CredentialsAndRegion)


def test_a_plain_field_new_next_to_secret_fields_reads_its_default_with_the_secret_values():
    stored = Credentials(admin_password=pydantic.SecretStr("pw-Zq7"))
    state = published_state("cluster", stored, peers_data={0: {}})
    ctx = testing.Context(CredentialsAndRegionCharm, meta=META, unit_id=1)
    with ctx(ctx.on.update_status(), state) as mgr:
        cfg = mgr.charm.shared.get()
        mgr.run()
    assert cfg is not None
    assert (cfg.region, cfg.admin_password.get_secret_value()) == ("eu", "pw-Zq7")
