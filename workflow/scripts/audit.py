"""Rule audit: published vs reproduced."""

from ucmsc.audit import run_audit
from ucmsc.config import load_yaml
from ucmsc.stages import start_stage

sm = snakemake  # noqa: F821
log = start_stage("audit", sm.params.cut_results, sm.log[0], sm.wildcards)  # removes the outputs this job makes stale
run_audit(sm.input.ard, load_yaml(sm.input.published).get(sm.wildcards.trial), sm.output.audit, log,
          cut=sm.wildcards.cut, publication_cut=sm.params.trial.get("publication", {}).get("cut"))
