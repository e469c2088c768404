"""Write the data sets of tests/r/hodges_lehmann.R: seeded samples for the Hodges-Lehmann estimates and the CIs of R's
wilcox.test(conf.int = TRUE), chosen so that each of R's branches is taken:

- data/hodges_lehmann_two_sample.csv (sample, group x / y, value): exact CI (both samples under 50, no ties: R's
  depression data, trial-sized skewed samples, tiny samples whose 95 % level is out of reach), normal-approximation CI
  (ties; 50 or more values; a limit at the end of the range, R's wilcox.test(1, 2:60) case).
- data/hodges_lehmann_one_sample.csv (sample, value): exact (under 50 non-zero values, no ties, no zeros; tiny n),
  normal approximation (ties and zeros, 50 or more values, rounded changes of a lab value), R's alpha widening.

Run by `make reference` from the project root.
"""

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "reference" / "data"
DEPRESSION_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]  # R's ?wilcox.test example (Hollander & Wolfe)
DEPRESSION_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def two_sample(rng: np.random.Generator) -> pd.DataFrame:
    samples = {
        "depression": (DEPRESSION_X, [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.061, 3.14, 1.291]),  # no ties: exact
        "depression_ties": (DEPRESSION_X, DEPRESSION_Y),  # 1.06 and 1.29 twice: normal approximation
        "skewed_33_32": (np.round(rng.lognormal(4.0, 0.8, 33), 6), np.round(rng.lognormal(3.8, 0.8, 32), 6)),
        "rounded_33_32": (np.round(rng.lognormal(1.0, 0.5, 33), 1), np.round(rng.lognormal(0.9, 0.5, 32), 1)),
        "safety_24_10": (np.round(rng.lognormal(-1.0, 0.6, 24), 6), np.round(rng.lognormal(-1.4, 0.6, 10), 6)),
        "large_55_30": (np.round(rng.normal(1.0, 2.0, 55), 6), np.round(rng.normal(0.0, 1.0, 30), 6)),
        "tiny_3_2": ([0.4, 1.7, 2.2], [0.1, 1.1]),  # 95 % not achievable
        "five_four": ([3.1, 4.4, 2.8, 5.0, 6.3], [1.2, 2.9, 0.7, 2.2]),
        "range_end": ([1.0], list(np.arange(2.0, 61.0))),  # R: wilcox.test(1, 2:60, conf.int = TRUE)
        "integers": (rng.integers(0, 6, 14).astype(float), rng.integers(1, 8, 11).astype(float)),
    }
    rows = [(name, group, float(v)) for name, (x, y) in samples.items() for group, values in (("x", x), ("y", y))
            for v in values]
    return pd.DataFrame(rows, columns=["sample", "group", "value"])


def one_sample(rng: np.random.Generator) -> pd.DataFrame:
    samples = {
        "depression_diff": np.subtract(DEPRESSION_X, DEPRESSION_Y),  # R's ?wilcox.test paired example: exact
        "sleep": np.subtract(SLEEP_1, SLEEP_2),  # ties and a zero
        "no_ties_12": np.round(rng.normal(0.5, 1.0, 12), 6),
        "skewed_30": np.round(rng.lognormal(0.0, 1.0, 30) - 1.0, 6),
        "tiny_4": np.array([0.8, -0.3, 1.9, 2.6]),  # 95 % not achievable (exact)
        "tiny_ties_4": np.array([0.5, 0.5, 1.0, 2.0]),  # ties with n = 4: R widens alpha
        "integers_zeros": rng.integers(-3, 5, 15).astype(float),
        "rounded_change_33": np.round(rng.normal(-0.3, 0.9, 33), 1),
        "large_60": np.round(rng.normal(-0.2, 1.0, 60), 6),
    }
    return pd.DataFrame([(name, float(v)) for name, values in samples.items() for v in values],
                        columns=["sample", "value"])


def main() -> None:
    rng = np.random.default_rng(20250218)
    OUT.mkdir(parents=True, exist_ok=True)
    two_sample(rng).to_csv(OUT / "hodges_lehmann_two_sample.csv", index=False, float_format="%.17g")
    one_sample(rng).to_csv(OUT / "hodges_lehmann_one_sample.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
