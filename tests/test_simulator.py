"""The bundled synthetic cuts, read straight from the raw files (not through the pipeline)."""

import hashlib
import json

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from scipy import stats

from conftest import DATACUTS, FINAL_CUTS, INTERIM_CUTS
from ucmsc_sim.cli import DEFAULT_SEEDS
from ucmsc_sim.deliver import write_cut
from ucmsc_sim.generate import simulate_trial
from ucmsc_sim.trials import TRIALS

EFF = DATACUTS / "nafld_efficacy" / FINAL_CUTS["nafld_efficacy"]
SAF = DATACUTS / "t2dm_safety" / FINAL_CUTS["t2dm_safety"]


def xpt(folder, name):
    return pyreadstat.read_xport(str(folder / name))[0]


def summary(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


@pytest.fixture(scope="module")
def efficacy():
    dm = xpt(EFF, "dm.xpt")
    arm = dm.set_index("SUBJID")["TRTGRP"].map({1.0: "UC-MSC", 2.0: "Placebo"})
    lb = xpt(EFF, "lb.xpt").drop_duplicates(["SUBJID", "VISIT", "LBTESTCD"])
    lb = lb[lb["SUBJID"].isin(dm["SUBJID"])].assign(ARM=lambda f: f["SUBJID"].map(arm))
    lb["VALUE"] = pd.to_numeric(lb["LBORRES"], errors="coerce")
    central = pd.read_csv(EFF / "central_lab.csv", dtype=str).assign(ARM=lambda f: f["Patient ID"].map(arm))
    clamp = pd.read_csv(EFF / "clamp.csv").assign(ARM=lambda f: f["subject_id"].map(arm))
    imaging = pd.read_csv(EFF / "liver_imaging.csv").assign(ARM=lambda f: f["subject_id"].map(arm))
    return {"dm": dm, "arm": arm, "lb": lb, "central": central, "clamp": clamp, "imaging": imaging}


def test_efficacy_demographics_as_published(efficacy):
    dm = efficacy["dm"]
    assert dm.groupby("TRTGRP").size().to_dict() == {1.0: 33, 2.0: 32}
    assert dm[dm["TRTGRP"] == 1]["SEX"].value_counts().to_dict() == {"M": 22, "F": 11}
    assert dm[dm["TRTGRP"] == 2]["SEX"].value_counts().to_dict() == {"M": 22, "F": 10}
    assert summary(dm[dm["TRTGRP"] == 1]["AGE"]) == "51.36 ± 8.85"
    assert summary(dm[dm["TRTGRP"] == 2]["AGE"]) == "50.47 ± 8.42"


@pytest.mark.parametrize("arm, visit, published", [
    ("UC-MSC", "BASELINE", "8.33 ± 1.80"), ("UC-MSC", "WEEK 9", "7.46 ± 1.79"), ("UC-MSC", "WEEK 20", "7.51 ± 1.77"),
    ("Placebo", "WEEK 9", "8.19 ± 1.95"), ("Placebo", "WEEK 20", "9.10 ± 2.78"),
])
def test_fasting_glucose_as_published(efficacy, arm, visit, published):
    lb = efficacy["lb"]
    assert summary(lb[(lb["LBTESTCD"] == "GLUC") & (lb["ARM"] == arm) & (lb["VISIT"] == visit)]["VALUE"]) == published


def test_clamp_gir_week_48_as_published(efficacy):
    clamp = efficacy["clamp"]
    at48 = clamp[clamp["visit_week"] == 48]
    assert summary(at48[at48["ARM"] == "UC-MSC"]["gir_mg_kg_min"]) == "4.77 ± 1.70"
    assert summary(at48[at48["ARM"] == "Placebo"]["gir_mg_kg_min"]) == "3.57 ± 1.76"


@pytest.mark.parametrize("visit, msc, placebo", [("WEEK 9", 20, 9), ("WEEK 20", 17, 8), ("WEEK 48", 16, 4)])
def test_hba1c_target_counts_as_published(efficacy, visit, msc, placebo):
    central = efficacy["central"]
    rows = central[(central["Analyte"] == "HBA1C") & (central["Visit"] == visit)]
    at_target = rows[pd.to_numeric(rows["Result"]) < 7.0].groupby("ARM").size()
    assert (at_target.get("UC-MSC", 0), at_target.get("Placebo", 0)) == (msc, placebo)


def test_ultrasound_improvement_at_week_20_as_published(efficacy):
    grades = efficacy["imaging"].pivot_table(index=["subject_id", "ARM"], columns="visit_week", values="steatosis_grade")
    improved = (grades[20] <= grades[0] - 1).groupby(level="ARM").sum()
    assert (improved["UC-MSC"], improved["Placebo"]) == (15, 6)


@pytest.mark.parametrize("testcd, weeks_lower, weeks_unchanged", [
    ("TG", (9, 20, 48), ()), ("GGT", (9, 20, 48), ()), ("CHOL", (9, 48), (20,)), ("ALT", (20,), (9, 48)),
    ("AST", (), (9, 20, 48)),
])
def test_efficacy_directions_stated_in_the_abstract(efficacy, testcd, weeks_lower, weeks_unchanged):
    lb = efficacy["lb"]
    wide = lb[(lb["LBTESTCD"] == testcd) & (lb["ARM"] == "UC-MSC")].pivot_table(index="SUBJID", columns="VISIT", values="VALUE")
    for week in weeks_lower + weeks_unchanged:
        pair = wide[["BASELINE", f"WEEK {week}"]].dropna()
        result = stats.ttest_rel(pair[f"WEEK {week}"], pair["BASELINE"])
        if week in weeks_lower:
            assert result.statistic < 0 and result.pvalue < 0.05, (testcd, week, result)
        else:
            assert result.pvalue >= 0.05, (testcd, week, result)


@pytest.fixture(scope="module")
def safety_labs():
    dm = xpt(SAF, "dm.xpt")
    arm = dm.set_index("PATNO")["GROUP"].map({1.0: "hUC-MSC", 0.0: "Placebo"})
    lb = xpt(SAF, "lb.xpt").rename(columns={"PATNO": "SUBJ", "VISITNAM": "VISIT", "TESTCODE": "TEST", "RESULT": "VALUE"})
    central = pd.read_csv(SAF / "central_lab.csv", dtype=str, encoding="latin-1").rename(
        columns={"Patient": "SUBJ", "Visit": "VISIT", "Test": "TEST", "Value": "VALUE"})
    labs = pd.concat([lb[["SUBJ", "VISIT", "TEST", "VALUE"]], central[["SUBJ", "VISIT", "TEST", "VALUE"]]])
    labs = labs[labs["SUBJ"].isin(dm["PATNO"])].drop_duplicates(["SUBJ", "VISIT", "TEST"])
    labs["VALUE"] = pd.to_numeric(labs["VALUE"], errors="coerce")
    labs["ARM"] = labs["SUBJ"].map(arm)
    wide = labs.pivot_table(index=["SUBJ", "ARM", "VISIT"], columns="TEST", values="VALUE").reset_index()
    wide["NLR"] = wide["NEUT"] / wide["LYM"]
    return dm, wide


# Lian 2023: which weeks differ between arms, and in which direction (+1 higher with hUC-MSC).
SAFETY_PATTERN = {"LYM": ((2, 3), -1), "TT": ((2,), -1), "PLAT": ((3,), 1), "IGG": ((1, 2, 3, 4), 1),
                  "IGA": ((1, 2, 3, 4), 1), "IGM": ((1, 2, 3, 4), 1), "FIBRINO": ((2, 3), 1),
                  "DDIMER": ((1, 2, 3, 4, 12, 24), 1), "NLR": ((2, 3), 1), "AFP": ((), 0), "CEA": ((), 0),
                  "CA199": ((), 0), "TG": ((), 0), "CHOL": ((), 0), "HDL": ((), 0), "LDL": ((), 0)}


@pytest.mark.parametrize("testcd", sorted(SAFETY_PATTERN))
def test_safety_group_differences_follow_the_abstract(safety_labs, testcd):
    _, wide = safety_labs
    weeks, direction = SAFETY_PATTERN[testcd]
    for week in (1, 2, 3, 4, 12, 24):
        at = wide[wide["VISIT"] == f"Week {week}"]
        result = stats.ttest_ind(at.loc[at["ARM"] == "hUC-MSC", testcd].dropna(), at.loc[at["ARM"] == "Placebo", testcd].dropna())
        if week in weeks:
            assert result.pvalue < 0.05 and np.sign(result.statistic) == direction, (testcd, week, result)
        else:
            assert result.pvalue >= 0.05, (testcd, week, result)


def test_safety_infusions_and_adverse_events_as_published(safety_labs):
    dm, _ = safety_labs
    assert dm.groupby("GROUP").size().to_dict() == {0.0: 10, 1.0: 24}
    arm = dm.set_index("PATNO")["GROUP"]
    ex = xpt(SAF, "ex.xpt")
    ex["DTM"] = pd.to_datetime(ex["INFDTC"])
    assert (ex.groupby("PATNO").size() == 3).all()
    days_apart = ex.sort_values("DTM").groupby("PATNO")["DTM"].apply(lambda d: d.dt.normalize().diff().dt.days.dropna().tolist())
    assert days_apart.map(lambda gaps: gaps == [7, 7]).all()
    ae = xpt(SAF, "ae.xpt")
    ae["ONSET"] = pd.to_datetime(ae["AESTDTC"])
    assert (ae["AESER"] == "N").all()
    fever = ae[ae["AETERM"] == "Fever"]
    assert fever["PATNO"].nunique() == 4 and (fever["PATNO"].map(arm) == 1).all()
    for _, event in fever.iterrows():
        mine = ex[ex["PATNO"] == event["PATNO"]].set_index("INFNO")["DTM"]
        hours = [(event["ONSET"] - mine[k]).total_seconds() / 3600 for k in (2.0, 3.0)]
        assert any(0 <= h <= 24 for h in hours)
    hypo = ae[ae["AETERM"] == "Hypoglycaemia"]
    assert len(hypo) == 1 and arm[hypo["PATNO"].iloc[0]] == 1
    first = ex[ex["PATNO"] == hypo["PATNO"].iloc[0]]["DTM"].min()
    assert (hypo["ONSET"].iloc[0] - first).days <= 30


@pytest.mark.parametrize("trial", sorted(FINAL_CUTS))
def test_manifest_lists_files_with_their_hashes(trial):
    for cut in (INTERIM_CUTS[trial], FINAL_CUTS[trial]):
        folder = DATACUTS / trial / cut
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["synthetic"] is True and manifest["trial"] == trial and manifest["cut_date"] == cut
        assert manifest["seed"] == DEFAULT_SEEDS[trial]
        for entry in manifest["files"]:
            assert hashlib.sha256((folder / entry["name"]).read_bytes()).hexdigest() == entry["sha256"]


def test_every_required_planted_problem_is_in_some_final_manifest():
    kinds = set()
    for trial, cut in FINAL_CUTS.items():
        kinds |= {p["kind"] for p in json.loads((DATACUTS / trial / cut / "manifest.json").read_text())["planted_problems"]}
    assert {"glucose_mg_dl", "duplicate_record", "missed_visit", "visit_out_of_window", "text_value", "withdrawal",
            "subject_not_in_dm"} <= kinds


@pytest.mark.parametrize("trial", sorted(FINAL_CUTS))
def test_final_cut_extends_the_interim_and_corrects_its_entry_errors(trial):
    interim, final = DATACUTS / trial / INTERIM_CUTS[trial], DATACUTS / trial / FINAL_CUTS[trial]
    lb_interim, lb_final = xpt(interim, "lb.xpt"), xpt(final, "lb.xpt")
    assert len(lb_final) > len(lb_interim)
    if trial == "nafld_efficacy":
        subject, visit, test, result = "SUBJID", "VISIT", "LBTESTCD", "LBORRES"
    else:
        subject, visit, test, result = "PATNO", "VISITNAM", "TESTCODE", "RESULT"
    corrections = json.loads((final / "manifest.json").read_text())["corrections_since_previous_cut"]
    assert len(corrections) == 2
    for fix in corrections:
        def value(lb):
            rows = lb[(lb[subject] == fix["subject"]) & (lb[test] == fix["testcd"]) & lb[visit].str.contains(str(fix["week"]) if fix["week"] else "ASELINE|aseline")]
            return float(rows[result].iloc[0])
        assert value(lb_final) != value(lb_interim)
        assert value(lb_interim) in (fix["interim_value"], round(fix["interim_value"] * 18.016))


@pytest.mark.parametrize("trial", sorted(TRIALS))
def test_simulator_is_deterministic_and_the_bundled_cuts_are_current(tmp_path, trial):
    spec = TRIALS[trial]
    for run in ("a", "b"):
        truth = simulate_trial(spec, DEFAULT_SEEDS[trial])
        for cut in spec.cuts:
            write_cut(truth, cut, tmp_path / run)
    for cut in spec.cuts:
        runs = [json.loads((tmp_path / r / trial / cut / "manifest.json").read_text())["files"] for r in "ab"]
        bundled = json.loads((DATACUTS / trial / cut / "manifest.json").read_text())["files"]
        assert runs[0] == runs[1] == bundled, "rerun `make data` and commit the regenerated cuts"


def test_glucose_week_9_paired_against_baseline_as_published(efficacy):
    lb = efficacy["lb"]
    wide = lb[(lb["LBTESTCD"] == "GLUC") & (lb["ARM"] == "UC-MSC")].pivot_table(index="SUBJID", columns="VISIT", values="VALUE")
    pair = wide[["BASELINE", "WEEK 9"]].dropna()
    assert f"{stats.ttest_rel(pair['WEEK 9'], pair['BASELINE']).pvalue:.3f}" == "0.001"  # Zhao 2024: P = 0.001
