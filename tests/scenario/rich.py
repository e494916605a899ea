"""Schemas of the shapes real charms write: nested models, sets at depth, strict, aliases.

Importable on its own (the hash-seed test encodes them in fresh interpreters).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import NamedTuple

import pydantic
from typing_extensions import TypedDict


class Mode(enum.Enum):
    ACTIVE = "active"
    STANDBY = "standby"


class Endpoint(pydantic.BaseModel):
    host: str = "10.0.0.1"
    port: int = 5432
    tags: frozenset[str] = frozenset()


class Topology(pydantic.BaseModel):
    """Nested models, sets inside lists and dicts, an alias, an optional secret field."""

    primary: Endpoint = Endpoint()
    replicas: list[Endpoint] = []
    groups: dict[str, set[str]] = {}
    zones: list[set[str]] = []
    peers: list[str] = pydantic.Field(default=[], alias="members")
    token: pydantic.SecretStr | None = None


class StrictSettings(pydantic.BaseModel):
    """Strict mode: enums, tuples, datetimes and sets must read back from their JSON."""

    model_config = pydantic.ConfigDict(strict=True)

    mode: Mode = Mode.ACTIVE
    window: tuple[int, int] = (1, 5)
    since: datetime.datetime = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    labels: frozenset[str] = frozenset({"a"})
    endpoint: Endpoint = Endpoint()


class WithComputed(pydantic.BaseModel):
    """extra="forbid" with computed fields, at the top and in a nested model."""

    model_config = pydantic.ConfigDict(extra="forbid")

    class Inner(pydantic.BaseModel):
        """A nested model with a computed field of its own."""

        model_config = pydantic.ConfigDict(extra="forbid")
        size: int = 1

        @pydantic.computed_field
        @property
        def double(self) -> int:
            return self.size * 2

    name: str = "x"
    inner: Inner = Inner()

    @pydantic.computed_field
    @property
    def label(self) -> str:
        return f"{self.name}-{self.inner.size}"


def sample_topology() -> Topology:
    """A topology with sets at every depth, big enough that hash order varies."""
    letters = {f"member-{i}" for i in range(40)}
    return Topology(
        primary=Endpoint(tags=frozenset(letters)),
        replicas=[Endpoint(host="10.0.0.2", tags=frozenset({"x", "y", "z", *letters}))],
        groups={"b": set(letters), "a": {"q", "r", "s", "t"}},
        zones=[set(letters), {"one", "two", "three"}],
        members=["u-1", "u-0"],
    )


@dataclasses.dataclass
class Shard:
    """A plain dataclass with a set: pydantic dumps it as a dict."""

    replicas: set[str] = dataclasses.field(default_factory=set[str])


@pydantic.dataclasses.dataclass
class Placement:
    """A pydantic dataclass whose set field has an alias."""

    racks: frozenset[str] = pydantic.Field(default=frozenset(), alias="rackNames")


class Rack(pydantic.BaseModel):
    """A nested model whose set field has an alias."""

    hosts: set[str] = pydantic.Field(default=set(), alias="hostNames")


class Quota(TypedDict):
    users: set[str]


class Window(NamedTuple):
    days: frozenset[str]
    hours: int


class Inventory(pydantic.BaseModel):
    """Sets in dataclasses, a TypedDict, a NamedTuple and aliased fields, at any depth."""

    shard: Shard = Shard()
    shards: list[Shard] = []
    placement: Placement = Placement()
    rack: Rack = Rack()
    quota: Quota = {"users": set()}
    window: Window = Window(frozenset(), 0)


def sample_inventory() -> Inventory:
    """An inventory with sets big enough that hash order varies."""
    names = {f"unit-{i}" for i in range(40)}
    return Inventory(
        shard=Shard(replicas=set(names)),
        shards=[Shard(replicas={"c", "a", "b", *names})],
        placement=Placement(**{"rackNames": frozenset(names)}),
        rack=Rack(hostNames=set(names)),
        quota={"users": set(names)},
        window=Window(frozenset(names), 3),
    )
