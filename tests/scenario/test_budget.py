"""Hook tool budgets: the library costs no more Juju calls than hand-written code.

The tester charm and a hand-written baseline charm doing the same job
(`benchmarks/charms/baseline.py`) run the same 2-unit scenario through the real
`ops.main`, one process per hook, against the stand-in hook tools of
`benchmarks.hooktools`, which record every call. The scenario deploys with
`cluster-name=bench`, changes `log-level`, and runs `get-shared` and `set-shared`
(see `benchmarks.deployment.scenario`). `tox -e bench` runs it with 3 units and
times it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ops import testing

from benchmarks.deployment import (
    APP,
    BASELINE,
    DEPLOY_CONFIG,
    LIBRARY,
    PEER,
    PROBE,
    RELATION_ID,
    CharmSpec,
    Deployment,
    HookRun,
    Step,
    scenario,
)
from conftest import Shared, make_context, peer

UNITS = 2
LIBRARY_LOGGER = "charms.leader_config"


@dataclass(frozen=True)
class Outcome:
    """The runs of the scenario for one charm, and the model state it ended in."""

    runs: list[HookRun]
    model: dict[str, Any]

    def statuses(self) -> dict[str, Any]:
        return {unit: self.model["status"].get(unit) for unit in self.model["units"]}

    def shared(self) -> dict[str, str]:
        app_data: dict[str, str] = self.model["relations"][str(RELATION_ID)]["app_data"][APP]
        return {key: app_data[key] for key in ("log_level", "cluster_name")}


@dataclass(frozen=True)
class Played:
    """The runs of the scenario for the library and the baseline, and of the probe."""

    library: list[HookRun]
    baseline: list[HookRun]
    probe: dict[int, HookRun]  # read-shared runs by `times`
    outcomes: tuple[Outcome, Outcome]  # library, baseline

    def pairs(self, kind: str, leader: bool) -> list[tuple[HookRun, HookRun]]:
        """The (library, baseline) runs of the steps of one kind on one role."""
        return [
            (lib, base)
            for lib, base in zip(self.library, self.baseline, strict=True)
            if lib.step.kind == kind and lib.leader == leader
        ]

    def library_run(self, label: str) -> HookRun:
        (run,) = [run for run in self.library if run.label == label]
        return run


def _play(spec: CharmSpec, workdir: Path) -> Outcome:
    deployment = Deployment(spec, workdir, units=UNITS, config=DEPLOY_CONFIG)
    runs = deployment.play(scenario(UNITS))
    return Outcome(runs, deployment.model())


def _probe(workdir: Path) -> dict[int, HookRun]:
    deployment = Deployment(PROBE, workdir, units=1, config=DEPLOY_CONFIG)
    deployment.play([Step(0, "install"), Step(0, f"{PEER}-relation-created")])  # publishes
    reads = {times: Step(0, "action:read-shared", params={"times": times}) for times in (1, 3)}
    return {times: deployment.dispatch(step) for times, step in reads.items()}


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Generator[Played, None, None]:
    root = tmp_path_factory.mktemp("budget")
    with ThreadPoolExecutor(max_workers=2) as pool:
        library = pool.submit(_play, LIBRARY, root / "library")
        baseline = pool.submit(_play, BASELINE, root / "baseline")
        probe = pool.submit(_probe, root / "probe")
        lib, base = library.result(), baseline.result()
        yield Played(lib.runs, base.runs, probe.result(), (lib, base))


def _kinds() -> list[tuple[str, bool]]:
    """Every (hook kind, leader) of the scenario, app-data deliveries included."""
    kinds = {(step.kind, step.unit == 0) for step in scenario(UNITS)}
    kinds.add((f"{PEER}-relation-changed (app)", False))
    return sorted(kinds)


def _kind_params() -> list[Any]:
    return [
        pytest.param(kind, leader, id=f"{kind}-{'leader' if leader else 'follower'}")
        for kind, leader in _kinds()
    ]


def test_both_charms_run_the_same_hooks_and_end_in_the_same_state(played: Played):
    library, baseline = played.outcomes
    assert [r.label for r in played.library] == [r.label for r in played.baseline]
    for lib, base in zip(played.library, played.baseline, strict=True):
        assert lib.action == base.action, lib.label
    last_write = {"log_level": '"error"', "cluster_name": '"bench"'}
    assert library.shared() == baseline.shared() == last_write
    assert library.statuses() == baseline.statuses()
    assert all(
        status == {"status": "active", "message": "bench: log-level=error"}
        for status in library.statuses().values()
    )


@pytest.mark.parametrize(("kind", "leader"), _kind_params())
def test_no_hook_makes_more_hook_tool_calls_than_the_baseline(
    played: Played, kind: str, leader: bool
):
    pairs = played.pairs(kind, leader)
    assert pairs, f"the scenario has no {kind} hook on the {'leader' if leader else 'follower'}"
    excess: dict[str, dict[str, int]] = {}
    for lib, base in pairs:
        # ops logs one juju-log line per custom event it emits, and the baseline never
        # reads the secret (test_secret_fields_are_fetched_at_most_once_per_hook).
        allowance = Counter(
            {
                "juju-log": lib.custom_event_log_lines(),
                "secret-get": lib.counts()["secret-get"],
            }
        )
        over = lib.counts() - base.counts() - allowance
        if over:
            excess[lib.label] = dict(over)
    assert not excess, f"calls over the baseline: {excess}"


@pytest.mark.parametrize(
    "label",
    ["config: tester/0 config-changed", "action: tester/0 action:set-shared"],
)
def test_an_effective_write_is_exactly_one_relation_set(played: Played, label: str):
    run = played.library_run(label)
    assert run.app_data_changed
    assert run.counts()["relation-set"] == 1


@pytest.mark.parametrize(
    "label",
    [
        "deploy: tester/0 leader-elected",
        "deploy: tester/0 config-changed",
        "action no-op: tester/0 action:set-shared",
    ],
)
def test_a_write_that_changes_nothing_sends_no_relation_set(played: Played, label: str):
    run = played.library_run(label)
    assert not run.app_data_changed
    assert run.counts()["relation-set"] == 0


def test_reading_the_config_again_in_a_hook_makes_no_further_calls(played: Played):
    once, thrice = played.probe[1], played.probe[3]
    assert once.returncode == thrice.returncode == 0, once.stderr + thrice.stderr
    assert once.action is not None
    assert thrice.action is not None
    assert once.action["results"] == {"published": "1"}
    assert thrice.action["results"] == {"published": "3"}
    assert thrice.counts() == once.counts()


def test_the_library_logs_at_most_one_line_per_hook(played: Played):
    # The tagging must work, or this test would pass on no lines at all.
    assert all(run.log_lines("root") for run in played.library)
    noisy = {
        run.label: [line["message"] for line in lines]
        for run in played.library
        if len(lines := run.log_lines(LIBRARY_LOGGER)) > 1
    }
    assert not noisy


def _counting(calls: list[int], original: Callable[..., Any]) -> Any:
    def validate(cls: type[Shared], obj: Any, **kwargs: Any) -> Shared:
        calls.append(1)
        return original(obj, **kwargs)

    return classmethod(validate)


def count_validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count every validation of `Shared`, from Python data or from JSON."""
    calls: list[int] = []
    for name in ("model_validate", "model_validate_json"):
        monkeypatch.setattr(Shared, name, _counting(calls, getattr(Shared, name)))
    return calls


def test_a_hook_in_which_the_view_did_not_change_does_not_validate_the_config(
    monkeypatch: pytest.MonkeyPatch,
):
    published = {"log_level": '"debug"', "members": '["a"]'}
    relation = peer(published, peers=(0,))
    first = make_context(unit_id=1).run(
        make_context(unit_id=1).on.relation_changed(relation, remote_unit=0),
        testing.State(leader=False, relations={relation}),
    )
    calls = count_validations(monkeypatch)
    ctx = make_context(unit_id=1)
    ctx.run(ctx.on.relation_changed(relation, remote_unit=0), first)
    assert calls == []
    # The same hook with a changed databag validates: the counter does count.
    changed = peer({**published, "log_level": '"info"'}, peers=(0,))
    ctx = make_context(unit_id=1)
    state = testing.State(leader=False, relations={changed}, stored_states=first.stored_states)
    ctx.run(ctx.on.relation_changed(changed, remote_unit=0), state)
    assert calls


def test_secret_fields_are_fetched_at_most_once_per_hook(played: Played):
    assert any(run.counts()["secret-get"] for run in played.library)
    over = {
        run.label: run.counts()["secret-get"]
        for run in played.library
        if run.counts()["secret-get"] > 1
    }
    assert not over
