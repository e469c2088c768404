"""What `snakemake --report` shows beside each output: the same label columns for every file of a cut, and for a
figure its number, title, statistic and population and the ARD rows it was drawn from, read from its provenance
sidecar. Imported by the Snakefile at parse time, so it reads JSON only (no pandas)."""

from __future__ import annotations

import json
from pathlib import Path

# The label columns of every output in the report, in this order.
LABELS = ("output", "title", "detail")

# The files of a cut other than figures: (output column, title, detail), by the rule output's name.
CUT_OUTPUTS = {
    "html": ("Study report (HTML)", "Tables, figures, audit, data queries and provenance of the cut",
             "Self-contained; opens offline. RTF files of the tables are in the cut's tlf/ folder."),
    "ard": ("Analysis results dataset (ARD)", "Every statistic of the cut, one row each",
            "Tables, figures, text and checks all read this file (CSV)."),
    "audit": ("Published-vs-reproduced audit", "Each number of the publication against the ARD, at its rounding",
              "Only the cut the publication reports is scored; others are marked interim."),
    "queries": ("Data-query log", "Every record check that fired, with file, row, column and action",
                "Raw files are never modified; corrections and exclusions are logged here."),
}


def cut_output_labels(name: str) -> dict[str, str]:
    return dict(zip(LABELS, CUT_OUTPUTS[name]))


def _source_rows(rows: list[dict]) -> str:
    """'304 ARD rows: analysis CONT; population FASFL; parameters GLUC, HBA1C'."""
    def values(key):
        return sorted({str(row.get(key)) for row in rows if row.get(key) not in (None, "")})

    parts = [f"{len(rows)} ARD rows"]
    for key, name in (("ANALYSIS_ID", "analysis"), ("POPULATION", "population"), ("PARAMCD", "parameters")):
        found = values(key)
        if found:
            parts.append(f"{name} {', '.join(found)}")
    return "; ".join(parts)


def figure_labels(sidecar: str | Path) -> dict[str, str]:
    """A figure's label columns from its provenance sidecar (``<figure>.json`` beside the PNG)."""
    record = json.loads(Path(sidecar).read_text(encoding="utf-8"))
    detail = " ".join(part for part in (record.get("footnote", ""), f"Source: {_source_rows(record['ard_rows'])}.")
                      if part)
    return dict(zip(LABELS, (record.get("number") or Path(sidecar).stem, record["title"], detail)))
