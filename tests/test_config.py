"""Config checks a JSON schema cannot express (ucmsc.validate): each names the file and the key, before any job runs."""

import copy
import json
import subprocess
import sys

import jsonschema
import pytest

from conftest import ROOT
from ucmsc.config import load_yaml
from ucmsc.paramcodes import DERIVATIONS
from ucmsc.validate import ConfigError, check_config, check_trial_config, config_problems, trial_config_problems

TRIAL_FILE = "config/trials/demo.yaml"


def small_trial() -> dict:
    """A schema-valid trial config that passes every check; each test breaks one thing."""
    return {
        "trial": "demo", "studyid": "DEMO", "design": "efficacy", "title": "Demo",
        "publication": {"seed_file": "seed.txt", "citation": "Demo 2024", "cut": "2020-01-31"},
        "arms": [{"arm": "Cells", "armcd": "MSC", "role": "active"},
                 {"arm": "Placebo", "armcd": "PBO", "role": "control"}],
        "visits": [{"visitnum": 0, "avisit": "Week 0", "day": 0, "window": 0},
                   {"visitnum": 4, "avisit": "Week 4", "day": 28, "window": 3},
                   {"visitnum": 12, "avisit": "Week 12", "day": 84, "window": 7}],
        "visit_labels": {"BASELINE": 0, "WEEK 4": 4, "WEEK 12": 12},
        "sources": [
            {"file": "dm.csv", "domain": "DM",
             "columns": {"SUBJID": "id", "SITEID": "site", "SEX": "sex", "AGE": "age", "RANDDT": "rand",
                         "ARM": "group"},
             "codes": {"ARM": {"1": "Cells", "2": "Placebo"}, "SEX": {"M": "M", "F": "F"}}},
            {"file": "lb.csv", "domain": "LB",
             "columns": {"SUBJID": "id", "VISIT": "visit", "DTC": "date", "TESTCD": "test", "ORRES": "value",
                         "ORRESU": "unit"}},
            {"file": "liver.csv", "domain": "XP", "columns": {"SUBJID": "id", "VISIT": "week", "DTC": "date"},
             "results": {"STEATOS": {"column": "grade", "unit": "grade"}}},
        ],
        "tests": {
            "GLUC": {"test": "Glucose", "unit": "mmol/L", "range": [1, 35], "normal": [3.9, 6.1],
                     "divide": {"mg/dL": 18.016}},
            "INSULIN": {"test": "Insulin", "unit": "uU/mL", "range": [0.5, 300], "normal": [2.6, 24.9]},
            "HBA1C": {"test": "HbA1c", "unit": "%", "range": [3, 20], "normal": [4.0, 6.0]},
            "DDIMER": {"test": "D-dimer", "unit": "mg/L", "range": [0.01, 50], "normal": [0.0, 0.55]},
            "STEATOS": {"test": "Steatosis grade", "unit": "grade", "range": [0, 3]},
        },
        "derived": {"HOMAIR": {"derivation": "homa_ir"},
                    "HBA1CTGT": {"derivation": "target_attainment", "parameter": "HBA1C", "below": 7.0},
                    "STEATIMP": {"derivation": "grade_change", "parameter": "STEATOS", "direction": "improvement",
                                 "by": 1}},
        "adsl_baseline": ["GLUC", "HOMAIR"],
        "analyses": [
            {"id": "POP", "method": "populations"},
            {"id": "CONT", "method": "by_visit", "population": "FASFL",
             "parameters": ["GLUC", "INSULIN", "HOMAIR", "HBA1C"]},
            {"id": "ANCOVA", "method": "ancova", "population": "FASFL",
             "parameters": ["GLUC", "INSULIN", "HOMAIR", "HBA1C"]},
            {"id": "MMRM", "method": "mmrm", "population": "FASFL", "parameters": ["GLUC", "HOMAIR"]},
            {"id": "RESP", "method": "responders", "population": "FASFL", "parameters": ["HBA1CTGT", "STEATIMP"]},
            {"id": "GEE", "method": "gee", "population": "FASFL", "parameters": ["HBA1CTGT"]},
            {"id": "SHIFT", "method": "shift", "population": "SAFFL", "parameters": ["GLUC", "DDIMER"]},
            {"id": "GRADE", "method": "grade_shift", "population": "FASFL", "parameters": ["STEATOS"],
             "visits": [4, 12]},
        ],
        "summaries": {"median": ["DDIMER", "HOMAIR"]},
        "families": {"secondary": {"analysis": "ANCOVA", "parameters": ["INSULIN", "HOMAIR"]}},
        "figures": {"forest": {"analysis": "ANCOVA", "parameters": ["GLUC", "HOMAIR"]}},
    }


def problems_after(edit) -> list[str]:
    trial = small_trial()
    edit(trial)
    return trial_config_problems(trial)


# --- the bundled configs pass -----------------------------------------------------------

def test_bundled_workflow_config_passes():
    assert config_problems(load_yaml(ROOT / "config" / "config.yaml"), root=ROOT) == []


@pytest.mark.parametrize("trial_id", ["nafld_efficacy", "t2dm_safety"])
def test_bundled_trial_configs_pass(trial_id):
    assert trial_config_problems(load_yaml(ROOT / "config" / "trials" / f"{trial_id}.yaml"), trial_id) == []


def test_the_small_trial_is_schema_valid_and_passes():
    trial = small_trial()
    jsonschema.validate(trial, load_yaml(ROOT / "workflow" / "schemas" / "trial.schema.yaml"))
    assert trial_config_problems(trial, "demo") == []


def test_a_publication_names_the_cut_it_reports():
    """No default: the last configured cut would silently become scored when a cut is added after the paper."""
    trial = small_trial()
    del trial["publication"]["cut"]
    with pytest.raises(jsonschema.ValidationError, match="'cut' is a required property"):
        jsonschema.validate(trial, load_yaml(ROOT / "workflow" / "schemas" / "trial.schema.yaml"))


# --- tests: plausible and reference ranges, units ---------------------------------------

def test_reversed_plausible_range_names_file_and_key():
    trial = small_trial()
    trial["tests"]["GLUC"]["range"] = [35, 1]
    with pytest.raises(ConfigError) as error:
        check_trial_config(trial, TRIAL_FILE)
    assert str(error.value) == f"{TRIAL_FILE}: tests.GLUC.range: lower bound 35 is above upper bound 1"


def test_reversed_or_empty_reference_range():
    def edit(trial):
        trial["tests"]["GLUC"]["normal"] = [6.1, 3.9]
        trial["tests"]["INSULIN"]["normal"] = [5, 5]
    assert problems_after(edit) == ["tests.GLUC.normal: lower bound 6.1 is above upper bound 3.9",
                                    "tests.INSULIN.normal: lower and upper bound are both 5"]


def test_reference_range_outside_the_plausible_range():
    def edit(trial):
        trial["tests"]["GLUC"]["range"] = [1, 5]
        trial["tests"]["INSULIN"]["normal"] = [0.2, 24.9]
    assert problems_after(edit) == [
        "tests.GLUC.normal: reference range 3.9-6.1 is not inside the plausible range 1-5",
        "tests.INSULIN.normal: reference range 0.2-24.9 is not inside the plausible range 0.5-300"]


def test_reference_lower_limit_zero_means_none_but_the_upper_limit_must_be_plausible():
    assert problems_after(lambda trial: None) == []  # DDIMER: normal 0-0.55 within plausible 0.01-50
    assert problems_after(lambda trial: trial["tests"]["DDIMER"].update(normal=[0, 0.005])) == [
        "tests.DDIMER.normal: reference range 0-0.005 is not inside the plausible range 0.01-50"]


def test_standard_unit_among_the_conversions():
    assert problems_after(lambda trial: trial["tests"]["GLUC"]["divide"].update({"mmol/L": 18.016})) == [
        "tests.GLUC.divide: lists the standard unit mmol/L, whose results are not converted"]


def test_test_code_that_raw_codes_can_never_match():
    assert problems_after(lambda trial: trial["tests"].update(hdl=trial["tests"].pop("INSULIN"))) == [
        "tests.hdl: test codes must be upper case without spaces (raw codes are upper-cased before they are looked up)",
        "derived.HOMAIR: homa_ir needs INSULIN, which is neither a configured test nor a derived number",
        "analyses[1] (CONT).parameters[1]: INSULIN is neither a configured test (tests:) nor a derived parameter "
        "(derived: HOMAIR, HBA1CTGT, STEATIMP)",
        "analyses[2] (ANCOVA).parameters[1]: INSULIN is neither a configured test (tests:) nor a derived parameter "
        "(derived: HOMAIR, HBA1CTGT, STEATIMP)"]


# --- arms, visits, visit labels ---------------------------------------------------------

def test_arms_need_one_control_and_an_active_arm():
    assert problems_after(lambda trial: trial["arms"][1].update(role="active")) == [
        "arms: exactly one arm must have role: control (found 0: none)"]
    assert problems_after(lambda trial: trial["arms"][0].update(role="control")) == [
        "arms: exactly one arm must have role: control (found 2: Cells, Placebo)",
        "arms: at least one arm must have role: active"]
    three = [{"arm": "Low", "armcd": "LOW", "role": "active", "dose": 1}]
    assert problems_after(lambda trial: trial["arms"].extend(three)) == [
        "arms: a dose order is given for some arms but not all (a trend test needs every arm's)"]


def test_arm_names_and_codes_are_unique():
    def edit(trial):
        trial["arms"][1].update(arm="Cells", armcd="MSC")
        trial["sources"][0]["codes"]["ARM"] = {"1": "Cells", "2": "Cells"}
    assert problems_after(edit) == ["arms[1].arm: 'Cells' is already the arm of arms[0]",
                                    "arms[1].armcd: 'MSC' is already the armcd of arms[0]"]


def test_visit_repeated_or_without_baseline():
    def edit(trial):
        trial["visits"][2].update(visitnum=4, avisit="Week 4")
        trial["visits"][0]["visitnum"] = 1
        trial["visit_labels"] = {"BASELINE": 1, "WEEK 4": 4}
        trial["analyses"][-1]["visits"] = [4]
    assert problems_after(edit) == [
        "visits[2].visitnum: 4 is already the visitnum of visits[1]",
        "visits[2].avisit: 'Week 4' is already the avisit of visits[1]",
        "visits: no baseline visit (visitnum: 0); baseline and change from baseline are taken at week 0"]


def test_visit_days_follow_the_weeks():
    assert problems_after(lambda trial: trial["visits"][2].update(day=20)) == [
        "visits[2].day: Week 12 is on day 20, not after Week 4 on day 28"]


def test_overlapping_windows_only_matter_when_records_move_by_window():
    def overlap(trial):
        trial["visits"][2].update(day=40, window=10)
    assert problems_after(overlap) == []
    assert problems_after(lambda trial: (overlap(trial), trial.update(visit_assignment="window"))) == [
        "visits[2].window: with visit_assignment: window, the windows of Week 4 (days 25 to 31) and "
        "Week 12 (days 30 to 50) overlap"]


def test_visit_label_to_an_unscheduled_week():
    assert problems_after(lambda trial: trial["visit_labels"].update({"WEEK 8": 8})) == [
        "visit_labels['WEEK 8']: week 8 is not a scheduled visit (visits: weeks 0, 4, 12)"]


def test_visit_labels_that_differ_only_in_case_map_to_one_week():
    assert problems_after(lambda trial: trial["visit_labels"].update({"Week 4 ": 12})) == [
        "visit_labels['Week 4 ']: maps to week 12 but 'WEEK 4', the same label once case and spaces are ignored, "
        "maps to week 4"]
    assert problems_after(lambda trial: trial["visit_labels"].update({"Week 4": 4})) == []


# --- sources ---------------------------------------------------------------------------

def test_raw_file_listed_twice():
    assert problems_after(lambda trial: trial["sources"].append(copy.deepcopy(trial["sources"][1]))) == [
        "sources[3].file: lb.csv is already listed as sources[1]"]


def test_required_variable_not_mapped_except_what_a_wide_layout_supplies():
    def edit(trial):
        del trial["sources"][1]["columns"]["ORRESU"]
        del trial["sources"][2]["columns"]["DTC"]
    assert problems_after(edit) == [
        "sources[1].columns: lb.csv maps no raw column to ORRESU, which domain LB requires",
        "sources[2].columns: liver.csv maps no raw column to DTC, which domain XP requires"]


def test_codes_of_an_unmapped_variable_or_to_an_unknown_arm():
    def edit(trial):
        trial["sources"][0]["codes"]["AESEV"] = {"1": "MILD"}
        trial["sources"][0]["codes"]["ARM"]["2"] = "placebo "
        # an arm of the delivery this analysis leaves out: allowed
        trial["sources"][0]["codes"]["ARM"]["3"] = "Low dose"
    assert problems_after(edit) == [
        "sources[0].codes.ARM: code '2' gives 'placebo ', which differs from the arm 'Placebo' only in case or spaces",
        "sources[0].codes.AESEV: AESEV is not a mapped standard variable of dm.csv "
        "(columns: SUBJID, SITEID, SEX, AGE, RANDDT, ARM)"]


def test_wide_layout_test_code_unit_and_domain():
    def edit(trial):
        results = trial["sources"][2]["results"]
        results["LSM"] = {"column": "lsm", "unit": "kPa"}
        results["STEATOS"]["unit"] = "score"
        trial["sources"][0]["results"] = {"GLUC": {"column": "glucose", "unit": "mmol/L"}}
    assert problems_after(edit) == [
        "sources[0].results: a wide layout is for findings sources (LB, VS, XP), not DM",
        "sources[2].results.STEATOS.unit: score is neither STEATOS's standard unit grade nor one of its divide: units",
        "sources[2].results.LSM: LSM is not a configured test (tests:)"]


def test_a_trial_needs_a_dm_source():
    assert problems_after(lambda trial: trial["sources"].pop(0)) == [
        "sources: no DM source (the randomised subjects and their arms)"]


# --- analysis plan ---------------------------------------------------------------------

def _analysis(trial, analysis_id):
    return next(a for a in trial["analyses"] if a["id"] == analysis_id)


@pytest.mark.parametrize("where, edit", [
    ("analyses[1] (CONT).parameters[4]", lambda t: _analysis(t, "CONT")["parameters"].append("GLUX")),
    ("analyses[3] (MMRM).parameters[2]", lambda t: _analysis(t, "MMRM")["parameters"].append("GLUX")),
    ("analyses[6] (SHIFT).parameters[2]", lambda t: _analysis(t, "SHIFT")["parameters"].append("GLUX")),
    ("adsl_baseline[2]", lambda t: t["adsl_baseline"].append("GLUX")),
])
def test_plan_names_a_parameter_that_is_neither_a_test_nor_derived(where, edit):
    assert problems_after(edit) == [
        f"{where}: GLUX is neither a configured test (tests:) nor a derived parameter "
        "(derived: HOMAIR, HBA1CTGT, STEATIMP)"]


def test_summary_rule_names_configured_parameters_once_and_none_yes_no():
    def edit(trial):
        trial["summaries"]["median"] += ["GLUX", "DDIMER", "HBA1CTGT"]
    assert problems_after(edit) == [
        "summaries.median[2]: GLUX is neither a configured test (tests:) nor a derived parameter "
        "(derived: HOMAIR, HBA1CTGT, STEATIMP)",
        "summaries.median[3]: DDIMER is listed twice",
        "summaries.median[4]: HBA1CTGT is a yes/no parameter (summarised as n/N (%), not by a median)"]
    trial = small_trial()
    trial["summaries"]["median"].append("GLUX")
    with pytest.raises(ConfigError, match=r"^config/trials/demo.yaml: summaries.median\[2\]: GLUX is neither"):
        check_trial_config(trial, TRIAL_FILE)


def test_summary_rule_in_the_schema_and_the_plan():
    from ucmsc.plan import PlanError, load_trial

    schema = load_yaml(ROOT / "workflow" / "schemas" / "trial.schema.yaml")
    trial = small_trial()
    trial["summaries"]["mean"] = ["GLUC"]  # only median is listed; mean is the default
    with pytest.raises(jsonschema.ValidationError, match="'mean' was unexpected"):
        jsonschema.validate(trial, schema)
    plan = load_trial(small_trial())
    assert [plan.summary(p) for p in ("DDIMER", "HOMAIR", "GLUC", "NOSUCH")] == ["median", "median", "mean", "mean"]
    assert load_trial({k: v for k, v in small_trial().items() if k != "summaries"}).summary("DDIMER") == "mean"
    trial = small_trial()
    trial["summaries"]["median"].append("GLUX")
    with pytest.raises(PlanError, match=r"summaries.median\[2\]: GLUX is neither"):
        load_trial(trial)


def test_derived_parameter_whose_inputs_are_not_configured():
    def edit(trial):
        trial["derived"]["NFS"] = {"derivation": "nafld_fibrosis_score", "diabetes": 1}
        trial["derived"]["BMI"] = {"derivation": "bmi"}
        trial["derived"]["LOWB"] = {"derivation": "target_attainment", "parameter": "BMIX", "below": 25}
        _analysis(trial, "CONT")["parameters"] += ["NFS", "BMI"]
        trial["adsl_baseline"].append("NFS")
    assert problems_after(edit) == [  # each once, on the derived parameter
        "derived.NFS: nafld_fibrosis_score needs AST, ALT, PLAT, ALB, which are neither a configured test nor a "
        "derived number",
        "derived.BMI: bmi needs WEIGHT, HEIGHT, which are neither a configured test nor a derived number",
        "derived.LOWB: target_attainment needs BMIX, which is neither a configured test nor a derived number"]


def test_parameter_or_analysis_listed_twice():
    def edit(trial):
        _analysis(trial, "CONT")["parameters"].append("GLUC")
        trial["analyses"].append({"id": "GEE", "method": "gee", "population": "FASFL", "parameters": ["HBA1CTGT"]})
    assert problems_after(edit) == ["analyses[8].id: 'GEE' is already the id of analyses[5]",
                                    "analyses[1] (CONT).parameters[4]: GLUC is listed twice"]


def test_responder_analyses_need_yes_no_parameters():
    def edit(trial):
        _analysis(trial, "GEE")["parameters"] = ["HBA1C"]
        _analysis(trial, "RESP")["parameters"].append("HOMAIR")
    assert problems_after(edit) == [
        "analyses[4] (RESP).parameters[2]: HOMAIR is not a yes/no parameter (HBA1CTGT, STEATIMP)",
        "analyses[5] (GEE).parameters[0]: HBA1C is not a yes/no parameter (HBA1CTGT, STEATIMP)"]


def test_shift_table_needs_a_reference_range():
    assert problems_after(lambda trial: _analysis(trial, "SHIFT")["parameters"].extend(["STEATOS", "HOMAIR"])) == [
        "analyses[6] (SHIFT).parameters[2]: STEATOS has no reference range (tests.STEATOS.normal), so no shift table",
        "analyses[6] (SHIFT).parameters[3]: HOMAIR is derived and has no reference range, so no shift table"]


def test_a_method_gets_what_it_needs_and_only_its_options():
    def edit(trial):
        _analysis(trial, "CONT")["options"] = {"ttest": "welch", "ci": "normal"}
        del _analysis(trial, "ANCOVA")["population"]
        del _analysis(trial, "MMRM")["parameters"]
        trial["analyses"].append({"id": "TREND", "method": "trend", "population": "FASFL", "parameters": ["GLUC"]})
        trial["analyses"].append({"id": "AE", "method": "adverse_events", "population": "SAFFL",
                                  "parameters": ["GLUC"]})
    assert problems_after(edit) == [
        "analyses[1] (CONT).options.ci: not an option of by_visit (ttest)",
        "analyses[2] (ANCOVA): ancova needs a population",
        "analyses[3] (MMRM): mmrm needs parameters",
        "analyses[8] (TREND): trend needs a dose for every arm (arms[].dose)",
        "analyses[9] (AE).parameters: adverse_events takes no parameters"]


def test_grade_shift_visit_not_in_the_schedule():
    assert problems_after(lambda trial: _analysis(trial, "GRADE").update(visits=[0, 8, 12])) == [
        "analyses[7] (GRADE).visits: week 0 is not a scheduled visit after baseline (visits: weeks 0, 4, 12)",
        "analyses[7] (GRADE).visits: week 8 is not a scheduled visit after baseline (visits: weeks 0, 4, 12)"]


def test_multiplicity_family_and_figures_name_analyses_of_the_plan():
    def edit(trial):
        trial["families"]["primary"] = {"analysis": "ANCOVE", "parameters": ["GLUC"]}
        trial["families"]["repeated"] = {"analysis": "MMRM", "parameters": ["GLUC", "INSULIN"]}
        trial["families"]["shifts"] = {"analysis": "SHIFT", "parameters": ["GLUC"]}
        trial["figures"]["forest"]["parameters"].append("STEATOS")
        trial["figures"]["trajectories"] = {"analysis": "ANCOVA", "parameters": ["GLUC"]}
    assert problems_after(edit) == [
        "families.primary.analysis: 'ANCOVE' is not an analysis of the plan with P-values per parameter (methods "
        "baseline, by_visit, ancova, mmrm, gee, responders)",
        "families.repeated.parameters[1]: INSULIN is not analysed by MMRM",
        "families.shifts.analysis: 'SHIFT' is not an analysis of the plan with P-values per parameter (methods "
        "baseline, by_visit, ancova, mmrm, gee, responders)",
        "figures.forest.parameters[2]: STEATOS is not analysed by ANCOVA",
        "figures.trajectories.analysis: 'ANCOVA' is not a by_visit analysis of the plan"]


def test_every_method_of_the_plan_is_a_method_of_the_package():
    from ucmsc.analyze import METHODS as IMPLEMENTED
    from ucmsc.plan import METHODS as PLANNED

    schema = load_yaml(ROOT / "workflow" / "schemas" / "trial.schema.yaml")
    listed = schema["properties"]["analyses"]["items"]["properties"]["method"]["enum"]
    assert set(IMPLEMENTED) == set(PLANNED) == set(listed)


# --- one file, every problem, named --------------------------------------------------------

def test_every_problem_of_a_file_in_one_message():
    trial = small_trial()
    trial["trial"] = "other"
    trial["tests"]["GLUC"]["range"] = [35, 1]
    trial["visit_labels"]["WEEK 8"] = 8
    with pytest.raises(ConfigError) as error:
        check_trial_config(trial, TRIAL_FILE, trial_id="demo")
    assert str(error.value).splitlines() == [
        f"{TRIAL_FILE}: trial: 'other' differs from the trial's key 'demo' in the workflow config",
        f"{TRIAL_FILE}: visit_labels['WEEK 8']: week 8 is not a scheduled visit (visits: weeks 0, 4, 12)",
        f"{TRIAL_FILE}: tests.GLUC.range: lower bound 35 is above upper bound 1"]
    assert isinstance(error.value, ValueError)


# --- workflow config: cuts, folders, manifests -------------------------------------------

def workflow_config(root, cuts=("2017-06-30", "2019-01-15"), folders=None) -> dict:
    """A workflow config in ``root`` with a folder per cut (or per ``folders``)."""
    for name in ("trial.yaml", "published.yaml"):
        (root / name).write_text("{}\n")
    for cut in folders if folders is not None else cuts:
        (root / "cuts" / cut).mkdir(parents=True)
    return {"trials": {"demo": {"config": "trial.yaml", "datacuts": "cuts", "cuts": list(cuts)}},
            "published_numbers": "published.yaml"}


def test_small_workflow_config_passes(tmp_path):
    config = workflow_config(tmp_path)
    (tmp_path / "cuts" / "2019-01-15" / "manifest.json").write_text(json.dumps({"cut_date": "2019-01-15", "files": []}))
    assert config_problems(config, tmp_path) == []


def test_cut_that_is_not_a_calendar_date(tmp_path):
    config = workflow_config(tmp_path, cuts=["2017-02-30", "2019-01-15"])
    with pytest.raises(ConfigError) as error:
        check_config(config, "config/config.yaml", root=tmp_path)
    assert str(error.value) == ("config/config.yaml: trials.demo.cuts[0]: '2017-02-30' is not a calendar date "
                                "YYYY-MM-DD (the cut folder is named by its cut date)")


def test_cuts_out_of_date_order_or_repeated(tmp_path):
    config = workflow_config(tmp_path, cuts=["2019-01-15", "2017-06-30", "2019-01-15"],
                             folders=["2019-01-15", "2017-06-30"])
    assert config_problems(config, tmp_path) == [
        "trials.demo.cuts[1]: 2017-06-30 is listed after the later cut 2019-01-15; list cuts oldest first "
        "(each cut is compared with the one before it)",
        "trials.demo.cuts[2]: 2019-01-15 is already listed as cuts[0]"]


def test_cut_folder_or_datacuts_folder_missing(tmp_path):
    config = workflow_config(tmp_path, folders=["2017-06-30"])
    assert config_problems(config, tmp_path) == [
        f"trials.demo.cuts[1]: cut folder {tmp_path / 'cuts' / '2019-01-15'} not found"]
    config["trials"]["demo"]["datacuts"] = "elsewhere"
    assert config_problems(config, tmp_path) == ["trials.demo.datacuts: folder elsewhere not found"]


def test_config_files_missing(tmp_path):
    config = workflow_config(tmp_path)
    (tmp_path / "trial.yaml").unlink()
    config["published_numbers"] = "resources/published.yaml"
    assert config_problems(config, tmp_path) == ["published_numbers: file resources/published.yaml not found",
                                                 "trials.demo.config: file trial.yaml not found"]


def test_a_trial_names_its_own_ae_dictionary_which_must_exist(tmp_path):
    trial = load_yaml(ROOT / "config" / "trials" / "t2dm_safety.yaml")
    with pytest.raises(ConfigError, match="trial.yaml: ae_dictionary: file config/ae_dictionary.yaml not found"):
        check_trial_config(trial, "trial.yaml", root=tmp_path)
    check_trial_config(trial, "trial.yaml", root=ROOT)


def test_malformed_manifest_names_the_manifest_line_and_column(tmp_path):
    config = workflow_config(tmp_path)
    manifest = tmp_path / "cuts" / "2019-01-15" / "manifest.json"
    manifest.write_text('{"cut_date": "2019-01-15",\n "files": [}\n')
    assert config_problems(config, tmp_path) == [
        f"trials.demo.cuts[1]: manifest of cut 2019-01-15 is invalid: {manifest}: not valid JSON: "
        "Expecting value at line 2, column 12"]


def test_manifest_of_another_cut_date(tmp_path):
    config = workflow_config(tmp_path)
    manifest = tmp_path / "cuts" / "2017-06-30" / "manifest.json"
    manifest.write_text(json.dumps({"cut_date": "2017-07-30", "files": []}))
    assert config_problems(config, tmp_path) == [
        f"trials.demo.cuts[0]: manifest of cut 2017-06-30 is invalid: {manifest}: cut_date '2017-07-30' differs "
        "from the cut folder's date '2017-06-30'"]


# --- the derived parameters: one list, equal to what derive.py computes ------------------

def test_the_derivation_library_matches_derive():
    """Every named derivation has a formula (or the yes/no rule) in derive.py, and the labels agree."""
    import pandas as pd

    from ucmsc import derive

    numeric = {name for name, entry in DERIVATIONS.items() if not entry.get("yes_no")}
    assert set(derive.FORMULAS) == numeric
    bds = pd.DataFrame({"USUBJID": ["S1"] * 3, "AVISITN": [0, 0, 4], "AVISIT": ["Week 0", "Week 0", "Week 4"],
                        "ADT": [""] * 3, "PARAMCD": ["HBA1C", "STEATOS", "STEATOS"], "AVAL": [6.5, 2.0, 1.0],
                        "BASE": [6.5, 2.0, 2.0]})
    target = derive.derive_param_yes_no(bds, "T", {"derivation": "target_attainment", "parameter": "HBA1C",
                                                   "below": 7.0})
    assert target.iloc[3:][["PARAMCD", "PARAM", "AVAL", "AVALC"]].values.tolist() == [["T", "HBA1C < 7", 1.0, "Y"]]
    better = derive.derive_param_yes_no(bds, "I", {"derivation": "grade_change", "parameter": "STEATOS",
                                                   "direction": "improvement", "by": 1})
    assert better.iloc[3:][["AVISITN", "AVAL"]].values.tolist() == [[4, 1.0]]  # week 4 only: baseline is no change


def test_derived_parameters_need_their_options_and_inputs():
    def edit(trial):
        trial["derived"]["NFS"] = {"derivation": "nafld_fibrosis_score"}
        trial["derived"]["APRI"] = {"derivation": "apri"}
        trial["derived"]["HBA1CTGT"]["above"] = 9.0
        trial["derived"]["STEATIMP"]["below"] = 1
        trial["derived"]["GLUC"] = {"derivation": "bmi"}
    assert problems_after(edit) == [
        "derived.HBA1CTGT: target_attainment needs exactly one of 'below' and 'above'",
        "derived.STEATIMP.below: not an option of grade_change",
        "derived.NFS: nafld_fibrosis_score needs 'diabetes'",
        "derived.NFS: nafld_fibrosis_score needs BMI, AST, ALT, PLAT, ALB, which are neither a configured test nor a "
        "derived number",
        "derived.APRI: apri needs the AST upper limit of normal (ast_uln, or tests.AST.normal)",
        "derived.APRI: apri needs AST, PLAT, which are neither a configured test nor a derived number",
        "derived.GLUC: GLUC is also a configured test (tests:)",
        "derived.GLUC: bmi needs WEIGHT, HEIGHT, which are neither a configured test nor a derived number"]


def test_a_formula_input_in_another_unit_than_its_constants_assume_is_refused():
    def edit(trial):  # glucose analysed in mg/dL: HOMA-IR's / 22.5 and TyG's x 18.016 assume mmol/L
        trial["tests"]["GLUC"].update(unit="mg/dL", range=[18, 630], normal=[70, 110], divide={"mmol/L": 0.055506})
        trial["tests"]["TG"] = {"test": "Triglycerides", "unit": "mmol/L", "range": [0.1, 30]}
        trial["tests"]["INSULIN"]["unit"] = "\u00b5IU/mL"  # another spelling of the same unit
        trial["tests"]["NEUT"] = {"test": "Neutrophils", "unit": "x10^9/L", "range": [0.1, 50]}
        trial["tests"]["LYM"] = {"test": "Lymphocytes", "unit": "/uL", "range": [100, 20000]}
        trial["derived"]["NLR"] = {"derivation": "nlr"}
        trial["tests"]["WEIGHT"] = {"test": "Weight", "unit": "lb", "range": [60, 550]}
        trial["tests"]["HEIGHT"] = {"test": "Height", "unit": "cm", "range": [120, 220]}
        trial["derived"].update(TYG={"derivation": "tyg"}, BMI={"derivation": "bmi"})
    assert problems_after(edit) == [
        "derived.HOMAIR: homa_ir takes GLUC in mmol/L, but tests.GLUC.unit is mg/dL: analyse GLUC in mmol/L (a test's "
        "divide: converts raw values delivered in another unit)",
        "derived.NLR: nlr divides NEUT by LYM, which need one unit, not x10^9/L and /uL",
        "derived.TYG: tyg takes GLUC in mmol/L, but tests.GLUC.unit is mg/dL: analyse GLUC in mmol/L (a test's divide: "
        "converts raw values delivered in another unit)",
        "derived.BMI: bmi takes WEIGHT in kg, but tests.WEIGHT.unit is lb: analyse WEIGHT in kg (a test's divide: "
        "converts raw values delivered in another unit)"]


def test_a_plausible_range_runs_from_low_to_high():
    assert problems_after(lambda t: t.update(ranges={"AGE": [75, 18], "EXDOSE": [0, 2], "AGES": [18, 75]})) == [
        "ranges.AGE: the low end 75 is above the high end 18",
        "ranges.AGES: not a numeric variable of the sources (AESEQ, AGE, DIABDUR, DSSEQ, EXDOSE, EXSEQ; a source's "
        "numeric: adds one)"]


def test_every_unit_a_derivation_names_is_one_of_its_inputs():
    for name, entry in DERIVATIONS.items():
        assert set(entry.get("units", {})) <= set(entry["inputs"]), name


def test_validation_imports_without_pandas():
    code = "import sys, ucmsc.validate; assert 'pandas' not in sys.modules and 'numpy' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- end to end: a dry run stops before any job ---------------------------------------------

@pytest.mark.e2e
def test_dry_run_stops_on_a_broken_config_naming_file_and_key(tmp_path):
    from test_workflow import _copy_project, _snakemake

    workdir = _copy_project(tmp_path)
    trial_file = workdir / "config" / "trials" / "nafld_efficacy.yaml"
    text = trial_file.read_text()
    assert "GLUC: {test: Fasting plasma glucose, unit: mmol/L, range: [1, 35]" in text
    trial_file.write_text(text.replace("GLUC: {test: Fasting plasma glucose, unit: mmol/L, range: [1, 35]",
                                       "GLUC: {test: Fasting plasma glucose, unit: mmol/L, range: [35, 1]"))
    result = _snakemake(workdir, "-n", "--cores", "1")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "config/trials/nafld_efficacy.yaml: tests.GLUC.range: lower bound 35 is above upper bound 1" in output
    assert "rule ingest" not in output and "Job stats" not in output and "job(s) to run" not in output

    trial_file.write_text(text)  # repaired; now a cut that is no date and a manifest that is no JSON
    config_file = workdir / "config" / "config.yaml"
    config_file.write_text(config_file.read_text().replace('"2017-06-30", "2019-01-15"', '"2017-02-30", "2019-01-15"'))
    (workdir / "resources" / "datacuts" / "nafld_efficacy" / "2017-06-30").rename(
        workdir / "resources" / "datacuts" / "nafld_efficacy" / "2017-02-30")
    (workdir / "resources" / "datacuts" / "t2dm_safety" / "2020-09-30" / "manifest.json").write_text('{"files": [\n')
    result = _snakemake(workdir, "-n", "--cores", "1")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "config/config.yaml: trials.nafld_efficacy.cuts[0]: '2017-02-30' is not a calendar date" in output
    assert ("config/config.yaml: trials.t2dm_safety.cuts[0]: manifest of cut 2020-09-30 is invalid: "
            "resources/datacuts/t2dm_safety/2020-09-30/manifest.json: not valid JSON") in output
    assert "rule ingest" not in output and "Job stats" not in output and "job(s) to run" not in output


def test_schema_check_fills_defaults_as_snakemake_and_names_the_key():
    # The workflow validates with ucmsc.validate.check_schema (no pandas at parse time); Snakemake's validate is the
    # reference for the defaults it fills in.
    import copy

    from snakemake.utils import validate as snakemake_validate

    from ucmsc.validate import ConfigError, check_schema

    schema = ROOT / "workflow" / "schemas" / "trial.schema.yaml"
    configs = sorted((ROOT / "config" / "trials").glob("*.yaml"))
    assert len(configs) >= 4
    for path in configs:
        ours, theirs = load_yaml(path), load_yaml(path)
        check_schema(ours, schema, path)
        snakemake_validate(theirs, str(schema))
        assert ours == theirs and ours != load_yaml(path), path  # the same defaults, and some were filled in
    broken = copy.deepcopy(load_yaml(configs[0]))
    broken["visits"][0]["visitnum"] = "zero"
    with pytest.raises(ConfigError, match=rf"{configs[0].name}: visits/0/visitnum: 'zero' is not of type"):
        check_schema(broken, schema, configs[0])


def test_the_adam_spec_problems_name_every_name_label_and_codelist(tmp_path):
    # The workflow resolves each trial's ADaM spec at parse time from plain rows (ucmsc.adammeta, no pandas); the
    # messages are written out here, in the order the rows come.
    from ucmsc import validate

    spec_file = tmp_path / "config" / "adam" / "spec.yaml"
    spec_file.parent.mkdir(parents=True)
    text = (ROOT / "config" / "adam" / "spec.yaml").read_text()
    (tmp_path / "config" / "ae_dictionary.yaml").write_text((ROOT / "config" / "ae_dictionary.yaml").read_text())
    edits = [("ADSL: {label: Subject-Level Analysis Dataset,",
              "ADSL: {label: Subject-Level Analysis Dataset (ADaM 1.1 edit),"),
             ("{name: AGEU, label: Age Units, type: text, codelist: AGEU,",
              "{name: AGEU, label: Age Units, type: text, codelist: NOPE,"),
             ("{name: SITEID, label: Study Site Identifier,", "{name: SITEIDENT, label: Study Site Identifier,"),
             ("{name: AGE, label: Age, type: integer,", "{name: SUBJID, label: Age, type: integer,")]
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    spec_file.write_text(text)
    trial = load_yaml(ROOT / "config" / "trials" / "nafld_efficacy.yaml")
    with pytest.raises(ConfigError) as raised:
        check_trial_config(trial, "trial.yaml", root=tmp_path)
    assert str(raised.value) == (
        "trial.yaml: adam: ADaM spec: ADSL: dataset label longer than 40 (46); "
        "ADSL.SITEIDENT: name longer than 8 characters; ADSL.AGEU: codelist NOPE not defined; "
        "ADSL.SUBJID: described twice")
    # parsed once per content, and left as read: the checks of every trial share it
    assert validate._spec(spec_file) is validate._spec(spec_file)
    assert validate._spec(spec_file) == load_yaml(spec_file)
    spec_file.write_text((ROOT / "config" / "adam" / "spec.yaml").read_text())  # repaired: read anew
    check_trial_config(trial, "trial.yaml", root=tmp_path)


def test_schema_check_cache_is_keyed_on_content_and_keeps_only_valid_data(tmp_path, monkeypatch):
    # The workflow keeps what check_schema filled in under .snakemake (a tenth of a second of every start); the
    # reference is Snakemake's validate on a fresh load, and a changed file, schema or invalid data is checked anew.
    import datetime

    from snakemake.utils import validate as snakemake_validate

    from ucmsc import validate
    from ucmsc.validate import ConfigError, check_schema

    path, cache = ROOT / "config" / "trials" / "nafld_efficacy.yaml", tmp_path / "cache"
    schema = tmp_path / "trial.schema.yaml"
    schema.write_text((ROOT / "workflow" / "schemas" / "trial.schema.yaml").read_text())
    reference = load_yaml(path)
    snakemake_validate(reference, str(schema))
    first = load_yaml(path)
    check_schema(first, schema, path, cache)  # validated, then kept
    assert first == reference and len(list(cache.iterdir())) == 1

    def no_validation(schema_path):
        raise AssertionError("validated although the same content passed before")
    with monkeypatch.context() as patched:
        patched.setattr(validate, "_schema_validator", no_validation)
        second = load_yaml(path)
        check_schema(second, schema, path, cache)
        assert second == reference and list(second) == list(reference)

    broken = load_yaml(path)  # changed data: validated, and a violation is reported as without the cache
    broken["visits"][0]["visitnum"] = "zero"
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"visits/0/visitnum: 'zero' is not of type"):
            check_schema(broken, schema, path, cache)
    schema.write_text(schema.read_text().replace("    default: nominal\n", "    default: window\n"))
    edited = load_yaml(path)  # changed schema: its new default, not the kept one
    check_schema(edited, schema, path, cache)
    assert edited["visit_assignment"] == "window" and reference["visit_assignment"] == "nominal"

    dated = load_yaml(path)  # JSON cannot carry a date unchanged: checked every time, never kept
    dated["publication"]["cut"] = datetime.date(2019, 1, 15)
    with pytest.raises(ConfigError, match="publication/cut"):
        check_schema(dated, schema, "dated.yaml", cache)
    assert len(list(cache.iterdir())) == 1


def test_schema_cache_keeps_only_what_json_carries_unchanged():
    import datetime

    import numpy as np

    from ucmsc.validate import _as_json

    assert _as_json({"a": [1, 2.5, True, None, "x"], "b": {"c": []}}) is not None
    for changed in ({1: "int key"}, {True: "bool key"}, {"a": (1, 2)}, {"a": float("nan")},
                    {"a": datetime.date(2020, 1, 1)}, {"a": np.float64(1.5)}):
        assert _as_json(changed) is None, changed


def test_plan_levels_of_a_graded_ae_variable_must_be_among_the_levels_cleaning_keeps():
    def edit(trial):
        trial["analyses"].append({"id": "AESEV", "method": "ae_by_grade", "population": "SAFFL", "options": {
            "variable": "AESEV", "levels": {"AESEV": ["MILD", "MODERATE", "SEVERE", "LIFE THREATENING"]}}})
        trial["analyses"].append({"id": "AEREL", "method": "ae_by_grade", "population": "SAFFL", "options": {
            "variable": "AEREL", "levels": {"AEREL": ["NOT RELATED", "RELATED"]}}})  # AEREL unchecked: any scale
    assert problems_after(edit) == [
        "analyses[8] (AESEV).options.levels.AESEV: LIFE THREATENING not among the trial's levels of AESEV (MILD, "
        "MODERATE, SEVERE), which cleaning keeps: list the scale under adverse_events.levels.AESEV"]
    assert problems_after(lambda t: (edit(t), t.update(adverse_events={"levels": {
        "AESEV": ["MILD", "MODERATE", "SEVERE", "LIFE THREATENING"]}}))) == []
