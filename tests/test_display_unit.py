"""Units printed with their symbols: one function (rounding.display_unit) for tables and figures."""

import pytest

from ucmsc.rounding import display_unit


@pytest.mark.parametrize("ascii_text, printed", [
    ("uU/mL", "µU/mL"),
    ("umol/L", "µmol/L"),
    ("ug/L", "µg/L"),
    ("uIU/mL", "µIU/mL"),
    ("10^9/L", "10⁹/L"),
    ("10^12/L", "10¹²/L"),
    ("x10^9/L", "×10⁹/L"),
    ("kg/m^2", "kg/m²"),
    ("mL/min/1.73 m^2", "mL/min/1.73 m²"),
    ("10^-3 mm^2/s", "10⁻³ mm²/s"),
    ("Fasting insulin (uU/mL)", "Fasting insulin (µU/mL)"),
    ("Body mass index (kg/m^2)", "Body mass index (kg/m²)"),
    ("C", "°C"),
    ("Temperature (C)", "Temperature (°C)"),
])
def test_ascii_units_get_their_symbols(ascii_text, printed):
    assert display_unit(ascii_text) == printed
    assert display_unit(printed) == printed  # already printed: unchanged


@pytest.mark.parametrize("text", ["mmol/L", "U/L", "mg/L FEU", "Ultrasound steatosis grade (grade)", "HbA1c < 7.0 %",
                                  "Uric acid (umbrella)", "Upper respiratory tract infection", "uptake", "Mu/L", "",
                                  "Vitamin C (mg/L)", "Grade C", "C-reactive protein (mg/L)", "(CRP)"])
def test_other_text_is_left_alone(text):
    assert display_unit(text) == text
