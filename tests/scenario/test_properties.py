"""Generated sequences of cluster operations keep the library's promises.

Two hypothesis state machines drive a simulated cluster (`cluster.Cluster`).

`ClusterSequences` runs one schema of the shapes real charms use (flat fields;
nested models with sets at depth and an alias; a strict model with an enum, a
tuple, a datetime and an aliased secret), each with an optional `SecretStr` field,
with or without acknowledgements, through random leader writes (no-op writes
included), secret rotations, a secret set to None and back, deliveries of queued
hooks to random units, leadership moves, deferrals of the changed event, units
joining and leaving, pods recreated (stored state lost), failed hooks and writes
from non-leaders. After every hook and step, and once everything queued is
delivered at the end, it checks:

1. once everything queued is delivered, every unit's `get()` and `revision` equal
   what the current leader published, and the last changed event each unit
   handled saw it;
2. a unit gets a changed event exactly when its view changed, naming exactly the
   fields that differ from the view it last got an event for (all of them after
   its stored state is lost);
3. a non-leader write raises `NotLeaderError` and changes nothing; keys that are
   not the library's own, in the app databag and in unit databags, never change;
   a unit writes its own record only with `acknowledge=True`;
4. secret values never appear in relation data, log records, stored state or
   deferred events;
5. the config revision in the databag, each unit's `revision` and each unit's
   acknowledged revision only go up; an effective write adds exactly one, a write
   that changes nothing sends nothing;
6. with `acknowledge=True` (units acknowledge on `changed`), `applied` fires only
   on the leader, only for the current revision, only once every unit in the
   leader's relation has acknowledged it, and at most once per revision per
   leadership (a new leader, or a leader whose stored state is lost, may fire once
   more); once everything is delivered, `rollout()` agrees on every unit and a
   revision every unit acknowledged has fired on the current leader.

`AdoptionSequences` starts from an application whose old revision hand-writes its
peer data (a generated password in an app secret under a raw key, a plaintext salt
and JSON under the new schema's own keys, another library's raw key) and upgrades
units one by one in random order, with deliveries, failed hooks, leadership
moves, scaling, pods recreated and writes in between. It checks:

7. adoption regenerates nothing: no `default_factory` runs for a value the legacy
   data holds, a value it lacks is generated at most once, and every view of a
   unit on the new revision shows the legacy values (the leader's writes, once
   every unit runs the new revision);
8. no unit on the old revision ever reads a broken value: its hooks succeed, it
   shows the legacy values, and its keys and secret stay intact until every unit
   runs the new revision; then the legacy keys are retired and the legacy secret
   is the library's own.

The default run is bounded for `tox`; ``LEADER_CONFIG_PROFILE=soak`` (``tox -e
soak``) runs thousands of sequences and reports how many ran.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import json
import logging
import os
import random
import secrets
import time
import typing
from collections.abc import Callable, Collection, Mapping
from typing import Any, ClassVar, Literal

import ops
import pydantic
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from ops import testing
from rich import Endpoint, Mode, Topology

from charms.leader_config.v0.leader_config import (
    LeaderConfig,
    LeaderConfigAppliedEvent,
    LeaderConfigChangedEvent,
    LeaderConfigError,
    Legacy,
    NotLeaderError,
    NotReadyError,
    Rollout,
)
from cluster import Cluster, HookRecord

SECRET_ID_KEY = "secret-id"
REVISION_KEY = "leader-config-revision"
UNIT_RECORD = "leader-config-unit"
META: dict[str, Any] = {"name": "prop", "peers": {"cluster": {"interface": "prop_cluster"}}}
FOREIGN_APP_DATA = {"other-lib": "not json", "x-level": '"debug"', "level-x": "7"}
# Hooks in which the library brings a unit's view up to date (see the module docstring).
NOTICING_HOOKS = ("relation-created", "relation-changed", "leader-elected", "upgrade-charm")


# Schemas, and the values the generated writes use


class Settings(pydantic.BaseModel):
    level: Literal["debug", "info", "warning"] = "info"
    replicas: int = 1
    tags: set[str] = set()
    limits: dict[str, int] = {}
    token: pydantic.SecretStr | None = None


class StrictShape(pydantic.BaseModel):
    """Strict: an enum, a tuple, a datetime, a frozenset, a nested model, an aliased secret."""

    model_config = pydantic.ConfigDict(strict=True)

    mode: Mode = Mode.ACTIVE
    window: tuple[int, int] = (1, 5)
    since: datetime.datetime = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    labels: frozenset[str] = frozenset({"a"})
    endpoint: Endpoint = Endpoint()
    admin_password: pydantic.SecretStr | None = pydantic.Field(
        default=None, alias="admin-password"
    )


levels = st.sampled_from(["debug", "info", "warning"])
names = st.text(alphabet="abcxyz-", min_size=1, max_size=4)
name_sets = st.sets(names, max_size=3)
secret_values = st.text(alphabet="klmnop", min_size=6, max_size=6).map(
    lambda s: pydantic.SecretStr(f"tok-{s}")
)
optional_secrets = st.one_of(st.none(), secret_values)
endpoints = st.builds(
    Endpoint,
    host=st.sampled_from(["10.0.0.1", "10.0.0.2", "db.local"]),
    port=st.sampled_from([5432, 5433]),
    tags=st.frozensets(names, max_size=3),
)
instants = st.sampled_from(
    [
        datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
        datetime.datetime(
            2026, 3, 1, 12, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
        ),
        datetime.datetime(2027, 6, 5, 4, 3, 2, 1000, tzinfo=datetime.timezone.utc),
    ]
)


class Shape:
    """A schema under test: its fields, databag keys and secret fields, and its values.

    The keys and content keys are spelled out here, not derived the way the library
    derives them, so that `decode` is an independent reading of the wire format.
    """

    def __init__(
        self,
        schema: type[pydantic.BaseModel],
        values: st.SearchStrategy[dict[str, Any]],
        *,
        aliases: Mapping[str, str] | None = None,
        secrets: Mapping[str, str],
    ):
        self.schema = schema
        self.values = values
        self.fields = frozenset(schema.model_fields)
        self.keys = {name: (aliases or {}).get(name, name) for name in schema.model_fields}
        self.secrets = dict(secrets)  # secret field name -> secret content key

    def __repr__(self) -> str:
        return f"Shape({self.schema.__name__})"

    def build(self, values: Mapping[str, Any]) -> pydantic.BaseModel:
        return self.schema.model_validate({self.keys[name]: v for name, v in values.items()})

    def decode(
        self, app_data: Mapping[str, str], secrets: Collection[testing.Secret]
    ) -> pydantic.BaseModel | None:
        """One JSON value per field; a secret field's key holds null or a marker."""
        own = {key: json.loads(app_data[key]) for key in self.keys.values() if key in app_data}
        for name, content_key in self.secrets.items():
            key = self.keys[name]
            if own.get(key) is not None:
                secret_id = json.loads(app_data[SECRET_ID_KEY])
                (secret,) = [s for s in secrets if s.id == secret_id]
                own[key] = secret.latest_content[content_key]
        return self.schema.model_validate(own, strict=False) if own else None


SHAPES = [
    Shape(
        Settings,
        st.fixed_dictionaries(
            {},
            optional={
                "level": levels,
                "replicas": st.integers(min_value=0, max_value=3),
                "tags": name_sets,
                "limits": st.dictionaries(names, st.integers(-2, 2), max_size=3),
                "token": optional_secrets,
            },
        ),
        secrets={"token": "token"},
    ),
    Shape(
        Topology,
        st.fixed_dictionaries(
            {},
            optional={
                "primary": endpoints,
                "replicas": st.lists(endpoints, max_size=2),
                "groups": st.dictionaries(names, name_sets, max_size=2),
                "zones": st.lists(name_sets, max_size=2),
                "peers": st.lists(names, max_size=3),
                "token": optional_secrets,
            },
        ),
        aliases={"peers": "members"},
        secrets={"token": "token"},
    ),
    Shape(
        StrictShape,
        st.fixed_dictionaries(
            {},
            optional={
                "mode": st.sampled_from(Mode),
                "window": st.tuples(st.integers(0, 3), st.integers(4, 6)),
                "since": instants,
                "labels": st.frozensets(names, max_size=3),
                "endpoint": endpoints,
                "admin_password": optional_secrets,
            },
        ),
        aliases={"admin_password": "admin-password"},
        secrets={"admin_password": "admin-password"},
    ),
]


def plain(value: object) -> object:
    """`value` in a form that compares exactly: sets sorted, secrets and offsets kept."""
    if isinstance(value, pydantic.BaseModel):
        return {name: plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, pydantic.SecretStr):
        return ["secret", value.get_secret_value()]
    if isinstance(value, (set, frozenset)):
        members = typing.cast("Collection[object]", value)
        return ["set", *sorted((plain(v) for v in members), key=repr)]
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in typing.cast("Collection[object]", value)]
    if isinstance(value, dict):
        mapping = typing.cast("dict[str, object]", value)
        return {key: plain(mapping[key]) for key in sorted(mapping)}
    if isinstance(value, enum.Enum):
        return ["enum", value.value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def fingerprint(value: object) -> str:
    return hashlib.sha256(repr(plain(value)).encode()).hexdigest()[:16]


def contents(secrets: Collection[testing.Secret]) -> dict[str, tuple[str | None, dict[str, str]]]:
    """Each secret's label and latest content, by id (not which revision a unit tracks)."""
    return {str(s.id): (s.label, dict(s.latest_content)) for s in secrets}


def unit_number(unit: ops.Unit) -> int:
    return int(unit.name.rsplit("/", 1)[1])


def stored_revision(app_data: Mapping[str, str], key: str = REVISION_KEY) -> int:
    """The config revision in the databag; -1 before anything is numbered."""
    return json.loads(app_data[key]) if key in app_data else -1


class Journal:
    """What the charms saw inside the hook being run; the machine takes it after the hook."""

    def __init__(self):
        self.revisions: list[tuple[int, int | None, int | None]] = []  # unit, event's, view's
        self.applied: list[tuple[int, int]] = []  # unit, revision
        self.generated: list[str] = []  # fields whose default_factory ran

    def take(self) -> tuple[list[tuple[int, int | None, int | None]], list[tuple[int, int]]]:
        taken = self.revisions, self.applied
        self.revisions, self.applied = [], []
        return taken

    def take_generated(self) -> list[str]:
        taken, self.generated = self.generated, []
        return taken


JOURNAL = Journal()


class SimCluster(Cluster[Any]):
    """A cluster whose units' pods can be recreated, and whose new units can run a new revision.

    A unit being removed sees itself as the departing unit in its own
    relation-departed hooks, as Juju tells it (`Cluster` names the remote unit).
    Units are numbered from 1: ops.testing (scenario 8.9) takes a departing unit 0
    for none, and names the remote unit instead.
    """

    _departing: int | None = None  # the unit being removed
    _running: int | None = None  # the unit whose hook is being run

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._next_unit = 1

    def deploy(self, count: int, *, leader: int = 1) -> list[int]:
        return super().deploy(count, leader=leader)

    def remove_unit(self, unit: int, *, new_leader: int | None = None) -> None:
        self._departing = unit
        try:
            super().remove_unit(unit, new_leader=new_leader)
        finally:
            self._departing = None

    def run(
        self,
        unit: int,
        hook: str,
        *,
        remote: int | None = None,
        params: Mapping[str, Any] | None = None,
        prepare: Callable[[Any], None] | None = None,
        fail: bool = False,
    ) -> HookRecord:
        self._running = unit
        return super().run(unit, hook, remote=remote, params=params, prepare=prepare, fail=fail)

    def _event(
        self,
        ctx: testing.Context[Any],
        state: testing.State,
        hook: str,
        remote: int | None,
        params: Mapping[str, Any] | None,
    ) -> Any:
        if hook == "relation-departed" and self._running == self._departing:
            (relation,) = state.get_relations(self._endpoint)
            return ctx.on.relation_departed(
                relation, remote_unit=remote, departing_unit=self._departing
            )
        return super()._event(ctx, state, hook, remote, params)

    def lose_stored_state(self, unit: int) -> None:
        """A recreated Kubernetes pod: stored state and deferred events are gone."""
        member = self._unit(unit)
        member.stored_states = frozenset()
        member.deferred = ()

    def recreate(self, unit: int, charm_type: type[ops.CharmBase] | None = None) -> None:
        """Replace `unit`'s pod: stop, stored state lost, then the hooks a new pod runs.

        With `charm_type`, the new pod runs that revision (a rolling upgrade on Kubernetes).
        """
        self.run(unit, "stop")
        self.lose_stored_state(unit)
        if charm_type is not None:
            self.upgrade(unit, charm_type)
        else:
            self.run(unit, "upgrade-charm")
        self.run(unit, "config-changed")
        self.run(unit, "start")

    def refresh(self, charm_type: type[ops.CharmBase]) -> None:
        """Units added from now on run `charm_type` (`juju refresh` was issued).

        The units present keep the revision they run until each is upgraded.
        """
        for unit in self.units:
            member = self._unit(unit)
            member.charm_type = member.charm_type or self._charm_type
        self._charm_type = charm_type

    def charm_of(self, unit: int) -> type[ops.CharmBase]:
        """The revision `unit` runs."""
        return self._unit(unit).charm_type or self._charm_type


class LogRecords(logging.Handler):
    """Every log record's message, from ops, the library and the charm."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


LOG = LogRecords()


class Counts:
    def __init__(self):
        self.sequences = self.steps = self.hooks = self.failed_hooks = 0
        self.events = self.applied = 0

    def count(self, record: HookRecord) -> None:
        self.hooks += 1
        self.failed_hooks += record.failed
        self.events += len(record.changed)


SEQUENCE_COUNTS = Counts()
ADOPTION_COUNTS = Counts()


# Generated cluster sequences over each schema

Write = Callable[["SequenceCharm"], None]


class SequenceCharm(ops.CharmBase):
    """Handles the changed event (or defers it) and runs a write the test hands it.

    The test sets `write`, `crash` and `hold` on the charm before the event; the
    status shows a fingerprint of the config the charm last handled a changed
    event for. With `ACK`, it acknowledges the revision once it handled it.
    """

    SCHEMA: ClassVar[type[pydantic.BaseModel]] = Settings
    ACK: ClassVar[bool] = False
    write: Write | None = None
    crash = False
    hold = False

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", self.SCHEMA, acknowledge=self.ACK)
        framework.observe(self.shared.on.changed, self._on_changed)
        framework.observe(self.shared.on.applied, self._on_applied)
        framework.observe(self.on.update_status, self._on_update_status)

    def _on_changed(self, event: LeaderConfigChangedEvent):
        if self.hold:
            event.defer()
            return
        JOURNAL.revisions.append((unit_number(self.unit), event.revision, self.shared.revision))
        config = self.shared.get()
        self.unit.status = ops.ActiveStatus(fingerprint(config) if config else "none")
        if self.ACK:
            self.shared.acknowledge()

    def _on_applied(self, event: LeaderConfigAppliedEvent):
        JOURNAL.applied.append((unit_number(self.unit), event.revision))

    def _on_update_status(self, _: ops.UpdateStatusEvent):
        if self.write is not None:
            self.write(self)
        if self.crash:
            raise RuntimeError("the hook fails after the write")


_CHARMS: dict[tuple[type[pydantic.BaseModel], bool], type[SequenceCharm]] = {}


def charm_for(schema: type[pydantic.BaseModel], acknowledge: bool) -> type[SequenceCharm]:
    """The SequenceCharm for a schema (one class each, made once)."""
    if (schema, acknowledge) not in _CHARMS:

        class Charm(SequenceCharm):
            SCHEMA = schema
            ACK = acknowledge

        _CHARMS[schema, acknowledge] = Charm
    return _CHARMS[schema, acknowledge]


class ClusterSequences(RuleBasedStateMachine):
    """Random operations on a simulated cluster, checked against a model."""

    def __init__(self):
        super().__init__()
        self.shape = SHAPES[0]
        self.acknowledge = False
        self.cluster = SimCluster(SequenceCharm, META)
        self.published: pydantic.BaseModel | None = None
        # The view and revision each unit last got a changed event for.
        self.notified: dict[int, tuple[pydantic.BaseModel | None, int | None]] = {}
        self.unit_data: dict[int, dict[str, str]] = {}
        self.writing = False
        self.crashing = False  # the charm raises at the end of the hook, on purpose
        self.secret_values: set[str] = set()
        self.logged = len(LOG.messages)
        self.revision = -1  # the databag's, as last seen
        self.view_revisions: dict[int, int] = {}  # each unit's `revision`, as last seen
        self.acked: dict[int, int] = {}  # each unit's acknowledged revision, as last seen
        self.last_secret: dict[str, pydantic.SecretStr] = {}
        # `applied`: the leadership term (a new leader, or the leader's stored state lost)
        # and the revisions fired, per term and per unit.
        self.term = 0
        self.term_leader: int | None = None
        self.fired: dict[int, set[int]] = {}
        self.fired_by: dict[int, set[int]] = {}

    # Invariants 2, 5 and 6, on every hook

    def check_hook(self, record: HookRecord) -> None:
        SEQUENCE_COUNTS.count(record)
        revisions, applied = JOURNAL.take()
        if record.failed:
            # On purpose: a charm that raises after a write, or a hook the test fails.
            if isinstance(record.error, testing.errors.UncaughtCharmError) and not self.crashing:
                raise AssertionError(f"a hook failed: {record}") from record.error
            return
        data = self.cluster.app_data
        revision = stored_revision(data)
        assert revision >= self.revision, f"the revision went down: {record}"
        self.revision = revision
        if self.cluster.leader != self.term_leader:
            self.term, self.term_leader = self.term + 1, self.cluster.leader
        self.check_changed(record)
        for unit, event_revision, view_revision in revisions:
            assert unit == record.unit
            assert view_revision is not None
            assert event_revision is not None
            assert event_revision <= view_revision <= revision
            assert view_revision >= self.view_revisions.get(unit, -1), record
            self.view_revisions[unit] = view_revision
        for unit, fired in applied:
            SEQUENCE_COUNTS.applied += 1
            self.check_applied(record, unit, fired, revision)

    def check_changed(self, record: HookRecord) -> None:
        assert len(record.changed) <= 1, record
        view, revision = (
            (self.decode(), self.view_revision()) if record.hook != "install" else (None, None)
        )
        last_view, last_revision = self.notified.get(record.unit, (None, None))
        fields = self.difference(last_view, view)
        # With acknowledgements, a new revision alone is a change (naming no field).
        renumbered = self.acknowledge and revision != last_revision
        if record.changed:
            (changed,) = record.changed
            assert changed or renumbered, f"an event for an unchanged view: {record}"
            assert changed == fields, record
            self.notified[record.unit] = (view, revision)
        elif self.writing or any(hook in record.hook for hook in NOTICING_HOOKS):
            assert not fields, f"a change without an event: {record}"
            assert not renumbered, f"a new revision without an event: {record}"

    def check_applied(self, record: HookRecord, unit: int, fired: int, revision: int) -> None:
        assert self.acknowledge
        assert unit == record.unit == self.cluster.leader, record
        assert fired == revision, f"applied {fired} while the revision is {revision}: {record}"
        members = {unit, *self.peers(unit)}
        acked = {member: self.acknowledged(member) for member in members}
        assert all(n >= fired for n in acked.values()), f"applied {fired} with {acked}: {record}"
        assert fired not in self.fired.setdefault(self.term, set()), f"applied again: {record}"
        self.fired[self.term].add(fired)
        self.fired_by.setdefault(unit, set()).add(fired)

    def peers(self, unit: int) -> set[int]:
        """The other units that `unit`'s peer relation holds."""
        (relation,) = self.cluster.state(unit).get_relations("cluster")
        assert isinstance(relation, testing.PeerRelation)
        return set(relation.peers_data)

    def acknowledged(self, unit: int) -> int:
        """The revision `unit`'s record says it applied; -1 for none."""
        record = self.cluster.unit_data(unit).get(UNIT_RECORD)
        return -1 if record is None else json.loads(record)["applied"]

    def decode(self) -> pydantic.BaseModel | None:
        return self.shape.decode(self.cluster.app_data, self.cluster.secrets)

    def view_revision(self) -> int | None:
        revision = stored_revision(self.cluster.app_data)
        return None if revision < 0 else revision

    def difference(
        self, before: pydantic.BaseModel | None, after: pydantic.BaseModel | None
    ) -> frozenset[str]:
        if before is None or after is None:
            return frozenset() if before is after else self.shape.fields
        return frozenset(
            f for f in self.shape.fields if plain(getattr(before, f)) != plain(getattr(after, f))
        )

    # Invariants 1, 3, 4 and 5, after every step

    @invariant()
    def the_databag_holds_what_the_leader_published(self):
        SEQUENCE_COUNTS.steps += 1
        data = self.cluster.app_data
        assert plain(self.decode()) == plain(self.published)
        for key, value in FOREIGN_APP_DATA.items():
            assert data[key] == value
        own = {*self.shape.keys.values(), SECRET_ID_KEY, REVISION_KEY}
        assert set(data) <= set(FOREIGN_APP_DATA) | own

    @invariant()
    def secret_values_never_leak(self):
        texts = [json.dumps(self.cluster.app_data), *LOG.messages[self.logged :]]
        self.logged = len(LOG.messages)
        for unit in self.cluster.units:
            state = self.cluster.state(unit)
            texts.append(json.dumps(self.cluster.unit_data(unit)))
            texts.extend(repr(stored.content) for stored in state.stored_states)
            texts.extend(repr(event.snapshot_data) for event in state.deferred)
        text = "\n".join(texts)
        assert [value for value in self.secret_values if value in text] == []

    @invariant()
    def unit_databags_hold_only_juju_keys_and_the_units_record(self):
        for unit in self.cluster.units:
            data = self.cluster.unit_data(unit)
            record = data.pop(UNIT_RECORD, None)
            assert data == self.unit_data.setdefault(unit, data)
            if record is None:
                continue
            assert self.acknowledge, f"unit/{unit} wrote a record without acknowledge=True"
            applied = json.loads(record)
            assert list(applied) == ["applied"]
            assert self.acked.get(unit, -1) <= applied["applied"] <= self.revision
            self.acked[unit] = applied["applied"]

    @initialize(shape=st.sampled_from(SHAPES), acknowledge=st.booleans(), count=st.integers(1, 3))
    def deploy(self, shape: Shape, acknowledge: bool, count: int):
        self.shape, self.acknowledge = shape, acknowledge
        self.cluster = SimCluster(
            charm_for(shape.schema, acknowledge),
            META,
            app_data=FOREIGN_APP_DATA,
            on_hook=self.check_hook,
        )
        self.cluster.deploy(count)
        self.published = shape.schema()

    # Steps

    def leader_write(self, changes: Mapping[str, Any], mode: str, crash: bool) -> None:
        leader = self.cluster.leader
        assert leader is not None
        before = self.published
        assert before is not None
        for value in changes.values():
            if isinstance(value, pydantic.SecretStr):
                self.secret_values.add(value.get_secret_value())
        shape = self.shape

        def write(charm: SequenceCharm):
            if mode == "update":
                charm.shared.update(**changes)
            elif mode == "set":
                charm.shared.set(shape.build(changes))
            elif mode == "edit":
                with charm.shared.edit() as draft:
                    for name, value in changes.items():
                        setattr(draft, name, value)
            else:
                charm.shared.update(**{name: getattr(before, name) for name in shape.fields})

        def prepare(charm: SequenceCharm):
            charm.write, charm.crash = write, crash

        data_before, secrets_before = self.cluster.app_data, contents(self.cluster.secrets)
        self.writing, self.crashing = True, crash
        try:
            record = self.cluster.run(leader, "update-status", prepare=prepare)
        finally:
            self.writing = self.crashing = False
        assert record.failed == crash
        if crash or mode == "rewrite":
            expected = before
        elif mode == "set":
            expected = shape.build(changes)
        else:
            expected = before.model_copy(update=changes)
        if plain(expected) == plain(before):
            assert self.cluster.app_data == data_before
            assert contents(self.cluster.secrets) == secrets_before
        else:
            assert stored_revision(self.cluster.app_data) == stored_revision(data_before) + 1
        assert plain(self.decode()) == plain(expected)
        self.published = expected
        for name in shape.secrets:
            value = getattr(expected, name)
            if value is not None:
                self.last_secret[name] = value

    def deliver_some(self, data: st.DataObject, deliveries: list[tuple[bool, bool]]) -> None:
        """Deliver queued hooks to random units, each deferring the event or failing or not."""
        for hold, fail in deliveries:
            waiting = [u for u in self.cluster.units if self.cluster.pending(u)]
            if not waiting:
                return

            def prepare(charm: SequenceCharm, hold: bool = hold):
                charm.hold = hold

            self.cluster.deliver(data.draw(st.sampled_from(waiting)), prepare=prepare, fail=fail)

    @rule(
        data=st.data(),
        mode=st.sampled_from(["update", "set", "edit", "rewrite"]),
        crash=st.booleans(),
        deliveries=st.lists(st.tuples(st.booleans(), st.booleans()), max_size=3),
    )
    def leader_writes(
        self, data: st.DataObject, mode: str, crash: bool, deliveries: list[tuple[bool, bool]]
    ):
        self.leader_write(data.draw(self.shape.values), mode, crash)
        self.deliver_some(data, deliveries)

    @rule(data=st.data(), crash=st.booleans())
    def leader_rotates_a_secret(self, data: st.DataObject, crash: bool):
        name = data.draw(st.sampled_from(sorted(self.shape.secrets)))
        self.leader_write({name: data.draw(secret_values)}, "update", crash)

    @rule(data=st.data(), same=st.booleans(), deliveries=st.integers(0, 3))
    def leader_sets_a_secret_to_none_and_back(
        self, data: st.DataObject, same: bool, deliveries: int
    ):
        name = data.draw(st.sampled_from(sorted(self.shape.secrets)))
        previous = self.last_secret.get(name)
        back = previous if same and previous is not None else data.draw(secret_values)
        self.leader_write({name: None}, "update", crash=False)
        self.deliver_some(data, [(False, False)] * deliveries)
        self.leader_write({name: back}, "update", crash=False)

    @precondition(lambda self: len(self.cluster.units) > 1)
    @rule(data=st.data())
    def follower_write_is_refused(self, data: st.DataObject):
        followers = [u for u in self.cluster.units if u != self.cluster.leader]
        unit = data.draw(st.sampled_from(followers))
        changes = data.draw(self.shape.values)
        before = self.cluster.app_data
        refused: list[NotLeaderError] = []

        def write(charm: SequenceCharm):
            with pytest.raises(NotLeaderError) as caught:
                charm.shared.update(**changes)
            refused.append(caught.value)

        def prepare(charm: SequenceCharm):
            charm.write = write

        pending = {u: self.cluster.pending(u) for u in self.cluster.units}
        record = self.cluster.run(unit, "update-status", prepare=prepare)
        assert len(refused) == 1
        assert record.changed == ()
        assert self.cluster.app_data == before
        if not self.acknowledge:  # an acknowledging unit may handle a deferred event
            assert {u: self.cluster.pending(u) for u in self.cluster.units} == pending

    @precondition(lambda self: self.cluster.has_pending())
    @rule(data=st.data(), hold=st.booleans(), fail=st.booleans())
    def deliver(self, data: st.DataObject, hold: bool, fail: bool):
        self.deliver_some(data, [(hold, fail)])

    @rule(data=st.data(), hold=st.booleans())
    def update_status(self, data: st.DataObject, hold: bool):
        unit = data.draw(st.sampled_from(self.cluster.units))

        def prepare(charm: SequenceCharm):
            charm.hold = hold

        self.cluster.run(unit, "update-status", prepare=prepare)

    @rule(data=st.data(), run_hook=st.booleans())
    def leadership_moves(self, data: st.DataObject, run_hook: bool):
        self.cluster.elect(data.draw(st.sampled_from(self.cluster.units)), run_hook=run_hook)

    @precondition(lambda self: len(self.cluster.units) < 4)
    @rule()
    def unit_joins(self):
        unit = self.cluster.add_unit()
        assert self.cluster.changed_events(unit) == [self.shape.fields]

    @precondition(lambda self: len(self.cluster.units) > 1)
    @rule(data=st.data())
    def unit_leaves(self, data: st.DataObject):
        unit = data.draw(st.sampled_from(self.cluster.units))
        self.cluster.remove_unit(unit)
        self.notified.pop(unit, None)
        self.unit_data.pop(unit, None)

    @rule(data=st.data())
    def pod_is_recreated(self, data: st.DataObject):
        unit = data.draw(st.sampled_from(self.cluster.units))
        self.cluster.run(unit, "stop")
        # What the unit handled is gone: its next view is its first.
        self.notified.pop(unit, None)
        self.cluster.lose_stored_state(unit)
        if unit == self.cluster.leader:
            self.term += 1
        self.cluster.run(unit, "upgrade-charm")
        self.cluster.run(unit, "config-changed")
        self.cluster.run(unit, "start")

    @rule()
    def everything_is_delivered(self):
        self.settle_and_check()

    # Invariants 1 and 6, once everything is delivered

    def settle(self) -> None:
        """Deliver everything, and every deferred event, until nothing is left."""
        for _ in range(10):
            self.cluster.settle()
            held = [unit for unit in self.cluster.units if self.cluster.deferred(unit)]
            if not held:
                return
            for unit in held:
                self.cluster.run(unit, "update-status")
        raise AssertionError("the cluster does not settle")

    def settle_and_check(self):
        self.settle()
        published = self.published
        assert published is not None
        revision = stored_revision(self.cluster.app_data)
        acked = {u for u in self.cluster.units if self.acknowledged(u) >= revision}
        names = {u: f"prop/{u}" for u in self.cluster.units}
        for unit in self.cluster.units:
            views: list[tuple[pydantic.BaseModel | None, int | None, Rollout | None]] = []

            def read(charm: SequenceCharm, views: list[Any] = views):
                rollout = charm.shared.rollout() if self.acknowledge else None
                views.append((charm.shared.get(), charm.shared.revision, rollout))

            self.cluster.run(unit, "update-status", prepare=read)
            ((config, seen_revision, rollout),) = views
            assert plain(config) == plain(published)
            assert seen_revision == revision
            last_view, last_revision = self.notified[unit]
            assert plain(last_view) == plain(published)
            assert last_revision == revision or not self.acknowledge
            assert self.cluster.deferred(unit) == ()
            assert self.cluster.state(unit).unit_status == ops.ActiveStatus(fingerprint(published))
            if self.acknowledge:
                applied = frozenset(names[u] for u in acked)
                pending = frozenset(names.values()) - applied
                assert rollout == Rollout(revision, applied, pending), f"on unit/{unit}"
        leader = self.cluster.leader
        if self.acknowledge and leader is not None:
            # Every unit gets an event for every revision, and acknowledges it.
            assert acked == set(self.cluster.units)
            assert revision in self.fired_by.get(leader, set()), "applied never fired"

    def teardown(self):
        self.settle_and_check()
        SEQUENCE_COUNTS.sequences += 1


# Adoption of hand-written peer data, during a rolling upgrade

LEGACY_SECRET_ID = "admin-secret-id"
LEGACY_LABEL = "admin-password"
LEGACY_KEYS = (LEGACY_SECRET_ID, "salt", "log_level")
FOREIGN_KEY, FOREIGN_VALUE = "other-lib", "raw-value"


def secret_fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:8]


class LegacyCharm(ops.CharmBase):
    """The old revision, which hand-writes its peer data.

    The leader keeps a generated password in an app secret whose id is under a raw
    key, a generated salt in plaintext and the log level as JSON (both under keys
    the new schema owns), next to another library's raw key; every unit reads them
    in every hook it handles, failing the hook if it cannot.
    """

    BY_LABEL: ClassVar[bool] = False
    # What the leader generates, drawn by the test: password, salt, log level.
    VALUES: ClassVar[tuple[str, str, str]] = ("", "", "")

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        for event in (
            self.on.leader_elected,
            self.on.config_changed,
            self.on.upgrade_charm,
            self.on.update_status,
            self.on["cluster"].relation_changed,
            self.on["cluster"].relation_created,
        ):
            framework.observe(event, self._reconcile)

    def _reconcile(self, _: ops.EventBase) -> None:
        relation = self.model.get_relation("cluster")
        if relation is None:
            return
        data = relation.data[self.app]
        if self.unit.is_leader() and LEGACY_SECRET_ID not in data:
            password, salt, level = self.VALUES
            secret = self.app.add_secret({"password": password}, label=LEGACY_LABEL)
            data.update(
                {
                    LEGACY_SECRET_ID: str(secret.id),
                    "salt": salt,
                    "log_level": json.dumps(level),
                    FOREIGN_KEY: FOREIGN_VALUE,
                }
            )
        if LEGACY_SECRET_ID not in data:
            self.unit.status = ops.WaitingStatus("no data yet")
            return
        secret = (
            self.model.get_secret(label=LEGACY_LABEL)
            if self.BY_LABEL
            else self.model.get_secret(id=data[LEGACY_SECRET_ID])
        )
        password = secret.get_content(refresh=True)["password"]
        level = json.loads(data["log_level"])
        self.unit.status = ops.ActiveStatus(
            f"{secret_fingerprint(password)} {data['salt']} {level}"
        )


class LegacyByLabel(LegacyCharm):
    BY_LABEL = True


def _generated_password() -> pydantic.SecretStr:
    JOURNAL.generated.append("password")
    return pydantic.SecretStr(secrets.token_hex(8))


def _generated_salt() -> str:
    JOURNAL.generated.append("salt")
    return secrets.token_hex(4)


def _generated_cookie() -> str:
    JOURNAL.generated.append("cookie")
    return secrets.token_hex(4)


class Kept(pydantic.BaseModel):
    """The new schema: `password` and `salt` keep their legacy names, and are generated."""

    password: pydantic.SecretStr = pydantic.Field(default_factory=_generated_password)
    salt: str = pydantic.Field(default_factory=_generated_salt)
    log_level: str = "info"


class KeptWithCookie(Kept):
    """A schema with a generated value that the legacy data lacks."""

    cookie: str = pydantic.Field(default_factory=_generated_cookie)


# The hooks in which the new revision shows the config in its status.
SHOWING_HOOKS = (
    "relation-created",
    "relation-changed",
    "leader-elected",
    "upgrade-charm",
    "update-status",
    "config-changed",
    "start",
)


class AdoptingCharm(ops.CharmBase):
    """The new revision: LeaderConfig, adopting the legacy data; it shows the config it reads."""

    PREFIX: ClassVar[str] = ""
    SCHEMA: ClassVar[type[Kept]] = Kept

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(
            self, "cluster", self.SCHEMA, prefix=self.PREFIX, migrate=self._legacy
        )
        for event in (
            self.shared.on.changed,
            self.on.update_status,
            self.on.config_changed,
            self.on.upgrade_charm,
            self.on.leader_elected,
            self.on.start,
            self.on["cluster"].relation_changed,
            self.on["cluster"].relation_created,
        ):
            framework.observe(event, self._show)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        data = relation.data[self.app]
        if LEGACY_SECRET_ID not in data:
            return None
        secret = self.model.get_secret(id=data[LEGACY_SECRET_ID])
        values = {
            "password": secret.get_content(refresh=True)["password"],
            "salt": data["salt"],
            "log_level": json.loads(data["log_level"]),
        }
        return Legacy(values, keys=[key for key in LEGACY_KEYS if key in data], secret=secret)

    def _show(self, _: ops.EventBase) -> None:
        try:
            config = self.shared.get()
        except LeaderConfigError as e:
            self.unit.status = ops.WaitingStatus(type(e).__name__)
            return
        if config is not None:
            self.unit.status = ops.ActiveStatus(shown(config))


def shown(config: Kept) -> str:
    """What a unit on the new revision shows: what an old unit shows, and the cookie."""
    text = f"{secret_fingerprint(config.password.get_secret_value())} {config.salt}"
    text += f" {config.log_level}"
    return f"{text} {config.cookie}" if isinstance(config, KeptWithCookie) else text


_ADOPTING: dict[tuple[str, type[Kept]], type[AdoptingCharm]] = {}


def adopting_charm(prefix: str, schema: type[Kept]) -> type[AdoptingCharm]:
    if (prefix, schema) not in _ADOPTING:

        class Charm(AdoptingCharm):
            PREFIX = prefix
            SCHEMA = schema

        _ADOPTING[prefix, schema] = Charm
    return _ADOPTING[prefix, schema]


hex_text = st.text(alphabet="0123456789abcdef", min_size=8, max_size=8)
passwords = st.text(alphabet="klmnop", min_size=8, max_size=8).map(lambda s: f"pw-{s}")


class AdoptionSequences(RuleBasedStateMachine):
    """A rolling upgrade from hand-written peer data, with random steps in between."""

    def __init__(self):
        super().__init__()
        self.cluster = SimCluster(LegacyCharm, META)
        self.new_charm: type[AdoptingCharm] = AdoptingCharm
        self.prefix = ""
        self.writing = True  # deploying, or a write whose rule checks its outcome
        self.refreshed = False
        self.legacy: tuple[str, str, str] = ("", "", "")
        self.legacy_id = ""
        # What units on the new revision read: password, salt, level (the legacy
        # values until the leader writes, once every unit runs the new revision).
        self.expected: tuple[str, str, str] = ("", "", "")
        self.generated: list[str] = []  # by committed hooks
        self.passwords: set[str] = set()
        self.first_cookie = ""
        self.revision = -1
        # The order of deliveries and of the last upgrades: hypothesis draws it.
        self.random = random.Random(0)  # noqa: S311 (not for security)

    @property
    def old_units(self) -> list[int]:
        return [u for u in self.cluster.units if not self.runs_new(u)]

    @property
    def new_units(self) -> list[int]:
        return [u for u in self.cluster.units if self.runs_new(u)]

    def runs_new(self, unit: int) -> bool:
        return issubclass(self.cluster.charm_of(unit), AdoptingCharm)

    def key(self, name: str) -> str:
        return self.prefix + name

    def cookie(self) -> str | None:
        if not issubclass(self.new_charm.SCHEMA, KeptWithCookie):
            return None
        text = self.cluster.app_data.get(self.key("cookie"))
        return None if text is None else json.loads(text)

    def legacy_shown(self) -> str:
        password, salt, level = self.legacy
        return f"{secret_fingerprint(password)} {salt} {level}"

    def new_shown(self) -> str | None:
        """What a unit on the new revision shows now; None while it waits for the cookie."""
        password, salt, level = self.expected
        text = f"{secret_fingerprint(password)} {salt} {level}"
        if not issubclass(self.new_charm.SCHEMA, KeptWithCookie):
            return text
        cookie = self.cookie()
        return None if cookie is None else f"{text} {cookie}"

    def new_status(self) -> str:
        shown = self.new_shown()
        return "waiting: PendingFieldsError" if shown is None else f"active: {shown}"

    # Invariants 7 and 8, on every hook

    def check_hook(self, record: HookRecord) -> None:
        ADOPTION_COUNTS.count(record)
        generated = JOURNAL.take_generated()
        JOURNAL.take()
        if record.failed:  # only on purpose (or the step's own check raised, and it says why)
            if isinstance(record.error, testing.errors.UncaughtCharmError):
                raise AssertionError(f"a hook failed: {record}") from record.error
            return
        self.generated.extend(generated)
        assert [name for name in self.generated if name != "cookie"] == [], "regenerated"
        assert self.generated.count("cookie") <= 1, "the cookie was generated twice"
        revision = stored_revision(self.cluster.app_data, self.key(REVISION_KEY))
        assert revision >= self.revision, f"the revision went down: {record}"
        self.revision = revision
        if self.writing or not any(hook in record.hook for hook in SHOWING_HOOKS):
            return
        if not self.runs_new(record.unit):
            assert record.status == f"active: {self.legacy_shown()}", record
            return
        assert record.status == self.new_status(), record

    # Invariants 7 and 8, after every step

    @invariant()
    def old_units_read_the_legacy_data_intact(self):
        ADOPTION_COUNTS.steps += 1
        data = self.cluster.app_data
        assert data[FOREIGN_KEY] == FOREIGN_VALUE
        if not self.old_units:
            return
        password, salt, level = self.legacy
        assert data[LEGACY_SECRET_ID] == self.legacy_id
        assert data["salt"] == salt
        assert data["log_level"] == json.dumps(level)
        (secret,) = [s for s in self.cluster.secrets if s.id == self.legacy_id]
        assert secret.label == LEGACY_LABEL
        assert secret.latest_content["password"] == password
        if self.prefix == "":  # own keys in use by old units: not taken over yet
            assert REVISION_KEY not in data

    @invariant()
    def passwords_never_leak(self):
        texts = [json.dumps(self.cluster.app_data)]
        for unit in self.cluster.units:
            texts.append(json.dumps(self.cluster.unit_data(unit)))
            texts.extend(repr(s.content) for s in self.cluster.state(unit).stored_states)
        text = "\n".join(texts)
        assert [value for value in self.passwords if value in text] == []

    @invariant()
    def published_data_holds_what_new_units_read(self):
        data = self.cluster.app_data
        if self.key(REVISION_KEY) not in data:
            return
        secret_id = json.loads(data[self.key(SECRET_ID_KEY)])
        assert secret_id == self.legacy_id, "the legacy secret was not taken over"
        (secret,) = [s for s in self.cluster.secrets if s.id == secret_id]
        assert json.loads(data[self.key("password")]) is not None
        password = secret.latest_content["password"]
        salt, level = json.loads(data[self.key("salt")]), json.loads(data[self.key("log_level")])
        assert (password, salt, level) == self.expected
        cookie = self.cookie()
        if cookie is not None:  # generated once, then kept
            self.first_cookie = self.first_cookie or cookie
            assert cookie == self.first_cookie

    @initialize(
        count=st.integers(1, 4),
        by_label=st.booleans(),
        prefix=st.sampled_from(["", "lc-"]),
        cookie=st.booleans(),
        password=passwords,
        salt=hex_text,
        level=levels,
        order=st.randoms(use_true_random=False),
    )
    def deploy_the_old_revision(
        self,
        count: int,
        by_label: bool,
        prefix: str,
        cookie: bool,
        password: str,
        salt: str,
        level: str,
        order: random.Random,
    ):
        self.random = order
        LegacyCharm.VALUES = self.legacy = self.expected = (password, salt, level)
        self.passwords.add(password)
        self.prefix = prefix
        self.new_charm = adopting_charm(prefix, KeptWithCookie if cookie else Kept)
        old = LegacyByLabel if by_label else LegacyCharm
        self.cluster = SimCluster(old, META, on_hook=self.check_hook)
        self.cluster.deploy(count)
        self.legacy_id = self.cluster.app_data[LEGACY_SECRET_ID]
        self.writing = False
        for unit in self.cluster.units:
            assert self.cluster.state(unit).unit_status == ops.ActiveStatus(self.legacy_shown())

    # Steps

    def upgrade(self, unit: int, fresh_pod: bool) -> None:
        self.refreshed = True
        self.cluster.refresh(self.new_charm)
        if fresh_pod:  # Kubernetes: the upgraded pod is a new one, without stored state
            self.cluster.recreate(unit, self.new_charm)
        else:
            self.cluster.upgrade(unit, self.new_charm)

    def deliver_some(self, fails: list[bool]) -> None:
        """Deliver queued hooks to random units, failing some."""
        for fail in fails:
            waiting = [u for u in self.cluster.units if self.cluster.pending(u)]
            if not waiting:
                return
            self.cluster.deliver(self.random.choice(waiting), fail=fail)

    @precondition(lambda self: self.old_units)
    @rule(
        data=st.data(),
        fresh_pod=st.booleans(),
        deliveries=st.lists(st.booleans(), max_size=3),
        then_write=st.booleans(),
    )
    def a_unit_is_upgraded(
        self, data: st.DataObject, fresh_pod: bool, deliveries: list[bool], then_write: bool
    ):
        self.upgrade(data.draw(st.sampled_from(self.old_units)), fresh_pod)
        self.deliver_some(deliveries)
        if then_write and self.prefix == "" and self.old_units:
            self.a_new_leader_cannot_write_while_old_units_read_its_keys(data, "warning")

    @precondition(lambda self: self.cluster.has_pending())
    @rule(fail=st.booleans())
    def deliver(self, fail: bool):
        self.deliver_some([fail])

    @rule(data=st.data())
    def update_status(self, data: st.DataObject):
        self.cluster.run(data.draw(st.sampled_from(self.cluster.units)), "update-status")

    @rule(data=st.data(), run_hook=st.booleans())
    def leadership_moves(self, data: st.DataObject, run_hook: bool):
        self.cluster.elect(data.draw(st.sampled_from(self.cluster.units)), run_hook=run_hook)

    @precondition(lambda self: len(self.cluster.units) < 4)
    @rule()
    def unit_joins(self):
        self.cluster.add_unit()  # the new revision once `juju refresh` was issued

    @precondition(lambda self: len(self.cluster.units) > 1)
    @rule(data=st.data())
    def unit_leaves(self, data: st.DataObject):
        self.cluster.remove_unit(data.draw(st.sampled_from(self.cluster.units)))

    @rule(data=st.data())
    def pod_is_recreated(self, data: st.DataObject):
        unit = data.draw(st.sampled_from(self.cluster.units))
        # On the revision it ran (a partitioned rollout upgrades pods one by one).
        self.cluster.recreate(unit)

    @precondition(lambda self: self.cluster.leader in self.old_units)
    @rule(level=levels, fail=st.booleans())
    def an_old_leader_changes_a_legacy_value(self, level: str, fail: bool):
        """As the old revision's config-changed would; units reading through migrate follow."""

        def write(charm: ops.CharmBase):
            relation = charm.model.get_relation("cluster")
            assert relation is not None
            relation.data[charm.app]["log_level"] = json.dumps(level)

        before = self.legacy, self.expected
        password, salt, _ = self.legacy
        self.legacy = (password, salt, level)
        if self.key(REVISION_KEY) not in self.cluster.app_data:  # not published: migrate reads
            self.expected = self.legacy
        record = self.cluster.run(self.leader(), "config-changed", prepare=write, fail=fail)
        if record.failed:
            self.legacy, self.expected = before

    @precondition(lambda self: self.prefix == "" and self.old_units and self.new_units)
    @rule(data=st.data(), level=levels)
    def a_new_leader_cannot_write_while_old_units_read_its_keys(
        self, data: st.DataObject, level: str
    ):
        if not self.runs_new(self.leader()):
            self.cluster.elect(data.draw(st.sampled_from(self.new_units)))
        before, secrets_before = self.cluster.app_data, contents(self.cluster.secrets)
        refused: list[NotReadyError] = []

        def write(charm: AdoptingCharm):
            with pytest.raises(NotReadyError) as caught:
                charm.shared.update(log_level=level)
            refused.append(caught.value)

        self.cluster.run(self.leader(), "update-status", prepare=write)
        assert len(refused) == 1
        assert self.cluster.app_data == before
        assert contents(self.cluster.secrets) == secrets_before

    @precondition(lambda self: not self.old_units)
    @rule(
        field=st.sampled_from(["password", "salt", "log_level"]),
        password=passwords,
        salt=hex_text,
        level=levels,
    )
    def leader_writes_once_every_unit_is_upgraded(
        self, field: str, password: str, salt: str, level: str
    ):
        texts = {"password": password, "salt": salt, "log_level": level}
        values: dict[str, Any] = {**texts, "password": pydantic.SecretStr(password)}
        self.passwords.add(password)
        before, outcome = self.cluster.app_data, list[NotReadyError | None]()

        def write(charm: AdoptingCharm):
            try:
                charm.shared.update(**{field: values[field]})
            except NotReadyError as e:  # the leader has not seen every unit's record yet
                outcome.append(e)
            else:
                outcome.append(None)

        self.writing = True  # the rule checks the hook's outcome
        try:
            record = self.cluster.run(self.leader(), "update-status", prepare=write)
        finally:
            self.writing = False
        if outcome != [None]:
            assert self.prefix == ""
            assert self.key(REVISION_KEY) not in self.cluster.app_data
            assert self.cluster.app_data == before
            assert record.status == self.new_status()
            return
        previous = self.expected
        new: dict[str, str] = dict(zip(("password", "salt", "log_level"), previous, strict=True))
        new[field] = texts[field]
        self.expected = (new["password"], new["salt"], new["log_level"])
        revision = stored_revision(self.cluster.app_data, self.key(REVISION_KEY))
        if self.expected != previous:
            assert revision > stored_revision(before, self.key(REVISION_KEY))
        assert record.status == self.new_status()

    def leader(self) -> int:
        leader = self.cluster.leader
        assert leader is not None
        return leader

    def settle_and_check(self):
        self.cluster.settle(self.random)
        for unit in self.cluster.units:
            self.cluster.run(unit, "update-status")
        self.cluster.settle(self.random)
        for unit in self.cluster.units:
            status = self.cluster.state(unit).unit_status
            if not self.runs_new(unit):
                assert status == ops.ActiveStatus(self.legacy_shown())

    def teardown(self):
        # The rest of the rolling upgrade, in random order, with hooks delivered in between.
        while self.old_units:
            self.upgrade(self.random.choice(self.old_units), self.random.random() < 0.5)
            self.deliver_some(
                [self.random.random() < 0.2 for _ in range(self.random.randrange(4))]
            )
        self.settle_and_check()
        data = self.cluster.app_data
        expected = self.new_shown()
        assert expected is not None
        for unit in self.cluster.units:
            assert self.cluster.state(unit).unit_status == ops.ActiveStatus(expected)
        assert LEGACY_SECRET_ID not in data, "the legacy keys were not retired"
        if self.prefix:
            assert "salt" not in data
            assert "log_level" not in data
        assert {s.id for s in self.cluster.secrets} == {self.legacy_id}
        assert json.loads(data[self.key(SECRET_ID_KEY)]) == self.legacy_id
        ADOPTION_COUNTS.sequences += 1


# Profiles and the tests

_COMMON = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
PROFILES = {
    "unit": {
        "sequences": settings(_COMMON, max_examples=25, stateful_step_count=15),
        "adoption": settings(_COMMON, max_examples=15, stateful_step_count=15),
    },
    "soak": {
        "sequences": settings(_COMMON, max_examples=1500, stateful_step_count=30),
        "adoption": settings(_COMMON, max_examples=500, stateful_step_count=30),
    },
}
PROFILE = os.environ.get("LEADER_CONFIG_PROFILE", "unit")


def _run(
    machine: type[RuleBasedStateMachine],
    counts: Counts,
    what: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    start = time.monotonic()
    root = logging.getLogger()
    root.addHandler(LOG)
    try:
        run_state_machine_as_test(machine, settings=PROFILES[PROFILE][what])
    finally:
        root.removeHandler(LOG)
    with capsys.disabled():
        print(
            f"\n{what} ({PROFILE} profile): {counts.sequences} sequences, {counts.steps} steps,"
            f" {counts.hooks} hooks ({counts.failed_hooks} failed on purpose),"
            f" {counts.events} changed events, {counts.applied} applied events,"
            f" {time.monotonic() - start:.1f} s"
        )


def test_generated_cluster_sequences_keep_the_invariants(capsys: pytest.CaptureFixture[str]):
    _run(ClusterSequences, SEQUENCE_COUNTS, "sequences", capsys)


def test_generated_rolling_upgrades_adopt_legacy_data_and_regenerate_nothing(
    capsys: pytest.CaptureFixture[str],
):
    _run(AdoptionSequences, ADOPTION_COUNTS, "adoption", capsys)
