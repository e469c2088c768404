"""Rule figures: every figure of a cut, with provenance embedded and in a sidecar."""

from pathlib import Path

from ucmsc.config import setup_logging
from ucmsc.figures import run_figures

sm = snakemake  # noqa: F821
run_figures(sm.input.ard, sm.input.raw_files, sm.params.trial, sm.wildcards.trial, sm.wildcards.cut, sm.output.figures,
            Path.cwd(), setup_logging(sm.log[0]))
