"""The library of named derivations a trial config chooses its derived parameters from (``derived:``).

Each entry says what a derivation is computed from, whether it gives a yes/no (responder)
parameter, its default label and unit, and the options it takes. The formulas live in
``ucmsc.derive``; a test keeps the two equal. Constants only (no pandas): the workflow checks
configs against this at parse time.
"""

from __future__ import annotations

import re

SUBJECT_INPUTS = ("AGE",)  # taken from DM, not from a configured test


# Units a formula takes its inputs in (the first spelling is the one named in messages; the others are equal numbers).
GLUCOSE, INSULIN = ("mmol/L",), ("uU/mL", "uIU/mL", "mIU/L", "mU/L")
ENZYME, COUNT = ("U/L", "IU/L"), ("10^9/L", "10^3/uL", "10^3/mm^3", "K/uL")  # not G/L: read as g/L

# derivation -> fixed inputs (PARAMCDs at the same visit; AGE from DM, HEIGHT from its baseline), the units the
# formula takes them in, label, unit, required and optional options. Parametric derivations take their input from
# the option ``parameter``.
DERIVATIONS = {
    "homa_ir": {"inputs": ("GLUC", "INSULIN"), "units": {"GLUC": GLUCOSE, "INSULIN": INSULIN}, "label": "HOMA-IR",
                "unit": ""},
    "homa_beta": {"inputs": ("GLUC", "INSULIN"), "units": {"GLUC": GLUCOSE, "INSULIN": INSULIN}, "label": "HOMA-%B",
                  "unit": "%"},
    "tyg": {"inputs": ("TG", "GLUC"), "units": {"TG": ("mmol/L",), "GLUC": GLUCOSE},
            "label": "Triglyceride-glucose index", "unit": ""},
    "bmi": {"inputs": ("WEIGHT", "HEIGHT"), "units": {"WEIGHT": ("kg",), "HEIGHT": ("cm",)},
            "label": "Body mass index (kg/m^2)", "unit": "kg/m^2"},
    "nlr": {"inputs": ("NEUT", "LYM"), "same_unit": ("NEUT", "LYM"), "label": "Neutrophil-to-lymphocyte ratio",
            "unit": ""},
    "fib4": {"inputs": ("AGE", "AST", "ALT", "PLAT"), "units": {"AST": ENZYME, "ALT": ENZYME, "PLAT": COUNT},
             "label": "FIB-4 index", "unit": ""},
    "apri": {"inputs": ("AST", "PLAT"), "units": {"AST": ENZYME, "PLAT": COUNT}, "label": "AST to platelet ratio index",
             "unit": "", "optional": ("ast_uln",)},
    "nafld_fibrosis_score": {"inputs": ("AGE", "BMI", "AST", "ALT", "PLAT", "ALB"),
                             "units": {"BMI": ("kg/m^2",), "AST": ENZYME, "ALT": ENZYME, "PLAT": COUNT,
                                       "ALB": ("g/L",)},
                             "label": "NAFLD fibrosis score", "unit": "", "required": ("diabetes",)},
    "target_attainment": {"inputs": (), "label": "", "unit": "", "yes_no": True, "required": ("parameter",),
                          "optional": ("below", "above")},
    "grade_change": {"inputs": (), "label": "", "unit": "", "yes_no": True,
                     "required": ("parameter", "direction", "by")},
}


def derived_inputs(spec: dict) -> tuple[str, ...]:
    """The parameters one ``derived:`` entry is computed from."""
    entry = DERIVATIONS[spec["derivation"]]
    return (spec["parameter"],) if "parameter" in entry.get("required", ()) else entry["inputs"]


def is_yes_no(spec: dict) -> bool:
    return bool(DERIVATIONS[spec["derivation"]].get("yes_no"))


def derived_label(spec: dict) -> str:
    return spec.get("label") or DERIVATIONS[spec["derivation"]]["label"]


# Each derivation's formula in words, for define.xml and the data dictionary (sources as in ucmsc.derive).
FORMULA_TEXT = {
    "homa_ir": "GLUC (mmol/L) x INSULIN (uU/mL) / 22.5 (Matthews 1985)",
    "homa_beta": "20 x INSULIN (uU/mL) / (GLUC (mmol/L) - 3.5) (Matthews 1985)",
    "tyg": "ln(TG (mg/dL) x GLUC (mg/dL) / 2) (Simental-Mendia 2008), from TG and GLUC in mmol/L (x 88.57, x 18.016)",
    "bmi": "WEIGHT (kg) / HEIGHT (m) squared",
    "nlr": "NEUT / LYM (both in one unit)",
    "fib4": "AGE x AST / (PLAT x sqrt(ALT)) (Sterling 2006)",
    "apri": "AST / AST upper limit of normal x 100 / PLAT (Wai 2003)",
    "nafld_fibrosis_score": "-1.675 + 0.037 AGE + 0.094 BMI + 1.13 diabetes + 0.99 AST/ALT - 0.013 PLAT "
                            "- 0.66 ALB (g/dL, from g/L / 10) (Angulo 2007)",
    "target_attainment": "1 (Y) when the parameter is below (above) the target at the visit, else 0 (N)",
    "grade_change": "1 (Y) when the grade moved from baseline by at least the steps given, else 0 (N)",
}


def same_unit(configured: str, accepted: tuple[str, ...]) -> bool:
    """A configured unit is one of a formula's spellings: case, spaces, the micro sign, powers written 10^9, 10*9 or
    109 (UCUM) and a leading x (x10^9/L) aside."""
    def norm(unit: str) -> str:
        unit = unit.replace("\u00b5", "u").replace("\u03bc", "u").replace(" ", "").lower()
        return re.sub(r"^x(?=10)", "", unit.replace("^", "").replace("*", ""))
    return norm(configured) in {norm(unit) for unit in accepted}
