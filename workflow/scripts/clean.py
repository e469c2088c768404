"""Rule clean: record checks, query log, quarantine, clean domains."""

from datetime import date

from ucmsc.clean import run_clean
from ucmsc.stages import start_stage

sm = snakemake  # noqa: F821
log = start_stage("clean", sm.params.cut_results, sm.log[0], sm.wildcards)  # removes the outputs this job makes stale
run_clean(list(sm.input.tables), sm.input.other, sm.params.trial, date.fromisoformat(sm.wildcards.cut),
          list(sm.output.tables), sm.output.other, sm.output.queries, sm.output.quarantine, sm.output.summary,
          sm.output.dictionary, log, transport_folder=sm.output.transport)
