"""Write the data sets of tests/r/gee.R: a repeated binary outcome of two arms over 3-4 post-baseline visits.

Four seeded simulations (a subject's visits share a normal random intercept, so the outcome is correlated within
subject) with intermittent, monotone (dropout) and both kinds of missing visits, one with subjects seen at a single
visit (clusters of size 1); and the records the pipeline's GEE analyses in the bundled final efficacy cut
(HBA1CTGT, FAS, UC-MSC vs Placebo, post-baseline, observed). Columns: subject, arm (1 active, 0 control), visit,
y; rows sorted by subject then visit (geepack needs each subject's rows together). Run by `make reference`.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "reference" / "data"
VISIT_EFFECT = {9: 0.0, 20: -0.3, 36: -0.5, 48: -0.8}


def simulate(seed: int, n_active: int, n_control: int, visits: tuple[int, ...], sd_subject: float,
             p_skip: float = 0.0, p_drop: float = 0.0, n_single: int = 0) -> pd.DataFrame:
    """Latent logistic model y = 1{-0.2 + 1.0 arm + visit effect + b_i + e_ij > 0}, b_i ~ N(0, sd_subject^2).

    Each visit is skipped with probability p_skip (intermittent); after each visit a subject drops out with
    probability p_drop (monotone); the last n_single subjects keep one random visit only."""
    rng = np.random.default_rng(seed)
    n = n_active + n_control
    arm = np.r_[np.ones(n_active), np.zeros(n_control)]
    b = rng.normal(0.0, sd_subject, n)
    rows = []
    for i in range(n):
        seen = []
        for visit in visits:
            if rng.random() >= p_skip:
                seen.append(visit)
            if rng.random() < p_drop:
                break
        if i >= n - n_single:
            seen = [visits[rng.integers(len(visits))]]
        for visit in seen:
            latent = -0.2 + 1.0 * arm[i] + VISIT_EFFECT[visit] + b[i] + rng.logistic()
            rows.append((f"S{i + 1:03d}", int(arm[i]), visit, int(latent > 0)))
    return pd.DataFrame(rows, columns=["subject", "arm", "visit", "y"])


def efficacy_cut() -> pd.DataFrame:
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import FINAL_CUTS, run_pipeline
    from ucmsc.config import load_yaml

    config = load_yaml(ROOT / "config" / "trials" / "nafld_efficacy.yaml")
    result = run_pipeline("nafld_efficacy", FINAL_CUTS["nafld_efficacy"], config)
    adsl, bds = result["adsl"], result["bds"]
    fas = adsl.loc[adsl["FASFL"] == "Y", "USUBJID"]
    data = bds[bds["USUBJID"].isin(fas) & (bds["PARAMCD"] == "HBA1CTGT") & (bds["AVISITN"] > 0)
               & bds["ARM"].isin(["UC-MSC", "Placebo"])].dropna(subset=["AVAL"])
    return pd.DataFrame({"subject": data["USUBJID"], "arm": (data["ARM"] == "UC-MSC").astype(int),
                         "visit": data["AVISITN"].astype(int), "y": data["AVAL"].astype(int)})


def main() -> None:
    sets = {
        "gee_intermittent": simulate(101, 40, 40, (9, 20, 36, 48), 1.5, p_skip=0.2),
        "gee_monotone": simulate(202, 32, 28, (9, 20, 48), 1.5, p_drop=0.2),
        "gee_singletons": simulate(303, 22, 20, (9, 20, 36, 48), 1.2, p_skip=0.15, n_single=10),
        "gee_mixed": simulate(404, 55, 45, (9, 20, 36, 48), 2.5, p_skip=0.1, p_drop=0.1),
        "gee_efficacy_cut": efficacy_cut(),
    }
    for name, data in sets.items():
        data.sort_values(["subject", "visit"]).to_csv(OUT / f"{name}.csv", index=False)


if __name__ == "__main__":
    main()
