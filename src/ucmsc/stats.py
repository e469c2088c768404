"""Statistical methods. Each returns ARD rows: dicts of stat_name, stat_label and value.

The method's options are rows too (for example ``var_equal`` for the t-test and
``correction`` for the chi-square), so the ARD says exactly what was computed. Methods
are named explicitly; none switches method by itself.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps


def _row(name: str, label: str, value) -> dict:
    return {"STAT_NAME": name, "STAT_LABEL": label, "VALUE": float(value) if value is not None else math.nan}


def describe(values) -> list[dict]:
    """n, mean, SD (ddof=1), SE, median, quartiles (linear interpolation, SAS QNTLDEF=5 differs), min, max."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return [_row("n", "n", 0)]
    sd = x.std(ddof=1) if n > 1 else math.nan
    return [
        _row("n", "n", n), _row("mean", "Mean", x.mean()), _row("sd", "SD", sd),
        _row("se", "SE", sd / math.sqrt(n) if n > 1 else math.nan), _row("median", "Median", np.median(x)),
        _row("q1", "Q1", np.percentile(x, 25)), _row("q3", "Q3", np.percentile(x, 75)),
        _row("min", "Min", x.min()), _row("max", "Max", x.max()),
    ]


def ttest_student(x, y, alpha: float = 0.05) -> list[dict]:
    """Two-sample Student t-test (pooled variance), x minus y, with the (1 - alpha) CI of the difference."""
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size < 2 or b.size < 2:
        return [_row("var_equal", "Pooled variance (1 = yes)", 1)]
    df = a.size + b.size - 2
    pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / df
    se = math.sqrt(pooled * (1 / a.size + 1 / b.size))
    diff = a.mean() - b.mean()
    result = sps.ttest_ind(a, b, equal_var=True)
    half = sps.t.ppf(1 - alpha / 2, df) * se
    return [
        _row("estimate", "Difference in means", diff), _row("lcl", f"{100 * (1 - alpha):g}% CI lower", diff - half),
        _row("ucl", f"{100 * (1 - alpha):g}% CI upper", diff + half), _row("statistic", "t", result.statistic),
        _row("df", "Degrees of freedom", df), _row("p", "P-value", result.pvalue),
        _row("var_equal", "Pooled variance (1 = yes)", 1),
    ]


def proportion(responders: int, total: int) -> list[dict]:
    return [_row("n", "Responders", responders), _row("N", "Denominator", total),
            _row("pct", "%", 100 * responders / total if total else math.nan)]


def compare_proportions(r1: int, n1: int, r2: int, n2: int, alpha: float = 0.05) -> list[dict]:
    """Pearson chi-square without continuity correction, Fisher exact, and p1 - p2 with a Wald CI.

    ``test_used`` says which P the protocol reads: Fisher when an expected count is below 5.
    """
    table = np.array([[r1, n1 - r1], [r2, n2 - r2]], dtype=float)
    rows = [_row("correction", "Continuity correction (1 = yes)", 0)]
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        return rows + [_row("fisher_p", "Fisher exact P", 1.0)]
    chi2, p_chi2, dof, expected = sps.chi2_contingency(table, correction=False)
    fisher_p = sps.fisher_exact(table.astype(int)).pvalue
    p1, p2 = r1 / n1, r2 / n2
    diff = p1 - p2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    z = sps.norm.ppf(1 - alpha / 2)
    return rows + [
        _row("statistic", "Chi-square", chi2), _row("df", "Degrees of freedom", dof), _row("p", "Pearson chi-square P", p_chi2),
        _row("min_expected", "Smallest expected count", expected.min()), _row("fisher_p", "Fisher exact P", fisher_p),
        _row("test_used", "P used (1 = chi-square, 2 = Fisher)", 1 if expected.min() >= 5 else 2),
        _row("estimate", "Difference in proportions", diff), _row("lcl", "Wald CI lower", diff - z * se),
        _row("ucl", "Wald CI upper", diff + z * se),
    ]
