"""Published vs reproduced: compare the ARD with every number the publications give.

Each entry of ``resources/published/published_numbers.yaml`` keeps the publication's text verbatim
and states its comparison rule; every status below is computed here from the ARD, none is declared:

- match / mismatch: the rule applied to the ARD value (both values shown);
- not estimable: the ARD row exists with no value (its WARNING says why);
- missing: no ARD row, or more than one, answers the selector;
- inconsistent publication: a mismatch where the publication's own summary statistics do not give its
  number either (the P those summaries give is shown);
- design: the number describes the protocol, no ARD row;
- interim cut: not scored: the cut is not the one the publication reports (the trial config's ``publication.cut``);
  an interim cut is not expected to match the final publication, so the status it would have is kept in DETAIL and
  the reproduced value is still shown.
"""

from __future__ import annotations

import itertools
import math
import re

import pandas as pd

from ucmsc import ard as ardlib
from ucmsc.rounding import format_half_up, round_half_up

AUDIT_COLUMNS = ["CHECK_ID", "SOURCE", "SENTENCE", "ARD_ROW", "PUBLISHED", "RULE", "REPRODUCED", "VALUE", "STATUS",
                 "DETAIL"]
SELECTOR_KEYS = ("ANALYSIS_ID", "PARAMCD", "AVISITN", "GROUP1_LEVEL", "COMPARATOR", "VARIABLE", "STAT_NAME", "METHOD")
NUMBER = re.compile(r"[-+]?\d*\.?\d+")


def expand(entry: dict) -> list[dict]:
    """One check per ARD row an entry names: lists under ``arms`` or ``cells`` pair with the published list; a list of
    parameters or visits in the selector expands to one check each (all against the one published text)."""
    selector = dict(entry.get("ard", {}))
    published = entry["published"]
    for key in ("arms", "cells"):
        if key in entry and (not isinstance(published, list) or len(published) != len(entry[key])):
            # zip would silently drop (or pair characters with) the rest
            raise ValueError(f"{entry['id']}: {len(entry[key])} {key} need a list of {len(entry[key])} "
                             f"published values, not {published!r}")
    if "arms" in entry:
        cases = [({**selector, "GROUP1_LEVEL": arm, "COMPARATOR": ""}, p) for arm, p in zip(entry["arms"], published)]
    elif "cells" in entry:
        cases = []
        for cell, p in zip(entry["cells"], published):
            extra = {"GROUP1_LEVEL": cell["arm"], "COMPARATOR": cell.get("comparator", ""), "AVISITN": cell["visit"]}
            cases.append(({**selector, **extra, **({"STAT_NAME": cell["stat"]} if "stat" in cell else {})}, p))
    else:
        lists = {k: v for k, v in selector.items() if isinstance(v, list)}
        cases = [({**selector, **dict(zip(lists, combo))}, published)
                 for combo in (itertools.product(*lists.values()) if lists else [()])]
    base = {k: v for k, v in entry.items() if k not in ("ard", "arms", "cells", "published")}
    suffix = (lambda i: f".{i}") if len(cases) > 1 else (lambda i: "")
    return [{**base, "id": f"{entry['id']}{suffix(i)}", "selector": sel, "published": str(pub)}
            for i, (sel, pub) in enumerate(cases, start=1)]


def published_number(text: str) -> float:
    """The number in the publication's text: '60.60%' -> 60.6, 'P=0.007' -> 0.007, 'P<0.05' -> 0.05."""
    found = NUMBER.findall(text.replace(",", ""))
    if not found:
        raise ValueError(f"no number in the published text {text!r}")
    return float(found[-1])


def rule_text(compare: dict) -> str:
    if "decimals" in compare:
        return f"equal at {compare['decimals']} decimals (ARD rounded half up)"
    if "below" in compare:
        return f"below {compare['below']:g}"
    return f"at least {compare['above']:g}"


def apply_rule(value: float, published: str, compare: dict) -> tuple[bool, str]:
    """(the rule holds, the reproduced value as the rule shows it)."""
    if "decimals" in compare:
        d = compare["decimals"]
        shown = format_half_up(value, d)
        return round_half_up(value, d) == round_half_up(published_number(published), d), shown
    shown = format_half_up(value, 3)
    return (value < compare["below"]) if "below" in compare else (value >= compare["above"]), shown


def summaries_p(summary: dict) -> float:
    """The P-value the publication's own summary statistics give (Student t-test from means, SDs and sizes)."""
    from scipy import stats as sps  # here: scipy.stats costs a second to import, and few audits reach this

    if summary["test"] != "student_t":
        raise ValueError(f"unknown test {summary['test']!r} for published summaries")
    return float(sps.ttest_ind_from_stats(summary["mean1"], summary["sd1"], summary["n1"], summary["mean2"],
                                          summary["sd2"], summary["n2"], equal_var=True).pvalue)


def _describe(selector: dict) -> str:
    return ", ".join(f"{k}={selector[k]}" for k in SELECTOR_KEYS if k in selector)


INTERIM = "interim cut: not scored"
SCORED = ("match", "mismatch")  # the index counts these two always, the other statuses when present


def audit_trial(ard: pd.DataFrame, published: dict, cut: str | None = None,
                publication_cut: str | None = None) -> pd.DataFrame:
    """The audit table of one trial and cut (see the module docstring for the statuses). ``cut`` is not scored when
    it is not ``publication_cut``, the cut the publication reports; without both, every check is scored."""
    ard = ardlib.conform(ard)
    interim = cut is not None and publication_cut is not None and str(publication_cut) != str(cut)
    rows = []
    for entry in published["numbers"]:
        for check in expand(entry):
            row = {"CHECK_ID": check["id"], "SOURCE": published["source"], "SENTENCE": check["sentence"],
                   "ARD_ROW": _describe(check["selector"]), "PUBLISHED": check["published"], "RULE": "",
                   "REPRODUCED": "", "VALUE": math.nan, "DETAIL": check.get("note", "")}
            if "ard" not in entry:
                rows.append(row | {"STATUS": "design", "DETAIL": "describes the protocol; no ARD row"})
                continue
            row["RULE"] = rule_text(check["compare"])
            hits = ardlib.select(ard, **check["selector"])
            if len(hits) != 1:
                rows.append(row | {"STATUS": "missing", "DETAIL": f"{len(hits)} ARD rows match (expected 1)"})
                continue
            value = float(hits["VALUE"].iloc[0])
            row["VALUE"] = value
            if math.isnan(value):
                status, detail = "not estimable", hits["WARNING"].iloc[0] or hits["ERROR"].iloc[0]
            else:
                holds, row["REPRODUCED"] = apply_rule(value, check["published"], check["compare"])
                status, detail = ("match" if holds else "mismatch"), row["DETAIL"]
                if not holds and "published_summaries" in check:
                    implied = summaries_p(check["published_summaries"])
                    implied_holds, _ = apply_rule(implied, check["published"], check["compare"])
                    if not implied_holds:
                        status = "inconsistent publication"
                        detail = (f"the publication's own summary statistics give P = {format_half_up(implied, 3)} "
                                  f"(Student t-test), not {check['published']}; "
                                  "the reproduced value is what the data give")
            if interim:
                detail = f"would be '{status}'; the publication reports cut {publication_cut}, not this one"
                status = INTERIM
            rows.append(row | {"STATUS": status, "DETAIL": detail})
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


def audit_summary(audit: pd.DataFrame) -> str:
    """One line for the index: '53 match, 0 mismatch, 1 inconsistent publication', 'interim: not scored' (followed by
    any missing ARD rows, which an interim cut reports too), or 'no publication' (no published number to compare)."""
    counts = audit.loc[audit["STATUS"] != "design", "STATUS"].value_counts()
    if counts.empty:
        return "no publication"
    if INTERIM in counts:
        others = [f"{n} {status}" for status, n in counts.items() if status != INTERIM]
        return ", ".join(["interim: not scored"] + others)
    shown = {status: int(counts.get(status, 0)) for status in SCORED}
    shown |= {status: int(n) for status, n in counts.items() if status not in SCORED}
    return ", ".join(f"{n} {status}" for status, n in shown.items())


def run_audit(ard_path: str, published_for_trial: dict | None, audit_path: str, log, cut: str | None = None,
              publication_cut: str | None = None) -> None:
    """Stage runner: the published-vs-reproduced table of one cut; ``publication_cut`` is the trial config's
    ``publication.cut``."""
    from ucmsc.io import write_table

    published = published_for_trial or {"source": "", "numbers": []}
    if published["numbers"] and publication_cut is None:
        raise ValueError(f"{published['source'] or 'the published numbers'}: the trial config has no publication.cut, "
                         "so the audit cannot tell the publication's cut from an interim one")
    table = audit_trial(ardlib.read(ard_path), published, cut, publication_cut)
    write_table(table, audit_path)
    log.info("audit: %s", table["STATUS"].value_counts().to_dict())
