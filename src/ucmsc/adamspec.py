"""The ADaM metadata specification (config/adam/spec.yaml) resolved for one trial, and the datasets shaped by it.

``resolve`` turns the project's spec and a trial config into four tables: datasets (name, label, class, keys),
variables (name, label, type, codelist, origin, source, derivation, order), codelists, and the BDS datasets'
parameter assignment. Standard variables come from the spec; a trial's own come from its config: DM and AE
variables it maps (carried as delivered, labelled by the spec's ``carried`` list, the SDTM labels or the trial's
``adam.labels``), population flags, ADSL groups and baseline values, and the dose-window flag of ADAE.
``shape`` orders a derived dataset by the spec and stops when the two differ: every ADaM variable is described,
and every described variable exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ucmsc.config import load_yaml
from ucmsc.dates import complete_date
from ucmsc.domains import NUMERIC, VARIABLE_LABELS
from ucmsc.io import categories_as_text, is_text_categorical, sorted_categories, stack_frames, utf8_lengths
from ucmsc.paramcodes import derived_inputs, derived_label
from ucmsc.plan import load_exposure, load_populations

SPEC_PATH = Path(__file__).resolve().parents[2] / "config" / "adam" / "spec.yaml"
VARIABLE_COLUMNS = ["DATASET", "VARIABLE", "LABEL", "TYPE", "CODELIST", "ORIGIN", "SOURCE", "DERIVATION", "ORDER"]
DATASET_COLUMNS = ["DATASET", "LABEL", "CLASS", "SUBCLASS", "STRUCTURE", "KEYS"]
MAX_NAME, MAX_LABEL = 8, 40  # SAS V5 transport; ADaMIG 1.1 section 2.3


class SpecError(ValueError):
    """The ADaM spec and a trial's config or datasets disagree; the message names dataset and variable."""


@dataclass(frozen=True)
class AdamSpec:
    datasets: pd.DataFrame
    variables: pd.DataFrame
    codelists: pd.DataFrame
    bds: dict[str, dict]  # BDS dataset -> {"label", "domains", "parameters"}
    standard: dict

    def of(self, dataset: str) -> pd.DataFrame:
        return self.variables[self.variables["DATASET"] == dataset]


def load_spec(path: str | Path = SPEC_PATH) -> dict:
    return load_yaml(path)


def baseline_names(config: dict) -> dict[str, str]:
    """PARAMCD -> its ADSL baseline variable: ``adsl_baseline`` lists codes (``<PARAMCD>BL``) or {PARAMCD: NAME}."""
    names = {}
    for entry in config.get("adsl_baseline", []):
        names.update(entry if isinstance(entry, dict) else {entry: f"{entry}BL"})
    return names


def _parameter_label(config: dict, code: str) -> str:
    test = config.get("tests", {}).get(code, {})
    derived = config.get("derived", {}).get(code)
    return test.get("test") or (derived_label(derived) if derived else "") or code


def _fits(label: str, fallback: str) -> str:
    return label if len(label) <= MAX_LABEL else fallback


def _mapped(config: dict, domain: str) -> list[str]:
    return list(dict.fromkeys(v for s in config.get("sources", []) if s["domain"] == domain
                              for v in s.get("columns", {})))


def _carried(spec: dict, config: dict, dataset: str, domain: str, standard: set[str], skip: set[str]) -> list[dict]:
    """A trial's mapped variables that ADaM carries as delivered, each with its label."""
    labels = {**VARIABLE_LABELS, **spec.get("carried", {}), **config.get("adam", {}).get("labels", {})}
    rows = []
    for name in _mapped(config, domain):
        if name in standard or name in skip:
            continue
        if name not in labels:
            raise SpecError(f"{dataset}.{name}: mapped from {domain} but has no label: add it to adam.labels in the "
                            "trial config (or to carried in config/adam/spec.yaml)")
        number = name in NUMERIC.get(domain, ()) or any(name in s.get("numeric", []) for s in config.get("sources", [])
                                                        if s["domain"] == domain)
        rows.append({"name": name, "label": labels[name], "type": "float" if number else "text",
                     "origin": "Predecessor", "source": f"{domain}.{name}"})
    return rows


def _adsl_trial_variables(spec: dict, config: dict) -> list[dict]:
    standard = {v["name"] for v in spec["variables"]["ADSL"]}
    flags = [p for p in load_populations(config)]
    skip = {p.flag for p in flags} | {"USUBJID", "SUBJID", "RANDDT"}
    rows = _carried(spec, config, "ADSL", "DM", standard, skip)
    for population in flags:
        derivation = (f"DM.{population.source}: Y when delivered as Y, N otherwise" if population.source
                      else f"Rule {population.rule}: {population.label}")
        label = spec.get("population_flags", {}).get(population.flag) or _fits(
            f"{population.label} Population Flag", f"{population.flag} Population Flag")
        rows.append({"name": population.flag, "codelist": "NY", "type": "text", "origin": "Derived", "label": label,
                     "derivation": derivation + "; N for a subject of an arm not compared"})
    for name, group in config.get("adsl_groups", {}).items():
        label = group.get("label", name)
        rows.append({"name": name, "label": _fits(label, name), "type": "text", "origin": "Derived",
                     "derivation": f"{group['variable']} grouped at {group['cuts']} as {group['labels']}"})
        rows.append({"name": f"{name}N", "label": _fits(f"{label} (N)", f"{name} (N)"), "type": "integer",
                     "origin": "Derived", "derivation": f"1-based number of {name}"})
    for code, name in baseline_names(config).items():
        rows.append({"name": name, "label": _fits(f"Baseline {_parameter_label(config, code)}", f"Baseline {code}"),
                     "type": "float", "origin": "Derived",
                     "derivation": f"AVAL of the record with ABLFL = Y and PARAMCD = {code}"})
    return rows


def _adae_trial_variables(spec: dict, config: dict) -> list[dict]:
    standard = {v["name"] for v in spec["variables"]["ADAE"]}
    rows = _carried(spec, config, "ADAE", "AE", standard, {"USUBJID", "SUBJID"})
    exposure = load_exposure(config)
    if exposure.window_flag:
        rows.append({"name": exposure.window_flag, "codelist": "Y", "type": "text", "origin": "Derived",
                     "label": f"Onset Within {exposure.window_hours:g} h of a Dose Flag",
                     "derivation": f"Y when ASTDTM is at most {exposure.window_hours:g} hours after LDOSEDTM"})
    return rows


def bds_datasets(spec: dict, config: dict) -> dict[str, dict]:
    """The trial's BDS datasets: the spec's (ADLB from LB, ADVS from VS) for the findings domains the trial maps,
    and those of the trial's ``adam.bds`` (each with its parameters)."""
    mapped = {s["domain"] for s in config.get("sources", [])}
    datasets = {name: {**entry, "parameters": list(entry.get("parameters", []))} for name, entry in spec["bds"].items()
                if set(entry.get("domains", [])) & mapped}
    for name, entry in config.get("adam", {}).get("bds", {}).items():
        datasets[name] = {"label": entry["label"], "domains": list(entry.get("domains", [])),
                          "parameters": list(entry.get("parameters", []))}
    return datasets


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
    """The spec for one trial: its datasets and every variable each carries, in order."""
    spec = spec or load_spec()
    rows = []
    trial_rows = {"ADSL": _adsl_trial_variables(spec, config), "ADAE": _adae_trial_variables(spec, config)}
    bds = bds_datasets(spec, config)
    template = spec["bds_template"]
    datasets = [{"DATASET": name, **{k.upper(): v for k, v in entry.items() if k != "keys"},
                 "KEYS": ", ".join(entry["keys"])} for name, entry in spec["datasets"].items()]
    datasets += [{"DATASET": name, "LABEL": entry["label"], "CLASS": template["class"],
                  "STRUCTURE": template["structure"], "KEYS": ", ".join(template["keys"])}
                 for name, entry in bds.items()]
    for dataset in [d["DATASET"] for d in datasets]:
        entries = spec["variables"]["BDS" if dataset in bds else dataset] + trial_rows.get(dataset, [])
        for order, entry in enumerate(entries, start=1):
            rows.append({"DATASET": dataset, "VARIABLE": entry["name"], "LABEL": entry["label"],
                         "TYPE": entry["type"], "CODELIST": entry.get("codelist", ""),
                         "ORIGIN": entry["origin"], "SOURCE": entry.get("source", ""),
                         "DERIVATION": entry.get("derivation", ""), "ORDER": order})
    variables = pd.DataFrame(rows, columns=VARIABLE_COLUMNS)
    codelists = pd.DataFrame([{"CODELIST": cid, "NAME": c["name"], "TERM": str(term), "DECODE": str(decode)}
                              for cid, c in spec["codelists"].items() for term, decode in c["terms"].items()],
                             columns=["CODELIST", "NAME", "TERM", "DECODE"])
    table = pd.DataFrame(datasets).reindex(columns=DATASET_COLUMNS).fillna("")
    _check_names(table, variables, codelists)
    return AdamSpec(table, variables, codelists, bds, spec["standard"])


def _check_names(datasets: pd.DataFrame, variables: pd.DataFrame, codelists: pd.DataFrame) -> None:
    problems = [f"{d}: dataset name longer than {MAX_NAME}" for d in datasets["DATASET"] if len(d) > MAX_NAME]
    problems += [f"{d}: dataset label longer than {MAX_LABEL} ({len(label)})"
                 for d, label in zip(datasets["DATASET"], datasets["LABEL"]) if len(label) > MAX_LABEL]
    for row in variables.itertuples():
        if len(row.VARIABLE) > MAX_NAME:
            problems.append(f"{row.DATASET}.{row.VARIABLE}: name longer than {MAX_NAME} characters")
        if len(row.LABEL) > MAX_LABEL:
            problems.append(f"{row.DATASET}.{row.VARIABLE}: label longer than {MAX_LABEL} ({len(row.LABEL)})")
        if row.CODELIST and row.CODELIST not in set(codelists["CODELIST"]):
            problems.append(f"{row.DATASET}.{row.VARIABLE}: codelist {row.CODELIST} not defined")
    repeated = variables[variables.duplicated(["DATASET", "VARIABLE"])]
    problems += [f"{d}.{v}: described twice" for d, v in zip(repeated["DATASET"], repeated["VARIABLE"])]
    if problems:
        raise SpecError("ADaM spec: " + "; ".join(problems))


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
    shaped = frame[wanted].copy()
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
    return bds.sort_values(["USUBJID", "PARAMCD", "AVISITN"], kind="stable").reset_index(drop=True)


def parameters(datasets: dict[str, pd.DataFrame], config: dict) -> pd.DataFrame:
    """Value-level metadata: each BDS dataset's parameters with label, unit, type and where AVAL comes from."""
    from ucmsc.paramcodes import FORMULA_TEXT

    rows = []
    for name, frame in datasets.items():
        for code, records in frame.groupby("PARAMCD", sort=True):
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
                blank = np.append(values.cat.categories == "", True)[values.cat.codes.to_numpy()]  # -1: missing
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
