"""Rule figures: every figure of a cut, with provenance embedded and in a sidecar."""

import json
from pathlib import Path

from ucmsc import figures, provenance
from ucmsc.config import setup_logging
from ucmsc.io import read_table

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
config = sm.params.trial
ard = read_table(sm.input.ard)
raw = json.loads(Path(sm.input.raw_files).read_text())
code = provenance.code_version(Path.cwd())
inputs = [provenance.file_entry(sm.input.ard, "ARD")]
for stem, title, fig, rows in figures.all_figures(ard, config):
    record = provenance.record(
        artefact=f"{stem}.png", title=title, rule="figures", script="workflow/scripts/figures.py", inputs=inputs,
        raw_files=raw["files"], params={"trial": sm.wildcards.trial, "cut": sm.wildcards.cut, "analysis": config["analysis"]},
        code=code, ard_rows=provenance.ard_keys(rows))
    figures.save_figure(fig, Path(sm.output.figures), stem, record)
    log.info("%s: %d ARD rows drawn", stem, len(rows))
