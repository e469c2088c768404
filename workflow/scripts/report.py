"""Rule report: one self-contained HTML page per trial and cut, and the provenance of its tables."""

from pathlib import Path

from ucmsc.report import run_report
from ucmsc.stages import start_stage

sm = snakemake  # noqa: F821
log = start_stage("report", sm.params.cut_results, sm.log[0], sm.wildcards)  # removes the outputs this job makes stale
run_report(dict(sm.input.items()), sm.params.trial, sm.wildcards.cut, sm.params.previous, Path.cwd(), sm.output.html,
           sm.output.tables_provenance, log, build_path=sm.output.build, tlf_dir=sm.output.tlf)
