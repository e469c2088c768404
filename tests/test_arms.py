"""Subjects of an arm the analysis plan does not compare are never analysed as any arm (issue 22).

A three-arm delivery is made from the bundled final efficacy cut by moving 15 subjects to a third arm
(code 3) in dm.xpt; the trial config keeps its two arms.
"""

import copy

import numpy as np
import pytest

import deliveries as dl
from conftest import run_pipeline

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
def test_subjects_of_another_arm_are_queried_kept_and_in_no_population(trial_configs, three_arm_cut, code_for_third_arm, check):
    result = run_pipeline(EFF, FINAL, _config(trial_configs, code_for_third_arm), folder=three_arm_cut)
    frame, _ = dl.xpt_frame(three_arm_cut / "dm.xpt")
    moved = set("UCMSC-NAFLD-" + frame.loc[frame["TRTGRP"] == 3, "SUBJID"])
    queries = result["queries"]
    arm_queries = queries[(queries["VARIABLE"] == "ARM") & (queries["CHECK"] == check)]
    assert set(arm_queries["USUBJID"]) == moved and len(arm_queries) == MOVED
    assert (arm_queries["ACTION"] == "kept; excluded from every analysis population").all()
    adsl = result["adsl"].set_index("USUBJID")
    assert set(adsl.index) >= moved  # kept, not quarantined: their records do not become "subject not in DM"
    assert not (queries["CHECK"] == "subject_in_dm").groupby(queries["USUBJID"]).any().reindex(list(moved), fill_value=False).any()
    for flag in ("RANDFL", "SAFFL", "FASFL", "PPROTFL"):
        assert (adsl.loc[list(moved), flag] == "N").all(), flag
    assert adsl.loc[list(moved), "EXCLREAS"].str.contains("is not compared by the plan").all()
    assert (adsl.drop(index=list(moved))["EXCLREAS"] == "").all()


def test_the_ancova_compares_the_two_planned_arms_only(trial_configs, three_arm_cut):
    """ANCOVA of the change at week 20 against least squares computed here on the two planned arms only."""
    result = run_pipeline(EFF, FINAL, _config(trial_configs, True), folder=three_arm_cut)
    adsl, bds, ard = result["adsl"], result["bds"], result["ard"]
    fas = adsl[(adsl["FASFL"] == "Y") & adsl["ARM"].isin(["UC-MSC", "Placebo"])]["USUBJID"]
    data = bds[(bds["PARAMCD"] == "GLUC") & (bds["AVISITN"] == 20) & bds["USUBJID"].isin(fas)].dropna(subset=["CHG", "BASE"])
    x = np.column_stack([np.ones(len(data)), (data["ARM"] == "UC-MSC").astype(float), data["BASE"]])
    beta, rss, *_ = np.linalg.lstsq(x, data["CHG"].to_numpy(float), rcond=None)
    df = len(data) - 3
    rows = ard[(ard["ANALYSIS_ID"] == "ANCOVA") & (ard["PARAMCD"] == "GLUC") & (ard["AVISITN"] == 20)]
    contrast = rows[rows["GROUP"].str.contains(" vs ")].set_index("STAT_NAME")["VALUE"]
    assert contrast["estimate"] == pytest.approx(beta[1], rel=1e-10)
    assert contrast["df"] == df
    n = rows[(rows["STAT_NAME"] == "n") & ~rows["GROUP"].str.contains(" vs ")].set_index("GROUP")["VALUE"]
    assert n.to_dict() == {"UC-MSC": (data["ARM"] == "UC-MSC").sum(), "Placebo": (data["ARM"] == "Placebo").sum()}
