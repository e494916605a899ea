"""Test helpers for charms that use `charms.leader_config.v0.leader_config`.

For ops.testing (scenario) tests:

- `published_state(relation_name, config, ...)`: a `testing.State` whose peer
  relation holds `config` exactly as the leader publishes it (its secret too);
- `follower_state(leader_out, relation_name, ...)`: the state a follower starts
  from once the leader's output state is committed;
- `config_from_state(state, relation_name, Schema)`: the config a state holds.

For Harness tests (`ops.testing.Harness` keeps one charm for every event and has
no end of hook: call `harness.evaluate_status()` after an event in which the
leader publishes or writes, as `ops.main` ends every hook):

- `publish_to_harness(harness, relation_name, config)`: the leader's published
  config, put into the Harness (a follower gets `relation-changed`);
- `config_from_harness(harness, relation_name, Schema)`: the config it holds.

Example::

    state = published_state("cluster", Shared(log_level="debug"), peers_data={0: {}})
    out = ctx.run(ctx.on.relation_changed(state.get_relations("cluster")[0], remote_unit=0), state)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import pydantic

from charms.leader_config.v0.leader_config import (
    _STAMP_KEY,  # pyright: ignore[reportPrivateUsage]
    PendingFieldsError,
    SecretUnavailableError,
    _Codec,  # pyright: ignore[reportPrivateUsage]
    _dumps,  # pyright: ignore[reportPrivateUsage]
    _new_marker,  # pyright: ignore[reportPrivateUsage]
    _secret_label,  # pyright: ignore[reportPrivateUsage]
)

if TYPE_CHECKING:
    from ops import testing

LIBID = "9e3b6a1f5c2d4e8b9a7f0c1d2e3f4a5b"
LIBAPI = 0
LIBPATCH = 2
PYDEPS = ["pydantic>=2,<3"]

ConfigT = TypeVar("ConfigT", bound=pydantic.BaseModel)


def _wire(
    relation_name: str, config: pydantic.BaseModel, prefix: str, revision: int = 1
) -> tuple[_Codec[Any], dict[str, str], dict[str, str]]:
    """The databag keys and the secret content that hold `config`, at `revision`."""
    codec = _Codec(type(config), prefix, relation_name)
    data = {codec.keys[name]: value for name, value in codec.encode(config).items()}
    content: dict[str, str] = {}
    for name, value in codec.secret_values(config).items():
        data[codec.keys[name]] = "null" if value is None else _new_marker()
        if value is not None:
            content[codec.content_keys[name]] = value
    if content:
        content[_STAMP_KEY] = codec.stamp(data)
    data[codec.revision_key] = str(revision)
    return codec, data, content


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
        The relation, and the secrets to put in the state (empty without secret fields).
    """
    from ops import testing

    codec, data, content = _wire(relation_name, config, prefix)
    state_secrets: frozenset[testing.Secret] = frozenset()
    if content:
        secret = testing.Secret(content, owner="app", label=_secret_label(relation_name, prefix))
        data[codec.secret_id_key] = _dumps(secret.id)
        state_secrets = frozenset({secret})
    local_app_data = {**relation_args.pop("local_app_data", {}), **data}
    relation = testing.PeerRelation(relation_name, local_app_data=local_app_data, **relation_args)
    return relation, state_secrets


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
        The state.
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

    The leader's application databag and app-owned secrets become the follower's;
    the follower's peers are the leader (with its unit databag) and the leader's
    other peers. Nothing of the leader's own (stored state, deferred events,
    status) is carried over.

    Args:
        leader_out: the leader's output state.
        relation_name: the peer endpoint.
        unit_id: the follower's unit number (give it to the follower's Context).
        leader_id: the leader's unit number.
        state: the follower's own previous state, to keep its stored state.

    Returns:
        The follower's state.
    """
    from ops import testing

    (relation,) = leader_out.get_relations(relation_name)
    if not isinstance(relation, testing.PeerRelation):
        raise TypeError(f"{relation_name!r} is not a peer relation in {leader_out!r}")
    peers: dict[int, dict[str, str]] = {
        unit: dict(data) for unit, data in relation.peers_data.items() if unit != unit_id
    }
    peers[leader_id] = dict(relation.local_unit_data)
    followed = testing.PeerRelation(
        relation_name,
        id=relation.id,
        local_app_data=dict(relation.local_app_data),
        local_unit_data=dict(relation.peers_data.get(unit_id, {})),
        peers_data=peers,
    )
    base = state if state is not None else testing.State()
    others = {r for r in base.relations if r.endpoint != relation_name}
    return dataclasses.replace(
        base, leader=False, relations=frozenset({*others, followed}), secrets=leader_out.secrets
    )


def config_from_state(
    state: testing.State, relation_name: str, schema: type[ConfigT], *, prefix: str = ""
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

    Returns:
        The config (secret values at their latest revision), or None if the state
        has no such relation or nothing is published.

    Raises:
        InvalidConfigError: if the stored data cannot be decoded or validated.
        SecretUnavailableError: if the state lacks the secret that the data names.
        PendingFieldsError: if the data lacks values that only the leader generates.
    """
    relations = state.get_relations(relation_name)
    if not relations:
        return None

    def content(secret_id: str) -> dict[str, str] | None:
        for secret in state.secrets:
            if secret.id == secret_id:
                return dict(secret.latest_content or secret.tracked_content)
        return None

    return _read(relations[0].local_app_data, relation_name, schema, prefix, content)


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
    """
    app = harness.model.app.name
    relation = harness.model.get_relation(relation_name)
    relation_id = relation.id if relation else harness.add_relation(relation_name, app)
    stored: dict[str, str] = dict(harness.get_relation_data(relation_id, app))
    codec = _Codec(type(config), prefix, relation_name)
    revision = (codec.revision_or_none(stored) or 0) + 1
    codec, data, content = _wire(relation_name, config, prefix, revision)
    previous = stored.get(codec.secret_id_key)
    if content:
        label = _secret_label(relation_name, prefix)
        secret_id = _harness_secret(harness, previous and json.loads(previous), content, label)
        data[codec.secret_id_key] = _dumps(secret_id)
    elif previous:
        data[codec.secret_id_key] = ""  # no secret value: the key goes, as the leader does
    harness.update_relation_data(relation_id, app, data)


def _harness_secret(
    harness: Any, previous: str | None, content: dict[str, str], label: str
) -> str:
    """The id of the app-owned secret that holds `content` under `label` in the Harness."""
    from ops import SecretNotFoundError

    if previous:
        try:
            secret = harness.model.get_secret(id=previous)
        except SecretNotFoundError:
            pass
        else:
            if harness.model.unit.is_leader():
                secret.set_content(content)
                return previous
            harness.model.get_secret(id=previous, label="")  # the new secret takes the label
    secret_id: str = harness.add_model_secret(harness.model.app.name, content)
    harness.model.get_secret(id=secret_id, label=label)  # the Harness labels it for the app
    return secret_id


def config_from_harness(
    harness: Any, relation_name: str, schema: type[ConfigT], *, prefix: str = ""
) -> ConfigT | None:
    """Read the config that a Harness's peer relation holds, as a follower reads it.

    Args:
        harness: the `ops.testing.Harness`.
        relation_name: the peer endpoint.
        schema: the pydantic model of the config.
        prefix: the `prefix` the charm gives its `LeaderConfig`.

    Returns:
        The config (secret values at their latest revision), or None if there is no
        such relation or nothing is published.

    Raises:
        InvalidConfigError: if the stored data cannot be decoded or validated.
        SecretUnavailableError: if the Harness lacks the secret that the data names.
        PendingFieldsError: if the data lacks values that only the leader generates.
    """
    relation = harness.model.get_relation(relation_name)
    if relation is None:
        return None
    databag: dict[str, str] = harness.get_relation_data(relation.id, harness.model.app.name)

    def content(secret_id: str) -> dict[str, str] | None:
        try:
            found: dict[str, str] = harness.model.get_secret(id=secret_id).peek_content()
            return found
        except Exception:  # the Harness raises SecretNotFoundError, or a ModelError
            return None

    return _read(databag, relation_name, schema, prefix, content)


def _read(
    databag: Mapping[str, str],
    relation_name: str,
    schema: type[ConfigT],
    prefix: str,
    content: Any,
) -> ConfigT | None:
    codec = _Codec(schema, prefix, relation_name)
    raw = {key: value for key, value in databag.items() if key.startswith(prefix)}
    if not any(key in raw for key in codec.keys.values()):
        return None
    awaited = sorted(name for name in codec.generated if codec.keys[name] not in raw)
    if awaited:
        raise PendingFieldsError(
            f"the shared config in {relation_name!r} lacks {', '.join(awaited)}, which only"
            " the leader generates",
            relation_name=relation_name,
            fields=tuple(awaited),
        )
    names = codec.marked_secrets(raw)
    values: dict[str, str] = {}
    if names:
        secret_id = json.loads(raw.get(codec.secret_id_key, "null"))
        found: dict[str, str] | None = content(secret_id) if secret_id else None
        if found is None:
            raise SecretUnavailableError(
                f"there is no secret {secret_id!r} for {', '.join(names)}",
                relation_name=relation_name,
                fields=tuple(sorted(names)),
            )
        values = {name: found[codec.content_keys[name]] for name in names}
    return codec.decode(raw, values)
