"""Hodges-Lehmann estimates and their CIs against R's wilcox.test(conf.int = TRUE) (tests/r/hodges_lehmann.R on the
data of tests/r/make_data_hodges_lehmann.py, committed as tests/reference/hodges_lehmann_*.csv; R 4.2.2).

Exact CIs (R's branch for fewer than 50 values without ties or zeros) are order statistics of the pairwise
differences: equal to R's to 1e-12. In the normal-approximation branch R finds each limit with uniroot, which stops
within tol.root of the point where its step-function statistic crosses the normal quantile; the code returns that
point itself (a pairwise difference or Walsh average): equal to R's with tol.root = 1e-12 to 1e-9, and within 1e-4
of R's defaults. The estimate is the Hodges-Lehmann definition, the median of the pairwise differences (Walsh
averages), computed in R directly; R's normal-approximation branch reports instead a root of its statistic at zero,
which lies in the same interval where that statistic is zero (the test checks that it does).
"""

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from ucmsc import stats

REFERENCE = ROOT / "tests" / "reference"
TWO = pd.read_csv(REFERENCE / "hodges_lehmann_two_sample.csv").set_index("sample")
ONE = pd.read_csv(REFERENCE / "hodges_lehmann_one_sample.csv").set_index("sample")
TWO_DATA = pd.read_csv(REFERENCE / "data" / "hodges_lehmann_two_sample.csv")
ONE_DATA = pd.read_csv(REFERENCE / "data" / "hodges_lehmann_one_sample.csv")


def _two(sample):
    data = TWO_DATA[TWO_DATA["sample"] == sample]
    return (data.loc[data["group"] == g, "value"].to_numpy() for g in ("x", "y"))


def _check_limits(got, r):
    assert got["ci_exact"] == r["exact"]
    assert got["conf_level"] == pytest.approx(r["conf_level"], abs=1e-12)
    if r["exact"]:
        assert got["lcl"] == pytest.approx(r["lcl"], abs=1e-12) and got["ucl"] == pytest.approx(r["ucl"], abs=1e-12)
    else:
        for limit in ("lcl", "ucl"):
            assert got[limit] == pytest.approx(r[f"{limit}_tight"], abs=1e-9)
            assert got[limit] == pytest.approx(r[limit], abs=1e-4)  # R's default tol.root


def _check_estimate(got, r, definition, walsh):
    assert got["estimate"] == pytest.approx(r[definition], abs=1e-12)
    if r["exact"]:
        assert got["estimate"] == pytest.approx(r["estimate"], abs=1e-12)
    else:  # R's root at zero: inside the interval of the middle differences, where its statistic is zero
        middle = np.sort(walsh)[[(len(walsh) - 1) // 2, len(walsh) // 2]]
        assert middle[0] - 1e-9 <= r["estimate_tight"] <= middle[1] + 1e-9


def _force_selection(monkeypatch):
    """The implicit-matrix path on small samples: no values built (limit 0), few pivots a round."""
    monkeypatch.setattr(stats, "MATERIALIZE_LIMIT", 0)
    monkeypatch.setattr(stats, "_SAMPLE", 50)


@pytest.fixture(params=["built", "selected"])
def path(request, monkeypatch):
    """Each R comparison runs twice: the pairwise values built and sorted, and selected from the implicit matrix
    (stats.PairSums, as for large arms; forced on these small samples by a zero limit and few pivots a round)."""
    if request.param == "selected":
        _force_selection(monkeypatch)
    return request.param


@pytest.mark.parametrize("sample", list(TWO.index))
def test_location_shift_matches_r(sample, path):
    x, y = _two(sample)
    got = stats.hodges_lehmann_shift(x, y)
    r = TWO.loc[sample]
    _check_limits(got, r)
    _check_estimate(got, r, "median_diffs", np.subtract.outer(x, y).ravel())


@pytest.mark.parametrize("sample", list(ONE.index))
def test_pseudomedian_matches_r(sample, path):
    x = ONE_DATA.loc[ONE_DATA["sample"] == sample, "value"].to_numpy()
    got = stats.hodges_lehmann_pseudomedian(x)
    r = ONE.loc[sample]
    _check_limits(got, r)
    nz = x[x != 0]
    _check_estimate(got, r, "median_walsh", np.add.outer(nz, nz)[np.triu_indices(nz.size)] / 2)


def test_reference_covers_each_branch_of_r():
    for table in (TWO, ONE):
        assert set(table["exact"]) == {0, 1}
        assert (table["conf_level"] < 0.95 - 1e-9).any()  # a level R could not reach
    assert TWO.loc["range_end", "lcl"] == -59  # a limit at the end of the range (R returns mumin)
    assert ONE.loc["tiny_ties_4", "exact"] == 0 and ONE.loc["tiny_ties_4", "conf_level"] < 0.95  # alpha widened


def test_exact_interval_by_hand():
    # x = (1, 2, 3), y = (4, 5): pairwise differences -4, -3, -3... all six: -4, -3, -3, -2, -2, -1 (x - y).
    # Without ties the 2 x 3 rank-sum distribution has 10 equally likely arrangements, U = 0..6 with counts
    # 1, 1, 2, 2, 2, 1, 1: P(U <= 0) = 0.1 >= 0.025, so qu = 0 -> 1 and the limits are the 1st and 6th differences,
    # at level 1 - 2 * P(U <= 0) = 0.8 (R: "requested conf.level not achievable").
    got = stats.hodges_lehmann_shift([1, 2, 3], [4, 5])
    assert got == {"estimate": -2.5, "lcl": -4.0, "ucl": -1.0, "conf_level": pytest.approx(0.8), "ci_exact": 1}


def test_rows_in_the_ard_layout():
    rows = stats.mann_whitney([1.0, 2.0, 3.0], [4.0, 5.0], groups=("A", "B"), location_shift=True)
    names = [r["STAT_NAME"] for r in rows]
    assert names == ["statistic", "p", "continuity", "estimate", "lcl", "ucl", "conf_level", "ci_exact"]
    assert all(r["WARNING"] == "" for r in rows)
    assert [r["STAT_NAME"] for r in stats.mann_whitney([1.0], [2.0])] == ["statistic", "p", "continuity"]
    rows = stats.wilcoxon_signed_rank([0.8, -0.3, 1.9, 2.6], pseudomedian=True)
    assert {r["STAT_NAME"]: r["VALUE"] for r in rows}["estimate"] == 1.25  # Walsh averages' median, R: 1.25


def test_not_estimable_location_rows_say_why():
    rows = {r["STAT_NAME"]: r for r in stats.mann_whitney([2.0, 2.0], [2.0], location_shift=True)}
    assert np.isnan(rows["lcl"]["VALUE"]) and "tied" in rows["lcl"]["WARNING"]
    assert rows["estimate"]["VALUE"] == 0 and rows["p"]["WARNING"] == ""
    rows = {r["STAT_NAME"]: r for r in stats.wilcoxon_signed_rank([1.5, 1.5, 0.0], pseudomedian=True)}
    assert rows["estimate"]["VALUE"] == 1.5 and np.isnan(rows["ucl"]["VALUE"])
    assert rows["ucl"]["WARNING"] == "not estimable: the CI of the pseudo-median needs two different non-zero values " \
                                     "(all 2 are 1.5)"
    rows = {r["STAT_NAME"]: r for r in stats.wilcoxon_signed_rank([1.5], pseudomedian=True)}
    assert np.isnan(rows["estimate"]["VALUE"]) and rows["estimate"]["WARNING"].startswith("not estimable: the sample")


# --- Selection without building the pairwise values (large arms) --------------------------------------------------
# Above stats.MATERIALIZE_LIMIT the order statistics are selected from the implicit matrix of sums. These tests force
# that path on small data (limit 0, few pivots per round so several rounds run) and compare with the values sorted
# by numpy, and with R's limits.

@pytest.fixture
def selection_only(monkeypatch):
    _force_selection(monkeypatch)


def _datasets():
    rng = np.random.default_rng(7)
    yield rng.normal(size=40), rng.normal(1, 2, size=33)
    yield np.round(rng.normal(5, 1, size=60), 1), np.round(rng.normal(5.3, 1, size=45), 1)  # heavy ties
    yield rng.integers(0, 3, size=30).astype(float), rng.integers(0, 3, size=20).astype(float)  # three values only
    yield np.array([0.1, 0.2, 0.3] * 7), np.array([0.3, 0.6, 0.7] * 5)  # sums that round (0.1 + 0.2 > 0.3)
    yield np.array([2.0] * 9), np.array([2.0] * 4)  # all equal


@pytest.mark.parametrize("case", range(5))
def test_selected_order_statistics_equal_sorted_values(case, selection_only):
    x, y = list(_datasets())[case]
    full = np.sort(np.add.outer(x, y).ravel())
    sums = stats.PairSums(np.sort(x), np.sort(y))
    ranks = sorted({0, full.size - 1, full.size // 2, *np.random.default_rng(case).integers(0, full.size, 25)})
    assert [sums.select(int(k)) for k in ranks] == list(full[ranks])
    walsh = np.sort(np.add.outer(x, x)[np.triu_indices(x.size)])
    triangle = stats.PairSums(np.sort(x), np.sort(x), triangle=True)
    assert triangle.size == walsh.size
    ranks = sorted({0, walsh.size - 1, walsh.size // 2, *np.random.default_rng(case).integers(0, walsh.size, 25)})
    assert [triangle.select(int(k)) for k in ranks] == list(walsh[ranks])


def test_counts_at_a_value_are_exact_where_subtraction_rounds():
    # 0.1 + 0.2 = 0.30000000000000004 in floating point; a count from t - a alone would misplace it
    sums = stats.PairSums(np.array([0.1, 0.2]), np.array([0.1, 0.2]))
    t = 0.1 + 0.2
    assert (sums.bounds(t, strict=False) - sums.first).sum() == 3  # 0.2, 0.3..04 (twice)
    assert (sums.bounds(t, strict=True) - sums.first).sum() == 1


def test_large_arms_without_building_the_differences():
    # 60,000 x 50,000 = 3e9 differences would need 24 GB; selection needs the arms only. Independent check: for a
    # pure location shift of continuous data the estimate is near the true shift, and the limits bracket it.
    rng = np.random.default_rng(3)
    x, y = rng.normal(1.5, 1, size=60_000), rng.normal(1.0, 1, size=50_000)
    got = stats.hodges_lehmann_shift(x, y)
    assert got["ci_exact"] == 0 and got["lcl"] < got["estimate"] < got["ucl"]
    assert got["estimate"] == pytest.approx(0.5, abs=0.03)
    # the CI half-width of the normal approximation: z * sqrt(1/m + 1/n) * sigma * sqrt(pi/3) for normal data
    half = 1.96 * np.sqrt(1 / 60_000 + 1 / 50_000) * np.sqrt(np.pi / 3)
    assert (got["ucl"] - got["lcl"]) / 2 == pytest.approx(half, rel=0.05)


@pytest.mark.parametrize("case", [2, 3, 4])
def test_sums_of_repeated_values_counted_by_distinct_value(case, monkeypatch):
    # few distinct values (case 2: three, case 3: three and three, case 4: one): the distinct sums weighted by their
    # number of pairs, instead of the pairs themselves
    monkeypatch.setattr(stats, "MATERIALIZE_LIMIT", 20)
    x, y = list(_datasets())[case]
    full = np.sort(np.add.outer(x, y).ravel())
    sums = stats.PairSums(np.sort(x), np.sort(y))
    assert sums._cells is not None
    assert [sums.select(k) for k in range(full.size)] == list(full)
    walsh = np.sort(np.add.outer(x, x)[np.triu_indices(x.size)])
    triangle = stats.PairSums(np.sort(x), np.sort(x), triangle=True)
    assert triangle._cells is not None
    assert [triangle.select(k) for k in range(walsh.size)] == list(walsh)
