"""Ingestion: read each raw file of a data cut and rename its columns to the standard variables.

No value is parsed or changed here; every record keeps its raw file and row. Parsing,
checks and corrections happen in ``ucmsc.clean``, where each change is logged.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ucmsc.checks import cell_text
from ucmsc.domains import DOMAINS, FINDINGS, SOURCE_COLUMNS, SUBJECT_IDS, required, source_files
from ucmsc.io import read_raw, sha256_file
from ucmsc.manifest import check_file, check_rows, load_manifest

SUPP_COLUMNS = ("USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QVAL")  # SDTMIG 8.4: what merging a SUPP-- record needs


class MappingError(ValueError):
    """A raw file does not fit its mapping; the message names the file and the column."""


def _cells_as_text(values: pd.Series) -> pd.Series:
    """``cell_text`` of each value; a text column (as ``read_raw`` gives) is its text, '' where missing."""
    if isinstance(values.dtype, pd.StringDtype):
        return values.fillna("")
    return values.map(cell_text)


def _key_text(values: pd.Series) -> pd.Series:
    """Values compared as identifiers: stripped text, a whole number written as one ("3.0" and "3" are "3")."""
    text = _cells_as_text(values).str.strip()
    whole = text.str.fullmatch(r"-?\d+\.0*")
    return text.where(~whole, text.str.replace(r"\.0*$", "", regex=True))


def _as_number_text(text: pd.Series) -> pd.Series:
    """Text that reads as a number written plainly ("01" -> "1", "2.50" -> "2.5"); other text as it is."""
    number = pd.to_numeric(text, errors="coerce")
    return text.where(number.isna(), number.map(lambda v: f"{v:.15g}"))


def merge_supplemental(parent: pd.DataFrame, supp: pd.DataFrame, parent_file: str, supp_file: str) -> pd.DataFrame:
    """Put each SUPP-- qualifier on its parent record as a column named by its QNAM (SDTMIG 8.4).

    A record with IDVAR blank qualifies every record of its subject (as SUPPDM does); otherwise the
    parent record whose IDVAR equals IDVARVAL (e.g. AESEQ = "3", compared as text, 3.0 as "3"; as a number, "03"
    as 3, when the parent's IDVAR is numeric). A
    qualifier without its parent record, a QNAM given twice for one record, or a QNAM that is
    already a column of the parent stops ingestion with the file, row and value.
    """
    absent = [c for c in SUPP_COLUMNS if c not in supp.columns]
    if absent:
        raise MappingError(f"{supp_file}: not a supplemental qualifiers dataset: no {', '.join(absent)} column(s); "
                           f"it has {', '.join(supp.columns)}")
    if "USUBJID" not in parent.columns:
        raise MappingError(f"{parent_file}: no USUBJID column to merge {supp_file} onto")
    supp = supp.assign(_ROW=range(1, len(supp) + 1), QNAM=supp["QNAM"].str.strip(),
                       IDVAR=supp["IDVAR"].str.strip(), IDVARVAL=_key_text(supp["IDVARVAL"]))
    numeric = supp["IDVAR"].map(lambda v: v in parent.columns and pd.api.types.is_numeric_dtype(parent[v]))
    if numeric.any():  # IDVARVAL is text: "01" names AESEQ 1 when AESEQ is numeric
        supp.loc[numeric, "IDVARVAL"] = _key_text(_as_number_text(supp.loc[numeric, "IDVARVAL"]))
    clash = sorted(set(supp["QNAM"]) & set(parent.columns))
    if clash:
        raise MappingError(f"{supp_file}: QNAM {', '.join(clash)} is already a column of {parent_file}")
    repeated = supp[supp.duplicated(["USUBJID", "IDVAR", "IDVARVAL", "QNAM"], keep="first")]
    if len(repeated):
        row = repeated.iloc[0]
        raise MappingError(f"{supp_file} row {row['_ROW']}: QNAM {row['QNAM']} is given twice for USUBJID "
                           f"{row['USUBJID']}" + (f", {row['IDVAR']} {row['IDVARVAL']}" if row["IDVAR"] else ""))
    merged = parent.copy()
    subject = parent["USUBJID"].str.strip()
    for idvar, records in supp.groupby("IDVAR", sort=False):
        if idvar and idvar not in parent.columns:
            raise MappingError(f"{supp_file} row {records['_ROW'].iloc[0]}: IDVAR {idvar} is not a column of "
                               f"{parent_file}")
        parent_key = subject + "\x1f" + (_key_text(parent[idvar]) if idvar else "")
        supp_key = records["USUBJID"].str.strip() + "\x1f" + records["IDVARVAL"]
        orphan = ~supp_key.isin(set(parent_key))
        if orphan.any():
            row = records[orphan].iloc[0]
            raise MappingError(f"{supp_file} row {row['_ROW']}: no {parent_file} record for USUBJID {row['USUBJID']}"
                               + (f" with {idvar} {row['IDVARVAL']}" if idvar else "")
                               + f" ({int(orphan.sum())} such qualifier record(s))")
        wide = records.assign(_KEY=supp_key).pivot(index="_KEY", columns="QNAM", values="QVAL")
        for qnam in wide.columns:
            values = parent_key.map(wide[qnam])
            merged[qnam] = values.where(values.notna(), merged[qnam] if qnam in merged else "").fillna("")
    return merged


def select_rows(raw: pd.DataFrame, where: dict, file: str) -> tuple[pd.Series, list[str]]:
    """The rows a source's ``where:`` keeps: each raw column equal to its value (or one of its values), compared as
    stripped text ignoring case (as ``disposition.where`` and ``reference_date.where``), and the values named that no
    row has. A ``where`` that keeps no row of a file with rows stops the cut (a misspelt value would otherwise
    silently empty the domain)."""
    keep = pd.Series(True, index=raw.index)
    absent = []
    for column, wanted in where.items():
        if column not in raw.columns:
            raise MappingError(f"{file}: where: column {column!r} not found; the file has "
                               f"{', '.join(repr(c) for c in raw.columns)}")
        values = [str(v).strip().upper() for v in (wanted if isinstance(wanted, list) else [wanted])]
        text = _cells_as_text(raw[column]).str.strip().str.upper()
        absent += [f"{column} = {v}" for v in values if not (text == v).any()]
        keep &= text.isin(values)
    if len(raw) and where and not keep.any():
        present = {c: sorted(_cells_as_text(raw[c]).str.strip().unique())[:10] for c in where}
        raise MappingError(f"{file}: where: {where} keeps none of its {len(raw)} rows; the values present are "
                           + "; ".join(f"{c}: {', '.join(v)}" for c, v in present.items()))
    for column, wanted in where.items():  # a left-out value spelt as a kept one is a typo, not another category
        values = [str(v).strip().upper() for v in (wanted if isinstance(wanted, list) else [wanted])]
        text = _cells_as_text(raw[column]).str.strip().str.upper()
        for value in text[~keep & ~text.isin(values)].unique():
            near = [v for v in values if _spelt_alike(value, v)]
            if near:
                rows = (raw.index[(~keep & (text == value)).to_numpy()] + 1).tolist()
                raise MappingError(
                    f"{file}: data row{'s' * (len(rows) > 1)} {', '.join(map(str, rows[:5]))}"
                    f"{' ...' * (len(rows) > 5)}: {column} {value!r} is left out by where: {column}: {near[0]!r}, "
                    "from which it differs only in spaces, punctuation or a plural s: a typo would drop the record "
                    "silently; correct the delivery, or list the value under where")
    return keep, absent


def _spelt_alike(a: str, b: str) -> bool:
    """Whether two values are the same words but for case, spaces, punctuation and a plural s ('DISPOSITION EVENTS',
    'Disposition-Event'); a different letter or digit is another value (HEIGHT and WEIGHT, PART A and PART B)."""
    def words(value: str) -> list[str]:
        return [w[:-1] if len(w) > 3 and w.endswith("S") else w for w in re.findall(r"[0-9A-Z]+", value.upper())]
    return words(a) == words(b)


def map_source(raw: pd.DataFrame, source: dict) -> pd.DataFrame:
    """Rename one raw table to standard variables as ``source`` (a ``sources:`` entry) says.

    ``columns`` maps standard -> raw names; a findings file in wide layout lists one raw
    column per test under ``results`` and becomes one row per test. Returns text columns
    plus SRCFILE and SRCROW (1-based data row in the raw file, ``raw``'s index + 1: rows a
    ``where:`` left out keep their numbers out of the count).
    """
    file, domain = source["file"], source["domain"]
    columns: dict[str, str] = source.get("columns", {})
    results: dict[str, dict] = source.get("results", {})
    if not any(c in columns for c in SUBJECT_IDS):
        raise MappingError(f"{file}: the trial config maps no raw column to USUBJID or SUBJID ({domain})")
    needed = [c for c in required(domain) if not (results and c in ("TESTCD", "ORRES", "ORRESU"))]
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
    frame = pd.DataFrame({std: raw[raw_name].astype(str) for std, raw_name in wanted.items()}, index=raw.index)
    frame["SRCFILE"] = file
    frame["SRCROW"] = raw.index.to_numpy() + 1
    frame = frame.reset_index(drop=True)
    if results:
        id_columns = [c for c in frame.columns if not c.startswith("__")]
        frame = frame.melt(id_vars=id_columns, var_name="TESTCD", value_name="ORRES")
        frame["TESTCD"] = frame["TESTCD"].str.removeprefix("__")
        frame["ORRESU"] = frame["TESTCD"].map({t: spec["unit"] for t, spec in results.items()})
        # a blank cell stays a record: cleaning queries it as a missing result, as it does in long layout
        frame = frame.sort_values(["SRCROW", "TESTCD"], kind="stable").reset_index(drop=True)
    ordered = [c for c in (*SUBJECT_IDS, *required(domain)) if c in frame.columns]
    extra = [c for c in frame.columns if c not in ordered and c not in SOURCE_COLUMNS]
    return frame[ordered + extra + list(SOURCE_COLUMNS)]


class EmptySourceError(ValueError):
    """A raw file has no data rows and its config does not say it may be empty."""


def _read_checked(raw_dir: Path, file: str, options: dict, manifest: dict | None) -> tuple[pd.DataFrame, dict]:
    """One raw file, checked against the manifest (SHA-256 before reading, rows after) and by its reader; a file
    without data rows stops the cut unless ``may_be_empty``."""
    path = raw_dir / file
    digest = None
    if manifest is not None and path.is_file():
        digest = sha256_file(path)
        check_file(manifest, file, digest, raw_dir)
    raw, meta = read_raw(path, encoding=options.get("encoding"),
                         allow_unterminated_last_line=options.get("allow_unterminated_last_line", False), sha256=digest,
                         multiline_columns=tuple(options.get("multiline_columns", ())))
    if manifest is not None:
        check_rows(manifest, file, meta["rows"], raw_dir)
    if meta["rows"] == 0 and not options.get("may_be_empty", False):
        raise EmptySourceError(f"{path}: no data rows (empty or header only); if this delivery may legitimately "
                               f"hold no records, set 'may_be_empty: true' for this source in the trial config")
    return raw, meta


def empty_domain(domain: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=str) for c in ("SUBJID", *required(domain))} | {
        "SRCFILE": pd.Series(dtype=str), "SRCROW": pd.Series(dtype="int64")})


def ingest_cut(raw_dir: str | Path, trial_config: dict, cut_date: str | None = None
               ) -> tuple[dict[str, pd.DataFrame], list[dict], dict | None]:
    """Read, check and map every source of one data cut.

    Each file is checked before use: against the cut's manifest when there is one (SHA-256
    before reading, row count after), and by the reader itself (a truncated or malformed file
    is an error). A file without data rows stops the cut unless its source says ``may_be_empty``.
    Supplemental qualifiers (SUPP--) are merged onto their parent records, then a source's
    ``where:`` selects its rows; the rows left out are counted in the file's metadata.
    Returns one table per domain (the standard ones empty with their required columns if the
    trial delivers none; any other domain the config lists), the metadata of each raw file
    read, and the manifest (None without one).
    """
    raw_dir = Path(raw_dir)
    manifest = load_manifest(raw_dir, cut_date)
    parts: dict[str, list[pd.DataFrame]] = {d: [] for d in DOMAINS}
    metadata = []
    for source in trial_config["sources"]:
        raw, meta = _read_checked(raw_dir, source["file"], source, manifest)
        supplemental = source.get("supplemental")
        if supplemental:
            supp, supp_meta = _read_checked(raw_dir, supplemental["file"], supplemental | {"may_be_empty": True},
                                            manifest)
            raw = merge_supplemental(raw, supp, source["file"], supplemental["file"])
            supp_meta.update({"domain": "SUPP" + source["domain"], "records_mapped": 0,
                              "records_merged": int(len(supp)), "merged_onto": source["file"],
                              "verified_against_manifest": manifest is not None})
        keep, absent = select_rows(raw, source.get("where", {}), source["file"])
        mapped = map_source(raw[keep], source)
        parts.setdefault(source["domain"], []).append(mapped)
        meta.update({"domain": source["domain"], "records_mapped": int(len(mapped)),
                     "rows_not_selected": int((~keep).sum()), "where": source.get("where", {}),
                     "where_values_absent": absent,
                     "verified_against_manifest": manifest is not None})
        metadata.append(meta)
        if supplemental:
            metadata.append(supp_meta)
    tables = {}
    for domain, frames in parts.items():
        tables[domain] = pd.concat(frames, ignore_index=True) if frames else empty_domain(domain)
        if domain in FINDINGS and "TESTCD" not in tables[domain]:
            raise MappingError(f"domain {domain}: no test code after mapping")
    return tables, metadata, manifest


def run_ingest(cut_dir: str | Path, config: dict, table_paths: list[str], other_dir: str | Path, raw_files_path: str,
               log) -> None:
    """Stage runner: ingest one cut and write one table per standard domain (any other domain into ``other_dir``)
    plus the raw files' metadata."""
    from ucmsc.io import write_json, write_table

    cut_dir = Path(cut_dir)
    tables, metadata, manifest = ingest_cut(cut_dir, config, cut_date=cut_dir.name)
    for domain, path in zip(DOMAINS, table_paths):
        write_table(tables[domain], path)
        log.info("%s: %d records", domain, len(tables[domain]))
    other_dir = Path(other_dir)
    other_dir.mkdir(parents=True, exist_ok=True)
    for domain in (d for d in tables if d not in DOMAINS):
        write_table(tables[domain], other_dir / f"{domain.lower()}.parquet")
        log.info("%s: %d records", domain, len(tables[domain]))
    for meta in metadata:
        if meta.get("rows_not_selected"):
            log.info("%s: %d row(s) not selected by where: %s", meta["file"], meta["rows_not_selected"], meta["where"])
        if meta.get("where_values_absent"):
            log.warning("%s: where names values no row has: %s", meta["file"], ", ".join(meta["where_values_absent"]))
    configured = {f for s in config["sources"] for f in source_files(s)}
    unmapped = sorted(e["name"] for e in (manifest or {}).get("files", []) if e["name"] not in configured)
    if manifest is None:
        log.warning("%s: no manifest.json; files were checked by the readers only, their completeness is not verified",
                    cut_dir)
    if unmapped:
        log.warning("delivered but not mapped by the trial config (not read): %s", ", ".join(unmapped))
    write_json({"cut_dir": str(cut_dir), "files": metadata, "manifest": manifest,
                "manifest_verified": manifest is not None, "unmapped_files": unmapped}, raw_files_path)
