"""ADaM conformance checks run on every build: the datasets as the pipeline writes them against ADaMIG 1.1 and
their own metadata (the define.xml content).

``check_conformance(datasets, metadata, labels)`` returns one row per finding (``COLUMNS``); an empty frame means
the build conforms. ``CONFORMANCE_RULES`` lists every rule run, so a report can show the rules that passed too.
Each rule is a small pure function returning finding rows; nothing here writes, logs or mutates its inputs.

Conventions of the inputs: text is str with "" for missing; flags are "Y" or "" (ADSL population flags "Y"/"N");
dates are datetime64. ``metadata`` is any object with ``datasets``, ``variables``, ``codelists`` and ``parameters``
frames. N of a finding counts records for rules about record values, and items (datasets, variables, parameter
codes) for rules about names and metadata; the MESSAGE says which.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ucmsc.io import categories_as_text, utf8_lengths

COLUMNS = ["RULE", "DATASET", "VARIABLE", "SEVERITY", "MESSAGE", "N", "REFERENCE"]

ADSL_CLASS = "SUBJECT LEVEL ANALYSIS DATASET"
BDS_CLASS = "BASIC DATA STRUCTURE"
OCCDS_CLASS = "OCCURRENCE DATA STRUCTURE"

NAMES = "ADaMIG 1.1 §2.3; SAS V5 transport"
DEFINE = "Define-XML 2.1"

# (RULE, SEVERITY, REFERENCE, description)
CONFORMANCE_RULES = (
    ("DATASET-NAME", "ERROR", NAMES, "Dataset name at most 8 characters, starting with AD"),
    ("VARIABLE-NAME", "ERROR", NAMES, "Variable name at most 8 characters of A-Z, 0-9, _, not starting with a digit"),
    ("LABEL-LENGTH", "ERROR", NAMES, "Dataset and variable labels at most 40 characters"),
    ("DATASET-NOT-IN-SPEC", "ERROR", f"{DEFINE} ItemGroupDef", "Every dataset written is described in the metadata"),
    ("DATASET-MISSING", "ERROR", f"{DEFINE} ItemGroupDef", "Every described dataset is written"),
    ("VARIABLE-NOT-IN-SPEC", "ERROR", f"{DEFINE} ItemRef", "Every variable of a dataset is described"),
    ("VARIABLE-MISSING", "ERROR", f"{DEFINE} ItemRef", "Every described variable is in the dataset"),
    ("VARIABLE-ORDER", "ERROR", f"{DEFINE} ItemRef OrderNumber", "Variables are in the described ORDER"),
    ("ADSL-REQUIRED", "ERROR", "ADaMIG 1.1 §3.2",
     "ADSL has STUDYID USUBJID SUBJID SITEID AGE AGEU SEX RACE ARM TRT01P"),
    ("ADSL-TRT01A", "WARNING", "ADaMIG 1.1 §3.2 (conditionally required)", "ADSL has TRT01A"),
    ("BDS-REQUIRED", "ERROR", "ADaMIG 1.1 §3.3",
     "BDS has STUDYID USUBJID PARAM PARAMCD, AVAL or AVALC, and TRTP or TRTA"),
    ("OCCDS-REQUIRED", "ERROR", "ADaM OCCDS v1.0; ADAE v1.0",
     "OCCDS has STUDYID USUBJID; ADAE also AESEQ AETERM AEDECOD AEBODSYS TRTA"),
    ("ADSL-ONE-PER-SUBJECT", "ERROR", "ADaMIG 1.1 §3.2", "USUBJID is unique in ADSL"),
    ("SUBJECT-NOT-IN-ADSL", "ERROR", "ADaMIG 1.1 §3.2", "Every USUBJID of another dataset is in ADSL"),
    ("BDS-PARAMCD-ONE-PARAM", "ERROR", "ADaMIG 1.1 §3.3.4", "One PARAM per PARAMCD within a dataset"),
    ("BDS-PARAM-ONE-PARAMCD", "ERROR", "ADaMIG 1.1 §3.3.4", "One PARAMCD per PARAM within a dataset"),
    ("BDS-PARAMCD-FORMAT", "ERROR", "ADaMIG 1.1 §3.3.4",
     "PARAMCD at most 8 characters of A-Z, 0-9, _, starting with a letter"),
    ("BDS-PARAM-LENGTH", "ERROR", "ADaMIG 1.1 §3.3.4", "PARAM at most 200 characters"),
    ("BDS-BASE-AVAL", "ERROR", "ADaMIG 1.1 §3.3.4", "BASE equals AVAL on ABLFL = Y records"),
    ("BDS-ONE-BASELINE", "ERROR", "ADaMIG 1.1 §3.3.8", "At most one ABLFL = Y per USUBJID, PARAMCD (BASETYPE)"),
    ("BDS-BASE-CONSTANT", "ERROR", "ADaMIG 1.1 §3.3.4", "BASE constant within USUBJID, PARAMCD (BASETYPE)"),
    ("BDS-CHG", "ERROR", "ADaMIG 1.1 §3.3.4", "CHG = AVAL - BASE where CHG is present"),
    ("BDS-PCHG", "ERROR", "ADaMIG 1.1 §3.3.4", "PCHG = 100 * CHG / BASE where PCHG is present"),
    ("BDS-ANL01FL-UNIQUE", "ERROR", "ADaMIG 1.1 §3.3.8", "At most one ANL01FL = Y per USUBJID, PARAMCD, AVISITN"),
    ("BDS-ANL01FL-VALUE", "WARNING", "ADaMIG 1.1 §3.3.8",
     "An ANL01FL = Y record has AVAL or AVALC (a record analysed has a value)"),
    ("BDS-CHG-MISSING", "ERROR", "config/adam/spec.yaml CHG derivation",
     "CHG present on post-baseline records (AVISITN > 0, not ABLFL) with AVAL and BASE"),
    ("BDS-TRACE", "ERROR", "ADaMIG 1.1 §3.3.9 (SRCDOM, SRCVAR, SRCSEQ)",
     "SRCDOM, SRCVAR and SRCSEQ all present or all blank on each record"),
    ("FLAG-VALUES", "ERROR", "ADaMIG 1.1 §3.1.4",
     "Variables ending in FL are Y or blank; ADSL flags and ADSL flags carried elsewhere Y, N or blank"),
    ("KEYS-UNIQUE", "ERROR", f"{DEFINE} ItemRef KeySequence",
     "The dataset's KEYS identify one record (BDS without a record key: among ANL01FL = Y records)"),
    ("CODELIST-TERMS", "ERROR", f"{DEFINE} CodeListRef", "Values of a variable with a CODELIST are its TERMs or blank"),
    ("TYPE", "ERROR", f"{DEFINE} ItemDef DataType",
     "integer/float numeric (integer whole), date/datetime datetime64, text not numeric"),
    ("TEXT-LENGTH", "ERROR", f"{DEFINE} ItemDef Length", "Text values at most LENGTH characters"),
    ("TEXT-200-BYTES", "ERROR", "SAS V5 transport", "Text values at most 200 bytes in UTF-8"),
    ("PARAMCD-NOT-IN-SPEC", "ERROR", f"{DEFINE} ValueListDef", "Every PARAMCD of a BDS dataset is described"),
    ("PARAMCD-NOT-IN-DATA", "ERROR", f"{DEFINE} ValueListDef", "Every described PARAMCD is in the dataset"),
    ("XPT-DATASET-LABEL", "ERROR", f"SAS V5 transport; {DEFINE} Description",
     "Dataset label read back from the transport file equals the metadata"),
    ("XPT-VARIABLE-LABEL", "ERROR", f"SAS V5 transport; {DEFINE} Description",
     "Variable labels read back from the transport file equal the metadata"),
)
_RULES = {rule: (severity, reference) for rule, severity, reference, _ in CONFORMANCE_RULES}

ADSL_REQUIRED = ("STUDYID", "USUBJID", "SUBJID", "SITEID", "AGE", "AGEU", "SEX", "RACE", "ARM", "TRT01P")
BDS_REQUIRED = ("STUDYID", "USUBJID", "PARAM", "PARAMCD")
OCCDS_REQUIRED = ("STUDYID", "USUBJID")
ADAE_REQUIRED = ("STUDYID", "USUBJID", "AESEQ", "AETERM", "AEDECOD", "AEBODSYS", "TRTA")
VARIABLE_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,7}$")
PARAMCD_FORMAT = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")


# ---------------------------------------------------------------------------------------------------- helpers
def _finding(rule: str, dataset: str, variable: str, n: int, message: str) -> dict:
    severity, reference = _RULES[rule]
    return {"RULE": rule, "DATASET": dataset, "VARIABLE": variable, "SEVERITY": severity, "MESSAGE": message,
            "N": int(n), "REFERENCE": reference}


def _one_text(v) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _text(series: pd.Series) -> pd.Series:
    """Values as text, "" for missing; whole numbers without a decimal point (``_one_text`` of each value: text
    columns as they are, whole floats through int64, anything else once per distinct value)."""
    if isinstance(series.dtype, pd.StringDtype):
        return series.fillna("")
    if isinstance(series.dtype, pd.CategoricalDtype):  # each category once, "" where missing
        return categories_as_text(series, list(_text(pd.Series(series.cat.categories))) + [""])
    if pd.api.types.is_float_dtype(series) and series.dtype.kind == "f":
        values = series.to_numpy()
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(values) & (np.mod(values, 1) == 0)
            small = whole & (np.abs(values) < 2.0**62)
        text = series.astype(str).astype(object)  # str(float): the shortest round-trip repr
        text[small] = series[small].astype("int64").astype(str).astype(object)
        text[whole & ~small] = [str(int(v)) for v in values[whole & ~small]]
        return text.where(~np.isnan(values), "")
    if pd.api.types.is_integer_dtype(series) and series.dtype.kind in "iu":
        return series.astype(str).astype(object)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    shown = np.array([_one_text(v) for v in uniques] + [""], dtype=object)
    return pd.Series(shown[codes], index=series.index, dtype=object)


def _of_text(series: pd.Series, measure) -> pd.Series:
    """``measure`` (a function of a text series, one value per text) of each value's ``_text``; for a categorical
    column measured once per category and taken by code ("" where missing)."""
    if not isinstance(series.dtype, pd.CategoricalDtype):
        return pd.Series(np.asarray(measure(_text(series))), index=series.index)
    shown = list(_text(pd.Series(series.cat.categories))) + [""]
    measured = np.asarray(measure(pd.Series(shown, dtype=object)))
    return pd.Series(measured[series.cat.codes.to_numpy()], index=series.index)  # code -1 (missing): the last, ""


def _over(series: pd.Series, measure, limit) -> tuple[pd.Series, int] | None:
    """The records whose ``measure`` (as ``_of_text``) is above ``limit`` and the largest measure; None when no record
    is. A categorical column is looked at record by record only when one of its categories is above the limit."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        shown = pd.Series(list(_text(pd.Series(series.cat.categories))) + [""], dtype=object)
        if not (np.asarray(measure(shown)) > limit).any():  # neither a category nor "" (missing) is
            return None
    measured = _of_text(series, measure)
    bad = measured > limit
    return (bad, int(measured.max())) if bad.any() else None


def _blank(series: pd.Series) -> pd.Series:
    if series.dtype.kind in "fiumMb":  # numbers, datetimes, booleans: blank only when missing
        return pd.Series(series.isna().to_numpy(), index=series.index)
    return _of_text(series, lambda text: text.str.strip() == "")


def _value(v) -> str:
    return _text(pd.Series([v])).iloc[0]


def _list(values: Iterable, k: int = 3) -> str:
    """Up to k values, comma-separated, with '...' when there are more."""
    values = list(values)
    shown = ", ".join(str(v) for v in values[:k])
    return shown + (", ..." if len(values) > k else "")


def _examples(df: pd.DataFrame, mask, cols=("USUBJID", "PARAMCD", "AVISITN")) -> str:
    """Up to 3 records of the mask: record number (1-based) and their USUBJID/PARAMCD/AVISITN."""
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    shown = [c for c in cols if c in df.columns]
    parts = []
    for pos in positions[:3]:
        values = ", ".join(f"{c}={_value(df[c].iloc[pos])}" for c in shown)
        parts.append(f"record {pos + 1}" + (f" ({values})" if values else ""))
    return "e.g. " + "; ".join(parts) + ("; ..." if len(positions) > 3 else "")


def _variables(metadata, dataset: str) -> pd.DataFrame:
    """The dataset's described variables in ORDER."""
    v = metadata.variables
    v = v[v["DATASET"] == dataset]
    return v.sort_values("ORDER", kind="stable") if "ORDER" in v.columns else v


def _dataset_meta(metadata, dataset: str) -> pd.Series | None:
    rows = metadata.datasets[metadata.datasets["DATASET"] == dataset]
    return rows.iloc[0] if len(rows) else None


def _class(metadata, dataset: str) -> str:
    row = _dataset_meta(metadata, dataset)
    if row is not None:
        return str(row.get("CLASS", "")).strip().upper()
    return ADSL_CLASS if dataset == "ADSL" else ""


def _is_y(df: pd.DataFrame, col: str) -> pd.Series:
    return _of_text(df[col], lambda text: text.str.strip() == "Y") if col in df.columns \
        else pd.Series(False, index=df.index)


def _mismatch(actual: pd.Series, expected: pd.Series, rtol: float = 1e-9, atol: float = 0.0) -> pd.Series:
    """True where two float columns differ beyond rtol (relative to the larger) + atol; both missing is equal."""
    a = pd.to_numeric(actual, errors="coerce").to_numpy(dtype=float)
    e = pd.to_numeric(expected, errors="coerce").to_numpy(dtype=float)
    both = np.isnan(a) & np.isnan(e)
    with np.errstate(invalid="ignore"):
        close = np.abs(a - e) <= rtol * np.maximum(np.abs(a), np.abs(e)) + atol
    return pd.Series(~(both | close), index=actual.index)


def _in_group_of(df: pd.DataFrame, by: list[str], mask: pd.Series, more_than: int = 1) -> pd.Series:
    """Records of the mask whose group (by) holds more than ``more_than`` records of the mask."""
    counts = mask.astype(int).groupby([df[c] for c in by], dropna=False).transform("sum")
    return mask & (counts > more_than)


# ---------------------------------------------------------------------------------------------------- rules
def check_names(datasets: dict, metadata) -> list[dict]:
    """Dataset and variable names, and label lengths, fit SAS V5 transport and ADaM naming."""
    out = []
    names = list(dict.fromkeys([*datasets, *metadata.datasets["DATASET"]]))
    for name in names:
        # ADaMIG 1.1 §2.3: ADaM dataset names are ADxxxxxx, at most 8 characters (SAS V5 transport)
        if len(name) > 8 or not name.startswith("AD"):
            out.append(_finding("DATASET-NAME", name, "", 1,
                                f"Dataset name {name!r} ({len(name)} characters): must be at most 8 and start with AD"))
        columns = list(datasets[name].columns) if name in datasets else []
        variables = list(dict.fromkeys([*columns, *_variables(metadata, name)["VARIABLE"]]))
        for var in variables:
            # ADaMIG 1.1 §2.3: variable names at most 8 characters, A-Z 0-9 _, not starting with a digit
            if not VARIABLE_NAME.match(str(var)):
                out.append(_finding("VARIABLE-NAME", name, str(var), 1,
                                    f"Variable name {var!r} in {name} ({len(str(var))} characters): must be at most "
                                    "8 uppercase letters, digits or _, not starting with a digit"))
    for _, row in metadata.datasets.iterrows():
        # ADaMIG 1.1 §2.3: labels at most 40 characters (SAS V5 transport)
        label = _value(row["LABEL"])
        if len(label) > 40:
            out.append(_finding("LABEL-LENGTH", row["DATASET"], "", 1,
                                f"Dataset label of {row['DATASET']} has {len(label)} characters (max 40): {label!r}"))
    for _, row in metadata.variables.iterrows():
        label = _value(row["LABEL"])
        if len(label) > 40:
            out.append(_finding("LABEL-LENGTH", row["DATASET"], row["VARIABLE"], 1,
                                f"Label of {row['DATASET']}.{row['VARIABLE']} has {len(label)} characters (max 40): "
                                f"{label!r}"))
    return out


def check_spec(datasets: dict, metadata) -> list[dict]:
    """Datasets and variables written equal those described, variables in ORDER."""
    out = []
    described = list(metadata.datasets["DATASET"])
    for name in datasets:
        # Define-XML: every dataset delivered has an ItemGroupDef
        if name not in described:
            out.append(_finding("DATASET-NOT-IN-SPEC", name, "", 1, f"Dataset {name} is not described in the metadata"))
    for name in described:
        if name not in datasets:
            out.append(_finding("DATASET-MISSING", name, "", 1, f"Dataset {name} is described but was not written"))
    for name, df in datasets.items():
        if name not in described:
            continue
        spec = list(_variables(metadata, name)["VARIABLE"])
        # Define-XML: every variable has an ItemRef in its dataset, and every ItemRef a variable
        for var in df.columns:
            if var not in spec:
                out.append(_finding("VARIABLE-NOT-IN-SPEC", name, var, 1,
                                    f"{name}.{var} is in the data but not described in the metadata"))
        for var in spec:
            if var not in df.columns:
                out.append(_finding("VARIABLE-MISSING", name, var, 1,
                                    f"{name}.{var} is described in the metadata but not in the data"))
        # Define-XML: ItemRef OrderNumber is the variable order of the dataset
        actual = [v for v in df.columns if v in spec]
        expected = [v for v in spec if v in df.columns]
        wrong = [(i + 1, a, e) for i, (a, e) in enumerate(zip(actual, expected)) if a != e]
        if wrong:
            where = "; ".join(f"position {i}: {a} where ORDER has {e}" for i, a, e in wrong[:3])
            out.append(_finding("VARIABLE-ORDER", name, "", len(wrong),
                                f"{len(wrong)} variables of {name} out of ORDER: {where}"))
    return out


def check_required(datasets: dict, metadata) -> list[dict]:
    """Variables ADaMIG 1.1 requires of each class are present."""
    out = []

    def missing(rule, name, cols, variables, what):
        out.extend(_finding(rule, name, var, 1, f"{name} lacks {var}, required in {what}")
                   for var in variables if var not in cols)

    for name, df in datasets.items():
        cls, cols = _class(metadata, name), set(df.columns)
        if cls == ADSL_CLASS:
            # ADaMIG 1.1 §3.2: required ADSL variables; TRT01A conditionally required
            missing("ADSL-REQUIRED", name, cols, ADSL_REQUIRED, "ADSL (ADaMIG 1.1 §3.2)")
            missing("ADSL-TRT01A", name, cols, ["TRT01A"],
                    "ADSL when actual treatment is analysed (conditionally required)")
        elif cls == BDS_CLASS:
            # ADaMIG 1.1 §3.3: BDS identifiers, parameter, AVAL or AVALC, TRTP or TRTA
            missing("BDS-REQUIRED", name, cols, BDS_REQUIRED, "a BDS dataset (ADaMIG 1.1 §3.3)")
            for pair in (("AVAL", "AVALC"), ("TRTP", "TRTA")):
                if not cols & set(pair):
                    out.append(_finding("BDS-REQUIRED", name, "", 1,
                                        f"{name} has neither {pair[0]} nor {pair[1]}; a BDS dataset needs one"))
        elif cls == OCCDS_CLASS:
            # ADaM OCCDS v1.0 / ADAE v1.0 required variables
            row = _dataset_meta(metadata, name)
            is_ae = name == "ADAE" or (row is not None and str(row.get("SUBCLASS", "")).upper() == "ADVERSE EVENT")
            missing("OCCDS-REQUIRED", name, cols, ADAE_REQUIRED if is_ae else OCCDS_REQUIRED,
                    "an OCCDS dataset (OCCDS v1.0)")
    return out


def check_subjects(datasets: dict) -> list[dict]:
    """ADSL has one record per subject, and every subject of the other datasets."""
    out = []
    adsl = datasets.get("ADSL")
    if adsl is not None and "USUBJID" in adsl.columns:
        # ADaMIG 1.1 §3.2: ADSL is one record per subject
        dup = adsl["USUBJID"].duplicated(keep=False)
        if dup.any():
            subjects = adsl.loc[dup, "USUBJID"].unique()
            out.append(_finding("ADSL-ONE-PER-SUBJECT", "ADSL", "USUBJID", dup.sum(),
                                f"{dup.sum()} ADSL records share {len(subjects)} USUBJID: {_list(subjects)}"))
    known = set(adsl["USUBJID"]) if adsl is not None and "USUBJID" in adsl.columns else set()
    for name, df in datasets.items():
        if name == "ADSL" or "USUBJID" not in df.columns:
            continue
        # ADaMIG 1.1 §3.2: ADSL holds every subject analysed in any dataset
        absent = ~df["USUBJID"].isin(known)
        if absent.any():
            subjects = df.loc[absent, "USUBJID"].unique()
            out.append(_finding("SUBJECT-NOT-IN-ADSL", name, "USUBJID", absent.sum(),
                                f"{absent.sum()} {name} records of {len(subjects)} subjects not in ADSL"
                                f"{' (no ADSL)' if adsl is None else ''}: {_list(subjects)}"))
    return out


def check_params(name: str, df: pd.DataFrame) -> list[dict]:
    """BDS PARAM and PARAMCD: one to one, PARAMCD a SAS name of 8, PARAM at most 200 characters."""
    out = []
    if {"PARAM", "PARAMCD"} <= set(df.columns):
        # ADaMIG 1.1 §3.3.4: PARAMCD and PARAM are one to one within a dataset
        for rule, key, other in (("BDS-PARAMCD-ONE-PARAM", "PARAMCD", "PARAM"),
                                 ("BDS-PARAM-ONE-PARAMCD", "PARAM", "PARAMCD")):
            n = df.groupby(key, dropna=False)[other].nunique(dropna=False)
            bad = n[n > 1]
            if len(bad):
                shown = "; ".join(f"{k}: {_list(sorted(df.loc[df[key] == k, other].unique()))}" for k in bad.index[:3])
                out.append(_finding(rule, name, other, len(bad),
                                    f"{len(bad)} {key} with more than one {other} in {name}: {shown}"))
    if "PARAMCD" in df.columns:
        # ADaMIG 1.1 §3.3.4: PARAMCD at most 8 characters, letters, digits, _, starting with a letter
        codes = [c for c in df["PARAMCD"].unique() if not PARAMCD_FORMAT.match(_value(c))]
        if codes:
            out.append(_finding("BDS-PARAMCD-FORMAT", name, "PARAMCD", len(codes),
                                f"{len(codes)} PARAMCD of {name} not at most 8 of A-Z, 0-9, _ starting with a letter: "
                                f"{_list(repr(c) for c in codes)}"))
    if "PARAM" in df.columns:
        # ADaMIG 1.1 §3.3.4: PARAM at most 200 characters
        params = [p for p in df["PARAM"].unique() if len(_value(p)) > 200]
        if params:
            out.append(_finding("BDS-PARAM-LENGTH", name, "PARAM", len(params),
                                f"{len(params)} PARAM of {name} longer than 200 characters: "
                                f"{_list(p[:40] + '...' for p in params)}"))
    return out


def check_baseline(name: str, df: pd.DataFrame) -> list[dict]:
    """BDS baseline: BASE = AVAL on ABLFL, one ABLFL per subject and parameter, BASE constant, CHG and PCHG."""
    out = []
    cols = set(df.columns)
    group = ["USUBJID", "PARAMCD"] + (["BASETYPE"] if "BASETYPE" in cols else [])
    has_group = set(group) <= cols
    ablfl = _is_y(df, "ABLFL")
    if {"BASE", "AVAL", "ABLFL"} <= cols:
        # ADaMIG 1.1 §3.3.4: BASE is AVAL of the baseline record
        bad = ablfl & _mismatch(df["BASE"], df["AVAL"])
        if bad.any():
            out.append(_finding("BDS-BASE-AVAL", name, "BASE", bad.sum(),
                                f"{bad.sum()} ABLFL = Y records of {name} with BASE not equal to AVAL: "
                                f"{_examples(df, bad)}"))
    if "ABLFL" in cols and has_group:
        # ADaMIG 1.1 §3.3.8: one baseline record per subject and parameter (and BASETYPE)
        bad = _in_group_of(df, group, ablfl)
        if bad.any():
            out.append(_finding("BDS-ONE-BASELINE", name, "ABLFL", bad.sum(),
                                f"{bad.sum()} ABLFL = Y records of {name} share a {'/'.join(group)}: "
                                f"{_examples(df, bad)}"))
    if "BASE" in cols and has_group:
        # ADaMIG 1.1 §3.3.4: BASE is one value per subject and parameter (and BASETYPE)
        n = df.groupby(group, dropna=False)["BASE"].transform("nunique", dropna=False)
        bad = n > 1
        if bad.any():
            out.append(_finding("BDS-BASE-CONSTANT", name, "BASE", bad.sum(),
                                f"{bad.sum()} records of {name} in {'/'.join(group)} groups with more than one BASE: "
                                f"{_examples(df, bad)}"))
    if {"CHG", "AVAL", "BASE"} <= cols:
        # ADaMIG 1.1 §3.3.4: CHG = AVAL - BASE
        present = df["CHG"].notna()
        bad = present & _mismatch(df["CHG"], df["AVAL"] - df["BASE"], atol=1e-12)
        if bad.any():
            out.append(_finding("BDS-CHG", name, "CHG", bad.sum(),
                                f"{bad.sum()} records of {name} with CHG not AVAL - BASE: {_examples(df, bad)}"))
    if {"PCHG", "BASE"} <= cols and ({"CHG"} <= cols or {"AVAL"} <= cols):
        # ADaMIG 1.1 §3.3.4: PCHG = 100 * CHG / BASE
        chg = df["CHG"] if "CHG" in cols else df["AVAL"] - df["BASE"]
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = 100 * pd.to_numeric(chg, errors="coerce") / pd.to_numeric(df["BASE"], errors="coerce")
        expected = expected.replace([np.inf, -np.inf], np.nan)
        present = df["PCHG"].notna()
        bad = present & _mismatch(df["PCHG"], expected, atol=1e-12)
        if bad.any():
            out.append(_finding("BDS-PCHG", name, "PCHG", bad.sum(),
                                f"{bad.sum()} records of {name} with PCHG not 100 * CHG / BASE: {_examples(df, bad)}"))
    return out


def check_anl01fl(name: str, df: pd.DataFrame) -> list[dict]:
    """At most one ANL01FL = Y record per subject, parameter and analysis visit."""
    by = ["USUBJID", "PARAMCD", "AVISITN"]
    if not {"ANL01FL", *by} <= set(df.columns):
        return []
    # ADaMIG 1.1 §3.3.8: ANLzzFL selects the record analysed; ANL01FL one per subject/parameter/visit
    bad = _in_group_of(df, by, _is_y(df, "ANL01FL"))
    if not bad.any():
        return []
    return [_finding("BDS-ANL01FL-UNIQUE", name, "ANL01FL", bad.sum(),
                     f"{bad.sum()} ANL01FL = Y records of {name} share a USUBJID/PARAMCD/AVISITN: "
                     f"{_examples(df, bad)}")]


def check_analysed_values(name: str, df: pd.DataFrame) -> list[dict]:
    """ANL01FL = Y records carry a value; post-baseline records with AVAL and BASE carry CHG; traceability
    variables are all present or all blank."""
    out = []
    if {"ANL01FL", "AVAL"} <= set(df.columns):
        text = _blank(df["AVALC"]) if "AVALC" in df else pd.Series(True, index=df.index)
        bad = _is_y(df, "ANL01FL") & df["AVAL"].isna() & text
        if bad.any():
            out.append(_finding("BDS-ANL01FL-VALUE", name, "ANL01FL", bad.sum(),
                                f"{bad.sum()} ANL01FL = Y records of {name} have neither AVAL nor AVALC: "
                                f"{_examples(df, bad)}"))
    if {"CHG", "AVAL", "BASE", "AVISITN"} <= set(df.columns):
        baseline = _is_y(df, "ABLFL") if "ABLFL" in df else pd.Series(False, index=df.index)
        bad = (df["AVISITN"] > 0) & ~baseline & df["AVAL"].notna() & df["BASE"].notna() & df["CHG"].isna()
        if bad.any():
            out.append(_finding("BDS-CHG-MISSING", name, "CHG", bad.sum(),
                                f"{bad.sum()} post-baseline records of {name} with AVAL and BASE have no CHG: "
                                f"{_examples(df, bad)}"))
    trace = [c for c in ("SRCDOM", "SRCVAR", "SRCSEQ") if c in df.columns]
    if len(trace) == 3:
        present = pd.DataFrame({c: ~_blank(df[c]) if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])
                                else df[c].notna() for c in trace})
        bad = present.any(axis=1) & ~present.all(axis=1)
        if bad.any():
            out.append(_finding("BDS-TRACE", name, "", bad.sum(),
                                f"{bad.sum()} records of {name} have some of SRCDOM, SRCVAR, SRCSEQ but not all: "
                                f"{_examples(df, bad)}"))
    return out


def check_flags(datasets: dict, metadata) -> list[dict]:
    """Variables ending in FL: Y or blank; in ADSL (and ADSL flags carried to other datasets) Y, N or blank."""
    out = []
    adsl_flags = {c for c in (datasets["ADSL"].columns if "ADSL" in datasets else []) if c.endswith("FL")}
    adsl_flags |= {v for v in _variables(metadata, "ADSL")["VARIABLE"] if str(v).endswith("FL")}
    for name, df in datasets.items():
        for var in [c for c in df.columns if str(c).endswith("FL")]:
            # ADaMIG 1.1 §3.1.4: population flags Y/N; other flags here Y/null
            allowed = {"Y", "N", ""} if (name == "ADSL" or var in adsl_flags) else {"Y", ""}
            bad = _of_text(df[var], lambda text, allowed=allowed: ~text.str.strip().isin(allowed))
            if bad.any():
                values = _text(df.loc[bad, var]).str.strip()
                shown = "/".join(sorted(a or "blank" for a in allowed))
                out.append(_finding("FLAG-VALUES", name, var, bad.sum(),
                                    f"{bad.sum()} records of {name}.{var} not {shown}: values "
                                    f"{_list(repr(v) for v in sorted(values.unique()))}; {_examples(df, bad)}"))
    return out


def check_keys(name: str, df: pd.DataFrame, metadata) -> list[dict]:
    """The dataset's KEYS identify one record; BDS keys without a record key among ANL01FL = Y records."""
    row = _dataset_meta(metadata, name)
    if row is None or not _value(row.get("KEYS", "")):
        return []
    keys = [k.strip() for k in _value(row["KEYS"]).split(",") if k.strip()]
    if not set(keys) <= set(df.columns):
        return []  # a key variable missing is VARIABLE-MISSING
    scope, where = pd.Series(True, index=df.index), ""
    record_key = any(k == "ASEQ" or k.endswith("SEQ") for k in keys)
    # Define-XML KeySequence; ADaMIG 1.1 §3.3.8: a BDS key without a record key holds for the analysed records
    if _class(metadata, name) == BDS_CLASS and not record_key and "ANL01FL" in df.columns:
        scope, where = _is_y(df, "ANL01FL"), " among ANL01FL = Y records"
    sub = df[scope]
    dup = sub.duplicated(keys, keep=False)
    if not dup.any():
        return []
    mask = pd.Series(False, index=df.index)
    mask[sub.index[dup]] = True
    shown = _list("/".join(_value(v) for v in t) for t in sub.loc[dup, keys].drop_duplicates().itertuples(index=False))
    return [_finding("KEYS-UNIQUE", name, "", dup.sum(),
                     f"{dup.sum()} records of {name} share keys {', '.join(keys)}{where}: {shown}; "
                     f"{_examples(df, mask, keys)}")]


def check_codelists(datasets: dict, metadata) -> list[dict]:
    """Values of variables with a CODELIST are among its TERMs (blank allowed)."""
    out = []
    cl = metadata.codelists
    for _, var in metadata.variables.iterrows():
        name, variable, codelist = var["DATASET"], var["VARIABLE"], _value(var.get("CODELIST", ""))
        if not codelist or name not in datasets or variable not in datasets[name].columns:
            continue
        # Define-XML CodeListRef: values are terms of the codelist
        terms = set(_text(cl.loc[cl["CODELIST"] == codelist, "TERM"]))
        bad = _of_text(datasets[name][variable], lambda text, terms=terms: (text.str.strip() != "") & ~text.isin(terms))
        if bad.any():
            values = _text(datasets[name][variable][bad])
            outside = sorted(values.unique())
            out.append(_finding("CODELIST-TERMS", name, variable, bad.sum(),
                                f"{bad.sum()} records of {name}.{variable} outside codelist {codelist}"
                                f"{'' if terms else ' (no terms)'}: values {_list(repr(v) for v in outside)}; "
                                f"{_examples(datasets[name], bad)}"))
    return out


def _type_problem(series: pd.Series, declared: str) -> tuple[pd.Series, str] | None:
    """Records whose storage does not fit the declared type, and why; None when it fits."""
    def present():  # the non-blank records: measured only when the storage does not fit
        return ~_blank(series)

    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    is_datetime = pd.api.types.is_datetime64_any_dtype(series)
    if declared in ("integer", "float"):
        if not numeric:
            return present(), f"stored as {series.dtype}, declared {declared}"
        if declared == "integer":
            v = series.to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                return pd.Series(~np.isnan(v) & (np.mod(v, 1) != 0), index=series.index), "not whole numbers"
    elif declared in ("date", "datetime") and not is_datetime:
        return present(), f"stored as {series.dtype}, declared {declared}"
    elif declared == "text" and (numeric or is_datetime):
        return present(), f"stored as {series.dtype}, declared text"
    return None


def check_types(datasets: dict, metadata) -> list[dict]:
    """Storage fits the declared TYPE; text fits LENGTH and 200 bytes."""
    out = []
    for _, var in metadata.variables.iterrows():
        name, variable = var["DATASET"], var["VARIABLE"]
        if name not in datasets or variable not in datasets[name].columns:
            continue
        df, series, declared = datasets[name], datasets[name][variable], _value(var.get("TYPE", "")).lower()
        # Define-XML ItemDef DataType
        problem = _type_problem(series, declared)
        if problem is not None and problem[0].any():
            bad, why = problem
            out.append(_finding("TYPE", name, variable, bad.sum(),
                                f"{bad.sum()} records of {name}.{variable} {why}: {_examples(df, bad)}"))
        length = pd.to_numeric(pd.Series([var.get("LENGTH")]), errors="coerce").iloc[0]
        if declared == "text" and not pd.isna(length):
            # Define-XML ItemDef Length
            over = _over(series, lambda text: text.str.len(), length)
            if over is not None:
                bad, longest = over
                out.append(_finding("TEXT-LENGTH", name, variable, bad.sum(),
                                    f"{bad.sum()} records of {name}.{variable} longer than LENGTH {int(length)} "
                                    f"(longest {longest}): {_examples(df, bad)}"))
    for name, df in datasets.items():
        for variable in df.columns:
            series = df[variable]
            if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
                continue
            # SAS V5 transport: character values at most 200 bytes
            over = _over(series, utf8_lengths, 200)
            if over is not None:
                bad, longest = over
                out.append(_finding("TEXT-200-BYTES", name, variable, bad.sum(),
                                    f"{bad.sum()} records of {name}.{variable} over 200 bytes in UTF-8 "
                                    f"(longest {longest}): {_examples(df, bad)}"))
    return out


def check_parameters(datasets: dict, metadata) -> list[dict]:
    """PARAMCDs of each BDS dataset equal those of metadata.parameters for it."""
    out = []
    p = metadata.parameters
    for name, df in datasets.items():
        if _class(metadata, name) != BDS_CLASS or "PARAMCD" not in df.columns:
            continue
        # Define-XML ValueListDef: value-level metadata for every parameter, and only for those present
        data = set(df["PARAMCD"].unique())
        spec = set(p.loc[p["DATASET"] == name, "PARAMCD"])
        if undescribed := sorted(data - spec):
            n = df["PARAMCD"].isin(undescribed).sum()
            out.append(_finding("PARAMCD-NOT-IN-SPEC", name, "PARAMCD", len(undescribed),
                                f"{len(undescribed)} PARAMCD of {name} ({n} records) not in the parameter metadata: "
                                f"{_list(undescribed)}"))
        if absent := sorted(spec - data):
            out.append(_finding("PARAMCD-NOT-IN-DATA", name, "PARAMCD", len(absent),
                                f"{len(absent)} PARAMCD described for {name} not in the data: {_list(absent)}"))
    return out


def check_transport_labels(labels: dict, metadata) -> list[dict]:
    """Labels read back from the transport files equal the metadata labels (trailing blanks ignored)."""
    out = []
    for name, read in labels.items():
        row = _dataset_meta(metadata, name)
        expected = _value(row["LABEL"]).rstrip() if row is not None else "(not described)"
        got = _value(read.get("dataset_label")).rstrip()
        # SAS V5 transport dataset label = Define-XML ItemGroupDef Description
        if got != expected:
            out.append(_finding("XPT-DATASET-LABEL", name, "", 1,
                                f"Dataset label of {name} read back {got!r}, metadata {expected!r}"))
        spec = dict(zip(_variables(metadata, name)["VARIABLE"], _variables(metadata, name)["LABEL"]))
        file_labels = read.get("variables", {}) or {}
        for var in dict.fromkeys([*file_labels, *spec]):
            got = _value(file_labels[var]).rstrip() if var in file_labels else "(not in file)"
            want = _value(spec[var]).rstrip() if var in spec else "(not described)"
            # SAS V5 transport variable label = Define-XML ItemDef Description
            if got != want:
                out.append(_finding("XPT-VARIABLE-LABEL", name, var, 1,
                                    f"Label of {name}.{var} read back {got!r}, metadata {want!r}"))
    return out


# ---------------------------------------------------------------------------------------------------- entry points
def check_conformance(datasets: dict, metadata, labels: dict | None = None) -> pd.DataFrame:
    """Run every rule of ``CONFORMANCE_RULES``; one row per finding, empty when the build conforms."""
    rows = [*check_names(datasets, metadata), *check_spec(datasets, metadata), *check_required(datasets, metadata),
            *check_subjects(datasets)]
    for name, df in datasets.items():
        if _class(metadata, name) == BDS_CLASS:
            rows += [*check_params(name, df), *check_baseline(name, df), *check_anl01fl(name, df),
                     *check_analysed_values(name, df)]
    rows += check_flags(datasets, metadata)
    for name, df in datasets.items():
        rows += check_keys(name, df, metadata)
    rows += [*check_codelists(datasets, metadata), *check_types(datasets, metadata),
             *check_parameters(datasets, metadata)]
    if labels is not None:
        rows += check_transport_labels(labels, metadata)
    return pd.DataFrame(rows, columns=COLUMNS).astype({"N": "int64"})


def write_conformance(findings: pd.DataFrame, path) -> None:
    """Write the findings as CSV."""
    findings.to_csv(path, index=False)
