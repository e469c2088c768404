"""Reruns on new cuts, changed raw files, changed plans and changed code; and what changed between cuts.

Each test works on its own copy of one built project and asks Snakemake for a dry run.
"""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import FINAL_CUTS, INTERIM_CUTS, ROOT, configured_cuts

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.e2e


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "snakemake"), *args], cwd=workdir, capture_output=True, text=True, timeout=900)


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Rule -> number of jobs a dry run would execute (empty when there is nothing to do)."""
    result = _snakemake(workdir, "-n", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    # the project's console (profiles/default, --logger ucmsc): "54 job(s) to run: ingest 7, clean 7, ..."
    planned = next(line for line in text.splitlines() if " job(s) to run: " in line).split(" job(s) to run: ")[1]
    return {rule: int(count) for rule, count in (item.split() for item in planned.split(", "))}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("built")
    for name in ("Snakefile", "workflow", "profiles", "config", "resources", "src", "envs", "pyproject.toml"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, workdir / name)
    result = _snakemake(workdir, "--cores", "2")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


@pytest.fixture
def project(built, tmp_path):
    """A private copy of the built project (modification times kept)."""
    return Path(shutil.copytree(built, tmp_path / "project", symlinks=True))


def test_a_built_project_has_nothing_to_do(project):
    assert planned_jobs(project) == {}


def test_config_selects_one_cut(project):
    shutil.rmtree(project / "results")
    shutil.rmtree(project / ".snakemake")
    first = planned_jobs(project, "--config", "trial=nafld_efficacy", f"cut={INTERIM_CUTS['nafld_efficacy']}")
    assert first == {"all": 1, "analyze": 1, "audit": 1, "clean": 1, "derive": 1, "figures": 1, "ingest": 1,
                     "report": 1}
    # A later cut's report compares it with the cut before: that cut's clean data and ARD are built too, nothing else.
    later = planned_jobs(project, "--config", "trial=nafld_efficacy", f"cut={FINAL_CUTS['nafld_efficacy']}")
    assert (later["report"] == 1 and later["diff"] == 1 and later["ingest"] == 2 and later["analyze"] == 2
            and "index" not in later)


def test_a_new_cut_rebuilds_only_that_cut(project):
    trial, final = "t2dm_safety", FINAL_CUTS["t2dm_safety"]
    new = project / "resources" / "datacuts" / trial / "2022-01-31"
    shutil.copytree(project / "resources" / "datacuts" / trial / final, new)
    manifest = json.loads((new / "manifest.json").read_text())
    # a new delivery's own manifest
    (new / "manifest.json").write_text(json.dumps(manifest | {"cut_date": "2022-01-31"}))
    config_path = project / "config" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["trials"][trial]["cuts"].append("2022-01-31")
    config_path.write_text(yaml.safe_dump(config))
    jobs = planned_jobs(project)
    assert jobs == {"all": 1, "analyze": 1, "audit": 1, "clean": 1, "derive": 1, "diff": 1, "figures": 1, "index": 1,
                    "ingest": 1, "report": 1}


def test_a_changed_raw_file_reruns_only_what_depends_on_it(project):
    clamp = project / "resources" / "datacuts" / "nafld_efficacy" / FINAL_CUTS["nafld_efficacy"] / "clamp.csv"
    lines = clamp.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",3.99"
    clamp.write_text("\n".join(lines) + "\n")
    jobs = planned_jobs(project)
    # that cut's chain, its comparison with the interim cut, and the index; not the interim cut, not the other trial
    assert jobs == {"all": 1, "analyze": 1, "audit": 1, "clean": 1, "derive": 1, "diff": 1, "figures": 1, "index": 1,
                    "ingest": 1, "report": 1}


def test_touching_a_raw_file_without_changing_it_reruns_nothing(project):
    dm = project / "resources" / "datacuts" / "nafld_efficacy" / FINAL_CUTS["nafld_efficacy"] / "dm.xpt"
    dm.touch()
    assert planned_jobs(project) == {}


def test_a_changed_analysis_plan_reruns_the_analyses_not_the_data_stages(project):
    path = project / "config" / "trials" / "nafld_efficacy.yaml"
    config = yaml.safe_load(path.read_text())
    mmrm = next(a for a in config["analyses"] if a["id"] == "MMRM")
    mmrm["parameters"] = mmrm["parameters"][:-1]
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    jobs = planned_jobs(project)
    assert jobs.get("analyze") == 2 and not {"ingest", "clean", "derive"} & set(jobs)


def test_an_edited_statistics_module_reruns_the_analyses_but_not_ingestion(project):
    stats = project / "src" / "ucmsc" / "stats.py"
    stats.write_text(stats.read_text() + "\n# a fix to a statistic\n")
    jobs = planned_jobs(project)
    assert jobs.get("analyze") == len(configured_cuts(project)) and not {"ingest", "clean", "derive"} & set(jobs)


def test_an_edited_cleaning_module_reruns_cleaning_and_after_not_ingestion(project):
    clean = project / "src" / "ucmsc" / "clean.py"
    clean.write_text(clean.read_text() + "\n# a fix to a check\n")
    jobs = planned_jobs(project)
    cuts = len(configured_cuts(project))
    assert jobs.get("clean") == cuts and jobs.get("analyze") == cuts and "ingest" not in jobs


def test_building_one_cut_leaves_the_others_untouched(project):
    interim = project / "results" / "t2dm_safety" / INTERIM_CUTS["t2dm_safety"]
    before = {p: p.stat().st_mtime_ns for p in interim.rglob("*") if p.is_file()}
    raw = project / "resources" / "datacuts" / "t2dm_safety" / FINAL_CUTS["t2dm_safety"] / "disposition.csv"
    raw.write_text(raw.read_text().replace("Completed follow-up", "Completed follow up", 1))
    manifest = json.loads((raw.parent / "manifest.json").read_text())  # re-delivered with its manifest
    next(e for e in manifest["files"] if e["name"] == raw.name)["sha256"] = hashlib.sha256(raw.read_bytes()).hexdigest()
    (raw.parent / "manifest.json").write_text(json.dumps(manifest))
    result = _snakemake(project, "--cores", "2", "--config", "trial=t2dm_safety", f"cut={FINAL_CUTS['t2dm_safety']}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert before == {p: p.stat().st_mtime_ns for p in interim.rglob("*") if p.is_file()}


def test_a_failed_build_leaves_no_partial_output(project):
    cut = project / "results" / "t2dm_safety" / INTERIM_CUTS["t2dm_safety"]
    shutil.rmtree(cut)
    raw = project / "resources" / "datacuts" / "t2dm_safety" / INTERIM_CUTS["t2dm_safety"] / "lb.xpt"
    good = raw.read_bytes()
    raw.write_bytes(b"HEADER RECORD*******LIBRARY HEADER RECORD" + b"\0" * 100)  # a truncated transfer
    result = _snakemake(project, "--cores", "2", "--keep-going")
    assert result.returncode != 0
    log = (cut / "logs" / "ingest.log").read_text()
    assert "lb.xpt: SHA-256" in log and "differs from" in log  # the manifest check names the file and both values
    assert not (cut / "ingest").exists() or not any((cut / "ingest").iterdir())
    raw.write_bytes(good)
    assert "ingest" in planned_jobs(project)


def test_a_failed_rebuild_leaves_no_stale_result_that_looks_current(project):
    """A cut whose rebuild fails keeps no report, ARD, figure or comparison from before, nor does the index."""
    trial, interim, final = "nafld_efficacy", INTERIM_CUTS["nafld_efficacy"], FINAL_CUTS["nafld_efficacy"]
    results = project / "results"
    raw = project / "resources" / "datacuts" / trial / interim / "lb.xpt"
    raw.write_bytes(raw.read_bytes()[: raw.stat().st_size // 2])
    other = {p: p.stat().st_mtime_ns for p in (results / "t2dm_safety").rglob("*") if p.is_file()}
    result = _snakemake(project, "--cores", "2", "--keep-going")
    assert result.returncode != 0
    cut = results / trial / interim
    for stale in ("sdtm", "adam", "ard.csv", "audit.csv", "figures", "report.html", "queries.csv"):
        assert not (cut / stale).exists(), f"{stale} of the failed cut is still there"
    assert not (results / trial / "diff" / f"{interim}..{final}").exists()
    assert not (results / trial / final / "report.html").exists()  # it shows the comparison with the failed cut
    # the later cut's own results do not depend on the earlier cut
    assert (results / trial / final / "ard.csv").exists()
    assert not (results / "index.html").exists()
    assert other == {p: p.stat().st_mtime_ns for p in (results / "t2dm_safety").rglob("*") if p.is_file()}
    assert "removed results/nafld_efficacy/2017-06-30/report.html" in (cut / "logs" / "ingest.log").read_text()


def test_cut_comparison_lists_corrections_subjects_and_results(built):
    folder = (built / "results" / "nafld_efficacy" / "diff"
              / f"{INTERIM_CUTS['nafld_efficacy']}..{FINAL_CUTS['nafld_efficacy']}")
    records = pd.read_csv(folder / "records.csv", dtype=str, keep_default_na=False)
    subjects = pd.read_csv(folder / "subjects.csv")
    results = pd.read_csv(folder / "results.csv", dtype={"OLD": str, "NEW": str}, keep_default_na=False)
    manifest = json.loads((built / "resources" / "datacuts" / "nafld_efficacy" / FINAL_CUTS["nafld_efficacy"]
                           / "manifest.json").read_text())
    transposed = next(c for c in manifest["corrections_since_previous_cut"] if c["kind"] == "transposed_digits")
    hit = records[(records["CHANGE"] == "changed") & (records["VARIABLE"] == "LBSTRESN")
                  & records["KEY"].str.contains(transposed["subject"])
                  & records["KEY"].str.contains(f"LBTESTCD={transposed['testcd']}")]
    assert len(hit) == 1
    assert (float(hit["OLD"].iloc[0]) == transposed["interim_value"]
            and float(hit["NEW"].iloc[0]) == transposed["final_value"])
    randomised = pd.read_csv(built / "results" / "nafld_efficacy" / FINAL_CUTS["nafld_efficacy"] / "ard.csv")
    n_final = randomised[(randomised["ANALYSIS_ID"] == "POP") & (randomised["PARAMCD"] == "RANDFL")]["VALUE"].sum()
    interim = pd.read_csv(built / "results" / "nafld_efficacy" / INTERIM_CUTS["nafld_efficacy"] / "ard.csv")
    n_interim = interim[(interim["ANALYSIS_ID"] == "POP") & (interim["PARAMCD"] == "RANDFL")]["VALUE"].sum()
    assert (subjects["CHANGE"] == "added").sum() == n_final - n_interim
    flips = results[results["SIGNIFICANCE_FLIPPED"] == "Y"]
    assert len(flips) > 0 and (flips["STAT_NAME"].isin(["p", "fisher_p"])).all()
    report = (built / "results" / "nafld_efficacy" / FINAL_CUTS["nafld_efficacy"] / "report.html").read_text()
    assert f"Compared with cut {INTERIM_CUTS['nafld_efficacy']}" in report
