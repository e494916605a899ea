"""Typed configuration that the application leader owns and every unit reads.

`LeaderConfig` binds a pydantic model to a peer relation. Every unit reads the
config with attribute access; only the leader writes it; values travel JSON-encoded
in the peer relation's application databag (secret fields in a Juju secret); and a
`changed` event fires on every unit, the leader included, exactly when that unit's
view of the config changes. The README has the long guides.

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
            try:
                self.shared.update(log_level=self.config.get("log-level", "info"))
            except pydantic.ValidationError:
                self.unit.status = ops.BlockedStatus("invalid log-level")

    def _on_shared_changed(self, event: LeaderConfigChangedEvent):
        cfg = self.shared.get()  # Shared | None
        if cfg is not None and "log_level" in event.changed:
            self.unit.status = ops.ActiveStatus(f"log level {cfg.log_level}")
```

## Reading and writing

- `get()` returns a fresh copy of this unit's view. On a follower it is None until
  the leader publishes (and before the peer relation exists, as in `install`); on the
  leader it is the complete config it publishes: defaults, and `default_factory`
  values generated once. The leader publishes missing keys at the end of any hook in
  which it read or wrote the config (before a collect-status handler of the charm's)
  and found them missing.
- The leader writes with `update(**changes)`, `set(config)` or `with edit() as cfg:`.
  A write validates, encodes, reads its own encoding back, then sends the changed keys
  and a new config `revision` in one `relation-set`; a write that changes nothing
  sends nothing. A follower's write raises `NotLeaderError`.
- Wire format: one key per field, `prefix + (alias or name)`, each value `json.dumps`
  of the field's JSON-mode dump (sets sorted at every depth: in models, dataclasses
  and containers; computed fields are not stored), as `ops.Relation.save` writes
  it. Reads validate in lax mode, so strict models read back what they wrote.
  Reserved names, after the prefix: `leader-config-revision` and `secret-id` (app
  keys), `leader-config-unit` (unit key).

## Secret fields and generated values

Fields typed `SecretStr` or `SecretStr | None` live in one application-owned Juju
secret labelled `secret_label`; the databag holds its id and, per field, `null` or a
random marker that changes with the value. A secret type anywhere else (a nested
model, a list, `SecretBytes`) is refused at construction. Values over 5 KiB (64 KiB
in all, base64-encoded: the oldest supported Juju's limits) are refused before
anything is written. Content keys of fields this revision does not know are kept.

## Events

`on.changed` names the fields whose value changed (all of them on a unit's first
view) and carries the `revision`. A follower gets it in the first peer
`relation-created`/`-changed`, `leader-elected` or `upgrade-charm` hook where the
change is visible; the leader once per hook, at its end (the first collect-status
event), for everything its writes changed, so a handler that writes is never run
inside itself (under Harness, `harness.evaluate_status()` ends a hook). Stored state
keeps what a unit handled; a recreated pod repeats the event once: make handlers
idempotent.

## Rollouts

With `acknowledge=True`, `acknowledge()` records in this unit's databag that it
applied the revision of its view; `rollout()` says which units have; `on.applied`
fires on the leader once every unit has applied a revision. Before anything is
published, `acknowledge()` records nothing and `rollout()` has every unit pending.

## Errors

`NotLeaderError` (a follower's write, or Juju refused a write), `NotReadyError` (no
peer relation yet, or legacy keys still in use), `InvalidConfigError` (stored data
that does not decode or validate), `SecretUnavailableError` and `PendingFieldsError`
(a `get()` that needs a value only the leader generates, not yet published) derive
from `LeaderConfigError`. The library's hook handlers log these instead of failing
the hook, except a transient failure to read the secret, and a refused publish of
values generated for the charm's `get()` in that hook: those fail the hook, so that
Juju retries it. Misuse raises `ValueError`, `TypeError` or `RuntimeError` at once.

## Upgrading a deployed charm

`LeaderConfig(..., migrate=fn)`: while nothing is published here, `fn(relation)`
returns a `Legacy` (the values read from the legacy keys and secret, the legacy keys,
the legacy secret) or None. Nothing is regenerated; a legacy secret holding the
content keys of the secret values adopted is taken over; legacy keys (and a copied
secret) are removed once every unit runs a revision that uses this library, after
which a rollback is not supported. Use a `prefix`: legacy data under this object's
own keys is taken over only once every unit is upgraded.

## Testing your charm

`charms.leader_config.v0.testing` has `published_state`, `follower_state` and
`config_from_state` for ops.testing, and `publish_to_harness`, `config_from_harness`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import re
import secrets
import types
import typing
import warnings
import weakref
from collections.abc import Callable, Collection, Generator, Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any, Generic, TypeVar

import ops
import pydantic
import typing_extensions

LIBID = "4c9d7f3a1e6b4d2f8a5c0e9b7d3f1a26"
LIBAPI = 0
LIBPATCH = 19
PYDEPS = ["pydantic>=2,<3"]

logger = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT", bound=pydantic.BaseModel)

_SECRET_KEY = re.compile(r"[a-z](?:-?[a-z0-9]){2,}")  # Juju's rule for secret content keys
_MASK = "**********"
# Reserved names, after the prefix: app databag keys, a unit databag key, a content key.
_ID_KEY = "secret-id"
_REVISION = "leader-config-revision"
_UNIT_RECORD = "leader-config-unit"
_STAMP_KEY = "leader-config-stamp"  # a digest of the markers the secret's revision goes with
# Juju before 3.1.8 refuses a secret value over 5 KiB and content over 64 KiB, counted
# base64-encoded (later releases allow 8 KiB, and 1 MB from 3.6.9): the lowest wins.
_SECRET_VALUE_LIMIT = 5 * 1024
_SECRET_CONTENT_LIMIT = 64 * 1024
_SECRET_TYPES: tuple[type, ...] = tuple(
    t for t in (pydantic.SecretStr, pydantic.SecretBytes, getattr(pydantic, "Secret", None)) if t
)
# A handler that writes on every `changed` would loop; stop re-emitting after this many.
_MAX_EMITS_PER_HOOK = 8
# The databag keys each charm's LeaderConfig objects use, by relation, to refuse overlaps.
_KEYS_IN_USE: weakref.WeakKeyDictionary[ops.Framework, dict[str, dict[str, str]]] = (
    weakref.WeakKeyDictionary()
)


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

    Also raised, with Juju's error chained, when Juju refuses a write
    (`relation-set`, `secret-add` or `secret-set`), as it does once leadership
    was lost during the hook. Only the leader writes; check
    `self.unit.is_leader()` first, or let the leader do the write.
    """


class NotReadyError(LeaderConfigError):
    """Raised by `update()`, `set()` and `edit()` when the leader cannot write yet.

    Before the peer relation exists (during `install`): write from a later hook.
    While an adopting application still runs units that read the legacy keys
    that this object's keys replace: the leader takes them over, and writes,
    once every unit runs a revision that uses this library.
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


class PendingFieldsError(LeaderConfigError):
    """Raised by `get()` when the config lacks values that only the leader generates.

    A field with a `default_factory` is generated once, by the leader, and read
    by every other unit once it is published: until then (an upgrade added the
    field and the leader has not run the new revision yet, or the application
    is still adopting data that lacks it) a follower cannot read the config.
    The unit gets `changed` once the leader has published the values.

    Attributes:
        fields: the fields awaiting the leader (sorted).
    """

    def __init__(self, message: str, *, relation_name: str, fields: tuple[str, ...]):
        super().__init__(message, relation_name=relation_name)
        self.fields = fields


# Events and values


class LeaderConfigChangedEvent(ops.EventBase):
    """This unit's view of the shared config changed; call `get()` for values.

    Attributes:
        changed: the names of the fields whose value changed (every field on a
            unit's first view, and when the view becomes None).
        revision: the config revision of the new view (0 for data published
            before revisions were numbered; None for no view, or adopted data).
    """

    def __init__(
        self,
        handle: ops.Handle,
        changed: frozenset[str] = frozenset(),
        revision: int | None = None,
    ):
        super().__init__(handle)
        self.changed = changed
        self.revision = revision

    def snapshot(self) -> dict[str, Any]:
        """Return field names and the revision only, so a deferred event holds no values."""
        return {"changed": sorted(self.changed), "revision": self.revision}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Restore what `snapshot()` saved."""
        self.changed = frozenset(snapshot["changed"])
        self.revision = snapshot.get("revision")


class LeaderConfigAppliedEvent(ops.EventBase):
    """On the leader: every unit of the application acknowledged a config revision.

    Attributes:
        revision: the revision that every current unit has applied.
    """

    def __init__(self, handle: ops.Handle, revision: int = 0):
        super().__init__(handle)
        self.revision = revision

    def snapshot(self) -> dict[str, Any]:
        """Return the revision."""
        return {"revision": self.revision}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Restore the revision."""
        self.revision = snapshot["revision"]


class LeaderConfigEvents(ops.ObjectEvents):
    """The events of a `LeaderConfig`, exposed as its `on` attribute."""

    changed = ops.EventSource(LeaderConfigChangedEvent)
    applied = ops.EventSource(LeaderConfigAppliedEvent)


@dataclasses.dataclass(frozen=True)
class Rollout:
    """How far a config revision has rolled out, as `LeaderConfig.rollout()` returns it.

    Attributes:
        revision: the revision of this unit's view (None: nothing published).
        applied: the units that acknowledged it (or a later one).
        pending: the units that have not, counting the units in the peer
            relation and this one.
    """

    revision: int | None
    applied: frozenset[str]
    pending: frozenset[str]

    @property
    def complete(self) -> bool:
        """Whether every unit has applied the revision."""
        return self.revision is not None and not self.pending


@dataclasses.dataclass(frozen=True)
class Legacy:
    """What a charm kept before it used this library: a `migrate` function returns it.

    Attributes:
        values: field values by field name, read from the legacy keys and secret.
        keys: application databag keys of the legacy layout that no field of
            this object takes over; the leader deletes them once every unit runs
            a revision that uses this library.
        secret: the legacy app-owned secret. If it holds a content key for each
            secret field whose value `values` gives, the library takes it over as
            its own (one secret, which units on the old revision keep reading by
            id or label, keeping its label and its other content, and holding
            the values of new secret fields too); otherwise its values are copied
            and the leader removes it once every unit runs a revision that uses
            this library.
    """

    values: Mapping[str, Any]
    keys: Collection[str] = ()
    secret: ops.Secret | None = None


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


def _canonical(value: object, dumped: object) -> object:
    """`dumped`, the JSON-mode dump of `value`, with every set in a canonical order.

    pydantic dumps a set in iteration order, which varies with the hash seed of
    each process; walking the value beside its dump finds the sets at any depth.
    """
    if isinstance(dumped, list):
        items = typing.cast("list[object]", dumped)
        if isinstance(value, (set, frozenset, list, tuple)):
            values = typing.cast("Collection[object]", value)
            if len(values) == len(items):
                items = [_canonical(v, d) for v, d in zip(values, items, strict=True)]
            if isinstance(value, (set, frozenset)):
                return sorted(items, key=_dumps)
        return items
    if isinstance(dumped, dict):
        members = typing.cast("dict[str, object]", dumped)
        fields = _field_values(value)
        if isinstance(value, pydantic.BaseModel):
            # The rest of a model's dump are its computed fields, which are not data (older
            # pydantic dumps them even for a round trip) and its extra fields.
            extra = value.model_extra or {}
            members = {k: v for k, v in members.items() if k in fields or k in extra}
        if fields:
            return {k: _canonical(fields[k], v) if k in fields else v for k, v in members.items()}
        if isinstance(value, Mapping) and len(value) == len(members):  # pyright: ignore[reportUnknownArgumentType]
            originals = typing.cast("Mapping[object, object]", value).values()
            pairs = zip(members.items(), originals, strict=True)
            return {k: _canonical(v, d) for (k, d), v in pairs}
        return members
    return dumped


def _field_values(value: object) -> dict[str, object]:
    """The fields of a model or dataclass `value`, under each key its dump may use."""
    infos: Mapping[str, Any]
    if isinstance(value, pydantic.BaseModel):
        infos = type(value).model_fields
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        # pydantic dataclasses describe their fields as models do; plain ones have names only.
        described = getattr(type(value), "__pydantic_fields__", {})
        infos = {field.name: described.get(field.name) for field in dataclasses.fields(value)}
    else:
        return {}
    # pydantic sets a field's serialization alias from its alias unless given apart.
    return {
        key: getattr(value, name)
        for name, info in infos.items()
        for key in (name, getattr(info, "serialization_alias", None))
        if key
    }


def _nested_types(annotation: Any, seen: set[int]) -> Iterator[Any]:
    """`annotation` and every type a value of it can hold, at any depth."""
    if id(annotation) in seen:
        return
    seen.add(id(annotation))
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _nested_types(arg, seen)
    hints: dict[str, Any] = {}
    model: Any = annotation  # narrowed below, leaving `annotation` as it is
    if isinstance(model, type) and issubclass(model, pydantic.BaseModel):
        hints = {name: field.annotation for name, field in model.model_fields.items()}
    elif typing_extensions.is_typeddict(annotation) or dataclasses.is_dataclass(annotation):
        hints = typing.get_type_hints(annotation)
    for hint in hints.values():
        yield from _nested_types(hint, seen)


def _is_secret_field(annotation: Any) -> bool:
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
    tail = re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-")
    return f"leader-config-{relation_name}" + (f"-{tail}" if tail else "")


def _encoded_size(value: str) -> int:
    return len(base64.b64encode(value.encode()))


class _Codec(Generic[ConfigT]):
    """Maps a schema's fields to databag keys and secret content keys; encodes and decodes.

    Values travel as `json.dumps` of the field's JSON-mode dump, sets sorted at every
    depth; reading validates the JSON in JSON mode, so that whatever was written reads
    back, strict models included.
    """

    def __init__(self, schema: type[ConfigT], prefix: str, relation_name: str):
        self.schema = schema
        self.relation_name = relation_name
        self.aliases: dict[str, str] = {}  # field name -> the name pydantic reads and dumps
        self.content_keys: dict[str, str] = {}  # secret field name -> secret content key
        self.generated: set[str] = set()  # fields with a default_factory
        for name, field in schema.model_fields.items():
            self._check_field(name, field)
            self.aliases[name] = field.alias or name
            if field.default_factory is not None:
                self.generated.add(name)
            if _is_secret_field(field.annotation):
                self.content_keys[name] = _content_key(self.aliases[name])
        self.keys = {name: prefix + alias for name, alias in self.aliases.items()}
        self.secret_id_key = prefix + _ID_KEY
        self.revision_key = prefix + _REVISION
        self.unit_key = prefix + _UNIT_RECORD
        self._names_by_alias = {alias: name for name, alias in self.aliases.items()}
        self._adapters: dict[str, pydantic.TypeAdapter[Any]] = {}  # built on first use
        self._check_reserved_names()

    def _check_field(self, name: str, field: Any) -> None:
        where = f"{self.schema.__name__}.{name}"
        if (
            field.exclude
            or field.validation_alias not in (None, field.alias)
            or field.serialization_alias not in (None, field.alias)
        ):
            raise ValueError(
                f"{where}: LeaderConfig supports plain fields and Field(alias=...), not"
                " exclude, validation_alias or serialization_alias"
            )
        if _is_secret_field(field.annotation):
            return
        for nested in _nested_types(field.annotation, set()):
            kind = typing.get_origin(nested) or nested  # `Secret[str]` is a generic alias
            if isinstance(kind, type) and issubclass(kind, _SECRET_TYPES):
                raise ValueError(
                    f"{where}: a {kind.__name__} here would reach the databag masked;"
                    " secret values are supported only as a field typed SecretStr or"
                    " SecretStr | None, which live in a Juju secret"
                )

    def _check_reserved_names(self) -> None:
        reserved = {self.revision_key: "the config revision"}
        if self.content_keys:
            reserved[self.secret_id_key] = "the secret's id"
        for name, key in self.keys.items():
            if key in reserved:
                raise ValueError(
                    f"{self.schema.__name__}.{name}: the databag key {key!r} is reserved for"
                    f" {reserved[key]}; rename the field or give it another alias"
                )
        taken = [*self.content_keys.values(), _STAMP_KEY]
        for name, key in self.content_keys.items():
            if not _SECRET_KEY.fullmatch(key) or taken.count(key) > 1:
                raise ValueError(
                    f"{self.schema.__name__}.{name}: cannot map the field to a unique Juju"
                    f" secret content key (got {key!r}); rename the field or give it an alias"
                )

    # Secret fields

    def marked_secrets(self, raw: Mapping[str, str]) -> list[str]:
        """The secret fields whose databag marker says the secret holds a value."""
        return [name for name in self.content_keys if raw.get(self.keys[name], "null") != "null"]

    def stamp(self, raw: Mapping[str, str]) -> str:
        """The stamp of the secret revision that `raw`'s markers describe."""
        return _digest(*(f"{name}={raw[self.keys[name]]}" for name in self.marked_secrets(raw)))

    def secret_values(self, config: ConfigT) -> dict[str, str | None]:
        """Each secret field's value, by field name."""
        values: dict[str, str | None] = {}
        for name in self.content_keys:
            value: pydantic.SecretStr | None = getattr(config, name)
            values[name] = None if value is None else value.get_secret_value()
        return values

    def check_secret_size(self, values: Mapping[str, str | None]) -> None:
        """Refuse secret values that Juju would refuse, before anything is written."""
        total = 0
        for name, value in values.items():
            size = 0 if value is None else _encoded_size(value)
            total += size
            if size > _SECRET_VALUE_LIMIT:
                raise ValueError(
                    f"{self.schema.__name__}.{name}: the value is {size} bytes base64-encoded;"
                    f" Juju secrets hold at most {_SECRET_VALUE_LIMIT} bytes per value"
                )
        if total > _SECRET_CONTENT_LIMIT - 1024:  # room for the stamp and other keys
            raise ValueError(
                f"{self.schema.__name__}: the secret fields are {total} bytes base64-encoded;"
                f" Juju secrets hold at most {_SECRET_CONTENT_LIMIT} bytes in all"
            )

    # Plain fields

    def encode(self, config: ConfigT) -> dict[str, str]:
        """Return each plain (not secret) field's wire value, by field name."""
        dumped = config.model_dump(mode="json", by_alias=True, round_trip=True, warnings=False)
        return {
            name: _dumps(_canonical(getattr(config, name), dumped[alias]))
            for name, alias in self.aliases.items()
            if name not in self.content_keys
        }

    def encode_value(self, name: str, value: Any) -> str:
        """Validate and encode one plain field's value on its own; raise ValidationError."""
        adapter = self._adapters.get(name)
        if adapter is None:
            field = self.schema.model_fields[name]
            annotation: Any = field.annotation
            if field.metadata:
                arguments = (annotation, *field.metadata)
                annotation = Annotated[arguments]  # pyright: ignore[reportInvalidTypeForm]
            adapter = self._adapters[name] = pydantic.TypeAdapter(annotation)
        valid: Any = adapter.validate_python(value)
        return _dumps(_canonical(valid, adapter.dump_python(valid, mode="json", round_trip=True)))

    def parse(self, raw: Mapping[str, str]) -> dict[str, Any]:
        """JSON-decode the plain keys `raw` holds, by alias; raise InvalidConfigError."""
        data: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for name, key in self.keys.items():
            if key in raw and name not in self.content_keys:
                try:
                    data[self.aliases[name]] = json.loads(raw[key])
                except ValueError as e:
                    problems[key] = f"not JSON ({e})"
        if problems:
            raise self.invalid(problems)
        return data

    def decode(self, raw: Mapping[str, str], secret_values: Mapping[str, str]) -> ConfigT:
        """Validate `raw` (own keys by databag key) and the secret fields' values.

        Decoded JSON is validated in lax mode, whatever the model's strictness:
        whatever the library wrote (an enum's value, a tuple as a list), it reads.
        Missing keys take the schema's defaults (`default_factory` included).

        Raises:
            InvalidConfigError: naming the keys at fault.
        """
        data = self.parse(raw)
        present = [key for key in self.keys.values() if key in raw]
        for name in self.content_keys:  # their keys hold a marker, or null for None
            key = self.keys[name]
            if key in raw:
                data[self.aliases[name]] = None if raw[key] == "null" else secret_values[name]
            elif name in secret_values:  # held by the secret, though no key marks it
                data[self.aliases[name]] = secret_values[name]
        try:
            return self.schema.model_validate(data, strict=False)
        except pydantic.ValidationError as e:
            problems: dict[str, str] = {}
            for error in e.errors(include_url=False):
                location = error["loc"]
                field = self._names_by_alias.get(str(location[0])) if location else None
                # A model-level validator names no field: every key took part.
                for key in [self.keys[field]] if field else present:
                    problems.setdefault(key, error["msg"])
            # pydantic's error quotes each input: with secret fields, it is not chained.
            raise self.invalid(problems) from (None if self.content_keys else e)

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

    def revalidate(self, config: ConfigT | None, changes: Mapping[str, Any]) -> ConfigT:
        """Validate `config` (None: nothing but defaults) with `changes` by field name.

        First from the values a round trip dumps (a `Json` field as its text), nested
        models kept as instances (older pydantic dumps their computed fields); if
        pydantic cannot dump them (a set of models) or they do not validate (a strict
        model refuses a dataclass as a dict), from the field values as they are.

        Raises:
            ValueError: pydantic's ValidationError (secret inputs masked), or TypeError.
        """
        given = {self.aliases[name]: value for name, value in changes.items()}
        if config is None:
            return self.validate(given)
        as_is = {alias: getattr(config, name) for name, alias in self.aliases.items()}
        try:
            dumped = config.model_dump(by_alias=True, round_trip=True, warnings=False)
        except TypeError:  # a set of models dumps as a set of dicts
            return self.validate({**as_is, **given})
        round_trip = {
            alias: value if isinstance(value, pydantic.BaseModel) else dumped[alias]
            for alias, value in as_is.items()
        }
        try:
            return self.validate({**round_trip, **given})
        except ValueError as e:
            try:
                return self.validate({**as_is, **given})
            except ValueError:
                raise e from None

    def revision(self, raw: Mapping[str, str]) -> int | None:
        """The stored config revision; None if `raw` has none; raise InvalidConfigError."""
        text = raw.get(self.revision_key)
        if text is None:
            return None
        try:
            revision = json.loads(text)
        except ValueError:
            revision = None
        if type(revision) is not int or revision < 0:
            raise self.invalid({self.revision_key: "not a revision number"})
        return revision

    def revision_or_none(self, raw: Mapping[str, str]) -> int | None:
        try:
            return self.revision(raw)
        except InvalidConfigError:
            return None

    def read_back(self, plain: Mapping[str, str], values: Mapping[str, str | None]) -> ConfigT:
        """Decode what `encode` made of a config; raise ValueError if it does not read back."""
        wire = {self.keys[name]: value for name, value in plain.items()}
        wire.update((self.keys[n], "null" if v is None else '"set"') for n, v in values.items())
        secret_values = {name: value for name, value in values.items() if value is not None}
        try:
            return self.decode(wire, secret_values)
        except InvalidConfigError as e:
            raise ValueError(f"the config does not read back from its JSON encoding: {e}") from e

    def invalid(self, problems: dict[str, str]) -> InvalidConfigError:
        detail = "; ".join(f"{key!r}: {reason}" for key, reason in sorted(problems.items()))
        return InvalidConfigError(
            f"the shared config in the {self.relation_name!r} application databag is"
            f" invalid for {self.schema.__name__}: {detail}",
            relation_name=self.relation_name,
            keys=tuple(sorted(problems)),
        )


# The secret


class _SecretChange(typing.NamedTuple):
    changes: dict[str, str]  # the databag changes that go with it
    undo: Callable[[], None]  # puts the secret back, if the databag write fails
    finish: Callable[[], None]  # runs once the databag no longer names a removed secret


def _nothing() -> None:
    pass


def _same_secret(first: str, second: str) -> bool:
    """Whether two secret URIs (`secret:x`, `secret://model/x`) name one secret."""
    return (
        first.rsplit("/", 1)[-1].rsplit(":", 1)[-1] == second.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    )


class _SecretStore:
    """The application-owned Juju secret that holds one object's secret fields.

    The databag holds the secret's id and, under each secret field's key, `null` or
    a random marker that changes with the value; the content holds the values and
    a stamp of the markers, so a unit tracking an older revision knows to refresh.
    Content keys that are not this object's (a field a newer or older revision
    has, a legacy key) are kept as they are.
    """

    def __init__(self, model: ops.Model, codec: _Codec[Any], label: str):
        self._model = model
        self._codec = codec
        self.label = label
        # The secret last read or written, as (id, stamp, secret, content): it is
        # used again only while the databag names the same id and markers.
        self._cache: tuple[str, str, ops.Secret, dict[str, str]] | None = None

    def forget(self) -> None:
        self._cache = None

    def secret_id(self, raw: Mapping[str, str]) -> str | None:
        try:
            secret_id = json.loads(raw.get(self._codec.secret_id_key, "null"))
        except ValueError:
            return None
        return secret_id if isinstance(secret_id, str) and secret_id else None

    def values(self, raw: Mapping[str, str]) -> dict[str, str]:
        """The values of the secret fields that `raw` marks as set, by field name.

        Also those of the fields that `raw` has no key for but the secret holds
        (written there by hand, or by a charm before it used this library): they
        are read, never generated again.
        """
        names = self._codec.marked_secrets(raw)
        unmarked = [
            n
            for n, key in self._codec.keys.items()
            if n in self._codec.content_keys and key not in raw
        ]
        if not names and not (unmarked and self.secret_id(raw)):
            return {}
        try:
            _, content = self.fetch(raw, names or unmarked)
        except SecretUnavailableError as e:
            if names or _is_transient(e):
                raise
            return {}  # nothing marked: the fields take their defaults, as before
        missing = [name for name in names if self._codec.content_keys[name] not in content]
        if missing:
            raise self.unavailable(missing, "the secret does not hold them")
        keys = self._codec.content_keys
        return {name: content[keys[name]] for name in names + unmarked if keys[name] in content}

    def fetch(self, raw: Mapping[str, str], names: list[str]) -> tuple[ops.Secret, dict[str, str]]:
        """The secret and its content at the revision `raw` describes: one `secret-get`.

        A unit tracking an older revision (units of the owning application track
        revisions too) refreshes to the latest, with a second call.
        """
        secret_id = self.secret_id(raw)
        if secret_id is None:
            key = self._codec.secret_id_key
            raise self.unavailable(names, f"the databag key {key!r} holds no secret id")
        stamp = self._codec.stamp(raw)
        if self._cache is None or self._cache[:2] != (secret_id, stamp):
            try:
                secret = self._model.get_secret(id=secret_id)
                content = secret.get_content()
                if content.get(_STAMP_KEY) != stamp:
                    content = secret.get_content(refresh=True)
            except ops.ModelError as e:  # SecretNotFoundError is one
                raise self.unavailable(names, f"Juju cannot read {secret_id}: {e}") from e
            self._cache = (secret_id, stamp, secret, content)
        return self._cache[2], self._cache[3]

    def write(
        self, raw: Mapping[str, str], values: Mapping[str, str | None], adopt: ops.Secret | None
    ) -> _SecretChange:
        """Bring the secret in line with `values` (by field name); leader only.

        Creates the secret on first need (or takes over `adopt`), sets a new revision
        when a value changed, and removes the secret with its last content.
        """
        names = list(self._codec.content_keys)
        secret: ops.Secret | None = None
        current: dict[str, str] = {}
        if self.secret_id(raw) is not None:
            try:
                secret, current = self.fetch(raw, names)
            except SecretUnavailableError as e:
                if not isinstance(e.__cause__, ops.SecretNotFoundError):
                    raise
                logger.warning("%s: the secret is gone; writing a new one", self.label)
        elif adopt is not None:
            secret, current = adopt, adopt.get_content()
        changes: dict[str, str] = {}
        markers = dict(raw)
        for name, content_key in self._codec.content_keys.items():
            key, value = self._codec.keys[name], values[name]
            marker = raw.get(key)
            if value is None:
                marker = "null"
            elif marker in (None, "null") or current.get(content_key) != value:
                marker = _new_marker()
            if marker != raw.get(key):
                changes[key] = markers[key] = marker
        own = set(self._codec.content_keys.values()) | {_STAMP_KEY}
        wanted = {key: value for key, value in current.items() if key not in own}
        wanted.update(
            (self._codec.content_keys[name], value)
            for name, value in values.items()
            if value is not None
        )
        if wanted:
            wanted[_STAMP_KEY] = self._codec.stamp(markers)
        if secret is not None and adopt is secret:
            changes[self._codec.secret_id_key] = _dumps(self._id_of(secret))
        if wanted == current:
            return _SecretChange(changes, _nothing, _nothing)
        if secret is None:
            secret = self._model.app.add_secret(wanted, label=self.label)
            changes[self._codec.secret_id_key] = _dumps(self._id_of(secret))
            self._cache = (self._id_of(secret), wanted[_STAMP_KEY], secret, wanted)
            return _SecretChange(changes, secret.remove_all_revisions, _nothing)
        if not wanted:
            changes[self._codec.secret_id_key] = ""  # deletes the key
            self._cache = None
            return _SecretChange(changes, _nothing, secret.remove_all_revisions)
        old = secret
        secret.set_content(wanted)
        self._cache = (self._id_of(secret), wanted[_STAMP_KEY], secret, wanted)
        return _SecretChange(changes, lambda: old.set_content(current), _nothing)

    @staticmethod
    def _id_of(secret: ops.Secret) -> str:
        return str(secret.id or secret.get_info().id)

    def is_ours(self, secret: ops.Secret, raw: Mapping[str, str]) -> bool:
        """Whether `secret` is the one this object's databag names (or bears its label)."""
        if secret.label == self.label:
            return True
        secret_id = self.secret_id(raw)
        # A secret got by label alone has no id until Juju is asked for it.
        return secret_id is not None and _same_secret(self._id_of(secret), secret_id)

    def unavailable(self, names: list[str], reason: str) -> SecretUnavailableError:
        return SecretUnavailableError(
            f"cannot read secret field(s) {', '.join(sorted(names))} of the shared config"
            f" in {self._codec.relation_name!r}: {reason}",
            relation_name=self._codec.relation_name,
            fields=tuple(sorted(names)),
        )


# What a unit last handled


class _Handled:
    """What this unit last handled, in its stored state (which a new pod loses).

    A fingerprint of the object's raw data, so that an unchanged databag costs no
    decoding; a digest of each field's value by databag key (secret values digested
    with a random salt of the unit's own), so that the changed event names exactly
    the fields whose value changed, across renames by alias; and the revision.
    """

    def __init__(self, stored: ops.BoundStoredState, codec: _Codec[Any]):
        self._stored = stored
        self._codec = codec
        self._names = {key: name for name, key in codec.keys.items()}
        stored.set_default(
            fingerprint="", digests={}, salt=secrets.token_hex(16), keyed=False, revision=None
        )
        if not stored.keyed:  # kept by field name before LIBPATCH 11
            stored.digests = {
                codec.keys[name]: digest
                for name, digest in dict(stored.digests).items()
                if name in codec.keys
            }
            stored.keyed = True

    @staticmethod
    def fingerprint(raw: Mapping[str, str]) -> str:
        return _digest(*(part for item in sorted(raw.items()) for part in item))

    def seen(self, raw: Mapping[str, str]) -> bool:
        return bool(self.fingerprint(raw) == self._stored.fingerprint)

    def last(self) -> tuple[dict[str, str], int | None]:
        """The digests and revision of the view last recorded, to compare a later one with."""
        return dict(self._stored.digests), self._stored.revision

    def record(
        self,
        raw: Mapping[str, str],
        config: pydantic.BaseModel | None,
        revision: int | None,
        since: tuple[dict[str, str], int | None] | None = None,
    ) -> tuple[frozenset[str], bool]:
        """Record the view this unit handles; return the changed fields and if the revision is.

        Both compare with the view `since` (what `last()` returned), or by default
        with the view last recorded. Fields compare by value: plain ones by their
        JSON, secret ones by a salted digest, so that stored state holds no secret
        and a value that changed and changed back in between is no change.
        """
        digests: dict[str, str] = {}
        if config is not None:
            encoded = self._codec.encode(config)  # pyright: ignore[reportArgumentType]
            for name, key in self._codec.keys.items():
                if name in encoded:
                    digests[key] = _digest(encoded[name])
                else:
                    secret: pydantic.SecretStr | None = getattr(config, name)
                    parts = () if secret is None else (secret.get_secret_value(),)
                    digests[key] = _digest(self._stored.salt, *parts)
        previous, previous_revision = since or self.last()
        changed = frozenset(
            self._names[key]
            for key in digests.keys() | previous.keys()
            if key in self._names and digests.get(key) != previous.get(key)
        )
        new_revision = revision != previous_revision
        self._stored.fingerprint = self.fingerprint(raw)
        self._stored.digests = digests
        self._stored.revision = revision
        return changed, new_revision


# Revisions and acknowledgements


def _applied(revision: int | None) -> int:
    return -1 if revision is None else revision


def _at_least(applied: int | None, revision: int | None) -> bool:
    return applied is not None and revision is not None and applied >= revision


class _Rollouts:
    """Each unit's record in its own peer databag, and the leader's tally of them.

    A unit's record (`prefix + "leader-config-unit"`, JSON) says that it runs a
    revision that uses this library, and the config revision it last applied:
    `{}` or `{"applied": N}`. A unit writes only its own; the leader keeps a tally
    in its stored state, updated from the one unit whose databag changed, and
    rebuilt with one read per unit when it becomes leader or its state is gone.
    """

    def __init__(self, model: ops.Model, stored: ops.BoundStoredState, codec: _Codec[Any]):
        self._model = model
        self._stored = stored
        self._key = codec.unit_key
        stored.set_default(record="", tally={}, tally_valid=False, applied_fired=-1)

    def write(self, relation: ops.Relation, applied: int | None) -> None:
        """Write this unit's record, unless it already holds the same."""
        record = _dumps({} if applied is None else {"applied": applied})
        if record == self._stored.record:
            return
        relation.data[self._model.unit].update({self._key: record})
        self._stored.record = record
        if self._stored.tally_valid:
            self._stored.tally = {**self._stored.tally, self._model.unit.name: _applied(applied)}

    def announce(self, relation: ops.Relation) -> None:
        """Write this unit's record once, so the leader knows it reads this library's format."""
        if not self._stored.record:
            self._stored.record = relation.data[self._model.unit].get(self._key, "")
            if not self._stored.record:
                self.write(relation, None)

    def read(self, relation: ops.Relation, unit: ops.Unit) -> int | None:
        """The revision `unit` applied (-1 for none yet), or None if it has no record."""
        if unit == self._model.unit and self._stored.record:
            text = self._stored.record
        else:
            text = relation.data[unit].get(self._key)
        try:
            record = json.loads(text) if text else None
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        applied = record.get("applied")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return applied if isinstance(applied, int) else -1

    def forget(self) -> None:
        """Rebuild the tally when next needed (a new leader may have missed records)."""
        self._stored.tally_valid = False

    def has_tally(self) -> bool:
        """Whether this unit keeps a tally that follows every record; leader only."""
        return bool(self._stored.tally_valid)

    def note(self, relation: ops.Relation, unit: ops.Unit) -> bool:
        """Update the tally for `unit`, which joined, changed or departed; leader only."""
        tally = dict(self.tally(relation))
        applied = self.read(relation, unit) if unit in relation.units else None
        if applied is None:
            tally.pop(unit.name, None)
        else:
            tally[unit.name] = applied
        if tally == self._stored.tally:
            return False
        self._stored.tally = tally
        return True

    def tally(self, relation: ops.Relation) -> dict[str, int]:
        """What each unit applied, by name, for the units with a record; leader only."""
        if not self._stored.tally_valid:
            units = {*relation.units, self._model.unit}
            records = {unit.name: self.read(relation, unit) for unit in units}
            self._stored.tally = {name: n for name, n in records.items() if n is not None}
            self._stored.tally_valid = True
        return dict(self._stored.tally)

    def units(self, relation: ops.Relation) -> set[str]:
        return {unit.name for unit in relation.units} | {self._model.unit.name}

    def all_recorded(self, relation: ops.Relation) -> bool:
        """Whether every unit runs a revision that uses this library; leader only."""
        others = self.units(relation) - {self._model.unit.name}
        return others <= self.tally(relation).keys() and self.sees_every_unit(relation)

    def sees_every_unit(self, relation: ops.Relation) -> bool:
        """Whether the relation holds every unit Juju plans: one `goal-state`.

        A unit new to the relation (a new leader among them) sees another unit only
        once its `relation-joined` for that unit has run.
        """
        return len(self.units(relation)) >= self._model.app.planned_units()

    def rollout(self, relation: ops.Relation, revision: int | None, leader: bool) -> Rollout:
        units = self.units(relation)
        applied_by: dict[str, int | None]
        if leader:
            applied_by = {**self.tally(relation)}
        else:
            applied_by = {unit.name: self.read(relation, unit) for unit in relation.units}
            applied_by[self._model.unit.name] = self.read(relation, self._model.unit)
        applied = frozenset(
            name
            for name in units
            if revision is not None and _at_least(applied_by.get(name), revision)
        )
        return Rollout(revision=revision, applied=applied, pending=frozenset(units - applied))

    def due(self, relation: ops.Relation, rollout: Rollout) -> bool:
        """Whether `applied` fires for this complete rollout (once per revision)."""
        if not rollout.complete or rollout.revision is None:
            return False
        if self._stored.applied_fired >= rollout.revision:
            return False
        if not self.sees_every_unit(relation):
            return False
        self._stored.applied_fired = rollout.revision
        return True


# Adoption


Migrate = Callable[[ops.Relation], "Legacy | Mapping[str, Any] | None"]


class _Adoption:
    """Legacy data a charm kept before it used this library: read, taken over, retired.

    `migrate` is consulted only while nothing is published in this library's format;
    what it returns is kept for as long as the raw data stays the same, a failure
    included (so that it is logged once).
    """

    def __init__(
        self, migrate: Migrate, codec: _Codec[Any], own_keys: list[str], rollouts: _Rollouts
    ):
        self._migrate = migrate
        self._codec = codec
        self._own_keys = own_keys
        self._rollouts = rollouts
        self._cache: tuple[dict[str, str], Legacy | LeaderConfigError | None] | None = None

    def forget(self) -> None:
        self._cache = None

    def legacy(
        self, relation: ops.Relation, databag: dict[str, str], published: bool
    ) -> Legacy | None:
        """What `migrate` makes of the legacy data; raise LeaderConfigError if it failed.

        `databag`: the whole application databag, which the result is kept for.
        `published`: own keys are complete and valid (written by an earlier patch of
        this library, or by hand in its format): published data, not legacy.
        """
        if self._cache is None or self._cache[0] != databag:
            result: Legacy | LeaderConfigError | None = None
            if not published:
                try:
                    result = self.call(relation)
                except Exception as e:  # a charm's function: any failure is a config error
                    result = LeaderConfigError(
                        f"migrate failed for the shared config in {self._codec.relation_name!r}:"
                        f" {type(e).__name__}: {e}",
                        relation_name=self._codec.relation_name,
                    )
                    result.__cause__ = e
            self._cache = (databag, result)
        result = self._cache[1]
        if isinstance(result, LeaderConfigError):
            raise result
        return result

    def call(self, relation: ops.Relation) -> Legacy | None:
        result = self._migrate(relation)
        return result if result is None or isinstance(result, Legacy) else Legacy(result)

    def blocked(self, relation: ops.Relation, raw: Mapping[str, str], leader: bool) -> bool:
        """Whether legacy data under this object's own keys must stay as it is.

        Units on the old revision read it there: the leader takes the keys over
        once every unit runs a revision that uses this library.
        """
        collides = any(key in raw for key in self._own_keys)
        return collides and not (leader and self._rollouts.all_recorded(relation))

    def config(self, legacy: Legacy) -> Any:
        """Validate the adopted values; raise InvalidConfigError."""
        codec = self._codec
        unknown = sorted(legacy.values.keys() - codec.aliases.keys())
        try:
            if unknown:
                raise ValueError(f"unknown field(s) {', '.join(unknown)}")
            return codec.validate({codec.aliases[k]: v for k, v in legacy.values.items()})
        except ValueError as e:
            raise InvalidConfigError(
                f"migrate returned values that are invalid for {codec.schema.__name__}: {e}",
                relation_name=codec.relation_name,
                keys=(),
            ) from e

    def secret_to_take_over(
        self, legacy: Legacy | None, values: Mapping[str, str | None]
    ) -> ops.Secret | None:
        """The legacy secret, if it holds a content key for every secret value adopted.

        Values that the legacy data lacks (a field new in this revision, generated)
        are added to it, next to the content it keeps.
        """
        if legacy is None or legacy.secret is None:
            return None
        content = legacy.secret.get_content()
        keys = {
            self._codec.content_keys[name]
            for name, value in values.items()
            if value is not None and name in legacy.values
        }
        return legacy.secret if keys <= content.keys() else None

    def retire(
        self, relation: ops.Relation, app: ops.Application, ours: Callable[[ops.Secret], bool]
    ) -> None:
        """Remove a copied legacy secret, then delete the legacy keys; leader only."""
        legacy = self.call(relation)
        if legacy is None:
            return
        # The secret first: if Juju refuses it, the keys that lead to it are still there
        # when the leader tries again in a later hook.
        if legacy.secret is not None and not ours(legacy.secret):
            legacy.secret.remove_all_revisions()
        databag = relation.data[app]
        databag.update({k: "" for k in legacy.keys if k in databag and k not in self._own_keys})


# The object


@dataclasses.dataclass(frozen=True)
class _View(Generic[ConfigT]):
    """This unit's view of the config, as `get()` returns it, worked out from the databag."""

    config: ConfigT | None = None
    revision: int | None = None  # of the stored data: 0 if unnumbered, None if none
    error: LeaderConfigError | None = None  # what `get()` raises instead
    shared: bool = False  # `config` is what every unit reads from the databag
    publish: bool = False  # the leader publishes `config` at the end of the hook
    blocked: bool = False  # the leader must not write: old units read the legacy keys
    legacy: Legacy | None = None  # where adopted values came from


class LeaderConfig(ops.Object, Generic[ConfigT]):
    """Typed config that the leader writes and every unit reads, over a peer relation.

    Args:
        charm: the charm that owns this object.
        relation_name: the peer endpoint whose application databag holds the config.
        schema: the pydantic model of the config.
        prefix: a string put before every databag key, so that several objects can
            share one peer relation.
        migrate: adopts data that a charm kept before it used this library: see
            "Upgrading a deployed charm" in the manual. Called with the peer
            relation while nothing is published in this library's format, it
            returns a `Legacy` (or a mapping of field values by name, or None if
            there is nothing to adopt). It must only read.
        acknowledge: let units acknowledge the config revisions they applied
            (`acknowledge()`, `rollout()`, `on.applied`).

    Attributes:
        secret_label: the label of the application-owned secret that the library
            makes for the secret fields: `leader-config-<relation_name>`, plus
            `-<prefix>` if there is a prefix (lowercase, separators as `-`). A
            legacy secret taken over keeps its own label.

    Raises:
        ValueError: if `relation_name` is not a peer endpoint of the charm, the
            schema has fields that the wire format cannot carry or that use a
            reserved key, or another `LeaderConfig` of the charm already uses one
            of this one's databag keys.
        TypeError: if `schema` is not a pydantic model class.
        LeaderConfigError: if the schema has secret fields and this Juju has no
            secrets (before 3.0.3).

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
        migrate: Migrate | None = None,
        acknowledge: bool = False,
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
        own_keys = [*codec.keys.values(), codec.revision_key]
        if codec.content_keys:
            own_keys.append(codec.secret_id_key)
        _claim_keys(charm.framework, codec, own_keys, f"the {schema.__name__} LeaderConfig")
        super().__init__(charm, f"{relation_name}:{prefix}")
        self._relation_name = relation_name
        self._prefix = prefix
        self._codec = codec
        self._acknowledge = acknowledge
        self.secret_label = _secret_label(relation_name, prefix)
        self._own_keys = own_keys
        if codec.content_keys:
            version = self.model.juju_version
            # Harness reports 0.0.0 unless the test sets JUJU_VERSION; Juju always sets it.
            if not version.has_secrets and str(version) != "0.0.0":
                raise LeaderConfigError(
                    f"{schema.__name__} has secret fields, which need Juju 3.0.3 or later"
                    f" (this is Juju {version})",
                    relation_name=relation_name,
                )
            self.framework.observe(charm.on.secret_remove, self._on_secret_remove)
        self._secrets = _SecretStore(self.model, codec, self.secret_label)
        self._handled = _Handled(self._stored, codec)
        tracks_units = acknowledge or migrate is not None
        self._rollouts = _Rollouts(self.model, self._stored, codec) if tracks_units else None
        self._adoption = (
            _Adoption(migrate, codec, own_keys, self._rollouts)
            if migrate and self._rollouts
            else None
        )
        self._stored.set_default(retired=False, retire_again=False)
        # Caches that follow the data: the view by raw data and role, the decoded config.
        self._view_cache: tuple[dict[str, str], bool, _View[ConfigT]] | None = None
        self._decoded: tuple[dict[str, str], ConfigT] | None = None
        # For the end of the hook: publish, emit, look at the tally.
        self._publish_pending = False
        self._handed_out = False  # `get()` returned a config that is still to be published
        self._changed_pending: frozenset[str] | None = None  # empty: only the revision changed
        # On the leader, the view it had handled before its first change since its last event.
        self._handled_before: tuple[dict[str, str], int | None] | None = None
        self._tally_changed = False
        self._ended_with_app_status = False
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
        if tracks_units:
            self.framework.observe(peer_events.relation_departed, self._on_departed)
        # Emitted after the charm's handlers in every hook (the app's first, on the
        # leader): the leader publishes what it found missing and emits its events.
        self.framework.observe(charm.on.collect_app_status, self._on_end_of_hook)
        self.framework.observe(charm.on.collect_unit_status, self._on_end_of_hook)

    def __repr__(self) -> str:
        # The prefix tells apart the objects that share a relation, in logs and errors.
        prefix = f", prefix={self._prefix!r}" if self._prefix else ""
        return (
            f"{type(self).__name__}(relation_name={self._relation_name!r},"
            f" schema={self._codec.schema.__name__}{prefix})"
        )

    # Reading

    def get(self) -> ConfigT | None:
        """Return this unit's view of the config, or None if there is none yet.

        On a follower, None means there is no peer relation yet (as in `install`)
        or the leader has not published. On the leader, it is the complete config
        that the leader publishes (at the end of the hook, if keys are missing):
        the schema's defaults, and values generated once by `default_factory`.

        Returns:
            A fresh copy of the config; changing it changes nothing stored.

        Raises:
            InvalidConfigError: if the stored data cannot be decoded or validated.
            SecretUnavailableError: if the secret holding secret fields is missing.
            PendingFieldsError: on a follower, while the config lacks values that
                only the leader generates.
            LeaderConfigError: if `migrate` raised (chained).
        """
        relation = self.model.get_relation(self._relation_name)
        if relation is None:
            return None
        view = self._view(relation, self._read(relation))
        if view.error is not None:
            raise view.error
        self._publish_pending |= view.publish
        self._handed_out |= view.publish
        return None if view.config is None else view.config.model_copy(deep=True)

    @property
    def revision(self) -> int | None:
        """The config revision of this unit's view.

        It goes up with every effective write by the leader. 0 is data published
        before revisions were numbered; None means nothing is published yet.
        It is read from the databag alone (no secret read, no validation), except
        while legacy data may be adopted.
        """
        relation = self.model.get_relation(self._relation_name)
        if relation is None:
            return None
        raw = self._read(relation)
        if self._adoption is not None and self._codec.revision_key not in raw:
            return self._view(relation, raw).revision
        revision = self._codec.revision_or_none(raw)
        if revision is None and any(key in raw for key in self._codec.keys.values()):
            return 0
        return revision

    # Writing

    def update(self, **changes: Any) -> None:
        """Change the given fields, keeping the others; leader only.

        Example::

            self.shared.update(log_level="debug")

        Args:
            changes: new values, by field name.

        Raises:
            ValueError: for an unknown field name or an invalid value (pydantic's
                ValidationError), before anything is written.
            NotLeaderError: if this unit is not the leader, or Juju refused the write.
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
        current = self._writable_view(relation, raw).config
        self._write(relation, self._codec.revalidate(current, changes))

    def set(self, config: ConfigT) -> None:
        """Replace the whole config; leader only.

        Args:
            config: the new config, an instance of the schema.

        Raises:
            TypeError: if `config` is not an instance of the schema.
            ValueError: if `config` no longer validates, before anything is written.
            NotLeaderError: if this unit is not the leader, or Juju refused the write.
            NotReadyError: if the peer relation does not exist yet.
            SecretUnavailableError: if the secret exists but Juju refuses to read it.
        """
        if not isinstance(config, self._codec.schema):
            raise TypeError(
                f"set() takes a {self._codec.schema.__name__}, not {type(config).__name__}"
            )
        relation = self._writable_relation()
        self._write(relation, self._codec.revalidate(config, {}))

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
            NotLeaderError: if this unit is not the leader, or Juju refused the write.
            NotReadyError: if the peer relation does not exist yet.
            InvalidConfigError: if the stored config is invalid (use `set()`).
            SecretUnavailableError: if the secret holding secret fields is missing.
        """
        relation = self._writable_relation()
        current = self._writable_view(relation, self._read(relation)).config
        draft = current.model_copy(deep=True) if current is not None else self._codec.validate({})
        yield draft
        self._write(relation, self._codec.revalidate(draft, {}))

    # Acknowledgements

    def acknowledge(self) -> None:
        """Record, in this unit's peer databag, that it applied the revision of its view.

        Call it once the unit has applied the config (restarted its workload, say).
        One `relation-set`, or none if the revision is already recorded; nothing
        before anything is published. Any unit may call it.

        Raises:
            RuntimeError: if the object was made without `acknowledge=True`.
        """
        rollouts = self._rollouts_on()
        relation = self.model.get_relation(self._relation_name)
        revision = self.revision
        if relation is None or revision is None:
            return
        rollouts.write(relation, revision)
        if self.model.unit.is_leader():
            self._tally_changed = True

    def rollout(self) -> Rollout:
        """How far the revision of this unit's view has rolled out; any unit.

        On the leader it costs no hook tool call once the leader has its tally;
        on a follower, one `relation-get` per unit. Before anything is published,
        `revision` is None and every unit is pending.

        Returns:
            The revision, the units that applied it and those still pending
            (the units in the peer relation, and this one).

        Raises:
            RuntimeError: if the object was made without `acknowledge=True`.
        """
        rollouts = self._rollouts_on()
        relation = self.model.get_relation(self._relation_name)
        if relation is None:
            return Rollout(None, frozenset(), frozenset({self.model.unit.name}))
        leader = self.model.unit.is_leader()
        if leader and not rollouts.has_tally():
            self._tally_changed = True  # a leader's first look (its state gone?): `applied` due?
        return rollouts.rollout(relation, self.revision, leader)

    def _rollouts_on(self) -> _Rollouts:
        if self._rollouts is None or not self._acknowledge:
            raise RuntimeError(
                f"{self!r} was made without acknowledge=True: pass it to use"
                " acknowledge(), rollout() and on.applied"
            )
        return self._rollouts

    # Reading, inside

    def _read(self, relation: ops.Relation) -> dict[str, str]:
        """Return this object's own keys from the application databag."""
        databag = relation.data[self.model.app]
        return {key: databag[key] for key in self._own_keys if key in databag}

    def _basis(self, relation: ops.Relation, raw: dict[str, str]) -> dict[str, str]:
        """What this unit's view follows: this object's keys (`raw`).

        While legacy data may be adopted: the whole application databag, where
        `migrate` reads it.
        """
        if self._adoption is None or self._codec.revision_key in raw:
            return raw
        return dict(relation.data[self.model.app])

    def _view(self, relation: ops.Relation, raw: dict[str, str]) -> _View[ConfigT]:
        leader = self.model.unit.is_leader()
        basis = self._basis(relation, raw)
        if self._view_cache is None or self._view_cache[:2] != (basis, leader):
            try:
                view = self._work_out_view(relation, raw, basis, leader)
            except LeaderConfigError as e:
                view = _View[ConfigT](error=e)
            self._view_cache = (basis, leader, view)
        return self._view_cache[2]

    def _work_out_view(
        self, relation: ops.Relation, raw: dict[str, str], basis: dict[str, str], leader: bool
    ) -> _View[ConfigT]:
        codec = self._codec
        revision = codec.revision(raw)
        if revision is None:
            if self._adoption is not None:
                legacy = self._adoption.legacy(relation, basis, self._complete_and_valid(raw))
                if legacy is not None:
                    return self._adopting_view(self._adoption, relation, raw, legacy, leader)
            if not any(key in raw for key in codec.keys.values()):
                if not leader:
                    return _View[ConfigT]()
                try:
                    return _View(codec.validate({}), publish=True)
                except pydantic.ValidationError:  # required fields: the first write publishes
                    return _View[ConfigT]()
            revision = 0
        missing = [name for name, key in codec.keys.items() if key not in raw]
        awaited = sorted(codec.generated.intersection(missing))
        if awaited and not leader:
            codec.parse(raw)  # report undecodable data first
            raise self._pending(awaited, "the leader has not published them yet")
        config = self._decode(raw)
        return _View(config, revision, shared=not awaited, publish=leader and bool(missing))

    def _adopting_view(
        self,
        adoption: _Adoption,
        relation: ops.Relation,
        raw: dict[str, str],
        legacy: Legacy,
        leader: bool,
    ) -> _View[ConfigT]:
        """The view while `migrate` adopts legacy values: the leader publishes them."""
        blocked = adoption.blocked(relation, raw, leader)
        awaited = sorted(self._codec.generated - legacy.values.keys())
        if awaited and (blocked or not leader):
            error = self._pending(awaited, "the leader generates them when it publishes")
            return _View(error=error, blocked=blocked, legacy=legacy)
        config: ConfigT = adoption.config(legacy)
        return _View(config, publish=leader and not blocked, blocked=blocked, legacy=legacy)

    def _complete_and_valid(self, raw: dict[str, str]) -> bool:
        if any(key not in raw for key in self._codec.keys.values()):
            return False
        try:
            self._decode(raw)
        except InvalidConfigError:
            return False
        except SecretUnavailableError as e:
            if _is_transient(e):
                raise
            return False  # no secret its keys describe: legacy plaintext, say
        return True

    def _decode(self, raw: dict[str, str]) -> ConfigT:
        """Decode `raw`, missing fields taking defaults; cached while the data stays the same."""
        if self._decoded is None or self._decoded[0] != raw:
            self._decoded = (raw, self._codec.decode(raw, self._secrets.values(raw)))
        return self._decoded[1]

    def _pending(self, names: list[str], reason: str) -> PendingFieldsError:
        return PendingFieldsError(
            f"the shared config in {self._relation_name!r} lacks {', '.join(names)},"
            f" which only the leader generates: {reason}",
            relation_name=self._relation_name,
            fields=tuple(names),
        )

    # Writing, inside

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

    def _writable_view(self, relation: ops.Relation, raw: dict[str, str]) -> _View[ConfigT]:
        view = self._view(relation, raw)
        if view.blocked:
            raise self._blocked()
        if view.error is not None:
            raise view.error
        return view

    def _blocked(self) -> NotReadyError:
        return NotReadyError(
            f"cannot write the shared config in {self._relation_name!r} yet: units on the"
            " old revision still read the legacy data under its keys; the leader takes"
            " them over once every unit runs this revision",
            relation_name=self._relation_name,
        )

    def _repeats_handled_values(self, raw: dict[str, str], changes: Mapping[str, Any]) -> bool:
        """Whether `update(**changes)` would only repeat plain values this unit has handled.

        Such a write is a no-op: it needs no secret read and no full validation, which
        makes the common "publish my config on every config-changed" free.
        """
        if (
            any(name in self._codec.content_keys for name in changes)
            or any(key not in raw for key in self._codec.keys.values())
            or not self._handled.seen(raw)
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

    def _write(self, relation: ops.Relation, config: ConfigT) -> None:
        """Publish `config`: the changed keys, and a new revision, in one `relation-set`."""
        codec = self._codec
        raw = self._read(relation)
        view = self._view(relation, raw)
        if view.blocked:
            raise self._blocked()
        plain, values = codec.encode(config), codec.secret_values(config)
        codec.check_secret_size(values)
        config = codec.read_back(plain, values)  # exactly what followers will read
        changes = {codec.keys[n]: v for n, v in plain.items() if raw.get(codec.keys[n]) != v}
        secret = _SecretChange({}, _nothing, _nothing)
        if codec.content_keys:
            try:
                secret = self._write_secret(raw, values, view.legacy)
            except ops.ModelError as e:
                raise self._refused(e) from e
            changes.update(secret.changes)
        revision = codec.revision_or_none(raw)
        markers = any(codec.keys[name] in changes for name in codec.content_keys)
        if changes and (revision is None or self._is_new_revision(view, plain, markers)):
            revision = (revision or 0) + 1
            changes[codec.revision_key] = str(revision)
        self._publish_pending = self._handed_out = False  # a write publishes the whole config
        if changes:
            self._send(relation, changes, secret)
        raw = {key: value for key, value in {**raw, **changes}.items() if value}
        self._decoded = (raw, config)
        self._view_cache = (raw, True, _View(config, revision, shared=True))
        self._notice(raw, config, revision)
        if codec.revision_key in changes:
            self._tally_changed = True

    def _write_secret(
        self, raw: dict[str, str], values: dict[str, str | None], legacy: Legacy | None
    ) -> _SecretChange:
        adopt = self._adoption.secret_to_take_over(legacy, values) if self._adoption else None
        try:
            return self._secrets.write(raw, values, adopt)
        except ops.SecretNotFoundError:  # removed since this object read it: start afresh
            self._secrets.forget()
            return self._secrets.write(raw, values, adopt)

    def _send(
        self, relation: ops.Relation, changes: dict[str, str], secret: _SecretChange
    ) -> None:
        """One `relation-set`; if Juju refuses it, put the secret back as it was."""
        try:
            relation.data[self.model.app].update(changes)
        except ops.ModelError as e:
            self._forget()
            try:
                secret.undo()
            except ops.ModelError:
                logger.warning("%s: could not undo the secret change", self)
            if isinstance(e, ops.RelationNotFoundError):
                raise NotReadyError(
                    f"the {self._relation_name!r} peer relation is gone",
                    relation_name=self._relation_name,
                ) from e
            raise self._refused(e) from e
        try:
            secret.finish()
        except ops.ModelError as e:
            logger.warning("%s: could not remove the old secret: %s", self, e)

    def _is_new_revision(self, view: _View[ConfigT], plain: dict[str, str], markers: bool) -> bool:
        """Whether a write changes what the units read (a secret marker, a plain value)."""
        if view.config is None or not view.shared or view.error is not None or markers:
            return True
        return self._codec.encode(view.config) != plain

    def _refused(self, error: ops.ModelError) -> NotLeaderError:
        return NotLeaderError(
            f"Juju refused to write the shared config in {self._relation_name!r} from"
            f" {self.model.unit.name} (leadership is lost during a hook this way): {error}",
            relation_name=self._relation_name,
        )

    def _forget(self) -> None:
        """Drop what this object cached, so that the next read is of what is stored."""
        self._view_cache = self._decoded = None
        self._secrets.forget()
        if self._adoption is not None:
            self._adoption.forget()

    # Noticing changes

    def _notice(self, raw: dict[str, str], config: ConfigT | None, revision: int | None) -> None:
        """Record the view this unit now handles; emit `changed` if it differs.

        A follower emits at once; the leader once, at the end of the hook, for what
        its view gained since it last emitted (a value written and written back is
        no change), so that a handler that writes is not run inside itself. With
        acknowledgements, a new revision alone is a change too (with no field
        named), so that every unit gets to acknowledge every revision.
        """
        leader = self.model.unit.is_leader()
        if leader and self._handled_before is None:
            self._handled_before = self._handled.last()
        since = self._handled_before if leader else None
        changed, new_revision = self._handled.record(raw, config, revision, since)
        is_change = bool(changed) or (new_revision and self._acknowledge)
        if leader:
            self._changed_pending = changed if is_change else None
        elif is_change:
            self.on.changed.emit(changed, revision)

    def _on_hook(self, event: ops.EventBase) -> None:
        """Notice a changed view; on the leader, note what to publish at the end of the hook."""
        relation = self.model.get_relation(self._relation_name)
        if relation is None:
            return
        leader = self.model.unit.is_leader()
        if self._rollouts is not None:
            self._note_units(self._rollouts, relation, event, leader)
        raw = self._read(relation)
        basis = self._basis(relation, raw)
        incomplete = basis is not raw or any(key not in raw for key in self._codec.keys.values())
        if self._handled.seen(basis) and not (leader and incomplete):
            return
        view = self._view(relation, raw)
        if view.error is not None:
            self._report(view.error)
            return
        if view.publish:
            self._publish_pending = True
            return
        self._notice(basis, view.config, view.revision)

    def _note_units(
        self, rollouts: _Rollouts, relation: ops.Relation, event: ops.EventBase, leader: bool
    ) -> None:
        if self._adoption is not None:
            rollouts.announce(relation)  # this unit runs a revision that uses this library
        if isinstance(event, ops.LeaderElectedEvent):
            rollouts.forget()
        if leader and not rollouts.has_tally():
            # Elected, its stored state gone, or its first hook on this revision: the
            # leader looks at the whole rollout (and retirement) at the end of the hook.
            self._tally_changed = True
            self._view_cache = None
        elif (
            leader
            and isinstance(event, ops.RelationChangedEvent)
            and event.unit not in (None, self.model.unit)
            and rollouts.note(relation, event.unit)
        ):
            self._tally_changed = True
            self._view_cache = None  # a takeover may have become possible

    def _report(self, error: LeaderConfigError) -> None:
        """Log what stops this unit from handling the config; fail the hook if Juju may retry."""
        if isinstance(error, PendingFieldsError):
            logger.debug("%s", error)
            return
        if _is_transient(error):
            raise error  # fail the hook: Juju runs it again, and the change is not lost
        logger.warning("%s", error)

    def _on_departed(self, event: ops.RelationDepartedEvent) -> None:
        unit = event.departing_unit
        if self._rollouts is None or unit is None or unit == self.model.unit:
            return
        if self.model.unit.is_leader():
            self._rollouts.note(event.relation, unit)
            self._tally_changed = True  # one unit fewer: a rollout may be complete now
            self._view_cache = None

    def _on_end_of_hook(self, event: ops.CollectStatusEvent) -> None:
        """Publish what the leader found missing, then emit its events: once per hook."""
        if event.handle.kind == "collect_unit_status" and self._ended_with_app_status:
            self._ended_with_app_status = False
            return
        self._ended_with_app_status = event.handle.kind == "collect_app_status"
        if not self.model.unit.is_leader():
            # Leadership lost during the hook (or between two Harness events): what this
            # unit's writes changed is its view's change all the same; the rest is moot.
            changed, self._changed_pending = self._changed_pending, None
            self._handled_before = None
            self._publish_pending = self._handed_out = self._tally_changed = False
            if changed is not None:
                self.on.changed.emit(changed, self.revision)
            return
        if self._publish_pending:
            self._publish_pending = False
            self._publish()
        retire = self._tally_changed or self._stored.retire_again
        if retire and self._rollouts is not None and self._adoption is not None:
            self._retire(self._rollouts, self._adoption)
        for _ in range(_MAX_EMITS_PER_HOOK):
            changed, self._changed_pending = self._changed_pending, None
            self._handled_before = None  # what handlers write next compares with this view
            if changed is not None:
                self.on.changed.emit(changed, self.revision)
            elif self._tally_changed:
                self._tally_changed = False
                self._emit_applied()
            else:
                return
        logger.warning("%s: stopped re-emitting: a handler writes on every event", self)

    def _publish(self) -> None:
        relation = self.model.get_relation(self._relation_name)
        if relation is None:
            return
        raw = self._read(relation)
        handed_out, self._handed_out = self._handed_out, False
        try:
            view = self._view(relation, raw)
            if view.publish and view.config is not None:
                self._write(relation, view.config)
        except (LeaderConfigError, ops.ModelError, ValueError) as e:
            if handed_out and any(self._codec.keys[n] not in raw for n in self._codec.generated):
                # The charm holds values generated in this hook: keep none unpublished.
                raise
            logger.warning("%s: not published: %s", self, e)

    def _emit_applied(self) -> None:
        if self._rollouts is None or not self._acknowledge:
            return
        relation = self.model.get_relation(self._relation_name)
        if relation is None:
            return
        rollout = self._rollouts.rollout(relation, self.revision, leader=True)
        if self._rollouts.due(relation, rollout):
            self.on.applied.emit(rollout.revision)

    def _retire(self, rollouts: _Rollouts, adoption: _Adoption) -> None:
        """Delete the legacy data once every unit runs a revision that uses this library."""
        relation = self.model.get_relation(self._relation_name)
        if relation is None or self._stored.retired:
            return
        raw = self._read(relation)
        if self._codec.revision_key not in raw or not rollouts.all_recorded(relation):
            return
        try:
            adoption.retire(relation, self.model.app, lambda s: self._secrets.is_ours(s, raw))
        except Exception as e:  # a charm's function, or Juju: try again in the next hook
            logger.warning("%s: legacy data not retired yet: %s", self, e)
            self._stored.retire_again = True
            return
        self._stored.retired = True
        self._stored.retire_again = False

    def _on_secret_remove(self, event: ops.SecretRemoveEvent) -> None:
        """Remove revisions of this config's secret once no unit uses them; leader only."""
        if not self.model.unit.is_leader():
            return
        relation = self.model.get_relation(self._relation_name)
        raw = self._read(relation) if relation is not None else {}
        if self._secrets.is_ours(event.secret, raw):
            event.remove_revision()


def _is_transient(error: LeaderConfigError) -> bool:
    """Whether Juju failed to read a secret that exists (it may succeed if asked again)."""
    cause = error.__cause__
    return (
        isinstance(error, SecretUnavailableError)
        and isinstance(cause, ops.ModelError)
        and not isinstance(cause, ops.SecretNotFoundError)
    )


def _claim_keys(framework: ops.Framework, codec: _Codec[Any], keys: list[str], owner: str) -> None:
    """Refuse an object whose databag keys overlap another's on the same relation."""
    in_use = _KEYS_IN_USE.setdefault(framework, {}).setdefault(codec.relation_name, {})
    clashes = sorted(set(keys) & in_use.keys())
    if clashes:
        raise ValueError(
            f"{owner} would share databag key(s) {', '.join(clashes)} of"
            f" {codec.relation_name!r} with {in_use[clashes[0]]}; give one of them another prefix"
        )
    in_use.update(dict.fromkeys(keys, owner))


# The testing helpers of LIBPATCH 10 and earlier, now in charms.leader_config.v0.testing.


def peer_relation_with(
    relation_name: str, config: pydantic.BaseModel, *, prefix: str = "", **relation_args: Any
) -> tuple[Any, frozenset[Any]]:
    """Deprecated: use `charms.leader_config.v0.testing.published_state` or `peer_relation`."""
    helper = _testing_helper("peer_relation_with", "peer_relation")
    relation_and_secrets: tuple[Any, frozenset[Any]] = helper(
        relation_name, config, prefix=prefix, **relation_args
    )
    return relation_and_secrets


def config_from_state(
    state: Any, relation_name: str, schema: type[ConfigT], *, prefix: str = ""
) -> ConfigT | None:
    """Deprecated: use `charms.leader_config.v0.testing.config_from_state`."""
    helper = _testing_helper("config_from_state", "config_from_state")
    config: ConfigT | None = helper(state, relation_name, schema, prefix=prefix)
    return config


def _testing_helper(old: str, new: str) -> Any:
    warnings.warn(
        f"{__name__}.{old} is deprecated: use charms.leader_config.v0.testing.{new}",
        DeprecationWarning,
        stacklevel=3,
    )
    try:
        from charms.leader_config.v0 import testing as helpers
    except ImportError as e:
        raise ImportError(
            f"{old} moved to the charms.leader_config.v0.testing library: fetch it with"
            " `charmcraft fetch-lib charms.leader_config.v0.testing`"
        ) from e
    return getattr(helpers, new)
