"""Rules for the wire format: one JSON key per field, as ops.Relation.save writes it."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from enum import Enum

import ops
import pydantic
from ops import testing

from charms.leader_config.v0.leader_config import LeaderConfig
from conftest import META, Shared, app_data, make_context, peer


class Level(str, Enum):
    LOW = "low"
    HIGH = "high"


class Rich(pydantic.BaseModel):
    """Field types whose JSON forms differ from their Python values."""

    tags: set[str] = set()
    limits: dict[str, int] = {}
    since: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc)
    level: Level = Level.LOW
    maybe: int | None = None
    renamed: str = pydantic.Field(default="x", alias="old-name")


class RichCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Rich)


def _rich_context() -> testing.Context[RichCharm]:
    return testing.Context(RichCharm, meta=META)


def test_data_written_by_relation_save_is_read_by_leader_config():
    config = Shared(log_level="debug", members=["a", "b"])
    ctx = make_context()
    with ctx(ctx.on.update_status(), testing.State(leader=True, relations={peer()})) as mgr:
        relation = mgr.charm.model.get_relation("cluster")
        assert relation is not None
        relation.save(config, mgr.charm.app)
        assert mgr.charm.shared.get() == config
        mgr.run()


def test_relation_load_reads_what_leader_config_writes():
    config = Shared(log_level="debug", members=["a", "b"])
    ctx = make_context()
    with ctx(ctx.on.update_status(), testing.State(leader=True, relations={peer()})) as mgr:
        mgr.charm.shared.set(config)
        relation = mgr.charm.model.get_relation("cluster")
        assert relation is not None
        assert relation.load(Shared, mgr.charm.app) == config
        mgr.run()


def test_values_are_encoded_exactly_as_relation_save_encodes_them():
    config = Shared(log_level="debug", members=["a", "é", '"q"'])
    ctx = make_context()
    with ctx(ctx.on.update_status(), testing.State(leader=True, relations={peer()})) as mgr:
        relation = mgr.charm.model.get_relation("cluster")
        assert relation is not None
        relation.save(config, mgr.charm.app)
        saved = dict(relation.data[mgr.charm.app])
        mgr.charm.shared.set(Shared())
        mgr.charm.shared.set(config)
        # The same bytes under each field's key; the revision marks the data as published.
        assert dict(relation.data[mgr.charm.app]) == {**saved, "leader-config-revision": "2"}
        mgr.run()


def test_an_alias_is_the_databag_key_and_other_types_use_their_json_form():
    ctx = _rich_context()
    state = testing.State(leader=True, relations={peer()})
    with ctx(ctx.on.update_status(), state) as mgr:
        mgr.charm.shared.update(renamed="y", level=Level.HIGH, maybe=3)
        out = mgr.run()
    data = app_data(out)
    assert data["old-name"] == '"y"'
    assert "renamed" not in data
    assert data["level"] == '"high"'
    assert data["since"] == '"2026-01-01T00:00:00Z"'
    assert data["maybe"] == "3"


def test_serialisation_is_deterministic_sets_and_dict_keys_sorted():
    ctx = _rich_context()
    state = testing.State(leader=True, relations={peer()})
    with ctx(ctx.on.update_status(), state) as mgr:
        mgr.charm.shared.update(tags={"b", "c", "a"}, limits={"z": 1, "a": 2})
        out = mgr.run()
    assert app_data(out)["tags"] == '["a", "b", "c"]'
    assert app_data(out)["limits"] == '{"a": 2, "z": 1}'
    ctx = _rich_context()
    with ctx(ctx.on.update_status(), out) as mgr:
        mgr.charm.shared.update(tags={"c", "a", "b"}, limits={"a": 2, "z": 1})
        assert app_data(mgr.run()) == app_data(out)


REVISION = "leader-config-revision"


def test_every_value_is_a_json_document():
    ctx = _rich_context()
    out = ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations={peer()}))
    data = app_data(out)
    assert set(data) == {"tags", "limits", "since", "level", "maybe", "old-name", REVISION}
    decoded = {key: json.loads(value) for key, value in data.items() if key != REVISION}
    assert decoded["maybe"] is None
    assert Rich.model_validate(decoded) == Rich()
