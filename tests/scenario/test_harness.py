"""The tester charm under `ops.testing.Harness`, as many deployed charms still test.

Harness keeps one charm object for every event and has no end of hook: the one
line a Harness test adds is `harness.evaluate_status()`, which ends the hook the
way `ops.main` does (the leader publishes and gets its `changed` event there).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

import ops
import pydantic
import pytest
import yaml
from ops.testing import ActionFailed, Harness

from charm import LeaderConfigTesterCharm, Shared
from charms.leader_config.v0.leader_config import (
    InvalidConfigError,
    LeaderConfig,
    LeaderConfigChangedEvent,
    PendingFieldsError,
)
from charms.leader_config.v0.testing import config_from_harness, publish_to_harness
from conftest import AdoptingCharm, LegacyCluster

CHARMCRAFT: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parents[2] / "charmcraft.yaml").read_text()
)

# The Harness helpers are in testing_harness.py; most tests also run the tester charm.
pytestmark = pytest.mark.modules


def _yaml(data: Any) -> str:
    text: str = yaml.safe_dump(data)  # pyright: ignore[reportUnknownMemberType]
    return text


META = _yaml({key: CHARMCRAFT[key] for key in ("name", "peers")})


@pytest.fixture
def harness() -> Generator[Harness[LeaderConfigTesterCharm], None, None]:
    with warnings.catch_warnings():
        # ops marks Harness itself as pending deprecation in favour of ops.testing.Context.
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        harness = Harness(
            LeaderConfigTesterCharm,
            meta=META,
            config=_yaml(CHARMCRAFT["config"]),
            actions=_yaml(CHARMCRAFT["actions"]),
        )
    harness.add_relation("cluster", "leader-config-tester")
    yield harness
    harness.cleanup()


def test_the_leader_publishes_on_deploy_and_shows_the_config_after_the_hook(
    harness: Harness[LeaderConfigTesterCharm],
):
    harness.set_leader(True)
    harness.update_config({"cluster-name": "prod"})
    harness.begin_with_initial_hooks()
    harness.evaluate_status()  # the end of the hook
    shared = config_from_harness(harness, "cluster", Shared)
    assert shared is not None
    assert shared.cluster_name == "prod"
    assert len(shared.admin_password.get_secret_value()) > 20
    assert harness.charm.unit.status == ops.ActiveStatus("rolled out revision 1 to 1/1 units")


def test_a_follower_reads_what_the_leader_published_and_follows_each_change(
    harness: Harness[LeaderConfigTesterCharm],
):
    harness.begin_with_initial_hooks()
    publish_to_harness(harness, "cluster", Shared(log_level="debug"))
    assert harness.charm.unit.status == ops.ActiveStatus("demo: log-level=debug (revision 1)")
    rotated = Shared(log_level="debug", admin_password=pydantic.SecretStr("rotated-pw"))
    publish_to_harness(harness, "cluster", rotated)
    cfg = harness.charm.shared.get()
    assert cfg is not None
    assert cfg.admin_password.get_secret_value() == "rotated-pw"  # no stale cached value


def test_the_leader_writes_in_an_action_and_rotates_the_password(
    harness: Harness[LeaderConfigTesterCharm],
):
    harness.set_leader(True)
    harness.begin_with_initial_hooks()
    harness.evaluate_status()
    before = config_from_harness(harness, "cluster", Shared)
    assert before is not None
    harness.run_action("set-shared", {"values": json.dumps({"log_level": "error"})})
    harness.run_action("rotate-password")
    harness.evaluate_status()
    after = config_from_harness(harness, "cluster", Shared)
    assert after is not None
    assert after.log_level == "error"
    assert after.admin_password != before.admin_password
    assert harness.charm.unit.status == ops.ActiveStatus("rolled out revision 3 to 1/1 units")


def test_a_followers_write_in_an_action_fails_clearly(harness: Harness[LeaderConfigTesterCharm]):
    harness.begin_with_initial_hooks()
    publish_to_harness(harness, "cluster", Shared())
    with pytest.raises(ActionFailed, match="only the leader"):
        harness.run_action("set-shared", {"values": json.dumps({"log_level": "error"})})


def test_config_from_harness_is_none_before_anything_is_published(
    harness: Harness[LeaderConfigTesterCharm],
):
    harness.begin()
    assert config_from_harness(harness, "cluster", Shared) is None


def test_publish_to_harness_numbers_each_publish_above_the_stored_one_and_labels_the_secret(
    harness: Harness[LeaderConfigTesterCharm],
):
    harness.begin_with_initial_hooks()
    publish_to_harness(harness, "cluster", Shared(admin_password=pydantic.SecretStr("pw-1")))
    publish_to_harness(harness, "cluster", Shared(admin_password=pydantic.SecretStr("pw-2")))
    assert harness.charm.shared.revision == 2
    assert harness.charm.unit.status == ops.ActiveStatus("demo: log-level=info (revision 2)")
    labelled = harness.model.get_secret(label=harness.charm.shared.secret_label)
    assert labelled.peek_content()["admin-password"] == "pw-2"


def test_publish_to_harness_on_the_leader_writes_a_new_revision_of_the_same_secret(
    harness: Harness[LeaderConfigTesterCharm],
):
    harness.set_leader(True)
    harness.begin_with_initial_hooks()
    harness.evaluate_status()
    app = harness.model.app.name
    before = dict(harness.get_relation_data(harness.model.relations["cluster"][0].id, app))
    publish_to_harness(harness, "cluster", Shared(admin_password=pydantic.SecretStr("pw-3")))
    after = harness.get_relation_data(harness.model.relations["cluster"][0].id, app)
    assert after["secret-id"] == before["secret-id"]
    assert int(after["leader-config-revision"]) == int(before["leader-config-revision"]) + 1
    cfg = config_from_harness(harness, "cluster", Shared)
    assert cfg is not None
    assert cfg.admin_password.get_secret_value() == "pw-3"


def test_config_from_harness_names_a_generated_field_the_leader_has_not_published(
    harness: Harness[LeaderConfigTesterCharm],
):
    harness.begin_with_initial_hooks()
    relation_id = harness.model.relations["cluster"][0].id
    # Published by a revision that did not have admin_password yet.
    harness.update_relation_data(relation_id, harness.model.app.name, {"log_level": '"debug"'})
    with pytest.raises(PendingFieldsError) as caught:
        config_from_harness(harness, "cluster", Shared)
    assert caught.value.fields == ("admin_password",)


def test_a_leader_that_steps_down_before_its_hook_ends_still_applies_its_own_write(
    harness: Harness[LeaderConfigTesterCharm],
):
    harness.set_leader(True)
    harness.begin_with_initial_hooks()
    harness.evaluate_status()
    harness.run_action("set-shared", {"values": json.dumps({"log_level": "error"})})
    harness.set_leader(False)  # before the hook ends: the write stands, the event follows
    harness.evaluate_status()
    assert harness.charm.unit.status == ops.ActiveStatus("demo: log-level=error (revision 2)")


def test_a_write_after_the_secret_was_removed_behind_the_librarys_back_makes_a_new_one(
    harness: Harness[LeaderConfigTesterCharm],
):
    harness.set_leader(True)
    harness.begin_with_initial_hooks()
    harness.evaluate_status()
    removed = json.loads(config_databag(harness)["secret-id"])
    harness.model.get_secret(id=removed).remove_all_revisions()
    harness.charm.shared.set(Shared(admin_password=pydantic.SecretStr("fresh")))
    assert json.loads(config_databag(harness)["secret-id"]) != removed
    cfg = config_from_harness(harness, "cluster", Shared)
    assert cfg is not None
    assert cfg.admin_password.get_secret_value() == "fresh"


def config_databag(harness: Harness[Any]) -> dict[str, str]:
    relation_id = harness.model.relations["cluster"][0].id
    return dict(harness.get_relation_data(relation_id, harness.model.app.name))


class Recording(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Shared)
        self.seen: list[tuple[frozenset[str], int | None]] = []
        framework.observe(self.shared.on.changed, self._on_changed)

    def _on_changed(self, event: LeaderConfigChangedEvent) -> None:
        self.seen.append((event.changed, event.revision))


def test_the_changed_event_of_a_leader_that_stepped_down_carries_the_revision_it_wrote():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        harness = Harness(Recording, meta=META)
    harness.add_relation("cluster", "leader-config-tester")
    harness.set_leader(True)
    harness.begin_with_initial_hooks()
    harness.evaluate_status()
    harness.charm.shared.update(log_level="error")
    harness.set_leader(False)
    harness.evaluate_status()
    assert harness.charm.seen[-1] == (frozenset({"log_level"}), 2)
    harness.cleanup()


def test_config_from_harness_reads_legacy_values_through_migrate_as_a_follower_does():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        harness = Harness(AdoptingCharm, meta=META)
    app = "leader-config-tester"
    relation_id = harness.add_relation("cluster", app)
    secret_id = harness.add_model_secret(app, {"password": "kept-pass"})
    legacy = {"salt": "s4lt", "cluster-state": "existing", "admin-secret-id": secret_id}
    harness.update_relation_data(relation_id, app, legacy)
    harness.begin()
    followers_view = harness.charm.shared.get()
    assert followers_view == LegacyCluster(
        state="existing", salt="s4lt", password=pydantic.SecretStr("kept-pass")
    )
    config = config_from_harness(harness, "cluster", LegacyCluster, migrate=AdoptingCharm.legacy)
    assert config == followers_view
    with pytest.raises(InvalidConfigError):  # without migrate: the plaintext is no JSON
        config_from_harness(harness, "cluster", LegacyCluster)
    harness.cleanup()


class Tokened(pydantic.BaseModel):
    token: pydantic.SecretStr | None = None


class TokenCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", Tokened)


@pytest.mark.parametrize("leader", [True, False])
def test_publish_to_harness_without_a_secret_value_drops_the_secret_id_as_the_leader_does(
    leader: bool,
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        harness = Harness(TokenCharm, meta=META)
    harness.set_leader(leader)
    harness.begin()  # publish_to_harness adds the peer relation
    publish_to_harness(harness, "cluster", Tokened(token=pydantic.SecretStr("t-1")))
    assert "secret-id" in config_databag(harness)
    publish_to_harness(harness, "cluster", Tokened())
    assert "secret-id" not in config_databag(harness)
    assert config_databag(harness)["leader-config-revision"] == "2"
    assert config_from_harness(harness, "cluster", Tokened) == Tokened()
    assert harness.charm.shared.get() == Tokened()
    harness.cleanup()


def test_config_from_harness_is_none_without_the_peer_relation():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        harness = Harness(TokenCharm, meta=META)
    harness.begin()
    assert config_from_harness(harness, "cluster", Tokened) is None
    harness.cleanup()


class WithClusterId(pydantic.BaseModel):
    log_level: str = "info"
    cluster_id: str = pydantic.Field(default_factory=lambda: f"id-{len(CLUSTER_IDS)}")


CLUSTER_IDS: list[str] = []


class ReadsInEveryHook(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.shared = LeaderConfig(self, "cluster", WithClusterId)
        framework.observe(self.on.config_changed, self._read)
        framework.observe(self.on.update_status, self._read)

    def _read(self, _: ops.EventBase) -> None:
        cfg = self.shared.get()
        if cfg is not None:
            CLUSTER_IDS.append(cfg.cluster_id)


def test_a_leader_that_steps_down_after_reading_only_stored_generated_values_fails_no_hook():
    """Under Harness each `evaluate_status()` ends a hook; a value generated earlier is stored."""
    CLUSTER_IDS.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        harness = Harness(ReadsInEveryHook, meta=META)
    relation = harness.add_relation("cluster", "leader-config-tester")
    harness.set_leader(True)
    harness.begin()
    harness.charm.on.config_changed.emit()  # generates the cluster id, hands it out
    harness.evaluate_status()  # publishes it
    harness.update_relation_data(relation, "leader-config-tester", {"log_level": ""})
    harness.charm.on.update_status.emit()  # a default to publish, nothing generated
    harness.set_leader(False)
    harness.evaluate_status()  # a refused publish of a default: a warning, not a failure
    assert CLUSTER_IDS == ["id-0", "id-0"]
    harness.cleanup()
