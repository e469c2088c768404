"""Rule figures: every figure of a cut, with provenance embedded and in a sidecar."""

from pathlib import Path

from ucmsc.figures import run_figures
from ucmsc.stages import start_stage

sm = snakemake  # noqa: F821
log = start_stage("figures", sm.params.cut_results, sm.log[0], sm.wildcards)  # removes the outputs this job makes stale
run_figures(sm.input.ard, sm.input.raw_files, sm.params.trial, sm.wildcards.trial, sm.wildcards.cut, sm.output.figures,
            Path.cwd(), log)
