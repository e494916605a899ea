"""Rules that no other test pinned down exactly, each found by mutation testing.

Every test here fails if the library breaks the rule it is named after (`tox -e mutate`
found a change to the library that the rest of the suite let through).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from typing import Any

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0 import leader_config
from charms.leader_config.v0.leader_config import (
    LeaderConfig,
    LeaderConfigAppliedEvent,
    Legacy,
)
from charms.leader_config.v0.testing import published_state
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


def test_a_name_the_core_does_not_have_raises_attribute_error_naming_it():
    with pytest.raises(AttributeError, match=r"has no attribute 'no_such_name'$"):
        getattr(leader_config, "no_such_name")  # noqa: B009 (the name is the point)


# Acknowledgements (rollouts.py)


class PlainCharm(ops.CharmBase):
    """The charm's revision before it turned acknowledgements on."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared)


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
