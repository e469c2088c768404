import numpy as np
import pytest

from ucmsc_sim.calibrate import assign_below_threshold, calibrate_mean_sd


@pytest.mark.parametrize("mean, sd, n, decimals", [(8.33, 1.80, 33, 2), (9.10, 2.78, 31, 2), (51.36, 8.85, 33, 0)])
def test_calibrated_sample_rounds_to_the_targets(mean, sd, n, decimals):
    rng = np.random.default_rng(1)
    values = calibrate_mean_sd(rng.normal(0, 1, n), mean, sd, value_decimals=decimals)
    assert f"{values.mean():.2f}" == f"{mean:.2f}"
    assert f"{values.std(ddof=1):.2f}" == f"{sd:.2f}"
    assert np.allclose(values, np.round(values, decimals))  # still recorded at site precision


def test_calibration_keeps_ranks_so_visit_correlation_survives():
    rng = np.random.default_rng(2)
    raw = rng.normal(0, 1, 40)
    values = calibrate_mean_sd(raw, 7.5, 1.8, value_decimals=2)
    assert np.corrcoef(raw, values)[0, 1] > 0.99


def test_exact_count_below_threshold():
    rng = np.random.default_rng(3)
    values = assign_below_threshold(rng.normal(7.3, 1.0, 33), 20, 7.0, rng)
    assert (values < 7.0).sum() == 20
