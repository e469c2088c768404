"""What changed between two data cuts of a trial: subjects, records and results.

Records are matched across cuts on their natural keys (not on file rows, which shift);
results are matched on the ARD's keys and reported when they change beyond their printed
rounding or when a significance call flips, with the records that moved under them. A result
the ARD has as not estimable (VALUE NaN) prints as "NE"; one the ARD does not have, as "".
"""

from __future__ import annotations

import pandas as pd

from ucmsc import ard as ardlib
from ucmsc.domains import DOMAINS, FINDINGS, record_key
from ucmsc.rounding import P_VALUES, display_decimals, format_half_up, format_p

RECORD_KEYS = {domain: record_key(domain) for domain in DOMAINS}
IGNORED = {"SRCFILE", "SRCROW", "STUDYID", "DOMAIN"}


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def subject_changes(old_dm: pd.DataFrame, new_dm: pd.DataFrame) -> pd.DataFrame:
    old, new = set(old_dm["USUBJID"]), set(new_dm["USUBJID"])
    rows = [{"USUBJID": s, "CHANGE": "added"} for s in sorted(new - old)]
    rows += [{"USUBJID": s, "CHANGE": "removed"} for s in sorted(old - new)]
    return pd.DataFrame(rows, columns=["USUBJID", "CHANGE"])


def record_changes(old: dict[str, pd.DataFrame], new: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per added, deleted or changed record (per changed variable), with old and new values."""
    rows = []
    for domain, keys in RECORD_KEYS.items():
        a, b = old[domain], new[domain]
        values = [c for c in b.columns if c not in IGNORED and c not in keys and c != f"{domain}SEQ"]  # an identifier
        a = a.drop_duplicates(keys).set_index(keys)
        b = b.drop_duplicates(keys).set_index(keys)
        for key in b.index.difference(a.index):
            rows.append({"DOMAIN": domain, "KEY": _key_text(keys, key), "CHANGE": "added", "VARIABLE": "", "OLD": "",
                         "NEW": _summary(b.loc[key], values), "USUBJID": _subject(keys, key)})
        for key in a.index.difference(b.index):
            rows.append({"DOMAIN": domain, "KEY": _key_text(keys, key), "CHANGE": "deleted", "VARIABLE": "",
                         "OLD": _summary(a.loc[key], values), "NEW": "", "USUBJID": _subject(keys, key)})
        common = a.index.intersection(b.index)
        for column in values:
            if column not in a.columns:
                continue
            left, right = a.loc[common, column], b.loc[common, column]
            differ = ~((left == right) | (left.isna() & right.isna()))
            for key in common[differ.to_numpy()]:
                rows.append({"DOMAIN": domain, "KEY": _key_text(keys, key), "CHANGE": "changed", "VARIABLE": column,
                             "OLD": _text(a.loc[key, column]), "NEW": _text(b.loc[key, column]),
                             "USUBJID": _subject(keys, key)})
    return pd.DataFrame(rows, columns=["DOMAIN", "KEY", "USUBJID", "CHANGE", "VARIABLE", "OLD", "NEW"])


def _key_text(keys, key) -> str:
    key = key if isinstance(key, tuple) else (key,)
    return "; ".join(f"{k}={_text(v)}" for k, v in zip(keys, key))


def _subject(keys, key) -> str:
    return (key if isinstance(key, tuple) else (key,))[0]


def _summary(row: pd.Series, values: list[str]) -> str:
    return "; ".join(f"{c}={_text(row[c])}" for c in values[:6] if c in row.index)


def result_changes(old_ard: pd.DataFrame, new_ard: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """ARD rows whose printed value changed, appeared or disappeared (``ucmsc.ard.compare``), with flipped
    significance and the records behind them. A value that is not estimable prints as NE."""
    matched = ardlib.compare(ardlib.conform(old_ard), ardlib.conform(new_ard))
    moved = _moved_findings(records)

    def printed(stat: str, value, found: bool) -> str:
        if not found:
            return ""
        if pd.isna(value):
            return "NE"
        return format_p(value) if stat in P_VALUES else format_half_up(value, display_decimals(stat))

    rows = []
    for row in matched.to_dict("records"):
        old_found, new_found = row["FOUND"] != "new only", row["FOUND"] != "old only"
        old_text, new_text = (printed(row["STAT_NAME"], row["OLD"], old_found),
                              printed(row["STAT_NAME"], row["NEW"], new_found))
        if old_text == new_text:
            continue
        flipped = row["STAT_NAME"] in ("p", "fisher_p") and old_found and new_found and not pd.isna(row["OLD"]) \
            and not pd.isna(row["NEW"]) and (row["OLD"] < 0.05) != (row["NEW"] < 0.05)
        behind = moved.get((row["PARAMCD"], float(row["AVISITN"])), []) or moved.get((row["PARAMCD"], None), [])
        rows.append({**{k: row[k] for k in ardlib.KEYS}, "OLD": old_text, "NEW": new_text,
                     "CHANGE": "added" if not old_found else ("removed" if not new_found else "changed"),
                     "SIGNIFICANCE_FLIPPED": "Y" if flipped else "", "RECORDS_MOVED": len(behind),
                     "SUBJECTS": " ".join(sorted(set(behind))[:10])})
    return pd.DataFrame(rows, columns=ardlib.KEYS + ["OLD", "NEW", "CHANGE", "SIGNIFICANCE_FLIPPED",
                                                     "RECORDS_MOVED", "SUBJECTS"])


def _moved_findings(records: pd.DataFrame) -> dict:
    """(PARAMCD, visit) -> subjects whose finding records were added, deleted or changed; (PARAMCD, None) for any
    visit."""
    moved: dict = {}
    findings = records[records["DOMAIN"].isin(FINDINGS)]
    for _, row in findings.drop_duplicates(["DOMAIN", "KEY"]).iterrows():
        parts = dict(part.split("=", 1) for part in row["KEY"].split("; "))
        testcd = parts.get(f"{row['DOMAIN']}TESTCD")
        visit = float(parts["VISITNUM"]) if parts.get("VISITNUM") else None
        moved.setdefault((testcd, visit), []).append(row["USUBJID"])
        moved.setdefault((testcd, None), []).append(row["USUBJID"])
    return moved


def compare_cuts(old_sdtm, new_sdtm, old_ard, new_ard) -> dict[str, pd.DataFrame]:
    records = record_changes(old_sdtm, new_sdtm)
    return {"subjects": subject_changes(old_sdtm["DM"], new_sdtm["DM"]), "records": records,
            "results": result_changes(old_ard, new_ard, records)}


def run_diff(old_tables: list[str], new_tables: list[str], old_ard: str, new_ard: str, out_paths: dict[str, str],
             log) -> None:
    """Stage runner: compare two cuts and write subjects.csv, records.csv and results.csv."""
    from ucmsc.domains import DOMAINS
    from ucmsc.io import read_table, write_table

    old = {d: read_table(p) for d, p in zip(DOMAINS, old_tables)}
    new = {d: read_table(p) for d, p in zip(DOMAINS, new_tables)}
    changes = compare_cuts(old, new, ardlib.read(old_ard), ardlib.read(new_ard))
    for name in ("subjects", "records", "results"):
        write_table(changes[name], out_paths[name])
        log.info("%s: %d changes", name, len(changes[name]))
