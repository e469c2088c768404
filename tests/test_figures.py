"""Figures draw what the ARD says, and say which rows they drew: on hand-made ARD rows."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ucmsc import ard as ardlib  # noqa: E402
from ucmsc import figures  # noqa: E402

ARMS = ["High", "Low", "Placebo"]  # active arms, then control


def _rows(rows: list[dict]) -> pd.DataFrame:
    return ardlib.conform(pd.DataFrame(rows))


def _cont():
    rows = []
    for arm, means in (("High", (8.0, 6.5)), ("Low", (8.1, 7.2)), ("Placebo", (8.0, 7.9))):
        for visit, mean in zip((0, 4), means, strict=True):
            for stat, value in (("mean", mean), ("se", 0.2), ("n", 20)):
                rows.append(
                    {
                        "ANALYSIS_ID": "CONT",
                        "PARAMCD": "GLUC",
                        "PARAM": "Glucose",
                        "AVISITN": visit,
                        "VARIABLE": "AVAL",
                        "METHOD": "descriptive",
                        "GROUP1": "ARM",
                        "GROUP1_LEVEL": arm,
                        "STAT_NAME": stat,
                        "VALUE": value,
                    }
                )
    for active, p in (("High", 0.001), ("Low", 0.2)):
        rows.append(
            {
                "ANALYSIS_ID": "CONT",
                "PARAMCD": "GLUC",
                "PARAM": "Glucose",
                "AVISITN": 4,
                "VARIABLE": "AVAL",
                "METHOD": "Student t-test",
                "GROUP1": "ARM",
                "GROUP1_LEVEL": active,
                "COMPARATOR": "Placebo",
                "STAT_NAME": "p",
                "VALUE": p,
            }
        )
    return _rows(rows)


def test_trajectories_draw_each_arm_mean_and_star_the_significant_comparison():
    ard = _cont()
    ((fig, drawn),) = figures.trajectory_figures(ard, ["GLUC"], ARMS, "Endpoints")
    try:
        ax = fig.axes[0]
        means = {
            bars.get_label(): np.asarray(bars.lines[0].get_ydata()) for bars in ax.containers
        }  # errorbar: line, caps
        assert set(means) == set(ARMS)
        assert np.allclose(means["High"], [8.0, 6.5]) and np.allclose(means["Placebo"], [8.0, 7.9])
        stars = [t for t in ax.texts if t.get_text() == "*"]
        assert len(stars) == 1  # High vs Placebo at week 4 (P = 0.001); Low vs Placebo P = 0.2 has none
        assert set(drawn.loc[drawn["STAT_NAME"] == "p", "GROUP1_LEVEL"]) == {"High", "Low"}
        assert len(drawn[drawn["STAT_NAME"] == "mean"]) == 6
    finally:
        plt.close(fig)


def test_forest_plots_each_comparison_with_its_interval():
    rows = []
    for active, (est, lcl, ucl, p) in (("High", (-1.2, -1.8, -0.6, 0.001)), ("Low", (-0.4, -1.0, 0.2, 0.2))):
        for stat, value in (("estimate", est), ("lcl", lcl), ("ucl", ucl), ("p", p)):
            rows.append(
                {
                    "ANALYSIS_ID": "ANCOVA",
                    "PARAMCD": "GLUC",
                    "PARAM": "Glucose",
                    "AVISITN": 4,
                    "VARIABLE": "CHG",
                    "GROUP1": "ARM",
                    "GROUP1_LEVEL": active,
                    "COMPARATOR": "Placebo",
                    "STAT_NAME": stat,
                    "VALUE": value,
                }
            )
    fig, drawn = figures.forest_figure(_rows(rows), ARMS, ["GLUC"])
    try:
        ax = fig.axes[0]
        points = {
            c.get_label(): np.asarray(c.get_offsets())[:, 0] for c in ax.collections if c.get_label() in ("High", "Low")
        }
        assert np.allclose(points["High"], [-1.2]) and np.allclose(points["Low"], [-0.4])
        assert "each arm - Placebo" in fig._suptitle.get_text()
        assert len(drawn) == 8
    finally:
        plt.close(fig)


def test_consort_counts_come_from_the_population_rows():
    sizes = (("High", 24), ("Low", 23), ("Placebo", 22))
    rows = [
        {"ANALYSIS_ID": "POP", "PARAMCD": flag, "GROUP1": "ARM", "GROUP1_LEVEL": arm, "STAT_NAME": "n", "VALUE": n}
        for arm, n in sizes
        for flag in ("RANDFL", "SAFFL", "FASFL", "PPROTFL")
    ]
    fig, drawn = figures.consort_figure(_rows(rows), ARMS)
    try:
        texts = [t.get_text() for t in fig.axes[0].texts]
        assert "Randomised\nn = 69" in texts and "Allocated to Low\nn = 23" in texts
        assert len(drawn) == 12
    finally:
        plt.close(fig)
