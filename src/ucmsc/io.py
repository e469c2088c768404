"""Reading raw deliveries and writing stage tables. Raw files are only ever opened for reading."""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ucmsc import rawformats


class RawReadError(RuntimeError):
    """A raw file could not be read; the message names the file and the reason."""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _as_text(value: Any) -> str:
    """Render one raw cell as text without losing information ('' for missing)."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _column_as_text(column: pd.Series) -> pd.Series:
    """``_as_text`` for a whole column: vectorised for numbers and text, once per distinct value for dates and times."""
    if pd.api.types.is_float_dtype(column):
        import pyarrow as pa

        codes, distinct = pd.factorize(column.to_numpy())  # each distinct number rendered once; NaN: code -1
        whole = np.isfinite(distinct) & (np.mod(distinct, 1) == 0) & (np.abs(distinct) < 1e15)
        text = pd.Series(distinct).astype(str)  # shortest round-trip repr, as ``repr`` gives
        text[whole] = pd.Series(distinct[whole]).astype("int64").astype(str).to_numpy()
        text = text.where(np.isfinite(distinct), "")
        shown = pa.concat_arrays([pa.array(text, type=pa.large_string()), pa.array([""], type=pa.large_string())])
        shown = shown.take(pa.array(np.where(codes < 0, len(distinct), codes)))
        return pd.Series(shown, dtype="str", index=column.index, name=column.name)
    if pd.api.types.is_integer_dtype(column):
        return column.astype(str)
    present = column.dropna()
    if pd.api.types.infer_dtype(present, skipna=True) in ("string", "empty"):  # all text: nothing to render
        return column.fillna("").astype(str)
    return column.map({v: _as_text(v) for v in pd.unique(present)}).fillna("").astype(str)


def read_raw(path: str | Path, encoding: str | None = None, allow_unterminated_last_line: bool = False,
             sha256: str | None = None, multiline_columns: tuple[str, ...] = ()) -> tuple[pd.DataFrame, dict]:
    """Read a raw SAS (``.sas7bdat``, ``.xpt``) or CSV file as text columns, with its metadata.

    Every cell comes back as text ('' where missing), so that no parsing decision is made
    at read time: the cleaning stage parses each column by its declared type and logs a
    data query for what does not parse. SAS dates and times arrive as ISO 8601 text.
    Metadata: variable labels, SAS formats, dataset label, encoding, rows and SHA-256.

    A damaged file is refused (``RawReadError``), never read short: a transport file must be
    whole 80-byte records with whole observations, a sas7bdat file as long as its header says,
    each with as many rows read as the file holds; a CSV record must have as many fields as the
    header, and its last line must end with a line break unless ``allow_unterminated_last_line``;
    a CSV value may run over lines only in ``multiline_columns``. A header-only CSV is read as 0
    rows (whether that is allowed is the caller's decision).
    ``sha256``: the file's digest when the caller has just computed it (it is not computed twice).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise RawReadError(f"{path}: cannot read: file not found")
    try:
        if suffix in (".sas7bdat", ".xpt"):
            frame, metadata = _read_sas(path, suffix, encoding)
        elif suffix in (".csv", ".txt"):
            frame = rawformats.read_csv_text(path.read_bytes(), encoding or "utf-8", allow_unterminated_last_line,
                                             tuple(multiline_columns))
            metadata = {"labels": {}, "formats": {}, "dataset_label": None, "encoding": encoding or "utf-8"}
        else:
            raise RawReadError(f"{path}: cannot read: unsupported file type '{suffix}' "
                               "(expected .sas7bdat, .xpt or .csv)")
    except RawReadError:
        raise
    except rawformats.DamagedFile as error:
        raise RawReadError(f"{path}: cannot read: {error}") from error
    except UnicodeDecodeError as error:
        line = path.read_bytes().count(b"\n", 0, error.start) + 1 if suffix in (".csv", ".txt") else None
        where = f"byte {error.start}" + (f", line {line}" if line else "")
        raise RawReadError(f"{path}: cannot read: not valid {encoding or 'utf-8'} text ({error.reason} at {where});"
                           " set the file's encoding in the trial config") from error
    except Exception as error:  # pyreadstat and pandas raise many types; name the file whatever it was
        raise RawReadError(f"{path}: cannot read: {type(error).__name__}: {error}") from error
    metadata.update({"file": path.name, "rows": int(len(frame)), "columns": list(frame.columns),
                     "sha256": sha256 or sha256_file(path)})
    return frame, metadata


def _read_sas(path: Path, suffix: str, encoding: str | None) -> tuple[pd.DataFrame, dict]:
    """A SAS file as text columns: a version 5 transport file by ``_read_xport_columns`` (numpy, column by column);
    what it does not read exactly as pyreadstat does, and ``.sas7bdat``, by ``_read_sas_pyreadstat``."""
    structure = _xport_structure(path) if suffix == ".xpt" else None
    if structure is not None:
        read = _read_xport_columns(path, *structure, encoding)
        if read is not None:
            return read
    return _read_sas_pyreadstat(path, suffix, encoding, structure)


def _xport_structure(path: Path) -> tuple[rawformats.XportLayout, int, int]:
    """The transport file's layout, observations and trailing blank observations, after its structure checks."""
    layout = rawformats.xport_layout(path)
    if layout.namestr_length != 140:  # ReadStat reads 140-byte NAMESTR records whatever the header says
        raise rawformats.DamagedFile(f"NAMESTR records of {layout.namestr_length} bytes (VAX/VMS) are not "
                                     "supported by the reader: re-export the file with 140-byte records")
    rows_in_file, blank_at_end = rawformats.xport_data_rows(path, layout)
    return layout, rows_in_file, blank_at_end


def _sas_metadata(meta, encoding: str | None) -> dict:
    return {
        "labels": dict(meta.column_names_to_labels),
        "formats": dict(meta.original_variable_types),
        "dataset_label": meta.file_label,
        "encoding": meta.file_encoding or encoding,
    }


def _read_sas_pyreadstat(path: Path, suffix: str, encoding: str | None,
                         structure: tuple[rawformats.XportLayout, int, int] | None = None) -> tuple[pd.DataFrame, dict]:
    """pyreadstat's reading, between structure checks that refuse a truncated or extended file (a transport file's
    ``_xport_structure`` when the caller has it already)."""
    import pyreadstat

    if suffix == ".xpt":
        layout, rows_in_file, blank_at_end = structure or _xport_structure(path)
    else:
        rawformats.check_sas7bdat_size(path)
    reader = pyreadstat.read_sas7bdat if suffix == ".sas7bdat" else pyreadstat.read_xport
    kwargs = {"encoding": encoding} if encoding else {}
    try:
        frame, meta = reader(str(path), **kwargs)
    except pyreadstat.ReadstatError as error:
        raise rawformats.DamagedFile(f"{error} (the file may be truncated or damaged)") from error
    if suffix == ".xpt":
        rawformats.check_xport_rows(layout, rows_in_file, blank_at_end, len(frame))
    elif meta.number_rows is not None and len(frame) != meta.number_rows:
        raise rawformats.DamagedFile(f"{len(frame)} rows read, but the file's header states {meta.number_rows}: "
                                     "truncated?")
    frame = pd.DataFrame({name: _column_as_text(frame[name]) for name in frame.columns})
    return frame, _sas_metadata(meta, encoding)


# pyreadstat (_readstat_parser.pyx) reads a SAS number as a date, datetime or time when its format's name (the format
# without width and decimals, by this expression) is in one of these lists.
_SAS_FORMAT_NAME = re.compile(r"^([A-Z][A-Z0-9]+[A-Z])(\d+)?(?(2)(?:\.\d+)?$|$)")
_SAS_DATE_FORMATS = {"WEEKDATE", "MMDDYY", "DDMMYY", "YYMMDD", "DATE", "DDMMYYB", "DDMMYYC", "DDMMYYD", "DDMMYYN",
                     "DDMMYYP", "DDMMYYS", "MMDDYYB", "MMDDYYC", "MMDDYYD", "MMDDYYN", "MMDDYYP", "MMDDYYS",
                     "WEEKDATX", "DTDATE", "IS8601DA", "E8601DA", "B8601DA", "YYMMDDB", "YYMMDDD", "YYMMDDN",
                     "YYMMDDP", "YYMMDDS"}
_SAS_DATETIME_FORMATS = {"DATETIME", "E8601DT", "DATEAMPM", "MDYAMPM", "IS8601DT", "B8601DT", "B8601DN"}
_SAS_TIME_FORMATS = {"TIME", "HHMM", "TOD", "TIMEAMPM", "IS8601TM", "E8601TM", "B8601TM"}
_SAS_ORIGIN = datetime.datetime(1960, 1, 1)
_SAS_MISSING_CODES = np.frombuffer(b"._ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)  # SAS TS-140's missing values
# Encodings (names as iconv knows them: not 'latin-1') whose text the column reader decodes as ReadStat (iconv) and
# pyreadstat do; other names go to pyreadstat.
_UTF8_NAMES = {"utf-8", "utf8"}
_LATIN1_NAMES = {"latin1", "iso-8859-1", "iso8859-1"}


def _sas_time_kind(sas_format: str | None) -> str | None:
    """'date', 'datetime' or 'time' when pyreadstat reads a number with this SAS format as one, else None."""
    match = _SAS_FORMAT_NAME.match(sas_format or "")
    name = match.group(1) if match else None
    return ("date" if name in _SAS_DATE_FORMATS else "datetime" if name in _SAS_DATETIME_FORMATS
            else "time" if name in _SAS_TIME_FORMATS else None)


def _sas_moment(value: float, kind: str):
    """A SAS date (days) or datetime/time (seconds) from 1960-01-01, computed as pyreadstat's transform_datetime."""
    if kind == "date":
        return (_SAS_ORIGIN + datetime.timedelta(int(value))).date()  # C's (int) cast truncates towards zero
    moment = _SAS_ORIGIN + datetime.timedelta(math.floor(value / 86400), int(value % 86400), round(value % 1 * 1e6))
    return moment if kind == "datetime" else moment.time()


def _moments_as_text(values: np.ndarray, kind: str) -> pd.Series | None:
    """SAS dates, datetimes or times as text, as ``_column_as_text`` renders pyreadstat's column of them (pandas makes
    datetimes datetime64[us], shown with microseconds), computed once per distinct value; None when one is out of
    range (pyreadstat then raises)."""
    codes, distinct = pd.factorize(values)  # NaN gets code -1: the missing value appended last
    if np.any(np.abs(distinct) >= 2.0 ** 31 * (1 if kind == "date" else 86400)):  # beyond pyreadstat's C int days
        return None
    try:
        moments = [_sas_moment(float(v), kind) for v in distinct]
    except (OverflowError, ValueError):
        return None
    as_read = pd.DataFrame({"moment": np.array(moments + [np.nan], dtype=object)})["moment"]  # as pyreadstat's frame
    return pd.Series(_column_as_text(as_read).array.take(np.where(codes < 0, len(distinct), codes)), dtype="str")


def _fixed_width_text(block: np.ndarray, latin1: bool) -> pd.Series | None:
    """Character fields (rows x width bytes) as text, trailing blanks removed as ReadStat does; None where ReadStat's
    reading differs (a NUL byte ends its text) or the bytes are not valid UTF-8 (pyreadstat raises). Fields of up to
    8 bytes are decoded once per distinct value (each field read as one 64-bit integer)."""
    rows, width = block.shape
    if width > 8:
        return _decoded(block, latin1)
    padded = np.zeros((rows, 8), dtype=np.uint8)
    padded[:, :width] = block
    codes, distinct = pd.factorize(padded.view(np.uint64)[:, 0])
    text = _decoded(np.ascontiguousarray(distinct, dtype=np.uint64).view(np.uint8).reshape(-1, 8)[:, :width], latin1)
    return None if text is None else pd.Series(text.array.take(codes), dtype="str")


def _decoded(block: np.ndarray, latin1: bool) -> pd.Series | None:
    """``_fixed_width_text`` for each row of ``block``."""
    import pyarrow as pa

    rows, width = block.shape
    if (block == 0).any():
        return None
    filled = block != 0x20
    lengths = np.where(filled.any(axis=1), width - np.argmax(filled[:, ::-1], axis=1), 0)
    data = block[np.arange(width) < lengths[:, None]]  # row after row, each without its trailing blanks
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if latin1 and data.size and data.max() >= 0x80:  # ISO 8859-1 byte b is U+00b: two UTF-8 bytes from 0x80
        high = data >= 0x80
        sizes = 1 + high
        ends = np.cumsum(sizes)
        utf8 = np.empty(int(ends[-1]), dtype=np.uint8)
        utf8[ends - sizes] = np.where(high, 0xC0 | (data >> 6), data)
        utf8[ends[high] - 1] = 0x80 | (data[high] & 0x3F)
        data, offsets = utf8, np.concatenate([[0], ends])[offsets]
    text = pa.LargeStringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data)))
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return None
    return pd.Series(text, dtype="str")


def _read_xport_columns(path: Path, layout: rawformats.XportLayout, rows: int, blank_at_end: int,
                        encoding: str | None) -> tuple[pd.DataFrame, dict] | None:
    """A version 5 transport file's observations as text columns, as ``_read_sas_pyreadstat`` gives them.

    The data area is one numpy array of rows x observation length (SAS TS-140): character fields are sliced and
    decoded, numbers converted from IBM floating point (``rawformats.ibm_to_ieee``) and rendered by
    ``_column_as_text``. The metadata are pyreadstat's (headers only). None when the file holds anything this reader
    does not read exactly as pyreadstat (version 8, no variables, numbers of 2 bytes, NUL bytes in text, text with
    a date format, encodings other than UTF-8 and ISO 8859-1, values ReadStat converts to NaN without them being SAS
    missing values, dates out of range): then pyreadstat reads it.
    """
    import pyreadstat

    wanted = (encoding or "utf-8").lower()
    numeric_lengths = [n for t, n in zip(layout.types, layout.lengths) if t == 1]
    if (layout.version != 5 or blank_at_end or min(numeric_lengths, default=8) < 3
            or wanted not in _UTF8_NAMES | _LATIN1_NAMES or len(set(layout.names)) != len(layout.names)):
        return None
    kwargs = {"encoding": encoding} if encoding else {}
    try:
        _, meta = pyreadstat.read_xport(str(path), metadataonly=True, **kwargs)
    except Exception:  # pyreadstat's full reading reports it
        return None
    formats = meta.original_variable_types
    if list(meta.column_names) != list(layout.names) or not layout.names or any(
            t == 2 and _sas_time_kind(formats.get(n)) for n, t in zip(layout.names, layout.types)):
        return None  # pyreadstat refuses text with a date format
    width = layout.obs_length
    data = np.fromfile(path, dtype=np.uint8, count=rows * width, offset=layout.data_start).reshape(rows, width)
    columns = {}
    position = 0
    for name, ntype, length in zip(layout.names, layout.types, layout.lengths):
        block = data[:, position:position + length]
        position += length
        if ntype == 2:
            column = _fixed_width_text(block, wanted in _LATIN1_NAMES)
        else:
            padded = np.zeros((rows, 8), dtype=np.uint8)  # ReadStat pads a short number with zero bytes
            padded[:, :length] = block
            words = padded.view(">u8")[:, 0]
            values = rawformats.ibm_to_ieee(words)
            # NaN that is no SAS missing value ('.', 'A'-'Z', '_' then zeros): ReadStat converts it, pyreadstat decides
            missing = np.isnan(values)
            kind = _sas_time_kind(formats.get(name))
            if missing.any() and not np.isin(padded[missing, 0], _SAS_MISSING_CODES).all():
                column = None
            elif kind:
                column = _moments_as_text(values, kind)
            else:
                column = _column_as_text(pd.Series(values))
        if column is None:
            return None
        columns[name] = column
    return pd.DataFrame(columns, index=pd.RangeIndex(rows)), _sas_metadata(meta, encoding)


def _atomic_path(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; outputs should be as readable as any other file
    return Path(tmp)


# A spreadsheet runs a cell that begins with one of these as a formula (OWASP, "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _text_starting_with(values: pd.Series, prefixes: tuple[str, ...]) -> np.ndarray:
    """Whether each value is text beginning with one of ``prefixes`` (missing and non-text: False). Each distinct
    value is tested once: a table's text columns repeat a few values over many rows."""
    codes, distinct = codes_of(values)
    starts = np.fromiter((isinstance(v, str) and v.startswith(prefixes) for v in distinct), bool, len(distinct))
    return by_code(starts, codes, False)


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe; numbers are untouched.

    A cell that already begins with an apostrophe gets one more, so ``restore_formulas`` undoes this exactly.
    """
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_numeric_dtype(out[column]) or pd.api.types.is_bool_dtype(out[column]):
            continue
        text = out[column]
        risky = _text_starting_with(text, FORMULA_TRIGGERS + ("'",))
        if risky.any():
            out[column] = text.astype(object).where(~risky, "'" + text[risky].astype(str))
    return out


def restore_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo ``neutralise_formulas`` on a table read back from CSV."""
    for column in frame.columns:
        text = frame[column]
        if pd.api.types.is_numeric_dtype(text) or pd.api.types.is_bool_dtype(text):
            continue
        quoted = _text_starting_with(text, ("'",))
        if quoted.any():
            frame[column] = text.astype(object).where(~quoted, text[quoted].str.slice(1))
    return frame


def isin(values: pd.Series, members) -> pd.Series:
    """``values.isin(members)`` in one pass. pandas' isin on Arrow-backed text builds a Python scalar per member (1 s
    for 100,000 subjects): Arrow text is looked up by Arrow's is_in, ``members`` taken as one array, either an Arrow
    array built once by the caller, Arrow-backed text of the same dtype, or any collection of texts. A missing value
    is found where ``members`` has one. Other values, or a Series of another dtype: pandas' isin."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if getattr(values.dtype, "storage", None) != "pyarrow":
        return values.isin(members.to_pylist() if isinstance(members, pa.Array) else members)
    arrow = pa.array(values.array)  # the column's own Arrow data, not a copy
    if isinstance(members, pd.Series):
        if members.dtype != values.dtype:
            return values.isin(members)
        value_set = pa.array(members.array)
    elif isinstance(members, pa.Array):
        value_set = members
    else:
        value_set = pa.array(list(members), type=arrow.type, from_pandas=True)
    if value_set.type != arrow.type:
        value_set = value_set.cast(arrow.type)
    found = pc.is_in(arrow, value_set=value_set)
    return pd.Series(found.fill_null(False).to_numpy(zero_copy_only=False), index=values.index)


def utf8_lengths(text: pd.Series) -> np.ndarray:
    """Length in UTF-8 bytes of each value of a text series without missing values (Arrow's byte length); of a
    categorical column each category is measured once (a missing value: 0)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(text.dtype, pd.CategoricalDtype):
        return by_code(utf8_lengths(pd.Series(text.cat.categories)), text.cat.codes.to_numpy(), 0)

    values = text.astype(object) if text.dtype == object else text
    return np.asarray(pc.binary_length(pa.array(values, type=pa.large_string())).to_numpy(zero_copy_only=False),
                      dtype=np.int64)


def codes_of(values: pd.Series, sort: bool = False) -> tuple[np.ndarray, pd.Index]:
    """Each value's code among the column's distinct values (-1 where missing) and those values: a categorical
    column's own codes and categories (in their order), else ``pd.factorize`` (``sort``: the distinct values
    sorted)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), values.cat.categories
    return pd.factorize(values, sort=sort)


def by_code(per_code, codes: np.ndarray, missing) -> np.ndarray:
    """``per_code[code]`` for each code, ``missing`` where the code is -1 (no value)."""
    return np.append(per_code, missing)[codes]  # -1 indexes the appended last item


def is_text_categorical(values: pd.Series) -> bool:
    """A categorical column whose categories are text (the long dataset's held text)."""
    return isinstance(values.dtype, pd.CategoricalDtype) and isinstance(values.cat.categories.dtype, pd.StringDtype)


def categories_as_text(values: pd.Series, categories: list | None = None) -> pd.Series:
    """A categorical column as a text column (missing where it is missing), by Arrow's take from its categories;
    ``categories``: texts to show for the categories instead of themselves (missing values then show the last)."""
    import pyarrow as pa

    codes = values.cat.codes.to_numpy()
    if categories is None:
        shown = pa.array(values.cat.categories.to_numpy(dtype=object), type=pa.large_string())
        taken = shown.take(pa.array(codes, mask=codes < 0))
    else:
        shown = pa.array(categories, type=pa.large_string())
        taken = shown.take(pa.array(np.where(codes < 0, len(categories) - 1, codes)))
    return pd.Series(taken, dtype="str", index=values.index)


def sorted_categories(values: pd.Series) -> pd.Series:
    """Only the categories used, in sorted order (as ``astype("category")`` of the same text gives them); the codes
    are counted, not sorted."""
    codes, categories = values.cat.codes.to_numpy(), values.cat.categories
    used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(categories)))
    if len(used) == len(categories) and categories.is_monotonic_increasing:  # already so: nothing to renumber
        return values
    kept = categories[used]
    order = kept.argsort()
    new_code = np.full(len(categories) + 1, -1, dtype=np.int64)  # the last: missing stays missing
    new_code[used[order]] = np.arange(len(used))
    return pd.Series(pd.Categorical.from_codes(new_code[codes], categories=kept[order]), index=values.index,
                     name=values.name)


def sort_order(frame: pd.DataFrame, columns: list[str], missing_first: bool = False) -> np.ndarray:
    """The positions that sort ``frame`` by ``columns`` as ``sort_values(columns, kind="stable")`` does (missing
    last, or first; a categorical column by its categories' order): one integer key of the columns' ranks, sorted
    stably."""
    key = np.zeros(len(frame), dtype=np.int64)
    for column in columns:
        ranks, distinct = codes_of(frame[column], sort=True)
        ranks, count = ranks.astype(np.int64), len(distinct)
        key = key * (count + 1) + (ranks + 1 if missing_first else np.where(ranks < 0, count, ranks))
    return np.argsort(key, kind="stable")


def reordered(frame: pd.DataFrame, order: np.ndarray) -> pd.DataFrame:
    """``frame``'s rows in ``order`` with a new default index, built column by column and emptying ``frame`` on the
    way: a column is released as soon as its reordered copy is made, so the frame is never held twice."""
    columns = {}
    for column in list(frame.columns):
        columns[column] = frame.pop(column).take(order).reset_index(drop=True)
    return pd.DataFrame(columns, copy=False)


def stack_frames(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The parts' records in one frame, with the union of their columns (as ``pd.concat``); a column held as text
    categories in every part stays so, its categories the sorted union (as ``astype("category")`` of the stacked text
    gives them: codes then sort as the text does)."""
    from pandas.api.types import union_categoricals

    columns = list(dict.fromkeys(c for p in parts for c in p.columns))
    held = {c: union_categoricals([_text_categories(p[c]) for p in parts], sort_categories=True) for c in columns
            if all(c in p and isinstance(p[c].dtype, pd.CategoricalDtype) for p in parts)}
    rest = pd.concat([p.drop(columns=[c for c in held if c in p]) for p in parts], ignore_index=True)
    return rest.assign(**held)[columns]


def _text_categories(values: pd.Series) -> pd.Series:
    """A categorical column whose categories are text; one without any value (no categories, or categories of another
    type) gets empty text categories."""
    if is_text_categorical(values):
        return values
    if values.notna().any():
        raise TypeError(f"{values.name}: categories of {values.cat.categories.dtype}, not text")
    return pd.Series(pd.Categorical.from_codes(np.full(len(values), -1), categories=pd.Index([], dtype="str")),
                     index=values.index, name=values.name)


def read_held(path: str | Path, columns: list[str], categories: list[str]) -> pd.DataFrame:
    """``columns`` of a Parquet stage table; those of ``categories`` held as categories read from the file's
    dictionary-encoded text (the text is not built record by record), sorted as ``astype("category")`` sorts them.
    A held column without any value (stored as Arrow null) gets empty text categories."""
    import pyarrow.parquet as pq

    frame = pq.read_table(path, columns=columns, read_dictionary=[c for c in categories if c in columns]).to_pandas()
    held = {}
    for column in [c for c in categories if c in columns]:
        values = frame[column]
        if not isinstance(values.dtype, pd.CategoricalDtype):  # Arrow null: every value missing
            if values.notna().any():  # not text: it would lose its values as empty categories
                raise TypeError(f"{path}: {column} is stored as {values.dtype}, not text; it cannot be held as "
                                "categories")
            values = values.astype(pd.CategoricalDtype(pd.Index([], dtype="str")))
        held[column] = sorted_categories(_text_categories(values))
    return frame.assign(**held)


PARQUET_ROW_GROUP = 1024 * 1024  # pyarrow's default (and largest) row group of write_table


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a stage table (Parquet, or CSV by suffix) atomically: no half-written file is ever visible.

    Categorical columns are written as the text they stand for. CSV files are opened by people in spreadsheets: their
    text cells are neutralised (``neutralise_formulas``).
    """
    path = Path(path)
    categories = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    tmp = _atomic_path(path)
    try:
        # by row group only when every column's Arrow type follows from its dtype (an object column's would be
        # inferred from the first group)
        if path.suffix == ".parquet" and categories and len(frame) > PARQUET_ROW_GROUP \
                and not any(frame[c].dtype == object for c in frame.columns):
            _write_parquet_by_row_group(frame, tmp, categories)
        else:
            frame = frame.assign(**{c: categories_as_text(frame[c]) for c in categories})
            if path.suffix == ".parquet":
                frame.to_parquet(tmp, index=False)
            else:
                neutralise_formulas(frame).to_csv(tmp, index=False, lineterminator="\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_parquet_by_row_group(frame: pd.DataFrame, path: Path, categories: list[str]) -> None:
    """``to_parquet`` one row group at a time (the groups and options it writes), the categorical columns turned into
    text a group at a time: a long dataset's text is never built whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for start in range(0, len(frame), PARQUET_ROW_GROUP):
            group = frame.iloc[start:start + PARQUET_ROW_GROUP]
            group = group.assign(**{c: categories_as_text(group[c]) for c in categories})
            table = pa.Table.from_pandas(group, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="snappy")
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def read_table(path: str | Path, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a stage table; CSV columns named in ``text_columns`` stay text ("33" is not 33.0)."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={c: str for c in text_columns})
    return restore_formulas(frame)


def write_json(data: Any, path: str | Path) -> None:
    path = Path(path)
    tmp = _atomic_path(path)
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(text: str, path: str | Path) -> None:
    path = Path(path)
    tmp = _atomic_path(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
