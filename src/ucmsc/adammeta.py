"""The ADaM metadata specification (config/adam/spec.yaml) resolved for one trial as plain rows, and the check of its
names and labels; ``ucmsc.adamspec`` makes the tables of them. No pandas: the workflow runs the check at parse time
(ucmsc.validate), where importing pandas cost every run a third of a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ucmsc.config import load_yaml
from ucmsc.domains import NUMERIC, VARIABLE_LABELS
from ucmsc.paramcodes import derived_label
from ucmsc.plan import load_exposure, load_populations

SPEC_PATH = Path(__file__).resolve().parents[2] / "config" / "adam" / "spec.yaml"
MAX_NAME, MAX_LABEL = 8, 40  # SAS V5 transport; ADaMIG 1.1 section 2.3


class SpecError(ValueError):
    """The ADaM spec and a trial's config or datasets disagree; the message names dataset and variable."""


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



@dataclass(frozen=True)
class SpecRows:
    """The spec resolved for one trial, as rows: what ``ucmsc.adamspec.resolve`` makes its tables of."""
    datasets: list[dict]  # DATASET, LABEL, CLASS, SUBCLASS, STRUCTURE, KEYS (those the spec gives)
    variables: list[dict]  # DATASET, VARIABLE, LABEL, TYPE, CODELIST, ORIGIN, SOURCE, DERIVATION, ORDER
    codelists: list[dict]  # CODELIST, NAME, TERM, DECODE
    bds: dict[str, dict]  # BDS dataset -> {"label", "domains", "parameters"}


def resolve_rows(config: dict, spec: dict) -> SpecRows:
    """The spec for one trial: its datasets and every variable each carries, in order; names and labels checked
    (a SpecError lists every one too long, every undefined codelist and every variable described twice)."""
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
    codelists = [{"CODELIST": cid, "NAME": c["name"], "TERM": str(term), "DECODE": str(decode)}
                 for cid, c in spec["codelists"].items() for term, decode in c["terms"].items()]
    _check_names(datasets, rows, codelists)
    return SpecRows(datasets, rows, codelists, bds)


def _check_names(datasets: list[dict], variables: list[dict], codelists: list[dict]) -> None:
    names = [d["DATASET"] for d in datasets]
    labels = [(d["DATASET"], _blank_if_missing(d.get("LABEL"))) for d in datasets]
    problems = [f"{d}: dataset name longer than {MAX_NAME}" for d in names if len(d) > MAX_NAME]
    problems += [f"{d}: dataset label longer than {MAX_LABEL} ({len(label)})"
                 for d, label in labels if len(label) > MAX_LABEL]
    defined = {row["CODELIST"] for row in codelists}  # a codelist without terms has no row: not defined
    described = set()
    for row in variables:
        if len(row["VARIABLE"]) > MAX_NAME:
            problems.append(f"{row['DATASET']}.{row['VARIABLE']}: name longer than {MAX_NAME} characters")
        if len(row["LABEL"]) > MAX_LABEL:
            problems.append(f"{row['DATASET']}.{row['VARIABLE']}: label longer than {MAX_LABEL} ({len(row['LABEL'])})")
        if row["CODELIST"] and row["CODELIST"] not in defined:
            problems.append(f"{row['DATASET']}.{row['VARIABLE']}: codelist {row['CODELIST']} not defined")
    for row in variables:
        key = (row["DATASET"], row["VARIABLE"])
        if key in described:
            problems.append(f"{key[0]}.{key[1]}: described twice")
        described.add(key)
    if problems:
        raise SpecError("ADaM spec: " + "; ".join(problems))


def _blank_if_missing(value):
    """A dataset's label as its table holds it: none (absent or null in the spec) is blank."""
    return "" if value is None or value != value else value
