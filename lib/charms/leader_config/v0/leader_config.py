"""Typed configuration that the application leader owns and every unit reads.

`LeaderConfig` binds a pydantic model to a peer relation: every unit reads the config
with `get()`; only the leader writes it (`update()`, `set()`, `edit()`); values travel
JSON-encoded in the peer relation's application databag (secret fields in one Juju
secret); values the leader generates are generated once; and `on.changed` fires on
every unit, the leader included, exactly when that unit's view changes.

This file is the core, which every charm vendors. Beside it: `testing.py` (helpers for
the charm's tests), `rollouts.py` (only for `acknowledge=True`) and `adoption.py`
(only for `migrate=`). The manual is the README and docs/ of the charms.leader_config
repository: docs/reference.md for every rule.
"""

from __future__ import annotations

import base64
import collections.abc
import dataclasses
import functools
import hashlib
import importlib
import importlib.util
import json
import logging
import re
import secrets
import typing
import warnings
import weakref
from collections.abc import Callable, Collection, Generator, Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any, Generic, TypeVar

import ops
import pydantic
import pydantic_core
import typing_extensions

LIBID = "4c9d7f3a1e6b4d2f8a5c0e9b7d3f1a26"
LIBAPI = 0
LIBPATCH = 22
PYDEPS = ["pydantic>=2,<3"]

# The interface with the optional modules (`ModuleHost`, the codec's public methods, and
# what the core calls on the modules): its version, and the oldest modules it can drive.
MODULE_API = 1
MIN_MODULE_API = 1
# Charmhub registers no new library: a charm copies the files (README, "The files").
_FETCH = "copy {} from the charms.leader_config repository or its wheel"

logger = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT", bound=pydantic.BaseModel)

_SECRET_KEY = re.compile(r"[a-z](?:-?[a-z0-9]){2,}")  # Juju's rule for secret content keys
_MASK = "**********"
_CALLABLE: object = collections.abc.Callable
# Reserved names, after the prefix: app databag keys, a unit databag key, a content key.
_ID_KEY = "secret-id"
_REVISION = "leader-config-revision"
_UNIT_RECORD = "leader-config-unit"
_STAMP_KEY = "leader-config-stamp"  # a digest of the markers the secret's revision goes with
# While units on a revision from before the adoption may run: the fields written since.
_ADOPTION_RECORD = "leader-config-adopted"
# Juju before 3.1.8 refuses a secret value over 5 KiB and content over 64 KiB, counted
# base64-encoded (later releases allow 8 KiB, and 1 MB from 3.6.9): the lowest wins.
_SECRET_VALUE_LIMIT = 5 * 1024
_SECRET_CONTENT_LIMIT = 64 * 1024
# Defaults that always encode (PydanticUndefined: the field has none).
_PLAIN_DEFAULTS = (str, bool, int, float, type(None), pydantic_core.PydanticUndefinedType)
_SECRET_TYPES: tuple[type, ...] = tuple(
    t for t in (pydantic.SecretStr, pydantic.SecretBytes, getattr(pydantic, "Secret", None)) if t
)
# A handler that writes on every `changed` would loop; stop re-emitting after this many.
_MAX_EMITS_PER_HOOK = 8
# What each charm's LeaderConfig objects use (databag keys by relation, secret labels).
_CLAIMED: weakref.WeakKeyDictionary[ops.Framework, dict[str, Any]] = weakref.WeakKeyDictionary()


class LeaderConfigError(Exception):
    """Base class of the errors that `LeaderConfig` raises at run time.

    Attributes:
        relation_name: the peer endpoint the failing `LeaderConfig` is bound to.
    """

    def __init__(self, message: str, *, relation_name: str):
        super().__init__(message)
        self.relation_name = relation_name


class NotLeaderError(LeaderConfigError):
    """A write on a unit that is not the leader, or one that Juju refused (error chained).

    Juju refuses a write once leadership was lost during the hook. Only the leader
    writes: check `self.unit.is_leader()` first.
    """


class NotReadyError(LeaderConfigError):
    """A write before the peer relation exists (in `install`), or while adopting.

    While units on the old revision read legacy data under this object's keys, the
    leader takes them over, and writes, once every unit runs this library.
    """


class InvalidConfigError(LeaderConfigError, ValueError):
    """Stored data that does not decode or validate (a newer schema's?); `set()` repairs it.

    Attributes:
        keys: the databag keys at fault (sorted).
    """

    def __init__(self, message: str, *, relation_name: str, keys: tuple[str, ...]):
        super().__init__(message, relation_name=relation_name)
        self.keys = keys


class _FieldsError(LeaderConfigError):
    def __init__(self, message: str, *, relation_name: str, fields: tuple[str, ...]):
        super().__init__(message, relation_name=relation_name)
        self.fields = fields


class SecretUnavailableError(_FieldsError):
    """The Juju secret holding secret fields is missing or unreadable (Juju's error chained).

    Attributes:
        fields: the secret fields that could not be read (sorted).
    """

    @property
    def gone(self) -> bool:
        """Whether the secret (or a value) is gone: the leader may write anew with `set()`.

        False: Juju failed to read it; fail the hook to retry, and never replace values.
        """
        cause = self.__cause__
        return not isinstance(cause, ops.ModelError) or isinstance(cause, ops.SecretNotFoundError)


class PendingFieldsError(_FieldsError):
    """A follower's `get()`, until the leader publishes the values it generates.

    Attributes:
        fields: the fields awaiting the leader (sorted).
    """


_REPLACEABLE = (InvalidConfigError, SecretUnavailableError)  # what `set()` writes over


class LeaderConfigChangedEvent(ops.EventBase):
    """This unit's view of the shared config changed; call `get()` for values.

    Attributes:
        changed: the fields whose value changed (all of them on a unit's first view).
        revision: the config revision of the new view (see `LeaderConfig.revision`).
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
        pending: the units that have not: the units in the peer relation, and this one.
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
        keys: legacy keys that no field takes over, deleted once every unit runs this.
        secret: the legacy app secret: taken over if it holds every secret value in
            `values`, else copied, then removed once every unit runs this library.
    """

    values: Mapping[str, Any]
    keys: Collection[str] = ()
    secret: ops.Secret | None = None


def _digest(*parts: str) -> str:
    # Length prefixes keep ("ab", "c") and ("a", "bc") apart.
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.encode()
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


_dumps = functools.partial(json.dumps, sort_keys=True)


def _canonical(value: object, dumped: object) -> object:
    """`dumped` (`value`'s JSON-mode dump) with every set sorted: hash seeds vary."""
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


def _is_arbitrary(kind: object) -> bool:
    """Whether pydantic knows `kind` only as an arbitrary type (validated by isinstance)."""
    if not isinstance(kind, type) or issubclass(kind, pydantic.BaseModel):
        return False
    try:
        pydantic.TypeAdapter[Any](typing.cast(Any, kind))
    except pydantic.PydanticSchemaGenerationError:
        return True
    return False


def _is_secret_field(annotation: Any) -> bool:
    """Whether a field is typed `SecretStr` or `SecretStr | None` (`Optional[...]` equals it)."""
    return annotation in (pydantic.SecretStr, pydantic.SecretStr | None)


def _content_key(alias: str) -> str:
    """The secret content key for a field: Juju allows only `[a-z0-9-]`, 3 or more."""
    key = alias.lower().replace("_", "-")
    return key if _SECRET_KEY.fullmatch(key) else f"field-{key}"


class Codec(Generic[ConfigT]):
    """A schema's wire format: keys, encoding, decoding (for the modules, not for charms)."""

    def __init__(self, schema: type[ConfigT], prefix: str, relation_name: str):
        self.schema = schema
        self.relation_name = relation_name
        self._adapters: dict[str, pydantic.TypeAdapter[Any]] = {}  # built on first use
        fields = schema.model_fields
        for name, field in fields.items():
            self._check_field(name, field)
        # By field name: the name pydantic reads and dumps, a secret field's content key.
        self.aliases = {name: field.alias or name for name, field in fields.items()}
        secret = [name for name, field in fields.items() if _is_secret_field(field.annotation)]
        self.content_keys = {name: _content_key(self.aliases[name]) for name in secret}
        self.generated = {name for name, field in fields.items() if field.default_factory}
        self.keys = {name: prefix + alias for name, alias in self.aliases.items()}
        reserved = (prefix + name for name in (_ID_KEY, _REVISION, _UNIT_RECORD, _ADOPTION_RECORD))
        self.secret_id_key, self.revision_key, self.unit_key, self.adoption_key = reserved
        self._names_by_alias = {alias: name for name, alias in self.aliases.items()}
        self._check_reserved_names()

    def _check_field(self, name: str, field: Any) -> None:
        where = f"{self.schema.__name__}.{name}"
        aliases = (field.validation_alias, field.serialization_alias)
        if field.exclude or any(alias not in (None, field.alias) for alias in aliases):
            raise ValueError(
                f"{where}: LeaderConfig supports plain fields and Field(alias=...), not"
                " exclude, validation_alias or serialization_alias"
            )
        config, fields = self.schema.model_config, self.schema.model_fields
        # Validated by name as well, a field named like another's alias would take its value.
        by_name = config.get("populate_by_name") or config.get("validate_by_name")
        if field.alias == "" or (by_name and field.alias != name and field.alias in fields):
            raise ValueError(
                f"{where}: the alias {field.alias!r} is empty or another field's name"
            )
        if _is_secret_field(field.annotation):
            if isinstance(field.default, pydantic.SecretStr):
                self.check_secret_size({name: field.default.get_secret_value()})
            return
        arbitrary = bool(self.schema.model_config.get("arbitrary_types_allowed"))
        for nested in _nested_types(field.annotation, set()):
            kind = typing.get_origin(nested) or nested  # `Secret[str]` is a generic alias
            if isinstance(kind, type) and issubclass(kind, _SECRET_TYPES):
                raise ValueError(
                    f"{where}: a {kind.__name__} here would reach the databag masked;"
                    " secret values are supported only as a field typed SecretStr or"
                    " SecretStr | None, which live in a Juju secret"
                )
            if kind is _CALLABLE or (arbitrary and _is_arbitrary(nested)):
                raise ValueError(
                    f"{where}: LeaderConfig cannot carry {getattr(nested, '__name__', nested)}"
                    " values: they have no JSON form"
                )
        self._check_default(name, field.default)

    def _check_default(self, name: str, default: Any) -> None:
        """Refuse a default that would not encode, before the leader tries to publish it."""
        if isinstance(default, _PLAIN_DEFAULTS) or default in ([], {}):
            return  # nothing to check (and no validator to build)
        try:
            self.encode_value(name, default)
        except (ValueError, TypeError) as e:  # pydantic's errors are ValueErrors
            raise ValueError(
                f"{self.schema.__name__}.{name}: the default {default!r} has no JSON form"
                f" for the databag: {e}"
            ) from e

    def _check_reserved_names(self) -> None:
        taken = {
            self.revision_key: "reserved for the config revision",
            self.adoption_key: "reserved for the adoption's record",
        }
        if self.content_keys:
            taken[self.secret_id_key] = "reserved for the secret's id"
        for name, key in self.keys.items():
            if key in taken:
                raise ValueError(
                    f"{self.schema.__name__}.{name}: the databag key {key!r} is {taken[key]};"
                    " rename the field or give it another alias"
                )
            taken[key] = f"the key of {self.schema.__name__}.{name}"  # pydantic allows it
        content_keys = [*self.content_keys.values(), _STAMP_KEY]
        for name, key in self.content_keys.items():
            if not _SECRET_KEY.fullmatch(key) or content_keys.count(key) > 1:
                raise ValueError(
                    f"{self.schema.__name__}.{name}: cannot map the field to a unique Juju"
                    f" secret content key (got {key!r}); rename the field or give it an alias"
                )

    def own_keys(self, adopting: bool) -> list[str]:
        """This object's application databag keys (the adoption's record with `migrate`)."""
        extra = [self.secret_id_key] if self.content_keys else []
        return [*self.keys.values(), self.revision_key, *extra, *[self.adoption_key] * adopting]

    def check_names(self, changes: Mapping[str, Any]) -> None:
        """Refuse names that are not field names, saying which field an alias belongs to."""
        unknown = sorted(changes.keys() - self.aliases.keys())
        if not unknown:
            return
        names = self._names_by_alias
        aliases = [f"{a!r} is the alias of {names[a]!r}" for a in unknown if a in names]
        hint = f": update() takes field names; {'; '.join(aliases)}" if aliases else ""
        raise ValueError(
            f"unknown field(s) {', '.join(unknown)} for {self.schema.__name__}"
            f" (fields: {', '.join(self.aliases)}){hint}"
        )

    def marked_secrets(self, raw: Mapping[str, str]) -> list[str]:
        """The secret fields whose databag marker says the secret holds a value."""
        return [name for name in self.content_keys if raw.get(self.keys[name], "null") != "null"]

    def stamp(self, raw: Mapping[str, str]) -> str:
        """The stamp of the secret revision that `raw`'s markers describe."""
        return _digest(*(f"{name}={raw[self.keys[name]]}" for name in self.marked_secrets(raw)))

    def secret_values(self, config: ConfigT) -> dict[str, str | None]:
        """Each secret field's value, by field name."""
        values = {name: getattr(config, name) for name in self.content_keys}
        return {name: None if v is None else v.get_secret_value() for name, v in values.items()}

    def check_secret_size(self, values: Mapping[str, str | None]) -> None:
        """Refuse secret values that Juju would refuse, before anything is written."""
        sizes = {n: len(base64.b64encode(v.encode())) for n, v in values.items() if v is not None}
        for name, size in sizes.items():
            if size > _SECRET_VALUE_LIMIT:
                raise ValueError(
                    f"{self.schema.__name__}.{name}: the value is {size} bytes base64-encoded;"
                    f" Juju secrets hold at most {_SECRET_VALUE_LIMIT} bytes per value"
                )
        if (total := sum(sizes.values())) > _SECRET_CONTENT_LIMIT - 1024:  # room for the stamp
            raise ValueError(
                f"{self.schema.__name__}: the secret fields are {total} bytes base64-encoded;"
                f" Juju secrets hold at most {_SECRET_CONTENT_LIMIT} bytes in all"
            )

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
        valid: Any = adapter.validate_python(value)  # a model instance as it is, valid or not
        dumped = adapter.dump_python(valid, mode="json", round_trip=True, warnings=False)
        return _dumps(_canonical(valid, dumped))

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

    def decode(
        self,
        raw: Mapping[str, str],
        secret_values: Mapping[str, str],
        generated: dict[str, Any] | None = None,
    ) -> ConfigT:
        """Validate `raw` and the secret values, lax (so a strict model reads what it wrote)."""
        data = self.parse(raw)
        present = [key for key in self.keys.values() if key in raw]
        for name in self.content_keys:  # their keys hold a marker, or null for None
            key = self.keys[name]
            if key in raw:
                data[self.aliases[name]] = None if raw[key] == "null" else secret_values[name]
            elif name in secret_values:  # held by the secret, though no key marks it
                data[self.aliases[name]] = secret_values[name]
        try:
            validate = functools.partial(self.schema.model_validate, strict=False)
            return self._generating(data, generated, validate)
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

    def _generating(
        self,
        data: dict[str, Any],
        generated: dict[str, Any] | None,
        validate: Callable[[dict[str, Any]], ConfigT],
    ) -> ConfigT:
        """Validate `data` (by alias) with the values generated earlier; keep the new ones."""
        missing = [name for name in self.generated if self.aliases[name] not in data]
        known = generated if generated is not None else {}
        data.update((self.aliases[name], known[name]) for name in missing if name in known)
        config = validate(data)
        known.update((name, getattr(config, name)) for name in missing if name not in known)
        return config

    def validate(
        self, data: Mapping[str, Any], generated: dict[str, Any] | None = None, lax: bool = False
    ) -> ConfigT:
        """Validate values by alias (generating once); mask secret inputs in errors."""
        validate = functools.partial(self.schema.model_validate, strict=False if lax else None)
        try:
            return self._generating(dict(data), generated, validate)
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
            try:  # its text shows no input: a mask's would contradict the error's type
                masked = type(e).from_exception_data(e.title, details, hide_input=True)
            except (KeyError, TypeError, ValueError):  # a validator's own error type, say
                for d in details:  # rebuilt with its type and message as they are
                    d["type"] = pydantic_core.PydanticCustomError(d["type"], d["msg"])
                masked = type(e).from_exception_data(e.title, details, hide_input=True)
            raise masked from None

    def revalidate(self, config: ConfigT | None, changes: Mapping[str, Any]) -> ConfigT:
        """Validate `config` (None: defaults) with `changes` by field name; raise ValueError.

        From a round trip's dump (a `Json` field as its text, nested models kept), else
        (a set of models, a strict model's dataclass) from the field values as they are.
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

    def revision(self, raw: Mapping[str, str], strict: bool = True) -> int | None:
        """The stored config revision, or None; raise InvalidConfigError if `strict`."""
        text = raw.get(self.revision_key)
        if text is None:
            return None
        try:
            revision = json.loads(text)
        except ValueError:
            revision = None
        if type(revision) is int and revision >= 0:
            return revision
        if strict:
            raise self.invalid({self.revision_key: "not a revision number"})
        return None

    def read_back(self, plain: Mapping[str, str], values: Mapping[str, str | None]) -> ConfigT:
        """Validate what `encode` made of a config as followers will (lax): ValidationError.

        A value changed in a nested model after it was validated is validated here.
        """
        data = {self.aliases[name]: json.loads(text) for name, text in plain.items()}
        return self.validate({**data, **{self.aliases[n]: v for n, v in values.items()}}, lax=True)

    def invalid(self, problems: dict[str, str]) -> InvalidConfigError:
        """The error for stored data at fault, by databag key."""
        detail = "; ".join(f"{key!r}: {reason}" for key, reason in sorted(problems.items()))
        return InvalidConfigError(
            f"the shared config in the {self.relation_name!r} application databag is"
            f" invalid for {self.schema.__name__}: {detail}",
            relation_name=self.relation_name,
            keys=tuple(sorted(problems)),
        )


class _SecretChange(typing.NamedTuple):
    changes: dict[str, str]  # the databag changes that go with it
    undo: Callable[[], None]  # puts the secret back, if the databag write fails
    finish: Callable[[], None]  # runs once the databag no longer names a removed secret


def _nothing() -> None:
    pass


def _short_id(uri: str) -> str:
    """The id in a secret URI (`secret:x`, `secret://model/x`)."""
    return uri.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class _SecretStore:
    """The app secret that holds the secret fields; the databag has its id and markers.

    Its content has the values and a stamp of the markers, which tells a unit tracking
    an older revision to refresh. Other content keys are kept.
    """

    def __init__(self, model: ops.Model, codec: Codec[Any], label: str):
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
        """The secret fields' values, by name: those `raw` marks, and unmarked ones held."""
        keys, names = self._codec.content_keys, self._codec.marked_secrets(raw)
        unmarked = [name for name in keys if self._codec.keys[name] not in raw]
        if not names and not (unmarked and self.secret_id(raw)):
            return {}
        try:
            _, content = self.fetch(raw, names or unmarked)
        except SecretUnavailableError as e:
            if names or not e.gone:
                raise
            return {}  # nothing marked: the fields take their defaults, as before
        missing = [name for name in names if keys[name] not in content]
        if missing:
            raise self.unavailable(missing, "the secret does not hold them")
        return {name: content[keys[name]] for name in names + unmarked if keys[name] in content}

    def fetch(self, raw: Mapping[str, str], names: list[str]) -> tuple[ops.Secret, dict[str, str]]:
        """The secret and its content at the revision `raw` describes (else the latest)."""
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
        self,
        raw: Mapping[str, str],
        values: Mapping[str, str | None],
        adopt: tuple[ops.Secret, dict[str, str]] | None,
    ) -> _SecretChange:
        """Bring the secret in line with `values` (by field name); leader only.

        Makes it on first need (or takes over `adopt`: a secret, its latest content),
        and removes one it made with its last value. Only a secret the library made
        holds the stamp: a legacy secret taken over keeps exactly what old units read,
        and is never removed.
        """
        secret: ops.Secret | None = None
        current: dict[str, str] = {}
        if self.secret_id(raw) is not None:
            try:
                secret, current = self.fetch(raw, list(self._codec.content_keys))
            except SecretUnavailableError as e:
                if not e.gone:
                    raise
                logger.warning("%s: the secret is gone; writing a new one", self.label)
        elif adopt is not None:
            secret, current = adopt
        changes: dict[str, str] = {}
        markers = dict(raw)
        for name, content_key in self._codec.content_keys.items():
            key, value = self._codec.keys[name], values[name]
            marker = raw.get(key, "null")
            if value is None:
                marker = "null"
            elif marker == "null" or current.get(content_key) != value:
                marker = _dumps(secrets.token_hex(8))  # random, never derived from the value
            if marker != raw.get(key):
                changes[key] = markers[key] = marker
        own = set(self._codec.content_keys.values()) | {_STAMP_KEY}
        wanted = {key: value for key, value in current.items() if key not in own}
        wanted |= {self._codec.content_keys[n]: v for n, v in values.items() if v is not None}
        stamp = self._codec.stamp(markers)
        if wanted and (secret is None or _STAMP_KEY in current):
            wanted[_STAMP_KEY] = stamp
        if adopt is not None and secret is adopt[0]:
            changes[self._codec.secret_id_key] = _dumps(self._id_of(adopt[0]))
        # A legacy secret taken over stays, even with no value left: old units may read it.
        if wanted == current or not (wanted or _STAMP_KEY in current):
            return _SecretChange(changes, _nothing, _nothing)
        if secret is None:
            secret = self._model.app.add_secret(wanted, label=self.label)
            changes[self._codec.secret_id_key] = _dumps(self._id_of(secret))
            self._cache = (self._id_of(secret), stamp, secret, wanted)
            return _SecretChange(changes, secret.remove_all_revisions, _nothing)
        if not wanted:
            changes[self._codec.secret_id_key] = ""  # deletes the key
            self._cache = None
            return _SecretChange(changes, _nothing, secret.remove_all_revisions)
        secret.set_content(wanted)
        self._cache = (self._id_of(secret), stamp, secret, wanted)
        return _SecretChange(changes, functools.partial(secret.set_content, current), _nothing)

    @staticmethod
    def _id_of(secret: ops.Secret) -> str:
        return str(secret.id or secret.get_info().id)

    def is_ours(self, secret: ops.Secret, raw: Mapping[str, str]) -> bool:
        """Whether `secret` is the one this object's databag names (or bears its label)."""
        if secret.label == self.label:
            return True
        secret_id = self.secret_id(raw)
        # A secret got by label alone has no id until Juju is asked for it.
        return secret_id is not None and _short_id(self._id_of(secret)) == _short_id(secret_id)

    def unavailable(self, names: list[str], reason: str) -> SecretUnavailableError:
        return SecretUnavailableError(
            f"cannot read secret field(s) {', '.join(sorted(names))} of the shared config"
            f" in {self._codec.relation_name!r}: {reason}",
            relation_name=self._codec.relation_name,
            fields=tuple(sorted(names)),
        )


class _Handled:
    """What this unit last handled, in stored state: fingerprint, digests, revision."""

    def __init__(self, stored: ops.BoundStoredState, codec: Codec[Any]):
        self._stored = stored
        self._codec = codec
        self._names = {key: name for name, key in codec.keys.items()}
        stored.set_default(fingerprint="", digests={}, keyed=False, revision=None)
        # On the leader: the view it last emitted for and the fields of the event it owes.
        stored.set_default(salt=secrets.token_hex(16), since=None, pending=None)
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

    def record_for_leader(
        self,
        raw: Mapping[str, str],
        config: pydantic.BaseModel | None,
        revision: int | None,
        acknowledge: bool,
    ) -> None:
        """Record the leader's view; owe a `changed` against the view last emitted for."""
        if self._stored.since is None:
            self._stored.since = list(self.last())
        digests, previous = typing.cast("list[Any]", self._stored.since)
        changed, new_revision = self.record(raw, config, revision, (dict(digests), previous))
        is_change = changed or (new_revision and acknowledge)
        self._stored.pending = sorted(changed) if is_change else None

    def take_pending(self) -> frozenset[str] | None:
        """The fields of the changed event the leader owes (None: none owed), now emitted."""
        pending, self._stored.pending, self._stored.since = self._stored.pending, None, None
        return None if pending is None else frozenset(pending)

    def record(
        self,
        raw: Mapping[str, str],
        config: pydantic.BaseModel | None,
        revision: int | None,
        since: tuple[dict[str, str], int | None] | None = None,
    ) -> tuple[frozenset[str], bool]:
        """Record the view this unit handles; return the changed fields, and if the revision is.

        Compared with the view `since`, or the last recorded: plain fields by their
        JSON, secret ones by a salted digest (stored state holds no secret).
        """
        digests = {} if config is None else self._digests(config)
        previous, previous_revision = since or self.last()
        if previous and config is not None:  # a field the last view lacked had its default
            for key in digests.keys() - previous.keys():
                previous[key] = self._default_digest(config, self._names[key])
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

    def _digests(self, config: pydantic.BaseModel) -> dict[str, str]:
        """Each field's digest, by key: plain ones of their JSON, secret ones salted."""
        encoded = self._codec.encode(config)  # pyright: ignore[reportArgumentType]
        digests: dict[str, str] = {}
        for name, key in self._codec.keys.items():
            if name in encoded:
                digests[key] = _digest(encoded[name])
            else:
                secret: pydantic.SecretStr | None = getattr(config, name)
                parts = () if secret is None else (secret.get_secret_value(),)
                digests[key] = _digest(self._stored.salt, *parts)
        return digests

    def _default_digest(self, config: pydantic.BaseModel, name: str) -> str:
        """The digest of a field's static default ("": none): an upgrade added the field."""
        field = self._codec.schema.model_fields[name]
        if field.is_required() or field.default_factory is not None:
            return ""
        as_default = config.model_copy(update={name: field.default})
        return self._digests(as_default)[self._codec.keys[name]]


# The interface with the optional modules (rollouts.py, adoption.py)
Migrate = Callable[[ops.Relation], "Legacy | Mapping[str, Any] | None"]
# The fields of the adoption's view (`adoption.Adopted`) that the core's view takes.
_ADOPTED = ("config", "error", "publish", "blocked", "legacy")


@dataclasses.dataclass(eq=False, repr=False)  # cheap to define
class ModuleHost:
    """What a `LeaderConfig` gives its optional modules (version `MODULE_API`)."""

    owner: LeaderConfig[Any]  # its public API: `model`, `revision`, `on.applied`
    charm: ops.CharmBase
    stored: ops.BoundStoredState  # the LeaderConfig's own, which modules add keys to
    codec: Codec[Any]
    read: Callable[[ops.Relation], dict[str, str]]  # this object's keys and values
    decode: Callable[[dict[str, str]], pydantic.BaseModel]  # raise LeaderConfigError
    config: Callable[[ops.Relation], pydantic.BaseModel | None]  # this unit's view
    write: Callable[..., None]  # (relation, config): publish it, as the library does
    generated: Callable[[], dict[str, Any]]  # values generated in this hook, by field name
    is_ours: Callable[[ops.Secret, Mapping[str, str]], bool]  # this object's secret?
    units_changed: Callable[[], None]  # the leader looks at the whole rollout at the hook's end
    runs: Callable[[ops.Relation], int | None]  # the revision this unit handled and runs


def _module(name: str, feature: str) -> Any:
    """The optional module `name`, a file beside this one; fail at once, naming what is missing."""
    package = __name__.rpartition(".")[0]
    try:
        module = importlib.import_module(f"{package}.{name}")
    except ModuleNotFoundError:
        needs = dict.fromkeys(("rollouts", name))  # adoption.py uses rollouts.py
        missing = [n for n in needs if not importlib.util.find_spec(f"{package}.{n}")]
        if not missing:
            raise  # another module is missing
        files = " and ".join(f"{n}.py" for n in missing)
        where = f"lib/charms/leader_config/v0/{files} beside leader_config.py"
        raise ImportError(f"{feature} needs {where}: {_FETCH.format(files)}") from None
    if module.MODULE_API < MIN_MODULE_API:
        old = f"{name}.py (LIBPATCH {module.LIBPATCH}) is older than leader_config.py"
        fetch = _FETCH.format(f"{name}.py")
        raise ImportError(f"{old} (LIBPATCH {LIBPATCH}) can use: update it: {fetch}")
    return module


@dataclasses.dataclass(eq=False, repr=False)
class _Hook:
    """What the current hook leaves for its end (under Harness, `evaluate_status()`)."""

    publish: bool = False  # the leader found keys missing: it publishes them
    # Values generated in this hook, by field name: every view of the hook uses the same.
    generated: dict[str, Any] = dataclasses.field(default_factory=dict[str, Any])
    handed_out: bool = False  # `get()` returned values generated in this hook
    rollout_changed: bool = False  # a record, a unit or the revision changed


@dataclasses.dataclass(eq=False, repr=False)
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
        prefix: put before every databag key, so that several objects share a relation.
        migrate: reads what the charm kept before it used this library (needs
            `adoption.py`): returns a `Legacy`, values by field name, or None.
        acknowledge: lets units acknowledge the revisions they applied (`acknowledge()`,
            `rollout()`, `on.applied`; needs `rollouts.py`).

    Attributes:
        secret_label: the label of the secret that the library makes for the secret
            fields: `leader-config-<relation_name>[-<prefix>]`, lowercase, `-` joined.

    Raises:
        ValueError: if `relation_name` is not a peer endpoint, the schema has fields
            that the wire format cannot carry or that use a reserved key, or another
            `LeaderConfig` of the charm uses one of its databag keys.
        TypeError: if `schema` is not a pydantic model class.
        ImportError: if a feature needs a module file that is missing, naming it.
        LeaderConfigError: for secret fields on a Juju without secrets (before 3.0.3).
    """

    on = LeaderConfigEvents()  # pyright: ignore[reportIncompatibleMethodOverride, reportAssignmentType]
    _stored = ops.StoredState()  # type: ignore[no-untyped-call, unused-ignore]

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
        codec = Codec(schema, prefix, relation_name)
        self._own_keys = codec.own_keys(adopting=migrate is not None)
        owner = f"the {schema.__name__} LeaderConfig"
        _claim(charm.framework, f"databag key(s) {{}} of {relation_name!r}", self._own_keys, owner)
        super().__init__(charm, f"{relation_name}:{prefix}")
        self._relation_name, self._prefix, self._codec = relation_name, prefix, codec
        self._acknowledge = acknowledge
        tail = re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-")
        self.secret_label = f"leader-config-{relation_name}" + (f"-{tail}" if tail else "")
        if codec.content_keys:  # Juju refuses a second secret with the same label
            _claim(charm.framework, "the secret label {}", [self.secret_label], owner)
            # Harness reports 0.0.0 unless the test sets JUJU_VERSION; Juju always sets it.
            if not (version := self.model.juju_version).has_secrets and str(version) != "0.0.0":
                raise LeaderConfigError(
                    f"{schema.__name__} has secret fields, which need Juju 3.0.3 or later"
                    f" (this is Juju {version})",
                    relation_name=relation_name,
                )
            self.framework.observe(charm.on.secret_remove, self._on_secret_remove)
        self._secrets = _SecretStore(self.model, codec, self.secret_label)
        self._handled = _Handled(self._stored, codec)
        # The view, kept for as long as the data it follows and this unit's role stay the same.
        self._view_cache: tuple[dict[str, str], bool, _View[ConfigT]] | None = None
        self._hook = _Hook()
        self._ending: str | None = None  # the last end-of-hook event of this hook
        # The optional modules' objects (their interface: ModuleHost, docs/development.md).
        self._rollouts: Any = None
        self._adoption: Any = None
        if acknowledge or migrate is not None:
            self._load_modules(charm, migrate, acknowledge)
        peer = charm.on[relation_name]
        # The hooks in which the app databag can first show a change (and a new leader
        # or a new schema can find keys missing).
        for event in (peer.relation_created, peer.relation_changed, charm.on.leader_elected):
            self.framework.observe(event, self._on_hook)
        self.framework.observe(charm.on.upgrade_charm, self._on_hook)
        # After the charm's handlers in every hook: the leader publishes what it found
        # missing, and every unit emits what it owes (see _on_end_of_hook).
        for event in (charm.on.collect_app_status, charm.on.collect_unit_status):
            self.framework.observe(event, self._on_end_of_hook)
        self.framework.observe(self.framework.on.pre_commit, self._on_end_of_hook)

    def _load_modules(
        self, charm: ops.CharmBase, migrate: Migrate | None, acknowledge: bool
    ) -> None:
        host = ModuleHost(
            owner=self,
            charm=charm,
            stored=self._stored,
            codec=self._codec,
            read=self._read,
            decode=self._decode,
            config=lambda relation: self._view(relation).config,
            write=functools.partial(self._write, by_charm=False),
            generated=lambda: self._hook.generated,
            is_ours=self._secrets.is_ours,
            units_changed=lambda: setattr(self._hook, "rollout_changed", True),
            runs=self._runs,
        )
        feature = "migrate=" if migrate is not None else "acknowledge=True"
        # adoption.py first: if rollouts.py is missing too, its error names both files.
        adoption = _module("adoption", feature) if migrate is not None else None
        rollouts = _module("rollouts", feature)
        self._rollouts = rollouts.Rollouts(host, acknowledge=acknowledge, announce=bool(migrate))
        if adoption is not None:
            self._adoption = adoption.Adoption(host, migrate, self._rollouts)

    def __repr__(self) -> str:
        # The prefix tells apart the objects that share a relation, in logs and errors.
        prefix = f", prefix={self._prefix!r}" if self._prefix else ""
        schema = f"schema={self._codec.schema.__name__}{prefix}"
        return f"{type(self).__name__}(relation_name={self._relation_name!r}, {schema})"

    def get(self) -> ConfigT | None:
        """Return a fresh copy of this unit's view of the config, or None if there is none.

        On the leader, the complete config it publishes (at the end of the hook, if
        keys are missing), with values generated once; on a follower, None until then.

        Raises:
            InvalidConfigError: if the stored data cannot be decoded or validated.
            SecretUnavailableError: if the secret holding secret fields is missing.
            PendingFieldsError: on a follower, until the leader publishes the values
                it generates.
            LeaderConfigError: if `migrate` raised (chained).
        """
        relation = self._relation()
        if relation is None:
            return None
        view = self._view(relation)
        if view.error is not None:
            raise view.error
        if view.publish:
            self._hook.publish = True
            self._hook.handed_out |= self._holds_unstored(relation)
        return None if view.config is None else view.config.model_copy(deep=True)

    @property
    def revision(self) -> int | None:
        """The config revision of this unit's view: one more with each effective write.

        0: published before revisions were numbered; None: nothing published yet.
        """
        relation = self._relation()
        if relation is None:
            return None
        raw = self._read(relation)
        if self._adoption is not None and self._codec.revision_key not in raw:
            return self._view(relation).revision
        revision = self._codec.revision(raw, strict=False)
        published = any(key in raw for key in self._codec.keys.values())
        return 0 if revision is None and published else revision

    @property
    def adopting(self) -> bool:
        """Whether this unit reads the config through `migrate`: nothing is published yet.

        While legacy data sits under this object's own keys, the leader's writes raise
        `NotReadyError` until it takes them over (docs/upgrading.md). False without
        `migrate`, or if it raised.
        """
        relation = self._relation()
        if relation is None or self._adoption is None:
            return False
        unpublished = self._codec.revision_key not in self._read(relation)
        return unpublished and self._view(relation).legacy is not None

    @property
    def secret_id(self) -> str | None:
        """The id of the secret that holds the secret fields (None: none), from the databag.

        A legacy secret taken over keeps its own label, not `secret_label`.
        """
        relation = self._relation()
        if relation is None or not self._codec.content_keys:
            return None
        return self._secrets.secret_id(self._read(relation))

    def update(self, **changes: Any) -> None:
        """Change the given fields, keeping the others; leader only: `update(log_level="debug")`.

        Args:
            changes: new values, by field name.

        Raises:
            ValueError: for an unknown field name or an invalid value (pydantic's
                ValidationError), before anything is written.
            NotLeaderError: if this unit is not the leader, or Juju refused the write.
            NotReadyError: if the peer relation does not exist yet (or while adopting).
            InvalidConfigError: if the stored config is invalid (use `set()`).
            SecretUnavailableError: if the secret holding secret fields is missing.
            LeaderConfigError: if `migrate` raised (chained).
        """
        self._codec.check_names(changes)
        relation = self._writable_relation()
        if not self._repeats_handled_values(self._read(relation), changes):
            current = self._writable_view(relation).config
            self._write(relation, self._codec.revalidate(current, changes))

    def set(self, config: ConfigT) -> None:
        """Replace the whole config with `config`, an instance of the schema; leader only.

        Raises:
            TypeError: if `config` is not an instance of the schema.
            ValueError: if `config` no longer validates, before anything is written.
            NotLeaderError, NotReadyError, LeaderConfigError: as `update()` does.
            SecretUnavailableError: if Juju cannot read the secret now (not if it is gone).
        """
        if not isinstance(config, self._codec.schema):
            schema, given = self._codec.schema.__name__, type(config).__name__
            raise TypeError(f"set() takes a {schema}, not {given}")
        self._write(self._writable_relation(), self._codec.revalidate(config, {}))

    @contextmanager
    def edit(self) -> Generator[ConfigT, None, None]:
        """Yield a mutable copy of the config, written when the block exits; leader only.

        Nothing is written if the block raises. With nothing published yet, the copy
        holds the defaults. Example: `with self.shared.edit() as cfg: cfg.members.append(u)`.

        Raises:
            ValueError: if the edited copy is invalid, before anything is written;
                or, with nothing published, if the schema has required fields.
            NotLeaderError, NotReadyError, InvalidConfigError, SecretUnavailableError,
                LeaderConfigError: as `update()` does.
        """
        relation = self._writable_relation()
        view = self._writable_view(relation)
        if view.publish and self._holds_unstored(relation):  # the charm holds them now
            self._hook.publish = self._hook.handed_out = True
        current = view.config
        draft = current.model_copy(deep=True) if current is not None else self._codec.validate({})
        yield draft
        self._write(relation, self._codec.revalidate(draft, {}))

    def acknowledge(self) -> None:
        """Record in this unit's databag that it applied the revision of its view; any unit.

        Raises:
            RuntimeError: if the object was made without `acknowledge=True`.
        """
        self._rollouts_on().acknowledge()

    def rollout(self) -> Rollout:
        """How far the revision of this unit's view has rolled out; any unit.

        Raises:
            RuntimeError: if the object was made without `acknowledge=True`.
        """
        return typing.cast("Rollout", self._rollouts_on().rollout())

    def _rollouts_on(self) -> Any:
        if not self._acknowledge:
            raise RuntimeError(
                f"{self!r} was made without acknowledge=True: pass it to use"
                " acknowledge(), rollout() and on.applied"
            )
        return self._rollouts

    def _relation(self) -> ops.Relation | None:
        return self.model.get_relation(self._relation_name)

    def _read(self, relation: ops.Relation) -> dict[str, str]:
        """Return this object's own keys from the application databag."""
        databag = relation.data[self.model.app]
        return {key: databag[key] for key in self._own_keys if key in databag}

    def _basis(self, relation: ops.Relation, raw: dict[str, str]) -> dict[str, str]:
        """What this unit's view follows: this object's keys, or what `migrate` reads."""
        return raw if self._adoption is None else self._adoption.basis(relation, raw)

    def _view(self, relation: ops.Relation) -> _View[ConfigT]:
        raw = self._read(relation)
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
            adopted = self._adoption and self._adoption.view(relation, raw, basis, leader)
            if adopted:
                return _View[ConfigT](**{name: getattr(adopted, name) for name in _ADOPTED})
            if not any(key in raw for key in codec.keys.values()):
                if not leader:
                    return _View[ConfigT]()
                try:
                    return _View(codec.validate({}, self._hook.generated), publish=True)
                except pydantic.ValidationError:  # required fields: the first write publishes
                    return _View[ConfigT]()
            revision = 0
        missing = [name for name, key in codec.keys.items() if key not in raw]
        awaited = sorted(codec.generated.intersection(missing))
        if awaited and not leader:
            codec.parse(raw)  # report undecodable data first
            raise PendingFieldsError(
                f"the shared config in {self._relation_name!r} lacks {', '.join(awaited)},"
                " which only the leader generates: the leader has not published them yet",
                relation_name=self._relation_name,
                fields=tuple(awaited),
            )
        config = self._decode(raw)
        return _View(config, revision, shared=not awaited, publish=leader and bool(missing))

    def _decode(self, raw: dict[str, str]) -> ConfigT:
        """Decode `raw`, missing fields taking defaults (generated ones once per hook)."""
        return self._codec.decode(raw, self._secrets.values(raw), self._hook.generated)

    def _holds_unstored(self, relation: ops.Relation) -> bool:
        """Whether the leader's view holds values generated in this hook and not stored."""
        raw = self._read(relation)
        return any(self._codec.keys[name] not in raw for name in self._hook.generated)

    def _writable_relation(self) -> ops.Relation:
        relation, name = self._relation(), self._relation_name
        if relation is None:
            gone = f"cannot write the shared config yet: the {name!r} peer relation does not"
            raise NotReadyError(f"{gone} exist (it is created after install)", relation_name=name)
        if not self.model.unit.is_leader():
            who = f"{self.model.unit.name} is not the leader: only the leader can write"
            raise NotLeaderError(f"{who} the shared config in {name!r}", relation_name=name)
        return relation

    def _writable_view(self, relation: ops.Relation) -> _View[ConfigT]:
        view = self._view(relation)
        if view.blocked:
            raise self._adoption.blocked_error()
        if view.error is not None:
            raise view.error
        return view

    def _repeats_handled_values(self, raw: dict[str, str], changes: Mapping[str, Any]) -> bool:
        """Whether `update(**changes)` only repeats handled plain values: a free no-op."""
        codec = self._codec
        if (
            any(name in codec.content_keys for name in changes)
            or any(key not in raw for key in codec.keys.values())
            or not self._handled.seen(raw)
            or codec.schema.model_config.get("strict")
        ):
            return False
        try:
            return all(codec.encode_value(n, v) == raw[codec.keys[n]] for n, v in changes.items())
        except pydantic.ValidationError:
            return False  # the full validation reports it

    def _write(self, relation: ops.Relation, config: ConfigT, *, by_charm: bool = True) -> None:
        """Publish `config`: the changed keys and a new revision, in one `relation-set`."""
        codec, raw, view = self._codec, self._read(relation), self._view(relation)
        if view.blocked:
            raise self._adoption.blocked_error()
        if view.error is not None and not isinstance(view.error, _REPLACEABLE):
            raise view.error  # `migrate` failed: what units on the old revision read is unknown
        plain, values = codec.encode(config), codec.secret_values(config)
        codec.check_secret_size(values)
        config = codec.read_back(plain, values)  # exactly what followers will read
        changes = {codec.keys[n]: v for n, v in plain.items() if raw.get(codec.keys[n]) != v}
        secret = _SecretChange({}, _nothing, _nothing)
        if codec.content_keys:
            secret = self._write_secret(raw, values, view.legacy)
            changes.update(secret.changes)
        revision = codec.revision(raw, strict=False)
        markers = any(codec.keys[name] in changes for name in codec.content_keys)
        if changes and (revision is None or self._is_new_revision(view, plain, markers)):
            revision = (revision or 0) + 1
            changes[codec.revision_key] = str(revision)
            self._hook.rollout_changed = True
        if changes and self._adoption is not None:
            changes |= self._adoption.record(
                raw, view.config, view.legacy, plain, values, by_charm
            )
        if changes:
            self._send(relation, changes, secret)
        self._hook.publish = self._hook.handed_out = False  # the whole config is published
        raw = {key: value for key, value in {**raw, **changes}.items() if value}
        self._view_cache = (raw, True, _View(config, revision, shared=True))
        self._notice(raw, config, revision)

    def _write_secret(
        self, raw: dict[str, str], values: dict[str, str | None], legacy: Legacy | None
    ) -> _SecretChange:
        adopt = self._adoption.secret_to_take_over(legacy, values) if self._adoption else None
        try:
            try:
                return self._secrets.write(raw, values, adopt)
            except ops.SecretNotFoundError:  # removed since this object read it: start afresh
                self._secrets.forget()
                return self._secrets.write(raw, values, adopt)
        except ops.ModelError as e:
            raise self._refused(e) from e

    def _send(
        self, relation: ops.Relation, changes: dict[str, str], secret: _SecretChange
    ) -> None:
        """One `relation-set`; if Juju refuses it, put the secret back as it was."""
        try:
            relation.data[self.model.app].update(changes)
        except ops.ModelError as e:
            self._view_cache = None  # the next read is of what is stored
            self._secrets.forget()
            if self._adoption is not None:
                self._adoption.forget()
            try:
                secret.undo()
            except ops.ModelError:
                logger.warning("%s: could not undo the secret change", self)
            if isinstance(e, ops.RelationNotFoundError):
                gone = f"the {self._relation_name!r} peer relation is gone"
                raise NotReadyError(gone, relation_name=self._relation_name) from e
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

    def _notice(self, raw: dict[str, str], config: ConfigT | None, revision: int | None) -> None:
        """Record the view this unit now handles; emit `changed` if it differs.

        A follower emits at once; the leader at the end of the hook, so that a handler
        that writes is not run inside itself. With acknowledgements, a new revision
        alone is a change too (naming no field): every unit acknowledges every revision.
        """
        if self.model.unit.is_leader():
            self._handled.record_for_leader(raw, config, revision, self._acknowledge)
            return
        changed, new_revision = self._handled.record(raw, config, revision)
        if changed or (new_revision and self._acknowledge):
            self.on.changed.emit(changed, revision)

    def _on_hook(self, event: ops.EventBase) -> None:
        """Notice a changed view; on the leader, note what to publish at the end of the hook."""
        relation = self._relation()
        if relation is None:
            return
        leader = self.model.unit.is_leader()
        if self._rollouts is not None and self._rollouts.on_hook(relation, event, leader):
            self._hook.rollout_changed = True  # look at the whole rollout at the end
            self._view_cache = None  # a takeover may have become possible
        raw = self._read(relation)
        basis = self._basis(relation, raw)
        incomplete = basis is not raw or any(key not in raw for key in self._codec.keys.values())
        if self._handled.seen(basis) and not (leader and incomplete):
            return
        view = self._view(relation)
        if view.error is None and view.publish:
            self._hook.publish = True
        elif view.error is None:
            self._notice(basis, view.config, view.revision)
        elif isinstance(view.error, PendingFieldsError):
            logger.debug("%s", view.error)
        elif isinstance(view.error, SecretUnavailableError) and not view.error.gone:
            raise view.error  # fail the hook: Juju runs it again, and the change is not lost
        else:
            logger.warning("%s", view.error)

    def _runs(self, relation: ops.Relation) -> int | None:
        """The config revision this unit handled in an earlier hook, if it still runs it."""
        seen = self._handled.seen(self._basis(relation, self._read(relation)))
        return self._handled.last()[1] if seen else None

    def _on_end_of_hook(self, event: ops.EventBase) -> None:
        """End the hook: the leader publishes what it found missing; every unit emits.

        The first collect-status event ends it; what the charm's collect-status
        handlers leave, the next of collect-unit-status and pre-commit handles.
        """
        kind = event.handle.kind
        if kind == "pre_commit" and self._ending is None:
            return  # no collect-status in this hook (collect-metrics): nothing ended
        first = kind == "collect_app_status" or (
            kind == "collect_unit_status" and self._ending != "collect_app_status"
        )
        self._ending = None if kind == "pre_commit" else kind
        try:
            if self.model.unit.is_leader():
                self._end_leaders_hook(first)
            elif self._hook.handed_out:  # leadership lost during the hook
                raise NotLeaderError(
                    f"{self.model.unit.name} lost leadership before it could publish the"
                    f" values generated for get() in {self._relation_name!r}: failing the"
                    " hook, so that no unit acts on a value that is not stored",
                    relation_name=self._relation_name,
                )
            elif (changed := self._handled.take_pending()) is not None:
                self.on.changed.emit(changed, self.revision)  # what its writes changed
        finally:
            if first or kind == "pre_commit":  # a later get() hands out the values generated
                self._hook = _Hook(generated=self._hook.generated if first else {})
                if self._rollouts is not None:
                    self._rollouts.end_hook()

    def _end_leaders_hook(self, first: bool) -> None:
        hook, adoption = self._hook, self._adoption
        if first and self._rollouts and self._rollouts.due_for_a_look(hook.rollout_changed):
            # The units changed, or a planned unit was missing (removed since, perhaps,
            # before it ever joined): a takeover, a retirement or `applied` may be due.
            hook.rollout_changed = True
            self._view_cache = None
            hook.publish |= adoption is not None
        retire = first and adoption and (hook.rollout_changed or adoption.retire_again())
        relation = self._relation() if hook.publish or retire else None
        if relation is not None and hook.publish:
            self._publish(relation)
        if relation is not None and retire:
            adoption.end_of_hook(relation)
        for _ in range(_MAX_EMITS_PER_HOOK):
            changed = self._handled.take_pending()
            if changed is not None:
                self.on.changed.emit(changed, self.revision)
            elif self._hook.rollout_changed and self._acknowledge:  # an ack in collect-status
                self._hook.rollout_changed = False
                self._rollouts.emit_applied()
            else:
                return
        self._handled.take_pending()  # dropped: the handler would write again
        logger.warning("%s: stopped re-emitting: a handler writes on every event", self)

    def _publish(self, relation: ops.Relation) -> None:
        self._hook.publish = False
        try:
            view = self._view(relation)
            if view.publish and view.config is not None:
                self._write(relation, view.config, by_charm=False)
        except (LeaderConfigError, ops.ModelError, ValueError) as e:
            if self._hook.handed_out:
                # The charm holds values generated in this hook: keep none unpublished.
                raise
            logger.warning("%s: not published: %s", self, e)

    def _on_secret_remove(self, event: ops.SecretRemoveEvent) -> None:
        """Remove revisions of this config's secret once no unit uses them; leader only."""
        if not self.model.unit.is_leader():
            return
        relation = self._relation()
        raw = self._read(relation) if relation is not None else {}
        if self._secrets.is_ours(event.secret, raw):
            event.remove_revision()  # type: ignore[no-untyped-call, unused-ignore]


def _claim(framework: ops.Framework, what: str, names: list[str], owner: str) -> None:
    """Refuse names another object of the charm has; `what` (`{}` the names) keeps them apart."""
    in_use = _CLAIMED.setdefault(framework, {}).setdefault(what, {})
    clashes = sorted(set(names) & in_use.keys())
    if clashes:
        raise ValueError(
            f"{owner} would share {what.format(', '.join(clashes))} with {in_use[clashes[0]]};"
            " give one of them another prefix"
        )
    in_use.update(dict.fromkeys(names, owner))


# The testing helpers of LIBPATCH 10 and earlier, now in charms.leader_config.v0.testing.
_MOVED = {"peer_relation_with": "peer_relation", "config_from_state": "config_from_state"}


def __getattr__(name: str) -> Any:
    """Deprecated names: `peer_relation_with` and `config_from_state` moved to testing.py."""
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    new = f"charms.leader_config.v0.testing.{_MOVED[name]}"
    warnings.warn(f"{__name__}.{name} is deprecated: use {new}", DeprecationWarning, stacklevel=2)
    try:
        from charms.leader_config.v0 import testing as helpers
    except ImportError as e:
        moved = f"{name} moved to the charms.leader_config.v0.testing library"
        raise ImportError(f"{moved}: {_FETCH.format('testing.py')}") from e
    return getattr(helpers, _MOVED[name])
