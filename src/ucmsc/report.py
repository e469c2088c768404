"""The self-contained HTML report of one trial and cut, rendered from the ARD (and the query log and audit) only.

Every table is built by one function that reads ARD rows and returns a ``Table``; the
report shows each table with a collapsible provenance panel naming the ARD rows it draws.
A statistic the ARD has as not estimable (VALUE NaN) prints as "NE", with a table note; the
section "Statistics not estimated" lists every ARD row with a WARNING or ERROR and its reason.
All text is HTML-escaped by jinja2's autoescape (terms from the data included).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import pandas as pd

from ucmsc.rounding import format_half_up

SECTIONS = ("Study summary", "Statistics not estimated", "Participant flow", "Baseline characteristics",
            "Endpoints by visit", "Model-based analyses", "Responders", "Adverse events", "Laboratory shifts",
            "Figures", "Published vs reproduced", "Changes since the previous cut", "Data queries", "Provenance")


def section_id(title: str) -> str:
    return title.lower().replace(" ", "-")


def format_p(p) -> str:
    if p is None or pd.isna(p):
        return ""
    return "<0.001" if p < 0.001 else format_half_up(p, 3)


NE = "NE"  # not estimable: the ARD has the row, with VALUE NaN and the reason in WARNING or ERROR
NE_NOTE = "NE: not estimable (the reasons are listed under Statistics not estimated)."


def _num(value, decimals: int) -> str:
    """'' for a statistic the ARD does not have, NE for one it has as not estimable, else the rounded value."""
    if value is None:
        return ""
    return NE if pd.isna(value) else format_half_up(value, decimals)


def _p(value) -> str:
    if value is None:
        return ""
    return NE if pd.isna(value) else format_p(value)


@dataclass
class Table:
    section: str
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""
    analysis_ids: list[str] = field(default_factory=list)
    ard_rows: int = 0


class Cells:
    """Look-ups into the ARD by (ANALYSIS_ID, PARAMCD, AVISITN, GROUP, VARIABLE, METHOD, STAT_NAME)."""

    def __init__(self, ard: pd.DataFrame):
        # -1 stands for "not applicable": blank in memory, missing once read back from CSV.
        key = ard[["ANALYSIS_ID", "PARAMCD", "AVISITN", "GROUP", "VARIABLE", "METHOD", "STAT_NAME"]].astype(object)
        key = key.where(key.notna() & (key != ""), -1)
        self.values = dict(zip(map(tuple, key.to_numpy().tolist()), ard["VALUE"]))
        self.by_stat: dict[tuple, float] = {}
        for (analysis, paramcd, visit, group, variable, method, stat), value in self.values.items():
            self.by_stat.setdefault((analysis, paramcd, visit, group, variable, stat), value)

    def get(self, analysis, paramcd, visit, group, variable, stat, method=None):
        if method is not None:
            return self.values.get((analysis, paramcd, visit, group, variable, method, stat))
        return self.by_stat.get((analysis, paramcd, visit, group, variable, stat))

    def p(self, analysis, paramcd, visit, group, variable, stat="p", method=None) -> str:
        return _p(self.get(analysis, paramcd, visit, group, variable, stat, method))

    def mean_sd(self, analysis, paramcd, visit, group, variable="AVAL", decimals=2) -> str:
        n = self.get(analysis, paramcd, visit, group, variable, "n")
        if n is None or pd.isna(n):
            return ""
        if n == 0:
            return f"{NE} (0)"
        mean, sd = self.get(analysis, paramcd, visit, group, variable, "mean"), self.get(analysis, paramcd, visit, group, variable, "sd")
        return f"{_num(mean, decimals)} ± {_num(sd, decimals)} ({int(n)})"

    def median_iqr(self, analysis, paramcd, visit, group, variable="AVAL", decimals=2) -> str:
        q = [self.get(analysis, paramcd, visit, group, variable, s) for s in ("median", "q1", "q3")]
        if q[0] is None:
            return ""
        return NE if pd.isna(q[0]) else f"{_num(q[0], decimals)} [{_num(q[1], decimals)}, {_num(q[2], decimals)}]"

    def n_pct(self, analysis, paramcd, visit, group, variable) -> str:
        n, total, pct = (self.get(analysis, paramcd, visit, group, variable, s) for s in ("n", "N", "pct"))
        if n is None:
            return ""
        if pd.isna(n) or pd.isna(total):
            return NE
        return f"{int(n)}/{int(total)} ({_num(pct, 1)}{'' if pd.isna(pct) else '%'})"

    def estimate_ci(self, analysis, paramcd, visit, group, variable, decimals=2, scale=1.0, stat="estimate") -> str:
        est, lcl, ucl = (self.get(analysis, paramcd, visit, group, variable, s) for s in (stat, "lcl", "ucl"))
        if est is None:
            return ""
        if pd.isna(est):
            return NE
        if lcl is None or pd.isna(lcl) or ucl is None or pd.isna(ucl):
            return f"{_num(scale * est, decimals)} ({NE})"
        return f"{_num(scale * est, decimals)} ({_num(scale * lcl, decimals)}, {_num(scale * ucl, decimals)})"


def _whole(value) -> str:
    """A row number read back from CSV (2572.0) as 2572; text and blanks as they are."""
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.0f}"
    return str(value)


def _labels(ard: pd.DataFrame) -> dict:
    return ard.drop_duplicates("PARAMCD").set_index("PARAMCD")["PARAM"].to_dict()


def _params(ard: pd.DataFrame, analysis: str, **filters) -> list:
    rows = ard[ard["ANALYSIS_ID"] == analysis]
    for column, value in filters.items():
        rows = rows[rows[column] == value]
    return list(dict.fromkeys(rows["PARAMCD"]))


def _count(ard: pd.DataFrame, ids: list[str]) -> int:
    return int(ard["ANALYSIS_ID"].isin(ids).sum())


def flow_table(ard, cells, arms, contrast) -> Table:
    labels = _labels(ard)
    rows = [[labels[flag]] + [str(int(cells.get("POP", flag, -1, a, -1, "n") or 0)) for a in arms]
            for flag in ("RANDFL", "SAFFL", "FASFL", "PPROTFL")]
    rows += [[status.title()] + [str(int(cells.get("DISP", status, -1, a, -1, "n") or 0)) for a in arms]
             for status in ("COMPLETED", "DISCONTINUED", "ONGOING")]
    excluded = ard[ard["ANALYSIS_ID"] == "EXCL"]
    note = ""
    if len(excluded):
        reasons = "; ".join(f"{r.PARAM} ({int(r.VALUE)})" for r in excluded.itertuples())
        note = (f"{int(excluded['VALUE'].sum())} subject(s) of the delivery are in no analysis population and are not "
                f"counted above: {reasons}. Their records stay in the clean data; each is queried (queries.csv).")
    return Table("Participant flow", "Analysis populations and disposition", [""] + arms, rows, note,
                 ["POP", "DISP", "EXCL"], _count(ard, ["POP", "DISP", "EXCL"]))


def baseline_table(ard, cells, arms, contrast) -> Table:
    labels = _labels(ard)
    rows = [["Age (years), mean ± SD (n)"] + [cells.mean_sd("BASELINE", "AGE", 0, a, "AGE") for a in arms]
            + [cells.p("BASELINE", "AGE", 0, contrast, "AGE", "p", "Student t-test"), "Student t"],
            ["Male, n/N (%)"] + [cells.n_pct("BASELINE", "SEXM", 0, a, "SEX") for a in arms]]
    fisher = cells.get("BASELINE", "SEXM", 0, contrast, "SEX", "test_used") == 2
    rows[-1] += [cells.p("BASELINE", "SEXM", 0, contrast, "SEX", "fisher_p" if fisher else "p"),
                 "Fisher exact" if fisher else "Pearson chi-square"]
    for p in _params(ard, "BASELINE", VARIABLE="AVAL"):
        skewed = cells.get("BASELINE", p, 0, contrast, "AVAL", "skewed") == 1
        if skewed:
            rows.append([f"{labels[p]}, median [IQR]"] + [cells.median_iqr("BASELINE", p, 0, a) for a in arms]
                        + [cells.p("BASELINE", p, 0, contrast, "AVAL", "p", "Mann-Whitney U"), "Mann-Whitney"])
        else:
            rows.append([f"{labels[p]}, mean ± SD (n)"] + [cells.mean_sd("BASELINE", p, 0, a) for a in arms]
                        + [cells.p("BASELINE", p, 0, contrast, "AVAL", "p", "Student t-test"), "Student t"])
    return Table("Baseline characteristics", "Baseline characteristics (randomised)", ["Characteristic"] + arms + ["P", "Test"], rows,
                 "Median [IQR] and Mann-Whitney U where |skewness| > 1; sex by Pearson chi-square without continuity "
                 "correction, Fisher exact when an expected count is below 5.", ["BASELINE"], _count(ard, ["BASELINE"]))


def endpoint_tables(ard, cells, arms, contrast) -> list[Table]:
    labels = _labels(ard)
    tables = []
    for p in _params(ard, "CONT", VARIABLE="AVAL"):
        visits = sorted(ard[(ard["ANALYSIS_ID"] == "CONT") & (ard["PARAMCD"] == p)]["AVISITN"].unique())
        rows = []
        for v in visits:
            row = [f"Week {v:g}"] + [cells.mean_sd("CONT", p, v, a) for a in arms]
            row.append(cells.p("CONT", p, v, contrast, "AVAL", "p", "Student t-test"))
            row += [cells.mean_sd("CONT", p, v, a, "CHG") for a in arms]
            row += [cells.p("WITHIN", p, v, a, "CHG", "p", "Paired t-test") for a in arms]
            row.append(cells.p("CONT", p, v, contrast, "CHG", "p", "Student t-test"))
            rows.append(row)
        header = (["Visit"] + [f"{a}: value" for a in arms] + ["P between"] + [f"{a}: change" for a in arms]
                  + [f"{a}: P vs week 0" for a in arms] + ["P change between"])
        tables.append(Table("Endpoints by visit", labels[p], header, rows,
                            "Mean ± SD (n). P between: Student t-test; P vs week 0: paired t-test within arm.",
                            ["CONT", "WITHIN"], int((ard["ANALYSIS_ID"].isin(["CONT", "WITHIN"]) & (ard["PARAMCD"] == p)).sum())))
    return tables


# The MMRM's option rows (ucmsc.analyze.mmrm_by_parameter) in words.
MMRM_TYPE_TEXT = {1: "unstructured covariance (TYPE=UN)", 2: "compound-symmetry covariance (TYPE=CS)"}
MMRM_DDFM_TEXT = {1: "Satterthwaite degrees of freedom (DDFM=SATTERTHWAITE)",
                  2: "Kenward-Roger adjusted SEs and degrees of freedom (DDFM=KR, Kenward & Roger 1997)",
                  3: "between-within degrees of freedom (subjects - 3)"}


def mmrm_note(ard) -> str:
    """The MMRM table's note: the covariance structure and df method its ARD rows say were used."""
    rows = ard[(ard["ANALYSIS_ID"] == "MMRM") & (ard["GROUP"] == "model")]

    def used(stat, text):
        values = rows.loc[rows["STAT_NAME"] == stat, "VALUE"].dropna().unique()
        return " / ".join(text.get(int(v), f"{stat} {v:g}") for v in sorted(values)) or f"{stat} not recorded"

    return (f"REML, {used('type', MMRM_TYPE_TEXT)}, {used('ddfm', MMRM_DDFM_TEXT)}; LS means at the mean baseline of "
            "the analysed records; difference with 95% CI.")


def model_tables(ard, cells, arms, contrast) -> list[Table]:
    labels = _labels(ard)
    tables = []
    for analysis, title, note in (
        ("ANCOVA", "ANCOVA of change from baseline, adjusted for baseline",
         "LS means at the mean baseline; difference with 95% CI; Holm and BH adjust across the plan's family."),
        ("MMRM", "MMRM of change from baseline over all post-baseline visits", mmrm_note(ard)),
    ):
        rows = []
        for p in _params(ard, analysis):
            at = ard[(ard["ANALYSIS_ID"] == analysis) & (ard["PARAMCD"] == p)]["AVISITN"]
            visits = sorted(at.dropna().unique())  # model-level rows have no visit
            for v in visits:
                lsm = [cells.get(analysis, p, v, a, "CHG", "lsmean") for a in arms]
                rows.append([labels[p], f"Week {v:g}"] + [_num(x, 2) for x in lsm]
                            + [cells.estimate_ci(analysis, p, v, contrast, "CHG"),
                               cells.p(analysis, p, v, contrast, "CHG"),
                               cells.p(analysis, p, v, contrast, "CHG", "p_holm"),
                               cells.p(analysis, p, v, contrast, "CHG", "p_bh")])
        if rows:
            tables.append(Table("Model-based analyses", title, ["Parameter", "Visit"] + [f"{a}: LS mean" for a in arms]
                                + ["Difference (95% CI)", "P", "P (Holm)", "P (BH)"], rows, note, [analysis], _count(ard, [analysis])))
    gee = [[labels[p], cells.estimate_ci("GEE", p, -1, contrast, "AVAL", stat="or"),
            cells.p("GEE", p, -1, contrast, "AVAL")] for p in _params(ard, "GEE")]
    if gee:
        tables.append(Table("Model-based analyses", "GEE logistic model of the repeated responder endpoint",
                            ["Endpoint", f"Odds ratio {contrast} (95% CI)", "P"], gee,
                            "All post-baseline visits, observed values; visit and arm as covariates; exchangeable working correlation, robust SE.",
                            ["GEE"], _count(ard, ["GEE"])))
    return tables


def responder_table(ard, cells, arms, contrast) -> Table | None:
    labels = _labels(ard)
    resp = ard[ard["ANALYSIS_ID"] == "RESP"]
    if resp.empty:
        return None
    rows = []
    for p, v in resp[["PARAMCD", "AVISITN"]].drop_duplicates().itertuples(index=False):
        rows.append([labels[p], f"Week {v:g}"] + [cells.n_pct("RESP", p, v, a, "AVAL") for a in arms]
                    + [cells.estimate_ci("RESP", p, v, contrast, "AVAL", 1, 100.0),
                       cells.p("RESP", p, v, contrast, "AVAL"), cells.p("RESP", p, v, contrast, "AVAL", "fisher_p")])
    return Table("Responders", "Responders by visit", ["Endpoint", "Visit"] + arms + ["Difference, % (95% CI)", "P (chi-square)", "P (Fisher)"],
                 rows, "Denominator: full analysis set; a subject without a value counts as a non-responder. Wald CI.",
                 ["RESP"], _count(ard, ["RESP"]))


def ae_tables(ard, cells, arms, contrast) -> list[Table]:
    labels = _labels(ard)
    tables = []
    for analysis, title in (("AE", "Treatment-emergent adverse events by preferred term"), ("AESOC", "... by system organ class")):
        rows = [[labels[p]] + [cells.n_pct(analysis, p, -1, a, "USUBJID") for a in arms]
                + [str(int(cells.get(analysis, p, -1, a, "USUBJID", "events") or 0)) for a in arms]
                + [cells.estimate_ci(analysis, p, -1, contrast, "USUBJID", 1, 100.0),
                   cells.p(analysis, p, -1, contrast, "USUBJID", "fisher_p")] for p in _params(ard, analysis)]
        tables.append(Table("Adverse events", title, ["Event"] + [f"{a}: subjects" for a in arms] + [f"{a}: events" for a in arms]
                            + ["Risk difference, % (95% CI)", "P (Fisher)"], rows, "Safety population; subjects with at least one event.",
                            [analysis], _count(ard, [analysis])))
    return tables


def shift_table(ard, cells, arms, contrast) -> Table | None:
    labels = _labels(ard)
    shifts = _params(ard, "SHIFT")
    if not shifts:
        return None
    rows = []
    for p in shifts:
        for a in arms:
            counts = [int(cells.get("SHIFT", p, -1, a, "ANRIND", f"{b}>{w}") or 0) for b in ("LOW", "NORMAL", "HIGH")
                      for w in ("LOW", "NORMAL", "HIGH")]
            rows.append([labels[p], a] + [str(c) for c in counts])
    header = ["Parameter", "Arm"] + [f"{b[0]}→{w[0]}" for b in ("LOW", "NORMAL", "HIGH") for w in ("LOW", "NORMAL", "HIGH")]
    return Table("Laboratory shifts", "Shift from baseline to worst post-baseline reference-range indicator", header, rows,
                 "L/N/H: below, within, above the reference range; worst post-baseline: any H, else any L, else N.",
                 ["SHIFT"], _count(ard, ["SHIFT"]))


def build_tables(ard: pd.DataFrame, config: dict) -> list[Table]:
    arms = [a["arm"] for a in config["arms"]]
    contrast = f"{arms[0]} vs {arms[1]}"
    cells = Cells(ard)
    tables = [flow_table(ard, cells, arms, contrast), baseline_table(ard, cells, arms, contrast)]
    tables += endpoint_tables(ard, cells, arms, contrast)
    tables += model_tables(ard, cells, arms, contrast)
    tables += [t for t in (responder_table(ard, cells, arms, contrast),) if t]
    tables += ae_tables(ard, cells, arms, contrast)
    tables += [t for t in (shift_table(ard, cells, arms, contrast),) if t]
    for table in tables:  # a table with a not-estimable cell says what NE means and where the reasons are
        if any(re.search(rf"\b{NE}\b", cell) for row in table.rows for cell in row[1:]):
            table.note = f"{table.note} {NE_NOTE}".strip()
    return tables


def problem_context(ard: pd.DataFrame) -> dict:
    """Every ARD row with a WARNING or ERROR: one entry per analysis x parameter x visit x group x method x reason,
    naming the statistics it covers, and the number of rows per analysis and reason."""
    def text(column: str) -> pd.Series:  # '' when empty (read back from CSV as NaN) or absent (an older ARD)
        if column not in ard.columns:
            return pd.Series("", index=ard.index)
        return ard[column].astype(object).fillna("").astype(str)

    warning, error = text("WARNING"), text("ERROR")
    keys = ["ANALYSIS_ID", "ANALYSIS", "PARAM", "AVISIT", "GROUP", "VARIABLE", "METHOD"]
    flagged = ard[keys + ["STAT_NAME"]].astype(object).fillna("").assign(
        KIND=error.ne("").map({True: "ERROR", False: "WARNING"}), REASON=error.where(error != "", warning))
    flagged = flagged[flagged["REASON"] != ""]
    entries = (flagged.groupby(keys + ["KIND", "REASON"], sort=False)["STAT_NAME"]
               .agg(lambda names: ", ".join(dict.fromkeys(names))).reset_index()
               .rename(columns={"STAT_NAME": "STATISTICS"}))
    summary = flagged.groupby(["ANALYSIS", "KIND", "REASON"], sort=False).size().reset_index(name="N")
    kinds = flagged["KIND"].value_counts()
    return {"warning_rows": int(kinds.get("WARNING", 0)), "error_rows": int(kinds.get("ERROR", 0)),
            "summary": summary.to_dict("records"), "entries": entries.to_dict("records")}


def table_provenance(table: Table, ard_file: dict, code: dict, raw_files: list[dict]) -> dict:
    return {"table": table.title, "section": table.section, "drawn_from": {"ard": ard_file, "analysis_ids": table.analysis_ids,
                                                                           "ard_rows": table.ard_rows},
            "rule": "report", "script": "workflow/scripts/report.py", "code": code,
            "raw_files": [{"file": f["file"], "sha256": f["sha256"]} for f in raw_files],
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def figure_entries(figure_dir: Path) -> list[dict]:
    """Embed each figure's PNG (base64) with its provenance sidecar, in file-name order."""
    entries = []
    for sidecar in sorted(Path(figure_dir).glob("*.json")):
        provenance = json.loads(sidecar.read_text())
        png = sidecar.with_suffix(".png")
        entries.append({"title": provenance["title"], "stem": sidecar.stem, "png": base64.b64encode(png.read_bytes()).decode("ascii"),
                        "provenance": json.dumps(provenance, indent=2)})
    return entries


def change_context(diff: dict[str, pd.DataFrame] | None, previous: str | None) -> dict | None:
    """Counts and the notable rows of the comparison with the previous cut (None for a first cut)."""
    if not diff:
        return None
    records, results, subjects = diff["records"], diff["results"], diff["subjects"]
    notable = results[(results["SIGNIFICANCE_FLIPPED"] == "Y") | results["STAT_NAME"].isin(["p", "estimate"])]
    notable = notable.sort_values(["SIGNIFICANCE_FLIPPED", "RECORDS_MOVED"], ascending=False).head(40)
    return {"previous": previous,
            "subjects": subjects["CHANGE"].value_counts().to_dict(),
            "records": records.drop_duplicates(["DOMAIN", "KEY"]).groupby(["DOMAIN", "CHANGE"]).size().reset_index(name="N").to_dict("records"),
            "changed_values": records[records["CHANGE"] == "changed"].head(50).astype(str).to_dict("records"),
            "results_changed": int(len(results)), "flipped": int((results["SIGNIFICANCE_FLIPPED"] == "Y").sum()),
            "notable": notable.astype(object).where(notable.notna(), "").to_dict("records")}


def build_context(ard: pd.DataFrame, audit: pd.DataFrame, queries: pd.DataFrame, summary: pd.DataFrame, raw_files: dict,
                  figures: list[dict], config: dict, cut: str, code: dict, ard_file: dict,
                  diff: dict[str, pd.DataFrame] | None = None, previous: str | None = None) -> dict:
    tables = build_tables(ard, config)
    provenance = [table_provenance(t, ard_file, code, raw_files["files"]) for t in tables]
    by_check = queries.groupby(["CHECK", "ACTION"]).size().reset_index(name="N").to_dict("records") if len(queries) else []
    queries = queries.assign(**{c: queries[c].map(_whole) for c in ("ROW",) if c in queries},
                             **({} if "COLUMN" in queries else {"COLUMN": ""}))
    manifest = raw_files.get("manifest") or {}
    return {
        "config": config, "cut": cut, "arms": [a["arm"] for a in config["arms"]], "sections": SECTIONS, "section_id": section_id,
        "synthetic": bool(manifest.get("synthetic")), "synthetic_notice": manifest.get("notice", ""),
        "manifest_verified": bool(raw_files.get("manifest_verified", raw_files.get("manifest") is not None)),
        "unmapped_files": raw_files.get("unmapped_files", []),
        "tables": [(t, json.dumps(p, indent=2)) for t, p in zip(tables, provenance)], "table_provenance": provenance,
        "queries": queries.to_dict("records"), "queries_by_check": by_check, "summary": summary.to_dict("records"),
        "figures": figures, "raw_files": raw_files["files"], "code": code, "ard_rows": len(ard), "ard_file": ard_file,
        "changes": change_context(diff, previous), "problems": problem_context(ard),
        "audit": audit.astype(object).where(audit.notna(), "").to_dict("records"), "audit_counts": audit["STATUS"].value_counts().to_dict(),
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("ucmsc", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_report(context: dict) -> str:
    return _environment().get_template("report.html.j2").render(**context)


def render_index(entries: list[dict]) -> str:
    return _environment().get_template("index.html.j2").render(entries=entries)


def run_report(paths: dict, config: dict, cut: str, previous: str | None, project_dir: Path, html_path: str,
               tables_provenance_path: str, log) -> None:
    """Stage runner: render one cut's report from its ARD, audit, queries, figures and (if any) cut comparison."""
    from ucmsc import provenance
    from ucmsc.io import read_table, write_json, write_text

    diff = None
    if paths.get("diff_results"):
        diff = {name: read_table(paths[f"diff_{name}"], text_columns=("OLD", "NEW")) for name in ("results", "records", "subjects")}
    context = build_context(
        ard=read_table(paths["ard"]), audit=read_table(paths["audit"], text_columns=("PUBLISHED", "REPRODUCED")),
        queries=pd.concat([read_table(paths["queries"]), read_table(paths["derive_queries"])]).fillna(""),
        summary=read_table(paths["summary"]), raw_files=json.loads(Path(paths["raw_files"]).read_text()),
        figures=figure_entries(Path(paths["figures"])), config=config, cut=cut, code=provenance.code_version(project_dir),
        ard_file=provenance.file_entry(paths["ard"], "ARD"), diff=diff, previous=previous)
    write_text(render_report(context), html_path)
    write_json(context["table_provenance"], tables_provenance_path)
    log.info("report written: %s (%d tables, %d figures)", html_path, len(context["tables"]), len(context["figures"]))


def run_index(report_paths: list[str], titles: dict[str, str], html_path: str) -> None:
    """Stage runner: the page linking every trial and cut's report."""
    from ucmsc.io import write_text

    entries = []
    for path in report_paths:
        trial, cut = Path(path).parts[-3], Path(path).parts[-2]
        raw = json.loads((Path(path).parent / "ingest" / "raw_files.json").read_text())
        entries.append({"title": titles[trial], "cut": cut, "href": f"{trial}/{cut}/report.html",
                        "synthetic": bool((raw.get("manifest") or {}).get("synthetic"))})
    write_text(render_index(entries), html_path)
