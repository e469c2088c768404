"""SAS transport (XPORT v5) files of the ADaM datasets and the clean SDTM-like domains, with labels.

Types follow the ADaM spec: text as character (missing = blank), integer and float as 8-byte numerics, date and
datetime as SAS dates (DATE9.) and datetimes (DATETIME20.) whatever the Parquet holds (ISO text or datetimes).
Version 5 limits (SAS V5 transport, FDA Technical Conformance Guide section 3.3): names of 8 characters, labels of
40, character values of 200 bytes; a value or name beyond them stops the write naming dataset, variable and row.
"""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from ucmsc.dates import complete_date
from ucmsc.io import categories_as_text, is_text_categorical, utf8_lengths

MAX_TEXT_BYTES = 200
FORMATS = {"date": "DATE9.", "datetime": "DATETIME20."}


class TransportError(ValueError):
    """A dataset cannot be written as SAS transport v5; the message names dataset, variable and row."""


def _as_type(values: pd.Series, kind: str, sas_days: bool = False) -> pd.Series:
    """``values`` converted to what the transport file stores for the spec type; a date as ``datetime.date`` (what
    ReadStat takes), or with ``sas_days`` as the number SAS stores: days since 1960-01-01."""
    if kind == "date":
        when = complete_date(values)  # a partial date ("2019-03") is not a SAS date
        if not pd.api.types.is_datetime64_any_dtype(values):
            bad = (values.fillna("").astype(str).str.strip() != "") & when.isna()
            if bad.any():
                raise ValueError(f"row {int(np.flatnonzero(bad.to_numpy())[0]) + 1}: {values[bad].iloc[0]!r} is not a "
                                 "complete date")
        if sas_days and when.notna().any():  # (without any date ReadStat decides the column's type)
            days = when.to_numpy().astype("datetime64[D]").view(np.int64) + SAS_EPOCH_DAYS
            return pd.Series(np.where(when.isna().to_numpy(), np.nan, days.astype(float)), index=values.index)
        days = when.dt.date.to_numpy(dtype=object, copy=True)  # datetime.date objects, None where missing
        days[when.isna().to_numpy()] = None
        return pd.Series(days, index=values.index, dtype=object)
    if kind == "datetime":
        return pd.to_datetime(values.replace("", None) if values.dtype == object else values, errors="coerce",
                              format="mixed")
    if kind in ("integer", "float"):
        return pd.to_numeric(values, errors="raise").astype(float)
    if is_text_categorical(values):  # stays categorical: written from its codes, each category encoded once
        if values.isna().any():
            values = (values if "" in values.cat.categories else values.cat.add_categories([""])).fillna("")
        return values
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = categories_as_text(values)
    if isinstance(values.dtype, pd.StringDtype):
        return values.fillna("")
    text = values.astype(object).where(values.notna(), "").astype(str)
    return text.where(text != "nan", "") if values.dtype.kind == "f" else text


def storage_frame(frame: pd.DataFrame, types: dict[str, str], dataset: str, sas_days: bool = False) -> pd.DataFrame:
    """The frame as the transport file stores it (dates: see ``_as_type``); too long names or text values stop with
    dataset, variable, row."""
    out = {}
    for column in frame.columns:
        if len(column) > 8:
            raise TransportError(f"{dataset}.{column}: name longer than 8 characters (SAS V5 transport)")
        kind = types.get(column, "float" if pd.api.types.is_numeric_dtype(frame[column]) else "text")
        try:
            out[column] = _as_type(frame[column], kind, sas_days)
        except (ValueError, TypeError) as error:
            raise TransportError(f"{dataset}.{column}: not {kind}: {error}") from error
        if kind == "text":
            size = pd.Series(utf8_lengths(out[column]), index=out[column].index)
            if len(size) and size.max() > MAX_TEXT_BYTES:
                row = int(size.idxmax()) + 1
                raise TransportError(f"{dataset}.{column} row {row}: {size.max()} bytes, SAS V5 transport holds "
                                     f"{MAX_TEXT_BYTES}")
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def write_xpt(frame: pd.DataFrame, path: str | Path, dataset: str, label: str, labels: dict[str, str],
              types: dict[str, str] | None = None) -> None:
    """One dataset as a SAS transport v5 file: member ``dataset``, its label and each variable's label; ``types`` as
    the spec gives them (a variable without one: numeric if stored as numbers, else text)."""
    if len(label) > 40 or any(len(v) > 40 for v in labels.values()):
        raise TransportError(f"{dataset}: a label longer than 40 characters")
    types = types or {}
    stored = storage_frame(frame, types, dataset, sas_days=True)  # dates as SAS day numbers: no date objects
    formats = {c: FORMATS[types[c]] for c in stored.columns if types.get(c) in FORMATS}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    column_labels = [labels.get(c, "") or None for c in stored.columns]
    numbers = _numeric_columns(stored)
    if numbers is None:  # a column whose storage ReadStat decides otherwise: written by it
        stored = storage_frame(frame, types, dataset)  # dates as ReadStat takes them
        stored = stored.assign(**{c: categories_as_text(stored[c]) for c in stored.columns
                                  if isinstance(stored[c].dtype, pd.CategoricalDtype)})
        pyreadstat.write_xport(stored, str(partial), file_label=label, table_name=dataset.upper(),
                               column_labels=column_labels, file_format_version=5, variable_format=formats or None)
    else:
        _write_v5(stored, numbers, partial, dataset.upper(), label, column_labels, formats)
    partial.replace(path)


def read_xpt_labels(path: str | Path) -> dict:
    """A transport file's {"dataset", "label", "labels"}, without reading its data."""
    _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
    return {"dataset": meta.table_name, "label": meta.file_label or "",
            "labels": dict(zip(meta.column_names, [v or "" for v in meta.column_labels]))}


def read_xpt(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """A transport file back: its data and {"dataset", "label", "labels"}."""
    frame, meta = pyreadstat.read_xport(str(path))
    return frame, {"dataset": meta.table_name, "label": meta.file_label or "",
                   "labels": dict(zip(meta.column_names, [v or "" for v in meta.column_labels]))}


# --- SAS transport v5, written column-wise ----------------------------------------------------------------------
# The layout of SAS technical note TS-140 ("The record layout of a data set in SAS transport (XPORT) format") as
# ReadStat (pyreadstat.write_xport, version 5) writes it, byte for byte but for the creation times: 80-byte header
# records, one 140-byte NAMESTR per variable, then the observations back to back, blank-padded to 80 bytes.
SAS_EPOCH_DAYS = 3653  # days from 1960-01-01 (SAS) to 1970-01-01
SAS_EPOCH_SECONDS = 315619200
MISSING_NUMBER = 0x2E << 56  # SAS missing '.': 0x2E then seven zero bytes
ROWS_PER_BLOCK = 1 << 16


def _numeric_columns(stored: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """Each non-text column of ``storage_frame`` as the doubles ReadStat stores (dates in days and datetimes in
    seconds since 1960), or None when a column is not one this writer reproduces (ReadStat writes those)."""
    numbers = {}
    for column in stored.columns:
        values = stored[column]
        if isinstance(values.dtype, pd.StringDtype) or is_text_categorical(values):
            continue
        if pd.api.types.is_datetime64_any_dtype(values) and values.dt.tz is None:
            # pyreadstat: whole seconds since 1960 plus the fraction, NaT missing
            unit = np.datetime_data(values.dtype)[0]
            per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}.get(unit)
            if per_second is None:
                return None
            ticks = values.to_numpy().view(np.int64)
            seconds = (ticks // per_second + SAS_EPOCH_SECONDS).astype(float) + (ticks % per_second) / per_second
            numbers[column] = np.where(values.isna().to_numpy(), np.nan, seconds)
        elif values.dtype == object:  # datetime.date or None (``_as_type`` of a date)
            present = values.notna().to_numpy()
            if not present.any() or any(type(v) is not date for v in values[present]):
                return None
            days = pd.to_datetime(values).to_numpy().astype("datetime64[D]").view(np.int64)
            numbers[column] = np.where(present, (days + SAS_EPOCH_DAYS).astype(float), np.nan)
        elif values.dtype == np.float64:
            numbers[column] = values.to_numpy()
        else:
            return None
        finite = numbers[column][~np.isnan(numbers[column])]
        if not np.isfinite(finite).all() or (len(finite) and not _ibm_representable(finite)):
            return None
    return numbers


def _ibm_representable(values: np.ndarray) -> bool:
    """Every value zero or a normal double within the IBM hexadecimal exponent range. The exponent grows with the
    magnitude: the smallest and largest nonzero magnitudes decide (one temporary, not one per bit operation)."""
    magnitude = np.abs(values)
    largest = magnitude.max(initial=0.0)
    if largest == 0:
        return True
    bits = np.array([magnitude.min(where=magnitude > 0, initial=np.inf), largest]).view(np.uint64)
    exponent = ((bits >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    power = -((-(exponent - 1022)) // 4)  # ceil(binary exponent / 4)
    return bool((exponent > 0).all() and ((power + 64 >= 0) & (power + 64 <= 127)).all())


def _ibm_doubles(values: np.ndarray) -> np.ndarray:
    """IEEE doubles as big-endian IBM System/360 doubles (TS-140's conversion, exact for normal doubles: the 53-bit
    mantissa shifts left into the 56-bit fraction); NaN as SAS missing, 0 as eight zero bytes."""
    bits = values.view(np.uint64)
    sign = bits >> np.uint64(63)
    exponent = ((bits >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    mantissa = (bits & np.uint64((1 << 52) - 1)) | np.uint64(1 << 52)
    binary = exponent - 1022  # value = mantissa / 2**53 * 2**binary
    power = -((-binary) // 4)  # ceil(binary / 4): value = fraction * 16**power
    fraction = mantissa << (3 - (4 * power - binary)).astype(np.uint64)
    ibm = (sign << np.uint64(63)) | ((power + 64).astype(np.uint64) << np.uint64(56)) | fraction
    ibm[(bits << np.uint64(1)) == 0] = 0
    ibm[np.isnan(values)] = MISSING_NUMBER
    return ibm.astype(">u8").view(np.uint8).reshape(-1, 8)


def _distinct_text(values: pd.Series, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A text column as its distinct values, each ``width`` bytes (UTF-8, blank-padded; one numpy void item), and
    each record's number among them: the column is encoded once, the records then take theirs block by block."""
    import pyarrow as pa

    if is_text_categorical(values):  # its codes, among the categories used (no missing values here: ``_as_type``)
        codes = values.cat.codes.to_numpy()
        used = np.flatnonzero(np.bincount(codes, minlength=len(values.cat.categories)))
        renumber = np.zeros(len(values.cat.categories), dtype=np.int64)
        renumber[used] = np.arange(len(used))
        codes, uniques = renumber[codes], values.cat.categories[used]
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
    encoded = pa.array(uniques, type=pa.large_string())
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    encoded = encoded.cast(pa.large_binary())
    offsets = np.frombuffer(encoded.buffers()[1], dtype=np.int64)[encoded.offset:encoded.offset + len(encoded) + 1]
    lengths = np.diff(offsets)
    rows = np.full((max(len(encoded), 1), width), 0x20, dtype=np.uint8)
    if lengths.sum():  # each byte to its value's row, at its place in the value
        data = np.frombuffer(encoded.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
        row = np.repeat(np.arange(len(lengths)), lengths)
        rows[row, np.arange(len(data)) - np.repeat(offsets[:-1] - offsets[0], lengths)] = data
    # the codes of every text column are held while the file is written: in the smallest integer type that fits
    return codes.astype(np.min_scalar_type(len(rows))), rows.view(f"V{width}")[:, 0]


def _sas_time(moment: time.struct_time) -> bytes:
    month = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")[moment.tm_mon - 1]
    return (f"{moment.tm_mday:02d}{month}{moment.tm_year % 100:02d}:{moment.tm_hour:02d}:{moment.tm_min:02d}:"
            f"{moment.tm_sec:02d}").encode("ascii")


def _pad(text: bytes | str, width: int, fill: bytes = b" ") -> bytes:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return raw[:width] + fill * (width - len(raw[:width]))


def _header(kind: str, tail: str = "0" * 30) -> bytes:
    return f"HEADER RECORD*******{kind:<8}HEADER RECORD!!!!!!!{tail}  ".encode("ascii")


def _write_v5(stored: pd.DataFrame, numbers: dict[str, np.ndarray], path: Path, name: str, label: str,
              column_labels: list[str | None], formats: dict[str, str]) -> None:
    """``stored`` as a transport v5 file, as ReadStat writes it (text width: the longest value, at least 1 byte)."""
    import struct

    stamp = _sas_time(time.localtime())
    widths = {c: 8 if c in numbers else max(1, int(utf8_lengths(stored[c]).max()) if len(stored) else 1)
              for c in stored.columns}
    head = [_header("LIBRARY"), b"SAS     SAS     SASLIB  6.06    bsd4.2  " + b" " * 24 + stamp, stamp + b" " * 64,
            _header("MEMBER", "0" * 17 + "1600000000140"), _header("DSCRPTR"),
            b"SAS     " + _pad(name, 8) + b"SASDATA 6.06    bsd4.2  " + b" " * 24 + stamp,
            stamp + b" " * 16 + _pad(label, 40) + b" " * 8,
            _header("NAMESTR", f"000000{len(stored.columns):04d}" + "0" * 20)]
    namestrs, position = [], 0
    for number, (column, column_label) in enumerate(zip(stored.columns, column_labels), start=1):
        shown = re.fullmatch(r"([A-Za-z_$]*?)(\d*)\.(\d*)", formats.get(column, "")) if column in formats else None
        form, form_width, form_decimals = (shown.group(1), int(shown.group(2) or 0), int(shown.group(3) or 0)) \
            if shown else ("", 0, 0)
        numeric = column in numbers
        namestrs.append(struct.pack(">hhhh8s40s8shhhh8shhi52s", 1 if numeric else 2, 0, widths[column], number,
                                    _pad(column, 8), _pad(column_label or "", 40), _pad(form, 8), form_width,
                                    form_decimals, 1 if numeric else 0, 0, b" " * 8, 0, 0, position, b"\0" * 52))
        position += widths[column]
    described = b"".join(namestrs)
    described += b" " * (-len(described) % 80)
    text = {c: _distinct_text(stored[c], widths[c]) for c in stored.columns if c not in numbers}
    with open(path, "wb") as out:
        out.write(b"".join(head) + described + _header("OBS"))
        for start in range(0, len(stored), ROWS_PER_BLOCK):
            stop = min(start + ROWS_PER_BLOCK, len(stored))
            block = np.empty((stop - start, position), dtype=np.uint8)
            offset = 0
            for column in stored.columns:
                width = widths[column]
                if column in numbers:
                    block[:, offset:offset + width] = _ibm_doubles(numbers[column][start:stop])
                else:
                    codes, distinct = text[column]  # a void item per value: one copy per record, not per byte
                    block[:, offset:offset + width].view(f"V{width}")[:, 0] = distinct[codes[start:stop]]
                offset += width
            out.write(block)  # the buffer itself, not a copy of it
        out.write(b" " * (-len(stored) * position % 80))
