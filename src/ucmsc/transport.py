"""SAS transport (XPORT v5) files of the ADaM datasets and the clean SDTM-like domains, with labels.

Types follow the ADaM spec: text as character (missing = blank), integer and float as 8-byte numerics, date and
datetime as SAS dates (DATE9.) and datetimes (DATETIME20.) whatever the Parquet holds (ISO text or datetimes).
Version 5 limits (SAS V5 transport, FDA Technical Conformance Guide section 3.3): names of 8 characters, labels of
40, character values of 200 bytes; a value or name beyond them stops the write naming dataset, variable and row.
"""

from __future__ import annotations

import re
import struct
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyreadstat

from ucmsc.dates import complete_date

MAX_TEXT_BYTES = 200
FORMATS = {"date": "DATE9.", "datetime": "DATETIME20."}


class TransportError(ValueError):
    """A dataset cannot be written as SAS transport v5; the message names dataset, variable and row."""


def _as_type(values: pd.Series, kind: str) -> pd.Series:
    """``values`` converted to what the transport file stores for the spec type."""
    if kind == "date":
        when = complete_date(values)  # a partial date ("2019-03") is not a SAS date
        if not pd.api.types.is_datetime64_any_dtype(values):
            bad = (values.fillna("").astype(str).str.strip() != "") & when.isna()
            if bad.any():
                raise ValueError(f"row {int(np.flatnonzero(bad.to_numpy())[0]) + 1}: {values[bad].iloc[0]!r} is not a "
                                 "complete date")
        return pd.Series([d.date() if pd.notna(d) else None for d in when], index=values.index, dtype=object)
    if kind == "datetime":
        return pd.to_datetime(values.replace("", None) if values.dtype == object else values, errors="coerce",
                              format="mixed")
    if kind in ("integer", "float"):
        return pd.to_numeric(values, errors="raise").astype(float)
    if isinstance(values.dtype, pd.StringDtype):  # already text: only its missing values change
        return values.fillna("")
    text = values.astype(object).where(values.notna(), "").astype(str)
    return text.where(text != "nan", "") if values.dtype.kind == "f" else text


def _text_bytes(values: pd.Series) -> pa.Array:
    """Text values as one UTF-8 binary array (what the transport file stores, before blank padding)."""
    array = pa.array(values, type=pa.large_string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):  # an Arrow-backed column: one contiguous buffer
        array = array.combine_chunks()
    return pc.fill_null(array, "").cast(pa.large_binary())


def storage_frame(frame: pd.DataFrame, types: dict[str, str], dataset: str) -> pd.DataFrame:
    """The frame as the transport file stores it; too long names or text values stop with dataset, variable, row."""
    out = {}
    for column in frame.columns:
        if len(column) > 8:
            raise TransportError(f"{dataset}.{column}: name longer than 8 characters (SAS V5 transport)")
        kind = types.get(column, "float" if pd.api.types.is_numeric_dtype(frame[column]) else "text")
        try:
            out[column] = _as_type(frame[column], kind)
        except (ValueError, TypeError) as error:
            raise TransportError(f"{dataset}.{column}: not {kind}: {error}") from error
        if kind == "text":
            size = pd.Series(pc.binary_length(_text_bytes(out[column])).to_numpy(zero_copy_only=False),
                             index=out[column].index)
            if len(size) and size.max() > MAX_TEXT_BYTES:
                row = int(size.idxmax()) + 1
                raise TransportError(f"{dataset}.{column} row {row}: {size.max()} bytes, SAS V5 transport holds "
                                     f"{MAX_TEXT_BYTES}")
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


# --- the file, as ReadStat (pyreadstat.write_xport, version 5) writes it, with the data area built by numpy ----------

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_SAS_EPOCH_DAYS = 3653  # days from 1960-01-01 (SAS) to 1970-01-01 (Unix)
_SAS_EPOCH_SECONDS = 315619200
_ROWS_PER_BLOCK = 100_000  # observations assembled at a time: bounds the memory of the data area


def _header(name: str, *numbers: int) -> bytes:
    """SAS TS-140 header record: "HEADER RECORD*******<name:8>HEADER RECORD!!!!!!!" and six 5-digit numbers."""
    text = f"HEADER RECORD*******{name:<8}HEADER RECORD!!!!!!!" + "".join(f"{n:05d}" for n in (numbers + (0,) * 6)[:6])
    return _record(text.encode("ascii"))


def _record(data: bytes) -> bytes:
    """Bytes padded with blanks to whole 80-byte records (SAS TS-140)."""
    return data + b" " * (-len(data) % 80)


def _ibm_float(values: np.ndarray) -> np.ndarray:
    """IEEE doubles as big-endian 8-byte IBM (transport) doubles, as SAS TS-140's ieee2xpt converts them; NaN is the
    SAS missing value '.' (0x2E followed by zeros)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    sign = bits >> np.uint64(63)
    exponent = ((bits >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64) - 1023
    fraction = (bits & np.uint64((1 << 52) - 1)) | np.uint64(1 << 52)  # the implicit leading 1 made explicit
    # value = 0.1xxx (base 16) x 16^(e/4 + 1): the binary exponent's low 2 bits shift the 56-bit fraction
    mantissa = fraction << (exponent & 3).astype(np.uint64)
    characteristic = ((exponent >> 2) + 65).astype(np.uint64)  # excess 64, plus 1 for the fraction's position
    ibm = (sign << np.uint64(63)) | ((characteristic & np.uint64(0x7F)) << np.uint64(56)) | mantissa
    ibm = np.where((bits << np.uint64(1)) == 0, np.uint64(0), ibm)  # +0 and -0
    ibm = np.where(exponent < -260, np.uint64(0), ibm)  # too small for IBM's exponent: 0
    ibm = np.where(exponent > 248, (sign << np.uint64(63)) | np.uint64(0x7FFFFFFFFFFFFFFF), ibm)  # too large, inf
    ibm = np.where(np.isnan(values), np.uint64(0x2E << 56), ibm)
    return ibm.astype(">u8").view(np.uint8).reshape(-1, 8)


def _numbers(values: pd.Series, kind: str) -> np.ndarray:
    """A stored column of a numeric kind as float64: SAS dates as days and datetimes as seconds since 1960-01-01."""
    if kind == "date":
        days = pd.to_datetime(values.astype(object), errors="raise").to_numpy(dtype="datetime64[D]")
        return np.where(np.isnat(days), np.nan, days.astype(np.int64) + _SAS_EPOCH_DAYS).astype(float)
    if kind == "datetime" and pd.api.types.is_datetime64_any_dtype(values):
        unit = np.datetime_data(values.dtype)[0]
        per_second = {"ns": 10**9, "us": 10**6, "ms": 10**3, "s": 1}[unit]
        ticks = values.to_numpy().view(np.int64)
        whole, fraction = np.divmod(ticks, per_second)  # pyreadstat: seconds + fraction / ticks per second
        seconds = (whole + _SAS_EPOCH_SECONDS).astype(float) + fraction.astype(float) / per_second
        return np.where(np.isnat(values.to_numpy()), np.nan, seconds)
    return values.to_numpy(dtype=float, na_value=np.nan)


def _namestr(number: int, name: str, label: str, length: int, numeric: bool, position: int, form: str) -> bytes:
    """One SAS TS-140 NAMESTR record (140 bytes), with the fields ReadStat fills (format, no informat); ``form``
    e.g. "DATE9."."""
    parsed = re.fullmatch(r"([A-Z_]*)(\d*)\.", form) if form else None  # "DATE9." -> DATE, width 9
    form_name, width = (parsed.group(1), int(parsed.group(2) or 0)) if parsed else ("", 0)
    return struct.pack(">hhhh8s40s8shhh2s8shhl52s", 1 if numeric else 2, 0, length, number,
                       name.encode("ascii").ljust(8), label.encode("utf-8").ljust(40), form_name.encode().ljust(8),
                       width, 0, 1 if numeric else 0, b"\0\0", b" " * 8, 0, 0, position,
                       bytes(52))


def _write_transport(stored: pd.DataFrame, kinds: dict[str, str], handle, dataset: str, label: str,
                     labels: dict[str, str], formats: dict[str, str]) -> None:
    """Write ``stored`` as a SAS transport v5 file: the records ReadStat writes, the observations built by numpy."""
    now = time.localtime()
    stamp = (f"{now.tm_mday:02d}{_MONTHS[now.tm_mon - 1]}{now.tm_year % 100:02d}:{now.tm_hour:02d}:{now.tm_min:02d}:"
             f"{now.tm_sec:02d}").encode("ascii")
    columns = list(stored.columns)
    numeric = [kinds[c] != "text" for c in columns]
    text = {c: _text_bytes(stored[c]) for c, n in zip(columns, numeric) if not n}
    widths = [8 if n else max(1, int(pc.max(pc.binary_length(text[c])).as_py() or 0)) for c, n in zip(columns, numeric)]
    positions = np.concatenate([[0], np.cumsum(widths)]).astype(int)
    head = (_header("LIBRARY") + _record(b"SAS     SAS     SASLIB  6.06    bsd4.2  " + b" " * 24 + stamp)
            + _record(stamp) + _header("MEMBER", 0, 0, 0, 160, 0, 140) + _header("DSCRPTR")
            + _record(b"SAS     " + dataset.upper().encode("ascii").ljust(8) + b"SASDATA 6.06    bsd4.2  " + b" " * 24
                      + stamp)
            + _record(stamp + b" " * 16 + label.encode("utf-8").ljust(40)[:40] + b" " * 8)
            + _header("NAMESTR", 0, len(columns))
            + _record(b"".join(_namestr(i + 1, c, labels.get(c, "") or "", w, n, int(p), formats.get(c, ""))
                               for i, (c, w, n, p) in enumerate(zip(columns, widths, numeric, positions))))
            + _header("OBS"))
    handle.write(head)
    row_length = int(positions[-1])
    written = 0
    for start in range(0, len(stored), _ROWS_PER_BLOCK):
        block = stored.iloc[start:start + _ROWS_PER_BLOCK]
        rows = np.zeros((len(block), row_length), dtype=np.uint8)
        for column, at, is_number in zip(columns, positions, numeric):
            if is_number:
                rows[:, at:at + 8] = _ibm_float(_numbers(block[column], kinds[column]))
                continue
            rows[:, at:at + widths[columns.index(column)]] = ord(" ")
            values = text[column].slice(start, len(block))
            offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[values.offset:values.offset + len(block) + 1]
            data = np.frombuffer(values.buffers()[2], dtype=np.uint8) if values.buffers()[2] else np.zeros(0, np.uint8)
            lengths = np.diff(offsets)
            # byte k of value i goes to row i, column position + (k - its first byte)
            target = (np.arange(offsets[0], offsets[-1])
                      + np.repeat(np.arange(len(block)) * row_length + at - offsets[:-1], lengths))
            rows.reshape(-1)[target] = data[offsets[0]:offsets[-1]]
        handle.write(rows.tobytes())
        written += rows.size
    handle.write(b" " * (-written % 80))


def write_xpt(frame: pd.DataFrame, path: str | Path, dataset: str, label: str, labels: dict[str, str],
              types: dict[str, str] | None = None) -> None:
    """One dataset as a SAS transport v5 file: member ``dataset``, its label and each variable's label; ``types`` as
    the spec gives them (a variable without one: numeric if stored as numbers, else text)."""
    if len(label) > 40 or any(len(v) > 40 for v in labels.values()):
        raise TransportError(f"{dataset}: a label longer than 40 characters")
    types = types or {}
    stored = storage_frame(frame, types, dataset)
    kinds = {c: types.get(c, "float" if pd.api.types.is_numeric_dtype(frame[c]) else "text") for c in stored.columns}
    formats = {c: FORMATS[types[c]] for c in stored.columns if types.get(c) in FORMATS}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        _write_transport(stored, kinds, handle, dataset, label, labels, formats)
    partial.replace(path)


def read_xpt(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """A transport file back: its data and {"dataset", "label", "labels"}."""
    frame, meta = pyreadstat.read_xport(str(path))
    return frame, {"dataset": meta.table_name, "label": meta.file_label or "",
                   "labels": dict(zip(meta.column_names, [v or "" for v in meta.column_labels]))}
