"""Hook tool budgets: the library costs no more Juju calls than hand-written code.

Two comparisons, each of two charms doing the same job, run the same 2-unit
scenario through the real `ops.main`, one process per hook, against the stand-in
hook tools of `benchmarks.hooktools`, which record every call:

- "no-ack": the tester charm with `acknowledge=False` (`benchmarks/charms/
  tester_no_ack.py`) against the hand-written baseline (`benchmarks/charms/baseline.py`);
- "pydantic": the same tester charm against the job hand-written with a pydantic
  model (`benchmarks/charms/baseline_pydantic.py`), which reads the secret only when
  the password changed: the library's only extra calls are ops' log line per emitted
  `changed` and one `secret-get` in a hook that decodes a new view, writes or serves
  `get-shared` (see docs/performance.md);
- "ack": the tester charm, whose units acknowledge the revisions they apply,
  against a hand-written baseline that acknowledges too (`baseline_ack.py`).

The scenario deploys with `cluster-name=bench`, changes `log-level`, and runs
`get-shared` and `set-shared` (see `benchmarks.deployment.scenario`); Juju's
`relation-changed` deliveries for changed databags run as they come. `tox -e bench`
runs it with 3 units and times it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ops import testing

from benchmarks.deployment import (
    APP,
    BASELINE,
    BASELINE_ACK,
    BASELINE_PYDANTIC,
    DEPLOY_CONFIG,
    LIBRARY,
    LIBRARY_ACK,
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
COMPARISONS = {
    "no-ack": (LIBRARY, BASELINE),
    "pydantic": (LIBRARY, BASELINE_PYDANTIC),
    "ack": (LIBRARY_ACK, BASELINE_ACK),
}
REVISIONS = 3  # the scenario's effective writes: deploy, juju config, set-shared
UNIT_RECORD = "leader-config-unit"


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

    def unit_data(self, unit: str) -> dict[str, str]:
        return dict(self.model["relations"][str(RELATION_ID)]["unit_data"][unit])


@dataclass(frozen=True)
class Played:
    """The runs of the scenario for the library and the baseline of one comparison."""

    library: list[HookRun]
    baseline: list[HookRun]
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
def plays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Played]:
    """Every comparison, played once for the module."""
    root = tmp_path_factory.mktemp("budget")
    specs = {spec.name: spec for pair in COMPARISONS.values() for spec in pair}
    with ThreadPoolExecutor(max_workers=2) as pool:  # each charm plays once
        futures = {name: pool.submit(_play, spec, root / name) for name, spec in specs.items()}
        outcomes = {name: future.result() for name, future in futures.items()}
    played: dict[str, Played] = {}
    for name, (library, baseline) in COMPARISONS.items():
        lib, base = outcomes[library.name], outcomes[baseline.name]
        played[name] = Played(lib.runs, base.runs, (lib, base))
    return played


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[int, HookRun]:
    """The probe's read-shared runs, by `times`."""
    return _probe(tmp_path_factory.mktemp("probe"))


@pytest.fixture(scope="module", params=list(COMPARISONS))
def played(request: pytest.FixtureRequest, plays: dict[str, Played]) -> Played:
    """One comparison: each test that takes it runs for both."""
    return plays[request.param]


def _relation_sets(run: HookRun, *, app: bool) -> int:
    """The `relation-set` calls of `run` on the application databag, or on the unit's."""
    return sum(
        1
        for call in run.calls
        if call["tool"] == "relation-set" and ("--app" in call["args"]) == app
    )


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


@pytest.mark.parametrize(
    ("comparison", "statuses"),
    [
        ("no-ack", ["bench: log-level=error"] * UNITS),
        ("pydantic", ["bench: log-level=error"] * UNITS),
        (
            "ack",
            [f"rolled out revision {REVISIONS} to {UNITS}/{UNITS} units"]
            + [f"bench: log-level=error (revision {REVISIONS})"] * (UNITS - 1),
        ),
    ],
)
def test_both_charms_run_the_same_hooks_and_end_in_the_same_state(
    plays: dict[str, Played], comparison: str, statuses: list[str]
):
    played = plays[comparison]
    library, baseline = played.outcomes
    assert [r.label for r in played.library] == [r.label for r in played.baseline]
    for lib, base in zip(played.library, played.baseline, strict=True):
        assert lib.action == base.action, lib.label
    last_write = {"log_level": '"error"', "cluster_name": '"bench"'}
    assert library.shared() == baseline.shared() == last_write
    assert library.statuses() == baseline.statuses()
    assert list(library.statuses().values()) == [
        {"status": "active", "message": message} for message in statuses
    ]


@pytest.mark.parametrize(("kind", "leader"), _kind_params())
def test_no_hook_makes_more_hook_tool_calls_than_the_baseline(
    played: Played, kind: str, leader: bool
):
    pairs = played.pairs(kind, leader)
    assert pairs, f"the scenario has no {kind} hook on the {'leader' if leader else 'follower'}"
    excess: dict[str, dict[str, int]] = {}
    for lib, base in pairs:
        # ops logs one juju-log line per custom event it emits, the baseline never reads
        # the secret (test_secret_fields_are_fetched_at_most_once_per_hook), and while a
        # rollout looks complete the leader asks Juju, once, whether it sees every unit
        # (a unit new to the relation may not yet), which the baseline does not.
        allowance = Counter(
            {
                "juju-log": lib.custom_event_log_lines(),
                "secret-get": lib.counts()["secret-get"],
                "goal-state": 1 if leader else 0,
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
    assert _relation_sets(run, app=True) == 1


def test_without_acknowledgements_no_unit_data_is_written(plays: dict[str, Played]):
    played = plays["no-ack"]
    assert not [run.label for run in played.library if _relation_sets(run, app=False)]
    assert not [run.label for run in played.library if run.unit_data_changed]


def test_over_the_pydantic_baseline_only_event_log_lines_and_secret_reads_differ(
    plays: dict[str, Played],
):
    # Hook by hook, every other tool is called exactly as often as by hand: ops logs
    # one juju-log line per changed event it emits to the charm, and the library reads
    # the secret (at most once) in a hook that decodes the whole config, where the
    # hand-written charm reads it only when the password changed (twice then: by id,
    # then with refresh=True).
    played = plays["pydantic"]
    differences: dict[str, dict[str, int]] = {}
    for lib, base in zip(played.library, played.baseline, strict=True):
        tools = lib.counts().keys() | base.counts().keys()
        diff = {tool: lib.counts()[tool] - base.counts()[tool] for tool in sorted(tools)}
        diff = {tool: n for tool, n in diff.items() if n}
        if diff.pop("juju-log", 0) != lib.custom_event_log_lines() or set(diff) - {"secret-get"}:
            differences[lib.label] = diff
    assert not differences
    # The hooks in which the library reads the secret and the baseline does not.
    reads = [
        lib.label
        for lib, base in zip(played.library, played.baseline, strict=True)
        if lib.counts()["secret-get"] > base.counts()["secret-get"]
    ]
    assert reads == [
        "config: tester/0 config-changed",
        "config: tester/1 cluster-relation-changed <- app data",
        "action: tester/1 action:get-shared",
        "action: tester/0 action:set-shared",
        "action: tester/1 cluster-relation-changed <- app data",
    ]


def test_with_acknowledgements_each_unit_sends_one_relation_set_per_revision_it_applied(
    plays: dict[str, Played],
):
    played = plays["ack"]
    library, _ = played.outcomes
    per_unit = Counter[int]()
    for run in played.library:
        per_unit[run.step.unit] += _relation_sets(run, app=False)
    assert per_unit == dict.fromkeys(range(UNITS), REVISIONS)
    assert all(_relation_sets(run, app=False) <= 1 for run in played.library)
    for unit in library.model["units"]:
        assert library.unit_data(unit)[UNIT_RECORD] == f'{{"applied": {REVISIONS}}}'


def test_with_acknowledgements_no_hook_reads_more_than_the_baseline(plays: dict[str, Played]):
    # The library reads one databag per acknowledgement, as the baseline does; the
    # only extra calls are the allowances (ops' log line per event, secret-get).
    played = plays["ack"]
    over = {
        lib.label: (lib.counts()["relation-get"], base.counts()["relation-get"])
        for lib, base in zip(played.library, played.baseline, strict=True)
        if lib.counts()["relation-get"] > base.counts()["relation-get"]
    }
    assert not over


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


def test_reading_the_config_again_in_a_hook_makes_no_further_calls(probe: dict[int, HookRun]):
    once, thrice = probe[1], probe[3]
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
