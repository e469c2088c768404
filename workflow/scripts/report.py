"""Rule report: one self-contained HTML page per trial and cut."""

import json
from pathlib import Path

import pandas as pd

from ucmsc import provenance, report
from ucmsc.config import load_yaml, setup_logging
from ucmsc.io import read_table, write_text

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
context = report.build_context(
    ard=read_table(sm.input.ard),
    audit=read_table(sm.input.audit, text_columns=("PUBLISHED", "REPRODUCED")),
    queries=pd.concat([read_table(sm.input.queries), read_table(sm.input.derive_queries)]).fillna(""), summary=read_table(sm.input.summary),
    raw_files=json.loads(Path(sm.input.raw_files).read_text()), figures=report.figure_entries(Path(sm.input.figures)),
    config=load_yaml(sm.input.trial_config), cut=sm.wildcards.cut, code=provenance.code_version(Path.cwd()))
write_text(report.render_report(context), sm.output.html)
log.info("report written: %s", sm.output.html)
