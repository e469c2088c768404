"""Codes of the parameters ``ucmsc.derive`` computes, and what each is computed from.

The one list of derived parameters: the workflow checks analysis plans against it at parse
time, so this module holds constants only (no pandas). A test keeps it equal to derive.py.
"""

from __future__ import annotations

SUBJECT_INPUTS = ("AGE",)  # taken from DM, not from a configured test

# Derived PARAMCD -> the PARAMCDs it is computed from (a derived input is itself derived first).
DERIVED_INPUTS = {
    "HOMAIR": ("GLUC", "INSULIN"),
    "HOMAB": ("GLUC", "INSULIN"),
    "TYG": ("TG", "GLUC"),
    "BMI": ("WEIGHT", "HEIGHT"),
    "NLR": ("NEUT", "LYM"),
    "FIB4": ("AGE", "AST", "ALT", "PLAT"),
    "APRI": ("AST", "PLAT"),
    "NFS": ("AGE", "BMI", "AST", "ALT", "PLAT", "ALB"),
    "HBA1CTGT": ("HBA1C",),
    "STEATIMP": ("STEATOS",),
    "STEATWOR": ("STEATOS",),
}
RESPONDERS = ("HBA1CTGT", "STEATIMP", "STEATWOR")  # yes/no parameters (AVAL 1/0), for responder and GEE analyses
DERIVED_PARAMS = tuple(DERIVED_INPUTS)
