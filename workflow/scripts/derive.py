"""Rule derive: ADSL, ADBDS (all parameters, long) and ADAE, with derivation queries."""

from ucmsc import derive
from ucmsc.config import load_yaml, setup_logging
from ucmsc.domains import DOMAINS
from ucmsc.io import read_table, write_table
from ucmsc.queries import QueryLog

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
config = sm.params.trial
sdtm = {domain: read_table(path) for domain, path in zip(DOMAINS, sm.input.tables)}
queries = QueryLog(prefix="D")
adsl = derive.derive_adsl(sdtm, config)
adbds = derive.derive_bds(sdtm, adsl, config, queries)
adsl = derive.derive_population_flags(adsl, adbds, n_visits=len(config["visits"]))
adsl = derive.derive_vars_baseline(adsl, adbds, config["analysis"]["adsl_baseline"])
adae = derive.derive_adae(sdtm["AE"], adsl, sdtm["EX"], load_yaml(sm.input.ae_dictionary), queries)
write_table(adsl, sm.output.adsl)
write_table(adbds, sm.output.adbds)
write_table(adae, sm.output.adae)
write_table(queries.frame(), sm.output.queries)
log.info("ADSL %d subjects, ADBDS %d records, ADAE %d events, %d derivation queries", len(adsl), len(adbds), len(adae),
         len(queries.rows))
