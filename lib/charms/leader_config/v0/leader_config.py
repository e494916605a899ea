"""Typed configuration that the application leader owns and every unit reads.

`LeaderConfig` binds a pydantic model to a peer relation. Every unit reads the
config with attribute access; only the leader writes it; values travel JSON-encoded
in the peer relation's application databag (secret fields in a Juju secret); and a
`changed` event fires on every unit, the leader included, exactly when that unit's
view of the config changes.

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
            self.shared.update(log_level=self.config.get("log-level", "info"))

    def _on_shared_changed(self, event: LeaderConfigChangedEvent):
        cfg = self.shared.get()  # Shared | None
        if cfg is not None and "log_level" in event.changed:
            self.unit.status = ops.ActiveStatus(f"log level {cfg.log_level}")
```

## Reading and writing

- `get()`, on any unit, returns a fresh copy of the config, or `None` while there is
  none (no peer relation yet, as in `install`, or nothing published). Missing keys
  read as defaults; keys the schema does not know are ignored.
- The leader writes: `update(**changes)`, `set(config)`, or `with edit() as cfg:`
  (written when the block exits, not at all if it raises). Values are validated
  first. A write sends only the changed keys, in one `relation-set`, and always
  publishes the complete config; a write that changes nothing sends nothing.
- The leader also publishes the complete config by itself, at the end of a hook in
  which it finds keys missing (a new application or leader, an upgrade that added
  fields) unless the charm wrote, so a later change of a default in code does not
  change a running application.
- `prefix="app-"` lets several objects share one relation, each with its own keys.

## Secret fields and generated values

- A field typed `pydantic.SecretStr` (or `SecretStr | None`) never enters relation
  data: the secret fields of one `LeaderConfig` live in one application-owned Juju
  secret labelled `secret_label` (`leader-config-<relation>`, plus `-<prefix>`),
  content key `admin-password` for field `admin_password` (`field-pw` for `pw`).
- The databag holds the secret's id (`prefix + "secret-id"`) and, under each secret
  field's key, `null` or a random marker that changes with the value, so followers
  get `relation-changed` and an event naming the field. Read values with
  `cfg.admin_password.get_secret_value()`; the secret is fetched once per hook (its
  content key `leader-config-stamp` tells a unit to refresh to the latest revision).
- The same value makes no new revision; `None` removes a field, and the secret goes
  with its last field; old revisions are removed on `secret-remove`. A missing secret
  raises `SecretUnavailableError`. Secret fields need Juju 3.0.2 or later.
- A field with a `default_factory` is generated once, by the leader, when it first
  publishes; later leaders keep it; a follower's `get()` is `None` until it is stored.

## The changed event

`on.changed` (`LeaderConfigChangedEvent`) fires on each unit whose view differs from
the one it last handled: on the leader right after its own effective write (Juju does
not send `relation-changed` to the writer), on a follower in the first peer
`relation-created` or `-changed`, `leader-elected` or `upgrade-charm` hook where the
change is visible. `event.changed` is the frozenset of changed field names (all of
them on a first view); the event carries only names, so `defer()` is safe. What a
unit last handled is in its stored state (secret values only as salted digests),
which a recreated Kubernetes pod loses: the event may then repeat once, so make
handlers idempotent.

## Errors

Run-time errors derive from `LeaderConfigError` (which construction also raises for
secret fields on a Juju without secrets):

- `NotLeaderError`: a write on a non-leader, or a `relation-set` that Juju refused.
- `NotReadyError`: a write before the peer relation exists; write from a later hook.
- `InvalidConfigError` (a `ValueError`): stored data that cannot be decoded or
  validated, naming the keys and the reason; `set()` overwrites it.
- `SecretUnavailableError`: the secret is missing or unreadable, naming the fields.

The library's own handlers log a warning instead of failing a hook on the last two.
Misuse raises `ValueError` or `TypeError` at once (a non-peer endpoint, objects whose
keys would overlap, an unknown field, an invalid value), before anything is written.

## Wire format

One key per field, `prefix + (alias or name)`, each value `json.dumps` of the field's
JSON-mode dump as `ops.Relation.save` writes it (dict keys and sets sorted), so
`relation.load(Shared, app)` reads it and `relation.save(config, app)` writes it.
Keys that are not the object's own are never touched.

## Evolving a schema

- Adding a field: give it a default; the upgraded leader publishes it.
- Removing a field: remove only fields with a default (old units read its absence
  as the default); the key stays in the databag, ignored.
- Renaming a field: keep the key with `Field(alias="old-name")`.
- Changing a type: only compatibly, or old units get `InvalidConfigError`.

## Adopting existing data

`LeaderConfig(..., migrate=fn)`: while the object's own keys are absent or cannot be
decoded, `fn(relation)` returns field values read from the charm's old keys and old
secret (or `None`); every unit reads them, the leader publishes them in this format,
and the old keys stay for units not yet upgraded. Nothing is regenerated.

## Testing your charm

`peer_relation_with(relation_name, config)` returns an `ops.testing.PeerRelation`
(and the secrets) holding a config; `config_from_state(state, relation_name, Shared)`
reads one back. Both import `ops.testing` only when called.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import types
import typing
import weakref
from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import ops
import pydantic

if TYPE_CHECKING:
    from ops import testing

LIBID = "4c9d7f3a1e6b4d2f8a5c0e9b7d3f1a26"
LIBAPI = 0
LIBPATCH = 10
PYDEPS = ["pydantic>=2,<3"]

logger = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT", bound=pydantic.BaseModel)

_SECRET_KEY = re.compile(r"[a-z](?:-?[a-z0-9]){2,}")  # Juju's rule for secret content keys
_MASK = "**********"
# The databag keys each charm's LeaderConfig objects use, by relation, to refuse overlaps.
_KEYS_IN_USE: weakref.WeakKeyDictionary[ops.Framework, dict[str, dict[str, str]]] = (
    weakref.WeakKeyDictionary()
)
# A content key of the secret holding a digest of the databag's markers, so that a
# unit can tell whether the revision it tracks is the current one.
_STAMP_KEY = "leader-config-stamp"


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


def _new_marker() -> str:
    """A secret field's databag value for a new secret value: random, never derived from it."""
    return _dumps(secrets.token_hex(8))


def _secret_label(relation_name: str, prefix: str) -> str:
    return f"leader-config-{relation_name}" + (f"-{prefix}" if prefix else "")


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
        self._adapters: dict[str, pydantic.TypeAdapter[Any]] = {}  # built on first use
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
            taken = [*self.content_keys.values(), _STAMP_KEY]
            if not _SECRET_KEY.fullmatch(key) or taken.count(key) > 1:
                raise ValueError(
                    f"{self.schema.__name__}.{name}: cannot map the field to a unique Juju"
                    f" secret content key (got {key!r}); rename the field or give it an alias"
                )

    def marked_secrets(self, raw: Mapping[str, str]) -> list[str]:
        """The secret fields whose databag marker says the secret holds a value."""
        return [name for name in self.content_keys if raw.get(self.keys[name], "null") != "null"]

    def secret_content(self, values: Mapping[str, str], raw: Mapping[str, str]) -> dict[str, str]:
        """The secret's content: `values` by content key, stamped with `raw`'s markers."""
        if not values:
            return {}
        stamp = _digest(*(f"{name}={raw[self.keys[name]]}" for name in self.marked_secrets(raw)))
        return {**values, _STAMP_KEY: stamp}

    def stamped(self, content: Mapping[str, str], raw: Mapping[str, str]) -> bool:
        """Whether `content` is the revision that `raw`'s markers describe."""
        values = {key: value for key, value in content.items() if key != _STAMP_KEY}
        return self.secret_content(values, raw).get(_STAMP_KEY) == content.get(_STAMP_KEY)

    def encode_value(self, name: str, value: Any) -> str:
        """Validate and encode one plain field's value on its own; raise ValidationError."""
        adapter = self._adapters.get(name)
        if adapter is None:
            field = self.schema.model_fields[name]
            annotation: Any = field.annotation
            if field.metadata:
                annotation = Annotated[(annotation, *field.metadata)]
            adapter = self._adapters[name] = pydantic.TypeAdapter(annotation)
        valid: Any = adapter.validate_python(value)
        dumped = adapter.dump_python(valid, mode="json")
        if isinstance(valid, (set, frozenset)):
            dumped = sorted(dumped, key=_dumps)
        return _dumps(dumped)

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

    def parse(self, raw: Mapping[str, str]) -> dict[str, Any]:
        """JSON-decode the own keys `raw` holds, by alias; raise InvalidConfigError."""
        data: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for name, key in self.keys.items():
            if key in raw:
                try:
                    data[self.aliases[name]] = json.loads(raw[key])
                except ValueError as e:
                    problems[key] = f"not JSON ({e})"
        if problems:
            raise self._invalid(problems)
        return data

    def decode(self, raw: Mapping[str, str], secret_values: Mapping[str, str]) -> ConfigT:
        """Validate `raw` (own keys by databag key) and the secret fields' values.

        Raises:
            InvalidConfigError: naming the keys at fault.
        """
        data = self.parse(raw)
        for name in self.content_keys:  # their keys hold a marker, or null for None
            alias = self.aliases[name]
            if data.get(alias) is not None:
                data[alias] = secret_values.get(name)
        try:
            return self.schema.model_validate(data)
        except pydantic.ValidationError as e:
            problems: dict[str, str] = {}
            for error in e.errors(include_url=False):
                location = error["loc"]
                name = self._names_by_alias.get(str(location[0])) if location else None
                # A model-level validator names no field: every key took part.
                for key in [self.keys[name]] if name else sorted(raw):
                    problems.setdefault(key, error["msg"])
            raise self._invalid(problems) from e

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
            try:
                masked = pydantic.ValidationError.from_exception_data(e.title, details)
            except (KeyError, TypeError, ValueError):  # an error type pydantic cannot rebuild
                reasons = "; ".join(f"{d['loc']}: {d['msg']}" for d in details)
                raise ValueError(f"invalid {e.title}: {reasons}") from None
            raise masked from None

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
        migrate: adopts data that a charm kept before it used this library. Called
            with the peer relation while this object's keys are absent or cannot be
            decoded, it returns field values by name (read from the old keys and the
            old secret), or None if there is nothing to adopt. Every unit then reads
            these values, and the leader publishes them in this library's format,
            leaving the old keys alone. It must only read.

    Attributes:
        secret_label: the label of the application-owned secret that holds the
            secret fields: `leader-config-<relation_name>`, plus `-<prefix>` if
            there is a prefix.

    Raises:
        ValueError: if `relation_name` is not a peer endpoint of the charm, the
            schema has fields that the wire format cannot carry, or another
            `LeaderConfig` of the charm already uses one of this one's databag keys.
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
        migrate: Callable[[ops.Relation], Mapping[str, Any] | None] | None = None,
    ):
        if relation_name not in charm.meta.peers:
            peers = ", ".join(sorted(charm.meta.peers)) or "none"
            raise ValueError(
                f"{relation_name!r} is not a peer endpoint of {charm.meta.name!r}"
                f" (peer endpoints: {peers})"
            )
        if not (isinstance(schema, type) and issubclass(schema, pydantic.BaseModel)):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"schema must be a pydantic model class, not {schema!r}")
        codec = _Codec(schema, prefix, relation_name)
        own_keys = [*codec.keys.values()]
        if codec.content_keys:
            own_keys.append(codec.secret_id_key)
        in_use = _KEYS_IN_USE.setdefault(charm.framework, {}).setdefault(relation_name, {})
        clashes = sorted(set(own_keys) & in_use.keys())
        if clashes:
            raise ValueError(
                f"the {schema.__name__} LeaderConfig (prefix {prefix!r}) would share databag"
                f" key(s) {', '.join(clashes)} of {relation_name!r} with {in_use[clashes[0]]};"
                " give one of them another prefix"
            )
        in_use.update(dict.fromkeys(own_keys, f"the {schema.__name__} LeaderConfig"))
        super().__init__(charm, f"{relation_name}:{prefix}")
        self._relation_name = relation_name
        self._codec = codec
        self._migrate = migrate
        self.secret_label = _secret_label(relation_name, prefix)
        self._own_keys = own_keys
        if codec.content_keys:
            if not self.model.juju_version.has_secrets:
                raise LeaderConfigError(
                    f"{schema.__name__} has secret fields, which need Juju 3.0.2 or later"
                    f" (this is Juju {self.model.juju_version})",
                    relation_name=relation_name,
                )
            self.framework.observe(charm.on.secret_remove, self._on_secret_remove)
        # Per hook: the last decoded config, the adopted one, and the secret with its content.
        self._decoded: tuple[dict[str, str], ConfigT] | None = None
        self._adopted: tuple[dict[str, str], ConfigT | None] | None = None
        self._secret: tuple[str, ops.Secret, dict[str, str]] | None = None
        self._publish_pending = False
        # What this unit last handled: a digest of its own raw keys, and one per field;
        # secret values are digested with a random salt of the unit's own.
        self._stored.set_default(fingerprint="", digests={}, salt=secrets.token_hex(16))
        peer_events = charm.on[relation_name]
        # The hooks in which the app databag can first show a change (and a new leader
        # or a new schema can find keys missing).
        for event in (
            peer_events.relation_created,
            peer_events.relation_changed,
            charm.on.leader_elected,
            charm.on.upgrade_charm,
        ):
            self.framework.observe(event, self._on_hook)
        # Emitted after the charm's own handlers in every hook: the leader publishes what
        # it found missing there, unless the charm's own write already has.
        self.framework.observe(charm.on.collect_unit_status, self._on_end_of_hook)

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
        config = self._view(relation, self._read(relation))
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
        if self._repeats_handled_values(raw, changes):
            return
        current = self._current(relation, raw)
        data = current.model_dump(by_alias=True) if current is not None else {}
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
            SecretUnavailableError: if the secret exists but Juju refuses to read it.
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
        current = self._current(relation, self._read(relation))
        draft = current.model_copy(deep=True) if current is not None else self._codec.validate({})
        yield draft
        self._write(relation, self._codec.revalidate(draft))

    def _repeats_handled_values(self, raw: dict[str, str], changes: Mapping[str, Any]) -> bool:
        """Whether `update(**changes)` would only repeat plain values this unit has handled.

        Such a write is a no-op: it needs no secret read and no full validation, which
        makes the common "publish my config on every config-changed" free.
        """
        if (
            any(name in self._codec.content_keys for name in changes)
            or any(key not in raw for key in self._codec.keys.values())
            or self._fingerprint(raw) != self._stored.fingerprint
            or self._codec.schema.model_config.get("strict")
        ):
            return False
        try:
            return all(
                self._codec.encode_value(name, value) == raw[self._codec.keys[name]]
                for name, value in changes.items()
            )
        except pydantic.ValidationError:
            return False  # the full validation reports it

    # Reading

    def _read(self, relation: ops.Relation) -> dict[str, str]:
        """Return this object's own keys from the application databag."""
        databag = relation.data[self.model.app]
        return {key: databag[key] for key in self._own_keys if key in databag}

    def _published(self, raw: dict[str, str]) -> bool:
        return any(key in raw for key in self._codec.keys.values())

    def _view(self, relation: ops.Relation, raw: dict[str, str]) -> ConfigT | None:
        """The config as the charm sees it: None until published, generated values included."""
        adopted = self._adopt(relation, raw)
        if adopted is not None:
            return adopted
        if not self._published(raw):
            return None
        if any(self._codec.keys[name] not in raw for name in self._codec.generated):
            self._codec.parse(raw)  # report undecodable data, but generate nothing
            return None
        return self._load(raw)

    def _current(self, relation: ops.Relation, raw: dict[str, str]) -> ConfigT | None:
        """The leader's starting point for a write: missing fields take their defaults."""
        adopted = self._adopt(relation, raw)
        if adopted is not None:
            return adopted
        return self._load(raw) if self._published(raw) else None

    def _adopt(self, relation: ops.Relation, raw: dict[str, str]) -> ConfigT | None:
        """What `migrate` makes of the old data while this object's own is absent or invalid."""
        if self._migrate is None:
            return None
        if self._adopted is None or self._adopted[0] != raw:
            self._adopted = (raw, None)
            try:
                if self._published(raw):
                    self._load(raw)
                    return None
            except InvalidConfigError:
                pass
            values = self._migrate(relation)
            if values is not None:
                self._adopted = (raw, self._adopted_config(values))
        return self._adopted[1]

    def _adopted_config(self, values: Mapping[str, Any]) -> ConfigT:
        unknown = sorted(values.keys() - self._codec.aliases.keys())
        try:
            if unknown:
                raise ValueError(f"unknown field(s) {', '.join(unknown)}")
            return self._codec.validate(
                {self._codec.aliases[name]: value for name, value in values.items()}
            )
        except ValueError as e:
            raise InvalidConfigError(
                f"migrate returned values that are invalid for {self._codec.schema.__name__}: {e}",
                relation_name=self._relation_name,
                keys=(),
            ) from e

    def _load(self, raw: dict[str, str]) -> ConfigT:
        """Decode `raw`, filling missing fields with defaults (the leader's starting point)."""
        # Cached for as long as the raw data stays the same (one hook).
        if self._decoded is None or self._decoded[0] != raw:
            self._decoded = (raw, self._codec.decode(raw, self._secret_values(raw)))
        return self._decoded[1]

    def _secret_values(self, raw: dict[str, str]) -> dict[str, str]:
        """The values of the secret fields that `raw` marks as set, by field name."""
        names = self._codec.marked_secrets(raw)
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
                content = secret.get_content()  # fetched by get_secret: no second call
                if not self._codec.stamped(content, raw):
                    # This unit tracks an older revision (units of the owning application
                    # track revisions too): move to the latest.
                    content = secret.get_content(refresh=True)
                self._secret = (secret_id, secret, content)
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
        self._publish_pending = False  # a write publishes the complete config
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
        self._notice(raw, config, plain)

    def _write_secret(self, raw: dict[str, str], config: ConfigT) -> dict[str, str]:
        """Bring the secret in line with `config`; return the databag changes this needs.

        A secret field's databag key holds a marker: `null` for None, otherwise a
        random token that changes with the value (never derived from it), so that a
        change reaches followers as relation-changed and names the field.
        """
        values: dict[str, str] = {}  # by content key
        for name, content_key in self._codec.content_keys.items():
            value: pydantic.SecretStr | None = getattr(config, name)
            if value is not None:
                values[content_key] = value.get_secret_value()
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
            if content_key not in values:
                marker = "null"
            elif marker in (None, "null") or current.get(content_key) != values[content_key]:
                marker = _new_marker()
            if marker != raw.get(key):
                changes[key] = marker
        wanted = self._codec.secret_content(values, {**raw, **changes})
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

    def _notice(self, raw: dict[str, str], config: ConfigT | None, plain: dict[str, str]) -> None:
        """Record the view this unit now handles, emitting `changed` if it differs.

        Fields compare by value: plain ones by their JSON (`plain`), secret ones by a
        salted digest, so that stored state holds no secret and a value that changed
        and changed back between two of this unit's hooks is no change.
        """
        digests = {name: _digest(value) for name, value in plain.items()}
        for name in self._codec.content_keys if config is not None else ():
            secret: pydantic.SecretStr | None = getattr(config, name)
            parts = () if secret is None else (secret.get_secret_value(),)
            digests[name] = _digest(self._stored.salt, *parts)
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
        """Notice a changed view; on the leader, note what is missing for the end of the hook."""
        relation = self.model.get_relation(self._relation_name)
        if relation is None:
            return
        raw = self._read(relation)
        incomplete = any(key not in raw for key in self._codec.keys.values())
        leader = self.model.unit.is_leader()
        if self._fingerprint(raw) == self._stored.fingerprint and not (leader and incomplete):
            return
        try:
            if leader and (incomplete or self._adopt(relation, raw) is not None):
                self._publish_pending = True
                return
            config = self._view(relation, raw)
            self._notice(raw, config, {} if config is None else self._codec.encode(config))
        except LeaderConfigError as e:
            logger.warning("%s", e)

    def _on_end_of_hook(self, _: ops.CollectStatusEvent) -> None:
        """Publish the complete config if the leader found keys missing and nothing wrote."""
        if not self._publish_pending:
            return
        self._publish_pending = False
        relation = self.model.get_relation(self._relation_name)
        if relation is None:
            return
        try:
            current = self._current(relation, self._read(relation))
            self._write(relation, current if current is not None else self._codec.validate({}))
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


# Testing helpers, for charm authors' ops.testing (scenario) tests. They import
# ops.testing only when called, so production code paths never need it.


def peer_relation_with(
    relation_name: str, config: pydantic.BaseModel, *, prefix: str = "", **relation_args: Any
) -> tuple[testing.PeerRelation, frozenset[testing.Secret]]:
    """Build the peer relation, and the secret, holding `config` as a leader publishes it.

    Example::

        relation, secrets = peer_relation_with("cluster", Shared(log_level="debug"))
        state = testing.State(relations={relation}, secrets=secrets)

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

    codec = _Codec(type(config), prefix, relation_name)
    data = {codec.keys[name]: value for name, value in codec.encode(config).items()}
    content: dict[str, str] = {}
    for name, content_key in codec.content_keys.items():
        value: pydantic.SecretStr | None = getattr(config, name)
        data[codec.keys[name]] = "null" if value is None else _new_marker()
        if value is not None:
            content[content_key] = value.get_secret_value()
    state_secrets: frozenset[testing.Secret] = frozenset()
    if content:
        content = codec.secret_content(content, data)
        secret = testing.Secret(content, owner="app", label=_secret_label(relation_name, prefix))
        data[codec.secret_id_key] = _dumps(secret.id)
        state_secrets = frozenset({secret})
    local_app_data = {**relation_args.pop("local_app_data", {}), **data}
    relation = testing.PeerRelation(relation_name, local_app_data=local_app_data, **relation_args)
    return relation, state_secrets


def config_from_state(
    state: testing.State, relation_name: str, schema: type[ConfigT], *, prefix: str = ""
) -> ConfigT | None:
    """Read the config that a (usually output) `testing.State` holds, as `get()` would.

    Example::

        out = ctx.run(ctx.on.config_changed(), state)
        assert config_from_state(out, "cluster", Shared) == Shared(log_level="debug")

    Args:
        state: the state to read.
        relation_name: the peer endpoint.
        schema: the pydantic model of the config.
        prefix: the `prefix` the charm gives its `LeaderConfig`.

    Returns:
        The config, or None if the state has no such relation or nothing published.

    Raises:
        InvalidConfigError: if the stored data cannot be decoded or validated.
        SecretUnavailableError: if the state lacks the secret that the data names.
    """
    codec = _Codec(schema, prefix, relation_name)
    relations = [r for r in state.relations if r.endpoint == relation_name]
    if not relations:
        return None
    databag = relations[0].local_app_data
    own_keys = [*codec.keys.values(), codec.secret_id_key]
    raw = {key: databag[key] for key in own_keys if key in databag}
    if not any(key in raw for key in codec.keys.values()):
        return None
    names = codec.marked_secrets(raw)
    values: dict[str, str] = {}
    if names:
        secret_id = json.loads(raw.get(codec.secret_id_key, "null"))
        found = [secret for secret in state.secrets if secret.id == secret_id]
        if not found:
            raise SecretUnavailableError(
                f"the state holds no secret {secret_id!r} for {', '.join(names)}",
                relation_name=relation_name,
                fields=tuple(sorted(names)),
            )
        content = found[0].latest_content or found[0].tracked_content
        values = {name: content[codec.content_keys[name]] for name in names}
    return codec.decode(raw, values)
