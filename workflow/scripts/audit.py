"""Rule audit: published vs reproduced."""

from ucmsc.audit import audit_trial
from ucmsc.config import load_yaml, setup_logging
from ucmsc.io import read_table, write_table

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
published = load_yaml(sm.input.published).get(sm.wildcards.trial)
table = audit_trial(read_table(sm.input.ard), published or {"source": "", "numbers": []})
write_table(table, sm.output.audit)
log.info("audit: %s", table["STATUS"].value_counts().to_dict())
