"""Subjects of an arm the analysis plan does not compare are never analysed as any arm (issue 22).

A three-arm delivery is made from the bundled final efficacy cut by moving 15 subjects to a third arm
(code 3) in dm.xpt; the trial config keeps its two arms.
"""

import copy

import numpy as np
import pytest

import deliveries as dl
from conftest import run_pipeline
from ucmsc import ard as ardlib

EFF, FINAL = "nafld_efficacy", "2019-01-15"
MOVED = 15


@pytest.fixture(scope="module")
def three_arm_cut(tmp_path_factory):
    folder = dl.copy_cut(EFF, FINAL, tmp_path_factory.mktemp("three_arms"))

    def third_arm(frame):
        frame.loc[frame.index[-MOVED:], "TRTGRP"] = 3.0
        return frame
    dl.edit_xpt(folder / "dm.xpt", third_arm)
    dl.refresh_manifest(folder)
    return folder


def _config(trial_configs, code_for_third_arm: bool):
    config = copy.deepcopy(trial_configs[EFF])
    if code_for_third_arm:
        next(s for s in config["sources"] if s["file"] == "dm.xpt")["codes"]["ARM"]["3"] = "Low dose"
    return config


@pytest.mark.parametrize("code_for_third_arm, check", [(True, "arm_not_in_plan"), (False, "codes")])
def test_subjects_of_another_arm_are_queried_kept_and_in_no_population(trial_configs, three_arm_cut, code_for_third_arm,
                                                                       check):
    result = run_pipeline(EFF, FINAL, _config(trial_configs, code_for_third_arm), folder=three_arm_cut)
    frame, _ = dl.xpt_frame(three_arm_cut / "dm.xpt")
    moved = set("UCMSC-NAFLD-" + frame.loc[frame["TRTGRP"] == 3, "SUBJID"])
    queries = result["queries"]
    arm_queries = queries[(queries["VARIABLE"] == "ARM") & (queries["CHECK"] == check)]
    assert set(arm_queries["USUBJID"]) == moved and len(arm_queries) == MOVED
    assert (arm_queries["ACTION"] == "kept; excluded from every analysis population").all()
    adsl = result["adsl"].set_index("USUBJID")
    assert set(adsl.index) >= moved  # kept, not quarantined: their records do not become "subject not in DM"
    assert not ((queries["CHECK"] == "subject_in_dm").groupby(queries["USUBJID"]).any()
                .reindex(list(moved), fill_value=False).any())
    for flag in ("RANDFL", "SAFFL", "FASFL", "PPROTFL"):
        assert (adsl.loc[list(moved), flag] == "N").all(), flag
    assert adsl.loc[list(moved), "EXCLREAS"].str.contains("is not compared by the plan").all()
    assert (adsl.drop(index=list(moved))["EXCLREAS"] == "").all()


def test_the_ancova_compares_the_two_planned_arms_only(trial_configs, three_arm_cut):
    """ANCOVA of the change at week 20 against least squares computed here on the two planned arms only."""
    result = run_pipeline(EFF, FINAL, _config(trial_configs, True), folder=three_arm_cut)
    adsl, bds, ard = result["adsl"], result["bds"], result["ard"]
    fas = adsl[(adsl["FASFL"] == "Y") & adsl["ARM"].isin(["UC-MSC", "Placebo"])]["USUBJID"]
    data = bds[(bds["PARAMCD"] == "GLUC") & (bds["AVISITN"] == 20)
               & bds["USUBJID"].isin(fas)].dropna(subset=["CHG", "BASE"])
    x = np.column_stack([np.ones(len(data)), (data["ARM"] == "UC-MSC").astype(float), data["BASE"]])
    beta, rss, *_ = np.linalg.lstsq(x, data["CHG"].to_numpy(float), rcond=None)
    df = len(data) - 3
    rows = ard[(ard["ANALYSIS_ID"] == "ANCOVA") & (ard["PARAMCD"] == "GLUC") & (ard["AVISITN"] == 20)]
    contrast = rows[rows["COMPARATOR"] != ""].set_index("STAT_NAME")["VALUE"]
    assert contrast["estimate"] == pytest.approx(beta[1], rel=1e-10)
    assert contrast["df"] == df
    n = rows[(rows["STAT_NAME"] == "n") & (rows["COMPARATOR"] == "")].set_index("GROUP1_LEVEL")["VALUE"]
    assert n.to_dict() == {"UC-MSC": (data["ARM"] == "UC-MSC").sum(), "Placebo": (data["ARM"] == "Placebo").sum()}


def test_every_model_builds_its_groups_from_the_planned_arms_even_if_a_flag_lets_another_arm_in(trial_configs):
    """Population flags are one guard; the models are the other: subjects of a third arm that (wrongly) carry
    FASFL = Y are still in no group of any comparison."""
    from ucmsc.analyze import run_analyses

    config = trial_configs[EFF]
    base = run_pipeline(EFF, FINAL, config)
    adsl, bds = base["adsl"].copy(), base["bds"].copy()
    bds["ARM"] = bds["ARM"].astype(str)  # derive holds ARM as a category; this test writes an arm it does not have
    third = adsl[adsl["FASFL"] == "Y"]["USUBJID"].iloc[-MOVED:]
    adsl.loc[adsl["USUBJID"].isin(third), "ARM"] = "Low dose"
    bds.loc[bds["USUBJID"].isin(third), "ARM"] = "Low dose"
    ard = run_analyses(adsl, bds, base["adae"], config, EFF, FINAL, "test")
    two = adsl[(adsl["FASFL"] == "Y") & adsl["ARM"].isin(["UC-MSC", "Placebo"])]["USUBJID"]
    for paramcd, visit in (("GLUC", 20), ("HBA1C", 48)):
        data = bds[(bds["PARAMCD"] == paramcd) & (bds["AVISITN"] == visit)
                   & bds["USUBJID"].isin(two)].dropna(subset=["CHG", "BASE"])
        rows = ard[(ard["ANALYSIS_ID"] == "ANCOVA") & (ard["PARAMCD"] == paramcd) & (ard["AVISITN"] == visit)]
        n = rows[rows["STAT_NAME"] == "n"].set_index("GROUP1_LEVEL")["VALUE"].to_dict()
        assert n == {"UC-MSC": (data["ARM"] == "UC-MSC").sum(), "Placebo": (data["ARM"] == "Placebo").sum()}
        x = np.column_stack([np.ones(len(data)), (data["ARM"] == "UC-MSC").astype(float), data["BASE"]])
        beta = np.linalg.lstsq(x, data["CHG"].to_numpy(float), rcond=None)[0]
        estimate = rows[(rows["STAT_NAME"] == "estimate") & (rows["COMPARATOR"] != "")]["VALUE"].item()
        assert estimate == pytest.approx(beta[1], rel=1e-10)
    mmrm = ard[(ard["ANALYSIS_ID"] == "MMRM") & (ard["PARAMCD"] == "GLUC") & (ard["STAT_NAME"] == "n_subjects")]
    expected = bds[(bds["PARAMCD"] == "GLUC") & (bds["AVISITN"] > 0)
                   & bds["USUBJID"].isin(two)].dropna(subset=["CHG", "BASE"])
    assert set(mmrm["VALUE"]) == {expected["USUBJID"].nunique()}
    gee = ard[(ard["ANALYSIS_ID"] == "GEE") & (ard["STAT_NAME"] == "n_subjects")]["VALUE"].item()
    expected = bds[(bds["PARAMCD"] == "HBA1CTGT") & (bds["AVISITN"] > 0)
                   & bds["USUBJID"].isin(two)].dropna(subset=["AVAL"])
    assert gee == expected["USUBJID"].nunique()


REFERENCE = __import__("pathlib").Path(__file__).parent / "reference"


@pytest.mark.parametrize("ci", ["t", "normal"])
def test_ancova_of_a_three_arm_cut_equals_r_on_the_two_compared_arms(trial_configs, three_arm_cut, ci):
    """R lm() and emmeans on the two compared arms (tests/r/ancova_two_of_three_arms.R): difference, SE, df,
    P, root MSE, LS means with their CIs, t-based or (plan option ancova_ci: normal) normal-quantile."""
    import pandas as pd
    table = pd.read_csv(REFERENCE / "ancova_two_of_three_arms.csv", dtype=str).set_index("name")["value"]
    number = {k: float(v) for k, v in table.items() if not k.endswith("_version")}
    key = {"UC-MSC": "ucmsc", "Placebo": "placebo"}
    r = {"estimate": number["estimate"], "se": number["se"], "t": number["t"], "p": number["p"], "rmse": number["rmse"],
         "df": number["df"], "lcl_t": number["lcl_t"], "ucl_t": number["ucl_t"], "lcl_normal": number["lcl_normal"],
         "ucl_normal": number["ucl_normal"],
         **{name: {arm: number[f"{name}_{k}"] for arm, k in key.items()}
            for name in ("n", "lsmean", "lsmean_se", "lsmean_lcl_t", "lsmean_ucl_t", "lsmean_lcl_normal",
                         "lsmean_ucl_normal")}}
    data = pd.read_csv(REFERENCE / "data" / "ancova_gluc_week20_three_arms.csv")  # all arms: R keeps the two compared
    config = _config(trial_configs, True)
    next(a for a in config["analyses"] if a["id"] == "ANCOVA")["options"] = {"ci": ci}
    result = run_pipeline(EFF, FINAL, config, folder=three_arm_cut)
    analysed = result["bds"][(result["bds"]["PARAMCD"] == "GLUC") & (result["bds"]["AVISITN"] == 20)]
    assert set(analysed.dropna(subset=["CHG", "BASE"])["USUBJID"]) == set(data["USUBJID"])  # R read the same records
    rows = result["ard"][(result["ard"]["ANALYSIS_ID"] == "ANCOVA") & (result["ard"]["PARAMCD"] == "GLUC")
                         & (result["ard"]["AVISITN"] == 20)]
    contrast = rows[(rows["GROUP1_LEVEL"] == "UC-MSC") & (rows["COMPARATOR"] == "Placebo")].set_index("STAT_NAME")
    value = contrast["VALUE"]
    for name, expected in (("estimate", r["estimate"]), ("se", r["se"]), ("statistic", r["t"]), ("p", r["p"]),
                           ("rmse", r["rmse"]), ("lcl", r[f"lcl_{ci}"]), ("ucl", r[f"ucl_{ci}"])):
        assert value[name] == pytest.approx(expected, rel=1e-9), name
    assert value["df"] == r["df"] and value["ci_normal"] == (1.0 if ci == "normal" else 0.0)
    assert contrast.loc["lcl", "STAT_LABEL"] == ("95% CI lower (normal)" if ci == "normal"
                                                 else f"95% CI lower (t, {r['df']:.0f} df)")
    for arm in ("UC-MSC", "Placebo"):
        mine = rows[(rows["GROUP1_LEVEL"] == arm) & (rows["COMPARATOR"] == "")].set_index("STAT_NAME")["VALUE"]
        suffix = "_normal" if ci == "normal" else "_t"
        assert mine["n"] == r["n"][arm]
        assert mine["lsmean"] == pytest.approx(r["lsmean"][arm], rel=1e-9)
        assert mine["se"] == pytest.approx(r["lsmean_se"][arm], rel=1e-9)
        assert mine["lcl"] == pytest.approx(r[f"lsmean_lcl{suffix}"][arm], rel=1e-9)
        assert mine["ucl"] == pytest.approx(r[f"lsmean_ucl{suffix}"][arm], rel=1e-9)


def test_the_report_says_how_many_subjects_were_excluded_and_why(trial_configs, three_arm_cut):
    from ucmsc import report
    from ucmsc.audit import audit_trial

    result = run_pipeline(EFF, FINAL, _config(trial_configs, True), folder=three_arm_cut)
    ard = result["ard"]
    excluded = ard[ard["ANALYSIS_ID"] == "EXCL"]
    assert excluded[["GROUP1_LEVEL", "PARAM", "VALUE"]].values.tolist() == [
        ["Low dose", "arm 'Low dose' is not compared by the plan", MOVED]]
    code = {"git_commit": "x", "uncommitted_changes": False, "code_sha256": "y"}
    for manifest, banner in ((None, True), ({"synthetic": True, "notice": "SYNTHETIC"}, False)):
        raw = {"files": result["raw_meta"], "manifest": manifest, "manifest_verified": manifest is not None,
               "unmapped_files": []}
        context = report.build_context(ard, audit_trial(ard, {"source": "", "numbers": []}), result["queries"],
                                       result["summary"], raw, [], _config(trial_configs, True), FINAL, code,
                                       {"path": "ard.csv", "sha256": "z"})
        html = report.render_report(context)
        flow = next(t for t, _, _ in context["tables"] if t.title.startswith("Analysis populations"))
        labels = [row.label for row in flow.rows]
        excluded = labels.index("Subjects of the delivery in no analysis population (arm as delivered, reason), n")
        assert labels[excluded + 1:] == ["Low dose", f"arm 'Low dose' is not compared by the plan: {MOVED}"]
        assert f"Low dose&#x27; is not compared by the plan: {MOVED}" in html
        assert ('id="no-manifest-banner"' in html) is banner and ('id="delivery-check"' in html) is not banner


def test_reversing_the_order_of_arms_in_the_config_changes_nothing(trial_configs):
    """Roles, not list positions, decide which arm is active: the ARD and every report table are the same."""
    from ucmsc import report

    config = trial_configs[EFF]
    reversed_config = copy.deepcopy(config)
    reversed_config["arms"] = list(reversed(reversed_config["arms"]))
    ards = [run_pipeline(EFF, FINAL, c)["ard"] for c in (config, reversed_config)]
    keys = ardlib.KEYS
    a, b = (ard.sort_values(keys).reset_index(drop=True) for ard in ards)
    assert (a[keys].fillna(-1).equals(b[keys].fillna(-1))
            and np.allclose(a["VALUE"], b["VALUE"], equal_nan=True, rtol=0, atol=0))
    tables = [report.build_tables(ard, c) for ard, c in zip(ards, (config, reversed_config))]
    assert [(t.title, t.header, t.rows) for t in tables[0]] == [(t.title, t.header, t.rows) for t in tables[1]]
    # the active arm's column comes first and the P column is filled, whichever order the config lists the arms
    by_visit = next(t for t in tables[1] if t.number == "Table 14.2.1.1")
    assert by_visit.header[1:] == ["UC-MSC (N=33)", "Placebo (N=32)", "Difference (95% CI)", "P"]
    assert sum(row.cells[-1] != "" for row in by_visit.rows) == 4 + 3  # values at 4 visits, changes at 3


def test_a_three_arm_trial_configured_by_yaml_alone_equals_r(trial_configs_all):
    """The synthetic dose-ranging cut (simulator, config/trials/dose_ranging.yaml only): one ANCOVA over three arms,
    LS means, each dose against placebo and the linear trend contrast, against R lm() and emmeans
    (tests/r/ancova_three_arms.R) at 1e-9."""
    import pandas as pd

    r = pd.read_csv(REFERENCE / "ancova_three_arms.csv", dtype=str).set_index(["group", "stat"])["value"]
    config = trial_configs_all["dose_ranging"]
    result = run_pipeline("dose_ranging", "2022-11-30", config)
    ard = result["ard"]
    data = pd.read_csv(REFERENCE / "data" / "ancova_hba1c_week24_dose_ranging.csv")
    analysed = result["bds"][(result["bds"]["PARAMCD"] == "HBA1C") & (result["bds"]["AVISITN"] == 24)]
    fas = set(result["adsl"].loc[result["adsl"]["FASFL"] == "Y", "USUBJID"])
    assert (set(analysed[analysed["USUBJID"].isin(fas)].dropna(subset=["CHG", "BASE"])["USUBJID"])
            == set(data["USUBJID"]))
    rows = ard[(ard["ANALYSIS_ID"] == "ANCOVA") & (ard["PARAMCD"] == "HBA1C") & (ard["AVISITN"] == 24)]
    for arm in ("High dose", "Low dose", "Placebo"):
        mine = rows[(rows["GROUP1_LEVEL"] == arm) & (rows["COMPARATOR"] == "")].set_index("STAT_NAME")["VALUE"]
        for stat in ("lsmean", "se", "lcl", "ucl"):
            assert mine[stat] == pytest.approx(float(r[(arm, stat)]), rel=1e-9), (arm, stat)
    for arm in ("High dose", "Low dose"):
        mine = rows[(rows["GROUP1_LEVEL"] == arm) & (rows["COMPARATOR"] == "Placebo")].set_index("STAT_NAME")["VALUE"]
        for stat in ("estimate", "se", "p", "lcl", "df"):
            assert mine[stat] == pytest.approx(float(r[(arm, f"diff_{stat}")]), rel=1e-9), (arm, stat)
        assert mine["rmse"] == pytest.approx(float(r[("model", "rmse")]), rel=1e-9)
    trend = ard[(ard["ANALYSIS_ID"] == "TREND") & (ard["PARAMCD"] == "HBA1C")
                & (ard["AVISITN"] == 24)].set_index("STAT_NAME")
    for stat in ("estimate", "se", "p", "lcl", "ucl", "df"):
        assert trend.loc[stat, "VALUE"] == pytest.approx(float(r[("trend", stat)]), rel=1e-9), stat
    assert set(zip(trend["GROUP1"], trend["GROUP1_LEVEL"], trend["COMPARATOR"])) == {("ARM", "", "")}


def test_tables_and_figures_of_a_three_arm_trial_have_every_arm_and_comparison(trial_configs_all):
    from ucmsc import figures, report

    config = trial_configs_all["dose_ranging"]
    ard = run_pipeline("dose_ranging", "2022-11-30", config)["ard"]
    tables = report.build_tables(ard, config)
    flow = tables[0]
    assert flow.header == ["", "High dose (N=24)", "Low dose (N=24)", "Placebo (N=24)"]
    assert next(row.cells for row in flow.rows if row.label == "Randomised") == ["24", "24", "24"]
    ancova = next(t for t in tables if t.title.startswith("ANCOVA"))
    assert ancova.header == ["Parameter / visit", "High dose LS mean (SE)", "Low dose LS mean (SE)",
                             "Placebo LS mean (SE)", "High dose vs Placebo: Difference (95% CI)",
                             "Low dose vs Placebo: Difference (95% CI)", "High dose vs Placebo: P",
                             "Low dose vs Placebo: P"]
    assert any(t.title.startswith("Linear trend") for t in tables)
    drawn = figures.all_figures(ard, config)
    try:
        assert [stem for stem, *_ in drawn][:2] == ["01_consort", "02_trajectories_1"]
        forest = next(f for stem, _, f, _ in drawn if stem == "05_forest")
        assert {t.get_text() for t in forest.axes[0].get_legend().get_texts()} == {"High dose", "Low dose"}
    finally:
        import matplotlib.pyplot as plt
        for _, _, fig, _ in drawn:
            plt.close(fig)


def test_the_ae_figure_draws_every_arm_when_there_are_more_active_arms_than_markers():
    import matplotlib.pyplot as plt
    import pandas as pd

    from ucmsc import figures

    arms = [f"Dose {i}" for i in range(1, 8)] + ["Placebo"]  # seven active arms: one more than the active markers
    rows = []
    for term in ("Headache", "Pyrexia"):
        for arm in arms:
            rows.append({"PARAMCD": term, "GROUP1_LEVEL": arm, "COMPARATOR": "", "STAT_NAME": "pct", "VALUE": 10.0})
        for arm in arms[:-1]:
            for stat, value in (("estimate", 0.0), ("lcl", -0.1), ("ucl", 0.1)):
                rows.append({"PARAMCD": term, "GROUP1_LEVEL": arm, "COMPARATOR": "Placebo", "STAT_NAME": stat,
                             "VALUE": value, "STAT_LABEL": "95% CI lower (Wald)" if stat == "lcl" else ""})
    ard = pd.DataFrame(rows).assign(ANALYSIS_ID="AE")
    fig, _ = figures.ae_figure(ard, arms)
    try:
        assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == arms
    finally:
        plt.close(fig)
