"""Figures draw what the ARD says, and say which rows they drew: on hand-made ARD rows."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

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


SAFETY_WEEKS = (0, 1, 2, 3, 4, 12, 24)


def _by_visit(weeks=SAFETY_WEEKS, n_placebo=10):
    """Hand-made by-visit rows: High around 2.0, Placebo around 2.1, SE 0.1; Placebo n smaller at the last week."""
    rows = []
    for arm, base in (("High", 2.0), ("Placebo", 2.1)):
        for week in weeks:
            n = n_placebo - (1 if week == weeks[-1] else 0) if arm == "Placebo" else 24
            for stat, value in (("mean", base + week / 100), ("se", 0.1), ("n", n)):
                rows.append({"ANALYSIS_ID": "CONT", "PARAMCD": "LYM", "PARAM": "Lymphocytes (10^9/L)",
                             "AVISITN": week, "AVISIT": f"Week {week}", "VARIABLE": "AVAL", "METHOD": "descriptive",
                             "GROUP1": "ARM", "GROUP1_LEVEL": arm, "STAT_NAME": stat, "VALUE": value})
    rows += [{"ANALYSIS_ID": "REFRANGE", "PARAMCD": "LYM", "STAT_NAME": stat, "VALUE": value}
             for stat, value in (("low", 0.0), ("high", 100.0))]  # a range far wider than the data
    return _rows(rows)


def test_visits_are_equally_spaced_labelled_and_counted_under_the_axis():
    ((fig, _),) = figures.trajectory_figures(_by_visit(), ["LYM"], ["High", "Placebo"], "Laboratory values")
    try:
        ax = fig.axes[0]
        assert list(ax.get_xticks()) == [0, 1, 2, 3, 4, 5, 6]  # weeks 0-4 get as much room as weeks 12 and 24
        assert [t.get_text() for t in ax.get_xticklabels()] == ["Wk 0", "Wk 1", "Wk 2", "Wk 3", "Wk 4", "Wk 12",
                                                               "Wk 24"]
        below = [t.get_text() for t in ax.texts if t.get_text() != "*"]
        assert below == ["High"] + ["24"] * 7 + ["Placebo"] + ["10"] * 6 + ["9"]  # n per arm and visit
        assert ax.get_title() == "Lymphocytes (10⁹/L)"
    finally:
        plt.close(fig)


def test_the_reference_range_is_shaded_but_the_y_limits_come_from_the_data():
    ((fig, drawn),) = figures.trajectory_figures(_by_visit(), ["LYM"], ["High", "Placebo"], "Laboratory values")
    try:
        low, high = fig.axes[0].get_ylim()
        # means 2.00 to 2.34, SE 0.1: the drawn values span 1.90 to 2.44; the range [0, 100] must not widen that
        assert 1.80 < low < 1.90 and 2.44 < high < 2.60
        assert (drawn["ANALYSIS_ID"] == "REFRANGE").sum() == 2
    finally:
        plt.close(fig)


def _forest_rows(estimate=-1.2):
    return _rows([{"ANALYSIS_ID": "ANCOVA", "PARAMCD": "GLUC", "PARAM": "Glucose (mmol/L)", "AVISITN": 4,
                   "AVISIT": "Week 4", "VARIABLE": "CHG", "GROUP1": "ARM", "GROUP1_LEVEL": "High",
                   "COMPARATOR": "Placebo", "STAT_NAME": stat, "VALUE": value}
                  for stat, value in (("estimate", estimate), ("lcl", estimate - 0.6), ("ucl", estimate + 0.6),
                                      ("p", 0.001))])


@pytest.mark.parametrize("better, left, right", [("lower", "High", "Placebo"), ("higher", "Placebo", "High")])
def test_forest_axis_names_the_statistic_and_unit_and_the_favoured_side(better, left, right):
    fig, _ = figures.forest_figure(_forest_rows(), ["High", "Placebo"], ["GLUC"], units={"GLUC": "mmol/L"},
                                   better={"GLUC": better})
    try:
        ax = fig.axes[0]
        assert ax.get_xlabel() == "Difference in LS mean change from baseline (mmol/L)"
        favours = {t.get_ha(): t.get_text() for t in ax.texts if "Favours" in t.get_text()}
        assert favours == {"left": f"← Favours {left}", "right": f"Favours {right} →"}
        low, high = ax.get_xlim()
        assert low < -1.8 and high > 0  # the whole CI and the line of no difference in view
    finally:
        plt.close(fig)


def test_forest_without_a_direction_has_no_favours_labels():
    fig, _ = figures.forest_figure(_forest_rows(), ["High", "Placebo"], ["GLUC"], units={"GLUC": "10^9/L"})
    try:
        assert fig.axes[0].get_xlabel().endswith("(10⁹/L)")
        assert not [t for t in fig.axes[0].texts if "Favours" in t.get_text()]
    finally:
        plt.close(fig)


def _grade_rows():
    rows = [{"ANALYSIS_ID": "GRADESHIFT", "PARAMCD": "STEATOS", "PARAM": "Steatosis grade", "AVISITN": 20,
             "AVISIT": "Week 20", "GROUP1": "ARM", "GROUP1_LEVEL": arm, "STAT_NAME": f"{b}>{g}", "VALUE": 1.0}
            for arm in ("High", "Placebo") for b in range(3) for g in range(3)]
    rows += [{"ANALYSIS_ID": "GRADESHIFT", "PARAMCD": "STEATOS", "PARAM": "Steatosis grade", "AVISITN": 20,
              "AVISIT": "Week 20", "GROUP1": "ARM", "GROUP1_LEVEL": arm, "STAT_NAME": "n", "VALUE": 9.0}
             for arm in ("High", "Placebo")]
    return _rows(rows)


def test_grade_shift_axes_name_the_grades():
    fig, _ = figures.grade_shift_figure(_grade_rows(), ["High", "Placebo"], grade_names={"0": "none", "1": "mild",
                                                                                          "2": "moderate"})
    try:
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["0 = none", "1 = mild", "2 = moderate"]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0\nnone", "1\nmild", "2\nmoderate"]
        assert ax.get_title() == "High, week 20 (n = 9)"
    finally:
        plt.close(fig)
    fig, _ = figures.grade_shift_figure(_grade_rows(), ["High", "Placebo"])
    try:
        assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["Grade 0", "Grade 1", "Grade 2"]
    finally:
        plt.close(fig)


def _responder_rows(with_ci: bool):
    rows = []
    for arm, n, big_n in (("High", 16, 33), ("Placebo", 4, 32)):
        stats = [("n", n), ("N", big_n), ("pct", 100 * n / big_n)]
        if with_ci:  # Wilson 95% CI of 16/33 and 4/32, by hand: 0.3226-0.6509, 0.0497-0.2818
            stats += [("lcl", 0.3226 if arm == "High" else 0.0497), ("ucl", 0.6509 if arm == "High" else 0.2818)]
        rows += [{"ANALYSIS_ID": "RESP", "PARAMCD": "HBA1CTGT", "PARAM": "HbA1c < 7.0 %", "AVISITN": 48,
                  "AVISIT": "Week 48", "GROUP1": "ARM", "GROUP1_LEVEL": arm, "STAT_NAME": s, "VALUE": v}
                 for s, v in stats]
    rows.append({"ANALYSIS_ID": "RESP", "PARAMCD": "HBA1CTGT", "PARAM": "HbA1c < 7.0 %", "AVISITN": 48,
                 "AVISIT": "Week 48", "GROUP1": "ARM", "GROUP1_LEVEL": "High", "COMPARATOR": "Placebo",
                 "METHOD": "Pearson chi-square", "STAT_NAME": "p", "VALUE": 0.0017})
    return _rows(rows)


@pytest.mark.parametrize("with_ci", [False, True])
def test_responder_bars_print_n_of_N_and_the_ci_only_when_the_ard_has_it(with_ci):
    fig, drawn = figures.responder_figure(_responder_rows(with_ci), ["High", "Placebo"])
    try:
        ax = fig.axes[0]
        assert sorted(t.get_text() for t in ax.texts) == ["16/33", "4/32"]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["Wk 48\nP = 0.002"]
        caps = [line for c in ax.containers if hasattr(c, "has_yerr") for line in c.lines[1]]
        assert len(caps) == (4 if with_ci else 0)
        if with_ci:
            assert sorted(round(y, 2) for line in caps for y in line.get_ydata()) == [4.97, 28.18, 32.26, 65.09]
        assert set(drawn["STAT_NAME"]) == {"n", "N", "pct", "p"} | ({"lcl", "ucl"} if with_ci else set())
    finally:
        plt.close(fig)


def test_saved_png_is_300_dpi_and_svg_keeps_text_and_both_are_byte_identical_on_a_rerun(tmp_path):
    from PIL import Image

    def draw():
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.set_title("Fasting insulin (µU/mL)")
        return fig

    record = {"title": "A figure", "number": "Figure 14.2.1", "footnote": "Mean ± SE. Population: Full analysis set."}
    first = figures.save_figure(draw(), tmp_path / "a", "fig", record)
    second = figures.save_figure(draw(), tmp_path / "b", "fig", record)
    assert first["files"] == second["files"]  # same SHA-256 of PNG and SVG: no date, no random ids
    with Image.open(tmp_path / "a" / "fig.png") as png:
        assert png.size == (600, 450)  # 2 x 1.5 inches at 300 dpi
    svg = (tmp_path / "a" / "fig.svg").read_text()
    assert "Fasting insulin (µU/mL)</text>" in svg and "<dc:date>" not in svg
    assert 'id="DejaVuSans' not in svg  # no glyphs drawn as paths
    sidecar = __import__("json").loads((tmp_path / "a" / "fig.json").read_text())
    assert sidecar["number"] == "Figure 14.2.1" and sidecar["footnote"].endswith("Population: Full analysis set.")


@pytest.mark.parametrize("title", ["Glucose (mmol/L), µ", "HbA1c ≥ 7%"])  # tEXt (latin-1), iTXt (not latin-1)
def test_saved_png_has_the_pixels_and_metadata_of_matplotlibs_own_png(tmp_path, title):
    from matplotlib.image import imread
    from PIL import Image

    def draw():
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.errorbar([0, 1, 2], [1.0, 2.5, 2.0], yerr=0.3, marker="o", capsize=3, label="High")
        ax.axhspan(1.2, 1.8, color="#999999", alpha=0.15, lw=0)
        ax.set_title(title)
        ax.legend()
        return fig

    record = {"title": title, "number": "Figure 1", "footnote": "Mean ± SE."}
    figures.save_figure(draw(), tmp_path, "ours", record)
    fig = draw()  # matplotlib's writer (Pillow), with the metadata save_figure embeds
    fig.savefig(tmp_path / "theirs.png", dpi=figures.PNG_DPI,
                metadata={"Title": title, "Provenance": __import__("json").dumps(record, sort_keys=True)})
    plt.close(fig)
    ours, theirs = imread(tmp_path / "ours.png"), imread(tmp_path / "theirs.png")
    assert ours.shape == theirs.shape == (600, 900, 4) and np.array_equal(ours, theirs)
    with Image.open(tmp_path / "ours.png") as a, Image.open(tmp_path / "theirs.png") as b:
        assert (a.mode, a.text, a.info["dpi"]) == (b.mode, b.text, b.info["dpi"])
        assert a.text["Title"] == title


def test_captions_number_from_config_or_by_report_order_and_footnotes_name_statistic_and_population(trial_configs):
    import copy

    from conftest import FINAL_CUTS, run_pipeline

    config = trial_configs["t2dm_safety"]
    ard = run_pipeline("t2dm_safety", FINAL_CUTS["t2dm_safety"], config)["ard"]
    drawn = figures.all_figures(ard, config)
    for *_, fig, _ in drawn:
        plt.close(fig)
    captions = {stem: caption for stem, caption, _, _ in drawn}
    assert [(c.number, c.title) for c in captions.values()] == [
        ("Figure 14.1.1", "Participant flow (CONSORT)")] + [
        ("Figure 14.3.1", f"Laboratory values by visit and arm (page {i} of 4)") for i in range(1, 5)] + [
        ("Figure 14.3.2", "Between-arm differences (ANCOVA)"),
        ("Figure 14.3.3", "Adverse events: incidence and risk difference")]
    assert captions["02_trajectories_1"].footnote.startswith("Mean ± SE of the value by visit and arm")
    assert captions["02_trajectories_1"].footnote.endswith("Population: Safety population.")  # CONT: SAFFL
    assert "Difference in LS means (95% CI)" in captions["05_forest"].footnote
    assert captions["06_adverse_events"].footnote.endswith("Population: Safety population.")
    assert captions["01_consort"].footnote.endswith("Population: Randomised set.")

    unnumbered = copy.deepcopy(config)
    unnumbered["figures"] = {k: {key: v for key, v in e.items() if key != "number"}
                             for k, e in config["figures"].items() if k != "consort"}
    drawn = figures.all_figures(ard, unnumbered)
    for *_, fig, _ in drawn:
        plt.close(fig)
    assert [c.number for _, c, _, _ in drawn] == ["Figure 1"] + ["Figure 2"] * 4 + ["Figure 3", "Figure 4"]


def test_a_favours_direction_for_a_parameter_the_forest_does_not_draw_is_a_config_problem(trial_configs):
    import copy

    from ucmsc.validate import trial_config_problems

    trial = copy.deepcopy(trial_configs["nafld_efficacy"])
    assert trial_config_problems(trial) == []
    trial["figures"]["forest"]["better"]["LDL"] = "lower"
    assert trial_config_problems(trial) == ["figures.forest.better.LDL: LDL is not one of the figure's parameters"]


def test_a_median_summarised_parameter_is_starred_by_the_mann_whitney_test():
    ard = _cont()
    mann_whitney = ard[ard["STAT_NAME"] == "p"].assign(METHOD="Mann-Whitney U", VALUE=[0.3, 0.01])  # High, Low
    ard = pd.concat([ard, mann_whitney], ignore_index=True)
    ((fig, drawn),) = figures.trajectory_figures(ard, ["GLUC"], ARMS, "Endpoints", medians=frozenset({"GLUC"}))
    try:
        stars = [t for t in fig.axes[0].texts if t.get_text() == "*"]
        assert len(stars) == 1  # Low vs Placebo (Mann-Whitney P = 0.01), not High (t-test P = 0.001, U P = 0.3)
        assert set(drawn.loc[drawn["STAT_NAME"] == "p", "METHOD"]) == {"Mann-Whitney U"}
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert "* P < 0.05 vs Placebo (Mann-Whitney U)" in legend
    finally:
        plt.close(fig)
    tests = figures.star_tests(ard, "CONT", ["GLUC", "HBA1C"], frozenset({"GLUC"}))
    assert figures.tests_named(tests, ["GLUC", "HBA1C"]) == (
        "Mann-Whitney U (median-summarised parameters) / Student t-test (mean-summarised parameters)")


def test_the_figures_stage_config_carries_the_plans_summary_rule(trial_configs):
    """What the workflow hands the figures job (ucmsc.stages.stage_config) must let the trajectories star a
    median-summarised parameter by its Mann-Whitney P: the plan's summaries and what they are checked against."""
    from conftest import FINAL_CUTS, run_pipeline
    from ucmsc.stages import stage_config

    config = trial_configs["t2dm_safety"]
    assert {"TG", "ALT"} <= set(config["summaries"]["median"]) <= set(config["tests"]) | set(config["derived"])
    ard = run_pipeline("t2dm_safety", FINAL_CUTS["t2dm_safety"], config)["ard"]
    drawn = figures.all_figures(ard, stage_config(config, "figures"))
    for *_, fig, _ in drawn:
        plt.close(fig)
    footnote = next(c.footnote for stem, c, _, _ in drawn if stem == "02_trajectories_1")
    assert "Student t-test (mean-summarised parameters) / Mann-Whitney U (median-summarised parameters)" in footnote
