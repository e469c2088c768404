"""Rule clean: record checks, query log, quarantine, clean domains."""

from datetime import date

from ucmsc.clean import clean_cut
from ucmsc.config import setup_logging
from ucmsc.domains import DOMAINS, data_dictionary
from ucmsc.io import read_table, write_table

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
config = sm.params.trial
tables = {domain: read_table(path) for domain, path in zip(DOMAINS, sm.input.tables)}
tables = {d: t.astype({c: str for c in t.columns if c != "SRCROW"}) for d, t in tables.items()}
clean, queries, quarantine, summary = clean_cut(tables, config, date.fromisoformat(sm.wildcards.cut))
for domain, path in zip(DOMAINS, sm.output.tables):
    write_table(clean[domain], path)
write_table(queries, sm.output.queries)
write_table(quarantine, sm.output.quarantine)
write_table(summary, sm.output.summary)
write_table(data_dictionary(clean), sm.output.dictionary)
log.info("%d queries, %d records quarantined\n%s", len(queries), len(quarantine), summary.to_string(index=False))
