"""Rules that no other test pinned down exactly, each found by mutation testing.

Every test here fails if the library breaks the rule it is named after (`tox -e mutate`
found a change to the library that the rest of the suite let through).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from collections.abc import Callable, Generator
from typing import Any

import ops
import pydantic
import pytest
from ops import testing
from ops.testing import Harness

from charms.leader_config.v0 import leader_config
from charms.leader_config.v0 import testing as helpers
from charms.leader_config.v0.leader_config import (
    LeaderConfig,
    LeaderConfigAppliedEvent,
    Legacy,
    NotLeaderError,
    PendingFieldsError,
)
from charms.leader_config.v0.testing import (
    config_from_state,
    follower_state,
    peer_relation,
    published_state,
)
from conftest import META, Shared, app_data, peer, peer_of

RECORD = "leader-config-unit"


def _record(applied: int | None = None, prefix: str = "") -> dict[str, str]:
    """The unit databag of a peer that runs the library (and acknowledged `applied`)."""
    return {prefix + RECORD: json.dumps({} if applied is None else {"applied": applied})}


def _run(
    charm: type[ops.CharmBase],
    state: testing.State,
    do: Callable[[Any], None] | None = None,
    *,
    event: Callable[[testing.Context[Any]], Any] | None = None,
    unit_id: int = 0,
) -> tuple[testing.State, testing.Context[Any]]:
    """Run one hook (update-status unless `event` says), calling `do(charm)` inside it."""
    ctx = testing.Context(charm, meta=META, unit_id=unit_id)
    trigger = event(ctx) if event is not None else ctx.on.update_status()
    with ctx(trigger, state) as mgr:
        if do is not None:
            do(mgr.charm)
        out = mgr.run()
    return out, ctx


def _with_app_data(state: testing.State, **changes: str) -> testing.State:
    relation = peer_of(state)
    data = {**relation.local_app_data, **changes}
    return dataclasses.replace(
        state, relations={dataclasses.replace(relation, local_app_data=data)}
    )


# The core's module


class PlainCharm(ops.CharmBase):
    """A charm with a plain LeaderConfig: no acknowledgements, no migrate."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared)


def test_a_name_the_core_does_not_have_raises_attribute_error_naming_it():
    with pytest.raises(AttributeError, match=r"has no attribute 'no_such_name'$"):
        getattr(leader_config, "no_such_name")  # noqa: B009 (the name is the point)


def test_an_applied_event_made_without_a_revision_carries_revision_0():
    state = published_state("cluster", Shared(), leader=True)
    _, ctx = _run(PlainCharm, state, lambda c: c.shared.on.applied.emit())
    (event,) = [e for e in ctx.emitted_events if isinstance(e, LeaderConfigAppliedEvent)]
    assert event.revision == 0


class Aliased(pydantic.BaseModel):
    log_level: str = pydantic.Field("info", alias="log-level")
    max_conns: int = pydantic.Field(10, alias="max-conns")


class AliasedCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Aliased)


def _update_error(charm: type[ops.CharmBase], **changes: Any) -> str:
    errors: list[str] = []

    def update(c: Any) -> None:
        with pytest.raises(ValueError, match="unknown field") as caught:
            c.shared.update(**changes)
        errors.append(str(caught.value))

    _run(charm, testing.State(leader=True, relations={peer()}), update)
    return errors[0]


def test_an_unknown_field_name_is_refused_naming_the_fields_and_nothing_more():
    assert _update_error(PlainCharm, colour="red") == (
        "unknown field(s) colour for Shared (fields: log_level, members)"
    )


def test_aliases_given_as_field_names_are_refused_naming_each_fields_alias_apart():
    message = _update_error(AliasedCharm, **{"log-level": "debug", "max-conns": 5})
    assert message.endswith(
        ": update() takes field names; 'log-level' is the alias of 'log_level';"
        " 'max-conns' is the alias of 'max_conns'"
    )


class Generated(pydantic.BaseModel):
    level: str = "info"
    cookie: str = pydantic.Field(default_factory=lambda: "c-1")


class GeneratedCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Generated)


def test_the_leader_publishing_a_generated_value_the_stored_data_lacks_is_a_new_revision():
    # Revision 3 from a schema without `cookie`: followers cannot read it until published.
    stored = {"level": '"debug"', "leader-config-revision": "3"}
    state = testing.State(leader=True, relations={peer(stored)})
    out, _ = _run(GeneratedCharm, state, lambda c: c.shared.get())
    assert app_data(out) == {**stored, "cookie": '"c-1"', "leader-config-revision": "4"}


class ReadsInAppStatusCharm(ops.CharmBase):
    """Reads the config in its collect-app-status handler, after the library's."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared)
        framework.observe(self.on.collect_app_status, self._on_collect_app_status)

    def _on_collect_app_status(self, _: ops.CollectStatusEvent) -> None:
        self.shared.get()


def test_a_publish_that_juju_refuses_is_tried_once_in_the_hook(
    caplog: pytest.LogCaptureFixture,
):
    attempts: list[dict[str, str]] = []

    def refuse_relation_set(charm: ReadsInAppStatusCharm) -> None:
        backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]

        def relation_set(relation_id: int, data: dict[str, str], *_: Any, **__: Any) -> None:
            attempts.append(dict(data))
            raise ops.ModelError("ERROR cannot write relation settings")

        backend.relation_set = relation_set

    state = testing.State(leader=True, relations={peer()})  # nothing published yet
    with caplog.at_level(logging.WARNING, logger=leader_config.__name__):
        out, _ = _run(ReadsInAppStatusCharm, state, refuse_relation_set)
    assert len(attempts) == 1
    assert [r.getMessage() for r in caplog.records if r.name == leader_config.__name__] == [
        "LeaderConfig(relation_name='cluster', schema=Shared): not published: Juju refused"
        " to write the shared config in 'cluster' from app/0 (leadership is lost during a"
        " hook this way): ERROR cannot write relation settings"
    ]
    assert app_data(out) == {}


class WithToken(pydantic.BaseModel):
    level: str = "info"
    token: pydantic.SecretStr | None = None


class TokenCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", WithToken)


def _refusing_relation_set(charm: ops.CharmBase) -> None:
    """Make every relation-set of this hook fail, as Juju refuses it once leadership is lost."""
    backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]

    def relation_set(*_: Any, **__: Any) -> None:
        raise ops.ModelError("ERROR cannot write relation settings")

    backend.relation_set = relation_set


@pytest.mark.parametrize(
    "changes",
    [{"level": "debug"}, {"token": None}],
    ids=["a plain value", "the last secret value removed"],
)
def test_a_refused_write_with_secret_fields_raises_not_leader_error_and_keeps_the_secret(
    changes: dict[str, Any],
):
    state = published_state(
        "cluster", WithToken(token=pydantic.SecretStr("t-1")), leader=True, peers_data={1: {}}
    )
    errors: list[Exception] = []

    def write(charm: TokenCharm) -> None:
        _refusing_relation_set(charm)
        with pytest.raises(NotLeaderError) as caught:
            charm.shared.update(**changes)
        errors.append(caught.value)

    out, _ = _run(TokenCharm, state, write)
    assert isinstance(errors[0].__cause__, ops.ModelError)
    assert app_data(out) == dict(peer_of(state).local_app_data)
    assert [s.latest_content for s in out.secrets] == [s.latest_content for s in state.secrets]


def test_the_leaders_writes_in_one_hook_read_back_no_secret_they_wrote(
    monkeypatch: pytest.MonkeyPatch,
):
    reads: list[str] = []
    get_secret = ops.Model.get_secret

    def counting(model: ops.Model, *args: Any, **kwargs: Any) -> ops.Secret:
        reads.append("get_secret")
        return get_secret(model, *args, **kwargs)

    def write_three_tokens(charm: TokenCharm) -> None:
        monkeypatch.setattr(ops.Model, "get_secret", counting)
        for token in ("t-1", "t-2", "t-3"):  # a new secret, then two new revisions
            charm.shared.update(token=pydantic.SecretStr(token))

    out, _ = _run(TokenCharm, testing.State(leader=True, relations={peer()}), write_three_tokens)
    assert [s.latest_content["token"] for s in out.secrets] == ["t-3"]
    assert reads == []


# Acknowledgements (rollouts.py)


class QuietAckCharm(ops.CharmBase):
    """Turns acknowledgements on, and neither acknowledges nor handles any event."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared, acknowledge=True)


@pytest.mark.modules
def test_a_unit_upgraded_before_it_handled_the_current_revision_acknowledges_no_older_one():
    published = published_state("cluster", Shared(), peers_data={0: {}})
    # Both revisions of the charm class have one name: ops keys stored state by it.
    before, after = type("Charm", (PlainCharm,), {}), type("Charm", (QuietAckCharm,), {})
    ran, _ = _run(  # unit 1 handles revision 1
        before,
        published,
        event=lambda c: c.on.relation_changed(peer_of(published), remote_unit=0),
        unit_id=1,
    )
    # Revision 2 is published; unit 1 is upgraded before its relation-changed for it.
    newer = _with_app_data(ran, **{"log_level": '"debug"', "leader-config-revision": "2"})
    out, _ = _run(after, newer, event=lambda c: c.on.upgrade_charm(), unit_id=1)
    assert RECORD not in peer_of(out).local_unit_data


@pytest.mark.modules
def test_the_leaders_rollout_with_its_tally_in_hand_asks_juju_nothing_while_applied_waits(
    monkeypatch: pytest.MonkeyPatch,
):
    # Every unit it sees applied revision 1, but Juju plans a third unit that has not joined.
    state = published_state("cluster", Shared(), leader=True, peers_data={1: _record(1)})
    relation = peer_of(state)
    relation = dataclasses.replace(relation, local_unit_data=_record(1))
    state = dataclasses.replace(state, relations={relation}, planned_units=3)
    held, ctx = _run(QuietAckCharm, state, event=lambda c: c.on.leader_elected())
    assert [e for e in ctx.emitted_events if isinstance(e, LeaderConfigAppliedEvent)] == []
    asked: list[str] = []
    planned_units = ops.Application.planned_units

    def counting(app: ops.Application) -> int:
        asked.append("planned_units")
        return planned_units(app)

    monkeypatch.setattr(ops.Application, "planned_units", counting)
    seen: list[bool] = []
    _run(  # a hook that is not update-status, where the leader checks again
        QuietAckCharm,
        held,
        lambda c: seen.append(c.shared.rollout().complete),
        event=lambda c: c.on.config_changed(),
    )
    assert seen == [True]
    assert asked == []


@pytest.mark.modules
def test_a_unit_with_acknowledgements_that_never_acknowledges_records_nothing():
    published = published_state("cluster", Shared(), peers_data={0: {}})
    out = published
    for _ in range(2):  # the second hook runs on a revision that the unit has handled
        out, _ = _run(
            QuietAckCharm,
            out,
            event=lambda c: c.on.relation_changed(peer_of(published), remote_unit=0),
            unit_id=1,
        )
    assert RECORD not in peer_of(out).local_unit_data


class MigratingCharm(ops.CharmBase):
    """Gives `migrate=`, so that each unit records that it runs the library."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared, migrate=lambda _: None)


class MigratingAckCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(
            self, "cluster", Shared, migrate=lambda _: None, acknowledge=True
        )


@pytest.mark.modules
def test_a_unit_that_recorded_running_the_library_acknowledges_once_upgraded_to_acknowledge():
    published = published_state("cluster", Shared(), peers_data={0: {}})
    before, after = type("Charm", (MigratingCharm,), {}), type("Charm", (MigratingAckCharm,), {})
    ran, _ = _run(
        before,
        published,
        event=lambda c: c.on.relation_changed(peer_of(published), remote_unit=0),
        unit_id=1,
    )
    assert peer_of(ran).local_unit_data[RECORD] == "{}"
    out, _ = _run(after, ran, event=lambda c: c.on.upgrade_charm(), unit_id=1)
    assert peer_of(out).local_unit_data[RECORD] == json.dumps({"applied": 1})


@pytest.mark.modules
def test_a_leader_whose_stored_state_is_gone_completes_a_rollout_in_a_departure_hook():
    state = published_state("cluster", Shared(), leader=True, peers_data={1: _record(1)})
    relation = dataclasses.replace(peer_of(state), local_unit_data=_record(1))
    state = dataclasses.replace(state, relations={relation}, stored_states=frozenset())
    _, ctx = _run(
        QuietAckCharm,
        state,
        event=lambda c: c.on.relation_departed(relation, remote_unit=2, departing_unit=2),
    )
    assert [e.revision for e in ctx.emitted_events if isinstance(e, LeaderConfigAppliedEvent)] == [
        1
    ]


@pytest.mark.modules
def test_a_goal_state_that_fails_fails_the_hook_with_jujus_message(
    monkeypatch: pytest.MonkeyPatch,
):
    hookcmds = pytest.importorskip("ops.hookcmds")  # ops before hookcmds counts units only

    def goal_state() -> Any:
        raise hookcmds.Error(returncode=1, cmd=["goal-state"], stderr="ERROR not now")

    monkeypatch.setattr(hookcmds, "goal_state", goal_state)
    state = published_state("cluster", Shared(), leader=True, peers_data={1: _record(1)})
    relation = dataclasses.replace(peer_of(state), local_unit_data=_record(1))
    state = dataclasses.replace(state, relations={relation})
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        _run(QuietAckCharm, state, event=lambda c: c.on.leader_elected())
    error = caught.value.__cause__
    assert isinstance(error, ops.ModelError)
    assert str(error) == "goal-state failed: ERROR not now"


# Adoption (adoption.py)


class Salted(pydantic.BaseModel):
    salt: str
    state: str = "new"
    token: pydantic.SecretStr = pydantic.SecretStr("t-1")


LEGACY = {"salt": "s4lt", "cluster-state": "existing"}


class PrefixedCharm(ops.CharmBase):
    """Adopts `salt` and `cluster-state` under its own keys (`v2-...`)."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Salted, prefix="v2-", migrate=self._legacy)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        old = relation.data[self.app]
        if "cluster-state" not in old:
            return None
        values = {"salt": old["salt"], "state": old["cluster-state"]}
        return Legacy(values, keys=["salt", "cluster-state"])


def _adopted() -> testing.State:
    """Unit 0 adopted the legacy data under `v2-` keys; unit 1 still runs the old revision."""
    state = testing.State(leader=True, relations={peer(LEGACY, peers=(1,))})
    out, _ = _run(PrefixedCharm, state, event=lambda c: c.on.upgrade_charm())
    assert app_data(out)["v2-leader-config-adopted"] == json.dumps({"written": []})
    return out


@pytest.mark.modules
def test_the_adoptions_record_lists_exactly_the_fields_the_charm_changed():
    out, _ = _run(PrefixedCharm, _adopted(), lambda c: c.shared.update(salt="mine"))
    assert app_data(out)["v2-leader-config-adopted"] == json.dumps({"written": ["salt"]})
    token = pydantic.SecretStr("t-2")
    out, _ = _run(PrefixedCharm, out, lambda c: c.shared.update(token=token, state="existing"))
    assert app_data(out)["v2-leader-config-adopted"] == json.dumps({"written": ["salt", "token"]})


@pytest.mark.modules
def test_a_deployment_with_nothing_to_adopt_publishes_no_adoption_record():
    state = testing.State(leader=True, relations={peer()})
    out, _ = _run(PrefixedCharm, state, lambda c: c.shared.set(Salted(salt="new")))
    assert "v2-leader-config-adopted" not in app_data(out)
    assert app_data(out)["v2-salt"] == '"new"'


@pytest.mark.modules
def test_the_adoptions_record_is_retired_when_migrate_finds_no_legacy_data_any_more(
    caplog: pytest.LogCaptureFixture,
):
    adopted = _adopted()
    data = {k: v for k, v in peer_of(adopted).local_app_data.items() if k not in LEGACY}
    gone = dataclasses.replace(  # the legacy keys are gone, the record is still there
        adopted,
        relations={
            dataclasses.replace(
                peer_of(adopted), local_app_data=data, peers_data={1: _record(prefix="v2-")}
            )
        },
        stored_states=frozenset(),
    )
    with caplog.at_level(logging.WARNING):
        out, _ = _run(PrefixedCharm, gone, event=lambda c: c.on.leader_elected())
    assert "v2-leader-config-adopted" not in app_data(out)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


class Admin(pydantic.BaseModel):
    password: pydantic.SecretStr
    cookie: pydantic.SecretStr = pydantic.SecretStr("c-1")  # new in this revision


# The old revision's leader rotated the CA in its secret (revision 2); every unit still
# tracks revision 1.
TRACKED = {"password": "p4ss", "ca-cert": "old-ca"}
LATEST = {"password": "p4ss", "ca-cert": "new-ca"}
LEGACY_SECRET = testing.Secret(TRACKED, latest_content=LATEST, owner="app", label="admin")


class TrackedReadingCharm(ops.CharmBase):
    """Its `migrate` reads the revision of the legacy secret that the unit tracks."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Admin, prefix="lc-", migrate=self._legacy)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        old = relation.data[self.app]
        if "admin-secret" not in old:
            return None
        secret = self.model.get_secret(id=old["admin-secret"])
        values = {"password": secret.get_content()["password"]}
        return Legacy(values, keys=["admin-secret"], secret=secret)


@pytest.mark.modules
def test_a_takeover_builds_on_the_latest_legacy_secret_even_after_migrate_read_the_tracked_one():
    state = testing.State(
        leader=True, relations={peer({"admin-secret": LEGACY_SECRET.id})}, secrets={LEGACY_SECRET}
    )
    out, _ = _run(TrackedReadingCharm, state, event=lambda c: c.on.upgrade_charm())
    (secret,) = out.secrets
    assert json.loads(app_data(out)["lc-secret-id"]) == LEGACY_SECRET.id  # taken over
    # The new field's value is added to the latest revision: the CA rotated is kept.
    assert secret.latest_content == {"password": "p4ss", "ca-cert": "new-ca", "cookie": "c-1"}
    # Each secret field's key holds a marker: a JSON string, never the value.
    markers = [json.loads(app_data(out)[key]) for key in ("lc-password", "lc-cookie")]
    assert all(isinstance(m, str) and m not in ("p4ss", "c-1") for m in markers)


def _old_leader_changed(state: testing.State, **legacy: str) -> testing.State:
    """Leadership went to unit 1, on the old revision, which changed legacy values, and back."""
    return _with_app_data(state, **legacy)


@pytest.mark.modules
def test_the_leader_logs_the_legacy_values_it_adopts_by_field_name(
    caplog: pytest.LogCaptureFixture,
):
    state = _old_leader_changed(_adopted(), salt="rotated", **{"cluster-state": "running"})
    with caplog.at_level(logging.INFO, logger=leader_config.__name__):
        out, _ = _run(PrefixedCharm, state, event=lambda c: c.on.leader_elected())
    assert (app_data(out)["v2-salt"], app_data(out)["v2-state"]) == ('"rotated"', '"running"')
    assert [r.getMessage() for r in caplog.records if r.name == leader_config.__name__] == [
        "LeaderConfig(relation_name='cluster', schema=Salted, prefix='v2-'):"
        " adopting legacy values changed since: salt, state"
    ]


@pytest.mark.modules
def test_a_legacy_value_the_leader_adopts_is_not_counted_as_written_by_the_charm():
    state = _old_leader_changed(_adopted(), salt="rotated")
    out, _ = _run(PrefixedCharm, state, event=lambda c: c.on.leader_elected())
    assert app_data(out)["v2-leader-config-adopted"] == json.dumps({"written": []})
    # So a later change by an old leader wins again.
    again = _old_leader_changed(out, salt="again")
    out, _ = _run(PrefixedCharm, again, event=lambda c: c.on.leader_elected())
    assert app_data(out)["v2-salt"] == '"again"'


@pytest.mark.modules
def test_a_look_at_the_adoption_with_no_legacy_change_logs_nothing_and_writes_nothing(
    caplog: pytest.LogCaptureFixture,
):
    adopted = _adopted()
    with caplog.at_level(logging.INFO, logger=leader_config.__name__):
        out, _ = _run(PrefixedCharm, adopted, event=lambda c: c.on.leader_elected())
    assert [r.getMessage() for r in caplog.records if r.name == leader_config.__name__] == []
    assert app_data(out) == app_data(adopted)


class SameKeys(pydantic.BaseModel):
    salt: str
    state: str = "new"


class SameKeysCharm(ops.CharmBase):
    """The new schema's keys are the legacy ones: `salt` held a raw string."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.migrated: list[str] = []
        self.shared = LeaderConfig(self, "cluster", SameKeys, migrate=self._legacy)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        self.migrated.append("migrate")
        old = relation.data[self.app]
        if "cluster-state" not in old:
            return None
        return Legacy({"salt": old["salt"], "state": old["cluster-state"]}, keys=["cluster-state"])


def _blocked() -> testing.State:
    """The leader adopted the legacy data; units 2 and 3 still run the old revision."""
    relation = testing.PeerRelation(
        "cluster", local_app_data=LEGACY, peers_data={1: _record(), 2: {}, 3: {}}
    )
    out, _ = _run(
        SameKeysCharm,
        testing.State(leader=True, relations={relation}),
        event=lambda c: c.on.upgrade_charm(),
    )
    assert app_data(out) == LEGACY  # units 2 and 3 read the legacy keys: left alone
    return out


def _upgraded(state: testing.State, *units: int) -> tuple[testing.State, Callable[[Any], Any]]:
    """`state` once `units` run the new revision, and the relation-changed for the last one."""
    relation = peer_of(state)
    peers = {**relation.peers_data, **{unit: _record() for unit in units}}
    relation = dataclasses.replace(relation, peers_data=peers)
    event: Callable[[Any], Any] = lambda c: c.on.relation_changed(  # noqa: E731
        relation, remote_unit=units[-1]
    )
    return dataclasses.replace(state, relations={relation}), event


@pytest.mark.modules
def test_a_blocked_adoption_logs_no_warning_in_a_hook_where_the_units_change(
    caplog: pytest.LogCaptureFixture,
):
    state, event = _upgraded(_blocked(), 2)  # unit 3 still runs the old revision
    with caplog.at_level(logging.WARNING):
        out, _ = _run(SameKeysCharm, state, event=event)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert app_data(out) == LEGACY


@pytest.mark.modules
def test_migrate_runs_once_in_a_leaders_hook_in_which_the_units_change():
    state, event = _upgraded(_blocked(), 2)  # unit 3 still runs the old revision
    calls: list[list[str]] = []
    _run(SameKeysCharm, state, lambda c: calls.append(c.migrated), event=event)
    assert calls == [["migrate"]]


@pytest.mark.modules
def test_a_legacy_value_the_blocked_leader_changes_itself_reads_back_at_once():
    seen: list[str] = []

    def change_the_legacy_state(charm: SameKeysCharm) -> None:
        relation = charm.model.get_relation("cluster")
        assert relation is not None
        for state in ("running", "stopped"):
            relation.data[charm.app]["cluster-state"] = state
            config = charm.shared.get()
            assert config is not None
            seen.append(config.state)

    _run(SameKeysCharm, _blocked(), change_the_legacy_state)
    assert seen == ["running", "stopped"]


@pytest.mark.modules
def test_the_leader_asks_goal_state_once_in_a_hook_where_it_takes_the_legacy_keys_over(
    monkeypatch: pytest.MonkeyPatch,
):
    state, event = _upgraded(_blocked(), 2)
    state, event = _upgraded(_run(SameKeysCharm, state, event=event)[0], 3)  # the last one
    asked: list[str] = []
    planned_units = ops.Application.planned_units

    def counting(app: ops.Application) -> int:
        asked.append("planned_units")
        return planned_units(app)

    monkeypatch.setattr(ops.Application, "planned_units", counting)
    out, _ = _run(SameKeysCharm, state, event=event)
    assert app_data(out)["salt"] == '"s4lt"'  # taken over
    assert asked == ["planned_units"]


class TwoGenerated(pydantic.BaseModel):
    salt: str
    cookie: str = pydantic.Field(default_factory=lambda: "c-1")
    nonce: str = pydantic.Field(default_factory=lambda: "n-1")


class TwoGeneratedCharm(SameKeysCharm):
    def __init__(self, framework: ops.Framework):
        ops.CharmBase.__init__(self, framework)
        self.migrated = []
        self.shared = LeaderConfig(self, "cluster", TwoGenerated, migrate=self._legacy)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        old = relation.data[self.app]
        return Legacy({"salt": old["salt"]}) if "salt" in old else None


@pytest.mark.modules
def test_a_follower_reading_adopted_data_names_the_relation_and_each_field_it_awaits():
    errors: list[PendingFieldsError] = []

    def read(charm: TwoGeneratedCharm) -> None:
        with pytest.raises(PendingFieldsError) as caught:
            charm.shared.get()
        errors.append(caught.value)

    state = testing.State(relations={peer(LEGACY, peers=(0,))})
    _run(TwoGeneratedCharm, state, read, unit_id=1)
    (error,) = errors
    assert (error.relation_name, error.fields) == ("cluster", ("cookie", "nonce"))
    assert "lacks cookie, nonce, which only the leader generates" in str(error)


# The test helpers (testing.py)


def test_follower_state_without_the_followers_own_gives_it_the_unit_databag_the_leader_saw():
    seen = {"ingress-address": "10.0.0.2"}
    leader_out = published_state("cluster", Shared(), leader=True, peers_data={1: seen})
    state = follower_state(leader_out, "cluster")
    assert dict(peer_of(state).local_unit_data) == seen
    unseen = follower_state(leader_out, "cluster", unit_id=2)  # joined since the leader ran
    assert dict(peer_of(unseen).local_unit_data) == {}


def test_follower_state_makes_a_follower_of_a_unit_whose_own_state_led():
    leader_out = published_state("cluster", Shared(), leader=True, peers_data={1: {}})
    led = published_state("cluster", Shared(), leader=True, peers_data={0: {}})
    assert follower_state(leader_out, "cluster", state=led).leader is False


def test_config_from_state_reads_a_relation_that_is_no_peer_relation():
    published = peer_of(published_state("cluster", Shared(log_level="debug")))
    relation = testing.Relation("cluster", local_app_data=published.local_app_data)
    state = testing.State(relations={relation})
    assert config_from_state(state, "cluster", Shared) == Shared(log_level="debug")


class UnitDataCharm(ops.CharmBase):
    """Kept its log level in a unit databag (of a unit that led) before it used the library."""

    def legacy(self, relation: ops.Relation) -> dict[str, Any] | None:
        units = (self.unit, *relation.units)
        levels = [relation.data[unit].get("log-level") for unit in units]
        level = next((level for level in levels if level), None)
        return None if level is None else {"log_level": level, "members": [str(relation.id)]}


@pytest.mark.modules
@pytest.mark.parametrize("own", [True, False], ids=["its own", "a peer's"])
def test_config_from_state_gives_migrate_the_relation_with_its_id_and_unit_databags(own: bool):
    kept = {"log-level": "debug"}
    relation = testing.PeerRelation(
        "cluster", id=42, local_unit_data=kept if own else {}, peers_data={0: {} if own else kept}
    )
    state = testing.State(relations={relation})
    config = config_from_state(state, "cluster", Shared, migrate=UnitDataCharm.legacy)
    assert config == Shared(log_level="debug", members=["42"])


UNIT_SECRET = testing.Secret({"log-level": "debug"}, owner="unit")


class UnitSecretCharm(ops.CharmBase):
    """Its migrate reads a secret of the unit under test, if it can."""

    def legacy(self, relation: ops.Relation) -> dict[str, Any] | None:
        try:
            secret = self.model.get_secret(id=UNIT_SECRET.id)
        except ops.SecretNotFoundError:
            return {"log_level": "info"}
        return {"log_level": secret.get_content()["log-level"]}


@pytest.mark.modules
def test_config_from_state_gives_migrate_no_secret_of_the_unit_under_test():
    state = testing.State(relations={testing.PeerRelation("cluster")}, secrets={UNIT_SECRET})
    config = config_from_state(state, "cluster", Shared, migrate=UnitSecretCharm.legacy)
    assert config == Shared(log_level="info")


def test_config_from_state_reads_a_state_that_holds_several_secrets():
    config = WithToken(token=pydantic.SecretStr("t-1"))
    state = published_state("cluster", config)
    other = testing.Secret({"password": "p"}, owner="app", label="other")
    state = dataclasses.replace(state, secrets={*state.secrets, other})
    assert config_from_state(state, "cluster", WithToken) == config


def test_config_from_state_returns_a_copy_of_its_own_on_each_call():
    state = published_state("cluster", Shared(members=["a"]))
    first = config_from_state(state, "cluster", Shared)
    assert first is not None
    first.members.append("b")
    assert config_from_state(state, "cluster", Shared) == Shared(members=["a"])


def test_a_name_the_test_helpers_do_not_have_raises_attribute_error_naming_it():
    with pytest.raises(AttributeError, match=r"has no attribute 'no_such_helper'$"):
        getattr(helpers, "no_such_helper")  # noqa: B009 (the name is the point)


class Hidden(pydantic.BaseModel):
    level: str = "info"
    note: str = pydantic.Field("", repr=False)


def test_configs_that_differ_only_in_a_field_hidden_from_repr_are_published_apart():
    first, _ = peer_relation("cluster", Hidden(note="one"))
    second, _ = peer_relation("cluster", Hidden(note="two"))
    assert (first.local_app_data["note"], second.local_app_data["note"]) == ('"one"', '"two"')


class Numbers(pydantic.BaseModel):
    numbers: set[int] | list[int] = []


def test_configs_that_dump_alike_but_encode_apart_are_published_apart():
    as_set = Numbers(numbers={2, 10})
    # The same numbers, as a list in the order the set dumps them: the dumps are equal.
    as_list = Numbers(numbers=as_set.model_dump(mode="json")["numbers"])
    assert as_set.model_dump(mode="json") == as_list.model_dump(mode="json")
    set_data, _ = peer_relation("cluster", as_set)
    list_data, _ = peer_relation("cluster", as_list)
    assert set_data.local_app_data["numbers"] == "[10, 2]"  # a set goes sorted as JSON
    assert json.loads(list_data.local_app_data["numbers"]) == as_list.numbers


def test_peer_relation_takes_a_config_holding_values_pydantic_coerces_and_warns_nothing():
    config = Shared.model_construct(log_level="debug", members=("a",))  # a tuple for a list
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        relation, _ = peer_relation("cluster", config)
    assert relation.local_app_data["members"] == '["a"]'


# The Harness helpers (testing_harness.py, imported in the tests: the core's tests run
# without it)


class PrefixedSharedCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared, prefix="x-")


HARNESS_META = "name: app\npeers:\n  cluster:\n    interface: app_cluster\n"


@pytest.fixture
def harness_of() -> Generator[Callable[[type[ops.CharmBase]], Harness[Any]], None, None]:
    """Make a Harness of a charm, begun, without the peer relation."""
    made: list[Harness[Any]] = []

    def make(charm: type[ops.CharmBase]) -> Harness[Any]:
        with warnings.catch_warnings():
            # ops marks Harness itself as pending deprecation in favour of ops.testing.Context.
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            harness = Harness(charm, meta=HARNESS_META)
        made.append(harness)
        harness.begin()
        return harness

    yield make
    for harness in made:
        harness.cleanup()


class RelationCreatedCharm(PlainCharm):
    """Records the app that each peer relation-created names."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.created: list[str | None] = []
        framework.observe(self.on["cluster"].relation_created, self._on_created)

    def _on_created(self, event: ops.RelationCreatedEvent) -> None:
        self.created.append(event.app.name if event.app else None)


@pytest.mark.modules  # needs testing_harness.py
def test_publish_to_harness_adds_the_peer_relation_it_lacks_as_juju_does(
    harness_of: Callable[[type[ops.CharmBase]], Harness[Any]],
):
    from charms.leader_config.v0.testing_harness import config_from_harness, publish_to_harness

    harness = harness_of(RelationCreatedCharm)
    publish_to_harness(harness, "cluster", Shared(log_level="debug"))
    assert harness.charm.created == ["app"]  # a peer relation is with the charm's own app
    assert config_from_harness(harness, "cluster", Shared) == Shared(log_level="debug")


@pytest.mark.modules  # needs testing_harness.py
def test_publish_to_harness_writes_under_the_prefix_the_charm_gives(
    harness_of: Callable[[type[ops.CharmBase]], Harness[Any]],
):
    from charms.leader_config.v0.testing_harness import config_from_harness, publish_to_harness

    harness = harness_of(PrefixedSharedCharm)
    publish_to_harness(harness, "cluster", Shared(log_level="debug"), prefix="x-")
    assert harness.charm.shared.get() == Shared(log_level="debug")
    assert config_from_harness(harness, "cluster", Shared, prefix="x-") == Shared(
        log_level="debug"
    )


@pytest.mark.modules  # needs testing_harness.py
def test_publish_to_harness_refuses_a_core_that_writes_another_wire_format(
    harness_of: Callable[[type[ops.CharmBase]], Harness[Any]],
    monkeypatch: pytest.MonkeyPatch,
):
    from charms.leader_config.v0 import testing_harness

    def unnumbered(
        relation_name: str, config: pydantic.BaseModel, *, prefix: str = ""
    ) -> tuple[testing.PeerRelation, frozenset[testing.Secret]]:
        relation, secrets = peer_relation(relation_name, config, prefix=prefix)
        data = {k: v for k, v in relation.local_app_data.items() if "revision" not in k}
        return dataclasses.replace(relation, local_app_data=data), secrets

    monkeypatch.setattr(testing_harness, "peer_relation", unnumbered)
    harness = harness_of(PlainCharm)
    with pytest.raises(RuntimeError) as caught:
        testing_harness.publish_to_harness(harness, "cluster", Shared())
    assert str(caught.value) == (
        "leader_config no longer writes 'leader-config-revision' and 'secret-id' as"
        " documented: update charms.leader_config.v0.testing_harness"
    )


@pytest.mark.modules  # needs testing_harness.py
@pytest.mark.parametrize("own", [True, False], ids=["its own", "a peer's"])
def test_config_from_harness_gives_migrate_the_relation_with_its_id_and_unit_databags(
    harness_of: Callable[[type[ops.CharmBase]], Harness[Any]], own: bool
):
    from charms.leader_config.v0.testing_harness import config_from_harness

    harness = harness_of(PlainCharm)
    relation_id = harness.add_relation("cluster", "app")
    harness.add_relation_unit(relation_id, "app/1")
    harness.update_relation_data(relation_id, "app/0" if own else "app/1", {"log-level": "info"})
    config = config_from_harness(harness, "cluster", Shared, migrate=UnitDataCharm.legacy)
    assert config == Shared(log_level="info", members=[str(relation_id)])


class LabelCharm(ops.CharmBase):
    """Kept its log level in a secret of the app that it found by label."""

    def legacy(self, relation: ops.Relation) -> dict[str, Any] | None:
        if "legacy-secret" not in relation.data[self.app]:
            return None
        secret = self.model.get_secret(label="legacy")
        return {"log_level": secret.get_content()["log-level"]}


@pytest.mark.modules  # needs testing_harness.py
def test_config_from_harness_gives_migrate_the_app_secrets_with_their_labels(
    harness_of: Callable[[type[ops.CharmBase]], Harness[Any]],
):
    from charms.leader_config.v0.testing_harness import config_from_harness

    harness = harness_of(PlainCharm)
    harness.set_leader(True)  # the owner of the app's secrets sees their labels
    secret_id = harness.add_model_secret("app", {"log-level": "debug"})
    harness.model.get_secret(id=secret_id, label="legacy")  # the Harness labels it
    relation_id = harness.add_relation("cluster", "app")
    harness.update_relation_data(relation_id, "app", {"legacy-secret": secret_id})
    config = config_from_harness(harness, "cluster", Shared, migrate=LabelCharm.legacy)
    assert config == Shared(log_level="debug")


@pytest.mark.modules  # needs testing_harness.py
def test_publish_to_harness_over_a_secret_id_that_is_no_string_writes_a_new_secret(
    harness_of: Callable[[type[ops.CharmBase]], Harness[Any]],
):
    from charms.leader_config.v0.testing_harness import config_from_harness, publish_to_harness

    harness = harness_of(TokenCharm)
    relation_id = harness.add_relation("cluster", "app")
    harness.update_relation_data(relation_id, "app", {"secret-id": "5"})  # garbage: a number
    publish_to_harness(harness, "cluster", WithToken(token=pydantic.SecretStr("t-1")))
    assert harness.charm.shared.get() == WithToken(token=pydantic.SecretStr("t-1"))
    assert config_from_harness(harness, "cluster", WithToken) == harness.charm.shared.get()


@pytest.mark.modules  # needs rollouts.py and testing_harness.py
def test_under_harness_only_update_status_checks_again_what_waits_for_a_planned_unit(
    harness_of: Callable[[type[ops.CharmBase]], Harness[Any]],
    monkeypatch: pytest.MonkeyPatch,
):
    from charms.leader_config.v0.testing_harness import publish_to_harness

    harness = harness_of(QuietAckCharm)
    relation_id = harness.add_relation("cluster", "app")
    harness.add_relation_unit(relation_id, "app/1")
    for unit in ("app/0", "app/1"):
        harness.update_relation_data(relation_id, unit, _record(1))
    publish_to_harness(harness, "cluster", Shared())  # revision 1, which both applied
    harness.set_planned_units(3)  # a third unit has not joined yet
    harness.set_leader(True)
    harness.evaluate_status()  # the election hook ends: applied waits for the third unit
    asked: list[str] = []
    planned_units = ops.Application.planned_units

    def counting(app: ops.Application) -> int:
        asked.append("planned_units")
        return planned_units(app)

    monkeypatch.setattr(ops.Application, "planned_units", counting)
    harness.update_config({})  # config-changed
    harness.evaluate_status()
    assert asked == []
