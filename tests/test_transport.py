"""The SAS transport writer against independent references: pyreadstat's (ReadStat's) writer byte for byte, and
IBM doubles computed by hand from SAS TS-140's definition (sign, excess-64 base-16 exponent, 56-bit fraction)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from ucmsc.transport import _ibm_doubles, read_xpt, write_xpt

STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")  # the creation time written into the headers


@pytest.mark.parametrize("value, expected", [
    (1.0, "4110000000000000"),  # 0.1 (hex) x 16^1
    (-1.0, "C110000000000000"),
    (0.5, "4080000000000000"),  # 0.8 (hex) x 16^0
    (100.0, "4264000000000000"),  # 0x64 = 100: 0.64 (hex) x 16^2
    (0.1, "401999999999999A"),  # 0.1 in binary, its 53 bits moved into the 56-bit fraction
    (0.0, "0000000000000000"),
    (np.nan, "2E00000000000000"),  # SAS missing '.'
])
def test_ibm_doubles_as_sas_ts140_defines_them(value, expected):
    assert bytes(_ibm_doubles(np.array([value]))[0]).hex().upper() == expected


def reference_file(frame, path, dataset, label, labels, formats=None):
    pyreadstat.write_xport(frame, str(path), file_label=label, table_name=dataset.upper(),
                           column_labels=[labels.get(c, "") or None for c in frame.columns], file_format_version=5,
                           variable_format=formats)
    return STAMP.sub(b"-" * 16, path.read_bytes())


def test_the_file_is_the_one_pyreadstat_writes(tmp_path):
    rng = np.random.default_rng(7)
    n = 1003  # observations that do not end on an 80-byte record
    numbers = np.concatenate([rng.normal(0, 1e4, n - 9), [0.0, -0.0, np.nan, 1e-300, -1e300, np.inf, 1 / 3, 2.5, 7]])
    text = pd.Series(rng.choice(["", "a", "héllo wörld", "X" * 200, "ab c "], n))
    frame = pd.DataFrame({"NUM": numbers, "TEXT": text.astype(str), "OBJ": text.astype(object), "SEQ": np.arange(n),
                          "BLANK": [""] * n})
    labels = {"NUM": "A number", "TEXT": "Texte é"}
    for rows, name in ((slice(None), "all"), (slice(0, 0), "none"), (slice(0, 1), "one")):
        write_xpt(frame.iloc[rows], tmp_path / f"{name}.xpt", "dm", "Demographics", labels)
        expected = reference_file(frame.iloc[rows].reset_index(drop=True), tmp_path / f"{name}.ref", "dm",
                                  "Demographics", labels)
        assert STAMP.sub(b"-" * 16, (tmp_path / f"{name}.xpt").read_bytes()) == expected
    back, meta = read_xpt(tmp_path / "all.xpt")
    assert meta["dataset"] == "DM" and meta["labels"]["TEXT"] == "Texte é"
    in_range = (np.abs(numbers) < 1e70) & ((np.abs(numbers) > 1e-70) | (numbers == 0))  # IBM exponents: 16^-65..16^62
    pd.testing.assert_series_equal(back["NUM"][in_range], pd.Series(numbers, name="NUM")[in_range])  # every IEEE bit
    assert back["NUM"][numbers == 1e-300].eq(0).all() and back["NUM"][numbers == -1e300].eq(-np.inf).all()
    assert back["TEXT"].tolist() == text.str.rstrip().tolist()


def test_dates_and_datetimes_are_the_numbers_pyreadstat_writes(tmp_path):
    frame = pd.DataFrame({"ADT": ["2019-03-01", "", "1959-12-31", None],
                          "ADTM": pd.to_datetime(["2019-03-01T10:11:12.5", None, "1960-01-01", "2100-01-01T00:00:01"],
                                                 format="mixed"),
                          "AVAL": [1, 2, 3, 4]})
    types = {"ADT": "date", "ADTM": "datetime", "AVAL": "integer"}
    write_xpt(frame, tmp_path / "a.xpt", "ADX", "dates", {"ADT": "Date"}, types)
    stored = pd.DataFrame({"ADT": [pd.Timestamp("2019-03-01").date(), None, pd.Timestamp("1959-12-31").date(), None],
                           "ADTM": frame["ADTM"], "AVAL": frame["AVAL"].astype(float)})
    expected = reference_file(stored, tmp_path / "a.ref", "ADX", "dates", {"ADT": "Date"},
                              {"ADT": "DATE9.", "ADTM": "DATETIME20."})
    assert STAMP.sub(b"-" * 16, (tmp_path / "a.xpt").read_bytes()) == expected
    back, _ = read_xpt(tmp_path / "a.xpt")
    assert back["ADT"].iloc[0] == pd.Timestamp("2019-03-01").date() and pd.isna(back["ADT"].iloc[1])


def test_arrow_backed_text_in_several_chunks_is_written_as_plain_text(tmp_path):
    text = pd.Series(pd.arrays.ArrowStringArray(__import__("pyarrow").chunked_array([["a", None], ["bcd"]])))
    frame = pd.DataFrame({"T": text, "N": [1.0, 2.0, 3.0]})
    write_xpt(frame, tmp_path / "a.xpt", "A", "a", {})
    expected = reference_file(pd.DataFrame({"T": ["a", "", "bcd"], "N": [1.0, 2.0, 3.0]}), tmp_path / "a.ref", "A",
                              "a", {})
    assert STAMP.sub(b"-" * 16, (tmp_path / "a.xpt").read_bytes()) == expected
