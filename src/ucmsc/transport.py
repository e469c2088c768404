"""SAS transport (XPORT v5) files of the ADaM datasets and the clean SDTM-like domains, with labels.

Types follow the ADaM spec: text as character (missing = blank), integer and float as 8-byte numerics, date and
datetime as SAS dates (DATE9.) and datetimes (DATETIME20.) whatever the Parquet holds (ISO text or datetimes).
Version 5 limits (SAS V5 transport, FDA Technical Conformance Guide section 3.3): names of 8 characters, labels of
40, character values of 200 bytes; a value or name beyond them stops the write naming dataset, variable and row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
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
    text = values.astype(object).where(values.notna(), "").astype(str)
    return text.where(text != "nan", "") if values.dtype.kind == "f" else text


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
            size = out[column].map(lambda v: len(v.encode("utf-8")))
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
    stored = storage_frame(frame, types, dataset)
    formats = {c: FORMATS[types[c]] for c in stored.columns if types.get(c) in FORMATS}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    pyreadstat.write_xport(stored, str(partial), file_label=label, table_name=dataset.upper(),
                           column_labels=[labels.get(c, "") or None for c in stored.columns], file_format_version=5,
                           variable_format=formats or None)
    partial.replace(path)


def read_xpt(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """A transport file back: its data and {"dataset", "label", "labels"}."""
    frame, meta = pyreadstat.read_xport(str(path))
    return frame, {"dataset": meta.table_name, "label": meta.file_label or "",
                   "labels": dict(zip(meta.column_names, [v or "" for v in meta.column_labels]))}
