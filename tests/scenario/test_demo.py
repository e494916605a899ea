"""The demo that `tox -e demo` runs tells the whole story and ends with every unit agreeing."""

from __future__ import annotations

import pytest

from demo.timeline import main


def test_the_demo_runs_the_story_and_every_unit_ends_with_the_leaders_view(
    capsys: pytest.CaptureFixture[str],
):
    assert main() == 0
    out = capsys.readouterr().out
    for step in ("deploy 3 units", "log-level=debug", "rotate-password", "leadership moves"):
        assert step in out
    assert "unit/3  relation-created" in out
    assert "refused: leader-config-tester/2 is not the leader" in out
    assert "OK: all 4 units see the leader's config" in out
    assert "changed {admin_password}" in out
