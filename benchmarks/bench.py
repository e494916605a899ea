"""`tox -e bench`: hook tool calls and hook times of the library against the baseline.

1. Plays the 3-unit scenario of `benchmarks.deployment.scenario` through the real
   `ops.main`, counting hook tool calls per hook, for two comparisons: the tester
   charm without acknowledgements (library) against the hand-written baseline, and
   the tester charm, whose units acknowledge the revisions they apply
   (library+ack), against a hand-written baseline that acknowledges too
   (baseline+ack).
2. Times one hook dispatch of each kind, replayed from the same starting state,
   interleaved: library, baseline, baseline with pydantic imported at start-up,
   then again, `--runs` times, for each comparison. The ratio library / baseline
   includes pydantic's import, which the baseline lacks; library / baseline+pydantic
   leaves it out (the pydantic variant imports `pydantic`, `BaseModel` and
   `ValidationError` before the charm runs and defines one throwaway one-field
   model, which is when pydantic finishes importing itself; the charm's own model,
   its validation and everything the library does still count against the library).
3. Runs the in-process micro-benchmarks (`benchmarks.micro`) and the 50-unit
   simulations (`benchmarks.fleet`): one write and its deliveries, and one
   revision's rollout with every acknowledgement.

Prints the tables and writes everything as JSON to `.tox/bench/results.json` (or
`--output PATH`), outside the tracked files; `--update` also rewrites the committed
`benchmarks/results.json`, the run the README's tables quote. `--help` lists the options.
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import fleet, micro
from benchmarks.deployment import (
    BASELINE,
    BASELINE_ACK,
    BENCH_DIR,
    DEPLOY_CONFIG,
    LIBRARY,
    LIBRARY_ACK,
    REPO,
    CharmSpec,
    Deployment,
    HookRun,
    Snapshot,
    scenario,
)

UNITS = 3
# (library, baseline), by comparison.
COMPARISONS: dict[str, tuple[CharmSpec, CharmSpec]] = {
    "no-ack": (LIBRARY, BASELINE),
    "ack": (LIBRARY_ACK, BASELINE_ACK),
}
VARIANTS = ("library", "baseline", "baseline+pydantic")
DEFAULT_RUNS = 5
DEFAULT_OUTPUT = REPO / ".tox" / "bench" / "results.json"
COMMITTED_RESULTS = BENCH_DIR / "results.json"


@dataclass
class Row:
    """Steps of one kind on one role that cost the same calls."""

    kind: str
    role: str
    phase: str
    library: Counter[str]
    baseline: Counter[str]
    indexes: list[int] = field(default_factory=list[int])
    seconds: dict[str, list[float]] = field(default_factory=dict[str, list[float]])

    @property
    def name(self) -> str:
        """The hook kind and the unit's role."""
        return f"{self.kind} ({self.role})"

    def median(self, variant: str) -> float:
        """The median seconds of one dispatch for `variant`."""
        return statistics.median(self.seconds[variant])

    def extra(self) -> dict[str, int]:
        """Calls the library makes over the baseline, by tool (negative: fewer)."""
        tools = sorted(self.library.keys() | self.baseline.keys())
        diff = {tool: self.library[tool] - self.baseline[tool] for tool in tools}
        return {tool: n for tool, n in diff.items() if n}


def _rows(library: list[HookRun], baseline: list[HookRun]) -> list[Row]:
    rows: dict[tuple[Any, ...], Row] = {}
    for index, (lib, base) in enumerate(zip(library, baseline, strict=True)):
        if lib.label != base.label:
            raise RuntimeError(f"the charms ran different hooks: {lib.label} vs {base.label}")
        role = "leader" if lib.leader else "follower"
        key = (
            lib.step.kind,
            role,
            tuple(sorted(lib.counts().items())),
            tuple(sorted(base.counts().items())),
        )
        if key not in rows:
            rows[key] = Row(lib.step.kind, role, lib.step.phase, lib.counts(), base.counts())
        rows[key].indexes.append(index)
    return list(rows.values())


def _time(
    rows: list[Row],
    deployments: dict[str, Deployment],
    snapshots: dict[str, list[Snapshot]],
    library: list[HookRun],
    runs: int,
) -> None:
    for row in rows:
        index = row.indexes[0]
        step = library[index].step
        row.seconds = {variant: [] for variant in VARIANTS}
        for _ in range(runs):
            for variant in VARIANTS:
                charm = "library" if variant == "library" else "baseline"
                deployment = deployments[charm]
                deployment.restore(snapshots[charm][index])
                sites = ("pydantic",) if variant == "baseline+pydantic" else ()
                run = deployment.dispatch(step, sites=sites)
                if run.returncode != 0:
                    raise RuntimeError(f"{variant}: {run.label} failed:\n{run.stderr}")
                row.seconds[variant].append(run.seconds)


def _fmt_calls(counts: Counter[str]) -> str:
    return str(sum(counts.values()))


def _fmt_extra(extra: dict[str, int]) -> str:
    return ", ".join(f"{n:+d} {tool}" for tool, n in extra.items()) or "="


def hook_table(rows: list[Row]) -> list[str]:
    """The Markdown table of calls and times per hook kind."""
    lines = [
        "| hook (unit) | n | calls: library | baseline | library - baseline, by tool"
        " | ms: library | baseline | baseline+pydantic | ratio | ratio excl. pydantic |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lib, base, pyd = (row.median(v) for v in VARIANTS)
        lines.append(
            f"| {row.phase}: {row.name} | {len(row.indexes)} | {_fmt_calls(row.library)}"
            f" | {_fmt_calls(row.baseline)} | {_fmt_extra(row.extra())}"
            f" | {lib * 1000:.0f} | {base * 1000:.0f} | {pyd * 1000:.0f}"
            f" | {lib / base:.2f} | {lib / pyd:.2f} |"
        )
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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
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
            "Benchmark the library against hand-written baseline charms: hook tool calls"
            " and hook times of a 3-unit scenario through the real ops.main, without and"
            " with acknowledgements, in-process micro-benchmarks and 50-unit simulations."
            " Prints Markdown tables and writes the results as JSON. A full run takes about"
            " 7 to 8 minutes on 2 cores."
        ),
    )
    parser.add_argument(
        "--runs",
        type=_positive,
        default=DEFAULT_RUNS,
        metavar="N",
        help=(
            "timed dispatches of each hook kind for each variant (library, baseline,"
            f" baseline+pydantic), interleaved; medians are reported (default: {DEFAULT_RUNS})"
        ),
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
            f"also rewrite the committed {COMMITTED_RESULTS.relative_to(REPO)}, the run the"
            " README's tables quote; needs a full run (no --skip-micro or --skip-fleet)"
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
    if args.update and (args.skip_micro or args.skip_fleet):
        parser.error("--update needs the whole benchmark: drop --skip-micro and --skip-fleet")
    return args


@dataclass
class Comparison:
    """One comparison's runs: the scenario played by both charms, and the timed rows."""

    name: str
    specs: tuple[CharmSpec, CharmSpec]  # library, baseline
    played: dict[str, list[HookRun]]  # by "library" and "baseline"
    rows: list[Row]

    def section(self) -> dict[str, Any]:
        """The JSON results: calls and times per hook kind, and the summary."""
        rows = self.rows
        ratios = [row.median("library") / row.median("baseline") for row in rows]
        ratios_excl = [row.median("library") / row.median("baseline+pydantic") for row in rows]
        pydantic_ms = statistics.median(
            row.median("baseline+pydantic") - row.median("baseline") for row in rows
        )
        return {
            "charms": {"library": self.specs[0].name, "baseline": self.specs[1].name},
            "hooks": [
                {
                    "phase": row.phase,
                    "hook": row.kind,
                    "unit": row.role,
                    "dispatches": len(row.indexes),
                    "calls": {
                        "library": dict(sorted(row.library.items())),
                        "baseline": dict(sorted(row.baseline.items())),
                        "library_minus_baseline": row.extra(),
                    },
                    "ms_median": {v: round(row.median(v) * 1000, 1) for v in VARIANTS},
                    "ratio": round(ratios[i], 3),
                    "ratio_excluding_pydantic_import": round(ratios_excl[i], 3),
                }
                for i, row in enumerate(rows)
            ],
            "summary": {
                "median_ratio": round(statistics.median(ratios), 3),
                "median_ratio_excluding_pydantic_import": round(statistics.median(ratios_excl), 3),
                "pydantic_import_ms_median": round(pydantic_ms * 1000, 1),
                "total_calls": {
                    name: sum(len(run.calls) for run in runs) for name, runs in self.played.items()
                },
                "total_calls_by_tool": {
                    name: dict(sorted(sum((run.counts() for run in runs), Counter[str]()).items()))
                    for name, runs in self.played.items()
                },
                "unit_relation_sets_per_unit": {
                    name: _unit_relation_sets(runs) for name, runs in self.played.items()
                },
                "hooks_with_extra_calls": [
                    f"{row.phase}: {row.name}"
                    for row in rows
                    if any(n > 0 for n in row.extra().values())
                ],
            },
        }

    def markdown(self, title: str) -> list[str]:
        """The section's table and summary line."""
        summary = self.section()["summary"]
        library, baseline = self.specs[0].name, self.specs[1].name
        return [
            f"## {title}",
            "",
            *hook_table(self.rows),
            "",
            f"Median ratio {library} / {baseline}: {summary['median_ratio']:.2f};"
            " excluding pydantic's import:"
            f" {summary['median_ratio_excluding_pydantic_import']:.2f}"
            f" (pydantic import: {summary['pydantic_import_ms_median']:.0f} ms)."
            f" Hook tool calls in the whole scenario: {library}"
            f" {summary['total_calls']['library']}, {baseline}"
            f" {summary['total_calls']['baseline']}.",
        ]


def _unit_relation_sets(runs: list[HookRun]) -> dict[str, int]:
    """The `relation-set` calls each unit made on its own databag."""
    counts = Counter[str]()
    for run in runs:
        for call in run.calls:
            if call["tool"] == "relation-set" and "--app" not in call["args"]:
                counts[call["unit"]] += 1
    return dict(sorted(counts.items()))


def compare(name: str, specs: tuple[CharmSpec, CharmSpec], workdir: Path, runs: int) -> Comparison:
    """Play the scenario for both charms of a comparison, then time each hook kind."""
    deployments = {
        role: Deployment(spec, workdir / spec.name, units=UNITS, config=DEPLOY_CONFIG)
        for role, spec in zip(("library", "baseline"), specs, strict=True)
    }
    played = {
        role: deployment.play(scenario(UNITS), keep_snapshots=True)
        for role, deployment in deployments.items()
    }
    snapshots = {role: deployment.snapshots for role, deployment in deployments.items()}
    rows = _rows(played["library"], played["baseline"])
    print(f"{name}: timing {len(rows)} hook kinds, {runs} interleaved runs each...", flush=True)
    _time(rows, deployments, snapshots, played["library"], runs)
    return Comparison(name, specs, played, rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; print the tables; write the JSON results.

    Args:
        argv: command-line arguments (`--runs`, `--output`, `--skip-micro`, ...).

    Returns:
        The exit status.
    """
    args = parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="leader-config-bench-") as tmp:
        comparisons = {
            name: compare(name, specs, Path(tmp, name), args.runs)
            for name, specs in COMPARISONS.items()
        }
    no_ack, ack = comparisons["no-ack"], comparisons["ack"]
    dispatches = sum(len(row.seconds["library"]) for c in comparisons.values() for row in c.rows)
    results: dict[str, Any] = {
        "machine": machine(),
        "scenario": {
            "units": UNITS,
            "deploy_config": DEPLOY_CONFIG,
            "runs_per_hook_and_variant": args.runs,
            "dispatches_timed": dispatches * len(VARIANTS),
        },
        # acknowledge=False against the hand-written baseline, as before acknowledgements.
        **no_ack.section(),
        "acknowledgements": ack.section(),
    }
    lines = [
        *no_ack.markdown(
            "Hook tool calls and hook time per dispatch (3 units, acknowledge=False)"
        ),
        "",
        *ack.markdown(
            "With acknowledgements: hook tool calls and hook time per dispatch (3 units)"
        ),
        "",
        "relation-set calls to each unit's own databag (3 revisions acknowledged):"
        f" {ack.specs[0].name} {json.dumps(_unit_relation_sets(ack.played['library']))},"
        f" {ack.specs[1].name} {json.dumps(_unit_relation_sets(ack.played['baseline']))}.",
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
