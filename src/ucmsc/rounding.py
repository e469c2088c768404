"""Display rounding as SAS and the publications do it: half away from zero, not half to even."""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal

SIGNIFICANT_DIGITS = 12  # float64 holds 15-17; sums and means lose a few, never 4


def round_half_up(value: float, decimals: int) -> float:
    """Round ``value`` to ``decimals`` places, halves away from zero (0.0285 -> 0.029).

    Python's ``round`` and ``numpy.round`` round half to even and act on the binary
    value, so ``round(0.0285, 3)`` gives 0.028. We go through the shortest decimal
    representation (``repr``) so that what prints as 0.0285 rounds as 0.0285. A computed
    value carries floating-point error (a mean of 2.475 may be 2.4749999999999996), so it
    is first fuzzed to 12 significant digits, as SAS ROUND fuzzes, before the half-up step.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    value = float(value)
    if math.isinf(value):
        return value
    quantum = Decimal(1).scaleb(-decimals)
    fuzzed = Decimal(f"{value:.{SIGNIFICANT_DIGITS}g}")  # drops binary error below the 12th digit
    return float(fuzzed.quantize(quantum, rounding=ROUND_HALF_UP))


def format_half_up(value: float, decimals: int) -> str:
    """``round_half_up`` as text with exactly ``decimals`` places; empty for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    rounded = round_half_up(value, decimals)
    return f"{rounded if rounded != 0 else 0.0:.{decimals}f}"  # -0.004 prints 0.00, never -0.00


def format_p(p) -> str:
    """A P-value as tables and figures print it: "<0.001" below 0.001, else three decimals half up; empty if
    missing."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    return "<0.001" if p < 0.001 else format_half_up(p, 3)


# Decimals a statistic is printed with (tables, the cut comparison's "changed beyond its printed rounding").
PRINTED_DECIMALS = {"n": 0, "N": 0, "events": 0, "n_subjects": 0, "df": 1, "pct": 1, "p": 3, "fisher_p": 3, "p_holm": 3,
                    "p_bh": 3}


P_VALUES = ("p", "fisher_p", "p_holm", "p_bh")  # printed by format_p


def display_decimals(stat_name: str) -> int:
    return PRINTED_DECIMALS.get(stat_name, 2)


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_POWER = re.compile(r"\^(-?\d+)")  # 10^9, m^2, 10^-3
_MICRO = re.compile(r"(?<![A-Za-z0-9])u(?=(?:U|IU|g|mol|L)(?![a-z]))")  # uU/mL, umol/L, ug/L, uIU/mL, uL
_TIMES = re.compile(r"(?<![A-Za-z0-9])x(?=10\^)")  # x10^9/L
_CELSIUS = re.compile(r"(?:(?<=\()|^)C(?=\)|$)")  # CDISC UNIT "C" (degree Celsius), alone or in parentheses


def display_unit(text: str) -> str:
    """Units as printed: the ASCII spellings of configs and deliveries with their symbols, anywhere in ``text``
    ("Fasting insulin (uU/mL)" -> "Fasting insulin (µU/mL)", "10^9/L" -> "10⁹/L", "kg/m^2" -> "kg/m²",
    "x10^9/L" -> "×10⁹/L", "Temperature (C)" -> "Temperature (°C)"). Text already in symbols is returned unchanged."""
    if not text:
        return text or ""
    text = _TIMES.sub("×", text)
    text = _MICRO.sub("µ", text)  # U+00B5 MICRO SIGN
    text = _CELSIUS.sub("°C", text)
    return _POWER.sub(lambda m: m.group(1).translate(_SUPERSCRIPTS), text)
