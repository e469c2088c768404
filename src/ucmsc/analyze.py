"""Run a trial's analysis plan over its ADaM datasets into one analysis-results dataset (ARD).

One row per analysis x parameter x visit x group x statistic, full precision. Rounding
happens only where a value is displayed (``ucmsc.rounding``).
"""

from __future__ import annotations

import pandas as pd

from ucmsc import stats

ARD_COLUMNS = ["TRIAL", "CUT", "ANALYSIS_ID", "ANALYSIS", "POPULATION", "PARAMCD", "PARAM", "AVISITN", "AVISIT",
               "GROUP", "VARIABLE", "METHOD", "STAT_NAME", "STAT_LABEL", "VALUE", "INPUTS"]


class ArdBuilder:
    def __init__(self, trial: str, cut: str, inputs: str):
        self.common = {"TRIAL": trial, "CUT": cut, "INPUTS": inputs}
        self.rows: list[dict] = []

    def add(self, stat_rows: list[dict], **keys) -> None:
        for row in stat_rows:
            self.rows.append({**self.common, **keys, **row})

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows).reindex(columns=ARD_COLUMNS)
        for column in ("PARAMCD", "PARAM", "AVISIT", "VARIABLE"):
            frame[column] = frame[column].fillna("")
        return frame


def _arms(config: dict) -> tuple[str, str]:
    active = next(a["arm"] for a in config["arms"] if a["active"])
    control = next(a["arm"] for a in config["arms"] if not a["active"])
    return active, control


def population_counts(ard: ArdBuilder, adsl: pd.DataFrame, config: dict) -> None:
    flags = {"RANDFL": "Randomised", "SAFFL": "Safety (at least one infusion)", "FASFL": "Full analysis set",
             "PPROTFL": "Per protocol (every scheduled visit)"}
    for arm in [a["arm"] for a in config["arms"]]:
        subset = adsl[adsl["ARM"] == arm]
        for flag, label in flags.items():
            ard.add([{"STAT_NAME": "n", "STAT_LABEL": "Subjects", "VALUE": float((subset[flag] == "Y").sum())}],
                    ANALYSIS_ID="POP", ANALYSIS="Analysis populations", POPULATION=flag, PARAMCD=flag, PARAM=label,
                    GROUP=arm, METHOD="count")
        for status in ("COMPLETED", "DISCONTINUED", "ONGOING"):
            ard.add([{"STAT_NAME": "n", "STAT_LABEL": "Subjects", "VALUE": float((subset["EOSSTT"] == status).sum())}],
                    ANALYSIS_ID="DISP", ANALYSIS="Disposition", POPULATION="RANDFL", PARAMCD=status, PARAM=status.title(),
                    GROUP=arm, METHOD="count")


def baseline_characteristics(ard: ArdBuilder, adsl: pd.DataFrame, bds: pd.DataFrame, config: dict) -> None:
    active, control = _arms(config)
    population = adsl[adsl["RANDFL"] == "Y"]
    keys = dict(ANALYSIS_ID="BASELINE", ANALYSIS="Baseline characteristics", POPULATION="RANDFL", AVISITN=0, AVISIT="Week 0")
    for arm in (active, control):
        ard.add(stats.describe(population.loc[population["ARM"] == arm, "AGE"]), PARAMCD="AGE", PARAM="Age (years)",
                GROUP=arm, VARIABLE="AGE", METHOD="descriptive", **keys)
    ard.add(stats.ttest_student(population.loc[population["ARM"] == active, "AGE"], population.loc[population["ARM"] == control, "AGE"]),
            PARAMCD="AGE", PARAM="Age (years)", GROUP=f"{active} vs {control}", VARIABLE="AGE", METHOD="Student t-test", **keys)
    counts = {arm: (int((population.loc[population["ARM"] == arm, "SEX"] == "M").sum()), int((population["ARM"] == arm).sum()))
              for arm in (active, control)}
    for arm, (males, total) in counts.items():
        ard.add(stats.proportion(males, total), PARAMCD="SEXM", PARAM="Male sex", GROUP=arm, VARIABLE="SEX", METHOD="count", **keys)
    ard.add(stats.compare_proportions(*counts[active], *counts[control]), PARAMCD="SEXM", PARAM="Male sex",
            GROUP=f"{active} vs {control}", VARIABLE="SEX", METHOD="Pearson chi-square", **keys)
    base = bds[(bds["ABLFL"] == "Y") & bds["PARAMCD"].isin(config["analysis"]["continuous"])]
    for paramcd, records in base.groupby("PARAMCD", sort=False):
        param = records["PARAM"].iloc[0]
        for arm in (active, control):
            ard.add(stats.describe(records.loc[records["ARM"] == arm, "AVAL"]), PARAMCD=paramcd, PARAM=param, GROUP=arm,
                    VARIABLE="AVAL", METHOD="descriptive", **keys)
        ard.add(stats.ttest_student(records.loc[records["ARM"] == active, "AVAL"], records.loc[records["ARM"] == control, "AVAL"]),
                PARAMCD=paramcd, PARAM=param, GROUP=f"{active} vs {control}", VARIABLE="AVAL", METHOD="Student t-test", **keys)


def continuous_by_visit(ard: ArdBuilder, adsl: pd.DataFrame, bds: pd.DataFrame, config: dict, population: str) -> None:
    """Per parameter and visit: descriptives of AVAL and CHG by arm; Student t-test between arms on AVAL and CHG."""
    active, control = _arms(config)
    members = set(adsl.loc[adsl[population] == "Y", "USUBJID"])
    data = bds[bds["USUBJID"].isin(members) & bds["PARAMCD"].isin(config["analysis"]["continuous"]) & (bds["ANL01FL"] == "Y")]
    for (paramcd, visitn), records in data.groupby(["PARAMCD", "AVISITN"], sort=True):
        keys = dict(ANALYSIS_ID="CONT", ANALYSIS="Continuous endpoints by visit", POPULATION=population, PARAMCD=paramcd,
                    PARAM=records["PARAM"].iloc[0], AVISITN=int(visitn), AVISIT=records["AVISIT"].iloc[0])
        for variable in ("AVAL", "CHG") if visitn > 0 else ("AVAL",):
            for arm in (active, control):
                ard.add(stats.describe(records.loc[records["ARM"] == arm, variable]), GROUP=arm, VARIABLE=variable,
                        METHOD="descriptive", **keys)
            ard.add(stats.ttest_student(records.loc[records["ARM"] == active, variable], records.loc[records["ARM"] == control, variable]),
                    GROUP=f"{active} vs {control}", VARIABLE=variable, METHOD="Student t-test", **keys)


def responders_by_visit(ard: ArdBuilder, adsl: pd.DataFrame, bds: pd.DataFrame, config: dict) -> None:
    """Responder rates with non-responder imputation: every FAS subject is in the denominator."""
    active, control = _arms(config)
    fas = adsl[adsl["FASFL"] == "Y"]
    size = fas.groupby("ARM").size()
    for paramcd, label in config["analysis"].get("responder", {}).items():
        records = bds[(bds["PARAMCD"] == paramcd) & bds["USUBJID"].isin(fas["USUBJID"])]
        for visitn, at_visit in records.groupby("AVISITN"):
            if visitn == 0:
                continue
            keys = dict(ANALYSIS_ID="RESP", ANALYSIS="Responders (missing = non-responder)", POPULATION="FASFL",
                        PARAMCD=paramcd, PARAM=label, AVISITN=int(visitn), AVISIT=at_visit["AVISIT"].iloc[0], VARIABLE="AVAL")
            counts = {arm: (int(at_visit.loc[at_visit["ARM"] == arm, "AVAL"].sum()), int(size.get(arm, 0))) for arm in (active, control)}
            for arm, (r, n) in counts.items():
                ard.add(stats.proportion(r, n), GROUP=arm, METHOD="count", **keys)
            ard.add(stats.compare_proportions(*counts[active], *counts[control]), GROUP=f"{active} vs {control}",
                    METHOD="Pearson chi-square", **keys)


def adverse_events(ard: ArdBuilder, adsl: pd.DataFrame, adae: pd.DataFrame, config: dict) -> None:
    """Subjects with at least one treatment-emergent event, overall and by preferred term; Fisher exact."""
    active, control = _arms(config)
    safety = adsl[adsl["SAFFL"] == "Y"]
    size = safety.groupby("ARM").size()
    teae = adae[(adae["TRTEMFL"] == "Y") & adae["USUBJID"].isin(safety["USUBJID"])]
    terms = [("ANY", "Any treatment-emergent adverse event", teae)]
    terms += [("SER", "Serious adverse event", teae[teae["AESER"] == "Y"])]
    terms += [(decod, decod, group) for decod, group in teae.groupby("AEDECOD", sort=True)]
    for paramcd, label, events in terms:
        keys = dict(ANALYSIS_ID="AE", ANALYSIS="Treatment-emergent adverse events", POPULATION="SAFFL", PARAMCD=paramcd,
                    PARAM=label, VARIABLE="USUBJID")
        counts = {}
        for arm in (active, control):
            in_arm = events[events["ARM"] == arm]
            counts[arm] = (int(in_arm["USUBJID"].nunique()), int(size.get(arm, 0)))
            ard.add(stats.proportion(*counts[arm]) + [{"STAT_NAME": "events", "STAT_LABEL": "Events", "VALUE": float(len(in_arm))}],
                    GROUP=arm, METHOD="count", **keys)
        ard.add([r for r in stats.compare_proportions(*counts[active], *counts[control])
                 if r["STAT_NAME"] in ("fisher_p", "estimate", "lcl", "ucl")], GROUP=f"{active} vs {control}",
                METHOD="Fisher exact", **keys)


def run_analyses(adsl: pd.DataFrame, bds: pd.DataFrame, adae: pd.DataFrame, config: dict, trial: str, cut: str,
                 inputs: str) -> pd.DataFrame:
    ard = ArdBuilder(trial, cut, inputs)
    population_counts(ard, adsl, config)
    baseline_characteristics(ard, adsl, bds, config)
    continuous_by_visit(ard, adsl, bds, config, "FASFL" if config["design"] == "efficacy" else "SAFFL")
    responders_by_visit(ard, adsl, bds, config)
    adverse_events(ard, adsl, adae, config)
    return ard.frame()
