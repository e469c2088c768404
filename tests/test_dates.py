"""ucmsc.dates: expected values written out by hand; "admiral Test n" are the worked examples of admiral's
tests/testthat/test-derive_date_vars.R (pharmaverse/admiral), without its fractional-second input, which we reject."""

import re
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ucmsc import dates


def texts(*values):
    return pd.Series(list(values), dtype=object)


def stamps(*values):
    return pd.Series([pd.NaT if value is None else pd.Timestamp(value) for value in values], dtype="datetime64[ns]")


def assert_values(actual: pd.Series, *expected):
    assert list(actual) == list(expected), list(actual)


ADMIRAL_DTM_INPUT = texts("2019-07-18T15:25:40", "2019-07-18T15:25", "2019-07-18", "2019-02", "2019", "2019---07",
                          "2003-12-15T-:15:18", "2003-12-15T13:-:19", "2020-07--T00:00")
ADMIRAL_DT_INPUT = texts("2019-07-18", "2019-02", "2019", "2019---07")


# --- parse_iso and normalise ---------------------------------------------------------------

def test_parse_splits_components_and_gives_precision():
    parsed = dates.parse_iso(texts("2012", "2012-02", "2012-02-03", "2012-02-03T10", "2012-02-03T10:15",
                                   "2012-02-03T10:15:30", "2012---15", "--12-15", "2012-12-15T-:15"))
    assert list(parsed["precision"]) == ["Y", "M", "D", "h", "m", "s", "Y", "", "D"]
    assert parsed["valid"].all() and not parsed["blank"].any()
    assert parsed.loc[5, ["year", "month", "day", "hour", "minute", "second"]].tolist() == [2012, 2, 3, 10, 15, 30]
    assert parsed.loc[6, ["year", "day"]].tolist() == [2012, 15] and pd.isna(parsed.loc[6, "month"])
    assert pd.isna(parsed.loc[7, "year"]) and parsed.loc[7, ["month", "day"]].tolist() == [12, 15]
    assert pd.isna(parsed.loc[8, "hour"]) and parsed.loc[8, "minute"] == 15
    assert str(parsed["year"].dtype) == "Int64"


def test_blank_is_missing_not_malformed():
    parsed = dates.parse_iso(texts("", "  ", None, np.nan, "2012-3"))
    assert list(parsed["blank"]) == [True, True, True, True, False]
    assert not parsed["valid"].any()
    assert list(parsed["precision"]) == ["", "", "", "", ""]


@pytest.mark.parametrize("text", [
    "2012-3", "2012-02-3", "12-02-03", "2017-02-30", "2019-02-29", "2012-13-01", "2012-00-10", "2012-01-00",
    "2012-04-31", "2012-01-01T25", "2012-01-01T24:00", "2012-01-01T10:60", "2012-01-01T10:00:60",
    "1899-12-31", "2101-01-01", "2012-01-01T10:00Z", "2012-01-01T10:00+01:00", "2012-01-01T10:00:00.5",
    "2012-01-01 10:00", "2012-01-01T", "2012-01-01x", "2012/01/01", "20120101", "2012-01-01t10:00", "-", "-----",
    "2012-02T10:00", "--02-30", "2012---32", "٢٠١٢", "２０１２-01-01", "2012-0１-01", "2012-01\n-01", "2012-01-01\nT10",
    "2012-01-01T10:00\n:00", "2012-01-01T10:-:00x"])
def test_impossible_or_malformed_values_are_invalid(text):
    parsed = dates.parse_iso(texts(text))
    assert not parsed.loc[0, "valid"] and not parsed.loc[0, "blank"]
    assert parsed.loc[0, ["year", "month", "day", "hour", "minute", "second"]].isna().all()


def test_leap_days():
    assert list(dates.parse_iso(texts("2012-02-29", "2000-02-29", "1900-02-29", "2100-02-29", "--02-29"))["valid"]) \
        == [True, True, False, False, True]


def test_normalise_keeps_the_precision_given():
    assert_values(dates.normalise(texts(" 2012-02 ", "2019-07--", "2012---15", "2022----T00:00", "2012-3", "",
                                        None, "2012-02-03T10:15:30")),
                  "2012-02", "2019-07", "2012---15", "2022----T00:00", "", "", "", "2012-02-03T10:15:30")
    assert_values(dates.normalise(texts("2012-02-03T10:15:30", "2012-02", "-----T10:15"), finest="D"),
                  "2012-02-03", "2012-02", "")


def test_many_records_few_distinct_values_keep_their_index():
    text = pd.Series(["2012-02", "", "2012-02", None] * 3, index=range(100, 112))
    parsed = dates.parse_iso(text)
    assert list(parsed.index) == list(range(100, 112))
    assert list(parsed["precision"]) == ["M", "", "M", ""] * 3
    assert list(dates.normalise(text).index) == list(range(100, 112))


# --- earliest and latest -----------------------------------------------------------------------

def test_earliest_and_latest_possible_datetime():
    text = texts("2012-02", "2013-02", "2012", "2012-02-03", "2012-02-03T10", "2012-02-03T10:15",
                 "2012-02-03T10:15:30", "2012---15", "2012-02--T10:00", "--12-15", "", "2012-3")
    assert_values(dates.earliest(text), pd.Timestamp("2012-02-01"), pd.Timestamp("2013-02-01"),
                  pd.Timestamp("2012-01-01"), pd.Timestamp("2012-02-03"), pd.Timestamp("2012-02-03T10:00"),
                  pd.Timestamp("2012-02-03T10:15"), pd.Timestamp("2012-02-03T10:15:30"),
                  pd.Timestamp("2012-01-15"), pd.Timestamp("2012-02-01T10:00"), pd.NaT, pd.NaT, pd.NaT)
    assert_values(dates.latest(text), pd.Timestamp("2012-02-29T23:59:59"), pd.Timestamp("2013-02-28T23:59:59"),
                  pd.Timestamp("2012-12-31T23:59:59"), pd.Timestamp("2012-02-03T23:59:59"),
                  pd.Timestamp("2012-02-03T10:59:59"), pd.Timestamp("2012-02-03T10:15:59"),
                  pd.Timestamp("2012-02-03T10:15:30"), pd.Timestamp("2012-12-15T23:59:59"),
                  pd.Timestamp("2012-02-29T10:00:59"), pd.NaT, pd.NaT, pd.NaT)
    assert dates.earliest(dates.parse_iso(text)).equals(dates.earliest(text))


# --- after, before, study day ----------------------------------------------------------------------

def test_after_and_before_a_cut_date_at_the_values_precision():
    text = texts("2020-12-07", "2020-12-06T23:59", "2020-12", "2021", "2020-11", "2020-11-30", "--12-31", "", "x")
    cut = date(2020, 12, 6)
    assert_values(dates.after(text, cut), True, False, False, True, False, False, False, False, False)
    assert_values(dates.before(text, cut), False, False, False, False, True, True, False, False, False)
    assert_values(dates.after(texts("2020-12"), date(2020, 11, 30)), True)
    assert_values(dates.before(texts("2020-12"), date(2020, 12, 31)), False)


def test_after_a_date_per_record():
    text = texts("2020-12-07", "2020-12-07", "2020-12-07", "2020-12-07")
    assert_values(dates.after(text, texts("2020-12-06", "2020-12-07T08:00", "2020-12", "")), True, False, False, False)
    assert_values(dates.after(text, stamps("2020-12-06T23:00", "2020-12-07", None, "2019-01-01")),
                  True, False, False, True)


def test_study_day_has_no_day_zero():
    when = texts("2020-01-10", "2020-01-11", "2020-01-09", "2019-12-31T08:00", "2020-01", "", "2020-03-01")
    reference = texts("2020-01-10", "2020-01-10", "2020-01-10", "2020-01-10T14:00", "2020-01-10", "2020-01-10",
                      "2020-02-28")
    assert_values(dates.study_day(when, reference), 1, 2, -1, -10, pd.NA, pd.NA, 3)  # 2020-02-29: a leap day
    assert_values(dates.days_since(when, reference), 0, 1, -1, -10, pd.NA, pd.NA, 2)
    assert_values(dates.study_day(texts("2021-07-30"), date(2020, 7, 30)), 366)
    assert str(dates.study_day(when, reference).dtype) == "Int64"


# --- imputation: admiral's worked examples ----------------------------------------------------------

def test_admiral_dtm_test_1_default_imputes_only_the_time():
    imputed, date_flag, time_flag = dates.impute_datetime(ADMIRAL_DTM_INPUT)
    assert_values(imputed, pd.Timestamp("2019-07-18T15:25:40"), pd.Timestamp("2019-07-18T15:25:00"),
                  pd.Timestamp("2019-07-18T00:00:00"), pd.NaT, pd.NaT, pd.NaT, pd.Timestamp("2003-12-15T00:00:00"),
                  pd.Timestamp("2003-12-15T13:00:00"), pd.NaT)
    assert_values(date_flag, "", "", "", "", "", "", "", "", "")
    assert_values(time_flag, "", "S", "H", "", "", "", "H", "M", "")


def test_admiral_dtm_test_2_and_6_minutes_and_seconds_only():
    imputed, _, _ = dates.impute_datetime(ADMIRAL_DTM_INPUT, highest_imputation="m", time_imputation="23:59:59")
    assert_values(imputed, pd.Timestamp("2019-07-18T15:25:40"), pd.Timestamp("2019-07-18T15:25:59"), pd.NaT, pd.NaT,
                  pd.NaT, pd.NaT, pd.NaT, pd.Timestamp("2003-12-15T13:59:59"), pd.NaT)
    imputed, _, _ = dates.impute_datetime(ADMIRAL_DTM_INPUT, highest_imputation="s", time_imputation="last")
    assert_values(imputed, pd.Timestamp("2019-07-18T15:25:40"), pd.Timestamp("2019-07-18T15:25:59"),
                  *[pd.NaT] * 7)


def test_admiral_dtm_test_3_month_and_day_first():
    expected = [pd.Timestamp(text) for text in (
        "2019-07-18T15:25:40", "2019-07-18T15:25:00", "2019-07-18T00:00:00", "2019-02-01T00:00:00",
        "2019-01-01T00:00:00", "2019-01-01T00:00:00", "2003-12-15T00:00:00", "2003-12-15T13:00:00",
        "2020-07-01T00:00:00")]
    for date_imputation in ("first", "01-01"):
        imputed, date_flag, time_flag = dates.impute_datetime(ADMIRAL_DTM_INPUT, highest_imputation="M",
                                                              date_imputation=date_imputation)
        assert_values(imputed, *expected)
    assert_values(date_flag, "", "", "", "D", "M", "M", "", "", "D")
    # admiral gives 'S' for 2020-07--T00:00; without preserve its hour and minute are imputed too, so we say 'H'
    assert_values(time_flag, "", "S", "H", "H", "H", "H", "H", "M", "H")


def test_admiral_dtm_test_4_day_and_time_last():
    imputed, _, _ = dates.impute_datetime(ADMIRAL_DTM_INPUT, highest_imputation="D", date_imputation="last",
                                          time_imputation="last")
    assert_values(imputed, pd.Timestamp("2019-07-18T15:25:40"), pd.Timestamp("2019-07-18T15:25:59"),
                  pd.Timestamp("2019-07-18T23:59:59"), pd.Timestamp("2019-02-28T23:59:59"), pd.NaT, pd.NaT,
                  pd.Timestamp("2003-12-15T23:59:59"), pd.Timestamp("2003-12-15T13:59:59"),
                  pd.Timestamp("2020-07-31T23:59:59"))


def test_admiral_dtm_test_5_last_with_preserve():
    imputed, date_flag, time_flag = dates.impute_datetime(ADMIRAL_DTM_INPUT, highest_imputation="M",
                                                          date_imputation="last", time_imputation="last",
                                                          preserve=True)
    assert_values(imputed, pd.Timestamp("2019-07-18T15:25:40"), pd.Timestamp("2019-07-18T15:25:59"),
                  pd.Timestamp("2019-07-18T23:59:59"), pd.Timestamp("2019-02-28T23:59:59"),
                  pd.Timestamp("2019-12-31T23:59:59"), pd.Timestamp("2019-12-07T23:59:59"),
                  pd.Timestamp("2003-12-15T23:15:18"), pd.Timestamp("2003-12-15T13:59:19"),
                  pd.Timestamp("2020-07-31T00:00:59"))
    assert_values(date_flag, "", "", "", "D", "M", "M", "", "", "D")
    assert_values(time_flag, "", "S", "H", "H", "H", "H", "H", "M", "S")  # admiral's compute_tmf, Test 27


def test_admiral_dtm_test_7_mid():
    imputed, _, _ = dates.impute_datetime(ADMIRAL_DTM_INPUT, highest_imputation="M", date_imputation="mid")
    assert_values(imputed, pd.Timestamp("2019-07-18T15:25:40"), pd.Timestamp("2019-07-18T15:25:00"),
                  pd.Timestamp("2019-07-18T00:00:00"), pd.Timestamp("2019-02-15T00:00:00"),
                  pd.Timestamp("2019-06-30T00:00:00"), pd.Timestamp("2019-06-30T00:00:00"),
                  pd.Timestamp("2003-12-15T00:00:00"), pd.Timestamp("2003-12-15T13:00:00"),
                  pd.Timestamp("2020-07-15T00:00:00"))


def test_admiral_dtm_test_8_min_dates_impute_even_the_year():
    imputed, date_flag, time_flag = dates.impute_datetime(
        texts("2020-12", "2020-11", None), highest_imputation="Y", date_imputation="first",
        min_dates=[stamps("2020-12-06T12:12:12", None, None), stamps(*["2020-11-11T11:11:11"] * 3)])
    assert_values(imputed, pd.Timestamp("2020-12-06T12:12:12"), pd.Timestamp("2020-11-11T11:11:11"),
                  pd.Timestamp("2020-11-11T11:11:11"))
    assert_values(date_flag, "D", "D", "Y")
    assert_values(time_flag, "H", "H", "H")


def test_admiral_dtm_test_9_max_dates_a_date_counts_to_its_last_second():
    imputed, _, _ = dates.impute_datetime(
        texts("2020-12", "2020-11", None, "2020-02-02"), highest_imputation="Y", date_imputation="last",
        time_imputation="last",
        max_dates=[stamps("2020-12-06T12:12:12", None, "2020-09-13T08:30:00", None),
                   texts("", "2020-11-11", "", "2020-02-02")])
    assert_values(imputed, pd.Timestamp("2020-12-06T12:12:12"), pd.Timestamp("2020-11-11T23:59:59"),
                  pd.Timestamp("2020-09-13T08:30:00"), pd.Timestamp("2020-02-02T23:59:59"))


def test_admiral_dt_tests_13_to_17():
    imputed, date_flag = dates.impute_date(ADMIRAL_DT_INPUT)
    assert_values(imputed, pd.Timestamp("2019-07-18"), pd.NaT, pd.NaT, pd.NaT)
    assert_values(date_flag, "", "", "", "")
    for date_imputation in ("first", "01-01"):
        imputed, date_flag = dates.impute_date(ADMIRAL_DT_INPUT, highest_imputation="M",
                                               date_imputation=date_imputation)
        assert_values(imputed, pd.Timestamp("2019-07-18"), pd.Timestamp("2019-02-01"), pd.Timestamp("2019-01-01"),
                      pd.Timestamp("2019-01-01"))
        assert_values(date_flag, "", "D", "M", "M")  # admiral Test 26 (compute_dtf)
    imputed, _ = dates.impute_date(ADMIRAL_DT_INPUT, highest_imputation="D", date_imputation="last")
    assert_values(imputed, pd.Timestamp("2019-07-18"), pd.Timestamp("2019-02-28"), pd.NaT, pd.NaT)
    imputed, _ = dates.impute_date(ADMIRAL_DT_INPUT, highest_imputation="M", date_imputation="LAST", preserve=True)
    assert_values(imputed, pd.Timestamp("2019-07-18"), pd.Timestamp("2019-02-28"), pd.Timestamp("2019-12-31"),
                  pd.Timestamp("2019-12-07"))
    imputed, _ = dates.impute_date(ADMIRAL_DT_INPUT, highest_imputation="M", date_imputation="mid")
    assert_values(imputed, pd.Timestamp("2019-07-18"), pd.Timestamp("2019-02-15"), pd.Timestamp("2019-06-30"),
                  pd.Timestamp("2019-06-30"))
    imputed, _ = dates.impute_date(ADMIRAL_DT_INPUT, highest_imputation="M", date_imputation="mid", preserve=True)
    assert_values(imputed, pd.Timestamp("2019-07-18"), pd.Timestamp("2019-02-15"), pd.Timestamp("2019-06-30"),
                  pd.Timestamp("2019-06-07"))  # admiral's derive_vars_dt documentation, preserve


def test_admiral_dt_tests_18_and_19_min_and_max_dates():
    imputed, date_flag = dates.impute_date(texts("2020-12", "2020-11", None), highest_imputation="Y",
                                           min_dates=[[date(2020, 12, 6), None, None], [date(2020, 11, 11)] * 3])
    assert_values(imputed, pd.Timestamp("2020-12-06"), pd.Timestamp("2020-11-11"), pd.Timestamp("2020-11-11"))
    assert_values(date_flag, "D", "D", "Y")
    imputed, _ = dates.impute_date(texts("2020-12", "2020-11", None), highest_imputation="Y", date_imputation="last",
                                   max_dates=[texts("2020-12-06", "", "2020-09-13"), texts("", "2020-11-11", "")])
    assert_values(imputed, pd.Timestamp("2020-12-06"), pd.Timestamp("2020-11-11"), pd.Timestamp("2020-09-13"))


def test_admiral_min_dates_documentation_example():
    # "2020-11" ranges over November: the December date is ignored, the November one is taken
    imputed, _, _ = dates.impute_datetime(
        texts("2020-11"), highest_imputation="M",
        min_dates=[stamps("2020-12-06T12:12:12"), stamps("2020-11-11T11:11:11")])
    assert_values(imputed, pd.Timestamp("2020-11-11T11:11:11"))


# --- imputation: our own cases --------------------------------------------------------------------

def test_year_only_value_by_highest_imputation():
    text = texts("2013")
    assert_values(dates.impute_date(text, highest_imputation="D")[0], pd.NaT)
    imputed, date_flag = dates.impute_date(text, highest_imputation="M")
    assert_values(imputed, pd.Timestamp("2013-01-01"))
    assert_values(date_flag, "M")
    imputed, date_flag = dates.impute_date(text, highest_imputation="Y", min_dates=stamps(None))
    assert_values(imputed, pd.Timestamp("2013-01-01"))
    assert_values(date_flag, "M")


def test_ae_onset_not_before_first_dose_nor_after_the_cut():
    onset = texts("2020-11", "2020-11", "2020-12", "2020-11-05", "2020-11", "", "2020")
    first_dose = texts("2020-11-11", "2020-10-20", "2020-11-11", "2020-11-11", "2020-11-11T08:30", "2020-11-11",
                       "2020-11-11")
    imputed, date_flag = dates.impute_date(onset, highest_imputation="M", min_dates=first_dose)
    # first of the month, unless the first dose falls within the month: then the first dose day
    assert_values(imputed, pd.Timestamp("2020-11-11"), pd.Timestamp("2020-11-01"), pd.Timestamp("2020-12-01"),
                  pd.Timestamp("2020-11-05"), pd.Timestamp("2020-11-11"), pd.NaT, pd.Timestamp("2020-11-11"))
    assert_values(date_flag, "D", "D", "D", "", "D", "", "M")
    imputed, _, time_flag = dates.impute_datetime(onset, highest_imputation="M", min_dates=first_dose)
    assert imputed[4] == pd.Timestamp("2020-11-11T08:30") and time_flag[4] == "H"
    imputed, _ = dates.impute_date(texts("2020-12", "2020-12", "2020"), highest_imputation="M",
                                   date_imputation="last", max_dates=date(2020, 12, 6))
    assert_values(imputed, pd.Timestamp("2020-12-06"), pd.Timestamp("2020-12-06"), pd.Timestamp("2020-12-06"))
    imputed, _ = dates.impute_date(texts("2020-11", "2021"), highest_imputation="M", date_imputation="last",
                                   max_dates=date(2020, 12, 6))
    assert_values(imputed, pd.Timestamp("2020-11-30"), pd.Timestamp("2021-12-31"))  # the cut is out of their range


def test_last_day_of_month_counts_leap_years():
    imputed, _ = dates.impute_date(texts("2012-02", "2013-02", "2000-02", "1900-02", "2012-04", "2012-12"),
                                   highest_imputation="D", date_imputation="last")
    assert_values(imputed, pd.Timestamp("2012-02-29"), pd.Timestamp("2013-02-28"), pd.Timestamp("2000-02-29"),
                  pd.Timestamp("1900-02-28"), pd.Timestamp("2012-04-30"), pd.Timestamp("2012-12-31"))


def test_month_day_imputation_that_makes_no_date_is_missing():
    imputed, date_flag = dates.impute_date(texts("2019-02", "2019", "2019-04"), highest_imputation="M",
                                           date_imputation="02-31")
    assert_values(imputed, pd.NaT, pd.NaT, pd.NaT)
    assert_values(date_flag, "", "", "")
    imputed, _ = dates.impute_date(texts("2019-02", "2019"), highest_imputation="M", date_imputation="04-06")
    assert_values(imputed, pd.Timestamp("2019-02-06"), pd.Timestamp("2019-04-06"))  # admiral derive_vars_dt example


def test_impute_date_ignores_the_time_but_not_an_invalid_one():
    imputed, date_flag = dates.impute_date(texts("2019-07-18T15:25", "2019-07-18T25:00", "2019-07--T10:00"),
                                           highest_imputation="D")
    assert_values(imputed, pd.Timestamp("2019-07-18"), pd.NaT, pd.Timestamp("2019-07-01"))
    assert_values(date_flag, "", "", "D")


def test_ignore_seconds_flag():
    _, _, time_flag = dates.impute_datetime(texts("2020-11-11T11:11", "2020-11-11T11"), ignore_seconds_flag=True)
    assert_values(time_flag, "", "M")  # admiral Test 29


def test_options_are_checked():
    with pytest.raises(ValueError, match="highest_imputation"):
        dates.impute_date(texts("2019"), highest_imputation="h")
    with pytest.raises(ValueError, match="min_dates"):
        dates.impute_date(texts("2019"), highest_imputation="Y")
    with pytest.raises(ValueError, match="min_dates"):
        dates.impute_date(texts("2019"), highest_imputation="Y", date_imputation="last", min_dates=stamps(None))
    with pytest.raises(ValueError, match="date_imputation"):
        dates.impute_date(texts("2019"), highest_imputation="M", date_imputation="13-01")
    with pytest.raises(ValueError, match="time_imputation"):
        dates.impute_datetime(texts("2019"), time_imputation="24:00:00")
    with pytest.raises(ValueError, match="per record"):
        dates.impute_date(texts("2019", "2020"), highest_imputation="M", min_dates=stamps(None))
    with pytest.raises(ValueError, match="index"):
        dates.impute_date(texts("2019"), highest_imputation="M", min_dates=pd.Series([date(2019, 1, 1)], index=[5]))


# --- properties ---------------------------------------------------------------------------------------

FORMATS = {"Y": "%Y", "M": "%Y-%m", "D": "%Y-%m-%d", "h": "%Y-%m-%dT%H", "m": "%Y-%m-%dT%H:%M",
           "s": "%Y-%m-%dT%H:%M:%S"}
moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31, 23, 59, 59)).map(
    lambda moment: moment.replace(microsecond=0))
precisions = st.sampled_from(list(FORMATS))


def truncated(moment: datetime, precision: str) -> str:
    return f"{moment.year:04d}" + moment.strftime(FORMATS[precision])[4:]  # %Y does not pad years below 1000


@settings(max_examples=300, deadline=None)
@given(moment=moments, precision=precisions)
def test_a_truncated_moment_lies_in_its_range_and_first_last_imputation_gives_its_ends(moment, precision):
    text = texts(truncated(moment, precision))
    parsed = dates.parse_iso(text)
    assert parsed.loc[0, "valid"] and parsed.loc[0, "precision"] == precision
    first, last = dates.earliest(parsed)[0], dates.latest(parsed)[0]
    assert first <= pd.Timestamp(moment) <= last
    assert first.strftime(FORMATS[precision]) == last.strftime(FORMATS[precision]) == text[0]
    imputed, date_flag, time_flag = dates.impute_datetime(text, highest_imputation="M")
    assert imputed[0] == first
    assert dates.impute_datetime(text, highest_imputation="M", date_imputation="last",
                                 time_imputation="last")[0][0] == last
    assert dates.impute_date(text, highest_imputation="M")[0][0] == first.normalize()
    assert date_flag[0] == {"Y": "M", "M": "D"}.get(precision, "")
    assert time_flag[0] == {"s": "", "m": "S", "h": "M"}.get(precision, "H")
    assert dates.normalise(text)[0] == text[0]


@settings(max_examples=300, deadline=None)
@given(moment=moments, gaps=st.lists(st.booleans(), min_size=5, max_size=5), precision=precisions)
def test_dash_placeholders_keep_the_moment_in_range(moment, gaps, precision):
    # month ... second replaced by '-' at random: the known components still bound the moment
    parts = [f"{moment.year:04d}"] + [f"{value:02d}" for value in
                                      (moment.month, moment.day, moment.hour, moment.minute, moment.second)]
    parts = [parts[0]] + ["-" if gap else part for gap, part in zip(gaps, parts[1:])]
    parts = parts[:list(FORMATS).index(precision) + 1]
    text = parts[0] + "".join(separator + part for separator, part in zip(["-", "-", "T", ":", ":"], parts[1:]))
    parsed = dates.parse_iso(texts(text))
    assert parsed.loc[0, "valid"], text
    assert dates.earliest(parsed)[0] <= pd.Timestamp(moment) <= dates.latest(parsed)[0]
    preserved = dates.impute_datetime(texts(text), highest_imputation="M", preserve=True)[0][0]
    assert preserved == dates.earliest(parsed)[0]  # keeping what is known, the first possible moment
    assert dates.parse_iso(dates.normalise(texts(text))).equals(parsed)


def strict_oracle(text: str) -> bool:
    """Valid by an independent route: strptime at the length's format, and back to the very same text."""
    fmt = {4: "%Y", 7: "%Y-%m", 10: "%Y-%m-%d", 13: "%Y-%m-%dT%H", 16: "%Y-%m-%dT%H:%M", 19: "%Y-%m-%dT%H:%M:%S"}
    if len(text) not in fmt or not text.isascii():
        return False
    try:
        moment = datetime.strptime(text, fmt[len(text)])
    except ValueError:
        return False
    return 1900 <= moment.year <= 2100 and moment.strftime(fmt[len(text)]) == text


near_dates = st.builds(
    lambda year, month, day, hour, minute, second:
        f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}",
    st.integers(1890, 2110), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25), st.integers(0, 61),
    st.integers(0, 61))
PLACEHOLDER = re.compile(r"^-|--|T-|:-")


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(near_dates.flatmap(lambda full: st.sampled_from([full[:n] for n in (4, 7, 10, 13, 16, 19)])),
                      st.text(alphabet="0123456789-T:Z+. ", max_size=21)))
def test_without_placeholders_valid_means_a_real_moment_written_strictly(text):
    parsed = dates.parse_iso(texts(text))
    if not PLACEHOLDER.search(text.strip()):
        assert parsed.loc[0, "valid"] == strict_oracle(text.strip()), text
    if not parsed.loc[0, "valid"]:
        assert dates.earliest(parsed).isna().all() and dates.normalise(texts(text))[0] == ""


@settings(max_examples=200, deadline=None)
@given(reference=st.dates(min_value=date(1902, 1, 1), max_value=date(2098, 12, 31)), days=st.integers(-400, 400))
def test_study_day_skips_zero(reference, days):
    when = reference + timedelta(days=days)
    expected = days + 1 if days >= 0 else days
    assert dates.study_day(texts(when.isoformat()), reference)[0] == expected
