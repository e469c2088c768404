"""Statistics against closed forms computed independently of the code under test."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from ucmsc import stats


def _by_name(rows):
    return {r["STAT_NAME"]: r["VALUE"] for r in rows}


def test_student_t_matches_the_textbook_formula():
    x = [5.1, 6.3, 7.2, 5.8, 6.6]
    y = [4.2, 5.0, 4.8, 5.5]
    got = _by_name(stats.ttest_student(x, y))
    # pooled SD by hand: s_p^2 = ((n1-1)s1^2 + (n2-1)s2^2)/(n1+n2-2)
    s1, s2 = np.var(x, ddof=1), np.var(y, ddof=1)
    sp2 = (4 * s1 + 3 * s2) / 7
    t = (np.mean(x) - np.mean(y)) / math.sqrt(sp2 * (1 / 5 + 1 / 4))
    assert math.isclose(got["statistic"], t, rel_tol=1e-12)
    assert math.isclose(got["p"], 2 * sps.t.sf(abs(t), 7), rel_tol=1e-10)
    assert got["df"] == 7 and got["var_equal"] == 1


def test_published_glucose_week20_p_from_summary_statistics():
    """The audit's recomputation from a publication's summaries gives the P the publication prints."""
    from ucmsc.audit import summaries_p

    # Zhao 2024: 7.51 ± 1.77 vs 9.10 ± 2.78, P = 0.008 (n 33 vs 31: one placebo subject withdrew after week 9)
    p = summaries_p({"test": "student_t", "mean1": 7.51, "sd1": 1.77, "n1": 33, "mean2": 9.10, "sd2": 2.78, "n2": 31})
    assert f"{p:.3f}" == "0.008"


def test_pearson_chi_square_without_correction_by_hand():
    # HbA1c < 7 % at week 9: 20/33 vs 9/32; chi2 = N(ad - bc)^2 / (r1 r2 c1 c2)
    a, b, c, d = 20, 13, 9, 23
    n = a + b + c + d
    chi2 = n * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    got = _by_name(stats.compare_proportions(20, 33, 9, 32))
    assert math.isclose(got["statistic"], chi2, rel_tol=1e-12)
    assert math.isclose(got["p"], math.erfc(math.sqrt(chi2 / 2)), rel_tol=1e-10)  # chi2(1) tail = erfc(sqrt(x/2))
    assert got["correction"] == 0
    assert f"{got['p']:.3f}" == "0.008"


def test_fisher_is_flagged_when_an_expected_count_is_below_five():
    got = _by_name(stats.compare_proportions(4, 24, 0, 10))
    assert got["test_used"] == 2
    # Fisher's two-sided P by hand: tables with the margins of [[4, 20], [0, 10]] (4 events among 34, 24 in row 1),
    # hypergeometric P(X = k) = C(24, k) C(10, 4 - k) / C(34, 4); sum those no more likely than the observed k = 4
    probability = {k: math.comb(24, k) * math.comb(10, 4 - k) / math.comb(34, 4) for k in range(5)}
    by_hand = sum(q for q in probability.values() if q <= probability[4] * (1 + 1e-7))
    assert math.isclose(got["fisher_p"], by_hand, rel_tol=1e-12)
    assert f"{got['fisher_p']:.3f}" == "0.296"  # as R fisher.test prints for this table


def test_describe_quartiles_and_se():
    got = _by_name(stats.describe([1, 2, 3, 4, 100]))
    assert got["n"] == 5 and got["median"] == 3 and got["q1"] == 2 and got["q3"] == 4
    assert math.isclose(got["se"], np.std([1, 2, 3, 4, 100], ddof=1) / math.sqrt(5))


# Student's sleep data (Cushny & Peebles 1905), as in R's `sleep`; reference values are R's
# t.test(extra ~ group, paired = TRUE), t.test(..., var.equal = TRUE) and wilcox.test(..., paired = TRUE).
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_paired_t_on_the_sleep_data():
    got = _by_name(stats.paired_t(np.subtract(SLEEP_1, SLEEP_2)))
    assert math.isclose(got["statistic"], -4.0621, abs_tol=5e-5) and got["df"] == 9
    assert math.isclose(got["p"], 0.002833, abs_tol=5e-7)
    assert math.isclose(got["lcl"], -2.4598858, abs_tol=1e-6) and math.isclose(got["ucl"], -0.7001142, abs_tol=1e-6)


def test_student_t_on_the_sleep_data():
    got = _by_name(stats.ttest_student(SLEEP_1, SLEEP_2))
    assert math.isclose(got["statistic"], -1.8608, abs_tol=5e-5) and got["df"] == 18
    assert math.isclose(got["p"], 0.07919, abs_tol=5e-6)
    assert math.isclose(got["lcl"], -3.363874, abs_tol=1e-6) and math.isclose(got["ucl"], 0.203874, abs_tol=1e-6)


def test_wilcoxon_signed_rank_on_the_sleep_data():
    # R: V = 0 (every difference is negative), p-value = 0.009091 (normal approximation: ties and a zero)
    got = _by_name(stats.wilcoxon_signed_rank(np.subtract(SLEEP_1, SLEEP_2)))
    assert got["V"] == 0 and math.isclose(got["p"], 0.009091, abs_tol=5e-7)


def test_mann_whitney_u_by_hand():
    # x = 1,2,3 vs y = 4,5: every y above every x, U(x) = 0; normal approx with continuity correction:
    # mean U = 3, var = 3*2*6/12 = 3, z = (|0 - 3| - 0.5)/sqrt(3)
    got = _by_name(stats.mann_whitney([1, 2, 3], [4, 5]))
    z = (3 - 0.5) / math.sqrt(3)
    assert got["statistic"] == 0 and math.isclose(got["p"], math.erfc(z / math.sqrt(2)), rel_tol=1e-12)


def test_fisher_exact_on_the_lady_tasting_tea():
    got = _by_name(stats.compare_proportions(3, 4, 1, 4))
    assert math.isclose(got["fisher_p"], 0.4857, abs_tol=5e-5)  # Fisher 1935: 34/70


def test_ancova_matches_r_lm_and_emmeans():
    """stats.ancova on the records R analysed (tests/r/ancova_two_of_three_arms.R: lm and emmeans)."""
    import pandas as pd

    from conftest import ROOT

    reference = ROOT / "tests" / "reference"
    data = pd.read_csv(reference / "data" / "ancova_gluc_week20_three_arms.csv")
    data = data[data["ARM"].isin(["UC-MSC", "Placebo"]) & (data["FASFL"] == "Y")]
    r = pd.read_csv(reference / "ancova_two_of_three_arms.csv", dtype=str).set_index("name")["value"]
    fit = stats.ancova(data["CHG"], (data["ARM"] == "UC-MSC").astype(float), data["BASE"], groups=("UC-MSC", "Placebo"))
    contrast = _by_name(fit["contrast"])
    for name, key in (("estimate", "estimate"), ("se", "se"), ("statistic", "t"), ("p", "p"), ("lcl", "lcl_t"),
                      ("ucl", "ucl_t"), ("rmse", "rmse"), ("df", "df")):
        assert math.isclose(contrast[name], float(r[key]), rel_tol=1e-10), name
    for part, arm in (("active", "ucmsc"), ("control", "placebo")):
        got = _by_name(fit[part])
        assert math.isclose(got["lsmean"], float(r[f"lsmean_{arm}"]), rel_tol=1e-10)
        assert math.isclose(got["se"], float(r[f"lsmean_se_{arm}"]), rel_tol=1e-10)


def test_gee_on_one_visit_gives_the_two_by_two_log_odds_ratio():
    import pandas as pd

    # 20/33 vs 9/32 at one visit: log OR = ln(20 x 23 / (13 x 9))
    rows = [(f"A{i}", 1.0, float(i < 20)) for i in range(33)] + [(f"P{i}", 0.0, float(i < 9)) for i in range(32)]
    frame = pd.DataFrame(rows, columns=["USUBJID", "ACTIVE", "AVAL"]).assign(AVISITN=9)
    got = _by_name(stats.gee_logistic(frame))
    assert math.isclose(got["estimate"], math.log(20 * 23 / (13 * 9)), rel_tol=1e-6)


def test_holm_and_benjamini_hochberg_by_hand():
    holm, bh = stats.adjust_pvalues([0.01, 0.04, 0.03, 0.005])
    # Holm: sorted 0.005x4, 0.01x3, 0.03x2, 0.04x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    assert np.allclose(holm, [0.03, 0.06, 0.06, 0.02])
    # BH: sorted p x 4/rank = 0.02, 0.02, 0.04, 0.04 -> running min from the top
    assert np.allclose(bh, [0.02, 0.04, 0.04, 0.02])
    # capped at 1, tied P-values adjusted alike: Holm 0.5 x 3 = 1.5 -> 1; BH 0.5 x 3/2 = 0.75 (both ties), 0.9 x 3/3
    holm, bh = stats.adjust_pvalues([0.5, 0.5, 0.9])
    assert list(holm) == [1.0, 1.0, 1.0] and np.allclose(bh, [0.75, 0.75, 0.9])


# --- against R (tests/r/misc.R): paired t-test and multiplicity adjustments ----------------

def test_paired_t_matches_r_t_test():
    import pandas as pd

    from conftest import ROOT

    data = pd.read_csv(ROOT / "tests" / "reference" / "data" / "misc_changes.csv")
    reference = pd.read_csv(ROOT / "tests" / "reference" / "misc_paired_t.csv",
                            skipinitialspace=True).set_index("sample")
    for sample, changes in data.groupby("sample")["change"]:
        got = {r["STAT_NAME"]: r["VALUE"] for r in stats.paired_t(changes)}
        for name in ("estimate", "lcl", "ucl", "statistic", "df", "p"):
            assert got[name] == pytest.approx(reference.loc[sample, name], rel=1e-10), (sample, name)


def test_holm_and_benjamini_hochberg_match_r_p_adjust():
    import pandas as pd

    from conftest import ROOT

    reference = pd.read_csv(ROOT / "tests" / "reference" / "misc_p_adjust.csv")
    holm, bh = stats.adjust_pvalues(reference["p"])
    assert (np.allclose(holm, reference["holm"], rtol=1e-12, atol=0)
            and np.allclose(bh, reference["bh"], rtol=1e-12, atol=0))
