"""Validation and cleaning: mapped raw records -> SDTM-like domain tables, with a data-query log.

Each domain is a list of checks (``ucmsc.checks``, pure functions) applied in order by one
helper, ``apply``: every finding becomes rows of the query log (file, row, raw column,
subject, variable, value, check, action); its records are then corrected, kept, or moved to
quarantine. DM is cleaned first because the other domains need its subjects.

Nothing leaves without a query. ``account_for_records`` enforces it at the end of each
domain: records in = records out + quarantined, and every raw value that is missing in the
output has a query on its file, row and variable; otherwise the stage stops.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from ucmsc import checks
from ucmsc.checks import NOTE, QUARANTINE, SET_MISSING, CheckResult
from ucmsc.domains import DOMAINS, FINDINGS, OPTIONAL, RECORD_KEYS, SOURCE_COLUMNS
from ucmsc.queries import QUERY_COLUMNS

QUARANTINE_COLUMNS = ["DOMAIN", "SRCFILE", "SRCROW", "USUBJID", "CHECK", "REASON", "RECORD"]
SUMMARY_COLUMNS = ["DOMAIN", "RECORDS_IN", "RECORDS_OUT", "QUARANTINED", "VALUES_SET_MISSING", "CORRECTED"]
SEX_TERMS = {"M", "F", "U", "UNDIFFERENTIATED"}  # CDISC SEX codelist (C66731)


class BookkeepingError(AssertionError):
    """Cleaning lost a record or a value without a query: a defect of the pipeline, never of the data."""


@dataclass
class CutSpec:
    """What cleaning needs to know about one cut: its trial config and cut date."""

    config: dict
    cut_date: date

    @property
    def sources(self) -> dict[str, dict]:
        return {s["file"]: s for s in self.config["sources"]}

    def formats(self, with_time: bool) -> dict[str, str | None]:
        key = "datetime_format" if with_time else "date_format"
        return {file: s.get(key) for file, s in self.sources.items()}

    def code_lists(self, column: str) -> dict[str, dict]:
        return {file: s.get("codes", {}).get(column, {}) for file, s in self.sources.items()}

    def raw_column(self, file: str, variable: str, testcd: str | None = None) -> str:
        """The raw file's column a standard variable came from ('' for values the config supplies)."""
        source = self.sources.get(file, {})
        if variable in source.get("columns", {}):
            return source["columns"][variable]
        if variable == "ORRES" and testcd in source.get("results", {}):
            return source["results"][testcd]["column"]
        derived_from = {"VISITNUM": "VISIT", "DY": "DTC", "USUBJID": "SUBJID"}.get(variable)
        return source.get("columns", {}).get(derived_from, "") if derived_from else ""


@dataclass
class CutLog:
    """The queries and quarantined records of one cut, in the order the checks found them."""

    spec: CutSpec
    queries: list[pd.DataFrame] = field(default_factory=list)
    quarantined: list[pd.DataFrame] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)

    def add_queries(self, domain: str, frame: pd.DataFrame, finding: checks.Finding) -> None:
        rows = frame[finding.rows.reindex(frame.index, fill_value=False)]
        value = (finding.value if finding.value is not None else frame[finding.variable])[rows.index]

        def pick(x):
            return x[rows.index] if isinstance(x, pd.Series) else x

        testcd = rows["TESTCD"] if "TESTCD" in rows else pd.Series(None, index=rows.index)
        column = [self.spec.raw_column(f, finding.variable, t) for f, t in zip(rows["SRCFILE"], testcd)]
        self.queries.append(pd.DataFrame({
            "DOMAIN": domain, "FILE": rows["SRCFILE"], "ROW": rows["SRCROW"], "COLUMN": column,
            "USUBJID": rows["USUBJID"] if "USUBJID" in rows else "", "VARIABLE": finding.variable,
            "VALUE": value.map(checks.cell_text), "CHECK": finding.check, "MESSAGE": pick(finding.message),
            "ACTION": pick(finding.action), "_INDEX": rows.index, "_EFFECT": finding.effect, "_TESTCD": testcd,
        }, index=rows.index))

    def add_quarantine(self, domain: str, records: pd.DataFrame, check: pd.Series, reason: pd.Series) -> None:
        payload = records.drop(columns=[c for c in SOURCE_COLUMNS if c in records])
        self.quarantined.append(pd.DataFrame({
            "DOMAIN": domain, "SRCFILE": records["SRCFILE"], "SRCROW": records["SRCROW"],
            "USUBJID": records["USUBJID"] if "USUBJID" in records else "", "CHECK": check, "REASON": reason,
            "RECORD": [json.dumps(r, default=str) for r in payload.to_dict("records")], "_INDEX": records.index}))

    def domain_queries(self, domain: str) -> pd.DataFrame:
        frames = [q for q in self.queries if len(q) and q["DOMAIN"].iloc[0] == domain]
        return pd.concat(frames) if frames else pd.DataFrame(columns=QUERY_COLUMNS + ["_INDEX", "_EFFECT", "_TESTCD"])

    def domain_quarantine(self, domain: str) -> pd.DataFrame:
        frames = [q for q in self.quarantined if len(q) and q["DOMAIN"].iloc[0] == domain]
        return pd.concat(frames) if frames else pd.DataFrame(columns=QUARANTINE_COLUMNS + ["_INDEX"])


def apply(result: CheckResult, domain: str, frame: pd.DataFrame, log: CutLog) -> pd.DataFrame:
    """Apply one check's result: log its queries, set its corrected columns, move quarantined records out."""
    for finding in result.findings:
        log.add_queries(domain, frame, finding)
    if result.updates:
        frame = frame.assign(**result.updates)
    leaving = pd.Series(False, index=frame.index)
    check = pd.Series("", index=frame.index, dtype=object)
    reason = pd.Series("", index=frame.index, dtype=object)
    for finding in result.findings:
        if finding.effect != QUARANTINE:
            continue
        new = finding.rows.reindex(frame.index, fill_value=False) & ~leaving  # the first finding names the reason
        message = (finding.message if isinstance(finding.message, pd.Series)
                   else pd.Series(finding.message, index=frame.index))
        check[new], reason[new] = finding.check, message.reindex(frame.index)[new]
        leaving |= new
    if leaving.any():
        log.add_quarantine(domain, frame[leaving], check[leaving], reason[leaving])
    return frame[~leaving]


def run_checks(domain: str, frame: pd.DataFrame, steps, log: CutLog) -> pd.DataFrame:
    """Apply ``steps`` (functions frame -> CheckResult) in order; each sees the records the previous ones kept."""
    for step in steps:
        if len(frame):
            frame = apply(step(frame), domain, frame, log)
    return frame


def with_usubjid(raw: pd.DataFrame, studyid: str) -> pd.DataFrame:
    return raw.assign(USUBJID=studyid + "-" + raw["SUBJID"].fillna("").astype(str).str.strip())


def account_for_records(domain: str, raw: pd.DataFrame, out: pd.DataFrame, log: CutLog,
                        numeric_of: dict[str, str] | None = None) -> dict:
    """Stop unless every raw record is out or quarantined, and every raw value missing in the output was queried.

    ``raw`` and ``out`` share the raw frame's index. ``numeric_of`` maps a raw text variable to the
    numeric variable parsed from it (ORRES -> STRESN): a number that did not survive needs a query too.
    Returns the domain's line of the cleaning summary.
    """
    quarantine = log.domain_quarantine(domain)
    queries = log.domain_queries(domain)
    if len(raw) != len(out) + len(quarantine):
        raise BookkeepingError(f"{domain}: {len(raw)} records in but {len(out)} out + {len(quarantine)} quarantined")
    queried = set(zip(queries["_INDEX"], queries["VARIABLE"]))
    variables = [c for c in raw.columns if c not in SOURCE_COLUMNS and c != "USUBJID" and c in out.columns]
    pairs = [(v, v) for v in variables] + list((numeric_of or {}).items())
    for source, target in pairs:
        present = ~checks._blank(raw.loc[out.index, source])
        lost = present & (out[target].isna() | (out[target].astype(str).str.strip() == ""))
        for i in out.index[lost]:
            if (i, source) not in queried:
                raise BookkeepingError(f"{domain}: {raw.at[i, 'SRCFILE']} row {raw.at[i, 'SRCROW']}: {source} "
                                       f"'{raw.at[i, source]}' became missing without a data query")
    dropped = [c for c in raw.columns if c not in out.columns and c not in SOURCE_COLUMNS]
    if dropped:
        raise BookkeepingError(f"{domain}: mapped variable(s) {', '.join(dropped)} are not carried by cleaning")
    in_out = queries[queries["_INDEX"].isin(out.index)]
    set_missing = in_out[in_out["_EFFECT"] == SET_MISSING].drop_duplicates(["_INDEX", "VARIABLE"])
    corrected = in_out[in_out["_EFFECT"].isin([NOTE, SET_MISSING])
                       & in_out["ACTION"].astype(str).str.startswith(
                           ("converted", "parsed", "set to missing", "moved"))]
    return {"DOMAIN": domain, "RECORDS_IN": len(raw), "RECORDS_OUT": len(out), "QUARANTINED": len(quarantine),
            "VALUES_SET_MISSING": len(set_missing), "CORRECTED": int(corrected["_INDEX"].nunique())}


def _duplicates(domain: str, compare: list[str]):
    """The one duplicate rule (``checks.duplicate_records``) on the domain's record key."""
    key = [k.replace("--", "") for k in RECORD_KEYS[domain]]

    def describe(frame: pd.DataFrame) -> pd.Series:
        return (checks.as_text(frame[key[1:]]).agg(" ".join, axis=1) if len(key) > 1
                else pd.Series("subject", index=frame.index))

    def step(frame: pd.DataFrame) -> CheckResult:
        return checks.duplicate_records(frame, key, [c for c in compare if c in frame], describe)
    return step


# --- domains -------------------------------------------------------------------------------

def clean_dm(raw: pd.DataFrame, spec: CutSpec, log: CutLog) -> pd.DataFrame:
    arms = {a["arm"]: a["armcd"] for a in spec.config["arms"]}
    optional = [c for c in OPTIONAL["DM"] if c in raw]
    steps = [
        lambda f: checks.required_value(f, ["SUBJID"]),
        lambda f: checks.planned_arm(f, spec.code_lists("ARM"), list(arms)),
        lambda f: checks.codes(f, "SEX", spec.code_lists("SEX"), SEX_TERMS, SET_MISSING),
        lambda f: checks.dates(f, "RANDDT", spec.formats(False), with_time=False, required=True),
        lambda f: checks.after_cut_date(f, "RANDDT", spec.cut_date),
        lambda f: checks.numbers(f, "AGE", required=True),
        *[(lambda f, c=c: checks.numbers(f, c)) for c in optional],
        _duplicates("DM", ["SITEID", "SEX", "AGE", "RANDDT", "ARM", *optional]),
    ]
    frame = run_checks("DM", with_usubjid(raw, spec.config["studyid"]), steps, log)
    log.summary.append(account_for_records("DM", raw, frame, log))
    out = pd.DataFrame({
        "STUDYID": spec.config["studyid"], "DOMAIN": "DM", "USUBJID": frame["USUBJID"],
        "SUBJID": frame["SUBJID"].str.strip(),
        "SITEID": frame["SITEID"], "AGE": frame["AGE"].astype(float), "AGEU": "YEARS", "SEX": frame["SEX"],
        "DIABDUR": frame["DIABDUR"].astype(float) if "DIABDUR" in frame else np.nan,
        "ARMCD": frame["ARM"].map(arms), "ARM": frame["ARM"], "RANDDT": frame["RANDDT"],
        "SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"],
    })
    return out.reset_index(drop=True)


def clean_ds(raw: pd.DataFrame, spec: CutSpec, log: CutLog, subjects: pd.Series) -> pd.DataFrame:
    steps = [
        lambda f: checks.subject_in_dm(f, subjects),
        lambda f: checks.dates(f, "DSSTDTC", spec.formats(False), with_time=False, required=False),
        lambda f: checks.after_cut_date(f, "DSSTDTC", spec.cut_date),
        _duplicates("DS", ["DSDECOD", "DSSTDTC", "DSTERM"]),
        lambda f: checks.disposition(f),
    ]
    frame = run_checks("DS", with_usubjid(raw, spec.config["studyid"]), steps, log)
    log.summary.append(account_for_records("DS", raw, frame, log))
    return pd.DataFrame({"STUDYID": spec.config["studyid"], "DOMAIN": "DS", "USUBJID": frame["USUBJID"],
                         "DSDECOD": frame["DSDECOD"].str.strip().str.upper(), "DSTERM": frame["DSTERM"],
                         "DSSTDTC": frame["DSSTDTC"],
                         "SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"]}).reset_index(drop=True)


def clean_ex(raw: pd.DataFrame, spec: CutSpec, log: CutLog, subjects: pd.Series) -> pd.DataFrame:
    steps = [
        lambda f: checks.subject_in_dm(f, subjects),
        lambda f: checks.dates(f, "EXSTDTC", spec.formats(True), with_time=True, required=True),
        lambda f: checks.after_cut_date(f, "EXSTDTC", spec.cut_date),
        lambda f: checks.numbers(f, "EXSEQ"),
        lambda f: checks.numbers(f, "EXDOSE"),
        _duplicates("EX", ["EXSTDTC", "EXDOSE", "EXDOSU", "EXTRT"]),
    ]
    frame = run_checks("EX", with_usubjid(raw, spec.config["studyid"]), steps, log)
    log.summary.append(account_for_records("EX", raw, frame, log))
    return pd.DataFrame({"STUDYID": spec.config["studyid"], "DOMAIN": "EX", "USUBJID": frame["USUBJID"],
                         "EXSEQ": frame["EXSEQ"].astype(float), "EXTRT": frame["EXTRT"],
                         "EXDOSE": frame["EXDOSE"].astype(float),
                         "EXDOSU": frame["EXDOSU"], "EXSTDTC": frame["EXSTDTC"], "SRCFILE": frame["SRCFILE"],
                         "SRCROW": frame["SRCROW"]}).reset_index(drop=True)


def clean_ae(raw: pd.DataFrame, spec: CutSpec, log: CutLog, subjects: pd.Series) -> pd.DataFrame:
    steps = [
        lambda f: checks.subject_in_dm(f, subjects),
        lambda f: checks.dates(f, "AESTDTC", spec.formats(True), with_time=True, required=True),
        lambda f: checks.dates(f, "AEENDTC", spec.formats(True), with_time=True, required=False),
        lambda f: checks.after_cut_date(f, "AESTDTC", spec.cut_date),
        lambda f: checks.after_cut_date(f, "AEENDTC", spec.cut_date, effect=SET_MISSING),
        lambda f: checks.yes_no(f, "AESER", "Y", "counted as serious until resolved"),
        _duplicates("AE", ["AEENDTC", "AESEV", "AESER", "AEREL", "AEOUT"]),
    ]
    frame = run_checks("AE", with_usubjid(raw, spec.config["studyid"]), steps, log)
    log.summary.append(account_for_records("AE", raw, frame, log))
    return pd.DataFrame({"STUDYID": spec.config["studyid"], "DOMAIN": "AE", "USUBJID": frame["USUBJID"],
                         "AETERM": frame["AETERM"], "AESTDTC": frame["AESTDTC"], "AEENDTC": frame["AEENDTC"],
                         "AESEV": frame["AESEV"].str.strip().str.upper(), "AESER": frame["AESER"],
                         "AEREL": frame["AEREL"].str.strip().str.upper(), "AEOUT": frame["AEOUT"],
                         "SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"]}).reset_index(drop=True)


def clean_findings(domain: str, raw: pd.DataFrame, spec: CutSpec, log: CutLog, subjects: pd.Series,
                   randdt: pd.Series) -> pd.DataFrame:
    config = spec.config
    steps = [
        lambda f: checks.subject_in_dm(f, subjects),
        lambda f: checks.visit_label(f, config["visit_labels"], config["visits"]),
        lambda f: checks.dates(f, "DTC", spec.formats(False), with_time=False, required=False),
        lambda f: checks.after_cut_date(f, "DTC", spec.cut_date),
        lambda f: checks.visit_window(f, randdt, config["visits"], config.get("visit_assignment", "nominal")),
        lambda f: checks.known_test(f, config["tests"]),
        lambda f: checks.numeric_result(f),
        lambda f: checks.unit_conversion(f, config["tests"]),
        lambda f: checks.plausible_range(f, config["tests"]),
        _duplicates(domain, ["STRESC", "DTC"]),
    ]
    frame = run_checks(domain, with_usubjid(raw, config["studyid"]), steps, log)
    for column in ("VISITNUM", "STRESC", "STRESN", "LLOQ", "DY"):
        if column not in frame:
            frame[column] = pd.Series(dtype=float)
    log.summary.append(account_for_records(domain, raw, frame, log, numeric_of={"ORRES": "STRESN"}))
    tests, p = config["tests"], domain
    return pd.DataFrame({
        "STUDYID": config["studyid"], "DOMAIN": domain, "USUBJID": frame["USUBJID"],
        f"{p}TESTCD": frame["TESTCD"], f"{p}TEST": frame["TESTCD"].map({t: s["test"] for t, s in tests.items()}),
        f"{p}ORRES": frame["ORRES"], f"{p}ORRESU": frame["ORRESU"], f"{p}STRESC": frame["STRESC"],
        f"{p}STRESN": frame["STRESN"].astype(float),
        f"{p}STRESU": frame["TESTCD"].map({t: s["unit"] for t, s in tests.items()}),
        f"{p}LLOQ": frame["LLOQ"].astype(float), "VISITNUM": frame["VISITNUM"].astype("int64"), "VISIT": frame["VISIT"],
        f"{p}DTC": frame["DTC"], f"{p}DY": frame["DY"].astype(float), "SRCFILE": frame["SRCFILE"],
        "SRCROW": frame["SRCROW"],
    }).reset_index(drop=True)


def clean_cut(tables: dict[str, pd.DataFrame], config: dict, cut_date: date
              ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Clean all domains of one cut. Returns (domains, queries, quarantine, summary)."""
    spec = CutSpec(config, cut_date)
    log = CutLog(spec)
    out = {"DM": clean_dm(tables["DM"], spec, log)}
    subjects, randdt = out["DM"]["USUBJID"], out["DM"].set_index("USUBJID")["RANDDT"]
    out["DS"] = clean_ds(tables["DS"], spec, log, subjects)
    out["EX"] = clean_ex(tables["EX"], spec, log, subjects)
    for domain in FINDINGS:
        out[domain] = clean_findings(domain, tables[domain], spec, log, subjects, randdt)
    out["AE"] = clean_ae(tables["AE"], spec, log, subjects)
    seen = set()
    for domain in FINDINGS:
        seen.update(zip(out[domain]["USUBJID"], out[domain]["VISITNUM"].astype(int)))
    left = out["DS"][out["DS"]["DSDECOD"] != "COMPLETED"].drop_duplicates("USUBJID").set_index("USUBJID")["DSSTDTC"]
    dm = out["DM"].assign(VISIT="")
    for finding in checks.visit_completeness(dm, seen, left, config["visits"], cut_date).findings:
        log.add_queries("DM", dm, finding)
    queries = pd.concat(log.queries, ignore_index=True) if log.queries else pd.DataFrame(columns=QUERY_COLUMNS[1:])
    queries.insert(0, "QUERYID", [f"Q{i:05d}" for i in range(1, len(queries) + 1)])
    quarantine = (pd.concat(log.quarantined, ignore_index=True) if log.quarantined
                  else pd.DataFrame(columns=QUARANTINE_COLUMNS))
    summary = pd.DataFrame(log.summary, columns=SUMMARY_COLUMNS).set_index("DOMAIN").loc[list(DOMAINS)].reset_index()
    return out, queries[QUERY_COLUMNS], quarantine[QUARANTINE_COLUMNS], summary


def run_clean(table_paths: list[str], config: dict, cut_date: date, out_paths: list[str], queries_path: str,
              quarantine_path: str, summary_path: str, dictionary_path: str, log) -> None:
    """Stage runner: clean one cut's ingested domains and write the clean domains, queries, quarantine and summaries."""
    from ucmsc.domains import data_dictionary
    from ucmsc.io import read_table, write_table

    tables = {domain: read_table(path) for domain, path in zip(DOMAINS, table_paths)}
    tables = {d: t.astype({c: str for c in t.columns if c != "SRCROW"}) for d, t in tables.items()}
    clean, queries, quarantine, summary = clean_cut(tables, config, cut_date)
    for domain, path in zip(DOMAINS, out_paths):
        write_table(clean[domain], path)
    write_table(queries, queries_path)
    write_table(quarantine, quarantine_path)
    write_table(summary, summary_path)
    write_table(data_dictionary(clean), dictionary_path)
    log.info("%d queries, %d records quarantined\n%s", len(queries), len(quarantine), summary.to_string(index=False))
