import json

import numpy as np
import pyreadstat

from conftest import DATACUTS
from ucmsc.simulate.deliver import write_cut
from ucmsc.simulate.generate import simulate_trial
from ucmsc.simulate.trials import SAFETY


def test_same_seed_gives_identical_files(tmp_path):
    for run in ("a", "b"):
        truth = simulate_trial(SAFETY, 11)
        write_cut(truth, "2021-07-30", tmp_path / run)
    manifests = [json.loads((tmp_path / run / "t2dm_safety" / "2021-07-30" / "manifest.json").read_text()) for run in "ab"]
    assert manifests[0]["files"] == manifests[1]["files"]


def test_bundled_final_cut_holds_published_glucose_from_the_raw_file():
    lb, _ = pyreadstat.read_xport(str(DATACUTS / "nafld_efficacy" / "2019-01-15" / "lb.xpt"))
    dm, _ = pyreadstat.read_xport(str(DATACUTS / "nafld_efficacy" / "2019-01-15" / "dm.xpt"))
    glucose = lb[(lb["LBTESTCD"] == "GLUC")].drop_duplicates(["SUBJID", "VISIT"]).merge(dm[["SUBJID", "TRTGRP"]])
    glucose = glucose[glucose["SUBJID"].isin(dm["SUBJID"])]
    msc = glucose[(glucose["TRTGRP"] == 1) & (glucose["VISIT"] == "WEEK 20")]["LBORRES"].astype(float)
    assert f"{msc.mean():.2f} ± {np.std(msc, ddof=1):.2f}" == "7.51 ± 1.77"
    manifest = json.loads((DATACUTS / "nafld_efficacy" / "2019-01-15" / "manifest.json").read_text())
    assert manifest["synthetic"] is True
