"""The standard domains every raw delivery is mapped to, and the variables each requires."""

from __future__ import annotations

import re

DOMAINS = ("DM", "DS", "EX", "LB", "VS", "XP", "AE")
FINDINGS = ("LB", "VS", "XP")
# Any other SDTM domain (SV, CM, MH, QS, ...) may be delivered: it is checked and carried as an "other" domain.
OTHER_DOMAIN = re.compile(r"^[A-Z][A-Z0-9]$")
SUBJECT_IDS = ("USUBJID", "SUBJID")  # a source maps at least one: USUBJID is taken as delivered, else STUDYID-SUBJID

DOMAIN_LABELS = {
    "DM": "Demographics and randomisation",
    "DS": "Disposition",
    "EX": "Exposure (infusions)",
    "LB": "Laboratory test results",
    "VS": "Vital signs",
    "XP": "Procedure results: clamp, liver ultrasound and elastography (custom findings domain)",
    "AE": "Adverse events",
}

# Standard variables a source must map besides a subject identifier (SUBJECT_IDS), per domain. Findings
# sources may map ORRES/ORRESU through a ``results:`` block (one raw column per test) instead of single
# columns. DM's RANDDT (the reference date of study days) may come from a DS record instead
# (``reference_date``). Any other mapped variable is carried as delivered text.
REQUIRED = {
    "DM": ("SITEID", "SEX", "AGE", "ARM"),
    "DS": ("DSDECOD", "DSSTDTC", "DSTERM"),
    "EX": ("EXSEQ", "EXSTDTC", "EXDOSE", "EXDOSU", "EXTRT"),
    "LB": ("VISIT", "DTC", "TESTCD", "ORRES", "ORRESU"),
    "VS": ("VISIT", "DTC", "TESTCD", "ORRES", "ORRESU"),
    "XP": ("VISIT", "DTC", "TESTCD", "ORRES", "ORRESU"),
    "AE": ("AETERM", "AESTDTC", "AEENDTC", "AESEV", "AESER", "AEREL", "AEOUT"),
}


def required(domain: str) -> tuple[str, ...]:
    """The variables ``domain`` requires (none but the subject for another SDTM domain)."""
    return REQUIRED.get(domain, ())


# Mapped variables parsed as numbers wherever a source maps them (a source's ``numeric:`` adds more).
NUMERIC = {"DM": ("AGE", "DIABDUR"), "DS": ("DSSEQ",), "EX": ("EXSEQ", "EXDOSE"), "AE": ("AESEQ",)}
# What no record can hold, whatever the trial (a trial's ``ranges:`` replaces them): a negative age, duration or dose,
# an age or a duration (in years) beyond the longest human life.
NUMERIC_LIMITS = {"AGE": (0.0, 125.0), "DIABDUR": (0.0, 125.0), "EXDOSE": (0.0, float("inf"))}

# What identifies one record of each clean domain ("--" stands for the findings prefix): the
# duplicate rule of cleaning and the record matching between cuts both use these keys.
RECORD_KEYS = {"DM": ("USUBJID",), "DS": ("USUBJID",), "EX": ("USUBJID", "EXSEQ"),
               "AE": ("USUBJID", "AETERM", "AESTDTC"), **{d: ("USUBJID", "--TESTCD", "VISITNUM") for d in FINDINGS}}


def record_key(domain: str) -> list[str]:
    """RECORD_KEYS of ``domain`` with the findings prefix filled in (LBTESTCD)."""
    return [k.replace("--", domain) for k in RECORD_KEYS[domain]]


def mapped_key(domain: str, columns) -> list[str]:
    """The key of one record among mapped ``columns`` (findings prefix dropped): SDTM's own USUBJID + --SEQ when the
    delivery has it (as SDTM defines a record), otherwise RECORD_KEYS; for another domain without --SEQ every
    mapped variable (only identical records are duplicates)."""
    if f"{domain}SEQ" in columns:
        return ["USUBJID", f"{domain}SEQ"]
    if domain not in RECORD_KEYS:
        return ["USUBJID"] + [c for c in columns if c not in ("USUBJID", "SUBJID", *SOURCE_COLUMNS)]
    return [k.replace("--", "") for k in RECORD_KEYS[domain]]


SOURCE_COLUMNS = ("SRCFILE", "SRCROW")  # raw file name and 1-based data row: every record traces back

# Labels of the clean (SDTM-like) variables; "--" stands for the findings domain prefix.
VARIABLE_LABELS = {
    "STUDYID": "Study Identifier", "DOMAIN": "Domain Abbreviation", "USUBJID": "Unique Subject Identifier",
    "SUBJID": "Subject Identifier for the Study", "SITEID": "Study Site Identifier", "AGE": "Age", "AGEU": "Age Units",
    "SEX": "Sex", "RACE": "Race", "ETHNIC": "Ethnicity", "COUNTRY": "Country",
    "DIABDUR": "Diabetes Duration (years)", "ARMCD": "Planned Arm Code",
    "ARM": "Description of Planned Arm",
    "RANDDT": "Date of Randomization", "DSDECOD": "Standardized Disposition Term",
    "DSTERM": "Reported Disposition Term",
    "DSSTDTC": "Start Date of Disposition Event", "EXSEQ": "Infusion Number", "EXTRT": "Name of Treatment",
    "EXDOSE": "Dose", "EXDOSU": "Dose Units", "EXSTDTC": "Start Date/Time of Infusion",
    "AETERM": "Reported Term for the Adverse Event",
    "AESTDTC": "Start Date/Time of Adverse Event", "AEENDTC": "End Date/Time of Adverse Event",
    "AESEV": "Severity/Intensity", "AESER": "Serious Event", "AEREL": "Causality", "AEOUT": "Outcome of Adverse Event",
    "--SEQ": "Sequence Number",
    "--TESTCD": "Test Short Name", "--TEST": "Test Name", "--ORRES": "Result in Original Units (as reported)",
    "--ORRESU": "Original Units", "--STRESC": "Result in Standard Format (character)",
    "--STRESN": "Numeric Result in Standard Units",
    "--STRESU": "Standard Units", "--LLOQ": "Lower Limit of Quantitation",
    "VISITNUM": "Visit Number (week)",
    "VISIT": "Visit Name", "--DTC": "Date of Collection", "--DY": "Study Day (days since randomisation)",
    "SRCFILE": "Raw File", "SRCROW": "Row in Raw File (1-based data row)",
    # SDTMIG labels of variables an SDTM delivery may map
    "RFSTDTC": "Subject Reference Start Date/Time", "RFENDTC": "Subject Reference End Date/Time",
    "RFICDTC": "Date/Time of Informed Consent", "ACTARM": "Description of Actual Arm",
    "ACTARMCD": "Actual Arm Code", "DTHFL": "Subject Death Flag", "ITTFL": "Intent-To-Treat Population Flag",
    "SAFFL": "Safety Population Flag", "EFFFL": "Efficacy Population Flag", "DSCAT": "Category for Disposition Event",
    "EPOCH": "Epoch", "EXDOSFRM": "Dose Form", "EXDOSFRQ": "Dosing Frequency per Interval",
    "EXROUTE": "Route of Administration", "EXENDTC": "End Date/Time of Treatment",
    "AEDECOD": "Dictionary-Derived Term", "AEBODSYS": "Body System or Organ Class",
    "AESOC": "Primary System Organ Class", "AETRTEM": "Treatment Emergent Flag", "SVSTDTC": "Start Date/Time of Visit",
    "SVENDTC": "End Date/Time of Visit",
}


# Dataset labels of the clean domains in SAS transport files (40 characters at most; SDTMIG's where standard).
TRANSPORT_LABELS = {"DM": "Demographics", "DS": "Disposition", "EX": "Exposure", "LB": "Laboratory Test Results",
                    "VS": "Vital Signs", "XP": "Procedure Results (custom findings)", "AE": "Adverse Events"}


def _generic(domain: str, column: str) -> str:
    """The label key of a variable: findings and --SEQ variables by their generic name (LBTESTCD -> --TESTCD)."""
    if column.startswith(domain) and (domain in FINDINGS or column == f"{domain}SEQ"):
        return "--" + column[len(domain):]
    return column


def transport_labels(domain: str, table) -> tuple[str, dict[str, str]]:
    """A clean domain's dataset label and variable labels for its transport file (blank where none is known)."""
    return (TRANSPORT_LABELS.get(domain, f"{domain} domain"),
            {c: VARIABLE_LABELS.get(_generic(domain, c), VARIABLE_LABELS.get(c, "")) for c in table.columns})


def data_dictionary(tables: dict) -> "pd.DataFrame":  # noqa: F821 (pandas imported lazily: this module stays light)
    """One row per domain and variable: label, storage type, records and missing values."""
    import pandas as pd

    rows = []
    for domain, table in tables.items():
        for column in table.columns:
            generic = _generic(domain, column)
            values = table[column]
            # a number is never the empty text: only its missing values are blank
            blank = values.isna()
            if not pd.api.types.is_numeric_dtype(values):
                blank |= values.astype(str) == ""
            rows.append({"DOMAIN": domain, "VARIABLE": column,
                         "LABEL": VARIABLE_LABELS.get(generic, VARIABLE_LABELS.get(column, "")),
                         "TYPE": "Num" if pd.api.types.is_numeric_dtype(table[column]) else "Char",
                         "RECORDS": int(len(table)), "MISSING": int(blank.sum())})
    return pd.DataFrame(rows)


def source_files(source: dict) -> list[str]:
    """The raw files one ``sources:`` entry reads: its file and its supplemental qualifiers' file."""
    supplemental = source.get("supplemental")
    return [source["file"]] + ([supplemental["file"]] if supplemental else [])
