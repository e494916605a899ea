"""Rules for building a LeaderConfig: bad wiring fails at construction, naming the problem."""

from __future__ import annotations

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
