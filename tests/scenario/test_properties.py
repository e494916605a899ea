"""Generated sequences of cluster operations keep the library's promises.

Two hypothesis state machines drive a simulated cluster (`cluster.Cluster`).

`ClusterSequences` runs one schema of the shapes real charms use (flat fields;
nested models with sets at depth and an alias; a strict model with an enum, a
tuple, a datetime and an aliased secret), each with an optional `SecretStr` field,
with or without acknowledgements, through random leader writes (no-op writes
included), secret rotations, a secret set to None and back, deliveries of queued
hooks to random units, leadership moves, deferrals of the changed event, units
joining and leaving, units planned that join later or are removed before they
join, a `remove-unit` plus `add-unit` (the dying unit still in the relation while
the new one is only planned), pods recreated (stored state lost), leader hooks
the charm ignores, failed hooks and writes from non-leaders. After every hook and
step, and once everything queued is delivered at the end, it checks:

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
   revision every unit acknowledged has fired on the current leader;
7. with `acknowledge=True`, `applied` never fires before every unit that Juju
   plans has acknowledged the revision, by name: a unit planned but not joined
   yet holds it back even while a dying unit keeps the count of the relation's
   units up (checked where ops has `ops.hookcmds`, whose `goal_state()` the
   simulation answers; older ops count the planned units); and a leader hook of
   any kind (one in which the charm calls nothing of the library's included;
   not relation-joined, which relation-changed follows, nor stop or remove)
   that starts while every unit has acknowledged the current revision, the
   leader has nothing queued and Juju plans no unit it does not see (a planned
   unit removed before it joined, say) fires `applied`, if that leader has not
   fired it for the revision before.

`AdoptionSequences` starts from an application whose old revision hand-writes its
peer data (a generated password in an app secret under a raw key, a plaintext salt
and JSON under the new schema's own keys, another library's raw key) and upgrades
units one by one in random order, with deliveries, failed hooks, leadership
moves, scaling (units planned, removed before they join, removed while another is
added; the last unit on the old revision removed instead of upgraded), pods
recreated, an old leader changing a legacy value or rotating the legacy secret
(before and after a prefixed publish), a new leader writing while old units read
the legacy keys, hooks in which the charm reads nothing, and foreign writes to the
app databag in the hook in which the leader hands out generated values. Units
track secret revisions: `get_content()` without a refresh returns the revision a
unit last saw. It checks:

8. adoption regenerates nothing: no `default_factory` runs for a value the legacy
   data holds, a value it lacks is generated at most once, and every view of a
   unit on the new revision shows the legacy values (the leader's writes, once
   every unit runs the new revision); a takeover builds from the latest revision
   of the legacy secret, so a password rotated before it is what new units read;
9. no unit on the old revision ever reads a broken value: its hooks succeed, it
   shows the legacy values, and its keys stay intact and the legacy secret's
   content byte for byte what the old revision wrote (no key of the library's
   added) until every unit runs the new revision; then the legacy keys are
   retired and the legacy secret is the library's own;
10. a legacy value that an old leader changes (or a password it rotates) after a
    prefixed publish wins: units on the new revision read the value before or
    after it until a new-revision leader runs a hook in which the charm reads the
    config, and from then on the one after it, published with a new revision;
    unless the new revision wrote that field since the adoption, whose value then
    stays; retiring the legacy keys never drops it;
11. a leader hook of any kind (as in 7) that starts while every unit runs the new
    revision and has its record, the leader has nothing queued, and no unit is
    planned or dying (the last old unit removed rather than upgraded, or a planned
    unit removed before it joined) ends with the takeover and the retirement done;
12. every generated value that a new-revision unit's `get()` returns in a hook is
    the one published at the end of the hook, whatever else the hook writes to the
    app databag (another library's raw key, a second `LeaderConfig`), and those
    keys are left alone.

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
from cluster import HOOKCMDS, Cluster, HookRecord

pytestmark = pytest.mark.modules  # needs rollouts.py or adoption.py

SECRET_ID_KEY = "secret-id"
REVISION_KEY = "leader-config-revision"
UNIT_RECORD = "leader-config-unit"
META: dict[str, Any] = {"name": "prop", "peers": {"cluster": {"interface": "prop_cluster"}}}
FOREIGN_APP_DATA = {"other-lib": "not json", "x-level": '"debug"', "level-x": "7"}
# Hooks in which the library brings a unit's view up to date (see the module docstring).
NOTICING_HOOKS = ("relation-created", "relation-changed", "leader-elected", "upgrade-charm")
# Leader hooks bound to finish what the leader can see is due (invariants 7 and 11): those
# in which the library looks at the units (a record changed or departed, a new leader, a
# new revision), and update-status, in which it looks again at what waited for a planned
# unit (docs/rollouts.md). Not relation-joined: relation-changed follows it at once.
LOOKING_HOOKS = (*NOTICING_HOOKS, "relation-departed", "update-status")
# Leader hooks in which a new leader adopts legacy values that an old leader changed
# (invariant 10; docs/upgrading.md): its election, and its first hook on the new revision.
ADOPTING_HOOKS = ("leader-elected", "upgrade-charm")


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
        self.cookies: list[str] = []  # the generated values get() returned

    def take(self) -> tuple[list[tuple[int, int | None, int | None]], list[tuple[int, int]]]:
        taken = self.revisions, self.applied
        self.revisions, self.applied = [], []
        return taken

    def take_generated(self) -> list[str]:
        taken, self.generated = self.generated, []
        return taken

    def take_cookies(self) -> list[str]:
        taken, self.cookies = self.cookies, []
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
    # Called with the unit and the hook before each hook runs, to see the cluster as it starts.
    before_hook: Callable[[int, str], None] | None = None

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
        if self.before_hook is not None:
            self.before_hook(unit, hook)
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

        The units that have started keep the revision they run until each is
        upgraded; a unit only planned starts on `charm_type`.
        """
        for unit in self.units:
            member = self._unit(unit)
            member.charm_type = member.charm_type or self._charm_type
        self._charm_type = charm_type

    def charm_of(self, unit: int) -> type[ops.CharmBase]:
        """The revision `unit` runs."""
        return self._unit(unit).charm_type or self._charm_type


MAX_UNITS = 4


def room_for_a_unit(cluster: Cluster[Any]) -> bool:
    """Whether the application may grow: at most `MAX_UNITS`, planned ones included."""
    return len(cluster.units) + len(cluster.planned) < MAX_UNITS


def staying(cluster: Cluster[Any]) -> list[int]:
    """The units that are not being removed: leadership may move to them."""
    return [unit for unit in cluster.units if unit not in cluster.dying]


def removable(cluster: Cluster[Any]) -> list[int]:
    """The units whose removal leaves a unit that is not being removed."""
    stay = staying(cluster)
    return [unit for unit in cluster.units if unit not in stay or len(stay) > 1]


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
        self.events = self.applied = self.goal_state = 0

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
        # The revision `applied` is due for at the end of the leader's hook under way.
        self.applied_due: int | None = None

    # Invariants 2, 5, 6 and 7, on every hook

    def before_hook(self, unit: int, hook: str) -> None:
        leads = unit == self.cluster.leader and hook in LOOKING_HOOKS
        self.applied_due = self.applied_is_due() if leads else None

    def applied_is_due(self) -> int | None:
        """The revision every unit acknowledged, if the leader can know it and Juju plans no more.

        The leader has nothing queued (it saw every acknowledgement), sees every unit,
        and no unit is planned but not joined, or dying.
        """
        cluster, leader = self.cluster, self.cluster.leader
        if not self.acknowledge or leader is None or cluster.planned or cluster.dying:
            return None
        revision = stored_revision(cluster.app_data)
        if revision < 0 or cluster.pending(leader):
            return None
        if cluster.peers(leader) != set(cluster.units) - {leader}:
            return None
        if any(self.acknowledged(unit) < revision for unit in cluster.units):
            return None
        return revision

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
        due, self.applied_due = self.applied_due, None
        if due is not None and not self.writing and record.unit == self.cluster.leader:
            assert due in self.fired_by.get(record.unit, set()), (
                f"applied {due} did not fire, though every unit acknowledged it: {record}"
            )

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
        if HOOKCMDS is not None:  # goal-state names the planned units: compared by name
            behind = {
                u: self.acknowledged(u)
                for u in self.cluster.units + self.cluster.planned
                if u not in self.cluster.dying and self.acknowledged(u) < fired
            }
            assert not behind, (
                f"applied {fired} before planned units applied it {behind}: {record}"
            )

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
        self.cluster.before_hook = self.before_hook
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

    @rule(hook=st.sampled_from(["config-changed", "start"]))
    def the_leader_runs_a_hook_the_charm_ignores(self, hook: str):
        leader = self.cluster.leader
        assert leader is not None
        self.cluster.run(leader, hook)

    @rule(data=st.data(), run_hook=st.booleans())
    def leadership_moves(self, data: st.DataObject, run_hook: bool):
        self.cluster.elect(data.draw(st.sampled_from(staying(self.cluster))), run_hook=run_hook)

    @precondition(lambda self: room_for_a_unit(self.cluster))
    @rule()
    def unit_joins(self):
        unit = self.cluster.add_unit()
        assert self.cluster.changed_events(unit) == [self.shape.fields]

    @precondition(lambda self: room_for_a_unit(self.cluster))
    @rule()
    def a_unit_is_planned(self):
        """Juju counts it in goal-state; it has not joined the relation yet."""
        self.cluster.add_unit(join=False)

    @precondition(lambda self: self.cluster.planned)
    @rule(data=st.data())
    def a_planned_unit_joins(self, data: st.DataObject):
        unit = data.draw(st.sampled_from(self.cluster.planned))
        self.cluster.join_unit(unit)
        assert self.cluster.changed_events(unit) == [self.shape.fields]

    @precondition(lambda self: self.cluster.planned)
    @rule(data=st.data())
    def a_planned_unit_is_removed_before_joining(self, data: st.DataObject):
        self.cluster.remove_unit(data.draw(st.sampled_from(self.cluster.planned)))

    @precondition(
        lambda self: (
            len(self.cluster.units) > 1
            and not self.cluster.dying
            and room_for_a_unit(self.cluster)
        )
    )
    @rule(data=st.data(), deliveries=st.lists(st.tuples(st.booleans(), st.booleans()), max_size=3))
    def a_unit_is_removed_while_another_is_added(
        self, data: st.DataObject, deliveries: list[tuple[bool, bool]]
    ):
        """remove-unit plus add-unit: the dying unit is in the relation, the new one planned."""
        self.cluster.begin_removal(data.draw(st.sampled_from(self.cluster.units)))
        self.cluster.add_unit(join=False)
        self.deliver_some(data, deliveries)

    @precondition(lambda self: len(self.cluster.units) > 1)
    @rule(data=st.data())
    def unit_leaves(self, data: st.DataObject):
        self.remove(data.draw(st.sampled_from(removable(self.cluster))))

    def remove(self, unit: int) -> None:
        self.cluster.remove_unit(unit)
        self.notified.pop(unit, None)
        self.unit_data.pop(unit, None)

    @precondition(lambda self: bool(staying(self.cluster)))
    @rule(data=st.data())
    def pod_is_recreated(self, data: st.DataObject):
        unit = data.draw(st.sampled_from(staying(self.cluster)))
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
        """Finish removals (of planned units too); deliver everything and every deferred event."""
        for unit in self.cluster.dying + self.cluster.planned:
            self.remove(unit)
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
        SEQUENCE_COUNTS.goal_state += self.cluster.goal_state_calls


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
    """The new revision: LeaderConfig, adopting the legacy data; it shows the config it reads.

    Each config `get()` returns is noted in the journal (its generated value). With
    `quiet` set (by the test, before the event), the charm reads nothing in the hook.
    """

    PREFIX: ClassVar[str] = ""
    SCHEMA: ClassVar[type[Kept]] = Kept
    quiet = False

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

    def read(self) -> Kept | None:
        """The config, as `get()` returns it; None while it raises."""
        try:
            config = self.shared.get()
        except LeaderConfigError as e:
            self.unit.status = ops.WaitingStatus(type(e).__name__)
            return None
        if isinstance(config, KeptWithCookie):
            JOURNAL.cookies.append(config.cookie)
        return config

    def _show(self, _: ops.EventBase) -> None:
        if self.quiet:
            return
        config = self.read()
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


class Note(pydantic.BaseModel):
    """What a second LeaderConfig of the charm, under another prefix, keeps."""

    text: str = ""


hex_text = st.text(alphabet="0123456789abcdef", min_size=8, max_size=8)
passwords = st.text(alphabet="klmnop", min_size=8, max_size=8).map(lambda s: f"pw-{s}")
FIELDS = ("password", "salt", "log_level")
Values = tuple[str, str, str]  # password, salt, log level


def with_value(values: Values, field: str, value: str) -> Values:
    password, salt, level = (
        value if f == field else v for f, v in zip(FIELDS, values, strict=True)
    )
    return password, salt, level


class AdoptionSequences(RuleBasedStateMachine):
    """A rolling upgrade from hand-written peer data, with random steps in between."""

    def __init__(self):
        super().__init__()
        self.cluster = SimCluster(LegacyCharm, META)
        self.new_charm: type[AdoptingCharm] = AdoptingCharm
        self.prefix = ""
        self.writing = True  # deploying, or a write whose rule checks its outcome
        self.quiet = False  # the hook under way is one in which the charm reads nothing
        self.refreshed = False
        self.legacy: Values = ("", "", "")
        self.legacy_id = ""
        # What units on the new revision read: password, salt, level (the legacy
        # values until the leader writes, once every unit runs the new revision).
        self.expected: Values = ("", "", "")
        # Legacy values an old leader changed after a prefixed publish, by field: the
        # next new-revision leader publishes them; and the fields the new revision
        # wrote since the adoption, whose values stay.
        self.due: dict[str, str] = {}
        self.new_wrote: set[str] = set()
        self.takeover_due = False  # at the start of the leader's hook under way
        self.generated: list[str] = []  # by committed hooks
        self.passwords: set[str] = set()
        self.first_cookie = ""
        self.revision = -1
        self.foreign: dict[str, str] = {FOREIGN_KEY: FOREIGN_VALUE}  # other keys, left alone
        self.notes = 0
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

    def has_cookie(self) -> bool:
        return issubclass(self.new_charm.SCHEMA, KeptWithCookie)

    def key(self, name: str) -> str:
        return self.prefix + name

    def cookie(self) -> str | None:
        if not self.has_cookie():
            return None
        text = self.cluster.app_data.get(self.key("cookie"))
        return None if text is None else json.loads(text)

    def legacy_shown(self) -> str:
        password, salt, level = self.legacy
        return f"{secret_fingerprint(password)} {salt} {level}"

    def readable(self) -> set[Values]:
        """What units on the new revision may read now: each due value, or the one before."""
        password_choices, salt_choices, level_choices = (
            {value, self.due.get(field, value)}
            for field, value in zip(FIELDS, self.expected, strict=True)
        )
        return {
            (password, salt, level)
            for password in password_choices
            for salt in salt_choices
            for level in level_choices
        }

    def new_statuses(self) -> set[str]:
        """What a unit on the new revision may show now."""
        if not self.has_cookie():
            suffix = ""
        else:
            cookie = self.cookie()
            if cookie is None:
                return {"waiting: PendingFieldsError"}
            suffix = f" {cookie}"
        return {
            f"active: {secret_fingerprint(password)} {salt} {level}{suffix}"
            for password, salt, level in self.readable()
        }

    def published(self) -> Values | None:
        """What this object's keys and secret hold: None before they are published."""
        data = self.cluster.app_data
        if self.key(REVISION_KEY) not in data:
            return None
        secret_id = json.loads(data[self.key(SECRET_ID_KEY)])
        assert secret_id == self.legacy_id, "the legacy secret was not taken over"
        (secret,) = [s for s in self.cluster.secrets if s.id == secret_id]
        assert json.loads(data[self.key("password")]) is not None
        password = secret.latest_content["password"]
        return (
            password,
            json.loads(data[self.key("salt")]),
            json.loads(data[self.key("log_level")]),
        )

    def retired(self) -> bool:
        """Whether the legacy data is taken over and retired."""
        data = self.cluster.app_data
        if LEGACY_SECRET_ID in data or self.key(REVISION_KEY) not in data:
            return False
        return not self.prefix or not {"salt", "log_level"} & data.keys()

    # Invariants 8 to 12, on every hook

    def before_hook(self, unit: int, hook: str) -> None:
        leads = unit == self.cluster.leader and hook in LOOKING_HOOKS
        self.takeover_due = leads and self.takeover_is_due()

    def takeover_is_due(self) -> bool:
        """Whether the leader can see that every unit runs the new revision, and no more.

        The leader has nothing queued (it saw every unit's record), sees every unit,
        and no unit is planned but not joined, or dying.
        """
        cluster, leader = self.cluster, self.cluster.leader
        if leader is None or cluster.planned or cluster.dying or cluster.pending(leader):
            return False
        if cluster.peers(leader) != set(cluster.units) - {leader}:
            return False
        record = self.key(UNIT_RECORD)
        return all(
            self.runs_new(unit) and record in self.cluster.unit_data(unit)
            for unit in cluster.units
        )

    def check_hook(self, record: HookRecord) -> None:
        ADOPTION_COUNTS.count(record)
        generated = JOURNAL.take_generated()
        cookies = JOURNAL.take_cookies()
        JOURNAL.take()
        takeover_due, self.takeover_due = self.takeover_due, False
        if record.failed:  # only on purpose (or the step's own check raised, and it says why)
            if isinstance(record.error, testing.errors.UncaughtCharmError):
                raise AssertionError(f"a hook failed: {record}") from record.error
            return
        published_cookie = self.cookie()
        assert {*cookies} <= {published_cookie}, (
            f"get() returned {cookies}, {published_cookie} is published: {record}"
        )
        self.generated.extend(generated)
        assert [name for name in self.generated if name != "cookie"] == [], "regenerated"
        assert self.generated.count("cookie") <= 1, "the cookie was generated twice"
        revision = stored_revision(self.cluster.app_data, self.key(REVISION_KEY))
        assert revision >= self.revision, f"the revision went down: {record}"
        revision_before, self.revision = self.revision, revision
        self.adopt_due(record, revision_before)
        if takeover_due:
            assert self.retired(), f"every unit runs the new revision, nothing retired: {record}"
        if self.writing or self.quiet or not any(hook in record.hook for hook in SHOWING_HOOKS):
            return
        if not self.runs_new(record.unit):
            assert record.status == f"active: {self.legacy_shown()}", record
            return
        assert record.status in self.new_statuses(), record

    def adopt_due(self, record: HookRecord, revision_before: int) -> None:
        """After a new-revision leader's hook that reads the config, due values are published."""
        if not self.due or record.unit != self.cluster.leader or not self.runs_new(record.unit):
            return
        previous = self.expected
        looks = any(hook in record.hook for hook in ADOPTING_HOOKS)
        if looks or LEGACY_SECRET_ID not in self.cluster.app_data:
            self.expected, self.due = self.with_due(), {}
            if self.writing:  # the rule checks what was written
                return
            assert self.published() == self.expected, (
                f"legacy values changed after the adoption are not published: {record}"
            )
        elif self.writing or not self.take_due_if_published():
            return
        # A password rotated in the legacy secret, which the library took over, is the
        # library's too: every unit reads it at its next read, and no revision marks it.
        changed = [
            field
            for field, now, before in zip(FIELDS, self.expected, previous, strict=True)
            if field != "password" and now != before
        ]
        if changed:
            assert self.revision > revision_before, f"adopted without a new revision: {record}"

    def with_due(self) -> Values:
        expected = self.expected
        for field, value in self.due.items():
            expected = with_value(expected, field, value)
        return expected

    def take_due_if_published(self) -> bool:
        """Whether the leader adopted the due values in a hook the model does not tell.

        It looks at the units in more hooks than ADOPTING_HOOKS: its first hook as
        leader (which may come before `leader-elected`), a unit's record changing.
        """
        if not self.due or self.published() != self.with_due():
            return False
        self.expected, self.due = self.with_due(), {}
        return True

    # Invariants 8 to 12, after every step

    @invariant()
    def old_units_read_the_legacy_data_intact(self):
        ADOPTION_COUNTS.steps += 1
        data = self.cluster.app_data
        for key, value in self.foreign.items():
            assert data.get(key) == value, f"{key} changed"
        if not self.old_units:
            return
        password, salt, level = self.legacy
        assert data[LEGACY_SECRET_ID] == self.legacy_id
        assert data["salt"] == salt
        assert data["log_level"] == json.dumps(level)
        (secret,) = [s for s in self.cluster.secrets if s.id == self.legacy_id]
        assert secret.label == LEGACY_LABEL
        assert secret.latest_content == {"password": password}, "not what old units wrote"
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
        published = self.published()
        if published is None:
            return
        assert published in self.readable(), f"{published} published, {self.expected} expected"
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
        self.cluster.before_hook = self.before_hook
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
        if then_write and self.prefix == "" and self.old_units and staying_new(self):
            self.a_new_leader_cannot_write_while_old_units_read_its_keys(data, "warning")

    @precondition(lambda self: self.cluster.has_pending())
    @rule(fail=st.booleans())
    def deliver(self, fail: bool):
        self.deliver_some([fail])

    @rule(data=st.data())
    def update_status(self, data: st.DataObject):
        self.cluster.run(data.draw(st.sampled_from(self.cluster.units)), "update-status")

    @rule(hook=st.sampled_from(["update-status", "config-changed", "start"]))
    def the_leader_runs_a_hook_without_reading(self, hook: str):
        """As a charm that reads the config only in some hooks; the library's end of hook runs."""

        def quiet(charm: ops.CharmBase):
            if isinstance(charm, AdoptingCharm):
                charm.quiet = True

        self.quiet = True
        try:
            self.cluster.run(self.leader(), hook, prepare=quiet)
        finally:
            self.quiet = False

    @rule(data=st.data(), run_hook=st.booleans())
    def leadership_moves(self, data: st.DataObject, run_hook: bool):
        self.cluster.elect(data.draw(st.sampled_from(staying(self.cluster))), run_hook=run_hook)

    @precondition(lambda self: room_for_a_unit(self.cluster))
    @rule()
    def unit_joins(self):
        self.cluster.add_unit()  # the new revision once `juju refresh` was issued

    @precondition(lambda self: room_for_a_unit(self.cluster))
    @rule()
    def a_unit_is_planned(self):
        """Juju counts it in goal-state; it has not joined the relation yet."""
        self.cluster.add_unit(join=False)

    @precondition(lambda self: self.cluster.planned)
    @rule(data=st.data())
    def a_planned_unit_joins(self, data: st.DataObject):
        self.cluster.join_unit(data.draw(st.sampled_from(self.cluster.planned)))

    @precondition(lambda self: self.cluster.planned)
    @rule(data=st.data())
    def a_planned_unit_is_removed_before_joining(self, data: st.DataObject):
        self.cluster.remove_unit(data.draw(st.sampled_from(self.cluster.planned)))

    @precondition(
        lambda self: (
            len(self.cluster.units) > 1
            and not self.cluster.dying
            and room_for_a_unit(self.cluster)
        )
    )
    @rule(data=st.data(), deliveries=st.lists(st.booleans(), max_size=3))
    def a_unit_is_removed_while_another_is_added(
        self, data: st.DataObject, deliveries: list[bool]
    ):
        """remove-unit plus add-unit: the dying unit is in the relation, the new one planned."""
        self.cluster.begin_removal(data.draw(st.sampled_from(self.cluster.units)))
        self.cluster.add_unit(join=False)
        self.deliver_some(deliveries)

    @precondition(lambda self: len(self.cluster.units) > 1)
    @rule(data=st.data())
    def unit_leaves(self, data: st.DataObject):
        self.cluster.remove_unit(data.draw(st.sampled_from(removable(self.cluster))))

    @precondition(
        lambda self: (
            len(self.old_units) == 1
            and self.new_units
            and self.old_units[0] in removable(self.cluster)
        )
    )
    @rule(then=st.sampled_from(["nothing", "update-status", "config-changed", "start"]))
    def the_last_old_unit_is_removed_instead_of_upgraded(self, then: str):
        self.cluster.remove_unit(self.old_units[0])
        if then != "nothing":
            self.the_leader_runs_a_hook_without_reading(then)

    @precondition(lambda self: bool(staying(self.cluster)))
    @rule(data=st.data())
    def pod_is_recreated(self, data: st.DataObject):
        unit = data.draw(st.sampled_from(staying(self.cluster)))
        # On the revision it ran (a partitioned rollout upgrades pods one by one).
        self.cluster.recreate(unit)

    def change_legacy(
        self,
        data: st.DataObject,
        field: str,
        value: str,
        hook: str,
        change: Callable[[ops.CharmBase], None],
        fail: bool,
    ) -> None:
        """Run `change` on an old leader, which sets a legacy value; follow it in the model.

        With a prefix, a unit on the new revision may lead first, and publish; if one
        leads, leadership moves to a unit still on the old revision.
        """
        new = staying_new(self)
        if self.prefix and new and not self.runs_new(self.leader()) and data.draw(st.booleans()):
            self.cluster.elect(data.draw(st.sampled_from(new)))
        if self.runs_new(self.leader()):
            unit = data.draw(st.sampled_from(staying_old(self)))
            self.cluster.elect(unit, run_hook=data.draw(st.booleans()))
        before = self.legacy, self.expected, dict(self.due)
        self.legacy = with_value(self.legacy, field, value)
        if self.key(REVISION_KEY) not in self.cluster.app_data:  # not published: migrate reads
            self.expected = self.legacy
        elif field not in self.new_wrote:  # after a prefixed publish: it wins
            self.due[field] = value
        record = self.cluster.run(self.leader(), hook, prepare=change, fail=fail)
        if record.failed:
            self.legacy, self.expected, self.due = before

    @precondition(lambda self: bool(staying_old(self)))
    @rule(
        data=st.data(),
        field=st.sampled_from(["log_level", "salt"]),
        level=levels,
        salt=hex_text,
        fail=st.booleans(),
    )
    def an_old_leader_changes_a_legacy_value(
        self, data: st.DataObject, field: str, level: str, salt: str, fail: bool
    ):
        """As the old revision's config-changed would; units reading through migrate follow."""

        def write(charm: ops.CharmBase):
            relation = charm.model.get_relation("cluster")
            assert relation is not None
            text = json.dumps(level) if field == "log_level" else salt
            relation.data[charm.app][field] = text

        value = level if field == "log_level" else salt
        self.change_legacy(data, field, value, "config-changed", write, fail)

    @precondition(lambda self: bool(staying_old(self)))
    @rule(data=st.data(), password=passwords, fail=st.booleans())
    def an_old_leader_rotates_the_legacy_password(
        self, data: st.DataObject, password: str, fail: bool
    ):
        """A new revision of the legacy secret; units track the revision they last saw."""

        def rotate(charm: ops.CharmBase):
            relation = charm.model.get_relation("cluster")
            assert relation is not None
            secret = charm.model.get_secret(id=relation.data[charm.app][LEGACY_SECRET_ID])
            secret.set_content({"password": password})

        self.passwords.add(password)
        self.change_legacy(data, "password", password, "update-status", rotate, fail)

    @precondition(lambda self: bool(self.prefix == "" and self.old_units and staying_new(self)))
    @rule(data=st.data(), level=levels)
    def a_new_leader_cannot_write_while_old_units_read_its_keys(
        self, data: st.DataObject, level: str
    ):
        if not self.runs_new(self.leader()):
            self.cluster.elect(data.draw(st.sampled_from(staying_new(self))))
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

    @precondition(lambda self: bool(self.prefix != "" and self.old_units and staying_new(self)))
    @rule(
        data=st.data(), field=st.sampled_from(["salt", "log_level"]), salt=hex_text, level=levels
    )
    def a_new_leader_writes_while_old_units_read_the_legacy_keys(
        self, data: st.DataObject, field: str, salt: str, level: str
    ):
        """With a prefix, the new keys are the new revision's: its writes beat legacy changes."""
        if not self.runs_new(self.leader()):
            self.cluster.elect(data.draw(st.sampled_from(staying_new(self))))
        value = level if field == "log_level" else salt

        def write(charm: AdoptingCharm):
            charm.shared.update(**{field: value})

        self.writing = True  # the rule checks the hook's outcome
        try:
            record = self.cluster.run(self.leader(), "update-status", prepare=write)
        finally:
            self.writing = False
        assert not record.failed
        self.expected = with_value(self.expected, field, value)
        self.due.pop(field, None)
        self.new_wrote.add(field)
        self.take_due_if_published()  # this hook may be one in which it looks at the units
        assert self.published() == self.expected
        assert record.status in self.new_statuses()

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
            assert record.status in self.new_statuses()
            return
        previous = self.expected
        self.expected = with_value(previous, field, texts[field])
        self.due.pop(field, None)
        self.new_wrote.add(field)
        revision = stored_revision(self.cluster.app_data, self.key(REVISION_KEY))
        if self.expected != previous:
            assert revision > stored_revision(before, self.key(REVISION_KEY))
        assert record.status in self.new_statuses()

    @precondition(lambda self: self.has_cookie())
    @rule(
        data=st.data(),
        kind=st.sampled_from(["raw", "second-object"]),
        hook=st.sampled_from(["update-status", "config-changed"]),
    )
    def a_foreign_write_follows_a_generated_value(self, data: st.DataObject, kind: str, hook: str):
        """The leader's get() hands out a generated value; then another key is written.

        On a leader on the new revision; or on one just elected that has not run a hook
        yet; or, with no other unit on the new revision, in the old leader's upgrade-charm.
        """
        self.notes += 1
        text = f"note-{self.notes}"

        def write(charm: AdoptingCharm):
            charm.read()
            relation = charm.model.get_relation("cluster")
            assert relation is not None
            if kind == "raw":  # another library, or the charm's bookkeeping
                relation.data[charm.app]["bookkeeping"] = text
            else:
                LeaderConfig(charm, "cluster", Note, prefix="x-").update(text=text)

        if self.runs_new(self.leader()):
            record = self.cluster.run(self.leader(), hook, prepare=write)
        elif staying_new(self):
            self.cluster.elect(data.draw(st.sampled_from(staying_new(self))), run_hook=False)
            record = self.cluster.run(self.leader(), hook, prepare=write)
        else:
            self.refreshed = True
            self.cluster.refresh(self.new_charm)
            record = self.cluster.upgrade(self.leader(), self.new_charm, prepare=write)
        if not record.failed:
            key, value = ("bookkeeping", text) if kind == "raw" else ("x-text", json.dumps(text))
            self.foreign[key] = value

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
        # Removals finish (planned units that have not joined go); the rest of the rolling
        # upgrade, in random order, with hooks delivered in between.
        for unit in self.cluster.dying + self.cluster.planned:
            self.cluster.remove_unit(unit)
        while self.old_units:
            self.upgrade(self.random.choice(self.old_units), self.random.random() < 0.5)
            self.deliver_some(
                [self.random.random() < 0.2 for _ in range(self.random.randrange(4))]
            )
        self.settle_and_check()
        assert self.due == {}, f"legacy values changed after the adoption are lost: {self.due}"
        data = self.cluster.app_data
        (expected,) = self.new_statuses()
        for unit in self.cluster.units:
            status = self.cluster.state(unit).unit_status
            assert f"{status.name}: {status.message}" == expected
        assert LEGACY_SECRET_ID not in data, "the legacy keys were not retired"
        if self.prefix:
            assert "salt" not in data
            assert "log_level" not in data
        assert {s.id for s in self.cluster.secrets} == {self.legacy_id}
        assert json.loads(data[self.key(SECRET_ID_KEY)]) == self.legacy_id
        ADOPTION_COUNTS.sequences += 1
        ADOPTION_COUNTS.goal_state += self.cluster.goal_state_calls


def staying_new(machine: AdoptionSequences) -> list[int]:
    """The units on the new revision that are not being removed."""
    return [unit for unit in staying(machine.cluster) if machine.runs_new(unit)]


def staying_old(machine: AdoptionSequences) -> list[int]:
    """The units on the old revision that are not being removed."""
    return [unit for unit in staying(machine.cluster) if not machine.runs_new(unit)]


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
            f" {counts.goal_state} goal-state calls,"
            f" {time.monotonic() - start:.1f} s"
        )


def test_generated_cluster_sequences_keep_the_invariants(capsys: pytest.CaptureFixture[str]):
    _run(ClusterSequences, SEQUENCE_COUNTS, "sequences", capsys)


def test_generated_rolling_upgrades_adopt_legacy_data_and_regenerate_nothing(
    capsys: pytest.CaptureFixture[str],
):
    _run(AdoptionSequences, ADOPTION_COUNTS, "adoption", capsys)
