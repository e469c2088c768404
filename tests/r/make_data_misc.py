"""Seeded data for tests/r/misc.R: changes from baseline (paired t-test) and P-values (Holm, Benjamini-Hochberg).

Run by `make reference` from the project root; writes tests/reference/data/misc_*.csv.
"""

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "reference" / "data"


def main() -> None:
    rng = np.random.default_rng(20261128)
    changes = pd.DataFrame({"sample": np.repeat(["small", "skewed", "ties"], [7, 25, 12]),
                            "change": np.concatenate([rng.normal(-0.4, 1.0, 7), rng.lognormal(0, 1, 25) - 1.2,
                                                      np.round(rng.normal(0.3, 0.6, 12), 1)])})
    changes.to_csv(OUT / "misc_changes.csv", index=False, float_format="%.17g")
    pvalues = np.concatenate([rng.uniform(0, 0.06, 8), rng.uniform(0, 1, 13), [0.05, 0.05, 1.0]])
    pd.DataFrame({"p": pvalues}).to_csv(OUT / "misc_pvalues.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
