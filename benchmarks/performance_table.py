#!/usr/bin/env python
"""The README's performance table, rendered from the committed benchmark CSV (benchmarks/results/latest.csv).

    .venv/bin/python benchmarks/performance_table.py          # print the table
    .venv/bin/python benchmarks/performance_table.py --write  # put it into README.md between its markers

A test checks that the README holds exactly the table of the committed CSV, so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "benchmarks" / "results" / "latest.csv"
README = ROOT / "README.md"
START, END = "<!-- performance-table:start -->", "<!-- performance-table:end -->"
# issue 20's targets
REBUILD_S, INCREMENTAL_S, NOOP_S, RATIO, SCALE_SUBJECTS, SCALE_S, SCALE_MIB = 12, 6, 1.2, 1.0, 100_000, 60, 4096


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def _mib(value: float) -> str:
    return f"{value / 1024:.1f} GiB" if value >= 1024 else f"{value:.0f} MiB"


LINEAR_TOLERANCE = 0.10  # run-to-run noise of a peak


def _at_most_linear(stages: list[dict]) -> bool:
    """Every stage's memory grows no faster than linearly: with three or more cut sizes, the MiB per 1,000 more
    subjects does not rise from one pair of sizes to the next (beyond the tolerance); with two, the peak per subject
    is no higher at the larger cut (a fixed start-up cost lowers it, so this alone would pass faster growth)."""
    peaks = {}
    for row in stages:
        peaks.setdefault(row["detail"].split(":")[0], []).append((int(row["subjects"]), float(row["peak_mib"])))
    for sizes in peaks.values():
        sizes.sort()
        if len(sizes) >= 3:
            slopes = [(p2 - p1) / (n2 - n1) for (n1, p1), (n2, p2) in zip(sizes, sizes[1:])]
            if any(later > earlier * (1 + LINEAR_TOLERANCE) for earlier, later in zip(slopes, slopes[1:])):
                return False
        elif any(p2 / n2 > p1 / n1 for (n1, p1), (n2, p2) in zip(sizes, sizes[1:])):
            return False
    return True


def render(rows: list[dict]) -> str:
    """The markdown table of one benchmark run."""
    by = {}
    for row in rows:
        by.setdefault(row["measure"], []).append(row)
    rebuild = {r["cores_used"]: r for r in by.get("full_rebuild", [])}
    baseline = by["single_process_baseline"][0]
    ratio = float(by["ratio_rebuild_cores2_to_baseline"][0]["wall_s"])
    noop, incremental = by["noop_rerun"][0], by["incremental_one_raw_file"][0]
    lines = ["| measure | wall | peak memory | target |", "| --- | --- | --- | --- |"]
    two, four = rebuild["2"], rebuild["4"]
    lines.append(f"| full rebuild of the bundled cuts, `--cores 4` / `--cores 2` | {float(four['wall_s']):.1f} s / "
                 f"{float(two['wall_s']):.1f} s | {_mib(float(two['peak_mib']))} | <= {REBUILD_S} s on 2 cores: "
                 f"{_verdict(float(two['wall_s']) <= REBUILD_S)} |")
    lines.append(f"| the same stages in one process (`single_process.py`) | {float(baseline['wall_s']):.1f} s | "
                 f"{_mib(float(baseline['peak_mib']))} | |")
    lines.append(f"| full rebuild (2 cores) / one process | {ratio:.2f} | | <= {RATIO:g}: {_verdict(ratio <= RATIO)} |")
    for start in by.get("snakemake_startup", []):  # the floor under the two reruns
        lines.append(f"| Snakemake's own start ({start['detail']}) | {float(start['wall_s']):.2f} s | | |")
    lines.append(f"| no-op rerun ({noop['detail']}) | {float(noop['wall_s']):.2f} s | | <= {NOOP_S} s: "
                 f"{_verdict(float(noop['wall_s']) <= NOOP_S)} |")
    for bare in by.get("noop_rerun_without_slurm_plugin", []):
        lines.append(f"| no-op rerun, {bare['detail']} | {float(bare['wall_s']):.2f} s | | the same target without "
                     f"the plugin: {_verdict(float(bare['wall_s']) <= NOOP_S)} |")
    lines.append(f"| incremental rerun ({incremental['detail']}) | {float(incremental['wall_s']):.1f} s | "
                 f"{_mib(float(incremental['peak_mib']))} | <= {INCREMENTAL_S} s: "
                 f"{_verdict(float(incremental['wall_s']) <= INCREMENTAL_S)} |")
    stages = by.get("enlarged_cut_stage", [])
    for total in by.get("enlarged_cut_to_ard", []):
        n = int(total["subjects"])
        wall, peak = float(total["wall_s"]), float(total["peak_mib"])
        target = ""
        if n == SCALE_SUBJECTS:
            target = (f"< {SCALE_S} s: {_verdict(wall < SCALE_S)}; < {SCALE_MIB // 1024} GiB: "
                      f"{_verdict(peak < SCALE_MIB)}")
        lines.append(f"| {n:,} subjects, raw files to the ARD (a process per stage) | {wall:.1f} s | {_mib(peak)} | "
                     f"{target} |")
        for stage in (s for s in stages if s["subjects"] == total["subjects"]):
            name, per_thousand = stage["detail"].split(": ", 1)
            lines.append(f"| &nbsp;&nbsp;{name} | {float(stage['wall_s']):.1f} s | {_mib(float(stage['peak_mib']))} "
                         f"({per_thousand}) | |")
    marginal = by.get("enlarged_cut_marginal_memory", [])
    if marginal:
        span = marginal[0]["detail"].split(", ", 1)[1]
        per_stage = "; ".join(f"{r['detail'].split(':')[0]} {float(r['peak_mib']):.1f}" for r in marginal)
        lines.append(f"| peak memory per 1,000 more subjects, {span} | | {per_stage} "
                     f"MiB | at most linear: {_verdict(_at_most_linear(stages))} |")
    projected = by.get("enlarged_cut_projected_peak", [])
    for row in by.get("enlarged_cut_not_run", []):
        peaks = "; ".join(f"{r['detail'].split(':')[0]} {_mib(float(r['peak_mib']))}" for r in projected
                          if int(r["subjects"]) == int(row["subjects"]))
        lines.append(f"| {int(row['subjects']):,} subjects: not run | | "
                     f"{'projected, not measured: ' + peaks if peaks else ''} | {row['detail']} |")
    when = rows[0]["when_utc"]
    return (f"Measured {when} on {rows[0]['machine']}, {rows[0]['machine_cores']} cores "
            f"(`benchmarks/results/latest.csv`):\n\n" + "\n".join(lines) + "\n")


def read_rows(path: Path = CSV) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def readme_with_table(readme: str, table: str) -> str:
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}{END}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="replace the table in README.md")
    args = parser.parse_args()
    table = render(read_rows())
    if args.write:
        README.write_text(readme_with_table(README.read_text(encoding="utf-8"), table), encoding="utf-8")
    else:
        print(table)


if __name__ == "__main__":
    main()
