"""Checks of the workflow and trial configs that their JSON schemas cannot express.

The workflow runs them at parse time, right after the schema validation, so a wrong config
stops it before any job. The ``*_problems`` functions take schema-valid dicts and return every
problem as "key: what is wrong"; ``check_*`` raise one ConfigError listing all problems of a
file, one per line, each prefixed with the file. No pandas: the Snakefile imports this module.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
from datetime import date
from importlib import metadata
from pathlib import Path

from ucmsc.adammeta import SPEC_PATH, SpecError, resolve_rows
from ucmsc.config import parse_yaml
from ucmsc.domains import DOMAINS, FINDINGS, NUMERIC, SUBJECT_IDS, required
from ucmsc.manifest import ManifestError, load_manifest
from ucmsc.paramcodes import DERIVATIONS, SUBJECT_INPUTS, derived_inputs, is_yes_no, same_unit
from ucmsc.plan import METHODS, arm_problems, checked_ae_levels, load_populations, summary_problems

WIDE_LAYOUT_VARIABLES = ("TESTCD", "ORRES", "ORRESU")  # a ``results:`` block supplies these (ucmsc.ingest)
# Methods whose comparisons carry a P-value per parameter (STAT_NAME p): what a multiplicity family can adjust.
FAMILY_METHODS = ("baseline", "by_visit", "ancova", "mmrm", "gee", "responders")
# Each figure and the method of the analysis it draws.
FIGURE_METHODS = {"consort": "populations", "trajectories": "by_visit", "forest": "ancova", "responders": "responders",
                  "grade_shift": "grade_shift", "adverse_events": "adverse_events"}
_CUT_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ConfigError(ValueError):
    """A config file is inconsistent; the message names the file and key of every problem, one per line."""


@functools.lru_cache(maxsize=8)
def _schema_validator(schema_text: str):
    """The draft 2020-12 validator of one schema that fills in its defaults, built once per schema content."""
    import jsonschema

    schema = parse_yaml(schema_text)
    base = jsonschema.Draft202012Validator
    check_properties = base.VALIDATORS["properties"]

    def fill_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for name, property_schema in properties.items():
                if "default" in property_schema:
                    instance.setdefault(name, property_schema["default"])
        yield from check_properties(validator, properties, instance, subschema)

    return jsonschema.validators.extend(base, {"properties": fill_defaults})(schema)


def check_schema(data: dict, schema_path: str | Path, source: str | Path, cache_dir: str | Path | None = None) -> None:
    """Validate ``data`` against the JSON schema (draft 2020-12) at ``schema_path`` and fill in the schema's defaults,
    as Snakemake's ``validate`` does; a violation raises ConfigError naming ``source`` and the key. Snakemake's own
    ``validate`` imports pandas and polars to check for data frames: half a second of every run's start.

    With ``cache_dir``, data that passed before takes its filled-in copy from there, keyed on the content of the
    data, the schema, this module and jsonschema's version (importing jsonschema and validating cost every workflow
    start a tenth of a second); only valid data is kept, so every violation is found and reported as without it."""
    key = _schema_cache_key(data, Path(schema_path)) if cache_dir is not None else None
    entry = Path(cache_dir) / f"{hashlib.sha256(f'{source}|{schema_path}'.encode()).hexdigest()[:24]}.json" if key \
        else None
    cached = _read_cached(entry, key) if entry else None
    if cached is not None:
        data.clear()
        data.update(cached)
        return
    import jsonschema

    validator = _schema_validator(Path(schema_path).read_text(encoding="utf-8"))
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "the top level"
        raise ConfigError(f"{source}: {where}: {error.message} (schema {Path(schema_path).name})")
    if entry and _as_json(data) is not None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=entry.parent, suffix=".tmp", delete=False, encoding="utf-8") as out:
            json.dump({"key": key, "data": data}, out, ensure_ascii=False)
        os.replace(out.name, entry)  # whole or not at all, also with runs side by side


def _as_json(data: dict) -> str | None:
    """``data`` as JSON text, or None when JSON cannot carry it unchanged (dates, keys that are not text, NaN)."""
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return text if _identical(json.loads(text), data) else None


def _identical(a, b) -> bool:
    """Equal with the same types and key order throughout (1, 1.0 and True are equal, but not the same config)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_identical(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b))
    return a == b


def _schema_cache_key(data: dict, schema_path: Path) -> str | None:
    text = _as_json(data)
    if text is None:
        return None
    digest = hashlib.sha256()
    versions = " ".join(metadata.version(name) for name in ("jsonschema", "referencing"))
    for part in (text.encode(), schema_path.read_bytes(), Path(__file__).read_bytes(), versions.encode()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _read_cached(entry: Path, key: str) -> dict | None:
    try:
        stored = json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or unreadable: validate
        return None
    return stored["data"] if isinstance(stored, dict) and stored.get("key") == key else None


def check_config(config: dict, path: str | Path, root: str | Path = ".") -> None:
    """Raise ConfigError listing every problem of the workflow config (``path`` names it in the message)."""
    _raise_if_any(config_problems(config, root), path)


def check_trial_config(trial: dict, path: str | Path, trial_id: str | None = None,
                       root: str | Path | None = None) -> None:
    """Raise ConfigError listing every problem of one trial config (``path`` names it in the message); with
    ``root``, the files it names must exist there."""
    problems = trial_config_problems(trial, trial_id)
    if root is not None and trial.get("ae_dictionary") and not (Path(root) / trial["ae_dictionary"]).is_file():
        problems.append(f"ae_dictionary: file {trial['ae_dictionary']} not found")
    if not problems:  # the ADaM spec resolved for this trial: names, labels, datasets (ucmsc.adamspec)
        problems += adam_problems(trial, Path(root) / "config" / "adam" / "spec.yaml" if root is not None else None)
    _raise_if_any(problems, path)


def adam_problems(trial: dict, spec_path: Path | None = None) -> list[str]:
    """``adam.bds``: each dataset lists configured parameters or domains, none listed by two datasets; and the
    trial's ADaM spec resolves (names of 8, labels of 40 characters, every mapped variable labelled)."""
    spec = _spec(spec_path if spec_path is not None and spec_path.is_file() else SPEC_PATH)
    problems, owner = [], {}
    for i, source in enumerate(trial.get("sources", [])):  # SAS transport v5: names of 8 characters at most
        problems += [f"sources[{i}].columns: {name} has {len(name)} characters (SAS transport names have 8 at most)"
                     for name in source.get("columns", {}) if len(name) > 8]
    declared = trial.get("adam", {}).get("bds", {})
    for name, entry in declared.items():
        key = f"adam.bds.{name}"
        if name in spec["datasets"]:
            problems.append(f"{key}: {name} is a standard dataset of config/adam/spec.yaml, not a BDS dataset")
        if not entry.get("parameters") and not entry.get("domains"):
            problems.append(f"{key}: lists no parameters and no domains")
        problems += _parameter_problems(f"{key}.parameters", entry.get("parameters", []), trial.get("tests", {}),
                                        trial.get("derived", {}))
    defaults = {n: e for n, e in spec["bds"].items() if n not in declared}
    for name, entry in list(defaults.items()) + list(declared.items()):
        for kind in ("parameters", "domains"):
            for item in entry.get(kind, []):
                if (kind, item) in owner:
                    problems.append(f"adam.bds.{name}.{kind}: {item} is already in {owner[kind, item]}")
                owner.setdefault((kind, item), name)
    if not problems:
        try:
            resolve_rows(trial, spec)
        except SpecError as error:
            problems.append(f"adam: {error}")
    return problems


def _spec(path: Path) -> dict:
    """The ADaM spec at ``path``, parsed once per content (the workflow checks every trial against it); read-only."""
    return _parsed_spec(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=4)
def _parsed_spec(text: str) -> dict:
    return parse_yaml(text)


def _raise_if_any(problems: list[str], path: str | Path) -> None:
    if problems:
        raise ConfigError("\n".join(f"{path}: {problem}" for problem in problems))


# --- workflow config (config/config.yaml) ---------------------------------------------

def config_problems(config: dict, root: str | Path = ".") -> list[str]:
    """Files and folders exist; cuts are calendar dates, listed once, oldest first; each cut's manifest loads.

    Relative paths are taken from ``root`` (the workflow's working directory).
    """
    root = Path(root)
    problems = []
    if not (root / config["published_numbers"]).is_file():
        problems.append(f"published_numbers: file {config['published_numbers']} not found")
    for trial, entry in config["trials"].items():
        key = f"trials.{trial}"
        if not (root / entry["config"]).is_file():
            problems.append(f"{key}.config: file {entry['config']} not found")
        datacuts_found = (root / entry["datacuts"]).is_dir()
        if not datacuts_found:
            problems.append(f"{key}.datacuts: folder {entry['datacuts']} not found")
        problems += _cut_problems(entry["cuts"], key, root / entry["datacuts"] if datacuts_found else None)
    return problems


def _cut_problems(cuts: list[str], key: str, datacuts: Path | None) -> list[str]:
    problems = []
    position: dict[str, int] = {}
    latest: tuple[date, str] | None = None
    for i, cut in enumerate(cuts):
        where = f"{key}.cuts[{i}]"
        if cut in position:
            problems.append(f"{where}: {cut} is already listed as cuts[{position[cut]}]")
            continue
        position[cut] = i
        when = _cut_date(cut)
        if when is None:
            problems.append(f"{where}: '{cut}' is not a calendar date YYYY-MM-DD "
                            "(the cut folder is named by its cut date)")
        elif latest is not None and when < latest[0]:
            problems.append(f"{where}: {cut} is listed after the later cut {latest[1]}; list cuts oldest first "
                            "(each cut is compared with the one before it)")
        else:
            latest = (when, cut)
        if datacuts is None:
            continue
        if not (datacuts / cut).is_dir():
            problems.append(f"{where}: cut folder {datacuts / cut} not found")
            continue
        try:
            load_manifest(datacuts / cut, cut_date=cut)
        except ManifestError as error:
            problems.append(f"{where}: manifest of cut {cut} is invalid: {error}")
    return problems


def _cut_date(cut: str) -> date | None:
    if not _CUT_NAME.match(cut):
        return None
    try:
        return date.fromisoformat(cut)
    except ValueError:  # e.g. 2017-02-30
        return None


# --- trial config (config/trials/<trial>.yaml) ------------------------------------------

def trial_config_problems(trial: dict, trial_id: str | None = None) -> list[str]:
    """Every inconsistency of a schema-valid trial config; ``trial_id`` is its key in the workflow config."""
    problems = []
    if trial_id is not None and trial["trial"] != trial_id:
        problems.append(f"trial: '{trial['trial']}' differs from the trial's key '{trial_id}' in the workflow config")
    return (problems + _arm_problems(trial["arms"]) + _visit_problems(trial) + _test_problems(trial.get("tests", {}))
            + _source_problems(trial) + _subject_problems(trial) + _derived_problems(trial)
            + _group_problems(trial.get("adsl_groups", {}))
            + _analysis_problems(trial) + summary_problems(trial))


def _repeats(items: list[dict], field: str, key: str) -> list[str]:
    first: dict = {}
    problems = []
    for i, item in enumerate(items):
        value = item[field]
        if value in first:
            problems.append(f"{key}[{i}].{field}: {value!r} is already the {field} of {key}[{first[value]}]")
        first.setdefault(value, i)
    return problems


def _arm_problems(arms: list[dict]) -> list[str]:
    return arm_problems(arms)


def _visit_problems(trial: dict) -> list[str]:
    visits = trial.get("visits", [])
    findings = [s["file"] for s in trial["sources"] if s["domain"] in FINDINGS]
    if not visits:
        return ([f"visits: the findings sources ({', '.join(findings)}) need a visit schedule and visit_labels"]
                if findings else [])
    problems = _repeats(visits, "visitnum", "visits") + _repeats(visits, "avisit", "visits")
    weeks = {visit["visitnum"] for visit in visits}
    if 0 not in weeks:
        problems.append("visits: no baseline visit (visitnum: 0); baseline and change from baseline are taken at "
                        "week 0")
    by_week = sorted(enumerate(visits), key=lambda item: item[1]["visitnum"])
    by_window = trial.get("visit_assignment", "nominal") == "window"
    for (_, before), (i, after) in zip(by_week, by_week[1:]):
        if after["visitnum"] == before["visitnum"]:
            continue  # reported as a repeat
        if after["day"] <= before["day"]:
            problems.append(f"visits[{i}].day: {after['avisit']} is on day {after['day']}, not after "
                            f"{before['avisit']} on day {before['day']}")
        elif by_window and after["day"] - after["window"] <= before["day"] + before["window"]:
            problems.append(f"visits[{i}].window: with visit_assignment: window, the windows of {before['avisit']} "
                            f"(days {_span(before)}) and {after['avisit']} (days {_span(after)}) overlap")
    shown = ", ".join(str(week) for week in sorted(weeks))
    normalised: dict[str, tuple[str, int]] = {}  # the cleaning compares labels upper-cased and stripped
    for label, week in trial.get("visit_labels", {}).items():
        if week not in weeks:
            problems.append(f"visit_labels[{label!r}]: week {week} is not a scheduled visit (visits: weeks {shown})")
        same = normalised.setdefault(str(label).strip().upper(), (label, week))
        if same[1] != week:
            problems.append(f"visit_labels[{label!r}]: maps to week {week} but {same[0]!r}, the same label once case "
                            f"and spaces are ignored, maps to week {same[1]}")
    return problems


def _span(visit: dict) -> str:
    return f"{visit['day'] - visit['window']} to {visit['day'] + visit['window']}"


def _interval_problem(bounds: list[float]) -> str | None:
    low, high = bounds
    if low > high:
        return f"lower bound {low:g} is above upper bound {high:g}"
    if low == high:
        return f"lower and upper bound are both {low:g}"
    return None


def _test_problems(tests: dict) -> list[str]:
    problems = []
    for code, spec in tests.items():
        key = f"tests.{code}"
        if code != code.strip().upper():
            problems.append(f"{key}: test codes must be upper case without spaces (raw codes are upper-cased "
                            "before they are looked up)")
        plausible = _interval_problem(spec["range"])
        if plausible:
            problems.append(f"{key}.range: {plausible}")
        normal = spec.get("normal")
        if normal is None:
            pass
        elif reference := _interval_problem(normal):
            problems.append(f"{key}.normal: {reference}")
        elif not plausible and not _inside(normal, spec["range"]):
            problems.append(f"{key}.normal: reference range {normal[0]:g}-{normal[1]:g} is not inside the plausible "
                            f"range {spec['range'][0]:g}-{spec['range'][1]:g}")
        if spec["unit"] in spec.get("divide", {}):
            problems.append(f"{key}.divide: lists the standard unit {spec['unit']}, whose results are not converted")
    return problems


def _inside(normal: list[float], plausible: list[float]) -> bool:
    """The reference range lies in the plausible one; a reference lower limit of 0 means none (e.g. D-dimer < 0.55)."""
    low_ok = normal[0] >= plausible[0] or normal[0] == 0
    return low_ok and plausible[0] < normal[1] <= plausible[1]


def _source_problems(trial: dict) -> list[str]:
    tests = trial.get("tests", {})
    arm_names = [arm["arm"] for arm in trial["arms"]]
    problems = []
    first: dict[str, int] = {}
    for i, source in enumerate(trial["sources"]):
        key, file, domain = f"sources[{i}]", source["file"], source["domain"]
        if file in first:
            problems.append(f"{key}.file: {file} is already listed as sources[{first[file]}]")
        first.setdefault(file, i)
        columns, results = source["columns"], source.get("results", {})
        if results and domain not in FINDINGS and domain in DOMAINS:
            problems.append(f"{key}.results: a wide layout is for findings sources ({', '.join(FINDINGS)}), "
                            f"not {domain}")
        supplemental = source.get("supplemental", {}).get("file")
        if supplemental in first or supplemental == file:
            problems.append(f"{key}.supplemental.file: {supplemental} is already a source file")
        if supplemental:
            first.setdefault(supplemental, i)
        missing = [v for v in required(domain) if v not in columns and not (results and v in WIDE_LAYOUT_VARIABLES)]
        if domain == "DM" and "RANDDT" not in columns and trial.get("reference_date", {}).get("domain") != "DS":
            missing.append("RANDDT (or reference_date from DS)")
        if not any(c in columns for c in SUBJECT_IDS):
            missing.insert(0, "USUBJID or SUBJID")
        if domain not in DOMAINS and results:
            problems.append(f"{key}.results: a wide layout is for findings sources ({', '.join(FINDINGS)})")
        if missing:
            problems.append(f"{key}.columns: {file} maps no raw column to {', '.join(missing)}, which domain "
                            f"{domain} requires")
        for variable, codes in source.get("codes", {}).items():
            if variable not in columns:
                problems.append(f"{key}.codes.{variable}: {variable} is not a mapped standard variable of {file} "
                                f"(columns: {', '.join(columns)})")
            elif variable == "ARM":
                # another arm of the delivery is allowed (its subjects are excluded); a near miss is a typo
                near = {" ".join(a.split()).casefold(): a for a in arm_names}
                problems += [f"{key}.codes.ARM: code {raw!r} gives {arm!r}, which differs from the arm "
                             f"{near[' '.join(arm.split()).casefold()]!r} only in case or spaces"
                             for raw, arm in codes.items()
                             if arm not in arm_names and " ".join(arm.split()).casefold() in near]
        for code, spec in results.items():
            if code not in tests:
                problems.append(f"{key}.results.{code}: {code} is not a configured test (tests:)")
            elif spec["unit"] != tests[code]["unit"] and spec["unit"] not in tests[code].get("divide", {}):
                problems.append(f"{key}.results.{code}.unit: {spec['unit']} is neither {code}'s standard unit "
                                f"{tests[code]['unit']} nor one of its divide: units")
    if not any(source["domain"] == "DM" for source in trial["sources"]):
        problems.append("sources: no DM source (the randomised subjects and their arms)")
    return problems


def _mapped(trial: dict, domain: str) -> set[str]:
    """The standard variables the trial's sources of ``domain`` map."""
    return {v for s in trial["sources"] if s["domain"] == domain for v in s["columns"]}


def _subject_problems(trial: dict) -> list[str]:
    """Populations, reference date, disposition events, date imputation and treatment-emergence name what exists."""
    problems = []
    arms = {a["arm"] for a in trial["arms"]}
    problems += [f"not_analysed_arms[{i}].arm: {entry['arm']!r} is an arm the plan compares (arms:)"
                 for i, entry in enumerate(trial.get("not_analysed_arms", [])) if entry["arm"] in arms]
    entries = trial.get("populations", [])
    problems += _repeats(entries, "flag", "populations")
    dm = _mapped(trial, "DM")
    findings = any(s["domain"] in FINDINGS for s in trial["sources"])
    for i, entry in enumerate(entries):
        key = f"populations[{i}] ({entry['flag']})"
        if entry.get("from") and entry["from"] not in dm:
            problems.append(f"{key}.from: {entry['from']} is not a variable the DM source maps (columns: "
                            f"{', '.join(sorted(dm))}); map it, e.g. from the SUPPDM QNAM")
        if entry.get("rule") in ("baseline_and_post", "every_visit") and not (findings and trial.get("visits")):
            problems.append(f"{key}.rule: {entry['rule']} needs findings (LB, VS, XP sources)")
        if entry["flag"] == "RANDFL" and entry.get("rule") != "randomised":
            problems.append(f"{key}: RANDFL is the randomised set (rule: randomised)")
    reference = trial.get("reference_date", {})
    if reference.get("domain") == "DS" and not reference.get("where"):
        problems.append("reference_date.where: a DS reference date needs the record it comes from, e.g. "
                        "{DSDECOD: RANDOMIZED}")
    if reference.get("domain") == "DS" and not _mapped(trial, "DS"):
        problems.append("reference_date: no DS source")
    for section, domain in (("reference_date", "DS"), ("disposition", "DS")):
        where = trial.get(section, {}).get("where", {})
        problems += [f"{section}.where.{v}: {v} is not a variable the {domain} source maps"
                     for v in where if v not in _mapped(trial, domain)]
    for variable, rule in trial.get("imputation", {}).items():
        if rule.get("highest_imputation") == "Y" and not (rule.get("min_dates") or rule.get("max_dates")):
            problems.append(f"imputation.{variable}: highest_imputation Y imputes a missing year, which needs "
                            "min_dates (date_imputation first) or max_dates (last)")
    problems += [f"ranges.{variable}: the low end {low:g} is above the high end {high:g}"
                 for variable, (low, high) in trial.get("ranges", {}).items() if low > high]
    numeric = ({v for names in NUMERIC.values() for v in names}
               | {v for source in trial["sources"] for v in source.get("numeric", [])})
    problems += [f"ranges.{variable}: not a numeric variable of the sources ({', '.join(sorted(numeric))}; a source's "
                 "numeric: adds one)" for variable in trial.get("ranges", {}) if variable not in numeric]
    source = trial.get("adverse_events", {}).get("treatment_emergent", {}).get("from")
    if source and source not in _mapped(trial, "AE"):
        problems.append(f"adverse_events.treatment_emergent.from: {source} is not a variable the AE source maps "
                        "(map it, e.g. from the SUPPAE QNAM AETRTEM)")
    flags = {p.flag for p in load_populations(trial)}
    problems += [f"analyses[{i}] ({a['id']}).population: {a['population']} is not a population (populations: "
                 f"{', '.join(sorted(flags))})"
                 for i, a in enumerate(trial["analyses"]) if a.get("population") and a["population"] not in flags]
    return problems


def _derived_problems(trial: dict) -> list[str]:
    """Each derived parameter's options fit its derivation and its inputs are configured tests or derived parameters."""
    tests, derived = trial.get("tests", {}), trial.get("derived", {})
    problems = []
    for code, spec in derived.items():
        key, entry = f"derived.{code}", DERIVATIONS[spec["derivation"]]
        if code in tests:
            problems.append(f"{key}: {code} is also a configured test (tests:)")
        allowed = set(entry.get("required", ())) | set(entry.get("optional", ())) | {"derivation", "label"}
        problems += [f"{key}: {spec['derivation']} needs '{option}'"
                     for option in entry.get("required", ()) if option not in spec]
        problems += [f"{key}.{option}: not an option of {spec['derivation']}"
                     for option in spec if option not in allowed]
        if spec["derivation"] == "target_attainment" and ("below" in spec) == ("above" in spec):
            problems.append(f"{key}: target_attainment needs exactly one of 'below' and 'above'")
        if spec["derivation"] == "apri" and "ast_uln" not in spec and not tests.get("AST", {}).get("normal"):
            problems.append(f"{key}: apri needs the AST upper limit of normal (ast_uln, or tests.AST.normal)")
        if "parameter" in spec or "parameter" not in entry.get("required", ()):
            absent = [p for p in derived_inputs(spec) if p not in tests and p not in SUBJECT_INPUTS
                      and (p not in derived or is_yes_no(derived[p]))]
            if absent:
                problems.append(f"{key}: {spec['derivation']} needs {', '.join(absent)}, which "
                                f"{'is' if len(absent) == 1 else 'are'} neither a configured test nor a derived number")
        same = [_unit_of(c, tests, derived)[0] for c in entry.get("same_unit", ())]
        if None not in same and len(same) == 2 and not same_unit(same[0], (same[1],)):
            problems.append(f"{key}: {spec['derivation']} divides {entry['same_unit'][0]} by {entry['same_unit'][1]}, "
                            f"which need one unit, not {same[0]} and {same[1]}")
        for code_in, accepted in entry.get("units", {}).items():  # the formula's constants assume these units
            unit, where = _unit_of(code_in, tests, derived)
            if unit is not None and not same_unit(unit, accepted):
                problems.append(f"{key}: {spec['derivation']} takes {code_in} in {accepted[0]}, but {where} is "
                                f"{unit or 'blank'}: analyse {code_in} in {accepted[0]} (a test's divide: converts raw "
                                "values delivered in another unit)")
    return problems


def _unit_of(code: str, tests: dict, derived: dict) -> tuple[str | None, str]:
    """The unit a parameter is analysed in, and where the config says so (None when it is not configured)."""
    if code in tests:
        return str(tests[code].get("unit", "")), f"tests.{code}.unit"
    if code in derived:
        return DERIVATIONS[derived[code]["derivation"]]["unit"], f"the unit of derived.{code}"
    return None, ""


def _group_problems(groups: dict) -> list[str]:
    """Each ADSL group's cuts increase, it has one label per group and a ``closed`` side per cut, and its variables
    (<NAME>, <NAME>N) are new."""
    problems = []
    for name, spec in groups.items():
        key, cuts, labels, closed = f"adsl_groups.{name}", spec["cuts"], spec["labels"], spec["closed"]
        if any(b <= a for a, b in zip(cuts, cuts[1:])):
            problems.append(f"{key}.cuts: {', '.join(f'{c:g}' for c in cuts)} are not strictly increasing")
        if len(labels) != len(cuts) + 1:
            problems.append(f"{key}.labels: {len(cuts)} cuts make {len(cuts) + 1} groups, {len(labels)} labels given")
        if len(set(labels)) != len(labels):
            problems.append(f"{key}.labels: a label is given twice")
        if not isinstance(closed, str) and len(closed) != len(cuts):
            problems.append(f"{key}.closed: one side (left or right) per cut: {len(cuts)} cuts, {len(closed)} given")
        if spec["variable"] in (name, f"{name}N"):
            problems.append(f"{key}.variable: the group would overwrite its own variable {spec['variable']}")
        clashes = [other for other in groups if other != name and f"{name}N" == other]
        if clashes:
            problems.append(f"{key}: its number variable {name}N is also a group (adsl_groups.{clashes[0]})")
    return problems


def _demographics_problems(key: str, options: dict) -> list[str]:
    """A demographics analysis names at least one variable, each once; decimals, labels and levels name them."""
    continuous, categorical = options.get("continuous", []), options.get("categorical", [])
    variables = continuous + categorical
    problems = [] if variables else [f"{key}: demographics needs options continuous or categorical (ADSL variables)"]
    problems += [f"{key}.options: {variable} is listed twice" for i, variable in enumerate(variables)
                 if variable in variables[:i]]
    for option, allowed, kind in (("decimals", continuous, "continuous"), ("levels", categorical, "categorical"),
                                  ("labels", variables, "continuous or categorical")):
        problems += [f"{key}.options.{option}.{variable}: {variable} is not listed under {kind}"
                     for variable in options.get(option, {}) if variable not in allowed]
    for variable, levels in options.get("levels", {}).items():
        if len({str(level) for level in levels}) != len(levels):
            problems.append(f"{key}.options.levels.{variable}: a level is listed twice")
    return problems


def _analysis_problems(trial: dict) -> list[str]:
    """The plan (``analyses``, ``families``, ``figures``, ``adsl_baseline``) names only what exists and fits its
    method."""
    tests, derived = trial.get("tests", {}), trial.get("derived", {})
    weeks = {visit["visitnum"] for visit in trial.get("visits", [])}
    analyses = trial["analyses"]
    problems = _repeats(analyses, "id", "analyses")
    by_id = {a["id"]: a for a in analyses}
    for i, analysis in enumerate(analyses):
        key, method = f"analyses[{i}] ({analysis['id']})", analysis["method"]
        spec = METHODS[method]
        if spec["parameters"] and not analysis.get("parameters"):
            problems.append(f"{key}: {method} needs parameters")
        if not spec["parameters"] and analysis.get("parameters"):
            problems.append(f"{key}.parameters: {method} takes no parameters")
        if method not in ("populations", "reference_ranges", "date_imputations") and not analysis.get("population"):
            problems.append(f"{key}: {method} needs a population")
        if spec.get("visits") and not analysis.get("visits"):
            problems.append(f"{key}: {method} needs visits")
        if spec.get("doses") and any(arm.get("dose") is None for arm in trial["arms"]):
            problems.append(f"{key}: {method} needs a dose for every arm (arms[].dose)")
        problems += [f"{key}.options.{option}: not an option of {method} ({', '.join(spec['options']) or 'none'})"
                     for option in analysis.get("options", {}) if option not in spec["options"]]
        problems += [f"{key}.visits: week {week} is not a scheduled visit after baseline (visits: weeks "
                     f"{', '.join(str(w) for w in sorted(weeks))})"
                     for week in analysis.get("visits", []) if week not in weeks or week == 0]
        if method == "demographics":
            problems += _demographics_problems(key, analysis.get("options", {}))
        if spec.get("ae_window") and not trial.get("exposure", {}).get("ae_window"):
            problems.append(f"{key}: {method} needs the exposure window flag (exposure.ae_window: {{hours, flag}})")
        if method == "ae_by_grade":
            variable = analysis.get("options", {}).get("variable", "AESEV")
            problems += [f"{key}.options.levels.{other}: ae_by_grade counts {variable} (options.variable)"
                         for other in analysis.get("options", {}).get("levels", {}) if other != variable]
            checked = checked_ae_levels(trial)  # the values cleaning keeps: a level outside them would be blanked
            for name, listed in analysis.get("options", {}).get("levels", {}).items():
                extra = [str(v) for v in listed if name in checked and str(v).strip().upper() not in checked[name]]
                if extra:
                    problems.append(f"{key}.options.levels.{name}: {', '.join(extra)} not among the trial's levels "
                                    f"of {name} ({', '.join(checked[name])}), which cleaning keeps: list the scale "
                                    f"under adverse_events.levels.{name}")
        problems += _parameter_problems(f"{key}.parameters", analysis.get("parameters", []), tests, derived)
        for j, param in enumerate(analysis.get("parameters", [])):
            where = f"{key}.parameters[{j}]"
            if spec.get("yes_no") and param in tests | derived and not (param in derived and is_yes_no(derived[param])):
                yes_no = [code for code, d in derived.items() if is_yes_no(d)]
                problems.append(f"{where}: {param} is not a yes/no parameter ({', '.join(yes_no) or 'none derived'})")
            if method == "shift" and param in tests and not tests[param].get("normal"):
                problems.append(f"{where}: {param} has no reference range (tests.{param}.normal), so no shift table")
            if method == "shift" and param in derived and param not in tests:
                problems.append(f"{where}: {param} is derived and has no reference range, so no shift table")
    for name, family in trial.get("families", {}).items():
        key, target = f"families.{name}", by_id.get(family["analysis"])
        if target is None or target["method"] not in FAMILY_METHODS:
            problems.append(f"{key}.analysis: '{family['analysis']}' is not an analysis of the plan with P-values per "
                            f"parameter (methods {', '.join(FAMILY_METHODS)})")
            continue
        problems += [f"{key}.parameters[{i}]: {param} is not analysed by {family['analysis']}"
                     for i, param in enumerate(family["parameters"]) if param not in target.get("parameters", [])]
    for figure, spec in trial.get("figures", {}).items():
        key, target = f"figures.{figure}", by_id.get(spec["analysis"])
        if target is None or target["method"] != FIGURE_METHODS[figure]:
            problems.append(f"{key}.analysis: '{spec['analysis']}' is not a {FIGURE_METHODS[figure]} "
                            "analysis of the plan")
            continue
        problems += [f"{key}.parameters[{i}]: {param} is not analysed by {spec['analysis']}"
                     for i, param in enumerate(spec.get("parameters", [])) if param not in target.get("parameters", [])]
        problems += [f"{key}.better.{param}: {param} is not one of the figure's parameters"
                     for param in spec.get("better", {}) if param not in spec.get("parameters", [])]
    baseline = trial.get("adsl_baseline", [])
    problems += _parameter_problems("adsl_baseline", [next(iter(e)) if isinstance(e, dict) else e for e in baseline],
                                    tests, derived)
    problems += [f"adsl_baseline[{i}]: {e}BL has {len(e) + 2} characters (ADaM names at most 8): name it, e.g. "
                 f"{{{e}: {e[:5]}BL}}" for i, e in enumerate(baseline) if isinstance(e, str) and len(e) > 6]
    return problems


def _parameter_problems(key: str, params: list[str], tests: dict, derived: dict) -> list[str]:
    problems, seen = [], set()
    for i, param in enumerate(params):
        if param in seen:
            problems.append(f"{key}[{i}]: {param} is listed twice")
        elif param not in tests and param not in derived:
            problems.append(f"{key}[{i}]: {param} is neither a configured test (tests:) nor a derived parameter "
                            f"(derived: {', '.join(derived) or 'none'})")
        seen.add(param)
    return problems
