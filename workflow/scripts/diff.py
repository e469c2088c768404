"""Rule diff: compare two consecutive cuts of a trial."""

from ucmsc.config import setup_logging
from ucmsc.diffcuts import compare_cuts
from ucmsc.domains import DOMAINS
from ucmsc.io import read_table, write_table

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
old = {d: read_table(p) for d, p in zip(DOMAINS, sm.input.old_tables)}
new = {d: read_table(p) for d, p in zip(DOMAINS, sm.input.new_tables)}
changes = compare_cuts(old, new, read_table(sm.input.old_ard), read_table(sm.input.new_ard))
for name in ("subjects", "records", "results"):
    write_table(changes[name], sm.output[name])
    log.info("%s: %d changes", name, len(changes[name]))
