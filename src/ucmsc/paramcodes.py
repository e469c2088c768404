"""The library of named derivations a trial config chooses its derived parameters from (``derived:``).

Each entry says what a derivation is computed from, whether it gives a yes/no (responder)
parameter, its default label and unit, and the options it takes. The formulas live in
``ucmsc.derive``; a test keeps the two equal. Constants only (no pandas): the workflow checks
configs against this at parse time.
"""

from __future__ import annotations

SUBJECT_INPUTS = ("AGE",)  # taken from DM, not from a configured test


# derivation -> fixed inputs (PARAMCDs at the same visit; AGE from DM, HEIGHT from its baseline), label, unit,
# required and optional options. Parametric derivations take their input from the option ``parameter``.
DERIVATIONS = {
    "homa_ir": {"inputs": ("GLUC", "INSULIN"), "label": "HOMA-IR", "unit": ""},
    "homa_beta": {"inputs": ("GLUC", "INSULIN"), "label": "HOMA-%B", "unit": "%"},
    "tyg": {"inputs": ("TG", "GLUC"), "label": "Triglyceride-glucose index", "unit": ""},
    "bmi": {"inputs": ("WEIGHT", "HEIGHT"), "label": "Body mass index (kg/m^2)", "unit": "kg/m^2"},
    "nlr": {"inputs": ("NEUT", "LYM"), "label": "Neutrophil-to-lymphocyte ratio", "unit": ""},
    "fib4": {"inputs": ("AGE", "AST", "ALT", "PLAT"), "label": "FIB-4 index", "unit": ""},
    "apri": {"inputs": ("AST", "PLAT"), "label": "AST to platelet ratio index", "unit": "", "optional": ("ast_uln",)},
    "nafld_fibrosis_score": {"inputs": ("AGE", "BMI", "AST", "ALT", "PLAT", "ALB"), "label": "NAFLD fibrosis score",
                             "unit": "", "required": ("diabetes",)},
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
