import json
from datetime import date

import pandas as pd
import pytest

from conftest import DATACUTS, FINAL_CUTS, INTERIM_CUTS
from ucmsc.clean import clean_cut
from ucmsc.domains import data_dictionary
from ucmsc.ingest import MappingError, ingest_cut, map_source
from ucmsc.io import RawReadError, read_raw, sha256_file


def test_missing_required_column_names_file_and_column():
    raw = pd.DataFrame({"SUBJID": ["E001"], "VISIT": ["BASELINE"]})
    source = {"file": "lb.xpt", "domain": "LB",
              "columns": {"SUBJID": "SUBJID", "VISIT": "VISIT", "DTC": "LBDAT", "TESTCD": "LBTESTCD",
                          "ORRES": "LBORRES", "ORRESU": "LBORRESU"}}
    with pytest.raises(MappingError, match=r"lb.xpt: required column\(s\) 'LBDAT'"):
        map_source(raw, source)


def test_unreadable_file_names_the_file(tmp_path):
    bad = tmp_path / "dm.xpt"
    bad.write_bytes(b"not a transport file")
    with pytest.raises(RawReadError, match="dm.xpt: cannot read"):
        read_raw(bad)


def test_wrong_encoding_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "central_lab.csv"
    path.write_bytes("Patient,Comment\nS001,hémolysé\n".encode("latin-1"))
    with pytest.raises(RawReadError, match="central_lab.csv: cannot read: not valid utf-8"):
        read_raw(path, encoding="utf-8")
    assert read_raw(path, encoding="latin-1")[0]["Comment"].iloc[0] == "hémolysé"


@pytest.fixture(scope="module")
def cleaned(trial_configs):
    out = {}
    for cuts in (FINAL_CUTS, INTERIM_CUTS):
        for trial, cut in cuts.items():
            folder = DATACUTS / trial / cut
            before = {p.name: sha256_file(p) for p in folder.iterdir()}
            tables, _, _ = ingest_cut(folder, trial_configs[trial], cut_date=cut)
            result = clean_cut(tables, trial_configs[trial], date.fromisoformat(cut))
            assert before == {p.name: sha256_file(p) for p in folder.iterdir()}, "a raw file changed"
            out[(trial, cut)] = (json.loads((folder / "manifest.json").read_text()), *result)
    return out


def test_every_planted_problem_is_caught_by_its_check(cleaned):
    for (trial, cut), (manifest, _clean, queries, _quarantine, _summary) in cleaned.items():
        for problem in manifest["planted_problems"]:
            hits = queries[queries["CHECK"] == problem["check"]]
            if problem.get("subject"):
                hits = hits[hits["USUBJID"].str.endswith("-" + problem["subject"])]
            if problem.get("file"):
                hits = hits[hits["FILE"] == problem["file"]]
            if problem.get("testcd") and problem["check"] in ("numeric_result", "unit_conversion", "plausible_range"):
                hits = hits[hits["MESSAGE"].str.contains(problem["testcd"]) | (hits["CHECK"] == "numeric_result")]
            assert len(hits), f"{trial} {cut}: planted {problem['kind']} not caught by check {problem['check']}"
            if problem["kind"] == "glucose_mg_dl":
                assert len(hits) == problem["records"]


def test_records_in_equal_records_out_plus_quarantined_and_each_quarantine_is_queried(cleaned):
    for _manifest, _clean, queries, quarantine, summary in cleaned.values():
        assert (summary["RECORDS_IN"] == summary["RECORDS_OUT"] + summary["QUARANTINED"]).all()
        queried = set(zip(queries["FILE"], queries["ROW"]))
        assert set(zip(quarantine["SRCFILE"], quarantine["SRCROW"])) <= queried


def test_glucose_in_mg_dl_is_converted_with_the_logged_factor(cleaned):
    manifest, clean, queries, _, _ = cleaned[("t2dm_safety", FINAL_CUTS["t2dm_safety"])]
    lb = clean["LB"]
    converted = lb[(lb["LBTESTCD"] == "GLUC") & (lb["LBORRESU"] == "mg/dL")]
    assert len(converted) > 0 and (converted["LBSTRESU"] == "mmol/L").all()
    by_hand = converted["LBORRES"].astype(float) / 18.016
    assert (converted["LBSTRESN"] - by_hand).abs().max() < 1e-12
    assert queries[queries["CHECK"] == "unit_conversion"]["ACTION"].str.contains("/ 18.016").all()


def test_censored_text_keeps_its_censoring(cleaned):
    _, clean, _, _, _ = cleaned[("t2dm_safety", FINAL_CUTS["t2dm_safety"])]
    censored = clean["LB"][clean["LB"]["LBORRES"] == "<0.5"]
    assert len(censored) == 1
    assert (censored["LBSTRESC"].iloc[0] == "<0.5" and censored["LBLLOQ"].iloc[0] == 0.5
            and pd.isna(censored["LBSTRESN"].iloc[0]))


def test_interim_entry_error_is_quarantined_and_corrected_in_the_final_cut(cleaned):
    manifest, clean, queries, quarantine, _ = cleaned[("nafld_efficacy", INTERIM_CUTS["nafld_efficacy"])]
    slip = manifest["entry_errors"][0]
    assert quarantine["USUBJID"].str.endswith(slip["subject"]).any()
    _, final_clean, _, _, _ = cleaned[("nafld_efficacy", FINAL_CUTS["nafld_efficacy"])]
    lb = final_clean["LB"]
    fixed = lb[lb["USUBJID"].str.endswith(slip["subject"]) & (lb["LBTESTCD"] == slip["testcd"])
               & (lb["VISITNUM"] == slip["week"])]
    assert fixed["LBSTRESN"].tolist() == [slip["final_value"]]


def test_data_dictionary_labels_every_clean_variable(cleaned):
    for _, clean, _, _, _ in cleaned.values():
        dictionary = data_dictionary(clean)
        assert (dictionary["LABEL"] != "").all(), dictionary[dictionary["LABEL"] == ""]


# Hand-built cases for the rules that decide what happens to a record.

def _config(assignment="nominal"):
    return {
        "studyid": "T", "visit_assignment": assignment,
        "arms": [{"arm": "A", "armcd": "A", "role": "active"}, {"arm": "B", "armcd": "B", "role": "control"}],
        "visits": [{"visitnum": 0, "avisit": "Week 0", "day": 0, "window": 0},
                   {"visitnum": 4, "avisit": "Week 4", "day": 28, "window": 3},
                   {"visitnum": 8, "avisit": "Week 8", "day": 56, "window": 3}],
        "visit_labels": {"BASELINE": 0, "WEEK 4": 4, "WEEK 8": 8},
        "sources": [{"file": "dm.csv", "domain": "DM", "columns": {}, "codes": {"ARM": {"1": "A"}, "SEX": {"M": "M"}}},
                    {"file": "lb.csv", "domain": "LB", "columns": {}}],
        "tests": {"ALT": {"test": "ALT", "unit": "U/L", "range": [1, 3000]}},
    }


def _tables(lb_rows):
    empty = {d: pd.DataFrame(columns=c + ["SRCFILE", "SRCROW"]) for d, c in {
        "DS": ["SUBJID", "DSDECOD", "DSSTDTC", "DSTERM"],
        "EX": ["SUBJID", "EXSEQ", "EXSTDTC", "EXDOSE", "EXDOSU", "EXTRT"],
        "VS": ["SUBJID", "VISIT", "DTC", "TESTCD", "ORRES", "ORRESU"],
        "XP": ["SUBJID", "VISIT", "DTC", "TESTCD", "ORRES", "ORRESU"],
        "AE": ["SUBJID", "AETERM", "AESTDTC", "AEENDTC", "AESEV", "AESER", "AEREL", "AEOUT"]}.items()}
    dm = pd.DataFrame([["S1", "01", "M", "50", "2020-01-01", "1", "dm.csv", 1]],
                      columns=["SUBJID", "SITEID", "SEX", "AGE", "RANDDT", "ARM", "SRCFILE", "SRCROW"])
    lb = pd.DataFrame([r + ["lb.csv", i + 1] for i, r in enumerate(lb_rows)],
                      columns=["SUBJID", "VISIT", "DTC", "TESTCD", "ORRES", "ORRESU", "SRCFILE", "SRCROW"])
    return {"DM": dm, "LB": lb, **{k: v.astype(str) for k, v in empty.items()}}


def test_exact_duplicates_keep_the_first_and_conflicting_ones_are_all_quarantined():
    rows = [["S1", "WEEK 4", "2020-01-29", "ALT", "30", "U/L"], ["S1", "WEEK 4", "2020-01-29", "ALT", "30", "U/L"],
            ["S1", "WEEK 8", "2020-02-26", "ALT", "31", "U/L"], ["S1", "WEEK 8", "2020-02-26", "ALT", "41", "U/L"]]
    clean, queries, quarantine, _ = clean_cut(_tables(rows), _config(), date(2020, 6, 30))
    assert clean["LB"]["SRCROW"].tolist() == [1]
    assert sorted(quarantine["SRCROW"].tolist()) == [2, 3, 4]
    actions = queries[queries["CHECK"] == "duplicate_records"].set_index("ROW")["ACTION"]
    assert actions[2] == "quarantined; first copy kept" and actions[3] == actions[4] == "quarantined; all copies"


@pytest.mark.parametrize("assignment, expected_visit", [("nominal", 4), ("window", 8)])
def test_visit_windows_flag_or_move_a_misdated_record(assignment, expected_visit):
    rows = [["S1", "WEEK 4", "2020-02-25", "ALT", "30", "U/L"]]  # day 55: outside week 4 (25-31), inside week 8 (53-59)
    clean, queries, _, _ = clean_cut(_tables(rows), _config(assignment), date(2020, 6, 30))
    assert clean["LB"]["VISITNUM"].tolist() == [expected_visit]
    query = queries[queries["CHECK"] == "visit_window"].iloc[0]
    assert "day 55" in query["MESSAGE"] and "Week 8 window" in query["MESSAGE"]


# One duplicate rule for every domain: identical copies keep the first; conflicting copies are all quarantined.
_VALID = {
    "DM": {"SUBJID": "S1", "SITEID": "01", "SEX": "M", "AGE": "50", "RANDDT": "2020-01-01", "ARM": "1"},
    "DS": {"SUBJID": "S1", "DSDECOD": "COMPLETED", "DSSTDTC": "2020-03-01", "DSTERM": "Completed"},
    "EX": {"SUBJID": "S1", "EXSEQ": "1", "EXSTDTC": "2020-01-01T09:00", "EXDOSE": "1", "EXDOSU": "10^6 cells/kg",
           "EXTRT": "UC-MSC"},
    "AE": {"SUBJID": "S1", "AETERM": "Fever", "AESTDTC": "2020-01-02T10:00", "AEENDTC": "", "AESEV": "MILD",
           "AESER": "N", "AEREL": "RELATED", "AEOUT": "RECOVERED/RESOLVED"},
    **{d: {"SUBJID": "S1", "VISIT": "WEEK 4", "DTC": "2020-01-29", "TESTCD": "ALT", "ORRES": "30", "ORRESU": "U/L"}
       for d in ("LB", "VS", "XP")},
}
# A second record key of the domain (another infusion, event, visit), and the variable that makes two copies conflict.
_OTHER_KEY = {"DM": {"SUBJID": "S2"}, "DS": {"SUBJID": "S2"}, "EX": {"EXSEQ": "2", "EXSTDTC": "2020-01-08T09:00"},
              "AE": {"AESTDTC": "2020-01-05T10:00"},
              **{d: {"VISIT": "WEEK 8", "DTC": "2020-02-26"} for d in ("LB", "VS", "XP")}}
_CONFLICT = {"DM": {"AGE": "51"}, "DS": {"DSSTDTC": "2020-03-02"}, "EX": {"EXDOSE": "2"}, "AE": {"AESEV": "SEVERE"},
             **{d: {"ORRES": "41"} for d in ("LB", "VS", "XP")}}


@pytest.mark.parametrize("domain", ["DM", "DS", "EX", "AE", "LB", "VS", "XP"])
def test_one_duplicate_rule_in_every_domain(domain):
    base = _VALID[domain]
    other = {**base, **_OTHER_KEY[domain]}
    records = [base, dict(base), other, {**other, **_CONFLICT[domain]}]  # rows 1, 2 identical; rows 3, 4 conflicting
    tables = _tables([])
    columns = list(tables[domain].columns)
    frame = pd.DataFrame([{**r, "SRCFILE": f"{domain.lower()}.csv", "SRCROW": i + 1}
                          for i, r in enumerate(records)])[columns]
    if domain == "DM":
        tables["DM"] = frame
    else:
        tables[domain] = frame.astype({c: str for c in columns if c != "SRCROW"})
        dm = tables["DM"]
        tables["DM"] = pd.concat([dm, dm.assign(SUBJID="S2", SRCROW=2)], ignore_index=True)
    config = _config()
    config["sources"].append({"file": f"{domain.lower()}.csv", "domain": domain, "columns": {},
                              "datetime_format": "%Y-%m-%dT%H:%M"} if domain != "DM" else {})
    config["sources"] = [s for s in config["sources"] if s]
    clean, queries, quarantine, summary = clean_cut(tables, config, date(2020, 6, 30))
    kept = clean[domain][clean[domain]["SRCFILE"] == f"{domain.lower()}.csv"]["SRCROW"].tolist()
    assert kept == [1], f"{domain}: kept rows {kept}"
    moved = quarantine[quarantine["DOMAIN"] == domain]
    assert sorted(moved["SRCROW"].tolist()) == [2, 3, 4]
    actions = queries[(queries["CHECK"] == "duplicate_records")
                      & (queries["DOMAIN"] == domain)].set_index("ROW")["ACTION"]
    assert actions.to_dict() == {2: "quarantined; first copy kept", 3: "quarantined; all copies",
                                 4: "quarantined; all copies"}
