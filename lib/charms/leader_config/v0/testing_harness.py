"""Harness test helpers for charms that use `charms.leader_config.v0.leader_config`.

For tests written with `ops.testing.Harness`, which ops deprecates in favour of
ops.testing's `Context`: vendor it beside `testing.py`, whose public helpers it uses.
Harness has no end of hook: call `harness.evaluate_status()` where a hook would end.
The manual is docs/testing.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import ops
import pydantic

from charms.leader_config.v0.leader_config import Legacy
from charms.leader_config.v0.testing import config_from_state, peer_relation

LIBID = "3a8c1e5f7b9d4f2a6c0e8b1d3f5a7c9e"
LIBAPI = 0
LIBPATCH = 1
PYDEPS = ["pydantic>=2,<3"]

ConfigT = TypeVar("ConfigT", bound=pydantic.BaseModel)
# Wire-format keys (after the prefix), frozen within v0; checked against what the core does.
_REVISION_KEY, _ID_KEY = "leader-config-revision", "secret-id"


def publish_to_harness(
    harness: Any, relation_name: str, config: pydantic.BaseModel, *, prefix: str = ""
) -> None:
    """Put `config` into a Harness's peer relation as the leader publishes it.

    One revision above the stored one, adding the relation if need be. The secret fields go
    into a new revision of the library's secret if the unit leads, else into a new secret
    that takes its label over; a follower gets `relation-changed`.

    Args:
        harness: the `ops.testing.Harness`.
        relation_name: the peer endpoint.
        config: the config to publish.
        prefix: the `prefix` the charm gives its `LeaderConfig`.

    Raises:
        ValueError: if the library refuses `config` (invalid, or a secret over Juju's limit).
        RuntimeError: if the library no longer writes the documented wire format.
    """
    app = harness.model.app.name
    relation = harness.model.get_relation(relation_name)
    relation_id = relation.id if relation else harness.add_relation(relation_name, app)
    stored: dict[str, str] = dict(harness.get_relation_data(relation_id, app))
    published, secrets = peer_relation(relation_name, config, prefix=prefix)
    data: dict[str, str] = dict(published.local_app_data)
    secret = next(iter(secrets), None)
    revision_key, id_key = prefix + _REVISION_KEY, prefix + _ID_KEY
    if data.get(revision_key) != "1" or (secret and data.get(id_key) != json.dumps(secret.id)):
        raise RuntimeError(
            f"leader_config no longer writes {revision_key!r} and {id_key!r} as documented:"
            " update charms.leader_config.v0.testing_harness"
        )
    revision = _loads(stored.get(revision_key))
    data[revision_key] = str(revision + 1 if type(revision) is int and revision >= 0 else 1)
    if secret is not None:
        content: dict[str, str] = dict(secret.latest_content or secret.tracked_content)
        previous = _loads(stored.get(id_key))
        data[id_key] = json.dumps(_harness_secret(harness, previous, content, secret.label))
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
    """Return the config that a Harness holds, as a follower reads it, or None if none.

    Args:
        harness: the `ops.testing.Harness`.
        relation_name: the peer endpoint.
        schema: the pydantic model of the config.
        prefix: the `prefix` the charm gives its `LeaderConfig`.
        migrate: as for `testing.config_from_state`; it sees the secrets that the app
            databag names (by id, as they are or as JSON strings).

    Raises:
        LeaderConfigError: as `testing.config_from_state`.
    """
    from ops import testing

    model, relation = harness.model, harness.model.get_relation(relation_name)
    if relation is None:
        return None

    def data(name: str) -> dict[str, str]:
        return dict(harness.get_relation_data(relation.id, name))

    app_data = data(model.app.name)
    peers = {int(unit.name.rsplit("/", 1)[1]): data(unit.name) for unit in relation.units}
    state = testing.State(
        relations={
            testing.PeerRelation(
                relation_name,
                id=relation.id,
                local_app_data=app_data,
                local_unit_data=data(model.unit.name),
                peers_data=peers,
            )
        },
        secrets=_harness_secrets(harness, app_data.values()),
    )
    return config_from_state(state, relation_name, schema, prefix=prefix, migrate=migrate)


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _harness_secret(harness: Any, previous: Any, content: dict[str, str], label: Any) -> str:
    """The id of the app-owned secret that holds `content` under `label` in the Harness."""
    if isinstance(previous, str) and previous:
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


def _harness_secrets(harness: Any, values: Iterable[str]) -> set[Any]:
    """The Harness's secrets whose ids `values` hold, as they are or as JSON strings."""
    from ops import testing

    found: set[testing.Secret] = set()
    for secret_id in {i for v in values if (i := str(_loads(v) or v)).startswith("secret:")}:
        try:
            secret = harness.model.get_secret(id=secret_id)
            content: dict[str, str] = secret.peek_content()
        except ops.ModelError:  # SecretNotFoundError is one
            continue
        try:
            label: str | None = secret.get_info().label
        except ops.ModelError:  # only the owner may look
            label = None
        found.add(testing.Secret(content, id=secret_id, owner="app", label=label))
    return found
