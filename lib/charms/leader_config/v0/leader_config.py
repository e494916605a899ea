"""Typed configuration that the application leader owns and every unit reads.

`LeaderConfig` binds a pydantic model to a peer relation. Every unit reads the
config with attribute access; only the leader writes it; values travel JSON-encoded
in the peer relation's application databag; and a `changed` event fires on every
unit, the leader included, exactly when that unit's view of the config changes.

## Set-up

Declare a peer endpoint in `charmcraft.yaml` and add `pydantic>=2,<3` to the
charm's dependencies:

```yaml
peers:
  cluster:
    interface: my_app_cluster
```

## Example

```python
from typing import Literal

import ops
import pydantic

from charms.leader_config.v0.leader_config import LeaderConfig, LeaderConfigChangedEvent


class Shared(pydantic.BaseModel):
    log_level: Literal["debug", "info"] = "info"
    members: list[str] = []


class MyCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared)
        framework.observe(self.shared.on.changed, self._on_shared_changed)
        framework.observe(self.on.config_changed, self._on_config_changed)

    def _on_config_changed(self, event: ops.ConfigChangedEvent):
        if self.unit.is_leader() and self.model.get_relation("cluster"):
            self.shared.update(log_level=self.config["log-level"])

    def _on_shared_changed(self, event: LeaderConfigChangedEvent):
        cfg = self.shared.get()  # Shared | None
        if cfg is not None and "log_level" in event.changed:
            self.unit.status = ops.ActiveStatus(f"log level {cfg.log_level}")
```

## Reading and writing

- `get()` returns the config on any unit, or `None` while there is nothing to
  read (no peer relation yet, as in `install`, or nothing published). Missing
  keys read as the schema's defaults; keys the schema does not know are ignored.
  Each call returns a fresh copy: changing it changes nothing stored.
- Writes are for the leader: `update(**changes)` merges field values, `set(config)`
  replaces the whole config, and `with edit() as cfg:` yields a mutable copy that
  is validated and written when the block exits (nothing is written if it raises).
  A write sends only the keys whose value changed, in one `relation-set`; a write
  that changes nothing sends nothing and emits nothing. Every write publishes the
  complete config, defaults included.
- The leader also publishes the complete config by itself as soon as it holds
  leadership and the peer relation exists (and after an upgrade adds fields), so
  followers never guess and a later change of a default in code does not change a
  running application.
- `prefix="app-"` lets several `LeaderConfig` objects share one peer relation:
  each reads and writes only its own keys (`prefix + key`).

## Secret fields and generated values

A field typed `pydantic.SecretStr` (or `SecretStr | None`) is a secret field. Its
value never enters relation data: all secret fields of one `LeaderConfig` live in
one application-owned Juju secret (content keys: the field name in lowercase with
`-` for `_`, or `field-<name>` if that is too short), created by the leader on
first need with the label `secret_label` (`leader-config-<relation>`, plus
`-<prefix>` if there is one). The databag holds the secret's id under
`prefix + "secret-id"` and, under each secret field's key, `null` or a random
marker that changes with the value, so followers get `relation-changed` and an
event naming the field. Units read values with `cfg.password.get_secret_value()`;
the secret is fetched at most once per hook, and never for a config without secret
fields. Writing the same value makes no new revision; `None` removes a field from
the secret, and the secret goes with its last field. Old revisions are removed on
`secret-remove`. A missing secret raises `SecretUnavailableError`. Secret fields
need Juju 3.0.2 or later: on an older Juju, construction raises.

A field with a `default_factory` (say `Field(default_factory=make_password)`) is
generated once, by the leader, when it first publishes; later leaders keep it, and
a follower's `get()` returns None until the leader has stored it.

## The changed event

`on.changed` (`LeaderConfigChangedEvent`) fires on each unit whose view differs
from the one it last handled: on the leader right after its own effective write
(Juju does not send `relation-changed` to the writer), on a follower in the first
peer `relation-created`, `relation-joined` or `relation-changed`, `leader-elected`,
`upgrade-charm` or `start` hook in which the change is visible. `event.changed` is a
frozenset of the field names whose value changed (all of them on a unit's first
view). The event carries only names, so `event.defer()` is safe; call `get()` for
values. What a unit last handled is kept in its stored state, which a Kubernetes
pod loses when it is recreated: the event may then repeat once, so make handlers
idempotent.

## Errors

Every run-time error derives from `LeaderConfigError`:

- `NotLeaderError`: a write on a unit that is not the leader (checked at write
  time) or whose `relation-set` Juju refused. Write only when `unit.is_leader()`.
- `NotReadyError`: a write before the peer relation exists (during `install`).
  Write again from a later hook; the leader publishes defaults by itself.
- `InvalidConfigError` (also a `ValueError`): stored data that cannot be decoded or
  validated, from `get()`, `update()` or `edit()`; it names the databag keys and the
  reason. `set()` overwrites such data.
- `SecretUnavailableError`: the secret holding secret fields is missing or cannot
  be read; it names the fields and chains Juju's error. The leader's `set()`
  writes a new secret if the old one is gone.

The library's own handlers log a warning and do not emit instead of failing the
hook on either of the last two.

Misuse raises at once: an unknown field name or an invalid value raises
`ValueError` (pydantic's `ValidationError` is one) before anything is written; a
relation name that is not a peer endpoint raises `ValueError` at construction.

## Wire format

One key per field, `prefix + (alias or name)`, each value `json.dumps` of the
field's JSON-mode dump, exactly as `ops.Relation.save` writes it (dict keys and
sets sorted, so equal values always encode alike). `relation.load(Shared, app)`
reads what `LeaderConfig` writes, and `LeaderConfig` reads what
`relation.save(config, app)` writes. Keys that are not the object's own are never
touched.

## Evolving a schema

- Adding a field: give it a default. Units on the old revision ignore the key;
  the new leader publishes it after `upgrade-charm`.
- Removing a field: old units read its absence as their default, so remove only
  fields that have one. The key stays in the databag, ignored, until the charm
  deletes it.
- Renaming a field: keep the databag key with `Field(alias="old-name")`.
- Changing a type or narrowing a value: only compatibly, or units still on the
  old revision raise `InvalidConfigError` from `get()` until they are upgraded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import types
import typing
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

import ops
import pydantic

LIBID = "4c9d7f3a1e6b4d2f8a5c0e9b7d3f1a26"
LIBAPI = 0
LIBPATCH = 2
PYDEPS = ["pydantic>=2,<3"]

logger = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT", bound=pydantic.BaseModel)

_SECRET_KEY = re.compile(r"[a-z](?:-?[a-z0-9]){2,}")  # Juju's rule for secret content keys
_MASK = "**********"


# Errors


class LeaderConfigError(Exception):
    """Base class of the errors that `LeaderConfig` raises at run time.

    Attributes:
        relation_name: the peer endpoint the failing `LeaderConfig` is bound to.
    """

    def __init__(self, message: str, *, relation_name: str):
        super().__init__(message)
        self.relation_name = relation_name


class NotLeaderError(LeaderConfigError):
    """Raised by `update()`, `set()` and `edit()` on a unit that is not the leader.

    Also raised, with Juju's error chained, when Juju refuses the `relation-set`
    because leadership was lost during the hook. Only the leader writes; check
    `self.unit.is_leader()` first, or let the leader do the write.
    """


class NotReadyError(LeaderConfigError):
    """Raised by `update()`, `set()` and `edit()` before the peer relation exists.

    The peer relation does not exist during `install`. Write from a later hook
    (`leader-elected`, `config-changed`, the peer `relation-created`).
    """


class InvalidConfigError(LeaderConfigError, ValueError):
    """Raised when the data stored in the databag cannot be decoded or validated.

    `get()`, `update()` and `edit()` raise it; `set()` overwrites the bad data.
    Usually a unit on an older revision is reading data from a newer schema: it
    goes away when the unit is upgraded.

    Attributes:
        keys: the databag keys at fault (sorted).
    """

    def __init__(self, message: str, *, relation_name: str, keys: tuple[str, ...]):
        super().__init__(message, relation_name=relation_name)
        self.keys = keys


class SecretUnavailableError(LeaderConfigError):
    """Raised when the Juju secret holding secret fields is missing or unreadable.

    `get()`, `update()` and `edit()` raise it, with Juju's error chained where
    there is one. The leader's `set()` replaces a missing secret with a new one.

    Attributes:
        fields: the secret fields that could not be read (sorted).
    """

    def __init__(self, message: str, *, relation_name: str, fields: tuple[str, ...]):
        super().__init__(message, relation_name=relation_name)
        self.fields = fields


# Events


class LeaderConfigChangedEvent(ops.EventBase):
    """This unit's view of the shared config changed; call `get()` for values.

    Attributes:
        changed: the names of the fields whose value changed (every field on a
            unit's first view).
    """

    def __init__(self, handle: ops.Handle, changed: frozenset[str] = frozenset()):
        super().__init__(handle)
        self.changed = changed

    def snapshot(self) -> dict[str, Any]:
        """Return the field names only, so a deferred event holds no values."""
        return {"changed": sorted(self.changed)}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Restore the field names saved by `snapshot()`."""
        self.changed = frozenset(snapshot["changed"])


class LeaderConfigEvents(ops.ObjectEvents):
    """The events of a `LeaderConfig`, exposed as its `on` attribute."""

    changed = ops.EventSource(LeaderConfigChangedEvent)


# Encoding


def _digest(*parts: str) -> str:
    # Length prefixes keep ("ab", "c") and ("a", "bc") apart.
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.encode()
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _is_secret(annotation: Any) -> bool:
    """Whether a field is typed `SecretStr` or `SecretStr | None`."""
    if annotation is pydantic.SecretStr:
        return True
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return False
    args = set(typing.get_args(annotation))
    return pydantic.SecretStr in args and args <= {pydantic.SecretStr, type(None)}


def _content_key(alias: str) -> str:
    """The secret content key for a field: Juju allows only `[a-z0-9-]`, 3 or more."""
    key = alias.lower().replace("_", "-")
    return key if _SECRET_KEY.fullmatch(key) else f"field-{key}"


class _Codec(Generic[ConfigT]):
    """Maps a schema's fields to databag keys (and secret content keys) and validates."""

    def __init__(self, schema: type[ConfigT], prefix: str, relation_name: str):
        self.schema = schema
        self.relation_name = relation_name
        self.aliases: dict[str, str] = {}  # field name -> the name pydantic reads and dumps
        self.content_keys: dict[str, str] = {}  # secret field name -> secret content key
        self.generated: set[str] = set()  # fields with a default_factory
        for name, field in schema.model_fields.items():
            if (
                field.exclude
                or field.validation_alias not in (None, field.alias)
                or field.serialization_alias not in (None, field.alias)
            ):
                raise ValueError(
                    f"{schema.__name__}.{name}: LeaderConfig supports plain fields and"
                    " Field(alias=...), not exclude, validation_alias or serialization_alias"
                )
            self.aliases[name] = field.alias or name
            if field.default_factory is not None:
                self.generated.add(name)
            if _is_secret(field.annotation):
                self.content_keys[name] = _content_key(self.aliases[name])
        self.keys = {name: prefix + alias for name, alias in self.aliases.items()}
        self.secret_id_key = prefix + "secret-id"
        self._names_by_alias = {alias: name for name, alias in self.aliases.items()}
        self._check_secret_names()

    def _check_secret_names(self) -> None:
        if not self.content_keys:
            return
        if self.secret_id_key in self.keys.values():
            raise ValueError(
                f"{self.schema.__name__}: the databag key {self.secret_id_key!r} holds the"
                " secret's id; rename the field or its alias"
            )
        for name, key in self.content_keys.items():
            if not _SECRET_KEY.fullmatch(key) or list(self.content_keys.values()).count(key) > 1:
                raise ValueError(
                    f"{self.schema.__name__}.{name}: cannot map the field to a unique Juju"
                    f" secret content key (got {key!r}); rename the field or give it an alias"
                )

    def encode(self, config: ConfigT) -> dict[str, str]:
        """Return each plain (not secret) field's wire value, by field name."""
        dumped = config.model_dump(mode="json", by_alias=True)
        encoded: dict[str, str] = {}
        for name, alias in self.aliases.items():
            if name in self.content_keys:
                continue
            value = dumped[alias]
            if isinstance(getattr(config, name), (set, frozenset)):
                value = sorted(value, key=_dumps)
            encoded[name] = _dumps(value)
        return encoded

    def decode(self, raw: Mapping[str, str], secret_values: Mapping[str, str]) -> ConfigT:
        """Validate `raw` (own keys by databag key) and the secret fields' values.

        Raises:
            InvalidConfigError: naming the keys at fault.
        """
        data: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for name, key in self.keys.items():
            if key in raw:
                try:
                    value = json.loads(raw[key])
                except ValueError as e:
                    problems[key] = f"not JSON ({e})"
                    continue
                if name in self.content_keys:  # the value is a marker, or null for None
                    value = None if value is None else secret_values.get(name)
                data[self.aliases[name]] = value
        try:
            config = self.schema.model_validate(data)
        except pydantic.ValidationError as e:
            for error in e.errors(include_url=False):
                location = error["loc"]
                name = self._names_by_alias.get(str(location[0])) if location else None
                # A model-level validator names no field: every key took part.
                for key in [self.keys[name]] if name else sorted(raw):
                    problems.setdefault(key, error["msg"])
            raise self._invalid(problems) from e
        if problems:
            raise self._invalid(problems)
        return config

    def validate(self, data: Mapping[str, Any]) -> ConfigT:
        """Validate field values given by alias; raise pydantic's ValidationError.

        Errors about secret fields (or the whole model) carry a masked input, so
        that no secret value reaches an exception message or a log.
        """
        try:
            return self.schema.model_validate(dict(data))
        except pydantic.ValidationError as e:
            if not self.content_keys:
                raise
            secret_aliases = {self.aliases[name] for name in self.content_keys}
            details: list[Any] = [
                {**error, "input": _MASK}
                if not error["loc"] or error["loc"][0] in secret_aliases
                else error
                for error in e.errors()
            ]
            raise pydantic.ValidationError.from_exception_data(e.title, details) from None

    def revalidate(self, config: ConfigT) -> ConfigT:
        """Validate a model that may have been changed after it was built."""
        return self.validate(config.model_dump(by_alias=True))

    def _invalid(self, problems: dict[str, str]) -> InvalidConfigError:
        detail = "; ".join(f"{key!r}: {reason}" for key, reason in sorted(problems.items()))
        return InvalidConfigError(
            f"the shared config in the {self.relation_name!r} application databag is"
            f" invalid for {self.schema.__name__}: {detail}",
            relation_name=self.relation_name,
            keys=tuple(sorted(problems)),
        )


# The object


class LeaderConfig(ops.Object, Generic[ConfigT]):
    """Typed config that the leader writes and every unit reads, over a peer relation.

    Args:
        charm: the charm that owns this object.
        relation_name: the peer endpoint whose application databag holds the config.
        schema: the pydantic model of the config.
        prefix: a string put before every databag key, so that several objects can
            share one peer relation.

    Attributes:
        secret_label: the label of the application-owned secret that holds the
            secret fields: `leader-config-<relation_name>`, plus `-<prefix>` if
            there is a prefix.

    Raises:
        ValueError: if `relation_name` is not a peer endpoint of the charm, or the
            schema has fields that the wire format cannot carry.
        TypeError: if `schema` is not a pydantic model class.
        LeaderConfigError: if the schema has secret fields and this Juju has no
            secrets (before 3.0.2).

    Example::

        self.shared = LeaderConfig(self, "cluster", Shared)
        framework.observe(self.shared.on.changed, self._on_shared_changed)
    """

    on = LeaderConfigEvents()  # pyright: ignore[reportIncompatibleMethodOverride, reportAssignmentType]
    _stored = ops.StoredState()

    def __init__(
        self,
        charm: ops.CharmBase,
        relation_name: str,
        schema: type[ConfigT],
        *,
        prefix: str = "",
    ):
        if relation_name not in charm.meta.peers:
            peers = ", ".join(sorted(charm.meta.peers)) or "none"
            raise ValueError(
                f"{relation_name!r} is not a peer endpoint of {charm.meta.name!r}"
                f" (peer endpoints: {peers})"
            )
        if not (isinstance(schema, type) and issubclass(schema, pydantic.BaseModel)):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"schema must be a pydantic model class, not {schema!r}")
        super().__init__(charm, f"{relation_name}:{prefix}")
        self._relation_name = relation_name
        self._codec = _Codec(schema, prefix, relation_name)
        self.secret_label = f"leader-config-{relation_name}" + (f"-{prefix}" if prefix else "")
        self._own_keys = [*self._codec.keys.values()]
        if self._codec.content_keys:
            self._own_keys.append(self._codec.secret_id_key)
            if not self.model.juju_version.has_secrets:
                raise LeaderConfigError(
                    f"{schema.__name__} has secret fields, which need Juju 3.0.2 or later"
                    f" (this is Juju {self.model.juju_version})",
                    relation_name=relation_name,
                )
            self.framework.observe(charm.on.secret_remove, self._on_secret_remove)
        # Per hook: the last decoded config, and the secret with its content.
        self._decoded: tuple[dict[str, str], ConfigT] | None = None
        self._secret: tuple[str, ops.Secret, dict[str, str]] | None = None
        # What this unit last handled: a digest of its own raw keys, and one per field.
        self._stored.set_default(fingerprint="", digests={})
        peer_events = charm.on[relation_name]
        for event in (
            peer_events.relation_created,
            peer_events.relation_joined,
            peer_events.relation_changed,
            charm.on.leader_elected,
            charm.on.upgrade_charm,
            charm.on.start,
        ):
            self.framework.observe(event, self._on_hook)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(relation_name={self._relation_name!r},"
            f" schema={self._codec.schema.__name__})"
        )

    def get(self) -> ConfigT | None:
        """Return this unit's view of the config, or None if there is none yet.

        None means there is no peer relation yet (as in `install`), or the leader
        has not published (a field with a `default_factory` counts as unpublished
        until the leader has generated and stored it). Any unit may call it.

        Returns:
            A fresh copy of the config; changing it changes nothing stored.

        Raises:
            InvalidConfigError: if the stored data cannot be decoded or validated.
            SecretUnavailableError: if the secret holding secret fields is missing.
        """
        relation = self.model.get_relation(self._relation_name)
        if relation is None:
            return None
        config = self._view(self._read(relation))
        return None if config is None else config.model_copy(deep=True)

    def update(self, **changes: Any) -> None:
        """Change the given fields, keeping the others; leader only.

        Example::

            self.shared.update(log_level="debug")

        Args:
            changes: new values, by field name.

        Raises:
            ValueError: for an unknown field name or an invalid value (pydantic's
                ValidationError), before anything is written.
            NotLeaderError: if this unit is not the leader.
            NotReadyError: if the peer relation does not exist yet.
            InvalidConfigError: if the stored config is invalid (use `set()`).
            SecretUnavailableError: if the secret holding secret fields is missing.
        """
        unknown = sorted(changes.keys() - self._codec.aliases.keys())
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)} for {self._codec.schema.__name__}"
                f" (fields: {', '.join(self._codec.aliases)})"
            )
        relation = self._writable_relation()
        raw = self._read(relation)
        data = self._load(raw).model_dump(by_alias=True) if raw else {}
        data.update({self._codec.aliases[name]: value for name, value in changes.items()})
        self._write(relation, self._codec.validate(data))

    def set(self, config: ConfigT) -> None:
        """Replace the whole config; leader only.

        Args:
            config: the new config, an instance of the schema.

        Raises:
            TypeError: if `config` is not an instance of the schema.
            ValueError: if `config` no longer validates, before anything is written.
            NotLeaderError: if this unit is not the leader.
            NotReadyError: if the peer relation does not exist yet.
        """
        if not isinstance(config, self._codec.schema):
            raise TypeError(
                f"set() takes a {self._codec.schema.__name__}, not {type(config).__name__}"
            )
        relation = self._writable_relation()
        self._write(relation, self._codec.revalidate(config))

    @contextmanager
    def edit(self) -> Generator[ConfigT, None, None]:
        """Yield a mutable copy of the config and write it when the block exits; leader only.

        Nothing is written if the block raises. With nothing published yet, the
        copy holds the schema's defaults.

        Example::

            with self.shared.edit() as cfg:
                cfg.members.append(unit_name)

        Raises:
            ValueError: if the edited copy is invalid, before anything is written;
                or, with nothing published, if the schema has required fields.
            NotLeaderError: if this unit is not the leader.
            NotReadyError: if the peer relation does not exist yet.
            InvalidConfigError: if the stored config is invalid (use `set()`).
            SecretUnavailableError: if the secret holding secret fields is missing.
        """
        relation = self._writable_relation()
        raw = self._read(relation)
        draft = self._load(raw).model_copy(deep=True) if raw else self._codec.validate({})
        yield draft
        self._write(relation, self._codec.revalidate(draft))

    # Reading

    def _read(self, relation: ops.Relation) -> dict[str, str]:
        """Return this object's own keys from the application databag."""
        databag = relation.data[self.model.app]
        return {key: databag[key] for key in self._own_keys if key in databag}

    def _view(self, raw: dict[str, str]) -> ConfigT | None:
        """The config as the charm sees it: None until published, generated values included."""
        if not raw or any(self._codec.keys[name] not in raw for name in self._codec.generated):
            return None
        return self._load(raw)

    def _load(self, raw: dict[str, str]) -> ConfigT:
        """Decode `raw`, filling missing fields with defaults (the leader's starting point)."""
        # Cached for as long as the raw data stays the same (one hook).
        if self._decoded is None or self._decoded[0] != raw:
            self._decoded = (raw, self._codec.decode(raw, self._secret_values(raw)))
        return self._decoded[1]

    def _secret_values(self, raw: dict[str, str]) -> dict[str, str]:
        """The values of the secret fields that `raw` marks as set, by field name."""
        names = [
            name
            for name in self._codec.content_keys
            if raw.get(self._codec.keys[name], "null") != "null"
        ]
        if not names:
            return {}
        _, _, content = self._fetch_secret(raw, names)
        missing = [name for name in names if self._codec.content_keys[name] not in content]
        if missing:
            raise self._unavailable(missing, "the secret does not hold them")
        return {name: content[self._codec.content_keys[name]] for name in names}

    def _fetch_secret(
        self, raw: dict[str, str], names: list[str]
    ) -> tuple[str, ops.Secret, dict[str, str]]:
        """The config's secret id, secret and content, fetched at most once per hook."""
        key = self._codec.secret_id_key
        try:
            secret_id = json.loads(raw[key])
        except (KeyError, ValueError) as e:
            raise self._unavailable(names, f"the databag key {key!r} holds no secret id") from e
        if self._secret is None or self._secret[0] != secret_id:
            try:
                secret = self.model.get_secret(id=secret_id)
                # Units of the owning application track revisions too: ask for the latest.
                self._secret = (secret_id, secret, secret.get_content(refresh=True))
            except ops.ModelError as e:  # SecretNotFoundError is one
                raise self._unavailable(names, f"Juju cannot read {secret_id}") from e
        return self._secret

    def _unavailable(self, names: list[str], reason: str) -> SecretUnavailableError:
        return SecretUnavailableError(
            f"cannot read secret field(s) {', '.join(sorted(names))} of the shared config"
            f" in {self._relation_name!r}: {reason}",
            relation_name=self._relation_name,
            fields=tuple(sorted(names)),
        )

    # Writing

    def _writable_relation(self) -> ops.Relation:
        relation = self.model.get_relation(self._relation_name)
        if relation is None:
            raise NotReadyError(
                f"cannot write the shared config yet: the {self._relation_name!r} peer"
                " relation does not exist (it is created after install)",
                relation_name=self._relation_name,
            )
        if not self.model.unit.is_leader():
            raise NotLeaderError(
                f"{self.model.unit.name} is not the leader: only the leader can write"
                f" the shared config in {self._relation_name!r}",
                relation_name=self._relation_name,
            )
        return relation

    def _write(self, relation: ops.Relation, config: ConfigT) -> None:
        """Send the keys whose value changed in one relation-set, then emit if need be."""
        raw = self._read(relation)
        plain = self._codec.encode(config)
        changes = {
            self._codec.keys[name]: value
            for name, value in plain.items()
            if raw.get(self._codec.keys[name]) != value
        }
        if self._codec.content_keys:
            changes.update(self._write_secret(raw, config))
        if changes:
            try:
                relation.data[self.model.app].update(changes)
            except ops.RelationNotFoundError as e:
                raise NotReadyError(
                    f"the {self._relation_name!r} peer relation is gone",
                    relation_name=self._relation_name,
                ) from e
            except ops.ModelError as e:
                raise NotLeaderError(
                    f"Juju refused to write the shared config in {self._relation_name!r}"
                    f" from {self.model.unit.name}: leadership was lost",
                    relation_name=self._relation_name,
                ) from e
            raw.update(changes)
            raw = {key: value for key, value in raw.items() if value}
        self._decoded = (raw, config)
        self._notice(raw, self._wire(plain, raw))

    def _write_secret(self, raw: dict[str, str], config: ConfigT) -> dict[str, str]:
        """Bring the secret in line with `config`; return the databag changes this needs.

        A secret field's databag key holds a marker: `null` for None, otherwise a
        random token that changes with the value (never derived from it), so that a
        change reaches followers as relation-changed and names the field.
        """
        wanted: dict[str, str] = {}
        for name, content_key in self._codec.content_keys.items():
            value: pydantic.SecretStr | None = getattr(config, name)
            if value is not None:
                wanted[content_key] = value.get_secret_value()
        secret_id, secret, current = "", None, {}
        if self._codec.secret_id_key in raw:
            try:
                secret_id, secret, current = self._fetch_secret(
                    raw, list(self._codec.content_keys)
                )
            except SecretUnavailableError as e:
                if not isinstance(e.__cause__, ops.SecretNotFoundError):
                    raise
                logger.warning("%s: the secret is gone; writing a new one", self)
        changes: dict[str, str] = {}
        for name, content_key in self._codec.content_keys.items():
            key = self._codec.keys[name]
            marker = raw.get(key)
            if content_key not in wanted:
                marker = "null"
            elif marker in (None, "null") or current.get(content_key) != wanted[content_key]:
                marker = _dumps(secrets.token_hex(8))
            if marker != raw.get(key):
                changes[key] = marker
        if wanted == current:
            return changes
        if secret is None:
            secret = self.model.app.add_secret(wanted, label=self.secret_label)
            secret_id = str(secret.id)
            changes[self._codec.secret_id_key] = _dumps(secret_id)
        elif wanted:
            secret.set_content(wanted)
        else:
            secret.remove_all_revisions()
            changes[self._codec.secret_id_key] = ""  # deletes the key
            self._secret = None
            return changes
        self._secret = (secret_id, secret, wanted)
        return changes

    # Noticing changes

    def _wire(self, plain: dict[str, str], raw: dict[str, str]) -> dict[str, str]:
        """Each field's wire value: `plain`'s JSON, or the marker of a secret field."""
        markers = {name: raw.get(self._codec.keys[name], "") for name in self._codec.content_keys}
        return {**plain, **markers}

    def _notice(self, raw: dict[str, str], wire: dict[str, str]) -> None:
        """Record the view this unit now handles, emitting `changed` if it differs."""
        digests = {name: _digest(value) for name, value in wire.items()}
        previous: dict[str, str] = dict(self._stored.digests)
        changed = frozenset(
            name
            for name in digests.keys() | previous.keys()
            if digests.get(name) != previous.get(name)
        )
        self._stored.fingerprint = self._fingerprint(raw)
        self._stored.digests = digests
        if changed:
            self.on.changed.emit(changed)

    @staticmethod
    def _fingerprint(raw: dict[str, str]) -> str:
        return _digest(*(part for item in sorted(raw.items()) for part in item))

    def _on_hook(self, _: ops.EventBase) -> None:
        """Publish missing keys on the leader; notice a changed view on every unit."""
        relation = self.model.get_relation(self._relation_name)
        if relation is None:
            return
        raw = self._read(relation)
        incomplete = any(key not in raw for key in self._codec.keys.values())
        must_publish = incomplete and self.model.unit.is_leader()
        if not must_publish and self._fingerprint(raw) == self._stored.fingerprint:
            return
        try:
            if must_publish:
                self._write(relation, self._load(raw) if raw else self._codec.validate({}))
            else:
                config = self._view(raw)
                self._notice(
                    raw, {} if config is None else self._wire(self._codec.encode(config), raw)
                )
        except pydantic.ValidationError:
            # Nothing published and required fields without defaults: the charm's first
            # write publishes; until then followers see None.
            logger.debug("%s: not publishing defaults (required fields)", self)
        except LeaderConfigError as e:
            logger.warning("%s", e)

    def _on_secret_remove(self, event: ops.SecretRemoveEvent) -> None:
        """Remove revisions of this config's secret once no unit uses them."""
        if event.secret.label == self.secret_label:
            event.remove_revision()
