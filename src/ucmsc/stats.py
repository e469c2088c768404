"""Statistical methods. Each returns ARD rows: dicts of STAT_NAME, STAT_LABEL and VALUE (and WARNING / ERROR).

The method's options are rows too (for example ``var_equal`` for the t-test and
``correction`` for the chi-square), so the ARD says exactly what was computed. Methods
are named explicitly; none switches method by itself.

A statistic that cannot be computed still returns its rows: VALUE NaN and a WARNING that
says why in plain words, naming the group and its counts ("not estimable: Placebo has 1
non-missing value (2 needed)"). An unexpected exception inside one method's computation
becomes its rows with VALUE NaN and an ERROR (exception type and message), so the rest of
the analysis plan still runs. Rows with a value have empty WARNING and ERROR.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats as sps

# Method options: they keep their value when nothing else is estimable.
OPTION_STATS = frozenset({"var_equal", "correction", "continuity", "ci_normal", "type", "ddfm"})
VALUES = ("non-missing value", "non-missing values")
SUBJECTS = ("subject", "subjects")


def _row(name: str, label: str, value, warning: str = "", error: str = "") -> dict:
    return {"STAT_NAME": name, "STAT_LABEL": label, "VALUE": float(value) if value is not None else math.nan,
            "WARNING": warning, "ERROR": error}


def stat_rows(labels: dict[str, str], values: dict, warning: str = "", error: str = "") -> list[dict]:
    """One row per label, in the labels' order. A name without a value is NaN with ``warning`` or ``error``; a value the
    formula left undefined (NaN) gets a generic warning, so no NaN goes into the ARD without a reason."""
    rows = []
    for name, label in labels.items():
        if name in values and values[name] is not None:
            value = float(values[name])
            undefined = f"not estimable: the {label.lower()} is undefined for these data" if math.isnan(value) else ""
            rows.append(_row(name, label, value, undefined))
        else:
            rows.append(_row(name, label, math.nan, "" if error else warning, error))
    return rows


def _guarded(labels: dict[str, str], compute, fixed: dict | None = None, warning: str = "") -> list[dict]:
    """``compute()`` -> {name: value} as rows; on an exception, the rows with VALUE NaN and the exception as ERROR."""
    fixed = fixed or {}
    try:
        values = compute()
    except Exception as failure:  # one statistic's numerical failure: recorded in its rows, the plan goes on
        return stat_rows(labels, fixed, error=error_text(failure))
    return stat_rows(labels, {**values, **fixed}, warning)


def error_text(failure: Exception) -> str:
    return f"{type(failure).__name__}: {failure}"


def _count(n: int, what: tuple[str, str]) -> str:
    return f"{n} {what[0] if n == 1 else what[1]}"


def too_few(counts: dict[str, int], needed: int, what: tuple[str, str] = VALUES) -> str:
    """'not estimable: Placebo has 1 non-missing value (2 needed)' for each group below ``needed``; '' when none is."""
    short = [f"{group} has {_count(int(n), what)}" for group, n in counts.items() if n < needed]
    if not short:
        return ""
    return f"not estimable: {'; '.join(short)} ({needed} needed{' in each' if len(short) > 1 else ''})"


def not_estimable(rows: list[dict], reason: str, keep: tuple[str, ...] = ()) -> list[dict]:
    """``rows`` with VALUE NaN and WARNING ``reason``, except option rows and the names in ``keep``."""
    return [row if row["STAT_NAME"] in OPTION_STATS or row["STAT_NAME"] in keep
            else dict(row, VALUE=math.nan, WARNING=reason, ERROR="") for row in rows]


def _clean(values) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[~np.isnan(x)]


def _ci(alpha: float) -> str:
    return f"{100 * (1 - alpha):g}%"


def describe(values, group: str = "the sample") -> list[dict]:
    """n, mean, SD (ddof=1), SE, median, quartiles (linear interpolation, SAS QNTLDEF=5 differs), min, max.

    No value: n = 0, the rest NaN; one value: SD and SE NaN. Both with a WARNING naming ``group``.
    """
    labels = {"n": "n", "mean": "Mean", "sd": "SD", "se": "SE", "median": "Median", "q1": "Q1", "q3": "Q3",
              "min": "Min", "max": "Max"}
    x = _clean(values)
    n = x.size
    if n == 0:
        return stat_rows(labels, {"n": 0}, too_few({group: 0}, 1))

    def compute():
        out = {"n": n, "mean": x.mean(), "median": np.median(x), "q1": np.percentile(x, 25), "q3": np.percentile(x, 75),
               "min": x.min(), "max": x.max()}
        if n > 1:
            sd = x.std(ddof=1)
            out.update(sd=sd, se=sd / math.sqrt(n))
        return out

    return _guarded(labels, compute, {"n": n}, too_few({group: n}, 2))


def ttest_student(x, y, alpha: float = 0.05, groups: tuple[str, str] = ("group 1", "group 2")) -> list[dict]:
    """Two-sample Student t-test (pooled variance), x minus y, with the (1 - alpha) CI of the difference.

    Needs 2 non-missing values in each group (``groups`` names x and y in the WARNING otherwise).
    """
    labels = {"estimate": "Difference in means", "lcl": f"{_ci(alpha)} CI lower", "ucl": f"{_ci(alpha)} CI upper",
              "statistic": "t", "df": "Degrees of freedom", "p": "P-value", "var_equal": "Pooled variance (1 = yes)"}
    a, b = _clean(x), _clean(y)
    fixed = {"var_equal": 1}
    reason = too_few({groups[0]: a.size, groups[1]: b.size}, 2)
    if reason:
        return stat_rows(labels, fixed, reason)

    def compute():
        df = a.size + b.size - 2
        pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / df
        se = math.sqrt(pooled * (1 / a.size + 1 / b.size))
        diff = a.mean() - b.mean()
        result = sps.ttest_ind(a, b, equal_var=True)
        half = sps.t.ppf(1 - alpha / 2, df) * se
        return {"estimate": diff, "lcl": diff - half, "ucl": diff + half, "statistic": result.statistic, "df": df,
                "p": result.pvalue}

    return _guarded(labels, compute, fixed)


def proportion(responders: int, total: int, group: str = "the group") -> list[dict]:
    """Responders, denominator and percentage; the percentage is NaN (WARNING) when the denominator is 0."""
    labels = {"n": "Responders", "N": "Denominator", "pct": "%"}
    values = {"n": responders, "N": total}
    if total:
        values["pct"] = 100 * responders / total
    return stat_rows(labels, values, too_few({group: total}, 1, SUBJECTS))


def compare_proportions(r1: int, n1: int, r2: int, n2: int, alpha: float = 0.05,
                        groups: tuple[str, str] = ("group 1", "group 2")) -> list[dict]:
    """Pearson chi-square without continuity correction, Fisher exact, and p1 - p2 with a Wald CI.

    ``test_used`` says which P the protocol reads: Fisher when an expected count is below 5. An empty group: nothing
    but the option row has a value. Every subject with the same outcome (a zero column margin): the chi-square and
    the Wald CI are undefined (NaN, WARNING); Fisher P (1) and the difference (0) are still given.
    """
    labels = {"correction": "Continuity correction (1 = yes)", "statistic": "Chi-square", "df": "Degrees of freedom",
              "p": "Pearson chi-square P", "min_expected": "Smallest expected count", "fisher_p": "Fisher exact P",
              "test_used": "P used (1 = chi-square, 2 = Fisher)", "estimate": "Difference in proportions",
              "lcl": "Wald CI lower", "ucl": "Wald CI upper"}
    fixed = {"correction": 0}
    reason = too_few({groups[0]: n1, groups[1]: n2}, 1, SUBJECTS)
    if reason:
        return stat_rows(labels, fixed, reason)
    table = np.array([[r1, n1 - r1], [r2, n2 - r2]], dtype=float)
    if (table.sum(axis=0) == 0).any():
        reason = (f"not estimable: every subject has the same outcome ({groups[0]} {r1}/{n1}, {groups[1]} {r2}/{n2}), "
                  "so the chi-square and the Wald CI are undefined")
        return _guarded(labels, lambda: {"min_expected": 0, "fisher_p": sps.fisher_exact(table.astype(int)).pvalue,
                                         "test_used": 2, "estimate": r1 / n1 - r2 / n2}, fixed, reason)

    def compute():
        chi2, p_chi2, dof, expected = sps.chi2_contingency(table, correction=False)
        fisher_p = sps.fisher_exact(table.astype(int)).pvalue
        p1, p2 = r1 / n1, r2 / n2
        diff = p1 - p2
        se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)  # Wald: sqrt(p1 q1 / n1 + p2 q2 / n2)
        z = sps.norm.ppf(1 - alpha / 2)
        return {"statistic": chi2, "df": dof, "p": p_chi2, "min_expected": expected.min(), "fisher_p": fisher_p,
                "test_used": 1 if expected.min() >= 5 else 2, "estimate": diff, "lcl": diff - z * se,
                "ucl": diff + z * se}

    return _guarded(labels, compute, fixed)


def skewness_flag(values, threshold: float = 1.0, group: str = "the pooled sample") -> list[dict]:
    """Sample skewness (bias-corrected, as SAS) and whether |skewness| > threshold (then median [IQR] is shown)."""
    labels = {"skewness": "Skewness", "skewed": f"|skewness| > {threshold:g} (1 = yes)"}
    x = _clean(values)
    reason = too_few({group: x.size}, 3)
    if not reason and np.ptp(x) == 0:
        reason = f"not estimable: all {x.size} values of {group} are equal"
    if reason:
        return stat_rows(labels, {}, reason)

    def compute():
        skew = sps.skew(x, bias=False)
        return {"skewness": skew, "skewed": float(abs(skew) > threshold)}

    return _guarded(labels, compute)


CHANGES = ("non-missing change", "non-missing changes")


def paired_t(change, alpha: float = 0.05, group: str = "the sample") -> list[dict]:
    """Paired t-test of the change from baseline (one-sample t on CHG), with the CI of the mean change."""
    labels = {"estimate": "Mean change", "lcl": "CI lower", "ucl": "CI upper", "statistic": "t",
              "df": "Degrees of freedom", "p": "P-value"}
    d = _clean(change)
    reason = too_few({group: d.size}, 2, CHANGES)
    if reason:
        return stat_rows(labels, {}, reason)

    def compute():
        result = sps.ttest_1samp(d, 0.0)
        se = d.std(ddof=1) / math.sqrt(d.size)
        half = sps.t.ppf(1 - alpha / 2, d.size - 1) * se
        return {"estimate": d.mean(), "lcl": d.mean() - half, "ucl": d.mean() + half, "statistic": result.statistic,
                "df": d.size - 1, "p": result.pvalue}

    return _guarded(labels, compute)


def wilcoxon_signed_rank(change, group: str = "the sample") -> list[dict]:
    """Wilcoxon signed-rank test of the change (zeros dropped; normal approximation with continuity correction)."""
    labels = {"statistic": "W", "p": "P-value", "continuity": "Continuity correction (1 = yes)"}
    d = _clean(change)
    d = d[d != 0]
    fixed = {"continuity": 1}
    reason = too_few({group: d.size}, 2, ("non-zero change", "non-zero changes"))
    if reason:
        return stat_rows(labels, fixed, reason)

    def compute():
        result = sps.wilcoxon(d, zero_method="wilcox", correction=True, method="approx")
        return {"statistic": result.statistic, "p": result.pvalue}

    return _guarded(labels, compute, fixed)


def mann_whitney(x, y, groups: tuple[str, str] = ("group 1", "group 2")) -> list[dict]:
    """Mann-Whitney U (x vs y), normal approximation with continuity correction, as SAS NPAR1WAY."""
    labels = {"statistic": "U", "p": "P-value", "continuity": "Continuity correction (1 = yes)"}
    a, b = _clean(x), _clean(y)
    fixed = {"continuity": 1}
    reason = too_few({groups[0]: a.size, groups[1]: b.size}, 1)
    if reason:
        return stat_rows(labels, fixed, reason)

    def compute():
        result = sps.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic", use_continuity=True)
        return {"statistic": result.statistic, "p": result.pvalue}

    return _guarded(labels, compute, fixed)


ANCOVA_SUBJECTS = ("subject with change and baseline", "subjects with change and baseline")


def ancova(response, active, base, alpha: float = 0.05, groups: tuple[str, str] = ("active", "control"),
           ci: str = "t") -> dict[str, list[dict]]:
    """ANCOVA: response ~ intercept + active + baseline (OLS), as SAS PROC GLM or R lm(). LS means at the mean
    baseline of the analysed records (as SAS LSMEANS and R emmeans), difference active - control.

    ``active`` is 1 for the active arm and 0 for the control arm; any other value (another arm) is left out.
    CIs use the t distribution with the residual df; ``ci="normal"`` takes normal quantiles instead (as some
    published tables do); the P-value is always the t-test's. The root mean squared error is the residual SD.

    Returns {"active": rows, "control": rows, "contrast": rows}. Not estimable (an arm without a complete case, fewer
    than 4 complete cases, a singular design): the same rows, NaN except n, with a WARNING.
    """
    level = f"{100 * (1 - alpha):g}%"
    y = np.asarray(response, dtype=float)
    a = np.asarray(active, dtype=float)
    b = np.asarray(base, dtype=float)
    keep = ~(np.isnan(y) | np.isnan(b)) & np.isin(a, [0.0, 1.0])
    y, a, b = y[keep], a[keep], b[keep]
    n = {"active": int((a == 1.0).sum()), "control": int((a == 0.0).sum())}
    df = y.size - 3
    reference = "normal" if ci == "normal" else f"t, {df} df"
    arm_labels = {"lsmean": "LS mean", "se": "SE", "lcl": f"{level} CI lower ({reference})",
                  "ucl": f"{level} CI upper ({reference})", "n": "n"}
    contrast_labels = {"estimate": "LS mean difference", "se": "SE", "lcl": f"{level} CI lower ({reference})",
                       "ucl": f"{level} CI upper ({reference})", "statistic": "t", "df": "Degrees of freedom",
                       "p": "P-value (t)", "rmse": "Root mean squared error", "ci_normal": "CI from normal quantiles (1 = yes, 0 = t)"}
    option = {"ci_normal": 1.0 if ci == "normal" else 0.0}
    x = np.column_stack([np.ones_like(y), a, b])
    reason = too_few({groups[0]: n["active"], groups[1]: n["control"]}, 1, ANCOVA_SUBJECTS)
    if not reason and y.size < 4:  # 3 coefficients and at least 1 residual degree of freedom
        reason = f"not estimable: {_count(y.size, ANCOVA_SUBJECTS)} in both arms together (4 needed)"
    if not reason and np.linalg.matrix_rank(x) < 3:
        reason = "not estimable: the model is singular (baseline is constant or collinear with arm)"

    def failed(warning: str = "", error: str = "") -> dict[str, list[dict]]:
        return {"active": stat_rows(arm_labels, {"n": n["active"]}, warning, error),
                "control": stat_rows(arm_labels, {"n": n["control"]}, warning, error),
                "contrast": stat_rows(contrast_labels, option, warning, error)}

    if reason:
        return failed(reason)
    try:
        xtx_inv = np.linalg.inv(x.T @ x)
        beta = xtx_inv @ x.T @ y
        sigma2 = float(((y - x @ beta) ** 2).sum() / df)  # residual mean square (SAS GLM "MSE")
        cov = sigma2 * xtx_inv
        q = sps.norm.ppf(1 - alpha / 2) if ci == "normal" else sps.t.ppf(1 - alpha / 2, df)
        out = {}
        for name, arm in (("active", 1.0), ("control", 0.0)):
            c = np.array([1.0, arm, b.mean()])
            est, se = float(c @ beta), math.sqrt(c @ cov @ c)
            out[name] = stat_rows(arm_labels, {"lsmean": est, "se": se, "lcl": est - q * se, "ucl": est + q * se,
                                               "n": n[name]})
        est, se = float(beta[1]), math.sqrt(cov[1, 1])
        t = est / se
        out["contrast"] = stat_rows(contrast_labels, {"estimate": est, "se": se, "lcl": est - q * se,
                                                      "ucl": est + q * se, "statistic": t, "df": df,
                                                      "p": 2 * sps.t.sf(abs(t), df), "rmse": math.sqrt(sigma2), **option})
    except Exception as failure:  # a numerical failure of this model: recorded in its rows, the plan goes on
        return failed(error=error_text(failure))
    return out


def gee_logistic(frame, alpha: float = 0.05, groups: tuple[str, str] = ("active", "control")) -> list[dict]:
    """GEE logistic model of a repeated binary response: logit P(y=1) = visit + active; exchangeable working
    correlation, robust (sandwich) standard errors. Returns the odds ratio for active vs control.

    Not estimable (an arm without an observed value or with one outcome only, no convergence, no finite estimate):
    the same rows, NaN except the number of subjects, with a WARNING."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    labels = {"estimate": "Log odds ratio", "se": "Robust SE", "or": "Odds ratio", "lcl": "OR CI lower",
              "ucl": "OR CI upper", "p": "P-value (Wald, robust)", "n_subjects": "Subjects",
              "working_correlation": "Exchangeable working correlation"}
    data = frame.dropna(subset=["AVAL"])
    fixed = {"n_subjects": float(data["USUBJID"].nunique())}
    subjects = data.groupby(data["ACTIVE"] == 1.0)["USUBJID"].nunique()
    reason = too_few({groups[0]: int(subjects.get(True, 0)), groups[1]: int(subjects.get(False, 0))}, 1,
                     ("subject with a value", "subjects with a value"))
    if not reason and data["AVAL"].nunique() < 2:
        reason = f"not estimable: every observed value is {data['AVAL'].iloc[0]:g} (both outcomes needed)"
    for group, is_active in zip(groups, (True, False)):
        mine = data.loc[(data["ACTIVE"] == 1.0) == is_active, "AVAL"]
        if not reason and mine.nunique() < 2:  # complete separation: the maximum-likelihood log odds ratio is infinite
            reason = (f"not estimable: every observed value of {group} is {mine.iloc[0]:g}, "
                      "so the odds ratio is not finite")
    if reason:
        return stat_rows(labels, fixed, reason)
    visits = sorted(data["AVISITN"].unique())
    exog = np.column_stack([np.ones(len(data)), data["ACTIVE"].to_numpy(float)]
                           + [(data["AVISITN"] == v).to_numpy(float) for v in visits[1:]])
    try:
        model = sm.GEE(data["AVAL"].to_numpy(float), exog, groups=data["USUBJID"].to_numpy(),
                       family=sm.families.Binomial(), cov_struct=sm.cov_struct.Exchangeable())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            result = model.fit()
        coef, se = float(result.params[1]), float(result.bse[1])
    except Exception as failure:  # a numerical failure of this model: recorded in its rows, the plan goes on
        return stat_rows(labels, fixed, error=error_text(failure))
    unconverged = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    if unconverged:
        return stat_rows(labels, fixed, f"not estimable: the GEE fit did not converge ({unconverged[0]})")
    if not (math.isfinite(coef) and math.isfinite(se)):
        return stat_rows(labels, fixed, "not estimable: the GEE fit gave no finite odds ratio")
    z = sps.norm.ppf(1 - alpha / 2)
    return stat_rows(labels, {"estimate": coef, "se": se, "or": math.exp(coef), "lcl": math.exp(coef - z * se),
                          "ucl": math.exp(coef + z * se), "p": float(result.pvalues[1]),
                          "working_correlation": float(result.cov_struct.dep_params), **fixed})


def adjust_pvalues(pvalues) -> tuple[np.ndarray, np.ndarray]:
    """Holm (step-down) and Benjamini-Hochberg adjusted P-values, in the input order."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=float)
    return multipletests(p, method="holm")[1], multipletests(p, method="fdr_bh")[1]
