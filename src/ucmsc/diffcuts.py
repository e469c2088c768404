"""What changed between two data cuts of a trial: subjects, records and results.

Records are matched across cuts on their natural keys (not on file rows, which shift);
results are matched on the ARD's keys and reported when they change beyond their printed
rounding or when a significance call flips, with the records that moved under them. A result
the ARD has as not estimable (VALUE NaN) prints as "NE"; one the ARD does not have, as "".
"""

from __future__ import annotations

import pandas as pd

from ucmsc.domains import DOMAINS, FINDINGS, record_key
from ucmsc.rounding import format_half_up

RECORD_KEYS = {domain: record_key(domain) for domain in DOMAINS}
IGNORED = {"SRCFILE", "SRCROW", "STUDYID", "DOMAIN"}
ARD_KEYS = ["ANALYSIS_ID", "POPULATION", "PARAMCD", "AVISITN", "GROUP", "VARIABLE", "METHOD", "STAT_NAME"]
PRINTED_DECIMALS = {"n": 0, "N": 0, "events": 0, "pct": 1, "p": 3, "fisher_p": 3, "p_holm": 3, "p_bh": 3}


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
        values = [c for c in b.columns if c not in IGNORED and c not in keys]
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
                             "OLD": _text(a.loc[key, column]), "NEW": _text(b.loc[key, column]), "USUBJID": _subject(keys, key)})
    return pd.DataFrame(rows, columns=["DOMAIN", "KEY", "USUBJID", "CHANGE", "VARIABLE", "OLD", "NEW"])


def _key_text(keys, key) -> str:
    key = key if isinstance(key, tuple) else (key,)
    return "; ".join(f"{k}={_text(v)}" for k, v in zip(keys, key))


def _subject(keys, key) -> str:
    return (key if isinstance(key, tuple) else (key,))[0]


def _summary(row: pd.Series, values: list[str]) -> str:
    return "; ".join(f"{c}={_text(row[c])}" for c in values[:6] if c in row.index)


def _printed(stat: str, value: float) -> str:
    return format_half_up(value, PRINTED_DECIMALS.get(stat, 2))


def result_changes(old_ard: pd.DataFrame, new_ard: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """ARD rows whose printed value changed, appeared or disappeared, with flipped significance and the records behind them."""
    a = old_ard.assign(AVISITN=old_ard["AVISITN"].fillna(-1)).drop_duplicates(ARD_KEYS).set_index(ARD_KEYS)["VALUE"]
    b = new_ard.assign(AVISITN=new_ard["AVISITN"].fillna(-1)).drop_duplicates(ARD_KEYS).set_index(ARD_KEYS)["VALUE"]
    moved = _moved_findings(records)
    rows = []
    for key in a.index.union(b.index):
        old = a.get(key)
        new = b.get(key)
        stat = key[ARD_KEYS.index("STAT_NAME")]
        old_text = "" if old is None else ("NE" if pd.isna(old) else _printed(stat, old))
        new_text = "" if new is None else ("NE" if pd.isna(new) else _printed(stat, new))
        if old_text == new_text:
            continue
        flipped = stat in ("p", "fisher_p") and old is not None and new is not None and not pd.isna(old) and not pd.isna(new) \
            and (old < 0.05) != (new < 0.05)
        paramcd, visit = key[ARD_KEYS.index("PARAMCD")], key[ARD_KEYS.index("AVISITN")]
        behind = moved.get((paramcd, float(visit)), []) or moved.get((paramcd, None), [])
        rows.append({**dict(zip(ARD_KEYS, key)), "OLD": old_text, "NEW": new_text,
                     "CHANGE": "added" if old is None else ("removed" if new is None else "changed"),
                     "SIGNIFICANCE_FLIPPED": "Y" if flipped else "", "RECORDS_MOVED": len(behind),
                     "SUBJECTS": " ".join(sorted(set(behind))[:10])})
    return pd.DataFrame(rows, columns=ARD_KEYS + ["OLD", "NEW", "CHANGE", "SIGNIFICANCE_FLIPPED", "RECORDS_MOVED", "SUBJECTS"])


def _moved_findings(records: pd.DataFrame) -> dict:
    """(PARAMCD, visit) -> subjects whose finding records were added, deleted or changed; (PARAMCD, None) for any visit."""
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


def run_diff(old_tables: list[str], new_tables: list[str], old_ard: str, new_ard: str, out_paths: dict[str, str], log) -> None:
    """Stage runner: compare two cuts and write subjects.csv, records.csv and results.csv."""
    from ucmsc.domains import DOMAINS
    from ucmsc.io import read_table, write_table

    old = {d: read_table(p) for d, p in zip(DOMAINS, old_tables)}
    new = {d: read_table(p) for d, p in zip(DOMAINS, new_tables)}
    changes = compare_cuts(old, new, read_table(old_ard), read_table(new_ard))
    for name in ("subjects", "records", "results"):
        write_table(changes[name], out_paths[name])
        log.info("%s: %d changes", name, len(changes[name]))
