"""Write the data sets of tests/r/closedform.R: seeded samples and 2 x 2 tables for the closed-form statistics.

- data/closedform_signed_rank.csv (sample, value): one-sample changes for the Wilcoxon signed-rank test, with ties
  and zeros, without ties (small and large n), and the sleep-data differences.
- data/closedform_two_sample.csv (sample, group x / y, value): two-group samples for the Student and Welch t-tests
  (unequal variances and sizes) and the Mann-Whitney U.
- data/closedform_tables.csv (table, r1, n1, r2, n2): responders r of n per arm: Newcombe's (1998) Table II
  examples, zero cells, small and moderate n, and every adverse-event count of the bundled safety trial's final cut
  (e.g. pyrexia 4/24 vs 0/10), through the pipeline.

Run by `make reference` from the project root.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import FINAL_CUTS, run_pipeline  # noqa: E402
from ucmsc.config import load_yaml  # noqa: E402

OUT = ROOT / "tests" / "reference" / "data"
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
NEWCOMBE_TABLE_II = {"newcombe_a": (56, 70, 48, 80), "newcombe_b": (9, 10, 3, 10), "newcombe_c": (6, 7, 2, 7),
                     "newcombe_d": (5, 56, 0, 29), "newcombe_e": (0, 10, 0, 20), "newcombe_f": (0, 10, 0, 10),
                     "newcombe_g": (10, 10, 0, 20), "newcombe_h": (10, 10, 0, 10)}
OTHER_TABLES = {"tea": (3, 4, 1, 4), "hba1c_week9": (20, 33, 9, 32), "moderate": (200, 400, 150, 380),
                "zero_active": (0, 24, 4, 10), "all_active": (24, 24, 5, 10), "all_control": (7, 24, 10, 10),
                "three_of_three": (3, 3, 0, 3), "one_each": (1, 1, 0, 1), "rare": (1, 150, 0, 148),
                "one_outcome_none": (0, 24, 0, 10), "one_outcome_all": (24, 24, 10, 10), "half": (12, 24, 5, 10)}


def signed_rank_samples(rng: np.random.Generator) -> pd.DataFrame:
    samples = {
        "ties_zeros": rng.integers(-3, 5, 15).astype(float),  # integers: ties and zeros
        "ties_zeros_large": np.round(rng.normal(0.4, 1.5, 60) * 2) / 2,  # halves, n > 50
        "no_ties_small": np.round(rng.normal(0.5, 1.0, 12), 6),  # R's default is the exact P here
        "no_ties_large": np.round(rng.normal(-0.2, 1.0, 55), 6),  # n >= 50: R's default is the normal approximation
        "sleep": np.subtract(SLEEP_1, SLEEP_2),  # all <= 0, ties and one zero
        "mostly_zeros": np.array([0.0, 0.0, 0.0, 1.5, -0.5, 2.0, 0.0]),
        "two": np.array([1.0, -2.0]),
    }
    return pd.DataFrame([(name, v) for name, values in samples.items() for v in values], columns=["sample", "value"])


def two_sample_samples(rng: np.random.Generator) -> pd.DataFrame:
    samples = {
        "unequal_var": (rng.normal(5.0, 1.0, 12), rng.normal(4.0, 4.0, 20)),
        "unequal_var_small": (rng.normal(0.0, 0.5, 3), rng.normal(1.0, 3.0, 8)),
        "equal_n": (rng.normal(10.0, 2.0, 15), rng.normal(11.0, 2.5, 15)),
        "ties": (np.round(rng.normal(3.0, 1.0, 14)), np.round(rng.normal(3.5, 1.5, 11))),
        "sleep": (np.array(SLEEP_1), np.array(SLEEP_2)),
    }
    rows = [(name, group, v) for name, (x, y) in samples.items() for group, values in (("x", x), ("y", y))
            for v in values]
    return pd.DataFrame(rows, columns=["sample", "group", "value"])


def safety_tables() -> dict[str, tuple[int, int, int, int]]:
    """Every (active, control) adverse-event count of the bundled safety trial's final cut, by term and by SOC."""
    trial = "t2dm_safety"
    config = load_yaml(ROOT / "config" / "trials" / f"{trial}.yaml")
    ard = run_pipeline(trial, FINAL_CUTS[trial], config)["ard"]
    active, control = (next(a["arm"] for a in config["arms"] if a["active"] is flag) for flag in (True, False))
    counts = ard[ard["ANALYSIS_ID"].isin(["AE", "AESOC"]) & ard["STAT_NAME"].isin(["n", "N"])]
    wide = counts.pivot_table(index=["ANALYSIS_ID", "PARAMCD"], columns=["GROUP", "STAT_NAME"], values="VALUE")
    tables = {}
    for (analysis, paramcd), row in wide.iterrows():
        key = f"safety_{analysis}_{''.join(c if c.isalnum() else '_' for c in paramcd)}"
        tables[key] = tuple(int(row[(arm, stat)]) for arm in (active, control) for stat in ("n", "N"))
    return tables


def main() -> None:
    rng = np.random.default_rng(20240611)
    OUT.mkdir(parents=True, exist_ok=True)
    signed_rank_samples(rng).to_csv(OUT / "closedform_signed_rank.csv", index=False, float_format="%.17g")
    two_sample_samples(rng).to_csv(OUT / "closedform_two_sample.csv", index=False, float_format="%.17g")
    tables = NEWCOMBE_TABLE_II | OTHER_TABLES | safety_tables()
    pd.DataFrame([(name, *counts) for name, counts in tables.items()],
                 columns=["table", "r1", "n1", "r2", "n2"]).to_csv(OUT / "closedform_tables.csv", index=False)


if __name__ == "__main__":
    main()
