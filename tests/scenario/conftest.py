"""Shared test charms, schemas and helpers for the scenario tests."""

from __future__ import annotations

import gc
from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0.leader_config import LeaderConfig, LeaderConfigChangedEvent, Legacy


class Shared(pydantic.BaseModel):
    log_level: Literal["debug", "info"] = "info"
    members: list[str] = []


META: dict[str, Any] = {
    "name": "app",
    "peers": {"cluster": {"interface": "app_cluster"}},
    "requires": {"db": {"interface": "db"}},
}


class SharedCharm(ops.CharmBase):
    """A charm with one LeaderConfig[Shared] on the `cluster` peer relation."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared)
        framework.observe(self.shared.on.changed, self._on_changed)

    def _on_changed(self, event: LeaderConfigChangedEvent) -> None:
        cfg = self.shared.get()
        if cfg is not None:
            self.unit.status = ops.ActiveStatus(f"log_level={cfg.log_level}")


def make_context(*, unit_id: int = 0) -> testing.Context[SharedCharm]:
    """A fresh context for SharedCharm (emitted events accumulate per context)."""
    return testing.Context(SharedCharm, meta=META, unit_id=unit_id)


@pytest.fixture
def ctx() -> testing.Context[SharedCharm]:
    return make_context()


def peer(
    app_data: Mapping[str, str] | None = None,
    *,
    peers: tuple[int, ...] = (1, 2),
    relation_id: int = 7,
) -> testing.PeerRelation:
    """The `cluster` peer relation holding `app_data`, with the given other units."""
    return testing.PeerRelation(
        "cluster",
        id=relation_id,
        local_app_data=dict(app_data or {}),
        peers_data={unit: {} for unit in peers},
    )


def peer_of(state: testing.State) -> testing.PeerRelation:
    """The `cluster` peer relation in `state`."""
    (relation,) = state.get_relations("cluster")
    if not isinstance(relation, testing.PeerRelation):
        raise TypeError(f"not a peer relation: {relation!r}")
    return relation


def app_data(state: testing.State) -> dict[str, str]:
    """The application databag of the `cluster` peer relation in `state`."""
    return dict(peer_of(state).local_app_data)


def changed_events(ctx: testing.Context[Any]) -> list[frozenset[str]]:
    """The field names of each changed event the context emitted."""
    return [e.changed for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)]


def follower_state(leader_out: testing.State, *, unit_id: int = 1) -> testing.State:
    """The state a follower sees once the leader's output state has been committed.

    The leader's app databag and app-owned secrets become the follower's; the
    follower's peers are the leader (unit 0) and the other units.
    """
    relation = peer_of(leader_out)
    peers: dict[int, dict[str, str]] = {u: {} for u in {0, *relation.peers_data} if u != unit_id}
    followed = testing.PeerRelation(
        "cluster", id=relation.id, local_app_data=dict(relation.local_app_data), peers_data=peers
    )
    return testing.State(leader=False, relations={followed}, secrets=leader_out.secrets)


def recording_unit_reads(charm: ops.CharmBase, reads: list[str]) -> None:
    """Append to `reads` the name of each unit whose databag the charm reads (relation-get)."""
    backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]
    original: Callable[..., Any] = backend.relation_get

    def relation_get(relation_id: int, member: str, is_app: bool, **kwargs: Any) -> Any:
        if not is_app:
            reads.append(member)
        return original(relation_id, member, is_app, **kwargs)

    backend.relation_get = relation_get


@contextmanager
def counting_relation_sets(charm: ops.CharmBase) -> Generator[list[dict[str, str]], None, None]:
    """Record every relation-set the charm sends, with its keys, while the block runs."""
    backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]
    original: Callable[..., None] = backend.relation_set
    calls: list[dict[str, str]] = []

    def relation_set(relation_id: int, data: Mapping[str, str], is_app: bool, **kwargs: Any):
        calls.append(dict(data))
        original(relation_id, data, is_app, **kwargs)

    backend.relation_set = relation_set
    try:
        yield calls
    finally:
        backend.relation_set = original


@pytest.fixture(autouse=True)
def _collect_garbage_between_tests() -> Generator[None, None, None]:
    """Collect garbage after each test, at a point where no context variable is being set.

    On Python before 3.12, a garbage collection that runs while a `ContextVar` is set
    and finalizes an abandoned tracing span (ops traces every hook) can crash the
    interpreter (CPython gh-148891); collecting between tests keeps that garbage from
    piling up until a collection falls inside a later hook.
    """
    yield
    gc.collect(1)  # the young generations, where a test's garbage is: cheap


class LegacyCluster(pydantic.BaseModel):
    state: str = "new"
    salt: str = "fresh"
    password: pydantic.SecretStr | None = None


class AdoptingCharm(ops.CharmBase):
    """Adopts legacy plaintext under the schema's own keys (no prefix) and a legacy secret."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", LegacyCluster, migrate=self.legacy)

    def legacy(self, relation: ops.Relation) -> Legacy | None:
        old = relation.data[self.app]
        if "cluster-state" not in old:
            return None
        secret = self.model.get_secret(id=old["admin-secret-id"])
        values = {
            "state": old["cluster-state"],
            "salt": old["salt"],
            "password": secret.get_content()["password"],
        }
        return Legacy(values, keys=["cluster-state", "admin-secret-id"], secret=secret)
