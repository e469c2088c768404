"""Write the seeded data sets of tests/r/mmrm.R: two-arm trials with a baseline covariate and 3-4 post-baseline visits.

- mmrm_complete: 60 subjects, 3 visits, every visit observed (balanced);
- mmrm_dropout: 80 subjects (42 vs 38), 4 visits, monotone dropout more likely at a high baseline (missing at random);
- mmrm_intermittent: 70 subjects, 4 visits, each later visit missing with probability 0.2, intermittently;
- mmrm_ties: 40 subjects, 3 visits, integer baselines and changes rounded to 0.5 (many ties), two subjects with
  identical records, a few missing visits.

Columns: USUBJID, ARM, ACTIVE (1 = UC-MSC, 0 = Placebo), AVISITN, BASE, CHG. Run by `make reference` from the project
root.
"""

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "reference" / "data"
SIGMA4 = np.array([[1.0, 0.6, 0.5, 0.3], [0.6, 1.4, 0.8, 0.6], [0.5, 0.8, 1.8, 1.0], [0.3, 0.6, 1.0, 2.2]])


def _trial(rng, n_active: int, n_control: int, visits: list[int]) -> pd.DataFrame:
    n, k = n_active + n_control, len(visits)
    active = np.r_[np.ones(n_active), np.zeros(n_control)]
    base = rng.normal(8, 1.5, n)
    errors = rng.multivariate_normal(np.zeros(k), SIGMA4[:k, :k], n)
    effect = -0.4 * np.arange(1, k + 1)  # the arm difference grows over the visits
    chg = 0.2 - 0.35 * (base[:, None] - 8) + active[:, None] * effect + errors
    return pd.DataFrame({"USUBJID": np.repeat([f"S{i + 1:03d}" for i in range(n)], k),
                         "ARM": np.repeat(np.where(active == 1, "UC-MSC", "Placebo"), k),
                         "ACTIVE": np.repeat(active, k).astype(int), "AVISITN": np.tile(visits, n),
                         "BASE": np.repeat(base, k), "CHG": chg.reshape(-1)})


def complete(rng) -> pd.DataFrame:
    return _trial(rng, 30, 30, [9, 20, 48])


def dropout(rng) -> pd.DataFrame:
    data = _trial(rng, 42, 38, [4, 9, 20, 48])
    subjects = data.drop_duplicates("USUBJID")
    # after each visit a subject leaves with probability 0.12, higher with a higher baseline
    leave = 1 / (1 + np.exp(-(-2.0 + 0.6 * (subjects["BASE"].to_numpy() - 8))))
    last = np.full(len(subjects), 3)
    for visit in range(3):
        gone = (last == 3) & (rng.random(len(subjects)) < leave)
        last[gone] = np.minimum(last[gone], visit)
    position = data.groupby("USUBJID").cumcount().to_numpy()
    return data[position <= np.repeat(last, 4)]


def intermittent(rng) -> pd.DataFrame:
    data = _trial(rng, 35, 35, [4, 9, 20, 48])
    position = data.groupby("USUBJID").cumcount().to_numpy()
    return data[(position == 0) | (rng.random(len(data)) >= 0.2)]


def ties(rng) -> pd.DataFrame:
    data = _trial(rng, 20, 20, [9, 20, 48])
    data["BASE"] = np.clip(np.round(data["BASE"]), 6, 10)
    data["CHG"] = np.round(data["CHG"] * 2) / 2
    copy = data["USUBJID"] == "S040"  # S040 (placebo) repeats S039's records
    data.loc[copy, ["BASE", "CHG"]] = data.loc[data["USUBJID"] == "S039", ["BASE", "CHG"]].to_numpy()
    position = data.groupby("USUBJID").cumcount().to_numpy()
    return data[(position == 0) | (rng.random(len(data)) >= 0.1) | data["USUBJID"].isin(["S039", "S040"])]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for seed, make in enumerate((complete, dropout, intermittent, ties), start=11):
        data = make(np.random.default_rng(seed)).reset_index(drop=True)
        data.to_csv(OUT / f"mmrm_{make.__name__}.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
