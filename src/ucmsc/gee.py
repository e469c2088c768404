"""GEE logistic regression with an exchangeable working correlation, estimated as R geepack (geeglm) does.

Model (Liang & Zeger 1986): for subject i at post-baseline visit j, logit P(y_ij = 1) = x_ij' beta with
x_ij = (1, active_i, one dummy per visit after the first); Var(y_ij) = phi mu_ij (1 - mu_ij); within a subject
Corr(y_ij, y_ik) = alpha (j != k); subjects independent. Missing visits are simply absent.

Nuisance parameters, by geepack's moment estimators (geepack src/gee2.cc update_gamma and update_alpha; Halekoh,
Hojsgaard & Yan 2006), with r_ij = (y_ij - mu_ij) / sqrt(mu_ij (1 - mu_ij)) the Pearson residual:

- scale       phi   = sum_ij r_ij^2 / N                                   (N observations; no "- p")
- correlation alpha = sum_i sum_{j<k} r_ij r_ik / (phi * sum_i n_i (n_i - 1) / 2)

alpha is one pooled mean over every within-subject pair of visits (not a mean of per-subject means), so a subject
with n_i visits weighs n_i (n_i - 1) / 2 pairs; a subject with one visit adds no pair but counts in N, in phi
and in beta. SAS PROC GENMOD documents the same sums divided by N - p and by (pairs - p) instead (SAS/STAT
GENMOD, "Generalized Estimating Equations": "Working Correlation Matrix", "Dispersion Parameter"), as statsmodels'
GEE does by default: that changes alpha, and through it beta, by O(p / N).

The scale cancels from the beta update and from the sandwich (both divide by phi once in the "bread" and twice
in the "meat"): it enters the estimates only through alpha.

Iterations as geepack's gee_est: start at the independence logistic fit (glm), alpha = 0, phi = mean r^2; then
repeat one Fisher-scoring step for beta at the current alpha, phi and alpha from the new beta; stop when the
largest absolute change of beta, phi and alpha in one iteration is below TOLERANCE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

TOLERANCE = 1e-10  # largest |change| of any of beta, phi, alpha in one iteration
MAX_ITERATIONS = 200


class GeeNotEstimable(ValueError):
    """The model cannot be fitted to these data; the message says why in plain words."""


@dataclass
class GeeFit:
    names: list[str]  # "intercept", "arm", "visit_<AVISITN>" for each visit after the first
    beta: np.ndarray
    cov_robust: np.ndarray  # sandwich H^-1 (sum_i U_i U_i') H^-1, no small-sample factor (as geepack's san.se)
    alpha: float  # NaN when no subject has two visits (independence is then used)
    scale: float
    n_obs: int
    n_subjects: int
    iterations: int
    converged: bool
    max_change: float  # largest |change| of beta, phi, alpha in the last iteration

    def coefficient(self, name: str) -> tuple[float, float]:
        """Estimate and robust SE of one coefficient."""
        k = self.names.index(name)
        return float(self.beta[k]), float(np.sqrt(self.cov_robust[k, k]))


class _Clusters:
    """Rows sorted by subject; sums within each subject by np.add.reduceat (vectorised, no loop over subjects)."""

    def __init__(self, subjects: np.ndarray):
        self.starts = np.flatnonzero(np.r_[True, subjects[1:] != subjects[:-1]])
        self.sizes = np.diff(np.r_[self.starts, subjects.size])
        self.pairs = float((self.sizes * (self.sizes - 1) / 2).sum())

    def sum(self, values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, self.starts, axis=0)


def _state(beta: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Pearson residuals r and standardised derivatives D = A^-1/2 dmu/dbeta = sqrt(v) x (logit link, v = mu(1-mu))."""
    mu = expit(x @ beta)
    root_v = np.sqrt(mu * (1.0 - mu))
    if not np.all(root_v > 0.0):
        raise GeeNotEstimable("a fitted probability reached 0 or 1 (separation), so the estimates are not finite")
    return (y - mu) / root_v, root_v[:, None] * x


def _scores(r: np.ndarray, d: np.ndarray, alpha: float, clusters: _Clusters):
    """Per-subject U_i = D_i' R_i^-1 r_i and H = sum_i D_i' R_i^-1 D_i for the exchangeable R_i (Liang & Zeger 1986).

    R_i = (1 - alpha) I + alpha 1 1', so by Sherman-Morrison R_i^-1 = (I - c_i 1 1') / (1 - alpha) with
    c_i = alpha / (1 + (n_i - 1) alpha): no matrix is inverted, subjects of every size in one pass."""
    c = alpha / (1.0 + (clusters.sizes - 1) * alpha)
    d_sum, r_sum = clusters.sum(d), clusters.sum(r)  # 1'D_i (subjects x p), 1'r_i
    u = (clusters.sum(d * r[:, None]) - (c * r_sum)[:, None] * d_sum) / (1.0 - alpha)
    h = (d.T @ d - (d_sum * c[:, None]).T @ d_sum) / (1.0 - alpha)
    return u, h


def _nuisance(r: np.ndarray, clusters: _Clusters) -> tuple[float, float]:
    """phi = sum r^2 / N; alpha = sum over within-subject pairs of r_ij r_ik / (phi * pairs) (geepack gee2.cc)."""
    phi = float(r @ r) / r.size
    if clusters.pairs == 0:
        return phi, 0.0
    r_sum = clusters.sum(r)
    cross = float((r_sum ** 2 - clusters.sum(r * r)).sum()) / 2.0  # sum_i sum_{j<k} r_ij r_ik
    return phi, cross / (phi * clusters.pairs)


def _solve(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(h, g)
    except np.linalg.LinAlgError:
        raise GeeNotEstimable("the information matrix became singular "
                              "(do the outcomes separate by visit or arm?)") from None


def _check_alpha(alpha: float, max_size: int) -> None:
    # R_i is positive definite only for -1 / (n_i - 1) < alpha < 1
    if not (np.isfinite(alpha) and alpha < 1.0 and 1.0 + (max_size - 1) * alpha > 0.0):
        raise GeeNotEstimable(f"the exchangeable working correlation left its valid range (alpha = {alpha:.4g})")


def fit_exchangeable_logistic(y: np.ndarray, x: np.ndarray, subjects: np.ndarray, names: list[str],
                              tolerance: float | None = None, max_iterations: int | None = None) -> GeeFit:
    """Fit the GEE above. Rows must be grouped by subject (each subject's rows contiguous)."""
    tolerance = TOLERANCE if tolerance is None else tolerance
    max_iterations = MAX_ITERATIONS if max_iterations is None else max_iterations
    clusters = _Clusters(np.asarray(subjects))
    if len(np.unique(subjects)) != clusters.starts.size:
        raise ValueError("rows are not grouped by subject")
    rank = np.linalg.matrix_rank(x)
    if rank < x.shape[1]:
        raise GeeNotEstimable(f"the model is singular (design rank {rank} of {x.shape[1]})")
    # Start: independence logistic regression (what geepack takes from glm.fit), by Fisher scoring.
    beta = np.zeros(x.shape[1])
    for _ in range(max_iterations):
        r, d = _state(beta, x, y)
        step = _solve(d.T @ d, d.T @ r)
        beta = beta + step
        if np.max(np.abs(step)) < tolerance:
            break
    r, _ = _state(beta, x, y)
    phi, alpha = float(r @ r) / r.size, 0.0
    converged, change, iterations = False, np.inf, 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (the count is read after the loop)
        u, h = _scores(*_state(beta, x, y), alpha, clusters)
        step = _solve(h, u.sum(axis=0))
        beta = beta + step  # Fisher scoring: beta + H^-1 sum_i U_i (phi cancels)
        if not np.all(np.isfinite(beta)):
            raise GeeNotEstimable("the GEE fit diverged (a coefficient is not finite)")
        r, _ = _state(beta, x, y)
        new_phi, new_alpha = _nuisance(r, clusters)
        _check_alpha(new_alpha, int(clusters.sizes.max()))
        change = max(float(np.max(np.abs(step))), abs(new_phi - phi), abs(new_alpha - alpha))
        phi, alpha = new_phi, new_alpha
        if change < tolerance:
            converged = True
            break
    r, d = _state(beta, x, y)
    u, h = _scores(r, d, alpha, clusters)
    bread = np.linalg.inv(h)
    cov = bread @ (u.T @ u) @ bread  # robust sandwich V_G (Liang & Zeger 1986, theorem 2), geepack's vbeta
    return GeeFit(names=names, beta=beta, cov_robust=cov, alpha=alpha if clusters.pairs else float("nan"),
                  scale=phi, n_obs=int(y.size), n_subjects=int(clusters.starts.size), iterations=iterations,
                  converged=converged, max_change=change)


def fit_visit_arm(frame: pd.DataFrame, subject: str = "USUBJID", visit: str = "AVISITN", response: str = "AVAL",
                  active: str = "ACTIVE", **options) -> GeeFit:
    """logit P(response = 1) = intercept + arm + visit, visit a factor with the first visit as reference."""
    data = frame.dropna(subset=[response]).sort_values([subject, visit], kind="stable")
    visits = sorted(data[visit].unique())
    x = np.column_stack([np.ones(len(data)), data[active].to_numpy(float)]
                        + [(data[visit] == v).to_numpy(float) for v in visits[1:]])
    names = ["intercept", "arm"] + [f"visit_{v:g}" for v in visits[1:]]
    return fit_exchangeable_logistic(data[response].to_numpy(float), x, data[subject].to_numpy(), names, **options)
