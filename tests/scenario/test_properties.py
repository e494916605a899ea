"""Generated sequences of cluster operations keep the library's promises.

A hypothesis state machine drives a simulated cluster (`cluster.Cluster`) through
random leader writes (no-op writes included), deliveries of queued hooks to random
units, leadership moves, deferrals of the changed event, units joining and
leaving, failed hooks and writes from non-leaders. After every hook and step,
and once everything queued is delivered at the end, it checks:

1. once everything queued is delivered, every unit's `get()` equals what the
   current leader published, and the last changed event each unit handled saw it;
2. a unit gets a changed event exactly when its view changed, naming exactly the
   fields that differ from the view it last got an event for;
3. a non-leader write raises `NotLeaderError` and changes nothing; keys that are
   not the library's own, in the app databag and in unit databags, never change;
4. secret values (the `token` secret field, rotated at random) never appear in
   relation data, log records, stored state or deferred events.

The default run is bounded for `tox`; ``LEADER_CONFIG_PROFILE=soak`` (``tox -e
soak``) runs thousands of sequences and reports how many ran.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any, Literal

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

from charms.leader_config.v0.leader_config import (
    LeaderConfig,
    LeaderConfigChangedEvent,
    NotLeaderError,
)
from cluster import Cluster, HookRecord


class Settings(pydantic.BaseModel):
    level: Literal["debug", "info", "warning"] = "info"
    replicas: int = 1
    tags: set[str] = set()
    limits: dict[str, int] = {}
    token: pydantic.SecretStr | None = None


FIELDS = frozenset(Settings.model_fields)
SECRET_ID_KEY = "secret-id"
REVISION_KEY = "leader-config-revision"
META: dict[str, Any] = {"name": "prop", "peers": {"cluster": {"interface": "prop_cluster"}}}
FOREIGN_APP_DATA = {"other-lib": "not json", "x-level": '"debug"', "level-x": "7"}
# Hooks in which the library brings a unit's view up to date (see the module docstring).
NOTICING_HOOKS = ("relation-created", "relation-changed", "leader-elected", "upgrade-charm")

Write = Callable[["SequenceCharm"], None]


class SequenceCharm(ops.CharmBase):
    """Handles the changed event (or defers it) and runs a write the test hands it.

    The test sets `write`, `crash` and `hold` on the charm before the event; the
    status shows the config the charm last handled a changed event for.
    """

    write: Write | None = None
    crash = False
    hold = False

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Settings)
        framework.observe(self.shared.on.changed, self._on_changed)
        framework.observe(self.on.update_status, self._on_update_status)

    def _on_changed(self, event: LeaderConfigChangedEvent):
        if self.hold:
            event.defer()
            return
        config = self.shared.get()
        self.unit.status = ops.ActiveStatus(canonical(config) if config else "none")

    def _on_update_status(self, _: ops.UpdateStatusEvent):
        if self.write is not None:
            self.write(self)
        if self.crash:
            raise RuntimeError("the hook fails after the write")


def canonical(config: Settings) -> str:
    return json.dumps(
        {**config.model_dump(mode="json"), "tags": sorted(config.tags)}, sort_keys=True
    )


def seen(config: Settings) -> ops.ActiveStatus:
    return ops.ActiveStatus(canonical(config))


def decode(app_data: dict[str, str], secrets: frozenset[Any]) -> Settings | None:
    """An independent reading of the library's wire format: one JSON value per field.

    A secret field's key holds null, or a marker: the value is then in the secret
    whose id the databag holds.
    """
    own = {key: json.loads(value) for key, value in app_data.items() if key in FIELDS}
    if own.get("token") is not None:
        secret_id = json.loads(app_data[SECRET_ID_KEY])
        (secret,) = [s for s in secrets if s.id == secret_id]
        own["token"] = secret.latest_content["token"]
    return Settings.model_validate(own) if own else None


class LogRecords(logging.Handler):
    """Every log record's message, from ops, the library and the charm."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


LOG = LogRecords()


def difference(before: Settings | None, after: Settings | None) -> frozenset[str]:
    if before is None or after is None:
        return frozenset() if before == after else FIELDS
    return frozenset(f for f in FIELDS if getattr(before, f) != getattr(after, f))


levels = st.sampled_from(["debug", "info", "warning"])
names = st.text(alphabet="abcxyz-", min_size=1, max_size=4)
values = st.fixed_dictionaries(
    {},
    optional={
        "level": levels,
        "replicas": st.integers(min_value=0, max_value=3),
        "tags": st.sets(names, max_size=3),
        "limits": st.dictionaries(names, st.integers(-2, 2), max_size=3),
        "token": st.one_of(
            st.none(),
            st.text(alphabet="klmnop", min_size=6, max_size=6).map(
                lambda s: pydantic.SecretStr(f"tok-{s}")
            ),
        ),
    },
)


class Counts:
    sequences = 0
    steps = 0
    hooks = 0
    failed_hooks = 0
    events = 0


class ClusterSequences(RuleBasedStateMachine):
    """Random operations on a simulated cluster, checked against a model."""

    def __init__(self):
        super().__init__()
        self.cluster = Cluster(
            SequenceCharm, META, app_data=FOREIGN_APP_DATA, on_hook=self.check_hook
        )
        self.published: Settings | None = None
        self.notified: dict[int, Settings | None] = {}
        self.unit_data: dict[int, dict[str, str]] = {}
        self.writing = False
        self.secret_values: set[str] = set()
        self.logged = len(LOG.messages)

    # Invariant 2, on every hook

    def check_hook(self, record: HookRecord) -> None:
        Counts.hooks += 1
        Counts.failed_hooks += record.failed
        Counts.events += len(record.changed)
        if record.failed or record.unit not in self.cluster.units:
            return
        assert len(record.changed) <= 1, record
        view = self.decode() if record.hook != "install" else None
        last = self.notified.get(record.unit)
        if record.changed:
            (changed,) = record.changed
            assert changed, f"an event for an unchanged view: {record}"
            assert changed == difference(last, view), record
            self.notified[record.unit] = view
        elif self.writing or any(hook in record.hook for hook in NOTICING_HOOKS):
            assert difference(last, view) == frozenset(), f"a change without an event: {record}"

    def decode(self) -> Settings | None:
        return decode(self.cluster.app_data, self.cluster.secrets)

    # Invariants 1, 3 and 4, after every step

    @invariant()
    def the_databag_holds_what_the_leader_published(self):
        Counts.steps += 1
        data = self.cluster.app_data
        assert self.decode() == self.published
        for key, value in FOREIGN_APP_DATA.items():
            assert data[key] == value
        assert set(data) <= set(FOREIGN_APP_DATA) | FIELDS | {SECRET_ID_KEY, REVISION_KEY}

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
    def unit_databags_are_never_touched(self):
        for unit in self.cluster.units:
            expected = self.unit_data.setdefault(unit, self.cluster.unit_data(unit))
            assert self.cluster.unit_data(unit) == expected

    @initialize(count=st.integers(1, 3))
    def deploy(self, count: int):
        self.cluster.deploy(count)
        self.published = Settings()

    # Steps

    @rule(
        changes=values,
        mode=st.sampled_from(["update", "set", "edit", "rewrite"]),
        crash=st.booleans(),
    )
    def leader_writes(self, changes: dict[str, Any], mode: str, crash: bool):
        leader = self.cluster.leader
        assert leader is not None
        before = self.published
        assert before is not None
        token = changes.get("token")
        if token is not None:
            self.secret_values.add(token.get_secret_value())

        def write(charm: SequenceCharm):
            if mode == "update":
                charm.shared.update(**changes)
            elif mode == "set":
                charm.shared.set(Settings(**changes))
            elif mode == "edit":
                with charm.shared.edit() as draft:
                    for name, value in changes.items():
                        setattr(draft, name, value)
            else:
                charm.shared.update(**before.model_dump())

        def prepare(charm: SequenceCharm):
            charm.write, charm.crash = write, crash

        pending_before = self.cluster.has_pending()
        self.writing = True
        try:
            record = self.cluster.run(leader, "update-status", prepare=prepare)
        finally:
            self.writing = False
        assert record.failed == crash
        if crash or mode == "rewrite":
            expected = before
        elif mode == "set":
            expected = Settings(**changes)
        else:
            expected = before.model_copy(update=changes)
        if expected == before:
            assert not self.cluster.has_pending() or pending_before
        assert self.decode() == expected
        self.published = expected

    @precondition(lambda self: len(self.cluster.units) > 1)
    @rule(data=st.data())
    def follower_write_is_refused(self, data: st.DataObject):
        followers = [u for u in self.cluster.units if u != self.cluster.leader]
        unit = data.draw(st.sampled_from(followers))
        before = self.cluster.app_data
        refused: list[NotLeaderError] = []

        def write(charm: SequenceCharm):
            with pytest.raises(NotLeaderError) as caught:
                charm.shared.update(level="warning", replicas=3)
            refused.append(caught.value)

        def prepare(charm: SequenceCharm):
            charm.write = write

        pending = {u: self.cluster.pending(u) for u in self.cluster.units}
        record = self.cluster.run(unit, "update-status", prepare=prepare)
        assert len(refused) == 1
        assert record.changed == ()
        assert self.cluster.app_data == before
        assert {u: self.cluster.pending(u) for u in self.cluster.units} == pending

    @precondition(lambda self: self.cluster.has_pending())
    @rule(data=st.data(), hold=st.booleans(), fail=st.booleans())
    def deliver(self, data: st.DataObject, hold: bool, fail: bool):
        waiting = [u for u in self.cluster.units if self.cluster.pending(u)]
        unit = data.draw(st.sampled_from(waiting))

        def prepare(charm: SequenceCharm):
            charm.hold = hold

        self.cluster.deliver(unit, prepare=prepare, fail=fail)

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
        assert self.cluster.changed_events(unit) == [FIELDS]

    @precondition(lambda self: len(self.cluster.units) > 1)
    @rule(data=st.data())
    def unit_leaves(self, data: st.DataObject):
        unit = data.draw(st.sampled_from(self.cluster.units))
        self.cluster.remove_unit(unit)
        self.notified.pop(unit, None)
        self.unit_data.pop(unit, None)

    @rule()
    def everything_is_delivered(self):
        self.settle_and_check()

    # Invariant 1

    def settle_and_check(self):
        self.cluster.settle()
        for unit in self.cluster.units:
            if self.cluster.deferred(unit):
                self.cluster.run(unit, "update-status")
        published = self.published
        assert published is not None
        for unit in self.cluster.units:
            views: list[Settings | None] = []

            def read(charm: SequenceCharm, views: list[Settings | None] = views):
                views.append(charm.shared.get())

            self.cluster.run(unit, "update-status", prepare=read)
            assert views == [published]
            assert self.notified[unit] == published
            assert self.cluster.deferred(unit) == ()
            assert self.cluster.state(unit).unit_status == seen(published)

    def teardown(self):
        self.settle_and_check()
        Counts.sequences += 1


PROFILES = {
    "unit": settings(
        max_examples=25,
        stateful_step_count=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    ),
    "soak": settings(
        max_examples=2000,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    ),
}
PROFILE = os.environ.get("LEADER_CONFIG_PROFILE", "unit")


def test_generated_cluster_sequences_keep_the_invariants(capsys: pytest.CaptureFixture[str]):
    start = time.monotonic()
    root = logging.getLogger()
    root.addHandler(LOG)
    try:
        run_state_machine_as_test(ClusterSequences, settings=PROFILES[PROFILE])
    finally:
        root.removeHandler(LOG)
    with capsys.disabled():
        print(
            f"\ncluster sequences ({PROFILE} profile): {Counts.sequences} sequences,"
            f" {Counts.steps} steps, {Counts.hooks} hooks ({Counts.failed_hooks} failed),"
            f" {Counts.events} changed events, {time.monotonic() - start:.1f} s"
        )
