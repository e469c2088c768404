"""Closed-form statistics against R (tests/r/closedform.R on the data of tests/r/make_data_closedform.py, committed as
tests/reference/closedform_*.csv) and against published tables.

Closed forms agree with R to 1e-10 relative. The Miettinen-Nurminen limits and the conditional odds ratio come from
root finders: both sides solve to an absolute 1e-14 (on the difference; on log(odds ratio)), compared at 1e-10
relative or 1e-12 absolute. R's own fisher.test solves with uniroot's default tolerance (about 1e-4), so its printed
odds ratio and limits are compared at 1 % (the largest difference measured is 0.82 %, an upper limit). Published
values (Newcombe 1998, Table II; R's documented output for the sleep data) are compared at their printed precision.
"""

import math

import jsonschema
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from conftest import FINAL_CUTS, ROOT, run_pipeline
from ucmsc import figures, report, stats
from ucmsc.config import load_yaml

REFERENCE = ROOT / "tests" / "reference"
DATA = REFERENCE / "data"
SIGNED = pd.read_csv(REFERENCE / "closedform_signed_rank.csv")
TWO = pd.read_csv(REFERENCE / "closedform_two_sample.csv")
TABLES = pd.read_csv(REFERENCE / "closedform_tables.csv")
REL = 1e-10
ROOT_ABS = 1e-12


def _by_name(rows, column="VALUE"):
    return {r["STAT_NAME"]: r[column] for r in rows}


def _counts(row) -> tuple[int, int, int, int]:
    return int(row["r1"]), int(row["n1"]), int(row["r2"]), int(row["n2"])


def _table_ids():
    return list(TABLES["table"])


def _table(name):
    return TABLES.set_index("table").loc[name].to_dict()


# --- Wilcoxon signed-rank -------------------------------------------------------------

@pytest.mark.parametrize("sample", list(SIGNED["sample"]))
def test_signed_rank_v_and_p_match_r(sample):
    data = pd.read_csv(DATA / "closedform_signed_rank.csv")
    r = SIGNED.set_index("sample").loc[sample]
    rows = stats.wilcoxon_signed_rank(data.loc[data["sample"] == sample, "value"])
    got = _by_name(rows)
    assert got["V"] == r["V"]  # a sum of mid-ranks: exact
    assert got["p"] == pytest.approx(r["p"], rel=REL)
    assert rows[0]["STAT_LABEL"] == "V (sum of positive ranks), as R wilcox.test"


def test_signed_rank_p_is_r_default_except_where_r_is_exact():
    # R's wilcox.test(x) with its defaults is exact for n < 50 without ties or zeros; ours is always the normal
    # approximation with continuity correction, as wilcox.test(x, exact = FALSE, correct = TRUE).
    approximate = SIGNED[SIGNED["default_exact"] == 0]
    assert (approximate["p"] == approximate["p_default"]).all() and len(approximate) >= 4
    exact = SIGNED[(SIGNED["default_exact"] == 1) & (SIGNED["n_nonzero"] > 2)].set_index("sample")
    assert exact.loc["no_ties_small", "p"] == pytest.approx(0.030984, abs=5e-7)
    assert exact.loc["no_ties_small", "p_default"] == pytest.approx(0.026855, abs=5e-7)  # 1 - exact P, the gap


# --- Student and Welch t-tests, Mann-Whitney ------------------------------------------

@pytest.mark.parametrize("sample", list(dict.fromkeys(TWO["sample"])))
@pytest.mark.parametrize("method", ["student", "welch"])
def test_two_sample_t_matches_r(sample, method):
    data = pd.read_csv(DATA / "closedform_two_sample.csv")
    x, y = (data.loc[(data["sample"] == sample) & (data["group"] == g), "value"] for g in ("x", "y"))
    r = TWO[(TWO["sample"] == sample) & (TWO["method"] == method)].iloc[0]
    got = _by_name(stats.ttest(x, y, method))
    for name, column in (("estimate", "estimate"), ("lcl", "lcl"), ("ucl", "ucl"), ("statistic", "t"),
                         ("df", "df"), ("p", "p")):
        assert got[name] == pytest.approx(r[column], rel=REL), name
    assert got["var_equal"] == (1 if method == "student" else 0)


@pytest.mark.parametrize("sample", list(dict.fromkeys(TWO["sample"])))
def test_mann_whitney_matches_r(sample):
    data = pd.read_csv(DATA / "closedform_two_sample.csv")
    x, y = (data.loc[(data["sample"] == sample) & (data["group"] == g), "value"] for g in ("x", "y"))
    r = TWO[(TWO["sample"] == sample) & (TWO["method"] == "mann_whitney")].iloc[0]
    got = _by_name(stats.mann_whitney(x, y))
    assert got["statistic"] == r["t"] and got["p"] == pytest.approx(r["p"], rel=REL)  # R's W is U of x


def test_welch_on_the_sleep_data_as_r_documents_it():
    # R's documented output of t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776, p-value = 0.07939,
    # 95 percent confidence interval: -3.3654832 0.2054832
    got = _by_name(stats.ttest_welch([0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0],
                                     [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]))
    assert got["statistic"] == pytest.approx(-1.8608, abs=5e-5) and got["df"] == pytest.approx(17.776, abs=5e-4)
    assert got["p"] == pytest.approx(0.07939, abs=5e-6)
    assert got["lcl"] == pytest.approx(-3.3654832, abs=5e-8) and got["ucl"] == pytest.approx(0.2054832, abs=5e-8)


def test_welch_rows_say_what_was_computed():
    rows = stats.ttest_welch([1.0, 2.0, 4.0], [3.0, 9.0, 2.0, 7.0])
    labels = {r["STAT_NAME"]: r["STAT_LABEL"] for r in rows}
    assert _by_name(rows)["var_equal"] == 0 and labels["df"] == "Degrees of freedom (Welch-Satterthwaite)"
    too_few = stats.ttest_welch([1.0], [3.0, 9.0], groups=("A", "B"))
    assert _by_name(too_few)["var_equal"] == 0 and math.isnan(_by_name(too_few)["p"])


# --- differences in proportions -------------------------------------------------------

# Newcombe RG (1998) Stat Med 17:873-890, Table II: 95% limits of p1 - p2 by method 10 (hybrid score, Wilson without
# continuity correction) and method 6 (Miettinen-Nurminen), printed to 4 decimals. The paper itself could not be
# read here: the values are as reproduced identically by the ratesci R package's tests (example d), the WUSS 2016
# paper on SAS RISKDIFF (examples a, b, g) and several public test suites (all eight examples).
TABLE_II = {  # example: (newcombe lower, upper, miettinen-nurminen lower, upper)
    "newcombe_a": (0.0524, 0.3339, 0.0528, 0.3382), "newcombe_b": (0.1705, 0.8090, 0.1700, 0.8406),
    "newcombe_c": (0.0582, 0.8062, 0.0342, 0.8534), "newcombe_d": (-0.0381, 0.1926, -0.0326, 0.1933),
    "newcombe_e": (-0.1611, 0.2775, -0.1658, 0.2844), "newcombe_f": (-0.2775, 0.2775, -0.2879, 0.2879),
    "newcombe_g": (0.6791, 1.0000, 0.7156, 1.0000), "newcombe_h": (0.6075, 1.0000, 0.6636, 1.0000),
}


@pytest.mark.parametrize("example", sorted(TABLE_II))
def test_newcombe_and_miettinen_nurminen_reproduce_newcombe_table_ii(example):
    counts = _counts(_table(example))
    newcombe, mn = stats.newcombe_interval(*counts), stats.miettinen_nurminen_interval(*counts)
    published = TABLE_II[example]
    assert [round(v, 4) for v in newcombe] == pytest.approx(published[:2], abs=1e-12)
    assert [round(v, 4) for v in mn] == pytest.approx(published[2:], abs=1e-12)


@pytest.mark.parametrize("table", _table_ids())
def test_proportion_cis_match_r(table):
    r = _table(table)
    counts = _counts(r)
    z = stats.sps.norm.ppf(0.975)
    for arm, (x, n) in enumerate(((counts[0], counts[1]), (counts[2], counts[3])), start=1):  # R prop.test's Wilson
        assert stats.wilson_interval(x, n, z) == pytest.approx((r[f"wilson{arm}_l"], r[f"wilson{arm}_u"]), rel=REL,
                                                               abs=ROOT_ABS)
    for ci, prefix in (("newcombe", "newcombe"), ("miettinen-nurminen", "mn")):
        got = _by_name(stats.compare_proportions(*counts, ci=ci))
        assert got["lcl"] == pytest.approx(r[f"{prefix}_lcl"], rel=REL, abs=ROOT_ABS)
        assert got["ucl"] == pytest.approx(r[f"{prefix}_ucl"], rel=REL, abs=ROOT_ABS)
        assert got["estimate"] == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3], rel=REL)
    wald = stats.compare_proportions(*counts, ci="wald")
    if 0 < counts[0] < counts[1] and 0 < counts[2] < counts[3]:
        assert _by_name(wald)["lcl"] == pytest.approx(r["wald_lcl"], rel=REL)
        assert _by_name(wald)["ucl"] == pytest.approx(r["wald_ucl"], rel=REL)
    else:  # R's formula gives a degenerate or one-arm interval; ours says why it gives none
        assert math.isnan(_by_name(wald)["lcl"]) and "Wald CI needs each proportion" in _by_name(wald, "WARNING")["lcl"]


def test_score_intervals_hold_the_estimate_and_swap_with_the_arms():
    # Every table with n1 in (1, 2, 5, 10) and n2 in (1, 3, 10): -1 <= L <= d <= U <= 1, and swapping the arms gives
    # (-U, -L) (both intervals are defined at 0/n and n/n, unlike Wald).
    for n1, n2 in ((a, b) for a in (1, 2, 5, 10) for b in (1, 3, 10)):
        for r1, r2 in ((x, y) for x in range(n1 + 1) for y in range(n2 + 1)):
            d = r1 / n1 - r2 / n2
            for interval in (stats.newcombe_interval, stats.miettinen_nurminen_interval):
                low, high = interval(r1, n1, r2, n2)
                swapped = interval(r2, n2, r1, n1)
                assert -1 <= low <= d <= high <= 1, (interval.__name__, r1, n1, r2, n2)
                assert swapped == pytest.approx((-high, -low), abs=1e-12), (interval.__name__, r1, n1, r2, n2)


@pytest.mark.parametrize("ci, number, name", [("newcombe", 1, "Newcombe hybrid score"),
                                              ("miettinen-nurminen", 2, "Miettinen-Nurminen score"),
                                              ("wald", 3, "Wald")])
def test_the_ci_rows_name_their_method(ci, number, name):
    rows = stats.compare_proportions(20, 33, 9, 32, ci=ci)
    labels = {r["STAT_NAME"]: r["STAT_LABEL"] for r in rows}
    assert labels["lcl"] == f"95% CI lower ({name})" and labels["ucl"] == f"95% CI upper ({name})"
    assert _by_name(rows)["ci_method"] == number
    assert labels["ci_method"] == ("CI of the difference (1 = Newcombe hybrid score, 2 = Miettinen-Nurminen score, "
                                   "3 = Wald)")
    with pytest.raises(ValueError, match="unknown proportion CI"):
        stats.compare_proportions(20, 33, 9, 32, ci="exact")


def test_pyrexia_4_of_24_vs_0_of_10_is_no_longer_significant():
    # The review's finding: Wald gave 16.7 % (1.8, 31.6) beside Fisher P = 0.296. Newcombe's interval (R values)
    # includes 0; the Wald interval is not estimable with 0/10 (variance estimate 0).
    r = _table("safety_AE_Pyrexia")
    rows = stats.compare_proportions(4, 24, 0, 10, groups=("hUC-MSC", "Placebo"))
    got, warnings = _by_name(rows), _by_name(rows, "WARNING")
    assert got["lcl"] == pytest.approx(r["newcombe_lcl"], rel=REL)
    assert got["ucl"] == pytest.approx(r["newcombe_ucl"], rel=REL)
    assert got["lcl"] < 0 < got["ucl"] and f"{100 * got['lcl']:.1f}, {100 * got['ucl']:.1f}" == "-12.8, 35.9"
    assert got["fisher_p"] == pytest.approx(r["fisher_p"], rel=REL) and f"{got['fisher_p']:.3f}" == "0.296"
    assert math.isnan(got["or"]) and math.isnan(got["or_ucl"]) and got["or_lcl"] == pytest.approx(r["or_lcl"], rel=REL)
    assert warnings["or_ucl"] == "not finite: upper bound infinite (a zero cell: hUC-MSC 4/24, Placebo 0/10)"
    assert warnings["or"] == "not finite: odds ratio infinite (a zero cell: hUC-MSC 4/24, Placebo 0/10)"
    wald = _by_name(stats.compare_proportions(4, 24, 0, 10, groups=("hUC-MSC", "Placebo"), ci="wald"), "WARNING")
    assert wald["lcl"].startswith("not estimable: the Wald CI needs each proportion strictly between 0 and 1 "
                                  "(Placebo 0/10 has a variance estimate of 0)")


# --- Fisher's conditional odds ratio ----------------------------------------------------

@pytest.mark.parametrize("table", _table_ids())
def test_conditional_odds_ratio_matches_r(table):
    r = _table(table)
    rows = stats.compare_proportions(*_counts(r))
    got, warnings = _by_name(rows), _by_name(rows, "WARNING")
    assert got["fisher_p"] == pytest.approx(r["fisher_p"], rel=REL)
    if pd.isna(r["or"]):  # one outcome only: R's fisher.test says 0 (0, Inf); the likelihood is flat, ours is NaN
        assert r["or_fisher_test"] == 0 and r["or_ucl_fisher_test"] == math.inf
        assert all(math.isnan(got[s]) for s in ("or", "or_lcl", "or_ucl"))
        assert warnings["or"].endswith("so the conditional likelihood of the odds ratio is flat")
        return
    for name in ("or", "or_lcl", "or_ucl"):
        if r[name] == math.inf:  # R: Inf; the ARD: NaN with the reason
            assert math.isnan(got[name]) and warnings[name].startswith("not finite: ")
            assert "infinite (a zero cell" in warnings[name]
            continue
        assert got[name] == pytest.approx(r[name], rel=REL, abs=ROOT_ABS), name
        assert got[name] == pytest.approx(r[f"{name}_fisher_test"], rel=1e-2), name  # R's uniroot tolerance
        assert warnings[name] == ""


def test_r_fisher_test_limits_are_only_as_close_as_its_root_finder():
    # The lady tasting tea, two-sided: fisher.test prints 0.2117329 and 621.9338; P(X <= 3; psi) = 0.025 holds at
    # 626.2435 (scipy's independent non-central hypergeometric), which is what we report.
    from scipy.stats import nchypergeom_fisher

    r = _table("tea")
    got = _by_name(stats.compare_proportions(3, 4, 1, 4))
    assert r["or_ucl_fisher_test"] == pytest.approx(621.93375, rel=1e-8)
    assert nchypergeom_fisher.cdf(3, 8, 4, 4, got["or_ucl"]) == pytest.approx(0.025, rel=1e-12)
    assert nchypergeom_fisher.cdf(3, 8, 4, 4, r["or_ucl_fisher_test"]) > 0.0251
    assert got["or"] == pytest.approx(r["or"], rel=REL) and got["or"] == pytest.approx(6.408309, rel=2e-6)


# --- plan options, report and figure ----------------------------------------------------

def _with_options(trial: dict, options: dict) -> dict:
    """The trial with ``options`` set on every analysis whose method takes them."""
    from ucmsc.plan import METHODS

    analyses = [a | {"options": a.get("options", {}) | {k: v for k, v in options.items()
                                                        if k in METHODS[a["method"]]["options"]}}
                for a in trial["analyses"]]
    return trial | {"analyses": analyses}


def test_schema_takes_the_plan_options():
    schema = load_yaml(ROOT / "workflow" / "schemas" / "trial.schema.yaml")
    trial = load_yaml(ROOT / "config" / "trials" / "t2dm_safety.yaml")
    for option, value in (("ttest", "welch"), ("ttest", "student"), ("proportion_ci", "miettinen-nurminen"),
                          ("proportion_ci", "wald"), ("proportion_ci", "newcombe")):
        jsonschema.validate(_with_options(trial, {option: value}), schema)
    for option, value in (("ttest", "satterthwaite"), ("proportion_ci", "exact")):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(_with_options(trial, {option: value}), schema)


@pytest.fixture(scope="module")
def welch_mn_safety(trial_configs):
    trial = "t2dm_safety"
    config = _with_options(trial_configs[trial], {"ttest": "welch", "proportion_ci": "miettinen-nurminen"})
    return config, run_pipeline(trial, FINAL_CUTS[trial], config)["ard"]


def test_plan_options_reach_the_ard_report_and_figure(welch_mn_safety):
    config, ard = welch_mn_safety
    between = ard[(ard["ANALYSIS_ID"] == "CONT") & (ard["COMPARATOR"] != "")]
    assert "Student t-test" not in set(between["METHOD"]) and (between["METHOD"] == "Welch t-test").any()
    assert (between.loc[between["STAT_NAME"] == "var_equal", "VALUE"] == 0).all()
    pyrexia = ard[(ard["ANALYSIS_ID"] == "AE") & (ard["PARAMCD"] == "Pyrexia") & (ard["COMPARATOR"] != "")]
    values = pyrexia.set_index("STAT_NAME")["VALUE"]
    r = _table("safety_AE_Pyrexia")
    assert values["ci_method"] == 2 and values["lcl"] == pytest.approx(r["mn_lcl"], rel=REL)
    assert pyrexia.set_index("STAT_NAME").loc["lcl", "STAT_LABEL"] == "95% CI lower (Miettinen-Nurminen score)"
    tables = report.build_tables(ard, config)
    labs = next(t for t in tables if t.number == "Table 14.3.4.1")  # lymphocytes, a mean (SD) parameter
    assert [row.label for row in labs.rows if row.cells[-1]][:2] == ["Mean (SD)", "Mean (SD)"]
    assert "and P, by Welch t-test (the plan's summary rule" in labs.footnotes[0]
    ae = next(t for t in tables if t.title.endswith("by preferred term: comparison between arms"))
    notes = " ".join(ae.footnotes)
    assert "Risk difference in percentage points: Miettinen-Nurminen score 95% CI" in notes and "Wald" not in notes
    fig, used = figures.ae_figure(ard, ["hUC-MSC", "Placebo"])
    try:
        assert "Miettinen-Nurminen score" in fig.axes[1].get_xlabel() and (used["STAT_NAME"] == "lcl").any()
    finally:
        plt.close(fig)
