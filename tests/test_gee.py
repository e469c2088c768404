"""GEE logistic regression (ucmsc.gee) against R geepack::geeglm (tests/r/gee.R, reference CSVs in tests/reference):
every coefficient (arm and each visit), robust SE, working correlation, scale, on data sets with 3-4 post-baseline
visits and intermittent, monotone and single-visit subjects, and on the bundled efficacy cut through the pipeline."""

import math

import numpy as np
import pandas as pd
import pytest

from conftest import FINAL_CUTS, run_pipeline
from ucmsc import gee, stats

REFERENCE = __import__("pathlib").Path(__file__).parent / "reference"
SIMULATED = ["gee_intermittent", "gee_monotone", "gee_singletons", "gee_mixed"]
ALL = SIMULATED + ["gee_efficacy_cut"]
COLUMNS = {"subject": "USUBJID", "arm": "ACTIVE", "visit": "AVISITN", "y": "AVAL"}
REL = 1e-6


def _reference(name: str) -> dict[str, float]:
    table = pd.read_csv(REFERENCE / f"{name}.csv", dtype=str).set_index("name")["value"]
    return {k: float(v) for k, v in table.items() if not k.endswith("_version")}


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / f"{name}.csv").rename(columns=COLUMNS)


@pytest.mark.parametrize("name", SIMULATED)
def test_the_simulated_data_sets_cover_several_visits_and_missing_visits(name):
    data = _data(name)
    visits = data.groupby("USUBJID")["AVISITN"].agg(list)
    assert data["AVISITN"].nunique() in (3, 4) and 40 <= len(visits) <= 100
    assert (visits.str.len() < data["AVISITN"].nunique()).any()  # some subjects miss a visit
    assert set(data["ACTIVE"]) == {0, 1} and set(data["AVAL"]) == {0, 1}
    if name == "gee_singletons":
        assert (visits.str.len() == 1).sum() >= 10
    if name in ("gee_intermittent", "gee_mixed"):  # a visit missed, a later one seen
        everything = sorted(data["AVISITN"].unique())
        assert any(v != everything[:len(v)] for v in visits)
    if name == "gee_monotone":  # dropout only: each subject's visits are the first k
        everything = sorted(data["AVISITN"].unique())
        assert all(v == everything[:len(v)] for v in visits) and (visits.str.len() < 3).sum() >= 5


@pytest.mark.parametrize("name", ALL)
def test_every_coefficient_se_alpha_and_scale_equal_geepack(name):
    r = _reference(name)
    fit = gee.fit_visit_arm(_data(name))
    assert fit.converged and fit.max_change < gee.TOLERANCE
    assert {f"beta_{n}" for n in fit.names} == {k for k in r if k.startswith("beta_")}  # arm and every visit
    assert len(fit.names) >= 4
    for term in fit.names:
        estimate, se = fit.coefficient(term)
        assert estimate == pytest.approx(r[f"beta_{term}"], rel=REL), term
        assert se == pytest.approx(r[f"se_{term}"], rel=REL), term
    assert fit.alpha == pytest.approx(r["alpha"], rel=REL, abs=1e-6)
    assert fit.scale == pytest.approx(r["scale"], rel=REL, abs=1e-6)
    assert (fit.n_obs, fit.n_subjects) == (r["n_obs"], r["n_subjects"])


@pytest.mark.parametrize("name", ALL)
def test_ard_rows_equal_geepack_whatever_the_row_order(name):
    r = _reference(name)
    shuffled = _data(name).sample(frac=1.0, random_state=7)  # gee_logistic groups the rows by subject itself
    rows = {row["STAT_NAME"]: row for row in stats.gee_logistic(shuffled)}
    assert all(row["WARNING"] == "" and row["ERROR"] == "" for row in rows.values())
    for stat, key in (("estimate", "beta_arm"), ("se", "se_arm"), ("p", "p_arm"), ("or", "or_arm"), ("lcl", "lcl_arm"),
                      ("ucl", "ucl_arm"), ("working_correlation", "alpha"), ("scale", "scale")):
        assert rows[stat]["VALUE"] == pytest.approx(r[key], rel=REL), stat
    assert rows["n_obs"]["VALUE"] == r["n_obs"] and rows["n_subjects"]["VALUE"] == r["n_subjects"]
    assert rows["converged"]["VALUE"] == 1 and 1 <= rows["iterations"]["VALUE"] < gee.MAX_ITERATIONS


def test_bundled_efficacy_cut_gee_row_equals_geepack(trial_configs):
    r = _reference("gee_efficacy_cut")
    ard = run_pipeline("nafld_efficacy", FINAL_CUTS["nafld_efficacy"], trial_configs["nafld_efficacy"])["ard"]
    rows = ard[(ard["ANALYSIS_ID"] == "GEE") & (ard["PARAMCD"] == "HBA1CTGT")].set_index("STAT_NAME")
    assert set(zip(rows["GROUP1_LEVEL"], rows["COMPARATOR"])) == {("UC-MSC", "Placebo")} and set(rows["METHOD"]) == {
        "GEE logistic (visit + arm; exchangeable, moment estimators as geepack (divisors N and pairs); robust SE)"}
    assert (rows["WARNING"] == "").all() and (rows["ERROR"] == "").all()
    value = rows["VALUE"]
    assert value["n_obs"] == r["n_obs"] and value["n_subjects"] == r["n_subjects"]  # R read the analysed records
    for stat, key in (("estimate", "beta_arm"), ("se", "se_arm"), ("p", "p_arm"), ("or", "or_arm"), ("lcl", "lcl_arm"),
                      ("ucl", "ucl_arm"), ("working_correlation", "alpha"), ("scale", "scale")):
        assert value[stat] == pytest.approx(r[key], rel=REL), stat
    assert value["converged"] == 1 and value["iterations"] >= 1


def test_a_fit_that_does_not_converge_gives_its_iterations_and_no_estimate(monkeypatch):
    monkeypatch.setattr(gee, "MAX_ITERATIONS", 2)
    rows = {row["STAT_NAME"]: row for row in stats.gee_logistic(_data("gee_mixed"))}
    assert rows["converged"]["VALUE"] == 0 and rows["iterations"]["VALUE"] == 2 and rows["n_subjects"]["VALUE"] == 98
    for stat in ("estimate", "se", "or", "lcl", "ucl", "p", "working_correlation", "scale"):
        assert math.isnan(rows[stat]["VALUE"])
        assert rows[stat]["WARNING"].startswith("not estimable: the GEE fit did not converge in 2 iterations")


def test_one_visit_only_gives_the_two_by_two_log_odds_ratio_and_no_working_correlation():
    # 20/33 vs 9/32 responders, each subject seen once: log OR = ln(20 x 23 / (13 x 9)); no pair of visits
    rows = [(f"A{i}", 1.0, float(i < 20)) for i in range(33)] + [(f"P{i}", 0.0, float(i < 9)) for i in range(32)]
    frame = pd.DataFrame(rows, columns=["USUBJID", "ACTIVE", "AVAL"]).assign(AVISITN=9)
    got = {row["STAT_NAME"]: row for row in stats.gee_logistic(frame)}
    assert got["estimate"]["VALUE"] == pytest.approx(math.log(20 * 23 / (13 * 9)), rel=1e-9)
    assert got["scale"]["VALUE"] == pytest.approx(1.0)  # binomial Pearson chi-square / N of a saturated 2 x 2 fit
    assert math.isnan(got["working_correlation"]["VALUE"]) and got["working_correlation"]["WARNING"] == (
        "not estimable: no subject has two observed visits (independence used)")
    assert got["estimate"]["WARNING"] == ""


def test_rows_must_be_grouped_by_subject():
    x = np.column_stack([np.ones(4), [1.0, 0.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="not grouped by subject"):
        gee.fit_exchangeable_logistic(np.array([1.0, 0.0, 0.0, 1.0]), x, np.array(["a", "b", "a", "b"]),
                                      ["intercept", "arm"])


@pytest.mark.parametrize("visit", [9, 48])
def test_a_visit_with_one_outcome_only_is_not_estimable(visit):
    # geepack does not converge on these data either: its visit coefficients run off to +-1e6 or more
    data = _data("gee_mixed")
    data.loc[data["AVISITN"] == visit, "AVAL"] = 0
    rows = {row["STAT_NAME"]: row for row in stats.gee_logistic(data)}
    assert math.isnan(rows["estimate"]["VALUE"]) and rows["n_obs"]["VALUE"] == 313
    assert rows["estimate"]["WARNING"] == (
        f"not estimable: every observed value at AVISITN {visit} is 0, so the visit effects are not finite")
    with pytest.raises(gee.GeeNotEstimable, match="separat"):
        gee.fit_visit_arm(data)
