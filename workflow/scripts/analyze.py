"""Rule analyze: the analysis plan into the ARD."""

from ucmsc.analyze import run_analyses
from ucmsc.config import setup_logging
from ucmsc.io import read_table, sha256_file, write_table

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
config = sm.params.trial
inputs = ";".join(f"{name}:{sha256_file(sm.input[name])}" for name in ("adsl", "adbds", "adae"))
ard = run_analyses(read_table(sm.input.adsl), read_table(sm.input.adbds), read_table(sm.input.adae), config,
                   sm.wildcards.trial, sm.wildcards.cut, inputs)
write_table(ard, sm.output.ard)
log.info("ARD: %d rows, %d analyses", len(ard), ard["ANALYSIS_ID"].nunique())
