"""Ingestion: read each raw file of a data cut and rename its columns to the standard variables.

No value is parsed or changed here; every record keeps its raw file and row. Parsing,
checks and corrections happen in ``ucmsc.clean``, where each change is logged.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ucmsc.domains import DOMAINS, FINDINGS, REQUIRED, SOURCE_COLUMNS
from ucmsc.io import read_raw, sha256_file
from ucmsc.manifest import check_file, check_rows, load_manifest


class MappingError(ValueError):
    """A raw file does not fit its mapping; the message names the file and the column."""


def map_source(raw: pd.DataFrame, source: dict) -> pd.DataFrame:
    """Rename one raw table to standard variables as ``source`` (a ``sources:`` entry) says.

    ``columns`` maps standard -> raw names; a findings file in wide layout lists one raw
    column per test under ``results`` and becomes one row per test. Returns text columns
    plus SRCFILE and SRCROW (1-based data row in the raw file).
    """
    file, domain = source["file"], source["domain"]
    columns: dict[str, str] = source.get("columns", {})
    results: dict[str, dict] = source.get("results", {})
    needed = [c for c in REQUIRED[domain] if not (results and c in ("TESTCD", "ORRES", "ORRESU"))]
    for std in needed:
        if std not in columns:
            raise MappingError(f"{file}: the trial config maps no raw column to required variable {std} ({domain})")
    wanted = dict(columns)
    wanted.update({f"__{testcd}": spec["column"] for testcd, spec in results.items()})
    missing = [raw_name for raw_name in wanted.values() if raw_name not in raw.columns]
    if missing:
        raise MappingError(
            f"{file}: required column(s) {', '.join(repr(m) for m in missing)} not found; "
            f"the file has {', '.join(repr(c) for c in raw.columns)}"
        )
    frame = pd.DataFrame({std: raw[raw_name].astype(str) for std, raw_name in wanted.items()})
    frame["SRCFILE"] = file
    frame["SRCROW"] = range(1, len(frame) + 1)
    if results:
        id_columns = [c for c in frame.columns if not c.startswith("__")]
        frame = frame.melt(id_vars=id_columns, var_name="TESTCD", value_name="ORRES")
        frame["TESTCD"] = frame["TESTCD"].str.removeprefix("__")
        frame["ORRESU"] = frame["TESTCD"].map({t: spec["unit"] for t, spec in results.items()})
        # a blank cell stays a record: cleaning queries it as a missing result, as it does in long layout
        frame = frame.sort_values(["SRCROW", "TESTCD"], kind="stable").reset_index(drop=True)
    ordered = [c for c in REQUIRED[domain] if c in frame.columns]
    extra = [c for c in frame.columns if c not in ordered and c not in SOURCE_COLUMNS]
    return frame[ordered + extra + list(SOURCE_COLUMNS)]


class EmptySourceError(ValueError):
    """A raw file has no data rows and its config does not say it may be empty."""


def ingest_cut(raw_dir: str | Path, trial_config: dict, cut_date: str | None = None
               ) -> tuple[dict[str, pd.DataFrame], list[dict], dict | None]:
    """Read, check and map every source of one data cut.

    Each file is checked before use: against the cut's manifest when there is one (SHA-256
    before reading, row count after), and by the reader itself (a truncated or malformed file
    is an error). A file without data rows stops the cut unless its source says ``may_be_empty``.
    Returns one table per standard domain (empty with the required columns if the trial
    delivers none), the metadata of each raw file read, and the manifest (None without one).
    """
    raw_dir = Path(raw_dir)
    manifest = load_manifest(raw_dir, cut_date)
    parts: dict[str, list[pd.DataFrame]] = {d: [] for d in DOMAINS}
    metadata = []
    for source in trial_config["sources"]:
        path = raw_dir / source["file"]
        if manifest is not None and path.is_file():
            check_file(manifest, source["file"], sha256_file(path), raw_dir)
        raw, meta = read_raw(path, encoding=source.get("encoding"),
                             allow_unterminated_last_line=source.get("allow_unterminated_last_line", False))
        if manifest is not None:
            check_rows(manifest, source["file"], meta["rows"], raw_dir)
        if meta["rows"] == 0 and not source.get("may_be_empty", False):
            raise EmptySourceError(f"{path}: no data rows (empty or header only); if this delivery may legitimately "
                                   f"hold no records, set 'may_be_empty: true' for this source in the trial config")
        mapped = map_source(raw, source)
        parts[source["domain"]].append(mapped)
        meta.update({"domain": source["domain"], "records_mapped": int(len(mapped)),
                     "verified_against_manifest": manifest is not None})
        metadata.append(meta)
    tables = {}
    for domain, frames in parts.items():
        if frames:
            tables[domain] = pd.concat(frames, ignore_index=True)
        else:
            tables[domain] = pd.DataFrame({c: pd.Series(dtype=str) for c in REQUIRED[domain]} | {
                "SRCFILE": pd.Series(dtype=str), "SRCROW": pd.Series(dtype="int64")})
        if domain in FINDINGS and "TESTCD" not in tables[domain]:
            raise MappingError(f"domain {domain}: no test code after mapping")
    return tables, metadata, manifest


def run_ingest(cut_dir: str | Path, config: dict, table_paths: list[str], raw_files_path: str, log) -> None:
    """Stage runner: ingest one cut and write one table per domain plus the raw files' metadata."""
    from ucmsc.io import write_json, write_table

    cut_dir = Path(cut_dir)
    tables, metadata, manifest = ingest_cut(cut_dir, config, cut_date=cut_dir.name)
    for domain, path in zip(DOMAINS, table_paths):
        write_table(tables[domain], path)
        log.info("%s: %d records", domain, len(tables[domain]))
    configured = {s["file"] for s in config["sources"]}
    unmapped = sorted(e["name"] for e in (manifest or {}).get("files", []) if e["name"] not in configured)
    if manifest is None:
        log.warning("%s: no manifest.json; files were checked by the readers only, their completeness is not verified",
                    cut_dir)
    if unmapped:
        log.warning("delivered but not mapped by the trial config (not read): %s", ", ".join(unmapped))
    write_json({"cut_dir": str(cut_dir), "files": metadata, "manifest": manifest,
                "manifest_verified": manifest is not None, "unmapped_files": unmapped}, raw_files_path)
