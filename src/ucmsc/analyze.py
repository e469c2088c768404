"""Run a trial's analysis plan (``analyses:`` of its config) over its ADaM datasets into the ARD.

Each analysis names a method of ``METHODS``; the method writes its rows through ``ucmsc.ard``: one
row per statistic, full precision, groups as columns. Every comparison is an active arm against
the control arm (``Trial.contrasts``), never "active vs the rest": a subject of an arm the plan does
not list is in no group. A statistic that cannot be computed is still a row: VALUE NaN, with the
reason in WARNING (or the exception in ERROR).
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from ucmsc import ard as ardlib
from ucmsc import stats
from ucmsc.ard import DEMOGRAPHICS, MISSING_LEVEL, arm_group, contrast_group, overall_group
from ucmsc.io import isin
from ucmsc.plan import MEDIAN, Analysis, Trial, ae_levels, load_trial


@dataclass
class Context:
    """What every method reads: the trial, its datasets and the ARD being built."""

    trial: Trial
    adsl: pd.DataFrame
    bds: pd.DataFrame
    adae: pd.DataFrame
    ard: ardlib.Builder

    def members(self, population: str) -> set:
        return set(self.adsl.loc[self.adsl[population] == "Y", "USUBJID"].tolist())  # tolist: not value by value

    @functools.cached_property
    def _by_parameter(self) -> dict:
        return {code: self.bds.take(rows) for code, rows in self.bds.groupby("PARAMCD", sort=False).indices.items()}

    def parameter(self, paramcd: str) -> pd.DataFrame:
        """The BDS records of one parameter, all subjects, in BDS order: the BDS is split once, not searched for
        every analysis (the same rows and index as ``bds[bds["PARAMCD"] == paramcd]``)."""
        return self._by_parameter.get(paramcd, self.bds.iloc[0:0])

    @functools.cached_property
    def _population_masks(self) -> dict:
        return {}

    def in_population(self, records: pd.DataFrame, population: str) -> pd.Series:
        """Which BDS ``records`` (rows of ``bds``) are of a subject in ``population``; the whole BDS is tested once per
        population, not every selection of it."""
        if not isinstance(self.bds.index, pd.RangeIndex):
            return isin(records["USUBJID"], self.members(population))
        if population not in self._population_masks:
            self._population_masks[population] = isin(self.bds["USUBJID"], self.members(population)).to_numpy()
        positions = self.bds.index.get_indexer(records.index)
        if (positions < 0).any():  # -1 would silently read the last subject's membership
            raise ValueError("in_population: the records are not rows of the BDS")
        return pd.Series(self._population_masks[population][positions], index=records.index)

    @functools.cached_property
    def visits_anywhere(self) -> set[int]:
        """The visits at which any parameter has a record."""
        return {int(v) for v in self.bds["AVISITN"].dropna().unique()}


def _arm_records(records: pd.DataFrame, arm: str, variable: str) -> pd.Series:
    return records.loc[records["ARM"] == arm, variable]


def _visits(records: pd.DataFrame, anywhere: set[int], trial: Trial, planned: tuple[int, ...] = ()) -> list[int]:
    """The visits to analyse for one parameter: the plan's, or those it has records at plus scheduled visits without
    a record of any parameter (a visit without data is reported as not estimable, not dropped). A parameter without
    any record: every scheduled visit. A visit some parameters skip by design (e.g. no clamp at week 20) is not
    added."""
    if planned:
        return list(planned)
    scheduled = [v.visitnum for v in trial.visits]
    present = {int(v) for v in records["AVISITN"].dropna().unique()}
    if not present:
        return scheduled
    return sorted(present | {v for v in scheduled if v not in anywhere})


def _visit_label(records: pd.DataFrame, trial: Trial, visitn: int) -> str:
    at = records.loc[records["AVISITN"] == visitn, "AVISIT"]
    if len(at):
        return at.iloc[0]
    return next((v.avisit for v in trial.visits if v.visitnum == visitn), f"Week {visitn}")


def _param_label(records: pd.DataFrame, paramcd: str) -> str:
    return records["PARAM"].iloc[0] if len(records) else paramcd


def _ttest(analysis: Analysis) -> tuple[str, str]:
    """The plan's between-arm t-test (option ``ttest``: student, the default, or welch) and its METHOD text."""
    name = analysis.option("ttest", "student")
    return name, stats.TTEST_METHODS[name]


# --- methods ---------------------------------------------------------------------------------

def populations(ctx: Context, analysis: Analysis) -> None:
    """Subjects per arm in each population flag (POP), by end-of-study status (DISP), and subjects of the delivery in
    no analysis population (EXCL), by arm as delivered and reason."""
    adsl = ctx.adsl
    for arm in ctx.trial.arm_names:
        subset = adsl[adsl["ARM"] == arm]
        for population in ctx.trial.populations:
            flag = population.flag
            ctx.ard.add([{"STAT_NAME": "n", "STAT_LABEL": "Subjects", "VALUE": float((subset[flag] == "Y").sum())}],
                        ANALYSIS_ID=analysis.id, ANALYSIS="Analysis populations", POPULATION=flag, PARAMCD=flag,
                        PARAM=population.label, METHOD="count", **arm_group(arm))
        for status in ("COMPLETED", "DISCONTINUED", "ONGOING"):
            ctx.ard.add([{"STAT_NAME": "n", "STAT_LABEL": "Subjects",
                          "VALUE": float((subset["EOSSTT"] == status).sum())}],
                        ANALYSIS_ID="DISP", ANALYSIS="Disposition", POPULATION="RANDFL", PARAMCD=status,
                        PARAM=status.title(), METHOD="count", **arm_group(arm))
    reasons = adsl["EXCLREAS"].fillna("") if "EXCLREAS" in adsl else pd.Series("", index=adsl.index)
    excluded = adsl[reasons != ""]
    for (arm, reason), subjects in excluded.groupby([excluded["ARM"].fillna(""), "EXCLREAS"], sort=True):
        ctx.ard.add([{"STAT_NAME": "n", "STAT_LABEL": "Subjects", "VALUE": float(len(subjects))}], ANALYSIS_ID="EXCL",
                    ANALYSIS="Subjects excluded from every analysis population", POPULATION="", PARAMCD="EXCLUDED",
                    PARAM=reason, METHOD="count", **arm_group(arm or "(no arm)"))


def _median(trial: Trial, paramcd: str) -> bool:
    """The plan summarises ``paramcd`` by median (``summaries.median``): its comparisons add Hodges-Lehmann rows."""
    return trial.summary(paramcd) == MEDIAN


def baseline(ctx: Context, analysis: Analysis) -> None:
    """Age and sex, and the baseline value of each parameter, by arm; each active arm against the control arm by
    t-test and Mann-Whitney U, with the Hodges-Lehmann shift for a parameter the plan summarises by median. The
    pooled skewness is information only: the summary is the plan's (``Trial.summary``)."""
    trial, ard = ctx.trial, ctx.ard
    population = ctx.adsl[ctx.adsl[analysis.population] == "Y"]
    keys = dict(ANALYSIS_ID=analysis.id, ANALYSIS="Baseline characteristics", POPULATION=analysis.population,
                AVISITN=0, AVISIT=trial.visit(0).avisit if any(v.visitnum == 0 for v in trial.visits) else "Week 0")
    ttest, t_method = _ttest(analysis)
    ci = analysis.option("proportion_ci", "newcombe")
    for arm in trial.arm_names:
        ard.add(stats.describe(_arm_records(population, arm, "AGE"), group=arm), PARAMCD="AGE", PARAM="Age (years)",
                VARIABLE="AGE", METHOD="descriptive", **keys, **arm_group(arm))
    for contrast in trial.contrasts:
        active, control = contrast.levels
        ard.add(stats.ttest(_arm_records(population, active, "AGE"), _arm_records(population, control, "AGE"), ttest,
                            groups=contrast.levels), PARAMCD="AGE", PARAM="Age (years)", VARIABLE="AGE",
                METHOD=t_method, **keys, **contrast_group(active, control))
    males = {arm: (int((_arm_records(population, arm, "SEX") == "M").sum()), int((population["ARM"] == arm).sum()))
             for arm in trial.arm_names}
    for arm, (count, total) in males.items():
        ard.add(stats.proportion(count, total, group=arm), PARAMCD="SEXM", PARAM="Male sex", VARIABLE="SEX",
                METHOD="count", **keys, **arm_group(arm))
    for contrast in trial.contrasts:
        active, control = contrast.levels
        ard.add(stats.compare_proportions(*males[active], *males[control], groups=contrast.levels, ci=ci),
                PARAMCD="SEXM", PARAM="Male sex", VARIABLE="SEX", METHOD="Pearson chi-square", **keys,
                **contrast_group(active, control))
    for paramcd in analysis.parameters:
        everything = ctx.parameter(paramcd)
        records = everything[(everything["ABLFL"] == "Y") & ctx.in_population(everything, analysis.population)]
        if records.empty:
            continue
        param = dict(PARAMCD=paramcd, PARAM=records["PARAM"].iloc[0], VARIABLE="AVAL", **keys)
        for arm in trial.arm_names:
            ard.add(stats.describe(_arm_records(records, arm, "AVAL"), group=arm), METHOD="descriptive", **param,
                    **arm_group(arm))
        pooled = records.loc[records["ARM"].isin(trial.arm_names), "AVAL"]
        ard.add(stats.skewness(pooled, group=f"the pooled sample of {' and '.join(trial.arm_names)}"),
                METHOD="descriptive", **param, **overall_group())
        for contrast in trial.contrasts:
            x, y = (_arm_records(records, arm, "AVAL") for arm in contrast.levels)
            group = contrast_group(*contrast.levels)
            ard.add(stats.ttest(x, y, ttest, groups=contrast.levels), METHOD=t_method, **param, **group)
            ard.add(stats.mann_whitney(x, y, groups=contrast.levels, location_shift=_median(trial, paramcd)),
                    METHOD="Mann-Whitney U", **param, **group)


LEVEL_LABELS = {"n": "Subjects", "N": "Subjects in the population", "pct": "% of subjects in the population"}


def _level_text(value) -> str:
    """A categorical value as its ARD level: text stripped, a whole number without decimals (1.0 -> '1'); '' if
    missing."""
    if value is None or pd.isna(value):
        return ""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return f"{float(value):g}"
    return str(value).strip()


def _level_texts(values: pd.Series) -> pd.Series:
    """``_level_text`` of every value, computed once per distinct value."""
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    texts = np.array([_level_text(v) for v in distinct] + [""], dtype=object)  # code -1 (missing): the last
    return pd.Series(texts[codes], index=values.index, dtype=object)


def _levels(values: pd.Series, configured: list) -> list[str]:
    """The configured levels in their order, then any other level of the data, sorted (numbers by value)."""
    present = [v for v in values.dropna().unique() if _level_text(v)]
    try:
        present = sorted(present)
    except TypeError:  # numbers and text mixed
        present = sorted(present, key=_level_text)
    levels = [_level_text(v) for v in configured]
    return levels + [level for level in dict.fromkeys(map(_level_text, present)) if level not in levels]


def demographics(ctx: Context, analysis: Analysis) -> None:
    """Any ADSL variables by arm and for all arms together (Total: the overall group): for each of ``continuous``
    n, mean, SD, SE, median, quartiles, min and max; for each of ``categorical`` n, N and % per level, N being the
    arm's subjects in the population. Also N per arm and Total (PARAMCD = the population flag, VARIABLE USUBJID).

    Categorical rows have VARIABLE = the ADSL variable and PARAMCD = the level as text (``_level_text``);
    MISSING_LEVEL counts blank values, written when any subject of the population has one. Levels: option
    ``levels`` (shown even when no subject has them), else the labels of an ``adsl_groups`` entry, then the data's
    other levels sorted. PARAM is the variable's label (option ``labels``, else the group's label, else the name).
    A variable ADSL does not have (or a continuous one that is not numeric): n rows per group, VALUE NaN, WARNING.
    No tests between arms (ICH E3, CONSORT: baseline differences of randomised arms are chance).
    """
    trial = ctx.trial
    adsl = ctx.adsl
    population = adsl[(adsl[analysis.population] == "Y") & adsl["ARM"].isin(trial.arm_names)]
    groups = [(arm, population[population["ARM"] == arm], arm_group(arm)) for arm in trial.arm_names]
    groups.append(("Total", population, overall_group()))
    keys = dict(ANALYSIS_ID=analysis.id, ANALYSIS=DEMOGRAPHICS, POPULATION=analysis.population)
    adsl_groups = trial.raw.get("adsl_groups", {})
    labels = analysis.option("labels", {})

    def label(variable: str) -> str:
        return labels.get(variable) or adsl_groups.get(variable, {}).get("label") or variable

    def absent(variable: str, method: str, reason: str) -> None:
        for _, _, group in groups:
            ctx.ard.add(stats.stat_rows({"n": "n"}, {}, reason), PARAMCD=variable, PARAM=label(variable),
                        VARIABLE=variable, METHOD=method, **keys, **group)

    population_label = ctx.trial.population(analysis.population).label
    for _, subjects, group in groups:
        ctx.ard.add([{"STAT_NAME": "N", "STAT_LABEL": LEVEL_LABELS["N"], "VALUE": float(len(subjects))}],
                    PARAMCD=analysis.population, PARAM=population_label, VARIABLE="USUBJID",
                    METHOD="count", **keys, **group)
    for variable in analysis.option("continuous", ()):
        if variable not in adsl:
            absent(variable, "descriptive", f"not estimable: {variable} is not a variable of ADSL")
            continue
        values = pd.to_numeric(population[variable], errors="coerce")
        text = population[variable][values.isna() & _level_texts(population[variable]).ne("")]
        if len(text):
            absent(variable, "descriptive", f"not estimable: {variable} is not numeric in ADSL (e.g. "
                                            f"{text.iloc[0]!r}); list it under categorical")
            continue
        for name, subjects, group in groups:
            ctx.ard.add(stats.describe(values[subjects.index], group=name), PARAMCD=variable, PARAM=label(variable),
                        VARIABLE=variable, METHOD="descriptive", **keys, **group)
    level_options = analysis.option("levels", {})
    for variable in analysis.option("categorical", ()):
        if variable not in adsl:
            absent(variable, "count", f"not estimable: {variable} is not a variable of ADSL")
            continue
        text = _level_texts(population[variable])
        configured = level_options.get(variable, adsl_groups.get(variable, {}).get("labels", []))
        levels = _levels(population[variable], configured) + ([MISSING_LEVEL] if text.eq("").any() else [])
        for name, subjects, group in groups:
            mine = text[subjects.index]
            for level in levels:
                count = int(mine.eq("" if level == MISSING_LEVEL else level).sum())
                values = {"n": count, "N": len(mine)} | ({"pct": 100 * count / len(mine)} if len(mine) else {})
                ctx.ard.add(stats.stat_rows(LEVEL_LABELS, values, stats.too_few({name: len(mine)}, 1, stats.SUBJECTS)),
                            PARAMCD=level, PARAM=label(variable), VARIABLE=variable, METHOD="count", **keys, **group)


def _by_visit_records(ctx: Context, analysis: Analysis):
    """(paramcd, visit, keys, records of the analysis population at that visit) for every planned parameter and
    visit."""
    for paramcd in analysis.parameters:  # tables follow the plan's order
        everything = ctx.parameter(paramcd)
        mine = everything[ctx.in_population(everything, analysis.population) & (everything["ANL01FL"] == "Y")]
        for visitn in _visits(everything, ctx.visits_anywhere, ctx.trial, analysis.visits):
            keys = dict(ANALYSIS_ID=analysis.id, POPULATION=analysis.population, PARAMCD=paramcd,
                        PARAM=_param_label(everything, paramcd), AVISITN=int(visitn),
                        AVISIT=_visit_label(everything, ctx.trial, visitn))
            yield paramcd, visitn, keys, mine[mine["AVISITN"] == visitn]


def by_visit(ctx: Context, analysis: Analysis) -> None:
    """Per parameter and visit: n, mean, SD, median, quartiles of the value and (after baseline) the change by arm;
    each active arm against control by t-test (Student, or Welch with ``ttest: welch``) and Mann-Whitney U, the
    latter with the Hodges-Lehmann shift and its CI for a parameter the plan summarises by median."""
    ttest, t_method = _ttest(analysis)
    for paramcd, visitn, keys, records in _by_visit_records(ctx, analysis):
        keys = dict(keys, ANALYSIS="Continuous endpoints by visit")
        for variable in ("AVAL", "CHG") if visitn > 0 else ("AVAL",):
            for arm in ctx.trial.arm_names:
                ctx.ard.add(stats.describe(_arm_records(records, arm, variable), group=arm), VARIABLE=variable,
                            METHOD="descriptive", **keys, **arm_group(arm))
            for contrast in ctx.trial.contrasts:
                x, y = (_arm_records(records, arm, variable) for arm in contrast.levels)
                group = contrast_group(*contrast.levels)
                ctx.ard.add(stats.ttest(x, y, ttest, groups=contrast.levels), VARIABLE=variable, METHOD=t_method,
                            **keys, **group)
                ctx.ard.add(stats.mann_whitney(x, y, groups=contrast.levels,
                                               location_shift=_median(ctx.trial, paramcd)),
                            VARIABLE=variable, METHOD="Mann-Whitney U", **keys, **group)


def within_arm(ctx: Context, analysis: Analysis) -> None:
    """Per parameter and post-baseline visit, within each arm: paired t-test and Wilcoxon signed-rank of the change,
    the latter with the Hodges-Lehmann pseudo-median and its CI for a parameter the plan summarises by median."""
    for paramcd, visitn, keys, records in _by_visit_records(ctx, analysis):
        if visitn == 0:
            continue
        keys = dict(keys, ANALYSIS="Change from baseline within arm", VARIABLE="CHG")
        for arm in ctx.trial.arm_names:
            change = _arm_records(records, arm, "CHG")
            ctx.ard.add(stats.paired_t(change, group=arm), METHOD="Paired t-test", **keys, **arm_group(arm))
            ctx.ard.add(stats.wilcoxon_signed_rank(change, group=arm, pseudomedian=_median(ctx.trial, paramcd)),
                        METHOD="Wilcoxon signed-rank", **keys, **arm_group(arm))


def _arms_for_model(trial: Trial) -> tuple[str, ...]:
    """The arms in a model's order: the active arms, then the control arm (last)."""
    return tuple(a.name for a in trial.actives) + (trial.control.name,)


def ancova(ctx: Context, analysis: Analysis) -> None:
    """Per parameter and post-baseline visit: ANCOVA of the change with arm and baseline (one model for all arms);
    LS means by arm with CIs, each active arm minus control with CI, t, df, P and the root MSE (option ``ci``)."""
    arms = _arms_for_model(ctx.trial)
    for _, visitn, keys, records in _by_visit_records(ctx, analysis):
        if visitn == 0:
            continue
        fit = stats.ancova_arms(records["CHG"], records["ARM"], records["BASE"], arms, ci=analysis.option("ci", "t"))
        model = dict(keys, ANALYSIS="ANCOVA of change, adjusted for baseline", VARIABLE="CHG",
                     METHOD="ANCOVA (OLS: CHG ~ arm + BASE)")
        for arm in ctx.trial.arm_names:
            ctx.ard.add(fit["lsmeans"][arm], **model, **arm_group(arm))
        for contrast in ctx.trial.contrasts:
            ctx.ard.add(fit["contrasts"][contrast.active.name], **model, **contrast_group(*contrast.levels))


def trend(ctx: Context, analysis: Analysis) -> None:
    """Per parameter and post-baseline visit: linear trend of the ANCOVA LS means across the arms' dose order."""
    arms = _arms_for_model(ctx.trial)
    doses = tuple(next(a.dose for a in ctx.trial.arms if a.name == name) for name in arms)
    for _, visitn, keys, records in _by_visit_records(ctx, analysis):
        if visitn == 0:
            continue
        fit = stats.ancova_arms(records["CHG"], records["ARM"], records["BASE"], arms, doses=doses)
        ctx.ard.add(fit["trend"], ANALYSIS="Trend across doses (ANCOVA of change)", VARIABLE="CHG",
                    METHOD="ANCOVA linear trend contrast (weights: dose - mean dose)", **keys, **{**overall_group(),
                                                                                              "GROUP1": ardlib.ARM})


def responders(ctx: Context, analysis: Analysis) -> None:
    """Responder rates by visit; with ``missing: non-responder`` (the default) every subject of the population is in
    the denominator. Each active arm against control: chi-square, Fisher exact, difference with the plan's CI.

    At a visit where no subject has a value, imputation would report 0 % responders: the rows are NaN instead
    (denominator kept), with a WARNING.
    """
    trial = ctx.trial
    members = ctx.adsl[ctx.adsl[analysis.population] == "Y"]
    size = members.groupby("ARM").size()
    for paramcd in analysis.parameters:
        everything = ctx.parameter(paramcd)
        records = everything[ctx.in_population(everything, analysis.population)]
        for visitn in _visits(everything, ctx.visits_anywhere, trial, analysis.visits):
            if visitn == 0:
                continue
            at_visit = records[records["AVISITN"] == visitn]
            avisit = _visit_label(everything, trial, visitn)
            keys = dict(ANALYSIS_ID=analysis.id, ANALYSIS="Responders (missing = non-responder)",
                        POPULATION=analysis.population, PARAMCD=paramcd, PARAM=_param_label(everything, paramcd),
                        AVISITN=int(visitn), AVISIT=avisit, VARIABLE="AVAL")
            noun = ctx.trial.population(analysis.population).noun
            no_data = ("" if at_visit["AVAL"].notna().any()
                       else f"not estimable: no subject of the {noun} has a value at {avisit}")
            counts = {arm: (int(_arm_records(at_visit, arm, "AVAL").sum()), int(size.get(arm, 0)))
                      for arm in trial.arm_names}
            for arm, (r, n) in counts.items():
                rows = stats.proportion(r, n, group=arm)
                ctx.ard.add(stats.not_estimable(rows, no_data, keep=("N",)) if no_data else rows, METHOD="count",
                            **keys, **arm_group(arm))
            for contrast in trial.contrasts:
                active, control = contrast.levels
                rows = stats.compare_proportions(*counts[active], *counts[control], groups=contrast.levels,
                                                 ci=analysis.option("proportion_ci", "newcombe"))
                ctx.ard.add(stats.not_estimable(rows, no_data) if no_data else rows, METHOD="Pearson chi-square",
                            **keys, **contrast_group(active, control))


INCIDENCE_STATS = ("fisher_p", "estimate", "lcl", "ucl", "ci_method", "or", "or_lcl", "or_ucl")
INCIDENCE_LABELS = {"n": "Subjects with an event", "N": "Subjects in the population", "pct": "% of subjects",
                    "events": "Events"}
AE_GROUPINGS = {"preferred_term": ("AEDECOD", "Treatment-emergent adverse events by preferred term"),
                "system_organ_class": ("AEBODSYS", "Treatment-emergent adverse events by system organ class"),
                "soc_pt": ("AEDECOD", ardlib.AE_SOC_PT)}
ANY_TEAE = "Any treatment-emergent adverse event"


@dataclass
class SafetyGroup:
    """A column of a safety table: an arm (or all arms together), its subjects in the population, its key columns."""

    name: str
    subjects: set
    keys: dict
    is_arm: bool = True

    @functools.cached_property
    def subject_values(self) -> pa.Array:
        """The subjects as one Arrow array, built once for all the group's ``isin`` selections."""
        return pa.array(list(self.subjects), type=pa.large_string(), from_pandas=True)


def _safety_groups(ctx: Context, analysis: Analysis, total: bool) -> list[SafetyGroup]:
    """The plan's arms (and with ``total``, all of them together: the overall group), each with its subjects of the
    analysis population; a subject of an arm the plan does not list is in none."""
    population = ctx.adsl[(ctx.adsl[analysis.population] == "Y") & ctx.adsl["ARM"].isin(ctx.trial.arm_names)]
    groups = [SafetyGroup(arm, set(population.loc[population["ARM"] == arm, "USUBJID"].tolist()), arm_group(arm))
              for arm in ctx.trial.arm_names]
    if total:
        groups.append(SafetyGroup("Total", set(population["USUBJID"].tolist()), overall_group(), is_arm=False))
    return groups


def _teae(ctx: Context, groups: list[SafetyGroup]) -> pd.DataFrame:
    """Treatment-emergent events (TRTEMFL Y) of the groups' subjects."""
    members = set().union(*(g.subjects for g in groups))
    return ctx.adae[(ctx.adae["TRTEMFL"] == "Y") & isin(ctx.adae["USUBJID"], members)]


def _incidence(ctx: Context, analysis: Analysis, groups: list[SafetyGroup], events: pd.DataFrame, keys: dict,
               compare: bool = True, reason: str = "", no_events: str = "") -> None:
    """Subjects with at least one of ``events`` (n), the group's subjects (N), % and the number of events, per group;
    with ``compare``, each active arm against control: Fisher exact P, risk difference with the plan's CI (option
    ``proportion_ci``) and Fisher's conditional odds ratio with its exact CI.

    ``reason`` (the events were not collected): n, %, events and the comparisons NaN with it as WARNING, N kept.
    ``no_events``: the events count alone is NaN with this reason (``events`` names subjects, not events)."""
    counts = {}
    for group in groups:
        mine = events[isin(events["USUBJID"], group.subject_values)]
        counts[group.name] = (int(mine["USUBJID"].nunique()), len(group.subjects))
        rows = stats.proportion(*counts[group.name], group=group.name)
        rows = [dict(r, STAT_LABEL=INCIDENCE_LABELS[r["STAT_NAME"]]) for r in rows]
        rows += stats.stat_rows({"events": INCIDENCE_LABELS["events"]}, {} if no_events else {"events": len(mine)},
                                no_events)
        ctx.ard.add(stats.not_estimable(rows, reason, keep=("N",)) if reason else rows, METHOD="count", **keys,
                    **group.keys)
    if not compare:
        return
    for contrast in ctx.trial.contrasts:
        active, control = contrast.levels
        rows = stats.compare_proportions(*counts[active], *counts[control], groups=contrast.levels,
                                         ci=analysis.option("proportion_ci", "newcombe"))
        rows = [r for r in rows if r["STAT_NAME"] in INCIDENCE_STATS]
        ctx.ard.add(stats.not_estimable(rows, reason) if reason else rows, METHOD="Fisher exact", **keys,
                    **contrast_group(active, control))


def adverse_events(ctx: Context, analysis: Analysis) -> None:
    """Subjects (n, N, %) and events per arm with a treatment-emergent event (option ``by``):

    - ``preferred_term`` (default): any event, any serious event, then each preferred term; ``system_organ_class``:
      each SOC. Each active arm against control: Fisher exact P, risk difference with the plan's CI, Fisher's
      conditional odds ratio with its exact CI (``_incidence``). VARIABLE is USUBJID, PARAMCD the term.
    - ``soc_pt``: per arm and for all arms together (the overall group), no comparisons: any event (PARAMCD ANY,
      VARIABLE USUBJID), each SOC (VARIABLE AEBODSYS, PARAMCD = PARAM = the SOC) and each preferred term within it
      (VARIABLE AEDECOD, PARAMCD = PARAM = the term, GROUP2 AEBODSYS, GROUP2_LEVEL = the SOC); every term in every
      group, 0 where a group has none. Rows in SOC then term order, alphabetical (tables sort by frequency).
    """
    by = analysis.option("by")
    column, title = AE_GROUPINGS[by]
    keys = dict(ANALYSIS_ID=analysis.id, ANALYSIS=title, POPULATION=analysis.population)
    if by == "soc_pt":
        groups = _safety_groups(ctx, analysis, total=True)
        teae = _teae(ctx, groups)
        _incidence(ctx, analysis, groups, teae, dict(keys, PARAMCD="ANY", PARAM=ANY_TEAE, VARIABLE="USUBJID"),
                   compare=False)
        for soc, in_soc in teae.groupby("AEBODSYS", sort=True):
            _incidence(ctx, analysis, groups, in_soc, dict(keys, PARAMCD=soc, PARAM=soc, VARIABLE="AEBODSYS"),
                       compare=False)
            for term, in_term in in_soc.groupby("AEDECOD", sort=True):
                _incidence(ctx, analysis, groups, in_term, dict(keys, PARAMCD=term, PARAM=term, VARIABLE="AEDECOD",
                                                                **ardlib.nested("AEBODSYS", soc)), compare=False)
        return
    groups = _safety_groups(ctx, analysis, total=False)
    teae = _teae(ctx, groups)
    terms = [("ANY", ANY_TEAE, teae),
             ("SER", "Serious adverse event", teae[teae["AESER"] == "Y"])] if by == "preferred_term" else []
    terms += [(term, term, events) for term, events in teae.groupby(column, sort=True)]
    for paramcd, label, events in terms:
        _incidence(ctx, analysis, groups, events, dict(keys, PARAMCD=paramcd, PARAM=label, VARIABLE="USUBJID"))


def _upper(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).str.strip().str.upper()


def _has(frame: pd.DataFrame, variable: str) -> bool:
    """``frame`` has ``variable``, with a value on at least one record if it has records (a delivery that does not
    collect a variable leaves it out, or blank)."""
    return variable in frame and (frame.empty or _upper(frame[variable]).ne("").any())


# Defaults of the ae_overview and ae_by_grade options. AEREL: the 5-point causality scale of Chinese GCP CRFs
# (definitely / probably / possibly related, unlikely related, not related); "possibly" and above count as related.
RELATED = ("POSSIBLY RELATED", "PROBABLY RELATED", "DEFINITELY RELATED", "RELATED")
SEVERE = ("SEVERE",)
WITHDRAWAL_ACTIONS = ("DRUG WITHDRAWN",)  # AEACN, CDISC CT C66767
WITHDRAWAL_REASONS = ("ADVERSE EVENT",)  # DSDECOD / DCSREAS, CDISC CT C66727


def ae_overview(ctx: Context, analysis: Analysis) -> None:
    """The overview of treatment-emergent adverse events, per arm and for all arms together: subjects (n, N, %) and
    events with any TEAE (PARAMCD ANY), one related to treatment (REL: AEREL in option ``related``), severe (SEV:
    AESEV in option ``severe``), serious (SER: AESER Y), leading to withdrawal (WD) and fatal (DTH: AEOUT FATAL or
    AESDTH Y); VARIABLE USUBJID. Each active arm against control as ``adverse_events`` (``_incidence``).

    WD: events with AEACN in option ``withdrawal_actions`` (default DRUG WITHDRAWN) when ADAE has AEACN; else
    subjects whose reason for leaving the study (ADSL DCSREAS) is in ``withdrawal_reasons`` (default ADVERSE EVENT),
    when any subject has a disposition event, and the event count is NaN (the reason names no event). A category
    whose variables the delivery does not have (or leaves blank) is written with VALUE NaN and WARNING "not
    collected: ...", never as 0.
    """
    groups = _safety_groups(ctx, analysis, total=True)
    teae = _teae(ctx, groups)
    adsl = ctx.adsl
    keys = dict(ANALYSIS_ID=analysis.id, ANALYSIS="Overview of treatment-emergent adverse events",
                POPULATION=analysis.population, VARIABLE="USUBJID")

    def among(variable: str, values) -> pd.DataFrame:
        return teae[_upper(teae[variable]).isin([str(v).upper() for v in values])] if variable in teae else teae[:0]

    related, severe = analysis.option("related", RELATED), analysis.option("severe", SEVERE)
    fatal = among("AEOUT", ["FATAL"])
    if "AESDTH" in teae:
        fatal = teae[teae.index.isin(fatal.index) | (_upper(teae["AESDTH"]) == "Y")]
    rows = [("ANY", ANY_TEAE, teae, ""),
            ("REL", "TEAE related to study treatment", among("AEREL", related),
             "" if _has(ctx.adae, "AEREL") else "not collected: ADAE has no causality (AEREL)"),
            ("SEV", "Severe TEAE", among("AESEV", severe),
             "" if _has(ctx.adae, "AESEV") else "not collected: ADAE has no severity (AESEV)"),
            ("SER", "Serious TEAE", teae[_upper(teae["AESER"]) == "Y"] if "AESER" in teae else teae[:0],
             "" if _has(ctx.adae, "AESER") else "not collected: ADAE has no seriousness (AESER)"),
            ("DTH", "TEAE leading to death", fatal,
             "" if _has(ctx.adae, "AEOUT") or _has(ctx.adae, "AESDTH")
             else "not collected: ADAE has neither an outcome (AEOUT) nor a death flag (AESDTH)")]
    no_events = ""
    if _has(ctx.adae, "AEACN"):
        withdrawal = ("TEAE leading to discontinuation of study treatment",
                      among("AEACN", analysis.option("withdrawal_actions", WITHDRAWAL_ACTIONS)), "")
    elif "EOSSTT" in adsl and _upper(adsl["EOSSTT"]).isin(["COMPLETED", "DISCONTINUED"]).any():
        reasons = [str(r).upper() for r in analysis.option("withdrawal_reasons", WITHDRAWAL_REASONS)]
        left = adsl[_upper(adsl["DCSREAS"]).isin(reasons)] if "DCSREAS" in adsl else adsl[:0]
        withdrawal = ("Discontinued the study because of an adverse event", left[["USUBJID"]], "")
        no_events = ("not estimable: withdrawal is taken from the reason for leaving the study (ADSL DCSREAS), "
                     "which names no event")
    else:
        withdrawal = ("TEAE leading to withdrawal", teae[:0],
                      "not collected: ADAE has no action taken (AEACN) and no subject has a disposition event")
    rows.insert(4, ("WD", *withdrawal))
    for paramcd, label, events, reason in rows:
        _incidence(ctx, analysis, groups, events, dict(keys, PARAMCD=paramcd, PARAM=label), reason=reason,
                   no_events=no_events if paramcd == "WD" else "")


GRADE_VARIABLES = {"AESEV": "severity", "AEREL": "relationship to study treatment"}


def _level_rank(events: pd.DataFrame, variable: str, levels: list[str]) -> pd.Series:
    """Each event's position in ``levels`` (0 = the lowest); a blank value ranks above them all (MISSING_LEVEL:
    unknown, so it is never counted as a lower level). A value not in ``levels`` stops with the values to add."""
    values = _upper(events[variable])
    unknown = sorted(set(values[values != ""]) - set(levels))
    if unknown:
        raise ValueError(f"ADAE.{variable} has {', '.join(map(repr, unknown))}, not among the levels "
                         f"{', '.join(levels)}: list every level, lowest first, under the trial's "
                         f"adverse_events.levels.{variable} (cleaning then queries any other value)")
    return values.map({level: i for i, level in enumerate(levels)}).fillna(len(levels)).astype(int)


def ae_by_grade(ctx: Context, analysis: Analysis) -> None:
    """Subjects counted once at the maximum level of ``variable`` (option: AESEV, the default, or AEREL) of their
    treatment-emergent events: for any event and per preferred term, per arm and for all arms together: n, N, %.

    Levels lowest first: option ``levels: {<variable>: [...]}``, else the trial's ``adverse_events.levels``, else
    ``plan.AE_LEVELS`` (AESEV MILD < MODERATE <
    SEVERE; AEREL not < unlikely < possibly < probably < definitely related); a subject with a blank value on any of
    the events counted is counted under MISSING (written when one is). Every level is written for every term and
    group, 0 where none. VARIABLE = the variable, PARAMCD = the level; the term's rows have GROUP2 AEDECOD and
    GROUP2_LEVEL the term, the any-event rows leave both empty.
    """
    variable = analysis.option("variable")
    levels = [str(v).upper() for v in analysis.option("levels", {}).get(variable, ae_levels(ctx.trial.raw, variable))]
    groups = _safety_groups(ctx, analysis, total=True)
    teae = _teae(ctx, groups)
    if variable not in teae:
        teae = teae.assign(**{variable: ""})
    teae = teae.assign(_RANK=_level_rank(teae, variable, levels))
    shown = levels + ([MISSING_LEVEL] if (teae["_RANK"] == len(levels)).any() else [])
    keys = dict(ANALYSIS_ID=analysis.id, ANALYSIS=ardlib.AE_MAXIMUM[variable], POPULATION=analysis.population,
                VARIABLE=variable, METHOD="count")
    label = f"Maximum {GRADE_VARIABLES[variable]}"
    terms = [("", teae)] + list(teae.groupby("AEDECOD", sort=True))
    for term, events in terms:
        worst = events.groupby("USUBJID")["_RANK"].max()
        for group in groups:
            mine = worst[isin(worst.index.to_series(), group.subject_values).to_numpy()]
            for rank, level in enumerate(shown):
                count, total = int((mine == rank).sum()), len(group.subjects)
                values = {"n": count, "N": total} | ({"pct": 100 * count / total} if total else {})
                ctx.ard.add(stats.stat_rows(LEVEL_LABELS, values, stats.too_few({group.name: total}, 1,
                                                                                   stats.SUBJECTS)),
                            PARAMCD=level, PARAM=label, **keys, **group.keys,
                            **(ardlib.nested("AEDECOD", term) if term else {}))


def ae_window(ctx: Context, analysis: Analysis) -> None:
    """Treatment-emergent events with onset within the trial's exposure window after a dose (ADAE's
    ``exposure.ae_window`` flag, e.g. INF24FL), by the number of the dose they followed (ADAE LDOSENUM), per arm and
    for all arms together: subjects (n), subjects given that dose (N, ADSL NUMDOSE at least the number), % and
    events. PARAMCD ANY (VARIABLE USUBJID; N: the arm's subjects) for an event after any dose, then each dose number
    1 to the planned doses (``exposure.planned_doses``) or the highest given (VARIABLE LDOSENUM, PARAMCD the number
    as text), and within each number every preferred term with a window event after any dose (VARIABLE AEDECOD,
    PARAMCD the term, GROUP2 LDOSENUM, GROUP2_LEVEL the number); 0 where none.
    """
    exposure = ctx.trial.exposure
    groups = _safety_groups(ctx, analysis, total=True)
    teae = _teae(ctx, groups)
    flag = exposure.window_flag
    window = teae[(teae[flag] == "Y") & teae["LDOSENUM"].notna()] if flag in teae else teae[:0]
    noun = exposure.noun
    keys = dict(ANALYSIS_ID=analysis.id, ANALYSIS=ardlib.AE_WINDOW, POPULATION=analysis.population)
    within = f"within {exposure.window_hours:g} h after"
    _incidence(ctx, analysis, groups, window, dict(keys, PARAMCD="ANY", PARAM=f"Any TEAE {within} any {noun}",
                                                   VARIABLE="USUBJID"), compare=False)
    given = pd.to_numeric(ctx.adsl.set_index("USUBJID")["NUMDOSE"], errors="coerce").fillna(0)
    highest = int(max(exposure.planned_doses or 0, given.max() if len(given) else 0, window["LDOSENUM"].max()
                      if len(window) else 0))
    terms = sorted(window["AEDECOD"].unique())
    for number in range(1, highest + 1):
        given_at_least = set(given.index[given >= number].tolist())
        dosed = [SafetyGroup(g.name, g.subjects & given_at_least, g.keys, g.is_arm) for g in groups]
        after = window[window["LDOSENUM"] == number]
        level = f"{number}"
        _incidence(ctx, analysis, dosed, after, dict(keys, PARAMCD=level, VARIABLE="LDOSENUM",
                                                     PARAM=f"TEAE {within} {noun} {number}"), compare=False)
        for term in terms:
            _incidence(ctx, analysis, dosed, after[after["AEDECOD"] == term],
                       dict(keys, PARAMCD=term, PARAM=term, VARIABLE="AEDECOD",
                            **ardlib.nested("LDOSENUM", level)), compare=False)


def exposure(ctx: Context, analysis: Analysis) -> None:
    """Exposure per arm and for all arms together (ADSL): N (PARAMCD the population flag, VARIABLE USUBJID); subjects
    by number of doses received (VARIABLE NUMDOSE, PARAMCD 0 to the planned doses, ``exposure.planned_doses``, or the
    most any subject received: n, N, %); cumulative dose (CUMDOSE, PARAM with its unit CUMDOSU) and treatment
    duration in days (TRTDURD) by ``stats.describe``. Units that differ between subjects: the CUMDOSE rows NaN with a
    WARNING."""
    trial = ctx.trial
    groups = _safety_groups(ctx, analysis, total=True)
    adsl = ctx.adsl.set_index("USUBJID")
    keys = dict(ANALYSIS_ID=analysis.id, ANALYSIS=ardlib.EXPOSURE, POPULATION=analysis.population)
    population = trial.population(analysis.population).label
    for group in groups:
        ctx.ard.add([{"STAT_NAME": "N", "STAT_LABEL": LEVEL_LABELS["N"], "VALUE": float(len(group.subjects))}],
                    PARAMCD=analysis.population, PARAM=population, VARIABLE="USUBJID", METHOD="count", **keys,
                    **group.keys)
    members = sorted(set().union(*(g.subjects for g in groups)))
    doses = pd.to_numeric(adsl["NUMDOSE"], errors="coerce").reindex(members)
    highest = int(max(trial.exposure.planned_doses or 0, doses.max() if doses.notna().any() else 0))
    noun = trial.exposure.plural
    for group in groups:
        mine = doses.reindex(sorted(group.subjects))
        for number in range(highest + 1):
            count, total = int((mine == number).sum()), len(mine)
            values = {"n": count, "N": total} | ({"pct": 100 * count / total} if total else {})
            ctx.ard.add(stats.stat_rows(LEVEL_LABELS, values, stats.too_few({group.name: total}, 1, stats.SUBJECTS)),
                        PARAMCD=f"{number}", PARAM=f"Number of {noun} received", VARIABLE="NUMDOSE",
                        METHOD="count", **keys, **group.keys)
    units = sorted(set(adsl["CUMDOSU"].reindex(members).fillna("")) - {""}) if "CUMDOSU" in adsl else []
    unit_problem = (f"not estimable: cumulative doses are in different units ({', '.join(units)})" if len(units) > 1
                    else "")
    continuous = [("CUMDOSE", f"Cumulative dose ({units[0]})" if len(units) == 1 else "Cumulative dose", unit_problem),
                  ("TRTDURD", "Treatment duration (days)", "")]
    for variable, label, problem in continuous:
        values = pd.to_numeric(adsl[variable], errors="coerce") if variable in adsl else pd.Series(dtype=float)
        for group in groups:
            rows = stats.describe(values.reindex(sorted(group.subjects)), group=group.name)
            ctx.ard.add(stats.not_estimable(rows, problem) if problem else rows, PARAMCD=variable, PARAM=label,
                        VARIABLE=variable, METHOD="descriptive", **keys, **group.keys)


MMRM_SUBJECTS = ("subject with a change from baseline", "subjects with a change from baseline")
# Plan options (covariance, ddfm) -> the number written to the ARD's option row and the SAS PROC MIXED spelling in
# METHOD.
MMRM_TYPES = {"unstructured": (1, "UN"), "compound-symmetry": (2, "CS")}
MMRM_DDFMS = {"satterthwaite": (1, "DDFM=SATTERTHWAITE", "Satterthwaite"),
              "kenward-roger": (2, "DDFM=KR", "Kenward-Roger"),
              "between-within": (3, "DDF=subjects-3", "between-within: subjects - 3")}
MMRM_OPTION_LABELS = {
    "type": "Covariance structure TYPE= (1 = UN unstructured, 2 = CS compound symmetry)",
    "ddfm": ("Degrees of freedom DDFM= (1 = SATTERTHWAITE, 2 = KR: Kenward-Roger 1997, "
             "3 = between-within: subjects - 3)")}


def mmrm_method(covariance: str, ddfm: str) -> str:
    return f"MMRM (REML; TYPE={MMRM_TYPES[covariance][1]}; {MMRM_DDFMS[ddfm][1]})"


def _mmrm_labels(ddfm: str, alpha: float = 0.05) -> tuple[dict, dict]:
    """Per-arm LS-mean and contrast labels: the df row and each CI name the df method, the SE row if KR-adjusted."""
    name, level = MMRM_DDFMS[ddfm][2], f"{100 * (1 - alpha):g}%"
    se = "SE (Kenward-Roger adjusted)" if ddfm == "kenward-roger" else "SE (model-based)"
    ci = {"lcl": f"{level} CI lower (t, {name} df)", "ucl": f"{level} CI upper (t, {name} df)"}
    df = {"df": f"Degrees of freedom ({name})"}
    lsmean = {"lsmean": "LS mean (at the mean baseline of the analysed records)", "se": se} | ci | df
    contrast = {"estimate": "LS mean difference", "se": se} | ci | {"statistic": "t"} | df | {
        "p": "P-value (t)", "n_subjects": "Subjects"}
    return lsmean, contrast


def _mmrm_model_labels(visits: list[tuple[int, str]]) -> dict:
    """The model's rows (no visit): options, counts, the covariance matrix, fit criteria, convergence."""
    from ucmsc.mmrm import SCORE_TOLERANCE

    covariances = {f"cov_{a}_{b}": f"Covariance, {label_a} x {label_b}" for i, (a, label_a) in enumerate(visits)
                   for b, label_b in visits[i:]}
    return MMRM_OPTION_LABELS | {"n_subjects": "Subjects", "n_obs": "Observations used"} | covariances | {
        "n_cov_params": "Covariance parameters", "m2rll": "-2 Res Log Likelihood",
        "aic": "AIC (-2 Res Log Likelihood + 2 x covariance parameters)",
        "converged": (f"REML converged: max relative score below {SCORE_TOLERANCE:g}, Hessian positive definite "
                      "(1 = yes)"),
        "max_score": "Max relative REML score: max |d(-2RLL)/d theta_j| x scale of theta_j / observations",
        "iterations": "Quasi-Newton (L-BFGS) iterations", "newton_iterations": "Newton iterations"}


def _mmrm_too_few(data: pd.DataFrame, arms: tuple[str, str], trial: Trial) -> str:
    """Why the MMRM cannot be fitted to ``data`` (an arm without subjects overall or at a visit; under 4), or ''."""
    def subjects(frame):
        return {arm: int(frame.loc[frame["ARM"] == arm, "USUBJID"].nunique()) for arm in arms}

    reason = stats.too_few(subjects(data), 1, MMRM_SUBJECTS)
    n = data["USUBJID"].nunique()
    if not reason and n < 4:  # 3 between-subject parameters (intercept, arm, baseline) and 1 degree of freedom
        reason = f"not estimable: {n} subjects with a change from baseline in both arms together (4 needed)"
    for visitn, at in data.groupby("AVISITN"):
        short = stats.too_few(subjects(at), 1, MMRM_SUBJECTS)  # an arm without data at a visit: its arm effect is not
        if not reason and short:  # identifiable and the whole model is singular
            short = short.removeprefix("not estimable: ")
            reason = f"not estimable: at {_visit_label(data, trial, int(visitn))}, {short}"
    return reason


def mmrm(ctx: Context, analysis: Analysis) -> None:
    """Change from baseline over all post-baseline visits (``ucmsc.mmrm``), with the plan's covariance structure and
    df method (options ``covariance``, ``ddfm``): per visit, each arm's LS mean with its CI and df, and the treatment
    difference; per model, rows without a visit under the comparison's group: the options, subjects and observations,
    the estimated covariance matrix, -2 Res Log Likelihood, AIC and the REML convergence criteria.

    Each comparison of an active arm with the control arm is its own model on those two arms; with more than two arms
    the control arm's LS means are written once, from the first comparison's model.

    Not estimable (see ``_mmrm_too_few``, a singular design, no REML convergence): the rows of every visit and the
    model's estimates with VALUE NaN and a WARNING (options, counts and convergence criteria keep their values); a
    visit without data: its rows likewise; a numerical failure of the fit: ERROR.
    """
    from ucmsc.mmrm import MmrmNotEstimable, fit_mmrm

    trial = ctx.trial
    covariance, ddfm = analysis.option("covariance", "unstructured"), analysis.option("ddfm", "satterthwaite")
    lsmean_labels, contrast_labels = _mmrm_labels(ddfm)
    for contrast in trial.contrasts:
        active, control = contrast.levels
        group = contrast_group(active, control)
        for paramcd in analysis.parameters:
            everything = ctx.parameter(paramcd)
            data = everything[ctx.in_population(everything, analysis.population) & (everything["AVISITN"] > 0)]
            data = data[data["ARM"].isin([active, control])].dropna(subset=["CHG", "BASE"])
            reason, error, fit = _mmrm_too_few(data, (active, control), trial), "", None
            if not reason:
                try:
                    fit = fit_mmrm(data.assign(ACTIVE=(data["ARM"] == active).astype(float)), covariance=covariance,
                                   ddfm=ddfm)
                except MmrmNotEstimable as why:
                    reason = f"not estimable: {why}"
                except Exception as failure:  # a numerical failure of this one model; the other analyses still run
                    error = stats.error_text(failure)
                else:
                    if not fit.converged:
                        reason = f"not estimable: REML did not converge ({fit.message})"
            fitted = {int(v): k for k, v in enumerate(fit.visits)} if fit and not reason else {}
            planned = [v for v in _visits(everything, ctx.visits_anywhere, trial, analysis.visits) if v > 0]
            common = dict(ANALYSIS_ID=analysis.id, ANALYSIS="Mixed model for repeated measures of change",
                          POPULATION=analysis.population, PARAMCD=paramcd, PARAM=_param_label(everything, paramcd),
                          VARIABLE="CHG", METHOD=mmrm_method(covariance, ddfm))
            subjects = {"n_subjects": data["USUBJID"].nunique()}
            arm_rows = ((active, True), (control, False)) if contrast == trial.contrasts[0] else ((active, True),)
            for visitn in planned:
                avisit = _visit_label(everything, trial, visitn)
                keys = dict(common, AVISITN=int(visitn), AVISIT=avisit)
                if visitn in fitted:
                    k = fitted[visitn]
                    for arm, is_active in arm_rows:
                        ctx.ard.add(stats.stat_rows(lsmean_labels, fit.lsmean(k, is_active)), **keys, **arm_group(arm))
                    ctx.ard.add(stats.stat_rows(contrast_labels, fit.contrast(k) | subjects), **keys, **group)
                    continue
                warning = "" if error else (
                    reason or f"not estimable: no subject has a change from baseline at {avisit}")
                for arm, _ in arm_rows:
                    ctx.ard.add(stats.stat_rows(lsmean_labels, {}, warning, error), **keys, **arm_group(arm))
                ctx.ard.add(stats.stat_rows(contrast_labels, subjects, warning, error), **keys, **group)
            visits = [(int(v), _visit_label(everything, trial, v)) for v in planned]
            model = subjects | {"type": MMRM_TYPES[covariance][0], "ddfm": MMRM_DDFMS[ddfm][0], "n_obs": len(data)}
            if fit:
                model |= {"converged": float(fit.converged), "max_score": fit.max_score, "iterations": fit.iterations,
                          "newton_iterations": fit.newton_iterations, "n_cov_params": fit.n_cov_params}
            if fitted:
                model |= {"m2rll": fit.minus_two_rll, "aic": fit.aic}
                model |= {f"cov_{a}_{b}": fit.sigma[fitted[a], fitted[b]] for i, (a, _) in enumerate(visits)
                          for b, _ in visits[i:] if a in fitted and b in fitted}
            absent = next((f"not estimable: no subject has a change from baseline at {label}" for v, label in visits
                           if v not in fitted), "")
            warning = "" if error else (reason or absent)
            ctx.ard.add(stats.stat_rows(_mmrm_model_labels(visits), model, warning, error),
                        AVISIT="", **common, **group)


GEE_METHOD = "GEE logistic (visit + arm; exchangeable, moment estimators as geepack (divisors N and pairs); robust SE)"


def gee(ctx: Context, analysis: Analysis) -> None:
    """Repeated yes/no endpoint over all post-baseline visits: GEE logistic of each active arm against control (fitted
    on the two arms), observed data only."""
    for contrast in ctx.trial.contrasts:
        active, control = contrast.levels
        for paramcd in analysis.parameters:
            everything = ctx.parameter(paramcd)
            data = everything[ctx.in_population(everything, analysis.population) & (everything["AVISITN"] > 0)
                              & everything["ARM"].isin([active, control])]
            rows = stats.gee_logistic(data.assign(ACTIVE=(data["ARM"] == active).astype(float)), groups=contrast.levels)
            ctx.ard.add(rows, ANALYSIS_ID=analysis.id, ANALYSIS="Repeated responder endpoint, GEE logistic",
                        POPULATION=analysis.population, PARAMCD=paramcd,
                        PARAM=_param_label(everything, paramcd), VARIABLE="AVAL", METHOD=GEE_METHOD,
                        **contrast_group(active, control))


WORST_ORDER = ("HIGH", "LOW", "NORMAL")  # worst post-baseline: any HIGH, else any LOW, else NORMAL
RANGE_LEVELS = ("LOW", "NORMAL", "HIGH")
SHIFT_LEVELS = RANGE_LEVELS + (MISSING_LEVEL,)


def shift(ctx: Context, analysis: Analysis) -> None:
    """Subjects by baseline range indicator and worst post-baseline indicator, per parameter and arm.

    Per arm: N, the arm's subjects in the population; n, those with both a baseline and a post-baseline indicator;
    one count per cell "<baseline>><worst>" of LOW, NORMAL, HIGH and MISSING (no baseline indicator; no post-baseline
    one), so the 16 cells add up to N and the 9 cells without MISSING to n; each cell also as % of N ("<cell>_pct")."""
    population = ctx.adsl[ctx.adsl[analysis.population] == "Y"]
    for paramcd in analysis.parameters:
        everything = ctx.parameter(paramcd)
        records = everything[ctx.in_population(everything, analysis.population) & everything["ANRIND"].notna()
                             & (everything["ANRIND"] != "")]
        # as plain values: a BDS held as categories (derive's frames in memory) cannot take the MISSING level below
        records = records.astype({"USUBJID": object, "ANRIND": object})
        base = records[records["ABLFL"] == "Y"].drop_duplicates("USUBJID").set_index("USUBJID")["ANRIND"]
        post = records[records["AVISITN"] > 0].groupby("USUBJID", observed=True)["ANRIND"].agg(
            lambda s: next(level for level in WORST_ORDER if level in set(s) or level == "NORMAL"))
        for arm in ctx.trial.arm_names:
            subjects = pd.Index(population.loc[population["ARM"] == arm, "USUBJID"].unique())
            mine = pd.DataFrame({"BASE": base.reindex(subjects).fillna(MISSING_LEVEL),
                                 "WORST": post.reindex(subjects).fillna(MISSING_LEVEL)})
            both = int(((mine["BASE"] != MISSING_LEVEL) & (mine["WORST"] != MISSING_LEVEL)).sum())
            counts = {(b, w): float(((mine["BASE"] == b) & (mine["WORST"] == w)).sum())
                      for b in SHIFT_LEVELS for w in SHIFT_LEVELS}
            rows = [{"STAT_NAME": f"{b}>{w}", "STAT_LABEL": f"Baseline {b}, worst post-baseline {w}", "VALUE": count}
                    for (b, w), count in counts.items()]
            # % of N, the arm's subjects in the population, so the 16 cells add up to 100%
            rows += [{"STAT_NAME": f"{b}>{w}_pct", "STAT_LABEL": f"Baseline {b}, worst post-baseline {w}, % of N",
                      "VALUE": 100 * count / len(subjects) if len(subjects) else np.nan,
                      "WARNING": "" if len(subjects) else f"not estimable: {arm} has no subject in the population"}
                     for (b, w), count in counts.items()]
            empty = "" if both else f"no data: {arm} has 0 subjects with a baseline and a post-baseline range"
            rows += [{"STAT_NAME": "n", "STAT_LABEL": "Subjects", "VALUE": float(both), "WARNING": empty},
                     {"STAT_NAME": "N", "STAT_LABEL": LEVEL_LABELS["N"], "VALUE": float(len(subjects))}]
            ctx.ard.add(rows, ANALYSIS_ID=analysis.id,
                        ANALYSIS="Shift from baseline to worst post-baseline range indicator",
                        POPULATION=analysis.population, PARAMCD=paramcd, PARAM=_param_label(records, paramcd),
                        VARIABLE="ANRIND", METHOD="count", **arm_group(arm))


def grade_shift(ctx: Context, analysis: Analysis) -> None:
    """Subjects by baseline grade and grade at each planned visit, per arm (e.g. ultrasound steatosis)."""
    for paramcd in analysis.parameters:
        everything = ctx.parameter(paramcd)
        records = everything[ctx.in_population(everything, analysis.population)]
        grades = sorted(records["AVAL"].dropna().unique())
        for visitn in analysis.visits:
            at = records[(records["AVISITN"] == visitn) & records["BASE"].notna()]
            avisit = at["AVISIT"].iloc[0] if len(at) else _visit_label(records, ctx.trial, visitn)
            for arm in ctx.trial.arm_names:
                mine = at[at["ARM"] == arm]
                rows = [{"STAT_NAME": f"{b:g}>{g:g}", "STAT_LABEL": f"Baseline {b:g}, week {visitn} {g:g}",
                         "VALUE": float(((mine["BASE"] == b) & (mine["AVAL"] == g)).sum())}
                        for b in grades for g in grades]
                empty = f"no data: {arm} has 0 subjects with a grade at baseline and at {avisit}" if mine.empty else ""
                n_row = {"STAT_NAME": "n", "STAT_LABEL": "Subjects", "VALUE": float(len(mine)), "WARNING": empty}
                ctx.ard.add(rows + [n_row], ANALYSIS_ID=analysis.id, ANALYSIS="Shift in grade from baseline",
                            POPULATION=analysis.population, PARAMCD=paramcd, PARAM=_param_label(records, paramcd),
                            AVISITN=int(visitn), AVISIT=avisit, VARIABLE="AVAL", METHOD="count", **arm_group(arm))


def reference_ranges(ctx: Context, analysis: Analysis) -> None:
    """The reference range of each parameter that has one, so figures can draw it from the ARD."""
    ranges = ctx.bds.dropna(subset=["A1LO", "A1HI"]).drop_duplicates("PARAMCD")
    for row in ranges.itertuples(index=False):
        ctx.ard.add([{"STAT_NAME": "low", "STAT_LABEL": "Reference range lower limit", "VALUE": float(row.A1LO)},
                     {"STAT_NAME": "high", "STAT_LABEL": "Reference range upper limit", "VALUE": float(row.A1HI)}],
                    ANALYSIS_ID=analysis.id, ANALYSIS="Reference ranges", POPULATION="", PARAMCD=row.PARAMCD,
                    PARAM=row.PARAM, VARIABLE="AVAL", METHOD="config", **overall_group())


# ADaM imputation flags of ADAE (ADaM IG: --DTF Y year, M month, D day imputed; --TMF H, M, S for times).
IMPUTATION_FLAGS = {"ASTDTF": "AE start date", "AENDTF": "AE end date"}
IMPUTED_LEVELS = {"Y": "year, month and day imputed", "M": "month and day imputed", "D": "day imputed"}


def date_imputations(ctx: Context, analysis: Analysis) -> None:
    """Events per arm whose analysis date was imputed from a partial date, by the highest component imputed (n_D,
    n_M, n_Y), of all events of the population (N); in all arms together too."""
    adae = ctx.adae[ctx.adae["USUBJID"].isin(ctx.members(analysis.population))] if analysis.population else ctx.adae
    adae = adae[adae["ARM"].isin(ctx.trial.arm_names)]
    groups = [(arm_group(arm), adae[adae["ARM"] == arm]) for arm in ctx.trial.arm_names] + [(overall_group(), adae)]
    for flag, label in IMPUTATION_FLAGS.items():
        values = adae[flag].fillna("") if flag in adae else pd.Series("", index=adae.index)
        for group, events in groups:
            flags = values.reindex(events.index)
            imputed = float((flags != "").sum())
            rows = [{"STAT_NAME": "N", "STAT_LABEL": "Events", "VALUE": float(len(events))},
                    {"STAT_NAME": "n", "STAT_LABEL": "Events with an imputed date", "VALUE": imputed}]
            rows += [{"STAT_NAME": f"n_{level}", "STAT_LABEL": f"Events with the {text}",
                      "VALUE": float((flags == level).sum())} for level, text in IMPUTED_LEVELS.items()]
            ctx.ard.add(rows, ANALYSIS_ID=analysis.id, ANALYSIS="Imputed dates", POPULATION=analysis.population,
                        PARAMCD=flag, PARAM=f"{label} imputed", VARIABLE=flag, METHOD="count", **group)


METHODS: dict[str, Callable[[Context, Analysis], None]] = {
    "populations": populations, "baseline": baseline, "demographics": demographics, "by_visit": by_visit,
    "within_arm": within_arm, "ancova": ancova, "trend": trend, "mmrm": mmrm, "responders": responders, "gee": gee,
    "adverse_events": adverse_events, "ae_overview": ae_overview, "ae_by_grade": ae_by_grade, "ae_window": ae_window,
    "exposure": exposure, "shift": shift, "grade_shift": grade_shift, "reference_ranges": reference_ranges,
    "date_imputations": date_imputations,
}


def add_multiplicity(ard: pd.DataFrame, trial: Trial) -> pd.DataFrame:
    """Holm and Benjamini-Hochberg adjusted P-values across each family, as rows beside the raw ones."""
    new = []
    for family in trial.families:
        mask = ((ard["ANALYSIS_ID"] == family.analysis) & ard["PARAMCD"].isin(family.parameters)
                & (ard["STAT_NAME"] == "p") & (ard["COMPARATOR"] != "") & ard["VALUE"].notna())
        rows = ard[mask]
        if rows.empty:
            continue
        holm, bh = stats.adjust_pvalues(rows["VALUE"])
        for name, label, values in (("p_holm", "Holm-adjusted P", holm), ("p_bh", "Benjamini-Hochberg adjusted P", bh)):
            adjusted = rows.copy()
            adjusted["STAT_NAME"], adjusted["VALUE"] = name, values
            adjusted["STAT_LABEL"] = f"{label} (family {family.name}, {len(rows)} tests)"
            new.append(adjusted)
    return pd.concat([ard, *new], ignore_index=True) if new else ard


# The BDS variables the methods read; the others (dates, sources, units, ...) are not loaded. The methods select
# small groups thousands of times: text with few distinct values is held as categories (integer codes), whose rows
# are taken and compared without copying text.
BDS_COLUMNS = ["USUBJID", "ARM", "PARAMCD", "PARAM", "AVISITN", "AVISIT", "AVAL", "BASE", "CHG", "ABLFL", "ANL01FL",
               "ANRIND", "A1LO", "A1HI"]
BDS_CODES = ["USUBJID", "ARM", "PARAMCD", "PARAM", "AVISIT", "ABLFL", "ANL01FL"]


def run_analyses(adsl: pd.DataFrame, bds: pd.DataFrame, adae: pd.DataFrame, config: dict | Trial, trial_id: str,
                 cut: str, inputs: str) -> pd.DataFrame:
    """Every analysis of the plan, in the plan's order, into one ARD."""
    trial = config if isinstance(config, Trial) else load_trial(config)
    ctx = Context(trial, adsl, bds, adae, ardlib.Builder(trial_id, cut, inputs))
    for analysis in trial.analyses:
        METHODS[analysis.method](ctx, analysis)
    return add_multiplicity(ctx.ard.frame(), trial)


def run_analyze(adsl_path: str, bds_folder: str, adae_path: str, config: dict, trial: str, cut: str, ard_path: str,
                log, cards_path: str | None = None) -> None:
    """Stage runner: one cut's analysis plan into its ARD, stamped with the SHA-256 of the datasets it read, and the
    same ARD in the layout of the pharmaverse cards package (``cards_path``) for R users. The BDS datasets
    (ADLB, ADVS, ...) are the Parquet files of ``bds_folder``."""
    from pathlib import Path

    from ucmsc.adamspec import combine_bds
    from ucmsc.derive import BDS_ORDER
    from ucmsc.io import read_held, read_table, sha256_file, write_table

    bds_paths = sorted(Path(bds_folder).glob("*.parquet"))
    read = [("adsl", adsl_path), *((p.stem, p) for p in bds_paths), ("adae", adae_path)]
    inputs = ";".join(f"{name}:{sha256_file(path)}" for name, path in read)
    bds = combine_bds({p.stem.upper(): read_held(p, BDS_COLUMNS, BDS_CODES) for p in bds_paths}) if bds_paths \
        else pd.DataFrame()
    if bds.empty and not len(bds.columns):
        bds = pd.DataFrame(columns=BDS_ORDER)
    ard = run_analyses(read_table(adsl_path), bds, read_table(adae_path), config, trial, cut, inputs)
    write_table(ard, ard_path)
    if cards_path:
        write_table(ardlib.to_cards(ard), cards_path)
    log.info("ARD: %d rows, %d analyses; %d rows not estimable (WARNING), %d failed (ERROR)", len(ard),
             ard["ANALYSIS_ID"].nunique(), (ard["WARNING"] != "").sum(), (ard["ERROR"] != "").sum())
    failed = ard[ard["ERROR"] != ""].drop_duplicates(["ANALYSIS_ID", "PARAMCD", "AVISITN", "GROUP1_LEVEL", "COMPARATOR",
                                                      "METHOD"])
    for row in failed.itertuples():
        log.warning("%s %s %s %s %s: %s", row.ANALYSIS_ID, row.PARAMCD, row.AVISIT, ardlib.group_label(row._asdict()),
                    row.METHOD, row.ERROR)
