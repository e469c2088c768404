"""Turn a simulated trial into raw data cuts as the sites deliver them, mess included.

Each cut keeps what was recorded by its cut date, in the sites' own file layouts and
column names (SAS transport for DM, EX, LB, VS, AE; CSV for the rest), with the planted
data problems that the pipeline must catch, all listed in the cut's ``manifest.json``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from ucmsc import __version__
from ucmsc.io import sha256_file
from ucmsc_sim.generate import TrueTrial
from ucmsc_sim.trials import TrialSpec

MGDL_PER_MMOLL_GLUCOSE = 18.016  # molar mass of glucose 180.16 g/mol


@dataclass(frozen=True)
class Layout:
    """How one trial's sites name things in their deliveries.

    ``dm``, ``lb`` and ``central_lab`` list the file's columns in order as (column, variable,
    label); the variables are SUBJID SITEID SEX AGE RANDDT ARM DIABDUR (DM) and SUBJID SITEID
    VISIT DTC TESTCD ORRES ORRESU (laboratory). ``{codes}`` in a label is the arm code list.
    """

    subject: str
    visit_label: dict[int, str]
    sex_codes: dict[str, object]
    central_lab_encoding: str
    central_lab_date_format: str
    datetime_format: str
    dm: tuple[tuple[str, str, str], ...]
    lb: tuple[tuple[str, str, str], ...]
    central_lab: tuple[tuple[str, str], ...]
    central_lab_comment: str | None = None  # a free-text column, filled in its first row only


EFFICACY_LAYOUT = Layout(
    subject="SUBJID",
    visit_label={0: "BASELINE", 9: "WEEK 9", 20: "WEEK 20", 48: "WEEK 48"},
    sex_codes={"M": "M", "F": "F"},
    central_lab_encoding="utf-8",
    central_lab_date_format="%d/%m/%Y",
    datetime_format="%Y-%m-%dT%H:%M",
    dm=(("SUBJID", "SUBJID", "Subject Identifier"), ("SITEID", "SITEID", "Site Identifier"), ("SEX", "SEX", "Sex"),
        ("AGE", "AGE", "Age (years)"), ("RANDDT", "RANDDT", "Randomisation Date"),
        ("TRTGRP", "ARM", "Treatment Group ({codes})"), ("DMDUR", "DIABDUR", "Diabetes Duration (years)"),
        ("RACE", "RACE", "Race")),
    lb=(("SUBJID", "SUBJID", "Subject Identifier"), ("VISIT", "VISIT", "Visit"), ("LBDAT", "DTC", "Sample Date"),
        ("LBTESTCD", "TESTCD", "Test Code"), ("LBORRES", "ORRES", "Result (as reported)"),
        ("LBORRESU", "ORRESU", "Unit (as reported)")),
    central_lab=(("Patient ID", "SUBJID"), ("Visit", "VISIT"), ("Collection Date", "DTC"), ("Analyte", "TESTCD"),
                 ("Result", "ORRES"), ("Units", "ORRESU")),
)
SAFETY_LAYOUT = Layout(
    subject="PATNO",
    visit_label={0: "Baseline", 1: "Week 1", 2: "Week 2", 3: "Week 3", 4: "Week 4", 12: "Week 12", 24: "Week 24"},
    sex_codes={"M": 1, "F": 2},
    central_lab_encoding="latin-1",
    central_lab_date_format="%Y-%m-%d",
    datetime_format="%Y-%m-%d %H:%M",
    dm=(("PATNO", "SUBJID", "Patient Number"), ("SITENO", "SITEID", "Site Number"),
        ("GENDER", "SEX", "Gender (1=Male, 2=Female)"), ("AGEYRS", "AGE", "Age in Years"),
        ("RANDDT", "RANDDT", "Date of Randomisation"), ("GROUP", "ARM", "Group ({codes})"),
        ("DMYRS", "DIABDUR", "Years Since Diabetes Diagnosis"), ("RACE", "RACE", "Race")),
    lb=(("PATNO", "SUBJID", "Patient Number"), ("SITENO", "SITEID", "Site Number"), ("VISITNAM", "VISIT", "Visit Name"),
        ("COLLDT", "DTC", "Collection Date"), ("TESTCODE", "TESTCD", "Test Code"), ("RESULT", "ORRES", "Result"),
        ("UNIT", "ORRESU", "Unit")),
    central_lab=(("Patient", "SUBJID"), ("Visit", "VISIT"), ("Sample date", "DTC"), ("Test", "TESTCD"),
                 ("Value", "ORRES"), ("Unit", "ORRESU")),
    central_lab_comment="échantillon légèrement hémolysé",
)


@dataclass(frozen=True)
class Planted:
    """Which records carry a trial's planted data problems (besides its withdrawals and missed visits)."""

    window_week: int  # every assessment of one subject's visit at this week is dated out of window ...
    window_extra_days: int  # ... by this many days past the window
    text_test: str  # the lowest early result of this test is reported as a censored text ...
    text_value: str  # ... this one
    duplicate_test: str  # local-laboratory test (last week) whose first record is sent twice
    transposed_test: str  # local-laboratory test with transposed digits in the interim (GLUC gets a decimal slip)
    glucose_mgdl_site: str | None = None  # site whose local laboratory reports glucose in mg/dL


EFFICACY_PLANTED = Planted(window_week=48, window_extra_days=16, text_test="INSULIN", text_value="<3.0",
                           duplicate_test="ALT", transposed_test="ALT")
SAFETY_PLANTED = Planted(window_week=4, window_extra_days=4, text_test="DDIMER", text_value="<0.5",
                         duplicate_test="PLAT", transposed_test="TG", glucose_mgdl_site="02")

# The dose-ranging trial's sites deliver in the safety trial's layout (an assumption), with the
# DM arm label shortened to fit the transport format's 40 characters.
DOSE_RANGING_LAYOUT = dataclasses.replace(
    SAFETY_LAYOUT,
    visit_label={0: "Baseline", 4: "Week 4", 12: "Week 12", 24: "Week 24"},
    dm=tuple((column, var, "Arm ({codes})" if var == "ARM" else label) for column, var, label in SAFETY_LAYOUT.dm),
)
DOSE_RANGING_PLANTED = Planted(window_week=12, window_extra_days=5, text_test="CRP", text_value="<0.5",
                              duplicate_test="PLAT", transposed_test="TG", glucose_mgdl_site="02")

# Each trial's delivery conventions, by trial id (a scaled benchmark trial keeps its trial id).
LAYOUTS = {"nafld_efficacy": EFFICACY_LAYOUT, "t2dm_safety": SAFETY_LAYOUT, "dose_ranging": DOSE_RANGING_LAYOUT}
PLANTED = {"nafld_efficacy": EFFICACY_PLANTED, "t2dm_safety": SAFETY_PLANTED, "dose_ranging": DOSE_RANGING_PLANTED}


def _layout(truth: TrueTrial) -> Layout:
    return LAYOUTS[truth.spec.trial]


def _planted(spec: TrialSpec) -> Planted:
    return PLANTED[spec.trial]


def _fmt_value(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


# --- the cut -------------------------------------------------------------------------

def _cut(truth: TrueTrial, cut_date: date) -> dict[str, pd.DataFrame]:
    """Keep what had been recorded by ``cut_date``."""
    subjects = truth.subjects[truth.subjects["RANDDT"] <= cut_date]
    keep = set(subjects["SUBJID"])
    findings = truth.findings[truth.findings["SUBJID"].isin(keep) & (truth.findings["VISITDT"] <= cut_date)]
    exposure = truth.exposure[truth.exposure["SUBJID"].isin(keep) & (truth.exposure["EXSTDTM"].dt.date <= cut_date)]
    aes = truth.adverse_events[
        truth.adverse_events["SUBJID"].isin(keep) & (truth.adverse_events["AESTDTM"].dt.date <= cut_date)
    ].copy()
    ongoing = aes["AEENDTM"].dt.date > cut_date
    aes["AEENDTM"] = aes["AEENDTM"].astype(object).where(~ongoing, None)
    aes.loc[ongoing, "AEOUT"] = "NOT RECOVERED/NOT RESOLVED"
    disposition = truth.disposition[truth.disposition["SUBJID"].isin(keep) & (truth.disposition["DSSTDT"] <= cut_date)]
    return {
        "subjects": subjects.copy(),
        "findings": findings.copy(),
        "exposure": exposure.copy(),
        "adverse_events": aes,
        "disposition": disposition.copy(),
    }


# --- planted problems ----------------------------------------------------------------

def _first_cut_date(truth: TrueTrial) -> date:
    return min(truth.spec.cuts.values())


def _shift_visit_out_of_window(truth: TrueTrial, data: dict) -> dict | None:
    """Date one subject's visit outside its window; the same subject in every cut that holds it."""
    spec = truth.spec
    week = _planted(spec).window_week
    days = spec.visit_window_days[week] + _planted(spec).window_extra_days
    early = truth.visits[(truth.visits["WEEK"] == week) & (truth.visits["VISITDT"] <= _first_cut_date(truth))]
    rng = np.random.default_rng([truth.seed, 1])
    subj = sorted(early["SUBJID"])[int(rng.integers(len(early)))]
    findings = data["findings"]
    rows = (findings["SUBJID"] == subj) & (findings["WEEK"] == week)
    if not rows.any():
        return None
    findings.loc[rows, "VISITDT"] = findings.loc[rows, "VISITDT"] + timedelta(days=days)
    return {"kind": "visit_out_of_window", "check": "visit_window", "subject": subj, "week": week,
            "detail": f"all week-{week} assessments dated {days} days after the nominal day "
                      f"(window ±{spec.visit_window_days[week]} d)"}


def _lb_rows(truth: TrueTrial, data: dict) -> pd.DataFrame:
    findings = data["findings"]
    return findings[findings["SOURCE"] == "lb"]


def _plant(truth: TrueTrial, data: dict, final: bool) -> tuple[list[dict], list[dict]]:
    """Plant the listed data problems into ``data`` (in place); return (problems, interim_errors)."""
    spec = truth.spec
    planted = _planted(spec)
    problems: list[dict] = [dict(event, check=_EVENT_CHECK[event["kind"]]) for event in truth.events
                            if _event_visible(event, data)]
    shifted = _shift_visit_out_of_window(truth, data)
    if shifted:
        problems.append(shifted)
    findings = data["findings"]
    findings["TEXT"] = None
    # A value reported as a censored text ("<LoQ") by the laboratory: the lowest result of
    # the test among records already in the first cut, so every cut carries the same one.
    text_test, text_value = planted.text_test, planted.text_value
    text_source = next(p.source for p in spec.params if p.testcd == text_test)
    pool = truth.findings[(truth.findings["TESTCD"] == text_test)
                          & (truth.findings["VISITDT"] <= _first_cut_date(truth))]
    row = pool["VALUE"].idxmin()
    findings.loc[row, "TEXT"] = text_value
    problems.append({"kind": "text_value", "check": "numeric_result", "subject": findings.loc[row, "SUBJID"],
                     "week": int(findings.loc[row, "WEEK"]), "testcd": text_test, "value": text_value,
                     "file": f"{text_source}.xpt" if text_source == "lb" else f"{text_source}.csv"})
    # An exact duplicate of one local-laboratory record.
    lb = _lb_rows(truth, data)
    dup_test = planted.duplicate_test
    dup = lb[(lb["TESTCD"] == dup_test) & (lb["WEEK"] == lb["WEEK"].max())].index[0]
    data["duplicate_index"] = dup
    problems.append({"kind": "duplicate_record", "check": "duplicate_records", "file": "lb.xpt",
                     "subject": findings.loc[dup, "SUBJID"], "week": int(findings.loc[dup, "WEEK"]),
                     "testcd": dup_test})
    # A laboratory record for a subject who is not in DM.
    orphan = findings.loc[lb.index[0]].copy()
    orphan["SUBJID"] = spec.subject_prefix + "099"
    data["orphan"] = orphan
    problems.append({"kind": "subject_not_in_dm", "check": "subject_in_dm", "file": "lb.xpt",
                     "subject": orphan["SUBJID"], "testcd": orphan["TESTCD"]})
    if planted.glucose_mgdl_site:
        site = planted.glucose_mgdl_site
        site_b = truth.subjects.loc[truth.subjects["SITEID"] == site, "SUBJID"]
        problems.append({"kind": "glucose_mg_dl", "check": "unit_conversion", "file": "lb.xpt", "site": site,
                         "testcd": "GLUC", "records": int(((findings["TESTCD"] == "GLUC")
                                                           & findings["SUBJID"].isin(site_b)).sum()),
                         "detail": f"site {site} reports fasting glucose in mg/dL"})
    interim_errors = _interim_entry_errors(truth, dup)
    if not final:  # the interim cut carries entry errors that the final cut corrects
        for error in interim_errors:
            row = error.pop("index")
            if row in findings.index:
                findings.loc[row, "VALUE"] = error["interim_value"]
        first = interim_errors[0]
        problems.append({"kind": "implausible_value", "check": "plausible_range", "subject": first["subject"],
                         "week": first["week"], "testcd": first["testcd"], "file": first["file"],
                         "value": first["interim_value"]})
    else:
        for error in interim_errors:
            error.pop("index")
    return problems, interim_errors


def _interim_entry_errors(truth: TrueTrial, duplicate_index) -> list[dict]:
    """Two local-laboratory values mistyped in the first cut: a decimal slip and transposed digits."""
    rng = np.random.default_rng([truth.seed, 2])
    early = truth.findings[(truth.findings["SOURCE"] == "lb") & (truth.findings["VISITDT"] <= _first_cut_date(truth))]
    errors = []
    for testcd, how in (("GLUC", "decimal_slip"), (_planted(truth.spec).transposed_test, "transposed_digits")):
        decimals = _decimals(truth)[testcd]
        pool = early[(early["TESTCD"] == testcd) & (early.index != duplicate_index)]
        if how == "transposed_digits":
            pool = pool[pool["VALUE"].map(lambda v, decimals=decimals: _transpose(v, decimals) is not None)]
        row = pool.index[int(rng.integers(len(pool)))]
        old = float(truth.findings.loc[row, "VALUE"])
        new = round(old * 10, 6) if how == "decimal_slip" else _transpose(old, decimals)
        errors.append({"kind": how, "subject": truth.findings.loc[row, "SUBJID"],
                       "week": int(truth.findings.loc[row, "WEEK"]), "testcd": testcd, "interim_value": new,
                       "final_value": old, "file": "lb.xpt", "index": row})
    return errors


_EVENT_CHECK = {"withdrawal": "disposition", "missed_visit": "visit_completeness"}


def _event_visible(event: dict, data: dict) -> bool:
    """Whether a withdrawal or missed visit has happened by the cut date."""
    subject_visits = data["findings"].loc[data["findings"]["SUBJID"] == event["subject"], "WEEK"]
    if event["kind"] == "withdrawal":
        return bool((data["disposition"]["SUBJID"] == event["subject"]).any())
    return bool((subject_visits > event["week"]).any())


def _transpose(value: float, decimals: int) -> float | None:
    """Swap the last two digits as typed (6.64 -> 6.46, 35 -> 53); None when that changes nothing or makes no number."""
    text = f"{value:.{decimals}f}"
    positions = [i for i, ch in enumerate(text) if ch.isdigit()]
    if len(positions) < 2:
        return None
    i, j = positions[-2], positions[-1]
    swapped = text[:i] + text[j] + text[i + 1:j] + text[i] + text[j + 1:]
    if swapped == text or (swapped[0] == "0" and len(swapped) > 1 and swapped[1] != "."):
        return None
    return float(swapped)


# --- raw files as the sites send them ------------------------------------------------

def _decimals(truth: TrueTrial) -> dict[str, int]:
    out = {p.testcd: p.decimals for p in (*truth.spec.params, *truth.spec.added_params)}
    out.update({"HEIGHT": 1, "STEATOS": 0})
    return out


def _result_text(frame: pd.DataFrame, decimals: dict[str, int]) -> pd.Series:
    text = [_fmt_value(v, decimals[t]) for v, t in zip(frame["VALUE"], frame["TESTCD"])]
    return frame["TEXT"].where(frame["TEXT"].notna(), pd.Series(text, index=frame.index))


def _raw_tables(truth: TrueTrial, data: dict) -> dict[str, tuple[pd.DataFrame, dict]]:
    """File name -> (frame, write options) in the site's layout."""
    layout = _layout(truth)
    spec = truth.spec
    subj = layout.subject
    dec = _decimals(truth)
    findings = data["findings"]
    subjects = data["subjects"]
    site_of = truth.subjects.set_index("SUBJID")["SITEID"]
    out: dict[str, tuple[pd.DataFrame, dict]] = {}

    def by_source(source: str) -> pd.DataFrame:
        return findings[findings["SOURCE"] == source].sort_values(["SUBJID", "WEEK", "TESTCD"], kind="stable")

    arm_code = subjects["ARM"].map(spec.arm_codes)
    codes = ", ".join(f"{code}={arm}" for arm, code in spec.arm_codes.items())
    sex = subjects["SEX"].map(layout.sex_codes)
    if all(isinstance(code, int) for code in layout.sex_codes.values()):
        sex = sex.astype(float)
    dm_vars = {"SUBJID": subjects["SUBJID"], "SITEID": subjects["SITEID"], "SEX": sex,
               "AGE": subjects["AGE"].astype(float), "RANDDT": subjects["RANDDT"], "ARM": arm_code.astype(float),
               "DIABDUR": subjects["DIABDUR"], "RACE": "ASIAN"}  # both published trials enrolled in China
    dm = pd.DataFrame({column: dm_vars[var] for column, var, _ in layout.dm})
    labels = [label.format(codes=codes) for _, _, label in layout.dm]
    out["dm.xpt"] = (dm, {"labels": labels, "table": "DM", "file_label": "Demographics and randomisation"})

    ex = data["exposure"].sort_values(["SUBJID", "INFNO"])
    arm_of = truth.subjects.set_index("SUBJID")["ARM"]
    product = np.where(ex["SUBJID"].map(arm_of) == spec.control, "SALINE", "UC-MSC")
    ex_frame = pd.DataFrame({subj: ex["SUBJID"], "INFNO": ex["INFNO"].astype(float),
                             "INFDTC": ex["EXSTDTM"].dt.strftime(layout.datetime_format),
                             "DOSE": np.where(product == "SALINE", 0.0, ex["DOSE"]), "DOSEU": "10^6 cells/kg",
                             "PRODUCT": product})
    out["ex.xpt"] = (ex_frame, {"labels": ["Subject", "Infusion Number", "Infusion Start Date/Time", "Dose",
                                           "Dose Unit", "Product Infused"], "table": "EX", "file_label": "Infusions"})

    lb = by_source("lb")
    dup = data.get("duplicate_index")
    if dup is not None and dup in lb.index:
        position = lb.index.get_loc(dup)
        lb = pd.concat([lb.iloc[: position + 1], lb.loc[[dup]], lb.iloc[position + 1 :]])
    orphan = data.get("orphan")
    if orphan is not None:
        lb = pd.concat([lb, orphan.to_frame().T])
    lb_units = lb["UNIT"].copy()
    lb_text = _result_text(lb, dec)
    if _planted(spec).glucose_mgdl_site:  # one site reports glucose in mg/dL
        mgdl = (lb["TESTCD"] == "GLUC") & (lb["SUBJID"].map(site_of) == _planted(spec).glucose_mgdl_site)
        lb_text[mgdl] = ((lb.loc[mgdl, "VALUE"].astype(float) * MGDL_PER_MMOLL_GLUCOSE).round(0)
                         .map(lambda v: f"{v:.0f}"))
        lb_units[mgdl] = "mg/dL"
    lb_vars = {"SUBJID": lb["SUBJID"], "SITEID": lb["SUBJID"].map(site_of).fillna("01"),
               "VISIT": lb["WEEK"].map(layout.visit_label), "DTC": lb["VISITDT"], "TESTCD": lb["TESTCD"],
               "ORRES": lb_text, "ORRESU": lb_units}
    lb_frame = pd.DataFrame({column: lb_vars[var] for column, var, _ in layout.lb})
    labels = [label for _, _, label in layout.lb]
    out["lb.xpt"] = (lb_frame.reset_index(drop=True), {"labels": labels, "table": "LB",
                                                       "file_label": "Local laboratory"})

    vs = by_source("vs")
    vs_frame = pd.DataFrame({subj: vs["SUBJID"], "VISIT": vs["WEEK"].map(layout.visit_label), "VSDAT": vs["VISITDT"],
                             "VSTESTCD": vs["TESTCD"], "VSORRES": vs["VALUE"].astype(float), "VSORRESU": vs["UNIT"]})
    out["vs.xpt"] = (vs_frame.reset_index(drop=True), {"labels": ["Subject", "Visit", "Measurement Date", "Test Code",
                                                                  "Result", "Unit"],
                                                       "table": "VS", "file_label": "Vital signs"})

    ae = data["adverse_events"]
    ae_frame = pd.DataFrame({subj: ae["SUBJID"], "AETERM": ae["AETERM"],
                             "AESTDTC": ae["AESTDTM"].dt.strftime(layout.datetime_format),
                             "AEENDTC": pd.to_datetime(ae["AEENDTM"]).dt.strftime(layout.datetime_format).fillna(""),
                             "AESEV": ae["AESEV"], "AESER": ae["AESER"], "AEREL": ae["AEREL"], "AEOUT": ae["AEOUT"]})
    out["ae.xpt"] = (ae_frame.reset_index(drop=True), {"labels": ["Subject", "Reported Term", "Onset Date/Time",
                                                                  "End Date/Time", "Severity", "Serious",
                                                                  "Relationship to Product", "Outcome"],
                                                       "table": "AE", "file_label": "Adverse events"})

    central = by_source("central_lab")
    central_vars = {"SUBJID": central["SUBJID"], "VISIT": central["WEEK"].map(layout.visit_label),
                    "DTC": pd.to_datetime(central["VISITDT"]).dt.strftime(layout.central_lab_date_format),
                    "TESTCD": central["TESTCD"], "ORRES": _result_text(central, dec), "ORRESU": central["UNIT"]}
    central_frame = pd.DataFrame({column: central_vars[var] for column, var in layout.central_lab})
    if layout.central_lab_comment:
        central_frame["Comment"] = ""
        central_frame.iloc[0, central_frame.columns.get_loc("Comment")] = layout.central_lab_comment
    out["central_lab.csv"] = (central_frame.reset_index(drop=True), {"encoding": layout.central_lab_encoding})

    sources = {p.source for p in (*spec.params, *spec.added_params)}
    if "clamp" in sources:
        clamp = by_source("clamp")
        out["clamp.csv"] = (
            pd.DataFrame({"subject_id": clamp["SUBJID"], "visit_week": clamp["WEEK"],
                          "clamp_date": pd.to_datetime(clamp["VISITDT"]).dt.strftime("%Y-%m-%d"),
                          "gir_mg_kg_min": clamp["VALUE"].map(lambda v: f"{v:.2f}")}).reset_index(drop=True),
            {"encoding": "utf-8"})
    if "imaging" in sources:  # ultrasound steatosis grade and liver stiffness, one row per exam
        imaging = by_source("imaging").pivot_table(index=["SUBJID", "WEEK", "VISITDT"], columns="TESTCD",
                                                   values="VALUE", aggfunc="first").reset_index()
        out["liver_imaging.csv"] = (
            pd.DataFrame({"subject_id": imaging["SUBJID"], "visit_week": imaging["WEEK"],
                          "exam_date": pd.to_datetime(imaging["VISITDT"]).dt.strftime("%Y-%m-%d"),
                          "steatosis_grade": imaging["STEATOS"].map(lambda v: f"{v:.0f}"),
                          "lsm_kpa": imaging["LSM"].map(lambda v: f"{v:.1f}")}),
            {"encoding": "utf-8"})
    ds = data["disposition"]
    out["disposition.csv"] = (pd.DataFrame({"subject_id": ds["SUBJID"], "status": ds["DSDECOD"],
                                            "status_date": pd.to_datetime(ds["DSSTDT"]).dt.strftime("%Y-%m-%d"),
                                            "reason": ds["DSTERM"]}).reset_index(drop=True), {"encoding": "utf-8"})
    return out


_XPT_STAMP = re.compile(rb"\d{2}[A-Z]{3}\d{2}:\d{2}:\d{2}:\d{2}")


def _stamp_xpt(path: Path, when: date) -> None:
    """Set the transport file's created/modified stamps (header records only) to ``when``.

    pyreadstat writes the current time there; a fixed stamp keeps the same seed's files
    byte-identical, and the cut date is what a site's export would carry.
    """
    content = path.read_bytes()
    end = content.index(b"HEADER RECORD*******OBS     HEADER RECORD")
    month = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()[when.month - 1]  # not locale-dependent
    stamp = f"{when.day:02d}{month}{when.year % 100:02d}:00:00:00".encode()
    path.write_bytes(_XPT_STAMP.sub(stamp, content[:end]) + content[end:])


def _write(path: Path, frame: pd.DataFrame, options: dict, cut_date: date) -> None:
    if path.suffix == ".xpt":
        too_long = [label for label in options["labels"] if len(label) > 40]
        if too_long:  # the version 5 transport format keeps 40 characters of a label and drops the rest
            raise ValueError(f"{path.name}: column labels longer than 40 characters: {too_long}")
        pyreadstat.write_xport(frame, str(path), file_label=options["file_label"], column_labels=options["labels"],
                               table_name=options["table"], file_format_version=5)
        _stamp_xpt(path, cut_date)
    else:
        frame.to_csv(path, index=False, encoding=options["encoding"], lineterminator="\n")


def write_cut(truth: TrueTrial, cut_label: str, root: Path) -> Path:
    """Write one data cut of ``truth`` under ``root/<trial>/<cut_label>/``; return the folder."""
    spec = truth.spec
    cut_date = spec.cuts[cut_label]
    labels = list(spec.cuts)
    final = cut_label == labels[-1]
    data = _cut(truth, cut_date)
    problems, interim_errors = _plant(truth, data, final)
    folder = root / spec.trial / cut_label
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, (frame, options) in _raw_tables(truth, data).items():
        path = folder / name
        _write(path, frame, options, cut_date)
        files.append({"name": name, "format": path.suffix.lstrip("."), "rows": int(len(frame)),
                      "encoding": options.get("encoding", "ascii"), "sha256": sha256_file(path)})
    manifest = {
        "synthetic": True,
        "notice": _notice(spec),
        "trial": spec.trial,
        "studyid": spec.studyid,
        "title": spec.title,
        "publication_seed_file": spec.seed_file,
        "cut_date": cut_date.isoformat(),
        "final": final,
        "seed": truth.seed,
        "generator": f"ucmsc_sim {__version__}",
        "subjects_randomised": {arm: int((data["subjects"]["ARM"] == arm).sum()) for arm in spec.arms},
        "files": files,
        "planted_problems": _jsonable(problems),
        "entry_errors" if not final else "corrections_since_previous_cut": _jsonable(interim_errors),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def _notice(spec: TrialSpec) -> str:
    if spec.seed_file is None:
        return ("SYNTHETIC DATA generated by the ucmsc simulator for testing only; not calibrated to any publication; "
                "not patient data.")
    return ("SYNTHETIC DATA generated by the ucmsc simulator and calibrated to published summary statistics; "
            "not patient data.")


def _jsonable(items: list[dict]) -> list[dict]:
    def convert(value):
        if isinstance(value, (np.integer,)):
            return int(value)
        if isinstance(value, (np.floating,)):
            return float(value)
        return value
    return [{k: convert(v) for k, v in item.items()} for item in items]
