"""Date-times parsed by a source's strptime format (``checks.parse_datetimes``, ``checks.dates``): hand-written values
and what strptime reads from them, the queries of the ones it cannot read, and random near-misses against
``datetime.strptime`` itself."""

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ucmsc import checks
from ucmsc.clean import CutLog, CutSpec, clean_ex

NAT = pd.NaT
# text -> what datetime.strptime reads with "%Y-%m-%dT%H:%M" (within 1900-2100; NaT where it raises)
WITH_T = {
    "2019-02-28T10:30": pd.Timestamp("2019-02-28 10:30"),
    "  2019-02-28T10:30 ": pd.Timestamp("2019-02-28 10:30"),  # stripped first
    "2019-2-8T9:05": pd.Timestamp("2019-02-08 09:05"),  # strptime takes numbers without their zero
    "2019-02-28t10:30": pd.Timestamp("2019-02-28 10:30"),  # and literal text in any case
    "2100-12-31T23:59": pd.Timestamp("2100-12-31 23:59"),
    "1900-01-01T00:00": pd.Timestamp("1900-01-01 00:00"),
    "2020-02-29T12:00": pd.Timestamp("2020-02-29 12:00"),  # a leap day
    "2019-02-29T12:00": NAT,  # no leap day in 2019
    "2019-02-30T10:30": NAT,  # no such day
    "2019-13-01T10:30": NAT,
    "2019-02-28T24:00": NAT,
    "2019-02-28T10:60": NAT,
    "1899-12-31T23:59": NAT,  # before 1900
    "2101-01-01T00:00": NAT,  # after 2100
    "0999-01-01T00:00": NAT,
    "2019-02-28": NAT,  # no time
    "2019-02-28T10:30:00": NAT,  # more than the format
    "2019-02-28 10:30": NAT,  # a blank is not a 'T'
    "28/02/2019T10:30": NAT,
    "": NAT,
    "x": NAT,
}


def test_datetimes_read_as_strptime_reads_them():
    values = list(WITH_T) + [None] + list(WITH_T)[:3]  # repeated values and a missing one
    parsed = checks.parse_datetimes(pd.Series(values, index=np.arange(len(values)) * 2 + 1, name="X"),
                                    "%Y-%m-%dT%H:%M")
    expected = pd.Series([*WITH_T.values(), NAT, *list(WITH_T.values())[:3]], index=np.arange(len(values)) * 2 + 1,
                         name="X", dtype="datetime64[ns]")
    pd.testing.assert_series_equal(parsed, expected)


def test_other_formats_by_hand():
    def parse(values, fmt):
        return checks.parse_datetimes(pd.Series(values, dtype="str"), fmt).tolist()

    # a blank in the format stands for any run of blanks (strptime)
    assert parse(["2019-02-28 10:30", "2019-02-28   10:30", "2019-02-28T10:30"], "%Y-%m-%d %H:%M") == \
        [pd.Timestamp("2019-02-28 10:30"), pd.Timestamp("2019-02-28 10:30"), NAT]
    assert parse(["31/12/2019", "1/2/2019", "31/02/2019", "12/31/2019", "2019-12-31"], "%d/%m/%Y") == \
        [pd.Timestamp("2019-12-31"), pd.Timestamp("2019-02-01"), NAT, NAT, NAT]
    assert parse(["20191231", "2019123", "201912310"], "%Y%m%d") == [pd.Timestamp("2019-12-31"),
                                                                      pd.Timestamp("2019-12-03"), NAT]
    # month names: not parsed in bulk, strptime reads them (any case)
    assert parse(["03JAN2020:10:30", "03jan2020:10:30", "03XYZ2020:10:30"], "%d%b%Y:%H:%M") == \
        [pd.Timestamp("2020-01-03 10:30"), pd.Timestamp("2020-01-03 10:30"), NAT]
    # no format: ISO 8601 as datetime.fromisoformat reads it; a time zone is refused
    assert parse(["2019-12-31", "2019-12-31T10:30", "2019-12-31T10:30+01:00", "2019-12-32"], None) == \
        [pd.Timestamp("2019-12-31"), pd.Timestamp("2019-12-31 10:30"), NAT, NAT]


def test_invalid_date_times_are_queried_and_quarantined():
    """EX start dates that strptime cannot read are queried with their raw text and their record quarantined."""
    config = {"studyid": "ST", "sources": [{"file": "ex.csv", "domain": "EX", "columns": {"EXSTDTC": "INFDTC"},
                                            "datetime_format": "%Y-%m-%dT%H:%M"}]}
    starts = ["2019-02-28T10:30", "2019-02-30T10:30", "2019-2-8T9:05", "", "2019-02-28 10:30", "2019-03-01T09:00"]
    raw = pd.DataFrame({"SUBJID": "S1", "EXSEQ": [str(i) for i in range(1, 7)], "EXSTDTC": starts, "EXDOSE": "1",
                        "EXDOSU": "mg", "EXTRT": "A", "SRCFILE": "ex.csv", "SRCROW": range(1, 7)}, dtype="str")
    raw["SRCROW"] = raw["SRCROW"].astype(int)
    log = CutLog(CutSpec(config, date(2019, 12, 31)))
    out = clean_ex(raw, log.spec, log, pd.Series(["ST-S1"]))
    assert out["EXSTDTC"].tolist() == ["2019-02-28T10:30", "2019-02-08T09:05", "2019-03-01T09:00"]
    queries = pd.concat(log.queries)
    got = queries[["ROW", "COLUMN", "VARIABLE", "VALUE", "CHECK", "MESSAGE", "ACTION"]].values.tolist()
    assert got == [[2, "INFDTC", "EXSTDTC", "2019-02-30T10:30", "dates", "EXSTDTC is not a valid date", "quarantined"],
                   [5, "INFDTC", "EXSTDTC", "2019-02-28 10:30", "dates", "EXSTDTC is not a valid date", "quarantined"],
                   [4, "INFDTC", "EXSTDTC", "", "required_value", "EXSTDTC is missing", "quarantined"]]


def strptime_reference(text, fmt):
    try:
        when = datetime.strptime(text.strip(), fmt)
    except ValueError:
        return NAT
    return pd.Timestamp(when) if 1900 <= when.year <= 2100 else NAT


near_misses = st.text(alphabet="0123456789-T: t/", min_size=0, max_size=19)
well_formed = st.datetimes(min_value=datetime(1850, 1, 1), max_value=datetime(2150, 12, 31)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(near_misses, well_formed), min_size=1, max_size=30),
       st.sampled_from(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d/%m/%Y", "%Y%m%d%H%M"]))
def test_random_texts_read_as_strptime_reads_them(texts, fmt):
    parsed = checks.parse_datetimes(pd.Series(texts, dtype="str"), fmt)
    assert parsed.tolist() == [strptime_reference(t, fmt) for t in texts]


@pytest.mark.parametrize("start, end, before", [
    ("2017-01-23T21:00", "2017-01-23T20:59", True),   # a minute earlier
    ("2017-01-23T21:00", "2017-01-23T21:00", False),  # the same instant
    ("2017-01-23T21:00", "2017-01-23", False),  # the same day: not before at the day's precision
    ("2017-01-23", "2017-01-22T23:00", True),
    ("2017-01", "2016-12-31", True),  # compared at the month: 2016-12 < 2017-01
    ("2017-01", "2017-01-01", False),
    ("2017", "2017-06", False),
    ("", "2015-01-01", False),  # a missing start: nothing to compare
    ("2017-01-23", "", False),
    ("2017-03-20", "2017---15", False),  # the end's month unknown: it may be December
    ("2017-03-20T10:00", "2017-03-20T-:30", False),  # the end's hour unknown
    ("2017-03-20", "2016---15", True),  # any day of 2016 is before
    ("2017-01-23T21", "2017-01-23T20:59", True),
])
def test_an_end_before_its_start_at_the_precision_both_have(start, end, before):
    frame = pd.DataFrame({"AESTDTC": [start], "AEENDTC": [end]})
    result = checks.end_before_start(frame, "AESTDTC", "AEENDTC", "set missing")
    assert [f.check for f in result.findings] == (["end_before_start"] if before else [])
    assert result.updates["AEENDTC"].tolist() == ["" if before else end]
