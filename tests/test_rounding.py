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


def test_no_negative_zero_is_printed():
    assert format_half_up(-0.004, 2) == "0.00"  # rounds to zero: no sign
    assert format_half_up(-0.0, 1) == "0.0"
    assert format_half_up(-0.005, 2) == "-0.01"  # half away from zero keeps its sign
    assert format_half_up(-0.0004, 3) == "0.000"


def test_p_values_print_the_same_everywhere():
    from ucmsc.rounding import format_p

    assert [format_p(p) for p in (0.0004, 0.001, 0.0285, 0.9996, float("nan"))] == [
        "<0.001", "0.001", "0.029", "1.000", ""]


def test_a_computed_mean_that_is_an_exact_half_rounds_up_despite_binary_error():
    # (1.1 + 2.2 + 3.3 + 1.95) / 4 is 2.1375 by hand; in float64 the mean is 2.1374999999999997.
    mean = sum([1.1, 2.2, 3.3, 1.95]) / 4
    assert mean < 2.1375
    assert format_half_up(mean, 3) == "2.138"
    assert format_half_up(-mean, 3) == "-2.138"
    assert format_half_up(2.4749999999999996, 2) == "2.48"
    assert format_half_up(2.345, 2) == "2.35"
    assert format_half_up(2.4749, 2) == "2.47"  # a true value below the half still rounds down
