"""The ADaM metadata specification (config/adam/spec.yaml) resolved for one trial, and the datasets shaped by it.

``resolve`` turns the project's spec and a trial config into four tables: datasets (name, label, class, keys),
variables (name, label, type, codelist, origin, source, derivation, order), codelists, and the BDS datasets'
parameter assignment. Standard variables come from the spec; a trial's own come from its config: DM and AE
variables it maps (carried as delivered, labelled by the spec's ``carried`` list, the SDTM labels or the trial's
``adam.labels``), population flags, ADSL groups and baseline values, and the dose-window flag of ADAE.
``shape`` orders a derived dataset by the spec and stops when the two differ: every ADaM variable is described,
and every described variable exists. The rows and their checks are ``ucmsc.adammeta`` (no pandas: the workflow
checks them at parse time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ucmsc.adammeta import SpecError, baseline_names, load_spec, resolve_rows  # noqa: F401 (baseline_names: for others)
from ucmsc.dates import complete_date
from ucmsc.io import (
    by_code,
    categories_as_text,
    is_text_categorical,
    sort_order,
    sorted_categories,
    stack_frames,
    utf8_lengths,
)
from ucmsc.paramcodes import derived_inputs

VARIABLE_COLUMNS = ["DATASET", "VARIABLE", "LABEL", "TYPE", "CODELIST", "ORIGIN", "SOURCE", "DERIVATION", "ORDER"]
DATASET_COLUMNS = ["DATASET", "LABEL", "CLASS", "SUBCLASS", "STRUCTURE", "KEYS"]


@dataclass(frozen=True)
class AdamSpec:
    datasets: pd.DataFrame
    variables: pd.DataFrame
    codelists: pd.DataFrame
    bds: dict[str, dict]  # BDS dataset -> {"label", "domains", "parameters"}
    standard: dict

    def of(self, dataset: str) -> pd.DataFrame:
        return self.variables[self.variables["DATASET"] == dataset]


def assign_parameters(bds: pd.DataFrame, datasets: dict[str, dict], config: dict) -> pd.Series:
    """PARAMCD -> BDS dataset: a dataset that lists the parameter, else the dataset of its source domain; a derived
    parameter goes where most of its inputs go (the first such input on a tie)."""
    listed, by_domain = {}, {}
    for name, entry in datasets.items():
        for code in entry["parameters"]:
            if listed.setdefault(code, name) != name:
                raise SpecError(f"parameter {code} is listed by both {listed[code]} and {name}")
        for domain in entry["domains"]:
            if by_domain.setdefault(domain, name) != name:
                raise SpecError(f"domain {domain} is listed by both {by_domain[domain]} and {name}")
    sources = bds.loc[bds["SRCDOM"] != "", ["PARAMCD", "SRCDOM"]].drop_duplicates("PARAMCD")
    where = {code: listed.get(code, by_domain.get(domain)) for code, domain in zip(sources["PARAMCD"],
                                                                                    sources["SRCDOM"])}
    derived = config.get("derived", {})

    def place(code: str, path: tuple = ()) -> str | None:
        if code in listed:
            return listed[code]
        if code in where:
            return where[code]
        if code not in derived or code in path:
            return None
        inputs = list(derived_inputs(derived[code]))
        homes = [h for h in (place(i, path + (code,)) for i in inputs if i != "AGE") if h]
        return max(homes, key=homes.count) if homes else None
    codes = bds["PARAMCD"].drop_duplicates()
    placed = pd.Series([place(c) for c in codes], index=codes.to_numpy(), dtype=object)
    lost = placed[placed.isna()]
    if len(lost):
        domains = sources.set_index("PARAMCD")["SRCDOM"].reindex(lost.index).fillna("derived")
        raise SpecError("parameters in no ADaM BDS dataset: " + ", ".join(f"{c} ({d})" for c, d in domains.items())
                        + "; list them under adam.bds in the trial config")
    return placed


def resolve(config: dict, spec: dict | None = None) -> AdamSpec:
    """The spec for one trial: its datasets and every variable each carries, in order (ucmsc.adammeta)."""
    spec = spec or load_spec()
    rows = resolve_rows(config, spec)
    variables = pd.DataFrame(rows.variables, columns=VARIABLE_COLUMNS)
    codelists = pd.DataFrame(rows.codelists, columns=["CODELIST", "NAME", "TERM", "DECODE"])
    table = pd.DataFrame(rows.datasets).reindex(columns=DATASET_COLUMNS).fillna("")
    return AdamSpec(table, variables, codelists, rows.bds, spec["standard"])


def shape(frame: pd.DataFrame, dataset: str, spec: AdamSpec) -> pd.DataFrame:
    """``frame`` with exactly the spec's variables of ``dataset``, in its order, dates as dates; a variable the spec
    does not describe, or a described one the frame lacks, stops the build naming them."""
    wanted = spec.of(dataset)["VARIABLE"].tolist()
    extra = [c for c in frame.columns if c not in wanted]
    absent = [c for c in wanted if c not in frame.columns]
    if extra or absent:
        raise SpecError(f"{dataset}: " + "; ".join(
            part for part in (f"not described by the ADaM spec: {', '.join(extra)}" if extra else "",
                              f"described but not derived: {', '.join(absent)}" if absent else "") if part))
    shaped = frame[wanted]  # copy-on-write: the caller's frame stays as it was, without a copy of every column
    for variable, kind in types_of(spec, dataset).items():
        if kind == "date" and not pd.api.types.is_datetime64_any_dtype(shaped[variable]):
            shaped[variable] = complete_date(shaped[variable])
    return shaped


def split_bds(bds: pd.DataFrame, spec: AdamSpec, config: dict) -> dict[str, pd.DataFrame]:
    """The long BDS frame as the trial's BDS datasets (every configured one, empty when the cut has none of its
    parameters), each shaped by the spec."""
    home = assign_parameters(bds, spec.bds, config) if len(bds) else pd.Series(dtype=object)
    target = bds["PARAMCD"].map(home)
    return {name: shape(bds[target == name].reset_index(drop=True), name, spec) for name in spec.bds}


def combine_bds(datasets: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The BDS datasets as one frame for the analyses, ordered by subject, parameter and visit."""
    frames = [f for f in datasets.values() if len(f)]
    if not frames:
        return next(iter(datasets.values())).iloc[0:0] if datasets else pd.DataFrame()
    bds = stack_frames(frames)  # categories: their union, sorted (sorting by codes is then sorting by text)
    bds = bds.assign(**{c: sorted_categories(bds[c]) for c in bds.columns if isinstance(bds[c].dtype,
                                                                                       pd.CategoricalDtype)})
    # the datasets arrive each in this order, which the merge sort of ``sort_order`` finds as runs
    return bds.iloc[sort_order(bds, ["USUBJID", "PARAMCD", "AVISITN"])].reset_index(drop=True)


def parameters(datasets: dict[str, pd.DataFrame], config: dict) -> pd.DataFrame:
    """Value-level metadata: each BDS dataset's parameters with label, unit, type and where AVAL comes from."""
    from ucmsc.paramcodes import FORMULA_TEXT

    rows = []
    for name, frame in datasets.items():
        # only the columns read below: iterating groups of the whole frame copied every column of it
        for code, records in frame[["PARAMCD", "SRCDOM", "PARAM", "AVALU", "AVAL"]].groupby("PARAMCD", sort=True):
            domain = records["SRCDOM"].iloc[0]
            spec = config.get("derived", {}).get(code)
            if domain:
                origin, how = "Predecessor", f"{domain}.{domain}STRESN where {domain}TESTCD = {code}"
            else:
                origin = "Derived"
                how = f"{code} = {FORMULA_TEXT[spec['derivation']]}" if spec else f"{code}: derived"
            whole = records["AVAL"].dropna()
            rows.append({"DATASET": name, "PARAMCD": code, "PARAM": records["PARAM"].iloc[0],
                         "AVALU": records["AVALU"].iloc[0],
                         "TYPE": "integer" if len(whole) and np.all(whole == np.round(whole)) and not domain
                         else "float", "ORIGIN": origin, "DERIVATION": how})
    return pd.DataFrame(rows, columns=["DATASET", "PARAMCD", "PARAM", "AVALU", "TYPE", "ORIGIN", "DERIVATION"])


def types_of(spec: AdamSpec, dataset: str) -> dict[str, str]:
    variables = spec.of(dataset)
    return dict(zip(variables["VARIABLE"], variables["TYPE"]))


def data_dictionary(datasets: dict[str, pd.DataFrame], spec: AdamSpec) -> pd.DataFrame:
    """The spec's variables of each dataset with what the cut holds: LENGTH (longest text value in bytes, 8 for a
    number, as define.xml states it), records and missing values."""
    rows = []
    for name, frame in datasets.items():
        for row in spec.of(name).to_dict("records"):
            values = frame[row["VARIABLE"]]
            text = row["TYPE"] == "text"
            if is_text_categorical(values):  # each category measured once
                blank = by_code(values.cat.categories == "", values.cat.codes.to_numpy(), True)
                length = int(utf8_lengths(values).max()) if text and len(values) else (1 if text else 8)
                rows.append({**row, "LENGTH": max(length, 1), "RECORDS": len(frame), "MISSING": int(blank.sum())})
                continue
            if isinstance(values.dtype, pd.CategoricalDtype):
                values = categories_as_text(values)
            # numbers and dates are blank only when missing; text also when ""
            blank = values.isna() if values.dtype.kind in "fiumMb" else values.isna() | (values.astype(str) == "")
            length = int(utf8_lengths(values.fillna("").astype(str)).max()) if text and len(values) \
                else (1 if text else 8)
            rows.append({**row, "LENGTH": max(length, 1), "RECORDS": len(frame), "MISSING": int(blank.sum())})
    return pd.DataFrame(rows)


def write_transport(datasets: dict[str, pd.DataFrame], spec: AdamSpec, folder: str | Path) -> list[Path]:
    """Each dataset as <folder>/<name>.xpt (SAS transport v5) with the spec's dataset and variable labels."""
    from ucmsc.transport import write_xpt

    table = spec.datasets.set_index("DATASET")
    paths = []
    for name, frame in datasets.items():
        variables = spec.of(name)
        path = Path(folder) / f"{name.lower()}.xpt"
        write_xpt(frame, path, name, table.loc[name, "LABEL"], dict(zip(variables["VARIABLE"], variables["LABEL"])),
                  types_of(spec, name))
        paths.append(path)
    return paths


def metadata(datasets: dict[str, pd.DataFrame], spec: AdamSpec, config: dict) -> SimpleNamespace:
    """What define.xml and the conformance checks read: datasets (with FILE and RECORDS), variables (with LENGTH
    and MANDATORY: the dataset's keys), codelists and the BDS datasets' parameters (value-level metadata)."""
    table = spec.datasets[spec.datasets["DATASET"].isin(datasets)].copy()
    table["FILE"] = table["DATASET"].str.lower() + ".xpt"
    table["RECORDS"] = table["DATASET"].map({n: len(f) for n, f in datasets.items()})
    keys = {d: [k.strip() for k in ks.split(",")] for d, ks in zip(table["DATASET"], table["KEYS"])}
    variables = data_dictionary(datasets, spec)
    variables["MANDATORY"] = [("Yes" if v in keys[d] else "No") for d, v in zip(variables["DATASET"],
                                                                                variables["VARIABLE"])]
    bds = {n: f for n, f in datasets.items() if n in spec.bds}
    return SimpleNamespace(datasets=table.reset_index(drop=True), variables=variables, codelists=spec.codelists,
                           parameters=parameters(bds, config))


def study_of(config: dict, cut: str) -> dict:
    """define.xml's study: identifiers and title from the trial config; CreationDateTime the cut date (the file is
    the same whenever the cut is rebuilt)."""
    return {"STUDYID": config["studyid"], "NAME": config["trial"], "DESCRIPTION": config.get("title", config["trial"]),
            "PROTOCOL": config["studyid"], "CREATED": f"{cut}T00:00:00"}
