"""Damaged copies of the bundled data cuts, made as a site or a transfer would damage them.

Everything here works on bytes, the csv module and pyreadstat directly, never through the
package's readers, so tests can count and edit raw rows independently of the code under test.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pyreadstat

from conftest import DATACUTS


def copy_cut(trial: str, cut: str, dest: Path) -> Path:
    folder = dest / trial / cut
    shutil.copytree(DATACUTS / trial / cut, folder)
    return folder


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def csv_rows(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    """Header and data rows of a CSV, by the csv module."""
    with open(path, newline="", encoding=encoding) as handle:
        return [row for row in csv.reader(handle) if row]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))


def edit_csv(path: Path, edit, encoding: str = "utf-8") -> None:
    """``edit(rows)`` changes the list of rows (header first) in place."""
    rows = csv_rows(path, encoding)
    edit(rows)
    write_csv(path, rows, encoding)


def xpt_frame(path: Path) -> tuple[pd.DataFrame, object]:
    return pyreadstat.read_xport(str(path))


def write_xpt(path: Path, frame: pd.DataFrame, meta) -> None:
    pyreadstat.write_xport(frame, str(path), table_name=meta.table_name, file_label=meta.file_label,
                           column_labels=[meta.column_names_to_labels.get(c) for c in frame.columns],
                           file_format_version=5)


def edit_xpt(path: Path, edit) -> None:
    """``edit(frame)`` returns the new frame; text may go into numeric columns (they are written as text)."""
    frame, meta = xpt_frame(path)
    write_xpt(path, edit(frame.copy()), meta)


def raw_data_rows(path: Path, encoding: str = "utf-8") -> int:
    """Data rows of a raw file counted without the package: pyreadstat for SAS files, the csv module for CSV."""
    if path.suffix == ".xpt":
        return len(xpt_frame(path)[0])
    return len(csv_rows(path, encoding)) - 1


def refresh_manifest(folder: Path, encodings: dict[str, str] | None = None) -> None:
    """Rewrite the manifest's SHA-256 and row counts, as a sender re-issuing a delivery would."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    for entry in manifest["files"]:
        file = folder / entry["name"]
        entry["sha256"] = sha256(file)
        entry["rows"] = raw_data_rows(file, (encodings or {}).get(entry["name"], entry.get("encoding") or "utf-8"))
    path.write_text(json.dumps(manifest, indent=2) + "\n")
