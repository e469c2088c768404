"""Statistics, figures and the report degrade, never crash, when an arm is empty or has one subject, or a visit has
no data: a statistic that cannot be computed is an ARD row with VALUE NaN and a WARNING saying why; an exception in
one statistic is an ERROR in its rows and the rest of the plan still runs."""

import io
import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from conftest import FINAL_CUTS, ROOT, run_pipeline
from ucmsc import analyze, figures, provenance, report, stats
from ucmsc import ard as ardlib
from ucmsc.audit import audit_trial
from ucmsc.config import load_yaml
from ucmsc.diffcuts import result_changes
from ucmsc.io import read_table, write_table
from ucmsc.mmrm import MmrmNotEstimable, fit_mmrm

TRIAL, CUT = "nafld_efficacy", FINAL_CUTS["nafld_efficacy"]
ACTIVE, CONTROL = "UC-MSC", "Placebo"
PUBLISHED = load_yaml(ROOT / "resources" / "published" / "published_numbers.yaml")


def _by_name(rows, column="VALUE"):
    return {r["STAT_NAME"]: r[column] for r in rows}


def _nan(rows, *names):
    values = _by_name(rows)
    return all(math.isnan(values[n]) for n in names)


# --- unit tests of each method on tiny hand-built inputs ------------------------------

def test_describe_with_no_value_keeps_every_row_and_says_why():
    rows = stats.describe([np.nan], group="Placebo")
    assert [r["STAT_NAME"] for r in rows] == ["n", "mean", "sd", "se", "median", "q1", "q3", "min", "max"]
    assert _by_name(rows)["n"] == 0 and _by_name(rows, "WARNING")["n"] == ""
    assert _nan(rows, "mean", "sd", "se", "median", "q1", "q3", "min", "max")
    assert {r["WARNING"] for r in rows[1:]} == {"not estimable: Placebo has 0 non-missing values (1 needed)"}


def test_describe_with_one_value_gives_its_mean_but_no_sd():
    rows = stats.describe([4.2, np.nan], group="Placebo")
    values, warnings = _by_name(rows), _by_name(rows, "WARNING")
    assert values["n"] == 1 and values["mean"] == values["median"] == values["min"] == values["q3"] == 4.2
    assert _nan(rows, "sd", "se")
    assert warnings["sd"] == warnings["se"] == "not estimable: Placebo has 1 non-missing value (2 needed)"
    assert warnings["mean"] == "" and all(r["ERROR"] == "" for r in rows)


def test_describe_normal_case_has_no_warning():
    rows = stats.describe([1.0, 2.0, 3.0], group="Placebo")
    assert _by_name(rows)["sd"] == 1.0 and math.isclose(_by_name(rows)["se"], 1 / math.sqrt(3))  # SD of 1, 2, 3 is 1
    assert all(r["WARNING"] == "" and r["ERROR"] == "" for r in rows)


@pytest.mark.parametrize("y, warning", [
    ([5.0], "not estimable: Placebo has 1 non-missing value (2 needed)"),
    ([], "not estimable: Placebo has 0 non-missing values (2 needed)"),
])
def test_student_t_with_too_few_values_in_one_group(y, warning):
    rows = stats.ttest_student([1.0, 2.0, 3.0], y, groups=(ACTIVE, CONTROL))
    normal = stats.ttest_student([1.0, 2.0, 3.0], [5.0, 6.0], groups=(ACTIVE, CONTROL))
    assert [r["STAT_NAME"] for r in rows] == [r["STAT_NAME"] for r in normal]  # the usual rows, NaN
    assert _nan(rows, "estimate", "lcl", "ucl", "statistic", "df", "p")
    assert _by_name(rows)["var_equal"] == 1 and _by_name(rows, "WARNING")["var_equal"] == ""
    assert {r["WARNING"] for r in rows if r["STAT_NAME"] != "var_equal"} == {warning}
    assert all(r["WARNING"] == "" for r in normal) and _by_name(normal)["estimate"] == -3.5  # 2 - 5.5


def test_student_t_names_both_groups_when_both_are_short():
    rows = stats.ttest_student([1.0], [], groups=(ACTIVE, CONTROL))
    assert rows[0]["WARNING"] == ("not estimable: UC-MSC has 1 non-missing value; Placebo has 0 non-missing values "
                                  "(2 needed in each)")


def test_mann_whitney_needs_one_value_per_group():
    rows = stats.mann_whitney([1.0, 2.0], [np.nan], groups=(ACTIVE, CONTROL))
    assert _nan(rows, "statistic", "p") and _by_name(rows)["continuity"] == 1
    assert _by_name(rows, "WARNING")["p"] == "not estimable: Placebo has 0 non-missing values (1 needed)"
    # one value each is computable: U = 0, mean U = 1/2, var U = 1 x 1 x 3 / 12, z = (|0 - 1/2| - 1/2) / (1/2) = 0,
    # so P = 1
    one_each = stats.mann_whitney([1.0], [2.0], groups=(ACTIVE, CONTROL))
    assert _by_name(one_each)["statistic"] == 0 and _by_name(one_each)["p"] == 1.0
    assert all(r["WARNING"] == "" for r in one_each)


def test_paired_t_and_wilcoxon_with_one_change():
    rows = stats.paired_t([np.nan, 0.5], group="Placebo")
    assert _nan(rows, "estimate", "lcl", "ucl", "statistic", "df", "p")
    assert {r["WARNING"] for r in rows} == {"not estimable: Placebo has 1 non-missing change (2 needed)"}
    assert {r["WARNING"] for r in stats.paired_t([], group="Placebo")} == {
        "not estimable: Placebo has 0 non-missing changes (2 needed)"}
    rows = stats.wilcoxon_signed_rank([0.0, 0.0, 1.5], group="Placebo")  # zeros are dropped: one change left
    assert _nan(rows, "V", "p") and _by_name(rows)["continuity"] == 1
    assert _by_name(rows, "WARNING")["p"] == "not estimable: Placebo has 1 non-zero change (2 needed)"
    normal = stats.paired_t([1.0, 3.0], group="Placebo")  # mean 2, SD sqrt(2), t = 2 / (sqrt(2) / sqrt(2)) = 2
    assert _by_name(normal)["statistic"] == pytest.approx(2.0) and all(r["WARNING"] == "" for r in normal)


def test_proportion_with_an_empty_denominator():
    rows = stats.proportion(0, 0, group="Placebo")
    assert _by_name(rows)["n"] == 0 and _by_name(rows)["N"] == 0 and _nan(rows, "pct")
    assert _by_name(rows, "WARNING")["pct"] == "not estimable: Placebo has 0 subjects (1 needed)"
    assert _by_name(stats.proportion(1, 4, group="Placebo"))["pct"] == 25.0


def test_compare_proportions_with_an_empty_arm():
    rows = stats.compare_proportions(3, 10, 0, 0, groups=(ACTIVE, CONTROL))
    assert _by_name(rows)["correction"] == 0 and _by_name(rows, "WARNING")["correction"] == ""
    assert _by_name(rows)["ci_method"] == 1 and _by_name(rows, "WARNING")["ci_method"] == ""  # Newcombe by default
    others = [r for r in rows if r["STAT_NAME"] not in ("correction", "ci_method")]
    assert len(others) == 12 and all(math.isnan(r["VALUE"]) for r in others)
    assert {r["WARNING"] for r in others} == {"not estimable: Placebo has 0 subjects (1 needed)"}


@pytest.mark.parametrize("r1, r2", [(0, 0), (24, 10)])
def test_compare_proportions_with_a_zero_margin(r1, r2):
    # Every subject with the same outcome: Fisher P is 1 (only one table has these margins), the difference 0 with its
    # Newcombe CI (Wilson limits exist at 0/n and n/n); the chi-square (expected count 0), the odds ratio (a flat
    # conditional likelihood) and the Wald CI (variance 0) are undefined.
    rows = stats.compare_proportions(r1, 24, r2, 10, groups=(ACTIVE, CONTROL))
    values, warnings = _by_name(rows), _by_name(rows, "WARNING")
    assert values["fisher_p"] == 1.0 and values["estimate"] == 0.0
    assert values["test_used"] == 2 and values["min_expected"] == 0
    assert _nan(rows, "statistic", "df", "p", "or", "or_lcl", "or_ucl")
    same = f"not estimable: every subject has the same outcome (UC-MSC {r1}/24, Placebo {r2}/10)"
    assert warnings["p"] == f"{same}, so the chi-square is undefined"
    assert warnings["or"] == f"{same}, so the conditional likelihood of the odds ratio is flat"
    assert values["lcl"] < 0 < values["ucl"] and warnings["lcl"] == warnings["ucl"] == ""
    assert warnings["fisher_p"] == warnings["estimate"] == ""
    wald = stats.compare_proportions(r1, 24, r2, 10, groups=(ACTIVE, CONTROL), ci="wald")
    assert _nan(wald, "lcl", "ucl") and _by_name(wald)["estimate"] == 0.0 and _by_name(wald)["ci_method"] == 3
    assert _by_name(wald, "WARNING")["lcl"] == (
        f"not estimable: the Wald CI needs each proportion strictly between 0 and 1 (UC-MSC {r1}/24 and Placebo "
        f"{r2}/10 have a variance estimate of 0); the score intervals (proportion_ci: newcombe or miettinen-nurminen) "
        "are defined")


def test_skewness_with_too_few_or_equal_values():
    rows = stats.skewness([1.0, 2.0, np.nan], group="the pooled sample")
    assert _nan(rows, "skewness") and [r["STAT_NAME"] for r in rows] == ["skewness"]  # no data-driven "skewed" flag
    assert rows[0]["WARNING"] == "not estimable: the pooled sample has 2 non-missing values (3 needed)"
    rows = stats.skewness([2.0, 2.0, 2.0, 2.0], group="the pooled sample")
    assert _nan(rows, "skewness") and rows[0]["WARNING"] == "not estimable: all 4 values of the pooled sample are equal"
    normal = stats.skewness([1.0, 2.0, 3.0])  # symmetric: skewness 0
    assert _by_name(normal)["skewness"] == pytest.approx(0.0)
    # 1, 2, 10 by hand: m2 = 146/9, m3 = 1190/27; G1 = sqrt(n(n - 1))/(n - 2) m3 / m2^1.5
    assert _by_name(stats.skewness([1.0, 2.0, 10.0]))["skewness"] == pytest.approx(
        6 ** 0.5 * (1190 / 27) / (146 / 9) ** 1.5, rel=1e-12)


def test_ancova_with_an_empty_arm_too_few_subjects_or_a_singular_design():
    fit = stats.ancova([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0], [5.0, 6.0, 7.0, 9.0], groups=(ACTIVE, CONTROL))
    reason = "not estimable: Placebo has 0 subjects with change and baseline (1 needed)"
    assert _by_name(fit["active"])["n"] == 4 and _by_name(fit["control"])["n"] == 0
    assert _nan(fit["active"], "lsmean", "se")
    assert _nan(fit["contrast"], "estimate", "se", "lcl", "ucl", "statistic", "df", "p")
    assert {r["WARNING"] for part in fit.values() for r in part if r["STAT_NAME"] not in ("n", "ci_normal")} == {reason}
    fit = stats.ancova([1.0, 2.0, 3.0], [1.0, 1.0, 0.0], [5.0, 6.0, 7.0], groups=(ACTIVE, CONTROL))
    assert fit["contrast"][0]["WARNING"] == (
        "not estimable: 3 subjects with change and baseline in all arms together (4 needed)")
    fit = stats.ancova([1.0, 2.0, 3.0, 5.0], [1.0, 1.0, 0.0, 0.0], [6.0, 6.0, 6.0, 6.0], groups=(ACTIVE, CONTROL))
    assert fit["contrast"][0]["WARNING"].startswith("not estimable: the model is singular")
    # 2 + 2 subjects, each arm with baselines 1 and 2 (arm and baseline orthogonal): the arm coefficient is the
    # difference in means, (2 + 3.5) / 2 - (1 + 2) / 2 = 1.25, with 4 - 3 = 1 degree of freedom
    fit = stats.ancova([2.0, 3.5, 1.0, 2.0], [1.0, 1.0, 0.0, 0.0], [1.0, 2.0, 1.0, 2.0], groups=(ACTIVE, CONTROL))
    assert _by_name(fit["contrast"])["estimate"] == pytest.approx(1.25) and _by_name(fit["contrast"])["df"] == 1
    assert all(r["WARNING"] == "" and r["ERROR"] == "" for part in fit.values() for r in part)


def _gee_frame(active_values, control_values):
    rows = [(f"A{i}", 1.0, v, visit) for i, v in enumerate(active_values) for visit in (9, 20)]
    rows += [(f"P{i}", 0.0, v, visit) for i, v in enumerate(control_values) for visit in (9, 20)]
    return pd.DataFrame(rows, columns=["USUBJID", "ACTIVE", "AVAL", "AVISITN"])


def test_gee_without_a_control_arm_with_one_outcome_or_complete_separation():
    rows = stats.gee_logistic(_gee_frame([1.0, 0.0, 1.0], []), groups=(ACTIVE, CONTROL))
    assert _by_name(rows)["n_subjects"] == 3 and _nan(rows, "estimate", "or", "p")
    assert _by_name(rows, "WARNING")["or"] == "not estimable: Placebo has 0 subjects with a value (1 needed)"
    rows = stats.gee_logistic(_gee_frame([0.0, 0.0], [0.0]), groups=(ACTIVE, CONTROL))
    assert _by_name(rows, "WARNING")["or"] == "not estimable: every observed value is 0 (both outcomes needed)"
    rows = stats.gee_logistic(_gee_frame([1.0, 0.0, 1.0], [0.0, 0.0]), groups=(ACTIVE, CONTROL))
    assert _nan(rows, "estimate", "se", "or", "lcl", "ucl", "p", "working_correlation")
    assert _by_name(rows, "WARNING")["or"] == (
        "not estimable: every observed value of Placebo is 0, so the odds ratio is not finite")


def test_an_exception_inside_one_statistic_becomes_error_text(monkeypatch):
    def boom(*args, **kwargs):
        raise FloatingPointError("overflow in the test")

    monkeypatch.setattr(sps, "ttest_ind", boom)
    rows = stats.ttest_student([1.0, 2.0, 3.0], [4.0, 6.0], groups=(ACTIVE, CONTROL))
    assert _nan(rows, "estimate", "p") and _by_name(rows)["var_equal"] == 1
    assert {r["ERROR"] for r in rows if r["STAT_NAME"] != "var_equal"} == {"FloatingPointError: overflow in the test"}
    assert all(r["WARNING"] == "" for r in rows)
    monkeypatch.setattr(np.linalg, "inv", lambda m: (_ for _ in ()).throw(np.linalg.LinAlgError("Singular matrix")))
    fit = stats.ancova([2.0, 3.0, 1.0, 2.0], [1.0, 1.0, 0.0, 0.0], [1.0, 2.0, 1.0, 2.0], groups=(ACTIVE, CONTROL))
    assert _by_name(fit["active"])["n"] == 2 and _nan(fit["contrast"], "estimate")
    assert fit["contrast"][0]["ERROR"] == "LinAlgError: Singular matrix"


# --- MMRM on a small hand-built trial ------------------------------------------------

MMRM_CONFIG = {"arms": [{"arm": ACTIVE, "armcd": "A", "role": "active"},
                        {"arm": CONTROL, "armcd": "C", "role": "control"}],
               "visits": [{"visitnum": v, "avisit": f"Week {v}", "day": 7 * v, "window": 3} for v in (0, 9, 20)],
               "analysis": {"mmrm": ["X"]}}


def _mmrm_data(n_control: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(8 + n_control):
        arm = ACTIVE if i < 8 else CONTROL
        base = rng.normal(8, 2)
        for visit in (9, 20):
            change = rng.normal(-1 if arm == ACTIVE else 0, 1)
            rows.append((f"S{i}", arm, "X", "Parameter X", visit, f"Week {visit}", base, change))
    bds = pd.DataFrame(rows, columns=["USUBJID", "ARM", "PARAMCD", "PARAM", "AVISITN", "AVISIT", "BASE", "CHG"])
    adsl = pd.DataFrame({"USUBJID": bds["USUBJID"].unique(), "FASFL": "Y"})
    return adsl, bds


def _mmrm_ard(adsl, bds):
    from ucmsc import ard as ardlib
    from ucmsc.plan import Analysis, load_trial

    ctx = analyze.Context(load_trial(MMRM_CONFIG), adsl, bds, pd.DataFrame(), ardlib.Builder("T", "C", "test"))
    analyze.mmrm(ctx, Analysis("MMRM", "mmrm", "FASFL", ("X",)))
    return ctx.ard.frame()


def test_mmrm_without_a_control_arm_is_written_as_not_estimable():
    ard = _mmrm_ard(*_mmrm_data(n_control=0))
    assert sorted(ard["AVISITN"].dropna().unique()) == [9, 20]  # and the model-level rows, without a visit
    assert set(zip(ard["GROUP1_LEVEL"], ard["COMPARATOR"])) == {(ACTIVE, ""), (CONTROL, ""), (ACTIVE, CONTROL)}
    kept = {"n_subjects": 8, "n_obs": 16, "type": 1, "ddfm": 1}  # counts and the plan's options (UN, Satterthwaite)
    estimates = ard[~ard["STAT_NAME"].isin(kept)]
    assert estimates["VALUE"].isna().all()
    assert set(estimates["WARNING"]) == {"not estimable: Placebo has 0 subjects with a change from baseline (1 needed)"}
    for stat, value in kept.items():
        assert (ard.loc[ard["STAT_NAME"] == stat, "VALUE"] == value).all() and (ard["STAT_NAME"] == stat).any()


def test_mmrm_with_an_arm_missing_at_one_visit_names_the_visit():
    adsl, bds = _mmrm_data(n_control=2)
    bds = bds[~((bds["ARM"] == CONTROL) & (bds["AVISITN"] == 20))]
    ard = _mmrm_ard(adsl, bds)
    assert set(ard.loc[ard["VALUE"].isna(), "WARNING"]) == {
        "not estimable: at Week 20, Placebo has 0 subjects with a change from baseline (1 needed)"}


def test_mmrm_that_does_not_converge_and_one_that_fails(monkeypatch):
    from ucmsc import mmrm

    monkeypatch.setattr(mmrm, "SCORE_TOLERANCE", 0.0)  # no fit reaches a relative REML score of exactly 0
    ard = _mmrm_ard(*_mmrm_data(n_control=8))
    both = ard[(ard["GROUP1_LEVEL"] == ACTIVE) & (ard["COMPARATOR"] == CONTROL)]
    model = both[both["AVISITN"].isna()].set_index("STAT_NAME")  # the model's rows: no visit
    contrast = both[both["AVISITN"].notna()].set_index(["AVISITN", "STAT_NAME"])
    assert model.loc["converged", "VALUE"] == 0 and model.loc["max_score", "VALUE"] < 1e-8
    assert math.isnan(contrast.loc[(9, "estimate"), "VALUE"]) and math.isnan(model.loc["m2rll", "VALUE"])
    assert re.fullmatch(r"not estimable: REML did not converge \(max relative score \S+ above the tolerance 0 after "
                        r"\d+ Newton steps\)", contrast.loc[(9, "estimate"), "WARNING"])
    monkeypatch.setattr(mmrm, "fit_mmrm", lambda data, **options: (_ for _ in ()).throw(
        np.linalg.LinAlgError("Singular matrix")))
    ard = _mmrm_ard(*_mmrm_data(n_control=8))
    failed = ard[~ard["STAT_NAME"].isin(["n_subjects", "n_obs", "type", "ddfm"])]
    assert failed["VALUE"].isna().all() and set(failed["ERROR"]) == {"LinAlgError: Singular matrix"}
    assert set(failed["WARNING"]) == {""}


def test_mmrm_fit_refuses_a_singular_design():
    _, bds = _mmrm_data(n_control=4)
    with pytest.raises(MmrmNotEstimable, match="singular"):
        fit_mmrm(bds.assign(ACTIVE=(bds["ARM"] == ACTIVE).astype(float), BASE=8.0))  # constant baseline = intercept


# --- the pipeline on a bundled cut with an arm or a visit taken away -------------------

def _drop_control(keep: int):
    """edit_sdtm: keep only the first ``keep`` placebo subjects, removed from every domain."""
    def edit(sdtm):
        dm = sdtm["DM"]
        gone = set(sorted(dm.loc[dm["ARM"] == CONTROL, "USUBJID"])[keep:])
        for domain, table in sdtm.items():
            if "USUBJID" in table.columns:
                sdtm[domain] = table[~table["USUBJID"].isin(gone)].reset_index(drop=True)
    return edit


def _drop_visit(visitnum: int):
    def edit(sdtm):
        for domain, table in sdtm.items():
            if "VISITNUM" in table.columns:
                sdtm[domain] = table[table["VISITNUM"] != visitnum].reset_index(drop=True)
    return edit


CASES = {"no_control": _drop_control(0), "one_control": _drop_control(1), "no_week_20": _drop_visit(20)}


@pytest.fixture(scope="module")
def damaged(trial_configs):
    return {name: run_pipeline(TRIAL, CUT, trial_configs[TRIAL], edit_sdtm=edit) for name, edit in CASES.items()}


def _rows(ard, **keys):
    mask = pd.Series(True, index=ard.index)
    for key, value in keys.items():
        mask &= ard[key] == value
    return ard[mask].set_index("STAT_NAME")


@pytest.mark.parametrize("case", sorted(CASES))
def test_ard_keeps_its_columns_and_every_nan_has_a_reason(damaged, case):
    ard = damaged[case]["ard"]
    assert list(ard.columns) == ardlib.COLUMNS and {"WARNING", "ERROR"} <= set(ardlib.COLUMNS)
    assert ard["WARNING"].map(type).eq(str).all() and ard["ERROR"].map(type).eq(str).all()
    unexplained = ard[ard["VALUE"].isna() & (ard["WARNING"] == "") & (ard["ERROR"] == "")]
    assert unexplained.empty, unexplained[["ANALYSIS_ID", "PARAMCD", "AVISITN", "GROUP1_LEVEL", "COMPARATOR",
                                           "STAT_NAME"]].head()
    assert (ard["ERROR"] == "").all()
    assert not ard.duplicated(ardlib.KEYS).any()


def test_empty_control_arm_rows_name_the_arm(damaged):
    ard = damaged["no_control"]["ard"]
    placebo = _rows(ard, ANALYSIS_ID="CONT", PARAMCD="GLUC", AVISITN=20, GROUP1_LEVEL=CONTROL, COMPARATOR="",
                    VARIABLE="AVAL")
    assert placebo.loc["n", "VALUE"] == 0 and placebo.drop(index="n")["VALUE"].isna().all()
    assert placebo.loc["mean", "WARNING"] == "not estimable: Placebo has 0 non-missing values (1 needed)"
    ttest = _rows(ard, ANALYSIS_ID="CONT", PARAMCD="GLUC", AVISITN=20, GROUP1_LEVEL=ACTIVE, COMPARATOR=CONTROL,
                  VARIABLE="AVAL", METHOD="Student t-test")
    assert math.isnan(ttest.loc["p", "VALUE"]) and ttest.loc["p", "WARNING"] == (
        "not estimable: Placebo has 0 non-missing values (2 needed)")
    # the active arm is untouched: the published week-20 glucose of UC-MSC, 7.51 ± 1.77 (n = 33)
    active = _rows(ard, ANALYSIS_ID="CONT", PARAMCD="GLUC", AVISITN=20, GROUP1_LEVEL=ACTIVE, COMPARATOR="",
                   VARIABLE="AVAL")
    assert active.loc["n", "VALUE"] == 33 and round(active.loc["mean", "VALUE"], 2) == 7.51
    assert round(active.loc["sd", "VALUE"], 2) == 1.77 and active.loc["sd", "WARNING"] == ""
    for analysis in ("ANCOVA", "MMRM", "RESP", "GEE", "AE", "BASELINE", "WITHIN"):
        flagged = ard[(ard["ANALYSIS_ID"] == analysis) & (ard["WARNING"] != "")]
        assert flagged["WARNING"].str.contains(CONTROL).all() and len(flagged), analysis
    population = _rows(ard, ANALYSIS_ID="POP", PARAMCD="RANDFL", GROUP1_LEVEL=CONTROL, COMPARATOR="")
    assert population.loc["n", "VALUE"] == 0


def test_one_control_subject_gives_its_value_and_no_sd(damaged):
    run = damaged["one_control"]
    ard, bds, adsl = run["ard"], run["bds"], run["adsl"]
    subject = adsl.loc[adsl["ARM"] == CONTROL, "USUBJID"].item()
    value = bds[(bds["USUBJID"] == subject) & (bds["PARAMCD"] == "GLUC") & (bds["AVISITN"] == 20)
                & (bds["ANL01FL"] == "Y")]["AVAL"].item()
    placebo = _rows(ard, ANALYSIS_ID="CONT", PARAMCD="GLUC", AVISITN=20, GROUP1_LEVEL=CONTROL, COMPARATOR="",
                    VARIABLE="AVAL")
    assert placebo.loc["n", "VALUE"] == 1 and placebo.loc["mean", "VALUE"] == placebo.loc["max", "VALUE"] == value
    assert math.isnan(placebo.loc["sd", "VALUE"])
    assert placebo.loc["sd", "WARNING"] == "not estimable: Placebo has 1 non-missing value (2 needed)"
    ttest = _rows(ard, ANALYSIS_ID="CONT", PARAMCD="GLUC", AVISITN=20, GROUP1_LEVEL=ACTIVE, COMPARATOR=CONTROL,
                  VARIABLE="AVAL", METHOD="Student t-test")
    assert ttest.loc["p", "WARNING"] == "not estimable: Placebo has 1 non-missing value (2 needed)"
    # ANCOVA is estimable with one control subject: check its difference against the normal equations
    records = bds[(bds["PARAMCD"] == "GLUC") & (bds["AVISITN"] == 20) & (bds["ANL01FL"] == "Y")
                  & bds["USUBJID"].isin(adsl.loc[adsl["FASFL"] == "Y", "USUBJID"])].dropna(subset=["CHG", "BASE"])
    x = np.column_stack([np.ones(len(records)), (records["ARM"] == ACTIVE).astype(float), records["BASE"]])
    beta = np.linalg.solve(x.T @ x, x.T @ records["CHG"].to_numpy())
    ancova = _rows(ard, ANALYSIS_ID="ANCOVA", PARAMCD="GLUC", AVISITN=20, GROUP1_LEVEL=ACTIVE, COMPARATOR=CONTROL)
    assert math.isclose(ancova.loc["estimate", "VALUE"], beta[1], rel_tol=1e-10)
    assert ancova.loc["estimate", "WARNING"] == ""


def test_a_visit_without_data_is_reported_not_dropped(damaged):
    ard = damaged["no_week_20"]["ard"]
    week20 = _rows(ard, ANALYSIS_ID="CONT", PARAMCD="GLUC", AVISITN=20, GROUP1_LEVEL=ACTIVE, COMPARATOR="",
                   VARIABLE="AVAL")
    assert week20.loc["n", "VALUE"] == 0 and week20.loc["mean", "WARNING"] == (
        "not estimable: UC-MSC has 0 non-missing values (1 needed)")
    mmrm = ard[(ard["ANALYSIS_ID"] == "MMRM") & (ard["PARAMCD"] == "GLUC")]
    assert mmrm.loc[(mmrm["AVISITN"] == 20) & (mmrm["STAT_NAME"] == "estimate"), "WARNING"].item() == (
        "not estimable: no subject has a change from baseline at Week 20")
    assert mmrm.loc[(mmrm["AVISITN"] != 20) & (mmrm["STAT_NAME"] == "estimate"), "VALUE"].notna().all()
    resp = _rows(ard, ANALYSIS_ID="RESP", PARAMCD="HBA1CTGT", AVISITN=20, GROUP1_LEVEL=CONTROL, COMPARATOR="")
    assert resp.loc["N", "VALUE"] == 32 and math.isnan(resp.loc["pct", "VALUE"])
    assert resp.loc["pct", "WARNING"] == "not estimable: no subject of the full analysis set has a value at Week 20"
    shift = _rows(ard, ANALYSIS_ID="GRADESHIFT", AVISITN=20, GROUP1_LEVEL=CONTROL, COMPARATOR="")
    assert shift.loc["n", "VALUE"] == 0 and shift.loc["n", "WARNING"].startswith("no data: Placebo has 0 subjects")


def _titles(fig):
    return [t for ax in fig.axes for t in [ax.get_title()] + [text.get_text() for text in ax.texts]]


@pytest.mark.parametrize("case, note", [("no_control", "no data: Placebo"), ("one_control", None),
                                        ("no_week_20", "no data at week 20")])
def test_every_figure_draws_and_names_what_is_missing(damaged, trial_configs, case, note):
    ard = damaged[case]["ard"]
    drawn = figures.all_figures(ard, trial_configs[TRIAL])
    stems = [stem for stem, *_ in drawn]
    assert stems[0] == "01_consort" and "05_forest" in stems and "06_adverse_events" in stems
    trajectory_titles = []
    for stem, _, fig, rows in drawn:
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=40)
        assert png.getvalue()[:4] == b"\x89PNG"
        if stem.startswith("02_"):
            trajectory_titles += _titles(fig)
        plt.close(fig)
        assert len(rows) and provenance.ard_keys(rows)  # the provenance still lists the rows drawn
    if note:
        assert any(f"({note})" in t for t in trajectory_titles)
    else:
        assert not any("no data" in t for t in trajectory_titles)


def test_trajectory_leaves_out_the_empty_arm(damaged):
    pages = figures.trajectory_figures(damaged["no_control"]["ard"], ["GLUC"], [ACTIVE, CONTROL], "Endpoints")
    ((fig, rows),) = pages
    ax = fig.axes[0]
    assert ax.get_title() == "Fasting plasma glucose (mmol/L)\n(no data: Placebo)"
    assert [line.get_label() for line in ax.containers] == [ACTIVE]  # one error-bar series: the active arm
    placebo = rows[(rows["GROUP1_LEVEL"] == CONTROL) & (rows["COMPARATOR"] == "")]
    assert set(placebo["STAT_NAME"]) == {"mean", "se", "n"}
    assert placebo.loc[placebo["STAT_NAME"] == "n", "VALUE"].eq(0).all()
    plt.close(fig)


@pytest.mark.parametrize("case", sorted(CASES))
def test_report_renders_with_ne_cells_and_lists_every_warning(damaged, trial_configs, case):
    run, config = damaged[case], trial_configs[TRIAL]
    ard = run["ard"]
    audit = audit_trial(ard, PUBLISHED[TRIAL])
    code = {"git_commit": "x", "uncommitted_changes": False, "code_sha256": "y"}
    context = report.build_context(ard, audit, run["queries"].astype(str), run["summary"], {"files": run["raw_meta"]},
                                   [], config, CUT, code, {"path": "ard.csv", "sha256": "z"})
    html = report.render_report(context)
    problems = context["problems"]
    assert problems["warning_rows"] == (ard["WARNING"] != "").sum() > 0 and problems["error_rows"] == 0
    covered = sum(len(e["STATISTICS"].split(", ")) for e in problems["entries"])
    assert covered == problems["warning_rows"]  # every flagged ARD row is in the list
    assert html.index('id="statistics-not-estimated"') < html.index('id="tables"')
    assert "not estimable: Placebo has" in html or "not estimable: UC-MSC has" in html
    endpoints = next(t for t, _, _ in context["tables"]
                     if t.title == "Fasting plasma glucose (mmol/L): value and change from baseline by visit")
    assert endpoints.footnotes[-1] == ("NE: not estimable (the report's section Statistics not estimated gives the "
                                       "reasons).")
    cells = [c for row in endpoints.rows for c in row.cells]
    assert any(c == "NE" or c.startswith("NE (") for c in cells)


def test_report_lists_an_error_and_the_other_statistics_still_run(trial_configs, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("no convergence in the test")

    monkeypatch.setattr(sps, "mannwhitneyu", boom)
    run = run_pipeline(TRIAL, CUT, trial_configs[TRIAL])
    ard = run["ard"]
    mw = ard[(ard["METHOD"] == "Mann-Whitney U") & (ard["STAT_NAME"] == "p")]
    assert len(mw) and mw["VALUE"].isna().all() and set(mw["ERROR"]) == {"RuntimeError: no convergence in the test"}
    t = ard[(ard["METHOD"] == "Student t-test") & (ard["STAT_NAME"] == "p")]
    assert t["VALUE"].notna().all() and (t["ERROR"] == "").all()
    problems = report.problem_context(ard)
    assert problems["error_rows"] == len(ard[ard["ERROR"] != ""]) and any(
        e["KIND"] == "ERROR" and e["METHOD"] == "Mann-Whitney U" for e in problems["entries"])


def test_audit_diff_and_report_read_the_ard_back_from_csv(damaged, trial_configs, tmp_path):
    path = tmp_path / "ard.csv"
    write_table(damaged["no_control"]["ard"], path)
    ard = read_table(path)  # empty WARNING and ERROR come back as NaN
    audit = audit_trial(ard, PUBLISHED[TRIAL])
    placebo = audit[audit["CHECK_ID"] == "age-mean.2"].iloc[0]
    assert placebo["STATUS"] == "not estimable" and placebo["DETAIL"] == (
        "not estimable: Placebo has 0 non-missing values (1 needed)")
    assert audit.loc[audit["CHECK_ID"] == "age-mean.1", "STATUS"].item() == "match"
    report.build_tables(ard, trial_configs[TRIAL])
    assert report.problem_context(ard)["warning_rows"] == (damaged["no_control"]["ard"]["WARNING"] != "").sum()
    records = pd.DataFrame(columns=["DOMAIN", "KEY", "USUBJID", "CHANGE", "VARIABLE", "OLD", "NEW"])
    changes = result_changes(read_table(path), ard, records)
    assert changes.empty  # same cut: nothing changed, NaN included
    one = ardlib.read(path)
    one.loc[(one["ANALYSIS_ID"] == "BASELINE") & (one["PARAMCD"] == "AGE") & (one["GROUP1_LEVEL"] == CONTROL)
            & (one["COMPARATOR"] == "")
            & (one["STAT_NAME"] == "mean"), "VALUE"] = 50.0
    flipped = result_changes(one, ard, records)
    assert flipped[["STAT_NAME", "OLD", "NEW", "CHANGE"]].values.tolist() == [["mean", "50.00", "NE", "changed"]]


def test_safety_trial_without_placebo_shift_tables_figures_and_report(trial_configs):
    trial, config = "t2dm_safety", trial_configs["t2dm_safety"]
    run = run_pipeline(trial, FINAL_CUTS[trial], config, edit_sdtm=_drop_control(0))
    ard = run["ard"]
    shift = ard[(ard["ANALYSIS_ID"] == "SHIFT") & (ard["STAT_NAME"] == "n")]
    placebo = (shift["GROUP1_LEVEL"] == CONTROL) & (shift["COMPARATOR"] == "")
    assert (shift.loc[placebo, "VALUE"] == 0).all() and (shift.loc[~placebo, "VALUE"] > 0).all()
    assert set(shift.loc[(shift["GROUP1_LEVEL"] == CONTROL) & (shift["COMPARATOR"] == ""), "WARNING"]) == {
        "no data: Placebo has 0 subjects with a baseline and a post-baseline range"}
    ae = _rows(ard, ANALYSIS_ID="AE", PARAMCD="ANY", GROUP1_LEVEL=CONTROL, COMPARATOR="")
    assert ae.loc["N", "VALUE"] == 0 and math.isnan(ae.loc["pct", "VALUE"])
    for _, _, fig, _ in figures.all_figures(ard, config):
        fig.savefig(io.BytesIO(), format="png", dpi=40)
        plt.close(fig)
    code = {"git_commit": "x", "uncommitted_changes": False, "code_sha256": "y"}
    context = report.build_context(ard, audit_trial(ard, PUBLISHED[trial]), run["queries"].astype(str), run["summary"],
                                   {"files": run["raw_meta"]}, [], config, FINAL_CUTS[trial], code,
                                   {"path": "a", "sha256": "z"})
    assert "no data: Placebo has 0 subjects with a baseline" in report.render_report(context)
    overview = next(t for t, _, _ in context["tables"] if t.title.startswith("Overview of treatment-emergent"))
    any_ae = overview.rows[0]
    assert overview.header[1:3] == ["hUC-MSC (N=24)", "Placebo (N=0)"]
    assert any_ae.label == "Any treatment-emergent adverse event"
    assert any_ae.cells[1] == "0 (NE) [0]" and any_ae.cells[-2:] == ["NE (NE, NE)", "NE"]
