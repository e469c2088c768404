"""The MMRM (``ucmsc.mmrm``, ``analyze.mmrm``) against R and against OLS.

R reference (tests/r/mmrm.R on tests/r/make_data_mmrm.py's data sets; the script's header says what each value comes
from): the REML optimum from nlme::gls polished by Newton steps in R (estimates, covariance matrix, -2RLL) and emmeans'
LS-mean vectors; Satterthwaite df from numDeriv derivatives of the REML criterion; Kenward-Roger from dense P/Q
matrices (observed information, as SAS) and from pbkrtest (expected information, at that optimum and on lmer for
compound symmetry); lmerTest Satterthwaite for compound symmetry; per-visit lm for complete data; and nlme::gls and
emmeans as they stop (method "gls", relative score about 1e-7).

Tolerances: ``TOLERANCE`` below, relative to |value|, except a location (estimate, LS mean, CI limit), relative to
max(|value|, its SE), and a covariance element, relative to sqrt(Sigma_aa Sigma_bb); ``GLS_TOLERANCE`` for gls as it
stops.
"""

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats as sps

from ucmsc import analyze
from ucmsc.mmrm import SCORE_TOLERANCE, fit_mmrm

REFERENCE = Path(__file__).parent / "reference"
DATASETS = ("complete", "dropout", "intermittent", "ties")
COVARIANCES = {"UN": "unstructured", "CS": "compound-symmetry"}
CASES = [(d, c) for d in DATASETS for c in COVARIANCES]
TOLERANCE = {"estimate": 1e-6, "lsmean": 1e-6, "lcl": 1e-6, "ucl": 1e-6, "se": 1e-6, "t": 1e-6, "cov": 1e-6,
             "df": 1e-6, "p": 1e-6, "m2rll": 1e-9, "aic": 1e-9, "n_obs": 0, "n_subjects": 0}
GLS_TOLERANCE = 1e-5
LOCATIONS = {"estimate", "lsmean", "lcl", "ucl"}

VISITS = [9, 20, 48]
SIGMA = [[1.0, 0.6, 0.4], [0.6, 1.2, 0.7], [0.4, 0.7, 1.5]]


def _trial(seed: int, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(8, 2, n)
    active = np.repeat([1.0, 0.0], n // 2)
    rows = []
    for i in range(n):
        errors = rng.multivariate_normal(np.zeros(3), SIGMA)
        for k, visit in enumerate(VISITS):
            change = -0.5 * active[i] * (k + 1) - 0.3 * (base[i] - 8) + errors[k]
            rows.append((f"S{i}", visit, change, active[i], base[i]))
    return pd.DataFrame(rows, columns=["USUBJID", "AVISITN", "CHG", "ACTIVE", "BASE"])


@functools.cache
def _data(dataset: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / f"mmrm_{dataset}.csv")


@functools.cache
def _reference(dataset: str) -> pd.DataFrame:
    table = pd.read_csv(REFERENCE / f"mmrm_{dataset}.csv", dtype=str, keep_default_na=False)
    table = table[table["covariance"] != ""].copy()  # the last rows name the R and package versions
    table["value"] = table["value"].astype(float)
    return table


@functools.cache
def _fit(dataset: str, covariance: str, ddfm: str = "satterthwaite", information: str = "observed"):
    return fit_mmrm(_data(dataset), covariance=COVARIANCES[covariance], ddfm=ddfm, information=information)


def _ours(fit, row) -> tuple[float, float]:
    """Our value of one reference row, and the scale its tolerance is relative to."""
    if row.group == "model":
        if row.stat.startswith("cov_"):
            a, b = (fit.visits.index(int(v)) for v in row.stat.split("_")[1:])
            return fit.sigma[a, b], math.sqrt(fit.sigma[a, a] * fit.sigma[b, b])
        value = {"m2rll": fit.minus_two_rll, "aic": fit.aic, "n_obs": fit.n_obs,
                 "n_subjects": fit.n_subjects}[row.stat]
        return value, abs(row.value)
    k = fit.visits.index(int(row.visit))
    out = fit.contrast(k) if row.group == "contrast" else fit.lsmean(k, row.group == "active")
    value = out["lsmean" if row.stat == "lsmean" else {"t": "statistic"}.get(row.stat, row.stat)]
    return value, max(abs(row.value), out["se"]) if row.stat in LOCATIONS else abs(row.value)


def _compare(fit, rows: pd.DataFrame, tolerance: float | None = None) -> None:
    """Every row within its tolerance; the message lists each statistic's largest relative difference."""
    worst: dict[str, float] = {}
    failed = []
    for row in rows.itertuples():
        if row.stat == "max_score":
            continue
        ours, scale = _ours(fit, row)
        stat = "cov" if row.stat.startswith("cov_") else row.stat
        difference = abs(ours - row.value) / scale if scale else abs(ours - row.value)
        worst[stat] = max(worst.get(stat, 0.0), difference)
        if difference > (TOLERANCE[stat] if tolerance is None else tolerance):
            failed.append(f"{row.stat} {row.visit} {row.group} ({row.source}): {ours!r} vs R {row.value!r}")
    assert len(rows) and not failed, (failed, worst)


def _rows(dataset: str, covariance: str, *methods: str) -> pd.DataFrame:
    table = _reference(dataset)
    return table[(table["covariance"] == covariance) & table["method"].isin(methods)]


@pytest.mark.parametrize("dataset,covariance", CASES)
def test_estimates_lsmeans_covariance_and_likelihood_match_nlme_and_emmeans(dataset, covariance):
    _compare(_fit(dataset, covariance), _rows(dataset, covariance, "model"))


@pytest.mark.parametrize("dataset,covariance", CASES)
def test_satterthwaite_df_ci_and_p_match_r(dataset, covariance):
    # UN and CS: numDeriv derivatives of the REML criterion in R; CS also lmerTest on the random-intercept lmer fit
    _compare(_fit(dataset, covariance), _rows(dataset, covariance, "satterthwaite", "satterthwaite-lmertest"))


@pytest.mark.parametrize("dataset,covariance", CASES)
def test_kenward_roger_with_observed_information_matches_r(dataset, covariance):
    _compare(_fit(dataset, covariance, "kenward-roger"), _rows(dataset, covariance, "kenward-roger"))


@pytest.mark.parametrize("dataset,covariance", CASES)
def test_kenward_roger_with_expected_information_matches_pbkrtest(dataset, covariance):
    # pbkrtest's own vcovAdj on the gls estimate (UN and CS) and on lmer (CS): it takes W from the expected information
    fit = _fit(dataset, covariance, "kenward-roger", "expected")
    _compare(fit, _rows(dataset, covariance, "kenward-roger-expected", "kenward-roger-lmer"))


@pytest.mark.parametrize("dataset", DATASETS)
def test_compound_symmetry_is_lmers_random_intercept_model(dataset):
    _compare(_fit(dataset, "CS"), _rows(dataset, "CS", "lmer"))  # fixed effects, LS means and lme4's REMLcrit


@pytest.mark.parametrize("dataset,covariance", CASES)
def test_gls_and_emmeans_as_they_stop_agree_within_their_convergence(dataset, covariance):
    _compare(_fit(dataset, covariance), _rows(dataset, covariance, "gls"), GLS_TOLERANCE)


@pytest.mark.parametrize("ddfm", ["satterthwaite", "kenward-roger"])
def test_complete_unstructured_data_give_the_exact_per_visit_ancova(ddfm):
    # GLS with identical regressors at every visit is OLS visit by visit; both Satterthwaite and Kenward-Roger give
    # the exact df n - 3, and KR's adjustment vanishes: R's lm per visit, and statsmodels OLS on another data set.
    _compare(_fit("complete", "UN", ddfm), _rows("complete", "UN", "ancova"))
    data = _trial(0)
    fit = fit_mmrm(data, ddfm=ddfm)
    assert fit.converged
    for k, visit in enumerate(VISITS):
        ols = smf.ols("CHG ~ ACTIVE + BASE", data[data["AVISITN"] == visit]).fit()
        contrast = fit.contrast(k)
        assert contrast["estimate"] == pytest.approx(ols.params["ACTIVE"], rel=1e-10)
        assert contrast["se"] == pytest.approx(ols.bse["ACTIVE"], rel=1e-8)
        assert contrast["df"] == pytest.approx(ols.df_resid, rel=1e-8)
        assert contrast["p"] == pytest.approx(ols.pvalues["ACTIVE"], rel=1e-6)


def test_lsmeans_are_at_the_mean_baseline_over_the_analysis_records():
    # With dropout that depends on baseline, the records' mean baseline is not the subjects' mean: emmeans (compared
    # above) and SAS take the records'; ``base=`` evaluates elsewhere, here at the subjects' mean.
    data = _data("dropout")
    fit = _fit("dropout", "UN")
    assert fit.mean_base == pytest.approx(data["BASE"].mean(), rel=1e-15)
    per_subject = data.drop_duplicates("USUBJID")["BASE"].mean()
    assert abs(per_subject - fit.mean_base) > 0.1
    emmeans = _rows("dropout", "UN", "model").query("stat == 'lsmean' and visit == '48' and group == 'active'")
    assert fit.lsmean(3, True)["lsmean"] == pytest.approx(emmeans["value"].item(), rel=1e-6)
    slope = fit.beta[fit._index("base", 3)]
    moved = fit.lsmean(3, True, base=per_subject)["lsmean"] - emmeans["value"].item()
    assert moved == pytest.approx(slope * (per_subject - fit.mean_base), rel=1e-6) and abs(moved) > 0.05


@pytest.mark.parametrize("dataset,covariance", CASES)
def test_reml_converges_below_the_score_tolerance_and_no_worse_than_gls(dataset, covariance):
    fit = _fit(dataset, covariance)
    assert fit.converged and fit.max_score <= SCORE_TOLERANCE and fit.message == ""
    assert np.all(np.linalg.eigvalsh(fit.hessian) > 0)
    r = _rows(dataset, covariance, "model", "gls").set_index(["method", "stat"])["value"]
    assert fit.minus_two_rll <= r[("gls", "m2rll")] + 1e-9  # gls stops short of the optimum
    assert r[("model", "max_score")] < 1e-11 and r[("gls", "max_score")] < 1e-6  # how close R's values are


def test_between_within_df_is_subjects_minus_3_with_model_based_se():
    fit = _fit("dropout", "UN", "between-within")
    satterthwaite = _rows("dropout", "UN", "satterthwaite").query(
        "stat == 'se' and visit == '20' and group == 'contrast'")
    contrast = fit.contrast(2)
    assert contrast["df"] == 80 - 3 and contrast["se"] == pytest.approx(satterthwaite["value"].item(), rel=1e-6)
    half = sps.t.ppf(0.975, 77) * contrast["se"]
    assert contrast["ucl"] - contrast["lcl"] == pytest.approx(2 * half, rel=1e-12)


def test_missing_visits_use_the_correlation_and_recover_the_truth():
    data = _trial(1, n=400)
    rng = np.random.default_rng(2)
    dropped = data[(data["AVISITN"] == 48) & (rng.random(len(data)) < 0.3)].index
    fit = fit_mmrm(data.drop(dropped))
    assert fit.converged
    assert np.allclose(fit.sigma, SIGMA, atol=0.25)
    assert abs(fit.contrast(2)["estimate"] - (-1.5)) < 3 * fit.contrast(2)["se"]


# --- the ARD rows ---------------------------------------------------------------------

ACTIVE, CONTROL = "UC-MSC", "Placebo"


def _mmrm_ard(adsl: pd.DataFrame, bds: pd.DataFrame, visits: list[int], options: dict) -> pd.DataFrame:
    """analyze.mmrm on hand-made data; GROUP (arm, 'A vs B' or 'model') added here only to index the rows in tests."""
    from ucmsc import ard as ardlib
    from ucmsc.plan import Analysis, load_trial

    config = {"arms": [{"arm": ACTIVE, "armcd": "A", "role": "active"},
                       {"arm": CONTROL, "armcd": "C", "role": "control"}],
              "visits": [{"visitnum": v, "avisit": f"Week {v}", "day": 7 * v, "window": 3} for v in visits]}
    ctx = analyze.Context(load_trial(config), adsl, bds, pd.DataFrame(), ardlib.Builder("T", "C", "test"))
    analyze.mmrm(ctx, Analysis("MMRM", "mmrm", "FASFL", ("X",), options=options))
    ard = ctx.ard.frame()
    group = np.where(ard["COMPARATOR"] == "", ard["GROUP1_LEVEL"], ard["GROUP1_LEVEL"] + " vs " + ard["COMPARATOR"])
    return ard.assign(GROUP=np.where(ard["AVISITN"].isna(), "model", group))


def mmrm_note(ard: pd.DataFrame) -> str:
    """The footnotes of the MMRM table the default TLF file's shell renders from these ARD rows."""
    from conftest import ROOT
    from ucmsc import tlf
    from ucmsc.plan import load_trial

    trial = load_trial({"arms": [{"arm": ACTIVE, "armcd": "A", "role": "active"},
                                 {"arm": CONTROL, "armcd": "C", "role": "control"}],
                        "visits": [{"visitnum": v, "avisit": f"Week {v}", "day": 7 * v, "window": 3} for v in VISITS],
                        "analyses": [{"id": "MMRM", "method": "mmrm", "population": "FASFL", "parameters": ["X"]}]})
    shells = [s for s in tlf.load(ROOT / "config" / "tlf" / "default.yaml") if s["id"] == "mmrm"]
    (output,) = tlf.render_outputs(ard, trial, shells)
    assert output.rows and output.header[-1] == "P"
    return " ".join(output.footnotes)


def _ard(dataset: str, covariance: str, ddfm: str) -> pd.DataFrame:
    data = _data(dataset)
    bds = data.assign(PARAMCD="X", PARAM="Parameter X", AVISIT="Week " + data["AVISITN"].astype(str))
    adsl = pd.DataFrame({"USUBJID": data["USUBJID"].unique(), "FASFL": "Y"})
    visits = [0] + sorted(data["AVISITN"].unique())
    return _mmrm_ard(adsl, bds, visits, {"covariance": covariance, "ddfm": ddfm})


@pytest.mark.parametrize("covariance,ddfm,method", [("UN", "kenward-roger", "kenward-roger"),
                                                    ("CS", "satterthwaite", "satterthwaite")])
def test_ard_rows_hold_the_r_values_the_options_and_the_model(covariance, ddfm, method):
    ard = _ard("dropout", COVARIANCES[covariance], ddfm)
    sas = {"kenward-roger": "DDFM=KR", "satterthwaite": "DDFM=SATTERTHWAITE"}[ddfm]
    assert set(ard["METHOD"]) == {f"MMRM (REML; TYPE={covariance}; {sas})"}
    assert (ard["WARNING"] == "").all() and (ard["ERROR"] == "").all()
    name = {"kenward-roger": "Kenward-Roger", "satterthwaite": "Satterthwaite"}[ddfm]
    assert set(ard.loc[ard["STAT_NAME"] == "df", "STAT_LABEL"]) == {f"Degrees of freedom ({name})"}
    assert set(ard.loc[ard["STAT_NAME"] == "lcl", "STAT_LABEL"]) == {f"95% CI lower (t, {name} df)"}
    groups = {"active": ACTIVE, "control": CONTROL, "contrast": f"{ACTIVE} vs {CONTROL}"}
    reference = _rows("dropout", covariance, method, "model")
    model_se = (reference["method"] == "model") & (reference["stat"] == "se")  # the method's own SE is compared
    reference = reference[(reference["group"] != "model") & ~model_se]
    values = ard.set_index(["AVISITN", "GROUP", "STAT_NAME"])["VALUE"]
    for row in reference.itertuples():
        stat = {"t": "statistic"}.get(row.stat, row.stat)
        se = values[(int(row.visit), groups[row.group], "se")]
        scale = max(abs(row.value), se) if row.stat in LOCATIONS else abs(row.value)
        assert abs(values[(int(row.visit), groups[row.group], stat)] - row.value) <= TOLERANCE[row.stat] * scale, row

    model = ard[ard["GROUP"] == "model"].set_index("STAT_NAME")
    assert model["AVISITN"].isna().all() and (model["AVISIT"] == "").all()
    assert model.loc["type", "VALUE"] == {"UN": 1, "CS": 2}[covariance]
    assert model.loc["type", "STAT_LABEL"] == (
        "Covariance structure TYPE= (1 = UN unstructured, 2 = CS compound symmetry)")
    assert model.loc["ddfm", "VALUE"] == {"satterthwaite": 1, "kenward-roger": 2}[ddfm]
    assert model.loc["ddfm", "STAT_LABEL"].startswith("Degrees of freedom DDFM= (1 = SATTERTHWAITE, 2 = KR")
    assert model.loc["cov_9_20", "STAT_LABEL"] == "Covariance, Week 9 x Week 20"
    r = _rows("dropout", covariance, "model").set_index("stat")["value"]
    for stat in ("m2rll", "aic", "n_obs", "n_subjects", "cov_4_4", "cov_9_20", "cov_4_48", "cov_48_48"):
        assert model.loc[stat, "VALUE"] == pytest.approx(r[stat], rel=1e-6, abs=1e-6), stat
    assert model.loc["n_cov_params", "VALUE"] == {"UN": 10, "CS": 2}[covariance]
    assert model.loc["converged", "VALUE"] == 1 and model.loc["max_score", "VALUE"] <= SCORE_TOLERANCE
    assert model.loc["iterations", "VALUE"] >= 1 and model.loc["newton_iterations", "VALUE"] >= 0
    assert mmrm_note(ard).startswith(f"Model: MMRM (REML; TYPE={covariance}; {sas}). LS means at the mean baseline")


def test_between_within_in_the_ard():
    ard = _ard("complete", "unstructured", "between-within")
    assert set(ard["METHOD"]) == {"MMRM (REML; TYPE=UN; DDF=subjects-3)"}
    df = ard[ard["STAT_NAME"] == "df"]
    assert (df["VALUE"] == 57).all() and set(df["STAT_LABEL"]) == {"Degrees of freedom (between-within: subjects - 3)"}
    assert ard.loc[ard["STAT_NAME"] == "ddfm", "VALUE"].item() == 3
    assert mmrm_note(ard).startswith("Model: MMRM (REML; TYPE=UN; DDF=subjects-3).")


def test_unstructured_covariance_with_too_few_subjects_at_a_visit_is_not_estimable():
    # 4 subjects at week 48: given weeks 9 and 20 their week-48 values are fitted exactly, so the unstructured REML
    # likelihood grows without bound towards a singular covariance; compound symmetry is still estimable.
    rng = np.random.default_rng(5)
    n = 30
    base, errors = rng.normal(8, 2, n), rng.multivariate_normal(np.zeros(3), SIGMA, n)
    data = pd.DataFrame({"USUBJID": np.repeat([f"S{i:02d}" for i in range(n)], 3), "AVISITN": np.tile(VISITS, n),
                         "ARM": np.repeat(np.where(np.arange(n) % 2, ACTIVE, CONTROL), 3), "BASE": np.repeat(base, 3),
                         "CHG": errors.ravel(), "PARAMCD": "X", "PARAM": "Parameter X"})
    data = data[(data["AVISITN"] < 48) | data["USUBJID"].isin(["S00", "S01", "S02", "S03"])]
    data["AVISIT"] = "Week " + data["AVISITN"].astype(str)
    fit = fit_mmrm(data.assign(ACTIVE=(data["ARM"] == ACTIVE).astype(float)))
    assert not fit.converged and fit.message.startswith("the estimated covariance matrix is singular")
    adsl = pd.DataFrame({"USUBJID": data["USUBJID"].unique(), "FASFL": "Y"})
    for covariance, estimable in (("unstructured", False), ("compound-symmetry", True)):
        frame = _mmrm_ard(adsl, data, [0] + VISITS, {"covariance": covariance})
        estimate = frame.set_index(["AVISITN", "GROUP", "STAT_NAME"]).loc[(48, f"{ACTIVE} vs {CONTROL}", "estimate")]
        assert math.isnan(estimate["VALUE"]) != estimable
        if not estimable:
            assert estimate["WARNING"].startswith(
                "not estimable: REML did not converge (the estimated covariance matrix is singular")
            model = frame.query("GROUP == 'model'").set_index("STAT_NAME")
            assert model.loc["converged", "VALUE"] == 0 and math.isnan(model.loc["m2rll", "VALUE"])
