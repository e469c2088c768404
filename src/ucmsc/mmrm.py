"""Mixed model for repeated measures with an unstructured covariance, fitted by REML.

Model, for subject i at post-baseline visit k: CHG_ik = a_k + b_k * active_i + c_k * BASE_i + e_ik,
with e_i ~ N(0, Sigma_i), Sigma_i the rows and columns of one unstructured K x K matrix for
the visits subject i has. Missing visits are simply absent (missing at random).

How this differs from SAS PROC MIXED (TYPE=UN, DDFM=KR): the point estimates and the
REML covariance are the same model; SAS with Kenward-Roger inflates the covariance of the
fixed effects for the uncertainty in Sigma and takes Satterthwaite-type degrees of freedom.
Here the covariance is the model-based (X' Sigma^-1 X)^-1 and the degrees of freedom are
between-within: subjects minus the three between-subject parameters (intercept, arm,
baseline). With complete data both give exactly the per-visit ANCOVA; with missing
visits KR's standard errors are somewhat larger, so P-values here are slightly smaller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps


class MmrmNotEstimable(ValueError):
    """The model cannot be fitted to these data; the message says why in plain words."""


@dataclass
class MmrmFit:
    visits: list
    beta: np.ndarray
    cov_beta: np.ndarray
    sigma: np.ndarray
    n_subjects: int
    df: int
    converged: bool
    mean_base: float
    message: str = ""  # the optimizer's own words on how REML ended

    def _index(self, kind: str, k: int) -> int:
        return {"intercept": 0, "arm": 1, "base": 2}[kind] * len(self.visits) + k

    def contrast(self, k: int, alpha: float = 0.05) -> dict:
        """Active minus control at visit k, adjusted for baseline."""
        j = self._index("arm", k)
        estimate, se = self.beta[j], np.sqrt(self.cov_beta[j, j])
        t = estimate / se
        half = sps.t.ppf(1 - alpha / 2, self.df) * se
        return {"estimate": estimate, "se": se, "lcl": estimate - half, "ucl": estimate + half, "statistic": t,
                "df": self.df, "p": 2 * sps.t.sf(abs(t), self.df)}

    def lsmean(self, k: int, active: bool) -> tuple[float, float]:
        """Least-squares mean of one arm at visit k, at the mean baseline of the analysed subjects."""
        c = np.zeros(self.beta.size)
        c[self._index("intercept", k)] = 1.0
        c[self._index("arm", k)] = 1.0 if active else 0.0
        c[self._index("base", k)] = self.mean_base
        return float(c @ self.beta), float(np.sqrt(c @ self.cov_beta @ c))


def _design(active: np.ndarray, base: np.ndarray, visit_index: np.ndarray, n_visits: int) -> np.ndarray:
    x = np.zeros((active.size, 3 * n_visits))
    rows = np.arange(active.size)
    x[rows, visit_index] = 1.0
    x[rows, n_visits + visit_index] = active
    x[rows, 2 * n_visits + visit_index] = base
    return x


def fit_mmrm(data: pd.DataFrame, subject: str = "USUBJID", visit: str = "AVISITN", response: str = "CHG",
             active: str = "ACTIVE", base: str = "BASE") -> MmrmFit:
    """Fit the MMRM above by REML. ``data`` has one row per subject and post-baseline visit."""
    data = data.dropna(subset=[response, base]).sort_values([subject, visit])
    visits = sorted(data[visit].unique())
    k_all = len(visits)
    vidx = data[visit].map({v: i for i, v in enumerate(visits)}).to_numpy()
    x_all = _design(data[active].to_numpy(float), data[base].to_numpy(float), vidx, k_all)
    y_all = data[response].to_numpy(float)
    rank = np.linalg.matrix_rank(x_all)
    if rank < x_all.shape[1]:  # X' S^-1 X would be singular whatever S is
        raise MmrmNotEstimable(f"the model is singular (design rank {rank} of {x_all.shape[1]}: at some visit one arm "
                               "has no data, or baseline is constant or collinear with arm)")
    subjects = data[subject].to_numpy()
    # Group subjects by their pattern of observed visits: one Sigma block per pattern.
    starts = np.flatnonzero(np.r_[True, subjects[1:] != subjects[:-1]])
    ends = np.r_[starts[1:], subjects.size]
    by_pattern: dict[tuple, list[tuple[int, int]]] = {}
    for s, e in zip(starts, ends):
        by_pattern.setdefault(tuple(vidx[s:e]), []).append((s, e))
    blocks = []
    for pattern, spans in by_pattern.items():
        rows = np.concatenate([np.arange(s, e) for s, e in spans])
        n, k = len(spans), len(pattern)
        blocks.append((np.array(pattern), y_all[rows].reshape(n, k), x_all[rows].reshape(n, k, -1)))
    p = x_all.shape[1]
    tril = np.tril_indices(k_all)

    def sigma_of(theta: np.ndarray) -> np.ndarray:
        lower = np.zeros((k_all, k_all))
        lower[tril] = theta
        lower[np.diag_indices(k_all)] = np.exp(np.diag(lower))
        return lower @ lower.T

    def gls(sigma: np.ndarray):
        # Per pattern: X' S^-1 X and X' S^-1 y as single matrix products over all its subjects (BLAS, not loops).
        xtsx, xtsy, parts = np.zeros((p, p)), np.zeros(p), []
        for pattern, y, x in blocks:
            s_inv = np.linalg.inv(sigma[np.ix_(pattern, pattern)])
            xs = np.matmul(s_inv, x)  # (n, k, p): S^-1 X_i for every subject
            flat_x, flat_xs = x.reshape(-1, p), xs.reshape(-1, p)
            xtsx += flat_x.T @ flat_xs
            xtsy += flat_xs.T @ y.reshape(-1)
            parts.append((pattern, y, x, s_inv))
        return xtsx, xtsy, parts

    def minus_two_reml(theta: np.ndarray) -> float:
        sigma = sigma_of(theta)
        xtsx, xtsy, parts = gls(sigma)
        try:
            beta = np.linalg.solve(xtsx, xtsy)
        except np.linalg.LinAlgError:
            return np.inf
        total = np.linalg.slogdet(xtsx)[1]
        for pattern, y, x, s_inv in parts:
            r = y - x @ beta
            total += y.shape[0] * np.linalg.slogdet(sigma[np.ix_(pattern, pattern)])[1]
            total += float(((r @ s_inv) * r).sum())
        return float(total)

    start = np.zeros(len(tril[0]))
    diag_positions = [i for i, (r, c) in enumerate(zip(*tril)) if r == c]
    variances = data.groupby(visit)[response].var().reindex(visits).fillna(1.0).to_numpy()
    start[diag_positions] = 0.5 * np.log(np.maximum(variances, 1e-8))
    result = optimize.minimize(minus_two_reml, start, method="L-BFGS-B")
    sigma = sigma_of(result.x)
    xtsx, xtsy, _ = gls(sigma)
    cov_beta = np.linalg.inv(xtsx)
    beta = cov_beta @ xtsy
    n_subjects = int(data[subject].nunique())
    per_subject_base = data.drop_duplicates(subject)[base]
    return MmrmFit(visits=visits, beta=beta, cov_beta=cov_beta, sigma=sigma, n_subjects=n_subjects,
                   df=n_subjects - 3, converged=bool(result.success), mean_base=float(per_subject_base.mean()),
                   message=str(result.message))
