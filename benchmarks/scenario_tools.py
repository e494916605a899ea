"""Helpers for the in-process benchmarks that run charms with `ops.testing`."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
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
