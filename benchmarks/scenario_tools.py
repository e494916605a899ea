"""Helpers for the in-process benchmarks that run charms with `ops.testing`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ops
import yaml

from benchmarks.deployment import REPO


def charm_metadata() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Return (meta, config, actions) for `ops.testing.Context` from `charmcraft.yaml`."""
    with (REPO / "charmcraft.yaml").open(encoding="utf-8") as f:
        raw: dict[str, Any] = yaml.safe_load(f)
    meta = {key: raw[key] for key in ("name", "peers") if key in raw}
    return meta, raw.get("config", {}), raw.get("actions", {})


@contextmanager
def counting_relation_sets(charm: ops.CharmBase) -> Generator[list[int], None, None]:
    """Count the relation-set calls the charm makes while the block runs."""
    backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]
    original: Callable[..., None] = backend.relation_set
    calls: list[int] = []

    def relation_set(relation_id: int, data: Mapping[str, str], is_app: bool, **kwargs: Any):
        calls.append(relation_id)
        original(relation_id, data, is_app, **kwargs)

    backend.relation_set = relation_set
    try:
        yield calls
    finally:
        backend.relation_set = original


# The backend methods that run a hook tool in production, by tool name.
HOOK_TOOLS = {
    "action_fail": "action-fail",
    "action_get": "action-get",
    "action_log": "action-log",
    "action_set": "action-set",
    "config_get": "config-get",
    "is_leader": "is-leader",
    "planned_units": "goal-state",
    "juju_log": "juju-log",
    "relation_get": "relation-get",
    "relation_ids": "relation-ids",
    "relation_list": "relation-list",
    "relation_remote_app_name": "relation-list",
    "relation_set": "relation-set",
    "secret_add": "secret-add",
    "secret_get": "secret-get",
    "secret_info_get": "secret-info-get",
    "secret_remove": "secret-remove",
    "secret_set": "secret-set",
    "status_get": "status-get",
    "status_set": "status-set",
}


@dataclass
class ToolCalls:
    """The hook tool calls a charm made in one hook, as `counting_hook_tools` records them.

    Attributes:
        calls: (tool, what it read or wrote) in order: for `relation-get` and
            `relation-set`, the unit or application whose databag.
    """

    calls: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])

    def counts(self) -> Counter[str]:
        """The number of calls per hook tool; `is-leader` at most once, as ops caches it."""
        counts = Counter(tool for tool, _ in self.calls)
        counts["is-leader"] = min(counts["is-leader"], 1)
        return +counts

    def total(self) -> int:
        """All the calls of the hook."""
        return sum(self.counts().values())

    def databags_read(self) -> list[str]:
        """The databags the hook read with `relation-get`, in order."""
        return [what for tool, what in self.calls if tool == "relation-get"]


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return kwargs[name] if name in kwargs else args[index]


@contextmanager
def counting_hook_tools(charm: ops.CharmBase) -> Generator[ToolCalls, None, None]:
    """Record the hook tool calls the charm makes while the block runs.

    ops.testing's backend does not cache `is-leader` as ops does for a lease: `counts()`
    counts it once per hook.
    """
    backend: Any = charm.model._backend  # pyright: ignore[reportPrivateUsage]
    recorded = ToolCalls()

    def wrap(name: str, tool: str) -> Callable[..., Any]:
        original: Callable[..., Any] = getattr(backend, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            what = ""
            if name == "relation_get":
                member = _argument(args, kwargs, 1, "member_name")
                is_app = _argument(args, kwargs, 2, "is_app")
                what = f"{member} (app)" if is_app else str(member)
            elif name == "relation_set":
                what = "app" if _argument(args, kwargs, 2, "is_app") else "unit"
            recorded.calls.append((tool, what))
            return original(*args, **kwargs)

        return call

    wrapped = [name for name in HOOK_TOOLS if hasattr(backend, name)]
    for name in wrapped:
        setattr(backend, name, wrap(name, HOOK_TOOLS[name]))
    try:
        yield recorded
    finally:
        for name in wrapped:
            delattr(backend, name)
