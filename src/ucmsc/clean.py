"""Validation and cleaning: mapped raw records -> SDTM-like domain tables, with a data-query log.

Every check is a named function. A record-level problem becomes one row of the query log
(file, row, subject, variable, value, check, action); the record is then corrected by a
stated rule, kept and flagged, or moved to quarantine. Nothing leaves without a query:
records in = records out + records quarantined, per domain.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from ucmsc.domains import DOMAINS, FINDINGS
from ucmsc.queries import QueryLog

CENSORED = re.compile(r"^\s*([<>]=?)\s*([0-9]*\.?[0-9]+)\s*$")


def parse_datetimes(text: pd.Series, fmt: str | None) -> pd.Series:
    """Parse text by a strptime format (ISO 8601 when None); NaT where it does not parse or lies outside 1900-2100.

    Each distinct value is parsed once, so a million records with a few thousand dates stay fast.
    """
    lookup = {}
    for value in pd.unique(text.str.strip()):
        try:
            when = datetime.strptime(value, fmt) if fmt else datetime.fromisoformat(value)
        except (TypeError, ValueError):
            when = None
        lookup[value] = when if when is not None and 1900 <= when.year <= 2100 and when.tzinfo is None else None
    return pd.to_datetime(text.str.strip().map(lookup), errors="coerce").astype("datetime64[ns]")


@dataclass
class Cleaner:
    """Holds one cut's state while its domains are cleaned in order (DM first)."""

    config: dict
    cut_date: date
    log: QueryLog = field(default_factory=QueryLog)
    quarantine: list[dict] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)
    subjects: pd.DataFrame | None = None  # USUBJID, RANDDT of subjects in DM

    # --- helpers ---------------------------------------------------------------
    def usubjid(self, subjid: pd.Series) -> pd.Series:
        return self.config["studyid"] + "-" + subjid.str.strip()

    def _quarantine(self, domain: str, frame: pd.DataFrame, mask: pd.Series, reason: str) -> pd.DataFrame:
        for record in frame[mask].to_dict("records"):
            payload = {k: v for k, v in record.items() if k not in ("SRCFILE", "SRCROW")}
            self.quarantine.append({"DOMAIN": domain, "SRCFILE": record["SRCFILE"], "SRCROW": record["SRCROW"],
                                    "USUBJID": record.get("USUBJID", ""), "REASON": reason,
                                    "RECORD": json.dumps(payload, default=str)})
        return frame[~mask]

    def _source(self, file: str) -> dict:
        return next(s for s in self.config["sources"] if s["file"] == file)

    def parse_dates(self, domain: str, frame: pd.DataFrame, column: str, with_time: bool, required: bool) -> pd.DataFrame:
        """check ``dates``: parse ``column`` by its source's format into ISO 8601 text."""
        parsed = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
        for file, rows in frame.groupby("SRCFILE").groups.items():
            source = self._source(file)
            fmt = source.get("datetime_format") if with_time else source.get("date_format")
            parsed.loc[rows] = parse_datetimes(frame.loc[rows, column], fmt)
        bad = parsed.isna() & (frame[column].str.strip() != "")
        blank = frame[column].str.strip() == ""
        for record in frame[bad].to_dict("records"):
            self.log.add(domain, record, column, record[column], "dates", f"{column} is not a valid date",
                         "quarantined" if required else "set to missing; record kept")
        if required:
            for record in frame[blank & ~bad].to_dict("records"):
                self.log.add(domain, record, column, "", "required_value", f"{column} is missing", "quarantined")
        frame = frame.copy()
        fmt = "%Y-%m-%dT%H:%M" if with_time else "%Y-%m-%d"
        frame[column] = parsed.dt.strftime(fmt).where(parsed.notna(), "")
        if required:
            frame = self._quarantine(domain, frame, bad | blank, f"{column} missing or not a date")
        return frame

    def subject_in_dm(self, domain: str, frame: pd.DataFrame) -> pd.DataFrame:
        """check ``subject_in_dm``: every record belongs to a randomised subject."""
        orphan = ~frame["USUBJID"].isin(self.subjects["USUBJID"])
        for record in frame[orphan].to_dict("records"):
            self.log.add(domain, record, "USUBJID", record["USUBJID"], "subject_in_dm",
                         "subject not in DM (not randomised in this cut)", "quarantined")
        return self._quarantine(domain, frame, orphan, "subject not in DM")

    def _decode(self, domain: str, frame: pd.DataFrame, column: str, quarantine_unknown: bool) -> pd.DataFrame:
        """check ``codes``: map a coded column through the source's code list."""
        frame = frame.copy()
        decoded = pd.Series("", index=frame.index, dtype=str)
        for file, rows in frame.groupby("SRCFILE").groups.items():
            codes = {str(k): str(v) for k, v in self._source(file).get("codes", {}).get(column, {}).items()}
            raw = frame.loc[rows, column].str.strip()
            decoded.loc[rows] = raw.map(codes) if codes else raw
        unknown = decoded.isna() | (decoded == "")
        for record in frame[unknown].to_dict("records"):
            self.log.add(domain, record, column, record[column], "codes", f"{column} code '{record[column]}' is not in the code list",
                         "quarantined" if quarantine_unknown else "set to missing; record kept")
        frame[column] = decoded.fillna("")
        if quarantine_unknown:
            frame = self._quarantine(domain, frame, unknown, f"unknown {column} code")
        return frame

    def _count(self, domain: str, records_in: int, frame_out: pd.DataFrame) -> None:
        quarantined = sum(1 for q in self.quarantine if q["DOMAIN"] == domain)
        corrected = len({(q["FILE"], q["ROW"]) for q in self.log.rows
                         if q["DOMAIN"] == domain and q["ACTION"].startswith(("converted", "parsed", "set to missing"))})
        self.summary.append({"DOMAIN": domain, "RECORDS_IN": records_in, "CORRECTED": corrected,
                             "QUARANTINED": quarantined, "RECORDS_OUT": int(len(frame_out))})
        if records_in != quarantined + len(frame_out):
            raise AssertionError(f"{domain}: {records_in} records in but {quarantined} quarantined + {len(frame_out)} out")

    def _records_of_randomised(self, domain: str, raw: pd.DataFrame) -> pd.DataFrame:
        """Add USUBJID and quarantine records of subjects not in DM (check ``subject_in_dm``)."""
        frame = raw.copy()
        frame["USUBJID"] = self.usubjid(frame["SUBJID"])
        return self.subject_in_dm(domain, frame)

    def _finish(self, domain: str, raw: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
        self._count(domain, len(raw), out)
        return out.reset_index(drop=True)

    # --- domains ----------------------------------------------------------------
    def clean_dm(self, raw: pd.DataFrame) -> pd.DataFrame:
        frame = raw.copy()
        frame["USUBJID"] = self.usubjid(frame["SUBJID"])
        blank = frame["SUBJID"].str.strip() == ""
        for record in frame[blank].to_dict("records"):
            self.log.add("DM", record, "SUBJID", "", "required_value", "subject identifier is missing", "quarantined")
        frame = self._quarantine("DM", frame, blank, "SUBJID missing")
        frame = self._decode("DM", frame, "ARM", quarantine_unknown=True)
        frame = self._decode("DM", frame, "SEX", quarantine_unknown=False)
        frame = self.parse_dates("DM", frame, "RANDDT", with_time=False, required=True)
        age = pd.to_numeric(frame["AGE"].str.strip(), errors="coerce")
        for record in frame[age.isna()].to_dict("records"):
            self.log.add("DM", record, "AGE", record["AGE"], "numeric_result", "age is not a number", "set to missing; record kept")
        frame["AGE"] = age
        if "DIABDUR" in frame:  # optional: years since diabetes diagnosis
            frame["DIABDUR"] = pd.to_numeric(frame["DIABDUR"].str.strip(), errors="coerce")
        repeated = frame["USUBJID"].duplicated(keep=False)
        for record in frame[repeated].to_dict("records"):
            self.log.add("DM", record, "USUBJID", record["USUBJID"], "duplicate_records",
                         "subject appears more than once in DM", "quarantined")
        frame = self._quarantine("DM", frame, repeated, "subject repeated in DM")
        arms = {a["arm"]: a["armcd"] for a in self.config["arms"]}
        out = pd.DataFrame({
            "STUDYID": self.config["studyid"], "DOMAIN": "DM", "USUBJID": frame["USUBJID"], "SUBJID": frame["SUBJID"],
            "SITEID": frame["SITEID"], "AGE": frame["AGE"], "AGEU": "YEARS", "SEX": frame["SEX"],
            "DIABDUR": frame["DIABDUR"] if "DIABDUR" in frame else np.nan,
            "ARMCD": frame["ARM"].map(arms), "ARM": frame["ARM"], "RANDDT": frame["RANDDT"],
            "SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"],
        })
        self.subjects = out[["USUBJID", "RANDDT"]]
        return self._finish("DM", raw, out)

    def clean_ds(self, raw: pd.DataFrame) -> pd.DataFrame:
        frame = self._records_of_randomised("DS", raw)
        frame = self.parse_dates("DS", frame, "DSSTDTC", with_time=False, required=False)
        frame = self.duplicate_records("DS", frame, ["USUBJID"], ["DSDECOD", "DSSTDTC"], lambda r: "disposition")
        for record in frame[frame["DSDECOD"].str.upper() != "COMPLETED"].to_dict("records"):
            self.log.add("DS", record, "DSDECOD", record["DSDECOD"], "disposition",
                         f"subject discontinued on {record['DSSTDTC']}: {record['DSTERM']}", "kept; later visits not expected")
        out = pd.DataFrame({"STUDYID": self.config["studyid"], "DOMAIN": "DS", "USUBJID": frame["USUBJID"],
                            "DSDECOD": frame["DSDECOD"].str.upper(), "DSTERM": frame["DSTERM"], "DSSTDTC": frame["DSSTDTC"],
                            "SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"]})
        return self._finish("DS", raw, out)

    def clean_ex(self, raw: pd.DataFrame) -> pd.DataFrame:
        frame = self._records_of_randomised("EX", raw)
        frame = self.parse_dates("EX", frame, "EXSTDTC", with_time=True, required=True)
        out = pd.DataFrame({"STUDYID": self.config["studyid"], "DOMAIN": "EX", "USUBJID": frame["USUBJID"],
                            "EXSEQ": pd.to_numeric(frame["EXSEQ"], errors="coerce"), "EXTRT": frame["EXTRT"],
                            "EXDOSE": pd.to_numeric(frame["EXDOSE"], errors="coerce"), "EXDOSU": frame["EXDOSU"],
                            "EXSTDTC": frame["EXSTDTC"], "SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"]})
        return self._finish("EX", raw, out)

    def clean_ae(self, raw: pd.DataFrame) -> pd.DataFrame:
        frame = self._records_of_randomised("AE", raw)
        frame = self.parse_dates("AE", frame, "AESTDTC", with_time=True, required=True)
        frame = self.parse_dates("AE", frame, "AEENDTC", with_time=True, required=False)
        frame["AESER"] = frame["AESER"].str.strip().str.upper()
        bad = ~frame["AESER"].isin(["Y", "N"])
        for record in frame[bad].to_dict("records"):
            self.log.add("AE", record, "AESER", record["AESER"], "codes", "seriousness is not Y or N",
                         "kept; counted as serious until resolved")
        frame.loc[bad, "AESER"] = "Y"  # conservative: an unknown seriousness is reported as serious
        out = pd.DataFrame({"STUDYID": self.config["studyid"], "DOMAIN": "AE", "USUBJID": frame["USUBJID"],
                            "AETERM": frame["AETERM"], "AESTDTC": frame["AESTDTC"], "AEENDTC": frame["AEENDTC"],
                            "AESEV": frame["AESEV"].str.upper(), "AESER": frame["AESER"], "AEREL": frame["AEREL"].str.upper(),
                            "AEOUT": frame["AEOUT"], "SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"]})
        return self._finish("AE", raw, out)

    def clean_findings(self, domain: str, raw: pd.DataFrame) -> pd.DataFrame:
        frame = self._records_of_randomised(domain, raw)
        frame = self.visit_label(domain, frame)
        frame = self.parse_dates(domain, frame, "DTC", with_time=False, required=False)
        frame = self.visit_window(domain, frame)
        frame = self.known_test(domain, frame)
        frame = self.numeric_result(domain, frame)
        frame = self.unit_conversion(domain, frame)
        frame = self.plausible_range(domain, frame)
        frame = self.duplicate_records(domain, frame, ["USUBJID", "TESTCD", "VISITNUM"], ["STRESC", "DTC"],
                                       lambda r: f"{r['TESTCD']} at {r['VISIT']}")
        tests = self.config["tests"]
        p = domain
        out = pd.DataFrame({
            "STUDYID": self.config["studyid"], "DOMAIN": domain, "USUBJID": frame["USUBJID"],
            f"{p}TESTCD": frame["TESTCD"], f"{p}TEST": frame["TESTCD"].map({t: spec["test"] for t, spec in tests.items()}),
            f"{p}ORRES": frame["ORRES"], f"{p}ORRESU": frame["ORRESU"], f"{p}STRESC": frame["STRESC"],
            f"{p}STRESN": frame["STRESN"], f"{p}STRESU": frame["TESTCD"].map({t: spec["unit"] for t, spec in tests.items()}),
            f"{p}LLOQ": frame["LLOQ"], "VISITNUM": frame["VISITNUM"], "VISIT": frame["VISIT"], f"{p}DTC": frame["DTC"],
            f"{p}DY": frame["DY"], "SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"],
        })
        return self._finish(domain, raw, out)

    # --- findings checks --------------------------------------------------------
    def visit_label(self, domain: str, frame: pd.DataFrame) -> pd.DataFrame:
        """check ``visit_label``: the site's visit name or week number maps to a scheduled visit."""
        labels = {str(k).strip().upper(): int(v) for k, v in self.config["visit_labels"].items()}
        scheduled = {int(v["visitnum"]) for v in self.config["visits"]}
        text = frame["VISIT"].str.strip().str.upper()
        number = text.map(labels)
        as_week = pd.to_numeric(text, errors="coerce")
        number = number.where(number.notna(), as_week.where(as_week.isin(list(scheduled))))
        unknown = number.isna()
        for record in frame[unknown].to_dict("records"):
            self.log.add(domain, record, "VISIT", record["VISIT"], "visit_label", "visit is not in the schedule", "quarantined")
        frame = frame.copy()
        frame["VISITNUM"] = number
        frame = self._quarantine(domain, frame, unknown, "unscheduled or unknown visit")
        frame["VISITNUM"] = frame["VISITNUM"].astype(int)
        names = {int(v["visitnum"]): v["avisit"] for v in self.config["visits"]}
        frame["VISIT"] = frame["VISITNUM"].map(names)
        return frame

    def known_test(self, domain: str, frame: pd.DataFrame) -> pd.DataFrame:
        """check ``codes``: the test code is one the trial config defines."""
        frame = frame.copy()
        frame["TESTCD"] = frame["TESTCD"].str.strip().str.upper()
        unknown = ~frame["TESTCD"].isin(list(self.config["tests"]))
        for record in frame[unknown].to_dict("records"):
            self.log.add(domain, record, "TESTCD", record["TESTCD"], "codes", "test code not defined in the trial config",
                         "quarantined")
        return self._quarantine(domain, frame, unknown, "unknown test code")

    def numeric_result(self, domain: str, frame: pd.DataFrame) -> pd.DataFrame:
        """check ``numeric_result``: results parse as numbers; '<x' and '>x' keep their censoring."""
        frame = frame.copy()
        text = frame["ORRES"].str.strip()
        value = pd.to_numeric(text, errors="coerce")
        censored = text[value.isna()].str.extract(CENSORED).reindex(text.index)  # parse only what is not a number
        is_censored = value.isna() & censored[0].notna()
        frame["STRESC"] = text
        below = is_censored & censored[0].fillna("").str.startswith("<")
        frame["LLOQ"] = np.where(below, pd.to_numeric(censored[1], errors="coerce"), np.nan)
        for record in frame[is_censored].to_dict("records"):
            self.log.add(domain, record, "ORRES", record["ORRES"], "numeric_result",
                         "result reported as a censored value", "parsed: numeric result missing, censoring kept in STRESC and LLOQ")
        bad = value.isna() & ~is_censored
        for record in frame[bad].to_dict("records"):
            self.log.add(domain, record, "ORRES", record["ORRES"], "numeric_result",
                         "result is neither a number nor a censored value", "quarantined")
        frame["VALUE"] = value
        return self._quarantine(domain, frame, bad, "result not numeric")

    def unit_conversion(self, domain: str, frame: pd.DataFrame) -> pd.DataFrame:
        """check ``unit_conversion``: convert to the test's standard unit, logging the factor."""
        frame = frame.copy()
        frame["ORRESU"] = frame["ORRESU"].str.strip()
        tests = self.config["tests"]
        standard = frame["TESTCD"].map({t: spec["unit"] for t, spec in tests.items()})
        divisor = pd.Series(np.nan, index=frame.index)
        divisor[frame["ORRESU"] == standard] = 1.0
        for testcd, spec in tests.items():
            for unit, factor in spec.get("divide", {}).items():
                divisor[(frame["TESTCD"] == testcd) & (frame["ORRESU"] == unit)] = float(factor)
        unknown = divisor.isna()
        for record in frame[unknown].to_dict("records"):
            self.log.add(domain, record, "ORRESU", record["ORRESU"], "unit_conversion",
                         f"unit not accepted for {record['TESTCD']} (standard {tests[record['TESTCD']]['unit']})", "quarantined")
        converted = ~unknown & (divisor != 1.0)
        for record, factor in zip(frame[converted].to_dict("records"), divisor[converted]):
            self.log.add(domain, record, "ORRESU", record["ORRESU"], "unit_conversion",
                         f"{record['TESTCD']} in {record['ORRESU']}", f"converted to {tests[record['TESTCD']]['unit']}: value / {factor:g}")
        frame["STRESN"] = frame["VALUE"] / divisor
        frame.loc[converted, "LLOQ"] = frame.loc[converted, "LLOQ"] / divisor[converted]
        frame.loc[converted, "STRESC"] = frame.loc[converted, "STRESN"].map(lambda v: f"{v:.4g}")
        return self._quarantine(domain, frame, unknown, "unit not accepted")

    def plausible_range(self, domain: str, frame: pd.DataFrame) -> pd.DataFrame:
        """check ``plausible_range``: a result outside the test's physiological range is quarantined."""
        tests = self.config["tests"]
        low = frame["TESTCD"].map({t: spec["range"][0] for t, spec in tests.items()}).astype(float)
        high = frame["TESTCD"].map({t: spec["range"][1] for t, spec in tests.items()}).astype(float)
        out = frame["STRESN"].notna() & ((frame["STRESN"] < low) | (frame["STRESN"] > high))
        for record in frame[out].to_dict("records"):
            spec = tests[record["TESTCD"]]
            self.log.add(domain, record, "ORRES", record["ORRES"], "plausible_range",
                         f"{record['TESTCD']} {record['STRESN']:g} {spec['unit']} outside plausible range {spec['range'][0]}-{spec['range'][1]}",
                         "quarantined")
        return self._quarantine(domain, frame, out, "implausible value")

    def duplicate_records(self, domain: str, frame: pd.DataFrame, key: list[str], compare: list[str], what: str) -> pd.DataFrame:
        """check ``duplicate_records``: one record per ``key`` (for findings: subject, test and visit).

        Rule: copies that agree on ``compare`` keep the first (in file order) and quarantine
        the rest; copies that disagree are all quarantined for the site to resolve.
        """
        repeated = frame.duplicated(key, keep=False)
        if not repeated.any():
            return frame
        extra_copy = frame.duplicated(key + compare, keep="first") & repeated
        copies = frame[repeated]
        signature = copies[compare[0]].astype(str)
        for column in compare[1:]:
            signature = signature + "|" + copies[column].astype(str)
        conflicting = pd.Series(False, index=frame.index)
        conflicting[copies.index] = signature.groupby([copies[k] for k in key]).transform("nunique").to_numpy() > 1
        for record in frame[extra_copy & ~conflicting].to_dict("records"):
            self.log.add(domain, record, key[-1], record.get("ORRES", record[key[-1]]), "duplicate_records",
                         f"exact duplicate of an earlier {what(record)} record", "quarantined; first copy kept")
        for record in frame[conflicting].to_dict("records"):
            self.log.add(domain, record, key[-1], record.get("ORRES", record[key[-1]]), "duplicate_records",
                         f"conflicting records for {what(record)}", "quarantined; all copies")
        return self._quarantine(domain, frame, (extra_copy & ~conflicting) | conflicting, "duplicate record")

    def visit_window(self, domain: str, frame: pd.DataFrame) -> pd.DataFrame:
        """check ``visit_window``: the assessment's study day lies in its visit's window.

        Study day = date - randomisation date (day 0). A date outside its window is queried;
        with ``visit_assignment: window`` in the trial config a date that falls inside another
        visit's window moves the record to that visit, otherwise it stays at its nominal visit.
        """
        frame = frame.copy()
        randdt = frame["USUBJID"].map(self.subjects.set_index("USUBJID")["RANDDT"])
        day = (pd.to_datetime(frame["DTC"], errors="coerce") - pd.to_datetime(randdt, errors="coerce")).dt.days
        frame["DY"] = day
        schedule = {int(v["visitnum"]): (v["day"], v["window"]) for v in self.config["visits"]}
        target = frame["VISITNUM"].map(lambda n: schedule[n][0])
        window = frame["VISITNUM"].map(lambda n: schedule[n][1])
        outside = day.notna() & ((day - target).abs() > window)
        if not outside.any():
            return frame
        by_window = self.config.get("visit_assignment", "nominal") == "window"
        names = {int(v["visitnum"]): v["avisit"] for v in self.config["visits"]}
        fits = day[outside].map(lambda d: next((n for n, (t, w) in schedule.items() if abs(d - t) <= w), None))
        flagged = frame[outside].assign(_FITS=fits).drop_duplicates(["USUBJID", "VISITNUM", "DTC", "SRCFILE"])
        for record in flagged.to_dict("records"):
            t, w = schedule[record["VISITNUM"]]
            elsewhere = record["_FITS"]
            message = f"{record['VISIT']} on study day {int(record['DY'])}, window {t - w} to {t + w}"
            if elsewhere is not None and not pd.isna(elsewhere):
                message += f"; the date lies in the {names[int(elsewhere)]} window"
            action = (f"moved to {names[int(elsewhere)]} by window" if by_window and elsewhere is not None and not pd.isna(elsewhere)
                      else "kept at nominal visit") + "; applies to all records of this visit in this file"
            self.log.add(domain, record, "DTC", record["DTC"], "visit_window", message, action)
        if by_window:
            moved = fits.dropna().astype(int)
            frame.loc[moved.index, "VISITNUM"] = moved
            frame.loc[moved.index, "VISIT"] = moved.map(names)
        return frame

    def visit_completeness(self, findings: list[pd.DataFrame], ds: pd.DataFrame, dm: pd.DataFrame) -> None:
        """check ``visit_completeness``: each visit due by the cut date has data, unless the subject left."""
        seen = set()
        for frame in findings:
            seen.update(zip(frame["USUBJID"], frame["VISITNUM"]))
        left = ds[ds["DSDECOD"] != "COMPLETED"].set_index("USUBJID")["DSSTDTC"]
        for record in dm.to_dict("records"):
            randdt = pd.Timestamp(record["RANDDT"])
            for visit in self.config["visits"]:
                due = randdt + pd.Timedelta(days=visit["day"] + visit["window"])
                if due.date() > self.cut_date or (record["USUBJID"], int(visit["visitnum"])) in seen:
                    continue
                if record["USUBJID"] in left.index and (left[record["USUBJID"]] == "" or due >= pd.Timestamp(left[record["USUBJID"]])):
                    continue  # not expected after discontinuation (already queried under ``disposition``)
                self.log.add("DM", record, "VISIT", visit["avisit"], "visit_completeness",
                             f"{visit['avisit']} due by {due.date()} has no assessment", "none: analysed as missing")


def clean_cut(tables: dict[str, pd.DataFrame], config: dict, cut_date: date) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Clean all domains of one cut. Returns (domains, queries, quarantine, summary)."""
    cleaner = Cleaner(config, cut_date)
    out = {"DM": cleaner.clean_dm(tables["DM"])}
    out["DS"] = cleaner.clean_ds(tables["DS"])
    out["EX"] = cleaner.clean_ex(tables["EX"])
    for domain in FINDINGS:
        out[domain] = cleaner.clean_findings(domain, tables[domain]) if len(tables[domain]) else _empty_findings(domain)
        if not len(tables[domain]):
            cleaner._count(domain, 0, out[domain])
    out["AE"] = cleaner.clean_ae(tables["AE"])
    cleaner.visit_completeness([out[d] for d in FINDINGS], out["DS"], out["DM"])
    quarantine = pd.DataFrame(cleaner.quarantine, columns=["DOMAIN", "SRCFILE", "SRCROW", "USUBJID", "REASON", "RECORD"])
    summary = pd.DataFrame(cleaner.summary).set_index("DOMAIN").loc[list(DOMAINS)].reset_index()
    return out, cleaner.log.frame(), quarantine, summary


def _empty_findings(domain: str) -> pd.DataFrame:
    p = domain
    columns = ["STUDYID", "DOMAIN", "USUBJID", f"{p}TESTCD", f"{p}TEST", f"{p}ORRES", f"{p}ORRESU", f"{p}STRESC",
               f"{p}STRESN", f"{p}STRESU", f"{p}LLOQ", "VISITNUM", "VISIT", f"{p}DTC", f"{p}DY", "SRCFILE", "SRCROW"]
    numeric = {f"{p}STRESN", f"{p}LLOQ", "VISITNUM", f"{p}DY", "SRCROW"}
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in numeric else str) for c in columns})


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
