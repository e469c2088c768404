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


def _clean(values) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[~np.isnan(x)]


def skewness_flag(values, threshold: float = 1.0) -> list[dict]:
    """Sample skewness (bias-corrected, as SAS) and whether |skewness| > threshold (then median [IQR] is shown)."""
    x = _clean(values)
    if x.size < 3:
        return []
    skew = sps.skew(x, bias=False)
    return [_row("skewness", "Skewness", skew), _row("skewed", f"|skewness| > {threshold:g} (1 = yes)", float(abs(skew) > threshold))]


def paired_t(change, alpha: float = 0.05) -> list[dict]:
    """Paired t-test of the change from baseline (one-sample t on CHG), with the CI of the mean change."""
    d = _clean(change)
    if d.size < 2:
        return []
    result = sps.ttest_1samp(d, 0.0)
    se = d.std(ddof=1) / math.sqrt(d.size)
    half = sps.t.ppf(1 - alpha / 2, d.size - 1) * se
    return [_row("estimate", "Mean change", d.mean()), _row("lcl", "CI lower", d.mean() - half),
            _row("ucl", "CI upper", d.mean() + half), _row("statistic", "t", result.statistic),
            _row("df", "Degrees of freedom", d.size - 1), _row("p", "P-value", result.pvalue)]


def wilcoxon_signed_rank(change) -> list[dict]:
    """Wilcoxon signed-rank test of the change (zeros dropped; normal approximation with continuity correction)."""
    d = _clean(change)
    d = d[d != 0]
    if d.size < 2:
        return []
    result = sps.wilcoxon(d, zero_method="wilcox", correction=True, method="approx")
    return [_row("statistic", "W", result.statistic), _row("p", "P-value", result.pvalue), _row("continuity", "Continuity correction (1 = yes)", 1)]


def mann_whitney(x, y) -> list[dict]:
    """Mann-Whitney U (x vs y), normal approximation with continuity correction, as SAS NPAR1WAY."""
    a, b = _clean(x), _clean(y)
    if a.size < 1 or b.size < 1:
        return []
    result = sps.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic", use_continuity=True)
    return [_row("statistic", "U", result.statistic), _row("p", "P-value", result.pvalue), _row("continuity", "Continuity correction (1 = yes)", 1)]


def ancova(response, active, base, alpha: float = 0.05) -> dict[str, list[dict]] | None:
    """ANCOVA: response ~ intercept + active + baseline (OLS). LS means at the mean baseline; difference active - control.

    Returns {"active": rows, "control": rows, "contrast": rows} or None when it cannot be fitted.
    """
    y = np.asarray(response, dtype=float)
    a = np.asarray(active, dtype=float)
    b = np.asarray(base, dtype=float)
    keep = ~(np.isnan(y) | np.isnan(a) | np.isnan(b))
    y, a, b = y[keep], a[keep], b[keep]
    if y.size < 4 or len(np.unique(a)) < 2:
        return None
    x = np.column_stack([np.ones_like(y), a, b])
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    df = y.size - 3
    sigma2 = float(((y - x @ beta) ** 2).sum() / df)
    cov = sigma2 * xtx_inv
    q = sps.t.ppf(1 - alpha / 2, df)
    out = {}
    for name, arm in (("active", 1.0), ("control", 0.0)):
        c = np.array([1.0, arm, b.mean()])
        est, se = float(c @ beta), math.sqrt(c @ cov @ c)
        out[name] = [_row("lsmean", "LS mean", est), _row("se", "SE", se), _row("n", "n", float((a == arm).sum()))]
    est, se = float(beta[1]), math.sqrt(cov[1, 1])
    t = est / se
    out["contrast"] = [_row("estimate", "LS mean difference", est), _row("se", "SE", se), _row("lcl", "CI lower", est - q * se),
                       _row("ucl", "CI upper", est + q * se), _row("statistic", "t", t), _row("df", "Degrees of freedom", df),
                       _row("p", "P-value", 2 * sps.t.sf(abs(t), df))]
    return out


def gee_logistic(frame, alpha: float = 0.05) -> list[dict]:
    """GEE logistic model of a repeated binary response: logit P(y=1) = visit + active; exchangeable working
    correlation, robust (sandwich) standard errors. Returns the odds ratio for active vs control."""
    import statsmodels.api as sm

    data = frame.dropna(subset=["AVAL"])
    if data["ACTIVE"].nunique() < 2 or data["AVAL"].nunique() < 2:
        return []
    visits = sorted(data["AVISITN"].unique())
    exog = np.column_stack([np.ones(len(data)), data["ACTIVE"].to_numpy(float)]
                           + [(data["AVISITN"] == v).to_numpy(float) for v in visits[1:]])
    model = sm.GEE(data["AVAL"].to_numpy(float), exog, groups=data["USUBJID"].to_numpy(), family=sm.families.Binomial(),
                   cov_struct=sm.cov_struct.Exchangeable())
    result = model.fit()
    coef, se = float(result.params[1]), float(result.bse[1])
    z = sps.norm.ppf(1 - alpha / 2)
    return [_row("estimate", "Log odds ratio", coef), _row("se", "Robust SE", se), _row("or", "Odds ratio", math.exp(coef)),
            _row("lcl", "OR CI lower", math.exp(coef - z * se)), _row("ucl", "OR CI upper", math.exp(coef + z * se)),
            _row("p", "P-value (Wald, robust)", float(result.pvalues[1])),
            _row("n_subjects", "Subjects", float(data["USUBJID"].nunique())),
            _row("working_correlation", "Exchangeable working correlation", float(result.cov_struct.dep_params))]


def adjust_pvalues(pvalues) -> tuple[np.ndarray, np.ndarray]:
    """Holm (step-down) and Benjamini-Hochberg adjusted P-values, in the input order."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=float)
    return multipletests(p, method="holm")[1], multipletests(p, method="fdr_bh")[1]
