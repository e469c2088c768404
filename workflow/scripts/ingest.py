"""Rule ingest: read and map the raw files of one data cut."""

from ucmsc.ingest import run_ingest
from ucmsc.stages import start_stage

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = start_stage("ingest", sm.params.cut_results, sm.log[0], sm.wildcards)  # removes the outputs this job makes stale
run_ingest(sm.params.cut_dir, sm.params.trial, list(sm.output.tables), sm.output.other, sm.output.raw_files, log)
