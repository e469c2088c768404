import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from ucmsc.mmrm import fit_mmrm

VISITS = [9, 20, 48]
SIGMA = [[1.0, 0.6, 0.4], [0.6, 1.2, 0.7], [0.4, 0.7, 1.5]]


def _trial(seed: int, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(8, 2, n)
    active = np.repeat([1.0, 0.0], n // 2)
    rows = []
    for i in range(n):
        errors = rng.multivariate_normal(np.zeros(3), SIGMA)
        for k, visit in enumerate(VISITS):
            rows.append((f"S{i}", visit, -0.5 * active[i] * (k + 1) - 0.3 * (base[i] - 8) + errors[k], active[i], base[i]))
    return pd.DataFrame(rows, columns=["USUBJID", "AVISITN", "CHG", "ACTIVE", "BASE"])


def test_complete_data_reproduces_per_visit_ancova_exactly():
    # With complete data and the same covariates at each visit, GLS with any covariance equals
    # OLS visit by visit (seemingly unrelated regressions with identical regressors), and the
    # REML variance of each visit equals the ANCOVA residual variance.
    data = _trial(0)
    fit = fit_mmrm(data)
    assert fit.converged
    for k, visit in enumerate(VISITS):
        ols = smf.ols("CHG ~ ACTIVE + BASE", data[data["AVISITN"] == visit]).fit()
        contrast = fit.contrast(k)
        assert np.isclose(contrast["estimate"], ols.params["ACTIVE"], rtol=1e-8)
        assert np.isclose(contrast["se"], ols.bse["ACTIVE"], rtol=1e-4)
        assert contrast["df"] == ols.df_resid


def test_missing_visits_use_the_correlation_and_recover_the_truth():
    data = _trial(1, n=400)
    rng = np.random.default_rng(2)
    dropped = data[(data["AVISITN"] == 48) & (rng.random(len(data)) < 0.3)].index
    fit = fit_mmrm(data.drop(dropped))
    assert fit.converged
    assert np.allclose(fit.sigma, SIGMA, atol=0.25)
    assert abs(fit.contrast(2)["estimate"] - (-1.5)) < 3 * fit.contrast(2)["se"]
