"""Adoption of legacy data for `charms.leader_config.v0.leader_config`.

An optional module: vendor it next to `leader_config.py` (and `rollouts.py`) only for
a `LeaderConfig` made with `migrate=`, while a charm moves onto the library from data
that its older revisions wrote by hand; the core loads it then. A charm that finished
its adoption drops `migrate=` and this file. The manual is docs/upgrading.md.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any

import ops
import pydantic

from charms.leader_config.v0 import leader_config as core
from charms.leader_config.v0.leader_config import (
    InvalidConfigError,
    LeaderConfigError,
    Legacy,
    Migrate,
    NotReadyError,
    PendingFieldsError,
    SecretUnavailableError,
)
from charms.leader_config.v0.rollouts import Rollouts

LIBID = "6f1d3b8e2c7a4b9d8e5f0a1c3b2d4e6f"
LIBAPI = 0
LIBPATCH = 2
PYDEPS = ["pydantic>=2,<3"]

# The version of the interface between the core and its modules that this file needs.
MODULE_API = 1

if getattr(core, "MODULE_API", 0) < MODULE_API:  # a core from before the modules: none
    raise ImportError(
        f"{__name__.rpartition('.')[2]}.py (LIBPATCH {LIBPATCH}) needs a newer"
        f" leader_config.py than LIBPATCH {core.LIBPATCH} (module interface {MODULE_API}, not"
        f" {getattr(core, 'MODULE_API', 0)}): update it: copy"
        " leader_config.py from the charms.leader_config repository or its wheel"
    )

logger = logging.getLogger(core.__name__)


@dataclasses.dataclass(frozen=True)
class Adopted:
    """A unit's view while it reads the config through `migrate`."""

    legacy: Legacy
    config: pydantic.BaseModel | None = None
    error: LeaderConfigError | None = None  # what `get()` raises instead
    blocked: bool = False  # the leader must not write: old units read the legacy keys
    publish: bool = False  # the leader publishes `config` at the end of the hook


class Adoption:
    """Legacy data a charm kept before it used this library: read, taken over, retired.

    `migrate` is consulted only while nothing is published in this library's format;
    what it returns is kept for as long as the application databag stays the same, a
    failure included (so that it is logged once).
    """

    def __init__(self, host: core.ModuleHost, migrate: Migrate, rollouts: Rollouts):
        self._host = host
        self._codec = host.codec
        self._migrate = migrate
        self._rollouts = rollouts
        self._cache: tuple[dict[str, str], Legacy | LeaderConfigError | None] | None = None
        host.stored.set_default(retired=False, retire_again=False)

    def forget(self) -> None:
        """Call `migrate` again next time: what it read may have changed."""
        self._cache = None

    def basis(self, relation: ops.Relation, raw: dict[str, str]) -> dict[str, str]:
        """What this unit's view follows: before anything is published, the whole databag."""
        if self._codec.revision_key in raw:
            return raw
        return dict(relation.data[self._host.owner.model.app])

    def view(
        self, relation: ops.Relation, raw: dict[str, str], basis: dict[str, str], leader: bool
    ) -> Adopted | None:
        """The view of adopted values (the core's view takes its fields), or None.

        Values that do not fit the schema are the view's `InvalidConfigError`.

        Raises:
            LeaderConfigError: if `migrate` raised (chained).
        """
        legacy = self._legacy(relation, basis, self._published(raw))
        if legacy is None:
            return None
        blocked = self._blocked(relation, raw, leader)
        awaited = sorted(self._codec.generated - legacy.values.keys())
        if awaited and (blocked or not leader):
            error = PendingFieldsError(
                f"the shared config in {self._codec.relation_name!r} lacks"
                f" {', '.join(awaited)}, which only the leader generates: the leader"
                " generates them when it publishes",
                relation_name=self._codec.relation_name,
                fields=tuple(awaited),
            )
            return Adopted(legacy, error=error, blocked=blocked)
        try:
            config = self._config(legacy)
        except InvalidConfigError as e:  # `set()` may replace them, unless old units read them
            return Adopted(legacy, error=e, blocked=blocked)
        return Adopted(legacy, config, blocked=blocked, publish=leader and not blocked)

    def _published(self, raw: dict[str, str]) -> bool:
        """Whether own keys are complete and valid: written in this library's format."""
        if any(key not in raw for key in self._codec.keys.values()):
            return False
        try:
            self._host.decode(raw)
        except InvalidConfigError:
            return False
        except SecretUnavailableError as e:
            if not e.gone:
                raise
            return False  # no secret its keys describe: legacy plaintext, say
        return True

    def _legacy(
        self, relation: ops.Relation, databag: dict[str, str], published: bool
    ) -> Legacy | None:
        if self._cache is None or self._cache[0] != databag:
            result: Legacy | LeaderConfigError | None = None
            if not published:
                try:
                    result = self._call(relation)
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

    def _call(self, relation: ops.Relation) -> Legacy | None:
        result = self._migrate(relation)
        return result if result is None or isinstance(result, Legacy) else Legacy(result)

    def _blocked(self, relation: ops.Relation, raw: Mapping[str, str], leader: bool) -> bool:
        """Whether legacy data under this object's own keys must stay as it is.

        Units on the old revision read it there: the leader takes the keys over
        once every unit runs a revision that uses this library.
        """
        collides = any(key in raw for key in self._codec.own_keys(adopting=True))
        return collides and not (leader and self._rollouts.all_recorded(relation))

    def _config(self, legacy: Legacy) -> pydantic.BaseModel:
        """Validate the adopted values, generating what they lack; raise InvalidConfigError."""
        codec = self._codec
        unknown = sorted(legacy.values.keys() - codec.aliases.keys())
        try:
            if unknown:
                raise ValueError(f"unknown field(s) {', '.join(unknown)}")
            values = {codec.aliases[k]: v for k, v in legacy.values.items()}
            config: pydantic.BaseModel = codec.validate(values, self._host.generated())
            return config
        except ValueError as e:
            raise InvalidConfigError(
                f"migrate returned values that are invalid for {codec.schema.__name__}: {e}",
                relation_name=codec.relation_name,
                keys=(),
            ) from e

    def blocked_error(self) -> NotReadyError:
        """What a write raises while the leader must leave the legacy keys alone."""
        return NotReadyError(
            f"cannot write the shared config in {self._codec.relation_name!r} yet: units on"
            " the old revision still read the legacy data under its keys; the leader takes"
            " them over once every unit runs this revision",
            relation_name=self._codec.relation_name,
        )

    def secret_to_take_over(
        self, legacy: Legacy | None, values: Mapping[str, str | None]
    ) -> tuple[ops.Secret, dict[str, str]] | None:
        """The legacy secret and its latest content, if it holds every secret value adopted.

        The latest revision, not the one this unit tracks: what an old revision's
        leader added or rotated since is kept. Values that the legacy data lacks (a
        field new in this revision, generated) are added to it, next to the content
        it keeps.
        """
        if legacy is None or legacy.secret is None:
            return None
        content = legacy.secret.get_content(refresh=True)
        keys = {
            self._codec.content_keys[name]
            for name, value in values.items()
            if value is not None and name in legacy.values
        }
        return (legacy.secret, content) if keys <= content.keys() else None

    def record(
        self,
        raw: Mapping[str, str],
        before: pydantic.BaseModel | None,
        legacy: Legacy | None,
        plain: Mapping[str, str],
        values: Mapping[str, str | None],
        by_charm: bool,
    ) -> dict[str, str]:
        """The databag change to the adoption's record that goes with a write.

        The publish of adopted values starts it; each write by the charm adds the
        fields whose value it changed from `before` (to `plain` and `values`, encoded),
        whose values then win over the legacy ones.
        """
        key = self._codec.adoption_key
        changed: set[str] = set()
        if by_charm:
            changed = _changed_fields(self._codec, before, plain, values)
        if legacy is not None and self._codec.revision_key not in raw:
            if any(own in raw for own in self._codec.keys.values()):
                return {}  # taken over under its own keys: no unit runs the old revision
            return {key: json.dumps({"written": sorted(changed)})}
        written = self._written(raw)
        if written is None or changed <= set(written):
            return {}
        return {key: json.dumps({"written": sorted({*written, *changed})})}

    def _written(self, raw: Mapping[str, str]) -> list[str] | None:
        """The fields written since the adoption; None once the legacy data is retired."""
        text = raw.get(self._codec.adoption_key)
        if text is None:
            return None
        try:
            written = json.loads(text)["written"]
        except (ValueError, TypeError, KeyError):
            return []  # unreadable: every legacy value that changed wins
        return [name for name in written if isinstance(name, str)]

    def end_of_hook(self, relation: ops.Relation) -> None:
        """Adopt legacy values changed since, then retire the legacy data; leader only.

        Retirement waits until every unit runs a revision that uses this library.
        If a step fails, the leader logs it and tries again at the end of its next hook.
        """
        stored = self._host.stored
        if stored.retired:
            return
        try:
            self._adopt_changes(relation)
            raw = self._host.read(relation)
            if self._codec.revision_key not in raw or not self._rollouts.all_recorded(relation):
                return
            self._retire(relation, raw)
        except Exception as e:  # a charm's function, or Juju: try again in the next hook
            logger.warning("%s: legacy data not retired yet: %s", self._host.owner, e)
            stored.retire_again = True
            return
        stored.retired = True
        stored.retire_again = False

    def retire_again(self) -> bool:
        """Whether an earlier hook's retirement failed."""
        return bool(self._host.stored.retire_again)

    def _adopt_changes(self, relation: ops.Relation) -> None:
        """Publish the legacy values that a leader on the old revision changed since.

        While units on the old revision may lead, they change the legacy data only; a
        value so changed wins over the adopted one, unless the charm wrote that field
        since the adoption.
        """
        written = self._written(self._host.read(relation))
        if written is None:
            return
        config = self._host.config(relation)
        legacy = self._call(relation)
        if config is None or legacy is None:
            return
        codec = self._codec
        kept = {k: v for k, v in legacy.values.items() if k in codec.aliases and k not in written}
        candidate: Any = codec.revalidate(config, kept)
        plain, values = codec.encode(candidate), codec.secret_values(candidate)
        names = sorted(_changed_fields(codec, config, plain, values) & kept.keys())
        if names:
            logger.info(
                "%s: adopting legacy values changed since: %s", self._host.owner, ", ".join(names)
            )
            self._host.write(relation, candidate)

    def _retire(self, relation: ops.Relation, raw: Mapping[str, str]) -> None:
        """Remove a copied legacy secret, then the legacy keys and the record."""
        legacy = self._call(relation)
        databag = relation.data[self._host.owner.model.app]
        retired = {self._codec.adoption_key} & databag.keys()
        if legacy is not None:
            # The secret first: if Juju refuses it, the keys that lead to it are still
            # there when the leader tries again in a later hook.
            if legacy.secret is not None and not self._host.is_ours(legacy.secret, raw):
                legacy.secret.remove_all_revisions()
            own = self._codec.own_keys(adopting=True)
            retired.update(k for k in legacy.keys if k in databag and k not in own)
        if retired:
            databag.update(dict.fromkeys(retired, ""))


def _changed_fields(
    codec: core.Codec[Any],
    before: pydantic.BaseModel | None,
    plain: Mapping[str, str],
    values: Mapping[str, str | None],
) -> set[str]:
    """The fields whose value in `before` differs from the encoded `plain` and `values`."""
    if before is None:
        return {*plain, *values}
    plain_before, values_before = codec.encode(before), codec.secret_values(before)
    return {n for n in plain if plain_before[n] != plain[n]} | {
        n for n in values if values_before[n] != values[n]
    }
