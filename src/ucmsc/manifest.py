"""A data cut's ``manifest.json``: what the sender says the delivery holds, checked before use.

A manifest lists each file with its SHA-256 and (optionally) its number of data rows. Its
format: ``{"cut_date": "YYYY-MM-DD", "synthetic": bool, "files": [{"name", "sha256", "rows"}, ...]}``;
other keys are kept and ignored. A cut without a manifest is allowed: its files are then
checked by the readers alone, and the report says that completeness could not be verified.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

MANIFEST_NAME = "manifest.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    """The manifest is malformed, or a file differs from it; the message names the file and both values."""


def load_manifest(cut_dir: str | Path, cut_date: str | None = None) -> dict | None:
    """The cut's manifest, validated; None when the cut has none.

    Raises ManifestError naming the manifest and the line, column or key at fault.
    ``cut_date`` (the cut folder's name) must equal the manifest's ``cut_date`` when both exist.
    """
    path = Path(cut_dir) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ManifestError(f"{path}: not UTF-8 text (byte {error.start})") from error
    except json.JSONDecodeError as error:
        raise ManifestError(f"{path}: not valid JSON: {error.msg} at line {error.lineno}, "
                            f"column {error.colno}") from error
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise ManifestError(f"{path}: expected an object with a 'files' list")
    seen = set()
    for i, entry in enumerate(manifest["files"]):
        where = f"{path}: files[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ManifestError(f"{where}: expected an object with a 'name'")
        if entry["name"] in seen:
            raise ManifestError(f"{where}: file '{entry['name']}' is listed twice")
        seen.add(entry["name"])
        if not isinstance(entry.get("sha256"), str) or not _SHA256.match(entry["sha256"].lower()):
            raise ManifestError(f"{where} ('{entry['name']}'): 'sha256' must be 64 hexadecimal digits, "
                                f"got {entry.get('sha256')!r}")
        rows = entry.get("rows")
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 0):
            raise ManifestError(f"{where} ('{entry['name']}'): 'rows' must be a whole number >= 0, got {rows!r}")
    stated = manifest.get("cut_date")
    if cut_date is not None and stated is not None and str(stated) != str(cut_date):
        raise ManifestError(f"{path}: cut_date '{stated}' differs from the cut folder's date '{cut_date}'")
    return manifest


def manifest_entry(manifest: dict, file: str) -> dict | None:
    return next((entry for entry in manifest["files"] if entry["name"] == file), None)


def check_file(manifest: dict, file: str, sha256: str, cut_dir: str | Path) -> None:
    """The file is listed and its SHA-256 is the one the manifest states (before it is read)."""
    entry = manifest_entry(manifest, file)
    where = Path(cut_dir) / MANIFEST_NAME
    if entry is None:
        raise ManifestError(f"{Path(cut_dir) / file}: not listed in {where}; the delivery and its manifest disagree")
    if entry["sha256"].lower() != sha256:
        raise ManifestError(f"{Path(cut_dir) / file}: SHA-256 {sha256} differs from {entry['sha256'].lower()} "
                            f"in {where}; the file changed after the manifest was written "
                            "(edited, truncated or replaced)")


def check_rows(manifest: dict, file: str, rows: int, cut_dir: str | Path) -> None:
    """The number of data rows read equals the manifest's (when it states one)."""
    entry = manifest_entry(manifest, file)
    if entry is not None and entry.get("rows") is not None and entry["rows"] != rows:
        raise ManifestError(f"{Path(cut_dir) / file}: {rows} data rows read but {Path(cut_dir) / MANIFEST_NAME} "
                            f"states {entry['rows']}")
