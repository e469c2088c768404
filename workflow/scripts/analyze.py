"""Rule analyze: the analysis plan into the ARD."""

from ucmsc.analyze import run_analyze
from ucmsc.stages import start_stage

sm = snakemake  # noqa: F821
log = start_stage("analyze", sm.params.cut_results, sm.log[0], sm.wildcards)  # removes the outputs this job makes stale
run_analyze(sm.input.adsl, sm.input.bds, sm.input.adae, sm.params.trial, sm.wildcards.trial, sm.wildcards.cut,
            sm.output.ard, log, cards_path=sm.output.cards)
