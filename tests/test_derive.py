import json
import math

import numpy as np
import pandas as pd
import pytest

from conftest import DATACUTS, FINAL_CUTS, run_pipeline
from ucmsc import derive
from ucmsc.queries import QueryLog

# --- formulas against hand computation ------------------------------------------------

def test_homa_ir_and_homa_beta_by_hand():
    assert derive.compute_homa_ir([5.0], [9.0])[0] == 2.0  # 5 x 9 / 22.5
    assert derive.compute_homa_beta([6.0], [10.0])[0] == 80.0  # 20 x 10 / (6 - 3.5)
    assert np.isnan(derive.compute_homa_beta([3.5, 3.4], [10.0, 10.0])).all()  # undefined at or below 3.5 mmol/L


def test_tyg_by_hand():
    # TG 1.5 mmol/L = 132.855 mg/dL; glucose 6 mmol/L = 108.096 mg/dL; ln(132.855 x 108.096 / 2)
    assert math.isclose(derive.compute_tyg([1.5], [6.0])[0], math.log(132.855 * 108.096 / 2))
    assert math.isclose(derive.compute_tyg([1.5], [6.0])[0], 8.8791, abs_tol=1e-4)


def test_bmi_and_nlr_by_hand_with_undefined_cases_missing():
    bmi = derive.compute_bmi([80.0, 70.0], [160.0, 0.0])
    assert math.isclose(bmi[0], 31.25) and np.isnan(bmi[1])
    nlr = derive.compute_nlr([4.0, 3.0], [2.0, 0.0])
    assert nlr[0] == 2.0 and np.isnan(nlr[1])


def test_fib4_apri_and_nafld_fibrosis_score_by_hand():
    assert math.isclose(derive.compute_fib4([50], [30], [36], [200])[0], 1.25)  # 50 x 30 / (200 x 6)
    assert np.isnan(derive.compute_fib4([50], [30], [36], [0])[0])  # zero platelets: undefined
    assert math.isclose(derive.compute_apri([40], 40.0, [200])[0], 0.5)  # (40/40) x 100 / 200
    assert np.isnan(derive.compute_apri([40], 40.0, [0])[0])
    # -1.675 + 0.037*50 + 0.094*30 + 1.13*1 + 0.99*(30/40) - 0.013*200 - 0.66*4.2
    assert math.isclose(derive.compute_nafld_fibrosis_score([50], [30], 1.0, [30], [40], [200], [42])[0], -0.5045)


def test_change_from_baseline_and_percent_change_missing_when_base_is_zero():
    bds = pd.DataFrame({"USUBJID": ["A"] * 3 + ["B"] * 2, "PARAMCD": ["X"] * 5, "AVISITN": [0, 9, 20, 0, 9],
                        "AVAL": [10.0, 8.0, 12.5, 0.0, 1.0]})
    out = derive.derive_baseline_and_change(bds)
    assert list(out["ABLFL"]) == ["Y", "", "", "Y", ""]
    assert out["CHG"].tolist()[1:3] == [-2.0, 2.5]
    assert out["PCHG"].tolist()[1:3] == [-20.0, 25.0]
    assert np.isnan(out["PCHG"].iloc[4]) and out["CHG"].iloc[4] == 1.0


def _bds(rows):
    frame = pd.DataFrame(rows, columns=["USUBJID", "PARAMCD", "AVISITN", "AVAL"])
    frame["AVISIT"] = "Week " + frame["AVISITN"].astype(str)
    return frame


def test_derived_parameter_missing_input_or_undefined_formula_is_queried_not_inf():
    bds = _bds([["A", "GLUC", 0, 6.0], ["A", "INSULIN", 0, 10.0], ["A", "GLUC", 9, 3.2], ["A", "INSULIN", 9, 12.0],
                ["A", "GLUC", 20, 7.0]])
    adsl = pd.DataFrame({"USUBJID": ["A"], "AGE": [50]})
    spec = derive._derived_params({"tests": {}, "derived": {"HOMAB": {"derivation": "homa_beta"}}})[0]
    log = QueryLog(prefix="D")
    out = derive.derive_param(bds, adsl, spec, log)
    homab = out[out["PARAMCD"] == "HOMAB"]
    assert homab["AVISITN"].tolist() == [0] and homab["AVAL"].tolist() == [80.0]
    messages = sorted(r["MESSAGE"] for r in log.rows)
    assert messages == ["HOMAB at Week 20 not derived: INSULIN missing",
                        "HOMAB at Week 9 not derived: formula undefined: glucose at or below 3.5 mmol/L"]


def test_a_censored_result_decides_a_target_when_its_bound_does_and_is_queried_when_not():
    # week 26: A '>14' (not below 7.0 whatever its value: N), C '<6.5' (below: Y), D '>5' (undecided: queried);
    # B has a blank record and a measured one, and the measured one is analysed
    rows = [["A", 0, 8.1, "8.1"], ["A", 26, np.nan, ">14"], ["B", 0, 7.9, "7.9"], ["B", 26, np.nan, ""],
            ["B", 26, 6.5, "6.5"], ["C", 0, 7.2, "7.2"], ["C", 26, np.nan, "<6.5"], ["D", 0, 7.4, "7.4"],
            ["D", 26, np.nan, ">5"]]
    bds = _bds([[u, "HBA1C", v, a] for u, v, a, _ in rows]).assign(AVALC=[t for *_, t in rows],
                                                                  ADT=[f"2020-0{1 + v // 26 * 6}-0{i % 9 + 1}"
                                                                       for i, (_, v, _, _) in enumerate(rows)])
    bds = derive.derive_baseline_and_change(bds)
    log = QueryLog(prefix="D")
    out = derive.derive_param_yes_no(bds, "A1CTGT", {"derivation": "target_attainment", "parameter": "HBA1C",
                                                     "below": 7.0}, log)
    target = out[out["PARAMCD"] == "A1CTGT"].sort_values(["USUBJID", "AVISITN"])
    assert target[["USUBJID", "AVISITN", "AVALC"]].values.tolist() == [
        ["A", 0, "N"], ["A", 26, "N"], ["B", 0, "N"], ["B", 26, "Y"], ["C", 0, "N"], ["C", 26, "Y"], ["D", 0, "N"]]
    assert [(r["USUBJID"], r["VALUE"], r["MESSAGE"]) for r in log.rows] == [
        ("D", ">5", "A1CTGT at Week 26 not derived: HBA1C has no numeric value (>5)")]


def test_a_grade_change_without_a_baseline_grade_is_queried():
    bds = _bds([["A", "STEATOS", 0, 2.0], ["A", "STEATOS", 20, 1.0], ["B", "STEATOS", 20, 1.0],
                ["B", "STEATOS", 48, 1.0]]).assign(ADT=["2020-01-01", "2020-05-01", "2020-05-02", "2020-12-01"])
    bds = derive.derive_baseline_and_change(bds)
    log = QueryLog(prefix="D")
    out = derive.derive_param_yes_no(bds, "STEATIMP", {"derivation": "grade_change", "parameter": "STEATOS",
                                                       "direction": "improvement", "by": 1}, log)
    improved = out[out["PARAMCD"] == "STEATIMP"]
    assert improved[["USUBJID", "AVISITN", "AVALC"]].values.tolist() == [["A", 20, "Y"]]
    assert [(r["USUBJID"], r["MESSAGE"]) for r in log.rows] == [
        ("B", "STEATIMP at Week 20 not derived: STEATOS has no baseline grade"),
        ("B", "STEATIMP at Week 48 not derived: STEATOS has no baseline grade")]


INFUSIONS = {"exposure": {"noun": "infusion", "ae_window": {"hours": 24, "flag": "INF24FL"}}}


def test_adae_flags_by_hand():
    ex = pd.DataFrame({"USUBJID": ["A", "A"], "EXSTDTC": ["2020-01-01T09:00", "2020-01-08T09:00"]})
    adsl = pd.DataFrame({"USUBJID": ["A"], "ARM": ["X"], "TRT01A": ["X"], "SAFFL": ["Y"],
                         "TRTSDTM": [pd.Timestamp("2020-01-01 09:00")]})
    ae = pd.DataFrame({"USUBJID": ["A"] * 3, "AETERM": ["Fever", "Headache", "Odd term"],
                       "AESTDTC": ["2020-01-08T20:00", "2019-12-30T10:00", "2020-01-12T10:00"],
                       "AEENDTC": ["", "", ""]})
    log = QueryLog()
    out = derive.derive_adae(ae, adsl, ex, {"Fever": {"decod": "Pyrexia", "soc": "General"},
                                            "Headache": {"decod": "Headache", "soc": "Nervous"}}, log, INFUSIONS)
    assert out["TRTEMFL"].tolist() == ["Y", "", "Y"]
    assert out["INF24FL"].tolist() == ["Y", "", ""]  # 11 h after the 2nd infusion; before any; 4 days after
    assert out["DOSEDY"].tolist()[0] == 0 and np.isnan(out["DOSEDY"].tolist()[1]) and out["DOSEDY"].tolist()[2] == 4
    assert out["AEDECOD"].tolist() == ["Pyrexia", "Headache", "UNCODED"]
    assert [r["VALUE"] for r in log.rows] == ["Odd term"]
    assert "INF24FL" not in derive.derive_adae(ae, adsl, ex, {}, QueryLog(), {})  # no window configured: no flag


def test_adae_partial_onsets_by_the_plans_imputation_rule():
    """First dose 2022-03-17. SAP: onset first of the month (of the year), not before the first dose when the first
    dose lies in that month (year); end date the last of the month. Expected values by hand."""
    adsl = pd.DataFrame({"USUBJID": ["A"], "ARM": ["X"], "TRT01A": ["X"], "SAFFL": ["Y"],
                         "TRTSDTM": [pd.Timestamp("2022-03-17")], "TRTEDTM": [pd.Timestamp("2022-06-01")],
                         "TRTSDT": [pd.Timestamp("2022-03-17")]})
    ex = pd.DataFrame({"USUBJID": ["A"], "EXSTDTC": ["2022-03-17"]})
    ae = pd.DataFrame({"USUBJID": ["A"] * 5, "AETERM": ["Nausea"] * 5,
                       "AESTDTC": ["2022-03", "2022-02", "2022", "2022-04-02", ""],
                       "AEENDTC": ["2022-02", "", "2022-07", "2022-04-05", ""]})
    config = {"imputation": {"AESTDTC": {"date_imputation": "first", "highest_imputation": "M",
                                         "min_dates": ["TRTSDT"]},
                             "AEENDTC": {"date_imputation": "last", "highest_imputation": "M"}}}
    out = derive.derive_adae(ae, adsl, ex, {"nausea": {"decod": "Nausea", "soc": "Gastrointestinal disorders"}},
                             QueryLog(), config)
    assert out["ASTDTM"].dt.strftime("%Y-%m-%d").fillna("").tolist() == ["2022-03-17", "2022-02-01", "2022-03-17",
                                                                          "2022-04-02", ""]
    assert out["ASTDTF"].tolist() == ["D", "D", "M", "", ""]
    # same day as the first dose counts (no onset time); onset and end both unknown: treatment-emergent, as in
    # admiral's derive_var_trtemfl tests (row "missing dates", ASTDTM and AENDTM blank -> TRTEMFL "Y")
    assert out["TRTEMFL"].tolist() == ["Y", "", "Y", "Y", "Y"]
    assert out["AENDTM"].dt.strftime("%Y-%m-%d").fillna("").tolist() == ["2022-02-28", "", "2022-07-31",
                                                                          "2022-04-05", ""]
    assert out["AENDTF"].tolist() == ["D", "", "D", "", ""]
    assert (out["AEDECOD"] == "Nausea").all()  # the trial's dictionary, whatever the case of the term
    # without a rule a partial onset stays missing and is queried; it is treatment-emergent unless the event ended
    # before the first dose (row 1: ended 2022-02) or its partial date lies wholly before it (row 2: 2022-02)
    log = QueryLog()
    plain = derive.derive_adae(ae, adsl, ex, {}, log, {})
    assert plain["ASTDTM"].isna().tolist() == [True, True, True, False, True]
    assert plain["TRTEMFL"].tolist() == ["", "", "Y", "Y", "Y"]
    assert sorted(r["VALUE"] for r in log.rows if r["CHECK"] == "imputation") == ["2022", "2022-02", "2022-03"]


def test_delivered_meddra_coding_wins_and_the_dictionary_fills_only_gaps():
    adae = pd.DataFrame({"AETERM": ["HEAD ACHE", "headache", "Sore throat"], "AEDECOD": ["Headache", "", ""],
                         "AEBODSYS": ["", "", ""], "AESOC": ["Nervous system disorders", "", ""]})
    log = QueryLog()
    out = derive.code_adverse_events(adae, {"Headache": {"decod": "Headache", "soc": "Nervous system disorders"}},
                                     log)
    assert out["AEDECOD"].tolist() == ["Headache", "Headache", "UNCODED"]
    assert out["AEBODSYS"].tolist() == ["Nervous system disorders", "Nervous system disorders", "UNCODED"]
    assert [r["VALUE"] for r in log.rows] == ["Sore throat"]


# --- on the bundled final cuts ------------------------------------------------------------

@pytest.fixture(scope="module")
def adam(trial_configs):
    out = {}
    for trial, cut in FINAL_CUTS.items():
        run = run_pipeline(trial, cut, trial_configs[trial])
        manifest = json.loads((DATACUTS / trial / cut / "manifest.json").read_text())
        out[trial] = (manifest, run["adsl"], run["bds"], run["adae"], run["log"])
    return out


@pytest.mark.parametrize("trial", sorted(FINAL_CUTS))
def test_population_counts_match_the_manifest(adam, trial):
    manifest, adsl, _, _, _ = adam[trial]
    randomised = manifest["subjects_randomised"]
    incomplete = {}
    for problem in manifest["planted_problems"]:
        if problem["kind"] in ("withdrawal", "missed_visit"):
            incomplete[problem["arm"]] = incomplete.get(problem["arm"], 0) + 1
    for arm, n in randomised.items():
        mine = adsl[adsl["ARM"] == arm]
        assert len(mine) == n
        assert (mine["SAFFL"] == "Y").sum() == n and (mine["FASFL"] == "Y").sum() == n
        assert (mine["PPROTFL"] == "Y").sum() == n - incomplete.get(arm, 0)


def test_withdrawn_subject_is_discontinued_with_its_reason(adam):
    manifest, adsl, _, _, _ = adam["nafld_efficacy"]
    withdrawn = next(p["subject"] for p in manifest["planted_problems"] if p["kind"] == "withdrawal")
    row = adsl[adsl["SUBJID"] == withdrawn].iloc[0]
    assert row["EOSSTT"] == "DISCONTINUED" and row["DCSREAS"] == "WITHDRAWAL BY SUBJECT"
    assert (adsl["EOSSTT"] == "DISCONTINUED").sum() == 1


def test_baseline_bmi_in_adsl_equals_weight_over_height_squared(adam):
    _, adsl, bds, _, _ = adam["nafld_efficacy"]
    row = adsl.iloc[0]
    assert math.isclose(row["BMIBL"], row["WEIGHTBL"] / (row["HEIGHTBL"] / 100) ** 2)


def test_censored_result_analysed_at_half_its_limit(adam):
    _, _, bds, _, _ = adam["t2dm_safety"]
    censored = bds[bds["DTYPE"] == "LLOQ/2"]
    assert len(censored) == 1 and censored["AVALC"].iloc[0] == "<0.5" and censored["AVAL"].iloc[0] == 0.25


def test_every_derived_value_is_finite_and_every_gap_queried(trial_configs):
    """Remove insulin at three subject-visits (and set one glucose to 3.5, where HOMA-%B is undefined): exactly
    those HOMA-IR / HOMA-%B records are missing, each with a query naming subject, visit and reason."""
    from conftest import run_pipeline

    config = trial_configs["nafld_efficacy"]
    gone = []

    def make_gaps(sdtm):
        lb = sdtm["LB"]
        insulin = lb[lb["LBTESTCD"] == "INSULIN"].iloc[[0, 5, 11]]
        gone.extend(zip(insulin["USUBJID"], insulin["VISITNUM"]))
        sdtm["LB"] = lb.drop(index=insulin.index).reset_index(drop=True)
        glucose = sdtm["LB"][(sdtm["LB"]["LBTESTCD"] == "GLUC")].index[20]
        sdtm["LB"].loc[glucose, "LBSTRESN"] = 3.5
        gone.append(("B", sdtm["LB"].loc[glucose, "USUBJID"], sdtm["LB"].loc[glucose, "VISITNUM"]))

    run = run_pipeline("nafld_efficacy", "2019-01-15", config, edit_sdtm=make_gaps)
    bds, queries = run["bds"], run["log"].frame()
    assert np.isfinite(bds["AVAL"].dropna()).all() and not bds["AVAL"].isna().any()
    homa_ir = set(zip(bds.loc[bds["PARAMCD"] == "HOMAIR", "USUBJID"], bds.loc[bds["PARAMCD"] == "HOMAIR", "AVISITN"]))
    homa_b = set(zip(bds.loc[bds["PARAMCD"] == "HOMAB", "USUBJID"], bds.loc[bds["PARAMCD"] == "HOMAB", "AVISITN"]))
    insulin_gaps, (_, low_subject, low_visit) = gone[:3], gone[3]
    for subject, visit in insulin_gaps:
        assert (subject, visit) not in homa_ir and (subject, visit) not in homa_b
        mine = queries[(queries["USUBJID"] == subject) & queries["VARIABLE"].isin(["HOMAIR", "HOMAB"])]
        assert len(mine) == 2 and mine["MESSAGE"].str.contains("INSULIN missing").all(), mine
    assert (low_subject, low_visit) in homa_ir and (low_subject, low_visit) not in homa_b
    undefined = queries[(queries["USUBJID"] == low_subject) & (queries["VARIABLE"] == "HOMAB")]
    assert undefined["MESSAGE"].str.contains("glucose at or below 3.5 mmol/L").any()
    assert set(queries["CHECK"]) <= {"derivation", "coding"} and (queries["MESSAGE"] != "").all()


def test_safety_fevers_are_treatment_emergent_and_within_24_hours(adam):
    _, _, _, adae, _ = adam["t2dm_safety"]
    fever = adae[adae["AEDECOD"] == "Pyrexia"]
    assert len(fever) == 4 and (fever["TRTEMFL"] == "Y").all() and (fever["INF24FL"] == "Y").all()
    assert (adae["AEDECOD"] != "UNCODED").all()


def test_unknown_onsets_use_what_the_partial_date_says_about_the_window():
    """First dose 2022-03-17, last 2022-06-01, window 30 days after the last dose (to 2022-07-01). Onsets left
    unimputed: 2022-08 lies wholly after the window, 2022-07 may be 2022-07-01, 2022-03 may be on or after the first
    dose, 2021 wholly before it. Expected by hand."""
    adae = pd.DataFrame({
        "AESTDTC": ["2022-08", "2022-07", "2022-03", "2021", "2022-05-01", "2022-07-02"],
        "AEENDTC": [""] * 6,
        "ASTDTM": pd.to_datetime([None, None, None, None, "2022-05-01", "2022-07-02"]),
        "ASTTMF": ["", "", "", "", "H", "H"],
        "AENDTM": pd.to_datetime([None] * 6),
        "TRTSDTM": pd.Timestamp("2022-03-17"), "TRTEDTM": pd.Timestamp("2022-06-01")})
    assert derive.treatment_emergent_by_rule(adae, 30).tolist() == [False, True, True, False, True, False]
    assert derive.treatment_emergent_by_rule(adae).tolist() == [True, True, True, False, True, True]


def test_treatments_taken_by_subject_as_a_left_join():
    adsl = pd.DataFrame({"USUBJID": ["B", "A"], "STUDYID": ["S", "S"], "ARM": ["Placebo", "UC-MSC"],
                         "TRT01P": ["Placebo", "UC-MSC"], "TRT01A": ["Placebo", None]})
    subjects = pd.Series(["A", "C", "B", "A", None], dtype="str").astype("category")
    taken = derive.treatments_of_records(subjects, adsl)
    assert list(pd.Series(taken["ARM"]).astype(object).fillna("-")) == ["UC-MSC", "-", "Placebo", "UC-MSC", "-"]
    assert list(pd.Series(taken["TRTA"]).astype(object).fillna("-")) == ["-", "-", "Placebo", "-", "-"]
    assert list(pd.Series(derive.treatments_of_records(subjects.astype(object), adsl)["TRTP"]).astype(object)
                .fillna("-")) == ["UC-MSC", "-", "Placebo", "UC-MSC", "-"]  # plain text subjects too
    with pytest.raises(ValueError, match="more than one row"):
        derive.treatments_of_records(subjects, pd.concat([adsl, adsl.iloc[:1]]))


def test_derived_parameters_on_categories_equal_those_on_text():
    """derive_bds holds the long dataset's text as categories (with unused ones); the derived records, flags and
    range indicators are the same values as on plain text, and the categories are those of the text."""
    bds = _bds([["A", "GLUC", 0, 6.0], ["A", "INSULIN", 0, 10.0], ["A", "GLUC", 9, 3.2], ["A", "INSULIN", 9, 12.0],
                ["B", "GLUC", 0, 7.5], ["B", "INSULIN", 0, 8.0], ["B", "GLUC", 9, 7.0], ["B", "INSULIN", 9, 9.0]])
    bds["A1LO"], bds["A1HI"], bds["ADT"] = 4.0, 7.0, "2020-01-0" + (bds["AVISITN"] // 9 + 1).astype(str)
    adsl = pd.DataFrame({"USUBJID": ["A", "B"], "AGE": [50, 60]})
    spec = derive._derived_params({"tests": {}, "derived": {"HOMAIR": {"derivation": "homa_ir"}}})[0]
    yes_no = {"derivation": "target_attainment", "parameter": "GLUC", "below": 7.0}

    def run(frame):
        log = QueryLog(prefix="D")
        out = derive.derive_range_indicator(derive.derive_baseline_and_change(derive.derive_param(frame, adsl, spec,
                                                                                                  log)))
        return derive.derive_param_yes_no(out, "GLUCTGT", yes_no), log.frame()

    plain, plain_log = run(bds.astype({c: "str" for c in ("USUBJID", "PARAMCD", "AVISIT")}))
    held, held_log = run(bds.astype({c: pd.CategoricalDtype(sorted(set(bds[c])) + ["UNUSED"])
                                     for c in ("USUBJID", "PARAMCD", "AVISIT")}))
    assert isinstance(held["ANRIND"].dtype, pd.CategoricalDtype) and isinstance(held["PARAMCD"].dtype,
                                                                                pd.CategoricalDtype)
    assert set(held["PARAMCD"].cat.categories) == {"GLUC", "INSULIN", "HOMAIR", "GLUCTGT", "UNUSED"}
    text = held.astype({c: object for c in held.columns if isinstance(held[c].dtype, pd.CategoricalDtype)})
    pd.testing.assert_frame_equal(text, plain.astype({c: object for c in text.columns if text[c].dtype == object}))
    pd.testing.assert_frame_equal(held_log, plain_log)
    homair = plain[plain["PARAMCD"] == "HOMAIR"]
    assert homair["AVAL"].round(6).tolist() == [round(6.0 * 10 / 22.5, 6), round(3.2 * 12 / 22.5, 6),
                                                round(7.5 * 8 / 22.5, 6), round(7.0 * 9 / 22.5, 6)]  # G x I / 22.5
    assert plain.loc[plain["PARAMCD"] == "GLUCTGT", "AVALC"].tolist() == ["Y", "Y", "N", "N"]


def _findings(domain: str, rows: list[tuple]) -> pd.DataFrame:
    """A clean findings domain: (subject, test code, visit number, value) per record."""
    frame = pd.DataFrame(rows, columns=["USUBJID", "TESTCD", "VISITNUM", "STRESN"])
    p = domain
    return pd.DataFrame({"USUBJID": frame["USUBJID"], f"{p}TESTCD": frame["TESTCD"], f"{p}TEST": frame["TESTCD"],
                         f"{p}STRESU": "kg", "VISITNUM": frame["VISITNUM"], "VISIT": "Week " + frame["VISITNUM"]
                         .astype(str), f"{p}DTC": "2020-01-01", f"{p}DY": 1.0, f"{p}STRESN": frame["STRESN"],
                         f"{p}STRESC": frame["STRESN"].astype(str), f"{p}LLOQ": np.nan,
                         f"{p}SEQ": np.arange(1, len(frame) + 1)}).astype({"USUBJID": "str"})


def test_derivation_queries_in_subject_order_whatever_domain_came_first():
    # S7 and S0 have vital signs only, after the labs of S1 (no weight) and S2: the BMI queries (no height) follow
    # the subjects' text order, as when the long dataset was plain text
    lb = _findings("LB", [("S1", "GLUC", 0, 5.5), ("S2", "GLUC", 0, 5.0)])
    vs = _findings("VS", [("S7", "WEIGHT", 0, 70.0), ("S7", "WEIGHT", 4, 71.0), ("S0", "WEIGHT", 0, 80.0),
                          ("S0", "WEIGHT", 4, 81.0), ("S2", "WEIGHT", 0, 60.0), ("S2", "HEIGHT", 0, 170.0)])
    empty = _findings("XP", [])
    adsl = pd.DataFrame({"USUBJID": ["S0", "S1", "S2", "S7"], "STUDYID": "X", "ARM": "A", "TRT01P": "A",
                         "TRT01A": "A", "AGE": [50, 55, 60, 70]})
    log = QueryLog(prefix="D")
    bds = derive.derive_bds({"LB": lb, "VS": vs, "XP": empty}, adsl, {"tests": {}, "derived": {"BMI": {
        "derivation": "bmi"}}}, log)
    queries = log.frame()
    assert queries["USUBJID"].tolist() == ["S0", "S0", "S7", "S7"]
    assert queries["MESSAGE"].str.contains("HEIGHT missing").all()
    assert bds.loc[bds["PARAMCD"] == "BMI", "AVAL"].round(4).tolist() == [round(60 / 1.7 ** 2, 4)]  # kg / m^2
