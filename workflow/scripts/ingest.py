"""Rule ingest: read and map the raw files of one data cut."""

from ucmsc.config import setup_logging
from ucmsc.ingest import run_ingest

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_ingest(sm.params.cut_dir, sm.params.trial, list(sm.output.tables), sm.output.raw_files, setup_logging(sm.log[0]))
