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
    keep, absent = select_rows(ds, {"DSCAT": "Disposition event"}, "ds.xpt")  # case ignored, as in disposition.where
    assert keep.tolist() == [False, True, False, True] and absent == []
    source = {"file": "ds.xpt", "domain": "DS", "columns": {c: c for c in ("USUBJID", "DSSEQ", "DSDECOD", "DSSTDTC",
                                                                               "DSTERM", "DSCAT")}}
    mapped = map_source(ds[keep], source)
    assert mapped["SRCROW"].tolist() == [2, 4]
    assert mapped["USUBJID"].tolist() == ["S-1", "S-2"]
    keep, absent = select_rows(ds, {"DSDECOD": ["COMPLETED", "ADVERSE EVENT", "DEATH"]}, "ds.xpt")
    assert keep.sum() == 2 and absent == ["DSDECOD = DEATH"]  # reported, as a value a later cut may bring
    with pytest.raises(MappingError, match="where: column 'EPOCH' not found"):
        select_rows(ds, {"EPOCH": "TREATMENT"}, "ds.xpt")
    with pytest.raises(MappingError, match=r"keeps none of its 4 rows; the values present are DSCAT: DISPOSITION "
                                           r"EVENT, PROTOCOL MILESTONE"):
        select_rows(ds, {"DSCAT": "DISPOSITION EVENTS"}, "ds.xpt")  # a typo would empty DS


@pytest.mark.parametrize("typo", ["DISPOSITION EVENTS", "Disposition-Event", " disposition  event "])
def test_a_left_out_value_spelt_as_a_kept_one_stops_the_cut(typo):
    ds = pd.DataFrame({"DSCAT": ["PROTOCOL MILESTONE", "DISPOSITION EVENT", "OTHER EVENT", typo, typo]})
    with pytest.raises(MappingError) as caught:
        select_rows(ds, {"DSCAT": ["PROTOCOL MILESTONE", "DISPOSITION EVENT"]}, "ds.xpt")
    assert str(caught.value) == (
        f"ds.xpt: data rows 4, 5: DSCAT {typo.strip().upper()!r} is left out by where: DSCAT: 'DISPOSITION EVENT', "
        "from which it differs only in spaces, punctuation or a plural s: a typo would drop the record silently; "
        "correct the delivery, or list the value under where")


@pytest.mark.parametrize("kept, other", [("WEIGHT", "HEIGHT"), ("PART A", "PART B"), ("TREATMENT", "TREATMENT 2"),
                                         ("WEEK 12", "WEEK 13"), ("DISPOSITION EVENT", "DISPOSITON EVENT")])
def test_another_value_a_letter_or_a_digit_away_is_left_out_as_asked(kept, other):
    keep, _ = select_rows(pd.DataFrame({"X": [kept, other]}), {"X": kept}, "x.csv")
    assert keep.tolist() == [True, False]


def test_usubjid_is_taken_as_delivered_and_never_invented():
    raw = pd.DataFrame({"USUBJID": ["CDISC01-701-1015", ""], "SUBJID": ["1015", "1023"]})
    # a blank delivered USUBJID stays blank (queried in DM), not STUDYID-SUBJID, which the sponsor never assigned
    assert clean.with_usubjid(raw, "CDISC01").USUBJID.tolist() == ["CDISC01-701-1015", ""]
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


# --- damaged SDTM deliveries: each change is queried or stops the cut, never lost in silence ---------------------

@pytest.fixture(scope="module")
def delivery():
    from conftest import DATACUTS, ROOT
    from ucmsc.config import load_yaml

    folder = DATACUTS / "sdtm_delivery" / "2023-06-30"
    config = load_yaml(ROOT / "config" / "trials" / "sdtm_delivery.yaml")
    return folder, config


def rebuild(delivery, tmp_path, edits: dict, config_edit=None):
    """The delivery with edited copies of some files (no manifest: the edit is the test), through the pipeline."""
    import copy
    import shutil

    import pyreadstat

    from conftest import run_pipeline

    folder, config = delivery
    cut = tmp_path / "2023-06-30"
    shutil.copytree(folder, cut)
    (cut / "manifest.json").unlink()
    for name, edit in edits.items():
        frame, meta = pyreadstat.read_xport(str(cut / f"{name}.xpt"))
        pyreadstat.write_xport(edit(frame), str(cut / f"{name}.xpt"), file_format_version=5,
                               table_name=name.upper(), column_labels=meta.column_labels)
    config = copy.deepcopy(config)
    if config_edit:
        config_edit(config)
    return run_pipeline("sdtm_delivery", "2023-06-30", config, folder=cut)


def first_ae(frame, subject="UCMSC-SDTM-01-701-1006", seq=2.0):
    return (frame["USUBJID"] == subject) & (frame["AESEQ"] == seq)


def test_two_different_events_sharing_an_aeseq_are_both_quarantined_not_taken_for_copies(delivery, tmp_path):
    def add_other_event(ae):
        other = ae[first_ae(ae)].assign(AETERM="Pneumonia", AEDECOD="Pneumonia", AESTDTC="2022-01-15")
        return pd.concat([ae, other], ignore_index=True)

    run = rebuild(delivery, tmp_path, {"ae": add_other_event})
    duplicates = run["quarantine"][run["quarantine"]["CHECK"] == "duplicate_records"]
    assert len(duplicates) == 2 and duplicates["REASON"].str.contains("conflicting records for AESEQ 2").all()


def test_a_missing_or_invalid_sponsor_flag_is_queried_and_the_rule_decides(delivery, tmp_path):
    def drop(suppae):
        return suppae[~((suppae["USUBJID"] == "UCMSC-SDTM-01-701-1006") & (suppae["IDVARVAL"] == "1"))]

    def use_the_flag(config):
        config["adverse_events"] = {"treatment_emergent": {"from": "AETRTEM"}}

    run = rebuild(delivery, tmp_path, {"suppae": drop}, use_the_flag)
    queries = run["log"].frame()
    mine = queries[(queries["VARIABLE"] == "AETRTEM")]
    assert len(mine) == 1 and mine["MESSAGE"].iloc[0] == "AETRTEM is blank (no record delivered)"
    event = run["adae"][(run["adae"]["USUBJID"] == "UCMSC-SDTM-01-701-1006") & (run["adae"]["AESEQ"] == 1)]
    assert event["TRTEMFL"].tolist() == ["Y"]  # its onset is after the first dose: the rule keeps it


def test_a_blank_onset_is_kept_queried_and_treatment_emergent_unless_it_ended_before_dosing(delivery, tmp_path):
    def blank(ae):
        return ae.assign(AESTDTC=ae["AESTDTC"].where(~first_ae(ae), ""))

    run = rebuild(delivery, tmp_path, {"ae": blank})
    assert len(run["adae"]) == len(pyreadstat_rows(delivery, "ae"))
    event = run["adae"][first_ae(run["adae"])]
    assert event["TRTEMFL"].tolist() == ["Y"]
    queries = run["log"].frame()
    assert (queries["MESSAGE"] == "onset date missing").sum() == 1


def pyreadstat_rows(delivery, name):
    import pyreadstat

    return pyreadstat.read_xport(str(delivery[0] / f"{name}.xpt"))[0]


def test_a_never_dosed_subject_with_blank_rfstdtc_stays_randomised_when_rfstdtc_is_the_reference(delivery, tmp_path):
    def rfstdtc(config):
        del config["reference_date"]
        config["sources"][0]["columns"]["RANDDT"] = "RFSTDTC"

    run = rebuild(delivery, tmp_path, {}, rfstdtc)
    adsl = run["adsl"]
    undosed = adsl[(adsl["ARM"] != "Screen Failure") & (adsl["NEXREC"] == 0)]
    assert len(undosed) == 1 and undosed["RANDFL"].tolist() == ["Y"]
    assert not (run["quarantine"]["DOMAIN"] == "DM").any()
    queries = run["queries"]
    assert queries[queries["CHECK"] == "reference_date"]["USUBJID"].tolist() == undosed["USUBJID"].tolist()


def test_a_blank_delivered_usubjid_is_quarantined_with_the_subjects_records(delivery, tmp_path):
    def blank_subject(dm):
        return dm.assign(USUBJID=dm["USUBJID"].where(dm["SUBJID"] != "1006", ""))

    def no_suppdm(config):
        del config["sources"][0]["supplemental"]
        config["populations"] = [{"flag": "SAFFL", "rule": "treated"}]
        for key in ("ITTFL", "SAFFL", "EFFFL"):
            del config["sources"][0]["columns"][key]
        config["analyses"] = [a for a in config["analyses"] if a["id"] != "DEMOG"]

    run = rebuild(delivery, tmp_path, {"dm": blank_subject}, no_suppdm)
    quarantine = run["quarantine"]
    assert quarantine[quarantine["DOMAIN"] == "DM"]["CHECK"].tolist() == ["required_value"]
    others = quarantine[quarantine["DOMAIN"] != "DM"]
    assert len(others) == 17 and (others["CHECK"] == "subject_in_dm").all()  # its DS, EX, AE and SV records
    assert "UCMSC-SDTM-01-1006" not in set(run["adsl"]["USUBJID"])  # never an invented identifier


def test_records_of_a_subject_whose_dm_record_was_quarantined_say_so(delivery, tmp_path):
    def conflicting_copy(dm):
        return pd.concat([dm, dm[dm["SUBJID"] == "1006"].assign(AGE=99.0)], ignore_index=True)

    run = rebuild(delivery, tmp_path, {"dm": conflicting_copy})
    quarantine = run["quarantine"]
    assert quarantine[quarantine["DOMAIN"] == "DM"]["CHECK"].tolist() == ["duplicate_records"] * 2
    others = quarantine[quarantine["DOMAIN"] != "DM"]
    assert len(others) == 17
    assert (others["REASON"] == "the subject's DM record was quarantined (see its DM query)").all()


def test_a_missing_delivered_population_flag_is_queried(delivery, tmp_path):
    def drop_itt(suppdm):
        return suppdm[~((suppdm["USUBJID"] == "UCMSC-SDTM-01-701-1006") & (suppdm["QNAM"] == "ITT"))]

    run = rebuild(delivery, tmp_path, {"suppdm": drop_itt})
    queries = run["log"].frame()
    mine = queries[queries["VARIABLE"] == "ITTFL"]
    assert mine[["USUBJID", "FILE", "COLUMN", "ACTION"]].values.tolist() == [
        ["UCMSC-SDTM-01-701-1006", "dm.xpt", "ITT", "ITTFL = N"]]


def test_delivered_coding_is_kept_variable_by_variable(delivery, tmp_path):
    def blank_soc(ae):
        return ae.assign(AEBODSYS=ae["AEBODSYS"].where(~first_ae(ae), ""), AESOC=ae["AESOC"].where(~first_ae(ae), ""))

    run = rebuild(delivery, tmp_path, {"ae": blank_soc})
    event = run["adae"][first_ae(run["adae"])]
    assert event["AEDECOD"].tolist() == pyreadstat_rows(delivery, "ae")[first_ae(pyreadstat_rows(delivery, "ae"))][
        "AEDECOD"].tolist()
    assert event["AEBODSYS"].tolist() == ["UNCODED"]  # the SOC alone is missing, and said so
    queries = run["log"].frame()
    assert queries[queries["CHECK"] == "coding"]["MESSAGE"].tolist() == [
        "AEBODSYS neither delivered nor in the trial's AE dictionary"]


def test_idvarval_names_a_numeric_seq_by_its_number_and_a_text_key_by_its_text():
    """IDVARVAL is text; "01" and "1.0" name AESEQ 1 when AESEQ is numeric (as read from XPT), while a text key
    (AEGRPID "01") matches only "01"."""
    ae = pd.DataFrame({"USUBJID": ["S-1", "S-1"], "AESEQ": [1.0, 2.0], "AEGRPID": ["01", "1"]})
    merged = merge_supplemental(ae, supp([("S", "AE", "S-1", "AESEQ", "01", "AETRTEM", "TE", "Y"),
                                          ("S", "AE", "S-1", "AESEQ", "2.0", "AETRTEM", "TE", "N"),
                                          ("S", "AE", "S-1", "AEGRPID", "01", "GRPNOTE", "G", "first")]),
                                "ae.xpt", "suppae.xpt")
    assert merged["AETRTEM"].tolist() == ["Y", "N"]
    assert merged["GRPNOTE"].tolist() == ["first", ""]
    with pytest.raises(MappingError, match=r"suppae.xpt row 2: QNAM AETRTEM is given twice for USUBJID S-1, AESEQ 1"):
        merge_supplemental(ae, supp([("S", "AE", "S-1", "AESEQ", "01", "AETRTEM", "TE", "Y"),
                                     ("S", "AE", "S-1", "AESEQ", "1", "AETRTEM", "TE", "N")]), "ae.xpt", "suppae.xpt")


def test_actual_treatment_other_than_randomised_is_trt01a_and_a_query(delivery, tmp_path):
    """Subject 701-1006 randomised to one arm, given another (ACTARM edited in dm.xpt): TRT01A is the actual
    treatment, TRT01P and the analyses keep the randomised arm, and the difference is a query naming DM's row. The
    randomised subject never dosed (702-1054, ACTARM "Not Treated") is no such query."""
    subject = "UCMSC-SDTM-01-701-1006"

    def treated_otherwise(dm):
        arm = dm.loc[dm["USUBJID"] == subject, "ARM"].iloc[0]
        other = next(a for a in ("Placebo", "UC-MSC High Dose") if a != arm)
        return dm.assign(ACTARM=dm["ACTARM"].where(dm["USUBJID"] != subject, other))

    def map_actarm(config):
        config["sources"][0]["columns"]["ACTARM"] = "ACTARM"

    run = rebuild(delivery, tmp_path, {"dm": treated_otherwise}, map_actarm)
    row = run["adsl"].set_index("USUBJID").loc[subject]
    assert row["TRT01A"] != row["ARM"] and row["TRT01P"] == row["ARM"]
    queries = run["log"].frame()
    mine = queries[queries["CHECK"] == "actual_treatment"]
    assert mine[["USUBJID", "FILE", "ROW", "COLUMN"]].astype(str).values.tolist() == [[subject, "dm.xpt", "2",
                                                                                      "ACTARM"]]
    # the other 59 randomised subjects were given their arm: no query (screen failures are not compared)
    assert (run["adsl"]["TRT01A"] == run["adsl"]["ARM"]).sum() >= 59
