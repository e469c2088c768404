"""The self-contained HTML report of one trial and cut, rendered from the ARD and the query log only."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jinja2
import pandas as pd

from ucmsc.rounding import format_half_up

SECTIONS = ("Study summary", "Participant flow", "Baseline characteristics", "Endpoints by visit", "Responders",
            "Adverse events", "Figures", "Published vs reproduced", "Data queries", "Provenance")


def format_p(p: float) -> str:
    if pd.isna(p):
        return ""
    return "<0.001" if p < 0.001 else format_half_up(p, 3)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("ucmsc", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["p"] = format_p
    return env


def _cells(ard: pd.DataFrame) -> dict:
    """(ANALYSIS_ID, PARAMCD, AVISITN, GROUP, VARIABLE, STAT_NAME) -> value, for quick lookup."""
    key = ard[["ANALYSIS_ID", "PARAMCD", "AVISITN", "GROUP", "VARIABLE", "STAT_NAME"]].fillna(-1)
    return dict(zip(map(tuple, key.to_numpy().tolist()), ard["VALUE"]))


def _mean_sd(cells, analysis, paramcd, visit, arm, variable="AVAL", decimals=2) -> str:
    n = cells.get((analysis, paramcd, visit, arm, variable, "n"))
    if not n:
        return ""
    mean = cells.get((analysis, paramcd, visit, arm, variable, "mean"))
    sd = cells.get((analysis, paramcd, visit, arm, variable, "sd"))
    return f"{format_half_up(mean, decimals)} ± {format_half_up(sd, decimals)} ({int(n)})"


def _n_pct(cells, analysis, paramcd, visit, arm, variable) -> str:
    n = cells.get((analysis, paramcd, visit, arm, variable, "n"))
    total = cells.get((analysis, paramcd, visit, arm, variable, "N"))
    pct = cells.get((analysis, paramcd, visit, arm, variable, "pct"))
    if n is None:
        return ""
    return f"{int(n)}/{int(total)} ({format_half_up(pct, 1)}%)"


def build_context(ard: pd.DataFrame, audit: pd.DataFrame, queries: pd.DataFrame, summary: pd.DataFrame, raw_files: dict, figures: list[dict],
                  config: dict, cut: str, code: dict) -> dict:
    arms = [a["arm"] for a in config["arms"]]
    contrast = f"{arms[0]} vs {arms[1]}"
    cells = _cells(ard)
    labels = ard.drop_duplicates("PARAMCD").set_index("PARAMCD")["PARAM"].to_dict()

    flow = [{"label": labels[flag], "counts": [int(cells.get(("POP", flag, -1, arm, -1, "n"), 0)) for arm in arms]}
            for flag in ("RANDFL", "SAFFL", "FASFL", "PPROTFL")]
    flow += [{"label": status.title(), "counts": [int(cells.get(("DISP", status, -1, arm, -1, "n"), 0)) for arm in arms]}
             for status in ("COMPLETED", "DISCONTINUED", "ONGOING")]

    baseline = [{"label": "Age (years), mean ± SD (n)", "cells": [_mean_sd(cells, "BASELINE", "AGE", 0, a, "AGE") for a in arms],
                 "p": cells.get(("BASELINE", "AGE", 0, contrast, "AGE", "p"))},
                {"label": "Male, n/N (%)", "cells": [_n_pct(cells, "BASELINE", "SEXM", 0, a, "SEX") for a in arms],
                 "p": cells.get(("BASELINE", "SEXM", 0, contrast, "SEX", "p"))}]
    base_params = ard[(ard["ANALYSIS_ID"] == "BASELINE") & (ard["VARIABLE"] == "AVAL")]["PARAMCD"].unique()
    baseline += [{"label": labels[p], "cells": [_mean_sd(cells, "BASELINE", p, 0, a) for a in arms],
                  "p": cells.get(("BASELINE", p, 0, contrast, "AVAL", "p"))} for p in base_params]

    cont = ard[(ard["ANALYSIS_ID"] == "CONT") & (ard["VARIABLE"] == "AVAL")]
    endpoints = []
    for paramcd in dict.fromkeys(cont["PARAMCD"]):
        visits = sorted(cont.loc[cont["PARAMCD"] == paramcd, "AVISITN"].unique())
        endpoints.append({"label": labels[paramcd], "rows": [
            {"visit": f"Week {v:g}", "cells": [_mean_sd(cells, "CONT", paramcd, v, a) for a in arms],
             "change": [_mean_sd(cells, "CONT", paramcd, v, a, "CHG") for a in arms],
             "p": cells.get(("CONT", paramcd, v, contrast, "AVAL", "p")),
             "p_change": cells.get(("CONT", paramcd, v, contrast, "CHG", "p"))} for v in visits]})

    resp = ard[ard["ANALYSIS_ID"] == "RESP"]
    responders = [{"label": labels[p], "visit": f"Week {v:g}",
                   "cells": [_n_pct(cells, "RESP", p, v, a, "AVAL") for a in arms],
                   "p": cells.get(("RESP", p, v, contrast, "AVAL", "p")),
                   "fisher_p": cells.get(("RESP", p, v, contrast, "AVAL", "fisher_p"))}
                  for p, v in resp[["PARAMCD", "AVISITN"]].drop_duplicates().itertuples(index=False)]

    ae = ard[ard["ANALYSIS_ID"] == "AE"]
    adverse = [{"label": labels[p], "cells": [_n_pct(cells, "AE", p, -1, a, "USUBJID") for a in arms],
                "events": [int(cells.get(("AE", p, -1, a, "USUBJID", "events"), 0)) for a in arms],
                "p": cells.get(("AE", p, -1, contrast, "USUBJID", "fisher_p"))} for p in dict.fromkeys(ae["PARAMCD"])]

    by_check = queries.groupby(["CHECK", "ACTION"]).size().reset_index(name="N").to_dict("records") if len(queries) else []
    manifest = raw_files.get("manifest") or {}
    return {
        "config": config, "cut": cut, "arms": arms, "sections": SECTIONS,
        "synthetic": bool(manifest.get("synthetic")), "synthetic_notice": manifest.get("notice", ""),
        "flow": flow, "baseline": baseline, "endpoints": endpoints, "responders": responders, "adverse": adverse,
        "queries": queries.to_dict("records"), "queries_by_check": by_check, "summary": summary.to_dict("records"),
        "figures": figures, "raw_files": raw_files["files"], "code": code, "ard_rows": len(ard),
        "audit": audit.fillna("").to_dict("records"), "audit_counts": audit["STATUS"].value_counts().to_dict(),
    }


def figure_entries(figure_dir: Path) -> list[dict]:
    """Embed each figure's PNG (base64) with its provenance sidecar."""
    entries = []
    for sidecar in sorted(Path(figure_dir).glob("*.json")):
        provenance = json.loads(sidecar.read_text())
        png = sidecar.with_suffix(".png")
        entries.append({"title": provenance["title"], "stem": sidecar.stem,
                        "png": base64.b64encode(png.read_bytes()).decode("ascii"),
                        "provenance": json.dumps(provenance, indent=2)})
    return entries


def render_report(context: dict) -> str:
    return _environment().get_template("report.html.j2").render(**context)


def render_index(entries: list[dict]) -> str:
    return _environment().get_template("index.html.j2").render(entries=entries)
