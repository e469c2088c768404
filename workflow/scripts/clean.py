"""Rule clean: record checks, query log, quarantine, clean domains."""

from datetime import date

from ucmsc.clean import run_clean
from ucmsc.config import setup_logging

sm = snakemake  # noqa: F821
run_clean(list(sm.input.tables), sm.params.trial, date.fromisoformat(sm.wildcards.cut), list(sm.output.tables),
          sm.output.queries, sm.output.quarantine, sm.output.summary, sm.output.dictionary, setup_logging(sm.log[0]))
