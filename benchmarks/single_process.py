#!/usr/bin/env python
"""Run the whole analysis in one Python process, without Snakemake: the workflow's baseline.

It calls the same stage runners as the workflow's scripts, cut by cut, and prints the wall
time of each stage as JSON. With ``--trial/--cut-dir`` it runs one (possibly enlarged) cut;
``--until ard`` stops after the analysis-results dataset.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from datetime import date
from pathlib import Path

from ucmsc.analyze import run_analyze
from ucmsc.audit import run_audit
from ucmsc.clean import run_clean
from ucmsc.config import load_yaml
from ucmsc.derive import run_derive
from ucmsc.diffcuts import run_diff
from ucmsc.domains import DOMAINS
from ucmsc.figures import run_figures
from ucmsc.ingest import run_ingest
from ucmsc.report import run_index, run_report
from ucmsc.stages import RETAINS_FREED_MEMORY, retain_freed_memory, stage_config

LOG = logging.getLogger("single_process")


def tables(folder: Path, stage: str) -> list[str]:
    return [str(folder / stage / f"{d.lower()}.parquet") for d in DOMAINS]


def run_cut(project: Path, results: Path, trial: str, trial_config: dict, cut_dir: Path, cut: str, previous: str | None,
            until: str, timings: dict, only: set[str] | None = None) -> None:
    out = results / trial / cut
    config = trial_config  # each stage gets its section of the trial config, as the workflow passes it
    dictionary = load_yaml(project / trial_config["ae_dictionary"]) if "ae_dictionary" in trial_config else {}
    published = load_yaml(project / "resources" / "published" / "published_numbers.yaml").get(trial)

    def timed(stage, function, *args):
        if only and stage not in only:  # its outputs are already there
            return
        if stage in RETAINS_FREED_MEMORY:  # as the stage's workflow job does (from then on for this process)
            retain_freed_memory()
        start = time.perf_counter()
        function(*args)
        timings[f"{trial}/{cut}/{stage}"] = round(time.perf_counter() - start, 3)
        # peak resident memory of this process so far (KiB on Linux): the stage where it jumps is where the peak is
        timings[f"{trial}/{cut}/{stage}_peak_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    timed("ingest", run_ingest, cut_dir, stage_config(config, "ingest"), tables(out, "ingest"),
          str(out / "ingest" / "other"),
          str(out / "ingest" / "raw_files.json"), LOG)
    timed("clean", run_clean, tables(out, "ingest"), str(out / "ingest" / "other"), stage_config(config, "clean"),
          date.fromisoformat(cut), tables(out, "sdtm"), str(out / "sdtm" / "other"), str(out / "queries.csv"),
          str(out / "quarantine.csv"), str(out / "cleaning_summary.csv"),
          str(out / "sdtm" / "define.csv"), LOG, str(out / "sdtm" / "xpt"))
    timed("derive", run_derive, tables(out, "sdtm"), stage_config(config, "derive"), dictionary,
          str(out / "adam" / "adsl.parquet"),
          str(out / "adam" / "bds"), str(out / "adam" / "adae.parquet"),
          str(out / "adam" / "queries.csv"), LOG, str(out / "adam" / "xpt"), str(out / "adam" / "dictionary.csv"),
          str(project / "config" / "adam" / "spec.yaml"), str(out / "adam" / "define.xml"),
          str(out / "adam" / "conformance.csv"), cut)
    timed("analyze", run_analyze, str(out / "adam" / "adsl.parquet"), str(out / "adam" / "bds"),
          str(out / "adam" / "adae.parquet"), stage_config(config, "analyze"), trial, cut, str(out / "ard.csv"), LOG,
          str(out / "ard_cards.csv"))
    if until == "ard":
        return
    timed("audit", run_audit, str(out / "ard.csv"), published, str(out / "audit.csv"), LOG, cut,
          stage_config(config, "audit").get("publication", {}).get("cut"))
    timed("figures", run_figures, str(out / "ard.csv"), str(out / "ingest" / "raw_files.json"),
          stage_config(config, "figures"), trial,
          cut, str(out / "figures"), project, LOG)
    paths = {"ard": str(out / "ard.csv"), "audit": str(out / "audit.csv"), "queries": str(out / "queries.csv"),
             "derive_queries": str(out / "adam" / "queries.csv"), "summary": str(out / "cleaning_summary.csv"),
             "raw_files": str(out / "ingest" / "raw_files.json"), "figures": str(out / "figures"),
             "adam_dictionary": str(out / "adam" / "dictionary.csv"),
             "conformance": str(out / "adam" / "conformance.csv")}
    if previous:
        folder = results / trial / "diff" / f"{previous}..{cut}"
        outputs = {name: str(folder / f"{name}.csv") for name in ("subjects", "records", "results")}
        timed("diff", run_diff, tables(results / trial / previous, "sdtm"), tables(out, "sdtm"),
              str(results / trial / previous / "ard.csv"), str(out / "ard.csv"), outputs, LOG)
        paths.update({f"diff_{name}": path for name, path in outputs.items()})
    timed("report", run_report, paths, stage_config(config, "report"), cut, previous, project, str(out / "report.html"),
          str(out / "report_tables_provenance.json"), LOG, str(out / "report_build.json"), str(out / "tlf"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", type=Path, default=Path.cwd())
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--trial", help="run only this trial, with --cut-dir")
    parser.add_argument("--cut-dir", type=Path, help="the raw data cut to run (its folder name is the cut date)")
    parser.add_argument("--until", choices=["ard", "report"], default="report")
    parser.add_argument("--only", nargs="+", help="run only these stages (their inputs exist), e.g. --only analyze")
    args = parser.parse_args()
    project = args.project.resolve()
    config = load_yaml(project / "config" / "config.yaml")
    timings: dict = {}
    start = time.perf_counter()
    if args.trial:
        trial_config = load_yaml(project / config["trials"][args.trial]["config"])
        run_cut(project, args.results, args.trial, trial_config, args.cut_dir, args.cut_dir.name,
                None, args.until, timings, set(args.only or ()))
    else:
        reports = []
        for trial, entry in config["trials"].items():
            trial_config = load_yaml(project / entry["config"])
            for i, cut in enumerate(entry["cuts"]):
                run_cut(project, args.results, trial, trial_config, project / entry["datacuts"] / cut, cut,
                        entry["cuts"][i - 1] if i else None, args.until, timings)
                reports.append(str(args.results / trial / cut / "report.html"))
        if args.until == "report":
            titles = {t: load_yaml(project / e["config"])["title"] for t, e in config["trials"].items()}
            run_index(reports, titles, str(args.results / "index.html"))
    timings["total"] = round(time.perf_counter() - start, 3)
    print(json.dumps(timings))


if __name__ == "__main__":
    main()
