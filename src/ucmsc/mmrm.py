"""Mixed model for repeated measures (MMRM) fitted by REML, as SAS PROC MIXED with a REPEATED statement.

Model, for subject i at post-baseline visit k: CHG_ik = a_k + b_k * active_i + c_k * BASE_i + e_ik, with
e_i ~ N(0, Sigma_i), Sigma_i the rows and columns of one K x K matrix Sigma for the visits subject i has
(missing visits are absent: missing at random). SAS equivalent::

    PROC MIXED METHOD=REML; CLASS subject visit arm;
      MODEL CHG = visit visit*arm visit*BASE / NOINT DDFM=SATTERTHWAITE | KR;
      REPEATED visit / SUBJECT=subject TYPE=UN | CS;
      LSMEANS visit*arm / CL;

Covariance (``covariance``): ``unstructured`` (TYPE=UN, K(K+1)/2 parameters: the elements of Sigma,
in SAS order UN(1,1), UN(2,1), UN(2,2), ...) or ``compound-symmetry`` (TYPE=CS: CS = common covariance,
Residual; Sigma = CS * J + Residual * I). Both are linear in their parameters, as SAS parametrises them.

REML: L-BFGS on an unconstrained parametrisation (log-Cholesky for UN; log eigenvalues for CS) with the
analytic gradient, then Newton steps on the analytic gradient and observed Hessian of -2 log L_R in the
SAS parameters while the relative score max_j |d(-2RLL)/d theta_j| * scale_j / observations keeps falling
(scale_j: sqrt(Sigma_aa Sigma_bb) of the element). ``converged`` means: that score is below
``SCORE_TOLERANCE`` (1e-8, a score criterion, stricter than SAS's default relative-Hessian CONVH=1e-8)
and the Hessian is positive definite (a minimum). -2RLL includes (N - p) log(2 pi), as SAS's "-2 Res Log
Likelihood"; AIC = -2RLL + 2 x covariance parameters, as SAS.

Degrees of freedom and covariance of the fixed effects (``ddfm``):

- ``satterthwaite`` (SAS DDFM=SATTERTHWAITE): model-based covariance Phi = (X' V^-1 X)^-1; df =
  2 (c' Phi c)^2 / (g' A g), g_j = d(c' Phi c)/d theta_j, A = 2 H^-1 with H the observed Hessian of
  -2RLL (SAS: A from the second-derivative matrix of the likelihood).
- ``kenward-roger`` (SAS DDFM=KR, Kenward & Roger 1997, not KR2 / Kenward & Roger 2009): covariance
  Phi_A = Phi + 2 Phi {sum_ij W_ij (Q_ij - P_i Phi P_j - R_ij / 4)} Phi with W = A; R_ij = 0 because both
  structures are linear in their parameters, so KR and KR(FIRSTORDER) coincide here. For a single
  contrast the K&R df reduce to m = 2 (c' Phi c)^2 / (g' W g) with lambda = 1, Satterthwaite's formula on
  the unadjusted Phi: with the same W the df equal Satterthwaite's and only the SE differs.
  ``information="expected"`` takes W from the expected information instead, as R pbkrtest does.
- ``between-within``: df = subjects - 3, the residual df of one visit's ANCOVA, with model-based Phi. SAS
  DDFM=BETWITHIN with TYPE=UN also gives every fixed effect a between-subject df, but counts it from its
  own between-subject design (not checked against SAS); with TYPE=CS it gives effects that vary within a
  subject (all of these) the within-subject df instead.

With complete data and UN, GLS equals the per-visit ANCOVA (identical regressors at every visit), and both
Satterthwaite and KR give its df (n - 3) and SE exactly.

LS means are evaluated at the mean baseline over the analysis records (observation-weighted), as SAS
LSMEANS and R emmeans do; internally BASE is centred there, so each visit's intercept is the control LS mean.

Everything is computed from per-missing-data-pattern sufficient statistics (X'X, X'y, y'y blocks), built
once: an REML iteration and the Satterthwaite/KR matrices cost O(patterns x small matrices), not O(subjects).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import linalg, optimize
from scipy import stats as sps

COVARIANCE_TYPES = {"unstructured": "UN", "compound-symmetry": "CS"}
DDFM_METHODS = ("satterthwaite", "kenward-roger", "between-within")
INFORMATION = ("observed", "expected")
SCORE_TOLERANCE = 1e-8  # relative score: converged below it (module docstring)
NEWTON_TARGET = 1e-13  # Newton steps go on below SCORE_TOLERANCE while the score still halves, down to this
MAX_NEWTON = 50
LOG_2PI = float(np.log(2 * np.pi))


class MmrmNotEstimable(ValueError):
    """The model cannot be fitted to these data; the message says why in plain words."""


@dataclass
class MmrmFit:
    visits: list
    beta: np.ndarray  # per visit: intercept at the mean baseline (control LS mean), arm effect, baseline slope
    cov_beta: np.ndarray  # model-based Phi = (X' V^-1 X)^-1
    sigma: np.ndarray  # estimated K x K covariance
    theta: np.ndarray  # covariance parameters in SAS order
    covariance: str
    ddfm: str
    information: str
    n_subjects: int
    n_obs: int
    mean_base: float  # over the analysis records
    converged: bool
    max_score: float  # relative score at the estimate (module docstring)
    iterations: int  # L-BFGS iterations
    newton_iterations: int
    minus_two_rll: float
    hessian: np.ndarray = field(repr=False)  # observed Hessian of -2RLL in theta
    expected_information: np.ndarray = field(repr=False)  # E[Hessian of -2RLL] = tr(P V_i P V_j)
    m_matrices: np.ndarray = field(repr=False)  # M_j = X' V^-1 V_j V^-1 X = -P_j of K&R 1997
    q_matrices: np.ndarray = field(repr=False)  # Q_ij = X' V^-1 V_i V^-1 V_j V^-1 X
    message: str = ""

    @property
    def n_cov_params(self) -> int:
        return int(self.theta.size)

    @property
    def aic(self) -> float:
        return self.minus_two_rll + 2 * self.n_cov_params  # SAS "AIC (Smaller is Better)"

    @cached_property  # a fit is not changed after fit_mmrm; dataclasses.replace gives a new one
    def theta_cov(self) -> np.ndarray:
        """Asymptotic covariance of theta-hat: 2 x inverse (observed Hessian or expected information) of -2RLL."""
        info = self.hessian if self.information == "observed" else self.expected_information
        return 2 * np.linalg.inv(info)

    @cached_property
    def cov_beta_kr(self) -> np.ndarray:
        """Phi_A = Phi + 2 Phi {sum W_ij (Q_ij - P_i Phi P_j)} Phi (R_ij = 0): Kenward & Roger 1997's adjusted
        estimator, as SAS documents it ("Kenward-Roger Degrees of Freedom Approximation") and pbkrtest's vcovAdj
        computes it."""
        phi, m, w = self.cov_beta, self.m_matrices, self.theta_cov
        lam = np.einsum("ij,ijpq->pq", w, self.q_matrices) - np.einsum("ij,ipr,rs,jsq->pq", w, m, phi, m)
        return phi + 2 * phi @ lam @ phi

    def _index(self, kind: str, k: int) -> int:
        return {"intercept": 0, "arm": 1, "base": 2}[kind] * len(self.visits) + k

    def df(self, c: np.ndarray) -> float:
        if self.ddfm == "between-within":
            return float(self.n_subjects - 3)
        # SAS DDFM=SATTERTHWAITE (Fai & Cornelius 1996); equally K&R 1997 for one contrast (A1 = A2, m = 2 / A2,
        # lambda = 1): 2 (c' Phi c)^2 / (g' W g), g_j = d(c' Phi c)/d theta_j = c' Phi M_j Phi c.
        phi_c = self.cov_beta @ c
        g = np.einsum("p,jpq,q->j", phi_c, self.m_matrices, phi_c)
        return float(2 * (c @ phi_c) ** 2 / (g @ self.theta_cov @ g))

    def estimate(self, c: np.ndarray, alpha: float = 0.05) -> dict:
        """c' beta with its SE (KR-adjusted under DDFM=KR), df, t, P and the (1 - alpha) CI."""
        cov = self.cov_beta_kr if self.ddfm == "kenward-roger" else self.cov_beta
        estimate, se, df = float(c @ self.beta), float(np.sqrt(c @ cov @ c)), self.df(c)
        t = estimate / se
        half = sps.t.ppf(1 - alpha / 2, df) * se
        return {"estimate": estimate, "se": se, "lcl": estimate - half, "ucl": estimate + half, "statistic": t,
                "df": df, "p": float(2 * sps.t.sf(abs(t), df))}

    def contrast(self, k: int, alpha: float = 0.05) -> dict:
        """Active minus control at visit k, adjusted for baseline."""
        c = np.zeros(self.beta.size)
        c[self._index("arm", k)] = 1.0
        return self.estimate(c, alpha)

    def lsmean(self, k: int, active: bool, alpha: float = 0.05, base: float | None = None) -> dict:
        """LS mean of one arm at visit k, at ``base`` (default: the mean baseline over the analysis records)."""
        c = np.zeros(self.beta.size)
        c[self._index("intercept", k)] = 1.0
        c[self._index("arm", k)] = 1.0 if active else 0.0
        c[self._index("base", k)] = 0.0 if base is None else base - self.mean_base
        out = self.estimate(c, alpha)
        return {"lsmean": out["estimate"], "se": out["se"], "lcl": out["lcl"], "ucl": out["ucl"], "df": out["df"]}


def covariance_basis(covariance: str, n_visits: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """E_j = d Sigma / d theta_j (q x K x K) in SAS order, and one representative (row, col) element per parameter."""
    if covariance == "unstructured":
        rows, cols = np.tril_indices(n_visits)  # UN(1,1), UN(2,1), UN(2,2), UN(3,1), ...
        basis = np.zeros((rows.size, n_visits, n_visits))
        basis[np.arange(rows.size), rows, cols] = 1.0
        basis[np.arange(rows.size), cols, rows] = 1.0
        return basis, list(zip(rows.tolist(), cols.tolist()))
    if covariance == "compound-symmetry":  # CS (common covariance), Residual
        return np.stack([np.ones((n_visits, n_visits)), np.eye(n_visits)]), [(1, 0), (0, 0)]
    raise ValueError(f"unknown covariance {covariance!r}: one of {', '.join(COVARIANCE_TYPES)}")


def _design(active: np.ndarray, base: np.ndarray, visit_index: np.ndarray, n_visits: int) -> np.ndarray:
    x = np.zeros((active.size, 3 * n_visits))
    rows = np.arange(active.size)
    x[rows, visit_index] = 1.0
    x[rows, n_visits + visit_index] = active
    x[rows, 2 * n_visits + visit_index] = base
    return x


@dataclass
class _Block:
    """One missing-data pattern: its visits and the sums over its subjects of x_ik x_il', x_ik y_il, y_ik y_il."""
    visits: np.ndarray
    n: int
    xx: np.ndarray  # (k, p, k, p)
    xy: np.ndarray  # (k, p, k)
    yy: np.ndarray  # (k, k)


def _blocks(y: np.ndarray, x: np.ndarray, subjects: np.ndarray, vidx: np.ndarray) -> list[_Block]:
    """Group the (subject, visit)-sorted records by their subject's pattern of visits (vectorised)."""
    starts = np.flatnonzero(np.r_[True, subjects[1:] != subjects[:-1]])
    codes = np.add.reduceat(np.left_shift(1, vidx.astype(np.int64)), starts)  # visit set as a bit mask
    per_record = np.repeat(codes, np.diff(np.r_[starts, subjects.size]))
    p = x.shape[1]
    blocks = []
    for code in np.unique(codes):
        rows = np.flatnonzero(per_record == code)
        visits = np.flatnonzero([(int(code) >> v) & 1 for v in range(int(code).bit_length())])
        n, k = rows.size // visits.size, visits.size
        xs, ys = x[rows].reshape(n, k * p), y[rows].reshape(n, k)
        blocks.append(_Block(visits, n, (xs.T @ xs).reshape(k, p, k, p), (xs.T @ ys).reshape(k, p, k), ys.T @ ys))
    return blocks


class _Reml:
    """-2 log L_R and its derivatives in the SAS parameters theta (Sigma = sum_j theta_j E_j)."""

    def __init__(self, blocks: list[_Block], basis: np.ndarray, n_obs: int, p: int):
        self.blocks, self.basis, self.n_obs, self.p = blocks, basis, n_obs, p

    def sigma(self, theta: np.ndarray) -> np.ndarray:
        return np.einsum("j,jab->ab", theta, self.basis)

    def _gls(self, sigma: np.ndarray):
        """GLS on the sufficient statistics; raises LinAlgError when a pattern's Sigma is not positive definite."""
        p = self.p
        xtwx, xtwy, ywy, logdet, inverses = np.zeros((p, p)), np.zeros(p), 0.0, 0.0, []
        for b in self.blocks:
            chol = np.linalg.cholesky(sigma[np.ix_(b.visits, b.visits)])
            w = linalg.cho_solve((chol, True), np.eye(b.visits.size))
            logdet += 2 * b.n * np.log(np.diag(chol)).sum()
            xtwx += np.einsum("kl,kplq->pq", w, b.xx)
            xtwy += np.einsum("kl,kpl->p", w, b.xy)
            ywy += float((w * b.yy).sum())
            inverses.append(w)
        chol = np.linalg.cholesky(xtwx)
        phi = linalg.cho_solve((chol, True), np.eye(p))
        beta = phi @ xtwy
        f = logdet + 2 * np.log(np.diag(chol)).sum() + ywy - beta @ xtwy + (self.n_obs - p) * LOG_2PI
        return f, beta, phi, inverses

    def value(self, theta: np.ndarray) -> float:
        """-2RLL, or inf where Sigma is not positive definite (as the Cholesky parametrisation of the optimizer)."""
        sigma = self.sigma(theta)
        try:
            np.linalg.cholesky(sigma)
            return float(self._gls(sigma)[0])
        except np.linalg.LinAlgError:
            return np.inf

    def matrix_gradient(self, sigma: np.ndarray):
        """-2RLL and G with d(-2RLL) = tr(G dSigma): per pattern n W - W (sum r r' + sum X Phi X') W."""
        f, beta, phi, inverses = self._gls(sigma)
        grad = np.zeros_like(sigma)
        for b, w in zip(self.blocks, inverses):
            rr = _residual_cross(b, beta)
            c = np.einsum("pq,kplq->kl", phi, b.xx)
            grad[np.ix_(b.visits, b.visits)] += b.n * w - w @ (rr + c) @ w
        return f, grad

    def derivatives(self, theta: np.ndarray) -> dict:
        """Value, score, observed Hessian and expected information of -2RLL, and K&R's M_j and Q_ij (linear Sigma).

        With P = V^-1 - V^-1 X Phi X' V^-1 and V_j = dV/dtheta_j (constant): score tr(P V_j) - y'P V_j P y; expected
        information tr(P V_i P V_j); observed Hessian -tr(P V_i P V_j) + 2 y'P V_i P V_j P y (the REML derivatives
        of Searle, Casella & McCulloch 1992, ch. 6, for a covariance linear in theta). Each trace is summed per
        pattern from Sigma_S^-1, the pattern's sum of r r' and of X Phi X', and X'X blocks.
        """
        sigma = self.sigma(theta)
        f, beta, phi, inverses = self._gls(sigma)
        q, p = self.basis.shape[0], self.p
        grad = np.zeros_like(sigma)
        m, qq = np.zeros((q, p, p)), np.zeros((q, q, p, p))
        info_w, info_c, quad, a = np.zeros((q, q)), np.zeros((q, q)), np.zeros((q, q)), np.zeros((q, p))
        for b, w in zip(self.blocks, inverses):
            d = self.basis[:, b.visits][:, :, b.visits]  # (q, k, k)
            rr = _residual_cross(b, beta)
            c = np.einsum("pq,kplq->kl", phi, b.xx)  # sum_i X_i Phi X_i'
            grad[np.ix_(b.visits, b.visits)] += b.n * w - w @ (rr + c) @ w
            wd = w @ d
            wdw = wd @ w
            m += np.einsum("jkl,kplq->jpq", wdw, b.xx)
            qq += np.einsum("jlkm,kpmq->jlpq", np.einsum("jab,lbc->jlac", wd, wdw), b.xx)
            info_w += b.n * np.einsum("jab,lba->jl", wd, wd)  # tr(W D_i W D_j)
            info_c += np.einsum("jab,lba->jl", wd, w @ c @ wd)  # tr(W D_i W C W D_j)
            quad += np.einsum("jab,lba->jl", d @ w, d @ (w @ rr @ w))  # r'W D_i W D_j W r
            xr = b.xy - np.einsum("kplq,q->kpl", b.xx, beta)  # sum_i x_ik r_il
            a += np.einsum("jkl,kpl->jp", wdw, xr)  # X' V^-1 V_j V^-1 r
        phi_m = phi @ m
        expected = info_w - 2 * info_c + np.einsum("jab,lba->jl", phi_m, phi_m)
        hessian = -expected + 2 * (quad - a @ phi @ a.T)
        score = np.einsum("jab,ab->j", self.basis, grad)
        return {"f": f, "beta": beta, "phi": phi, "sigma": sigma, "score": score, "hessian": hessian,
                "expected": expected, "m": m, "q": qq}

    def relative_score(self, score: np.ndarray, sigma: np.ndarray, elements: list[tuple[int, int]]) -> float:
        scale = np.array([np.sqrt(sigma[r, r] * sigma[c, c]) for r, c in elements])
        return float(np.max(np.abs(score) * scale) / self.n_obs)


def _residual_cross(b: _Block, beta: np.ndarray) -> np.ndarray:
    """sum_i r_i r_i' of one pattern from its sufficient statistics."""
    xb = np.einsum("p,kpl->kl", beta, b.xy)  # sum_i (x_ik' beta) y_il
    return b.yy - xb - xb.T + np.einsum("p,kplq,q->kl", beta, b.xx, beta)


def _unconstrained(covariance: str, n_visits: int):
    """(phi -> theta, d theta-gradient chain, start from per-visit variances): L-BFGS works on phi."""
    if covariance == "unstructured":
        tril = np.tril_indices(n_visits)
        diag = tril[0] == tril[1]

        def lower(phi):
            chol = np.zeros((n_visits, n_visits))
            chol[tril] = np.where(diag, np.exp(phi), phi)
            return chol

        def to_theta(phi):
            chol = lower(phi)
            return (chol @ chol.T)[tril]

        def chain(phi, grad_matrix):  # d f / d L = 2 G L; log-diagonal
            chol = lower(phi)
            d = (2 * grad_matrix @ chol)[tril]
            return np.where(diag, d * chol[tril], d)

        return to_theta, chain, lambda variances: np.where(diag, 0.5 * np.log(variances)[tril[0]], 0.0)

    # CS through its eigenvalues: within = Residual, between = Residual + K * CS, both positive.
    def to_theta(phi):
        within, between = np.exp(phi)
        return np.array([(between - within) / n_visits, within])

    def chain(phi, grad_matrix):
        within, between = np.exp(phi)
        g_cs = grad_matrix.sum()
        return np.array([(np.trace(grad_matrix) - g_cs / n_visits) * within, g_cs / n_visits * between])

    return to_theta, chain, lambda variances: np.log(np.repeat(variances.mean(), 2))


def fit_mmrm(data: pd.DataFrame, subject: str = "USUBJID", visit: str = "AVISITN", response: str = "CHG",
             active: str = "ACTIVE", base: str = "BASE", covariance: str = "unstructured", ddfm: str = "satterthwaite",
             information: str = "observed") -> MmrmFit:
    """Fit the MMRM above by REML. ``data`` has one row per subject and post-baseline visit."""
    if ddfm not in DDFM_METHODS:
        raise ValueError(f"unknown ddfm {ddfm!r}: one of {', '.join(DDFM_METHODS)}")
    if information not in INFORMATION:
        raise ValueError(f"unknown information {information!r}: one of {', '.join(INFORMATION)}")
    data = data.dropna(subset=[response, base, active]).sort_values([subject, visit], kind="mergesort")
    twice = data.duplicated([subject, visit])
    if twice.any():
        first = data[twice].iloc[0]
        raise MmrmNotEstimable(f"{int(twice.sum())} records repeat a subject's visit (one record per subject and visit "
                               f"needed; e.g. {first[subject]} at visit {first[visit]})")
    visits = sorted(data[visit].unique())
    k_all = len(visits)
    vidx = data[visit].map({v: i for i, v in enumerate(visits)}).to_numpy()
    base_values = data[base].to_numpy(float)
    mean_base = float(base_values.mean())  # observation-weighted, as SAS LSMEANS and emmeans
    y = data[response].to_numpy(float)
    y_mean = np.bincount(vidx, weights=y, minlength=k_all) / np.bincount(vidx, minlength=k_all)
    x = _design(data[active].to_numpy(float), base_values - mean_base, vidx, k_all)
    rank = np.linalg.matrix_rank(x)
    if rank < x.shape[1]:  # X' S^-1 X would be singular whatever S is
        raise MmrmNotEstimable(f"the model is singular (design rank {rank} of {x.shape[1]}: at some visit one arm "
                               "has no data, or baseline is constant or collinear with arm)")
    basis, elements = covariance_basis(covariance, k_all)
    model = _Reml(_blocks(y - y_mean[vidx], x, data[subject].to_numpy(), vidx), basis, y.size, x.shape[1])
    to_theta, chain, start = _unconstrained(covariance, k_all)

    def objective(phi):
        with np.errstate(all="ignore"):  # a trial step far out: overflow means "worse", not an error
            try:
                f, grad = model.matrix_gradient(model.sigma(to_theta(phi)))
                gradient = chain(phi, grad)
            except (np.linalg.LinAlgError, ValueError):
                return 1e300, np.zeros_like(phi)
        return (f, gradient) if np.isfinite(f) and np.all(np.isfinite(gradient)) else (1e300, np.zeros_like(phi))

    variances = np.maximum(pd.Series(y).groupby(vidx).var().reindex(range(k_all)).fillna(1.0).to_numpy(), 1e-8)
    result = optimize.minimize(objective, start(variances), jac=True, method="L-BFGS-B")
    theta, newton, previous = to_theta(result.x), 0, np.inf
    at = model.derivatives(theta)
    while True:  # Newton steps until the score stops falling (machine precision) or MAX_NEWTON
        score = model.relative_score(at["score"], at["sigma"], elements)
        curved = _positive_definite(at["hessian"])
        stalled = curved and score <= SCORE_TOLERANCE and (score <= NEWTON_TARGET or score > previous / 2)
        if stalled or newton == MAX_NEWTON:
            break
        # Newton step; Fisher scoring (expected information) where the Hessian is not positive definite.
        try:
            step = np.linalg.solve(at["hessian"] if curved else at["expected"], at["score"])
        except np.linalg.LinAlgError:
            break
        for halving in range(40):
            trial = theta - step / 2 ** halving
            if model.value(trial) <= at["f"] + 1e-12 * max(1.0, abs(at["f"])):
                break
        else:
            break
        theta, newton, previous = trial, newton + 1, score
        at = model.derivatives(theta)
    converged = curved and score <= SCORE_TOLERANCE
    eigen = np.linalg.eigvalsh(at["sigma"])
    if converged:
        message = ""
    elif eigen[0] < 1e-8 * eigen[-1]:
        message = (f"the estimated covariance matrix is singular (eigenvalues {eigen[0]:.1e} to {eigen[-1]:.1e}): the "
                   "REML optimum is on the boundary, e.g. too few subjects at a visit for this covariance structure")
    elif curved:
        message = f"max relative score {score:.1e} above the tolerance {SCORE_TOLERANCE:g} after {newton} Newton steps"
    else:
        message = "the REML Hessian is not positive definite where the optimizer stopped (not a minimum)"
    beta = at["beta"].copy()
    beta[:k_all] += y_mean  # the response was centred by visit: only the intercepts move
    return MmrmFit(visits=visits, beta=beta, cov_beta=at["phi"], sigma=at["sigma"], theta=theta, covariance=covariance,
                   ddfm=ddfm, information=information, n_subjects=int(data[subject].nunique()), n_obs=int(y.size),
                   mean_base=mean_base, converged=converged, max_score=score, iterations=int(result.nit),
                   newton_iterations=newton, minus_two_rll=float(at["f"]), hessian=at["hessian"],
                   expected_information=at["expected"], m_matrices=at["m"], q_matrices=at["q"], message=message)


def _positive_definite(matrix: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return True
