"""A simulated Juju application: N units of one charm, run one hook at a time.

`ops.testing` runs one unit and one hook. `Cluster` keeps what Juju keeps between
hooks and shares what Juju shares between units, so that tests can drive a whole
application through deployments, leadership changes, failures and scale-downs:

- the peer relation's application databag is one dictionary for the whole
  application: the leader's committed writes reach every unit;
- each unit's own databag reaches the other units as their `peers_data`;
- each unit keeps its own stored state (`State.stored_states`), deferred events
  (`State.deferred`) and unit status;
- a committed change to a databag queues a `relation-changed` for every other
  unit of the relation, naming the writer as the remote unit (queued events
  for the same remote unit coalesce, as Juju's do); the test delivers
  them when it chooses and in any order (`deliver`, `settle`);
- a hook that raises (`testing.errors.UncaughtCharmError`) or that the test marks
  as failed commits nothing: not its relation data, not its stored state; Juju
  retries a failed `relation-changed`, so that one stays queued (`settle` raises
  `ClusterError` once a unit's hooks fail 20 times in a row, rather than loop);
- leadership moves with `elect`; units join with `add_unit` and leave with
  `remove_unit`. A unit can also be only planned (`add_unit(join=False)`): Juju
  counts it in goal-state, but it runs no hook and no other unit sees it until
  `join_unit`, or it is removed before it ever joined. `begin_removal` marks a unit
  as dying (no longer planned) while it stays in the relation and runs hooks,
  as in a `remove-unit` that has not finished;
- the planned units: `State.planned_units` counts the units that are not dying,
  and during each hook `ops.hookcmds.goal_state()` (ops 3.x) stands in for the
  `goal-state` hook tool, naming each unit with its status (``dying``,
  ``waiting`` until it starts, ``active`` after);
- app-owned secrets: the leader's committed `State.secrets` are the latest
  revisions every unit reads with a refresh; each unit tracks the revision it
  last saw (the latest when it first read the secret, or made it), which is what
  `get_content()` without a refresh returns to it, as since Juju 3.1.

Juju refuses a non-leader's write to the application databag; `Cluster` raises
`ClusterError` if a follower's hook commits one, so that no test can miss it.

Every hook is recorded as a `HookRecord` (unit, hook, the `changed` events the
library emitted, status, failure) in `Cluster.log`, and passed to the optional
`on_hook` callback, for example to print a timeline::

    cluster = Cluster(MyCharm, META, on_hook=print)
    cluster.deploy(3)
    cluster.configure({"log-level": "debug"})
    cluster.settle()
    assert cluster.changed_events(2)[-1] == {"log_level"}
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import importlib
import random
import types
import typing
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any, Generic, TypeVar

import ops
from ops import testing

from charms.leader_config.v0.leader_config import LeaderConfigChangedEvent

CharmT = TypeVar("CharmT", bound=ops.CharmBase)

JUJU_UNIT_KEYS = ("egress-subnets", "ingress-address", "private-address")
"""The keys Juju itself writes to every unit databag; they are not JSON."""


_MAX_FAILURES_IN_A_ROW = 20
_GOAL_SINCE = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def _hookcmds() -> types.ModuleType | None:
    """`ops.hookcmds` (ops 3.x), whose `goal_state()` the simulation stands in for."""
    try:
        return importlib.import_module("ops.hookcmds")
    except ImportError:  # ops 2.x
        return None


HOOKCMDS = _hookcmds()
"""`ops.hookcmds` where this ops has it (3.x), else None."""


def _secret_key(secret_id: str) -> str:
    """The unique part of a secret URI (`secret:x`, `secret://model/x`)."""
    return secret_id.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class ClusterError(Exception):
    """A hook did something Juju would refuse, or the test asked for the impossible."""


@dataclasses.dataclass(frozen=True)
class HookRecord:
    """What one hook did on one unit.

    Attributes:
        unit: the unit's number.
        hook: the hook's name, with the remote unit for relation hooks, for
            example ``"cluster-relation-changed(0)"``.
        changed: the `changed` field names of each `LeaderConfigChangedEvent`
            emitted during the hook (re-emitted deferred events not included;
            for a hook that raised, scenario 7 reports none).
        status: the unit's status after the hook, as ``"name: message"``.
        failed: whether the hook failed, so that nothing it did was committed.
        error: the exception that failed the hook, if it raised one.
    """

    unit: int
    hook: str
    changed: tuple[frozenset[str], ...]
    status: str
    failed: bool = False
    error: BaseException | None = None

    def __str__(self) -> str:
        events = ", ".join("{" + ", ".join(sorted(c)) + "}" for c in self.changed) or "-"
        outcome = f"FAILED ({type(self.error).__name__})" if self.failed else "ok"
        return f"unit/{self.unit} {self.hook}: changed {events}; {self.status}; {outcome}"


@dataclasses.dataclass
class _Unit:
    number: int
    data: dict[str, str]
    stored_states: frozenset[testing.StoredState] = frozenset()
    deferred: tuple[testing.DeferredEvent, ...] = ()
    status: Any = None
    in_relation: bool = False
    peers: set[int] = dataclasses.field(default_factory=lambda: set[int]())
    # Queued hooks, in order, as (hook, remote unit); a dict keeps them unique.
    pending: dict[tuple[str, int | None], None] = dataclasses.field(
        default_factory=lambda: dict[tuple[str, int | None], None]()
    )
    changed: list[frozenset[str]] = dataclasses.field(
        default_factory=lambda: list[frozenset[str]]()
    )
    charm_type: type[ops.CharmBase] | None = None  # after `upgrade`, the revision it runs
    dying: bool = False  # being removed: Juju no longer counts it in the planned units
    started: bool = False  # ran its first hook; until then it is only planned
    # The content of the revision of each secret the unit tracks, by secret id.
    tracked: dict[str, dict[str, str]] = dataclasses.field(
        default_factory=lambda: dict[str, dict[str, str]]()
    )


class Cluster(Generic[CharmT]):
    """N units of one charm sharing a peer relation, driven one hook at a time.

    Args:
        charm_type: the charm class every unit runs.
        meta: the charm's metadata (`charmcraft.yaml` content will do).
        config: the application config (option values); defaults from
            `config_meta` apply to options not given.
        config_meta: the `config` section of the charm's metadata (with its
            `options`), if any.
        actions: the `actions` section of the charm's metadata, if any.
        relation: the peer endpoint.
        relation_id: the peer relation's id.
        app_data: what the application databag holds before the first hook.
        on_hook: called with each `HookRecord` once the hook's outcome is
            committed (or discarded), so that it sees the cluster after the hook.
    """

    def __init__(
        self,
        charm_type: type[CharmT],
        meta: Mapping[str, Any],
        *,
        config: Mapping[str, str | int | float | bool] | None = None,
        config_meta: Mapping[str, Any] | None = None,
        actions: Mapping[str, Any] | None = None,
        relation: str = "cluster",
        relation_id: int = 1,
        app_data: Mapping[str, str] | None = None,
        on_hook: Callable[[HookRecord], None] | None = None,
    ):
        self._charm_type = charm_type
        self._meta = dict(meta)
        self._config_meta = dict(config_meta) if config_meta is not None else None
        self._actions = dict(actions) if actions is not None else None
        self._endpoint = relation
        self._relation_id = relation_id
        self._on_hook = on_hook
        self.config: dict[str, str | int | float | bool] = dict(config or {})
        self._app_data: dict[str, str] = dict(app_data or {})
        # Hook for app-owned secrets: the leader's committed `State.secrets`,
        # given to every unit (units of the owning app read them without a grant).
        self._secrets: frozenset[testing.Secret] = frozenset()
        self._units: dict[int, _Unit] = {}
        self._next_unit = 0
        self.leader: int | None = None
        self.log: list[HookRecord] = []
        self.goal_state_calls = 0  # calls to the `goal-state` stand-in

    # What the test reads

    @property
    def units(self) -> list[int]:
        """The numbers of the units that have started (dying ones included), in order."""
        return sorted(n for n, member in self._units.items() if member.started)

    @property
    def planned(self) -> list[int]:
        """The units added but not started yet: Juju plans them; no other unit sees them."""
        return sorted(n for n, member in self._units.items() if not member.started)

    @property
    def dying(self) -> list[int]:
        """The units being removed: still in the relation, no longer planned."""
        return sorted(n for n, member in self._units.items() if member.dying)

    def peers(self, unit: int) -> set[int]:
        """The other units that `unit`'s peer relation holds (it saw them join)."""
        return set(self._unit(unit).peers)

    def goal_state(self) -> dict[str, str]:
        """What `goal-state` says of each unit, by unit name: its status."""
        app = self._meta["name"]
        return {
            f"{app}/{n}": "dying" if member.dying else "active" if member.started else "waiting"
            for n, member in sorted(self._units.items())
        }

    @property
    def app_data(self) -> dict[str, str]:
        """A copy of the committed application databag of the peer relation."""
        return dict(self._app_data)

    @property
    def secrets(self) -> frozenset[testing.Secret]:
        """The app-owned secrets the leader has committed, as every unit sees them."""
        return self._secrets

    def unit_data(self, unit: int) -> dict[str, str]:
        """A copy of `unit`'s committed databag in the peer relation."""
        return dict(self._unit(unit).data)

    def changed_events(self, unit: int) -> list[frozenset[str]]:
        """The `changed` field names of each changed event of `unit`'s committed hooks."""
        return list(self._unit(unit).changed)

    def deferred(self, unit: int) -> tuple[testing.DeferredEvent, ...]:
        """The events `unit` has deferred, as its next hook will see them."""
        return self._unit(unit).deferred

    def pending(self, unit: int) -> list[str]:
        """The hooks queued for `unit`, in delivery order, named as in `HookRecord.hook`."""
        return [self._label(hook, remote) for hook, remote in self._unit(unit).pending]

    def has_pending(self) -> bool:
        """Whether any unit has a queued hook."""
        return any(u.pending for u in self._units.values())

    def state(self, unit: int) -> testing.State:
        """The state `unit`'s next hook starts from."""
        return self._state_of(self._unit(unit))

    # Running hooks

    def run(
        self,
        unit: int,
        hook: str,
        *,
        remote: int | None = None,
        params: Mapping[str, Any] | None = None,
        prepare: Callable[[CharmT], None] | None = None,
        fail: bool = False,
    ) -> HookRecord:
        """Run one hook on `unit` and commit what it did, unless it failed.

        Args:
            unit: the unit's number.
            hook: ``install``, ``start``, ``stop``, ``remove``, ``config-changed``,
                ``leader-elected``, ``update-status``, ``upgrade-charm``,
                ``relation-created``, ``relation-joined``, ``relation-changed``,
                ``relation-departed`` (of the peer relation) or an action as
                ``<name>-action``.
            remote: the remote unit of a ``relation-joined``, ``-changed`` or
                ``-departed`` hook.
            params: the parameters of an action.
            prepare: called with the charm before the event is emitted, inside
                the hook (for example to call the library directly); if it
                raises, the hook fails and the exception propagates.
            fail: make the hook fail after its handlers ran, as a charm that
                raises at the end would: nothing it did is committed.

        Returns:
            The record of the hook, also appended to `log`. A failed action
            (`event.fail()`) is a successful hook.

        Raises:
            ClusterError: if a non-leader committed a change to the application
                databag, or the hook needs a relation the unit does not have.
        """
        member = self._unit(unit)
        state = self._state_of(member)
        # An upgraded unit runs another class; `prepare` then gets an instance of it.
        charm_type = typing.cast("type[CharmT]", member.charm_type or self._charm_type)
        ctx = testing.Context(
            charm_type,
            meta=self._meta,
            config=self._config_meta,
            actions=self._actions,
            unit_id=unit,
        )
        label = self._label(hook, remote)
        event = self._event(ctx, state, hook, remote, params)
        out: testing.State | None = None
        error: BaseException | None = None
        reads: list[tuple[str | None, str | None]] = []
        try:
            with self._hook_tools(reads):
                if prepare is None:
                    out = ctx.run(event, state)
                else:
                    with ctx(event, state) as mgr:
                        prepare(mgr.charm)
                        out = mgr.run()
        except testing.ActionFailed as e:
            # A failed action is a hook that exits 0: Juju commits what it did.
            if isinstance(e.state, testing.State):
                out = e.state
            else:
                error = e
        except testing.errors.UncaughtCharmError as e:
            error = e
        except BaseException as e:
            self._publish(self._record(unit, label, ctx, None, error=e))
            raise
        if fail and out is not None:
            out, error = None, ClusterError(f"hook {label} on unit/{unit} failed on purpose")
        record = self._record(unit, label, ctx, out, error=error)
        if out is not None:
            self._commit(member, state, out)
            self._track(member, state, out, reads)
            member.changed.extend(record.changed)
        self._publish(record)
        return record

    def deliver(
        self,
        unit: int,
        *,
        prepare: Callable[[CharmT], None] | None = None,
        fail: bool = False,
    ) -> HookRecord | None:
        """Run the first hook queued for `unit` (a failed one stays queued).

        Args:
            unit: the unit's number.
            prepare: called with the charm before the event is emitted (see `run`).
            fail: make the hook fail (see `run`).

        Returns:
            The record of the hook; None if a queued relation-changed was dropped
            because no other unit is left to name as its remote unit.

        Raises:
            ClusterError: if nothing is queued for `unit`.
        """
        member = self._unit(unit)
        if not member.pending:
            raise ClusterError(f"nothing is queued for unit/{unit}")
        queued = next(iter(member.pending))
        hook, remote = queued
        if remote is not None and remote not in member.peers:
            # The unit that made the change has left or has not joined yet: Juju
            # names another member; with none left, nothing is delivered.
            if not member.peers:
                del member.pending[queued]
                return None
            remote = min(member.peers)
        record = self.run(unit, hook, remote=remote, prepare=prepare, fail=fail)
        if not record.failed:
            del member.pending[queued]
        return record

    def settle(self, order: random.Random | Iterable[int] | None = None) -> None:
        """Deliver queued hooks until none is left.

        Args:
            order: the order in which units get their queued hooks: a sequence
                of unit numbers (repeated as needed, then unit order), a
                `random.Random` to pick units at random, or None for unit order.
        """
        preferred = (
            list(order) if order is not None and not isinstance(order, random.Random) else []
        )
        failures_in_a_row: dict[int, int] = {}
        while self.has_pending():
            waiting = [u for u in self.units if self._units[u].pending]
            if isinstance(order, random.Random):
                unit = order.choice(waiting)
            else:
                unit = next((u for u in preferred if u in waiting), waiting[0])
                if unit in preferred:
                    preferred.remove(unit)
            record = self.deliver(unit)
            if record is None or not record.failed:
                failures_in_a_row[unit] = 0
                continue
            failures_in_a_row[unit] = failures_in_a_row.get(unit, 0) + 1
            # Juju would retry such a hook forever; a test had better fail, and say why.
            if failures_in_a_row[unit] == _MAX_FAILURES_IN_A_ROW:
                raise ClusterError(
                    f"{record.hook} on unit/{unit} failed {_MAX_FAILURES_IN_A_ROW} times in a row"
                ) from record.error

    # The application's life

    def deploy(self, count: int, *, leader: int = 0) -> list[int]:
        """Deploy `count` units in the order Juju uses, and settle.

        Each unit runs install, the peer relation-created, leader-elected (on
        the leader only), config-changed and start, the leader first; then each
        unit runs relation-joined, followed by relation-changed, for every other.

        Args:
            count: the number of units.
            leader: the unit that holds leadership from the start.

        Returns:
            The numbers of the new units.
        """
        if self._units:
            raise ClusterError("deploy() starts an application; use add_unit() to scale up")
        new = [self._new_unit() for _ in range(count)]
        if leader not in new:
            raise ClusterError(f"unit/{leader} is not one of {new}")
        self.leader = leader
        for unit in sorted(new, key=lambda u: u != leader):
            self._start(unit)
        for unit in new:
            for other in new:
                if other != unit:
                    self._join(unit, other)
        self.settle()
        return new

    def add_unit(self, *, join: bool = True) -> int:
        """Add a unit: it starts, then it and every other unit see each other join.

        Queued hooks are not delivered; call `settle`.

        Args:
            join: start the unit and join it now; otherwise it is only planned:
                counted in goal-state, running no hook, seen by no other unit
                until `join_unit` (or gone with `remove_unit`).

        Returns:
            The new unit's number (numbers are never reused, as in Juju).
        """
        unit = self._new_unit()
        if join:
            self.join_unit(unit)
        return unit

    def join_unit(self, unit: int) -> None:
        """Start a planned unit: it and every other unit see each other join.

        Raises:
            ClusterError: if the unit has started already.
        """
        if self._unit(unit).started:
            raise ClusterError(f"unit/{unit} has joined already")
        others = self.units
        if self.leader is None:
            self.leader = unit
        self._start(unit)
        for other in others:
            self._join(other, unit)
            self._join(unit, other)

    def begin_removal(self, unit: int) -> None:
        """Start removing `unit` (`juju remove-unit`): Juju no longer plans it.

        It stays in the relation and runs hooks until `remove_unit` finishes it.
        """
        member = self._unit(unit)
        if not member.started:
            raise ClusterError(f"unit/{unit} has not started: remove it with remove_unit")
        member.dying = True

    def remove_unit(self, unit: int, *, new_leader: int | None = None) -> None:
        """Remove `unit`: the others see it depart; it departs, stops and goes.

        A unit that is only planned goes without a hook: no unit ever saw it.

        Args:
            unit: the unit to remove.
            new_leader: who is elected if `unit` was the leader (default: the
                lowest remaining unit that is not dying).
        """
        member = self._unit(unit)
        if not member.started:
            del self._units[unit]
            return
        member.dying = True
        for other in self.units:
            if other != unit and unit in self._units[other].peers:
                self._units[other].peers.discard(unit)
                self.run(other, "relation-departed", remote=unit)
        for other in sorted(member.peers):
            member.peers.discard(other)
            self.run(unit, "relation-departed", remote=other)
        self.run(unit, "stop")
        self.run(unit, "remove")
        del self._units[unit]
        if self.leader == unit:
            self.leader = None
            candidates = [u for u in self.units if not self._units[u].dying] or self.units
            if candidates:
                self.elect(new_leader if new_leader is not None else min(candidates))

    def upgrade(
        self,
        unit: int,
        charm_type: type[ops.CharmBase],
        *,
        prepare: Callable[[CharmT], None] | None = None,
    ) -> HookRecord:
        """Upgrade `unit` to another revision of the charm and run upgrade-charm on it.

        Units upgrade one at a time, as in a rolling upgrade: until each is
        upgraded, it keeps running the revision it had.

        Args:
            unit: the unit's number.
            charm_type: the revision it runs from now on.
            prepare: called with the charm before upgrade-charm is emitted (see `run`).

        Returns:
            The record of the upgrade-charm hook.
        """
        self._unit(unit).charm_type = charm_type
        return self.run(unit, "upgrade-charm", prepare=prepare)

    def elect(self, unit: int, *, run_hook: bool = True) -> HookRecord | None:
        """Move leadership to `unit`.

        Args:
            unit: the new leader.
            run_hook: run leader-elected on it now; otherwise it is queued, and
                the unit already holds leadership in any hook it runs before.

        Returns:
            The record of the leader-elected hook, if it ran.
        """
        if not self._unit(unit).started:
            raise ClusterError(f"unit/{unit} has not joined: it cannot lead")
        self.leader = unit
        if run_hook:
            return self.run(unit, "leader-elected")
        self._unit(unit).pending["leader-elected", None] = None
        return None

    def configure(
        self, options: Mapping[str, str | int | float | bool], *, order: Iterable[int] = ()
    ) -> None:
        """Change the application config and run config-changed on every unit.

        Args:
            options: the changed option values.
            order: the units to run config-changed on first.
        """
        self.config.update(options)
        first = list(order)
        for unit in first + [u for u in self.units if u not in first]:
            self.run(unit, "config-changed")

    # Internals

    def _unit(self, unit: int) -> _Unit:
        try:
            return self._units[unit]
        except KeyError:
            raise ClusterError(f"there is no unit/{unit}") from None

    def _new_unit(self) -> int:
        number = self._next_unit
        self._next_unit += 1
        address = f"10.1.0.{number + 10}"
        self._units[number] = _Unit(number, data=dict.fromkeys(JUJU_UNIT_KEYS, address))
        return number

    def _start(self, unit: int) -> None:
        self._units[unit].started = True
        self.run(unit, "install")
        self._units[unit].in_relation = True
        self.run(unit, "relation-created")
        if self.leader == unit:
            self.run(unit, "leader-elected")
        self.run(unit, "config-changed")
        self.run(unit, "start")

    def _join(self, unit: int, remote: int) -> None:
        # Juju follows relation-joined with relation-changed for the same unit.
        self._units[unit].peers.add(remote)
        self.run(unit, "relation-joined", remote=remote)
        self.run(unit, "relation-changed", remote=remote)

    def _label(self, hook: str, remote: int | None) -> str:
        return hook if remote is None else f"{self._endpoint}-{hook}({remote})"

    def _relation(self, member: _Unit) -> testing.PeerRelation:
        return testing.PeerRelation(
            self._endpoint,
            id=self._relation_id,
            local_app_data=dict(self._app_data),
            local_unit_data=dict(member.data),
            peers_data={peer: dict(self._units[peer].data) for peer in sorted(member.peers)},
        )

    def _state_of(self, member: _Unit) -> testing.State:
        relations = {self._relation(member)} if member.in_relation else set[testing.PeerRelation]()
        state = testing.State(
            leader=self.leader == member.number,
            config=self.config,
            relations=relations,
            secrets=frozenset(self._as_tracked(secret, member) for secret in self._secrets),
            stored_states=member.stored_states,
            deferred=member.deferred,
            planned_units=sum(not unit.dying for unit in self._units.values()),
        )
        if member.status is None:  # scenario 7 refuses unit_status=None
            return state
        return dataclasses.replace(state, unit_status=member.status)

    @staticmethod
    def _as_tracked(secret: testing.Secret, member: _Unit) -> testing.Secret:
        """`secret` as `member` sees it: the revision it tracks, or the latest one."""
        latest = dict(secret.latest_content or secret.tracked_content)
        tracked = member.tracked.get(secret.id, latest)
        return dataclasses.replace(secret, tracked_content=tracked, latest_content=latest)

    def _track(
        self,
        member: _Unit,
        before: testing.State,
        out: testing.State,
        reads: list[tuple[str | None, str | None]],
    ) -> None:
        """After a committed hook: the revisions `member` tracks, as the hook left them.

        A unit starts tracking a secret when it first reads it (or makes it); a
        refresh moves it to the latest revision.
        """
        known = {secret.id for secret in before.secrets}
        read_ids = {_secret_key(secret_id) for secret_id, _ in reads if secret_id}
        read_labels = {label for secret_id, label in reads if label and not secret_id}
        tracked: dict[str, dict[str, str]] = {}
        for secret in out.secrets:
            if (
                secret.id in member.tracked
                or secret.id not in known
                or _secret_key(secret.id) in read_ids
                or (secret.label is not None and secret.label in read_labels)
            ):
                tracked[secret.id] = dict(secret.tracked_content)
        member.tracked = tracked

    @contextlib.contextmanager
    def _hook_tools(
        self, reads: list[tuple[str | None, str | None]]
    ) -> Generator[None, None, None]:
        """During a hook: `goal-state` answers from the cluster; secret reads are noted."""
        get_secret = ops.Model.get_secret

        def noting_get_secret(
            model: ops.Model, *, id: str | None = None, label: str | None = None
        ) -> ops.Secret:
            secret = get_secret(model, id=id, label=label)
            reads.append((id, label))  # read, so tracked from now on
            return secret

        setattr(ops.Model, "get_secret", noting_get_secret)  # noqa: B010
        hookcmds = HOOKCMDS
        real_goal_state = None if hookcmds is None else hookcmds.goal_state
        if hookcmds is not None:
            setattr(hookcmds, "goal_state", lambda: self._goal_state(hookcmds))  # noqa: B010
        try:
            yield
        finally:
            setattr(ops.Model, "get_secret", get_secret)  # noqa: B010
            if hookcmds is not None:
                setattr(hookcmds, "goal_state", real_goal_state)  # noqa: B010

    def _goal_state(self, hookcmds: types.ModuleType) -> Any:
        """What the `goal-state` hook tool would say: an `ops.hookcmds.GoalState`."""
        self.goal_state_calls += 1
        goals = {
            name: hookcmds.Goal(status=status, since=_GOAL_SINCE)
            for name, status in self.goal_state().items()
        }
        return hookcmds.GoalState(units=goals, relations={})

    def _event(
        self,
        ctx: testing.Context[CharmT],
        state: testing.State,
        hook: str,
        remote: int | None,
        params: Mapping[str, Any] | None,
    ):
        if hook.endswith("-action"):
            return ctx.on.action(hook.removesuffix("-action"), params=params)
        if hook.startswith("relation-"):
            relations = state.get_relations(self._endpoint)
            if not relations:
                raise ClusterError(f"{hook}: there is no {self._endpoint!r} relation yet")
            (relation,) = relations
            if hook == "relation-created":
                return ctx.on.relation_created(relation)
            if hook == "relation-joined":
                return ctx.on.relation_joined(relation, remote_unit=remote)
            if hook == "relation-changed":
                return ctx.on.relation_changed(relation, remote_unit=remote)
            if hook == "relation-departed":
                return ctx.on.relation_departed(
                    relation, remote_unit=remote, departing_unit=remote
                )
        simple = {
            "install": ctx.on.install,
            "start": ctx.on.start,
            "stop": ctx.on.stop,
            "remove": ctx.on.remove,
            "config-changed": ctx.on.config_changed,
            "leader-elected": ctx.on.leader_elected,
            "update-status": ctx.on.update_status,
            "upgrade-charm": ctx.on.upgrade_charm,
        }
        if hook not in simple:
            raise ClusterError(f"unknown hook {hook!r}")
        return simple[hook]()

    def _record(
        self,
        unit: int,
        hook: str,
        ctx: testing.Context[CharmT],
        out: testing.State | None,
        *,
        error: BaseException | None,
    ) -> HookRecord:
        status = out.unit_status if out is not None else self._units[unit].status
        record = HookRecord(
            unit=unit,
            hook=hook,
            changed=tuple(
                e.changed for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)
            ),
            status=f"{status.name}: {status.message}" if status is not None else "unknown: ",
            failed=out is None,
            error=error,
        )
        return record

    def _publish(self, record: HookRecord) -> None:
        self.log.append(record)
        if self._on_hook is not None:
            self._on_hook(record)

    def _commit(self, member: _Unit, before: testing.State, out: testing.State) -> None:
        member.stored_states = frozenset(out.stored_states)
        member.deferred = tuple(out.deferred)
        member.status = out.unit_status
        relations = out.get_relations(self._endpoint)
        if not relations:
            return
        (relation,) = relations
        if not isinstance(relation, testing.PeerRelation):
            raise ClusterError(f"{self._endpoint!r} is not a peer relation")
        app_changed = dict(relation.local_app_data) != self._app_data
        unit_changed = dict(relation.local_unit_data) != member.data
        if app_changed and not before.leader:
            raise ClusterError(
                f"unit/{member.number} is not the leader but changed the application databag"
            )
        if member.number == self.leader:
            self._secrets = frozenset(out.secrets)
        self._app_data = dict(relation.local_app_data)
        member.data = dict(relation.local_unit_data)
        for other in self._units.values():
            if other is member or not other.in_relation:
                continue
            if app_changed or (unit_changed and member.number in other.peers):
                other.pending["relation-changed", member.number] = None
