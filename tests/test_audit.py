"""Published vs reproduced on the bundled cuts, through the real pipeline functions."""

import math

import pandas as pd
import pytest

from conftest import FINAL_CUTS, INTERIM_CUTS, ROOT, run_pipeline
from ucmsc import ard as ardlib
from ucmsc.audit import INTERIM, audit_summary, audit_trial, expand, published_number, run_audit
from ucmsc.config import load_yaml

PUBLISHED = load_yaml(ROOT / "resources" / "published" / "published_numbers.yaml")


@pytest.fixture(scope="module")
def audits(trial_configs):
    out = {}
    for trial, cut in FINAL_CUTS.items():
        ard = run_pipeline(trial, cut, trial_configs[trial])["ard"]
        out[trial] = (ard, audit_trial(ard, PUBLISHED[trial], cut, trial_configs[trial]["publication"]["cut"]))
    return out


@pytest.mark.parametrize("trial", sorted(FINAL_CUTS))
def test_every_published_result_matches_except_the_inconsistent_publication(audits, trial):
    _, audit = audits[trial]
    results = audit[audit["STATUS"] != "design"]
    unexplained = results[~results["STATUS"].isin(["match", "inconsistent publication"])]
    assert unexplained.empty, unexplained[["CHECK_ID", "PUBLISHED", "REPRODUCED", "STATUS"]].to_string()


@pytest.mark.parametrize("check_id, published", [
    ("hba1c-target-p.1", "P=0.008"), ("hba1c-target-p.2", "P=0.028"), ("hba1c-target-p.3", "P=0.002"),
    ("ultrasound-improved-p", "P=0.021"), ("glucose-week20-between-p", "P=0.008"), ("gir-week48-p", "P=0.007"),
    ("randomised.1", "33"), ("randomised.2", "32"), ("males.1", "22"), ("males.2", "22"),
    ("age-mean.1", "51.36"), ("age-mean.2", "50.47"), ("age-sd.1", "8.85"), ("age-sd.2", "8.42"),
    ("hba1c-target-pct.1", "60.60%"), ("hba1c-target-pct.6", "12.50%"), ("ultrasound-improved-pct.1", "45.45%"),
])
def test_the_required_efficacy_numbers_match_with_the_text_kept_verbatim(audits, check_id, published):
    _, audit = audits["nafld_efficacy"]
    row = audit.set_index("CHECK_ID").loc[check_id]
    assert row["PUBLISHED"] == published and row["STATUS"] == "match"


def test_a_padded_percentage_is_compared_by_its_stated_rule(audits):
    """60.60% for 20/33 = 60.606%: the publication rounds to one decimal and pads a zero; the rule says so."""
    _, audit = audits["nafld_efficacy"]
    row = audit.set_index("CHECK_ID").loc["hba1c-target-pct.1"]
    assert row["RULE"] == "equal at 1 decimals (ARD rounded half up)" and row["REPRODUCED"] == "60.6"
    assert row["VALUE"] == pytest.approx(100 * 20 / 33, rel=1e-12)


def test_week_9_glucose_p_is_computed_to_be_inconsistent_with_the_published_summaries(audits):
    _, audit = audits["nafld_efficacy"]
    row = audit.set_index("CHECK_ID").loc["glucose-week9-between-p"]
    assert row["STATUS"] == "inconsistent publication"
    assert "give P = 0.121" in row["DETAIL"] and float(row["REPRODUCED"]) > 0.05


def test_no_status_is_declared_in_the_published_numbers():
    for trial in PUBLISHED.values():
        for entry in trial["numbers"]:
            assert not {"status", "check", "reason"} & set(entry), entry["id"]


def test_statuses_follow_from_the_ard():
    ard = ardlib.conform(pd.DataFrame([
        {"ANALYSIS_ID": "X", "PARAMCD": "A", "STAT_NAME": "p", "VALUE": 0.0284, "GROUP1_LEVEL": "T", "COMPARATOR": "C"},
        {"ANALYSIS_ID": "X", "PARAMCD": "B", "STAT_NAME": "p", "VALUE": math.nan, "GROUP1_LEVEL": "T",
         "COMPARATOR": "C", "WARNING": "not estimable: C has 1 non-missing value (2 needed)"},
        {"ANALYSIS_ID": "X", "PARAMCD": "D", "STAT_NAME": "p", "VALUE": 0.2, "GROUP1_LEVEL": "T", "COMPARATOR": "C"}]))
    published = {"source": "s", "numbers": [
        {"id": "a", "sentence": "s", "published": "P=0.028", "ard": {"ANALYSIS_ID": "X", "PARAMCD": "A"},
         "compare": {"decimals": 3}},
        {"id": "a2", "sentence": "s", "published": "P=0.029", "ard": {"ANALYSIS_ID": "X", "PARAMCD": "A"},
         "compare": {"decimals": 3}},
        {"id": "b", "sentence": "s", "published": "P<0.05", "ard": {"ANALYSIS_ID": "X", "PARAMCD": "B"},
         "compare": {"below": 0.05}},
        {"id": "c", "sentence": "s", "published": "P<0.05", "ard": {"ANALYSIS_ID": "X", "PARAMCD": "Z"},
         "compare": {"below": 0.05}},
        {"id": "d", "sentence": "s", "published": "P=0.01", "ard": {"ANALYSIS_ID": "X", "PARAMCD": "D"},
         "compare": {"decimals": 2},
         "published_summaries": {"test": "student_t", "mean1": 1.0, "sd1": 1.0, "n1": 10, "mean2": 1.5, "sd2": 1.0,
                                 "n2": 10}},
        {"id": "e", "sentence": "s", "published": "1 dose"}]}
    statuses = audit_trial(ard, published, "2020-01-01", "2020-01-01").set_index("CHECK_ID")["STATUS"].to_dict()
    # 0.0284 rounds half up to 0.028; 0.029 does not; the summaries give P = 0.28 (t = 1.118, 18 df), not 0.01
    assert statuses == {"a": "match", "a2": "mismatch", "b": "not estimable", "c": "missing",
                        "d": "inconsistent publication", "e": "design"}
    assert audit_summary(audit_trial(ard, published, "2020-01-01", "2020-01-01")) == (
        "1 match, 1 mismatch, 1 not estimable, 1 missing, 1 inconsistent publication")
    interim = audit_trial(ard, published, "2019-06-30", "2020-01-01").set_index("CHECK_ID")
    # every row of the interim cut, the mismatching one included, is unscored; the status it would have is kept; a
    # missing ARD row is the pipeline's fault in any cut and stays 'missing'
    assert interim["STATUS"].to_dict() == {"a": INTERIM, "a2": INTERIM, "b": INTERIM, "c": "missing", "d": INTERIM,
                                           "e": "design"}
    assert interim.loc["a", "DETAIL"] == "would be 'match'; the publication reports cut 2020-01-01, not this one"
    assert interim.loc["a2", "DETAIL"].startswith("would be 'mismatch'") and interim.loc["a", "REPRODUCED"] == "0.028"
    assert audit_summary(interim.reset_index()) == "interim: not scored, 1 missing"
    assert audit_summary(audit_trial(ard, {"source": "", "numbers": []}, "2020-01-01")) == "no publication"


def test_the_interim_cuts_are_not_scored_against_the_final_publication(trial_configs):
    trial, cut = "nafld_efficacy", INTERIM_CUTS["nafld_efficacy"]
    final = trial_configs[trial]["publication"]["cut"]
    assert final == FINAL_CUTS[trial] != cut
    audit = audit_trial(run_pipeline(trial, cut, trial_configs[trial])["ard"], PUBLISHED[trial], cut, final)
    scored = audit[audit["STATUS"] != "design"]
    assert len(scored) == 54 and set(scored["STATUS"]) == {INTERIM}
    # scored against the final paper, the interim data would not match it: that is what the status spares the reader
    would_be = scored["DETAIL"].str.extract(r"^would be '([^']+)'")[0].value_counts().to_dict()
    assert would_be.get("mismatch", 0) > 0 and sum(would_be.values()) == 54


def test_published_numbers_without_the_publications_cut_stop_the_audit(tmp_path):
    ard = tmp_path / "ard.csv"
    ardlib.conform(pd.DataFrame([{"ANALYSIS_ID": "X", "PARAMCD": "A", "STAT_NAME": "p", "VALUE": 0.1}])).to_csv(ard)
    published = {"source": "paper.txt", "numbers": [{"id": "a", "sentence": "s", "published": "P=0.1",
                                                     "ard": {"ANALYSIS_ID": "X"}, "compare": {"decimals": 1}}]}
    with pytest.raises(ValueError, match="paper.txt: the trial config has no publication.cut"):
        run_audit(str(ard), published, str(tmp_path / "audit.csv"), None, cut="2020-01-01")


def test_ard_has_one_row_per_statistic(audits):
    for ard, _ in audits.values():
        assert not ard.duplicated(ardlib.KEYS).any(), ard[ard.duplicated(ardlib.KEYS, keep=False)].head()


def test_multiplicity_rows_sit_beside_the_raw_p_values(audits):
    ard, _ = audits["nafld_efficacy"]
    raw = ard[(ard["ANALYSIS_ID"] == "ANCOVA") & (ard["STAT_NAME"] == "p") & (ard["PARAMCD"] == "TG")]
    holm = ard[(ard["ANALYSIS_ID"] == "ANCOVA") & (ard["STAT_NAME"] == "p_holm") & (ard["PARAMCD"] == "TG")]
    assert len(raw) == len(holm) == 3 and (holm["VALUE"].to_numpy() >= raw["VALUE"].to_numpy()).all()


def test_expand_pairs_cells_with_published_values():
    entry = {"id": "x", "sentence": "s", "published": ["1", "2"], "compare": {"decimals": 0},
             "ard": {"ANALYSIS_ID": "CONT", "STAT_NAME": "mean"},
             "cells": [{"arm": "A", "visit": 9}, {"arm": "A", "comparator": "B", "visit": 20, "stat": "p"}]}
    checks = expand(entry)
    assert [(c["selector"]["GROUP1_LEVEL"], c["selector"]["COMPARATOR"], c["selector"]["AVISITN"],
             c["selector"]["STAT_NAME"], c["published"])
            for c in checks] == [("A", "", 9, "mean", "1"), ("A", "B", 20, "p", "2")]


def test_the_number_is_read_from_the_verbatim_text():
    assert ([published_number(t) for t in ("60.60%", "P=0.007", "P<0.05", "33", "1.41 mg/kg/min")]
            == [60.6, 0.007, 0.05, 33, 1.41])


@pytest.mark.parametrize("key, items", [("arms", ["A", "B"]),
                                        ("cells", [{"arm": "A", "visit": 0}, {"arm": "B", "visit": 0}])])
@pytest.mark.parametrize("published", [["1"], ["1", "2", "3"], "12"])
def test_expand_refuses_a_published_list_that_does_not_pair_with_the_arms_or_cells(key, items, published):
    entry = {"id": "x", "sentence": "s", "published": published, "compare": {"decimals": 0},
             "ard": {"ANALYSIS_ID": "POP", "STAT_NAME": "n"}, key: items}
    with pytest.raises(ValueError, match=f"x: 2 {key} need a list of 2 published values"):
        expand(entry)
