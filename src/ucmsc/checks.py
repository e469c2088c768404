"""Record checks: small pure functions. A frame of mapped records and the check's spec go in;
a ``CheckResult`` comes out: the records found, what is said about them, what is done, and
the corrected columns. Nothing here logs, drops or mutates; ``ucmsc.clean`` applies results.

Frames hold the standard variables as text plus SRCFILE/SRCROW (see ``ucmsc.ingest``). Each
check's name is the ``CHECK`` column of ``queries.csv``; the README's check table lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable

import numpy as np
import pandas as pd

from ucmsc import dates as isodates
from ucmsc.io import isin

QUARANTINE = "quarantine"  # the record leaves the data (to quarantine.csv)
SET_MISSING = "set_missing"  # the record stays; the value is set missing (the result's updates do it)
NOTE = "note"  # the record and its (possibly corrected) value stay; the query informs

CENSORED = re.compile(r"^\s*([<>]=?)\s*([0-9]*\.?[0-9]+)\s*$")


@dataclass
class Finding:
    """Records (a boolean mask over the frame) that share one problem, and what happens to them."""

    check: str
    rows: pd.Series
    variable: str
    message: str | pd.Series
    action: str  # the ACTION text of queries.csv
    effect: str  # QUARANTINE, SET_MISSING or NOTE
    value: pd.Series | None = None  # the value shown in the query; default: the variable's raw text


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    updates: dict[str, pd.Series] = field(default_factory=dict)  # corrected columns (full length)

    def found(self, check, rows, variable, message, action, effect, value=None) -> None:
        if rows.any():
            self.findings.append(Finding(check, rows, variable, message, action, effect, value))


def _blank(text: pd.Series) -> pd.Series:
    return text.fillna("").astype(str).str.strip() == ""


def cell_text(value) -> str:
    """One cell as text: '' for missing, 2.0 as '2'; to compare or show values of any type."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def shown_text(value) -> str:
    """A cell as a query shows it: ``cell_text``, with characters that print as nothing (NUL, other controls, a
    zero-width space) written as escapes (E001\\x00), so the query shows why the value differs from the valid one."""
    text = cell_text(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(lambda column: column.map(cell_text))


def _by_file(frame: pd.DataFrame, per_file: dict, compute: Callable[[pd.Series, object], pd.Series],
             column: str, fill) -> pd.Series:
    """Apply ``compute(values, setting)`` file by file (each raw file has its own format or code list)."""
    groups = frame.groupby("SRCFILE", sort=False).groups
    if len(groups) == 1:  # one file (the usual case): no pieces to put together
        (file, _), = groups.items()
        return compute(frame[column], per_file.get(file))
    if not groups:
        return pd.Series(fill, index=frame.index, dtype=object)
    pieces = [compute(frame.loc[rows, column], per_file.get(file)) for file, rows in groups.items()]
    return pd.concat(pieces).reindex(frame.index)


def per_distinct(frame: pd.DataFrame, columns: list[str], compute: Callable[[pd.DataFrame], pd.Series | pd.DataFrame]
                 ) -> pd.Series | pd.DataFrame:
    """An elementwise computation over ``columns`` done once per distinct combination of their values, then spread
    back to every record (in the frame's index). ``compute`` gets the distinct rows of ``columns`` only, in the order
    of their first appearance, so a computation that looks at the first value (pandas' date format inference) sees
    the same one."""
    codes, _ = pd.factorize(frame[columns[0]], use_na_sentinel=False)
    if len(columns) > 1:
        combined = codes.astype(np.int64)
        for column in columns[1:]:
            column_codes, uniques = pd.factorize(frame[column], use_na_sentinel=False)
            combined = combined * len(uniques) + column_codes
        codes, _ = pd.factorize(combined)
    # factorize numbers values in order of first appearance: a record is a first one where its code exceeds all before
    first = np.flatnonzero(np.diff(np.maximum.accumulate(codes), prepend=-1) > 0)
    result = compute(frame[columns].iloc[first])
    spread = result.take(codes)
    spread.index = frame.index
    return spread


def map_distinct(values: pd.Series, mapping) -> pd.Series:
    """``values.map(mapping)`` looked up once per distinct value (a dict lookup per record is slow on Arrow text)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    spread = pd.Series(uniques, name=values.name).map(mapping).take(codes)
    spread.index = values.index
    return spread


# --- values present and parseable ------------------------------------------------------

def required_value(frame: pd.DataFrame, columns: list[str]) -> CheckResult:
    """``required_value``: a record without its identifying value cannot be used."""
    result = CheckResult()
    for column in columns:
        result.found("required_value", _blank(frame[column]), column, f"{column} is missing", "quarantined", QUARANTINE)
    return result


# A strptime format of these directives and literal text prints every field in full (4-digit year, 2-digit rest):
# a datetime that prints back as the text it was parsed from is the datetime strptime reads from that text.
PRINTED_IN_FULL = re.compile(r"(?:%[YmdHMS]|[^%])*")


def parse_datetimes(text: pd.Series, fmt: str | None) -> pd.Series:
    """Text -> datetime64 by a strptime format (ISO 8601 when None); NaT where it does not parse or lies outside
    1900-2100.

    Each distinct value is parsed once. With a format of ``PRINTED_IN_FULL``, pandas parses them all at once and a
    value it parsed that prints back as itself is taken; every other value (not parsed, or read differently: a
    non-padded number, a lower-case 'T', several spaces) is parsed by ``datetime.strptime`` as before.
    """
    stripped = text.fillna("").astype(str).str.strip()
    codes, distinct = pd.factorize(stripped)
    values = distinct.to_numpy(dtype=object)
    parsed = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    one_by_one = np.ones(len(values), dtype=bool)
    if fmt and PRINTED_IN_FULL.fullmatch(fmt) and len(values):
        fast = pd.to_datetime(pd.Series(values, dtype=object), format=fmt, errors="coerce")
        same = (fast.notna() & (fast.dt.strftime(fmt) == pd.Series(values, dtype=object))).to_numpy()
        in_range = fast.dt.year.between(1900, 2100).to_numpy()
        parsed[same & in_range] = fast.to_numpy(dtype="datetime64[ns]")[same & in_range]
        one_by_one = ~same
    for i in np.flatnonzero(one_by_one):
        try:
            when = datetime.strptime(values[i], fmt) if fmt else datetime.fromisoformat(values[i])
        except (TypeError, ValueError):
            continue
        if 1900 <= when.year <= 2100 and when.tzinfo is None:
            parsed[i] = np.datetime64(when, "ns")
    return pd.Series(parsed[codes], index=text.index, name=text.name)


def dates(frame: pd.DataFrame, column: str, formats: dict[str, str | None], with_time: bool,
          required: bool | pd.Series, partial: bool = False) -> CheckResult:
    """``dates``: parse ``column`` by each file's format into ISO 8601 text (blank where missing).

    With ``partial``, a file without a format may deliver ISO 8601 dates at any precision ("2013",
    "2013-03", "2013-03-04T10:30"): each stays as given (the analysis datasets impute by the plan's rules);
    a file with a strptime format is parsed by it as before. ``required`` (for every record, or a mask of
    the records that need it): a date that is missing or does not parse quarantines the record; an optional
    one is set missing.
    """
    def clean_text(records: pd.DataFrame) -> pd.Series:
        parsed = pd.to_datetime(_by_file(records, formats, parse_datetimes, column, pd.NaT)).astype("datetime64[ns]")
        text = parsed.dt.strftime("%Y-%m-%dT%H:%M" if with_time else "%Y-%m-%d").where(parsed.notna(), "")
        if partial:
            iso_files = [file for file, fmt in formats.items() if not fmt]
            iso = records["SRCFILE"].isin(iso_files)
            if iso.any():
                kept = isodates.normalise(records.loc[iso, column])
                text = text.where(~iso, kept.reindex(records.index).fillna(""))
        return text

    text = per_distinct(frame, ["SRCFILE", column], clean_text)  # each file's distinct date parsed once
    blank = _blank(frame[column])
    bad = (text == "") & ~blank
    needed = required if isinstance(required, pd.Series) else pd.Series(bool(required), index=frame.index)
    result = CheckResult(updates={column: text})
    result.found("dates", bad & needed, column, f"{column} is not a valid date", "quarantined", QUARANTINE)
    result.found("dates", bad & ~needed, column, f"{column} is not a valid date", "set to missing; record kept",
                 SET_MISSING)
    result.found("required_value", blank & needed, column, f"{column} is missing", "quarantined", QUARANTINE)
    return result


def reference_date(frame: pd.DataFrame, compared: pd.Series) -> CheckResult:
    """``reference_date``: a subject of a compared arm has the reference date of study days (RANDDT); without it the
    subject is kept (it is randomised) and its study days and visit windows are not computed."""
    result = CheckResult()
    result.found("reference_date", compared & _blank(frame["RANDDT"]), "RANDDT",
                 "no reference date (RANDDT) for a subject of a compared arm",
                 "kept; study days and visit windows not computed", NOTE)
    return result


def after_cut_date(frame: pd.DataFrame, column: str, cut_date: date, effect: str = QUARANTINE) -> CheckResult:
    """``after_cut_date``: a record dated after the cut date cannot belong to this cut.

    ``column`` holds clean ISO 8601 text, possibly partial: a partial date is after the cut date when its earliest
    possible day is ("2017-08" after 2017-06-30; "2017-06" not). The record is quarantined, or (for an end date)
    the date is set missing.
    """
    late = per_distinct(frame, [column], lambda records: isodates.after(records[column], cut_date))
    result = CheckResult()
    if effect == SET_MISSING:
        result.updates[column] = frame[column].where(~late, "")
        action = "set to missing (not yet known at the cut date); record kept"
    else:
        action = "quarantined; not analysed in this cut"
    result.found("after_cut_date", late, column, f"{column} is after the cut date {cut_date.isoformat()}",
                 action, effect)
    return result


def numbers(frame: pd.DataFrame, column: str, required: bool = False,
            limits: tuple[float, float] | None = None) -> CheckResult:
    """``numeric_result``: a numeric variable (age, dose, duration) parses as a finite number; otherwise set missing.
    ``plausible_range``: a number outside ``limits`` (low, high: inclusive) is set missing too.

    A blank optional value is simply missing; a blank required one is queried.
    """
    text = frame[column].fillna("").astype(str).str.strip()
    value = pd.to_numeric(text, errors="coerce")
    value = value.where(np.isfinite(value))
    blank = text == ""
    outside = pd.Series(False, index=frame.index)
    if limits is not None:
        outside = value.notna() & ((value < limits[0]) | (value > limits[1]))
    result = CheckResult(updates={column: value.where(~outside)})
    result.found("numeric_result", value.isna() & ~blank, column, f"{column} is not a number",
                 "set to missing; record kept", SET_MISSING)
    if limits is not None:
        bounds = f"below {limits[0]:g}" if limits[1] == np.inf else f"outside {limits[0]:g} to {limits[1]:g}"
        result.found("plausible_range", outside, column, f"{column} {bounds}, not plausible",
                     "set to missing; record kept", SET_MISSING)
    if required:
        result.found("required_value", blank, column, f"{column} is missing", "kept; value missing", NOTE)
    return result


def end_before_start(frame: pd.DataFrame, start: str, end: str, action: str) -> CheckResult:
    """``end_before_start``: an end date before its start date whatever the unknown parts of either (its latest
    possible moment before the start's earliest: ``2017-01`` is not before ``2017-01-23``, nor ``2017---15`` before
    ``2017-03-20``) is set missing and queried."""
    starts, ends = (frame[c].astype(object).fillna("").astype(str) for c in (start, end))
    before = (isodates.latest(ends) < isodates.earliest(starts)).to_numpy()  # NaT (blank, no year): False
    before = pd.Series(before, index=frame.index)
    result = CheckResult(updates={end: ends.where(~before, "")})
    message = pd.Series([f"{end} {e} is before {start} {s}" for s, e in zip(starts[before], ends[before])],
                        index=frame.index[before], dtype=object)
    result.found("end_before_start", before, end, message, action, SET_MISSING)
    return result


def codes(frame: pd.DataFrame, column: str, code_lists: dict[str, dict], allowed: set[str] | None,
          unknown: str) -> CheckResult:
    """``codes``: decode ``column`` through each file's code list (raw code -> standard value).

    Without a code list the stripped raw value is taken as the standard value. A value that is not in
    the code list, or not in ``allowed``, is quarantined (``unknown=QUARANTINE``) or set missing.
    """
    def decode(values: pd.Series, code_list) -> pd.Series:
        stripped = values.fillna("").astype(str).str.strip()
        return stripped.map({str(k): str(v) for k, v in code_list.items()}) if code_list else stripped

    decoded = _by_file(frame, code_lists, decode, column, None).fillna("").astype(str)
    bad = decoded == ""
    if allowed is not None:
        bad |= ~decoded.isin(allowed)
    listed = sorted(allowed) if allowed is not None else None
    message = (frame[column].fillna("").astype(str).map(lambda v: f"{column} '{v}' is not in the code list"
                                                        + (f" ({', '.join(listed)})" if listed else "")))
    result = CheckResult(updates={column: decoded.where(~bad, "")})
    result.found("codes", bad, column, message,
                 "quarantined" if unknown == QUARANTINE else "set to missing; record kept", unknown)
    return result


def levels(frame: pd.DataFrame, column: str, allowed: tuple[str, ...]) -> CheckResult:
    """``codes``: an ordered variable (AESEV, AEREL) holds one of its levels (compared stripped, ignoring case); any
    other value is set missing and queried (the tables count a missing level apart). A blank stays blank."""
    text = frame[column].astype(object).fillna("").astype(str).str.strip().str.upper()
    bad = (text != "") & ~text.isin(allowed)
    message = frame.loc[bad, column].astype(str).map(lambda v: f"{column} '{v}' is not one of its levels "
                                                        f"({', '.join(allowed)})")
    result = CheckResult(updates={column: text.where(~bad, "")})
    result.found("codes", bad, column, message, "set to missing; event kept (counted under a missing level)",
                 SET_MISSING)
    return result


EXCLUDED = "kept; excluded from every analysis population"


def planned_arm(frame: pd.DataFrame, code_lists: dict[str, dict], arms: list[str],
                not_analysed: dict[str, str] | None = None) -> CheckResult:
    """``arm_not_in_plan`` (and ``codes``, ``required_value``): the subject's arm, decoded by its file's code list,
    is one of the arms the analysis plan compares.

    A subject of another arm, with a code the list lacks, or without an arm is no data error to drop: the subject
    stays in DM with the arm as delivered (the raw code when it cannot be decoded) and is excluded from every
    analysis population, so it is never analysed as any arm. An arm the config lists as not analysed (e.g.
    "Screen Failure", with its reason) is expected: excluded the same way, without a query.
    """
    def decode(values: pd.Series, code_list) -> pd.Series:
        stripped = values.fillna("").astype(str).str.strip()
        return stripped.map({str(k): str(v) for k, v in code_list.items()}) if code_list else stripped

    raw = frame["ARM"].fillna("").astype(str).str.strip()
    decoded = _by_file(frame, code_lists, decode, "ARM", None)
    blank = raw == ""
    unknown_code = decoded.isna() & ~blank
    arm = decoded.where(decoded.notna(), raw).astype(str)
    other = ~arm.isin(arms) & ~arm.isin(list(not_analysed or {})) & ~unknown_code & ~blank
    result = CheckResult(updates={"ARM": arm})
    result.found("required_value", blank, "ARM", "ARM is missing", EXCLUDED, NOTE)
    result.found("codes", unknown_code, "ARM", "ARM code '" + raw + "' is not in the code list", EXCLUDED, NOTE)
    result.found("arm_not_in_plan", other, "ARM",
                 "arm '" + arm + f"' is not one of the arms compared ({', '.join(arms)})", EXCLUDED, NOTE)
    return result


def yes_no(frame: pd.DataFrame, column: str, unknown_as: str, consequence: str) -> CheckResult:
    """``codes``: a Y/N variable; anything else takes ``unknown_as`` (a conservative reading) and is queried."""
    text = frame[column].fillna("").astype(str).str.strip().str.upper()
    bad = ~text.isin(["Y", "N"])
    result = CheckResult(updates={column: text.where(~bad, unknown_as)})
    result.found("codes", bad, column, f"{column} is not Y or N", f"kept; {consequence}", NOTE)
    return result


# --- subjects and duplicates -------------------------------------------------------------

def subject_in_dm(frame: pd.DataFrame, subjects: pd.Series, dropped: set | None = None) -> CheckResult:
    """``subject_in_dm``: every record belongs to a subject of the clean DM (in this cut); ``dropped``: subjects
    whose DM record was quarantined, named as such."""
    result = CheckResult()
    absent = ~per_distinct(frame, ["USUBJID"], lambda records: isin(records["USUBJID"], subjects))
    quarantined = absent & frame["USUBJID"].isin(dropped or set())
    result.found("subject_in_dm", quarantined, "USUBJID", "the subject's DM record was quarantined (see its DM query)",
                 "quarantined", QUARANTINE)
    result.found("subject_in_dm", absent & ~quarantined, "USUBJID", "subject not in DM (not randomised in this cut)",
                 "quarantined", QUARANTINE)
    return result


def duplicate_records(frame: pd.DataFrame, key: list[str], compare: list[str],
                      what: Callable[[pd.DataFrame], pd.Series]) -> CheckResult:
    """``duplicate_records``: one record per ``key``. The same rule for every domain:

    copies that agree on every ``compare`` variable keep the first (in file order) and quarantine the
    rest; copies that disagree are all quarantined for the site to resolve.
    """
    result = CheckResult()
    repeated = frame.duplicated(key, keep=False)
    if not repeated.any():
        return result
    copies = frame[repeated]
    signature = as_text(copies[compare]).agg("|".join, axis=1)
    conflicting = pd.Series(False, index=frame.index)
    by_key = list(as_text(copies[key]).to_dict("series").values())
    conflicting[copies.index] = signature.groupby(by_key).transform("nunique").to_numpy() > 1
    # a copy of an earlier record on key and compare is a copy on the key: looked for among the copies only
    extra_copy = copies.duplicated(key + compare, keep="first").reindex(frame.index, fill_value=False) & ~conflicting
    label = what(copies)
    variable = key[-1]
    result.found("duplicate_records", extra_copy, variable, "exact duplicate of an earlier " + label + " record",
                 "quarantined; first copy kept", QUARANTINE)
    result.found("duplicate_records", conflicting, variable, "conflicting records for " + label,
                 "quarantined; all copies", QUARANTINE)
    return result


# --- findings ----------------------------------------------------------------------------

def visit_label(frame: pd.DataFrame, labels: dict, visits: list[dict]) -> CheckResult:
    """``visit_label``: the site's visit name (or a week number) maps to a scheduled visit."""
    scheduled = {int(v["visitnum"]): v["avisit"] for v in visits}

    def decode(records: pd.DataFrame) -> pd.DataFrame:
        text = records["VISIT"].fillna("").astype(str).str.strip().str.upper()
        number = text.map({str(k).strip().upper(): int(v) for k, v in labels.items()})
        as_week = pd.to_numeric(text, errors="coerce")
        number = number.where(number.notna(), as_week.where(as_week.isin(list(scheduled))))
        return pd.DataFrame({"VISITNUM": number, "VISIT": number.map(scheduled).fillna(records["VISIT"])})

    decoded = per_distinct(frame, ["VISIT"], decode)  # a few distinct visit names
    number = decoded["VISITNUM"]
    unknown = number.isna()
    result = CheckResult(updates={"VISITNUM": number, "VISIT": decoded["VISIT"]})
    result.found("visit_label", unknown, "VISIT", "visit is not in the schedule", "quarantined", QUARANTINE,
                 frame["VISIT"])
    return result


def visit_window(frame: pd.DataFrame, randdt: pd.Series, visits: list[dict], assignment: str) -> CheckResult:
    """``visit_window``: the assessment's study day lies in its visit's window.

    Study day = date - randomisation date (day 0). A date outside its window is queried once per
    subject, visit, date and file; with ``assignment == "window"`` a date inside another visit's
    window moves the record there, otherwise it stays at its nominal visit.
    """
    # each distinct date and each subject's reference date parsed once
    when = per_distinct(frame, ["DTC"], lambda records: pd.to_datetime(records["DTC"], errors="coerce"))
    reference = per_distinct(frame, ["USUBJID"],
                             lambda records: pd.to_datetime(records["USUBJID"].map(randdt), errors="coerce"))
    day = (when - reference).dt.days
    result = CheckResult(updates={"DY": day})
    schedule = {int(v["visitnum"]): (v["day"], v["window"]) for v in visits}
    names = {int(v["visitnum"]): v["avisit"] for v in visits}
    visitnum = frame["VISITNUM"].astype(int)
    if not visitnum.isin(list(schedule)).all():  # a visit number the schedule lacks is a config defect
        raise KeyError(sorted(set(visitnum) - set(schedule)))
    target = visitnum.map({n: t for n, (t, _) in schedule.items()})
    window = visitnum.map({n: w for n, (_, w) in schedule.items()})
    outside = day.notna() & ((day - target).abs() > window)
    if not outside.any():
        return result
    days_outside = day[outside]
    fitting = {d: next((n for n, (t, w) in schedule.items() if abs(d - t) <= w), None) for d in days_outside.unique()}
    fits = days_outside.map(fitting).reindex(frame.index)
    # the records of a subject, visit, date and file are all outside or none (the study day is the date's): the first
    # of each among those outside is the first of all
    first = ~frame.loc[outside, ["USUBJID", "VISITNUM", "DTC", "SRCFILE"]].duplicated().reindex(frame.index,
                                                                                               fill_value=True)
    by_window = assignment == "window"

    def message(i) -> str:
        t, w = schedule[int(frame.at[i, "VISITNUM"])]
        text = f"{names[int(frame.at[i, 'VISITNUM'])]} on study day {int(day[i])}, window {t - w} to {t + w}"
        return text + (f"; the date lies in the {names[int(fits[i])]} window" if pd.notna(fits[i]) else "")

    def action(i) -> str:
        moved = by_window and pd.notna(fits[i])
        return (f"moved to {names[int(fits[i])]} by window" if moved else "kept at nominal visit") + \
            "; applies to all records of this visit in this file"

    index = frame.index[first]
    result.found("visit_window", first, "DTC", pd.Series([message(i) for i in index], index=index, dtype=object),
                 pd.Series([action(i) for i in index], index=index, dtype=object), NOTE)
    if by_window:
        moved = fits[outside].dropna().astype(int)
        visitnum = frame["VISITNUM"].copy()
        visitnum.loc[moved.index] = moved
        result.updates.update({"VISITNUM": visitnum, "VISIT": visitnum.map(names)})
    return result


def known_test(frame: pd.DataFrame, tests: dict) -> CheckResult:
    """``codes``: the test code is one the trial config defines."""
    code = frame["TESTCD"].fillna("").astype(str).str.strip().str.upper()
    result = CheckResult(updates={"TESTCD": code})
    result.found("codes", ~code.isin(list(tests)), "TESTCD", "test code not defined in the trial config",
                 "quarantined", QUARANTINE, frame["TESTCD"])
    return result


def numeric_result(frame: pd.DataFrame) -> CheckResult:
    """``numeric_result``: results parse as numbers; '<x' and '>x' keep their censoring; a blank result is no result."""
    def parse(records: pd.DataFrame) -> pd.DataFrame:
        text = records["ORRES"].fillna("").astype(str).str.strip()
        value = pd.to_numeric(text, errors="coerce")
        value = value.where(np.isfinite(value))
        censored = text[value.isna()].str.extract(CENSORED).reindex(text.index)  # parse only what is not a number
        is_censored = value.isna() & censored[0].notna()
        below = is_censored & censored[0].fillna("").str.startswith("<")
        lloq = pd.Series(np.where(below, pd.to_numeric(censored[1], errors="coerce"), np.nan), index=records.index)
        return pd.DataFrame({"STRESC": text, "VALUE": value, "LLOQ": lloq, "censored": is_censored})

    parsed = per_distinct(frame, ["ORRES"], parse)  # each distinct result parsed once
    value, is_censored = parsed["VALUE"], parsed["censored"]
    blank = parsed["STRESC"] == ""
    result = CheckResult(updates={"STRESC": parsed["STRESC"], "VALUE": value, "LLOQ": parsed["LLOQ"]})
    result.found("numeric_result", is_censored, "ORRES", "result reported as a censored value",
                 "parsed: numeric result missing, censoring kept in STRESC and LLOQ", NOTE)
    result.found("numeric_result", value.isna() & ~is_censored & ~blank, "ORRES",
                 "result is neither a number nor a censored value", "quarantined", QUARANTINE)
    result.found("required_value", blank, "ORRES", "result is missing (not done?)", "quarantined", QUARANTINE)
    return result


def unit_conversion(frame: pd.DataFrame, tests: dict) -> CheckResult:
    """``unit_conversion``: convert to the test's standard unit by the configured divisor, logging the factor."""
    unit = frame["ORRESU"].fillna("").astype(str).str.strip()
    standard = map_distinct(frame["TESTCD"], {t: spec["unit"] for t, spec in tests.items()})
    divisor = pd.Series(np.where(unit == standard, 1.0, np.nan), index=frame.index)
    for testcd, spec in tests.items():
        for other, factor in spec.get("divide", {}).items():
            divisor[(frame["TESTCD"] == testcd) & (unit == other)] = float(factor)
    unknown = divisor.isna()
    converted = ~unknown & (divisor != 1.0)
    stresn = frame["VALUE"] / divisor
    lloq = frame["LLOQ"].where(~converted, frame["LLOQ"] / divisor)
    stresc = frame["STRESC"].copy()
    number = converted & frame["VALUE"].notna()
    stresc[number] = stresn[number].map(lambda v: f"{v:.4g}")
    text = converted & frame["VALUE"].isna()
    if text.any():  # '<x' and '>x' keep their sign, with the limit converted
        censored = frame.loc[text, "STRESC"].str.extract(CENSORED)
        limit = pd.to_numeric(censored[1], errors="coerce") / divisor[text]
        ok = censored[0].notna()
        stresc[ok[ok].index] = censored.loc[ok, 0] + limit[ok].map(lambda v: f"{v:.4g}").astype(str)
    result = CheckResult(updates={"ORRESU": unit, "STRESN": stresn, "LLOQ": lloq, "STRESC": stresc})
    code = frame["TESTCD"]
    result.found("unit_conversion", unknown, "ORRESU",
                 code[unknown].map(lambda t: f"unit not accepted for {t} (standard {tests[t]['unit']})"),
                 "quarantined", QUARANTINE)
    result.found("unit_conversion", converted, "ORRESU", code[converted] + " in " + unit[converted],
                 pd.Series([f"converted to {tests[t]['unit']}: value / {f:g}"
                            for t, f in zip(code[converted], divisor[converted])],
                           index=code.index[converted], dtype=object), NOTE)
    return result


def plausible_range(frame: pd.DataFrame, tests: dict) -> CheckResult:
    """``plausible_range``: a result outside the test's physiological range is quarantined."""
    low = map_distinct(frame["TESTCD"], {t: spec["range"][0] for t, spec in tests.items()}).astype(float)
    high = map_distinct(frame["TESTCD"], {t: spec["range"][1] for t, spec in tests.items()}).astype(float)
    out = frame["STRESN"].notna() & ((frame["STRESN"] < low) | (frame["STRESN"] > high))
    message = pd.Series([f"{t} {v:g} {tests[t]['unit']} outside plausible range {lo:g}-{hi:g}"
                         for t, v, lo, hi in zip(frame.loc[out, "TESTCD"], frame.loc[out, "STRESN"],
                                                 low[out], high[out])],
                        index=frame.index[out], dtype=object)
    result = CheckResult()
    result.found("plausible_range", out, "ORRES", message, "quarantined", QUARANTINE)
    return result


# --- checks over a whole cut (queries only) ----------------------------------------------

def visit_completeness(dm: pd.DataFrame, seen: set, left: pd.Series, visits: list[dict], cut_date: date) -> CheckResult:
    """``visit_completeness``: each visit due by the cut date has an assessment, unless the subject left before it.

    ``seen``: (USUBJID, VISITNUM) pairs with any finding; ``left``: USUBJID -> date of leaving ('' if unknown).
    One query per subject and missing visit, on the subject's DM record.
    """
    randdt = pd.to_datetime(dm["RANDDT"], errors="coerce")
    gone = dm["USUBJID"].map(left)
    result = CheckResult()
    for visit in visits:  # one finding per visit: a subject can miss several
        due = randdt + pd.Timedelta(days=visit["day"] + visit["window"])
        visitn = int(visit["visitnum"])
        has = pd.Series([(s, visitn) in seen for s in dm["USUBJID"]], index=dm.index)
        not_expected = gone.notna() & ((gone == "") | (due >= pd.to_datetime(gone, errors="coerce")))
        missing = randdt.notna() & (due <= pd.Timestamp(cut_date)) & ~has & ~not_expected
        message = f"{visit['avisit']} due by " + due.dt.strftime("%Y-%m-%d") + " has no assessment"
        result.found("visit_completeness", missing, "VISIT", message, "none: analysed as missing", NOTE,
                     pd.Series(visit["avisit"], index=dm.index))
    return result


def disposition(ds: pd.DataFrame, events: pd.Series | None = None) -> CheckResult:
    """``disposition``: a discontinuation (a disposition event other than COMPLETED; ``events`` marks the disposition
    events among DS records, all when None) is logged; later visits are not expected."""
    result = CheckResult()
    left = ds["DSDECOD"].str.strip().str.upper() != "COMPLETED"
    if events is not None:
        left &= events
    message = "subject discontinued on " + ds["DSSTDTC"].astype(str) + ": " + ds["DSTERM"].astype(str)
    result.found("disposition", left, "DSDECOD", message, "kept; later visits not expected", NOTE)
    return result
