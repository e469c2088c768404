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

import numpy as np
from scipy import stats as sps
from scipy.optimize import brentq

# Method options: they keep their value when nothing else is estimable.
OPTION_STATS = frozenset({"var_equal", "correction", "continuity", "ci_normal", "ci_method", "type", "ddfm"})
# Plan option ``ttest`` -> the METHOD text of the between-arm t-test rows.
TTEST_METHODS = {"student": "Student t-test", "welch": "Welch t-test"}
# Plan option ``proportion_ci`` -> (number in the ``ci_method`` row, name in the CI labels).
PROPORTION_CI = {"newcombe": (1, "Newcombe hybrid score"), "miettinen-nurminen": (2, "Miettinen-Nurminen score"),
                 "wald": (3, "Wald")}
CI_METHOD_LABEL = "CI of the difference (" + ", ".join(f"{n} = {name}" for n, name in PROPORTION_CI.values()) + ")"
ROOT_XTOL = 1e-14  # absolute tolerance of the root finders (Miettinen-Nurminen limits; log odds ratio)
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
    """Two-sample Student t-test (pooled variance), x minus y, with the (1 - alpha) CI of the difference, as SAS
    PROC TTEST (Pooled) and R t.test(var.equal = TRUE).

    Needs 2 non-missing values in each group (``groups`` names x and y in the WARNING otherwise).
    """
    return _two_sample_t(x, y, alpha, groups, welch=False)


def ttest_welch(x, y, alpha: float = 0.05, groups: tuple[str, str] = ("group 1", "group 2")) -> list[dict]:
    """Welch's two-sample t-test (unequal variances, Welch-Satterthwaite df), x minus y, with the (1 - alpha) CI of
    the difference, as SAS PROC TTEST (Satterthwaite) and R t.test() by default. Needs 2 values in each group."""
    return _two_sample_t(x, y, alpha, groups, welch=True)


def ttest(x, y, method: str = "student", alpha: float = 0.05,
          groups: tuple[str, str] = ("group 1", "group 2")) -> list[dict]:
    """The between-arm t-test the plan names (``TTEST_METHODS``): "student" or "welch"."""
    if method not in TTEST_METHODS:
        raise ValueError(f"unknown t-test {method!r} (one of {', '.join(TTEST_METHODS)})")
    return _two_sample_t(x, y, alpha, groups, welch=method == "welch")


def _two_sample_t(x, y, alpha: float, groups: tuple[str, str], welch: bool) -> list[dict]:
    labels = {"estimate": "Difference in means", "lcl": f"{_ci(alpha)} CI lower", "ucl": f"{_ci(alpha)} CI upper",
              "statistic": "t", "df": "Degrees of freedom (Welch-Satterthwaite)" if welch else "Degrees of freedom",
              "p": "P-value", "var_equal": "Pooled variance (1 = yes)"}
    a, b = _clean(x), _clean(y)
    fixed = {"var_equal": 0 if welch else 1}
    reason = too_few({groups[0]: a.size, groups[1]: b.size}, 2)
    if reason:
        return stat_rows(labels, fixed, reason)

    def compute():
        diff = a.mean() - b.mean()
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size  # squared standard errors of the two means
        if welch:
            se = math.sqrt(va + vb)
            # Welch (1947) / Satterthwaite (1946): df = (va + vb)^2 / (va^2 / (n1 - 1) + vb^2 / (n2 - 1))
            df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1)) if va + vb > 0 else math.nan
        else:
            df = a.size + b.size - 2
            pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / df
            se = math.sqrt(pooled * (1 / a.size + 1 / b.size))
        result = sps.ttest_ind(a, b, equal_var=not welch)
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


def wilson_interval(r: int, n: int, z: float) -> tuple[float, float]:
    """Wilson (1927) score interval of r/n without continuity correction (Newcombe 1998, method 3):
    (2np + z^2 -+ z sqrt(z^2 + 4npq)) / (2(n + z^2)); exactly 0 at r = 0 and 1 at r = n."""
    p = r / n
    centre, half = 2 * n * p + z * z, z * math.sqrt(z * z + 4 * n * p * (1 - p))
    low, high = (centre - half) / (2 * (n + z * z)), (centre + half) / (2 * (n + z * z))
    return (0.0 if r == 0 else low), (1.0 if r == n else high)


def newcombe_interval(r1: int, n1: int, r2: int, n2: int, alpha: float = 0.05) -> tuple[float, float]:
    """Newcombe's hybrid score interval of p1 - p2 (Newcombe 1998, method 10): Wilson limits (l_i, u_i) of each arm,
    L = d - sqrt((p1 - l1)^2 + (u2 - p2)^2), U = d + sqrt((u1 - p1)^2 + (p2 - l2)^2). As SAS PROC FREQ
    RISKDIFF(CL=NEWCOMBE)."""
    z = sps.norm.ppf(1 - alpha / 2)
    p1, p2 = r1 / n1, r2 / n2
    (l1, u1), (l2, u2) = wilson_interval(r1, n1, z), wilson_interval(r2, n2, z)
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def _restricted_mle(p1: float, n1: int, p2: float, n2: int, delta: float) -> tuple[float, float]:
    """Maximum-likelihood (p1, p2) under p1 - p2 = delta: the root of Miettinen & Nurminen's (1985, Appendix) cubic,
    in the trigonometric form of Farrington & Manning (1990, eq. 3)."""
    theta = n2 / n1
    a = 1 + theta
    b = -(1 + theta + p1 + theta * p2 + delta * (theta + 2))
    c = delta * delta + delta * (2 * p1 + theta + 1) + p1 + theta * p2
    d = -p1 * delta * (1 + delta)
    v = b ** 3 / (27 * a ** 3) - b * c / (6 * a * a) + d / (2 * a)
    u = math.copysign(math.sqrt(max(b * b / (9 * a * a) - c / (3 * a), 0.0)), v)
    w = (math.pi + math.acos(min(1.0, max(-1.0, v / u ** 3)))) / 3 if u != 0 else math.pi / 2
    q1 = min(1.0, max(0.0, 2 * u * math.cos(w) - b / (3 * a)))
    return q1, min(1.0, max(0.0, q1 - delta))


def miettinen_nurminen_interval(r1: int, n1: int, r2: int, n2: int, alpha: float = 0.05) -> tuple[float, float]:
    """Miettinen-Nurminen score interval of p1 - p2 (Miettinen & Nurminen 1985; Newcombe 1998, method 6): the deltas
    with |d - delta| / sqrt(V(delta)) <= z, V = (q1(1 - q1)/n1 + q2(1 - q2)/n2) N / (N - 1) at the restricted MLE
    (q1, q2). As SAS PROC FREQ RISKDIFF(CL=MN). Limits by Brent's method to ``ROOT_XTOL``."""
    z = sps.norm.ppf(1 - alpha / 2)
    p1, p2 = r1 / n1, r2 / n2
    d, big_n = p1 - p2, n1 + n2

    def score(delta):  # (d - delta) / sqrt(V): 0 at delta = d, +-1e150 where V = 0 (at delta = -1 or 1)
        q1, q2 = _restricted_mle(p1, n1, p2, n2, delta)
        var = (q1 * (1 - q1) / n1 + q2 * (1 - q2) / n2) * big_n / (big_n - 1)
        return 0.0 if delta == d else (d - delta) / math.sqrt(max(var, 1e-300))

    low = -1.0 if d == -1 else brentq(lambda t: score(t) - z, -1.0, d, xtol=ROOT_XTOL)
    high = 1.0 if d == 1 else brentq(lambda t: score(t) + z, d, 1.0, xtol=ROOT_XTOL)
    return low, high


def wald_interval(r1: int, n1: int, r2: int, n2: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wald interval of p1 - p2 (Newcombe 1998, method 1): d -+ z sqrt(p1 q1 / n1 + p2 q2 / n2)."""
    z = sps.norm.ppf(1 - alpha / 2)
    p1, p2 = r1 / n1, r2 / n2
    half = z * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return p1 - p2 - half, p1 - p2 + half


PROPORTION_INTERVALS = {"newcombe": newcombe_interval, "miettinen-nurminen": miettinen_nurminen_interval,
                        "wald": wald_interval}


def fisher_odds_ratio(r1: int, n1: int, r2: int, n2: int, alpha: float = 0.05) -> tuple[float, float, float]:
    """Conditional maximum-likelihood odds ratio of [[r1, n1 - r1], [r2, n2 - r2]] and its exact (conditional)
    central (1 - alpha) CI, as R fisher.test (Fisher 1935; Cornfield 1956): the non-central hypergeometric
    distribution of r1 given the margins; the estimate solves E(X; psi) = r1, the lower limit P(X >= r1; psi) =
    alpha / 2, the upper P(X <= r1; psi) = alpha / 2. An estimate or limit at the edge of the support is 0 or inf,
    as in R. Solved in log(psi) by Brent's method to ``ROOT_XTOL`` (R's uniroot stops at about 1e-4).

    Needs both outcomes among the subjects (a non-zero column margin): otherwise ValueError."""
    m, n, k, x = r1 + r2, n1 + n2 - r1 - r2, n1, r1  # first-column total, second-column total, first-row total
    lo, hi = max(0, k - n), min(k, m)
    if lo == hi:
        raise ValueError("the margins allow one table only, so the conditional likelihood is flat")
    support = np.arange(lo, hi + 1)
    logdc = sps.hypergeom.logpmf(support, m + n, m, k)  # central hypergeometric, log

    def pmf(log_psi):
        log_d = logdc + log_psi * support
        dens = np.exp(log_d - log_d.max())
        return dens / dens.sum()

    def solve(f):  # f increasing in log(psi) with a sign change: widen [-s, s] until it brackets the root
        span = 1.0
        while f(-span) > 0 or f(span) < 0:
            span *= 2
            if span > 1e4:
                raise ValueError("no finite root of the conditional likelihood equation")
        return math.exp(brentq(f, -span, span, xtol=ROOT_XTOL))

    estimate = (0.0 if x == lo else math.inf if x == hi else solve(lambda t: (support * pmf(t)).sum() - x))
    lower = 0.0 if x == lo else solve(lambda t: pmf(t)[support >= x].sum() - alpha / 2)
    upper = math.inf if x == hi else solve(lambda t: alpha / 2 - pmf(t)[support <= x].sum())
    return estimate, lower, upper


def compare_proportions(r1: int, n1: int, r2: int, n2: int, alpha: float = 0.05,
                        groups: tuple[str, str] = ("group 1", "group 2"), ci: str = "newcombe") -> list[dict]:
    """Pearson chi-square without continuity correction, Fisher exact P, p1 - p2 with its (1 - alpha) CI, and Fisher's
    conditional maximum-likelihood odds ratio with its exact CI (``fisher_odds_ratio``).

    ``ci`` (plan option ``proportion_ci``): "newcombe" (hybrid score, the default), "miettinen-nurminen" (score) or
    "wald"; the CI labels name it and the ``ci_method`` row holds its number (``PROPORTION_CI``). The score intervals
    are defined at 0/n and n/n; the Wald CI is not (a variance estimate of 0): NaN with a WARNING there.
    ``test_used`` says which P the protocol reads: Fisher when an expected count is below 5. An empty group: nothing
    but the option rows has a value. Every subject with the same outcome (a zero column margin): the chi-square and
    the odds ratio are undefined (NaN, WARNING); Fisher P (1), the difference (0) and its score CI are still given.
    An infinite odds ratio or upper limit (a zero cell) is NaN with a WARNING "not finite: ... infinite (a zero
    cell ...)"; a zero estimate or lower limit is 0.
    """
    if ci not in PROPORTION_CI:
        raise ValueError(f"unknown proportion CI {ci!r} (one of {', '.join(PROPORTION_CI)})")
    number, name = PROPORTION_CI[ci]
    level = _ci(alpha)
    chi_labels = {"correction": "Continuity correction (1 = yes)", "statistic": "Chi-square",
                  "df": "Degrees of freedom", "p": "Pearson chi-square P", "min_expected": "Smallest expected count",
                  "fisher_p": "Fisher exact P", "test_used": "P used (1 = chi-square, 2 = Fisher)"}
    diff_labels = {"estimate": "Difference in proportions", "lcl": f"{level} CI lower ({name})",
                   "ucl": f"{level} CI upper ({name})", "ci_method": CI_METHOD_LABEL}
    or_labels = {"or": "Odds ratio (conditional maximum likelihood, as R fisher.test)",
                 "or_lcl": f"{level} exact CI lower of the odds ratio (conditional, as R fisher.test)",
                 "or_ucl": f"{level} exact CI upper of the odds ratio (conditional, as R fisher.test)"}
    option = {"correction": 0}
    method = {"ci_method": number}
    reason = too_few({groups[0]: n1, groups[1]: n2}, 1, SUBJECTS)
    if reason:
        return (stat_rows(chi_labels, option, reason) + stat_rows(diff_labels, method, reason)
                + stat_rows(or_labels, {}, reason))
    counts = f"{groups[0]} {r1}/{n1}, {groups[1]} {r2}/{n2}"
    table = np.array([[r1, n1 - r1], [r2, n2 - r2]], dtype=float)
    one_outcome = bool((table.sum(axis=0) == 0).any())

    def chi_square_and_fisher():
        out = {"fisher_p": sps.fisher_exact(table.astype(int)).pvalue}
        if one_outcome:
            return out | {"min_expected": 0, "test_used": 2}
        chi2, p_chi2, dof, expected = sps.chi2_contingency(table, correction=False)
        return out | {"statistic": chi2, "df": dof, "p": p_chi2, "min_expected": expected.min(),
                      "test_used": 1 if expected.min() >= 5 else 2}

    same = f"not estimable: every subject has the same outcome ({counts})"
    rows = _guarded(chi_labels, chi_square_and_fisher, option,
                    f"{same}, so the chi-square is undefined" if one_outcome else "")

    degenerate = [f"{g} {r}/{n}" for g, r, n in ((groups[0], r1, n1), (groups[1], r2, n2)) if r in (0, n)]
    if ci == "wald" and degenerate:
        verb = "has" if len(degenerate) == 1 else "have"
        wald_reason = (f"not estimable: the Wald CI needs each proportion strictly between 0 and 1 "
                       f"({' and '.join(degenerate)} {verb} a variance estimate of 0); the score intervals "
                       "(proportion_ci: newcombe or miettinen-nurminen) are defined")
        rows += stat_rows(diff_labels, {"estimate": r1 / n1 - r2 / n2, **method}, wald_reason)
    else:
        def difference():
            low, high = PROPORTION_INTERVALS[ci](r1, n1, r2, n2, alpha)
            return {"estimate": r1 / n1 - r2 / n2, "lcl": low, "ucl": high}
        rows += _guarded(diff_labels, difference, method)

    if one_outcome:
        return rows + stat_rows(or_labels, {}, f"{same}, so the conditional likelihood of the odds ratio is flat")

    def odds_ratio():
        estimate, low, high = fisher_odds_ratio(r1, n1, r2, n2, alpha)
        return {"or": estimate, "or_lcl": low, "or_ucl": high}

    rows += _guarded(or_labels, odds_ratio)
    for row in rows:  # an infinite estimate or limit (a zero cell): NaN with the reason, never inf in the ARD
        if row["STAT_NAME"] in or_labels and math.isinf(row["VALUE"]):
            what = "upper bound" if row["STAT_NAME"] == "or_ucl" else "odds ratio"
            row.update(VALUE=math.nan, WARNING=f"not finite: {what} infinite (a zero cell: {counts})")
    return rows


def skewness(values, group: str = "the pooled sample") -> list[dict]:
    """Sample skewness (bias-corrected G1, as SAS PROC MEANS SKEWNESS), for information: the plan, not the data,
    decides whether a parameter is summarised by mean or median (``Trial.summary``)."""
    labels = {"skewness": "Skewness"}
    x = _clean(values)
    reason = too_few({group: x.size}, 3)
    if not reason and np.ptp(x) == 0:
        reason = f"not estimable: all {x.size} values of {group} are equal"
    if reason:
        return stat_rows(labels, {}, reason)
    return _guarded(labels, lambda: {"skewness": sps.skew(x, bias=False)})


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


def wilcoxon_signed_rank(change, group: str = "the sample", pseudomedian: bool = False) -> list[dict]:
    """Wilcoxon signed-rank test of the change, as R wilcox.test(x, exact = FALSE, correct = TRUE): zeros dropped
    (R's only zero method), mid-ranks for ties, normal approximation with the tie-corrected variance and a continuity
    correction. The statistic is V, the sum of the ranks of the positive changes (R's V; SAS PROC UNIVARIATE reports
    S = V - n(n + 1)/4 over the same n non-zero changes).

    ``pseudomedian``: also the Hodges-Lehmann pseudo-median of the change with its CI, as R wilcox.test(x, conf.int =
    TRUE) (``hodges_lehmann_pseudomedian``; rows estimate, lcl, ucl, conf_level, ci_exact)."""
    labels = {"V": "V (sum of positive ranks), as R wilcox.test", "p": "P-value",
              "continuity": "Continuity correction (1 = yes)"}
    d = _clean(change)
    nonzero = d[d != 0]
    fixed = {"continuity": 1}
    reason = too_few({group: nonzero.size}, 2, ("non-zero change", "non-zero changes"))
    if reason:
        return stat_rows(labels | (_hl_labels(PSEUDOMEDIAN) if pseudomedian else {}), fixed, reason)

    def compute():
        ranks = sps.rankdata(np.abs(nonzero))  # mid-ranks of |d| (Wilcoxon 1945)
        result = sps.wilcoxon(nonzero, zero_method="wilcox", correction=True, method="approx")
        return {"V": ranks[nonzero > 0].sum(), "p": result.pvalue}

    return _guarded(labels, compute, fixed) + (
        _location_rows(_hl_labels(PSEUDOMEDIAN), lambda: hodges_lehmann_pseudomedian(d)) if pseudomedian else [])


def mann_whitney(x, y, groups: tuple[str, str] = ("group 1", "group 2"), location_shift: bool = False) -> list[dict]:
    """Mann-Whitney U (x vs y), normal approximation with continuity correction, as SAS NPAR1WAY.

    ``location_shift``: also the Hodges-Lehmann shift x - y with its CI, as R wilcox.test(x, y, conf.int = TRUE)
    (``hodges_lehmann_shift``; rows estimate, lcl, ucl, conf_level, ci_exact)."""
    labels = {"statistic": "U", "p": "P-value", "continuity": "Continuity correction (1 = yes)"}
    a, b = _clean(x), _clean(y)
    fixed = {"continuity": 1}
    reason = too_few({groups[0]: a.size, groups[1]: b.size}, 1)
    if reason:
        return stat_rows(labels | (_hl_labels(LOCATION_SHIFT) if location_shift else {}), fixed, reason)

    def compute():
        result = sps.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic", use_continuity=True)
        return {"statistic": result.statistic, "p": result.pvalue}

    return _guarded(labels, compute, fixed) + (
        _location_rows(_hl_labels(LOCATION_SHIFT), lambda: hodges_lehmann_shift(a, b)) if location_shift else [])


# --- Hodges-Lehmann estimates and the CIs of R's wilcox.test(conf.int = TRUE) -------------------------------------
# R 4.2 stats:::wilcox.test.default: exact = NULL is exact when n < 50 (each sample) and there are no ties (nor zeros,
# one sample); otherwise the limits are the roots of the normal-approximation statistic (continuity correction) in the
# shift d. That statistic is a step function of d that jumps at the pairwise differences (Walsh averages), so each
# root is one of them: found here exactly, where R's uniroot stops within tol.root (1e-4 by default).

LOCATION_SHIFT = "Hodges-Lehmann location shift (median of the pairwise differences)"
PSEUDOMEDIAN = "Hodges-Lehmann pseudo-median (median of the Walsh averages of the non-zero values)"


def _location_rows(labels: dict[str, str], compute) -> list[dict]:
    """The Hodges-Lehmann rows from ``compute()`` (its "warning" names what is undefined); an exception: ERROR."""
    try:
        values = compute()
    except Exception as failure:  # a numerical failure of the estimate: its rows carry it, the test's rows stand
        return stat_rows(labels, {}, error=error_text(failure))
    return stat_rows(labels, values, values.pop("warning", ""))


def _hl_labels(estimate: str, alpha: float = 0.05) -> dict[str, str]:
    level = _ci(alpha)
    return {"estimate": estimate, "lcl": f"{level} CI lower (as R wilcox.test conf.int)",
            "ucl": f"{level} CI upper (as R wilcox.test conf.int)",
            "conf_level": "Confidence level of the CI (below the nominal level when that is not achievable)",
            "ci_exact": "Exact CI (1 = yes; 0 = normal approximation with continuity correction)"}


def _rank_sum_counts(m: int, n: int) -> list[int]:
    """Ways to reach U = 0 .. mn for samples of m and n without ties: the coefficients of the Gaussian binomial
    [m + n, m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i) (Mann & Whitney 1947; R's cwilcox)."""
    counts = [1] + [0] * (m * n)
    for i in range(1, m + 1):
        for k in range(m * n, n + i - 1, -1):  # times (1 - q^(n+i))
            counts[k] -= counts[k - n - i]
        for k in range(i, m * n + 1):  # divided by (1 - q^i)
            counts[k] += counts[k - i]
    return counts


def _signed_rank_counts(n: int) -> list[int]:
    """Ways to reach V = 0 .. n(n + 1)/2 without ties: subsets of {1..n} by their sum, prod (1 + q^i) (R's
    csignrank)."""
    top = n * (n + 1) // 2
    counts = [1] + [0] * top
    for i in range(1, n + 1):
        for k in range(top, i - 1, -1):
            counts[k] += counts[k - i]
    return counts


def _lower_quantile(counts: list[int], p: float) -> int:
    """R's qwilcox / qsignrank for p <= 0.5: the smallest q with P(statistic <= q) >= p - 10 eps, summed as R does."""
    total, cumulative = sum(counts), 0.0
    target = p - 10 * np.finfo(float).eps
    for q, count in enumerate(counts):
        cumulative += count / total
        if cumulative >= target:
            return q
    return len(counts) - 1


def _exact_limits(sorted_values: np.ndarray, counts: list[int], alpha: float, signif: bool) -> tuple:
    """R's exact two-sided limits: values[qu], values[N - qu + 1] (1-based) and the confidence level achieved."""
    qu = max(_lower_quantile(counts, alpha / 2), 1)
    ql = len(sorted_values) - qu
    achieved = 2 * sum(counts[:qu]) / sum(counts)  # 2 P(statistic <= qu - 1)
    level = 1 - alpha
    if achieved - alpha > alpha / 2:
        level = 1 - (float(f"{achieved:.2g}") if signif else achieved)
    return sorted_values[qu - 1], sorted_values[ql], level


def _rank_sum_z(x: np.ndarray, y: np.ndarray, d: float) -> float:
    """R's W(d) of wilcox.test's two-sample CI: the standardised rank sum of x - d against y, ties included."""
    ranks = sps.rankdata(np.concatenate([x - d, y]))
    _, ties = np.unique(ranks, return_counts=True)
    nx, ny = x.size, y.size
    dz = ranks[:nx].sum() - nx * (nx + 1) / 2 - nx * ny / 2
    sigma = math.sqrt(max(nx * ny / 12 * ((nx + ny + 1) - (ties ** 3 - ties).sum() / ((nx + ny) * (nx + ny - 1))),
                          0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float((dz - 0.5 * np.sign(dz)) / np.float64(sigma))


def _tie_term(values: np.ndarray) -> float:
    _, ties = np.unique(values, return_counts=True)
    return float((ties.astype(float) ** 3 - ties).sum())


# The estimates and the normal-approximation limits are order statistics of the m n pairwise differences (n(n + 1)/2
# Walsh averages): 2.5e9 values for two arms of 50,000 subjects. Up to MATERIALIZE_LIMIT they are built and
# partitioned; above it they are selected without being built: a matrix with sorted rows, whose candidate range in
# each row is narrowed by pivots drawn from the candidates (selection in X + Y, Frederickson & Johnson 1982). Both give
# the same floating-point values: each is a computed a[i] + b[j], compared exactly.
MATERIALIZE_LIMIT = 4_000_000
_SAMPLE = 100_000  # pivots per narrowing round; the result does not depend on it or on the draws, only the time does


class PairSums:
    """The multiset of fl(a[i] + b[j]) over all i, j (``triangle``: j >= i, with a the same array as b); a and b
    sorted ascending. Row i is non-decreasing in j because floating-point addition is monotone."""

    def __init__(self, a: np.ndarray, b: np.ndarray, triangle: bool = False):
        self.a, self.b = a, b
        self.first = np.arange(a.size) if triangle else np.zeros(a.size, dtype=np.int64)
        self.size = int((b.size - self.first).sum())
        self._sample = None  # the first narrowing round's sample: every rank starts from all the sums
        # Measured values repeat (a lab value to 0.1 unit): the sums of distinct values, each with its number of pairs,
        # are then few enough to sort outright.
        self._cells = None
        if self.size > MATERIALIZE_LIMIT:
            (ua, wa), (ub, wb) = (np.unique(v, return_counts=True) for v in (a, b))
            if ua.size * ub.size <= MATERIALIZE_LIMIT:
                sums, pairs = np.add.outer(ua, ub), np.outer(wa, wb)
                if triangle:  # pairs i <= j: w_p w_q of two distinct values, w_p (w_p + 1) / 2 of one value with itself
                    upper = np.triu_indices(ua.size)
                    pairs[np.diag_indices(ua.size)] = wa * (wa + 1) // 2
                    sums, pairs = sums[upper], pairs[upper]
                order = np.argsort(sums.ravel(), kind="stable")
                self._cells = (sums.ravel()[order], np.cumsum(pairs.ravel()[order]))

    def _inside(self, rows, columns, t: float, strict: bool) -> np.ndarray:
        sums = self.a[rows] + self.b[columns]
        return sums < t if strict else sums <= t

    def bounds(self, t: float, strict: bool) -> np.ndarray:
        """Per row, the first column (at least the row's first) whose sum is above t (at or above t when
        ``strict``): the row holds bound - first sums <= t (< t)."""
        a, b = self.a, self.b
        rows = np.arange(a.size)
        with np.errstate(invalid="ignore"):
            j = np.searchsorted(b, t - a, side="left" if strict else "right")  # t - a rounds: corrected below
        while True:  # each correction passes a whole run of equal b values, so this ends within a few passes
            before = np.maximum(j - 1, 0)
            down = (j > 0) & ~self._inside(rows, before, t, strict)
            at = np.minimum(j, b.size - 1)
            up = (j < b.size) & self._inside(rows, at, t, strict)
            if not (down.any() or up.any()):
                return np.maximum(j, self.first)
            j[down] = np.searchsorted(b, b[before[down]], side="left")
            j[up] = np.searchsorted(b, b[at[up]], side="right")

    def _candidates(self, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        widths = high - low
        rows = np.repeat(np.arange(self.a.size), widths)
        starts = np.repeat(np.cumsum(widths) - widths, widths)
        return self.a[rows] + self.b[low[rows] + np.arange(rows.size) - starts]

    def _draw(self, low: np.ndarray, high: np.ndarray, total: int, rng) -> np.ndarray:
        widths = high - low
        cumulative = np.cumsum(widths)
        drawn = rng.integers(0, total, _SAMPLE)
        rows = np.searchsorted(cumulative, drawn, side="right")
        return np.sort(self.a[rows] + self.b[low[rows] + drawn - (cumulative[rows] - widths[rows])])

    def select(self, rank: int) -> float:
        """The value of 0-based ``rank`` in ascending order."""
        if self._cells is not None:
            values, pairs_up_to = self._cells
            return float(values[np.searchsorted(pairs_up_to, rank, side="right")])
        low, high = self.first.copy(), np.full(self.a.size, self.b.size)
        rng = np.random.default_rng(0)
        while True:
            total = int((high - low).sum())
            if total <= MATERIALIZE_LIMIT:
                return float(np.partition(self._candidates(low, high), rank)[rank])
            # pivots: sample quantiles just below and above the rank's, a bracket that holds it with near certainty
            if total == self.size:
                if self._sample is None:
                    self._sample = self._draw(low, high, total, rng)
                sample = self._sample
            else:
                sample = self._draw(low, high, total, rng)
            q = (rank + 0.5) / total
            margin = 4 * math.sqrt(q * (1 - q) / _SAMPLE) + 2 / _SAMPLE
            under, over = math.floor((q - margin) * _SAMPLE), math.ceil((q + margin) * _SAMPLE)
            pivot_low = sample[under] if under >= 0 else -np.inf
            pivot_high = sample[over] if over < _SAMPLE else np.inf
            below = np.clip(self.bounds(pivot_low, strict=True), low, high)
            upto = np.clip(self.bounds(pivot_high, strict=False), low, high)
            n_below, n_upto = int((below - low).sum()), int((upto - low).sum())
            if n_below <= rank < n_upto and n_upto - n_below < total:
                if pivot_low == pivot_high:
                    return float(pivot_low)
                low, high, rank = below, upto, rank - n_below
                continue
            # the bracket missed the rank or kept everything (few distinct values): one pivot, three-way split
            pivot = sample[min(int(q * _SAMPLE), _SAMPLE - 1)]
            less = np.clip(self.bounds(pivot, strict=True), low, high)
            most = np.clip(self.bounds(pivot, strict=False), low, high)
            n_less, n_most = int((less - low).sum()), int((most - low).sum())
            if rank < n_less:
                high = less
            elif rank < n_most:
                return float(pivot)
            else:
                low, rank = most, rank - n_most

    def median(self) -> float:
        """The median as numpy computes it: the middle value, or the mean of the two middle values."""
        lower, upper = (self.size - 1) // 2, self.size // 2
        if lower == upper:
            return self.select(lower)
        return float(np.mean([self.select(lower), self.select(upper)]))


def _step_root(values: PairSums, scale: float, center: float, sigma: float, zq: float) -> float:
    """R's root in the normal-approximation CI: the smallest value v (the largest when there is none) where the
    statistic (c - center - 0.5 sign(c - center)) / sigma, c = #(values above v), is below zq. The statistic rises
    with c, so it is below zq for c up to some c*, and v is the (N - c*)-th smallest value."""
    def below(count: int) -> bool:
        dz = np.float64(count) - center
        return bool((dz - 0.5 * np.sign(dz)) / sigma - zq < 0)

    if not below(0):
        rank = values.size  # no v: the largest value
    else:
        good, bad = 0, values.size + 1  # below(good), and below fails at bad or beyond
        while bad - good > 1:
            middle = (good + bad) // 2
            good, bad = (middle, bad) if below(middle) else (good, middle)
        rank = max(values.size - good, 1)
    return values.select(rank - 1) * scale


def hodges_lehmann_shift(x, y, alpha: float = 0.05) -> dict:
    """Hodges-Lehmann (1963) shift x - y, the median of the pairwise differences, with its (1 - alpha) CI as R
    wilcox.test(x, y, conf.int = TRUE): exact (Bauer 1972, the rank-sum quantiles) when both samples have fewer than
    50 values and the pooled sample no ties; otherwise R's inversion of the normal approximation with continuity
    correction. Returns {estimate, lcl, ucl, conf_level, ci_exact}."""
    a, b = _clean(x), _clean(y)
    pooled = np.concatenate([a, b])
    if a.size < 50 and b.size < 50 and np.unique(pooled).size == pooled.size:
        diffs = np.sort(np.subtract.outer(a, b).ravel())
        low, high, level = _exact_limits(diffs, _rank_sum_counts(a.size, b.size), alpha, signif=False)
        return {"estimate": float(np.median(diffs)), "lcl": low, "ucl": high, "conf_level": level, "ci_exact": 1}
    differences = PairSums(np.sort(a), np.sort(-b))  # fl(a - b) is fl(a + (-b)) exactly
    estimate = differences.median()
    nx, ny, big = a.size, b.size, a.size + b.size
    # between two pairwise differences: U = #(differences above), ties only within each sample
    sigma = math.sqrt(nx * ny / 12 * ((big + 1) - (_tie_term(a) + _tie_term(b)) / (big * (big - 1))))
    smallest, largest = float(a.min() - b.max()), float(a.max() - b.min())
    at_min, at_max = _rank_sum_z(a, b, smallest), _rank_sum_z(a, b, largest)
    if not (math.isfinite(at_min) and math.isfinite(at_max)):  # R stops: "all observations are tied"
        return {"estimate": estimate, "ci_exact": 0, "warning": "not estimable: the CI of the location shift needs "
                "values that are not all tied once shifted (every value of each group is the same)"}

    def root(zq):  # R: an end of the range when the statistic there is already past zq
        if at_min - zq <= 0:
            return smallest
        if at_max - zq >= 0:
            return largest
        return _step_root(differences, 1.0, nx * ny / 2, sigma, zq)

    z = sps.norm.ppf(1 - alpha / 2)
    return {"estimate": estimate, "lcl": root(z), "ucl": root(-z), "conf_level": 1 - alpha, "ci_exact": 0}


def _signed_rank_z(x: np.ndarray, d: float) -> float:
    """R's W(d) of wilcox.test's one-sample CI: the standardised signed-rank statistic of x - d, zeros dropped."""
    xd = x - d
    xd = xd[xd != 0]
    n = xd.size
    ranks = sps.rankdata(np.abs(xd))
    _, ties = np.unique(ranks, return_counts=True)
    zd = ranks[xd > 0].sum() - n * (n + 1) / 4
    sigma = math.sqrt(max(n * (n + 1) * (2 * n + 1) / 24 - (ties ** 3 - ties).sum() / 48, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float((zd - 0.5 * np.sign(zd)) / np.float64(sigma))


def hodges_lehmann_pseudomedian(values, alpha: float = 0.05) -> dict:
    """Hodges-Lehmann (1963) pseudo-median, the median of the Walsh averages (x_i + x_j)/2, i <= j, with its
    (1 - alpha) CI as R wilcox.test(x, conf.int = TRUE): zeros are dropped first (as R does, for the estimate too);
    exact (Tukey's signed-rank quantiles) for fewer than 50 values without ties or zeros, otherwise R's inversion of
    the normal approximation with continuity correction, with R's widening of alpha when the requested level is out
    of reach. Returns {estimate, lcl, ucl, conf_level, ci_exact}."""
    data = _clean(values)
    x = data[data != 0]
    n = x.size
    if n < 50 and np.unique(np.abs(x)).size == n and x.size == data.size:
        walsh = np.sort(np.add.outer(x, x)[np.triu_indices(n)] / 2)
        low, high, level = _exact_limits(walsh, _signed_rank_counts(n), alpha, signif=True)
        return {"estimate": float(np.median(walsh)), "lcl": low, "ucl": high, "conf_level": level, "ci_exact": 1}
    ordered = np.sort(x)
    sums = PairSums(ordered, ordered, triangle=True)  # Walsh averages are these sums halved (exact in floating point)
    estimate = sums.median() / 2 if n else float("nan")
    sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - _tie_term(x) / 48)
    smallest, largest = (ordered[0] + ordered[0]) / 2 if n else np.nan, (ordered[-1] + ordered[-1]) / 2 if n else np.nan
    at_min, at_max = _signed_rank_z(x, smallest), _signed_rank_z(x, largest)
    if not (math.isfinite(at_min) and math.isfinite(at_max)):  # R: NaN limits, all non-zero values equal
        return {"estimate": estimate, "ci_exact": 0,
                "warning": f"not estimable: the CI of the pseudo-median needs two different non-zero values "
                           f"(all {n} are {x[0]:g})"}
    level = alpha
    while at_min - sps.norm.ppf(1 - level / 2) < 0 or at_max - sps.norm.ppf(level / 2) > 0:
        level *= 2  # R: "requested conf.level not achievable"
    conf_level = 1 - min(1.0, level) if level >= 1 or alpha < level * 0.75 else 1 - alpha
    if level >= 1:
        return {"estimate": estimate, "lcl": float(np.median(x)), "ucl": float(np.median(x)),
                "conf_level": conf_level, "ci_exact": 0}

    def root(zq):  # R's uniroot from f(min) = at_min - zq >= 0 to f(max) <= 0
        if at_min - zq == 0:
            return float(smallest)
        return _step_root(sums, 0.5, n * (n + 1) / 4, sigma, zq)

    z = sps.norm.ppf(1 - level / 2)
    return {"estimate": estimate, "lcl": root(z), "ucl": root(-z), "conf_level": conf_level, "ci_exact": 0}


ANCOVA_SUBJECTS = ("subject with change and baseline", "subjects with change and baseline")


def ancova_arms(response, arm, base, arms: tuple[str, ...], alpha: float = 0.05, ci: str = "t",
                doses: tuple[float, ...] | None = None) -> dict:
    """ANCOVA with any number of arms: response ~ intercept + arm + baseline (OLS), one model, as SAS PROC GLM with
    LSMEANS / DIFF=CONTROL or R lm() with emmeans. ``arms`` lists the arms, control LAST; ``arm`` is each record's arm
    name (records of any other arm are left out). LS means at the mean baseline of the analysed records.

    CIs use the t distribution with the residual df (n - arms - 1); ``ci="normal"`` takes normal quantiles, as some
    published tables do; P-values are the t-tests'. The root mean squared error is the residual SD. With ``doses``
    (one per arm, same order) a linear trend across the arms' LS means is tested: contrast weights dose - mean dose.

    Returns {"lsmeans": {arm: rows}, "contrasts": {active arm: rows}, "trend": rows or None}. Not estimable (an arm
    without a complete case, too few cases, a singular design): the same rows, NaN except n, with a WARNING.
    """
    level = f"{100 * (1 - alpha):g}%"
    *actives, control = arms
    y = np.asarray(response, dtype=float)
    b = np.asarray(base, dtype=float)
    labels_of = np.asarray(arm, dtype=object)
    keep = ~(np.isnan(y) | np.isnan(b)) & np.isin(labels_of, list(arms))
    y, b, labels_of = y[keep], b[keep], labels_of[keep]
    n = {name: int((labels_of == name).sum()) for name in arms}
    p = len(arms) + 1  # intercept, one effect per active arm, baseline
    df = y.size - p
    reference = "normal" if ci == "normal" else f"t, {df} df"
    ci_labels = {"lcl": f"{level} CI lower ({reference})", "ucl": f"{level} CI upper ({reference})"}
    arm_labels = {"lsmean": "LS mean", "se": "SE", **ci_labels, "n": "n"}
    contrast_labels = {"estimate": "LS mean difference", "se": "SE", **ci_labels, "statistic": "t",
                       "df": "Degrees of freedom", "p": "P-value (t)", "rmse": "Root mean squared error",
                       "ci_normal": "CI from normal quantiles (1 = yes, 0 = t)"}
    trend_labels = {"estimate": "Linear trend contrast of LS means (weights: dose - mean dose)", "se": "SE",
                    **ci_labels, "statistic": "t", "df": "Degrees of freedom", "p": "P-value (t)"}
    option = {"ci_normal": 1.0 if ci == "normal" else 0.0}
    x = np.column_stack([np.ones_like(y)] + [(labels_of == name).astype(float) for name in actives] + [b])
    reason = too_few(n, 1, ANCOVA_SUBJECTS)
    if not reason and df < 1:  # every coefficient and at least 1 residual degree of freedom
        reason = f"not estimable: {_count(y.size, ANCOVA_SUBJECTS)} in all arms together ({p + 1} needed)"
    if not reason and np.linalg.matrix_rank(x) < p:
        reason = "not estimable: the model is singular (baseline is constant or collinear with arm)"

    def failed(warning: str = "", error: str = "") -> dict:
        return {"lsmeans": {name: stat_rows(arm_labels, {"n": n[name]}, warning, error) for name in arms},
                "contrasts": {name: stat_rows(contrast_labels, option, warning, error) for name in actives},
                "trend": stat_rows(trend_labels, {}, warning, error) if doses else None}

    if reason:
        return failed(reason)
    try:
        xtx_inv = np.linalg.inv(x.T @ x)
        beta = xtx_inv @ x.T @ y
        sigma2 = float(((y - x @ beta) ** 2).sum() / df)  # residual mean square (SAS GLM "MSE")
        cov = sigma2 * xtx_inv
        q = sps.norm.ppf(1 - alpha / 2) if ci == "normal" else sps.t.ppf(1 - alpha / 2, df)

        def estimate(c: np.ndarray) -> dict:
            est, se = float(c @ beta), math.sqrt(float(c @ cov @ c))
            return {"est": est, "se": se, "lcl": est - q * se, "ucl": est + q * se, "t": est / se,
                    "p": 2 * sps.t.sf(abs(est / se), df)}

        lsmean_c = {name: np.r_[1.0, [float(name == a) for a in actives], b.mean()] for name in arms}
        out: dict = {"lsmeans": {}, "contrasts": {}, "trend": None}
        for name in arms:
            e = estimate(lsmean_c[name])
            out["lsmeans"][name] = stat_rows(arm_labels, {"lsmean": e["est"], "se": e["se"], "lcl": e["lcl"],
                                                          "ucl": e["ucl"], "n": n[name]})
        for name in actives:
            e = estimate(lsmean_c[name] - lsmean_c[control])  # = the arm's coefficient
            out["contrasts"][name] = stat_rows(contrast_labels, {"estimate": e["est"], "se": e["se"], "lcl": e["lcl"],
                                                                 "ucl": e["ucl"], "statistic": e["t"], "df": df,
                                                                 "p": e["p"], "rmse": math.sqrt(sigma2), **option})
        if doses:
            weights = np.asarray(doses, dtype=float) - np.mean(doses)  # linear trend contrast (e.g. SAS CONTRAST)
            e = estimate(sum(w * lsmean_c[name] for w, name in zip(weights, arms)))
            out["trend"] = stat_rows(trend_labels, {"estimate": e["est"], "se": e["se"], "lcl": e["lcl"],
                                                    "ucl": e["ucl"], "statistic": e["t"], "df": df, "p": e["p"]})
    except Exception as failure:  # a numerical failure of this model: recorded in its rows, the plan goes on
        return failed(error=error_text(failure))
    return out


def ancova(response, active, base, alpha: float = 0.05, groups: tuple[str, str] = ("active", "control"),
           ci: str = "t") -> dict[str, list[dict]]:
    """Two-arm ANCOVA (``ancova_arms``): ``active`` is 1 for the active arm, 0 for the control arm, anything else
    left out. Returns {"active": rows, "control": rows, "contrast": rows}."""
    code = np.asarray(active, dtype=float)
    names = np.where(code == 1.0, groups[0], np.where(code == 0.0, groups[1], None)).astype(object)
    fit = ancova_arms(response, names, base, (groups[0], groups[1]), alpha=alpha, ci=ci)
    return {"active": fit["lsmeans"][groups[0]], "control": fit["lsmeans"][groups[1]],
            "contrast": fit["contrasts"][groups[0]]}


GEE_LABELS = {"estimate": "Log odds ratio", "se": "Robust SE", "or": "Odds ratio", "lcl": "OR CI lower",
              "ucl": "OR CI upper", "p": "P-value (Wald, robust)", "n_subjects": "Subjects",
              "n_obs": "Observations (subject-visits)", "working_correlation": "Exchangeable working correlation",
              "scale": "Scale parameter (Pearson chi-square / N)",
              "iterations": "GEE iterations (after the independence start)", "converged": "GEE converged (1 = yes)"}


def gee_logistic(frame, alpha: float = 0.05, groups: tuple[str, str] = ("active", "control")) -> list[dict]:
    """GEE logistic model of a repeated binary response (``ucmsc.gee``, as R geepack::geeglm): logit P(y=1) = visit +
    active; exchangeable working correlation and scale by geepack's moment estimators, robust (sandwich) standard
    errors. Returns the odds ratio for active vs control, the working correlation, scale and iterations.

    Not estimable (an arm without an observed value or with one outcome only, no convergence, no finite estimate):
    the same rows, NaN except the counts (and the iterations and converged = 0 of a fit that did not converge),
    with a WARNING."""
    from ucmsc import gee

    labels = GEE_LABELS
    data = frame.dropna(subset=["AVAL"])
    fixed = {"n_subjects": float(data["USUBJID"].nunique()), "n_obs": float(len(data))}
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
    for visit, values in data.groupby("AVISITN")["AVAL"]:
        if not reason and values.nunique() < 2:  # separation by visit: geepack does not converge either
            reason = (f"not estimable: every observed value at AVISITN {visit:g} is {values.iloc[0]:g}, "
                      "so the visit effects are not finite")
    if reason:
        return stat_rows(labels, fixed, reason)
    try:
        fit = gee.fit_visit_arm(data)
        coef, se = fit.coefficient("arm")
    except gee.GeeNotEstimable as failure:
        return stat_rows(labels, fixed, f"not estimable: {failure}")
    except Exception as failure:  # a numerical failure of this model: recorded in its rows, the plan goes on
        return stat_rows(labels, fixed, error=error_text(failure))
    if not fit.converged:
        return stat_rows(labels, {**fixed, "iterations": fit.iterations, "converged": 0},
                         f"not estimable: the GEE fit did not converge in {fit.iterations} iterations "
                         f"(largest change in the last one {fit.max_change:.2g})")
    if not (math.isfinite(coef) and math.isfinite(se)):
        return stat_rows(labels, fixed, "not estimable: the GEE fit gave no finite odds ratio")
    z = sps.norm.ppf(1 - alpha / 2)  # Wald: (estimate / robust SE)^2 ~ chi-square(1), as geepack's summary
    values = {"estimate": coef, "se": se, "or": math.exp(coef), "lcl": math.exp(coef - z * se),
              "ucl": math.exp(coef + z * se), "p": 2 * sps.norm.sf(abs(coef / se)), "scale": fit.scale,
              "iterations": fit.iterations, "converged": 1, **fixed}
    if math.isnan(fit.alpha):  # no subject with two visits: nothing to estimate it from, independence was used
        return stat_rows(labels, values, "not estimable: no subject has two observed visits (independence used)")
    return stat_rows(labels, {**values, "working_correlation": fit.alpha})


def adjust_pvalues(pvalues) -> tuple[np.ndarray, np.ndarray]:
    """Holm (step-down) and Benjamini-Hochberg adjusted P-values, in the input order, as R p.adjust (and statsmodels
    multipletests, whose floating-point steps these are: its import alone costs 0.7 s per analysis job)."""
    p = np.asarray(pvalues, dtype=float)
    n = p.size
    order = np.argsort(p)
    ranked = p[order]
    holm, bh = np.empty(n), np.empty(n)
    # Holm (1979): max over j <= i of (n - j + 1) p_(j), at most 1
    holm[order] = np.minimum(np.maximum.accumulate((n - np.arange(n)) * ranked), 1)
    # Benjamini & Hochberg (1995): min over j >= i of p_(j) / (j / n), at most 1
    bh[order] = np.minimum(np.minimum.accumulate((ranked / (np.arange(1, n + 1) / n))[::-1])[::-1], 1)
    return holm, bh
