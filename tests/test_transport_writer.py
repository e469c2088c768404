"""The column-wise SAS transport v5 writer against ReadStat's (pyreadstat.write_xport): the same bytes but for the
creation times, and the fallback to ReadStat for values the IBM format cannot hold."""

import re

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from ucmsc import transport

STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")
TYPES = {"NUM": "float", "INT": "integer", "TXT": "text", "EMPTY": "text", "DT": "datetime", "D": "date",
         "MANY": "text"}


def frame(n: int = 500, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    number = rng.normal(0, 1e6, n)
    number[::5] = np.nan
    number[1:8] = [-0.0, 0.0, 1e-70, -1e70, 2.2, 0.1, -123.456]
    return pd.DataFrame({
        "NUM": number, "INT": rng.integers(0, 10, n).astype(float),
        "TXT": pd.Series(rng.choice(["a", "", "héllo", "Y  ", " x"], n), dtype="str"),
        "EMPTY": pd.Series([""] * n, dtype="str"),
        # mostly distinct values of 0 to 13 bytes, multi-byte characters among them
        "MANY": pd.Series([("" if i % 11 == 0 else f"v{i}") + "é日" * (i % 3) for i in range(n)], dtype="str"),
        "DT": pd.to_datetime(pd.Series(rng.integers(0, 10**9, n) * 10**6 + 123456)).where(rng.random(n) > 0.2),
        "D": pd.Series(pd.to_datetime(rng.integers(-5000, 20000, n), unit="D")).where(rng.random(n) > 0.2)})


def readstat_bytes(data: pd.DataFrame, path, labels: dict) -> bytes:
    stored = transport.storage_frame(data, TYPES, "ADX")
    formats = {c: transport.FORMATS[TYPES[c]] for c in stored.columns if TYPES.get(c) in transport.FORMATS}
    pyreadstat.write_xport(stored, str(path), file_label="A label", table_name="ADX",
                           column_labels=[labels.get(c, "") or None for c in stored.columns], file_format_version=5,
                           variable_format=formats)
    return STAMP.sub(b"T", path.read_bytes())


@pytest.mark.parametrize("rows", [slice(0, 0), slice(0, 1), slice(None)])
def test_writer_matches_readstat(tmp_path, monkeypatch, rows):
    data = frame().iloc[rows]
    labels = {"NUM": "A number", "TXT": "Some text"}
    used = []
    write_v5 = transport._write_v5
    monkeypatch.setattr(transport, "_write_v5", lambda *a, **k: (used.append(1), write_v5(*a, **k)))
    monkeypatch.setattr(transport, "ROWS_PER_BLOCK", 64)  # several blocks
    transport.write_xpt(data, tmp_path / "mine.xpt", "ADX", "A label", labels, TYPES)
    # no rows: the date column has no date, ReadStat decides its type (text) and writes the file
    assert used or not len(data), "the column-wise writer was not used"
    assert STAMP.sub(b"T", (tmp_path / "mine.xpt").read_bytes()) == readstat_bytes(data, tmp_path / "rs.xpt", labels)
    back, meta = transport.read_xpt(tmp_path / "mine.xpt")
    assert meta["label"] == "A label" and meta["labels"]["NUM"] == "A number" and len(back) == len(data)
    assert transport.read_xpt_labels(tmp_path / "mine.xpt") == meta


def test_ibm_doubles_known_values():
    # IBM hexadecimal floating point (TS-140): 1 = 0x41 10..., 0.1 = 0x40 19999999999999 (exact from the double),
    # -2.5 = 0xC1 28..., SAS missing '.' = 0x2E 00...
    got = transport._ibm_doubles(np.array([1.0, 0.1, -2.5, 0.0, np.nan]))
    assert [bytes(row).hex() for row in got] == ["4110000000000000", "401999999999999a", "c128000000000000",
                                                 "0000000000000000", "2e00000000000000"]


def test_values_outside_ibm_range_fall_back_to_readstat(tmp_path, monkeypatch):
    data = frame().assign(NUM=5e-300)
    monkeypatch.setattr(transport, "_write_v5", lambda *a, **k: pytest.fail("IBM format cannot hold 5e-300"))
    transport.write_xpt(data, tmp_path / "x.xpt", "ADX", "A label", {}, TYPES)
    assert STAMP.sub(b"T", (tmp_path / "x.xpt").read_bytes()) == readstat_bytes(data, tmp_path / "rs.xpt", {})


def test_categorical_columns_written_as_their_text(tmp_path):
    """The BDS holds low-cardinality text as categories: Parquet, data dictionary and transport file get the text."""
    from ucmsc.io import categories_as_text, write_table

    text = pd.Series(["ALT", "AST", None, "ALT", "é"], dtype="str")
    category = text.astype("category")
    pd.testing.assert_series_equal(categories_as_text(category), text)
    assert list(categories_as_text(category, ["a", "b", "c", "-"])) == ["a", "b", "-", "a", "c"]
    write_table(pd.DataFrame({"PARAMCD": text, "AVAL": 1.0}), tmp_path / "text.parquet")
    write_table(pd.DataFrame({"PARAMCD": category, "AVAL": 1.0}), tmp_path / "category.parquet")
    assert (tmp_path / "text.parquet").read_bytes() == (tmp_path / "category.parquet").read_bytes()
    types = {"PARAMCD": "text", "AVAL": "float"}
    for name, column in (("text", text), ("category", category)):
        transport.write_xpt(pd.DataFrame({"PARAMCD": column, "AVAL": 1.0}), tmp_path / f"{name}.xpt", "ADX", "L", {},
                            types)
    assert STAMP.sub(b"T", (tmp_path / "text.xpt").read_bytes()) == \
        STAMP.sub(b"T", (tmp_path / "category.xpt").read_bytes())


def test_categorical_text_written_from_codes_as_readstat_writes_the_text(tmp_path, monkeypatch):
    """A text column held as categories (missing values, an unused category longer than any used value) gives the
    bytes ReadStat writes for the same values as plain text."""
    data = frame()
    text = data["TXT"].where(np.arange(len(data)) % 7 != 0)  # some missing: stored as ""
    data["TXT"] = pd.Categorical(text, categories=["a", "", "héllo", "Y  ", " x", "an unused, much longer category"])
    used = []
    write_v5 = transport._write_v5
    monkeypatch.setattr(transport, "_write_v5", lambda *a, **k: (used.append(1), write_v5(*a, **k)))
    transport.write_xpt(data, tmp_path / "mine.xpt", "ADX", "A label", {}, TYPES)
    assert used, "the column-wise writer was not used"
    plain = data.assign(TXT=text.fillna("").astype("str"))
    assert STAMP.sub(b"T", (tmp_path / "mine.xpt").read_bytes()) == readstat_bytes(plain, tmp_path / "rs.xpt", {})
    back, _ = transport.read_xpt(tmp_path / "mine.xpt")
    assert back["TXT"].tolist() == [v.rstrip() for v in plain["TXT"]]  # ReadStat strips trailing blanks on reading


@pytest.mark.parametrize("values, representable", [
    ([], True), ([0.0, -0.0], True), ([1.0, -2.5, 0.0], True),
    ([1e75, -1e-78], True),  # 16**63 > 1e75 and 16**-65 < 1e-78: inside the IBM range
    ([1.0, 1e76], False), ([-1e76, 0.0], False),  # 1e76 > 16**63: exponent 64 does not fit
    ([1.0, 5e-300], False), ([0.0, 5e-324, 1.0], False),  # too small; a subnormal double
])
def test_ibm_range_by_hand(values, representable):
    assert transport._ibm_representable(np.array(values, dtype=float)) is representable
