"""Make a simulated sample hit published summary statistics exactly, at published rounding."""

from __future__ import annotations

import numpy as np

from ucmsc.rounding import round_half_up


def _summary_matches(values: np.ndarray, mean: float, sd: float, stat_decimals: int) -> tuple[bool, bool]:
    mean_ok = round_half_up(values.mean(), stat_decimals) == round_half_up(mean, stat_decimals)
    sd_ok = round_half_up(values.std(ddof=1), stat_decimals) == round_half_up(sd, stat_decimals)
    return mean_ok, sd_ok


def calibrate_mean_sd(
    values: np.ndarray,
    mean: float,
    sd: float,
    value_decimals: int,
    stat_decimals: int = 2,
    lower: float = -np.inf,
    max_steps: int = 5000,
) -> np.ndarray:
    """Return ``values`` moved so that mean and SD (ddof=1) round to the targets.

    The values are mapped affinely onto the target mean and SD (this keeps their ranks,
    so correlation with other visits survives), rounded to the recording precision
    ``value_decimals``, and then nudged one recording unit at a time: single values near
    the mean to fix the mean, and pairs moved in opposite directions (sum unchanged) to
    fix the SD. Raises ``ValueError`` if no solution is found within ``max_steps``.
    """
    x = np.asarray(values, dtype=float)
    n = x.size
    if n < 2:
        raise ValueError("need at least two values to calibrate a standard deviation")
    step = 10.0 ** -value_decimals
    z = (x - x.mean()) / x.std(ddof=1)
    y = np.round(mean + sd * z, value_decimals)
    y = np.maximum(y, lower)
    for _ in range(max_steps):
        mean_ok, sd_ok = _summary_matches(y, mean, sd, stat_decimals)
        if mean_ok and sd_ok:
            return np.round(y, value_decimals)
        if not mean_ok:
            direction = 1.0 if y.mean() < mean else -1.0
            i = int(np.argmin(np.abs(y - y.mean())))
            y[i] = round(y[i] + direction * step, value_decimals)
            continue
        # SD off: move a pair (i up, j down); change in sum of squares = 2s(x_i - x_j) + 2s^2.
        centred_ss = ((y - y.mean()) ** 2).sum()
        needed = sd**2 * (n - 1) - centred_ss
        delta = 2 * step * (y[:, None] - y[None, :]) + 2 * step**2
        np.fill_diagonal(delta, np.inf)
        delta[:, y - step < lower] = np.inf  # never push a value below its bound
        i, j = np.unravel_index(np.argmin(np.abs(delta - needed)), delta.shape)
        y[i] = round(y[i] + step, value_decimals)
        y[j] = round(y[j] - step, value_decimals)
    raise ValueError(f"could not calibrate to mean {mean} and SD {sd} in {max_steps} steps")


def assign_below_threshold(values: np.ndarray, count: int, threshold: float, rng: np.random.Generator,
                           decimals: int = 1) -> np.ndarray:
    """Return ``values`` with exactly ``count`` of them below ``threshold``.

    The ``count`` lowest values (by rank, so the subject-level correlation is kept) are
    placed below the threshold and the others at or above it, each moved only as far as
    needed plus a small random margin.
    """
    x = np.asarray(values, dtype=float).copy()
    if not 0 <= count <= x.size:
        raise ValueError(f"count {count} outside 0..{x.size}")
    order = np.argsort(x, kind="stable")
    unit = 10.0 ** -decimals
    below, above = order[:count], order[count:]
    margin_below = rng.integers(1, 6, size=below.size) * unit
    margin_above = rng.integers(0, 5, size=above.size) * unit
    x[below] = np.minimum(x[below], threshold - margin_below)
    x[above] = np.maximum(x[above], threshold + margin_above)
    return np.round(x, decimals)


def pair_for_paired_p(baseline: np.ndarray, follow_up: np.ndarray, target_p: float, rng: np.random.Generator,
                      decimals: int = 3, max_swaps: int = 20000) -> np.ndarray:
    """Reorder ``follow_up`` among subjects so the paired t-test against ``baseline`` gives ``target_p`` (at
    ``decimals``).

    Swapping two subjects' follow-up values keeps the follow-up mean and SD exactly (the
    same multiset of values), and only changes how strongly the visits are correlated.
    """
    from scipy import stats

    y = np.asarray(follow_up, dtype=float).copy()
    x = np.asarray(baseline, dtype=float)
    target = round_half_up(target_p, decimals)

    def distance(values: np.ndarray) -> float:
        p = stats.ttest_rel(values, x).pvalue
        return 0.0 if round_half_up(p, decimals) == target else abs(np.log(p) - np.log(target_p))

    current = distance(y)
    for _ in range(max_swaps):
        if current == 0.0:
            return y
        i, j = rng.choice(y.size, size=2, replace=False)
        y[i], y[j] = y[j], y[i]
        candidate = distance(y)
        if candidate <= current:
            current = candidate
        else:
            y[i], y[j] = y[j], y[i]
    raise ValueError(f"could not reach paired P = {target_p} in {max_swaps} swaps")
