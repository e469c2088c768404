"""Rule diff: compare two consecutive cuts of a trial."""

from ucmsc.config import setup_logging
from ucmsc.diffcuts import run_diff

sm = snakemake  # noqa: F821
run_diff(list(sm.input.old_tables), list(sm.input.new_tables), sm.input.old_ard, sm.input.new_ard,
         {name: sm.output[name] for name in ("subjects", "records", "results")}, setup_logging(sm.log[0]))
