"""Run a charm's hooks through the real `ops.main`, one fresh process per hook.

A `Deployment` is one application of N units on a simulated Juju model. Each unit
has a charm directory as Juju unpacks it (`metadata.yaml`, `config.yaml` and
`actions.yaml` split from the repository's `charmcraft.yaml`, and the unit's
`.unit-state.db`), and each hook is dispatched the way Juju's `dispatch` script
does: the charm's entry script runs with `JUJU_DISPATCH_PATH`, `JUJU_UNIT_NAME`,
`JUJU_CHARM_DIR`, `JUJU_MODEL_NAME`, `JUJU_VERSION`, the relation and action
variables, the charm's `lib` on `PYTHONPATH`, and the stand-in hook tools of
`benchmarks.hooktools` first on `PATH`. Nothing else of the calling process's
environment leaks in.

The model state (config, relation scopes and databags, statuses, actions,
secrets) lives in a JSON file that the stand-in tools read and write. Like Juju,
the deployment keeps a hook's changes only if the hook exits 0, and delivers a
peer `relation-changed` (with no remote unit) to every other unit in the relation
when a hook changes the application databag, and one naming the writer to every
unit that has seen it join when a hook changes the writer's own unit databag.

Counting runs tag each log record with its logger name (a `sitecustomize` on
`PYTHONPATH` prefixes the message), so that `juju-log` calls can be attributed to
ops, the charm or the library; timed runs do not.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks import hooktools

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
APP = "tester"
PEER = "cluster"
RELATION_ID = 0
JUJU_VERSION = "3.6.8"
MODEL_UUID = "0b5b2d9c-6b5e-4a51-9d8e-5a0a3c1f7e42"


@dataclass(frozen=True)
class CharmSpec:
    """A charm to dispatch: its entry script and what its processes import.

    Attributes:
        name: a short name for reports.
        entry: the script Juju's `dispatch` would run (`src/charm.py`).
        python_path: folders on `PYTHONPATH` (the charm's `lib`, ...).
        extra_actions: actions added to those of `charmcraft.yaml`.
    """

    name: str
    entry: Path
    python_path: tuple[Path, ...] = (REPO / "lib",)
    extra_actions: Mapping[str, Any] = field(default_factory=dict[str, Any])


# The tester charm without acknowledgements against the hand-written baseline, and the
# tester charm itself (units acknowledge what they applied) against a baseline that
# also acknowledges.
LIBRARY = CharmSpec(
    "library",
    BENCH_DIR / "charms" / "tester_no_ack.py",
    python_path=(REPO / "lib", REPO / "src"),
)
BASELINE = CharmSpec("baseline", BENCH_DIR / "charms" / "baseline.py")
# The same job without acknowledgements, hand-written with a pydantic model, and the
# tester charm's job written as a reconciler that observes nothing of the library's.
BASELINE_PYDANTIC = CharmSpec("baseline-pydantic", BENCH_DIR / "charms" / "baseline_pydantic.py")
RECONCILER = CharmSpec(
    "reconciler",
    BENCH_DIR / "charms" / "tester_reconciler.py",
    python_path=(REPO / "lib", REPO / "src"),
)
LIBRARY_ACK = CharmSpec("library+ack", REPO / "src" / "charm.py")
BASELINE_ACK = CharmSpec(
    "baseline+ack", BENCH_DIR / "charms" / "baseline_ack.py", python_path=(REPO / "lib", REPO)
)
PROBE = CharmSpec(
    "probe",
    BENCH_DIR / "charms" / "probe.py",
    python_path=(REPO / "lib", REPO / "src"),
    extra_actions={
        "read-shared": {
            "description": "Call get() `times` times.",
            "params": {"times": {"type": "integer"}},
            "required": ["times"],
        }
    },
)

# Interpreter start-up code for the hook processes, by purpose.
_LOG_TAGGING = f"""\
import logging

_make_record = logging.getLogRecordFactory()
_OPEN, _CLOSE = {hooktools.LOG_TAG_OPEN!r}, {hooktools.LOG_TAG_CLOSE!r}


def _tagged_record(*args, **kwargs):
    record = _make_record(*args, **kwargs)
    if isinstance(record.msg, str):
        record.msg = _OPEN + record.name + _CLOSE + record.msg
    return record


logging.setLogRecordFactory(_tagged_record)
"""
# pydantic finishes importing itself on its first model class (plugin discovery through
# importlib.metadata, the schema-building modules): a throwaway model completes its
# import, whatever the schema; the charm's own model is then built in the charm.
PYDANTIC_PRELOAD = """\
import pydantic
from pydantic import BaseModel, ValidationError


class _ImportCompleted(BaseModel):
    done: bool = True
"""


def _children_cpu_seconds() -> float:
    """The CPU time of this process's waited-for child processes and their own, so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def unit_name(index: int) -> str:
    """Return the name of unit `index` of the application."""
    return f"{APP}/{index}"


@dataclass(frozen=True)
class Step:
    """One hook for one unit.

    Attributes:
        unit: the unit index (unit 0 is the leader).
        hook: the hook name (`install`, `cluster-relation-changed`, ...) or, for an
            action, `action:<name>`.
        remote: for relation hooks, the remote unit's index; None for a change of
            the application databag.
        params: action parameters.
        config: config values to set before this hook (as `juju config` does).
        phase: the part of the scenario this hook belongs to.
    """

    unit: int
    hook: str
    remote: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict[str, Any])
    config: Mapping[str, Any] = field(default_factory=dict[str, Any])
    phase: str = "deploy"

    @property
    def action(self) -> str | None:
        """The action name, or None for a hook."""
        return self.hook.partition(":")[2] if self.hook.startswith("action:") else None

    @property
    def kind(self) -> str:
        """The hook, qualified so that steps of one kind cost alike."""
        if self.action is not None:
            word = "set" if self.params.get("values") else ""
            return f"{self.action} action{' ' + word if word else ''}".strip()
        if self.hook.endswith(("-relation-joined", "-relation-changed")):
            return f"{self.hook} ({'app' if self.remote is None else 'unit'})"
        return self.hook

    @property
    def label(self) -> str:
        """A readable, unique-enough name: phase, unit, hook, remote."""
        remote = "" if self.remote is None else f" <- {unit_name(self.remote)}"
        if self.hook.endswith("-relation-changed") and self.remote is None:
            remote = " <- app data"
        return f"{self.phase}: {unit_name(self.unit)} {self.hook}{remote}"


@dataclass
class HookRun:
    """What one hook dispatch did.

    Attributes:
        step: the hook.
        label: the step's label, made unique within a scenario.
        leader: whether the unit was the leader.
        calls: the hook tool calls, in order (records of `benchmarks.hooktools`).
        seconds: the wall time of the whole hook process.
        cpu_seconds: the CPU time (user and system) of the hook process and of the
            hook tool processes it ran; less disturbed than `seconds` by other work on
            the machine, and meaningful only while one hook runs at a time.
        returncode: the hook process's exit status.
        stderr: the hook process's standard error.
        action: the action's outcome (`results`, `failed`, `log`), for actions.
        app_data_changed: whether the hook changed the application databag.
        unit_data_changed: whether the hook changed the unit's own databag.
    """

    step: Step
    label: str
    leader: bool
    calls: list[dict[str, Any]]
    seconds: float
    returncode: int
    stderr: str
    action: dict[str, Any] | None = None
    app_data_changed: bool = False
    unit_data_changed: bool = False
    cpu_seconds: float = 0.0

    def counts(self) -> Counter[str]:
        """Return the number of calls per hook tool."""
        return Counter(call["tool"] for call in self.calls)

    def log_lines(self, logger_prefix: str) -> list[dict[str, Any]]:
        """Return the `juju-log` calls made by loggers named `logger_prefix*`."""
        return [
            call
            for call in self.calls
            if call["tool"] == "juju-log" and str(call.get("logger")).startswith(logger_prefix)
        ]

    def custom_event_log_lines(self) -> int:
        """Return the number of `juju-log` lines ops writes for emitted custom events."""
        return sum(
            1
            for call in self.calls
            if call["tool"] == "juju-log" and call["message"].startswith("Emitting custom event")
        )


@dataclass(frozen=True)
class Snapshot:
    """The model and one unit's local state, to replay a hook from the same start."""

    unit: int
    model: str
    unit_db: bytes | None


class HookError(RuntimeError):
    """A hook exited with a non-zero status where the scenario expects success."""


def _charmcraft() -> dict[str, Any]:
    with (REPO / "charmcraft.yaml").open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def config_defaults() -> dict[str, Any]:
    """Return the default of every config option in `charmcraft.yaml`."""
    options: dict[str, Any] = _charmcraft()["config"]["options"]
    return {name: option["default"] for name, option in options.items() if "default" in option}


class Deployment:
    """An application of `units` units running `spec`, with a simulated Juju model.

    Args:
        spec: the charm.
        workdir: an empty folder for charm directories, tools and state.
        units: the number of units; unit 0 is the leader.
        config: config values set at deploy time (over the defaults).
    """

    def __init__(
        self,
        spec: CharmSpec,
        workdir: Path,
        *,
        units: int = 3,
        config: Mapping[str, Any] | None = None,
    ):
        self.spec = spec
        self.workdir = workdir
        self.units = units
        workdir.mkdir(parents=True, exist_ok=True)
        self._tools = hooktools.install(workdir / "bin")
        self._model = workdir / "model.json"
        self._calls = workdir / "calls.jsonl"
        self._calls.touch()
        self._sites = {
            "tag-logs": self._site("tag-logs", _LOG_TAGGING),
            "pydantic": self._site("pydantic", PYDANTIC_PRELOAD),
        }
        self._action_counter = 0
        self.snapshots: list[Snapshot] = []
        """The state before each hook of the last `play(keep_snapshots=True)`."""
        meta = _charmcraft()
        for index in range(units):
            charm_dir = self.charm_dir(index)
            charm_dir.mkdir(parents=True, exist_ok=True)
            metadata = {
                key: meta[key]
                for key in ("name", "title", "summary", "description", "peers")
                if key in meta
            }
            actions = {**meta.get("actions", {}), **spec.extra_actions}
            for name, content in (
                ("metadata.yaml", metadata),
                ("config.yaml", {"options": meta.get("config", {}).get("options", {})}),
                ("actions.yaml", actions),
            ):
                # JSON is YAML: ops reads these files with yaml.safe_load.
                (charm_dir / name).write_text(json.dumps(content, indent=2), encoding="utf-8")
        names = [unit_name(i) for i in range(units)]
        self._write_model(
            {
                "app": APP,
                "units": names,
                "leader": unit_name(0),
                "config": {**config_defaults(), **(config or {})},
                "relations": {
                    str(RELATION_ID): {
                        "endpoint": PEER,
                        "remote_app": APP,
                        "scope": {},
                        "app_data": {APP: {}},
                        "unit_data": {
                            name: {
                                "private-address": f"10.1.0.{i + 10}",
                                "ingress-address": f"10.1.0.{i + 10}",
                                "egress-subnets": f"10.1.0.{i + 10}/32",
                            }
                            for i, name in enumerate(names)
                        },
                    }
                },
                "status": {},
                "actions": {},
                "secrets": {},
                "app_version": "",
            }
        )

    def _site(self, name: str, code: str) -> Path:
        site = self.workdir / "site" / name
        site.mkdir(parents=True, exist_ok=True)
        (site / "sitecustomize.py").write_text(code, encoding="utf-8")
        return site

    def charm_dir(self, index: int) -> Path:
        """Return the charm directory of unit `index`."""
        return self.workdir / "units" / str(index)

    # Model state

    def model(self) -> dict[str, Any]:
        """Return the current model state."""
        return json.loads(self._model.read_text(encoding="utf-8"))

    def _write_model(self, state: Mapping[str, Any]) -> None:
        self._model.write_text(json.dumps(state), encoding="utf-8")

    def app_data(self) -> dict[str, str]:
        """Return the peer relation's application databag."""
        return dict(self.model()["relations"][str(RELATION_ID)]["app_data"][APP])

    def status(self, index: int) -> dict[str, str]:
        """Return unit `index`'s workload status."""
        return dict(self.model()["status"].get(unit_name(index), {}))

    def snapshot(self, index: int) -> Snapshot:
        """Capture the model and unit `index`'s local state."""
        db = self.charm_dir(index) / ".unit-state.db"
        return Snapshot(
            index,
            self._model.read_text(encoding="utf-8"),
            db.read_bytes() if db.exists() else None,
        )

    def restore(self, snapshot: Snapshot) -> None:
        """Put back the model and the unit's local state captured by `snapshot()`."""
        self._model.write_text(snapshot.model, encoding="utf-8")
        db = self.charm_dir(snapshot.unit) / ".unit-state.db"
        if snapshot.unit_db is None:
            db.unlink(missing_ok=True)
        else:
            db.write_bytes(snapshot.unit_db)

    # Dispatch

    def _environment(self, step: Step, sites: Sequence[str]) -> dict[str, str]:
        env = {
            "PATH": f"{self._tools}:/usr/bin:/bin",
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
            "PYTHONPATH": ":".join(
                [str(self._sites[site]) for site in sites]
                + [str(p) for p in self.spec.python_path]
            ),
            "BENCH_MODEL": str(self._model),
            "BENCH_CALLS": str(self._calls),
            "JUJU_CHARM_DIR": str(self.charm_dir(step.unit)),
            "JUJU_UNIT_NAME": unit_name(step.unit),
            "JUJU_MODEL_NAME": "bench",
            "JUJU_MODEL_UUID": MODEL_UUID,
            "JUJU_MACHINE_ID": str(step.unit),
            "JUJU_VERSION": JUJU_VERSION,
        }
        if step.action is not None:
            self._action_counter += 1
            env.update(
                JUJU_DISPATCH_PATH=f"actions/{step.action}",
                JUJU_HOOK_NAME="",
                JUJU_ACTION_NAME=step.action,
                JUJU_ACTION_UUID=str(self._action_counter),
            )
        else:
            env.update(JUJU_DISPATCH_PATH=f"hooks/{step.hook}", JUJU_HOOK_NAME=step.hook)
        if step.hook.startswith(f"{PEER}-relation-"):
            env.update(
                JUJU_RELATION=PEER,
                JUJU_RELATION_ID=f"{PEER}:{RELATION_ID}",
                JUJU_REMOTE_APP=APP,
                JUJU_REMOTE_UNIT="" if step.remote is None else unit_name(step.remote),
            )
        return env

    def _prepare(self, step: Step) -> None:
        """Change the model as Juju does before running `step`."""
        state = self.model()
        state["config"].update(step.config)
        scope: dict[str, list[str]] = state["relations"][str(RELATION_ID)]["scope"]
        unit = unit_name(step.unit)
        if step.hook == f"{PEER}-relation-created":
            scope.setdefault(unit, [])
        elif step.hook == f"{PEER}-relation-joined" and step.remote is not None:
            scope[unit].append(unit_name(step.remote))
        if step.action is not None:
            state["actions"][unit] = {
                "params": dict(step.params),
                "results": {},
                "failed": None,
                "log": [],
            }
        self._write_model(state)

    def dispatch(self, step: Step, *, sites: Sequence[str] = ("tag-logs",)) -> HookRun:
        """Run one hook in a fresh process and return what it did.

        Args:
            step: the hook.
            sites: start-up code for the process: `"tag-logs"` to attribute log
                lines to loggers, `"pydantic"` to import pydantic before the charm.

        Returns:
            The run; on a non-zero exit the model is put back as it was.
        """
        self._prepare(step)
        before = self.model()
        offset = self._calls.stat().st_size
        cpu_start = _children_cpu_seconds()
        start = time.perf_counter()
        process = subprocess.run(  # noqa: S603 (a fixed interpreter and the charm's script)
            [sys.executable, str(self.spec.entry)],
            cwd=self.charm_dir(step.unit),
            env=self._environment(step, sites),
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - start
        cpu_seconds = _children_cpu_seconds() - cpu_start
        with self._calls.open(encoding="utf-8") as f:
            f.seek(offset)
            calls = [json.loads(line) for line in f]
        after = self.model()
        unit = unit_name(step.unit)
        action = after["actions"].pop(unit, None)
        if process.returncode != 0:
            after = before
        self._write_model(after)
        key = str(RELATION_ID)
        unit_data = [state["relations"][key]["unit_data"].get(unit) for state in (before, after)]
        return HookRun(
            step=step,
            label=step.label,
            leader=before["leader"] == unit,
            calls=calls,
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            returncode=process.returncode,
            stderr=process.stderr,
            action=action,
            app_data_changed=(
                before["relations"][key]["app_data"] != after["relations"][key]["app_data"]
            ),
            unit_data_changed=unit_data[0] != unit_data[1],
        )

    def play(self, steps: Iterable[Step], *, keep_snapshots: bool = False) -> list[HookRun]:
        """Run `steps` in order, delivering peer app-data changes; fail on a hook error.

        Args:
            steps: the scenario.
            keep_snapshots: capture the state before each hook (see `snapshots`).

        Returns:
            One run per hook, deliveries included, in the order they ran.

        Raises:
            HookError: if a hook exits with a non-zero status.
        """
        runs: list[HookRun] = []
        seen: Counter[str] = Counter()
        queue = list(steps)
        self.snapshots = []
        while queue:
            step = queue.pop(0)
            if keep_snapshots:
                self.snapshots.append(self.snapshot(step.unit))
            run = self.dispatch(step)
            seen[step.label] += 1
            if seen[step.label] > 1:
                run.label = f"{step.label} #{seen[step.label]}"
            runs.append(run)
            if run.returncode != 0:
                raise HookError(f"{self.spec.name}: {run.label} failed:\n{run.stderr}")
            queue[:0] = self._deliveries(run)
        return runs

    def _deliveries(self, run: HookRun) -> list[Step]:
        """The peer `relation-changed` hooks that Juju sends for what `run` changed."""
        scope: dict[str, list[str]] = self.model()["relations"][str(RELATION_ID)]["scope"]
        step, writer = run.step, unit_name(run.step.unit)
        others = [i for i in range(self.units) if i != step.unit and unit_name(i) in scope]
        deliveries: list[Step] = []
        if run.app_data_changed:
            deliveries += [Step(i, f"{PEER}-relation-changed", phase=step.phase) for i in others]
        if run.unit_data_changed:
            deliveries += [
                Step(i, f"{PEER}-relation-changed", remote=step.unit, phase=step.phase)
                for i in others
                if writer in scope[unit_name(i)]
            ]
        return deliveries


def deployment_steps(units: int) -> list[Step]:
    """Return the hooks Juju runs to deploy `units` units at once, in a plausible order.

    Every unit installs, enters the peer relation, is configured and started; the
    leader is elected; then every unit sees each other unit join (with the
    `relation-changed` that Juju sends after each `relation-joined`).
    """
    every = range(units)
    steps = [Step(u, "install") for u in every]
    steps += [Step(u, f"{PEER}-relation-created") for u in every]
    steps += [Step(0, "leader-elected")]
    steps += [Step(u, "config-changed") for u in every]
    steps += [Step(u, "start") for u in every]
    for u in every:
        for v in every:
            if u != v:
                steps += [
                    Step(u, f"{PEER}-relation-joined", remote=v),
                    Step(u, f"{PEER}-relation-changed", remote=v),
                ]
    return steps


def config_change_steps(units: int, changes: Mapping[str, Any]) -> list[Step]:
    """Return the hooks of `juju config` with `changes`: a config-changed per unit."""
    return [
        Step(u, "config-changed", config=changes if u == 0 else {}, phase="config")
        for u in range(units)
    ]


def scenario(units: int) -> list[Step]:
    """Return the benchmark scenario for `units` units.

    Deploy with `cluster-name=bench`; change `log-level` to `debug`; run
    `get-shared` on a follower (on the leader if alone), then `set-shared` on the
    leader with a change (an effective write) and again (a write that changes
    nothing).
    """
    values = json.dumps({"log_level": "error"})
    follower = 1 if units > 1 else 0
    return [
        *deployment_steps(units),
        *config_change_steps(units, {"log-level": "debug"}),
        Step(follower, "action:get-shared", phase="action"),
        Step(0, "action:set-shared", params={"values": values}, phase="action"),
        Step(0, "action:set-shared", params={"values": values}, phase="action no-op"),
    ]


DEPLOY_CONFIG = {"cluster-name": "bench"}
