"""The SDTM delivery (three arms, SUPPDM flags, several DS records per subject, partial dates, delivered MedDRA
coding), configured by config/trials/sdtm_delivery.yaml alone: its tables against counts made by hand from the raw
transport files, read here with pyreadstat and plain pandas, not with the pipeline."""

import pandas as pd
import pyreadstat
import pytest

from conftest import DATACUTS, ROOT, run_pipeline
from ucmsc.config import load_yaml

TRIAL, CUT = "sdtm_delivery", "2023-06-30"
FOLDER = DATACUTS / TRIAL / CUT
ARMS = ["UC-MSC High Dose", "UC-MSC Low Dose", "Placebo"]


def raw(name: str) -> pd.DataFrame:
    return pyreadstat.read_xport(str(FOLDER / f"{name}.xpt"))[0]


@pytest.fixture(scope="module")
def built():
    return run_pipeline(TRIAL, CUT, load_yaml(ROOT / "config" / "trials" / f"{TRIAL}.yaml"))


@pytest.fixture(scope="module")
def by_hand():
    dm, suppdm, ds, ae, suppae = raw("dm"), raw("suppdm"), raw("ds"), raw("ae"), raw("suppae")
    arm = dm.set_index("USUBJID")["ARM"]
    flags = suppdm.pivot(index="USUBJID", columns="QNAM", values="QVAL")
    safety = set(flags.index[flags["SAFETY"] == "Y"])
    events = ds[ds["DSCAT"] == "DISPOSITION EVENT"]
    ae = ae.assign(AESEQ=ae["AESEQ"].astype(int).astype(str))
    emergent = suppae[suppae["QNAM"] == "AETRTEM"].set_index(["USUBJID", "IDVARVAL"])["QVAL"]
    ae["TE"] = [emergent[(s, q)] for s, q in zip(ae["USUBJID"], ae["AESEQ"])]
    # the trial's dictionary codes the three events the CRO left uncoded ("headache", "Headache", "nausea")
    ae["PT"] = ae["AEDECOD"].where(ae["AEDECOD"] != "", ae["AETERM"].str.strip().str.capitalize())
    ae["SOC"] = ae["AEBODSYS"].where(ae["AEBODSYS"] != "", ae["PT"].map(
        {"Headache": "Nervous system disorders", "Nausea": "Gastrointestinal disorders"}))
    teae = ae[(ae["TE"] == "Y") & ae["USUBJID"].isin(safety)].assign(ARM=lambda f: f["USUBJID"].map(arm))
    return {"dm": dm, "arm": arm, "flags": flags, "events": events.assign(ARM=events["USUBJID"].map(arm)),
            "teae": teae, "safety": safety}


def ard_value(ard, analysis, paramcd, arm, stat):
    rows = ard[(ard["ANALYSIS_ID"] == analysis) & (ard["PARAMCD"] == paramcd) & (ard["GROUP1_LEVEL"] == arm)
               & (ard["COMPARATOR"] == "") & (ard["STAT_NAME"] == stat)]
    assert len(rows) == 1, (analysis, paramcd, arm, stat, len(rows))
    return rows["VALUE"].iloc[0]


def test_every_raw_record_is_accounted_for(built):
    summary = built["summary"].set_index("DOMAIN")
    for domain, rows in (("DM", len(raw("dm"))), ("EX", len(raw("ex"))), ("AE", len(raw("ae"))),
                         ("SV", len(raw("sv")))):
        assert summary.loc[domain, "RECORDS_IN"] == rows
    # DS: the config keeps protocol milestones and disposition events (not the other events)
    ds = raw("ds")
    assert summary.loc["DS", "RECORDS_IN"] == int(ds["DSCAT"].isin(["PROTOCOL MILESTONE", "DISPOSITION EVENT"]).sum())
    meta = {m["file"]: m for m in built["raw_meta"]}
    assert meta["ds.xpt"]["rows_not_selected"] == int((ds["DSCAT"] == "OTHER EVENT").sum()) > 0
    assert len(built["adae"]) == len(raw("ae")) and len(built["adsl"]) == len(raw("dm"))


def test_usubjid_as_delivered_and_screen_failures_excluded_without_queries(built, by_hand):
    assert sorted(built["adsl"]["USUBJID"]) == sorted(by_hand["dm"]["USUBJID"])
    failures = by_hand["dm"][by_hand["dm"]["ARM"] == "Screen Failure"]
    ard = built["ard"]
    assert ard_value(ard, "EXCL", "EXCLUDED", "Screen Failure", "n") == len(failures) > 0
    assert not (built["queries"]["CHECK"] == "arm_not_in_plan").any()


def test_populations_from_the_delivered_suppdm_flags(built, by_hand):
    ard, flags, arm = built["ard"], by_hand["flags"], by_hand["arm"]
    for flag, qnam in (("ITTFL", "ITT"), ("SAFFL", "SAFETY"), ("EFFFL", "EFFICACY")):
        for name in ARMS:
            expected = int(((flags[qnam] == "Y") & (flags.index.map(arm) == name)).sum())
            assert ard_value(ard, "POP", flag, name, "n") == expected, (flag, name)
    assert ard_value(ard, "POP", "SAFFL", "UC-MSC High Dose", "n") == 19  # one randomised subject never dosed


def test_disposition_from_the_disposition_events_only(built, by_hand):
    events, ard = by_hand["events"], built["ard"]
    for name in ARMS:
        mine = events[events["ARM"] == name]
        assert ard_value(ard, "DISP", "COMPLETED", name, "n") == (mine["DSDECOD"] == "COMPLETED").sum()
        assert ard_value(ard, "DISP", "DISCONTINUED", name, "n") == (mine["DSDECOD"] != "COMPLETED").sum()
        assert ard_value(ard, "DISP", "ONGOING", name, "n") == 0


def test_treatment_emergent_events_equal_the_sponsors_flag_and_hand_counts(built, by_hand):
    teae, ard, safety, arm = by_hand["teae"], built["ard"], by_hand["safety"], by_hand["arm"]
    for name in ARMS:
        mine = teae[teae["ARM"] == name]
        assert ard_value(ard, "AE", "ANY", name, "n") == mine["USUBJID"].nunique()
        assert ard_value(ard, "AE", "ANY", name, "events") == len(mine)
        assert ard_value(ard, "AE", "ANY", name, "N") == sum(arm[s] == name for s in safety)
        assert ard_value(ard, "AE", "SER", name, "n") == mine.loc[mine["AESER"] == "Y", "USUBJID"].nunique()
        for term, events in mine.groupby("PT"):
            assert ard_value(ard, "AE", term, name, "n") == events["USUBJID"].nunique(), (term, name)
            assert ard_value(ard, "AE", term, name, "events") == len(events), (term, name)
        for soc, events in mine.groupby("SOC"):
            assert ard_value(ard, "AESOC", soc, name, "n") == events["USUBJID"].nunique(), (soc, name)
    # the rule of the plan (onset on or after the first dose, partial onsets imputed first of month but not before
    # the first dose) flags exactly the events the sponsor flagged
    adae = built["adae"]
    assert (adae["TRTEMFL"] == "Y").tolist() == (adae["AETRTEM"] == "Y").tolist()
    assert not (adae["AEDECOD"] == "UNCODED").any()


def test_partial_onsets_are_imputed_flagged_and_counted(built, by_hand):
    ae, ard = raw("ae"), built["ard"]
    onset_length = ae["AESTDTC"].str.len()
    assert (onset_length == 7).sum() == 6 and (onset_length == 4).sum() == 1  # YYYY-MM and YYYY onsets delivered
    adae = built["adae"]
    assert adae.loc[adae["AESTDTC"].str.len() == 7, "ASTDTF"].eq("D").all()
    assert adae.loc[adae["AESTDTC"].str.len() == 4, "ASTDTF"].eq("M").all()
    safety = by_hand["safety"]
    partial = ae[(onset_length < 10) & ae["USUBJID"].isin(safety)]
    partial = partial.assign(ARM=partial["USUBJID"].map(by_hand["arm"]))
    for name in ARMS:
        mine = partial[partial["ARM"] == name]
        assert ard_value(ard, "IMPUTED", "ASTDTF", name, "n_D") == (mine["AESTDTC"].str.len() == 7).sum()
        assert ard_value(ard, "IMPUTED", "ASTDTF", name, "n_M") == (mine["AESTDTC"].str.len() == 4).sum()
    # the onset in the month of the first dose moves to the first dose, not before it
    first_month = adae[(adae["AESTDTC"] == "2022-01") & adae["USUBJID"].str.endswith("701-1014")]
    assert first_month["ASTDTM"].dt.strftime("%Y-%m-%d").tolist() == ["2022-01-12"]


def demog_value(ard, variable, level, arm, stat):
    rows = ard[(ard["ANALYSIS_ID"] == "DEMOG") & (ard["VARIABLE"] == variable) & (ard["PARAMCD"] == level)
               & (ard["GROUP1_LEVEL"] == arm) & (ard["COMPARATOR"] == "") & (ard["STAT_NAME"] == stat)]
    assert len(rows) == 1, (variable, level, arm, stat, len(rows))
    return rows["VALUE"].iloc[0]


def test_demographics_of_the_itt_population_by_arm_and_total(built, by_hand):
    dm, flags, ard = by_hand["dm"], by_hand["flags"], built["ard"]
    itt = dm[dm["USUBJID"].isin(flags.index[flags["ITT"] == "Y"])]
    groups = [(name, itt[itt["ARM"] == name]) for name in ARMS] + [("", itt)]  # "": all arms (Total)
    for name, subjects in groups:
        ages = subjects["AGE"]
        assert demog_value(ard, "AGE", "AGE", name, "n") == len(ages)
        assert demog_value(ard, "AGE", "AGE", name, "mean") == pytest.approx(ages.sum() / len(ages), abs=1e-12)
        mean = ages.sum() / len(ages)
        sd = (((ages - mean) ** 2).sum() / (len(ages) - 1)) ** 0.5  # sample SD, n - 1 denominator
        assert demog_value(ard, "AGE", "AGE", name, "sd") == pytest.approx(sd, abs=1e-12)
        assert demog_value(ard, "AGE", "AGE", name, "median") == ages.median()
        assert (demog_value(ard, "AGE", "AGE", name, "min"), demog_value(ard, "AGE", "AGE", name, "max")) == \
            (ages.min(), ages.max())
        for variable in ("SEX", "RACE", "ETHNIC"):
            for level, count in subjects[variable].value_counts().items():
                assert demog_value(ard, variable, level, name, "n") == count, (variable, level, name)
                assert demog_value(ard, variable, level, name, "pct") == pytest.approx(100 * count / len(subjects))
        # CDISC pilot age groups: <65, 65-80 (both ends included), >80
        bands = {"<65": (ages < 65).sum(), "65-80": ((ages >= 65) & (ages <= 80)).sum(), ">80": (ages > 80).sum()}
        for level, count in bands.items():
            assert demog_value(ard, "AGEGR1", level, name, "n") == count, (level, name)
    assert demog_value(ard, "RACE", "ASIAN", "", "N") == len(itt) == 60
