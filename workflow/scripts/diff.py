"""Rule diff: compare two consecutive cuts of a trial."""

from ucmsc.diffcuts import run_diff
from ucmsc.stages import start_stage

sm = snakemake  # noqa: F821
log = start_stage("diff", sm.params.cut_results, sm.log[0], sm.wildcards)  # removes the outputs this job makes stale
run_diff(list(sm.input.old_tables), list(sm.input.new_tables), sm.input.old_ard, sm.input.new_ard,
         {name: sm.output[name] for name in ("subjects", "records", "results")}, log)
