"""Rules for writing: leader only, validated first, minimal, never half-written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0.leader_config import (
    LeaderConfig,
    LeaderConfigError,
    NotLeaderError,
    NotReadyError,
)
from conftest import (
    META,
    Shared,
    SharedCharm,
    app_data,
    changed_events,
    counting_relation_sets,
    make_context,
    peer,
)

PUBLISHED = {"log_level": '"info"', "members": '["a"]'}
Write = Callable[[LeaderConfig[Shared]], None]


def _edit_to_debug(shared: LeaderConfig[Shared]) -> None:
    with shared.edit() as cfg:
        cfg.log_level = "debug"


WRITES: dict[str, Write] = {
    "update": lambda shared: shared.update(log_level="debug"),
    "set": lambda shared: shared.set(Shared(log_level="debug", members=["a"])),
    "edit": _edit_to_debug,
}
each_write = pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())


def _run(
    write: Write, state: testing.State, ctx: testing.Context[SharedCharm] | None = None
) -> tuple[testing.State, list[dict[str, str]]]:
    ctx = ctx or make_context()
    with ctx(ctx.on.update_status(), state) as mgr:
        with counting_relation_sets(mgr.charm) as sets:
            write(mgr.charm.shared)
        return mgr.run(), sets


@each_write
def test_a_leader_write_stores_json_and_sends_only_changed_keys_in_one_relation_set(
    write: Write,
):
    out, sets = _run(write, testing.State(leader=True, relations={peer(PUBLISHED)}))
    # The revision goes with the change: data published without one counted as 0.
    expected = {"log_level": '"debug"', "leader-config-revision": "1"}
    assert app_data(out) == {**expected, "members": '["a"]'}
    assert sets == [expected]


@pytest.mark.parametrize(
    ("write", "members"),
    [(WRITES["update"], "[]"), (WRITES["set"], '["a"]'), (WRITES["edit"], "[]")],
    ids=WRITES.keys(),
)
def test_the_first_write_publishes_the_complete_config_defaults_included(
    write: Write, members: str
):
    out, sets = _run(write, testing.State(leader=True, relations={peer()}))
    expected = {"log_level": '"debug"', "members": members, "leader-config-revision": "1"}
    assert app_data(out) == expected
    assert sets == [expected]


@each_write
def test_a_write_that_changes_nothing_sends_and_emits_nothing(write: Write):
    data = {"log_level": '"debug"', "members": '["a"]'}
    ctx = make_context()
    out, sets = _run(write, testing.State(leader=True, relations={peer(data)}), ctx)
    assert sets == []
    assert app_data(out) == data
    # The unit's first view is still noticed once; a second identical write emits nothing.
    ctx = make_context()
    out, sets = _run(write, out, ctx)
    assert sets == []
    assert changed_events(ctx) == []


@each_write
def test_a_follower_write_raises_not_leader_error_and_writes_nothing(write: Write):
    state = testing.State(leader=False, relations={peer(PUBLISHED, peers=(0,))})
    ctx = make_context(unit_id=1)
    with ctx(ctx.on.update_status(), state) as mgr:
        with counting_relation_sets(mgr.charm) as sets, pytest.raises(NotLeaderError) as caught:
            write(mgr.charm.shared)
        out = mgr.run()
    assert sets == []
    assert app_data(out) == PUBLISHED
    assert isinstance(caught.value, LeaderConfigError)
    assert caught.value.relation_name == "cluster"
    assert "only the leader" in str(caught.value)
    assert changed_events(ctx) == []


@each_write
@pytest.mark.parametrize("leader", [True, False], ids=["leader", "follower"])
def test_a_write_before_the_peer_relation_exists_raises_not_ready_error(
    write: Write, leader: bool
):
    ctx = make_context()
    with ctx(ctx.on.install(), testing.State(leader=leader)) as mgr:
        with pytest.raises(NotReadyError) as caught:
            write(mgr.charm.shared)
        mgr.run()
    assert "does not exist" in str(caught.value)
    assert caught.value.relation_name == "cluster"


def _unknown_field(shared: LeaderConfig[Shared]) -> None:
    shared.update(log_levle="debug")


def _invalid_update(shared: LeaderConfig[Shared]) -> None:
    shared.update(log_level="trace", members=["b"])


def _invalid_edit(shared: LeaderConfig[Shared]) -> None:
    with shared.edit() as cfg:
        cfg.members = ["b"]
        cfg.log_level = "trace"  # pyright: ignore[reportAttributeAccessIssue]


def _invalid_set(shared: LeaderConfig[Shared]) -> None:
    config = Shared(members=["b"])
    config.log_level = "trace"  # pyright: ignore[reportAttributeAccessIssue]
    shared.set(config)


@pytest.mark.parametrize(
    "bad_write",
    [_unknown_field, _invalid_update, _invalid_edit, _invalid_set],
    ids=["unknown-field", "update", "edit", "set"],
)
def test_bad_input_raises_value_error_before_anything_is_written(bad_write: Write):
    state = testing.State(leader=True, relations={peer(PUBLISHED)})
    ctx = make_context()
    with ctx(ctx.on.update_status(), state) as mgr:
        with counting_relation_sets(mgr.charm) as sets, pytest.raises(ValueError, match="log_lev"):
            bad_write(mgr.charm.shared)
        out = mgr.run()
    assert sets == []
    assert app_data(out) == PUBLISHED


def test_an_unknown_field_name_is_named_with_the_known_fields():
    with pytest.raises(ValueError, match=r"log_levle.*fields: log_level, members"):
        _run(_unknown_field, testing.State(leader=True, relations={peer()}))


def test_set_takes_only_an_instance_of_the_schema():
    class Other(pydantic.BaseModel):
        log_level: str = "debug"

    def set_other(shared: LeaderConfig[Shared]) -> None:
        shared.set(Other())  # pyright: ignore[reportArgumentType]

    with pytest.raises(TypeError, match="set\\(\\) takes a Shared, not Other"):
        _run(set_other, testing.State(leader=True, relations={peer()}))


def test_nothing_is_written_when_the_edit_block_raises():
    def failing_edit(shared: LeaderConfig[Shared]) -> None:
        with shared.edit() as cfg:
            cfg.log_level = "debug"
            raise RuntimeError("changed my mind")

    ctx = make_context()
    with ctx(
        ctx.on.update_status(), testing.State(leader=True, relations={peer(PUBLISHED)})
    ) as mgr:
        with counting_relation_sets(mgr.charm) as sets, pytest.raises(RuntimeError):
            failing_edit(mgr.charm.shared)
        out = mgr.run()
    assert sets == []
    assert app_data(out) == PUBLISHED


def test_update_and_edit_keep_the_fields_they_do_not_touch():
    state = testing.State(leader=True, relations={peer({"log_level": '"debug"'})})

    def both(shared: LeaderConfig[Shared]) -> None:
        shared.update(members=["a"])
        with shared.edit() as cfg:
            cfg.members.append("b")

    out, _ = _run(both, state)
    expected = {"log_level": '"debug"', "members": '["a", "b"]', "leader-config-revision": "2"}
    assert app_data(out) == expected


def test_keys_that_are_not_the_objects_own_are_never_modified_or_deleted():
    foreign = {"other-lib": "not json", "log_level_x": '"keep"', "secret-id": "secret:abc"}
    state = testing.State(leader=True, relations={peer({**foreign, **PUBLISHED})})

    def rewrite(shared: LeaderConfig[Shared]) -> None:
        shared.set(Shared(log_level="debug"))

    out, sets = _run(rewrite, state)
    written = {"log_level": '"debug"', "members": "[]", "leader-config-revision": "1"}
    assert app_data(out) == {**foreign, **written}
    assert all(key in written for call in sets for key in call)


def test_set_repairs_invalid_stored_data_that_update_refuses():
    state = testing.State(leader=True, relations={peer({"log_level": "oops", "members": "[]"})})
    with pytest.raises(LeaderConfigError, match="'log_level'"):
        _run(WRITES["update"], state)
    out, sets = _run(WRITES["set"], state)
    repaired = {"log_level": '"debug"', "members": '["a"]', "leader-config-revision": "1"}
    assert sets == [repaired]
    assert app_data(out) == repaired


class Required(pydantic.BaseModel):
    token: str
    size: int = 1


class RequiredCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Required)


def test_a_schema_with_required_fields_is_published_by_the_first_complete_write():
    ctx = testing.Context(
        RequiredCharm, meta={"name": "app", "peers": {"cluster": {"interface": "x"}}}
    )
    state = testing.State(leader=True, relations={peer()})
    out = ctx.run(ctx.on.leader_elected(), state)
    assert app_data(out) == {}  # nothing to publish by itself: `token` has no default
    with ctx(ctx.on.update_status(), out) as mgr:
        with pytest.raises(pydantic.ValidationError, match="token"):
            mgr.charm.shared.update(size=2)
        with pytest.raises(pydantic.ValidationError, match="token"), mgr.charm.shared.edit():
            pass
        mgr.charm.shared.update(token="t")
        out = mgr.run()
    assert app_data(out) == {"token": '"t"', "size": "1", "leader-config-revision": "1"}


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (ops.ModelError("ERROR permission denied"), NotLeaderError),
        (ops.RelationDataAccessError("not leader"), NotLeaderError),
        (ops.RelationNotFoundError(), NotReadyError),
    ],
    ids=["refused", "not-leader", "relation-gone"],
)
def test_a_failed_relation_set_raises_a_library_error_with_the_cause(
    error: Exception, raised: type[LeaderConfigError]
):
    ctx = make_context()
    with ctx(
        ctx.on.update_status(), testing.State(leader=True, relations={peer(PUBLISHED)})
    ) as mgr:
        backend: Any = mgr.charm.model._backend  # pyright: ignore[reportPrivateUsage]

        def fail(*_: Any, **__: Any) -> None:
            raise error

        backend.relation_set = fail
        with pytest.raises(raised) as caught:
            mgr.charm.shared.update(log_level="debug")
    assert caught.value.__cause__ is error
    assert changed_events(ctx) == []


class Aliased(pydantic.BaseModel):
    admin_password: str = pydantic.Field(default="x", alias="password")


def test_update_refusing_an_alias_says_which_field_it_is_the_alias_of():
    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.shared = LeaderConfig(self, "cluster", Aliased)

    ctx = testing.Context(Charm, meta=META)
    with ctx(ctx.on.update_status(), testing.State(leader=True, relations={peer()})) as mgr:
        with pytest.raises(ValueError, match="alias") as caught:
            mgr.charm.shared.update(password="y")
        mgr.run()
    assert str(caught.value) == (
        "unknown field(s) password for Aliased (fields: admin_password): update() takes"
        " field names; 'password' is the alias of 'admin_password'"
    )


def _failing_edit(shared: LeaderConfig[Shared], how: str) -> None:
    with shared.edit() as cfg:
        cfg.log_level = "debug"
        if how == "raises":
            raise ValueError("the charm gives up")
        cfg.log_level = "verbose"  # pyright: ignore[reportAttributeAccessIssue]


@pytest.mark.parametrize("how", ["raises", "invalid"], ids=["block-raises", "copy-invalid"])
def test_an_edit_that_fails_writes_nothing_and_leaves_nothing_to_publish(how: str):
    ctx = make_context()
    state = testing.State(leader=True, relations={peer()})  # nothing published yet
    with ctx(ctx.on.update_status(), state) as mgr:  # a hook the library does not watch
        with pytest.raises(ValueError, match=r"gives up|log_level"):
            _failing_edit(mgr.charm.shared, how)
        out = mgr.run()
    assert app_data(out) == {}
