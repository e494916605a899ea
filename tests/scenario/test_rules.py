"""Edge rules of change detection, no-op writes and adoption, each pinned by name."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0.leader_config import (
    LeaderConfig,
    LeaderConfigChangedEvent,
    LeaderConfigError,
    Legacy,
)
from charms.leader_config.v0.testing import follower_state, published_state
from conftest import META, Shared, SharedCharm, app_data, counting_relation_sets, peer, peer_of

REVISION = "leader-config-revision"


def _events(ctx: testing.Context[Any]) -> list[frozenset[str]]:
    return [e.changed for e in ctx.emitted_events if isinstance(e, LeaderConfigChangedEvent)]


def _run(
    charm: type[ops.CharmBase],
    state: testing.State,
    do: Callable[[Any], None] | None = None,
    *,
    unit_id: int | None = None,
    hook: str = "update_status",
) -> tuple[testing.State, list[frozenset[str]]]:
    unit = unit_id if unit_id is not None else (0 if state.leader else 1)
    ctx = testing.Context(charm, meta=META, unit_id=unit)
    if hook == "relation_changed":
        trigger = ctx.on.relation_changed(peer_of(state), remote_unit=0 if unit else 1)
    else:
        trigger = getattr(ctx.on, hook)()
    with ctx(trigger, state) as mgr:
        if do is not None:
            do(mgr.charm)
        out = mgr.run()
    return out, _events(ctx)


def _count_validations(monkeypatch: pytest.MonkeyPatch, schema: type[pydantic.BaseModel]):
    calls: list[str] = []
    for name in ("model_validate", "model_validate_json"):
        original = getattr(schema, name)

        def counting(cls: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            calls.append("validate")
            return _original(*args, **kwargs)

        monkeypatch.setattr(schema, name, classmethod(counting))
    return calls


def _with_app_data(state: testing.State, data: Mapping[str, str]) -> testing.State:
    relation = dataclasses.replace(peer_of(state), local_app_data=dict(data))
    return dataclasses.replace(state, relations={relation})


def test_a_unit_whose_view_becomes_none_gets_changed_naming_every_field_it_had():
    follower = published_state("cluster", Shared(log_level="debug"), peers_data={0: {}})
    handled, first = _run(SharedCharm, follower, hook="relation_changed")
    assert first == [frozenset({"log_level", "members"})]
    emptied = _with_app_data(handled, {"other-lib": "x"})
    _, events = _run(SharedCharm, emptied, hook="relation_changed")
    assert events == [frozenset({"log_level", "members"})]


class Token(pydantic.BaseModel):
    token: pydantic.SecretStr | None = None
    region: str = "eu"


class TokenCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Token)


def _digests(state: testing.State) -> dict[str, str]:
    (stored,) = [s for s in state.stored_states if s.owner_path and "LeaderConfig" in s.owner_path]
    return dict(stored.content["digests"])


def test_two_units_keep_different_digests_of_one_secret_value_and_equal_ones_for_plain_fields():
    published = published_state("cluster", Token(token=pydantic.SecretStr("t-1")), leader=True)
    leader, _ = _run(TokenCharm, published, hook="leader_elected")
    follower, _ = _run(TokenCharm, follower_state(leader, "cluster"), hook="relation_changed")
    first, second = _digests(leader), _digests(follower)
    assert first["region"] == second["region"]
    assert first["token"] != second["token"]
    assert "t-1" not in str(first) + str(second)


def test_once_a_unit_handled_a_same_meaning_rewrite_its_next_hook_does_no_validation(
    monkeypatch: pytest.MonkeyPatch,
):
    follower = published_state("cluster", Shared(members=["a"]), peers_data={0: {}})
    handled, _ = _run(SharedCharm, follower, hook="relation_changed")
    data = dict(peer_of(handled).local_app_data)
    rewritten = _with_app_data(handled, {**data, "members": '[ "a" ]'})  # same meaning
    handled, events = _run(SharedCharm, rewritten, hook="relation_changed")
    assert events == []
    calls = _count_validations(monkeypatch, Shared)
    _, events = _run(SharedCharm, handled, hook="relation_changed")
    assert (calls, events) == ([], [])


def test_repeating_a_value_on_a_handled_but_incomplete_databag_publishes_the_missing_keys():
    state = testing.State(leader=True, relations={peer({"log_level": '"debug"'})})
    handled, _ = _run(SharedCharm, state, hook="relation_changed")
    handled = _with_app_data(handled, {"log_level": '"debug"'})

    def repeat(charm: SharedCharm) -> None:
        with counting_relation_sets(charm) as sets:
            charm.shared.update(log_level="debug")
        # Data published without a revision: this write numbers it.
        assert sets == [{"members": "[]", REVISION: "1"}]

    out, _ = _run(SharedCharm, handled, repeat)
    assert app_data(out)["members"] == "[]"


WRITES: dict[str, Callable[[SharedCharm], None]] = {
    "update": lambda c: c.shared.update(log_level="debug"),
    "set": lambda c: c.shared.set(Shared(log_level="debug")),
    "edit": lambda c: _touch(c),
}


def _touch(charm: SharedCharm) -> None:
    with charm.shared.edit():
        pass


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_a_noop_write_on_a_leader_that_never_handled_the_data_still_emits_its_first_view(
    write: Callable[[SharedCharm], None],
):
    data = {"log_level": '"debug"', "members": "[]", REVISION: "3"}
    state = testing.State(leader=True, relations={peer(data)})

    def noop(charm: SharedCharm) -> None:
        with counting_relation_sets(charm) as sets:
            write(charm)
        assert sets == []

    out, events = _run(SharedCharm, state, noop)
    assert events == [frozenset({"log_level", "members"})]
    _, events = _run(SharedCharm, out, noop)
    assert events == []


class StrictCount(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(strict=True)
    replicas: int = 1


class StrictCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", StrictCount)


def test_on_a_strict_model_repeating_a_stored_value_in_another_type_is_validated():
    published = published_state("cluster", StrictCount(replicas=3), leader=True)
    handled, _ = _run(StrictCharm, published, hook="leader_elected")

    def repeat_as_float(charm: StrictCharm) -> None:
        with pytest.raises(pydantic.ValidationError, match="replicas"):
            charm.shared.update(replicas=3.0)

    _run(StrictCharm, handled, repeat_as_float)


def test_after_the_last_secret_field_is_removed_the_next_hook_reads_the_new_layout():
    published = published_state("cluster", Token(token=pydantic.SecretStr("t-1")), leader=True)
    seen: list[Any] = []

    def remove(charm: TokenCharm) -> None:
        charm.shared.update(token=None)
        seen.append(charm.shared.get())

    out, _ = _run(TokenCharm, published, remove)
    assert seen == [Token()]
    assert out.secrets == frozenset()
    assert "secret-id" not in app_data(out)
    _, events = _run(TokenCharm, follower_state(out, "cluster"), hook="relation_changed")
    assert events == [frozenset({"token", "region"})]
    _run(TokenCharm, out, lambda c: seen.append(c.shared.get()))
    assert seen[-1] == Token()


class Adopting(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared, migrate=self._legacy)

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        raw = relation.data[self.app].get("log-level")
        return None if raw is None else Legacy({"log_level": raw}, keys=("log-level",))


@pytest.mark.modules
def test_in_an_adopting_hook_get_after_the_leaders_own_update_returns_the_written_value():
    state = testing.State(leader=True, relations={peer({"log-level": "info"}, peers=())})
    seen: list[Any] = []

    def write_then_read(charm: Adopting) -> None:
        seen.append(charm.shared.get())
        charm.shared.update(members=["a"])
        seen.append(charm.shared.get())

    out, _ = _run(Adopting, state, write_then_read)
    assert seen == [Shared(log_level="info"), Shared(log_level="info", members=["a"])]
    assert app_data(out)[REVISION] == "1"


@pytest.mark.modules
@pytest.mark.parametrize("write", ["update", "set"])
def test_in_an_action_the_leaders_first_write_while_adopting_works(write: str):
    state = testing.State(leader=True, relations={peer({"log-level": "debug"}, peers=())})

    def first_write(charm: Adopting) -> None:
        if write == "update":
            charm.shared.update(log_level="info", members=["a"])
        else:
            charm.shared.set(Shared(log_level="info", members=["a"]))

    out, _ = _run(Adopting, state, first_write)
    data = app_data(out)
    assert (data["log_level"], data["members"], data[REVISION]) == ('"info"', '["a"]', "1")
    assert "log-level" not in data  # a one-unit application: retired at once


@pytest.mark.modules
def test_after_a_failed_write_while_adopting_get_returns_what_is_stored():
    state = testing.State(leader=True, relations={peer({"log-level": "debug"}, peers=())})
    seen: list[Any] = []

    def write_refused(charm: Adopting) -> None:
        seen.append(charm.shared.get())
        backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]

        def refused(*_: Any, **__: Any) -> None:
            raise ops.ModelError("ERROR permission denied")

        original, backend.relation_set = backend.relation_set, refused
        with pytest.raises(LeaderConfigError):
            charm.shared.update(log_level="info")
        backend.relation_set = original
        seen.append(charm.shared.get())

    _run(Adopting, state, write_refused)
    assert seen == [Shared(log_level="debug"), Shared(log_level="debug")]


@pytest.mark.modules
def test_complete_but_undecodable_own_keys_are_adopted_and_published_at_the_end_of_the_hook():
    legacy = {"log_level": "debug", "members": "a,b", "log-level": "debug"}  # raw, not JSON
    state = testing.State(leader=True, relations={peer(legacy, peers=())})
    out, events = _run(Adopting, state, hook="upgrade_charm")
    data = app_data(out)
    assert (data["log_level"], data["members"], data[REVISION]) == ('"debug"', "[]", "1")
    assert "log-level" not in data  # a one-unit application: every unit runs the library
    assert events == [frozenset({"log_level", "members"})]


class Tags(pydantic.BaseModel):
    tags: set[str] = set()


class TagsCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Tags)


def test_repeating_a_handled_set_value_is_a_noop_without_validation_work(
    monkeypatch: pytest.MonkeyPatch,
):
    names = [f"tag-{i}" for i in range(30)]  # enough that iteration order is not sorted
    published = published_state("cluster", Tags(tags=set(names)), leader=True)
    handled, _ = _run(TagsCharm, published, hook="leader_elected")
    calls = _count_validations(monkeypatch, Tags)

    def repeat(charm: TagsCharm) -> None:
        with counting_relation_sets(charm) as sets:
            charm.shared.update(tags=set(names))
        assert sets == []

    _run(TagsCharm, handled, repeat)
    assert calls == []


class Bounded(pydantic.BaseModel):
    port: int = pydantic.Field(default=80, ge=1, le=65535)
    name: Annotated[str, pydantic.Field(max_length=8)] = "x"
    ranks: pydantic.Json[list[int]] = []  # the default is a validated value, as for any field


class BoundedCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Bounded)


def test_repeating_handled_values_of_constrained_and_json_fields_is_a_noop_without_validation(
    monkeypatch: pytest.MonkeyPatch,
):
    stored = Bounded(port=8080, name="db", ranks="[3, 1]")  # pyright: ignore[reportArgumentType]
    published = published_state("cluster", stored, leader=True)
    handled, _ = _run(BoundedCharm, published, hook="leader_elected")
    calls = _count_validations(monkeypatch, Bounded)

    def repeat(charm: BoundedCharm) -> None:
        with counting_relation_sets(charm) as sets:
            charm.shared.update(port=8080, name="db", ranks="[3, 1]")
        assert sets == []

    _run(BoundedCharm, handled, repeat)
    assert calls == []


def test_a_constrained_field_is_checked_by_update_before_anything_is_written():
    published = published_state("cluster", Bounded(), leader=True)
    handled, _ = _run(BoundedCharm, published, hook="leader_elected")

    def write(charm: BoundedCharm) -> None:
        with counting_relation_sets(charm) as sets:
            with pytest.raises(pydantic.ValidationError, match="port"):
                charm.shared.update(port=0)
            with pytest.raises(pydantic.ValidationError, match="name"):
                charm.shared.update(name="far too long")
        assert sets == []

    _run(BoundedCharm, handled, write)


class AdoptingAck(Adopting):
    """Adopts legacy data and acknowledges what it applied."""

    def __init__(self, framework: ops.Framework):
        ops.CharmBase.__init__(self, framework)
        self.shared = LeaderConfig(self, "cluster", Shared, migrate=self._legacy, acknowledge=True)


@pytest.mark.modules
@pytest.mark.parametrize(
    ("charm", "numbered"),
    [(SharedCharm, True), (SharedCharm, False), (AdoptingAck, True)],
    # Unnumbered data with `migrate=` is not in the list: until a write numbers it, the
    # leader looks for legacy data to adopt in each hook.
    ids=["numbered", "unnumbered", "numbered-with-migrate"],
)
def test_a_leaders_hook_on_complete_data_it_handled_does_no_validation(
    monkeypatch: pytest.MonkeyPatch, charm: type[ops.CharmBase], numbered: bool
):
    data = {"log_level": '"debug"', "members": '["a"]', **({REVISION: "2"} if numbered else {})}
    state = testing.State(leader=True, relations={peer(data, peers=(1,))})
    handled, _ = _run(charm, state, hook="leader_elected")
    assert app_data(handled) == data
    calls = _count_validations(monkeypatch, Shared)
    _, events = _run(charm, handled, hook="relation_changed")
    assert (calls, events) == ([], [])


@pytest.mark.modules
def test_with_acknowledgements_a_same_meaning_rewrite_emits_nothing():
    follower = published_state("cluster", Shared(members=["a"]), peers_data={0: {}})
    handled, first = _run(AdoptingAck, follower, hook="relation_changed")
    assert first == [frozenset({"log_level", "members"})]
    data = dict(peer_of(handled).local_app_data)
    rewritten = _with_app_data(handled, {**data, "members": '[ "a" ]'})  # same meaning
    handled, events = _run(AdoptingAck, rewritten, hook="relation_changed")
    assert events == []
    _, events = _run(AdoptingAck, handled, hook="relation_changed")
    assert events == []
