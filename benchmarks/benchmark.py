#!/usr/bin/env python
"""Benchmark the workflow: full rebuilds, no-op and incremental reruns, a single-process baseline, enlarged cuts.

Not a test: it measures this machine and writes one CSV row per measurement (wall time,
peak memory of the process tree, the machine's cores). Run it from the project root with
the project's environment:

    .venv/bin/python benchmarks/benchmark.py                 # everything (about 15 minutes on 2 cores)
    .venv/bin/python benchmarks/benchmark.py --sizes 10000   # smaller enlarged cut only

Targets (issue 20): the bundled cuts' full rebuild within 12 s on 2 cores and no slower than
the single-process baseline, an incremental rerun after one raw file changes within 6 s, a
no-op rerun within 1.2 s; 100,000 subjects from raw files to the ARD in < 60 s and < 4 GiB,
peak memory at most linear in subjects. An enlarged cut runs each stage in its own process,
as the workflow does, so each stage's time and peak memory (and MiB per 1,000 subjects) are
its own.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROJECT_FILES = ("Snakefile", "workflow", "profiles", "config", "resources", "src", "envs", "pyproject.toml")
ENLARGED_STAGES = ("ingest", "clean", "derive", "analyze")
COLUMNS = ["measure", "subjects", "cores_used", "wall_s", "peak_mib", "detail", "machine_cores", "machine", "when_utc"]


# Runs a command and reports the peak resident memory of its process tree: RUSAGE_CHILDREN
# of this small wrapper covers exactly the command and its descendants (the largest of them).
_WRAPPER = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
            "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(code)")


def measured(command: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run ``command``; return wall seconds, peak resident memory of its largest process (MiB), and the result."""
    with tempfile.NamedTemporaryFile("r", suffix=".maxrss") as peak_file:
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", _WRAPPER, peak_file.name, *command], cwd=cwd,
                                capture_output=True, text=True)
        wall = time.perf_counter() - start
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
        peak = int(Path(peak_file.name).read_text() or 0) / 1024  # KiB on Linux
    return wall, peak, result


# Snakemake imports every installed executor plugin at start; the SLURM one imports pandas (about 0.5 s here). This
# runs Snakemake with that plugin left out of the discovery, as if it were not installed (measurement only).
SLURM_PLUGIN = "snakemake_executor_plugin_slurm"
_WITHOUT_SLURM_PLUGIN = (
    "import pkgutil, sys; found = pkgutil.iter_modules; "
    f"pkgutil.iter_modules = lambda *a, **k: (m for m in found(*a, **k) if m.name != {SLURM_PLUGIN!r}); "
    "sys.argv[0] = 'snakemake'; from snakemake.cli import main; main()")


def copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, dest / name)
    return dest


def redeliver(raw: Path) -> None:
    """Record a changed raw file's new checksum in its cut's manifest, as a re-delivery would."""
    manifest_path = raw.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = next(e for e in manifest["files"] if e["name"] == raw.name)
    entry["sha256"] = hashlib.sha256(raw.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest, indent=2))


def snakemake(project: Path, *args: str) -> tuple[float, float, subprocess.CompletedProcess]:
    return measured([str(BIN / "snakemake"), *args], project)


def slurm_probe() -> str:
    """What the SLURM executor plugin's start costs here. It runs ``scontrol show config`` whenever ``sinfo`` is
    installed, even for a local run; with no controller answering, scontrol retries for about 10 s."""
    if not shutil.which("sinfo") or not shutil.which("scontrol"):
        return "no SLURM client installed (the SLURM plugin asks nothing)"
    start = time.perf_counter()
    try:
        answered = subprocess.run(["scontrol", "show", "config"], capture_output=True, timeout=15).returncode == 0
    except subprocess.TimeoutExpired:
        answered = False
    took = time.perf_counter() - start
    return f"SLURM client installed: scontrol show config {'answered' if answered else 'failed'} in {took:.2f} s"


def memory_projection(peaks: dict[int, dict[str, float]], sizes: list[int]) -> list[dict]:
    """Each stage's peak memory per 1,000 more subjects between the two largest enlarged cuts measured, and the
    peak that slope projects for each size not run (a straight line through the largest measured peak)."""
    small, large = sorted(peaks)[-2:]
    rows = []
    for stage in ENLARGED_STAGES:
        slope = (peaks[large][stage] - peaks[small][stage]) / ((large - small) / 1000)
        rows.append({"measure": "enlarged_cut_marginal_memory", "subjects": large, "peak_mib": round(slope, 1),
                     "detail": f"{stage}: MiB per 1,000 more subjects, {small:,} -> {large:,}"})
        for n in sizes:  # a slope below zero (noise between two peaks) projects no growth, not a shrinking peak
            projected = peaks[large][stage] + max(slope, 0.0) * (n - large) / 1000
            rows.append({"measure": "enlarged_cut_projected_peak", "subjects": n, "peak_mib": round(projected, 1),
                         "detail": f"{stage}: projected, not measured ({large:,}-subject peak + {slope:.1f} MiB per "
                                   f"1,000 more subjects)"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "latest.csv")
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000], help="subjects in the enlarged cuts")
    parser.add_argument("--cache", type=Path, default=ROOT / "benchmarks" / "out", help="where enlarged cuts are kept")
    parser.add_argument("--not-run", nargs=2, action="append", default=[], metavar=("SUBJECTS", "REASON"),
                        help="record an enlarged cut that was not run, and why (e.g. 1000000 'simulator needs 37 GiB')")
    args = parser.parse_args()
    rows: list[dict] = []
    common = {"machine_cores": os.cpu_count(), "machine": f"{platform.machine()} {platform.python_implementation()} "
              f"{platform.python_version()}", "when_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}

    def record(measure, wall, peak, cores="", subjects="", detail=""):
        rows.append({"measure": measure, "subjects": subjects, "cores_used": cores, "wall_s": round(wall, 2),
                     "peak_mib": round(peak, 1), "detail": detail, **common})
        print(f"{measure:<34} {subjects!s:>7} cores={cores!s:<2} {wall:8.2f} s {peak:9.1f} MiB  {detail}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        project = copy_project(Path(tmp) / "project")
        for cores in ("4", "2"):
            shutil.rmtree(project / "results", ignore_errors=True)
            shutil.rmtree(project / ".snakemake", ignore_errors=True)
            wall, peak, _ = snakemake(project, "--cores", cores)
            record("full_rebuild", wall, peak, cores, detail="every bundled trial and cut, all stages")
            rebuild = wall
        # Snakemake's own start (plugins loaded, no workflow parsed): the floor under the no-op and incremental runs
        started = [snakemake(project, "--version")[0] for _ in range(3)]
        record("snakemake_startup", statistics.median(started), 0.0, detail=f"snakemake --version, median of 3: "
               f"{', '.join(f'{t:.2f}' for t in started)}; {slurm_probe()}")
        noop = [snakemake(project, "--cores", "4")[0] for _ in range(3)]
        record("noop_rerun", statistics.median(noop), 0.0, "4",
               detail=f"median of 3: {', '.join(f'{t:.2f}' for t in noop)}")
        if importlib.util.find_spec(SLURM_PLUGIN):  # what the no-op costs where the plugin is not installed
            bare = [measured([sys.executable, "-c", _WITHOUT_SLURM_PLUGIN, "--cores", "4"], project)[0]
                    for _ in range(3)]
            record("noop_rerun_without_slurm_plugin", statistics.median(bare), 0.0, "4",
                   detail=f"SLURM executor plugin hidden from Snakemake's plugin discovery, median of 3: "
                          f"{', '.join(f'{t:.2f}' for t in bare)}")
        clamp = project / "resources" / "datacuts" / "nafld_efficacy" / "2019-01-15" / "clamp.csv"
        lines = clamp.read_text().splitlines()
        lines[1] = lines[1].rsplit(",", 1)[0] + ",3.99"
        clamp.write_text("\n".join(lines) + "\n")
        redeliver(clamp)
        wall, peak, _ = snakemake(project, "--cores", "4")
        record("incremental_one_raw_file", wall, peak, "4", detail="clamp.csv of the efficacy final cut changed")
        wall, peak, result = measured([sys.executable, str(ROOT / "benchmarks" / "single_process.py"), "--project",
                                       str(project), "--results", str(Path(tmp) / "single")], project)
        record("single_process_baseline", wall, peak, "1", detail="same stage runners, one process, no Snakemake")
        rows.append({"measure": "ratio_rebuild_cores2_to_baseline", "wall_s": round(rebuild / wall, 2),
                     "detail": "target <= 1.5", **common})
        print(f"ratio full rebuild (2 cores) / single process: {rebuild / wall:.2f}")
        stages = json.loads(result.stdout)
        slowest = sorted(((k, v) for k, v in stages.items() if k != "total" and not k.endswith("_mib")),
                         key=lambda kv: -kv[1])[:5]
        rows.append({"measure": "baseline_slowest_stages",
                     "detail": "; ".join(f"{k} {v:.2f} s" for k, v in slowest), **common})

        enlarged_peaks: dict[int, dict[str, float]] = {}
        for n in args.sizes:
            cut = args.cache / f"scaled_{n}" / "nafld_efficacy" / "2019-01-15"
            if not (cut / "manifest.json").exists():
                measured([str(BIN / "ucmsc-simulate"), "--out", str(args.cache / f"scaled_{n}"), "--trial",
                          "nafld_efficacy", "--subjects", str(n), "--final-only"], ROOT)
            walls, peaks = {}, {}
            enlarged_peaks[n] = peaks
            for stage in ENLARGED_STAGES:
                walls[stage], peaks[stage], _ = measured(
                    [sys.executable, str(ROOT / "benchmarks" / "single_process.py"), "--project", str(project),
                     "--results", str(Path(tmp) / f"scaled_{n}"), "--trial", "nafld_efficacy", "--cut-dir", str(cut),
                     "--until", "ard", "--only", stage], project)
                record("enlarged_cut_stage", walls[stage], peaks[stage], "1", n,
                       f"{stage}: {peaks[stage] / (n / 1000):.1f} MiB per 1,000 subjects")
            record("enlarged_cut_to_ard", sum(walls.values()), max(peaks.values()), "1", n, "; ".join(
                f"{stage} {walls[stage]:.1f} s, {peaks[stage]:.0f} MiB" for stage in ENLARGED_STAGES))

    for subjects, reason in args.not_run:
        rows.append({"measure": "enlarged_cut_not_run", "subjects": int(subjects), "detail": reason, **common})
    if len(enlarged_peaks) >= 2:
        rows.extend(dict(row, **common) for row in memory_projection(
            enlarged_peaks, [int(subjects) for subjects, _ in args.not_run]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
