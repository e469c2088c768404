"""The standard domains every raw delivery is mapped to, and the variables each requires."""

from __future__ import annotations

DOMAINS = ("DM", "DS", "EX", "LB", "VS", "XP", "AE")
FINDINGS = ("LB", "VS", "XP")

DOMAIN_LABELS = {
    "DM": "Demographics and randomisation",
    "DS": "Disposition",
    "EX": "Exposure (infusions)",
    "LB": "Laboratory test results",
    "VS": "Vital signs",
    "XP": "Procedure results: clamp, liver ultrasound and elastography (custom findings domain)",
    "AE": "Adverse events",
}

# Standard variables a source must map, per domain. Findings sources may map ORRES/ORRESU
# through a ``results:`` block (one raw column per test) instead of single columns.
REQUIRED = {
    "DM": ("SUBJID", "SITEID", "SEX", "AGE", "RANDDT", "ARM"),
    "DS": ("SUBJID", "DSDECOD", "DSSTDTC", "DSTERM"),
    "EX": ("SUBJID", "EXSEQ", "EXSTDTC", "EXDOSE", "EXDOSU", "EXTRT"),
    "LB": ("SUBJID", "VISIT", "DTC", "TESTCD", "ORRES", "ORRESU"),
    "VS": ("SUBJID", "VISIT", "DTC", "TESTCD", "ORRES", "ORRESU"),
    "XP": ("SUBJID", "VISIT", "DTC", "TESTCD", "ORRES", "ORRESU"),
    "AE": ("SUBJID", "AETERM", "AESTDTC", "AEENDTC", "AESEV", "AESER", "AEREL", "AEOUT"),
}

SOURCE_COLUMNS = ("SRCFILE", "SRCROW")  # raw file name and 1-based data row: every record traces back
