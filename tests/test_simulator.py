"""The bundled synthetic cuts, read straight from the raw files (not through the pipeline)."""

import csv
import dataclasses
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
    grades = efficacy["imaging"].pivot_table(index=["subject_id", "ARM"], columns="visit_week",
                                             values="steatosis_grade")
    improved = (grades[20] <= grades[0] - 1).groupby(level="ARM").sum()
    assert (improved["UC-MSC"], improved["Placebo"]) == (15, 6)


@pytest.mark.parametrize("testcd, weeks_lower, weeks_unchanged", [
    ("TG", (9, 20, 48), ()), ("GGT", (9, 20, 48), ()), ("CHOL", (9, 48), (20,)), ("ALT", (20,), (9, 48)),
    ("AST", (), (9, 20, 48)),
])
def test_efficacy_directions_stated_in_the_abstract(efficacy, testcd, weeks_lower, weeks_unchanged):
    lb = efficacy["lb"]
    wide = lb[(lb["LBTESTCD"] == testcd) & (lb["ARM"] == "UC-MSC")].pivot_table(index="SUBJID", columns="VISIT",
                                                                                values="VALUE")
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
    lb = xpt(SAF, "lb.xpt").rename(columns={"PATNO": "SUBJ", "VISITNAM": "VISIT", "TESTCODE": "TEST",
                                            "RESULT": "VALUE"})
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
                  "CA199": ((), 0), "TG": ((), 0), "CHOL": ((), 0), "HDL": ((), 0), "LDL": ((), 0),
                  # "No liver damage": liver function the same in both arms at every visit.
                  "ALT": ((), 0), "AST": ((), 0), "TBIL": ((), 0), "ALB": ((), 0)}


@pytest.mark.parametrize("testcd", sorted(SAFETY_PATTERN))
def test_safety_group_differences_follow_the_abstract(safety_labs, testcd):
    _, wide = safety_labs
    weeks, direction = SAFETY_PATTERN[testcd]
    for week in (1, 2, 3, 4, 12, 24):
        at = wide[wide["VISIT"] == f"Week {week}"]
        result = stats.ttest_ind(at.loc[at["ARM"] == "hUC-MSC", testcd].dropna(),
                                 at.loc[at["ARM"] == "Placebo", testcd].dropna())
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
    days_apart = (ex.sort_values("DTM").groupby("PATNO")["DTM"]
                  .apply(lambda d: d.dt.normalize().diff().dt.days.dropna().tolist()))
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


def test_safety_vital_signs_at_every_visit_and_fever_shows_in_the_temperature():
    vs = xpt(SAF, "vs.xpt")
    per_visit = vs.groupby(["PATNO", "VISIT"])["VSTESTCD"].agg(sorted)
    assert per_visit.map(lambda tests: tests == ["DIABP", "PULSE", "SYSBP", "TEMP", "WEIGHT"]).all()
    assert set(zip(vs["VSTESTCD"], vs["VSORRESU"])) == {("WEIGHT", "kg"), ("SYSBP", "mmHg"), ("DIABP", "mmHg"),
                                                        ("PULSE", "beats/min"), ("TEMP", "C")}
    ae = xpt(SAF, "ae.xpt")
    fever_days = set()  # (subject, calendar day) from onset to end of each fever
    for _, event in ae[ae["AETERM"] == "Fever"].iterrows():
        onset, end = (pd.Timestamp(event[column]).normalize() for column in ("AESTDTC", "AEENDTC"))
        fever_days |= {(event["PATNO"], day.date()) for day in pd.date_range(onset, end)}
    temp = vs[vs["VSTESTCD"] == "TEMP"]
    on_fever_day = [(p, d) in fever_days for p, d in zip(temp["PATNO"], temp["VSDAT"])]
    febrile = temp["VSORRES"] > 37.3  # the usual fever threshold
    assert sum(on_fever_day) >= 1
    assert list(febrile) == on_fever_day


@pytest.mark.parametrize("trial", sorted(TRIALS))
def test_added_parameters_leave_every_earlier_value_as_it_was(trial):
    """The parameters added later come from streams of their own: without them, the same seed gives the same trial."""
    spec = TRIALS[trial]
    full = simulate_trial(spec, DEFAULT_SEEDS[trial])
    before = simulate_trial(dataclasses.replace(spec, added_params=(), fever_temperature=None), DEFAULT_SEEDS[trial])
    for name in ("subjects", "visits", "exposure", "adverse_events", "disposition"):
        pd.testing.assert_frame_equal(getattr(full, name), getattr(before, name), check_exact=True)
    old = full.findings.iloc[: len(before.findings)]
    pd.testing.assert_frame_equal(old, before.findings, check_exact=True)
    added = full.findings.iloc[len(before.findings):]
    assert set(added["TESTCD"]) == {p.testcd for p in spec.added_params}
    assert not set(added["TESTCD"]) & set(before.findings["TESTCD"])


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
        kinds |= {p["kind"]
                  for p in json.loads((DATACUTS / trial / cut / "manifest.json").read_text())["planted_problems"]}
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
        def value(lb, fix=fix):
            rows = lb[(lb[subject] == fix["subject"]) & (lb[test] == fix["testcd"])
                      & lb[visit].str.contains(str(fix["week"]) if fix["week"] else "ASELINE|aseline")]
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
    wide = lb[(lb["LBTESTCD"] == "GLUC") & (lb["ARM"] == "UC-MSC")].pivot_table(index="SUBJID", columns="VISIT",
                                                                                values="VALUE")
    pair = wide[["BASELINE", "WEEK 9"]].dropna()
    assert f"{stats.ttest_rel(pair['WEEK 9'], pair['BASELINE']).pvalue:.3f}" == "0.001"  # Zhao 2024: P = 0.001


# --- the three-arm dose-ranging trial (synthetic, calibrated to no publication) -------------------
# Not in conftest's FINAL_CUTS: that drives the pipeline tests, and this trial has no config yet.

DOSE_INTERIM, DOSE_FINAL = "2021-11-30", "2022-11-30"
DOSE = DATACUTS / "dose_ranging"
DOSE_ARM = {2.0: "High dose", 1.0: "Low dose", 0.0: "Placebo"}
GLUCOSE_MGDL_PER_MMOLL = 18.016
GLUCOSE_PLAUSIBLE_MMOLL = (1.0, 35.0)  # the range the safety trial's config uses


def csv_rows(path, encoding):
    with open(path, newline="", encoding=encoding) as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module", params=[DOSE_INTERIM, DOSE_FINAL])
def dose_cut(request):
    """One cut of the dose-ranging trial, straight from the raw files, with every lab and vital-sign row as text."""
    folder = DOSE / request.param
    manifest = json.loads((folder / "manifest.json").read_text())
    dm = xpt(folder, "dm.xpt")
    lb = xpt(folder, "lb.xpt")
    central = csv_rows(folder / "central_lab.csv", "latin-1")
    vs = xpt(folder, "vs.xpt")
    records = ([(r["PATNO"], r["VISITNAM"], r["COLLDT"], r["TESTCODE"]) for r in lb.to_dict("records")]
               + [(r["Patient"], r["Visit"], r["Sample date"], r["Test"]) for r in central]
               + [(r["PATNO"], r["VISIT"], r["VSDAT"], r["VSTESTCD"]) for r in vs.to_dict("records")])
    return {"cut": request.param, "folder": folder, "manifest": manifest, "dm": dm, "lb": lb, "central": central,
            "records": records, "disposition": csv_rows(folder / "disposition.csv", "utf-8")}


def planted(cut: dict, kind: str) -> dict:
    found = [p for p in cut["manifest"]["planted_problems"] if p["kind"] == kind]
    assert len(found) == 1, (kind, found)
    return found[0]


def test_dose_ranging_cuts_reproduce_byte_for_byte_from_the_seed(tmp_path):
    truth = simulate_trial(TRIALS["dose_ranging"], DEFAULT_SEEDS["dose_ranging"])
    for cut in (DOSE_INTERIM, DOSE_FINAL):
        written = write_cut(truth, cut, tmp_path)
        names = sorted(p.name for p in (DOSE / cut).iterdir())
        assert sorted(p.name for p in written.iterdir()) == names
        for name in names:
            assert (written / name).read_bytes() == (DOSE / cut / name).read_bytes(), (cut, name)


def test_dose_ranging_is_marked_synthetic_and_uncalibrated(dose_cut):
    manifest = dose_cut["manifest"]
    assert manifest["synthetic"] is True and manifest["publication_seed_file"] is None
    assert "not calibrated" in manifest["notice"] and "synthetic" in manifest["title"]
    assert manifest["seed"] == DEFAULT_SEEDS["dose_ranging"] and manifest["cut_date"] == dose_cut["cut"]


def test_dose_ranging_arms_have_their_planned_sizes(dose_cut):
    dm = dose_cut["dm"]
    by_arm = {DOSE_ARM[code]: n for code, n in dm.groupby("GROUP").size().items()}
    assert by_arm == dose_cut["manifest"]["subjects_randomised"]
    assert set(dm["GROUP"]) <= set(DOSE_ARM) and dm["PATNO"].is_unique
    if dose_cut["cut"] == DOSE_FINAL:
        assert by_arm == {"High dose": 24, "Low dose": 24, "Placebo": 24}
    else:
        assert sum(by_arm.values()) < 72


def test_dose_ranging_infusions_by_arm():
    dm = xpt(DOSE / DOSE_FINAL, "dm.xpt")
    ex = xpt(DOSE / DOSE_FINAL, "ex.xpt").merge(dm[["PATNO", "GROUP"]], on="PATNO")
    assert (ex.groupby("PATNO").size() == 3).all()
    doses = ex.groupby("GROUP")[["DOSE", "PRODUCT"]].agg(lambda c: sorted(set(c)))
    assert doses.to_dict("index") == {0.0: {"DOSE": [0.0], "PRODUCT": ["SALINE"]},
                                      1.0: {"DOSE": [1.0], "PRODUCT": ["UC-MSC"]},
                                      2.0: {"DOSE": [2.0], "PRODUCT": ["UC-MSC"]}}


def test_dose_ranging_manifest_lists_the_planted_problems(dose_cut):
    kinds = sorted(p["kind"] for p in dose_cut["manifest"]["planted_problems"])
    expected = ["duplicate_record", "glucose_mg_dl", "missed_visit", "subject_not_in_dm", "text_value",
                "visit_out_of_window", "withdrawal"]
    assert kinds == sorted(expected + (["implausible_value"] if dose_cut["cut"] == DOSE_INTERIM else []))


def test_dose_ranging_duplicate_and_orphan_records_are_in_lb(dose_cut):
    lb, dm = dose_cut["lb"], dose_cut["dm"]
    dup = planted(dose_cut, "duplicate_record")
    repeated = lb[lb.duplicated(keep=False)]
    assert len(repeated) == 2 and len(repeated.drop_duplicates()) == 1
    row = repeated.iloc[0]
    assert (row["PATNO"], row["VISITNAM"], row["TESTCODE"]) == (dup["subject"], f"Week {dup['week']}", dup["testcd"])
    orphan = planted(dose_cut, "subject_not_in_dm")
    assert sorted(set(lb["PATNO"]) - set(dm["PATNO"])) == [orphan["subject"]]
    assert list(lb.loc[lb["PATNO"] == orphan["subject"], "TESTCODE"]) == [orphan["testcd"]]


def test_dose_ranging_text_value_is_delivered_as_text(dose_cut):
    text = planted(dose_cut, "text_value")
    assert text["file"] == "lb.xpt"
    lb = dose_cut["lb"]
    visit = f"Week {text['week']}"
    rows = lb[(lb["PATNO"] == text["subject"]) & (lb["VISITNAM"] == visit) & (lb["TESTCODE"] == text["testcd"])]
    assert list(rows["RESULT"]) == [text["value"]]
    others = lb.loc[(lb["TESTCODE"] == text["testcd"]) & (lb.index != rows.index[0]), "RESULT"]
    assert pd.to_numeric(others, errors="coerce").notna().all()  # the only text result of that test


def test_dose_ranging_glucose_in_mg_dl_at_site_02_only(dose_cut):
    lb = dose_cut["lb"]
    glucose = lb[lb["TESTCODE"] == "GLUC"]
    problem = planted(dose_cut, "glucose_mg_dl")
    in_dm = glucose["PATNO"].isin(dose_cut["dm"]["PATNO"])
    units = glucose[in_dm & ~glucose.duplicated()].groupby("SITENO")["UNIT"].agg(set).to_dict()
    assert units == {"01": {"mmol/L"}, problem["site"]: {"mg/dL"}}
    assert ((glucose["SITENO"] == problem["site"]) & in_dm & ~glucose.duplicated()).sum() == problem["records"]


def glucose_mmoll(lb: pd.DataFrame, subject: str, week: int) -> float:
    row = lb[(lb["PATNO"] == subject) & (lb["VISITNAM"] == f"Week {week}") & (lb["TESTCODE"] == "GLUC")].iloc[0]
    value = float(row["RESULT"])
    return value / GLUCOSE_MGDL_PER_MMOLL if row["UNIT"] == "mg/dL" else value


def test_dose_ranging_implausible_interim_glucose_is_corrected_in_the_final_cut():
    interim = json.loads((DOSE / DOSE_INTERIM / "manifest.json").read_text())
    slip = next(e for e in interim["entry_errors"] if e["kind"] == "decimal_slip")
    implausible = next(p for p in interim["planted_problems"] if p["kind"] == "implausible_value")
    assert [implausible[k] for k in ("subject", "week", "testcd")] == [slip["subject"], slip["week"], "GLUC"]
    low, high = GLUCOSE_PLAUSIBLE_MMOLL
    before = glucose_mmoll(xpt(DOSE / DOSE_INTERIM, "lb.xpt"), slip["subject"], slip["week"])
    after = glucose_mmoll(xpt(DOSE / DOSE_FINAL, "lb.xpt"), slip["subject"], slip["week"])
    assert not low <= before <= high and before == pytest.approx(slip["interim_value"], abs=0.05)
    assert low <= after <= high and after == pytest.approx(slip["final_value"], abs=0.05)


def visit_week(visit: str) -> int:
    return 0 if visit == "Baseline" else int(visit.removeprefix("Week "))


def test_dose_ranging_visit_out_of_window_in_every_file(dose_cut):
    problem = planted(dose_cut, "visit_out_of_window")
    window = TRIALS["dose_ranging"].visit_window_days[problem["week"]]
    randdt = dose_cut["dm"].set_index("PATNO")["RANDDT"]
    days_off = {}  # (subject, file record) -> days from the nominal day, for every in-DM record of that week
    for i, (subj, visit, dtc, _) in enumerate(dose_cut["records"]):
        if visit_week(visit) == problem["week"] and subj in randdt.index:
            days_off[subj, i] = abs((pd.Timestamp(dtc).date() - randdt[subj]).days - 7 * problem["week"])
    late = {key for key, days in days_off.items() if days > window}
    assert late and {subj for subj, _ in late} == {problem["subject"]}
    assert len(late) == sum(subj == problem["subject"] for subj, _ in days_off)  # all its records: lb, central lab, vs


def test_dose_ranging_withdrawal_and_missed_visit_in_the_raw_files(dose_cut):
    withdrawal, missed = planted(dose_cut, "withdrawal"), planted(dose_cut, "missed_visit")
    status = {r["subject_id"]: r["status"] for r in dose_cut["disposition"]}
    assert status[withdrawal["subject"]] == "WITHDRAWAL BY SUBJECT"
    assert [s for s, v in status.items() if v != "COMPLETED"] == [withdrawal["subject"]]
    arm = dose_cut["dm"].set_index("PATNO")["GROUP"].map(DOSE_ARM)
    assert arm[withdrawal["subject"]] == withdrawal["arm"] and arm[missed["subject"]] == missed["arm"]

    def weeks(subject):
        return {visit_week(visit) for subj, visit, _, _ in dose_cut["records"] if subj == subject}

    assert max(weeks(withdrawal["subject"])) == withdrawal["after_week"]
    assert missed["week"] not in weeks(missed["subject"]) and max(weeks(missed["subject"])) > missed["week"]


@pytest.fixture(scope="module")
def dose_changes():
    """Change from baseline per subject, test and week in the final cut (glucose in mmol/L), with the arm."""
    folder = DOSE / DOSE_FINAL
    dm = xpt(folder, "dm.xpt")
    lb = xpt(folder, "lb.xpt")
    central = pd.DataFrame(csv_rows(folder / "central_lab.csv", "latin-1"))
    labs = pd.concat([lb.rename(columns={"PATNO": "SUBJ", "VISITNAM": "VISIT", "TESTCODE": "TEST"}),
                      central.rename(columns={"Patient": "SUBJ", "Visit": "VISIT", "Test": "TEST", "Value": "RESULT",
                                              "Unit": "UNIT"})])
    labs = labs[labs["SUBJ"].isin(dm["PATNO"])].drop_duplicates(["SUBJ", "VISIT", "TEST"])
    labs["VALUE"] = pd.to_numeric(labs["RESULT"], errors="coerce")
    labs.loc[labs["UNIT"] == "mg/dL", "VALUE"] /= GLUCOSE_MGDL_PER_MMOLL
    wide = labs.pivot_table(index="SUBJ", columns=["TEST", "VISIT"], values="VALUE")
    arm = dm.set_index("PATNO")["GROUP"].map(DOSE_ARM)
    return {(test, week): (wide[(test, f"Week {week}")] - wide[(test, "Baseline")]).dropna().groupby(arm)
            for test in wide.columns.get_level_values(0).unique() for week in (4, 12, 24)}


@pytest.mark.parametrize("testcd, week, direction",
                         [("HBA1C", 24, -1), ("GLUC", 24, -1), ("CPEP", 24, 1), ("LYM", 4, -1)])
def test_dose_response_is_visible_in_the_raw_data(dose_changes, testcd, week, direction):
    groups = dose_changes[(testcd, week)]
    means = groups.mean()
    ordered = [means["Placebo"], means["Low dose"], means["High dose"]]
    assert ordered == sorted(ordered, reverse=direction < 0), means.to_dict()
    high_vs_placebo = stats.ttest_ind(groups.get_group("High dose"), groups.get_group("Placebo"))
    assert high_vs_placebo.pvalue < 0.05 and np.sign(high_vs_placebo.statistic) == direction, high_vs_placebo


def test_lymphocyte_dip_is_transient(dose_changes):
    for week in (12, 24):
        groups = dose_changes[("LYM", week)]
        assert stats.ttest_ind(groups.get_group("High dose"), groups.get_group("Placebo")).pvalue >= 0.05, week


@pytest.mark.parametrize("testcd", ["NEUT", "PLAT", "ALT", "CREAT", "CRP", "TG", "CHOL", "IGG"])
def test_tests_without_a_planted_effect_show_none(dose_changes, testcd):
    for week in (4, 12, 24):
        groups = dose_changes[(testcd, week)]
        assert stats.f_oneway(*(groups.get_group(arm) for arm in DOSE_ARM.values())).pvalue >= 0.05, (testcd, week)


def test_post_infusion_fever_is_more_frequent_with_dose():
    folder = DOSE / DOSE_FINAL
    arm = xpt(folder, "dm.xpt").set_index("PATNO")["GROUP"].map(DOSE_ARM)
    ex = xpt(folder, "ex.xpt")
    ex["DTM"] = pd.to_datetime(ex["INFDTC"], format="%Y-%m-%d %H:%M")
    ae = xpt(folder, "ae.xpt")
    fever = ae[ae["AETERM"] == "Fever"]
    for _, event in fever.iterrows():
        onset = pd.to_datetime(event["AESTDTC"], format="%Y-%m-%d %H:%M")
        hours = (onset - ex.loc[ex["PATNO"] == event["PATNO"], "DTM"]).dt.total_seconds() / 3600
        assert ((hours >= 0) & (hours <= 24)).any(), event.to_dict()
    subjects = fever.drop_duplicates("PATNO")["PATNO"].map(arm).value_counts().to_dict()
    assert subjects == {"High dose": 6, "Low dose": 3, "Placebo": 1}
