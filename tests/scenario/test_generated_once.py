"""A value the leader generated and handed out is the value every unit reads.

A `default_factory` value that the leader's `get()` returned in a hook is published
at the end of that hook, whatever else the hook writes; if it cannot be published,
the hook fails, so that no unit acts on a value that is not stored. A hook fails only
then: adopted values that Juju refuses to publish are logged and published later.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Callable, Generator
from typing import Any

import ops
import pydantic
import pytest
from ops import testing

from charms.leader_config.v0.leader_config import LeaderConfig, Legacy, NotLeaderError
from charms.leader_config.v0.testing import config_from_state
from conftest import META, app_data, peer

GENERATED: list[str] = []

pytestmark = pytest.mark.modules  # needs rollouts.py or adoption.py


def generate_password() -> pydantic.SecretStr:
    GENERATED.append("password")
    return pydantic.SecretStr(f"generated-{len(GENERATED)}")


@pytest.fixture(autouse=True)
def _fresh_factory() -> Generator[None, None, None]:
    GENERATED.clear()
    yield
    GENERATED.clear()


class Cluster(pydantic.BaseModel):
    admin_password: pydantic.SecretStr = pydantic.Field(default_factory=generate_password)
    state: str = "new"


class Other(pydantic.BaseModel):
    mode: str = "single"


class GeneratingCharm(ops.CharmBase):
    """Adopts `cluster-state` under a prefix; another object shares the relation."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Cluster, prefix="lc-", migrate=self._legacy)
        self.other = LeaderConfig(self, "cluster", Other, prefix="other-")

    def _legacy(self, relation: ops.Relation) -> Legacy | None:
        old = relation.data[self.app]
        if "cluster-state" not in old:
            return None  # a new deployment
        return Legacy({"state": old["cluster-state"]}, keys=["cluster-state"])


def _handed_out(charm: GeneratingCharm) -> str:
    cfg = charm.shared.get()
    assert cfg is not None
    return cfg.admin_password.get_secret_value()


def _bookkeeping(charm: GeneratingCharm) -> None:
    relation = charm.model.get_relation("cluster")
    assert relation is not None
    relation.data[charm.app]["charm-bookkeeping"] = "1"


def _other_object(charm: GeneratingCharm) -> None:
    charm.other.update(mode="ha")


def _run(
    state: testing.State, do: Callable[[GeneratingCharm], Any]
) -> tuple[testing.State, list[Any]]:
    ctx = testing.Context(GeneratingCharm, meta=META, juju_version="3.6.4")
    with ctx(ctx.on.update_status(), state) as mgr:
        result = do(mgr.charm)
        out = mgr.run()
    return out, result


def _published_password(out: testing.State) -> str:
    cfg = config_from_state(out, "cluster", Cluster, prefix="lc-")
    assert cfg is not None
    return cfg.admin_password.get_secret_value()


@pytest.mark.parametrize("write", [_bookkeeping, _other_object], ids=["charm", "other-object"])
@pytest.mark.parametrize("legacy", [{}, {"cluster-state": "existing"}], ids=["new", "adopting"])
def test_a_generated_value_handed_out_is_published_whatever_else_the_hook_writes(
    write: Callable[[GeneratingCharm], None], legacy: dict[str, str]
):
    state = testing.State(leader=True, relations={peer(legacy)})

    def get_then_write(charm: GeneratingCharm) -> list[str]:
        password = _handed_out(charm)
        write(charm)
        return [password, _handed_out(charm)]

    out, (handed_out, read_again) = _run(state, get_then_write)
    assert read_again == handed_out
    assert _published_password(out) == handed_out
    assert GENERATED == ["password"]


def _refuse_writes(charm: ops.CharmBase, times: int, tool: str = "relation_set") -> None:
    """Make Juju refuse the next `times` calls of a write tool, as after a lost lease."""
    backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]
    original: Callable[..., Any] = getattr(backend, tool)
    refusals = [times]

    def refusing(*args: Any, **kwargs: Any) -> Any:
        if refusals[0] > 0:
            refusals[0] -= 1
            raise ops.ModelError("ERROR this unit is not the leader")
        return original(*args, **kwargs)

    setattr(backend, tool, refusing)


def _get_then_write_refused(times: int) -> Callable[[GeneratingCharm], str]:
    def do(charm: GeneratingCharm) -> str:
        password = _handed_out(charm)
        _refuse_writes(charm, times)
        with pytest.raises(NotLeaderError):
            charm.shared.update(state="running")  # the charm catches the refusal
        return password

    return do


def test_a_refused_write_publishes_nothing_so_the_end_of_the_hook_publishes_what_was_handed_out():
    state = testing.State(leader=True, relations={peer()})
    out, handed_out = _run(state, _get_then_write_refused(times=1))
    assert _published_password(out) == handed_out
    assert GENERATED == ["password"]


def test_a_refused_write_of_a_config_with_values_handed_out_fails_the_hook_if_juju_refuses_again():
    state = testing.State(leader=True, relations={peer()})
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        _run(state, _get_then_write_refused(times=2))
    assert isinstance(caught.value.__cause__, NotLeaderError)


def test_a_refused_publish_of_adopted_values_logs_a_warning_and_fails_no_hook(
    caplog: pytest.LogCaptureFixture,
):
    kept = "kept-password"  # adopted: nothing to generate

    class Adopting(GeneratingCharm):
        def _legacy(self, relation: ops.Relation) -> Legacy | None:
            old = relation.data[self.app]
            values = {"state": old["cluster-state"], "admin_password": kept}
            return Legacy(values, keys=["cluster-state"])

    state = testing.State(leader=True, relations={peer({"cluster-state": "existing"})})
    ctx = testing.Context(Adopting, meta=META, juju_version="3.6.4")
    with caplog.at_level(logging.WARNING), ctx(ctx.on.update_status(), state) as mgr:
        cfg = mgr.charm.shared.get()  # the charm reads the adopted values
        assert cfg is not None
        _refuse_writes(mgr.charm, times=1)
        out = mgr.run()
    assert app_data(out) == {"cluster-state": "existing"}
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "LeaderConfig(relation_name='cluster', schema=Cluster, prefix='lc-'): not published:"
        " Juju refused to write the shared config in 'cluster' from app/0 (leadership is lost"
        " during a hook this way): ERROR this unit is not the leader"
    ]
    assert kept not in str(caplog.records)
    assert GENERATED == []


def test_a_leader_that_steps_down_before_publishing_a_value_it_handed_out_fails_the_hook():
    state = testing.State(leader=True, relations={peer()})

    def get_then_step_down(charm: GeneratingCharm) -> None:
        _handed_out(charm)
        backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]
        backend.is_leader = lambda: False

    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        _run(state, get_then_step_down)
    error = caught.value.__cause__
    assert isinstance(error, NotLeaderError)
    assert str(error) == (
        "app/0 lost leadership before it could publish the values generated for get() in"
        " 'cluster': failing the hook, so that no unit acts on a value that is not stored"
    )


def test_a_leader_that_steps_down_after_reading_only_stored_values_fails_no_hook():
    state = testing.State(leader=True, relations={peer()})
    first, _ = _run(state, _handed_out)

    def get_then_step_down(charm: GeneratingCharm) -> None:
        _handed_out(charm)
        backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]
        backend.is_leader = lambda: False

    out, _ = _run(first, get_then_step_down)
    assert app_data(out) == app_data(first)


def _edit_then_write_refused(times: int) -> Callable[[GeneratingCharm], str]:
    def do(charm: GeneratingCharm) -> str:
        _refuse_writes(charm, times)
        held: list[str] = []
        with pytest.raises(NotLeaderError), charm.shared.edit() as cfg:  # noqa: PT012
            held.append(cfg.admin_password.get_secret_value())  # the charm holds it now
            cfg.state = "running"
        return held[0]

    return do


def test_values_generated_and_handed_out_by_edit_are_published_by_the_end_of_the_hook():
    state = testing.State(leader=True, relations={peer()})
    out, handed_out = _run(state, _edit_then_write_refused(times=1))
    assert _published_password(out) == handed_out
    assert GENERATED == ["password"]


def test_values_generated_and_handed_out_by_edit_fail_the_hook_if_juju_refuses_them_again():
    state = testing.State(leader=True, relations={peer()})
    with pytest.raises(testing.errors.UncaughtCharmError) as caught:
        _run(state, _edit_then_write_refused(times=2))
    assert isinstance(caught.value.__cause__, NotLeaderError)


class ReadsInCollectStatus(ops.CharmBase):
    """Reads the config when it sets its status, after the library's first end of hook."""

    handed_out: typing.ClassVar[list[str]] = []

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Cluster)
        framework.observe(self.on.collect_unit_status, self._on_collect_status)

    def _on_collect_status(self, event: ops.CollectStatusEvent) -> None:
        cfg = self.shared.get()
        assert cfg is not None
        self.handed_out.append(cfg.admin_password.get_secret_value())
        event.add_status(ops.ActiveStatus())


@pytest.mark.parametrize("tool", ["relation_set", "secret_add"])
@pytest.mark.parametrize("refusals", [0, 1, 2], ids=["published", "refused-once", "refused"])
def test_values_read_after_the_leaders_publish_at_the_end_of_the_hook_are_published_or_fail_it(
    refusals: int, tool: str
):
    ReadsInCollectStatus.handed_out.clear()
    state = testing.State(leader=True, relations={peer()})
    ctx = testing.Context(ReadsInCollectStatus, meta=META, juju_version="3.6.4")

    def run() -> testing.State:  # the library publishes at the first end of the hook
        with ctx(ctx.on.leader_elected(), state) as mgr:
            _refuse_writes(mgr.charm, refusals, tool)
            return mgr.run()

    if refusals == 2:  # the publish of what the charm holds is refused again
        with pytest.raises(testing.errors.UncaughtCharmError) as caught:
            run()
        assert isinstance(caught.value.__cause__, NotLeaderError)
        return
    published = config_from_state(run(), "cluster", Cluster)
    assert published is not None
    assert ReadsInCollectStatus.handed_out == [published.admin_password.get_secret_value()]


class ChecksAdoptingTwice(GeneratingCharm):
    """Looks at `adopting` in its handler and again when it sets its status."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(self.on.update_status, self._check)
        framework.observe(self.on.collect_unit_status, self._check)

    def _check(self, _: ops.EventBase) -> None:
        assert self.shared.adopting


def test_a_value_generated_in_a_hook_is_generated_once_however_often_the_hook_reads():
    ctx = testing.Context(ChecksAdoptingTwice, meta=META, juju_version="3.6.4")
    state = testing.State(leader=True, relations={peer({"cluster-state": "existing"})})
    ctx.run(ctx.on.update_status(), state)
    assert GENERATED == ["password"]
