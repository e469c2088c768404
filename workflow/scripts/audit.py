"""Rule audit: published vs reproduced."""

from ucmsc.audit import run_audit
from ucmsc.config import load_yaml, setup_logging

sm = snakemake  # noqa: F821
run_audit(sm.input.ard, load_yaml(sm.input.published).get(sm.wildcards.trial), sm.output.audit, setup_logging(sm.log[0]))
