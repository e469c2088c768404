"""Rule report: one self-contained HTML page per trial and cut, and the provenance of its tables."""

import json
from pathlib import Path

import pandas as pd

from ucmsc import provenance, report
from ucmsc.config import setup_logging
from ucmsc.io import read_table, write_json, write_text

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
context = report.build_context(
    ard=read_table(sm.input.ard),
    audit=read_table(sm.input.audit, text_columns=("PUBLISHED", "REPRODUCED")),
    queries=pd.concat([read_table(sm.input.queries), read_table(sm.input.derive_queries)]).fillna(""),
    summary=read_table(sm.input.summary),
    raw_files=json.loads(Path(sm.input.raw_files).read_text()),
    figures=report.figure_entries(Path(sm.input.figures)),
    config=sm.params.trial,
    cut=sm.wildcards.cut,
    code=provenance.code_version(Path.cwd()),
    ard_file=provenance.file_entry(sm.input.ard, "ARD"),
    diff={name: read_table(sm.input[f"diff_{name}"], text_columns=("OLD", "NEW")) for name in ("results", "records", "subjects")}
    if "diff_results" in sm.input.keys() else None,
    previous=sm.params.previous,
)
write_text(report.render_report(context), sm.output.html)
write_json(context["table_provenance"], sm.output.tables_provenance)
log.info("report written: %s (%d tables, %d figures)", sm.output.html, len(context["tables"]), len(context["figures"]))
