"""The trial config as typed objects: arms with roles, visits, populations, derived parameters, the plan.

``load_trial`` turns a schema-valid trial config (a dict read from YAML) into a ``Trial``; the
stages take it instead of raw dicts, so a key is spelt once and an arm's role is never guessed
from its position in a list. No pandas: the Snakefile's parse-time checks use this module too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ucmsc.paramcodes import is_yes_no

CONTROL, ACTIVE = "control", "active"
# How a continuous parameter is summarised throughout (``summaries:`` of the plan): mean (SD) with the t-test, the
# default, or median [Q1; Q3] with the Mann-Whitney U and the Hodges-Lehmann shift (within an arm: Wilcoxon signed
# rank and the Hodges-Lehmann pseudo-median).
MEAN, MEDIAN = "mean", "median"


class PlanError(ValueError):
    """The trial config cannot be read as a plan; the message names the key."""


@dataclass(frozen=True)
class Arm:
    name: str  # ARM as the analyses print it ("UC-MSC")
    code: str  # ARMCD
    role: str  # CONTROL or ACTIVE
    dose: float | None = None  # position in a dose order, for trend tests across arms

    @property
    def is_control(self) -> bool:
        return self.role == CONTROL


@dataclass(frozen=True)
class Contrast:
    """One comparison of an active arm with the control arm: estimates are active minus control."""

    active: Arm
    control: Arm

    @property
    def levels(self) -> tuple[str, str]:
        return self.active.name, self.control.name


@dataclass(frozen=True)
class Visit:
    visitnum: int
    avisit: str
    day: int
    window: int


# How ADSL derives a population flag by rule (``populations: [{flag, rule}]``), with the default label and name
# (the set as a title names it). A flag may instead take a delivered variable (``from: ITTFL``, Y = in the set).
# "{noun}" is the dose event (``exposure.noun``). Every population is within the randomised set (planned arms).
POPULATION_RULES = {
    "randomised": ("Randomised", "Randomised set"),
    "treated": ("Safety (at least one {noun})", "Safety population"),
    "baseline_and_post": ("Full analysis set", "Full analysis set"),
    "every_visit": ("Per protocol (every scheduled visit)", "Per-protocol set"),
}
DEFAULT_POPULATIONS = ({"flag": "RANDFL", "rule": "randomised"}, {"flag": "SAFFL", "rule": "treated"},
                       {"flag": "FASFL", "rule": "baseline_and_post"}, {"flag": "PPROTFL", "rule": "every_visit"})
RANDOMISED = "RANDFL"  # always derived: the subjects of the arms the plan compares


@dataclass(frozen=True)
class Population:
    """An analysis population: its ADSL flag, how it is derived, and how tables name it."""

    flag: str
    label: str  # the flow table's row and the ARD's PARAM
    name: str  # as a title names the set ("Safety population")
    rule: str = ""  # a key of POPULATION_RULES, or
    source: str = ""  # the delivered ADSL variable whose Y puts a subject in the set

    @property
    def noun(self) -> str:
        """As a sentence names the set: "safety population"."""
        return self.name[:1].lower() + self.name[1:]


@dataclass(frozen=True)
class Exposure:
    """How the trial gives its treatment, for the wording of tables and the AE timing flag."""

    noun: str = "dose"  # one dose event ("infusion", "injection", "dose")
    plural: str = "doses"
    route: str = ""
    schedule: str = ""
    window_hours: float | None = None  # ADAE flags an onset this many hours after a dose ...
    window_flag: str = ""  # ... in this variable (e.g. INF24FL)
    planned_doses: int | None = None  # doses each subject is planned to receive (exposure tables' levels)


def load_exposure(config: Mapping[str, Any]) -> Exposure:
    spec = dict(config.get("exposure", {}))
    window = spec.get("ae_window", {})
    noun = spec.get("noun", "dose")
    return Exposure(noun=noun, plural=spec.get("plural", noun + "s"), route=spec.get("route", ""),
                    schedule=spec.get("schedule", ""), window_hours=window.get("hours"),
                    window_flag=window.get("flag", ""), planned_doses=spec.get("planned_doses"))


def load_populations(config: Mapping[str, Any]) -> tuple[Population, ...]:
    """The trial's populations in report order, the randomised set first (added by rule when not listed). Without a
    ``populations`` list: RANDFL and SAFFL, and FASFL and PPROTFL when the trial has a visit schedule (findings to
    judge them by)."""
    default = DEFAULT_POPULATIONS if config.get("visits") else DEFAULT_POPULATIONS[:2]
    entries = list(config.get("populations") or default)
    if not any(e["flag"] == RANDOMISED for e in entries):
        entries.insert(0, {"flag": RANDOMISED, "rule": "randomised"})
    noun = load_exposure(config).noun
    populations = []
    for entry in entries:
        label, name = POPULATION_RULES.get(entry.get("rule", ""), (entry["flag"], entry["flag"]))
        populations.append(Population(entry["flag"], entry.get("label", label.format(noun=noun)),
                                      entry.get("name", entry.get("label", name)), entry.get("rule", ""),
                                      entry.get("from", "")))
    return tuple(populations)


# The analysis methods a plan can name: what each needs and the options it takes (name -> allowed values;
# None: any value the schema allows).
METHODS = {
    "populations": {"parameters": False, "options": {}},
    "baseline": {"parameters": True, "options": {"ttest": ("student", "welch"),
                                                 "proportion_ci": ("newcombe", "miettinen-nurminen", "wald")}},
    "demographics": {"parameters": False, "options": {"continuous": None, "categorical": None, "decimals": None,
                                                      "labels": None, "levels": None}},
    "by_visit": {"parameters": True, "options": {"ttest": ("student", "welch")}},
    "within_arm": {"parameters": True, "options": {}},
    "ancova": {"parameters": True, "options": {"ci": ("t", "normal")}},
    "mmrm": {"parameters": True, "options": {"covariance": ("unstructured", "compound-symmetry"),
                                             "ddfm": ("satterthwaite", "kenward-roger", "between-within")}},
    "responders": {"parameters": True, "yes_no": True,
                   "options": {"proportion_ci": ("newcombe", "miettinen-nurminen", "wald"),
                               "missing": ("non-responder",)}},
    "gee": {"parameters": True, "yes_no": True, "options": {}},
    "adverse_events": {"parameters": False, "options": {"by": ("preferred_term", "system_organ_class", "soc_pt"),
                                                        "proportion_ci": ("newcombe", "miettinen-nurminen", "wald")}},
    "ae_overview": {"parameters": False, "options": {"related": None, "severe": None, "withdrawal_actions": None,
                                                     "withdrawal_reasons": None,
                                                     "proportion_ci": ("newcombe", "miettinen-nurminen", "wald")}},
    "ae_by_grade": {"parameters": False, "options": {"variable": ("AESEV", "AEREL"), "levels": None}},
    "ae_window": {"parameters": False, "ae_window": True, "options": {}},
    "exposure": {"parameters": False, "options": {}},
    "shift": {"parameters": True, "options": {}},
    "grade_shift": {"parameters": True, "visits": True, "options": {}},
    "reference_ranges": {"parameters": False, "options": {}},
    "date_imputations": {"parameters": False, "options": {}},
    "trend": {"parameters": True, "doses": True, "options": {}},
}


# The ordered levels of the graded AE variables, lowest first: AESEV as CDISC CT C66769; AEREL, which has no CDISC
# codelist, as the five-point causality scale sites commonly use. A trial's adverse_events.levels replaces them.
AE_LEVELS = {"AESEV": ("MILD", "MODERATE", "SEVERE"),
             "AEREL": ("NOT RELATED", "UNLIKELY RELATED", "POSSIBLY RELATED", "PROBABLY RELATED", "DEFINITELY RELATED")}


def checked_ae_levels(config: dict) -> dict[str, tuple[str, ...]]:
    """The AE variables whose values cleaning checks, with their levels: AESEV always (a CDISC codelist), AEREL when
    the trial lists its levels (sponsors' scales differ: NOT RELATED, POSSIBLE, PROBABLE, RELATED is another)."""
    listed = config.get("adverse_events", {}).get("levels", {})
    return {v: ae_levels(config, v) for v in AE_LEVELS if v == "AESEV" or v in listed}


def ae_levels(config: dict, variable: str) -> tuple[str, ...]:
    """The levels of AESEV or AEREL, lowest first: the trial's ``adverse_events.levels``, else AE_LEVELS."""
    listed = config.get("adverse_events", {}).get("levels", {}).get(variable)
    return tuple(str(level).strip().upper() for level in listed) if listed else AE_LEVELS[variable]


# Options whose absence means a value (method, option) -> value; the analyses and the TLF selectors read them here.
OPTION_DEFAULTS = {("adverse_events", "by"): "preferred_term", ("ae_by_grade", "variable"): "AESEV"}


@dataclass(frozen=True)
class Analysis:
    """One entry of the plan: a method applied to parameters in a population, with its options."""

    id: str
    method: str
    population: str = ""
    parameters: tuple[str, ...] = ()
    visits: tuple[int, ...] = ()  # empty: every scheduled visit the data have
    options: Mapping[str, Any] = field(default_factory=dict)
    title: str = ""

    def option(self, name: str, default: Any = None) -> Any:
        """The option's value, else ``default``, else the method's default (OPTION_DEFAULTS)."""
        return self.options.get(name, OPTION_DEFAULTS.get((self.method, name)) if default is None else default)


@dataclass(frozen=True)
class Family:
    """Multiplicity family: Holm and Benjamini-Hochberg across the comparisons' P-values of one analysis's
    parameters."""

    name: str
    analysis: str
    parameters: tuple[str, ...]


@dataclass(frozen=True)
class Trial:
    """One trial's config. ``raw`` keeps the validated dict for the sections not yet typed."""

    trial: str
    studyid: str
    title: str
    arms: tuple[Arm, ...]
    visits: tuple[Visit, ...]
    analyses: tuple[Analysis, ...] = ()
    families: tuple[Family, ...] = ()
    figures: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    derived: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tests: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    populations: tuple[Population, ...] = field(default_factory=lambda: load_populations({}))
    exposure: Exposure = field(default_factory=Exposure)
    medians: frozenset[str] = frozenset()  # parameters the plan summarises by median (``summaries.median``)
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def summary(self, paramcd: str) -> str:
        """The plan's summary of a parameter: MEDIAN when ``summaries.median`` lists it, else MEAN."""
        return MEDIAN if paramcd in self.medians else MEAN

    def population(self, flag: str) -> Population:
        """The population of ``flag`` (a flag the config does not define: named by the flag itself)."""
        return next((p for p in self.populations if p.flag == flag), Population(flag, flag, flag))

    @property
    def control(self) -> Arm:
        return next(a for a in self.arms if a.is_control)

    @property
    def actives(self) -> tuple[Arm, ...]:
        return tuple(a for a in self.arms if not a.is_control)

    @property
    def contrasts(self) -> tuple[Contrast, ...]:
        """Each active arm against the control arm, in the config's order of the active arms."""
        return tuple(Contrast(active, self.control) for active in self.actives)

    @property
    def arm_names(self) -> tuple[str, ...]:
        """Arms in display order: the active arms as configured, then the control arm."""
        return tuple(a.name for a in self.actives) + (self.control.name,)

    def visit(self, visitnum: int) -> Visit:
        return next(v for v in self.visits if v.visitnum == visitnum)

    def analyses_by(self, method: str) -> tuple[Analysis, ...]:
        return tuple(a for a in self.analyses if a.method == method)

    def analysis(self, analysis_id: str) -> Analysis | None:
        return next((a for a in self.analyses if a.id == analysis_id), None)


def arm_problems(arms: list[dict]) -> list[str]:
    """One control arm, at least one active arm, unique names and codes; dose orders, if given, for every arm."""
    problems = []
    controls = [a["arm"] for a in arms if a.get("role") == CONTROL]
    if len(controls) != 1:
        problems.append(f"arms: exactly one arm must have role: control "
                        f"(found {len(controls)}: {', '.join(controls) or 'none'})")
    if not any(a.get("role") == ACTIVE for a in arms):
        problems.append("arms: at least one arm must have role: active")
    for key in ("arm", "armcd"):
        first: dict[str, int] = {}
        for i, arm in enumerate(arms):
            if arm[key] in first:
                problems.append(f"arms[{i}].{key}: {arm[key]!r} is already the {key} of arms[{first[arm[key]]}]")
            first.setdefault(arm[key], i)
    doses = [a.get("dose") for a in arms]
    if any(d is not None for d in doses) and any(d is None for d in doses):
        problems.append("arms: a dose order is given for some arms but not all (a trend test needs every arm's)")
    return problems


def summary_problems(config: Mapping[str, Any]) -> list[str]:
    """``summaries.median`` names each configured test or derived parameter once, none of them a yes/no parameter."""
    tests, derived = config.get("tests", {}), config.get("derived", {})
    problems, seen = [], set()
    for i, param in enumerate((config.get("summaries") or {}).get(MEDIAN, [])):
        key = f"summaries.median[{i}]"
        if param in seen:
            problems.append(f"{key}: {param} is listed twice")
        elif param not in tests and param not in derived:
            problems.append(f"{key}: {param} is neither a configured test (tests:) nor a derived parameter "
                            f"(derived: {', '.join(derived) or 'none'})")
        elif param in derived and is_yes_no(derived[param]):
            problems.append(f"{key}: {param} is a yes/no parameter (summarised as n/N (%), not by a median)")
        seen.add(param)
    return problems


def load_trial(config: Mapping[str, Any]) -> Trial:
    """The typed trial from a schema-valid trial config; PlanError names what is inconsistent."""
    problems = arm_problems(list(config["arms"])) + summary_problems(config)
    if problems:
        raise PlanError("; ".join(problems))
    arms = tuple(Arm(a["arm"], a["armcd"], a["role"], a.get("dose")) for a in config["arms"])
    visits = tuple(Visit(int(v["visitnum"]), v["avisit"], int(v["day"]), int(v["window"]))
                   for v in config.get("visits", ()))
    analyses = tuple(Analysis(a["id"], a["method"], a.get("population", ""), tuple(a.get("parameters", ())),
                              tuple(int(v) for v in a.get("visits", ())), MappingProxyType(dict(a.get("options", {}))),
                              a.get("title", "")) for a in config.get("analyses", ()))
    families = tuple(Family(name, f["analysis"], tuple(f["parameters"]))
                     for name, f in config.get("families", {}).items())
    return Trial(trial=config.get("trial", ""), studyid=config.get("studyid", ""), title=config.get("title", ""),
                 arms=arms, visits=visits, analyses=analyses, families=families,
                 figures=MappingProxyType(dict(config.get("figures", {}))),
                 derived=MappingProxyType(dict(config.get("derived", {}))),
                 tests=MappingProxyType(dict(config.get("tests", {}))), populations=load_populations(config),
                 exposure=load_exposure(config),
                 medians=frozenset((config.get("summaries") or {}).get(MEDIAN, ())), raw=MappingProxyType(dict(config)))
