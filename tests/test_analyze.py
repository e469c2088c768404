"""The analysis methods on a hand-made trial of six subjects, every number worked out by hand."""

import math

import pandas as pd
import pytest

from ucmsc import ard as ardlib
from ucmsc.analyze import run_analyses

CONFIG = {
    "arms": [{"arm": "Cells", "armcd": "C", "role": "active"}, {"arm": "Saline", "armcd": "S", "role": "control"}],
    "visits": [
        {"visitnum": 0, "avisit": "Week 0", "day": 0, "window": 0},
        {"visitnum": 4, "avisit": "Week 4", "day": 28, "window": 3},
    ],
    "analyses": [
        {"id": "POP", "method": "populations"},
        {"id": "CONT", "method": "by_visit", "population": "FASFL", "parameters": ["GLUC"]},
        {"id": "WITHIN", "method": "within_arm", "population": "FASFL", "parameters": ["GLUC"]},
        {"id": "RESP", "method": "responders", "population": "FASFL", "parameters": ["TGT"]},
        {"id": "AE", "method": "adverse_events", "population": "SAFFL"},
    ],
    "families": {"f": {"analysis": "CONT", "parameters": ["GLUC"]}},
}
# subject, arm, FAS, glucose at weeks 0 and 4 (None: missing), HbA1c target met at week 4 (None: no value)
SUBJECTS = [
    ("S1", "Cells", "Y", 8.0, 7.0, 1),
    ("S2", "Cells", "Y", 9.0, 7.5, 1),
    ("S3", "Cells", "Y", 7.0, 6.9, None),
    ("S4", "Saline", "Y", 8.0, 8.5, 0),
    ("S5", "Saline", "Y", 8.5, 8.0, 1),
    ("S6", "Saline", "N", 9.0, None, None),
    ("S7", "Other", "N", 8.0, 6.0, 1),
]  # an arm the plan does not compare


def _datasets():
    adsl = pd.DataFrame(
        [
            {
                "USUBJID": s,
                "ARM": arm,
                "RANDFL": "Y" if arm != "Other" else "N",
                "SAFFL": "Y" if arm != "Other" else "N",
                "FASFL": fas,
                "PPROTFL": fas,
                "EOSSTT": "COMPLETED",
                "EXCLREAS": "" if arm != "Other" else "arm 'Other' is not compared by the plan",
                "AGE": 50.0 + int(s[1:]),
                "SEX": "M",
            }
            for s, arm, fas, *_ in SUBJECTS
        ]
    )
    bds = []
    for s, arm, _, base, week4, target in SUBJECTS:
        bds.append(
            {
                "USUBJID": s,
                "ARM": arm,
                "PARAMCD": "GLUC",
                "PARAM": "Glucose",
                "AVISITN": 0,
                "AVISIT": "Week 0",
                "AVAL": base,
                "BASE": base,
                "CHG": math.nan,
                "ANL01FL": "Y",
                "ABLFL": "Y",
            }
        )
        if week4 is not None:
            bds.append(
                {
                    "USUBJID": s,
                    "ARM": arm,
                    "PARAMCD": "GLUC",
                    "PARAM": "Glucose",
                    "AVISITN": 4,
                    "AVISIT": "Week 4",
                    "AVAL": week4,
                    "BASE": base,
                    "CHG": week4 - base,
                    "ANL01FL": "Y",
                    "ABLFL": "",
                }
            )
        if target is not None:
            bds.append(
                {
                    "USUBJID": s,
                    "ARM": arm,
                    "PARAMCD": "TGT",
                    "PARAM": "Target",
                    "AVISITN": 4,
                    "AVISIT": "Week 4",
                    "AVAL": float(target),
                    "BASE": math.nan,
                    "CHG": math.nan,
                    "ANL01FL": "Y",
                    "ABLFL": "",
                }
            )
    adae = pd.DataFrame(
        [
            {"USUBJID": "S1", "ARM": "Cells", "TRTEMFL": "Y", "AESER": "N", "AEDECOD": "Pyrexia", "AEBODSYS": "G"},
            {"USUBJID": "S1", "ARM": "Cells", "TRTEMFL": "Y", "AESER": "N", "AEDECOD": "Pyrexia", "AEBODSYS": "G"},
            {"USUBJID": "S4", "ARM": "Saline", "TRTEMFL": "", "AESER": "N", "AEDECOD": "Pyrexia", "AEBODSYS": "G"},
            {"USUBJID": "S7", "ARM": "Other", "TRTEMFL": "Y", "AESER": "N", "AEDECOD": "Pyrexia", "AEBODSYS": "G"},
        ]
    )
    return adsl, pd.DataFrame(bds), adae


@pytest.fixture(scope="module")
def ard():
    return run_analyses(*_datasets(), CONFIG, "T", "2020-01-01", "test")


MEDIAN_CONFIG = dict(CONFIG, summaries={"median": ["GLUC"]}, tests={"GLUC": {}}, analyses=[
    {"id": "BASELINE", "method": "baseline", "population": "FASFL", "parameters": ["GLUC"]}, *CONFIG["analyses"]])


@pytest.fixture(scope="module")
def median_ard():
    return run_analyses(*_datasets(), MEDIAN_CONFIG, "T", "2020-01-01", "test")


def _value(ard, **keys):
    return ardlib.value(ard, **keys)


def test_populations_by_arm_and_the_subjects_left_out(ard):
    assert _value(ard, ANALYSIS_ID="POP", PARAMCD="FASFL", GROUP1_LEVEL="Cells") == 3
    assert _value(ard, ANALYSIS_ID="POP", PARAMCD="FASFL", GROUP1_LEVEL="Saline") == 2
    assert _value(ard, ANALYSIS_ID="EXCL", GROUP1_LEVEL="Other") == 1
    assert set(ard["GROUP1_LEVEL"]) <= {"Cells", "Saline", "Other", ""}
    assert not ((ard["GROUP1_LEVEL"] == "Other") & (ard["ANALYSIS_ID"] != "EXCL")).any()


def test_value_and_change_by_visit_and_the_t_test(ard):
    # week 4, Cells: 7.0, 7.5, 6.9 -> mean 7.1333; Saline (FAS): 8.5, 8.0 -> mean 8.25; change Cells -1, -1.5, -0.1
    mean = _value(
        ard, ANALYSIS_ID="CONT", AVISITN=4, GROUP1_LEVEL="Cells", COMPARATOR="", VARIABLE="AVAL", STAT_NAME="mean"
    )
    assert mean == pytest.approx(21.4 / 3, rel=1e-12)
    change = _value(
        ard, ANALYSIS_ID="CONT", AVISITN=4, GROUP1_LEVEL="Cells", COMPARATOR="", VARIABLE="CHG", STAT_NAME="mean"
    )
    assert change == pytest.approx(-2.6 / 3, rel=1e-12)
    n = _value(ard, ANALYSIS_ID="CONT", AVISITN=4, GROUP1_LEVEL="Saline", COMPARATOR="", VARIABLE="AVAL", STAT_NAME="n")
    assert n == 2  # S6 is not in the full analysis set
    df = _value(
        ard,
        ANALYSIS_ID="CONT",
        AVISITN=4,
        GROUP1_LEVEL="Cells",
        COMPARATOR="Saline",
        VARIABLE="AVAL",
        METHOD="Student t-test",
        STAT_NAME="df",
    )
    assert df == 3  # 3 + 2 - 2
    # Student t by hand: s1^2 = 0.10333, s2^2 = 0.125; pooled (2 x 0.10333 + 1 x 0.125) / 3 = 0.110556
    t = (21.4 / 3 - 8.25) / math.sqrt((2 * (0.31 / 3) + 0.125) / 3 * (1 / 3 + 1 / 2))
    got = _value(
        ard,
        ANALYSIS_ID="CONT",
        AVISITN=4,
        GROUP1_LEVEL="Cells",
        COMPARATOR="Saline",
        VARIABLE="AVAL",
        METHOD="Student t-test",
        STAT_NAME="statistic",
    )
    assert got == pytest.approx(t, rel=1e-9)


def test_within_arm_change_counts_only_the_arm(ard):
    n_changes = ard[(ard["ANALYSIS_ID"] == "WITHIN") & (ard["STAT_NAME"] == "df") & (ard["METHOD"] == "Paired t-test")]
    assert n_changes.set_index("GROUP1_LEVEL")["VALUE"].to_dict() == {"Cells": 2, "Saline": 1}


def test_responders_count_a_subject_without_a_value_as_a_non_responder(ard):
    # Cells: S1, S2 met, S3 no value -> 2/3; Saline FAS: S4 not met, S5 met -> 1/2
    for arm, (n, total) in (("Cells", (2, 3)), ("Saline", (1, 2))):
        assert _value(ard, ANALYSIS_ID="RESP", GROUP1_LEVEL=arm, COMPARATOR="", STAT_NAME="n") == n
        assert _value(ard, ANALYSIS_ID="RESP", GROUP1_LEVEL=arm, COMPARATOR="", STAT_NAME="N") == total
    assert _value(ard, ANALYSIS_ID="RESP", COMPARATOR="Saline", STAT_NAME="estimate") == pytest.approx(2 / 3 - 1 / 2)


def test_adverse_events_count_subjects_once_and_only_treatment_emergent_events(ard):
    # Pyrexia: S1 twice (1 subject, 2 events) of 3 Cells; S4's event is not treatment-emergent; S7 is not compared
    keys = dict(ANALYSIS_ID="AE", PARAMCD="Pyrexia", COMPARATOR="")
    assert _value(ard, **keys, GROUP1_LEVEL="Cells", STAT_NAME="n") == 1
    assert _value(ard, **keys, GROUP1_LEVEL="Cells", STAT_NAME="events") == 2
    assert _value(ard, **keys, GROUP1_LEVEL="Saline", STAT_NAME="n") == 0
    assert _value(ard, **keys, GROUP1_LEVEL="Saline", STAT_NAME="N") == 3  # the safety population: S4, S5, S6
    assert _value(ard, ANALYSIS_ID="AE", PARAMCD="Pyrexia", COMPARATOR="Saline", STAT_NAME="estimate") == pytest.approx(
        1 / 3
    )


def test_a_family_adjusts_every_comparison_p_of_its_analysis(ard):
    p = ard[
        (ard["ANALYSIS_ID"] == "CONT") & (ard["STAT_NAME"] == "p") & (ard["COMPARATOR"] != "") & ard["VALUE"].notna()
    ]
    holm = ard[(ard["ANALYSIS_ID"] == "CONT") & (ard["STAT_NAME"] == "p_holm")]
    assert len(holm) == len(p) > 0 and set(holm["STAT_LABEL"]) == {f"Holm-adjusted P (family f, {len(p)} tests)"}
    smallest = p["VALUE"].min()
    assert holm["VALUE"].min() == pytest.approx(min(1.0, smallest * len(p)))  # Holm: smallest P times the family size
    assert not ard.duplicated(ardlib.KEYS).any()


def test_the_ard_in_the_cards_layout_keeps_every_statistic_and_its_groups(ard):
    """The pharmaverse cards layout (group1/group1_level, variable, context, stat_name, stat, warning, error)."""
    cards = ardlib.to_cards(ard)
    assert len(cards) == len(ard) and list(cards.columns[:8]) == ["group1", "group1_level", "group2", "group2_level",
                                                                   "group3", "group3_level", "group4", "group4_level"]
    named = {"variable", "variable_level", "context", "stat_name", "stat_label", "stat", "fmt_fn", "warning", "error"}
    assert named <= set(cards.columns)
    row = cards[(cards["context"] == "cont") & (cards["group1_level"] == "Cells") & (cards["group4_level"] == "Saline")
                & (cards["group3_level"] == "Week 4") & (cards["variable"] == "AVAL") & (cards["stat_name"] == "df")
                & (cards["method"] == "Student t-test")]
    assert row[["group1", "group2", "group2_level", "group4", "stat", "fmt_fn"]].values.tolist() == [
        ["ARM", "PARAMCD", "GLUC", "COMPARATOR", 3.0, 1]]
    assert (cards["stat"].isna() == ard["VALUE"].isna()).all()


def test_a_median_parameter_gets_the_hodges_lehmann_shift_beside_the_mann_whitney_p(median_ard, ard):
    # week 4, Cells 7.0, 7.5, 6.9 minus Saline 8.5, 8.0: differences -1.6, -1.5, -1.1, -1.0, -1.0, -0.5, median -1.05.
    # No ties, so R's exact CI: U of 3 vs 2 takes 0..6 in 1, 1, 2, 2, 2, 1, 1 of 10 orderings; P(U <= 0) = 0.1 is
    # already above 0.025, so the limits are the 1st and 6th differences, at level 1 - 2 x 0.1 = 0.8.
    keys = dict(ANALYSIS_ID="CONT", AVISITN=4, GROUP1_LEVEL="Cells", COMPARATOR="Saline", VARIABLE="AVAL",
                METHOD="Mann-Whitney U")
    got = {name: _value(median_ard, **keys, STAT_NAME=name) for name in ("estimate", "lcl", "ucl", "conf_level",
                                                                         "ci_exact")}
    assert got == {"estimate": pytest.approx(-1.05), "lcl": pytest.approx(-1.6), "ucl": pytest.approx(-0.5),
                   "conf_level": pytest.approx(0.8), "ci_exact": 1}
    assert _value(median_ard, **keys, STAT_NAME="p") == _value(ard, **keys, STAT_NAME="p")  # the P is unchanged
    mean_rows = ard[(ard["METHOD"] == "Mann-Whitney U")]  # GLUC summarised by mean: no Hodges-Lehmann rows
    assert set(mean_rows["STAT_NAME"]) == {"statistic", "p", "continuity", "p_holm", "p_bh"}
    # the t-test rows stay for every parameter (the audit reads them); baseline: the plan decides, no "skewed" flag
    assert _value(median_ard, **dict(keys, METHOD="Student t-test"), STAT_NAME="p") > 0
    baseline = median_ard[median_ard["ANALYSIS_ID"] == "BASELINE"]
    assert "skewed" not in set(baseline["STAT_NAME"])
    assert set(baseline.loc[baseline["METHOD"] == "Mann-Whitney U", "STAT_NAME"]) >= {"estimate", "lcl", "ucl"}


def test_a_median_parameter_gets_the_pseudo_median_of_the_change_within_arm(median_ard):
    # Cells changes -1.0, -1.5, -0.1: Walsh averages -1.5, -1.25, -1.0, -0.8, -0.55, -0.1, median -0.9. Exact (n 3,
    # no ties or zeros): V takes 0..6 in 1, 1, 1, 2, 1, 1, 1 of 8 sign patterns; P(V <= 0) = 0.125 > 0.025, so the
    # limits are the 1st and 6th averages, at level 1 - signif(2 x 0.125, 2) = 0.75 (as R).
    keys = dict(ANALYSIS_ID="WITHIN", AVISITN=4, GROUP1_LEVEL="Cells", COMPARATOR="", METHOD="Wilcoxon signed-rank")
    got = {name: _value(median_ard, **keys, STAT_NAME=name) for name in ("estimate", "lcl", "ucl", "conf_level")}
    assert got == {"estimate": pytest.approx(-0.9), "lcl": pytest.approx(-1.5), "ucl": pytest.approx(-0.1),
                   "conf_level": pytest.approx(0.75)}
    # Saline changes 0.5, -0.5: Walsh averages -0.5, 0, 0.5, median 0; |0.5| = |-0.5| is a tie: normal approximation
    saline = dict(keys, GROUP1_LEVEL="Saline")
    assert _value(median_ard, **saline, STAT_NAME="estimate") == 0
    assert _value(median_ard, **saline, STAT_NAME="ci_exact") == 0


def test_shift_table_counts_every_subject_of_the_arm_with_missing_levels():
    # (subject, arm, in the safety population, baseline ANRIND or None: no record, post-baseline ANRIND values)
    subjects = [
        ("A1", "Cells", "Y", "NORMAL", ["NORMAL", "HIGH"]),  # NORMAL>HIGH
        ("A2", "Cells", "Y", "LOW", ["LOW"]),  # LOW>LOW
        ("A3", "Cells", "Y", None, ["HIGH"]),  # no baseline record: MISSING>HIGH
        ("A4", "Cells", "Y", "HIGH", []),  # nothing after baseline: HIGH>MISSING
        ("A5", "Cells", "Y", "", ["LOW", "NORMAL"]),  # baseline without a range indicator: MISSING>LOW
        ("A6", "Cells", "Y", None, []),  # no record at all: MISSING>MISSING
        ("B1", "Saline", "Y", "NORMAL", ["LOW", "HIGH"]),  # worst is HIGH: NORMAL>HIGH
        ("B2", "Saline", "N", "LOW", ["HIGH"]),  # not in the population
        ("B3", "Saline", "Y", "NORMAL", [""]),  # post-baseline value without an indicator: NORMAL>MISSING
    ]
    adsl = pd.DataFrame([{"USUBJID": s, "ARM": arm, "RANDFL": "Y", "SAFFL": fl, "FASFL": fl, "PPROTFL": fl,
                          "EOSSTT": "COMPLETED", "EXCLREAS": ""} for s, arm, fl, *_ in subjects])
    record = dict(PARAMCD="ALT", PARAM="ALT (U/L)", AVAL=30.0, BASE=30.0, CHG=math.nan, ANL01FL="Y")
    bds = pd.DataFrame(
        [dict(record, USUBJID=s, ARM=arm, AVISITN=0, AVISIT="Week 0", ANRIND=b, ABLFL="Y")
         for s, arm, _, b, _ in subjects if b is not None]
        + [dict(record, USUBJID=s, ARM=arm, AVISITN=4 * (i + 1), AVISIT=f"Week {4 * (i + 1)}", ANRIND=w, ABLFL="")
           for s, arm, _, _, post in subjects for i, w in enumerate(post)])
    config = dict(CONFIG, analyses=[{"id": "SHIFT", "method": "shift", "population": "SAFFL", "parameters": ["ALT"]}],
                  families={})
    ard = run_analyses(adsl, bds, pd.DataFrame(columns=["USUBJID", "ARM"]), config, "T", "2020-01-01", "test")
    levels = ("LOW", "NORMAL", "HIGH", "MISSING")
    expected = {"Cells": {"NORMAL>HIGH": 1, "LOW>LOW": 1, "MISSING>HIGH": 1, "HIGH>MISSING": 1, "MISSING>LOW": 1,
                          "MISSING>MISSING": 1, "n": 2, "N": 6},
                "Saline": {"NORMAL>HIGH": 1, "NORMAL>MISSING": 1, "n": 1, "N": 2}}
    for arm, counts in expected.items():
        everything = ard[ard["GROUP1_LEVEL"] == arm].set_index("STAT_NAME")["VALUE"]
        pct = everything[everything.index.str.endswith("_pct")]
        got = everything.drop(pct.index)
        assert set(got.index) == {f"{b}>{w}" for b in levels for w in levels} | {"n", "N"}
        assert got.to_dict() == {name: counts.get(name, 0) for name in got.index}
        # each cell as % of N: Cells 1 of 6 = 16.67%, Saline 1 of 2 = 50%
        share = {"Cells": 100 / 6, "Saline": 50.0}[arm]
        assert pct.to_dict() == pytest.approx({f"{name}_pct": share * counts.get(name, 0) for name in got.index
                                               if name not in ("n", "N")})
        cells = got.drop(["n", "N"])
        assert cells.sum() == got["N"]
        assert cells[[f"{b}>{w}" for b in levels[:3] for w in levels[:3]]].sum() == got["n"]
