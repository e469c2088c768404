"""Published vs reproduced: compare the ARD with every number the abstracts publish.

An ARD row that is there but not estimable (VALUE NaN) is "not estimable", with the ARD's
WARNING or ERROR as the detail, not a mismatch.
"""

from __future__ import annotations

import itertools
import math

import pandas as pd
from scipy import stats as sps

from ucmsc.rounding import format_half_up

AUDIT_COLUMNS = ["CHECK_ID", "SOURCE", "SENTENCE", "ARD_ROW", "PUBLISHED", "REPRODUCED", "VALUE", "CHECK", "STATUS", "DETAIL"]
SELECTOR_KEYS = ("ANALYSIS_ID", "PARAMCD", "AVISITN", "GROUP", "VARIABLE", "STAT_NAME", "METHOD")


def expand(entry: dict) -> list[dict]:
    """One check per ARD row an entry names (lists of groups, cells, parameters or visits expand)."""
    base = {k: v for k, v in entry.items() if k not in ("ard", "groups", "cells", "published")}
    selector = dict(entry.get("ard", {}))
    published = entry["published"]
    if "groups" in entry:
        cases = [({**selector, "GROUP": g}, p) for g, p in zip(entry["groups"], published)]
    elif "cells" in entry:
        cases = []
        for cell, p in zip(entry["cells"], published):
            extra = {"GROUP": cell[0], "AVISITN": cell[1]} | ({"STAT_NAME": cell[2]} if len(cell) > 2 else {})
            cases.append(({**selector, **extra}, p))
    else:
        lists = {k: v for k, v in selector.items() if isinstance(v, list)}
        cases = []
        for combo in itertools.product(*lists.values()) if lists else [()]:
            cases.append(({**selector, **dict(zip(lists, combo))}, published))
    out = []
    for i, (sel, pub) in enumerate(cases, start=1):
        suffix = f".{i}" if len(cases) > 1 else ""
        out.append({**base, "id": f"{entry['id']}{suffix}", "selector": sel, "published": str(pub)})
    return out


def _select(ard: pd.DataFrame, selector: dict) -> pd.DataFrame:
    mask = pd.Series(True, index=ard.index)
    for key in SELECTOR_KEYS:
        if key in selector:
            value = selector[key]
            mask &= (ard[key].astype(float) == float(value)) if key == "AVISITN" else (ard[key] == value)
    return ard[mask]


def _describe(selector: dict) -> str:
    return ", ".join(f"{k}={selector[k]}" for k in SELECTOR_KEYS if k in selector)


def audit_trial(ard: pd.DataFrame, published: dict) -> pd.DataFrame:
    """The audit table of one trial: match, mismatch (both values shown), not reproducible (with the reason), design."""
    rows = []
    for entry in published["numbers"]:
        for check in expand(entry):
            row = {"CHECK_ID": check["id"], "SOURCE": published["source"], "SENTENCE": check["sentence"],
                   "ARD_ROW": _describe(check["selector"]), "PUBLISHED": check["published"], "REPRODUCED": "",
                   "VALUE": float("nan"), "CHECK": check["check"], "DETAIL": check.get("note", "")}
            if check["check"] == "design":
                rows.append(row | {"STATUS": "design (not a result)", "DETAIL": "describes the protocol; no ARD row"})
                continue
            hits = _select(ard, check["selector"])
            if len(hits) != 1:
                rows.append(row | {"STATUS": "missing", "DETAIL": f"{len(hits)} ARD rows match (expected 1)"})
                continue
            value = float(hits["VALUE"].iloc[0])
            row["VALUE"] = value
            if math.isnan(value):
                reasons = [str(hits[c].iloc[0]) for c in ("ERROR", "WARNING")
                           if c in hits and pd.notna(hits[c].iloc[0])]
                detail = next((r for r in reasons if r), "VALUE is missing")
                rows.append(row | {"STATUS": "not estimable", "DETAIL": detail})
                continue
            if check["check"] == "equal":
                row["REPRODUCED"] = format_half_up(value, check["decimals"])
                row["STATUS"] = "match" if row["REPRODUCED"] == check["published"] else "mismatch"
            elif check["check"] in ("below", "above"):
                row["REPRODUCED"] = format_half_up(value, 3)
                ok = value < check["threshold"] if check["check"] == "below" else value >= check["threshold"]
                row["STATUS"] = "match" if ok else "mismatch"
            elif check["check"] == "discrepancy":
                s = check["from_summary"]
                p = sps.ttest_ind_from_stats(s["mean1"], s["sd1"], s["n1"], s["mean2"], s["sd2"], s["n2"], equal_var=True).pvalue
                row["REPRODUCED"] = format_half_up(value, 3)
                row["STATUS"] = "not reproducible from the published statistics"
                row["DETAIL"] = (f"Student t-test on the published summaries: P = {format_half_up(p, 3)}. "
                                 + " ".join(check["reason"].split()))
            else:
                raise ValueError(f"{check['id']}: unknown check '{check['check']}'")
            rows.append(row)
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


def run_audit(ard_path: str, published_for_trial: dict | None, audit_path: str, log) -> None:
    """Stage runner: the published-vs-reproduced table of one cut."""
    from ucmsc.io import read_table, write_table

    table = audit_trial(read_table(ard_path), published_for_trial or {"source": "", "numbers": []})
    write_table(table, audit_path)
    log.info("audit: %s", table["STATUS"].value_counts().to_dict())
