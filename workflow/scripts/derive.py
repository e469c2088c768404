"""Rule derive: ADSL, the BDS datasets and ADAE by the ADaM spec, their transport files, with derivation queries."""

from ucmsc.config import load_yaml
from ucmsc.derive import run_derive
from ucmsc.stages import start_stage

sm = snakemake  # noqa: F821
log = start_stage("derive", sm.params.cut_results, sm.log[0], sm.wildcards)  # removes the outputs this job makes stale
dictionary = load_yaml(sm.input.ae_dictionary[0]) if sm.input.ae_dictionary else {}  # the trial's, if it has one
run_derive(list(sm.input.tables), sm.params.trial, dictionary, sm.output.adsl, sm.output.bds, sm.output.adae,
           sm.output.queries, log, transport_folder=sm.output.transport, dictionary_path=sm.output.dictionary,
           spec_path=sm.input.spec, define_path=sm.output.define, conformance_path=sm.output.conformance,
           cut=sm.wildcards.cut)
