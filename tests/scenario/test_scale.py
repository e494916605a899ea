"""A rollout costs the leader the same few hook tool calls per acknowledgement, at any size.

`benchmarks.fleet.rollout` simulates one revision's rollout with `ops.testing`: the
leader writes, every other unit applies and acknowledges, and the leader handles each
acknowledgement (its `relation-changed` from that unit) in turn. `tox -e bench` runs
it with 50 units and reports the numbers.
"""

from __future__ import annotations

import pytest

from benchmarks.fleet import BASELINE_ACK, RolloutResult, rollout

SIZES = (10, 40)

pytestmark = pytest.mark.modules  # needs rollouts.py or adoption.py


@pytest.fixture(scope="module")
def rollouts() -> dict[int, RolloutResult]:
    return {units: rollout(units) for units in SIZES}


def test_every_unit_acknowledges_once_and_the_leader_shows_the_rollout_complete(
    rollouts: dict[int, RolloutResult],
):
    for units, result in rollouts.items():
        assert result.unit_relation_sets == units - 1
        assert (
            result.leader_status
            == f"rolled out revision {result.revision} to {units}/{units} units"
        )


def _most_per_hook(result: RolloutResult) -> dict[str, int]:
    """The most calls of each hook tool in any one of the leader's acknowledgement hooks."""
    tools = {tool for calls in result.leader_acks for tool in calls.counts()}
    return {tool: max(calls.counts()[tool] for calls in result.leader_acks) for tool in tools}


def test_the_leaders_calls_per_acknowledgement_do_not_grow_with_the_number_of_units(
    rollouts: dict[int, RolloutResult],
):
    small, large = (rollouts[units] for units in SIZES)
    assert len(large.leader_acks) == SIZES[1] - 1
    assert _most_per_hook(large) == _most_per_hook(small)
    assert _most_per_hook(large)["relation-get"] == 2  # the unit's databag, the app's
    totals = {units: sorted({c.total() for c in r.leader_acks}) for units, r in rollouts.items()}
    assert totals[SIZES[0]] == totals[SIZES[1]]  # so the whole rollout costs O(n)


def test_the_leader_reads_only_the_databag_of_the_unit_that_acknowledged(
    rollouts: dict[int, RolloutResult],
):
    result = rollouts[SIZES[1]]
    for unit, calls in enumerate(result.leader_acks, start=1):
        units_read = [bag for bag in calls.databags_read() if not bag.endswith("(app)")]
        assert units_read == [f"leader-config-tester/{unit}"]


def test_the_leader_makes_no_more_databag_reads_per_acknowledgement_than_the_baseline():
    library, baseline = rollout(SIZES[0]), rollout(SIZES[0], BASELINE_ACK)
    for lib, base in zip(library.leader_acks, baseline.leader_acks, strict=True):
        assert lib.counts()["relation-get"] <= base.counts()["relation-get"]
    assert baseline.leader_status == library.leader_status
