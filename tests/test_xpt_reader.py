"""The numpy reader of SAS transport v5 files against pyreadstat's reading (``io._read_sas_pyreadstat``): the same
text columns and metadata for every transport file in the repository and for hand-built files; IBM floating point
numbers against values computed by hand from SAS TS-140's definition."""

import math
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from conftest import DATACUTS, ROOT
from ucmsc import io
from ucmsc.rawformats import ibm_to_ieee

REPO_XPT = sorted([*DATACUTS.rglob("*.xpt"), *(ROOT / "tests" / "fixtures").rglob("*.xpt")])
SCALED_10K = Path("/work/bench_cache/scaled_10000/nafld_efficacy/2019-01-15")  # run by hand, not committed


# Hand-built transport files (SAS TS-140): 80-byte records, 140-byte NAMESTR records, observations back to back -------

def _record(text: bytes) -> bytes:
    assert len(text) <= 80
    return text.ljust(80, b" ")


def _header(name: bytes, tail: bytes = b"0" * 30) -> bytes:
    return _record(b"HEADER RECORD*******" + name.ljust(8) + b"HEADER RECORD!!!!!!!" + tail)


def xport_file(path: Path, variables: list[tuple], rows: list[bytes], label: bytes = b"A data set") -> Path:
    """variables: (name, 1 numeric / 2 character, length, format, format width, format decimals, label);
    rows: each observation's raw bytes."""
    stamp = b"01JAN20:00:00:00"
    head = _header(b"LIBRARY") + _record(b"SAS     SAS     SASLIB  6.06    bsd4.2  " + b" " * 24 + stamp)
    head += _record(stamp) + _header(b"MEMBER", b"000000000000000001600000000140") + _header(b"DSCRPTR")
    head += _record(b"SAS     TEST    SASDATA 6.06    bsd4.2  " + b" " * 24 + stamp)
    head += _record(stamp + b" " * 16 + label.ljust(40) + b" " * 8)
    head += _header(b"NAMESTR", b"000000" + b"%04d" % len(variables) + b"0" * 20)
    namestrs, position = b"", 0
    for number, (name, ntype, length, fmt, width, decimals, vlabel) in enumerate(variables, start=1):
        namestrs += struct.pack(">hhhh8s40s8shhh2s8shhl", ntype, 0, length, number, name.ljust(8), vlabel.ljust(40),
                                fmt.ljust(8), width, decimals, 0, b"\0\0", b" " * 8, 0, 0, position) + bytes(52)
        position += length
    assert all(len(row) == position for row in rows)
    data = b"".join(rows)
    path.write_bytes(head + namestrs + b" " * (-len(namestrs) % 80) + _header(b"OBS") + data + b" " * (-len(data) % 80))
    return path


def numeric(name: bytes, length: int = 8, fmt: bytes = b"", width: int = 0) -> tuple:
    return (name, 1, length, fmt, width, 0, b"")


def text(name: bytes, length: int) -> tuple:
    return (name, 2, length, b"", 0, 0, b"")


def ibm(hexadecimal: str) -> bytes:
    return bytes.fromhex(hexadecimal.replace(" ", ""))


def read_both(path: Path, encoding: str | None = None, numpy_reads: bool = True):
    """Both readings, equal; the numpy reader's (None where it leaves the file to pyreadstat)."""
    layout, rows, blank = io._xport_structure(path)
    fast = io._read_xport_columns(path, layout, rows, blank, encoding)
    reference = io._read_sas_pyreadstat(path, ".xpt", encoding)
    assert (fast is not None) == numpy_reads
    if fast is not None:
        pd.testing.assert_frame_equal(fast[0], reference[0], check_exact=True)
        assert fast[1] == reference[1]
    dispatched = io._read_sas(path, ".xpt", encoding)  # the numpy reader, or pyreadstat where it declines
    pd.testing.assert_frame_equal(dispatched[0], reference[0], check_exact=True)
    assert dispatched[1] == reference[1]
    return fast


# Every transport file in the repository ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", REPO_XPT, ids=lambda p: str(p.relative_to(ROOT)))
def test_repository_transport_files_read_as_pyreadstat_reads_them(path):
    read_both(path)


@pytest.mark.skipif(not SCALED_10K.is_dir(), reason="the 10,000-subject benchmark cut is not on this machine")
@pytest.mark.parametrize("name", ["ae", "dm", "ex", "lb", "vs"])
def test_scaled_benchmark_cut_reads_as_pyreadstat_reads_it(name):
    read_both(SCALED_10K / f"{name}.xpt")


# IBM floating point, by hand --------------------------------------------------------------------------------------

# SAS TS-140: sign bit, 7-bit exponent of 16 in excess 64, 56-bit fraction with the radix point before it.
KNOWN = [
    ("41 10 00 00 00 00 00 00", 1.0),  # 16^1 x 1/16
    ("C2 76 A0 00 00 00 00 00", -118.625),  # -(16^2 x 0x76A/0x1000) = -(7 x 16 + 6 + 10/16)
    ("42 64 00 00 00 00 00 00", 100.0),  # 16^2 x 0x64/0x100
    ("C0 80 00 00 00 00 00 00", -0.5),  # -(16^0 x 8/16)
    ("40 19 99 99 99 99 99 9A", 0.1),  # 0x1999999999999A / 2^56: the double nearest 0.1, no bit lost
    ("00 10 00 00 00 00 00 00", 2.0 ** -260),  # smallest normalised: 16^-64 x 1/16
    ("7F 10 00 00 00 00 00 00", 2.0 ** 248),  # 16^63 x 1/16
    ("7F FF FF FF FF FF FF FE", math.ldexp(1 - 2 ** -53, 252)),  # 56 fraction bits truncated to 53, not rounded
    ("7F FF FF FF FF FF FF FF", math.inf),  # ReadStat's xpt2ieee: the largest magnitudes stand for infinity
    ("FF FF FF FF FF FF FF FF", -math.inf),
    ("41 32 43 F6 A8 00 00 00", 0x3243F6A8 / 2 ** 28),  # pi to 32 bits
    ("00 00 00 00 00 00 00 00", 0.0),
]


@pytest.mark.parametrize("pattern, value", KNOWN)
def test_ibm_numbers_convert_to_the_values_ts140_defines(pattern, value):
    got = ibm_to_ieee(np.frombuffer(ibm(pattern), dtype=">u8"))
    assert got[0] == value and math.copysign(1, got[0]) == math.copysign(1, value)


MISSING = [b"."] + [bytes([c]) for c in range(ord("A"), ord("Z") + 1)] + [b"_"]  # SAS TS-140 missing values


def test_special_missing_values_are_empty_in_numbers_dates_datetimes_and_times(tmp_path):
    variables = [numeric(b"N"), numeric(b"N3", 3), numeric(b"D", fmt=b"DATE", width=9),
                 numeric(b"DT", fmt=b"DATETIME", width=20), numeric(b"T", fmt=b"TIME", width=8)]
    rows = [code + bytes(7) + code + bytes(2) + (code + bytes(7)) * 3 for code in MISSING]
    rows.append(ibm("41 10 00 00 00 00 00 00") + ibm("41 20 00") + ibm("41 10 00 00 00 00 00 00") * 3)
    frame, _ = read_both(xport_file(tmp_path / "missing.xpt", variables, rows))
    assert (frame.iloc[:-1] == "").all().all()
    # a datetime shows its microseconds: pyreadstat's frame holds datetimes as datetime64[us]
    assert frame.iloc[-1].tolist() == ["1", "2", "1960-01-02", "1960-01-01T00:00:01.000000", "00:00:01"]


def test_a_missing_code_followed_by_other_bytes_is_a_number(tmp_path):
    rows = [ibm("2E 10 00 00 00 00 00 00"), ibm("41 00 00 00 00 00 00 01")]  # '.' then 0x10: 16^(46-64) x 1/16
    frame, _ = read_both(xport_file(tmp_path / "dot.xpt", [numeric(b"N")], rows))
    assert frame["N"].iloc[0] == repr(2.0 ** -76)


def test_numbers_of_every_length_sign_and_magnitude(tmp_path):
    variables = [numeric(b"N8")] + [numeric(b"N%d" % n, n) for n in range(3, 8)]
    rows = []
    for pattern, _ in KNOWN:
        raw = ibm(pattern)
        rows.append(raw + b"".join(raw[:n] for n in range(3, 8)))
    frame, _ = read_both(xport_file(tmp_path / "numbers.xpt", variables, rows))
    # infinity is '' as _column_as_text renders it (the cell rule _as_text would write 'inf')
    assert frame["N8"].tolist() == [io._as_text(value) if math.isfinite(value) else "" for _, value in KNOWN]
    assert frame["N8"].tolist()[:5] == ["1", "-118.625", "100", "-0.5", "0.1"] and frame["N8"].iloc[8] == ""
    assert frame["N3"].tolist()[:4] == ["1", "-118.625", "100", "-0.5"]  # these need no more than 3 bytes
    assert frame["N5"].iloc[10] == repr(0x3243F6A8 / 2 ** 28)


def test_random_byte_patterns_convert_as_readstat_converts_them(tmp_path):
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 256, (3000, 8), dtype=np.uint8)
    raw[::7, 0] = rng.choice([0x00, 0x40, 0x41, 0xC1, 0x7F, 0xFF], len(raw[::7]))
    raw[::11, 1] &= 0x0F  # unnormalised fractions: leading hex digit 0
    raw[raw[:, 1:].sum(axis=1) == 0, 1] = 1  # no all-zero tail: ReadStat makes those NaN
    variables = [numeric(b"N8"), numeric(b"N5", 5), numeric(b"N3", 3)]
    rows = [bytes(r) + bytes(r[:5]) + bytes(r[:3]) for r in raw if r[1:3].any()]
    read_both(xport_file(tmp_path / "random.xpt", variables, rows))


# Dates, datetimes and times ---------------------------------------------------------------------------------------

def test_dates_datetimes_and_times_as_iso_text(tmp_path):
    dates = [(b"DATE", 9), (b"YYMMDD", 10), (b"E8601DA", 10), (b"MMDDYY", 10), (b"WEEKDAY", 9)]
    datetimes = [(b"DATETIME", 20), (b"E8601DT", 19), (b"BEST", 12)]
    times = [(b"TIME", 8), (b"TOD", 8), (b"HHMM", 5)]
    formats = dates + datetimes + times
    variables = [numeric(b"V%d" % i, fmt=f, width=w) for i, (f, w) in enumerate(formats)]
    seconds_2020 = 21915 * 86400  # 1960-2020: 60 years of 365 days and 15 leap days
    day_values = [0, 21915, -1, 21915.75, -0.5, 2936549, -21914, 1, 2]
    second_values = [0, seconds_2020 + 3661, -0.5, 1.5, 86399.9999996, -86400.25, 0.0000005, 2.5e-6, 1234567.125]
    time_values = [0, 45296, 86399, 1.5, 86399.9999996, 0.25, 0.0000005, 2.5e-6, 3600 * 30]
    rows = [float_ibm(d) * len(dates) + float_ibm(s) * len(datetimes) + float_ibm(t) * len(times)
            for d, s, t in zip(day_values, second_values, time_values)] + [(b"." + bytes(7)) * len(formats)]
    frame, meta = read_both(xport_file(tmp_path / "dates.xpt", variables, rows))
    assert meta["formats"]["V0"] == "DATE9" and meta["formats"]["V7"] == "BEST12"
    # days truncated towards zero; 9999-12-31 is day 2,936,549
    assert frame["V0"].tolist()[:7] == ["1960-01-01", "2020-01-01", "1959-12-31", "2020-01-01", "1960-01-01",
                                        "9999-12-31", "1900-01-01"]
    assert frame["V4"].iloc[1] == "21915"  # WEEKDAY is not a full date for pyreadstat: the number
    assert frame["V5"].iloc[1] == "2020-01-01T01:01:01.000000"  # datetime64[us] in pyreadstat's frame
    assert frame["V5"].iloc[2] == "1959-12-31T23:59:59.500000"
    assert frame["V8"].iloc[1] == "12:34:56" and frame["V8"].iloc[3] == "00:00:01.500000"
    assert (frame.iloc[-1] == "").all()


def test_dates_beyond_python_dates_are_left_to_pyreadstat(tmp_path):
    path = xport_file(tmp_path / "far.xpt", [numeric(b"D", fmt=b"DATE", width=9)], [float_ibm(2936550)])
    layout, rows, blank = io._xport_structure(path)
    assert io._read_xport_columns(path, layout, rows, blank, None) is None
    with pytest.raises(io.RawReadError, match="OverflowError|ValueError"):
        io.read_raw(path)


def float_ibm(value: float) -> bytes:
    """A double as IBM floating point, exactly when it fits in 56 fraction bits (the values used here do)."""
    if value == 0:
        return bytes(8)
    sign = 0x80 if value < 0 else 0
    exponent = math.floor(math.log(abs(value), 16)) + 1
    fraction = abs(value) / 16.0 ** exponent
    while fraction >= 1:
        fraction, exponent = fraction / 16, exponent + 1
    while fraction < 1 / 16:
        fraction, exponent = fraction * 16, exponent - 1
    digits = int(fraction * 2 ** 56)
    assert digits / 2 ** 56 * 16.0 ** exponent == abs(value)
    return bytes([sign | (exponent + 64)]) + digits.to_bytes(7, "big")


def test_float_ibm_helper_matches_the_hand_patterns():
    for pattern, value in KNOWN[:7]:
        assert float_ibm(value) == ibm(pattern)


# Text ---------------------------------------------------------------------------------------------------------------

def test_leading_blanks_kept_trailing_blanks_removed(tmp_path):
    rows = [b"  ab  ", b"a b   ", b"      ", b"abcdef", b" " * 5 + b"x"]
    frame, _ = read_both(xport_file(tmp_path / "blanks.xpt", [text(b"C", 6), numeric(b"N", 3)],
                                    [r + ibm("41 10 00") for r in rows]))
    assert frame["C"].tolist() == ["  ab", "a b", "", "abcdef", "     x"]


@pytest.mark.parametrize("encoding", ["LATIN1", "ISO-8859-1", "latin1"])
def test_latin1_text_with_its_encoding(tmp_path, encoding):
    values = ["café", "Ärzte ", "naïve", "ÿ", "plain", "\x85\xa0x"]
    variables = [text(b"C", 8), (b"L", 2, 4, b"", 0, 0, "Lab\xe9l".encode("latin-1")), text(b"W", 12)]
    rows = [v.encode("latin-1").ljust(8) + b"ab  " + (" " + v).encode("latin-1").ljust(12) for v in values]
    frame, meta = read_both(xport_file(tmp_path / "latin1.xpt", variables, rows, label="Donn\xe9es".encode("latin-1")),
                            encoding)
    assert frame["C"].tolist() == [v.rstrip() for v in values]  # up to 8 bytes: decoded once per distinct value
    assert frame["W"].tolist() == [" " + v.rstrip() for v in values]  # wider: decoded row by row
    assert meta["labels"]["L"] == "Labél" and meta["dataset_label"] == "Données"


@pytest.mark.parametrize("encoding", [None, "utf-8", "UTF8"])
def test_utf8_text(tmp_path, encoding):
    values = ["café", "", "日本語", "Ω ", " x"]  # (a blank last observation would be padding)
    rows = [v.encode("utf-8").ljust(10) for v in values]
    frame, _ = read_both(xport_file(tmp_path / "utf8.xpt", [text(b"C", 10)], rows), encoding)
    assert frame["C"].tolist() == [v.rstrip() for v in values]


def test_text_that_is_not_utf8_is_refused_by_both(tmp_path):
    path = xport_file(tmp_path / "bad.xpt", [text(b"C", 4)], [b"caf\xe9"])
    layout, rows, blank = io._xport_structure(path)
    assert io._read_xport_columns(path, layout, rows, blank, None) is None
    with pytest.raises(UnicodeDecodeError):
        io._read_sas_pyreadstat(path, ".xpt", None)
    with pytest.raises(io.RawReadError, match="not valid utf-8"):
        io.read_raw(path)


# What the numpy reader leaves to pyreadstat --------------------------------------------------------------------------

def test_nul_bytes_in_text_are_read_by_pyreadstat(tmp_path):
    rows = [b"a\0b   ", b" x  \0 ", b"ab\0\0\0\0"]
    read_both(xport_file(tmp_path / "nul.xpt", [text(b"C", 6)], rows), numpy_reads=False)


def test_two_byte_numbers_are_read_by_pyreadstat(tmp_path):
    read_both(xport_file(tmp_path / "short.xpt", [numeric(b"N", 2)], [b"\x41\x10"] * 3), numpy_reads=False)


def test_zero_tail_bytes_that_are_no_missing_value_are_read_by_pyreadstat(tmp_path):
    rows = [ibm("80 00 00 00 00 00 00 00"), ibm("41 10 00 00 00 00 00 00")]  # ReadStat: NaN, not a missing value
    read_both(xport_file(tmp_path / "odd.xpt", [numeric(b"N")], rows), numpy_reads=False)


def test_version_8_files_are_read_by_pyreadstat(tmp_path):
    path = tmp_path / "v8.xpt"
    pyreadstat.write_xport(pd.DataFrame({"LONGVARIABLENAME": ["a", "b"], "N": [1.5, None]}), str(path),
                           file_format_version=8)
    read_both(path, numpy_reads=False)


def test_other_encodings_are_read_by_pyreadstat(tmp_path):
    read_both(xport_file(tmp_path / "cp.xpt", [text(b"C", 4)], [b"caf\xe9"]), "WINDOWS-1252", numpy_reads=False)


def test_an_encoding_name_iconv_does_not_know_is_refused_as_before(tmp_path):
    path = xport_file(tmp_path / "l1.xpt", [text(b"C", 4)], [b"caf\xe9"])
    layout, rows, blank = io._xport_structure(path)
    assert io._read_xport_columns(path, layout, rows, blank, "latin-1") is None
    with pytest.raises(io.RawReadError, match="unsupported character set"):
        io.read_raw(path, encoding="latin-1")


def test_a_blank_observation_inside_the_data_is_a_row(tmp_path):
    rows = [b"ab" + ibm("41 10 00 00 00 00 00 00"), b" " * 10, b"cd" + ibm("41 20 00 00 00 00 00 00")]
    frame, _ = read_both(xport_file(tmp_path / "blankrow.xpt", [text(b"C", 2), numeric(b"N")], rows))
    assert frame["C"].tolist() == ["ab", "", "cd"]
    assert frame["N"].iloc[1] == repr(0x20202020202020 / 2 ** 56 * 16.0 ** -32)  # eight blanks as an IBM number


def test_no_rows(tmp_path):
    read_both(xport_file(tmp_path / "empty.xpt", [text(b"C", 2), numeric(b"N", fmt=b"DATE", width=9)], []))


def previous_column_as_text(column: pd.Series) -> pd.Series:
    """``io._column_as_text`` for numbers as it was before it rendered each distinct number once (the reference)."""
    values = column.to_numpy()
    whole = np.isfinite(values) & (np.mod(values, 1) == 0) & (np.abs(values) < 1e15)
    text = column.astype(str)
    text[whole] = column[whole].astype("int64").astype(str)
    return text.where(np.isfinite(values), "")


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_numbers_rendered_once_per_distinct_value_as_row_by_row(n):
    rng = np.random.default_rng(n)
    special = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e15, 1e15 - 1, -1e15, 1e16, 0.1, 5e-324, 1.7976931348623157e308]
    values = np.concatenate([rng.normal(0, 1e3, n), rng.integers(-50, 50, n).astype(float),
                             np.round(rng.normal(size=n), 1), special[:n + 1]])
    rng.shuffle(values)
    column = pd.Series(values, index=np.arange(len(values)) * 3, name="X")
    pd.testing.assert_series_equal(io._column_as_text(column), previous_column_as_text(column), check_exact=True)


def test_text_columns_are_their_cell_text():
    from ucmsc.checks import cell_text
    from ucmsc.ingest import _cells_as_text

    for values in (pd.Series(["a", " b ", "", None, "3.0"], dtype="str"), pd.Series(["a", None], dtype="string"),
                   pd.Series([1.0, 2.5, None, "x"], dtype=object)):
        pd.testing.assert_series_equal(_cells_as_text(values).astype(object), values.map(cell_text).astype(object))
