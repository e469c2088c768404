"""Rule derive: ADSL, ADBDS (all parameters, long) and ADAE, with derivation queries."""

from ucmsc.config import load_yaml, setup_logging
from ucmsc.derive import run_derive

sm = snakemake  # noqa: F821
run_derive(list(sm.input.tables), sm.params.trial, load_yaml(sm.input.ae_dictionary), sm.output.adsl, sm.output.adbds,
           sm.output.adae, sm.output.queries, setup_logging(sm.log[0]))
