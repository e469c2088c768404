import math

import numpy as np
import pandas as pd

from ucmsc import derive


def test_homa_ir_by_hand():
    # 5.0 mmol/L x 9.0 uU/mL / 22.5 = 2.0
    assert derive.compute_homa_ir([5.0], [9.0])[0] == 2.0


def test_bmi_and_nlr_by_hand_with_undefined_cases_missing():
    bmi = derive.compute_bmi([80.0, 70.0], [160.0, 0.0])
    assert math.isclose(bmi[0], 31.25) and np.isnan(bmi[1])
    nlr = derive.compute_nlr([4.0, 3.0], [2.0, 0.0])
    assert nlr[0] == 2.0 and np.isnan(nlr[1])


def test_change_from_baseline_and_percent_change_missing_when_base_is_zero():
    bds = pd.DataFrame({"USUBJID": ["A"] * 3 + ["B"] * 2, "PARAMCD": ["X"] * 5, "AVISITN": [0, 9, 20, 0, 9],
                        "AVAL": [10.0, 8.0, 12.5, 0.0, 1.0]})
    out = derive.derive_baseline_and_change(bds)
    assert list(out["ABLFL"]) == ["Y", "", "", "Y", ""]
    assert out["CHG"].tolist()[1:3] == [-2.0, 2.5]
    assert out["PCHG"].tolist()[1:3] == [-20.0, 25.0]
    assert np.isnan(out["PCHG"].iloc[4]) and out["CHG"].iloc[4] == 1.0
