"""Write the data set of tests/r/ancova_two_of_three_arms.R: week-20 glucose change of a three-arm cut.

The cut is the bundled final efficacy cut with its last 15 subjects moved to a third arm (code 3, "Low dose"),
as tests/test_arms.py builds it; the pipeline derives FASFL; R subsets the two compared arms itself.
Run by `make reference` from the project root.
"""

import copy
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import deliveries as dl  # noqa: E402
from conftest import run_pipeline  # noqa: E402
from ucmsc.config import load_yaml  # noqa: E402

MOVED = 15


def main() -> None:
    config = copy.deepcopy(load_yaml(ROOT / "config" / "trials" / "nafld_efficacy.yaml"))
    next(s for s in config["sources"] if s["file"] == "dm.xpt")["codes"]["ARM"]["3"] = "Low dose"
    with tempfile.TemporaryDirectory() as tmp:
        folder = dl.copy_cut("nafld_efficacy", "2019-01-15", Path(tmp))

        def third_arm(frame):
            frame.loc[frame.index[-MOVED:], "TRTGRP"] = 3.0
            return frame
        dl.edit_xpt(folder / "dm.xpt", third_arm)
        dl.refresh_manifest(folder)
        result = run_pipeline("nafld_efficacy", "2019-01-15", config, folder=folder)
    adsl, bds = result["adsl"], result["bds"]
    data = bds[(bds["PARAMCD"] == "GLUC") & (bds["AVISITN"] == 20)].dropna(subset=["CHG", "BASE"])
    data = data.merge(adsl[["USUBJID", "FASFL"]], on="USUBJID")
    out = ROOT / "tests" / "reference" / "data" / "ancova_gluc_week20_three_arms.csv"
    data[["USUBJID", "ARM", "FASFL", "BASE", "CHG"]].to_csv(out, index=False, float_format="%.17g")


def three_arms() -> None:
    """Week-24 HbA1c change of the synthetic dose-ranging trial's final cut (three arms, all compared)."""
    config = load_yaml(ROOT / "config" / "trials" / "dose_ranging.yaml")
    result = run_pipeline("dose_ranging", "2022-11-30", config)
    adsl, bds = result["adsl"], result["bds"]
    fas = set(adsl.loc[adsl["FASFL"] == "Y", "USUBJID"])
    data = bds[(bds["PARAMCD"] == "HBA1C") & (bds["AVISITN"] == 24)
               & bds["USUBJID"].isin(fas)].dropna(subset=["CHG", "BASE"])
    out = ROOT / "tests" / "reference" / "data" / "ancova_hba1c_week24_dose_ranging.csv"
    data[["USUBJID", "ARM", "BASE", "CHG"]].to_csv(out, index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
    three_arms()
