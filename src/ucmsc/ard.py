"""The analysis-results dataset (ARD): its columns and types, its keys, ``select`` and ``compare``.

One row per statistic at full precision. Groups are columns, never text to parse: a row of one
arm has GROUP1 = "ARM" and GROUP1_LEVEL = the arm; a comparison has GROUP1_LEVEL = the active
arm and COMPARATOR = the control arm (estimates are GROUP1_LEVEL minus COMPARATOR); a row of
the whole population or of a model leaves both empty. A statistic that could not be computed
is still a row, VALUE missing, with its reason in WARNING or ERROR.

A level of a categorical variable has no column of its own (a new column would change every
ARD): the ``demographics`` method writes VARIABLE = the ADSL variable and PARAMCD = the level as
text (a whole number without decimals), MISSING_LEVEL for the subjects whose value is blank; PARAM
is the variable's label. E.g. 2 of the 3 placebo subjects of the safety population are female:

    ANALYSIS_ID=DEMOG POPULATION=SAFFL PARAMCD=F PARAM=Sex GROUP1=ARM GROUP1_LEVEL=Placebo
    VARIABLE=SEX METHOD=count STAT_NAME=pct VALUE=66.666...

and the same statistic for all arms together (Total) has the overall group (GROUP1 and
GROUP1_LEVEL empty). A continuous variable has PARAMCD = VARIABLE = its name, as AGE in the
``baseline`` method; each group's N has PARAMCD = the population flag and VARIABLE = USUBJID.

A level nested in a level of another variable names that outer level in GROUP2 (the variable) and
GROUP2_LEVEL (its level), as the pharmaverse cards package's group2 / group2_level; both are empty
when unused (every row but such nested ones, and an ARD written before these columns existed). E.g.
a preferred term under its system organ class, in the ``adverse_events`` method with ``by: soc_pt``:

    ANALYSIS_ID=AESOCPT PARAMCD=Pyrexia PARAM=Pyrexia GROUP1=ARM GROUP1_LEVEL=hUC-MSC
    GROUP2=AEBODSYS GROUP2_LEVEL=General disorders and administration site conditions
    VARIABLE=AEDECOD METHOD=count STAT_NAME=n VALUE=4

Everything that reads an ARD (report, figures, audit, cut comparison, provenance) uses the
keys and the missing-visit rule defined here, once.
"""

from __future__ import annotations

import math
from typing import Iterable

import pandas as pd

COLUMNS = ["TRIAL", "CUT", "ANALYSIS_ID", "ANALYSIS", "POPULATION", "PARAMCD", "PARAM", "AVISITN", "AVISIT",
           "GROUP1", "GROUP1_LEVEL", "COMPARATOR", "GROUP2", "GROUP2_LEVEL", "VARIABLE", "METHOD", "STAT_NAME",
           "STAT_LABEL", "VALUE", "WARNING", "ERROR", "INPUTS"]
TEXT = [c for c in COLUMNS if c not in ("AVISITN", "VALUE")]
# What identifies a statistic: the same key in two ARDs is the same statistic (cut comparison, audit).
KEYS = ["ANALYSIS_ID", "POPULATION", "PARAMCD", "AVISITN", "GROUP1", "GROUP1_LEVEL", "COMPARATOR", "GROUP2",
        "GROUP2_LEVEL", "VARIABLE", "METHOD", "STAT_NAME"]
NO_VISIT = -1  # AVISITN of a statistic that is not by visit, in keys (missing in the ARD itself)
ARM = "ARM"
DEMOGRAPHICS = "Demographic and baseline characteristics"  # ANALYSIS of the demographics method's rows
MISSING_LEVEL = "MISSING"  # PARAMCD of the count of subjects whose categorical variable is blank
# ANALYSIS of methods whose count rows have PARAMCD = a level of VARIABLE (cards: variable_level), besides DEMOGRAPHICS
AE_SOC_PT = "Treatment-emergent adverse events by system organ class and preferred term"
AE_MAXIMUM = {"AESEV": "Treatment-emergent adverse events by maximum severity",
              "AEREL": "Treatment-emergent adverse events by closest relationship to study treatment"}
AE_WINDOW = "Treatment-emergent adverse events within the exposure window after a dose, by dose number"
EXPOSURE = "Exposure to study treatment"
LEVEL_ANALYSES = (DEMOGRAPHICS, AE_SOC_PT, *AE_MAXIMUM.values(), AE_WINDOW, EXPOSURE)


def arm_group(arm: str) -> dict:
    """Key columns of a row describing one arm."""
    return {"GROUP1": ARM, "GROUP1_LEVEL": arm, "COMPARATOR": ""}


def contrast_group(active: str, control: str) -> dict:
    """Key columns of a row comparing ``active`` with ``control`` (estimate = active minus control)."""
    return {"GROUP1": ARM, "GROUP1_LEVEL": active, "COMPARATOR": control}


def overall_group() -> dict:
    """Key columns of a row about all arms together (a model, a pooled sample, a reference range)."""
    return {"GROUP1": "", "GROUP1_LEVEL": "", "COMPARATOR": ""}


def nested(variable: str, level: str) -> dict:
    """Key columns of a level nested in ``level`` of ``variable`` (a preferred term in its system organ class)."""
    return {"GROUP2": variable, "GROUP2_LEVEL": level}


def group_label(row) -> str:
    """How a row's group is printed: the arm, 'active vs control', or 'All'."""
    if row["COMPARATOR"]:
        return f"{row['GROUP1_LEVEL']} vs {row['COMPARATOR']}"
    return row["GROUP1_LEVEL"] or "All"


class Builder:
    """Collects the rows of one cut's ARD; ``frame`` gives them with every column and type."""

    def __init__(self, trial: str, cut: str, inputs: str):
        self.common = {"TRIAL": trial, "CUT": cut, "INPUTS": inputs}
        self.rows: list[dict] = []

    def add(self, stat_rows: Iterable[dict], **keys) -> None:
        for row in stat_rows:
            self.rows.append({**self.common, **overall_group(), **nested("", ""), **keys, **row})

    def frame(self) -> pd.DataFrame:
        return conform(pd.DataFrame(self.rows))


_TEXT_DTYPE = pd.Series([""], dtype=object).astype(str).dtype


def conform(ard: pd.DataFrame) -> pd.DataFrame:
    """Every column, in order, with its type: text '' where empty, AVISITN and VALUE numbers (NaN where missing)."""
    ard = ard.reindex(columns=COLUMNS)
    for column in TEXT:
        if ard[column].dtype == _TEXT_DTYPE and not ard[column].hasnans:  # conformed already (read, then rendered)
            continue
        ard[column] = ard[column].astype(object).where(ard[column].notna(), "").astype(str)
    ard["AVISITN"] = pd.to_numeric(ard["AVISITN"], errors="coerce").astype(float)
    ard["VALUE"] = pd.to_numeric(ard["VALUE"], errors="coerce").astype(float)
    return ard


def read(path) -> pd.DataFrame:
    """An ARD written by ``ucmsc.io.write_table`` (CSV or Parquet), with its column types restored."""
    from ucmsc.io import read_table

    return conform(read_table(path, text_columns=tuple(TEXT)))


def key_frame(ard: pd.DataFrame) -> pd.DataFrame:
    """The key columns, with NO_VISIT for a statistic that is not by visit, so keys compare equal."""
    keys = ard[KEYS].copy()
    keys["AVISITN"] = keys["AVISITN"].fillna(NO_VISIT)
    return keys


def select(ard: pd.DataFrame, **criteria) -> pd.DataFrame:
    """Rows whose columns equal the criteria (AVISITN=None selects rows that are not by visit)."""
    mask = pd.Series(True, index=ard.index)
    for column, value in criteria.items():
        if column == "AVISITN":
            visit = ard["AVISITN"].fillna(NO_VISIT)
            mask &= visit == (NO_VISIT if value is None else float(value))
        else:
            mask &= ard[column] == value
    return ard[mask]


def value(ard: pd.DataFrame, **criteria) -> float | None:
    """The VALUE of the one row the criteria select; None when no row does. More than one row is an error."""
    rows = select(ard, **criteria)
    if len(rows) > 1:
        raise ValueError(f"{len(rows)} ARD rows match {criteria}; a statistic's key must select one")
    return None if rows.empty else float(rows["VALUE"].iloc[0])


def compare(old: pd.DataFrame, new: pd.DataFrame, keys: list[str] | None = None) -> pd.DataFrame:
    """Rows of two ARDs matched on their keys: one row per key with OLD and NEW values and where it is found.

    FOUND is "both", "old only" or "new only". Statistics of one ARD that share a key (which ``Builder``
    never writes) raise, so no value is silently dropped. The cut comparison and the audit build on this.
    """
    keys = keys or KEYS

    def keyed(ard: pd.DataFrame) -> pd.DataFrame:
        frame = key_frame(ard)[keys].assign(VALUE=ard["VALUE"].to_numpy(), WARNING=ard["WARNING"].to_numpy())
        repeated = frame.duplicated(keys, keep=False)
        if repeated.any():
            raise ValueError(f"{int(repeated.sum())} ARD rows share a key, "
                             f"e.g. {frame[repeated].iloc[0][keys].to_dict()}")
        return frame

    merged = keyed(old).merge(keyed(new), on=keys, how="outer", suffixes=("_OLD", "_NEW"), indicator=True)
    merged["FOUND"] = merged.pop("_merge").map({"both": "both", "left_only": "old only",
                                                "right_only": "new only"}).astype(str)
    return merged.rename(columns={"VALUE_OLD": "OLD", "VALUE_NEW": "NEW"})


def to_cards(ard: pd.DataFrame) -> pd.DataFrame:
    """The ARD in the layout of the pharmaverse ``cards`` package, one row per statistic, for R users.

    group1 = ARM (level: the arm, or the active arm of a comparison), group2 = PARAMCD, group3 = AVISIT,
    group4 = COMPARATOR (comparisons only); variable = the analysed variable (AVAL, CHG, ...), with
    variable_level the level of a categorical row (its PARAMCD: demographics, AE by SOC and PT, by maximum
    severity, by dose number, exposure levels), whose group2 is then the ARD's GROUP2 (a preferred term's system
    organ class, as cards' ard_stack_hierarchical) or empty; context = the analysis; stat is the full-precision
    value; fmt_fn the decimals the report prints.
    """
    from ucmsc.rounding import display_decimals

    level = (ard["ANALYSIS"].isin(LEVEL_ANALYSES) & (ard["METHOD"] == "count") & (ard["VARIABLE"] != "USUBJID")
             | (ard["GROUP2"] != ""))
    cards = pd.DataFrame({
        "group1": ard["GROUP1"], "group1_level": ard["GROUP1_LEVEL"],
        "group2": ard["GROUP2"].where(level, "PARAMCD"),
        "group2_level": ard["GROUP2_LEVEL"].where(level, ard["PARAMCD"]),
        "group3": ard["AVISIT"].map(lambda v: "AVISIT" if v else ""), "group3_level": ard["AVISIT"],
        "group4": ard["COMPARATOR"].map(lambda v: "COMPARATOR" if v else ""), "group4_level": ard["COMPARATOR"],
        "variable": ard["VARIABLE"], "variable_level": ard["PARAMCD"].where(level, ""),
        "context": ard["ANALYSIS_ID"].str.lower(),
        "stat_name": ard["STAT_NAME"], "stat_label": ard["STAT_LABEL"], "stat": ard["VALUE"],
        "fmt_fn": ard["STAT_NAME"].map(display_decimals), "warning": ard["WARNING"], "error": ard["ERROR"],
        "method": ard["METHOD"], "population": ard["POPULATION"],
    })
    return cards


def is_missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))
