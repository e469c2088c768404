import math

from ucmsc.rounding import format_half_up, round_half_up


def test_halves_round_away_from_zero_as_sas_does():
    assert round(2.675, 2) == 2.67  # Python rounds the binary value (2.67499...)
    assert round_half_up(2.675, 2) == 2.68
    assert round(0.125, 2) == 0.12  # and exact halves to even
    assert round_half_up(0.125, 2) == 0.13
    assert round_half_up(2.5, 0) == 3.0
    assert round_half_up(-2.5, 0) == -3.0
    assert round_half_up(0.0074, 3) == 0.007


def test_format_keeps_trailing_zeros_and_blank_for_missing():
    assert format_half_up(8.1, 2) == "8.10"
    assert format_half_up(math.nan, 2) == ""
