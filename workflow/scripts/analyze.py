"""Rule analyze: the analysis plan into the ARD."""

from ucmsc.analyze import run_analyze
from ucmsc.config import setup_logging

sm = snakemake  # noqa: F821
run_analyze(sm.input.adsl, sm.input.adbds, sm.input.adae, sm.params.trial, sm.wildcards.trial, sm.wildcards.cut,
            sm.output.ard, setup_logging(sm.log[0]))
