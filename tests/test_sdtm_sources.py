"""SDTM deliveries as sources: supplemental qualifiers merged by IDVAR/IDVARVAL, row filters, USUBJID as
delivered, any other domain, subject-level rules (disposition events, reference date from DS)."""

from datetime import date

import pandas as pd
import pytest

from ucmsc import clean, subjects
from ucmsc.ingest import MappingError, map_source, merge_supplemental, select_rows

AE = pd.DataFrame({"USUBJID": ["S-701-1", "S-701-1", "S-702-5"], "AESEQ": ["1", "2", "1"],
                   "AETERM": ["HEADACHE", "Nausea", "headache"]})


def supp(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QLABEL", "QVAL"])


def test_qualifiers_land_on_their_parent_record_by_idvar_and_idvarval():
    suppae = supp([("S", "AE", "S-701-1", "AESEQ", "2", "AETRTEM", "TE", "Y"),
                   ("S", "AE", "S-702-5", "AESEQ", "1.0", "AETRTEM", "TE", "N"),  # numeric text as SAS writes it
                   ("S", "AE", "S-701-1", "AESEQ", "1", "AETRTEM", "TE", "N")])
    merged = merge_supplemental(AE, suppae, "ae.xpt", "suppae.xpt")
    assert merged["AETRTEM"].tolist() == ["N", "Y", "N"]
    assert merged[list(AE.columns)].equals(AE)  # the parent's own values untouched


def test_subject_level_qualifiers_reach_every_record_of_the_subject_and_absent_ones_stay_blank():
    dm = pd.DataFrame({"USUBJID": ["S-1", "S-2", "S-3"], "ARM": ["A", "B", "A"]})
    suppdm = supp([("S", "DM", "S-1", "", "", "ITT", "ITT", "Y"), ("S", "DM", "S-1", "", "", "SAFETY", "S", "Y"),
                   ("S", "DM", "S-2", "", "", "ITT", "ITT", "Y")])
    merged = merge_supplemental(dm, suppdm, "dm.xpt", "suppdm.xpt")
    assert merged["ITT"].tolist() == ["Y", "Y", ""]
    assert merged["SAFETY"].tolist() == ["Y", "", ""]


def test_a_qualifier_without_its_parent_is_an_error_naming_file_row_and_key():
    suppae = supp([("S", "AE", "S-701-1", "AESEQ", "1", "AETRTEM", "TE", "Y"),
                   ("S", "AE", "S-701-1", "AESEQ", "9", "AETRTEM", "TE", "Y")])
    with pytest.raises(MappingError, match=r"suppae.xpt row 2: no ae.xpt record for USUBJID S-701-1 with AESEQ 9"):
        merge_supplemental(AE, suppae, "ae.xpt", "suppae.xpt")


def test_a_qualifier_given_twice_or_named_like_a_parent_column_is_an_error():
    twice = supp([("S", "AE", "S-701-1", "AESEQ", "1", "AETRTEM", "TE", "Y"),
                  ("S", "AE", "S-701-1", "AESEQ", "1", "AETRTEM", "TE", "N")])
    with pytest.raises(MappingError, match="row 2: QNAM AETRTEM is given twice for USUBJID S-701-1, AESEQ 1"):
        merge_supplemental(AE, twice, "ae.xpt", "suppae.xpt")
    clash = supp([("S", "AE", "S-701-1", "AESEQ", "1", "AETERM", "T", "x")])
    with pytest.raises(MappingError, match="QNAM AETERM is already a column of ae.xpt"):
        merge_supplemental(AE, clash, "ae.xpt", "suppae.xpt")
    with pytest.raises(MappingError, match="IDVAR AESPID is not a column of ae.xpt"):
        merge_supplemental(AE, supp([("S", "AE", "S-701-1", "AESPID", "1", "X", "X", "x")]), "ae.xpt", "suppae.xpt")


def test_where_keeps_rows_by_value_and_the_kept_rows_keep_their_raw_row_numbers():
    ds = pd.DataFrame({"USUBJID": ["S-1", "S-1", "S-2", "S-2"], "DSSEQ": ["1", "2", "1", "2"],
                       "DSCAT": ["PROTOCOL MILESTONE", "DISPOSITION EVENT", "PROTOCOL MILESTONE", "DISPOSITION EVENT"],
                       "DSDECOD": ["RANDOMIZED", "COMPLETED", "RANDOMIZED", "ADVERSE EVENT"],
                       "DSSTDTC": ["2020-01-02", "2020-06-01", "2020-01-03", "2020-03"], "DSTERM": list("abcd")})
    keep = select_rows(ds, {"DSCAT": "DISPOSITION EVENT"}, "ds.xpt")
    assert keep.tolist() == [False, True, False, True]
    source = {"file": "ds.xpt", "domain": "DS", "columns": {c: c for c in ("USUBJID", "DSSEQ", "DSDECOD", "DSSTDTC",
                                                                               "DSTERM", "DSCAT")}}
    mapped = map_source(ds[keep], source)
    assert mapped["SRCROW"].tolist() == [2, 4]
    assert mapped["USUBJID"].tolist() == ["S-1", "S-2"]
    assert select_rows(ds, {"DSDECOD": ["COMPLETED", "ADVERSE EVENT"]}, "ds.xpt").sum() == 2
    with pytest.raises(MappingError, match="where: column 'EPOCH' not found"):
        select_rows(ds, {"EPOCH": "TREATMENT"}, "ds.xpt")


def test_usubjid_is_taken_as_delivered_and_only_built_where_missing():
    raw = pd.DataFrame({"USUBJID": ["CDISC01-701-1015", ""], "SUBJID": ["1015", "1023"]})
    assert clean.with_usubjid(raw, "CDISC01").USUBJID.tolist() == ["CDISC01-701-1015", "CDISC01-1023"]
    assert clean.with_usubjid(raw[["SUBJID"]], "X").USUBJID.tolist() == ["X-1015", "X-1023"]


DS_CONFIG = {"disposition": {"where": {"DSCAT": "DISPOSITION EVENT"}},
             "reference_date": {"domain": "DS", "where": {"DSDECOD": "RANDOMIZED"}}}
DS = pd.DataFrame({
    "USUBJID": ["A", "A", "A", "B", "B", "C"],
    "DSCAT": ["PROTOCOL MILESTONE", "DISPOSITION EVENT", "OTHER EVENT", "PROTOCOL MILESTONE", "DISPOSITION EVENT",
              "PROTOCOL MILESTONE"],
    "DSDECOD": ["RANDOMIZED", "COMPLETED", "FINAL LAB VISIT", "RANDOMIZED", "ADVERSE EVENT", "RANDOMIZED"],
    "DSSTDTC": ["2020-01-02", "2020-06-30", "2020-07-02", "2020-01-05", "2020-03", "2020-02-01"],
    "DSTERM": ["", "", "", "", "rash", ""]})


def test_the_last_disposition_event_ends_the_study_and_other_ds_records_do_not():
    last = subjects.end_of_study(DS, DS_CONFIG)
    assert last["DSDECOD"].to_dict() == {"A": "COMPLETED", "B": "ADVERSE EVENT"}  # C: no disposition event yet
    assert subjects.left_study(DS, DS_CONFIG).to_dict() == {"B": "2020-03"}
    # without the selection every record would count, and A's last one (a lab visit) would read as a discontinuation
    assert subjects.end_of_study(DS, {})["DSDECOD"]["A"] == "FINAL LAB VISIT"


def test_a_later_disposition_event_of_another_epoch_wins():
    two = pd.DataFrame({"USUBJID": ["A", "A"], "DSCAT": ["DISPOSITION EVENT"] * 2, "EPOCH": ["TREATMENT", "FOLLOW-UP"],
                        "DSDECOD": ["COMPLETED", "LOST TO FOLLOW-UP"], "DSSTDTC": ["2020-06-30", "2020-09-01"],
                        "DSTERM": ["", ""]})
    assert subjects.end_of_study(two, DS_CONFIG).loc["A", "DSDECOD"] == "LOST TO FOLLOW-UP"


def test_reference_date_from_the_randomisation_record():
    assert subjects.reference_dates(DS, DS_CONFIG).to_dict() == {"A": "2020-01-02", "B": "2020-01-05",
                                                                 "C": "2020-02-01"}


def test_disposition_check_logs_discontinuations_among_disposition_events_only():
    from ucmsc import checks

    events = subjects.disposition_records(DS, DS_CONFIG)
    found = checks.disposition(DS, events).findings
    assert len(found) == 1 and found[0].rows.tolist() == [False, False, False, False, True, False]


def test_another_domain_is_cleaned_and_carried(tmp_path):
    spec = clean.CutSpec({"studyid": "S", "sources": [{"file": "sv.xpt", "domain": "SV", "columns": {}}]},
                         date(2021, 1, 1))
    log = clean.CutLog(spec)
    sv = pd.DataFrame({"USUBJID": ["A", "A", "Z", "A"], "VISITNUM": ["1", "2", "1", "3"],
                       "VISIT": ["SCREENING", "BASELINE", "SCREENING", "WEEK 4"],
                       "SVSTDTC": ["2020-01-01", "2020-01", "2020-01-01", "2021-02-01"],
                       "SRCFILE": "sv.xpt", "SRCROW": [1, 2, 3, 4]})
    out = clean.clean_other("SV", sv, spec, log, pd.Series(["A"]))
    assert out["VISIT"].tolist() == ["SCREENING", "BASELINE"]  # Z is not in DM; week 4 is after the cut
    assert out["SVSTDTC"].tolist() == ["2020-01-01", "2020-01"]  # a partial date kept as given
    quarantined = log.domain_quarantine("SV")
    assert sorted(quarantined["CHECK"]) == ["after_cut_date", "subject_in_dm"]
    assert log.summary[-1]["RECORDS_IN"] == 4 and log.summary[-1]["RECORDS_OUT"] == 2
