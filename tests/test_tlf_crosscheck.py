"""Independent cross-check of the printed tables (TLFs) against the ADaM datasets.

Every expected cell here is computed from the in-memory ADaM frames (ADSL, ADAE, the BDS) of the final data cuts with
plain pandas and hand-written formulas: never through ucmsc's analysis functions and never from the ARD. The tables
are the ones ``ucmsc.report.build_tables`` renders from the ARD; each test compares whole printed strings, so any
difference in a count, a percentage, a rounding or the order of rows fails it.

Display rules reproduced here (config/tlf/library.yaml, ucmsc.tlf): rounding half up (decimal.Decimal, ROUND_HALF_UP)
with a rounded zero printed without sign, percentages with one decimal, P-values with three decimals ("<0.001" below
0.001), means at the parameter's decimals (``decimals:`` of the trial's TLF file) and SDs with one more. SciPy is used
only for Student's t distribution (quantile and tail area); the statistics themselves are computed by hand.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from statistics import NormalDist

import pandas as pd
import pytest
import yaml
from scipy.stats import t as student_t

from conftest import FINAL_CUTS, ROOT, run_pipeline
from ucmsc import report

Z975 = NormalDist().inv_cdf(0.975)
SEVERITY = ["MILD", "MODERATE", "SEVERE"]
RELATED = {"POSSIBLY RELATED", "PROBABLY RELATED", "DEFINITELY RELATED", "RELATED"}
SHIFT_LEVELS = ["LOW", "NORMAL", "HIGH", "MISSING"]
ANY_TEAE = {"t2dm_safety": ["13 (54.2%) [18]", "5 (50.0%) [5]", "18 (52.9%) [23]"],
            "nafld_efficacy": ["10 (30.3%) [13]", "14 (43.8%) [18]", "24 (36.9%) [31]"]}
INFUSION_TITLE = "Treatment-emergent adverse events within 24 h after an infusion, by infusion number"


# --- formatting, as the shells print --------------------------------------------------------------------------------

def decimal(value) -> Decimal:
    """A float through its shortest repr (what prints as 0.0285 is 0.0285), a Fraction to 50 significant digits."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, Fraction):
        with localcontext() as context:
            context.prec = 50
            return Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(repr(float(value)))


def half_up(value, decimals: int) -> str:
    """``value`` rounded half up to ``decimals`` places; a rounded zero prints without sign (0.00, never -0.00)."""
    rounded = decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)
    return f"{rounded:.{decimals}f}"


def pct(n: int, total: int) -> str:
    """n of total as a percentage with one decimal, from the exact ratio."""
    return half_up(Decimal(100 * n) / Decimal(total), 1)


def p_text(p: float) -> str:
    return "<0.001" if p < 0.001 else half_up(p, 3)


def n_pct_events(frame: pd.DataFrame, total: int) -> str:
    n = frame["USUBJID"].nunique()
    return f"{n} ({pct(n, total)}%) [{len(frame)}]"


# --- hand-computed statistics ---------------------------------------------------------------------------------------

def wilson(x: int, n: int) -> tuple[float, float]:
    """Wilson score 95% limits of a proportion x/n."""
    p, z2 = x / n, Z975 ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z975 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float, float]:
    """Difference p1 - p2 and its Newcombe hybrid score 95% CI (Newcombe 1998, method 10)."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1)
    l2, u2 = wilson(x2, n2)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def diff_pct_text(x1: int, n1: int, x2: int, n2: int) -> str:
    """The difference in % with its 95% CI as printed: "4.2 (-28.4, 36.0)"."""
    d, lcl, ucl = (half_up(100 * v, 1) for v in newcombe(x1, n1, x2, n2))
    return f"{d} ({lcl}, {ucl})"


def fisher_two_sided(x1: int, n1: int, x2: int, n2: int) -> float:
    """Fisher's exact test of a 2x2 table, two-sided as R: the tables no more probable than the one observed."""
    successes, total = x1 + x2, n1 + n2

    def prob(k: int) -> float:
        return math.comb(n1, k) * math.comb(n2, successes - k) / math.comb(total, successes)

    observed = prob(x1)
    support = range(max(0, successes - n2), min(n1, successes) + 1)
    return min(1.0, sum(prob(k) for k in support if prob(k) <= observed * (1 + 1e-7)))


def responder_p(x1: int, n1: int, x2: int, n2: int) -> tuple[float, bool]:
    """The responders table's P: Fisher exact when an expected count is below 5, else Pearson chi-square (no
    continuity correction; 1 df, upper tail erfc(sqrt(X2 / 2))). Returns (P, Fisher used)."""
    a, b, c, d = x1, n1 - x1, x2, n2 - x2
    total = n1 + n2
    expected = [r * s / total for r in (n1, n2) for s in (a + c, b + d)]
    if min(expected) < 5:
        return fisher_two_sided(x1, n1, x2, n2), True
    chi2 = total * (a * d - b * c) ** 2 / (n1 * n2 * (a + c) * (b + d))
    return math.erfc(math.sqrt(chi2 / 2)), False


def exact_sqrt(value: Fraction) -> Decimal:
    with localcontext() as context:
        context.prec = 50
        return decimal(value).sqrt()


def moments(values: list[Fraction]) -> tuple[int, Fraction, Fraction]:
    """n, mean and variance (n - 1 denominator) in exact arithmetic, of values given exactly (``exact_values``): a
    mean that is exactly a half at the printed decimals (2.475) rounds up, whatever a floating-point sum gives."""
    x = list(values)
    n = len(x)
    mean = sum(x, Fraction(0)) / n
    variance = sum(((v - mean) ** 2 for v in x), Fraction(0)) / (n - 1) if n > 1 else None
    return n, mean, variance


def mean_sd(values: list[Fraction]) -> tuple[int, Fraction, Decimal]:
    n, mean, variance = moments(values)
    return n, mean, exact_sqrt(variance) if variance is not None else Decimal("NaN")


def student(active: list[Fraction], control: list[Fraction]) -> tuple[Fraction, float, float, float]:
    """Difference in means (active - control), its 95% CI and the two-sided P of Student's t-test (pooled
    variance), by formula; SciPy only for the t distribution's quantile and tail area."""
    n1, m1, v1 = moments(active)
    n2, m2, v2 = moments(control)
    df = n1 + n2 - 2
    pooled = ((n1 - 1) * v1 + (n2 - 1) * v2) / df
    se = float(exact_sqrt(pooled * (Fraction(1, n1) + Fraction(1, n2))))
    diff = m1 - m2
    q = student_t.ppf(0.975, df)
    return diff, float(diff) - q * se, float(diff) + q * se, 2 * student_t.sf(abs(float(diff) / se), df)


def paired_p(change: list[Fraction]) -> float:
    n, mean, sd = mean_sd(change)
    return 2 * student_t.sf(abs(float(mean) / (float(sd) / math.sqrt(n))), n - 1)


# --- the tables as printed ------------------------------------------------------------------------------------------

def find(tables, output_id: str, title: str):
    """The table of a TLF output id (stable where numbers may be reassigned), checked by its title."""
    matches = [t for t in tables if t.id == output_id]
    assert len(matches) == 1, f"{output_id}: {len(matches)} tables"
    assert matches[0].title == title, matches[0].number
    return matches[0]


def printed(output) -> list[tuple[str, int, list[str]]]:
    return [(row.label, row.depth, list(row.cells)) for row in output.rows]


def tree(output) -> dict[tuple[str, ...], list[str]]:
    """Each row's cells by its path of labels (the labels of the rows it is nested in, then its own)."""
    paths, stack = {}, []
    for row in output.rows:
        assert row.depth <= len(stack), f"{output.number}: {row.label!r} skips a level"
        stack = stack[:row.depth] + [row.label]
        assert tuple(stack) not in paths, f"{output.number}: row {stack} printed twice"
        paths[tuple(stack)] = list(row.cells)
    return paths


def display(label: str) -> str:
    """A parameter label with its unit as printed (10^9 -> 10⁹, umol -> µmol, (C) -> (°C))."""
    return label.replace("10^9", "10⁹").replace("(umol/", "(µmol/").replace("(C)", "(°C)")


@dataclass
class Cut:
    trial: str
    config: dict
    tlf: dict
    adsl: pd.DataFrame
    adae: pd.DataFrame
    bds: pd.DataFrame
    tables: list

    @property
    def arms(self) -> list[str]:
        """Active arms first, then control: the tables' column order."""
        arms = self.config["arms"]
        return [a["arm"] for a in arms if a["role"] != "control"] + [a["arm"] for a in arms if a["role"] == "control"]

    def population(self, flag: str) -> pd.DataFrame:
        return self.adsl.loc[self.adsl[flag] == "Y", ["USUBJID", "ARM", "NUMDOSE"]]

    def sizes(self, flag: str) -> dict[str, int]:
        pop = self.population(flag)
        return {arm: int((pop["ARM"] == arm).sum()) for arm in self.arms}

    def analysis(self, analysis_id: str) -> dict:
        return next(a for a in self.config["analyses"] if a["id"] == analysis_id)

    def teae(self) -> pd.DataFrame:
        """Treatment-emergent events of the safety population, with the subject's arm from ADSL."""
        events = self.adae[self.adae["TRTEMFL"] == "Y"].drop(columns=["ARM", "SAFFL"], errors="ignore")
        return events.merge(self.population("SAFFL")[["USUBJID", "ARM"]], on="USUBJID", how="inner")

    def analysed(self, paramcd: str, flag: str) -> pd.DataFrame:
        """BDS records of a parameter flagged for analysis (ANL01FL), subjects of the population, arm from ADSL."""
        records = self.bds[(self.bds["PARAMCD"] == paramcd)]
        if "ANL01FL" in records:
            records = records[records["ANL01FL"] == "Y"]
        return records.drop(columns=["ARM"]).merge(self.population(flag)[["USUBJID", "ARM"]], on="USUBJID")


def load_cut(trial: str, trial_configs: dict) -> Cut:
    config = trial_configs[trial]
    run = run_pipeline(trial, FINAL_CUTS[trial], config)
    bds = run["bds"]
    if isinstance(bds, dict):
        bds = pd.concat(bds.values(), ignore_index=True)
    tables = report.build_tables(run["ard"], config)
    shells = yaml.safe_load((ROOT / config["tlf"]).read_text())
    return Cut(trial, config, shells, run["adsl"], run["adae"], bds, tables)


@pytest.fixture(scope="module")
def t2dm(trial_configs) -> Cut:
    return load_cut("t2dm_safety", trial_configs)


@pytest.fixture(scope="module")
def nafld(trial_configs) -> Cut:
    return load_cut("nafld_efficacy", trial_configs)


@pytest.fixture(params=sorted(FINAL_CUTS))
def cut(request) -> Cut:
    """Each trial's final cut in turn (for the adverse-event tables both trials print)."""
    return request.getfixturevalue({"t2dm_safety": "t2dm", "nafld_efficacy": "nafld"}[request.param])


def arm_headers(cut: Cut, flag: str, total: bool) -> list[str]:
    sizes = cut.sizes(flag)
    return [f"{arm} (N={sizes[arm]})" for arm in cut.arms] + ([f"Total (N={sum(sizes.values())})"] if total else [])


# --- adverse events (both trials; the published fevers: T2DM) ----------------------------------------------------

def test_teae_flag_is_onset_on_or_after_first_dose(cut):
    """The flag every AE table relies on: TRTEMFL = Y exactly when the onset (ASTDTM) is on or after the subject's
    first dose (ADSL TRTSDTM), as the overview's footnote defines it."""
    events = cut.adae.merge(cut.adsl[["USUBJID", "TRTSDTM"]], on="USUBJID")
    expected = (events["ASTDTM"].notna() & events["TRTSDTM"].notna() & (events["ASTDTM"] >= events["TRTSDTM"]))
    assert list(expected.map({True: "Y", False: ""})) == list(events["TRTEMFL"].fillna(""))


def test_ae_overview(cut):
    table = find(cut.tables, "ae_overview", "Overview of treatment-emergent adverse events")
    assert table.header == ["", *arm_headers(cut, "SAFFL", total=True), "Difference in % (95% CI)", "P"]
    sizes, teae = cut.sizes("SAFFL"), cut.teae()
    active, control = cut.arms
    safety = cut.adsl[cut.adsl["SAFFL"] == "Y"]
    assert (safety["ARM"] == safety["TRT01A"]).all()  # as randomised = as treated: ARM is the safety arm too
    left = safety[safety["DCSREAS"].fillna("").str.upper() == "ADVERSE EVENT"]
    subsets = {"Any treatment-emergent adverse event": teae,
               "TEAE related to study treatment": teae[teae["AEREL"].isin(RELATED)],
               "Severe TEAE": teae[teae["AESEV"] == "SEVERE"],
               "Serious TEAE": teae[teae["AESER"] == "Y"],
               "Discontinued the study because of an adverse event": left,
               "TEAE leading to death": teae[teae["AEOUT"] == "FATAL"]}
    assert [row.label for row in table.rows] == list(subsets)
    rows = tree(table)
    for label, events in subsets.items():
        by_arm = {arm: events[events["ARM"] == arm] for arm in cut.arms}
        x1, x2 = by_arm[active]["USUBJID"].nunique(), by_arm[control]["USUBJID"].nunique()
        counted = [n_pct_events(by_arm[arm], sizes[arm]) for arm in cut.arms] + [
            n_pct_events(events, sum(sizes.values()))]
        if events is left:  # a subject's status, not events: no [events]
            counted = [re.sub(r" \[\d+\]$", "", cell) for cell in counted]
        expected = counted + [diff_pct_text(x1, sizes[active], x2, sizes[control]),
                              p_text(fisher_two_sided(x1, sizes[active], x2, sizes[control]))]
        assert rows[(label,)] == expected, label
    # The headline figures, written out (T2DM: 13 of 24 hUC-MSC subjects with 18 events, 5 of 10 on placebo with 5).
    assert rows[("Any treatment-emergent adverse event",)][:3] == ANY_TEAE[cut.trial]


def test_ae_by_soc_and_pt(cut):
    table = find(cut.tables, "ae_soc_pt", "Treatment-emergent adverse events by system organ class and preferred term")
    assert table.header == ["System organ class / preferred term", *arm_headers(cut, "SAFFL", total=True)]
    sizes, teae = cut.sizes("SAFFL"), cut.teae()
    total = sum(sizes.values())

    def cells(events: pd.DataFrame) -> list[str]:
        return [n_pct_events(events[events["ARM"] == arm], sizes[arm]) for arm in cut.arms] + [
            n_pct_events(events, total)]

    def by_frequency(events: pd.DataFrame, column: str) -> list[str]:
        subjects = events.groupby(column)["USUBJID"].nunique()
        return sorted(subjects.index, key=lambda term: (-subjects[term], term))

    expected = [("Any treatment-emergent adverse event", 0, cells(teae))]
    for soc in by_frequency(teae, "AEBODSYS"):
        in_soc = teae[teae["AEBODSYS"] == soc]
        expected.append((soc, 0, cells(in_soc)))
        expected += [(pt, 1, cells(in_soc[in_soc["AEDECOD"] == pt])) for pt in by_frequency(in_soc, "AEDECOD")]
    assert printed(table) == expected


def test_ae_within_24h_by_infusion(cut):
    table = find(cut.tables, "ae_infusion", INFUSION_TITLE)
    assert table.header == ["Infusion / preferred term", *arm_headers(cut, "SAFFL", total=True)]
    pop, sizes = cut.population("SAFFL"), cut.sizes("SAFFL")
    window = cut.teae()
    window = window[window["INF24FL"] == "Y"]
    total = sum(sizes.values())
    expected = [("Any TEAE within 24 h after any infusion", 0,
                 [n_pct_events(window[window["ARM"] == arm], sizes[arm]) for arm in cut.arms]
                 + [n_pct_events(window, total)])]

    def cells(events: pd.DataFrame, received: pd.DataFrame) -> list[str]:
        out = []
        for arm in [*cut.arms, None]:
            mine = events if arm is None else events[events["ARM"] == arm]
            n_arm = len(received) if arm is None else int((received["ARM"] == arm).sum())
            n = mine["USUBJID"].nunique()
            out.append(f"{n}/{n_arm} ({pct(n, n_arm)}%) [{len(mine)}]")
        return out

    terms = sorted(window["AEDECOD"].unique())
    for k in range(1, int(pop["NUMDOSE"].max()) + 1):
        received = pop[pop["NUMDOSE"] >= k]
        at_k = window[window["LDOSENUM"] == k]
        expected.append((f"TEAE within 24 h after infusion {k}", 0, cells(at_k, received)))
        counts = {pt: at_k.loc[at_k["AEDECOD"] == pt, "USUBJID"].nunique() for pt in terms}
        expected += [(pt, 1, cells(at_k[at_k["AEDECOD"] == pt], received))
                     for pt in sorted(terms, key=lambda pt: (-counts[pt], pt))]
    assert printed(table) == expected


def test_published_fevers_after_second_or_third_infusion(t2dm):
    """Lian et al. 2023: four fevers within 24 h after the 2nd or 3rd infusion in the hUC-MSC arm, none on placebo."""
    active, control = t2dm.arms
    window = t2dm.teae()
    window = window[window["INF24FL"] == "Y"]
    fevers = window[window["AEDECOD"] == "Pyrexia"]
    assert len(fevers[fevers["ARM"] == active]) == 4
    assert set(fevers.loc[fevers["ARM"] == active, "LDOSENUM"]) <= {2, 3}
    assert len(fevers[fevers["ARM"] == control]) == 0

    rows = tree(find(t2dm.tables, "ae_infusion", INFUSION_TITLE))
    events = {k: [int(re.search(r"\[(\d+)\]$", cell).group(1))
                  for cell in rows[(f"TEAE within 24 h after infusion {k}", "Pyrexia")][:2]] for k in (1, 2, 3)}
    assert events[1] == [0, 0]
    assert [events[2][0] + events[3][0], events[2][1] + events[3][1]] == [4, 0]
    assert rows[("Any TEAE within 24 h after any infusion",)][:2] == ["4 (16.7%) [4]", "0 (0.0%) [0]"]


def test_window_flag_is_onset_within_24h_after_last_dose(cut):
    """INF24FL = Y exactly for the treatment-emergent events with onset 0 to 24 h after the last dose before it
    (ADAE LDOSEDTM). (T2DM: S006's upper respiratory infection, 24 h 6 min after infusion 2, is outside.)"""
    teae = cut.teae()
    hours = (teae["ASTDTM"] - teae["LDOSEDTM"]).dt.total_seconds() / 3600
    expected = (hours >= 0) & (hours <= 24)
    assert list(expected.map({True: "Y", False: ""})) == list(teae["INF24FL"].fillna(""))


def test_ae_by_maximum_severity(cut):
    table = find(cut.tables, "ae_severity", "Treatment-emergent adverse events by maximum severity")
    assert table.header == ["Preferred term / grade", *arm_headers(cut, "SAFFL", total=True)]
    sizes, teae = cut.sizes("SAFFL"), cut.teae()
    total = sum(sizes.values())
    teae = teae.assign(GRADE=teae["AESEV"].map(SEVERITY.index))
    assert teae["GRADE"].notna().all()

    def block(label: str, events: pd.DataFrame) -> list[tuple[str, int, list[str]]]:
        worst = events.groupby(["USUBJID", "ARM"], as_index=False)["GRADE"].max()
        lines = [(label, 0, ["", "", ""])]
        for grade, name in enumerate(SEVERITY):
            at = worst[worst["GRADE"] == grade]
            counts = [int((at["ARM"] == arm).sum()) for arm in cut.arms]
            lines.append((name.capitalize(), 1, [f"{n} ({pct(n, sizes[arm])}%)" for n, arm in zip(counts, cut.arms)]
                          + [f"{len(at)} ({pct(len(at), total)}%)"]))
        return lines

    subjects = teae.groupby("AEDECOD")["USUBJID"].nunique()
    expected = block("Any treatment-emergent adverse event", teae)
    for pt in sorted(subjects.index, key=lambda term: (-subjects[term], term)):
        expected += block(pt, teae[teae["AEDECOD"] == pt])
    assert printed(table) == expected


# --- T2DM safety trial: laboratory tables ---------------------------------------------------------------------------

def exact_values(records: pd.DataFrame, variable: str) -> list[Fraction]:
    """AVAL as the decimals recorded; CHG as AVAL - BASE in exact arithmetic (the CHG column carries binary noise:
    1.23 - 1.2 = 0.030000000000000027), checked against the column."""
    aval = [Fraction(decimal(v)) for v in records["AVAL"]]
    if variable == "AVAL":
        return aval
    change = [a - Fraction(decimal(b)) for a, b in zip(aval, records["BASE"])]
    assert all(abs(float(c) - v) < 1e-9 for c, v in zip(change, records["CHG"]))
    return change


def by_visit_expected(cut: Cut, paramcd: str, flag: str, within: bool) -> list[tuple[str, int, list[str]]]:
    """The by-visit table of a mean (SD) parameter: n and mean (SD) of AVAL and CHG per arm and visit, Student's
    t-test difference (95% CI) and P, and (``within``) the paired t-test P of the change within each arm."""
    decimals = cut.tlf["decimals"].get(paramcd, cut.tlf["decimals"]["default"])
    records = cut.analysed(paramcd, flag)
    active, control = cut.arms
    lines = []
    for visitn in sorted(records["AVISITN"].unique()):
        at_visit = records[records["AVISITN"] == visitn]
        lines.append((at_visit["AVISIT"].iloc[0], 0, ["", "", "", ""]))
        for variable, label in (("AVAL", "Value"), ("CHG", "Change from baseline")):
            values = {arm: exact_values(at_visit[(at_visit["ARM"] == arm) & at_visit[variable].notna()], variable)
                      for arm in cut.arms}
            if not any(values.values()):
                continue
            stats = {arm: mean_sd(values[arm]) for arm in cut.arms}
            diff, lcl, ucl, p = student(values[active], values[control])
            lines += [(label, 1, ["", "", "", ""]),
                      ("n", 2, [str(stats[arm][0]) for arm in cut.arms] + ["", ""]),
                      ("Mean (SD)", 2, [f"{half_up(stats[arm][1], decimals)} ({half_up(stats[arm][2], decimals + 1)})"
                                        for arm in cut.arms]
                       + [f"{half_up(diff, decimals)} ({half_up(lcl, decimals)}, {half_up(ucl, decimals)})",
                          p_text(p)])]
            if variable == "CHG" and within:
                lines.append(("P within arm (paired t-test)", 2,
                              [p_text(paired_p(values[arm])) for arm in cut.arms] + ["", ""]))
    return lines


BY_VISIT = {"labs_by_visit": "{PARAM}: laboratory value and change from baseline by visit",
            "liver_by_visit": "Liver function, {PARAM}: value and change from baseline by visit",
            "vitals_by_visit": "Vital signs, {PARAM}: value and change from baseline by visit"}


def by_visit_table(cut: Cut, output_id: str, paramcd: str):
    """The by-visit table of one parameter (one output per parameter: ids <output_id>.1, .2, ...), by its title."""
    label = cut.bds.loc[cut.bds["PARAMCD"] == paramcd, "PARAM"].iloc[0]
    title = BY_VISIT[output_id].format(PARAM=display(label))
    matches = [t for t in cut.tables if t.id.startswith(output_id + ".") and t.title == title]
    assert len(matches) == 1, title
    return matches[0]


def test_lymphocytes_by_visit(t2dm):
    table = by_visit_table(t2dm, "labs_by_visit", "LYM")
    assert table.title == "Lymphocytes (10⁹/L): laboratory value and change from baseline by visit"
    assert table.header == ["Visit", *arm_headers(t2dm, "SAFFL", total=False), "Difference (95% CI)", "P"]
    assert printed(table) == by_visit_expected(t2dm, "LYM", "SAFFL", within=True)
    # Spelled out: the fall at week 2 in the hUC-MSC arm.
    rows = tree(table)
    assert rows[("Week 2", "Value", "Mean (SD)")] == ["1.41 (0.556)", "2.04 (0.553)", "-0.63 (-1.06, -0.21)", "0.005"]


def mean_parameters(cut: Cut, analysis_id: str) -> list[str]:
    """The analysis' parameters summarised by mean (SD): not listed under the trial's ``summaries: median``."""
    median = set((cut.config.get("summaries") or {}).get("median", []))
    return [p for p in cut.analysis(analysis_id)["parameters"] if p not in median]


# Every parameter of the laboratory (CONT, with the within-arm P), liver (LIVER) and vital-sign (VITALS) by-visit
# tables that the plan summarises by mean (SD); those summarised by median print Hodges-Lehmann shifts, not checked.
MEAN_SD_TABLES = {"labs_by_visit": ("CONT", ["LYM", "NEUT", "PLAT", "IGG", "IGA", "IGM", "TT", "FIBRINO", "CHOL",
                                             "HDL", "LDL", "GLUC", "HBA1C", "TYG"]),
                  "liver_by_visit": ("LIVER", ["ALB"]),
                  "vitals_by_visit": ("VITALS", ["SYSBP", "DIABP", "PULSE", "TEMP", "WEIGHT"])}

# Means (and differences of means) that are exactly a half at the printed decimals, computed from the recorded values
# in exact arithmetic (IGA week 1, placebo: the ten values sum to 24.75, mean 2.475; the float mean is
# 2.4749999999999996). Half up, as SAS's fuzzed ROUND gives, prints 2.48; a plain half-up on the binary value printed
# 2.47. Key: (PARAMCD, visit, "Value" or "Change from baseline", column) with column 0 the active arm, 1 placebo, 2 the
# difference; value: the cell as printed.
HALF_TIES = {
    ("NEUT", "Week 1", "Change from baseline", 1): "-0.01 (0.788)",
    ("IGA", "Week 1", "Value", 1): "2.48 (0.811)",
    ("IGA", "Week 2", "Change from baseline", 1): "-0.02 (0.584)",
    ("CHOL", "Week 12", "Change from baseline", 0): "0.03 (0.517)",
    ("HDL", "Week 4", "Change from baseline", 1): "0.01 (0.153)",
    ("DIABP", "Week 1", "Value", 2): "-1.4 (-8.3, 5.6)",
    ("TEMP", "Week 4", "Change from baseline", 0): "0.03 (0.310)",
    ("TEMP", "Week 4", "Change from baseline", 2): "0.04 (-0.20, 0.27)",
    ("TEMP", "Week 12", "Change from baseline", 0): "-0.03 (0.285)",
}


def test_mean_sd_parameter_lists_follow_the_plan(t2dm):
    for output_id, (analysis_id, parameters) in MEAN_SD_TABLES.items():
        assert parameters == mean_parameters(t2dm, analysis_id), output_id


@pytest.mark.parametrize("output_id, analysis_id, paramcd",
                         [pytest.param(output_id, analysis_id, paramcd, id=paramcd)
                          for output_id, (analysis_id, parameters) in MEAN_SD_TABLES.items()
                          for paramcd in parameters])
def test_mean_sd_parameter_by_visit(t2dm, output_id, analysis_id, paramcd):
    """The whole by-visit table of the parameter against the independent computation."""
    table = by_visit_table(t2dm, output_id, paramcd)
    assert table.header == ["Visit", *arm_headers(t2dm, "SAFFL", total=False), "Difference (95% CI)", "P"]
    assert printed(table) == by_visit_expected(t2dm, paramcd, "SAFFL", within=analysis_id == "CONT")


@pytest.mark.parametrize("key", list(HALF_TIES), ids=lambda key: "-".join(map(str, key)).replace(" ", ""))
def test_an_exact_half_mean_prints_rounded_up(t2dm, key):
    paramcd, visit, section, column = key
    output_id = next(o for o, (_, parameters) in MEAN_SD_TABLES.items() if paramcd in parameters)
    got = tree(by_visit_table(t2dm, output_id, paramcd))
    assert got[(visit, section, "Mean (SD)")][column] == HALF_TIES[key]


def test_lab_shift_table(t2dm):
    table = find(t2dm.tables, "lab_shift", "Shift from baseline to the worst post-baseline reference-range indicator")
    assert table.header == ["Parameter / arm / baseline"] + [f"Worst post-baseline: {level.title()}"
                                                             for level in SHIFT_LEVELS]
    sizes = t2dm.sizes("SAFFL")
    expected = []
    for paramcd in t2dm.analysis("SHIFT")["parameters"]:
        records = t2dm.analysed(paramcd, "SAFFL")
        records = records.assign(ANRIND=records["ANRIND"].fillna("").astype(str))
        expected.append((display(records["PARAM"].iloc[0]), 0, ["", "", "", ""]))
        base = records[records["ABLFL"] == "Y"].set_index("USUBJID")
        base_visit = base["AVISITN"]
        post = records[records["AVISITN"] > records["USUBJID"].map(base_visit)]
        post = post[post["ANRIND"] != ""]

        def worst(levels: pd.Series) -> str:
            return next(level for level in ("HIGH", "LOW", "NORMAL") if (levels == level).any())

        worst_post = post.groupby("USUBJID")["ANRIND"].agg(worst)
        baseline = base["ANRIND"].where(base["ANRIND"] != "")
        for arm in t2dm.arms:
            subjects = t2dm.population("SAFFL").loc[lambda s, a=arm: s["ARM"] == a, "USUBJID"]
            row_level = subjects.map(baseline).fillna("MISSING")
            col_level = subjects.map(worst_post).fillna("MISSING")
            both = int(((row_level != "MISSING") & (col_level != "MISSING")).sum())
            expected.append((f"{arm} (N = {sizes[arm]}; n = {both})", 1, ["", "", "", ""]))
            for level in SHIFT_LEVELS:
                counts = [int(((row_level == level) & (col_level == col)).sum()) for col in SHIFT_LEVELS]
                expected.append((f"Baseline {level.title()}", 2, [f"{c} ({pct(c, sizes[arm])}%)" for c in counts]))
    assert printed(table) == expected
    # Spelled out: lymphocytes, hUC-MSC arm, normal at baseline: 10 fell below normal, 12 stayed, 1 rose above.
    assert tree(table)[("Lymphocytes (10⁹/L)", "hUC-MSC (N = 24; n = 24)", "Baseline Normal")] == [
        "10 (41.7%)", "12 (50.0%)", "1 (4.2%)", "0 (0.0%)"]


# --- NAFLD efficacy trial: responders -------------------------------------------------------------------------------

def test_hba1c_target_parameter_matches_hba1c_values(nafld):
    """HBA1CTGT (AVALC Y/N, AVAL 1/0) is HbA1c (AVAL) below 7.0 % at the same subject and visit."""
    target = nafld.analysed("HBA1CTGT", "FASFL")
    hba1c = nafld.analysed("HBA1C", "FASFL")[["USUBJID", "AVISITN", "AVAL"]].rename(columns={"AVAL": "HBA1C"})
    merged = target.merge(hba1c, on=["USUBJID", "AVISITN"], how="outer", validate="one_to_one")
    assert merged["AVALC"].notna().all() and merged["HBA1C"].notna().all()
    assert list(merged["AVALC"]) == list((merged["HBA1C"] < 7.0).map({True: "Y", False: "N"}))
    assert list(merged["AVAL"]) == list((merged["AVALC"] == "Y").astype(float))


def test_responders_by_visit(nafld):
    table = find(nafld.tables, "responders", "Responders by visit")
    flag = nafld.analysis("RESP")["population"]
    assert table.header == ["Endpoint / visit", *arm_headers(nafld, flag, total=False), "Difference in % (95% CI)",
                            "P"]
    sizes = nafld.sizes(flag)
    active, control = nafld.arms
    expected = []
    for paramcd in nafld.analysis("RESP")["parameters"]:
        records = nafld.analysed(paramcd, flag)
        expected.append((records["PARAM"].iloc[0], 0, ["", "", "", ""]))
        for visitn in sorted(v for v in records["AVISITN"].unique() if v > 0):
            at_visit = records[records["AVISITN"] == visitn]
            # non-responder imputation: the denominator is the whole arm, a subject without a value is a "no"
            x = {arm: at_visit.loc[(at_visit["ARM"] == arm) & (at_visit["AVALC"] == "Y"), "USUBJID"].nunique()
                 for arm in nafld.arms}
            p, _fisher = responder_p(x[active], sizes[active], x[control], sizes[control])
            expected.append((at_visit["AVISIT"].iloc[0], 1,
                             [f"{x[arm]}/{sizes[arm]} ({pct(x[arm], sizes[arm])}%)" for arm in nafld.arms]
                             + [diff_pct_text(x[active], sizes[active], x[control], sizes[control]), p_text(p)]))
    assert printed(table) == expected
    # Spelled out: HbA1c < 7.0 % at week 48, 16 of 33 on UC-MSC against 4 of 32 on placebo.
    assert tree(table)[("HbA1c < 7.0 %", "Week 48")][:3] == ["16/33 (48.5%)", "4/32 (12.5%)", "36.0 (13.7, 53.9)"]


@pytest.mark.parametrize("counts, limits", [((56, 70, 48, 80), (0.2, 0.0524, 0.3339)),
                                            ((9, 10, 3, 10), (0.6, 0.1705, 0.8090)),
                                            ((5, 56, 0, 29), (0.0893, -0.0381, 0.1926)),
                                            ((0, 10, 0, 10), (0.0, -0.2775, 0.2775)),
                                            ((10, 10, 0, 10), (1.0, 0.6075, 1.0))])
def test_newcombe_reference_values(counts, limits):
    """The hand-written interval these tests use, against Newcombe (1998, Stat Med 17:873), Table II, method 10."""
    assert tuple(round(v, 4) for v in newcombe(*counts)) == limits


def test_fisher_reference_values():
    """The hand-written Fisher test against R's fisher.test: the tea-tasting table (3 of 4 against 1 of 4), P = 34/70;
    the T2DM overview's rows, any TEAE (13/24 against 5/10) P = 1 and related TEAE (5/24 against 0/10, tails not
    symmetric) P = 0.290797."""
    assert fisher_two_sided(3, 4, 1, 4) == pytest.approx(34 / 70, rel=1e-12)
    assert fisher_two_sided(13, 24, 5, 10) == pytest.approx(1.0)
    assert fisher_two_sided(5, 24, 0, 10) == pytest.approx(0.290797, abs=5e-7)
    assert fisher_two_sided(0, 24, 0, 10) == 1.0
