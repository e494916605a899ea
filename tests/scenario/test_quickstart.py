"""The README's quick start is a whole charm: assembled from the docs, it works as written.

The docs mark each file of the quick-start charm with `<!-- file: path -->` before its
block: the charm and its ops.testing tests in README.md, more test files (Harness
among them) in docs/testing.md. These tests write those blocks into a charm
directory, with the library's files in `lib/`, as a charm author who copies them
would, and then:

- run the charm's hooks under ops.testing, with the metadata, config options and
  actions of the assembled `charmcraft.yaml`: the leader publishes on `config-changed`
  and generates the admin password once, a follower reads both, an invalid config
  value blocks the leader instead of failing the hook;
- run the docs' test files with pytest in a subprocess, in that directory, with its
  `pyproject.toml`;
- type-check the charm and its tests with pyright in strict mode (`tox -e static`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import types
from collections.abc import Generator
from pathlib import Path
from typing import Any

import ops
import pydantic
import pytest
import yaml
from ops import testing

import docs_blocks
from charms.leader_config.v0 import leader_config
from charms.leader_config.v0.testing import config_from_state, follower_state

FILES = {
    "charmcraft.yaml": "README.md",
    "pyproject.toml": "README.md",
    "src/charm.py": "README.md",
    "tests/unit/test_charm.py": "README.md",
    "tests/unit/test_harness.py": "docs/testing.md",
}
TEST_FILES = sorted(file for file in docs_blocks.quick_start_files() if file.startswith("tests/"))
# The README's own test files need only the core and testing.py; the others (Harness) more.
README_TESTS = [file for file in TEST_FILES if FILES.get(file) == "README.md"]
LIBRARY_DIR = Path("lib/charms/leader_config/v0")


def test_each_file_is_in_its_document():
    blocks = docs_blocks.quick_start_files()
    assert {file: blocks[file].document for file in FILES} == FILES
    assert set(TEST_FILES) >= {file for file in FILES if file.startswith("tests/")}


def assemble(directory: Path) -> Path:
    """Write the docs' quick-start files, and the library, into `directory`."""
    blocks = docs_blocks.quick_start_files()
    missing = [file for file in FILES if file not in blocks]
    assert not missing, f"the docs have no block marked `<!-- file: ... -->` for {missing}"
    for file, block in blocks.items():
        (directory / file).parent.mkdir(parents=True, exist_ok=True)
        (directory / file).write_text(block.code)
    (directory / LIBRARY_DIR).mkdir(parents=True)
    # The library's files as the tests import them (in tox -e unit-core, the core alone).
    for module in sorted(Path(leader_config.__file__).parent.glob("*.py")):
        shutil.copy(module, directory / LIBRARY_DIR / module.name)
    return directory


@pytest.fixture(scope="module")
def charm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble(tmp_path_factory.mktemp("my-charm"))


@pytest.fixture(scope="module")
def charmcraft(charm_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((charm_dir / "charmcraft.yaml").read_text())
    return data


@pytest.fixture(scope="module")
def charm_module(charm_dir: Path) -> Generator[types.ModuleType, None, None]:
    """The assembled `src/charm.py`, imported under a name of its own."""
    name = "quickstart_charm"
    spec = importlib.util.spec_from_file_location(name, charm_dir / "src" / "charm.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic looks the model's module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


def charm_and_schema(
    module: types.ModuleType,
) -> tuple[type[ops.CharmBase], type[pydantic.BaseModel]]:
    charms = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ops.CharmBase)
        and value.__module__ == module.__name__
    ]
    assert len(charms) == 1, f"src/charm.py should define one charm, not {charms}"
    return charms[0], module.Shared


def context(
    module: types.ModuleType, charmcraft: dict[str, Any], *, unit_id: int = 0
) -> testing.Context[ops.CharmBase]:
    """A Context with the metadata, config options and actions of the assembled charmcraft.yaml."""
    charm, _ = charm_and_schema(module)
    meta = {key: value for key, value in charmcraft.items() if key not in ("config", "actions")}
    return testing.Context(
        charm,
        meta=meta,
        config=charmcraft["config"],
        actions=charmcraft["actions"],
        unit_id=unit_id,
    )


def password(config: pydantic.BaseModel | None) -> str:
    """The admin password of a config read from a state."""
    assert config is not None
    secret: pydantic.SecretStr = getattr(config, "admin_password")  # noqa: B009 (any schema)
    return secret.get_secret_value()


# The files


def test_charmcraft_yaml_declares_the_peer_endpoint_and_the_option_the_charm_reads(
    charm_dir: Path, charmcraft: dict[str, Any]
):
    assert charmcraft["peers"] == {"cluster": {"interface": "my_charm_cluster"}}
    assert charmcraft["config"]["options"]["log-level"]["default"] == "info"
    assert set(charmcraft["actions"]) == {"get-admin-password"}
    assert charmcraft["parts"]["charm"]["plugin"] == "uv"
    code = (charm_dir / "src" / "charm.py").read_text()
    assert set(re.findall(r'self\.config\.get\("([^"]+)"', code)) == {"log-level"}
    assert 'LeaderConfig(self, "cluster"' in code
    assert "default_factory=" in code
    assert "ops.main(MyCharm)" in code


def test_pyproject_lists_pydantic_the_test_dependencies_and_the_test_path(charm_dir: Path):
    text = (charm_dir / "pyproject.toml").read_text()
    for requirement in ('"ops>=2.23,<4"', '"pydantic>=2,<3"', '"ops[testing]', '"pytest'):
        assert requirement in text
    assert 'pythonpath = ["lib", "src"]' in text


# The charm's hooks


def test_the_leader_publishes_on_deploy_and_on_config_changed(
    charm_module: types.ModuleType, charmcraft: dict[str, Any]
):
    _, shared = charm_and_schema(charm_module)
    state = testing.State(
        leader=True,
        config={"log-level": "debug"},
        relations={testing.PeerRelation("cluster", peers_data={1: {}})},
    )
    relation = next(iter(state.relations))
    for event in ("install", "relation_created", "leader_elected", "config_changed", "start"):
        ctx = context(charm_module, charmcraft)
        trigger = (
            ctx.on.relation_created(relation)
            if event == "relation_created"
            else getattr(ctx.on, event)()
        )
        state = ctx.run(trigger, state)
        (relation,) = state.get_relations("cluster")
    deployed = config_from_state(state, "cluster", shared)
    assert deployed is not None
    assert getattr(deployed, "log_level") == "debug"  # noqa: B009 (any schema)
    assert state.unit_status == testing.ActiveStatus("log level debug")

    ctx = context(charm_module, charmcraft)
    state = dataclasses.replace(state, config={"log-level": "info"})
    out = ctx.run(ctx.on.config_changed(), state)
    changed = config_from_state(out, "cluster", shared)
    assert changed is not None
    assert getattr(changed, "log_level") == "info"  # noqa: B009 (any schema)
    assert password(changed) == password(deployed)  # generated once, on deploy
    assert out.unit_status == testing.ActiveStatus("log level info")


def test_a_follower_reads_what_the_leader_published(
    charm_module: types.ModuleType, charmcraft: dict[str, Any]
):
    _, shared = charm_and_schema(charm_module)
    leader = context(charm_module, charmcraft)
    state = testing.State(
        leader=True,
        config={"log-level": "debug"},
        relations={testing.PeerRelation("cluster", peers_data={1: {}})},
    )
    leader_out = leader.run(leader.on.config_changed(), state)
    follower = context(charm_module, charmcraft, unit_id=1)
    state = follower_state(leader_out, "cluster")
    (relation,) = state.get_relations("cluster")
    out = follower.run(follower.on.relation_changed(relation, remote_unit=0), state)
    assert out.unit_status == testing.ActiveStatus("log level debug")
    (relation,) = out.get_relations("cluster")
    assert relation.local_app_data == dict(next(iter(leader_out.relations)).local_app_data)

    follower = context(charm_module, charmcraft, unit_id=1)
    follower.run(follower.on.action("get-admin-password"), out)
    published = password(config_from_state(leader_out, "cluster", shared))
    assert follower.action_results == {"password": published}


def test_the_action_fails_on_a_follower_while_nothing_is_published(
    charm_module: types.ModuleType, charmcraft: dict[str, Any]
):
    follower = context(charm_module, charmcraft, unit_id=1)
    state = testing.State(relations={testing.PeerRelation("cluster", peers_data={0: {}})})
    with pytest.raises(testing.ActionFailed, match="not shared the password yet"):
        follower.run(follower.on.action("get-admin-password"), state)


def test_an_invalid_value_blocks_the_leader_instead_of_failing_the_hook_then_recovers(
    charm_module: types.ModuleType, charmcraft: dict[str, Any]
):
    _, shared = charm_and_schema(charm_module)
    state = testing.State(
        leader=True,
        config={"log-level": "debug"},
        relations={testing.PeerRelation("cluster", peers_data={1: {}})},
    )
    ctx = context(charm_module, charmcraft)
    published = ctx.run(ctx.on.config_changed(), state)
    ctx = context(charm_module, charmcraft)
    blocked = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(published, config={"log-level": "warning"})
    )  # `juju config my-charm log-level=warning`: no UncaughtCharmError
    assert isinstance(blocked.unit_status, testing.BlockedStatus)
    assert "warning" in blocked.unit_status.message
    kept = config_from_state(blocked, "cluster", shared)
    assert kept == config_from_state(published, "cluster", shared)
    assert getattr(kept, "log_level") == "debug"  # noqa: B009 (any schema)
    # Back to the value already published: nothing to write, but no longer blocked.
    ctx = context(charm_module, charmcraft)
    fixed = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(blocked, config={"log-level": "debug"})
    )
    assert fixed.unit_status == testing.ActiveStatus("log level debug")


# The docs' test files, and the type check


def _run_tests(charm_dir: Path, files: list[str]) -> None:
    result = subprocess.run(  # noqa: S603 (our own test run)
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", *files],
        cwd=charm_dir,
        capture_output=True,
        text=True,
        check=False,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))},
            "PYTHONDONTWRITEBYTECODE": "1",
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for file in files:
        assert re.search(rf"^{re.escape(file)}::\w+ PASSED", output, re.MULTILINE), output
    assert " failed" not in output, output
    assert " error" not in output, output


def test_the_readmes_test_files_pass_against_the_assembled_charm(charm_dir: Path):
    _run_tests(charm_dir, README_TESTS)


@pytest.mark.modules  # the Harness test file needs testing_harness.py
def test_the_other_docs_test_files_pass_against_the_assembled_charm(charm_dir: Path):
    _run_tests(charm_dir, [file for file in TEST_FILES if file not in README_TESTS])


@pytest.mark.pyright
def test_the_assembled_charm_type_checks_in_strict_mode(tmp_path: Path):
    charm_dir = assemble(tmp_path)
    # The quick start's pyproject.toml configures pyright (extraPaths); strict mode on top.
    for file in ("src/charm.py", *TEST_FILES):
        path = charm_dir / file
        path.write_text(f"# pyright: strict\n{path.read_text()}")
    result = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable],
        cwd=charm_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    problems = [
        f"{d['file']}:{d['range']['start']['line']}: {d['message']}"
        for d in report["generalDiagnostics"]
        if d["severity"] in ("error", "warning")
    ]
    assert not problems, "\n".join(problems)
    assert report["summary"]["filesAnalyzed"] >= len(TEST_FILES) + 1
