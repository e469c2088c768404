"""Subject-level rules that cleaning and the analysis datasets share: which disposition record ends a
subject's study, and the reference date a DS record can supply.

The trial config says which DS records count (``disposition: {where: ...}``, e.g. DSCAT =
DISPOSITION EVENT in an SDTM delivery with protocol milestones and other events in DS too) and
where the reference date of study days comes from (``reference_date``: DM's mapped RANDDT, or
the date of a DS record such as DSDECOD = RANDOMIZED).
"""

from __future__ import annotations

import pandas as pd

COMPLETED = "COMPLETED"  # CDISC NCOMPLT codelist term of a completed study
SCREEN_FAILURE = "SCREEN FAILURE"  # NCOMPLT: the subject was never randomised


def matches(frame: pd.DataFrame, where: dict) -> pd.Series:
    """Records whose variables equal the given values (a value or a list of values; compared as stripped,
    upper-case text, as cleaning stores coded terms). A variable the frame lacks matches nothing."""
    keep = pd.Series(True, index=frame.index)
    for variable, wanted in (where or {}).items():
        if variable not in frame:
            return pd.Series(False, index=frame.index)
        values = {str(v).strip().upper() for v in (wanted if isinstance(wanted, list) else [wanted])}
        keep &= frame[variable].fillna("").astype(str).str.strip().str.upper().isin(values)
    return keep


def disposition_records(ds: pd.DataFrame, config: dict) -> pd.Series:
    """The DS records that are disposition events (``disposition.where``; every record when absent)."""
    return matches(ds, config.get("disposition", {}).get("where", {}))


def end_of_study(ds: pd.DataFrame, config: dict) -> pd.DataFrame:
    """One record per subject: the subject's last disposition event (latest DSSTDTC, then the last in file order;
    an undated one counts as the latest), indexed by USUBJID."""
    events = ds[disposition_records(ds, config)]
    if events.empty:
        return events.set_index("USUBJID")
    order = events.assign(_UNDATED=events["DSSTDTC"].fillna("").astype(str).str.strip() == "",
                          _DATE=events["DSSTDTC"].fillna("").astype(str), _ORDER=range(len(events)))
    order = order.sort_values(["USUBJID", "_UNDATED", "_DATE", "_ORDER"], kind="stable")
    return order.drop_duplicates("USUBJID", keep="last").drop(columns=["_UNDATED", "_DATE", "_ORDER"]) \
        .set_index("USUBJID")


def left_study(ds: pd.DataFrame, config: dict) -> pd.Series:
    """USUBJID -> the date a subject left the study early ('' when not known), for subjects whose last disposition
    event is not COMPLETED."""
    last = end_of_study(ds, config)
    return last.loc[last["DSDECOD"].astype(str).str.upper() != COMPLETED, "DSSTDTC"].fillna("")


def reference_from_ds(config: dict) -> dict | None:
    """``reference_date`` when it names a DS record (else None: DM's RANDDT is the reference date)."""
    reference = config.get("reference_date", {})
    return reference if reference.get("domain") == "DS" else None


def reference_dates(ds: pd.DataFrame, config: dict) -> pd.Series:
    """USUBJID -> the date of the subject's first DS record that ``reference_date.where`` selects."""
    reference = reference_from_ds(config)
    records = ds[matches(ds, reference["where"])]
    dated = records[records["DSSTDTC"].fillna("").astype(str).str.strip() != ""]
    return dated.sort_values("DSSTDTC", kind="stable").drop_duplicates("USUBJID").set_index("USUBJID")["DSSTDTC"]
