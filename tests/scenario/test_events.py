"""Rules for the changed event: every unit, exactly when its view changes, names only."""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from typing import Any, Literal

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0.leader_config import LeaderConfig, LeaderConfigChangedEvent
from conftest import (
    META,
    Shared,
    SharedCharm,
    app_data,
    changed_events,
    counting_relation_sets,
    follower_state,
    make_context,
    peer,
    peer_of,
)

ALL_FIELDS = frozenset({"log_level", "members"})
PUBLISHED = {"log_level": '"info"', "members": "[]"}
FIRST_PUBLISHED = {**PUBLISHED, "leader-config-revision": "1"}  # what a new leader publishes


def _leader_publishes() -> testing.State:
    ctx = make_context()
    return ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations={peer()}))


def _relation_changed(ctx: testing.Context[Any], state: testing.State) -> testing.State:
    return ctx.run(ctx.on.relation_changed(peer_of(state), remote_unit=0), state)


def test_the_leader_publishes_the_complete_config_when_elected_and_emits_every_field():
    ctx = make_context()
    out = ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations={peer()}))
    assert app_data(out) == FIRST_PUBLISHED
    assert changed_events(ctx) == [ALL_FIELDS]
    assert out.unit_status == ops.ActiveStatus("log_level=info")


@pytest.mark.parametrize("hook", ["relation_created", "upgrade_charm", "relation_changed"])
def test_the_leader_publishes_in_the_first_hook_where_it_leads_with_a_peer_relation(hook: str):
    ctx = make_context()
    state = testing.State(leader=True, relations={peer()})
    relation = peer_of(state)
    events = {
        "relation_created": ctx.on.relation_created(relation),
        "relation_changed": ctx.on.relation_changed(relation, remote_unit=1),
        "upgrade_charm": ctx.on.upgrade_charm(),
    }
    out = ctx.run(events[hook], state)
    assert app_data(out) == FIRST_PUBLISHED
    assert changed_events(ctx) == [ALL_FIELDS]


class WritingCharm(SharedCharm):
    """Writes its own config in relation-created, as most charms do when they lead."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(self.on["cluster"].relation_created, self._on_created)

    def _on_created(self, _: ops.RelationCreatedEvent) -> None:
        self.shared.update(log_level="debug")


def test_a_charm_write_in_the_same_hook_publishes_everything_in_one_relation_set():
    ctx = testing.Context(WritingCharm, meta=META)
    state = testing.State(leader=True, relations={peer()})
    with (
        ctx(ctx.on.relation_created(peer_of(state)), state) as mgr,
        counting_relation_sets(mgr.charm) as sets,
    ):
        out = mgr.run()
    written = {"log_level": '"debug"', "members": "[]", "leader-config-revision": "1"}
    assert sets == [written]
    assert app_data(out) == written
    assert changed_events(ctx) == [ALL_FIELDS]


def test_a_follower_publishes_nothing():
    ctx = make_context(unit_id=1)
    state = testing.State(leader=False, relations={peer(peers=(0,))})
    out = ctx.run(ctx.on.relation_created(peer_of(state)), state)
    assert app_data(out) == {}
    assert changed_events(ctx) == []


def test_an_upgrade_that_adds_a_field_publishes_it_without_an_event_for_an_unchanged_view():
    ctx = make_context()
    first = ctx.run(
        ctx.on.leader_elected(),
        testing.State(leader=True, relations={peer({"log_level": '"debug"'})}),
    )
    relation = dataclasses.replace(peer_of(first), local_app_data={"log_level": '"debug"'})
    ctx = make_context()
    with ctx(ctx.on.upgrade_charm(), dataclasses.replace(first, relations={relation})) as mgr:
        out = mgr.run()
    # Publishing a default that units already read is no new revision.
    assert app_data(out) == {
        "log_level": '"debug"',
        "members": "[]",
        "leader-config-revision": "1",
    }
    assert changed_events(ctx) == []


def test_the_leader_emits_once_after_its_own_effective_write_naming_the_changed_field():
    published = _leader_publishes()
    ctx = make_context()
    with ctx(ctx.on.update_status(), published) as mgr:
        mgr.charm.shared.update(log_level="debug")
        mgr.charm.shared.update(log_level="debug")
        out = mgr.run()
    assert changed_events(ctx) == [frozenset({"log_level"})]
    assert out.unit_status == ops.ActiveStatus("log_level=debug")


def test_a_leader_that_writes_a_value_and_writes_it_back_in_one_hook_emits_nothing():
    published = _leader_publishes()
    ctx = make_context()
    with ctx(ctx.on.update_status(), published) as mgr:
        mgr.charm.shared.update(log_level="debug")
        mgr.charm.shared.update(log_level="info", members=["a"])
        mgr.charm.shared.update(members=[])
        out = mgr.run()
    assert app_data(out)["leader-config-revision"] == "4"
    assert changed_events(ctx) == []


def test_a_leader_names_only_the_fields_whose_value_differs_at_the_end_of_the_hook():
    published = _leader_publishes()
    ctx = make_context()
    with ctx(ctx.on.update_status(), published) as mgr:
        mgr.charm.shared.update(log_level="debug", members=["a"])
        mgr.charm.shared.update(log_level="info")
        mgr.run()
    assert changed_events(ctx) == [frozenset({"members"})]


def test_a_leader_relation_changed_for_its_own_write_emits_nothing_more():
    published = _leader_publishes()
    ctx = make_context()
    _relation_changed(ctx, published)
    assert changed_events(ctx) == []


def test_chain_leader_output_to_follower_gives_exactly_one_event_naming_the_changed_field():
    leader = make_context()
    with leader(leader.on.update_status(), _leader_publishes()) as mgr:
        mgr.charm.shared.update(members=["unit-0"])
        leader_out = mgr.run()
    follower = make_context(unit_id=1)
    seen = _relation_changed(follower, follower_state(_leader_publishes()))
    assert changed_events(follower) == [ALL_FIELDS]  # the follower's first view

    follower = make_context(unit_id=1)
    relation = dataclasses.replace(
        peer_of(seen), local_app_data=dict(peer_of(leader_out).local_app_data)
    )
    out = _relation_changed(follower, dataclasses.replace(seen, relations={relation}))
    assert changed_events(follower) == [frozenset({"members"})]
    assert out.unit_status == ops.ActiveStatus("log_level=info")

    follower = make_context(unit_id=1)
    _relation_changed(follower, out)
    assert changed_events(follower) == []


def _follower_hook(ctx: testing.Context[Any], relation: testing.PeerRelation, hook: str) -> Any:
    """The event of `hook` on a follower, the leader (unit 0) as the remote unit."""
    if hook in ("relation_joined", "relation_changed"):
        return getattr(ctx.on, hook)(relation, remote_unit=0)
    if hook == "relation_created":
        return ctx.on.relation_created(relation)
    return getattr(ctx.on, hook)()


@pytest.mark.parametrize("hook", ["relation_created", "relation_changed", "upgrade_charm"])
def test_a_follower_emits_in_the_first_hook_where_the_change_is_visible(hook: str):
    ctx = make_context(unit_id=1)
    state = follower_state(_leader_publishes())
    ctx.run(_follower_hook(ctx, peer_of(state), hook), state)
    assert changed_events(ctx) == [ALL_FIELDS]


@pytest.mark.parametrize("hook", ["relation_joined", "start", "update_status"])
def test_hooks_that_cannot_bring_a_new_view_leave_it_to_relation_changed(hook: str):
    # Juju follows relation-joined with relation-changed, and a leader's write reaches
    # every unit as relation-changed: reading here too would cost a hook tool call.
    ctx = make_context(unit_id=1)
    state = follower_state(_leader_publishes())
    relation = peer_of(state)
    out = ctx.run(_follower_hook(ctx, relation, hook), state)
    assert changed_events(ctx) == []
    ctx = make_context(unit_id=1)
    ctx.run(ctx.on.relation_changed(relation, remote_unit=0), out)
    assert changed_events(ctx) == [ALL_FIELDS]


def test_a_unit_databag_change_emits_nothing():
    ctx = make_context(unit_id=1)
    seen = ctx.run(
        ctx.on.relation_changed(peer_of(follower_state(_leader_publishes())), remote_unit=0),
        follower_state(_leader_publishes()),
    )
    relation = dataclasses.replace(peer_of(seen), peers_data={0: {"address": "10.0.0.1"}, 2: {}})
    ctx = make_context(unit_id=1)
    ctx.run(
        ctx.on.relation_changed(relation, remote_unit=0),
        dataclasses.replace(seen, relations={relation}),
    )
    assert changed_events(ctx) == []


def test_a_rewrite_with_the_same_meaning_emits_nothing():
    ctx = make_context(unit_id=1)
    seen = _relation_changed(ctx, follower_state(_leader_publishes()))
    # Same values, other formatting, and the defaults left out: the view is unchanged.
    relation = dataclasses.replace(peer_of(seen), local_app_data={"log_level": '  "info"'})
    ctx = make_context(unit_id=1)
    _relation_changed(ctx, dataclasses.replace(seen, relations={relation}))
    assert changed_events(ctx) == []


def test_invalid_stored_data_logs_a_warning_and_emits_nothing_without_failing_the_hook(
    caplog: pytest.LogCaptureFixture,
):
    ctx = make_context(unit_id=1)
    state = testing.State(relations={peer({"log_level": '"trace"'}, peers=(0,))})
    with caplog.at_level(logging.WARNING):
        out = _relation_changed(ctx, state)
    assert changed_events(ctx) == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert (
        warnings[0]
        .getMessage()
        .startswith(
            "the shared config in the 'cluster' application databag is invalid for Shared:"
            " 'log_level': "
        )
    )
    # Once the data is valid again the unit sees it, with every field on its first view.
    relation = dataclasses.replace(peer_of(out), local_app_data={"log_level": '"debug"'})
    ctx = make_context(unit_id=1)
    _relation_changed(ctx, dataclasses.replace(out, relations={relation}))
    assert changed_events(ctx) == [ALL_FIELDS]


class DeferringCharm(ops.CharmBase):
    """Defers the changed event until the `ready` config option is true."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared)
        framework.observe(self.shared.on.changed, self._on_changed)

    def _on_changed(self, event: LeaderConfigChangedEvent) -> None:
        if not self.config.get("ready"):
            event.defer()
            return
        cfg = self.shared.get()
        assert cfg is not None
        self.unit.status = ops.ActiveStatus(f"{sorted(event.changed)} {cfg.log_level}")


def test_a_deferred_event_keeps_its_field_names_and_reads_the_current_config():
    config = {"options": {"ready": {"type": "boolean", "default": False}}}
    ctx = testing.Context(DeferringCharm, meta=META, config=config, unit_id=1)
    state = follower_state(_leader_publishes())
    out = _relation_changed(ctx, state)
    (deferred,) = out.deferred
    assert deferred.snapshot_data == {"changed": ["log_level", "members"], "revision": 1}
    relation = dataclasses.replace(
        peer_of(out), local_app_data={**PUBLISHED, "log_level": '"debug"'}
    )
    ctx = testing.Context(DeferringCharm, meta=META, config=config, unit_id=1)
    out = ctx.run(
        ctx.on.update_status(),
        dataclasses.replace(out, relations={relation}, config={"ready": True}),
    )
    assert out.deferred == []
    # Re-emitted with its own names, reading today's value (the new change is noticed later).
    assert out.unit_status == ops.ActiveStatus("['log_level', 'members'] debug")


def test_the_event_snapshot_holds_only_field_names_and_the_revision():
    event = LeaderConfigChangedEvent(ops.Handle(None, "kind", "key"), frozenset({"b", "a"}), 3)
    assert event.snapshot() == {"changed": ["a", "b"], "revision": 3}
    restored = LeaderConfigChangedEvent(ops.Handle(None, "kind", "key"))
    restored.restore(event.snapshot())
    assert (restored.changed, restored.revision) == (frozenset({"a", "b"}), 3)


def test_an_event_deferred_by_an_earlier_patch_restores_without_a_revision():
    restored = LeaderConfigChangedEvent(ops.Handle(None, "kind", "key"))
    restored.restore({"changed": ["a"]})
    assert (restored.changed, restored.revision) == (frozenset({"a"}), None)


class TwoConfigsCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.first = LeaderConfig(self, "cluster", Shared, prefix="first.")
        self.second = LeaderConfig(self, "cluster", Shared, prefix="second.")
        self.seen: list[tuple[str, frozenset[str]]] = []
        framework.observe(self.first.on.changed, self._on_first_changed)
        framework.observe(self.second.on.changed, self._on_second_changed)

    def _on_first_changed(self, event: LeaderConfigChangedEvent) -> None:
        self.seen.append(("first", event.changed))

    def _on_second_changed(self, event: LeaderConfigChangedEvent) -> None:
        self.seen.append(("second", event.changed))


def test_objects_with_prefixes_share_a_relation_and_touch_only_their_own_keys():
    ctx = testing.Context(TwoConfigsCharm, meta=META)
    state = testing.State(leader=True, relations={peer({"log_level": '"debug"'})})
    out = ctx.run(ctx.on.leader_elected(), state)
    assert app_data(out) == {
        "log_level": '"debug"',
        "first.log_level": '"info"',
        "first.members": "[]",
        "second.log_level": '"info"',
        "second.members": "[]",
        "first.leader-config-revision": "1",
        "second.leader-config-revision": "1",
    }
    ctx = testing.Context(TwoConfigsCharm, meta=META)
    with ctx(ctx.on.update_status(), out) as mgr:
        mgr.charm.second.update(members=["x"])
        assert mgr.charm.first.get() == Shared()
        out = mgr.run()
    assert app_data(out)["second.members"] == '["x"]'
    assert app_data(out)["first.members"] == "[]"
    assert mgr.charm.seen == [("second", frozenset({"members"}))]


@pytest.mark.parametrize("hook", ["leader_elected", "upgrade_charm"])
def test_hooks_before_the_peer_relation_exists_do_nothing(hook: str):
    ctx = make_context()
    out = ctx.run(getattr(ctx.on, hook)(), testing.State(leader=True))
    assert changed_events(ctx) == []
    assert out.unit_status == ops.UnknownStatus()


class WritingBack(SharedCharm):
    """On its first changed event the leader writes a value, then writes it back."""

    def _on_changed(self, event: LeaderConfigChangedEvent) -> None:
        super()._on_changed(event)
        if event.changed == ALL_FIELDS:
            self.shared.update(log_level="debug")
            self.shared.update(log_level="info")


def test_a_handler_that_writes_a_value_and_writes_it_back_gets_no_event_for_it():
    ctx = testing.Context(WritingBack, meta=META)
    out = ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations={peer()}))
    assert app_data(out)["leader-config-revision"] == "3"
    assert changed_events(ctx) == [ALL_FIELDS]


class ReconcilingInCollectStatus(SharedCharm):
    """Writes from a collect-status handler, as reconciler charms do."""

    status_event = "collect_unit_status"

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(getattr(self.on, self.status_event), self._reconcile)

    def _reconcile(self, event: ops.CollectStatusEvent) -> None:
        level = self.config.get("level")
        if self.unit.is_leader() and level in ("debug", "info"):
            self.shared.update(log_level=level)


@pytest.mark.parametrize("status", ["collect_unit_status", "collect_app_status"])
def test_a_leader_write_in_a_collect_status_handler_gets_its_changed_event_in_that_hook(
    status: str,
):
    charm = type("ReconcilingInCollectStatus", (ReconcilingInCollectStatus,), {})
    charm.status_event = status
    options = {"options": {"level": {"type": "string", "default": ""}}}
    elected = testing.Context(charm, meta=META, config=options)
    state = testing.State(leader=True, relations={peer()})
    published = elected.run(elected.on.leader_elected(), state)
    ctx = testing.Context(charm, meta=META, config=options)
    out = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(published, config={"level": "debug"})
    )
    assert app_data(out)["log_level"] == '"debug"'
    assert changed_events(ctx) == [frozenset({"log_level"})]  # at the framework's pre-commit
    assert out.unit_status == testing.ActiveStatus("log_level=debug")
    again = testing.Context(charm, meta=META, config=options)
    again.run(again.on.update_status(), out)
    assert changed_events(again) == []


def test_under_harness_a_write_in_a_collect_status_handler_gets_its_event_at_the_next_end():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        harness = testing.Harness(
            ReconcilingInCollectStatus,
            meta=json.dumps(META),  # JSON is YAML
            config=json.dumps({"options": {"level": {"type": "string", "default": ""}}}),
        )
    harness.add_relation("cluster", "app")
    harness.set_leader(True)
    harness.begin_with_initial_hooks()
    harness.evaluate_status()
    harness.update_config({"level": "debug"})
    harness.evaluate_status()  # the handler writes after the library's end of the hook
    assert harness.charm.unit.status != ops.ActiveStatus("log_level=debug")
    harness.evaluate_status()  # Harness has no pre-commit: the next end emits it
    assert harness.charm.unit.status == ops.ActiveStatus("log_level=debug")
    harness.cleanup()


# A field that an upgrade adds is no change while it holds its default


class BeforeTheUpgrade(pydantic.BaseModel):
    log_level: Literal["debug", "info"] = "info"


class AfterTheUpgrade(BeforeTheUpgrade):
    members: list[str] = []
    token: pydantic.SecretStr | None = None


def _charm_of(schema: type[pydantic.BaseModel]) -> type[ops.CharmBase]:
    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = LeaderConfig(self, "cluster", schema)
            framework.observe(self.shared.on.changed, self._on_changed)

        def _on_changed(self, _: LeaderConfigChangedEvent) -> None:
            pass

    return Charm


def _run_as(
    schema: type[pydantic.BaseModel], state: testing.State, event: str, *, unit_id: int
) -> tuple[testing.State, list[frozenset[str]]]:
    ctx = testing.Context(_charm_of(schema), meta=META, unit_id=unit_id)
    relation = peer_of(state)
    events = {
        "leader_elected": ctx.on.leader_elected(),
        "upgrade_charm": ctx.on.upgrade_charm(),
        "update_status": ctx.on.update_status(),
        "relation_changed": ctx.on.relation_changed(relation, remote_unit=0),
    }
    return ctx.run(events[event], state), changed_events(ctx)


def test_publishing_the_default_of_a_field_an_upgrade_added_is_no_change_on_any_unit():
    leader, _ = _run_as(
        BeforeTheUpgrade,
        testing.State(leader=True, relations={peer()}),
        "leader_elected",
        unit_id=0,
    )
    follower, events = _run_as(
        BeforeTheUpgrade, follower_state(leader), "relation_changed", unit_id=1
    )
    assert events == [frozenset({"log_level"})]  # its first view
    follower, events = _run_as(AfterTheUpgrade, follower, "upgrade_charm", unit_id=1)
    assert events == []
    leader, events = _run_as(AfterTheUpgrade, leader, "upgrade_charm", unit_id=0)
    assert set(app_data(leader)) == {"log_level", "members", "token", "leader-config-revision"}
    assert events == []  # the defaults, which it read before it published them
    relation = dataclasses.replace(
        peer_of(follower), local_app_data=dict(peer_of(leader).local_app_data)
    )
    follower, events = _run_as(
        AfterTheUpgrade,
        dataclasses.replace(follower, relations={relation}),
        "relation_changed",
        unit_id=1,
    )
    assert events == []  # what it read before, from the defaults


def test_a_value_other_than_the_default_in_a_field_an_upgrade_added_is_a_change():
    relation = peer({"log_level": '"info"', "leader-config-revision": "1"})
    leader, _ = _run_as(
        BeforeTheUpgrade,
        testing.State(leader=True, relations={relation}),
        "update_status",
        unit_id=0,
    )
    follower, _ = _run_as(BeforeTheUpgrade, follower_state(leader), "relation_changed", unit_id=1)
    published = {"members": '["a"]', "token": "null", "leader-config-revision": "2"}
    relation = peer_of(follower)
    data = {**relation.local_app_data, **published}
    relation = dataclasses.replace(relation, local_app_data=data)
    _, events = _run_as(
        AfterTheUpgrade,
        dataclasses.replace(follower, relations={relation}),
        "upgrade_charm",
        unit_id=1,
    )
    assert events == [frozenset({"members"})]
