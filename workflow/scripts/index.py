"""Rule index: a page linking every trial and cut's report."""

from ucmsc.config import setup_logging
from ucmsc.report import run_index

sm = snakemake  # noqa: F821
setup_logging(sm.log[0], console_prefix="index")
run_index(list(sm.input.reports), sm.params.titles, sm.output.html)
