"""The self-contained HTML report of one trial and cut, rendered from the ARD (and the query log and audit) only.

Its tables are the trial's TLF shells (config/tlf/) rendered by ``ucmsc.tlf``, numbered and listed
in a table of contents, each with a provenance panel naming the ARD rows it draws and an RTF
copy under ``tlf/``. A statistic the ARD has as not estimable (VALUE NaN) prints as "NE", with a
note; the section "Statistics not estimated" lists every ARD row with a WARNING or ERROR.
All text is HTML-escaped by jinja2's autoescape (terms from the data included).
"""

from __future__ import annotations

import base64
import functools
import json
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import pandas as pd

from ucmsc import ard as ardlib
from ucmsc import tlf
from ucmsc.ard import group_label
from ucmsc.plan import load_trial
from ucmsc.rounding import format_p  # noqa: F401 (tests read it here)

SECTIONS = ("Study summary", "List of tables and figures", "Statistics not estimated", "Tables", "Figures",
            "Published vs reproduced", "Changes since the previous cut", "Data queries", "Analysis datasets",
            "Provenance")


def section_id(title: str) -> str:
    return title.lower().replace(" ", "-")




NE = tlf.NE  # not estimable: the ARD has the row, with VALUE NaN and the reason in WARNING or ERROR
NE_NOTE = "NE: not estimable (the report's section Statistics not estimated gives the reasons)."
TLF_DEFAULT = Path(__file__).resolve().parents[2] / "config" / "tlf" / "default.yaml"


def _whole(value) -> str:
    """A row number read back from CSV (2572.0) as 2572; text and blanks as they are."""
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.0f}"
    return str(value)


def tlf_path(config: dict, root: Path | None = None) -> Path:
    """The trial's TLF file (``tlf:`` of its config, relative to the project), else config/tlf/default.yaml."""
    if not config.get("tlf"):
        return TLF_DEFAULT
    return (Path(root) if root else TLF_DEFAULT.parents[2]) / config["tlf"]


def build_tables(ard: pd.DataFrame, config: dict, root: Path | None = None) -> list[tlf.Output]:
    """The trial's tables: its TLF shells rendered from the ARD (ucmsc.tlf)."""
    return tlf.render_outputs(ard, load_trial(config), tlf.load(tlf_path(config, root)))


def problem_context(ard: pd.DataFrame) -> dict:
    """Every ARD row with a WARNING or ERROR: one entry per analysis x parameter x visit x group x method x reason,
    naming the statistics it covers, and the number of rows per analysis and reason."""
    def text(column: str) -> pd.Series:  # '' when empty (read back from CSV as NaN) or absent (an older ARD)
        if column not in ard.columns:
            return pd.Series("", index=ard.index)
        return ard[column].astype(object).fillna("").astype(str)

    ard = ardlib.conform(ard)
    warning, error = text("WARNING"), text("ERROR")
    keys = ["ANALYSIS_ID", "ANALYSIS", "PARAM", "PARAMCD", "GROUP2_LEVEL", "AVISIT", "GROUP", "VARIABLE", "METHOD"]
    ard = ard.assign(GROUP=[group_label({"GROUP1_LEVEL": level, "COMPARATOR": comparator}) for level, comparator
                            in zip(ard["GROUP1_LEVEL"].tolist(), ard["COMPARATOR"].tolist())])
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


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def table_provenance(table: tlf.Output, ard_file: dict, code: dict, raw_files: list[dict]) -> dict:
    return {"table": f"{table.number} {table.title}", "section": table.section,
            "drawn_from": {"ard": ard_file, "analysis_ids": table.analysis_ids, "ard_rows": table.ard_rows},
            "rule": "report", "script": "workflow/scripts/report.py", "code": code,
            "raw_files": [{"file": f["file"], "sha256": f["sha256"], "rows": f.get("rows")} for f in raw_files],
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def figure_entries(figure_dir: Path) -> list[dict]:
    """Embed each figure's PNG (base64) with its provenance sidecar, in file-name order."""
    entries = []
    for index, sidecar in enumerate(sorted(Path(figure_dir).glob("*.json")), start=1):
        provenance = json.loads(sidecar.read_text())
        png = sidecar.with_suffix(".png")
        entries.append({"title": provenance["title"], "stem": sidecar.stem,
                        "number": provenance.get("number") or f"Figure {index}",
                        "footnote": provenance.get("footnote", ""),
                        "png": base64.b64encode(png.read_bytes()).decode("ascii"),
                        "provenance": provenance})
    return entries


def change_context(diff: dict[str, pd.DataFrame] | None, previous: str | None) -> dict | None:
    """Counts and the notable rows of the comparison with the previous cut (None for a first cut)."""
    if not diff:
        return None
    records, results, subjects = diff["records"], diff["results"], diff["subjects"]
    notable = results[(results["SIGNIFICANCE_FLIPPED"] == "Y") | results["STAT_NAME"].isin(["p", "estimate"])]
    notable = notable.sort_values(["SIGNIFICANCE_FLIPPED", "RECORDS_MOVED"], ascending=False).head(40)
    notable = notable.assign(AVISITN=notable["AVISITN"].map(_whole), GROUP=[group_label(r)
                                    for r in notable[["GROUP1_LEVEL", "COMPARATOR"]].fillna("").to_dict("records")])
    return {"previous": previous,
            "subjects": subjects["CHANGE"].value_counts().to_dict(),
            "records": (records.drop_duplicates(["DOMAIN", "KEY"]).groupby(["DOMAIN", "CHANGE"]).size()
                        .reset_index(name="N").to_dict("records")),
            "changed_values": records[records["CHANGE"] == "changed"].head(50).astype(str).to_dict("records"),
            "results_changed": int(len(results)), "flipped": int((results["SIGNIFICANCE_FLIPPED"] == "Y").sum()),
            "notable": notable.astype(object).where(notable.notna(), "").to_dict("records")}


def build_context(ard: pd.DataFrame, audit: pd.DataFrame, queries: pd.DataFrame, summary: pd.DataFrame, raw_files: dict,
                  figures: list[dict], config: dict, cut: str, code: dict, ard_file: dict,
                  diff: dict[str, pd.DataFrame] | None = None, previous: str | None = None,
                  adam: dict | None = None, built_utc: str | None = None) -> dict:
    tables = build_tables(ard, config)
    provenance = [table_provenance(t, ard_file, code, raw_files["files"]) for t in tables]
    by_check = (queries.groupby(["CHECK", "ACTION"]).size().reset_index(name="N").to_dict("records")
                if len(queries) else [])
    queries = queries.assign(**{c: queries[c].map(_whole) for c in ("ROW",) if c in queries},
                             **({} if "COLUMN" in queries else {"COLUMN": ""}))
    manifest = raw_files.get("manifest") or {}
    trial = load_trial(config)
    exposure = trial.exposure
    treatment = ", ".join(x for x in (exposure.route + (" " if exposure.route else "") + exposure.plural,
                                      exposure.schedule) if x)
    def condition(where: dict) -> str:
        return " and ".join(f"{k} = " + (" or ".join(map(str, v)) if isinstance(v, list) else str(v))
                            for k, v in where.items())
    selected = [f"{f['file']}: {f['rows_not_selected']} of {f['rows']} rows not selected (kept where "
                f"{condition(f['where'])})" + (f"; no row has {', '.join(f['where_values_absent'])}"
                                               if f.get("where_values_absent") else "")
                for f in raw_files["files"] if f.get("rows_not_selected")]
    merged = [f"{f['file']}: {f['records_merged']} qualifier records merged onto {f['merged_onto']}"
              for f in raw_files["files"] if "merged_onto" in f]
    return {
        "config": config, "cut": cut, "arms": list(trial.arm_names), "sections": SECTIONS, "treatment": treatment,
        "selected_rows": selected, "merged_files": merged,
        "section_id": section_id,
        "synthetic": bool(manifest.get("synthetic")), "synthetic_notice": manifest.get("notice", ""),
        "manifest_verified": bool(raw_files.get("manifest_verified", raw_files.get("manifest") is not None)),
        "unmapped_files": raw_files.get("unmapped_files", []),
        "tables": [(t, tlf.to_html(t), p) for t, p in zip(tables, provenance)],
        "table_provenance": provenance,
        "queries": queries.to_dict("records"), "queries_by_check": by_check, "summary": summary.to_dict("records"),
        "figures": figures, "raw_files": raw_files["files"], "code": code, "ard_rows": len(ard), "ard_file": ard_file,
        "changes": change_context(diff, previous), "problems": problem_context(ard),
        "audit": audit.astype(object).where(audit.notna(), "").to_dict("records"),
        "audit_counts": audit["STATUS"].value_counts().to_dict(),
        "publication_cut": (config.get("publication") or {}).get("cut"),
        "built_utc": built_utc or _utc_now(),
        "adam": adam_context(adam),
    }


def adam_context(adam: dict | None) -> dict | None:
    """The analysis datasets section: each dataset with its records and variables (the data dictionary), the
    conformance rules run and their findings."""
    if adam is None:
        return None
    from ucmsc.conformance import CONFORMANCE_RULES

    dictionary, findings = adam["dictionary"], adam["conformance"]
    datasets = [{"name": name, "records": int(rows["RECORDS"].iloc[0]), "file": f"adam/xpt/{name.lower()}.xpt",
                 "variables": rows.astype(object).where(rows.notna(), "").to_dict("records")}
                for name, rows in dictionary.groupby("DATASET", sort=False)]
    return {"datasets": datasets, "findings": findings.to_dict("records"), "rules": len(CONFORMANCE_RULES),
            "errors": int((findings["SEVERITY"] == "ERROR").sum()) if len(findings) else 0}


@functools.cache
def _environment() -> jinja2.Environment:
    """One environment per process: its templates are compiled once (jinja2 caches them per environment)."""
    from ucmsc.provenance import summary

    environment = jinja2.Environment(loader=jinja2.PackageLoader("ucmsc", "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.globals["provenance_summary"] = summary  # for _provenance.html.j2
    environment.filters["pretty_json"] = lambda record: json.dumps(record, indent=2, ensure_ascii=False)
    return environment


def render_report(context: dict) -> str:
    return _environment().get_template("report.html.j2").render(**context)


def render_index(entries: list[dict]) -> str:
    """The index page: one block of rows per trial (in the order given), one row per cut."""
    trials: dict[str, dict] = {}
    for entry in entries:
        trials.setdefault(entry["trial"], {"title": entry["title"], "trial": entry["trial"], "cuts": []})
        trials[entry["trial"]]["cuts"].append(entry)
    return _environment().get_template("index.html.j2").render(trials=list(trials.values()))


def index_entry(report_path: str | Path, title: str) -> dict:
    """One cut's row of the index, from the files its build wrote beside the report: the build date
    (report_build.json), whether the data are synthetic (the manifest, in ingest/raw_files.json) and the audit's
    status (audit.csv)."""
    from ucmsc.audit import audit_summary
    from ucmsc.io import read_table

    report_path = Path(report_path)
    folder = report_path.parent
    trial, cut = folder.parent.name, folder.name
    build = json.loads((folder / "report_build.json").read_text())
    manifest = json.loads((folder / "ingest" / "raw_files.json").read_text()).get("manifest") or {}
    audit = read_table(folder / "audit.csv", text_columns=("PUBLISHED", "REPRODUCED"))
    return {"trial": trial, "title": title, "cut": cut, "href": f"{trial}/{cut}/report.html",
            "built": build["built_utc"].replace("T", " ").replace("Z", " UTC"),
            "synthetic": bool(manifest.get("synthetic")), "audit": audit_summary(audit),
            "audit_flagged": bool(audit["STATUS"].isin(["mismatch", "missing"]).any())}


def write_rtf(tables: list[tlf.Output], folder: str | Path, trial: str, cut: str, ard_file: dict, code: dict,
              built: str) -> list[Path]:
    """One RTF file per table (``<anchor>.rtf``), each with its source and date line."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    commit = (code.get("git_commit") or "no commit")[:12] + (" with uncommitted changes"
                                                             if code.get("uncommitted_changes") else "")
    written = []
    for table in tables:
        source = (f"Source: {trial} data cut {cut}, ard.csv (SHA-256 {ard_file['sha256'][:12]}), analyses "
                  f"{', '.join(table.analysis_ids)}; program ucmsc.tlf, code {commit}; built {built}.")
        path = folder / f"{table.anchor}.rtf"
        path.write_text(tlf.to_rtf(table, source), encoding="ascii")
        written.append(path)
    return written


def run_report(paths: dict, config: dict, cut: str, previous: str | None, project_dir: Path, html_path: str,
               tables_provenance_path: str, log, build_path: str | None = None, tlf_dir: str | None = None) -> None:
    """Stage runner: render one cut's report from its ARD, audit, queries, figures and (if any) cut comparison;
    ``build_path`` records when it was built and from which code (the index reads it); ``tlf_dir`` receives one
    RTF file per table."""
    from ucmsc import provenance
    from ucmsc.io import read_table, write_json, write_text

    diff = None
    if paths.get("diff_results"):
        diff = {name: read_table(paths[f"diff_{name}"], text_columns=("OLD", "NEW"))
                for name in ("results", "records", "subjects")}
    context = build_context(
        ard=ardlib.read(paths["ard"]), audit=read_table(paths["audit"], text_columns=("PUBLISHED", "REPRODUCED")),
        queries=pd.concat([read_table(paths["queries"]), read_table(paths["derive_queries"])]).fillna(""),
        summary=read_table(paths["summary"]), raw_files=json.loads(Path(paths["raw_files"]).read_text()),
        figures=figure_entries(Path(paths["figures"])), config=config, cut=cut,
        code=provenance.code_version(project_dir),
        ard_file=provenance.file_entry(paths["ard"], "ARD"), diff=diff, previous=previous,
        adam={"dictionary": read_table(paths["adam_dictionary"]), "conformance": read_table(paths["conformance"])}
        if paths.get("adam_dictionary") else None)
    write_text(render_report(context), html_path)
    write_json(context["table_provenance"], tables_provenance_path)
    if tlf_dir:
        built = context["built_utc"].replace("T", " ").replace("Z", " UTC")
        rtf = write_rtf([t for t, _, _ in context["tables"]], tlf_dir, config["trial"], cut, context["ard_file"],
                        context["code"], built)
        log.info("RTF tables written: %d files in %s", len(rtf), tlf_dir)
    if build_path:
        write_json({"trial": config["trial"], "cut": cut, "built_utc": context["built_utc"], "code": context["code"]},
                   build_path)
    log.info("report written: %s (%d tables, %d figures)", html_path, len(context["tables"]), len(context["figures"]))


def run_index(report_paths: list[str], titles: dict[str, str], html_path: str) -> None:
    """Stage runner: the page linking every trial and cut's report."""
    from ucmsc.io import write_text

    entries = [index_entry(path, titles[Path(path).parent.parent.name]) for path in report_paths]
    write_text(render_index(entries), html_path)
