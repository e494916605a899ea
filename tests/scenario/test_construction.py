"""Rules for building a LeaderConfig: bad wiring fails at construction, naming the problem."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0.leader_config import LeaderConfig
from conftest import META, Shared, make_context, peer


def _charm_with(relation_name: str, schema: Any) -> type[ops.CharmBase]:
    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = LeaderConfig(self, relation_name, schema)

    return Charm


@pytest.mark.parametrize("relation_name", ["db", "nope"])
def test_a_relation_that_is_not_a_peer_endpoint_is_refused_by_name(relation_name: str):
    ctx = testing.Context(_charm_with(relation_name, Shared), meta=META)
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        ctx.run(ctx.on.install(), testing.State())
    error = caught.value.__cause__
    assert isinstance(error, ValueError)
    assert repr(relation_name) in str(error)
    assert "cluster" in str(error)  # the peer endpoints that do exist


def test_a_schema_that_is_not_a_pydantic_model_is_refused():
    ctx = testing.Context(_charm_with("cluster", dict), meta=META)
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        ctx.run(ctx.on.install(), testing.State())
    assert isinstance(caught.value.__cause__, TypeError)


class SplitAlias(pydantic.BaseModel):
    name: str = pydantic.Field(default="x", serialization_alias="the-name")


class Excluded(pydantic.BaseModel):
    name: str = pydantic.Field(default="x", exclude=True)


@pytest.mark.parametrize("schema", [SplitAlias, Excluded])
def test_a_field_the_wire_format_cannot_carry_is_refused_by_name(schema: type[pydantic.BaseModel]):
    ctx = testing.Context(_charm_with("cluster", schema), meta=META)
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        ctx.run(ctx.on.install(), testing.State())
    assert isinstance(caught.value.__cause__, ValueError)
    assert f"{schema.__name__}.name" in str(caught.value.__cause__)


def test_repr_names_the_relation_and_schema():
    ctx = make_context()
    with ctx(ctx.on.update_status(), testing.State(relations={peer()})) as mgr:
        assert repr(mgr.charm.shared) == "LeaderConfig(relation_name='cluster', schema=Shared)"
        mgr.run()


class Aliased(pydantic.BaseModel):
    x: int = pydantic.Field(default=1, alias="app-x")


class Plain(pydantic.BaseModel):
    x: int = 1


def _two_objects(
    first: tuple[type[pydantic.BaseModel], str], second: tuple[type[pydantic.BaseModel], str]
) -> type[ops.CharmBase]:
    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.first = LeaderConfig(self, "cluster", first[0], prefix=first[1])
            self.second = LeaderConfig(self, "cluster", second[0], prefix=second[1])

    return Charm


@pytest.mark.parametrize(
    ("first", "second", "key"),
    [
        ((Aliased, ""), (Plain, "app-"), "app-x"),
        ((Shared, ""), (Shared, ""), "log_level"),
    ],
    ids=["alias-meets-prefix", "same-prefix"],
)
def test_objects_whose_databag_keys_would_overlap_are_refused_naming_the_key(
    first: tuple[type[pydantic.BaseModel], str],
    second: tuple[type[pydantic.BaseModel], str],
    key: str,
):
    ctx = testing.Context(_two_objects(first, second), meta=META)
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        ctx.run(ctx.on.install(), testing.State())
    error = caught.value.__cause__
    assert isinstance(error, ValueError)
    assert key in str(error)
    assert "another prefix" in str(error)


def test_objects_on_different_relations_may_use_the_same_keys():
    meta = {**META, "peers": {"cluster": {"interface": "a"}, "replicas": {"interface": "b"}}}

    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.first = LeaderConfig(self, "cluster", Shared)
            self.second = LeaderConfig(self, "replicas", Shared)

    ctx = testing.Context(Charm, meta=meta)
    ctx.run(ctx.on.install(), testing.State())


class Token(pydantic.BaseModel):
    token: pydantic.SecretStr | None = None


def _run_tls_and_cluster_tls(schema: type[pydantic.BaseModel]) -> None:
    """Install a charm with prefix `tls-` on `cluster`, and a `Token` object on `cluster-tls`."""
    meta = {**META, "peers": {"cluster": {"interface": "a"}, "cluster-tls": {"interface": "b"}}}

    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.first = LeaderConfig(self, "cluster", schema, prefix="tls-")
            self.second = LeaderConfig(self, "cluster-tls", Token)

    ctx = testing.Context(Charm, meta=meta, juju_version="3.6.4")
    ctx.run(ctx.on.install(), testing.State())


def test_objects_whose_secrets_would_share_a_label_are_refused_naming_it():
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        _run_tls_and_cluster_tls(Token)
    assert str(caught.value.__cause__) == (
        "the Token LeaderConfig would share the secret label leader-config-cluster-tls with"
        " the Token LeaderConfig; give one of them another prefix"
    )


def test_objects_without_secret_fields_claim_no_secret_label():
    _run_tls_and_cluster_tls(Shared)


@pytest.mark.skipif(
    "validate_by_name" not in pydantic.ConfigDict.__annotations__,
    reason="validate_by_name is new in pydantic 2.11",
)
def test_an_alias_that_is_another_fields_name_is_refused_where_pydantic_validates_by_name():
    class ByName(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(validate_by_name=True)  # pyright: ignore[reportCallIssue]
        count: int = pydantic.Field(default=1, alias="replicas")
        replicas: int = pydantic.Field(default=2, alias="wanted-replicas")

    ctx = testing.Context(_charm_with("cluster", ByName), meta=META)
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        ctx.run(ctx.on.install(), testing.State())
    assert str(caught.value.__cause__) == (
        "ByName.count: the alias 'replicas' is empty or another field's name"
    )


class Swapped(pydantic.BaseModel):
    """A rename that keeps each key: pydantic reads these by alias only."""

    leader_host: str = pydantic.Field(default="a", alias="primary")
    primary: str = pydantic.Field(default="b", alias="replica")


def test_an_alias_that_is_another_fields_name_is_accepted_in_a_model_read_by_alias_only():
    ctx = testing.Context(_charm_with("cluster", Swapped), meta=META)
    relation = peer({"primary": '"host-1"', "replica": '"host-2"', "leader-config-revision": "1"})
    with ctx(ctx.on.update_status(), testing.State(relations={relation})) as mgr:
        shared: LeaderConfig[Swapped] = getattr(mgr.charm, "shared")  # noqa: B009
        config = shared.get()
        mgr.run()
    assert config == Swapped.model_validate({"primary": "host-1", "replica": "host-2"})


class Handle:
    """A class pydantic knows only as an arbitrary type."""


class WithCallable(pydantic.BaseModel):
    hook: Callable[[], None] = print


class WithArbitraryClass(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
    handle: Handle | None = None


class WithBinaryDefault(pydantic.BaseModel):
    blob: bytes = b"\xff\xfe"


class WithEmptyAlias(pydantic.BaseModel):
    name: str = pydantic.Field(default="x", alias="")


class WithHugeSecretDefault(pydantic.BaseModel):
    token: pydantic.SecretStr = pydantic.SecretStr("x" * 6000)


class WithAliasOfAnotherField(pydantic.BaseModel):
    port: int = 1
    replicas: int = pydantic.Field(default=2, alias="port")


class WithAliasNamingAnotherField(pydantic.BaseModel):
    """Different keys, but pydantic fills `replicas` from `count`'s key by name."""

    model_config = pydantic.ConfigDict(populate_by_name=True)
    count: int = pydantic.Field(default=1, alias="replicas")
    replicas: int = pydantic.Field(default=2, alias="wanted-replicas")


class WithSharedAlias(pydantic.BaseModel):
    first: int = pydantic.Field(default=1, alias="size")
    second: int = pydantic.Field(default=2, alias="size")


@pytest.mark.parametrize(
    ("schema", "field", "reason"),
    [
        (WithCallable, "hook", "no JSON form"),
        (WithArbitraryClass, "handle", "cannot carry Handle values"),
        (WithBinaryDefault, "blob", "has no JSON form"),
        (WithEmptyAlias, "name", "the alias '' is empty or another field's name"),
        (WithHugeSecretDefault, "token", "Juju secrets hold at most 5120 bytes per value"),
        (WithAliasOfAnotherField, "replicas", "the databag key 'port' is the key of"),
        (WithAliasNamingAnotherField, "count", "the alias 'replicas' is empty or another"),
        (WithSharedAlias, "second", "the databag key 'size' is the key of WithSharedAlias.first"),
    ],
    ids=[
        "callable",
        "arbitrary-class",
        "non-utf8-bytes-default",
        "empty-alias",
        "huge-secret",
        "alias-of-another-field",
        "alias-naming-another-field",
        "two-fields-one-alias",
    ],
)
def test_a_schema_the_wire_format_cannot_carry_is_refused_at_construction_naming_the_field(
    schema: type[pydantic.BaseModel], field: str, reason: str
):
    ctx = testing.Context(_charm_with("cluster", schema), meta=META, juju_version="3.6.4")
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        ctx.run(ctx.on.install(), testing.State())
    error = caught.value.__cause__
    assert isinstance(error, ValueError)
    assert str(error).startswith(f"{schema.__name__}.{field}: ")
    assert reason in str(error)


class WithJsonableDefaults(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
    blob: bytes = b"text"
    when: datetime.date = datetime.date(2026, 1, 1)
    ports: frozenset[int] = frozenset({80, 443})
    members: list[str] = []


def test_defaults_with_a_json_form_and_known_types_are_accepted_with_arbitrary_types_allowed():
    ctx = testing.Context(_charm_with("cluster", WithJsonableDefaults), meta=META)
    out = ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations={peer()}))
    (relation,) = out.get_relations("cluster")
    assert relation.local_app_data["blob"] == '"text"'
