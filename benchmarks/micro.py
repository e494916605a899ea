"""In-process micro-benchmarks of `LeaderConfig`, by schema size and value size.

Each measurement is one call in a fresh charm instance (a fresh hook, as in
production, so nothing is cached from a previous call) run by `ops.testing`;
only the call itself is timed. Schemas: 10, 100 and 1,000 string fields, and a
single string field holding 100 KB or 1 MB.

- `get`: a follower's first `get()` of the hook (reads and validates everything).
- `update`: the leader changes one field with `update()` (one `relation-set`).
- `edit`: the same change through `with edit() as cfg:`.
- `check unchanged` / `check changed`: the library's handler of a follower's
  `relation-changed`, when the databag is what the unit last handled (no event)
  and when one field changed (a changed event).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import ops
import pydantic
from ops import testing

from charms.leader_config.v0.leader_config import LeaderConfig

PEER = "cluster"
META: dict[str, Any] = {"name": "micro", "peers": {PEER: {"interface": "micro_cluster"}}}
BUDGET_SECONDS = 0.4  # per case, after at least MIN_RUNS
MIN_RUNS, MAX_RUNS = 3, 25


class _Case:
    """A schema, its published databag, and one change to one field."""

    def __init__(self, name: str, fields: dict[str, str], changed_value: str):
        self.name = name
        definitions: dict[str, Any] = dict.fromkeys(fields, (str, ""))
        self.schema: type[pydantic.BaseModel] = pydantic.create_model(  # pyright: ignore[reportUnknownMemberType]
            f"Schema_{name.replace(' ', '_')}", **definitions
        )
        self.published = {key: json.dumps(value) for key, value in fields.items()}
        self.field = next(iter(fields))
        self.changed_value = changed_value
        schema = self.schema

        class MicroCharm(ops.CharmBase):
            def __init__(self, framework: ops.Framework):
                super().__init__(framework)
                self.shared = LeaderConfig(self, PEER, schema)

        self.charm_type = MicroCharm

    def relation(self, data: dict[str, str]) -> testing.PeerRelation:
        return testing.PeerRelation(PEER, id=1, local_app_data=data, peers_data={0: {}})

    def context(self) -> testing.Context[Any]:
        return testing.Context(self.charm_type, meta=META, unit_id=1)


def _cases() -> list[_Case]:
    cases = [
        _Case(f"{n} fields", {f"f{i:04d}": f"value-{i}" for i in range(n)}, "changed")
        for n in (10, 100, 1000)
    ]
    cases += [
        _Case(f"1 value of {label}", {"blob": "x" * size}, "y" * size)
        for label, size in (("100 KB", 100_000), ("1 MB", 1_000_000))
    ]
    return cases


def _time_in_hook(case: _Case, state: testing.State, call: Callable[[Any], object]) -> float:
    ctx = case.context()
    with ctx(ctx.on.update_status(), state) as mgr:
        start = time.perf_counter()
        call(mgr.charm)
        seconds = time.perf_counter() - start
        mgr.run()
    return seconds


def _repeat(measure: Callable[[], float]) -> tuple[float, int]:
    """Return the median seconds of `measure()` and the number of runs."""
    times: list[float] = []
    spent = 0.0
    while len(times) < MIN_RUNS or (spent < BUDGET_SECONDS and len(times) < MAX_RUNS):
        start = time.perf_counter()
        times.append(measure())
        spent += time.perf_counter() - start
    return statistics.median(times), len(times)


def _update(case: _Case) -> Callable[[Any], object]:
    return lambda charm: charm.shared.update(**{case.field: case.changed_value})


def _edit(case: _Case) -> Callable[[Any], object]:
    def edit(charm: Any) -> None:
        with charm.shared.edit() as cfg:
            setattr(cfg, case.field, case.changed_value)

    return edit


def _check(case: _Case, *, changed: bool) -> float:
    """Time the library's handler of a follower's relation-changed."""
    seen = case.context().run(
        case.context().on.relation_changed(case.relation(case.published), remote_unit=0),
        testing.State(leader=False, relations={case.relation(case.published)}),
    )
    data = dict(case.published)
    if changed:
        data[case.field] = json.dumps(case.changed_value)
    relation = case.relation(data)
    state = testing.State(leader=False, relations={relation}, stored_states=seen.stored_states)
    ctx = case.context()
    with ctx(ctx.on.update_status(), state) as mgr:
        charm = mgr.charm
        peer = charm.model.get_relation(PEER)
        remote = charm.model.get_unit("micro/0")
        start = time.perf_counter()
        charm.on[PEER].relation_changed.emit(peer, charm.app, remote)
        seconds = time.perf_counter() - start
        mgr.run()
    return seconds


def _measure(case: _Case) -> dict[str, Any]:
    follower = testing.State(leader=False, relations={case.relation(case.published)})
    leader = testing.State(leader=True, relations={case.relation(case.published)})
    measures: dict[str, Callable[[], float]] = {
        "get": lambda: _time_in_hook(case, follower, lambda charm: charm.shared.get()),
        "update": lambda: _time_in_hook(case, leader, _update(case)),
        "edit": lambda: _time_in_hook(case, leader, _edit(case)),
        "check unchanged": lambda: _check(case, changed=False),
        "check changed": lambda: _check(case, changed=True),
    }
    row: dict[str, Any] = {"case": case.name}
    for operation, measure in measures.items():
        median, runs = _repeat(measure)
        row[operation] = round(median * 1000, 3)
        row[f"{operation} runs"] = runs
    return row


def run() -> list[dict[str, Any]]:
    """Run every case; return one row per case with the median ms of each operation."""
    return [_measure(case) for case in _cases()]


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
