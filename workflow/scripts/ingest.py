"""Rule ingest: read and map the raw files of one data cut."""

import json
from pathlib import Path

from ucmsc.config import setup_logging
from ucmsc.domains import DOMAINS
from ucmsc.ingest import ingest_cut
from ucmsc.io import write_json, write_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
config = sm.params.trial
tables, metadata = ingest_cut(sm.params.cut_dir, config)
for domain, path in zip(DOMAINS, sm.output.tables):
    write_table(tables[domain], path)
    log.info("%s: %d records", domain, len(tables[domain]))
manifest = Path(sm.params.cut_dir) / "manifest.json"
write_json({"cut_dir": sm.params.cut_dir, "files": metadata,
            "manifest": json.loads(manifest.read_text()) if manifest.exists() else None}, sm.output.raw_files)
