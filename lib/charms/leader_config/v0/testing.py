"""Test helpers for charms that use `charms.leader_config.v0.leader_config` (docs/testing.md).

Each runs a real `LeaderConfig`, through the core's public names only, in a throwaway
ops.testing run of a minimal charm (cached by the values it is given). The Harness
helpers, `publish_to_harness` and `config_from_harness`, are in `testing_harness.py`.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import logging
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, NamedTuple, TypeVar, cast

import ops
import pydantic
from ops import testing

from charms.leader_config.v0.leader_config import LeaderConfig, Legacy

LIBID = "9e3b6a1f5c2d4e8b9a7f0c1d2e3f4a5b"
LIBAPI = 0
LIBPATCH = 6
PYDEPS = ["pydantic>=2,<3"]

ConfigT = TypeVar("ConfigT", bound=pydantic.BaseModel)
_R = TypeVar("_R")
_Migrate = Callable[[Any, ops.Relation], "Legacy | Mapping[str, Any] | None"]
_Data = frozenset[tuple[str, str]]  # a databag, hashable
# Wire-format keys (after the prefix), frozen within v0; checked against what the core does.
_REVISION_KEY = "leader-config-revision"
_APP_OWNED = ("app", "application")  # scenario 7 can show the charm's app secret as 'application'


def peer_relation(
    relation_name: str, config: pydantic.BaseModel, *, prefix: str = "", **relation_args: Any
) -> tuple[testing.PeerRelation, frozenset[testing.Secret]]:
    """Return the peer relation holding `config` as the leader publishes it, and its secrets.

    Args:
        relation_name: the peer endpoint.
        config: the config; the relation is at config revision 1, and the secrets are the
            app secret of its secret fields, labelled as the library labels it (if any).
        prefix: the `prefix` the charm gives its `LeaderConfig`.
        relation_args: for `testing.PeerRelation` (`peers_data`, `id`, `local_app_data`...).

    Raises:
        ValueError: if the library refuses `config` (invalid, or a secret over Juju's limit).
    """
    data, secret = _published(relation_name, config, prefix)
    local_app_data = {**relation_args.pop("local_app_data", {}), **dict(data)}
    relation = testing.PeerRelation(relation_name, local_app_data=local_app_data, **relation_args)
    return relation, frozenset([_secret(secret)] if secret else [])


def published_state(
    relation_name: str,
    config: pydantic.BaseModel,
    *,
    leader: bool = False,
    prefix: str = "",
    state: testing.State | None = None,
    **relation_args: Any,
) -> testing.State:
    """Return a state whose peer relation holds `config` as the leader publishes it.

    Args:
        relation_name: the peer endpoint.
        config: the config (at config revision 1).
        leader: whether the unit under test is the leader.
        prefix: the `prefix` the charm gives its `LeaderConfig`.
        state: a state to start from (its relation on `relation_name` is replaced).
        relation_args: as for `peer_relation`; a follower's `peers_data` names the leader.

    Raises:
        ValueError: as `peer_relation`.
    """
    base = state or testing.State()
    relation, secrets = peer_relation(relation_name, config, prefix=prefix, **relation_args)
    others = {r for r in base.relations if r.endpoint != relation_name}
    relations, secrets = frozenset({*others, relation}), frozenset({*base.secrets, *secrets})
    return dataclasses.replace(base, leader=leader, relations=relations, secrets=secrets)


def follower_state(
    leader_out: testing.State,
    relation_name: str,
    *,
    unit_id: int = 1,
    leader_id: int = 0,
    state: testing.State | None = None,
) -> testing.State:
    """Return the state a follower starts from once the leader's output state is committed.

    It keeps its own unit databag, stored state, secrets and tracked revisions, and gets
    what the commit shows it: the app databag, the leader's unit databag and view of the
    other peers, and the app secrets' latest content.

    Args:
        leader_out: the leader's output state.
        relation_name: the peer endpoint.
        unit_id: the follower's unit number (give it to the follower's Context).
        leader_id: the leader's unit number.
        state: the follower's own last output state; without it, the follower's unit
            databag is what the leader saw of it.

    Raises:
        TypeError: if `relation_name` is not a peer relation in `leader_out`.
    """
    relation = next(iter(leader_out.get_relations(relation_name)), None)
    if not isinstance(relation, testing.PeerRelation):
        raise TypeError(f"{relation_name!r} is not a peer relation in {leader_out!r}")
    base = state or testing.State()
    own = base.get_relations(relation_name)
    peers = {unit: data for unit, data in relation.peers_data.items() if unit != unit_id}
    followed = dataclasses.replace(
        relation,
        local_unit_data=own[0].local_unit_data if own else relation.peers_data.get(unit_id, {}),
        peers_data={**peers, leader_id: relation.local_unit_data},
    )
    tracked = {secret.id: secret.tracked_content for secret in base.secrets}
    secrets = {s for s in base.secrets if s.owner not in _APP_OWNED} | {
        _secret(s, tracked.get(s.id)) for s in leader_out.secrets if s.owner in _APP_OWNED
    }
    relations = frozenset({*(r for r in base.relations if r.endpoint != relation_name), followed})
    return dataclasses.replace(base, leader=False, relations=relations, secrets=frozenset(secrets))


def config_from_state(
    state: testing.State,
    relation_name: str,
    schema: type[ConfigT],
    *,
    prefix: str = "",
    migrate: Callable[[Any, ops.Relation], Legacy | Mapping[str, Any] | None] | None = None,
) -> ConfigT | None:
    """Return the config that a state holds as a follower reads it, or None if there is none.

    Args:
        state: the state to read (usually an output state), secrets at their latest revision.
        relation_name: the peer endpoint.
        schema: the pydantic model of the config.
        prefix: the `prefix` the charm gives its `LeaderConfig`.
        migrate: the charm's `migrate`, unbound (`MyCharm.legacy`), to read an adoption:
            called with a throwaway charm (a model, app and unit only) and the relation,
            it sees the state's secrets, except those of a unit.

    Raises:
        InvalidConfigError: if the stored data cannot be decoded or validated.
        SecretUnavailableError: if the secret that the data names is missing.
        PendingFieldsError: if the data lacks values that only the leader generates.
        LeaderConfigError: if `migrate` raised (chained).
    """
    relations = state.get_relations(relation_name)
    if not relations:
        return None
    relation, spec = relations[0], _Spec(relation_name, schema, prefix, migrate)
    peers = getattr(relation, "peers_data", {})  # none in a relation that is no peer one
    secrets = {_secret(secret) for secret in state.secrets if secret.owner != "unit"}
    data = relation.local_app_data, relation.local_unit_data
    return _read(schema, spec, relation.id, *data, peers, secrets)


def upgraded_peer_data(prefix: str = "", *, applied: int | None = None) -> dict[str, str]:
    """Return the unit databag of a peer that runs a revision that uses this library.

    A new dict on each call: the record such a unit writes in its first hook when its charm
    gives `migrate` (the leader retires legacy data once every unit has one).

    Args:
        prefix: the `prefix` the charm gives its `LeaderConfig`.
        applied: a config revision that the peer acknowledged, if any.

    Raises:
        ValueError: if `applied` is negative.
    """
    if applied is not None and applied < 0:
        raise ValueError(f"applied must be a config revision (0 or more), not {applied}")
    return dict(_unit_record(prefix, applied))


# Throwaway runs, cached by what they are given


class _Spec(NamedTuple):
    """The throwaway charm's `LeaderConfig`, and where and in which hook it runs."""

    relation_name: str  # with `schema`, the `LeaderConfig`'s positional arguments
    schema: type[pydantic.BaseModel]
    prefix: str = ""
    migrate: _Migrate | None = None
    acknowledge: bool = False
    unit_id: int = 0
    upgrade: bool = False  # the hook is upgrade-charm, not update-status


@dataclasses.dataclass(frozen=True)
class _Run:
    key: Hashable
    make: Callable[[], Any] = dataclasses.field(compare=False)  # a failure is not kept


@functools.lru_cache(maxsize=512)
def _cached(run: _Run) -> Any:
    return run.make()


def _run(
    spec: _Spec, state: testing.State, work: Callable[[LeaderConfig[Any]], _R]
) -> tuple[_R, testing.State]:
    """What `work` returns, given the throwaway charm's `LeaderConfig`, and the output state."""

    class LeaderConfigTestCharm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            migrate = spec.migrate and functools.partial(spec.migrate, self)
            self.shared = LeaderConfig(
                self, *spec[:2], prefix=spec.prefix, migrate=migrate, acknowledge=spec.acknowledge
            )

    meta = {"name": "app", "peers": {spec.relation_name: {"interface": "leader-config"}}}
    ctx = testing.Context(LeaderConfigTestCharm, meta=meta, unit_id=spec.unit_id)
    root, disabled = logging.getLogger(), logging.root.manager.disable
    level, handlers = root.level, root.handlers[:]
    logging.disable(logging.CRITICAL)  # the run's log records and set-up are not the test's
    try:
        with ctx(ctx.on.upgrade_charm() if spec.upgrade else ctx.on.update_status(), state) as mgr:
            try:
                result = work(mgr.charm.shared)
            finally:
                out = mgr.run()  # the hook ends even if `work` raised
    finally:
        logging.disable(disabled)
        root.setLevel(level)
        root.handlers[:] = handlers
    return result, out


def _published(
    relation_name: str, config: pydantic.BaseModel, prefix: str
) -> tuple[_Data, testing.Secret | None]:
    """What the leader's first write of `config` puts in the app databag, and its secret."""

    def publish() -> tuple[_Data, testing.Secret | None]:
        state = testing.State(leader=True, relations={testing.PeerRelation(relation_name)})
        out = _run(spec, state, lambda shared: shared.set(config))[1]
        secret = next((_secret(s) for s in out.secrets), None)
        return frozenset(dict(out.get_relations(relation_name)[0].local_app_data).items()), secret

    spec = _Spec(relation_name, type(config), prefix)
    try:  # a key that tells apart configs that the library encodes apart
        dumped = config.model_dump(mode="json", round_trip=True, warnings=False)
    except (TypeError, ValueError):  # the library's own write reports it
        return publish()
    secrets = {k: v.get_secret_value() for k, v in config if isinstance(v, pydantic.SecretStr)}
    # repr tells apart values that dump alike, such as a set and a list in a union.
    key = json.dumps([repr(config), dumped, secrets], sort_keys=True, default=repr)
    return cast(
        "tuple[_Data, testing.Secret | None]", _cached(_Run(("publish", spec, key), publish))
    )


def _read(
    schema: type[ConfigT],
    spec: _Spec,
    relation_id: int,
    app_data: Mapping[str, str],
    unit_data: Mapping[str, str],
    peers: Mapping[int, Mapping[str, str]],
    secrets: Iterable[testing.Secret],
) -> ConfigT | None:
    """A copy of what the `get()` of a follower that sees these databags and secrets returns."""
    if spec.unit_id in peers:
        spec = spec._replace(unit_id=min(set(range(len(peers) + 1)) - peers.keys()))
    relation = testing.PeerRelation(
        spec.relation_name,
        id=relation_id,
        local_app_data=app_data,
        local_unit_data=unit_data,
        peers_data=peers,
    )
    state = testing.State(relations={relation}, secrets=frozenset(secrets))
    seen = repr((relation, sorted(state.secrets, key=lambda secret: secret.id)))
    get = functools.partial(_run, spec, state, lambda shared: shared.get())
    config = _cached(_Run(("read", spec, seen), get))[0]
    return config.model_copy(deep=True) if isinstance(config, schema) else None


@functools.lru_cache(maxsize=64)
def _unit_record(prefix: str, applied: int | None) -> _Data:
    """A unit's databag after its first hook with `migrate`, or once it acknowledged `applied`."""

    def acknowledge(shared: LeaderConfig[Any]) -> None:
        if applied is not None and shared.revision != applied:
            raise RuntimeError(f"leader_config no longer reads {prefix + _REVISION_KEY!r}")
        if applied is not None:
            shared.acknowledge()

    adopting = applied is None  # then the library writes the record in upgrade-charm
    migrate: _Migrate | None = (lambda charm, relation: None) if adopting else None
    schema = pydantic.create_model("Record")  # the record does not depend on the schema
    spec = _Spec("peers", schema, prefix, migrate, not adopting, upgrade=adopting)
    app_data = {} if adopting else {prefix + _REVISION_KEY: str(applied)}
    relation = testing.PeerRelation("peers", local_app_data=app_data, local_unit_data={})
    out = _run(spec, testing.State(relations={relation}), acknowledge)[1]
    return frozenset(dict(out.get_relations("peers")[0].local_unit_data).items())


def _secret(secret: testing.Secret, tracked: Mapping[str, str] | None = None) -> testing.Secret:
    """A copy of `secret` at its latest content, tracking `tracked` (by default, that)."""
    latest: dict[str, str] = dict(secret.latest_content or secret.tracked_content)
    owner = "app" if secret.owner in _APP_OWNED else secret.owner
    content = dict(latest if tracked is None else tracked)
    return testing.Secret(
        content, latest_content=latest, id=secret.id, owner=owner, label=secret.label
    )


_HARNESS = ("publish_to_harness", "config_from_harness")


def __getattr__(name: str) -> Any:
    """The Harness helpers, which live in `testing_harness.py` from testing LIBPATCH 5."""
    if name not in _HARNESS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return getattr(importlib.import_module(f"{__name__}_harness"), name)
    except ModuleNotFoundError as e:
        get = "copy it from the charms.leader_config repository or its wheel"
        raise ImportError(f"{name} is in testing_harness.py: {get}") from e
