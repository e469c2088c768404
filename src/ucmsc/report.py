"""The self-contained HTML report of one trial and cut, rendered from the ARD (and the query log and audit) only.

Every table is built by one function that reads ARD rows and returns a ``Table``; the
report shows each table with a collapsible provenance panel naming the ARD rows it draws.
A statistic the ARD has as not estimable (VALUE NaN) prints as "NE", with a table note; the
section "Statistics not estimated" lists every ARD row with a WARNING or ERROR and its reason.
All text is HTML-escaped by jinja2's autoescape (terms from the data included).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import pandas as pd

from ucmsc import ard as ardlib
from ucmsc.ard import DEMOGRAPHICS, MISSING_LEVEL, group_label
from ucmsc.plan import Trial, load_trial
from ucmsc.rounding import format_half_up, format_p
from ucmsc.stats import PROPORTION_CI

SECTIONS = ("Study summary", "Statistics not estimated", "Participant flow", "Baseline characteristics",
            "Endpoints by visit", "Model-based analyses", "Responders", "Adverse events", "Laboratory shifts",
            "Figures", "Published vs reproduced", "Changes since the previous cut", "Data queries", "Analysis datasets",
            "Provenance")


def section_id(title: str) -> str:
    return title.lower().replace(" ", "-")




NE = "NE"  # not estimable: the ARD has the row, with VALUE NaN and the reason in WARNING or ERROR
NE_NOTE = "NE: not estimable (the reasons are listed under Statistics not estimated)."
INFINITE = "∞"  # an odds ratio or limit the ARD has as NaN with a "not finite: ... infinite" WARNING (a zero cell)


def _num(value, decimals: int) -> str:
    """'' for a statistic the ARD does not have, NE for one it has as not estimable, else the rounded value."""
    if value is None:
        return ""
    return NE if pd.isna(value) else format_half_up(value, decimals)


def _p(value) -> str:
    if value is None:
        return ""
    return NE if pd.isna(value) else format_p(value)


@dataclass
class Table:
    section: str
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""
    analysis_ids: list[str] = field(default_factory=list)
    ard_rows: int = 0


class Cells:
    """Look-ups into the ARD by (ANALYSIS_ID, PARAMCD, AVISITN, group, VARIABLE, METHOD, STAT_NAME).

    A group is an arm name (a row of that arm) or an (active, control) pair (a comparison); AVISITN -1: not by visit.
    """

    def __init__(self, ard: pd.DataFrame):
        frame = ard.assign(AVISITN=ard["AVISITN"].fillna(-1), PARAMCD=ard["PARAMCD"].fillna("").replace("", -1),
                           VARIABLE=ard["VARIABLE"].fillna("").replace("", -1))
        groups = [(level, comparator) for level, comparator in zip(frame["GROUP1_LEVEL"], frame["COMPARATOR"])]
        keys = list(zip(frame["ANALYSIS_ID"], frame["PARAMCD"], frame["AVISITN"], groups, frame["VARIABLE"],
                        frame["METHOD"], frame["STAT_NAME"]))
        self.values = dict(zip(keys, ard["VALUE"]))
        warning = ard["WARNING"].astype(object).fillna("").astype(str)
        self.infinite = {k for k, w in zip(keys, warning) if w.startswith("not finite:") and "infinite" in w}
        self.infinite_by_stat = {(a, p, v, g, var, st) for a, p, v, g, var, _, st in self.infinite}
        self.by_stat: dict[tuple, float] = {}
        for (analysis, paramcd, visit, group, variable, _method, stat), value in self.values.items():
            self.by_stat.setdefault((analysis, paramcd, visit, group, variable, stat), value)

    @staticmethod
    def _group(group) -> tuple[str, str]:
        return group if isinstance(group, tuple) else (group, "")

    def get(self, analysis, paramcd, visit, group, variable, stat, method=None):
        group = self._group(group)
        if method is not None:
            return self.values.get((analysis, paramcd, visit, group, variable, method, stat))
        return self.by_stat.get((analysis, paramcd, visit, group, variable, stat))

    def p(self, analysis, paramcd, visit, group, variable, stat="p", method=None) -> str:
        return _p(self.get(analysis, paramcd, visit, group, variable, stat, method))

    def mean_sd(self, analysis, paramcd, visit, group, variable="AVAL", decimals=2) -> str:
        n = self.get(analysis, paramcd, visit, group, variable, "n")
        if n is None or pd.isna(n):
            return ""
        if n == 0:
            return f"{NE} (0)"
        mean, sd = (self.get(analysis, paramcd, visit, group, variable, "mean"),
                    self.get(analysis, paramcd, visit, group, variable, "sd"))
        return f"{_num(mean, decimals)} ± {_num(sd, decimals)} ({int(n)})"

    def median_iqr(self, analysis, paramcd, visit, group, variable="AVAL", decimals=2) -> str:
        q = [self.get(analysis, paramcd, visit, group, variable, s) for s in ("median", "q1", "q3")]
        if q[0] is None:
            return ""
        return NE if pd.isna(q[0]) else f"{_num(q[0], decimals)} [{_num(q[1], decimals)}, {_num(q[2], decimals)}]"

    def n_pct(self, analysis, paramcd, visit, group, variable) -> str:
        n, total, pct = (self.get(analysis, paramcd, visit, group, variable, s) for s in ("n", "N", "pct"))
        if n is None:
            return ""
        if pd.isna(n) or pd.isna(total):
            return NE
        return f"{int(n)}/{int(total)} ({_num(pct, 1)}{'' if pd.isna(pct) else '%'})"

    def is_infinite(self, analysis, paramcd, visit, group, variable, stat) -> bool:
        """The ARD has the statistic as NaN because it is infinite (an odds ratio or its upper limit, a zero cell)."""
        return (analysis, paramcd, visit, self._group(group), variable, stat) in self.infinite_by_stat

    def estimate_ci(self, analysis, paramcd, visit, group, variable, decimals=2, scale=1.0, stat="estimate",
                    bounds=("lcl", "ucl")) -> str:
        where = (analysis, paramcd, visit, group, variable)
        names = (stat, *bounds)
        values = [self.get(*where, s) for s in names]
        if values[0] is None:
            return ""
        shown = [INFINITE if v is not None and pd.isna(v) and self.is_infinite(*where, s)
                 else None if v is None or pd.isna(v) else _num(scale * v, decimals) for s, v in zip(names, values)]
        if shown[0] is None:
            return NE
        if shown[1] is None or shown[2] is None:
            return f"{shown[0]} ({NE})"
        return f"{shown[0]} ({shown[1]}, {shown[2]})"


@dataclass
class Layout:
    """What every table needs: the arms (active arms, then control), the comparisons, and the plan's analysis ids."""

    arms: list[str]
    contrasts: list[tuple[str, str]]
    ids: dict[str, list[str]]  # method -> the ids of the plan's analyses by that method
    options: dict[str, dict] = field(default_factory=dict)  # analysis id -> its plan options (display settings)
    trial: Trial | None = None

    def population(self, flag: str) -> str:
        """A population as a title names it ("Safety population")."""
        return self.trial.population(flag).name if self.trial else flag

    def first(self, method: str, default: str = "") -> str:
        return (self.ids.get(method) or [default])[0]

    def versus(self, contrast: tuple[str, str], prefix: str) -> str:
        """A comparison's column header: the prefix alone for one comparison ('P between'), else with the arm."""
        return prefix if len(self.contrasts) == 1 else f"{prefix} ({contrast[0]} vs {contrast[1]})"


def _whole(value) -> str:
    """A row number read back from CSV (2572.0) as 2572; text and blanks as they are."""
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.0f}"
    return str(value)


def _labels(ard: pd.DataFrame) -> dict:
    return ard.drop_duplicates("PARAMCD").set_index("PARAMCD")["PARAM"].to_dict()


def _params(ard: pd.DataFrame, analysis: str, **filters) -> list:
    rows = ard[ard["ANALYSIS_ID"] == analysis]
    for column, value in filters.items():
        rows = rows[rows[column] == value]
    return list(dict.fromkeys(rows["PARAMCD"]))


def _count(ard: pd.DataFrame, ids: list[str]) -> int:
    return int(ard["ANALYSIS_ID"].isin(ids).sum())


def _ttest_method(ard: pd.DataFrame) -> str:
    """The between-arm t-test the ARD holds (plan option ``ttest``): its METHOD text."""
    return "Welch t-test" if (ard["METHOD"] == "Welch t-test").any() else "Student t-test"


def _ci_methods(ard: pd.DataFrame, analysis_ids: list[str]) -> str:
    """The CI method(s) of the differences in proportions of these analyses, from their ``ci_method`` rows (an ARD
    from before those rows: Wald, the only CI it had)."""
    rows = ard[ard["ANALYSIS_ID"].isin(analysis_ids) & (ard["STAT_NAME"] == "ci_method")]
    numbers = set(rows["VALUE"].dropna().astype(int))
    if rows.empty:
        return "Wald"
    return " / ".join(name for number, name in PROPORTION_CI.values() if number in numbers) or "unknown"


ODDS_RATIO_NOTE = ("Odds ratio: conditional maximum-likelihood estimate with its exact conditional 95% CI, as R "
                   "fisher.test; ∞: infinite (a zero cell).")


def flow_table(ard, cells, layout: Layout) -> Table:
    labels, arms, pop = _labels(ard), layout.arms, layout.first("populations", "POP")
    flags = ard.loc[ard["ANALYSIS_ID"] == pop, "PARAMCD"].drop_duplicates()  # the plan's populations, in its order
    rows = [[labels[flag]] + [str(int(cells.get(pop, flag, -1, a, -1, "n") or 0)) for a in arms] for flag in flags]
    rows += [[status.title()] + [str(int(cells.get("DISP", status, -1, a, -1, "n") or 0)) for a in arms]
             for status in ("COMPLETED", "DISCONTINUED", "ONGOING")]
    excluded = ard[ard["ANALYSIS_ID"] == "EXCL"]
    note = ""
    if len(excluded):
        reasons = "; ".join(f"{r.PARAM} ({int(r.VALUE)})" for r in excluded.itertuples())
        note = (f"{int(excluded['VALUE'].sum())} subject(s) of the delivery are in no analysis population and are not "
                f"counted above: {reasons}. Their records stay in the clean data; each is queried (queries.csv).")
    return Table("Participant flow", "Analysis populations and disposition", [""] + arms, rows, note,
                 [pop, "DISP", "EXCL"], _count(ard, [pop, "DISP", "EXCL"]))


INDENT = "\u2003"  # a statistic's row under its variable's row


def _continuous_rows(cells, analysis: str, variable: str, groups: list, decimals: int) -> list[list[str]]:
    """n, Mean (SD), Median, Q1, Q3, Min, Max: mean, median and quartiles with ``decimals``, SD one more, min and max
    one fewer."""
    def stat(group, name, places):
        return _num(cells.get(analysis, variable, -1, group, variable, name), places)

    low = max(decimals - 1, 0)
    return [[f"{INDENT}n"] + [stat(g, "n", 0) for g in groups],
            [f"{INDENT}Mean (SD)"] + [f"{stat(g, 'mean', decimals)} ({stat(g, 'sd', decimals + 1)})" for g in groups],
            [f"{INDENT}Median"] + [stat(g, "median", decimals) for g in groups],
            [f"{INDENT}Q1, Q3"] + [f"{stat(g, 'q1', decimals)}, {stat(g, 'q3', decimals)}" for g in groups],
            [f"{INDENT}Min, Max"] + [f"{stat(g, 'min', low)}, {stat(g, 'max', low)}" for g in groups]]


def _level_cell(cells, analysis: str, level: str, group, variable: str) -> str:
    n, pct = (cells.get(analysis, level, -1, group, variable, s) for s in ("n", "pct"))
    if n is None:
        return ""
    if pd.isna(n):
        return NE
    return f"{int(n)} ({_num(pct, 1)}{'' if pd.isna(pct) else '%'})"


def demographics_tables(ard, cells, layout: Layout) -> list[Table]:
    """One table per demographics analysis: each variable's row, then its statistics (continuous) or levels
    (categorical) in the ARD's order; columns the arms, then Total (the ARD's overall group), N in the header."""
    tables = []
    for analysis in layout.ids.get("demographics", []):
        mine = ard[ard["ANALYSIS_ID"] == analysis]
        if mine.empty:
            continue
        population = mine["POPULATION"].iloc[0]
        groups = layout.arms + [("", "")]
        totals = [cells.get(analysis, population, -1, g, "USUBJID", "N") for g in groups]
        header = ["Characteristic"] + [f"{name} (N={_num(n, 0) if n is not None else ''})"
                                       for name, n in zip(layout.arms + ["Total"], totals)]
        decimals = layout.options.get(analysis, {}).get("decimals", {})
        rows = []
        for variable, rows_of in mine[mine["VARIABLE"] != "USUBJID"].groupby("VARIABLE", sort=False):
            label = rows_of["PARAM"].iloc[0]
            if set(rows_of["STAT_NAME"]) == {"n"}:  # not in ADSL: one row of NE, the reason under Not estimated
                rows.append([label] + [_num(cells.get(analysis, variable, -1, g, variable, "n"), 0) for g in groups])
            elif (rows_of["METHOD"] == "descriptive").all():
                rows.append([label] + [""] * len(groups))
                rows += _continuous_rows(cells, analysis, variable, groups, decimals.get(variable, 1))
            else:
                rows.append([f"{label}, n (%)"] + [""] * len(groups))
                rows += [[INDENT + ("Missing" if level == MISSING_LEVEL else level)]
                         + [_level_cell(cells, analysis, level, g, variable) for g in groups]
                         for level in dict.fromkeys(rows_of["PARAMCD"])]
        name = layout.population(population)
        noun = layout.trial.population(population).noun if layout.trial else name
        note = (f"n (%): subjects with the value; denominator: the arm's subjects in the {noun}. Total: all "
                "arms of the plan. Mean (SD), median, quartiles, min and max of the non-missing values. No P-values: "
                "differences at baseline between randomised arms are due to chance (ICH E3, CONSORT).")
        tables.append(Table("Baseline characteristics", f"{DEMOGRAPHICS} ({name})", header, rows, note, [analysis],
                            _count(ard, [analysis])))
    return tables


def baseline_tables(ard, cells, layout: Layout) -> list[Table]:
    labels, arms, tables = _labels(ard), layout.arms, []
    for analysis in layout.ids.get("baseline", []):
        mine = ard[ard["ANALYSIS_ID"] == analysis]
        t_method = _ttest_method(mine)
        t_name = t_method.removesuffix("-test")
        p_header = [layout.versus(c, "P") for c in layout.contrasts]
        rows = [["Age (years), mean ± SD (n)"] + [cells.mean_sd(analysis, "AGE", 0, a, "AGE") for a in arms]
                + [cells.p(analysis, "AGE", 0, c, "AGE", "p", t_method) for c in layout.contrasts] + [t_name]]
        sex = ["Male, n/N (%)"] + [cells.n_pct(analysis, "SEXM", 0, a, "SEX") for a in arms]
        fisher = any(cells.get(analysis, "SEXM", 0, c, "SEX", "test_used") == 2 for c in layout.contrasts)
        sex += [cells.p(analysis, "SEXM", 0, c, "SEX", "fisher_p" if fisher else "p") for c in layout.contrasts]
        rows.append(sex + ["Fisher exact" if fisher else "Pearson chi-square"])
        for p in _params(ard, analysis, VARIABLE="AVAL"):
            skewed = cells.get(analysis, p, 0, ("", ""), "AVAL", "skewed") == 1
            if skewed:
                rows.append([f"{labels[p]}, median [IQR]"] + [cells.median_iqr(analysis, p, 0, a) for a in arms]
                            + [cells.p(analysis, p, 0, c, "AVAL", "p", "Mann-Whitney U") for c in layout.contrasts]
                            + ["Mann-Whitney"])
            else:
                rows.append([f"{labels[p]}, mean ± SD (n)"] + [cells.mean_sd(analysis, p, 0, a) for a in arms]
                            + [cells.p(analysis, p, 0, c, "AVAL", "p", t_method) for c in layout.contrasts] + [t_name])
        population = mine["POPULATION"].iloc[0] if len(mine) else ""
        tables.append(Table("Baseline characteristics",
                            f"Baseline characteristics ({layout.population(population)})",
                            ["Characteristic"] + arms + p_header + ["Test"], rows,
                            "Median [IQR] and Mann-Whitney U where |skewness| > 1; sex by Pearson chi-square without "
                            "continuity correction, Fisher exact when an expected count is below 5.", [analysis],
                            _count(ard, [analysis])))
    return tables


def endpoint_tables(ard, cells, layout: Layout) -> list[Table]:
    labels, arms, tables = _labels(ard), layout.arms, []
    within = layout.first("within_arm")
    for analysis in layout.ids.get("by_visit", []):
        t_method = _ttest_method(ard[ard["ANALYSIS_ID"] == analysis])
        for p in _params(ard, analysis, VARIABLE="AVAL"):
            visits = sorted(ard[(ard["ANALYSIS_ID"] == analysis) & (ard["PARAMCD"] == p)]["AVISITN"].unique())
            rows = []
            for v in visits:
                row = [f"Week {v:g}"] + [cells.mean_sd(analysis, p, v, a) for a in arms]
                row += [cells.p(analysis, p, v, c, "AVAL", "p", t_method) for c in layout.contrasts]
                row += [cells.mean_sd(analysis, p, v, a, "CHG") for a in arms]
                row += [cells.p(within, p, v, a, "CHG", "p", "Paired t-test") for a in arms]
                row += [cells.p(analysis, p, v, c, "CHG", "p", t_method) for c in layout.contrasts]
                rows.append(row)
            header = (["Visit"] + [f"{a}: value" for a in arms]
                      + [layout.versus(c, "P between") for c in layout.contrasts]
                      + [f"{a}: change" for a in arms] + [f"{a}: P vs week 0" for a in arms]
                      + [layout.versus(c, "P change between") for c in layout.contrasts])
            ids = [analysis, within]
            tables.append(Table("Endpoints by visit", labels[p], header, rows,
                                f"Mean ± SD (n). P between: {t_method}; P vs week 0: paired t-test within arm.", ids,
                                int((ard["ANALYSIS_ID"].isin(ids) & (ard["PARAMCD"] == p)).sum())))
    return tables


MODEL_TITLES = {"ancova": "ANCOVA of change from baseline, adjusted for baseline",
                "mmrm": "MMRM of change from baseline over all post-baseline visits"}
MMRM_TYPE_TEXT = {1: "unstructured covariance (TYPE=UN)", 2: "compound-symmetry covariance (TYPE=CS)"}
MMRM_DDFM_TEXT = {1: "Satterthwaite degrees of freedom (DDFM=SATTERTHWAITE)",
                  2: "Kenward-Roger adjusted SEs and degrees of freedom (DDFM=KR, Kenward & Roger 1997)",
                  3: "between-within degrees of freedom (subjects - 3)"}


def model_note(ard, analysis: str, method: str) -> str:
    """The table's note; for an MMRM, the covariance structure and df method its ARD rows say were used."""
    if method == "ancova":
        return "LS means at the mean baseline; difference with 95% CI; Holm and BH adjust across the plan's family."
    rows = ard[(ard["ANALYSIS_ID"] == analysis) & ard["AVISITN"].isna()]  # the models' rows: no visit

    def used(stat, text):
        values = rows.loc[rows["STAT_NAME"] == stat, "VALUE"].dropna().unique()
        return " / ".join(text.get(int(v), f"{stat} {v:g}") for v in sorted(values)) or f"{stat} not recorded"

    return (f"REML, {used('type', MMRM_TYPE_TEXT)}, {used('ddfm', MMRM_DDFM_TEXT)}; LS means at the mean baseline of "
            "the analysed records; difference with 95% CI.")


def model_tables(ard, cells, layout: Layout) -> list[Table]:
    labels, arms, tables = _labels(ard), layout.arms, []
    for method in ("ancova", "mmrm"):
        for analysis in layout.ids.get(method, []):
            rows = []
            for p in _params(ard, analysis):
                visits = sorted(ard[(ard["ANALYSIS_ID"] == analysis)
                                    & (ard["PARAMCD"] == p)]["AVISITN"].dropna().unique())
                for v in visits:
                    lsm = [cells.get(analysis, p, v, a, "CHG", "lsmean") for a in arms]
                    row = [labels[p], f"Week {v:g}"] + [_num(x, 2) for x in lsm]
                    for c in layout.contrasts:
                        row += [cells.estimate_ci(analysis, p, v, c, "CHG"), cells.p(analysis, p, v, c, "CHG"),
                                cells.p(analysis, p, v, c, "CHG", "p_holm"), cells.p(analysis, p, v, c, "CHG", "p_bh")]
                    rows.append(row)
            if rows:
                header = ["Parameter", "Visit"] + [f"{a}: LS mean" for a in arms]
                for c in layout.contrasts:
                    header += [layout.versus(c, "Difference (95% CI)"), layout.versus(c, "P"),
                               layout.versus(c, "P (Holm)"), layout.versus(c, "P (BH)")]
                tables.append(Table("Model-based analyses", MODEL_TITLES[method], header, rows,
                                    model_note(ard, analysis, method), [analysis], _count(ard, [analysis])))
    for analysis in layout.ids.get("gee", []):
        gee = [[labels[p]] + [x for c in layout.contrasts
                              for x in (cells.estimate_ci(analysis, p, -1, c, "AVAL", stat="or"),
                                        cells.p(analysis, p, -1, c, "AVAL"))]
               for p in _params(ard, analysis)]
        if gee:
            header = ["Endpoint"] + [x for c in layout.contrasts for x in (f"Odds ratio {c[0]} vs {c[1]} (95% CI)",
                                                                          layout.versus(c, "P"))]
            tables.append(Table("Model-based analyses", "GEE logistic model of the repeated responder endpoint",
                                header, gee,
                                "All post-baseline visits, observed values; logit model with visit and arm; "
                                "exchangeable working correlation and scale by geepack's moment estimators (divisors N "
                                "and pairs; SAS GENMOD: N - p, pairs - p); robust (sandwich) SE, Wald P.",
                                [analysis], _count(ard, [analysis])))
    return tables


def responder_tables(ard, cells, layout: Layout) -> list[Table]:
    labels, arms, tables = _labels(ard), layout.arms, []
    for analysis in layout.ids.get("responders", []):
        resp = ard[ard["ANALYSIS_ID"] == analysis]
        if resp.empty:
            continue
        rows = []
        for p, v in resp[["PARAMCD", "AVISITN"]].drop_duplicates().itertuples(index=False):
            row = [labels[p], f"Week {v:g}"] + [cells.n_pct(analysis, p, v, a, "AVAL") for a in arms]
            for c in layout.contrasts:
                row += [cells.estimate_ci(analysis, p, v, c, "AVAL", 1, 100.0), cells.p(analysis, p, v, c, "AVAL"),
                        cells.p(analysis, p, v, c, "AVAL", "fisher_p"),
                        cells.estimate_ci(analysis, p, v, c, "AVAL", 2, stat="or", bounds=("or_lcl", "or_ucl"))]
            rows.append(row)
        header = ["Endpoint", "Visit"] + arms
        for c in layout.contrasts:
            header += [layout.versus(c, "Difference, % (95% CI)"), layout.versus(c, "P (chi-square)"),
                       layout.versus(c, "P (Fisher)"), layout.versus(c, "Odds ratio (95% exact CI)")]
        population = layout.trial.population(resp["POPULATION"].iloc[0]).noun if layout.trial else ""
        note = (f"Denominator: {population}; a subject without a value counts as a non-responder. Difference: "
                f"{_ci_methods(ard, [analysis])} 95% CI. {ODDS_RATIO_NOTE}")
        tables.append(Table("Responders", "Responders by visit", header, rows, note, [analysis],
                            _count(ard, [analysis])))
    return tables


def ae_tables(ard, cells, layout: Layout) -> list[Table]:
    labels, arms, tables = _labels(ard), layout.arms, []
    for analysis in layout.ids.get("adverse_events", []):
        mine = ard[ard["ANALYSIS_ID"] == analysis]
        rows = []
        for p in _params(ard, analysis):
            row = ([labels[p]] + [cells.n_pct(analysis, p, -1, a, "USUBJID") for a in arms]
                   + [str(int(cells.get(analysis, p, -1, a, "USUBJID", "events") or 0)) for a in arms])
            for c in layout.contrasts:
                row += [cells.estimate_ci(analysis, p, -1, c, "USUBJID", 1, 100.0),
                        cells.p(analysis, p, -1, c, "USUBJID", "fisher_p"),
                        cells.estimate_ci(analysis, p, -1, c, "USUBJID", 2, stat="or", bounds=("or_lcl", "or_ucl"))]
            rows.append(row)
        header = ["Event"] + [f"{a}: subjects" for a in arms] + [f"{a}: events" for a in arms]
        for c in layout.contrasts:
            header += [layout.versus(c, "Risk difference, % (95% CI)"), layout.versus(c, "P (Fisher)"),
                       layout.versus(c, "Odds ratio (95% exact CI)")]
        population = mine["POPULATION"].iloc[0] if len(mine) else ""
        meddra = layout.trial.raw.get("meddra_version") if layout.trial else None
        coding = f" Coded with MedDRA version {meddra}." if meddra else ""
        note = (f"{layout.population(population)}; subjects with at least one event.{coding} Risk difference: "
                f"{_ci_methods(ard, [analysis])} 95% CI. {ODDS_RATIO_NOTE}")
        title = mine["ANALYSIS"].iloc[0] if len(mine) else analysis
        tables.append(Table("Adverse events", title, header, rows, note, [analysis], _count(ard, [analysis])))
    return tables


def imputation_tables(ard, cells, layout: Layout) -> list[Table]:
    """Events whose analysis dates were imputed from partial dates, by arm and the highest component imputed."""
    tables = []
    columns = layout.arms + ["All"]
    levels = (("n", "Any imputation"), ("n_D", "Day imputed"), ("n_M", "Month and day imputed"),
              ("n_Y", "Year, month and day imputed"))
    for analysis in layout.ids.get("date_imputations", []):
        mine = ard[ard["ANALYSIS_ID"] == analysis]
        rows = []
        for flag, param in mine[["PARAMCD", "PARAM"]].drop_duplicates().itertuples(index=False):
            for stat, text in levels:
                row = [param, text]
                for arm in columns:
                    group = "" if arm == "All" else arm
                    n, total = cells.get(analysis, flag, -1, group, flag, stat), cells.get(analysis, flag, -1, group,
                                                                                              flag, "N")
                    row.append(f"{_whole(n)}/{_whole(total)}" if n is not None and total is not None else "")
                rows.append(row)
        plan = layout.trial.raw.get("imputation", {}) if layout.trial else {}
        rules = "; ".join(f"{variable}: {', '.join(f'{k} {v}' for k, v in rule.items())}"
                          for variable, rule in plan.items())
        note = ("Events (n/N) whose analysis date (ADAE ASTDTM, AENDTM) was imputed from a partial date; ASTDTF/AENDTF "
                "name the highest component imputed (ADaM IG). Rules of the plan: " + (rules or "none") + ".")
        tables.append(Table("Adverse events", "Imputed adverse-event dates", ["Date", "Imputation"] + columns, rows,
                            note, [analysis], _count(ard, [analysis])))
    return tables


def shift_tables(ard, cells, layout: Layout) -> list[Table]:
    labels, arms, tables = _labels(ard), layout.arms, []
    for analysis in layout.ids.get("shift", []):
        rows = []
        for p in _params(ard, analysis):
            for a in arms:
                counts = [int(cells.get(analysis, p, -1, a, "ANRIND", f"{b}>{w}") or 0)
                          for b in ("LOW", "NORMAL", "HIGH")
                          for w in ("LOW", "NORMAL", "HIGH")]
                rows.append([labels[p], a] + [str(c) for c in counts])
        if rows:
            header = ["Parameter", "Arm"] + [f"{b[0]}→{w[0]}" for b in ("LOW", "NORMAL", "HIGH")
                                             for w in ("LOW", "NORMAL", "HIGH")]
            tables.append(Table("Laboratory shifts",
                                "Shift from baseline to worst post-baseline reference-range indicator", header, rows,
                                "L/N/H: below, within, above the reference range; worst post-baseline: any H, "
                                "else any L, else N.", [analysis], _count(ard, [analysis])))
    return tables


def trend_tables(ard, cells, layout: Layout) -> list[Table]:
    labels, tables = _labels(ard), []
    for analysis in layout.ids.get("trend", []):
        rows = [[labels[p], f"Week {v:g}", cells.estimate_ci(analysis, p, v, ("", ""), "CHG"),
                 cells.p(analysis, p, v, ("", ""), "CHG")]
                for p in _params(ard, analysis)
                for v in sorted(ard[(ard["ANALYSIS_ID"] == analysis)
                                    & (ard["PARAMCD"] == p)]["AVISITN"].dropna().unique())]
        if rows:
            tables.append(Table("Model-based analyses", "Linear trend across doses (ANCOVA of change from baseline)",
                                ["Parameter", "Visit", "Trend contrast (95% CI)", "P"], rows,
                                "Contrast of the arms' LS means with weights dose minus mean dose (ANCOVA with arm and "
                                "baseline).", [analysis], _count(ard, [analysis])))
    return tables


def build_tables(ard: pd.DataFrame, config: dict) -> list[Table]:
    ard = ardlib.conform(ard)
    trial = load_trial(config)
    ids: dict[str, list[str]] = {}
    for analysis in trial.analyses:
        ids.setdefault(analysis.method, []).append(analysis.id)
    layout = Layout(list(trial.arm_names), [c.levels for c in trial.contrasts], ids,
                    {a.id: dict(a.options) for a in trial.analyses}, trial)
    cells = Cells(ard)
    tables = [flow_table(ard, cells, layout)]
    for build in (demographics_tables, baseline_tables, endpoint_tables, model_tables, trend_tables, responder_tables,
                  ae_tables, imputation_tables, shift_tables):
        tables += build(ard, cells, layout)
    for table in tables:  # a table with a not-estimable cell says what NE means and where the reasons are
        if any(re.search(rf"\b{NE}\b", cell) for row in table.rows for cell in row[1:]):
            table.note = f"{table.note} {NE_NOTE}".strip()
    return tables


def problem_context(ard: pd.DataFrame) -> dict:
    """Every ARD row with a WARNING or ERROR: one entry per analysis x parameter x visit x group x method x reason,
    naming the statistics it covers, and the number of rows per analysis and reason."""
    def text(column: str) -> pd.Series:  # '' when empty (read back from CSV as NaN) or absent (an older ARD)
        if column not in ard.columns:
            return pd.Series("", index=ard.index)
        return ard[column].astype(object).fillna("").astype(str)

    ard = ardlib.conform(ard)
    warning, error = text("WARNING"), text("ERROR")
    keys = ["ANALYSIS_ID", "ANALYSIS", "PARAM", "AVISIT", "GROUP", "VARIABLE", "METHOD"]
    ard = ard.assign(GROUP=[group_label(r) for r in ard[["GROUP1_LEVEL", "COMPARATOR"]].to_dict("records")])
    flagged = ard[keys + ["STAT_NAME"]].astype(object).fillna("").assign(
        KIND=error.ne("").map({True: "ERROR", False: "WARNING"}), REASON=error.where(error != "", warning))
    flagged = flagged[flagged["REASON"] != ""]
    entries = (flagged.groupby(keys + ["KIND", "REASON"], sort=False)["STAT_NAME"]
               .agg(lambda names: ", ".join(dict.fromkeys(names))).reset_index()
               .rename(columns={"STAT_NAME": "STATISTICS"}))
    summary = flagged.groupby(["ANALYSIS", "KIND", "REASON"], sort=False).size().reset_index(name="N")
    kinds = flagged["KIND"].value_counts()
    return {"warning_rows": int(kinds.get("WARNING", 0)), "error_rows": int(kinds.get("ERROR", 0)),
            "summary": summary.to_dict("records"), "entries": entries.to_dict("records")}


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def table_provenance(table: Table, ard_file: dict, code: dict, raw_files: list[dict]) -> dict:
    return {"table": table.title, "section": table.section,
            "drawn_from": {"ard": ard_file, "analysis_ids": table.analysis_ids, "ard_rows": table.ard_rows},
            "rule": "report", "script": "workflow/scripts/report.py", "code": code,
            "raw_files": [{"file": f["file"], "sha256": f["sha256"], "rows": f.get("rows")} for f in raw_files],
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def figure_entries(figure_dir: Path) -> list[dict]:
    """Embed each figure's PNG (base64) with its provenance sidecar, in file-name order."""
    entries = []
    for sidecar in sorted(Path(figure_dir).glob("*.json")):
        provenance = json.loads(sidecar.read_text())
        png = sidecar.with_suffix(".png")
        entries.append({"title": provenance["title"], "stem": sidecar.stem,
                        "png": base64.b64encode(png.read_bytes()).decode("ascii"), "provenance": provenance})
    return entries


def change_context(diff: dict[str, pd.DataFrame] | None, previous: str | None) -> dict | None:
    """Counts and the notable rows of the comparison with the previous cut (None for a first cut)."""
    if not diff:
        return None
    records, results, subjects = diff["records"], diff["results"], diff["subjects"]
    notable = results[(results["SIGNIFICANCE_FLIPPED"] == "Y") | results["STAT_NAME"].isin(["p", "estimate"])]
    notable = notable.sort_values(["SIGNIFICANCE_FLIPPED", "RECORDS_MOVED"], ascending=False).head(40)
    notable = notable.assign(AVISITN=notable["AVISITN"].map(_whole), GROUP=[group_label(r)
                                    for r in notable[["GROUP1_LEVEL", "COMPARATOR"]].fillna("").to_dict("records")])
    return {"previous": previous,
            "subjects": subjects["CHANGE"].value_counts().to_dict(),
            "records": (records.drop_duplicates(["DOMAIN", "KEY"]).groupby(["DOMAIN", "CHANGE"]).size()
                        .reset_index(name="N").to_dict("records")),
            "changed_values": records[records["CHANGE"] == "changed"].head(50).astype(str).to_dict("records"),
            "results_changed": int(len(results)), "flipped": int((results["SIGNIFICANCE_FLIPPED"] == "Y").sum()),
            "notable": notable.astype(object).where(notable.notna(), "").to_dict("records")}


def build_context(ard: pd.DataFrame, audit: pd.DataFrame, queries: pd.DataFrame, summary: pd.DataFrame, raw_files: dict,
                  figures: list[dict], config: dict, cut: str, code: dict, ard_file: dict,
                  diff: dict[str, pd.DataFrame] | None = None, previous: str | None = None,
                  adam: dict | None = None, built_utc: str | None = None) -> dict:
    tables = build_tables(ard, config)
    provenance = [table_provenance(t, ard_file, code, raw_files["files"]) for t in tables]
    by_check = (queries.groupby(["CHECK", "ACTION"]).size().reset_index(name="N").to_dict("records")
                if len(queries) else [])
    queries = queries.assign(**{c: queries[c].map(_whole) for c in ("ROW",) if c in queries},
                             **({} if "COLUMN" in queries else {"COLUMN": ""}))
    manifest = raw_files.get("manifest") or {}
    trial = load_trial(config)
    exposure = trial.exposure
    treatment = ", ".join(x for x in (exposure.route + (" " if exposure.route else "") + exposure.plural,
                                      exposure.schedule) if x)
    def condition(where: dict) -> str:
        return " and ".join(f"{k} = " + (" or ".join(map(str, v)) if isinstance(v, list) else str(v))
                            for k, v in where.items())
    selected = [f"{f['file']}: {f['rows_not_selected']} of {f['rows']} rows not selected (kept where "
                f"{condition(f['where'])})" + (f"; no row has {', '.join(f['where_values_absent'])}"
                                               if f.get("where_values_absent") else "")
                for f in raw_files["files"] if f.get("rows_not_selected")]
    merged = [f"{f['file']}: {f['records_merged']} qualifier records merged onto {f['merged_onto']}"
              for f in raw_files["files"] if "merged_onto" in f]
    return {
        "config": config, "cut": cut, "arms": list(trial.arm_names), "sections": SECTIONS, "treatment": treatment,
        "selected_rows": selected, "merged_files": merged,
        "section_id": section_id,
        "synthetic": bool(manifest.get("synthetic")), "synthetic_notice": manifest.get("notice", ""),
        "manifest_verified": bool(raw_files.get("manifest_verified", raw_files.get("manifest") is not None)),
        "unmapped_files": raw_files.get("unmapped_files", []),
        "tables": list(zip(tables, provenance)), "table_provenance": provenance,
        "queries": queries.to_dict("records"), "queries_by_check": by_check, "summary": summary.to_dict("records"),
        "figures": figures, "raw_files": raw_files["files"], "code": code, "ard_rows": len(ard), "ard_file": ard_file,
        "changes": change_context(diff, previous), "problems": problem_context(ard),
        "audit": audit.astype(object).where(audit.notna(), "").to_dict("records"),
        "audit_counts": audit["STATUS"].value_counts().to_dict(),
        "publication_cut": (config.get("publication") or {}).get("cut"),
        "built_utc": built_utc or _utc_now(),
        "adam": adam_context(adam),
    }


def adam_context(adam: dict | None) -> dict | None:
    """The analysis datasets section: each dataset with its records and variables (the data dictionary), the
    conformance rules run and their findings."""
    if adam is None:
        return None
    from ucmsc.conformance import CONFORMANCE_RULES

    dictionary, findings = adam["dictionary"], adam["conformance"]
    datasets = [{"name": name, "records": int(rows["RECORDS"].iloc[0]), "file": f"adam/xpt/{name.lower()}.xpt",
                 "variables": rows.astype(object).where(rows.notna(), "").to_dict("records")}
                for name, rows in dictionary.groupby("DATASET", sort=False)]
    return {"datasets": datasets, "findings": findings.to_dict("records"), "rules": len(CONFORMANCE_RULES),
            "errors": int((findings["SEVERITY"] == "ERROR").sum()) if len(findings) else 0}


def _environment() -> jinja2.Environment:
    from ucmsc.provenance import summary

    environment = jinja2.Environment(loader=jinja2.PackageLoader("ucmsc", "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.globals["provenance_summary"] = summary  # for _provenance.html.j2
    environment.filters["pretty_json"] = lambda record: json.dumps(record, indent=2, ensure_ascii=False)
    return environment


def render_report(context: dict) -> str:
    return _environment().get_template("report.html.j2").render(**context)


def render_index(entries: list[dict]) -> str:
    """The index page: one block of rows per trial (in the order given), one row per cut."""
    trials: dict[str, dict] = {}
    for entry in entries:
        trials.setdefault(entry["trial"], {"title": entry["title"], "trial": entry["trial"], "cuts": []})
        trials[entry["trial"]]["cuts"].append(entry)
    return _environment().get_template("index.html.j2").render(trials=list(trials.values()))


def index_entry(report_path: str | Path, title: str) -> dict:
    """One cut's row of the index, from the files its build wrote beside the report: the build date
    (report_build.json), whether the data are synthetic (the manifest, in ingest/raw_files.json) and the audit's
    status (audit.csv)."""
    from ucmsc.audit import audit_summary
    from ucmsc.io import read_table

    report_path = Path(report_path)
    folder = report_path.parent
    trial, cut = folder.parent.name, folder.name
    build = json.loads((folder / "report_build.json").read_text())
    manifest = json.loads((folder / "ingest" / "raw_files.json").read_text()).get("manifest") or {}
    audit = read_table(folder / "audit.csv", text_columns=("PUBLISHED", "REPRODUCED"))
    return {"trial": trial, "title": title, "cut": cut, "href": f"{trial}/{cut}/report.html",
            "built": build["built_utc"].replace("T", " ").replace("Z", " UTC"),
            "synthetic": bool(manifest.get("synthetic")), "audit": audit_summary(audit),
            "audit_flagged": bool(audit["STATUS"].isin(["mismatch", "missing"]).any())}


def run_report(paths: dict, config: dict, cut: str, previous: str | None, project_dir: Path, html_path: str,
               tables_provenance_path: str, log, build_path: str | None = None) -> None:
    """Stage runner: render one cut's report from its ARD, audit, queries, figures and (if any) cut comparison;
    ``build_path`` records when it was built and from which code (the index reads it)."""
    from ucmsc import provenance
    from ucmsc.io import read_table, write_json, write_text

    diff = None
    if paths.get("diff_results"):
        diff = {name: read_table(paths[f"diff_{name}"], text_columns=("OLD", "NEW"))
                for name in ("results", "records", "subjects")}
    context = build_context(
        ard=ardlib.read(paths["ard"]), audit=read_table(paths["audit"], text_columns=("PUBLISHED", "REPRODUCED")),
        queries=pd.concat([read_table(paths["queries"]), read_table(paths["derive_queries"])]).fillna(""),
        summary=read_table(paths["summary"]), raw_files=json.loads(Path(paths["raw_files"]).read_text()),
        figures=figure_entries(Path(paths["figures"])), config=config, cut=cut,
        code=provenance.code_version(project_dir),
        ard_file=provenance.file_entry(paths["ard"], "ARD"), diff=diff, previous=previous,
        adam={"dictionary": read_table(paths["adam_dictionary"]), "conformance": read_table(paths["conformance"])}
        if paths.get("adam_dictionary") else None)
    write_text(render_report(context), html_path)
    write_json(context["table_provenance"], tables_provenance_path)
    if build_path:
        write_json({"trial": config["trial"], "cut": cut, "built_utc": context["built_utc"], "code": context["code"]},
                   build_path)
    log.info("report written: %s (%d tables, %d figures)", html_path, len(context["tables"]), len(context["figures"]))


def run_index(report_paths: list[str], titles: dict[str, str], html_path: str) -> None:
    """Stage runner: the page linking every trial and cut's report."""
    from ucmsc.io import write_text

    entries = [index_entry(path, titles[Path(path).parent.parent.name]) for path in report_paths]
    write_text(render_index(entries), html_path)
