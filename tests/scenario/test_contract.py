"""The smaller promises: what errors and logs say, boundaries, and what is never done."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import ops
import pydantic
import pydantic_core
import pytest
import typing_extensions
from ops import testing

from charms.leader_config.v0 import leader_config
from charms.leader_config.v0.leader_config import (
    InvalidConfigError,
    LeaderConfig,
    LeaderConfigAppliedEvent,
    LeaderConfigChangedEvent,
    LeaderConfigError,
    Legacy,
    NotReadyError,
    PendingFieldsError,
    Rollout,
    SecretUnavailableError,
)
from charms.leader_config.v0.testing import follower_state, published_state
from conftest import META, Shared, SharedCharm, app_data, peer, peer_of, recording_unit_reads

REVISION = "leader-config-revision"


def _run(
    charm: type[ops.CharmBase],
    state: testing.State,
    do: Callable[[Any], None] | None = None,
    *,
    hook: str = "update_status",
    unit_id: int | None = None,
    meta: dict[str, Any] | None = None,
) -> tuple[testing.State, testing.Context[Any]]:
    unit = unit_id if unit_id is not None else (0 if state.leader else 1)
    ctx = testing.Context(charm, meta=meta or META, unit_id=unit, juju_version="3.6.4")
    if hook == "relation_changed":
        trigger = ctx.on.relation_changed(peer_of(state), remote_unit=0 if unit else 1)
    else:
        trigger = getattr(ctx.on, hook)()
    with ctx(trigger, state) as mgr:
        if do is not None:
            do(mgr.charm)
        out = mgr.run()
    return out, ctx


def _charm(schema: type[pydantic.BaseModel], **options: Any) -> type[ops.CharmBase]:
    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = LeaderConfig(self, "cluster", schema, **options)

    return Charm


def _construction_error(charm: type[ops.CharmBase], meta: dict[str, Any] | None = None) -> Any:
    ctx = testing.Context(charm, meta=meta or META, juju_version="3.6.4")
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        ctx.run(ctx.on.update_status(), testing.State())
    return caught.value.__cause__


def _messages(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


# Schemas


class Token(pydantic.BaseModel):
    token: pydantic.SecretStr | None = None
    region: str = "eu"


class TypedDictWithSecret(typing_extensions.TypedDict):
    password: pydantic.SecretStr


@dataclasses.dataclass
class DataclassWithSecret:
    password: pydantic.SecretStr


class InTypedDict(pydantic.BaseModel):
    db: TypedDictWithSecret | None = None


class InDataclass(pydantic.BaseModel):
    db: DataclassWithSecret | None = None


class SecretOrInt(pydantic.BaseModel):
    value: pydantic.SecretStr | int = 0


class Node(pydantic.BaseModel):
    name: str = "n"
    children: list[Node] = []
    secret: pydantic.SecretStr | None = None


class Tree(pydantic.BaseModel):
    root: Node = Node()


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        (InTypedDict, "InTypedDict.db"),
        (InDataclass, "InDataclass.db"),
        (SecretOrInt, "SecretOrInt.value"),
        (Tree, "Tree.root"),
    ],
    ids=["typed-dict", "dataclass", "secret-or-int", "recursive-model"],
)
def test_a_secret_inside_any_container_or_union_is_refused_naming_the_field(
    schema: type[pydantic.BaseModel], field: str
):
    error = _construction_error(_charm(schema))
    assert isinstance(error, ValueError)
    assert field in str(error)
    assert "would reach the databag masked" in str(error)


def test_a_field_the_wire_format_cannot_carry_is_refused_saying_what_is_supported():
    class Excluded(pydantic.BaseModel):
        hidden: str = pydantic.Field(default="", exclude=True)

    error = _construction_error(_charm(Excluded))
    assert "Excluded.hidden" in str(error)
    assert "Field(alias=...)" in str(error)


def test_a_reserved_key_is_refused_saying_what_it_holds():
    class UsesRevision(pydantic.BaseModel):
        revision: int = pydantic.Field(default=0, alias=REVISION)

    class UsesSecretId(pydantic.BaseModel):
        secret_id: str = pydantic.Field(default="", alias="secret-id")
        token: pydantic.SecretStr | None = None

    assert "reserved for the config revision" in str(_construction_error(_charm(UsesRevision)))
    assert "reserved for the secret's id" in str(_construction_error(_charm(UsesSecretId)))


def test_a_charm_without_peer_endpoints_is_told_so():
    error = _construction_error(_charm(Shared), meta={"name": "lonely"})
    assert "(peer endpoints: none)" in str(error)


def test_a_schema_that_is_not_a_model_is_named_in_the_type_error():
    error = _construction_error(_charm(dict))  # type: ignore[arg-type]
    assert isinstance(error, TypeError)
    assert "<class 'dict'>" in str(error)


def test_objects_that_would_share_keys_name_the_keys_and_the_other_object():
    class Two(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.first = LeaderConfig(self, "cluster", Shared)
            self.second = LeaderConfig(self, "cluster", Token)

    error = _construction_error(Two)
    assert "leader-config-revision" in str(error)
    assert "with the Shared LeaderConfig" in str(error)


# Errors carry what is at fault


def test_every_run_time_error_names_its_relation():
    follower = published_state("cluster", Token(token=pydantic.SecretStr("t")), peers_data={0: {}})
    gone = dataclasses.replace(follower, secrets=frozenset())
    errors: list[LeaderConfigError] = []

    def read(charm: Any) -> None:
        with pytest.raises(LeaderConfigError) as caught:
            charm.shared.get()
        errors.append(caught.value)

    _run(_charm(Token), gone, read)
    (error,) = errors
    assert isinstance(error, SecretUnavailableError)
    assert (error.relation_name, error.fields) == ("cluster", ("token",))
    assert str(error).startswith(
        f"cannot read secret field(s) token of the shared config in 'cluster': Juju cannot"
        f" read {json.loads(dict(peer_of(gone).local_app_data)['secret-id'])}: "
    )


class TwoSecrets(pydantic.BaseModel):
    first: pydantic.SecretStr | None = None
    second: pydantic.SecretStr | None = None


def test_a_secret_that_lacks_the_fields_content_names_every_missing_field():
    config = TwoSecrets(first=pydantic.SecretStr("1"), second=pydantic.SecretStr("2"))
    follower = published_state("cluster", config, peers_data={0: {}})
    (secret,) = follower.secrets
    emptied = {k: v for k, v in secret.tracked_content.items() if k not in ("first", "second")}
    secret = dataclasses.replace(secret, tracked_content=emptied, latest_content=emptied)
    state = dataclasses.replace(follower, secrets={secret})

    def read(charm: Any) -> None:
        with pytest.raises(SecretUnavailableError) as caught:
            charm.shared.get()
        assert caught.value.fields == ("first", "second")
        assert str(caught.value) == (
            "cannot read secret field(s) first, second of the shared config in 'cluster':"
            " the secret does not hold them"
        )

    _run(_charm(TwoSecrets), state, read)


def test_every_undecodable_key_is_named_in_one_message():
    state = testing.State(relations={peer({"log_level": "nope", "members": "[1"}, peers=(0,))})

    def read(charm: Any) -> None:
        with pytest.raises(InvalidConfigError) as caught:
            charm.shared.get()
        assert caught.value.keys == ("log_level", "members")
        message = str(caught.value)
        assert message.startswith(
            "the shared config in the 'cluster' application databag is invalid for Shared:"
            " 'log_level': not JSON ("
        )
        assert "); 'members': not JSON (" in message

    _run(SharedCharm, state, read)


class Generated(pydantic.BaseModel):
    first: str = pydantic.Field(default_factory=lambda: "generated")
    second: str = pydantic.Field(default_factory=lambda: "generated")
    plain: str = "p"


def test_a_pending_fields_error_names_every_awaited_field_and_the_relation():
    state = testing.State(relations={peer({"plain": '"p"'}, peers=(0,))})

    def read(charm: Any) -> None:
        with pytest.raises(PendingFieldsError) as caught:
            charm.shared.get()
        assert caught.value.fields == ("first", "second")
        assert caught.value.relation_name == "cluster"
        assert str(caught.value) == (
            "the shared config in 'cluster' lacks first, second, which only the leader"
            " generates: the leader has not published them yet"
        )

    _run(_charm(Generated), state, read)


def test_a_follower_awaiting_a_generated_field_logs_it_at_debug_level_only(
    caplog: pytest.LogCaptureFixture,
):
    state = testing.State(relations={peer({"plain": '"p"'}, peers=(0,))})
    with caplog.at_level(logging.DEBUG, logger="charms.leader_config"):
        _run(_charm(Generated), state, hook="relation_changed")
    debug = [r for r in caplog.records if r.name.startswith("charms.leader_config")]
    assert [r.levelno for r in debug] == [logging.DEBUG]
    assert debug[0].getMessage() == (
        "the shared config in 'cluster' lacks first, second, which only the leader generates:"
        " the leader has not published them yet"
    )


def test_undecodable_data_is_reported_before_a_pending_field():
    state = testing.State(relations={peer({"plain": "not json"}, peers=(0,))})

    def read(charm: Any) -> None:
        with pytest.raises(InvalidConfigError, match="'plain': not JSON"):
            charm.shared.get()

    _run(_charm(Generated), state, read)


class Checked(pydantic.BaseModel):
    low: int = 1
    high: int = 2

    @pydantic.model_validator(mode="after")
    def _ordered(self) -> Checked:
        if self.low > self.high:
            raise ValueError("low above high")
        return self


def test_a_model_level_validation_error_names_every_key_present():
    state = testing.State(relations={peer({"low": "5", "high": "3", "other": "x"}, peers=(0,))})

    def read(charm: Any) -> None:
        with pytest.raises(InvalidConfigError) as caught:
            charm.shared.get()
        assert caught.value.keys == ("high", "low")
        assert "low above high" in str(caught.value)

    _run(_charm(Checked), state, read)


@pytest.mark.parametrize(("stored", "revision"), [("0", 0), ("7", 7)])
def test_a_stored_revision_of_zero_or_more_is_read_as_it_is(stored: str, revision: int):
    data = {"log_level": '"info"', "members": "[]", REVISION: stored}
    seen: list[tuple[int | None, Shared | None]] = []
    _run(
        SharedCharm,
        testing.State(relations={peer(data, peers=(0,))}),
        lambda c: seen.append((c.shared.revision, c.shared.get())),
    )
    assert seen == [(revision, Shared())]


@pytest.mark.parametrize("stored", ["-1", '"3"', "1.5", "true"])
def test_a_stored_revision_that_is_not_a_whole_number_is_invalid(stored: str):
    data = {"log_level": '"info"', "members": "[]", REVISION: stored}

    def read(charm: SharedCharm) -> None:
        with pytest.raises(InvalidConfigError) as caught:
            charm.shared.get()
        assert caught.value.keys == (REVISION,)
        assert "not a revision number" in str(caught.value)

    _run(SharedCharm, testing.State(relations={peer(data, peers=(0,))}), read)


@pytest.mark.parametrize("stored", ['""', "5", "not json"])
def test_a_secret_id_key_that_holds_no_secret_id_is_a_clear_error(stored: str):
    data = {"token": '"marker"', "region": '"eu"', "secret-id": stored}

    def read(charm: Any) -> None:
        with pytest.raises(
            SecretUnavailableError,
            match=r"of the shared config in 'cluster': the databag key 'secret-id' holds no"
            r" secret id$",
        ):
            charm.shared.get()

    _run(_charm(Token), testing.State(relations={peer(data, peers=(0,))}), read)


@pytest.mark.modules
def test_invalid_adopted_values_name_the_relation_and_no_key():
    class Bad(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = LeaderConfig(self, "cluster", Shared, migrate=self._legacy)

        def _legacy(self, relation: ops.Relation) -> Legacy:
            return Legacy({"log_level": "trace", "colour": "red", "shade": "x"})

    def read(charm: Any) -> None:
        with pytest.raises(InvalidConfigError) as caught:
            charm.shared.get()
        assert (caught.value.relation_name, caught.value.keys) == ("cluster", ())
        assert "unknown field(s) colour, shade" in str(caught.value)

    _run(Bad, testing.State(relations={peer({"x": "1"}, peers=(0,))}), read)


@pytest.mark.modules
def test_a_failing_migrate_names_the_relation_and_the_exception_type():
    class Failing(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = LeaderConfig(self, "cluster", Shared, migrate=self._legacy)

        def _legacy(self, relation: ops.Relation) -> Legacy:
            raise KeyError("old-key")

    def read(charm: Any) -> None:
        with pytest.raises(LeaderConfigError) as caught:
            charm.shared.get()
        assert caught.value.relation_name == "cluster"
        assert "migrate failed for the shared config in 'cluster': KeyError" in str(caught.value)

    _run(Failing, testing.State(relations={peer({"x": "1"}, peers=(0,))}), read)


@pytest.mark.modules
def test_a_write_refused_while_legacy_keys_are_in_use_names_the_relation():
    class Colliding(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = LeaderConfig(self, "cluster", Shared, migrate=self._legacy)

        def _legacy(self, relation: ops.Relation) -> Legacy:
            return Legacy({"log_level": relation.data[self.app]["log_level"]})

    state = testing.State(leader=True, relations={peer({"log_level": "debug"}, peers=(1,))})

    def write(charm: Any) -> None:
        with pytest.raises(NotReadyError) as caught:
            charm.shared.update(members=["a"])
        assert caught.value.relation_name == "cluster"
        assert "units on the old revision still read the legacy data" in str(caught.value)

    _run(Colliding, state, write)


def test_an_unknown_field_is_named_with_the_known_ones_separated_by_commas():
    def write(charm: SharedCharm) -> None:
        with pytest.raises(
            ValueError, match=r"unknown field\(s\) a, b for Shared \(fields: log_level, members\)"
        ):
            charm.shared.update(a=1, b=2)

    _run(SharedCharm, published_state("cluster", Shared(), leader=True), write)


def test_a_follower_is_told_that_only_the_leader_writes():
    def write(charm: SharedCharm) -> None:
        with pytest.raises(
            LeaderConfigError, match="app/1 is not the leader: only the leader can write"
        ):
            charm.shared.update(log_level="debug")

    _run(SharedCharm, published_state("cluster", Shared(), peers_data={0: {}}), write)


def test_a_write_before_the_relation_exists_says_when_it_will():
    def write(charm: SharedCharm) -> None:
        with pytest.raises(
            NotReadyError, match=r" relation does not exist \(it is created after install\)$"
        ):
            charm.shared.update(log_level="debug")

    _run(SharedCharm, testing.State(leader=True), write, hook="install")


# Secret limits: the boundaries


class FourteenSecrets(pydantic.BaseModel):
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
    s13: pydantic.SecretStr | None = None


@pytest.mark.parametrize(("last", "allowed"), [(2304, True), (2305, False)])
def test_secret_content_up_to_the_total_limit_less_room_for_the_stamp_is_written(
    last: int, allowed: bool
):
    # 12 values of 5,120 bytes base64-encoded, one of 3,072 (or 3,076): 64,512 is the most.
    values: dict[str, Any] = {f"s{i:02d}": pydantic.SecretStr("x" * 3840) for i in range(12)}
    values["s12"] = pydantic.SecretStr("y" * last)  # s13 stays None: it counts nothing

    def write(charm: Any) -> None:
        if allowed:
            charm.shared.update(**values)
        else:
            with pytest.raises(ValueError, match="are 64516 bytes base64-encoded"):
                charm.shared.update(**values)

    out, _ = _run(
        _charm(FourteenSecrets), published_state("cluster", FourteenSecrets(), leader=True), write
    )
    assert bool(out.secrets) == allowed


# Wire format details


class Loose(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")
    name: str = "x"


class WithLoose(pydantic.BaseModel):
    inner: Loose = Loose()
    mixed: set[int | str] = set()
    groups: dict[str, frozenset[str]] = {}
    raw: pydantic.Json[list[int]] = "[]"  # pyright: ignore[reportAssignmentType]


def test_extra_fields_of_nested_models_mixed_sets_and_json_fields_round_trip():
    charm = _charm(WithLoose)
    config = WithLoose(
        inner=Loose(name="y", colour="red"),  # pyright: ignore[reportCallIssue]
        mixed={3, "a", 1},
        groups={"g": frozenset({"b", "a"})},
        raw="[1, 2]",  # pyright: ignore[reportArgumentType]
    )
    out, _ = _run(
        charm, testing.State(leader=True, relations={peer()}), lambda c: c.shared.set(config)
    )
    data = app_data(out)
    assert json.loads(data["inner"]) == {"name": "y", "colour": "red"}
    assert data["mixed"] == '["a", 1, 3]'  # ordered by each item's JSON
    assert data["groups"] == '{"g": ["a", "b"]}'
    seen: list[Any] = []
    _run(charm, follower_state(out, "cluster"), lambda c: seen.append(c.shared.get()))
    assert seen == [config]


def test_a_validation_error_masks_the_inputs_of_secret_fields_and_of_no_other():
    def write(charm: Any) -> None:
        with pytest.raises(pydantic.ValidationError) as caught:
            charm.shared.update(token=12345, region=678)
        inputs = {(error["loc"][0], error["input"]) for error in caught.value.errors()}
        assert inputs == {("token", "**********"), ("region", 678)}

    _run(_charm(Token), testing.State(leader=True, relations={peer()}), write)


def test_a_validation_errors_text_shows_no_input_so_a_mask_never_contradicts_its_type():
    def write(charm: Any) -> None:
        with pytest.raises(pydantic.ValidationError) as caught:
            charm.shared.update(token=["a list"], region=678)
        text = str(caught.value)
        assert "token\n  Input should be a valid string [type=string_type]" in text
        assert "input_value" not in text
        assert "input_type" not in text
        assert all("url" in error for error in caught.value.errors())  # pydantic's own types

    _run(_charm(Token), testing.State(leader=True, relations={peer()}), write)


# Secret removal recognises the config's secret by id, in either URI form


@pytest.mark.parametrize(
    ("form", "stored_form", "removed"),
    [
        ("secret://0b5b2d9c-model/{id}", "secret:{id}", True),
        ("secret:{id}", "secret://0b5b2d9c-model/{id}", True),
        ("secret://0b5b2d9c-model/another", "secret:{id}", False),
        ("secret:another", "secret://0b5b2d9c-model/{id}", False),
    ],
    ids=[
        "event-in-the-long-form",
        "databag-in-the-long-form",
        "another-secret",
        "another-secret-databag-long",
    ],
)
def test_secret_remove_recognises_the_configs_secret_by_id_in_either_form(
    form: str, stored_form: str, removed: bool
):
    charm = _charm(Token)
    published, _ = _run(
        charm,
        testing.State(leader=True, relations={peer()}),
        lambda c: c.shared.update(token=pydantic.SecretStr("t")),
    )
    (secret,) = published.secrets
    stored_id: str = json.loads(app_data(published)["secret-id"])
    bare_id = stored_id.removeprefix("secret:")
    other = dataclasses.replace(secret, id=form.format(id=bare_id), label="another-label")
    relation = peer_of(published)
    data = {**relation.local_app_data, "secret-id": json.dumps(stored_form.format(id=bare_id))}
    relation = dataclasses.replace(relation, local_app_data=data)
    state = dataclasses.replace(published, secrets={other}, relations={relation})
    ctx = testing.Context(charm, meta=META, juju_version="3.6.4")
    calls: list[Any] = []
    with ctx(ctx.on.secret_remove(other, revision=1), state) as mgr:
        backend: Any = mgr.charm.model._backend  # pyright: ignore[reportPrivateUsage]
        backend.secret_remove = lambda *_, **kwargs: calls.append(kwargs)  # pyright: ignore[reportUnknownLambdaType]
        mgr.run()
    assert calls == ([{"revision": 1}] if removed else [])


# Logs


def test_the_end_of_hook_publish_logs_which_config_was_not_published_and_why(
    caplog: pytest.LogCaptureFixture,
):
    def refuse(charm: SharedCharm) -> None:
        backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]

        def refused(*_: Any, **__: Any) -> None:
            raise ops.ModelError("ERROR permission denied")

        backend.relation_set = refused

    with caplog.at_level(logging.WARNING):
        _run(
            SharedCharm,
            testing.State(leader=True, relations={peer()}),
            refuse,
            hook="leader_elected",
        )
    (message,) = _messages(caplog)
    assert message.startswith(
        "LeaderConfig(relation_name='cluster', schema=Shared): not published:"
    )
    assert "permission denied" in message


def test_a_secret_change_juju_cannot_undo_is_logged(caplog: pytest.LogCaptureFixture):
    charm = _charm(Token)
    published, _ = _run(
        charm,
        testing.State(leader=True, relations={peer()}),
        lambda c: c.shared.update(token=pydantic.SecretStr("t-1")),
    )

    def fail_both(charm: Any) -> None:
        backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]
        original = backend.secret_set
        sets: list[int] = []

        def secret_set(*args: Any, **kwargs: Any) -> Any:
            sets.append(1)
            if len(sets) > 1:  # the undo
                raise ops.ModelError("ERROR undo refused")
            return original(*args, **kwargs)

        def relation_set(*_: Any, **__: Any) -> None:
            raise ops.ModelError("ERROR refused")

        backend.secret_set = secret_set
        backend.relation_set = relation_set
        with pytest.raises(LeaderConfigError):
            charm.shared.update(token=pydantic.SecretStr("t-2"))

    with caplog.at_level(logging.WARNING):
        _run(charm, published, fail_both)
    assert (
        "LeaderConfig(relation_name='cluster', schema=Token): could not undo the secret change"
        in _messages(caplog)
    )


def test_an_old_secret_juju_cannot_remove_is_logged_and_the_write_stands(
    caplog: pytest.LogCaptureFixture,
):
    charm = _charm(Token)
    published, _ = _run(
        charm,
        testing.State(leader=True, relations={peer()}),
        lambda c: c.shared.update(token=pydantic.SecretStr("t-1")),
    )

    def remove_the_secret_field(charm: Any) -> None:
        backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]

        def refused(*_: Any, **__: Any) -> None:
            raise ops.ModelError("ERROR remove refused")

        backend.secret_remove = refused
        charm.shared.update(token=None)

    with caplog.at_level(logging.WARNING):
        out, _ = _run(charm, published, remove_the_secret_field)
    assert _messages(caplog) == [
        "LeaderConfig(relation_name='cluster', schema=Token): could not remove the old"
        " secret: ERROR remove refused"
    ]
    assert "secret-id" not in app_data(out)


def test_a_relation_set_on_a_relation_that_is_gone_says_so():
    def write(charm: SharedCharm) -> None:
        backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]

        def gone(*_: Any, **__: Any) -> None:
            raise ops.RelationNotFoundError()

        backend.relation_set = gone
        with pytest.raises(NotReadyError) as caught:
            charm.shared.update(log_level="debug")
        assert str(caught.value) == "the 'cluster' peer relation is gone"
        assert caught.value.relation_name == "cluster"

    _run(SharedCharm, testing.State(leader=True, relations={peer()}), write)


def test_a_secret_that_is_gone_is_replaced_and_the_replacement_logged(
    caplog: pytest.LogCaptureFixture,
):
    charm = _charm(Token)
    published, _ = _run(
        charm,
        testing.State(leader=True, relations={peer()}),
        lambda c: c.shared.update(token=pydantic.SecretStr("t-1")),
    )
    gone = dataclasses.replace(published, secrets=frozenset())
    with caplog.at_level(logging.WARNING):
        out, _ = _run(charm, gone, lambda c: c.shared.set(Token(token=pydantic.SecretStr("t-2"))))
    assert _messages(caplog) == ["leader-config-cluster: the secret is gone; writing a new one"]
    assert len(out.secrets) == 1


# What is never done


def test_without_acknowledge_or_migrate_the_leader_reads_no_unit_databag():
    state = published_state("cluster", Shared(), leader=True, peers_data={1: {"x": "1"}})
    handled, _ = _run(SharedCharm, state, hook="leader_elected")
    reads: list[str] = []
    _run(SharedCharm, handled, lambda c: recording_unit_reads(c, reads), hook="relation_changed")
    assert reads == []


@pytest.mark.modules
def test_complete_valid_own_data_is_published_data_and_migrate_is_not_called():
    calls: list[str] = []

    class Adopting(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = LeaderConfig(self, "cluster", Shared, migrate=self._legacy)

        def _legacy(self, relation: ops.Relation) -> Legacy | None:
            calls.append("migrate")
            return Legacy({"log_level": "debug"})

    data = {"log_level": '"info"', "members": '["a"]'}  # an earlier patch's data
    seen: list[Any] = []
    _run(
        Adopting,
        testing.State(relations={peer(data, peers=(0,))}),
        lambda c: seen.append(c.shared.get()),
    )
    assert seen == [Shared(members=["a"])]
    assert calls == []


@pytest.mark.modules
def test_legacy_data_is_retired_once_per_leader_and_migrate_is_not_called_again():
    calls: list[str] = []

    class Adopting(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = LeaderConfig(self, "cluster", Shared, prefix="lc-", migrate=self._legacy)

        def _legacy(self, relation: ops.Relation) -> Legacy | None:
            calls.append("migrate")
            level = relation.data[self.app].get("level")
            return None if level is None else Legacy({"log_level": level}, keys=("level",))

    state = testing.State(leader=True, relations={peer({"level": "debug"}, peers=())})
    out, _ = _run(Adopting, state, hook="upgrade_charm")
    assert "level" not in app_data(out)
    calls.clear()
    out, _ = _run(Adopting, out, hook="leader_elected")
    relation = dataclasses.replace(peer_of(out), peers_data={1: {"lc-leader-config-unit": "{}"}})
    _run(Adopting, dataclasses.replace(out, relations={relation}), hook="relation_changed")
    assert calls == []


def test_rotating_a_secret_alone_is_a_new_revision():
    charm = _charm(Token)
    out, _ = _run(
        charm,
        published_state("cluster", Token(token=pydantic.SecretStr("a")), leader=True),
        lambda c: c.shared.update(token=pydantic.SecretStr("b")),
    )
    assert app_data(out)[REVISION] == "2"


# Rollouts: the edges


class AckOnly(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared, acknowledge=True)


class MigrateOnly(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared, migrate=lambda _: None)


@pytest.mark.modules
def test_rollout_without_a_peer_relation_has_this_unit_pending():
    seen: list[Rollout] = []
    _run(
        AckOnly,
        testing.State(leader=True),
        lambda c: seen.append(c.shared.rollout()),
        hook="install",
    )
    assert seen == [Rollout(None, frozenset(), frozenset({"app/0"}))]


@pytest.mark.modules
def test_migrate_without_acknowledge_does_not_enable_acknowledgements_or_applied():
    def misuse(charm: Any) -> None:
        with pytest.raises(RuntimeError, match="acknowledge=True: pass it to use acknowledge"):
            charm.shared.acknowledge()

    out, ctx = _run(
        MigrateOnly,
        published_state("cluster", Shared(), leader=True),
        misuse,
        hook="leader_elected",
    )
    assert [e for e in ctx.emitted_events if isinstance(e, LeaderConfigAppliedEvent)] == []
    assert json.loads(peer_of(out).local_unit_data["leader-config-unit"]) == {}


@pytest.mark.modules
def test_a_unit_record_without_an_applied_revision_applied_nothing():
    state = published_state(
        "cluster", Shared(), leader=True, peers_data={1: {"leader-config-unit": "{}"}}
    )
    seen: list[Rollout] = []
    _run(AckOnly, state, lambda c: seen.append(c.shared.rollout()))
    assert "app/1" in seen[0].pending


@pytest.mark.modules
def test_the_leaders_own_acknowledgement_counts_once_its_tally_is_built():
    state = published_state(
        "cluster", Shared(), leader=True, peers_data={1: {"leader-config-unit": '{"applied": 1}'}}
    )
    seen: list[Rollout] = []

    def ack_then_look(charm: Any) -> None:
        seen.append(charm.shared.rollout())  # builds the tally
        charm.shared.acknowledge()
        seen.append(charm.shared.rollout())

    _, ctx = _run(AckOnly, state, ack_then_look)
    assert [r.complete for r in seen] == [False, True]
    assert [e.revision for e in ctx.emitted_events if isinstance(e, LeaderConfigAppliedEvent)] == [
        1
    ]


# Deprecated names


def test_the_deprecated_helpers_pass_every_argument_on_and_warn_at_the_caller():
    config = Token(token=pydantic.SecretStr("t-1"))
    with pytest.warns(DeprecationWarning, match="peer_relation_with is deprecated") as warned:
        relation, secrets = leader_config.peer_relation_with("cluster", config, prefix="x-", id=9)
    assert warned[0].filename != leader_config.__file__  # it points at the caller
    assert relation.id == 9
    assert "x-token" in relation.local_app_data
    state = testing.State(relations={relation}, secrets=secrets)
    with pytest.warns(DeprecationWarning, match="config_from_state is deprecated"):
        assert leader_config.config_from_state(state, "cluster", Token, prefix="x-") == config


def test_a_deprecated_helper_without_the_testing_library_says_how_to_fetch_it(
    monkeypatch: pytest.MonkeyPatch,
):
    package = sys.modules["charms.leader_config.v0"]
    monkeypatch.delattr(package, "testing", raising=False)
    monkeypatch.setitem(sys.modules, "charms.leader_config.v0.testing", None)  # not fetched
    deprecated = pytest.warns(DeprecationWarning, match="is deprecated")
    with deprecated, pytest.raises(ImportError) as caught:
        leader_config.peer_relation_with("cluster", Token())
    assert str(caught.value) == (
        "peer_relation_with moved to the charms.leader_config.v0.testing library: copy"
        " testing.py from the charms.leader_config repository or its wheel"
    )


def test_a_changed_event_handler_sees_the_revision_of_the_view():
    _, ctx = _run(
        SharedCharm, published_state("cluster", Shared(), leader=True), hook="leader_elected"
    )
    (event,) = [e for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)]
    assert event.revision == 1


class OddReplicas(pydantic.BaseModel):
    token: pydantic.SecretStr | None = None
    replicas: int = 1

    @pydantic.field_validator("replicas")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise pydantic_core.PydanticCustomError("even", "replicas must be odd, not {n}")
        return value


def test_a_validators_own_error_type_is_pydantics_error_with_secret_fields_too():
    def write(charm: Any) -> None:
        with pytest.raises(pydantic.ValidationError) as caught:
            charm.shared.update(replicas=2, token=["not text"])
        assert "input_value" not in str(caught.value)
        errors = [(e["loc"], e["type"], e["msg"], e["input"]) for e in caught.value.errors()]
        assert sorted(errors) == [
            (("replicas",), "even", "replicas must be odd, not {n}", 2),
            (("token",), "string_type", "Input should be a valid string", "**********"),
        ]

    _run(_charm(OddReplicas), testing.State(leader=True, relations={peer()}), write)
