"""`tox -e bench`: hook tool calls and hook times of the library against hand-written charms.

1. Plays the 3-unit scenario of `benchmarks.deployment.scenario` through the real
   `ops.main`, counting hook tool calls per hook, in two settings:

   - without acknowledgements: the tester charm (`tester_no_ack.py`, which applies
     the config in a handler of `changed`) and the same job written as a reconciler
     (`tester_reconciler.py`, which calls `get()` in every hook it handles and
     observes nothing of the library's), each against the same job hand-written
     with a pydantic model (`baseline_pydantic.py`);
   - with acknowledgements: the tester charm, whose units acknowledge the revisions
     they apply (library+ack), against a hand-written baseline that acknowledges too
     (baseline+ack).

2. Times one hook dispatch of each kind, replayed from the same starting state,
   interleaved (every charm of the setting once, then again, `--runs` times), in wall
   time and in CPU time (the hook process's and its hook tools': less disturbed by
   other work on a shared machine); medians are reported, per hook kind, as the
   median of the kinds' ratios, and for the whole scenario (each kind's median times
   its dispatches). With acknowledgements the baseline has no pydantic, so it is
   also timed with pydantic imported at start-up (baseline+pydantic: `pydantic`,
   `BaseModel` and `ValidationError` imported and a throwaway one-field model
   defined, which is when pydantic finishes importing itself); the ratio library /
   baseline+pydantic leaves pydantic's import out (the charm's own model, its
   validation and everything the library does still count against the library).
   The pydantic baseline imports pydantic itself: its ratios need no such correction.
3. Measures the core's own import time after ops, pydantic and a model
   (`benchmarks.importtime`, `python -X importtime`).
4. Runs the in-process micro-benchmarks (`benchmarks.micro`) and the 50-unit
   simulations (`benchmarks.fleet`): one write and its deliveries, and one
   revision's rollout with every acknowledgement.

Prints the tables and writes everything as JSON to `.tox/bench/results.json` (or
`--output PATH`), outside the tracked files; `--update` also rewrites the committed
`benchmarks/results.json`, the run docs/performance.md quotes. `--help` lists the options.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import fleet, importtime, micro
from benchmarks.deployment import (
    BASELINE_ACK,
    BASELINE_PYDANTIC,
    BENCH_DIR,
    DEPLOY_CONFIG,
    LIBRARY,
    LIBRARY_ACK,
    RECONCILER,
    REPO,
    CharmSpec,
    Deployment,
    HookRun,
    Step,
    scenario,
)

UNITS = 3
PRELOADED = "baseline+pydantic"  # the baseline, with pydantic imported at start-up


@dataclass(frozen=True)
class Setting:
    """Charms that play the scenario and are timed together, and the pairs compared.

    Attributes:
        name: the key of the setting's results.
        charms: the charms, by role; the baseline's role is `baseline`.
        pairs: the roles compared with the baseline, each in a table of its own.
        preload: also time the baseline with pydantic imported at start-up.
    """

    name: str
    charms: Mapping[str, CharmSpec]
    pairs: tuple[str, ...] = ("library",)
    preload: bool = False

    def variants(self) -> tuple[str, ...]:
        """What is timed: each charm, and the baseline with pydantic preloaded."""
        return (*self.charms, *((PRELOADED,) if self.preload else ()))


SETTINGS = (
    Setting(
        "pydantic",
        {"library": LIBRARY, "reconciler": RECONCILER, "baseline": BASELINE_PYDANTIC},
        pairs=("library", "reconciler"),
    ),
    Setting("acknowledgements", {"library": LIBRARY_ACK, "baseline": BASELINE_ACK}, preload=True),
)
DEFAULT_RUNS = 7
DEFAULT_OUTPUT = REPO / ".tox" / "bench" / "results.json"
COMMITTED_RESULTS = BENCH_DIR / "results.json"


@dataclass
class Row:
    """Steps of one kind on one role that cost each charm the same calls.

    Attributes:
        kind: the hook kind (`Step.kind`).
        role: `leader` or `follower`.
        phase: the scenario's phase of the first such step.
        calls: the hook tool calls of one dispatch, by charm role.
        indexes: the steps' positions in the played scenario.
        seconds: the timed dispatches' wall times, by variant.
        cpu: their CPU times (the hook process and its hook tools), by variant.
    """

    kind: str
    role: str
    phase: str
    calls: dict[str, Counter[str]]
    indexes: list[int] = field(default_factory=list[int])
    seconds: dict[str, list[float]] = field(default_factory=dict[str, list[float]])
    cpu: dict[str, list[float]] = field(default_factory=dict[str, list[float]])

    @property
    def name(self) -> str:
        """The hook kind and the unit's role."""
        return f"{self.kind} ({self.role})"

    def median(self, variant: str) -> float:
        """The median seconds of one dispatch for `variant`."""
        return statistics.median(self.seconds[variant])

    def cpu_median(self, variant: str) -> float:
        """The median CPU seconds of one dispatch for `variant`."""
        return statistics.median(self.cpu[variant])

    def extra(self) -> dict[str, int]:
        """Calls the library makes over the baseline, by tool (negative: fewer)."""
        library, baseline = self.calls["library"], self.calls["baseline"]
        tools = sorted(library.keys() | baseline.keys())
        diff = {tool: library[tool] - baseline[tool] for tool in tools}
        return {tool: n for tool, n in diff.items() if n}


def _rows(played: Mapping[str, list[HookRun]]) -> list[Row]:
    """Group the played steps by kind, role and every charm's calls."""
    rows: dict[tuple[Any, ...], Row] = {}
    roles = list(played)
    for index, runs in enumerate(zip(*played.values(), strict=True)):
        first = runs[0]
        if any(run.label != first.label for run in runs):
            labels = ", ".join(
                f"{role}: {run.label}" for role, run in zip(roles, runs, strict=True)
            )
            raise RuntimeError(f"the charms ran different hooks: {labels}")
        role = "leader" if first.leader else "follower"
        calls = {name: run.counts() for name, run in zip(roles, runs, strict=True)}
        key = (first.step.kind, role, *(tuple(sorted(c.items())) for c in calls.values()))
        if key not in rows:
            rows[key] = Row(first.step.kind, role, first.step.phase, calls)
        rows[key].indexes.append(index)
    return list(rows.values())


def _time(
    setting: Setting,
    rows: list[Row],
    deployments: dict[str, Deployment],
    steps: list[Step],
    runs: int,
) -> None:
    for row in rows:
        index = row.indexes[0]
        row.seconds = {variant: [] for variant in setting.variants()}
        row.cpu = {variant: [] for variant in setting.variants()}
        for _ in range(runs):
            for variant in setting.variants():
                charm = "baseline" if variant == PRELOADED else variant
                deployment = deployments[charm]
                deployment.restore(deployment.snapshots[index])
                sites = ("pydantic",) if variant == PRELOADED else ()
                run = deployment.dispatch(steps[index], sites=sites)
                if run.returncode != 0:
                    raise RuntimeError(f"{variant}: {run.label} failed:\n{run.stderr}")
                row.seconds[variant].append(run.seconds)
                row.cpu[variant].append(run.cpu_seconds)


def _pair_rows(rows: list[Row], library: str, preload: bool) -> list[Row]:
    """The setting's rows for the pair (`library`, baseline), merging those alike for it.

    Rows that split only on another charm's calls merge: their dispatches and timed
    runs pool.
    """
    variants = {library: "library", "baseline": "baseline"}
    if preload:
        variants[PRELOADED] = PRELOADED
    merged: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        calls = {"library": row.calls[library], "baseline": row.calls["baseline"]}
        key = (row.kind, row.role, *(tuple(sorted(c.items())) for c in calls.values()))
        if key not in merged:
            seconds = {name: list[float]() for name in variants.values()}
            cpu = {name: list[float]() for name in variants.values()}
            merged[key] = Row(row.kind, row.role, row.phase, calls, seconds=seconds, cpu=cpu)
        pair = merged[key]
        pair.indexes += row.indexes
        for variant, name in variants.items():
            pair.seconds[name] += row.seconds[variant]
            pair.cpu[name] += row.cpu[variant]
    return list(merged.values())


def _fmt_calls(counts: Counter[str]) -> str:
    return str(sum(counts.values()))


def _fmt_extra(extra: Mapping[str, int]) -> str:
    return ", ".join(f"{n:+d} {tool}" for tool, n in extra.items()) or "="


def hook_table(rows: list[Row], preload: bool, library: str = "library") -> list[str]:
    """The Markdown table of calls and times per hook kind; `library` names the charm."""
    head = f"| hook (unit) | n | calls: {library} | baseline | {library} - baseline, by tool"
    if preload:
        head += f" | ms: {library} | baseline | baseline+pydantic | ratio | ratio excl. pydantic"
    else:
        head += f" | ms: {library} | baseline | ratio"
    head += " | CPU ratio |"
    lines = [head, "|---" * head.count(" | ") + "|---|"]
    for row in rows:
        lib, base = row.median("library"), row.median("baseline")
        line = (
            f"| {row.phase}: {row.name} | {len(row.indexes)} | {_fmt_calls(row.calls['library'])}"
            f" | {_fmt_calls(row.calls['baseline'])} | {_fmt_extra(row.extra())}"
            f" | {lib * 1000:.0f} | {base * 1000:.0f}"
        )
        if preload:
            pyd = row.median(PRELOADED)
            line += f" | {pyd * 1000:.0f} | {lib / base:.2f} | {lib / pyd:.2f}"
        else:
            line += f" | {lib / base:.2f}"
        line += f" | {row.cpu_median('library') / row.cpu_median('baseline'):.2f} |"
        lines.append(line)
    return lines


def micro_table(results: list[dict[str, Any]]) -> list[str]:
    """The Markdown table of the micro-benchmarks (median ms per call)."""
    operations = ("get", "update", "edit", "check unchanged", "check changed")
    lines = [
        "| schema | " + " | ".join(operations) + " |",
        "|---|" + "---|" * len(operations),
    ]
    for row in results:
        cells = " | ".join(f"{row[op]:.2f}" for op in operations)
        lines.append(f"| {row['case']} | {cells} |")
    return lines


def machine() -> dict[str, Any]:
    """Where the benchmark ran."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    import ops
    import pydantic

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "ops": ops.__version__,
        "pydantic": pydantic.VERSION,
        "juju_version_simulated": "3.6.8",
    }


def libpatch() -> int:
    """The LIBPATCH of the core the benchmark ran, read from its file."""
    core = REPO / "lib" / "charms" / "leader_config" / "v0" / "leader_config.py"
    for line in core.read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition("=")
        if name.strip() == "LIBPATCH":
            return int(value)
    raise RuntimeError(f"no LIBPATCH in {core}")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _import_runs(text: str) -> int:
    value = int(text)
    if value < importtime.MIN_RUNS:
        raise argparse.ArgumentTypeError(f"must be {importtime.MIN_RUNS} or more, not {value}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line, documented by `--help`.

    Args:
        argv: the arguments, or None for `sys.argv[1:]`.

    Returns:
        The parsed options.
    """
    parser = argparse.ArgumentParser(
        prog="tox -e bench --",
        description=(
            "Benchmark the library against hand-written charms: hook tool calls and hook"
            " times of a 3-unit scenario through the real ops.main (the tester charm, and"
            " the same job as a reconciler, against a hand-written pydantic charm; the"
            " tester charm with acknowledgements against a hand-written one), the core's"
            " import time, in-process micro-benchmarks and 50-unit simulations. Prints"
            " Markdown tables and writes the results as JSON. A full run takes about 12"
            " minutes on 2 cores."
        ),
    )
    parser.add_argument(
        "--runs",
        type=_positive,
        default=DEFAULT_RUNS,
        metavar="N",
        help=(
            "timed dispatches of each hook kind for each charm (and the baseline with"
            f" pydantic preloaded), interleaved; medians are reported (default: {DEFAULT_RUNS})"
        ),
    )
    parser.add_argument(
        "--import-runs",
        type=_import_runs,
        default=importtime.DEFAULT_RUNS,
        metavar="N",
        help=(
            "interpreter runs that measure the core's import time with python -X importtime;"
            f" the median is reported (default: {importtime.DEFAULT_RUNS}, at least"
            f" {importtime.MIN_RUNS})"
        ),
    )
    parser.add_argument(
        "--import-time",
        action="store_true",
        help="only measure and print the core's import time; write nothing",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="PATH",
        help=(
            "where to write the JSON results, creating its folder"
            f" (default: {DEFAULT_OUTPUT.relative_to(REPO)}, which git ignores)"
        ),
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help=(
            f"also rewrite the committed {COMMITTED_RESULTS.relative_to(REPO)}, the run that"
            " docs/performance.md quotes; needs a full run (no --skip-micro or --skip-fleet)"
        ),
    )
    parser.add_argument(
        "--skip-micro",
        action="store_true",
        help="skip the in-process micro-benchmarks (benchmarks/micro.py)",
    )
    parser.add_argument(
        "--skip-fleet",
        action="store_true",
        help="skip the 50-unit simulations (benchmarks/fleet.py)",
    )
    args = parser.parse_args(argv)
    if args.update and (args.skip_micro or args.skip_fleet or args.import_time):
        parser.error(
            "--update needs the whole benchmark: drop --skip-micro, --skip-fleet and --import-time"
        )
    return args


def _unit_relation_sets(runs: list[HookRun]) -> dict[str, int]:
    """The `relation-set` calls each unit made on its own databag."""
    counts = Counter[str]()
    for run in runs:
        for call in run.calls:
            if call["tool"] == "relation-set" and "--app" not in call["args"]:
                counts[call["unit"]] += 1
    return dict(sorted(counts.items()))


def _total(runs: list[HookRun]) -> Counter[str]:
    return sum((run.counts() for run in runs), Counter[str]())


@dataclass
class Comparison:
    """One pair's runs: the scenario played by both charms, and the timed rows."""

    name: str
    specs: tuple[CharmSpec, CharmSpec]  # library, baseline
    played: dict[str, list[HookRun]]  # by "library" and "baseline"
    rows: list[Row]
    preload: bool

    def section(self) -> dict[str, Any]:
        """The JSON results: calls and times per hook kind, and the summary."""
        rows, preload = self.rows, self.preload
        ratios = [row.median("library") / row.median("baseline") for row in rows]
        cpu_ratios = [row.cpu_median("library") / row.cpu_median("baseline") for row in rows]
        scenario_ms = {
            variant: sum(row.median(variant) * len(row.indexes) for row in rows) * 1000
            for variant in ("library", "baseline")
        }
        scenario_cpu_ms = {
            variant: sum(row.cpu_median(variant) * len(row.indexes) for row in rows) * 1000
            for variant in ("library", "baseline")
        }
        totals = {name: _total(runs) for name, runs in self.played.items()}
        extra = {
            tool: totals["library"][tool] - totals["baseline"][tool]
            for tool in sorted(totals["library"].keys() | totals["baseline"].keys())
        }
        hooks: list[dict[str, Any]] = []
        for row, ratio, cpu_ratio in zip(rows, ratios, cpu_ratios, strict=True):
            hook: dict[str, Any] = {
                "phase": row.phase,
                "hook": row.kind,
                "unit": row.role,
                "dispatches": len(row.indexes),
                "calls": {
                    "library": dict(sorted(row.calls["library"].items())),
                    "baseline": dict(sorted(row.calls["baseline"].items())),
                    "library_minus_baseline": row.extra(),
                },
                "ms_median": {v: round(row.median(v) * 1000, 1) for v in row.seconds},
                "ratio": round(ratio, 3),
                "cpu_ms_median": {v: round(row.cpu_median(v) * 1000, 1) for v in row.cpu},
                "cpu_ratio": round(cpu_ratio, 3),
            }
            if preload:
                hook["ratio_excluding_pydantic_import"] = round(
                    row.median("library") / row.median(PRELOADED), 3
                )
            hooks.append(hook)
        summary: dict[str, Any] = {
            "median_ratio": round(statistics.median(ratios), 3),
            "scenario_ms": {name: round(ms) for name, ms in scenario_ms.items()},
            "scenario_ratio": round(scenario_ms["library"] / scenario_ms["baseline"], 3),
            "median_cpu_ratio": round(statistics.median(cpu_ratios), 3),
            "scenario_cpu_ms": {name: round(ms) for name, ms in scenario_cpu_ms.items()},
            "scenario_cpu_ratio": round(
                scenario_cpu_ms["library"] / scenario_cpu_ms["baseline"], 3
            ),
        }
        if preload:
            summary["median_ratio_excluding_pydantic_import"] = round(
                statistics.median(row.median("library") / row.median(PRELOADED) for row in rows),
                3,
            )
            summary["pydantic_import_ms_median"] = round(
                statistics.median(row.median(PRELOADED) - row.median("baseline") for row in rows)
                * 1000,
                1,
            )
        summary |= {
            "total_calls": {name: sum(total.values()) for name, total in totals.items()},
            "total_calls_by_tool": {
                name: dict(sorted(total.items())) for name, total in totals.items()
            },
            "total_library_minus_baseline": {tool: n for tool, n in extra.items() if n},
            "custom_event_log_lines": {
                name: sum(run.custom_event_log_lines() for run in runs)
                for name, runs in self.played.items()
            },
            "unit_relation_sets_per_unit": {
                name: _unit_relation_sets(runs) for name, runs in self.played.items()
            },
            "hooks_with_more_calls": [
                f"{row.phase}: {row.name}"
                for row in rows
                if sum(row.calls["library"].values()) > sum(row.calls["baseline"].values())
            ],
            "hooks_with_extra_calls_of_a_tool": [
                f"{row.phase}: {row.name}"
                for row in rows
                if any(n > 0 for n in row.extra().values())
            ],
        }
        return {
            "charms": {"library": self.specs[0].name, "baseline": self.specs[1].name},
            "hooks": hooks,
            "summary": summary,
        }

    def markdown(self, title: str) -> list[str]:
        """The pair's table and summary lines."""
        summary = self.section()["summary"]
        library, baseline = self.specs[0].name, self.specs[1].name
        ms = summary["scenario_ms"]
        lines = [
            f"## {title}",
            "",
            *hook_table(self.rows, self.preload, self.name),
            "",
            f"Median ratio {library} / {baseline}: {summary['median_ratio']:.3f}",
        ]
        if self.preload:
            excluding = summary["median_ratio_excluding_pydantic_import"]
            lines[-1] += (
                f"; excluding pydantic's import: {excluding:.3f}"
                f" (pydantic import: {summary['pydantic_import_ms_median']:.0f} ms)"
            )
        lines[-1] += (
            f". Whole scenario (each kind's median times its dispatches): {library}"
            f" {ms['library'] / 1000:.2f} s, {baseline} {ms['baseline'] / 1000:.2f} s, ratio"
            f" {summary['scenario_ratio']:.3f}. CPU time: median ratio"
            f" {summary['median_cpu_ratio']:.3f}, whole scenario"
            f" {summary['scenario_cpu_ratio']:.3f}. Hook tool calls: {library}"
            f" {summary['total_calls']['library']}, {baseline}"
            f" {summary['total_calls']['baseline']}"
            f" ({_fmt_extra(summary['total_library_minus_baseline'])}; ops' \"Emitting custom"
            f' event" lines: {summary["custom_event_log_lines"]["library"]} and'
            f" {summary['custom_event_log_lines']['baseline']})."
        )
        return lines


def play(setting: Setting, workdir: Path, runs: int) -> tuple[dict[str, Comparison], int]:
    """Play the scenario for every charm of `setting`, time each hook kind, pair them up.

    Returns:
        The comparisons, by the role compared with the baseline, and the dispatches timed.
    """
    deployments = {
        role: Deployment(spec, workdir / spec.name, units=UNITS, config=DEPLOY_CONFIG)
        for role, spec in setting.charms.items()
    }
    steps = scenario(UNITS)
    played = {
        role: deployment.play(steps, keep_snapshots=True)
        for role, deployment in deployments.items()
    }
    rows = _rows(played)
    print(
        f"{setting.name}: timing {len(rows)} hook kinds, {runs} interleaved runs each...",
        flush=True,
    )
    # Deliveries make the played steps; every charm played the same (checked by _rows).
    _time(setting, rows, deployments, [run.step for run in played["baseline"]], runs)
    comparisons = {
        library: Comparison(
            name=library,
            specs=(setting.charms[library], setting.charms["baseline"]),
            played={"library": played[library], "baseline": played["baseline"]},
            rows=_pair_rows(rows, library, setting.preload),
            preload=setting.preload,
        )
        for library in setting.pairs
    }
    return comparisons, sum(len(times) for row in rows for times in row.seconds.values())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; print the tables; write the JSON results.

    Args:
        argv: command-line arguments (`--runs`, `--output`, `--skip-micro`, ...).

    Returns:
        The exit status.
    """
    args = parse_args(argv)
    if args.import_time:
        print(importtime.summary(importtime.measure(args.import_runs)))
        return 0

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="leader-config-bench-") as tmp:
        played = {s.name: play(s, Path(tmp, s.name), args.runs) for s in SETTINGS}
    load_after = os.getloadavg()
    dispatches = sum(timed for _, timed in played.values())
    pydantic, ack = played["pydantic"][0], played["acknowledgements"][0]["library"]
    print("Import time...", flush=True)
    imported = importtime.measure(args.import_runs)
    results: dict[str, Any] = {
        "machine": {
            **machine(),
            # Other work on the machine slows hooks down: the 1-minute load average
            # before and after the timed hooks (a load of 2 keeps 2 CPUs busy).
            "load_average_1min": [round(load_before[0], 2), round(load_after[0], 2)],
        },
        "libpatch": libpatch(),
        "scenario": {
            "units": UNITS,
            "deploy_config": DEPLOY_CONFIG,
            "runs_per_hook_and_variant": args.runs,
            "dispatches_timed": dispatches,
        },
        # Without acknowledgements, against the same job hand-written with pydantic.
        "pydantic": {name: comparison.section() for name, comparison in pydantic.items()},
        "acknowledgements": ack.section(),
        "import_time": imported,
    }
    lines = [
        *pydantic["library"].markdown(
            "Without acknowledgements: the tester charm against the pydantic baseline (3 units)"
        ),
        "",
        *pydantic["reconciler"].markdown(
            "Without acknowledgements: the reconciler against the pydantic baseline (3 units)"
        ),
        "",
        *ack.markdown(
            "With acknowledgements: hook tool calls and hook time per dispatch (3 units)"
        ),
        "",
        "relation-set calls to each unit's own databag (3 revisions acknowledged):"
        f" {ack.specs[0].name} {json.dumps(_unit_relation_sets(ack.played['library']))},"
        f" {ack.specs[1].name} {json.dumps(_unit_relation_sets(ack.played['baseline']))}.",
        "",
        importtime.summary(imported),
    ]
    if not args.skip_micro:
        print("Micro-benchmarks...", flush=True)
        results["micro_ms_median"] = micro.run()
        lines += [
            "",
            "## Micro-benchmarks (median ms per call)",
            "",
            *micro_table(results["micro_ms_median"]),
        ]
    if not args.skip_fleet:
        print("50-unit simulation...", flush=True)
        results["fleet"] = fleet.run()
        lines += ["", "## 50 units: one leader write, every delivery; one rollout", ""]
        lines += [f"- {name}: {json.dumps(summary)}" for name, summary in results["fleet"].items()]
    results["markdown"] = lines
    print("\n".join(lines))
    text = json.dumps(results, indent=2) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"\nWrote {args.output}")
    if args.update:
        COMMITTED_RESULTS.write_text(text, encoding="utf-8")
        print(f"Updated {COMMITTED_RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
