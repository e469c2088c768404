"""Rule report: one self-contained HTML page per trial and cut, and the provenance of its tables."""

from pathlib import Path

from ucmsc.config import setup_logging
from ucmsc.report import run_report

sm = snakemake  # noqa: F821
run_report(dict(sm.input.items()), sm.params.trial, sm.wildcards.cut, sm.params.previous, Path.cwd(), sm.output.html,
           sm.output.tables_provenance, setup_logging(sm.log[0]))
