"""Run a trial's analysis plan over its ADaM datasets into one analysis-results dataset (ARD).

One row per analysis x parameter x visit x group x statistic, full precision. Rounding
happens only where a value is displayed (``ucmsc.rounding``). A statistic that cannot be
computed is still a row: VALUE NaN, with the reason in WARNING (or the exception in ERROR).
"""

from __future__ import annotations

import pandas as pd

from ucmsc import stats

ARD_COLUMNS = ["TRIAL", "CUT", "ANALYSIS_ID", "ANALYSIS", "POPULATION", "PARAMCD", "PARAM", "AVISITN", "AVISIT",
               "GROUP", "VARIABLE", "METHOD", "STAT_NAME", "STAT_LABEL", "VALUE", "INPUTS", "WARNING", "ERROR"]


class ArdBuilder:
    def __init__(self, trial: str, cut: str, inputs: str):
        self.common = {"TRIAL": trial, "CUT": cut, "INPUTS": inputs}
        self.rows: list[dict] = []

    def add(self, stat_rows: list[dict], **keys) -> None:
        for row in stat_rows:
            self.rows.append({**self.common, **keys, **row})

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows).reindex(columns=ARD_COLUMNS)
        for column in ("PARAMCD", "PARAM", "AVISIT", "VARIABLE", "WARNING", "ERROR"):
            frame[column] = frame[column].fillna("")
        return frame


def _arms(config: dict) -> tuple[str, str]:
    active = next(a["arm"] for a in config["arms"] if a["active"])
    control = next(a["arm"] for a in config["arms"] if not a["active"])
    return active, control


def _treated_as(records: pd.DataFrame, arms: tuple[str, str]) -> pd.Series:
    """1 for the active arm, 0 for the control arm, NaN for any other: a model never compares "active vs the rest"."""
    return records["ARM"].map({arms[0]: 1.0, arms[1]: 0.0}).astype(float)


def _visits(records: pd.DataFrame, bds: pd.DataFrame, config: dict) -> list[int]:
    """The visits to analyse for one parameter: those it has records at, plus scheduled visits without a record of any
    parameter (a visit without data is reported as not estimable, not dropped). A parameter without any record: every
    scheduled visit. A visit some parameters skip by design (e.g. no clamp at week 20) is not added."""
    scheduled = [int(v["visitnum"]) for v in config.get("visits", [])]
    present = {int(v) for v in records["AVISITN"].dropna().unique()}
    if not present:
        return scheduled
    anywhere = {int(v) for v in bds["AVISITN"].dropna().unique()}
    return sorted(present | {v for v in scheduled if v not in anywhere})


def _visit_label(records: pd.DataFrame, config: dict, visitn: int) -> str:
    at = records.loc[records["AVISITN"] == visitn, "AVISIT"]
    if len(at):
        return at.iloc[0]
    return next((v["avisit"] for v in config.get("visits", []) if int(v["visitnum"]) == visitn), f"Week {visitn}")


def _param_label(records: pd.DataFrame, paramcd: str) -> str:
    return records["PARAM"].iloc[0] if len(records) else paramcd


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
    # Subjects of the delivery in no analysis population (an arm the plan does not compare), by arm and reason.
    excluded = adsl[adsl.get("EXCLREAS", pd.Series("", index=adsl.index)).fillna("") != ""]
    for (arm, reason), subjects in excluded.groupby([excluded["ARM"].fillna(""), "EXCLREAS"], sort=True):
        ard.add([{"STAT_NAME": "n", "STAT_LABEL": "Subjects", "VALUE": float(len(subjects))}], ANALYSIS_ID="EXCL",
                ANALYSIS="Subjects excluded from every analysis population", POPULATION="", PARAMCD="EXCLUDED",
                PARAM=reason, GROUP=arm or "(no arm)", METHOD="count")


def baseline_characteristics(ard: ArdBuilder, adsl: pd.DataFrame, bds: pd.DataFrame, config: dict) -> None:
    active, control = _arms(config)
    population = adsl[adsl["RANDFL"] == "Y"]
    keys = dict(ANALYSIS_ID="BASELINE", ANALYSIS="Baseline characteristics", POPULATION="RANDFL", AVISITN=0, AVISIT="Week 0")
    arms = (active, control)
    for arm in arms:
        ard.add(stats.describe(population.loc[population["ARM"] == arm, "AGE"], group=arm), PARAMCD="AGE",
                PARAM="Age (years)", GROUP=arm, VARIABLE="AGE", METHOD="descriptive", **keys)
    ard.add(stats.ttest_student(population.loc[population["ARM"] == active, "AGE"],
                                population.loc[population["ARM"] == control, "AGE"], groups=arms),
            PARAMCD="AGE", PARAM="Age (years)", GROUP=f"{active} vs {control}", VARIABLE="AGE", METHOD="Student t-test", **keys)
    counts = {arm: (int((population.loc[population["ARM"] == arm, "SEX"] == "M").sum()), int((population["ARM"] == arm).sum()))
              for arm in (active, control)}
    for arm, (males, total) in counts.items():
        ard.add(stats.proportion(males, total, group=arm), PARAMCD="SEXM", PARAM="Male sex", GROUP=arm, VARIABLE="SEX",
                METHOD="count", **keys)
    ard.add(stats.compare_proportions(*counts[active], *counts[control], groups=arms), PARAMCD="SEXM", PARAM="Male sex",
            GROUP=f"{active} vs {control}", VARIABLE="SEX", METHOD="Pearson chi-square", **keys)
    base = bds[(bds["ABLFL"] == "Y") & bds["PARAMCD"].isin(config["analysis"]["continuous"])]
    by_param = dict(tuple(base.groupby("PARAMCD")))
    for paramcd, records in ((p, by_param[p]) for p in config["analysis"]["continuous"] if p in by_param):
        param = records["PARAM"].iloc[0]
        for arm in arms:
            ard.add(stats.describe(records.loc[records["ARM"] == arm, "AVAL"], group=arm), PARAMCD=paramcd, PARAM=param,
                    GROUP=arm, VARIABLE="AVAL", METHOD="descriptive", **keys)
        x, y = records.loc[records["ARM"] == active, "AVAL"], records.loc[records["ARM"] == control, "AVAL"]
        contrast = dict(PARAMCD=paramcd, PARAM=param, GROUP=f"{active} vs {control}", VARIABLE="AVAL", **keys)
        ard.add(stats.skewness_flag(records.loc[records["ARM"].isin(arms), "AVAL"],
                                    group=f"the pooled sample of {active} and {control}"),
                METHOD="descriptive", **contrast)
        ard.add(stats.ttest_student(x, y, groups=arms), METHOD="Student t-test", **contrast)
        ard.add(stats.mann_whitney(x, y, groups=arms), METHOD="Mann-Whitney U", **contrast)


def continuous_by_visit(ard: ArdBuilder, adsl: pd.DataFrame, bds: pd.DataFrame, config: dict, population: str) -> None:
    """Per parameter and visit: descriptives of AVAL and CHG by arm; Student t-test between arms on AVAL and CHG.

    Every planned parameter at each of its visits (``_visits``): an arm or visit without data gives rows that say so.
    """
    active, control = _arms(config)
    arms = (active, control)
    members = set(adsl.loc[adsl[population] == "Y", "USUBJID"])
    data = bds[bds["USUBJID"].isin(members) & bds["PARAMCD"].isin(config["analysis"]["continuous"]) & (bds["ANL01FL"] == "Y")]
    for paramcd in config["analysis"]["continuous"]:  # tables follow the plan's order
        everything = bds[bds["PARAMCD"] == paramcd]
        mine = data[data["PARAMCD"] == paramcd]
        for visitn in _visits(everything, bds, config):
            records = mine[mine["AVISITN"] == visitn]
            keys = dict(ANALYSIS_ID="CONT", ANALYSIS="Continuous endpoints by visit", POPULATION=population,
                        PARAMCD=paramcd, PARAM=_param_label(everything, paramcd), AVISITN=int(visitn),
                        AVISIT=_visit_label(everything, config, visitn))
            for variable in ("AVAL", "CHG") if visitn > 0 else ("AVAL",):
                for arm in arms:
                    ard.add(stats.describe(records.loc[records["ARM"] == arm, variable], group=arm), GROUP=arm,
                            VARIABLE=variable, METHOD="descriptive", **keys)
                x, y = records.loc[records["ARM"] == active, variable], records.loc[records["ARM"] == control, variable]
                ard.add(stats.ttest_student(x, y, groups=arms), GROUP=f"{active} vs {control}", VARIABLE=variable,
                        METHOD="Student t-test", **keys)
                ard.add(stats.mann_whitney(x, y, groups=arms), GROUP=f"{active} vs {control}", VARIABLE=variable,
                        METHOD="Mann-Whitney U", **keys)
            if visitn > 0:
                within = dict(keys, ANALYSIS_ID="WITHIN", ANALYSIS="Change from baseline within arm", VARIABLE="CHG")
                for arm in arms:
                    change = records.loc[records["ARM"] == arm, "CHG"]
                    ard.add(stats.paired_t(change, group=arm), GROUP=arm, METHOD="Paired t-test", **within)
                    ard.add(stats.wilcoxon_signed_rank(change, group=arm), GROUP=arm, METHOD="Wilcoxon signed-rank",
                            **within)
                fit = stats.ancova(records["CHG"], _treated_as(records, arms), records["BASE"], groups=arms,
                                   ci=config["analysis"].get("ancova_ci", "t"))
                model = dict(keys, ANALYSIS_ID="ANCOVA", ANALYSIS="ANCOVA of change, adjusted for baseline", VARIABLE="CHG",
                             METHOD="ANCOVA (OLS: CHG ~ arm + BASE)")
                ard.add(fit["active"], GROUP=active, **model)
                ard.add(fit["control"], GROUP=control, **model)
                ard.add(fit["contrast"], GROUP=f"{active} vs {control}", **model)


def responders_by_visit(ard: ArdBuilder, adsl: pd.DataFrame, bds: pd.DataFrame, config: dict) -> None:
    """Responder rates with non-responder imputation: every FAS subject is in the denominator.

    At a visit where no FAS subject has a value, imputation would report 0 % responders: the rows are NaN instead
    (denominator kept), with a WARNING.
    """
    active, control = _arms(config)
    arms = (active, control)
    fas = adsl[adsl["FASFL"] == "Y"]
    size = fas.groupby("ARM").size()
    for paramcd, label in config["analysis"].get("responder", {}).items():
        everything = bds[bds["PARAMCD"] == paramcd]
        records = everything[everything["USUBJID"].isin(fas["USUBJID"])]
        for visitn in _visits(everything, bds, config):
            if visitn == 0:
                continue
            at_visit = records[records["AVISITN"] == visitn]
            avisit = _visit_label(everything, config, visitn)
            keys = dict(ANALYSIS_ID="RESP", ANALYSIS="Responders (missing = non-responder)", POPULATION="FASFL",
                        PARAMCD=paramcd, PARAM=label, AVISITN=int(visitn), AVISIT=avisit, VARIABLE="AVAL")
            no_data = "" if at_visit["AVAL"].notna().any() else \
                f"not estimable: no subject of the full analysis set has a value at {avisit}"
            counts = {arm: (int(at_visit.loc[at_visit["ARM"] == arm, "AVAL"].sum()), int(size.get(arm, 0)))
                      for arm in arms}
            for arm, (r, n) in counts.items():
                rows = stats.proportion(r, n, group=arm)
                ard.add(stats.not_estimable(rows, no_data, keep=("N",)) if no_data else rows, GROUP=arm, METHOD="count",
                        **keys)
            rows = stats.compare_proportions(*counts[active], *counts[control], groups=arms)
            ard.add(stats.not_estimable(rows, no_data) if no_data else rows, GROUP=f"{active} vs {control}",
                    METHOD="Pearson chi-square", **keys)


def _incidence(ard: ArdBuilder, groups: list[tuple[str, str, pd.DataFrame]], size: pd.Series, config: dict, **keys) -> None:
    """Subjects (n, N, %) and events per arm for each (code, label, events) group; Fisher exact and risk difference."""
    active, control = _arms(config)
    for paramcd, label, events in groups:
        counts = {}
        for arm in (active, control):
            in_arm = events[events["ARM"] == arm]
            counts[arm] = (int(in_arm["USUBJID"].nunique()), int(size.get(arm, 0)))
            ard.add(stats.proportion(*counts[arm], group=arm)
                    + [{"STAT_NAME": "events", "STAT_LABEL": "Events", "VALUE": float(len(in_arm))}],
                    GROUP=arm, METHOD="count", PARAMCD=paramcd, PARAM=label, VARIABLE="USUBJID", **keys)
        ard.add([r for r in stats.compare_proportions(*counts[active], *counts[control], groups=(active, control))
                 if r["STAT_NAME"] in ("fisher_p", "estimate", "lcl", "ucl")], GROUP=f"{active} vs {control}",
                METHOD="Fisher exact", PARAMCD=paramcd, PARAM=label, VARIABLE="USUBJID", **keys)


def _treatment_emergent(adsl: pd.DataFrame, adae: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    safety = adsl[adsl["SAFFL"] == "Y"]
    return adae[(adae["TRTEMFL"] == "Y") & adae["USUBJID"].isin(safety["USUBJID"])], safety.groupby("ARM").size()


def adverse_events(ard: ArdBuilder, adsl: pd.DataFrame, adae: pd.DataFrame, config: dict) -> None:
    """Subjects with at least one treatment-emergent event, overall, serious, and by preferred term."""
    teae, size = _treatment_emergent(adsl, adae)
    groups = [("ANY", "Any treatment-emergent adverse event", teae), ("SER", "Serious adverse event", teae[teae["AESER"] == "Y"])]
    groups += [(decod, decod, events) for decod, events in teae.groupby("AEDECOD", sort=True)]
    _incidence(ard, groups, size, config, ANALYSIS_ID="AE", ANALYSIS="Treatment-emergent adverse events", POPULATION="SAFFL")


MMRM_SUBJECTS = ("subject with a change from baseline", "subjects with a change from baseline")
# Plan options (analysis.mmrm_covariance, analysis.mmrm_ddfm) -> the number written to the ARD's option row and the
# SAS PROC MIXED spelling in METHOD.
MMRM_TYPES = {"unstructured": (1, "UN"), "compound-symmetry": (2, "CS")}
MMRM_DDFMS = {"satterthwaite": (1, "DDFM=SATTERTHWAITE", "Satterthwaite"),
              "kenward-roger": (2, "DDFM=KR", "Kenward-Roger"),
              "between-within": (3, "DDF=subjects-3", "between-within: subjects - 3")}
MMRM_OPTION_LABELS = {
    "type": "Covariance structure TYPE= (1 = UN unstructured, 2 = CS compound symmetry)",
    "ddfm": ("Degrees of freedom DDFM= (1 = SATTERTHWAITE, 2 = KR: Kenward-Roger 1997, "
             "3 = between-within: subjects - 3)")}


def mmrm_options(config: dict) -> tuple[str, str]:
    """(covariance, ddfm) of the plan: analysis.mmrm_covariance and analysis.mmrm_ddfm, defaults as the schema's."""
    plan = config["analysis"]
    return plan.get("mmrm_covariance", "unstructured"), plan.get("mmrm_ddfm", "satterthwaite")


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
    """Model-level rows (GROUP "model", no visit): options, counts, the covariance matrix, fit criteria, convergence."""
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


def _mmrm_too_few(data: pd.DataFrame, arms: tuple[str, str], config: dict) -> str:
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
            reason = f"not estimable: at {_visit_label(data, config, int(visitn))}, {short}"
    return reason


def mmrm_by_parameter(ard: ArdBuilder, adsl: pd.DataFrame, bds: pd.DataFrame, config: dict, population: str) -> None:
    """Change from baseline over all post-baseline visits (``ucmsc.mmrm``), with the plan's covariance structure and
    df method (``mmrm_options``): per visit, each arm's LS mean with its CI and df, and the treatment difference; per
    parameter, model-level rows (GROUP "model", AVISITN empty): the options, subjects and observations, the estimated
    covariance matrix, -2 Res Log Likelihood, AIC and the REML convergence criteria.

    Not estimable (see ``_mmrm_too_few``, a singular design, no REML convergence): the rows of every visit and the
    model's estimates with VALUE NaN and a WARNING (options, counts and convergence criteria keep their values); a
    visit without data: its rows likewise; a numerical failure of the fit: ERROR.
    """
    from ucmsc.mmrm import MmrmNotEstimable, fit_mmrm

    active, control = _arms(config)
    covariance, ddfm = mmrm_options(config)
    lsmean_labels, contrast_labels = _mmrm_labels(ddfm)
    method = mmrm_method(covariance, ddfm)
    members = set(adsl.loc[adsl[population] == "Y", "USUBJID"])
    for paramcd in config["analysis"].get("mmrm", []):
        everything = bds[bds["PARAMCD"] == paramcd]
        data = everything[everything["USUBJID"].isin(members) & (everything["AVISITN"] > 0)]
        data = data[data["ARM"].isin([active, control])].dropna(subset=["CHG", "BASE"])
        reason, error, fit = _mmrm_too_few(data, (active, control), config), "", None
        if not reason:
            try:
                fit = fit_mmrm(data.assign(ACTIVE=_treated_as(data, (active, control))), covariance=covariance,
                               ddfm=ddfm)
            except MmrmNotEstimable as why:
                reason = f"not estimable: {why}"
            except Exception as failure:  # a numerical failure of this one model; the other analyses still run
                error = stats.error_text(failure)
            else:
                if not fit.converged:
                    reason = f"not estimable: REML did not converge ({fit.message})"
        fitted = {int(v): k for k, v in enumerate(fit.visits)} if fit and not reason else {}
        planned = [v for v in _visits(everything, bds, config) if v > 0]
        common = dict(ANALYSIS="Mixed model for repeated measures of change", POPULATION=population, PARAMCD=paramcd,
                      PARAM=_param_label(everything, paramcd), VARIABLE="CHG", METHOD=method, ANALYSIS_ID="MMRM")
        subjects = {"n_subjects": data["USUBJID"].nunique()}
        for visitn in planned:
            avisit = _visit_label(everything, config, visitn)
            keys = dict(common, AVISITN=int(visitn), AVISIT=avisit)
            if visitn in fitted:
                k = fitted[visitn]
                for arm, is_active in ((active, True), (control, False)):
                    ard.add(stats.stat_rows(lsmean_labels, fit.lsmean(k, is_active)), GROUP=arm, **keys)
                ard.add(stats.stat_rows(contrast_labels, fit.contrast(k) | subjects), GROUP=f"{active} vs {control}",
                        **keys)
                continue
            warning = "" if error else (reason or f"not estimable: no subject has a change from baseline at {avisit}")
            for arm in (active, control):
                ard.add(stats.stat_rows(lsmean_labels, {}, warning, error), GROUP=arm, **keys)
            ard.add(stats.stat_rows(contrast_labels, subjects, warning, error), GROUP=f"{active} vs {control}", **keys)
        visits = [(int(v), _visit_label(everything, config, v)) for v in planned]
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
        ard.add(stats.stat_rows(_mmrm_model_labels(visits), model, warning, error), GROUP="model", AVISIT="",
                **common)


def gee_responders(ard: ArdBuilder, adsl: pd.DataFrame, bds: pd.DataFrame, config: dict) -> None:
    """Repeated binary endpoints over all post-baseline visits: GEE logistic, observed data only."""
    active, control = _arms(config)
    fas = set(adsl.loc[adsl["FASFL"] == "Y", "USUBJID"])
    for paramcd in config["analysis"].get("gee", []):
        data = bds[bds["USUBJID"].isin(fas) & (bds["PARAMCD"] == paramcd) & (bds["AVISITN"] > 0)
                   & bds["ARM"].isin([active, control])]
        rows = stats.gee_logistic(data.assign(ACTIVE=_treated_as(data, (active, control))), groups=(active, control))
        ard.add(rows, ANALYSIS_ID="GEE", ANALYSIS="Repeated responder endpoint, GEE logistic", POPULATION="FASFL",
                PARAMCD=paramcd, PARAM=_param_label(bds[bds["PARAMCD"] == paramcd], paramcd),
                GROUP=f"{active} vs {control}", VARIABLE="AVAL",
                METHOD="GEE logistic (visit + arm; exchangeable; robust SE)")


WORST_ORDER = ("HIGH", "LOW", "NORMAL")  # worst post-baseline: any HIGH, else any LOW, else NORMAL


def shift_tables(ard: ArdBuilder, adsl: pd.DataFrame, bds: pd.DataFrame, config: dict) -> None:
    """Subjects by baseline range indicator and worst post-baseline indicator, per laboratory parameter and arm."""
    safety = adsl[adsl["SAFFL"] == "Y"]
    for paramcd in config["analysis"].get("shift", []):
        records = bds[(bds["PARAMCD"] == paramcd) & bds["USUBJID"].isin(safety["USUBJID"]) & (bds["ANRIND"] != "")]
        base = records[records["ABLFL"] == "Y"].drop_duplicates("USUBJID").set_index("USUBJID")["ANRIND"]
        post = records[records["AVISITN"] > 0].groupby("USUBJID")["ANRIND"].agg(
            lambda s: next(level for level in WORST_ORDER if level in set(s) or level == "NORMAL"))
        both = pd.DataFrame({"BASE": base, "WORST": post}).dropna()
        for arm in [a["arm"] for a in config["arms"]]:
            ids = set(safety.loc[safety["ARM"] == arm, "USUBJID"])
            mine = both[both.index.isin(ids)]
            rows = [{"STAT_NAME": f"{b}>{w}", "STAT_LABEL": f"Baseline {b}, worst post-baseline {w}",
                     "VALUE": float(((mine["BASE"] == b) & (mine["WORST"] == w)).sum())}
                    for b in ("LOW", "NORMAL", "HIGH") for w in ("LOW", "NORMAL", "HIGH")]
            empty = "" if len(mine) else f"no data: {arm} has 0 subjects with a baseline and a post-baseline range"
            ard.add(rows + [{"STAT_NAME": "n", "STAT_LABEL": "Subjects", "VALUE": float(len(mine)), "WARNING": empty}],
                    ANALYSIS_ID="SHIFT",
                    ANALYSIS="Shift from baseline to worst post-baseline range indicator", POPULATION="SAFFL",
                    PARAMCD=paramcd, PARAM=records["PARAM"].iloc[0] if len(records) else paramcd, GROUP=arm,
                    VARIABLE="ANRIND", METHOD="count")


def add_multiplicity(ard: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Holm and Benjamini-Hochberg adjusted P-values across each family, as rows beside the raw ones."""
    new = []
    for family, spec in config["analysis"].get("families", {}).items():
        mask = ((ard["ANALYSIS_ID"] == spec["analysis"]) & ard["PARAMCD"].isin(spec["params"]) & (ard["STAT_NAME"] == "p")
                & ard["GROUP"].str.contains(" vs ") & ard["VALUE"].notna())
        rows = ard[mask]
        if rows.empty:
            continue
        holm, bh = stats.adjust_pvalues(rows["VALUE"])
        for name, label, values in (("p_holm", "Holm-adjusted P", holm), ("p_bh", "Benjamini-Hochberg adjusted P", bh)):
            adjusted = rows.copy()
            adjusted["STAT_NAME"], adjusted["STAT_LABEL"], adjusted["VALUE"] = name, f"{label} (family {family}, {len(rows)} tests)", values
            new.append(adjusted)
    return pd.concat([ard, *new], ignore_index=True) if new else ard


def adverse_events_by_soc(ard: ArdBuilder, adsl: pd.DataFrame, adae: pd.DataFrame, config: dict) -> None:
    """Subjects and events by system organ class."""
    teae, size = _treatment_emergent(adsl, adae)
    _incidence(ard, [(soc, soc, events) for soc, events in teae.groupby("AEBODSYS", sort=True)], size, config,
               ANALYSIS_ID="AESOC", ANALYSIS="Treatment-emergent adverse events by system organ class", POPULATION="SAFFL")


def reference_ranges(ard: ArdBuilder, bds: pd.DataFrame) -> None:
    """The reference range of each parameter that has one, so figures can draw it from the ARD."""
    ranges = bds.dropna(subset=["A1LO", "A1HI"]).drop_duplicates("PARAMCD")
    for row in ranges.itertuples(index=False):
        ard.add([{"STAT_NAME": "low", "STAT_LABEL": "Reference range lower limit", "VALUE": float(row.A1LO)},
                 {"STAT_NAME": "high", "STAT_LABEL": "Reference range upper limit", "VALUE": float(row.A1HI)}],
                ANALYSIS_ID="REFRANGE", ANALYSIS="Reference ranges", POPULATION="", PARAMCD=row.PARAMCD, PARAM=row.PARAM,
                GROUP="ALL", VARIABLE="AVAL", METHOD="config")


def grade_shifts(ard: ArdBuilder, adsl: pd.DataFrame, bds: pd.DataFrame, config: dict) -> None:
    """Subjects by baseline grade and grade at a visit, per arm (e.g. ultrasound steatosis, week 0 vs week 20)."""
    fas = set(adsl.loc[adsl["FASFL"] == "Y", "USUBJID"])
    for paramcd, visits in config["analysis"].get("grade_shift", {}).items():
        records = bds[(bds["PARAMCD"] == paramcd) & bds["USUBJID"].isin(fas)]
        grades = sorted(records["AVAL"].dropna().unique())
        for visitn in visits:
            at = records[(records["AVISITN"] == visitn) & records["BASE"].notna()]
            for arm in [a["arm"] for a in config["arms"]]:
                mine = at[at["ARM"] == arm]
                rows = [{"STAT_NAME": f"{b:g}>{g:g}", "STAT_LABEL": f"Baseline {b:g}, week {visitn} {g:g}",
                         "VALUE": float(((mine["BASE"] == b) & (mine["AVAL"] == g)).sum())} for b in grades for g in grades]
                avisit = at["AVISIT"].iloc[0] if len(at) else f"Week {visitn}"
                empty = f"no data: {arm} has 0 subjects with a grade at baseline and at {avisit}" if mine.empty else ""
                n_row = {"STAT_NAME": "n", "STAT_LABEL": "Subjects", "VALUE": float(len(mine)), "WARNING": empty}
                ard.add(rows + [n_row], ANALYSIS_ID="GRADESHIFT", ANALYSIS="Shift in grade from baseline",
                        POPULATION="FASFL", PARAMCD=paramcd, PARAM=_param_label(records, paramcd), AVISITN=int(visitn),
                        AVISIT=avisit, GROUP=arm, VARIABLE="AVAL", METHOD="count")


def run_analyses(adsl: pd.DataFrame, bds: pd.DataFrame, adae: pd.DataFrame, config: dict, trial: str, cut: str,
                 inputs: str) -> pd.DataFrame:
    ard = ArdBuilder(trial, cut, inputs)
    population = config["analysis"]["population"]
    population_counts(ard, adsl, config)
    baseline_characteristics(ard, adsl, bds, config)
    continuous_by_visit(ard, adsl, bds, config, population)
    mmrm_by_parameter(ard, adsl, bds, config, population)
    responders_by_visit(ard, adsl, bds, config)
    gee_responders(ard, adsl, bds, config)
    adverse_events(ard, adsl, adae, config)
    adverse_events_by_soc(ard, adsl, adae, config)
    shift_tables(ard, adsl, bds, config)
    grade_shifts(ard, adsl, bds, config)
    reference_ranges(ard, bds)
    return add_multiplicity(ard.frame(), config)


def run_analyze(adsl_path: str, adbds_path: str, adae_path: str, config: dict, trial: str, cut: str, ard_path: str, log) -> None:
    """Stage runner: one cut's analysis plan into its ARD, stamped with the SHA-256 of the datasets it read."""
    from ucmsc.io import read_table, sha256_file, write_table

    inputs = ";".join(f"{name}:{sha256_file(path)}" for name, path in (("adsl", adsl_path), ("adbds", adbds_path), ("adae", adae_path)))
    ard = run_analyses(read_table(adsl_path), read_table(adbds_path), read_table(adae_path), config, trial, cut, inputs)
    write_table(ard, ard_path)
    log.info("ARD: %d rows, %d analyses; %d rows not estimable (WARNING), %d failed (ERROR)", len(ard),
             ard["ANALYSIS_ID"].nunique(), (ard["WARNING"] != "").sum(), (ard["ERROR"] != "").sum())
    failed = ard[ard["ERROR"] != ""].drop_duplicates(["ANALYSIS_ID", "PARAMCD", "AVISITN", "GROUP", "METHOD"])
    for row in failed.itertuples():
        log.warning("%s %s %s %s %s: %s", row.ANALYSIS_ID, row.PARAMCD, row.AVISIT, row.GROUP, row.METHOD, row.ERROR)
