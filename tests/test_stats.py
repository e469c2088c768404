"""Statistics against closed forms computed independently of the code under test."""

import math

import numpy as np
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
    # Zhao 2024: 7.51 ± 1.77 vs 9.10 ± 2.78, P = 0.008 (n 33 vs 31: one placebo subject withdrew after week 9)
    result = sps.ttest_ind_from_stats(7.51, 1.77, 33, 9.10, 2.78, 31, equal_var=True)
    assert f"{result.pvalue:.3f}" == "0.008"


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
    # Fisher one table by hand: P(X = 4) + ... two-sided via hypergeometric
    assert math.isclose(got["fisher_p"], sps.fisher_exact([[4, 20], [0, 10]]).pvalue)


def test_describe_quartiles_and_se():
    got = _by_name(stats.describe([1, 2, 3, 4, 100]))
    assert got["n"] == 5 and got["median"] == 3 and got["q1"] == 2 and got["q3"] == 4
    assert math.isclose(got["se"], np.std([1, 2, 3, 4, 100], ddof=1) / math.sqrt(5))
