"""Rule figures: every figure of a cut, with provenance embedded and in a sidecar."""

import json
from pathlib import Path

from ucmsc import figures, provenance
from ucmsc.config import load_yaml, setup_logging
from ucmsc.io import read_table
from ucmsc.provenance import file_entry

sm = snakemake  # noqa: F821
log = setup_logging(sm.log[0])
config = load_yaml(sm.input.trial_config)
ard = read_table(sm.input.ard)
raw = json.loads(Path(sm.input.raw_files).read_text())
arms = [a["arm"] for a in config["arms"]]
code = provenance.code_version(Path.cwd())
inputs = [file_entry(sm.input.ard, "ARD"), file_entry(sm.input.trial_config, "trial config")]
plots = {
    "trajectories": ("Mean ± SE by visit and arm", figures.trajectory_figure(ard, config["analysis"]["figure_parameters"], arms)),
    "responders": ("Responders by visit and arm", figures.responder_figure(ard, arms)),
    "adverse_events": ("Adverse events by preferred term", figures.ae_figure(ard, arms)),
}
out_dir = Path(sm.output.figures)
for stem, (title, drawn) in plots.items():
    if drawn is None:
        log.info("%s: nothing to draw for this trial", stem)
        continue
    fig, rows = drawn
    record = provenance.record(
        artefact=f"{stem}.png", title=title, rule="figures", script="workflow/scripts/figures.py", inputs=inputs,
        raw_files=raw["files"], params={"trial": sm.wildcards.trial, "cut": sm.wildcards.cut,
                                        "figure_parameters": config["analysis"]["figure_parameters"]},
        code=code, ard_rows=rows[["ANALYSIS_ID", "PARAMCD", "AVISITN", "GROUP", "VARIABLE", "STAT_NAME", "VALUE"]].to_dict("records"))
    figures.save_figure(fig, out_dir, stem, record)
    log.info("%s: %d ARD rows drawn", stem, len(rows))
