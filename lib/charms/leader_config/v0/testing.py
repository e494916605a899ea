"""Test helpers for charms that use `charms.leader_config.v0.leader_config`.

For ops.testing (scenario): `published_state`, `peer_relation`, `follower_state`,
`config_from_state` and `upgraded_peer_data`. For Harness: `publish_to_harness` and
`config_from_harness` (Harness has no end of hook: call `harness.evaluate_status()`
where a hook would end). The README's "Testing your charm" is the manual.

The helpers use only public names of `leader_config`, so that either file can be
updated alone: a real `LeaderConfig` writes and reads the data, in a throwaway
ops.testing run of a minimal charm (a few milliseconds; calls with the same values
are served from a cache). They import `ops.testing` only when called.

Example::

    state = published_state("cluster", Shared(log_level="debug"), peers_data={0: {}})
    out = ctx.run(ctx.on.relation_changed(state.get_relations("cluster")[0], remote_unit=0), state)
    assert config_from_state(out, "cluster", Shared) == Shared(log_level="debug")
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Callable, Generator, Hashable, Iterable, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar, cast

import ops
import pydantic

from charms.leader_config.v0.leader_config import LeaderConfig, Legacy

if TYPE_CHECKING:
    from ops import testing

LIBID = "9e3b6a1f5c2d4e8b9a7f0c1d2e3f4a5b"
LIBAPI = 0
LIBPATCH = 3
PYDEPS = ["pydantic>=2,<3"]

ConfigT = TypeVar("ConfigT", bound=pydantic.BaseModel)

# A charm's `migrate` method, unbound: called with a charm and the peer relation.
_UnboundMigrate = Callable[[Any, ops.Relation], "Legacy | Mapping[str, Any] | None"]

# Application databag keys of the documented wire format, after the prefix: frozen
# within v0, as units on different patches read each other's data by them. The
# helpers check them against what the core writes and reads.
_REVISION_KEY = "leader-config-revision"
_ID_KEY = "secret-id"

_APP = "leader-config-testing"  # the throwaway charm's application, unless the test's is known


# ops.testing (scenario)


def peer_relation(
    relation_name: str, config: pydantic.BaseModel, *, prefix: str = "", **relation_args: Any
) -> tuple[testing.PeerRelation, frozenset[testing.Secret]]:
    """The peer relation, and the secrets, holding `config` as the leader publishes it.

    Args:
        relation_name: the peer endpoint.
        config: the config to hold.
        prefix: the `prefix` the charm gives its `LeaderConfig`.
        relation_args: passed on to `testing.PeerRelation` (`peers_data`, `id`,
            `local_app_data` for other keys, and so on).

    Returns:
        The relation, at config revision 1, and the secrets to put in the state:
        the app-owned secret holding the secret fields, labelled as the library
        labels it (none without secret values).

    Raises:
        ValueError: if the library refuses to publish `config` (pydantic's
            ValidationError, or a secret value over Juju's size limit).
    """
    from ops import testing

    published = _published(relation_name, config, prefix)
    secrets: frozenset[testing.Secret] = frozenset()
    if published.secret is not None:
        secrets = frozenset({_scenario_secret(published.secret)})
    local_app_data = {**relation_args.pop("local_app_data", {}), **dict(published.data)}
    relation = testing.PeerRelation(relation_name, local_app_data=local_app_data, **relation_args)
    return relation, secrets


def published_state(
    relation_name: str,
    config: pydantic.BaseModel,
    *,
    leader: bool = False,
    prefix: str = "",
    state: testing.State | None = None,
    **relation_args: Any,
) -> testing.State:
    """A state whose peer relation holds `config` as the leader publishes it.

    Example::

        state = published_state("cluster", Shared(log_level="debug"), peers_data={0: {}})

    Args:
        relation_name: the peer endpoint.
        config: the config to hold.
        leader: whether the unit under test is the leader.
        prefix: the `prefix` the charm gives its `LeaderConfig`.
        state: a state to start from (its other relations and secrets are kept;
            a relation on the same endpoint is replaced).
        relation_args: passed on to `testing.PeerRelation` (`peers_data` names the
            other units: include the leader's, 0 by default, for a follower).

    Returns:
        The state, at config revision 1.

    Raises:
        ValueError: if the library refuses to publish `config`.
    """
    from ops import testing

    base = state if state is not None else testing.State()
    relation, shared_secrets = peer_relation(relation_name, config, prefix=prefix, **relation_args)
    others = {r for r in base.relations if r.endpoint != relation_name}
    return dataclasses.replace(
        base,
        leader=leader,
        relations=frozenset({*others, relation}),
        secrets=frozenset({*base.secrets, *shared_secrets}),
    )


def follower_state(
    leader_out: testing.State,
    relation_name: str,
    *,
    unit_id: int = 1,
    leader_id: int = 0,
    state: testing.State | None = None,
) -> testing.State:
    """The state a follower starts from once the leader's output state is committed.

    The follower keeps what is its own, from `state`: its unit databag, stored
    state, and the secrets of its unit or granted to it. From the leader's commit
    it gets what that shows it: the application databag, the leader's unit
    databag and the leader's view of the other peers, and the application's
    secrets, whose latest revision has the leader's latest content (a follower
    that had one still tracks the revision it tracked). Nothing else of the
    leader's (its unit's secrets, stored state, deferred events, status).

    Example::

        state = follower_state(leader_out, "cluster", state=follower_out)
        relation = state.get_relations("cluster")[0]
        out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), state)

    Args:
        leader_out: the leader's output state.
        relation_name: the peer endpoint.
        unit_id: the follower's unit number (give it to the follower's Context).
        leader_id: the leader's unit number.
        state: the follower's own previous state (usually its last output state).
            Without it, or without the peer relation in it, the follower's unit
            databag is what the leader sees of it.

    Returns:
        The follower's state.

    Raises:
        TypeError: if `relation_name` is not a peer relation in `leader_out`.
    """
    from ops import testing

    (relation,) = leader_out.get_relations(relation_name)
    if not isinstance(relation, testing.PeerRelation):
        raise TypeError(f"{relation_name!r} is not a peer relation in {leader_out!r}")
    base = state if state is not None else testing.State()
    own = base.get_relations(relation_name)
    unit_data = own[0].local_unit_data if own else relation.peers_data.get(unit_id, {})
    peers: dict[int, dict[str, str]] = {
        unit: dict(data) for unit, data in relation.peers_data.items() if unit != unit_id
    }
    peers[leader_id] = dict(relation.local_unit_data)
    followed = testing.PeerRelation(
        relation_name,
        id=relation.id,
        local_app_data=dict(relation.local_app_data),
        local_unit_data=dict(unit_data),
        peers_data=peers,
    )
    tracked = {secret.id: secret.tracked_content for secret in base.secrets}
    app_secrets = {
        _scenario_secret(secret, tracked.get(secret.id))
        for secret in map(_secret_data, leader_out.secrets)
        if secret.owner == "app"
    }
    own_secrets = {secret for secret in base.secrets if _owner(secret.owner) != "app"}
    return dataclasses.replace(
        base,
        leader=False,
        relations=frozenset(
            {*(r for r in base.relations if r.endpoint != relation_name), followed}
        ),
        secrets=frozenset({*own_secrets, *app_secrets}),
    )


def config_from_state(
    state: testing.State,
    relation_name: str,
    schema: type[ConfigT],
    *,
    prefix: str = "",
    migrate: Callable[[Any, ops.Relation], Legacy | Mapping[str, Any] | None] | None = None,
) -> ConfigT | None:
    """Read the config that a (usually output) `testing.State` holds, as a follower reads it.

    Example::

        out = ctx.run(ctx.on.config_changed(), state)
        assert config_from_state(out, "cluster", Shared) == Shared(log_level="debug")

    Args:
        state: the state to read.
        relation_name: the peer endpoint.
        schema: the pydantic model of the config.
        prefix: the `prefix` the charm gives its `LeaderConfig`.
        migrate: the `migrate` the charm gives its `LeaderConfig`, unbound (as
            `MyCharm.legacy`), so that data being adopted reads as a follower
            reads it. It is called with a throwaway charm, which has a model, app
            and unit but none of the charm's other attributes, and the peer
            relation; it sees the state's secrets, except those of a unit.

    Returns:
        The config (secret values at their latest revision), or None if the state
        has no such relation or nothing is published (or adopted).

    Raises:
        InvalidConfigError: if the stored data cannot be decoded or validated.
        SecretUnavailableError: if the state lacks the secret that the data names.
        PendingFieldsError: if the data lacks values that only the leader generates.
        LeaderConfigError: if `migrate` raised (chained).
    """
    from ops import testing

    relations = state.get_relations(relation_name)
    if not relations:
        return None
    relation = relations[0]
    peers: Mapping[int, Mapping[str, str]] = {}
    if isinstance(relation, testing.PeerRelation):
        peers = relation.peers_data
    seen = _Seen(
        relation.id,
        _frozen(relation.local_app_data),
        _frozen(relation.local_unit_data),
        frozenset((unit, _frozen(data)) for unit, data in peers.items()),
        frozenset(s for s in map(_secret_data, state.secrets) if s.owner != "unit"),
    )
    spec = _Spec(relation_name, schema, prefix, migrate)
    return _read(schema, spec, seen, unit_id=_free_unit(peers))


def upgraded_peer_data(prefix: str = "", *, applied: int | None = None) -> dict[str, str]:
    """The unit databag of a peer that runs a revision that uses this library.

    That is the record such a unit writes in its first hook when its charm
    gives `migrate`; the leader counts it as upgraded (and retires legacy data
    once every unit is). With `applied=N`, the record of a peer that
    acknowledged config revision N. The record is wire format, the same
    throughout v0.

    Example::

        peers = {1: upgraded_peer_data(), 2: upgraded_peer_data(applied=3)}
        relation = testing.PeerRelation("cluster", peers_data=peers)

    Args:
        prefix: the `prefix` the charm gives its `LeaderConfig`.
        applied: the config revision the peer acknowledged, if any.

    Returns:
        The databag (a new dict on each call).

    Raises:
        ValueError: if `applied` is negative.
    """
    if applied is not None and applied < 0:
        raise ValueError(f"applied must be a config revision (0 or more), not {applied}")
    return dict(_RECORDS.get((prefix, applied), lambda: _unit_record(prefix, applied)))


# Harness


def publish_to_harness(
    harness: Any, relation_name: str, config: pydantic.BaseModel, *, prefix: str = ""
) -> None:
    """Put `config` into a Harness's peer relation, as the leader publishes it.

    Adds the peer relation if the Harness has none. The revision goes one above
    the stored one. Secret fields go into the app-owned secret, labelled as the
    library labels it: a new content revision of the one the databag names if
    the unit under test leads (only the leader may write it), otherwise a new
    secret, which takes the label over. On a follower, the charm gets
    `relation-changed`.

    Args:
        harness: the `ops.testing.Harness`.
        relation_name: the peer endpoint.
        config: the config to publish.
        prefix: the `prefix` the charm gives its `LeaderConfig`.

    Raises:
        ValueError: if the library refuses to publish `config`.
        RuntimeError: if the library no longer writes the documented wire format.
    """
    app = harness.model.app.name
    relation = harness.model.get_relation(relation_name)
    relation_id = relation.id if relation else harness.add_relation(relation_name, app)
    stored: dict[str, str] = dict(harness.get_relation_data(relation_id, app))
    published = _published(relation_name, config, prefix)
    data, secret = dict(published.data), published.secret
    revision_key, id_key = prefix + _REVISION_KEY, prefix + _ID_KEY
    if data.get(revision_key) != "1" or (
        secret is not None and data.get(id_key) != json.dumps(secret.id)
    ):
        raise _drifted(f"writes {revision_key!r} and {id_key!r}")
    data[revision_key] = str(_revision(stored.get(revision_key)) + 1)
    if secret is not None:
        previous = _json_string(stored.get(id_key))
        secret_id = _harness_secret(harness, previous, dict(secret.content), secret.label)
        data[id_key] = json.dumps(secret_id)
    elif stored.get(id_key):
        data[id_key] = ""  # no secret value: the key goes, as the leader does
    harness.update_relation_data(relation_id, app, data)


def config_from_harness(
    harness: Any,
    relation_name: str,
    schema: type[ConfigT],
    *,
    prefix: str = "",
    migrate: Callable[[Any, ops.Relation], Legacy | Mapping[str, Any] | None] | None = None,
) -> ConfigT | None:
    """Read the config that a Harness's peer relation holds, as a follower reads it.

    Args:
        harness: the `ops.testing.Harness`.
        relation_name: the peer endpoint.
        schema: the pydantic model of the config.
        prefix: the `prefix` the charm gives its `LeaderConfig`.
        migrate: the `migrate` the charm gives its `LeaderConfig`, unbound, as for
            `config_from_state`. It sees the secrets whose ids the application
            databag holds (as a value, or a JSON string).

    Returns:
        The config (secret values at their latest revision), or None if there is no
        such relation or nothing is published (or adopted).

    Raises:
        InvalidConfigError: if the stored data cannot be decoded or validated.
        SecretUnavailableError: if the Harness lacks the secret that the data names.
        PendingFieldsError: if the data lacks values that only the leader generates.
        LeaderConfigError: if `migrate` raised (chained).
    """
    model = harness.model
    relation = model.get_relation(relation_name)
    if relation is None:
        return None

    def databag(name: str) -> frozenset[tuple[str, str]]:
        return _frozen(harness.get_relation_data(relation.id, name))

    peers = {_unit_number(unit.name): databag(unit.name) for unit in relation.units}
    app_data = databag(model.app.name)
    seen = _Seen(
        relation.id,
        app_data,
        databag(model.unit.name),
        frozenset(peers.items()),
        _harness_secrets(harness, (value for _, value in app_data)),
    )
    spec = _Spec(relation_name, schema, prefix, migrate)
    unit_id = _free_unit(peers, _unit_number(model.unit.name))
    return _read(schema, spec, seen, unit_id=unit_id, app=model.app.name)


# Throwaway runs


@dataclasses.dataclass(frozen=True)
class _Spec:
    """What the throwaway charm makes its `LeaderConfig` with."""

    relation_name: str
    schema: type[pydantic.BaseModel]
    prefix: str = ""
    migrate: _UnboundMigrate | None = None
    acknowledge: bool = False


class _Charm(ops.CharmBase):
    """A charm with one `LeaderConfig`, made as `spec` says, and nothing else."""

    spec: ClassVar[_Spec]

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        spec = self.spec
        self.leader_config = LeaderConfig(
            self,
            spec.relation_name,
            spec.schema,
            prefix=spec.prefix,
            migrate=None if spec.migrate is None else functools.partial(spec.migrate, self),
            acknowledge=spec.acknowledge,
        )


_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")
_R = TypeVar("_R")


class _Memo(Generic[_K, _V]):
    """The values last made, by key (at most `size`); an unhashable key is never kept."""

    def __init__(self, size: int):
        self._size = size
        self._values: dict[_K, _V] = {}

    def get(self, key: _K, make: Callable[[], _V]) -> _V:
        try:
            value = self._values.pop(key)
        except TypeError:
            return make()
        except KeyError:
            value = make()  # a failure is not kept
        self._values[key] = value  # the most recent last
        if len(self._values) > self._size:
            del self._values[next(iter(self._values))]
        return value


def _charm_type(spec: _Spec) -> type[_Charm]:
    def new() -> type[_Charm]:
        class LeaderConfigTestCharm(_Charm):
            pass

        LeaderConfigTestCharm.spec = spec
        return LeaderConfigTestCharm

    return _CHARMS.get(spec, new)


def _run(
    spec: _Spec,
    state: testing.State,
    work: Callable[[LeaderConfig[Any]], _R],
    *,
    unit_id: int = 0,
    app: str = _APP,
    upgrade: bool = False,
) -> tuple[_R, testing.State]:
    """Call `work` with the `LeaderConfig` of a throwaway charm's `update-status` hook.

    Or of its `upgrade-charm` hook. Returns what `work` returned, and the output
    state; raises what it raised, once scenario has ended the hook.
    """
    from ops import testing

    meta = {"name": app, "peers": {spec.relation_name: {"interface": "leader-config"}}}
    ctx = testing.Context(_charm_type(spec), meta=meta, unit_id=unit_id)
    event = ctx.on.upgrade_charm() if upgrade else ctx.on.update_status()
    results: list[_R] = []
    failure: Exception | None = None
    with _quiet(), ctx(event, state) as mgr:
        try:
            results.append(work(mgr.charm.leader_config))
        except Exception as e:
            failure = e
        out = mgr.run()
    if failure is not None:
        raise failure
    return results[0], out


@contextmanager
def _quiet() -> Generator[None, None, None]:
    """Keep a throwaway run's log records, and its logging set-up, out of the charm's tests."""
    root = logging.getLogger()
    level, handlers, disabled = root.level, list(root.handlers), root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(disabled)
        root.setLevel(level)
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)


def _drifted(what: str) -> RuntimeError:
    return RuntimeError(
        f"leader_config no longer {what} as documented: update charms.leader_config.v0.testing"
    )


# Plain copies of what a run takes and gives, hashable to key the caches


@dataclasses.dataclass(frozen=True)
class _SecretData:
    id: str
    content: frozenset[tuple[str, str]]  # the latest revision's
    owner: Literal["unit", "app"] | None
    label: str | None


@dataclasses.dataclass(frozen=True)
class _Published:
    """What a leader's first write of a config puts in the app databag, and its secret."""

    data: frozenset[tuple[str, str]]
    secret: _SecretData | None


@dataclasses.dataclass(frozen=True)
class _Seen:
    """What a unit sees: the peer relation's databags and the secrets it can read."""

    relation_id: int
    app_data: frozenset[tuple[str, str]]
    unit_data: frozenset[tuple[str, str]]
    peers: frozenset[tuple[int, frozenset[tuple[str, str]]]]
    secrets: frozenset[_SecretData]


def _frozen(data: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(data.items())


def _owner(owner: str | None) -> Literal["unit", "app"] | None:
    # scenario 7 can show a secret that the charm added as owned by 'application'.
    if owner in ("app", "application"):
        return "app"
    return "unit" if owner == "unit" else None


def _secret_data(secret: testing.Secret) -> _SecretData:
    latest = secret.latest_content or secret.tracked_content  # scenario 7 allows None
    return _SecretData(secret.id, _frozen(latest), _owner(secret.owner), secret.label)


def _scenario_secret(
    secret: _SecretData, tracked: Mapping[str, str] | None = None
) -> testing.Secret:
    """A `testing.Secret`, tracking `tracked` content (by default, the latest)."""
    from ops import testing

    latest = dict(secret.content)
    return testing.Secret(
        dict(latest if tracked is None else tracked),
        latest_content=latest,
        id=secret.id,
        owner=secret.owner,
        label=secret.label,
    )


# Publishing and reading


def _published(relation_name: str, config: pydantic.BaseModel, prefix: str) -> _Published:
    """What the leader writes when it first publishes `config`, at revision 1."""
    from ops import testing

    spec = _Spec(relation_name, type(config), prefix)

    def publish() -> _Published:
        relation = testing.PeerRelation(relation_name)
        state = testing.State(leader=True, relations={relation})
        _, out = _run(spec, state, lambda shared: shared.set(config))
        (written,) = out.get_relations(relation_name)
        secrets = [_secret_data(secret) for secret in out.secrets]  # none, or the one it added
        return _Published(_frozen(written.local_app_data), next(iter(secrets), None))

    key = _value_key(config)
    return publish() if key is None else _PUBLISHED.get((spec, key), publish)


def _value_key(config: pydantic.BaseModel) -> str | None:
    """A text equal for two configs only if the library encodes them alike; None if none."""
    try:
        dumped = config.model_dump(mode="json", round_trip=True, warnings=False)
    except (TypeError, ValueError):  # the library's own write reports it
        return None
    secrets = {
        name: value.get_secret_value()
        for name in type(config).model_fields
        if isinstance(value := getattr(config, name), pydantic.SecretStr)
    }
    # repr tells apart values that dump alike, such as a set and a list in a union.
    return json.dumps([repr(config), dumped, secrets], sort_keys=True, default=repr)


def _read(
    schema: type[ConfigT], spec: _Spec, seen: _Seen, *, unit_id: int, app: str = _APP
) -> ConfigT | None:
    """What the `get()` of a follower numbered `unit_id` returns."""

    def read() -> pydantic.BaseModel | None:
        from ops import testing

        relation = testing.PeerRelation(
            spec.relation_name,
            id=seen.relation_id,
            local_app_data=dict(seen.app_data),
            local_unit_data=dict(seen.unit_data),
            peers_data={unit: dict(data) for unit, data in seen.peers},
        )
        state = testing.State(
            relations={relation}, secrets=set(map(_scenario_secret, seen.secrets))
        )
        config, _ = _run(spec, state, lambda shared: shared.get(), unit_id=unit_id, app=app)
        return config

    config = _READ.get((spec, seen, unit_id, app), read)
    return None if config is None else cast("ConfigT", config.model_copy(deep=True))


def _free_unit(peers: Mapping[int, Any], wanted: int = 0) -> int:
    """`wanted`, or else the lowest unit number that is not a peer's."""
    if wanted not in peers:
        return wanted
    return min(set(range(len(peers) + 1)) - peers.keys())


class _NoFields(pydantic.BaseModel):
    """A unit's record does not depend on the schema."""


def _nothing_to_adopt(charm: Any, relation: ops.Relation) -> None:
    return None


def _unit_record(prefix: str, applied: int | None) -> frozenset[tuple[str, str]]:
    """A unit's databag after its first hook with `migrate`, or once it acknowledged `applied`."""
    from ops import testing

    relation_name = "peers"
    if applied is None:
        spec = _Spec(relation_name, _NoFields, prefix, migrate=_nothing_to_adopt)
        app_data: dict[str, str] = {}
    else:
        spec = _Spec(relation_name, _NoFields, prefix, acknowledge=True)
        app_data = {prefix + _REVISION_KEY: str(applied)}

    def acknowledge(shared: LeaderConfig[Any]) -> None:
        if applied is None:
            return  # the library writes the record in the hook
        if shared.revision != applied:
            raise _drifted(f"reads {prefix + _REVISION_KEY!r}")
        shared.acknowledge()

    relation = testing.PeerRelation(relation_name, local_app_data=app_data, local_unit_data={})
    state = testing.State(relations={relation})
    _, out = _run(spec, state, acknowledge, upgrade=applied is None)
    (written,) = out.get_relations(relation_name)
    return _frozen(written.local_unit_data)


_CHARMS = _Memo[_Spec, "type[_Charm]"](64)
_PUBLISHED = _Memo[tuple[_Spec, str], _Published](256)
_READ = _Memo[tuple[_Spec, _Seen, int, str], "pydantic.BaseModel | None"](256)
_RECORDS = _Memo[tuple[str, "int | None"], "frozenset[tuple[str, str]]"](64)


# Harness, inside


def _revision(text: str | None) -> int:
    """The stored revision (a JSON integer); 0 if there is none, or it is invalid."""
    try:
        revision = json.loads(text) if text is not None else 0
    except ValueError:
        return 0
    return revision if type(revision) is int and revision >= 0 else 0


def _json_string(text: str | None) -> str | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _harness_secret(
    harness: Any, previous: str | None, content: dict[str, str], label: str | None
) -> str:
    """The id of the app-owned secret that holds `content` under `label` in the Harness."""
    if previous:
        try:
            secret = harness.model.get_secret(id=previous)
        except ops.SecretNotFoundError:
            pass
        else:
            if harness.model.unit.is_leader():
                secret.set_content(content)
                return previous
            harness.model.get_secret(id=previous, label="")  # the new secret takes the label
    secret_id: str = harness.add_model_secret(harness.model.app.name, content)
    harness.model.get_secret(id=secret_id, label=label)  # the Harness labels it for the app
    return secret_id


def _unit_number(unit_name: str) -> int:
    return int(unit_name.rsplit("/", 1)[1])


def _harness_secrets(harness: Any, values: Iterable[str]) -> frozenset[_SecretData]:
    """The Harness's secrets whose ids `values` hold, as they are or as JSON strings."""
    found: set[_SecretData] = set()
    for value in values:
        secret_id = _json_string(value) or value
        if not secret_id.startswith("secret:"):
            continue
        try:
            secret = harness.model.get_secret(id=secret_id)
            content: dict[str, str] = secret.peek_content()
        except ops.ModelError:  # SecretNotFoundError is one
            continue
        try:
            label: str | None = secret.get_info().label
        except ops.ModelError:  # only the owner may look
            label = None
        found.add(_SecretData(secret_id, _frozen(content), "app", label))
    return frozenset(found)
