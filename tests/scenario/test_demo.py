"""The demo that `tox -e demo` runs tells the whole story and ends with every unit agreeing."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from demo.timeline import main

pytestmark = pytest.mark.modules  # needs rollouts.py or adoption.py


@pytest.fixture(scope="module")
def demo_output() -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main() == 0
    return out.getvalue()


def test_the_demo_opens_with_a_legend_of_markers_commands_and_the_deliberate_failure(
    demo_output: str,
):
    legend = demo_output.split("Part 1", 1)[0]
    for words in ("random token", "never derived from it", "juju refresh", "juju add-unit"):
        assert words in legend
    assert "One failure is deliberate" in legend


def test_the_demo_runs_the_story_and_every_unit_ends_with_the_leaders_view(demo_output: str):
    for step in ("deploy leader-config-tester -n 3", "log-level=debug", "rotate-password"):
        assert step in demo_output
    assert "leadership moves" in demo_output
    assert "unit/3  relation-created" in demo_output
    assert "refused, as intended: leader-config-tester/2 is not the leader" in demo_output
    assert "OK: all 4 units see the leader's config" in demo_output
    assert "changed {admin_password}" in demo_output


def test_the_demo_shows_rollouts_completing_and_a_late_unit_pending_until_it_acknowledges(
    demo_output: str,
):
    assert "active: rolled out revision 2 to 3/3 units" in demo_output
    joined = re.search(
        r"unit/1 +cluster-relation-joined\(3\) .* rolled out revision 4 to 3/4", demo_output
    )
    assert joined is not None
    assert "active: rolled out revision 4 to 4/4 units" in demo_output


def test_the_demo_refreshes_hand_written_data_keeping_the_password_and_retiring_legacy_keys(
    demo_output: str,
):
    upgrade = demo_output.split("Part 2", 1)[1]
    fingerprints = set(re.findall(r"unit/\d ([0-9a-f]{8})", upgrade))
    assert len(fingerprints) == 1
    assert "(adopted)" in upgrade
    assert "OK: every unit runs the new revision; same password; legacy keys retired" in upgrade
    final_databag = upgrade.rsplit("app databag:", 1)[1]
    assert "admin-secret-id" not in final_databag
    assert "log-level =" not in final_databag
