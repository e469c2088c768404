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
    for row in by.get("enlarged_cut_not_run", []):
        lines.append(f"| {int(row['subjects']):,} subjects: not run | | | {row['detail']} |")
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
