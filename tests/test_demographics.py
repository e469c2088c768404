"""Demographics by arm and Total, and ADSL groups by cut points, on hand-made ADSL frames: every number by hand."""

import math

import jsonschema
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from ucmsc import ard as ardlib
from ucmsc import report
from ucmsc.analyze import run_analyses
from ucmsc.config import load_yaml
from ucmsc.derive import derive_vars_groups
from ucmsc.validate import trial_config_problems

AGEGR1 = {"variable": "AGE", "label": "Age group (years)", "cuts": [65, 80], "labels": ["<65", "65-80", ">80"],
          "closed": ["left", "right"]}  # the CDISC pilot's: 65 and 80 are both in 65-80
OPTIONS = {"continuous": ["AGE", "WEIGHTBL"], "categorical": ["AGEGR1", "SEX", "RACE", "ETHNIC"],
           "levels": {"SEX": ["F", "M", "U"]}, "labels": {"AGE": "Age (years)", "SEX": "Sex"}, "decimals": {"AGE": 1}}
CONFIG = {
    "trial": "demo", "studyid": "DEMO", "design": "safety", "title": "Demo",
    "arms": [{"arm": "Placebo", "armcd": "PBO", "role": "control"}, {"arm": "Cells", "armcd": "C", "role": "active"}],
    "visits": [{"visitnum": 0, "avisit": "Week 0", "day": 0, "window": 0}],
    "adsl_groups": {"AGEGR1": AGEGR1},
    "analyses": [{"id": "POP", "method": "populations"},
                 {"id": "DEMOG", "method": "demographics", "population": "SAFFL", "options": OPTIONS}],
}
# subject, arm, safety population, age (None: missing), sex, race ('' blank)
SUBJECTS = [
    ("S1", "Cells", "Y", 60, "M", "WHITE"),
    ("S2", "Cells", "Y", 62, "F", "ASIAN"),
    ("S3", "Cells", "Y", 71, "F", ""),
    ("S4", "Placebo", "Y", 65, "M", "WHITE"),
    ("S5", "Placebo", "Y", 80, "F", "WHITE"),
    ("S6", "Placebo", "Y", 81, "M", "WHITE"),
    ("S7", "Placebo", "Y", None, "F", "WHITE"),
    ("S8", "Placebo", "N", 50, "M", "ASIAN"),  # randomised, never infused: not in the safety population
    ("S9", "Other", "N", 99, "F", "ASIAN"),  # an arm the plan does not compare: in no population
]


def make_adsl(subjects=SUBJECTS) -> pd.DataFrame:
    return pd.DataFrame([{"USUBJID": s, "ARM": arm, "RANDFL": "N" if arm == "Other" else "Y", "SAFFL": saf,
                          "FASFL": saf, "PPROTFL": saf, "EOSSTT": "COMPLETED",
                          "EXCLREAS": "arm 'Other' is not compared by the plan" if arm == "Other" else "",
                          "AGE": math.nan if age is None else float(age), "SEX": sex, "RACE": race}
                         for s, arm, saf, age, sex, race in subjects])


@pytest.fixture(scope="module")
def ard():
    adsl = derive_vars_groups(make_adsl(), CONFIG["adsl_groups"])
    return run_analyses(adsl, pd.DataFrame(), pd.DataFrame(), CONFIG, "demo", "2024-01-01", "test")


def _value(ard, group, variable, paramcd, stat):
    return ardlib.value(ard, ANALYSIS_ID="DEMOG", VARIABLE=variable, PARAMCD=paramcd, STAT_NAME=stat,
                        **(ardlib.overall_group() if group == "Total" else ardlib.arm_group(group)))


# --- ADSL groups -------------------------------------------------------------------------

def test_age_groups_at_the_cut_points_follow_the_configured_sides():
    adsl = pd.DataFrame({"AGE": [64.9, 65.0, 70.0, 80.0, 80.1, math.nan]})
    pilot = derive_vars_groups(adsl, {"AGEGR1": AGEGR1})
    assert pilot["AGEGR1"].tolist() == ["<65", "65-80", "65-80", "65-80", ">80", ""]
    assert pilot["AGEGR1N"].tolist()[:5] == [1, 2, 2, 2, 3] and np.isnan(pilot["AGEGR1N"].iloc[5])
    left = derive_vars_groups(adsl, {"AGEGR1": AGEGR1 | {"closed": "left", "labels": ["<65", "65-<80", ">=80"]}})
    assert left["AGEGR1N"].tolist()[:5] == [1, 2, 2, 3, 3]  # [a, b): 80 starts the top group
    right = derive_vars_groups(adsl, {"AGEGR1": AGEGR1 | {"closed": "right", "labels": ["<=65", "65-80", ">80"]}})
    assert right["AGEGR1N"].tolist()[:5] == [1, 1, 2, 2, 3]  # (a, b]: 65 ends the bottom group
    assert "AGEGR1" not in adsl  # a copy, the input unchanged


def test_a_group_of_a_variable_adsl_lacks_is_not_derived():
    assert list(derive_vars_groups(pd.DataFrame({"AGE": [70.0]}), {"BMIGR1": AGEGR1 | {"variable": "BMIBL"}})) == [
        "AGE"]


def test_a_group_of_a_text_variable_stops_with_its_name():
    with pytest.raises(ValueError, match=r"adsl_groups.SEXGR: SEX is not numeric in ADSL \(e.g. 'M'\)"):
        derive_vars_groups(pd.DataFrame({"SEX": ["M"]}), {"SEXGR": AGEGR1 | {"variable": "SEX"}})


def test_group_config_checked_before_any_job():
    schema = load_yaml(ROOT / "workflow" / "schemas" / "trial.schema.yaml")
    trial = load_yaml(ROOT / "config" / "trials" / "dose_ranging.yaml")
    jsonschema.validate(trial, schema)
    assert trial_config_problems(trial, "dose_ranging") == []
    trial["adsl_groups"] = {"AGEGR1": AGEGR1 | {"cuts": [80, 65]},
                            "DURGR1": {"variable": "DIABDUR", "cuts": [5], "labels": ["<5", ">=5", "?"],
                                       "closed": ["left", "right"]}}
    assert trial_config_problems(trial, "dose_ranging") == [
        "adsl_groups.AGEGR1.cuts: 80, 65 are not strictly increasing",
        "adsl_groups.DURGR1.labels: 1 cuts make 2 groups, 3 labels given",
        "adsl_groups.DURGR1.closed: one side (left or right) per cut: 1 cuts, 2 given"]
    del trial["adsl_groups"]["DURGR1"]["closed"]
    with pytest.raises(jsonschema.ValidationError, match="'closed' is a required property"):
        jsonschema.validate(trial, schema)


def test_demographics_options_checked_before_any_job():
    trial = load_yaml(ROOT / "config" / "trials" / "dose_ranging.yaml")
    demog = next(a for a in trial["analyses"] if a["method"] == "demographics")
    demog["options"] = {"continuous": ["AGE"], "categorical": ["SEX", "AGE"], "decimals": {"SEX": 1},
                        "levels": {"SEX": ["F", "F"]}}
    key = f"analyses[{trial['analyses'].index(demog)}] ({demog['id']})"
    assert trial_config_problems(trial, "dose_ranging") == [
        f"{key}.options: AGE is listed twice",
        f"{key}.options.decimals.SEX: SEX is not listed under continuous",
        f"{key}.options.levels.SEX: a level is listed twice"]
    demog["options"] = {}
    assert trial_config_problems(trial, "dose_ranging") == [
        f"{key}: demographics needs options continuous or categorical (ADSL variables)"]


# --- the ARD -----------------------------------------------------------------------------

def test_n_of_each_arm_and_total_in_the_population(ard):
    # Total = the plan's arms: S8 (not infused) and S9 (arm not in the plan) are left out
    assert [_value(ard, g, "USUBJID", "SAFFL", "N") for g in ("Cells", "Placebo", "Total")] == [3, 4, 7]


def test_continuous_summary_by_arm_and_total(ard):
    expected = {  # ages [60, 62, 71], [65, 80, 81] (and one missing), all six
        "Cells": {"n": 3, "mean": 64.333333, "sd": 5.859465, "median": 62, "q1": 61, "q3": 66.5, "min": 60,
                  "max": 71},
        "Placebo": {"n": 3, "mean": 75.333333, "sd": 8.962886, "median": 80, "q1": 72.5, "q3": 80.5, "min": 65,
                    "max": 81},
        "Total": {"n": 6, "mean": 69.833333, "sd": 9.064583, "median": 68, "q1": 62.75, "q3": 77.75, "min": 60,
                  "max": 81},
    }
    for group, stats in expected.items():
        for stat, value in stats.items():
            assert _value(ard, group, "AGE", "AGE", stat) == pytest.approx(value, abs=1e-6), (group, stat)
    row = ardlib.select(ard, ANALYSIS_ID="DEMOG", VARIABLE="AGE", STAT_NAME="mean", **ardlib.arm_group("Cells"))
    assert row[["PARAM", "METHOD", "POPULATION", "WARNING"]].values.tolist() == [
        ["Age (years)", "descriptive", "SAFFL", ""]]
    assert (ard["COMPARATOR"] == "").all() and not ard["STAT_NAME"].isin(["p", "statistic"]).any()  # no tests


def test_age_groups_with_a_zero_level_and_a_missing_value(ard):
    expected = {  # (n, N, %): levels in the group's order, then the blank age of S7
        "Cells": {"<65": (2, 3, 66.666667), "65-80": (1, 3, 33.333333), ">80": (0, 3, 0), "MISSING": (0, 3, 0)},
        "Placebo": {"<65": (0, 4, 0), "65-80": (2, 4, 50), ">80": (1, 4, 25), "MISSING": (1, 4, 25)},
        "Total": {"<65": (2, 7, 28.571429), "65-80": (3, 7, 42.857143), ">80": (1, 7, 14.285714),
                  "MISSING": (1, 7, 14.285714)},
    }
    for group, levels in expected.items():
        for level, (n, total, pct) in levels.items():
            got = [_value(ard, group, "AGEGR1", level, s) for s in ("n", "N", "pct")]
            assert got == pytest.approx([n, total, pct], abs=1e-6), (group, level)
    rows = ardlib.select(ard, ANALYSIS_ID="DEMOG", VARIABLE="AGEGR1", STAT_NAME="n", **ardlib.overall_group())
    assert rows["PARAMCD"].tolist() == ["<65", "65-80", ">80", "MISSING"]
    assert set(rows["PARAM"]) == {"Age group (years)"}  # the group's label from adsl_groups


def test_configured_levels_in_order_a_level_without_subjects_and_no_missing_row_when_none_is_blank(ard):
    rows = ardlib.select(ard, ANALYSIS_ID="DEMOG", VARIABLE="SEX", STAT_NAME="n", **ardlib.arm_group("Placebo"))
    assert rows["PARAMCD"].tolist() == ["F", "M", "U"]
    assert [_value(ard, "Total", "SEX", level, "pct") for level in ("F", "M", "U")] == pytest.approx(
        [57.142857, 42.857143, 0], abs=1e-6)
    assert [_value(ard, "Cells", "SEX", level, "n") for level in ("F", "M", "U")] == [2, 1, 0]


def test_levels_found_in_the_data_sorted_and_a_blank_value_counted_as_missing(ard):
    rows = ardlib.select(ard, ANALYSIS_ID="DEMOG", VARIABLE="RACE", STAT_NAME="n", **ardlib.arm_group("Cells"))
    assert rows["PARAMCD"].tolist() == ["ASIAN", "WHITE", "MISSING"] and rows["VALUE"].tolist() == [1, 1, 1]
    assert _value(ard, "Placebo", "RACE", "ASIAN", "n") == 0  # S8 is not in the safety population
    assert set(rows["PARAM"]) == {"RACE"}  # no label configured: the variable's name


def test_a_variable_adsl_does_not_have_is_a_warning_row_per_group(ard):
    for variable in ("ETHNIC", "WEIGHTBL"):
        rows = ardlib.select(ard, ANALYSIS_ID="DEMOG", VARIABLE=variable)
        assert len(rows) == 3 and rows["VALUE"].isna().all()
        assert set(rows["WARNING"]) == {f"not estimable: {variable} is not a variable of ADSL"}
        assert set(rows["GROUP1_LEVEL"]) == {"Cells", "Placebo", ""}


def test_a_text_variable_summarised_as_continuous_says_so():
    config = CONFIG | {"analyses": [{"id": "DEMOG", "method": "demographics", "population": "SAFFL",
                                     "options": {"continuous": ["SEX"]}}]}
    ard = run_analyses(make_adsl(), pd.DataFrame(), pd.DataFrame(), config, "demo", "2024-01-01", "test")
    rows = ardlib.select(ard, VARIABLE="SEX")
    assert len(rows) == 3 and set(rows["WARNING"]) == {
        "not estimable: SEX is not numeric in ADSL (e.g. 'M'); list it under categorical"}


def test_an_arm_without_subjects_has_n_0_and_no_percentage():
    adsl = make_adsl([s for s in SUBJECTS if s[1] != "Cells"])
    ard = run_analyses(adsl, pd.DataFrame(), pd.DataFrame(), CONFIG | {"adsl_groups": {}, "analyses": [
        {"id": "DEMOG", "method": "demographics", "population": "SAFFL", "options": {"categorical": ["SEX"]}}]},
        "demo", "2024-01-01", "test")
    assert [_value(ard, "Cells", "SEX", "F", s) for s in ("n", "N")] == [0, 0]
    assert math.isnan(_value(ard, "Cells", "SEX", "F", "pct"))
    assert ardlib.select(ard, VARIABLE="SEX", STAT_NAME="pct", **ardlib.arm_group("Cells"))["WARNING"].iloc[0] == (
        "not estimable: Cells has 0 subjects (1 needed)")


def test_a_subject_of_an_arm_not_in_the_plan_is_not_in_total_even_if_flagged():
    adsl = make_adsl()
    adsl.loc[adsl["ARM"] == "Other", "SAFFL"] = "Y"
    ard = run_analyses(adsl, pd.DataFrame(), pd.DataFrame(), CONFIG | {"adsl_groups": {}, "analyses": [
        {"id": "DEMOG", "method": "demographics", "population": "SAFFL", "options": {"continuous": ["AGE"]}}]},
        "demo", "2024-01-01", "test")
    assert _value(ard, "Total", "USUBJID", "SAFFL", "N") == 7
    assert _value(ard, "Total", "AGE", "AGE", "max") == 81  # not S9's 99


def test_every_statistic_has_its_own_key(ard):
    assert not ardlib.key_frame(ard).duplicated().any()


# --- the report --------------------------------------------------------------------------

def _demographics_table(ard):
    tables = report.build_tables(ard, CONFIG)
    return next(t for t in tables if t.title == "Demographic and baseline characteristics")


def _block(table, heading: str) -> dict:
    """The lines under a top-level heading of the table, by label."""
    start = next(i for i, row in enumerate(table.rows) if row.depth == 0 and row.label == heading)
    lines = {}
    for row in table.rows[start + 1:]:
        if row.depth == 0:
            break
        lines[row.label] = row.cells
    return lines


def test_report_table_from_the_ard(ard):
    table = _demographics_table(ard)
    assert table.header == ["Characteristic", "Cells (N=3)", "Placebo (N=4)", "Total (N=7)"]
    assert [row.label for row in table.rows if row.depth == 0] == [
        "Age (years)", "WEIGHTBL", "Age group (years), n (%)", "Sex, n (%)", "RACE, n (%)", "ETHNIC, n (%)"]
    age = _block(table, "Age (years)")  # ages [60, 62, 71], [65, 80, 81], all six; one decimal (config)
    assert age == {"n": ["3", "3", "6"], "Mean (SD)": ["64.3 (5.86)", "75.3 (8.96)", "69.8 (9.06)"],
                   "Median [Q1; Q3]": ["62.0 [61.0; 66.5]", "80.0 [72.5; 80.5]", "68.0 [62.8; 77.8]"],
                   "Min; max": ["60; 71", "65; 81", "60; 81"]}
    assert _block(table, "WEIGHTBL") == {"n": ["NE", "NE", "NE"]}  # not in ADSL: not estimable, said once
    groups = _block(table, "Age group (years), n (%)")
    assert groups["65-80"] == ["1 (33.3%)", "2 (50.0%)", "3 (42.9%)"]
    assert groups[">80"] == ["0 (0.0%)", "1 (25.0%)", "1 (14.3%)"]
    assert _block(table, "Sex, n (%)")["U"] == ["0 (0.0%)", "0 (0.0%)", "0 (0.0%)"]
    assert _block(table, "ETHNIC, n (%)") == {"ETHNIC": ["NE", "NE", "NE"]}
    race = _block(table, "RACE, n (%)")
    assert list(race) == ["ASIAN", "WHITE", "Missing"]
    assert race["Missing"] == ["1 (33.3%)", "0 (0.0%)", "1 (14.3%)"]
    assert table.analysis_ids == ["DEMOG"]
    assert 0 < table.ard_rows <= int((ard["ANALYSIS_ID"] == "DEMOG").sum())


def test_report_cells_follow_the_ard_values(ard):
    edited = ard.copy()
    edited.loc[(edited["VARIABLE"] == "AGE") & (edited["STAT_NAME"] == "mean")
               & (edited["GROUP1_LEVEL"] == "Cells"), "VALUE"] = 12.345
    assert _block(_demographics_table(edited), "Age (years)")["Mean (SD)"][0] == "12.3 (5.86)"


def test_report_renders_the_table_with_its_provenance(ard):
    context = report.build_context(
        ard, pd.DataFrame({"STATUS": []}), pd.DataFrame(), pd.DataFrame(), {"files": []}, [], CONFIG, "2024-01-01",
        {"git_commit": "x", "uncommitted_changes": False, "code_sha256": "y"}, {"path": "ard.csv", "sha256": "z"})
    html = report.render_report(context)
    table = html.split('id="tlf-table-14-1-2"')[1].split("</table>")[0]
    assert "Table 14.1.2  Demographic and baseline characteristics" in table
    assert table.index("Cells (N=3)") < table.index("Placebo (N=4)") < table.index("Total (N=7)")
    assert ">64.3 (5.86)</td>" in table and ">2 (66.7%)</td>" in table
    assert "not estimable: ETHNIC is not a variable of ADSL" in html  # listed under Statistics not estimated
    provenance = next(p for p in context["table_provenance"] if p["table"].startswith("Table 14.1.2 Demographic"))
    assert provenance["drawn_from"]["analysis_ids"] == ["DEMOG"]
