"""What each workflow stage asks a cluster for: threads, memory (MiB) and a time limit (minutes), from measurements.

Measured with Snakemake ``benchmark:`` files (peak resident memory of the job's process tree, wall time) on every
bundled cut (0.13-0.29 MB of raw files) and on a 10,000-subject nafld_efficacy cut from the simulator (28 MB of
raw files), on a 2-core machine shared with other builds (wall times up to 3x the CPU time). Memory grows with
the cut's raw files: a request is the bundled cuts' largest peak plus a slope per raw MB fitted to the large cut,
times 1.5. The time limit is 3x the measured wall time the same way, never below 5 minutes. Every stage is one
single-threaded Python process (CPU time below wall time at both sizes): one thread each.

Sizes come from the cut's raw files, known before any job of the cut runs: a cluster job that runs a whole cut
is sized when it is submitted, before the stages' intermediate files exist. Importing this module stays cheap
(no pandas): the Snakefile imports it at parse time.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable

MEMORY_HEADROOM = 1.5
TIME_HEADROOM = 3.0
MIN_RUNTIME_MIN = 5

# stage: (largest peak MiB on the bundled cuts, MiB per MB of raw files, longest wall s on the bundled cuts,
# s per MB of raw files). Slopes: (10,000-subject cut - bundled nafld_efficacy 2019-01-15) / 28 MB more raw files;
# 0 where the large cut needed no more (audit, figures and report read the ARD, which stays small).
MEASURED = {
    "ingest": (151, 6.8, 1.9, 0.09),  # 10,000 subjects: 340 MiB, 3.7 s
    "clean": (159, 16.6, 3.2, 1.5),  # 622 MiB, 43 s
    "derive": (201, 47.2, 5.2, 5.4),  # 1,520 MiB, 153 s
    "analyze": (316, 56.0, 13.5, 16.8),  # 1,867 MiB, 478 s
    "audit": (265, 0.0, 3.4, 0.0),  # 222 MiB, 1.4 s
    "figures": (490, 0.0, 19.7, 0.0),  # 491 MiB, 8.3 s
    "report": (266, 0.0, 37.0, 0.0),  # 263 MiB, 9.6 s
    # not measured on a large cut (the simulator writes one cut): cleaning's slopes, as it reads the same tables
    "diff": (274, 16.6, 4.3, 1.5),
    "index": (162, 0.0, 1.5, 0.0),
}


def files_mb(paths: Iterable[str | os.PathLike]) -> float:
    """Total size of the files that exist among ``paths``, in MB (2**20 bytes)."""
    return sum(os.path.getsize(p) for p in paths if os.path.isfile(p)) / 2**20


def mem_mb(stage: str, raw_mb: float = 0.0) -> int:
    """Memory request of ``stage`` on a cut with ``raw_mb`` MB of raw files, rounded up to 50 MiB."""
    peak, per_mb, _, _ = MEASURED[stage]
    return int(math.ceil(MEMORY_HEADROOM * (peak + per_mb * raw_mb) / 50) * 50)


def runtime_min(stage: str, raw_mb: float = 0.0) -> int:
    """Time limit of ``stage`` in whole minutes on a cut with ``raw_mb`` MB of raw files."""
    _, _, seconds, per_mb = MEASURED[stage]
    return max(MIN_RUNTIME_MIN, int(math.ceil(TIME_HEADROOM * (seconds + per_mb * raw_mb) / 60)))
