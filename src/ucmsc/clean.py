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
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ucmsc import checks
from ucmsc.checks import NOTE, QUARANTINE, SET_MISSING, CheckResult
from ucmsc.domains import DOMAINS, FINDINGS, NUMERIC, NUMERIC_LIMITS, SOURCE_COLUMNS, mapped_key, record_key
from ucmsc.plan import checked_ae_levels
from ucmsc.queries import QUERY_COLUMNS
from ucmsc.subjects import left_study, matches, reference_dates, reference_from_ds

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

    def numeric(self, domain: str) -> list[str]:
        """The domain's variables parsed as numbers: the standard ones and those its sources list under numeric."""
        listed = [c for s in self.config["sources"] if s["domain"] == domain for c in s.get("numeric", [])]
        return list(dict.fromkeys([*NUMERIC.get(domain, ()), *listed]))

    def limits(self, variable: str, raw: pd.DataFrame | None = None) -> tuple[float, float] | None:
        """The plausible range of a numeric variable: the trial's ``ranges`` (which replace the default), else what
        no record can hold; none for AGE when ``raw`` has ages in another unit than years (AGEU)."""
        listed = self.config.get("ranges", {}).get(variable)
        if listed:
            return float(listed[0]), float(listed[1])
        if variable == "AGE" and raw is not None and "AGEU" in raw:
            units = set(raw["AGEU"].astype(object).fillna("").astype(str).str.strip().str.upper())
            if units - {"", "YEARS"}:
                return None
        return NUMERIC_LIMITS.get(variable)

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
            "VALUE": value.map(checks.shown_text), "CHECK": finding.check, "MESSAGE": pick(finding.message),
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

    def dropped_subjects(self) -> set:
        """Subjects whose DM record was quarantined."""
        return set(self.domain_quarantine("DM")["USUBJID"])

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
    if not leaving.any():
        return frame  # nothing leaves: no copy of the records
    log.add_quarantine(domain, frame[leaving], check[leaving], reason[leaving])
    return kept_records(frame, ~leaving.to_numpy())


def kept_records(frame: pd.DataFrame, kept: np.ndarray, most_runs: int = 16) -> pd.DataFrame:
    """``frame[kept]``. When a few records leave, the runs of kept records are sliced and put together: an Arrow
    text column is then shared with ``frame``, not copied (a large domain's records are not held twice)."""
    edges = np.flatnonzero(np.diff(np.concatenate(([False], kept, [False])).astype(np.int8)))
    starts, stops = edges[::2], edges[1::2]
    if not 0 < len(starts) <= most_runs:
        return frame[kept]
    return pd.concat([frame.iloc[start:stop] for start, stop in zip(starts, stops)])


def run_checks(domain: str, frame: pd.DataFrame, steps, log: CutLog) -> pd.DataFrame:
    """Apply ``steps`` (functions frame -> CheckResult) in order; each sees the records the previous ones kept."""
    for step in steps:
        if len(frame):
            frame = apply(step(frame), domain, frame, log)
    return frame


def with_usubjid(raw: pd.DataFrame, studyid: str) -> pd.DataFrame:
    """USUBJID as delivered when the source maps it (a blank one stays blank: the record is queried, never given an
    identifier the sponsor did not assign); otherwise STUDYID-SUBJID."""
    if "USUBJID" in raw:
        return raw.assign(USUBJID=raw["USUBJID"].fillna("").astype(str).str.strip())
    return raw.assign(USUBJID=studyid + "-" + raw["SUBJID"].fillna("").astype(str).str.strip())


def subject_column(raw: pd.DataFrame) -> str:
    """The subject identifier a delivery maps: USUBJID (as SDTM delivers it) or SUBJID (site exports)."""
    return "USUBJID" if "USUBJID" in raw else "SUBJID"


def extra_columns(frame: pd.DataFrame, raw_columns, out: dict, standard: tuple[str, ...] = ()) -> dict:
    """Mapped variables (``raw_columns``, the raw frame's) that the domain's output does not name, carried as cleaned
    (stripped text, or the parsed number)."""
    skip = {*out, *standard, *SOURCE_COLUMNS, "SUBJID"}
    return {c: (frame[c] if pd.api.types.is_numeric_dtype(frame[c]) else frame[c].fillna("").astype(str).str.strip())
            for c in raw_columns if c not in skip}


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
        present = (~checks._blank(raw[source])).loc[out.index]  # blank tested on the raw text, then aligned
        values = out[target]
        missing = values.isna()
        if not pd.api.types.is_numeric_dtype(values):  # a number's text is never blank
            missing |= values.astype(str).str.strip() == ""
        lost = present & missing
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
    """The one duplicate rule (``checks.duplicate_records``) on the record key: SDTM's USUBJID + --SEQ when the
    delivery maps it, otherwise the domain's RECORD_KEYS. ``compare``: the variables copies must agree on (every
    other mapped variable when None)."""

    def step(frame: pd.DataFrame) -> CheckResult:
        key = mapped_key(domain, frame.columns)
        named = key[-1].endswith("SEQ")  # "AESEQ 2" rather than a bare "2"

        def describe(records: pd.DataFrame) -> pd.Series:
            if len(key) == 1:
                return pd.Series("subject", index=records.index)
            text = checks.as_text(records[key[1:]])
            return (key[-1] + " " + text[key[-1]]) if named else text.agg(" ".join, axis=1)
        others = [c for c in frame.columns if c not in key and c not in SOURCE_COLUMNS and c != "SUBJID"]
        return checks.duplicate_records(frame, key, [c for c in (compare or others) if c in frame], describe)
    return step


def _numbers(domain: str, spec: "CutSpec", raw: pd.DataFrame, required: tuple[str, ...] = ()) -> list:
    """``numeric_result`` and ``plausible_range`` steps for the domain's numeric variables that the delivery maps."""
    return [(lambda f, c=c: checks.numbers(f, c, required=c in required, limits=spec.limits(c, raw)))
            for c in spec.numeric(domain) if c in raw.columns]


def _partial_dates(spec: "CutSpec", column: str, with_time: bool) -> list:
    """Parse a date that may be partial (an ISO 8601 one is kept at the precision given; one in the source's
    date_format, or datetime_format ``with_time``, is parsed by it) and check it against the cut date."""
    return [lambda f: checks.dates(f, column, spec.formats(with_time), with_time=with_time, required=False,
                                   partial=True),
            lambda f: checks.after_cut_date(f, column, spec.cut_date)]


# --- domains -------------------------------------------------------------------------------

def clean_dm(raw: pd.DataFrame, spec: CutSpec, log: CutLog) -> pd.DataFrame:
    config = spec.config
    arms = {a["arm"]: a["armcd"] for a in config["arms"]}
    expected = {a["arm"]: a["reason"] for a in config.get("not_analysed_arms", [])}
    has_reference = "RANDDT" in raw
    steps = [
        lambda f: checks.required_value(f, [subject_column(raw)]),
        lambda f: checks.planned_arm(f, spec.code_lists("ARM"), list(arms), expected),
        lambda f: checks.codes(f, "SEX", spec.code_lists("SEX"), SEX_TERMS, SET_MISSING),
        *([lambda f: checks.dates(f, "RANDDT", spec.formats(False), with_time=False, required=False),
           lambda f: checks.after_cut_date(f, "RANDDT", spec.cut_date),
           lambda f: checks.reference_date(f, f["ARM"].isin(arms))] if has_reference else []),
        *_numbers("DM", spec, raw, required=("AGE",)),
        _duplicates("DM", None),
    ]
    frame = run_checks("DM", with_usubjid(raw, config["studyid"]), steps, log)
    log.summary.append(account_for_records("DM", raw, frame, log))
    subjid = frame["SUBJID"].fillna("").astype(str).str.strip() if "SUBJID" in frame else ""
    out = {
        "STUDYID": config["studyid"], "DOMAIN": "DM", "USUBJID": frame["USUBJID"], "SUBJID": subjid,
        "SITEID": frame["SITEID"], "AGE": frame["AGE"].astype(float),
        "AGEU": frame["AGEU"].str.strip() if "AGEU" in frame else "YEARS", "SEX": frame["SEX"],
        **({"DIABDUR": frame["DIABDUR"].astype(float)} if "DIABDUR" in frame else {}),
        # the plan's arm code; a subject of another arm keeps the code delivered (e.g. SCRNFAIL) when there is one
        "ARMCD": frame["ARM"].map(arms).fillna(frame["ARMCD"].str.strip() if "ARMCD" in frame else np.nan),
        "ARM": frame["ARM"], "RANDDT": frame["RANDDT"] if has_reference else "",
    }
    out |= extra_columns(frame, raw.columns, out)
    return pd.DataFrame(out | {"SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"]}).reset_index(drop=True)


def clean_ds(raw: pd.DataFrame, spec: CutSpec, log: CutLog, subjects: pd.Series) -> pd.DataFrame:
    events = spec.config.get("disposition", {}).get("where", {})
    steps = [
        lambda f: checks.subject_in_dm(f, subjects, log.dropped_subjects()),
        *_partial_dates(spec, "DSSTDTC", with_time=False),
        *_numbers("DS", spec, raw),
        _duplicates("DS", None),
        lambda f: checks.disposition(f, matches(f, events)),
    ]
    frame = run_checks("DS", with_usubjid(raw, spec.config["studyid"]), steps, log)
    log.summary.append(account_for_records("DS", raw, frame, log))
    out = {"STUDYID": spec.config["studyid"], "DOMAIN": "DS", "USUBJID": frame["USUBJID"],
           "DSDECOD": frame["DSDECOD"].str.strip().str.upper(), "DSTERM": frame["DSTERM"],
           "DSSTDTC": frame["DSSTDTC"]}
    out |= extra_columns(frame, raw.columns, out)
    return pd.DataFrame(out | {"SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"]}).reset_index(drop=True)


def clean_ex(raw: pd.DataFrame, spec: CutSpec, log: CutLog, subjects: pd.Series) -> pd.DataFrame:
    steps = [
        lambda f: checks.subject_in_dm(f, subjects, log.dropped_subjects()),
        lambda f: checks.dates(f, "EXSTDTC", spec.formats(True), with_time=True, required=True, partial=True),
        lambda f: checks.after_cut_date(f, "EXSTDTC", spec.cut_date),
        *(_partial_dates(spec, "EXENDTC", with_time=True) if "EXENDTC" in raw else []),
        *([lambda f: checks.end_before_start(f, "EXSTDTC", "EXENDTC", "end set to missing: the dose date is the start")]
          if "EXENDTC" in raw else []),
        *_numbers("EX", spec, raw),
        _duplicates("EX", None),
    ]
    frame = run_checks("EX", with_usubjid(raw, spec.config["studyid"]), steps, log)
    log.summary.append(account_for_records("EX", raw, frame, log))
    out = {"STUDYID": spec.config["studyid"], "DOMAIN": "EX", "USUBJID": frame["USUBJID"],
           "EXSEQ": frame["EXSEQ"].astype(float), "EXTRT": frame["EXTRT"], "EXDOSE": frame["EXDOSE"].astype(float),
           "EXDOSU": frame["EXDOSU"], "EXSTDTC": frame["EXSTDTC"]}
    out |= extra_columns(frame, raw.columns, out)
    return pd.DataFrame(out | {"SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"]}).reset_index(drop=True)


def clean_ae(raw: pd.DataFrame, spec: CutSpec, log: CutLog, subjects: pd.Series) -> pd.DataFrame:
    steps = [
        lambda f: checks.subject_in_dm(f, subjects, log.dropped_subjects()),
        # a missing onset is no reason to drop an event: ADAE queries it and judges treatment-emergence conservatively
        lambda f: checks.dates(f, "AESTDTC", spec.formats(True), with_time=True, required=False, partial=True),
        lambda f: checks.dates(f, "AEENDTC", spec.formats(True), with_time=True, required=False, partial=True),
        lambda f: checks.after_cut_date(f, "AESTDTC", spec.cut_date),
        lambda f: checks.after_cut_date(f, "AEENDTC", spec.cut_date, effect=SET_MISSING),
        lambda f: checks.end_before_start(f, "AESTDTC", "AEENDTC", "end set to missing: the event is taken as ongoing"),
        lambda f: checks.yes_no(f, "AESER", "Y", "counted as serious until resolved"),
        *[(lambda f, v=v, levels=levels: checks.levels(f, v, levels))
          for v, levels in checked_ae_levels(spec.config).items() if v in raw.columns],
        *_numbers("AE", spec, raw),
        _duplicates("AE", None),
    ]
    frame = run_checks("AE", with_usubjid(raw, spec.config["studyid"]), steps, log)
    log.summary.append(account_for_records("AE", raw, frame, log))
    out = {"STUDYID": spec.config["studyid"], "DOMAIN": "AE", "USUBJID": frame["USUBJID"], "AETERM": frame["AETERM"],
           "AESTDTC": frame["AESTDTC"], "AEENDTC": frame["AEENDTC"], "AESEV": frame["AESEV"].str.strip().str.upper(),
           "AESER": frame["AESER"], "AEREL": frame["AEREL"].str.strip().str.upper(), "AEOUT": frame["AEOUT"]}
    out |= extra_columns(frame, raw.columns, out)
    return pd.DataFrame(out | {"SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"]}).reset_index(drop=True)


def clean_other(domain: str, raw: pd.DataFrame, spec: CutSpec, log: CutLog, subjects: pd.Series) -> pd.DataFrame:
    """Another SDTM domain (SV, CM, MH, QS, ...): its subjects are in DM, its dates (--DTC, partial allowed) parse
    and are not after the cut date, one record per key; every mapped variable is carried."""
    date_columns = [c for c in raw.columns if c.endswith("DTC")]
    steps = [lambda f: checks.subject_in_dm(f, subjects, log.dropped_subjects()),
             *[step for c in date_columns for step in _partial_dates(spec, c, with_time=False)],
             *_numbers(domain, spec, raw),
             _duplicates(domain, None)]
    frame = run_checks(domain, with_usubjid(raw, spec.config["studyid"]), steps, log)
    log.summary.append(account_for_records(domain, raw, frame, log))
    out = {"STUDYID": spec.config["studyid"], "DOMAIN": domain, "USUBJID": frame["USUBJID"]}
    out |= extra_columns(frame, raw.columns, out)
    return pd.DataFrame(out | {"SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"]}).reset_index(drop=True)


def clean_findings(domain: str, raw: pd.DataFrame, spec: CutSpec, log: CutLog, subjects: pd.Series,
                   randdt: pd.Series) -> pd.DataFrame:
    config = spec.config
    steps = [
        lambda f: checks.subject_in_dm(f, subjects, log.dropped_subjects()),
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
    raw_columns = raw.columns
    del raw  # accounted for: the raw records are released before the clean table is built (the caller holds none)
    tests, p = config.get("tests", {}), domain
    extra = extra_columns(frame, raw_columns, {}, ("VISIT", "DTC", "TESTCD", "ORRES", "ORRESU", "USUBJID"))
    return pd.DataFrame({
        "STUDYID": config["studyid"], "DOMAIN": domain, "USUBJID": frame["USUBJID"],
        f"{p}TESTCD": frame["TESTCD"],
        f"{p}TEST": checks.map_distinct(frame["TESTCD"], {t: s["test"] for t, s in tests.items()}),
        f"{p}ORRES": frame["ORRES"], f"{p}ORRESU": frame["ORRESU"], f"{p}STRESC": frame["STRESC"],
        f"{p}STRESN": frame["STRESN"].astype(float),
        f"{p}STRESU": checks.map_distinct(frame["TESTCD"], {t: s["unit"] for t, s in tests.items()}),
        f"{p}LLOQ": frame["LLOQ"].astype(float), "VISITNUM": frame["VISITNUM"].astype("int64"), "VISIT": frame["VISIT"],
        f"{p}DTC": frame["DTC"], f"{p}DY": frame["DY"].astype(float), **extra, "SRCFILE": frame["SRCFILE"],
        "SRCROW": frame["SRCROW"],
    }).reset_index(drop=True)


def _reference_from_ds(dm: pd.DataFrame, ds: pd.DataFrame, config: dict, log: CutLog) -> pd.DataFrame:
    """RANDDT (the reference date of study days) from the DS record ``reference_date`` names; a subject of a planned
    arm without a complete date there is queried (study days and visit windows cannot be computed)."""
    planned = dm["ARM"].isin([a["arm"] for a in config["arms"]])
    when = dm["USUBJID"].map(reference_dates(ds, config)).fillna("")
    complete = when.str.fullmatch(r"\d{4}-\d{2}-\d{2}(T.*)?")
    dm = dm.assign(RANDDT=when.where(complete, "").str.slice(0, 10))
    wanted = ", ".join(f"{k} = {v}" for k, v in config["reference_date"]["where"].items())
    finding = checks.Finding("reference_date", planned & ~complete, "RANDDT",
                             pd.Series(np.where(when == "", f"no DS record with {wanted}",
                                                "date of the DS record with " + wanted + " is partial: " + when),
                                       index=dm.index),
                             "kept; study days and visit windows not computed", NOTE, when)
    if finding.rows.any():
        log.add_queries("DM", dm.assign(VISIT=""), finding)
    records = ds[matches(ds, config["reference_date"]["where"])]
    dates = records[records["DSSTDTC"].fillna("") != ""].groupby("USUBJID")["DSSTDTC"].unique()
    several = dm["USUBJID"].map(dates[dates.map(len) > 1]).dropna()
    if len(several):
        shown = several.map(lambda d: ", ".join(sorted(d)))
        log.add_queries("DM", dm.assign(VISIT=""), checks.Finding(
            "reference_date", pd.Series(dm.index.isin(several.index), index=dm.index), "RANDDT",
            "several DS records with " + wanted + " on different dates: " + shown.reindex(dm.index).fillna(""),
            "kept; the earliest date is the reference date", NOTE, dm["RANDDT"]))
    return dm


def assign_sequence(domain: str, table: pd.DataFrame) -> pd.DataFrame:
    """--SEQ as SDTM defines it (SDTMIG 4.1.9: unique within the subject in the domain) where the delivery has none:
    1, 2, ... per subject in the order of the domain's record key (``domains.RECORD_KEYS``), placed after USUBJID.
    A delivered --SEQ is kept as it is; ADaM traces records back through it (SRCSEQ)."""
    name = f"{domain}SEQ"
    if name in table:
        return table
    key = [c for c in (record_key(domain) if domain in DOMAINS else ["USUBJID"]) if c in table]
    if key[0] != "USUBJID" or table["USUBJID"].hasnans:
        raise ValueError(f"{domain}: --SEQ is numbered per subject; every record needs a USUBJID")
    # positions in key order (the key columns only); a subject's records are then one run, numbered from its start
    order = table[key].reset_index(drop=True).sort_values(key, kind="stable").index.to_numpy()
    subject = pd.factorize(table["USUBJID"])[0][order]
    run_start = np.flatnonzero(np.diff(subject, prepend=-1) != 0)
    in_run = np.arange(len(order)) - np.repeat(run_start, np.diff(np.append(run_start, len(order))))
    sequence = np.empty(len(order), dtype=np.int64)
    sequence[order] = in_run + 1
    table = table.copy(deep=False)  # a new column, not new records
    table.insert(table.columns.get_loc("USUBJID") + 1, name, sequence)
    return table


def clean_cut(tables: dict[str, pd.DataFrame | Callable[[], pd.DataFrame]], config: dict, cut_date: date,
              emit: Callable[[str, pd.DataFrame], None] | None = None
              ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Clean all domains of one cut. Returns (domains, queries, quarantine, summary).

    ``tables``: domain -> its mapped records, or a function that reads them (called when the domain's turn comes,
    so only one raw domain is held at a time). ``emit``: given each finished domain in the order of the returned
    dict, which then holds none (a large cut is written domain by domain instead of held whole).
    """
    spec = CutSpec(config, cut_date)
    log = CutLog(spec)
    out: dict[str, pd.DataFrame] = {}

    def raw(domain: str) -> pd.DataFrame:
        table = tables[domain]
        return table() if callable(table) else table

    def finish(domain: str, table: pd.DataFrame) -> None:
        table = table if domain == "DM" else assign_sequence(domain, table)
        if emit is None:
            out[domain] = table
        else:
            emit(domain, table)

    dm = clean_dm(raw("DM"), spec, log)
    subjects = dm["USUBJID"]
    ds = clean_ds(raw("DS"), spec, log, subjects)
    if reference_from_ds(config):
        dm = _reference_from_ds(dm, ds, config, log)
    finish("DM", dm)
    finish("DS", ds)
    randdt = dm.set_index("USUBJID")["RANDDT"]
    finish("EX", clean_ex(raw("EX"), spec, log, subjects))
    seen = set()  # (USUBJID, VISITNUM) of every finding kept
    for domain in FINDINGS:
        findings = clean_findings(domain, raw(domain), spec, log, subjects, randdt)
        visits = pd.DataFrame({"USUBJID": findings["USUBJID"], "VISITNUM": findings["VISITNUM"].astype(int)})
        seen.update(zip(*(column.tolist() for _, column in visits.drop_duplicates().items())))
        del visits
        finish(domain, findings)
        del findings
    finish("AE", clean_ae(raw("AE"), spec, log, subjects))
    others = [d for d in tables if d not in DOMAINS]
    for domain in others:
        finish(domain, clean_other(domain, raw(domain), spec, log, subjects))
    if config.get("visits") and any(s["domain"] in FINDINGS for s in config["sources"]):
        dm_visits = dm.assign(VISIT="")
        for finding in checks.visit_completeness(dm_visits, seen, left_study(ds, config), config["visits"],
                                                 cut_date).findings:
            log.add_queries("DM", dm_visits, finding)
    queries = pd.concat(log.queries, ignore_index=True) if log.queries else pd.DataFrame(columns=QUERY_COLUMNS[1:])
    queries.insert(0, "QUERYID", [f"Q{i:05d}" for i in range(1, len(queries) + 1)])
    quarantine = (pd.concat(log.quarantined, ignore_index=True) if log.quarantined
                  else pd.DataFrame(columns=QUARANTINE_COLUMNS))
    order = list(DOMAINS) + others
    summary = pd.DataFrame(log.summary, columns=SUMMARY_COLUMNS).set_index("DOMAIN").loc[order].reset_index()
    return out, queries[QUERY_COLUMNS], quarantine[QUARANTINE_COLUMNS], summary


def run_clean(table_paths: list[str], other_in: str | Path, config: dict, cut_date: date, out_paths: list[str],
              other_out: str | Path, queries_path: str, quarantine_path: str, summary_path: str, dictionary_path: str,
              log, transport_folder: str | Path | None = None) -> None:
    """Stage runner: clean one cut's ingested domains (the standard ones, and any other in ``other_in``) and write
    the clean domains, queries, quarantine and summaries, and each domain as SAS transport v5 with its labels."""
    from ucmsc.domains import data_dictionary, transport_labels
    from ucmsc.io import read_table, write_table
    from ucmsc.transport import write_xpt

    def reader(path) -> Callable[[], pd.DataFrame]:
        def read() -> pd.DataFrame:
            table = read_table(path)
            return table.astype({c: str for c in table.columns if c != "SRCROW"})
        return read

    tables = {domain: reader(path) for domain, path in zip(DOMAINS, table_paths)}
    tables |= {path.stem.upper(): reader(path) for path in sorted(Path(other_in).glob("*.parquet"))}
    paths = dict(zip(DOMAINS, map(Path, out_paths)))
    written: list[Path] = []
    dictionary: list[pd.DataFrame] = []

    def emit(domain: str, table: pd.DataFrame) -> None:
        """Write one clean domain (Parquet, transport file) and its data dictionary rows; nothing of it is kept."""
        path = paths.get(domain, Path(other_out) / f"{domain.lower()}.parquet")
        written.append(path)
        write_table(table, path)
        dictionary.append(data_dictionary({domain: table}))
        if transport_folder:
            label, labels = transport_labels(domain, table)
            written.append(Path(transport_folder) / f"{domain.lower()}.xpt")
            write_xpt(table, written[-1], domain, label, labels)

    Path(other_out).mkdir(parents=True, exist_ok=True)
    try:
        _, queries, quarantine, summary = clean_cut(tables, config, cut_date, emit)
    except BaseException:  # a stopped stage leaves no clean domain behind
        for path in written:
            path.unlink(missing_ok=True)
        raise
    write_table(queries, queries_path)
    write_table(quarantine, quarantine_path)
    write_table(summary, summary_path)
    write_table(pd.concat(dictionary, ignore_index=True), dictionary_path)
    log.info("%d queries, %d records quarantined\n%s", len(queries), len(quarantine), summary.to_string(index=False))
