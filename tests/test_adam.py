"""ADaM datasets by domain, shaped by the metadata spec (config/adam/spec.yaml): exact variable sets, SAS transport
v5 files read back value by value, ANL01FL/ABLFL and SRCDOM/SRCVAR/SRCSEQ as ADaMIG defines them, and the same ARD
from the split datasets as from the long one."""

import logging
from datetime import date

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from conftest import ROOT, run_pipeline
from ucmsc import adamspec, derive
from ucmsc.analyze import run_analyses, run_analyze
from ucmsc.clean import assign_sequence
from ucmsc.config import load_yaml
from ucmsc.io import read_table, restore_formulas

FINAL_CUTS = [("nafld_efficacy", "2019-01-15"), ("t2dm_safety", "2021-07-30")]


@pytest.fixture(scope="module", params=FINAL_CUTS, ids=[t for t, _ in FINAL_CUTS])
def built(request, tmp_path_factory):
    """A final cut through the derive stage runner (Parquet, BDS datasets, transport files, dictionary)."""
    trial, cut = request.param
    config = load_yaml(ROOT / "config" / "trials" / f"{trial}.yaml")
    run = run_pipeline(trial, cut, config)
    out = tmp_path_factory.mktemp(trial)
    sdtm_paths = []
    for domain, table in run["sdtm"].items():
        if domain in derive.PARCAT or domain in ("DM", "DS", "EX", "AE"):
            path = out / "sdtm" / f"{domain.lower()}.parquet"
            path.parent.mkdir(exist_ok=True)
            table.to_parquet(path)
            sdtm_paths.append(str(path))
    dictionary = load_yaml(ROOT / config["ae_dictionary"]) if config.get("ae_dictionary") else {}
    derive.run_derive(sdtm_paths, config, dictionary, str(out / "adsl.parquet"), str(out / "bds"),
                      str(out / "adae.parquet"), str(out / "queries.csv"), logging.getLogger("test"),
                      transport_folder=str(out / "xpt"), dictionary_path=str(out / "dictionary.csv"),
                      spec_path=str(ROOT / "config" / "adam" / "spec.yaml"), define_path=str(out / "define.xml"),
                      conformance_path=str(out / "conformance.csv"), cut=cut)
    return trial, cut, config, run, out


def _datasets(out):
    frames = {"ADSL": read_table(out / "adsl.parquet"), "ADAE": read_table(out / "adae.parquet")}
    frames |= {p.stem.upper(): read_table(p) for p in sorted((out / "bds").glob("*.parquet"))}
    return frames


def test_each_dataset_carries_exactly_the_variables_the_spec_describes_in_its_order(built):
    trial, _, config, _, out = built
    spec = adamspec.resolve(config)
    datasets = _datasets(out)
    expected = {"nafld_efficacy": {"ADSL", "ADAE", "ADLB", "ADVS", "ADCLAMP", "ADIMG"},
                "t2dm_safety": {"ADSL", "ADAE", "ADLB", "ADVS"}}[trial]
    assert set(datasets) == expected == set(spec.datasets["DATASET"])
    for name, frame in datasets.items():
        assert list(frame.columns) == spec.of(name)["VARIABLE"].tolist(), name
        assert all(len(c) <= 8 for c in frame.columns)
        assert all(len(label) <= 40 for label in spec.of(name)["LABEL"])


def test_a_variable_the_spec_does_not_describe_or_one_it_describes_but_lacks_stops_the_build():
    config = load_yaml(ROOT / "config" / "trials" / "t2dm_safety.yaml")
    spec = adamspec.resolve(config)
    adae = pd.DataFrame(columns=spec.of("ADAE")["VARIABLE"])
    with pytest.raises(adamspec.SpecError, match=r"ADAE: not described by the ADaM spec: AEXTRA"):
        adamspec.shape(adae.assign(AEXTRA=""), "ADAE", spec)
    with pytest.raises(adamspec.SpecError, match=r"ADAE: described but not derived: TRTEMFL"):
        adamspec.shape(adae.drop(columns="TRTEMFL"), "ADAE", spec)
    mapped = {**config, "sources": [dict(s, columns={**s["columns"], "HANDEDNS": "HAND"}) if s["domain"] == "DM"
                                    else s for s in config["sources"]]}
    with pytest.raises(adamspec.SpecError, match=r"ADSL.HANDEDNS: mapped from DM but has no label"):
        adamspec.resolve(mapped)


def test_transport_files_read_back_with_every_value_and_label_of_the_parquet(built):
    _, _, config, _, out = built
    spec = adamspec.resolve(config)
    labels = spec.datasets.set_index("DATASET")["LABEL"]
    for name, frame in _datasets(out).items():
        data, meta = pyreadstat.read_xport(str(out / "xpt" / f"{name.lower()}.xpt"))
        assert meta.table_name == name and meta.file_label == labels[name]
        assert list(data.columns) == list(frame.columns)
        assert dict(zip(meta.column_names, meta.column_labels)) == dict(zip(spec.of(name)["VARIABLE"],
                                                                            spec.of(name)["LABEL"]))
        assert len(data) == len(frame), name
        for variable, kind in zip(spec.of(name)["VARIABLE"], spec.of(name)["TYPE"]):
            mine, theirs = frame[variable], data[variable]
            if kind in ("integer", "float"):
                both = mine.astype(float).to_numpy(), theirs.astype(float).to_numpy()
                assert np.array_equal(*both, equal_nan=True), f"{name}.{variable}"
            elif kind == "date":  # ISO text or datetimes in Parquet; SAS dates in the file
                iso = pd.to_datetime(mine.replace("", None), format="mixed").dt.strftime("%Y-%m-%d").fillna("")
                back = theirs.map(lambda d: d.isoformat() if isinstance(d, date) else "")
                assert iso.tolist() == back.tolist(), f"{name}.{variable}"
            elif kind == "datetime":
                iso = pd.to_datetime(mine).dt.strftime("%Y-%m-%dT%H:%M:%S").fillna("")
                back = pd.to_datetime(theirs).dt.strftime("%Y-%m-%dT%H:%M:%S").fillna("")
                assert iso.tolist() == back.tolist(), f"{name}.{variable}"
            else:
                assert mine.fillna("").astype(str).tolist() == theirs.astype(str).tolist(), f"{name}.{variable}"


def test_the_analyses_give_the_same_ard_from_the_split_datasets_as_from_the_long_one(built, tmp_path):
    trial, cut, config, run, out = built
    run_analyze(str(out / "adsl.parquet"), str(out / "bds"), str(out / "adae.parquet"), config, trial, cut,
                str(tmp_path / "ard.csv"), logging.getLogger("test"))
    split = restore_formulas(pd.read_csv(tmp_path / "ard.csv", dtype=str, keep_default_na=False))
    long = run_analyses(run["adsl"], run["bds"], run["adae"], config, trial, cut, "test")
    long.to_csv(tmp_path / "long.csv", index=False)
    long = pd.read_csv(tmp_path / "long.csv", dtype=str, keep_default_na=False)
    assert list(split.columns) == list(long.columns) and len(split) == len(long) > 8000
    differ = split.drop(columns="INPUTS").to_numpy() != long.drop(columns="INPUTS").to_numpy()
    assert not differ.any(), split[differ.any(axis=1)].head()
    assert split["INPUTS"].iloc[0].count(":") == 2 + len(list((out / "bds").glob("*.parquet")))  # each file read


def test_anl01fl_marks_one_record_per_subject_parameter_and_visit_and_ablfl_the_baseline(built):
    _, _, _, run, _ = built
    bds = run["bds"]
    flagged = bds[bds["ANL01FL"] == "Y"]
    assert not flagged.duplicated(["USUBJID", "PARAMCD", "AVISITN"]).any()
    assert flagged["AVAL"].notna().all()
    with_value = bds[bds["AVAL"].notna()].drop_duplicates(["USUBJID", "PARAMCD", "AVISITN"])
    assert len(flagged) == len(with_value)
    base = bds[bds["ABLFL"] == "Y"]
    assert (base["AVISITN"] == 0).all() and np.allclose(base["BASE"], base["AVAL"], equal_nan=True)


def test_of_two_records_at_one_visit_the_later_dated_is_analysed_and_the_baseline_is_one_record():
    bds = pd.DataFrame({"USUBJID": ["A"] * 6, "PARAMCD": ["GLUC"] * 6, "AVISITN": [0, 0, 9, 9, 20, 0],
                        "ADT": ["2020-01-01", "2020-01-03", "2020-03-01", "2020-03-05", "2020-05-20", "2020-01-04"],
                        "AVAL": [7.0, 7.5, 6.5, 6.1, np.nan, np.nan]})
    out = derive.derive_baseline_and_change(bds.assign(AVISIT="Week " + bds["AVISITN"].astype(str)))
    assert out["ANL01FL"].tolist() == ["", "Y", "", "Y", "", ""]
    assert out["ABLFL"].tolist() == ["", "Y", "", "", "", ""]  # the analysed week-0 record, with a value
    assert (out["BASE"] == 7.5).all()
    assert out["CHG"].round(10).tolist()[2:4] == [-1.0, -1.4]
    yes_no = derive.derive_param_yes_no(out, "GLUCTGT", {"derivation": "target_attainment", "parameter": "GLUC",
                                                          "below": 7.0})
    target = yes_no[yes_no["PARAMCD"] == "GLUCTGT"]
    assert target[["AVISITN", "AVALC"]].values.tolist() == [[0, "N"], [9, "Y"]]  # from the analysed records only


def test_each_bds_record_traces_to_its_sdtm_record_by_srcdom_srcvar_srcseq(built):
    _, _, _, run, _ = built
    bds = run["bds"]
    for domain in ("LB", "VS", "XP"):
        mine = bds[bds["SRCDOM"] == domain]
        sdtm = run["sdtm"][domain]
        assert len(mine) == len(sdtm)
        if not len(mine):
            continue
        assert (mine["SRCVAR"] == f"{domain}STRESN").all()
        source = sdtm.set_index(["USUBJID", f"{domain}SEQ"])
        assert source.index.is_unique
        found = source.loc[list(zip(mine["USUBJID"], mine["SRCSEQ"].astype(int)))]
        assert (found[f"{domain}TESTCD"].to_numpy() == mine["PARAMCD"].to_numpy()).all()
        measured = mine["DTYPE"].to_numpy() == ""
        assert np.allclose(found[f"{domain}STRESN"].to_numpy()[measured], mine["AVAL"].to_numpy()[measured],
                           equal_nan=True)
    derived = bds[bds["SRCDOM"] == ""]
    assert len(derived) and derived["SRCSEQ"].isna().all()


def test_sequence_numbers_are_assigned_per_subject_in_key_order_and_delivered_ones_kept():
    lb = pd.DataFrame({"USUBJID": ["B", "A", "A", "B", "A"], "LBTESTCD": ["GLUC", "HBA1C", "GLUC", "GLUC", "GLUC"],
                       "VISITNUM": [9, 0, 9, 0, 0]})
    # A: GLUC wk0, GLUC wk9, HBA1C wk0 -> 1, 2, 3; B: GLUC wk0, GLUC wk9 -> 1, 2
    assert assign_sequence("LB", lb)["LBSEQ"].tolist() == [2, 3, 2, 1, 1]
    delivered = pd.DataFrame({"USUBJID": ["A", "A"], "AESEQ": [7, 3]})
    assert assign_sequence("AE", delivered)["AESEQ"].tolist() == [7, 3]


def test_parameters_go_to_their_domain_dataset_and_derived_ones_where_most_inputs_are():
    config = load_yaml(ROOT / "config" / "trials" / "nafld_efficacy.yaml")
    spec = adamspec.resolve(config)
    codes = {"GLUC": "LB", "INSULIN": "LB", "AST": "LB", "ALT": "LB", "PLAT": "LB", "ALB": "LB", "HBA1C": "LB",
             "WEIGHT": "VS", "HEIGHT": "VS", "GIR": "XP", "STEATOS": "XP", "LSM": "XP",
             "HOMAIR": "", "BMI": "", "NFS": "", "STEATIMP": "", "HBA1CTGT": ""}
    bds = pd.DataFrame({"PARAMCD": list(codes), "SRCDOM": list(codes.values())})
    placed = adamspec.assign_parameters(bds, spec.bds, config)
    # NFS: AGE (subject), BMI (ADVS), AST, ALT, PLAT, ALB (ADLB) -> ADLB
    assert placed[["GLUC", "WEIGHT", "GIR", "LSM", "HOMAIR", "BMI", "NFS", "STEATIMP", "HBA1CTGT"]].tolist() == [
        "ADLB", "ADVS", "ADCLAMP", "ADIMG", "ADLB", "ADVS", "ADLB", "ADIMG", "ADLB"]
    without = {**config, "adam": {"bds": {"ADIMG": config["adam"]["bds"]["ADIMG"]}}}
    with pytest.raises(adamspec.SpecError, match=r"parameters in no ADaM BDS dataset: GIR \(XP\)"):
        adamspec.assign_parameters(bds, adamspec.resolve(without).bds, without)


def test_baseline_variable_names_longer_than_eight_characters_are_a_config_error():
    from ucmsc.validate import check_trial_config

    config = load_yaml(ROOT / "config" / "trials" / "nafld_efficacy.yaml")
    config["adsl_baseline"] = [e for e in config["adsl_baseline"] if not isinstance(e, dict)] + ["INSULIN"]
    with pytest.raises(ValueError, match=r"adsl_baseline\[\d+\]: INSULINBL has 9 characters"):
        check_trial_config(config, "nafld_efficacy.yaml", trial_id="nafld_efficacy", root=str(ROOT))
    assert adamspec.baseline_names({"adsl_baseline": ["GLUC", {"INSULIN": "INSBL"}]}) == {"GLUC": "GLUCBL",
                                                                                          "INSULIN": "INSBL"}


def test_define_xml_describes_every_dataset_and_variable_of_the_transport_files(built):
    import xml.etree.ElementTree as ET

    from ucmsc.define import described

    _, cut, config, _, out = built
    text = (out / "define.xml").read_text(encoding="utf-8")
    files = {}
    for path in sorted((out / "xpt").glob("*.xpt")):
        _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
        files[meta.table_name] = list(meta.column_names)
    assert described(text) == files
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}
    root = ET.fromstring(text)
    assert root.get("CreationDateTime") == f"{cut}T00:00:00"
    description = root.find("odm:Study/odm:GlobalVariables/odm:StudyDescription", ns).text
    assert description == config["title"] and root.find("odm:Study", ns).get("OID") == f"STUDY.{config['studyid']}"
    # value-level metadata: one where clause per parameter of each BDS dataset, as the data has them
    for name in (n for n in files if n not in ("ADSL", "ADAE")):
        checks = [w.find("odm:RangeCheck/odm:CheckValue", ns).text
                  for w in root.iterfind("odm:Study/odm:MetaDataVersion/def:WhereClauseDef", ns)
                  if w.get("OID").startswith(f"WC.{name}.")]
        codes = sorted(read_table(out / "bds" / f"{name.lower()}.parquet")["PARAMCD"].unique())
        assert sorted(checks) == codes, name
    methods = {m.get("OID"): m.find("odm:Description/odm:TranslatedText", ns).text
               for m in root.iterfind("odm:Study/odm:MetaDataVersion/odm:MethodDef", ns)}
    assert any(t == "AVAL - BASE, post-baseline records" for t in methods.values())
    if config["trial"] == "nafld_efficacy":
        assert "HOMAIR = GLUC (mmol/L) x INSULIN (uU/mL) / 22.5 (Matthews 1985)" in methods.values()


def test_both_final_cuts_pass_the_adam_conformance_checks(built):
    from ucmsc.conformance import CONFORMANCE_RULES

    findings = pd.read_csv(built[4] / "conformance.csv", keep_default_na=False)
    assert list(findings.columns) == ["RULE", "DATASET", "VARIABLE", "SEVERITY", "MESSAGE", "N", "REFERENCE"]
    assert findings.empty, findings.to_string()
    assert len(CONFORMANCE_RULES) >= 30


def test_a_broken_dataset_is_a_conformance_finding_not_silence(built):
    """CHG off by 0.1 on one record and a second PARAM text for one PARAMCD: each named, with its count."""
    from ucmsc.conformance import check_conformance

    _, _, config, _, out = built
    spec = adamspec.resolve(config)
    datasets = _datasets(out)
    adlb = datasets["ADLB"].copy()
    post = adlb.index[adlb["CHG"].notna()][0]
    adlb.loc[post, "CHG"] += 0.1
    first = adlb["PARAMCD"].iloc[0]
    adlb.loc[adlb.index[adlb["PARAMCD"] == first][0], "PARAM"] = "Something else"
    datasets["ADLB"] = adlb
    findings = check_conformance(datasets, adamspec.metadata(datasets, spec, config))
    found = set(zip(findings["RULE"], findings["DATASET"], findings["N"]))
    assert ("BDS-CHG", "ADLB", 1) in found and ("BDS-PARAMCD-ONE-PARAM", "ADLB", 1) in found


def test_clean_domains_are_written_as_transport_files_with_their_labels(built, tmp_path):
    from ucmsc.domains import transport_labels
    from ucmsc.transport import write_xpt

    _, _, _, run, _ = built
    lb = run["sdtm"]["LB"]
    label, labels = transport_labels("LB", lb)
    assert label == "Laboratory Test Results" and labels["LBSEQ"] == "Sequence Number"
    assert labels["LBSTRESN"] == "Numeric Result in Standard Units"
    write_xpt(lb, tmp_path / "lb.xpt", "LB", label, labels)  # numbers as numbers, text as text
    back, meta = pyreadstat.read_xport(str(tmp_path / "lb.xpt"))
    assert meta.table_name == "LB" and meta.file_label == label and list(back.columns) == list(lb.columns)
    assert np.array_equal(back["LBSTRESN"].to_numpy(), lb["LBSTRESN"].astype(float).to_numpy(), equal_nan=True)
    assert back["LBTESTCD"].tolist() == lb["LBTESTCD"].tolist() and back["SRCROW"].tolist() == lb["SRCROW"].tolist()


@pytest.mark.parametrize("trial, cut", [("sdtm_delivery", "2023-06-30"), ("dose_ranging", "2022-11-30"),
                                        ("nafld_efficacy", "2017-06-30")])
def test_every_other_configured_trial_conforms_too(trial, cut):
    """The SDTM delivery (ITTFL/EFFFL from SUPPDM, RACE and ETHNIC carried, no BDS dataset), the three-arm trial
    and an interim cut: the same spec, no finding."""
    from ucmsc.conformance import check_conformance

    config = load_yaml(ROOT / "config" / "trials" / f"{trial}.yaml")
    run = run_pipeline(trial, cut, config)
    spec = adamspec.resolve(config)
    datasets = {"ADSL": run["adsl"], **adamspec.split_bds(run["bds"], spec, config), "ADAE": run["adae"]}
    assert check_conformance(datasets, adamspec.metadata(datasets, spec, config)).empty
    labels = dict(zip(spec.of("ADSL")["VARIABLE"], spec.of("ADSL")["LABEL"]))
    if trial == "sdtm_delivery":
        assert set(datasets) == {"ADSL", "ADAE"}
        assert labels["ITTFL"] == "Intent-To-Treat Population Flag" and labels["ETHNIC"] == "Ethnicity"


@pytest.mark.parametrize("change, message", [
    (lambda t: t["adam"]["bds"].update(ADTG={"label": "Triglycerides", "parameters": ["TG"]}),
     r"adam.bds.ADTG.parameters: TG is already in ADLIPID"),
    (lambda t: t["adam"]["bds"].update(ADLAB2={"label": "More labs", "domains": ["LB"]}),
     r"adam.bds.ADLAB2.domains: LB is already in ADLB"),
    (lambda t: t["adam"]["bds"]["ADLIPID"].update(parameters=["TRIG"]),
     r"adam.bds.ADLIPID.parameters\[0\]: TRIG is neither a configured test \(tests:\) nor a derived parameter"),
    (lambda t: t["adam"]["bds"].update(ADEMPTY={"label": "Nothing"}), r"adam.bds.ADEMPTY: lists no parameters"),
    (lambda t: t["adam"]["bds"].update(ADAE={"label": "Clash", "parameters": ["GLUC"]}),
     r"adam.bds.ADAE: ADAE is a standard dataset"),
    (lambda t: t["sources"][0]["columns"].update(HANDEDNS="HAND"),
     r"adam: ADSL.HANDEDNS: mapped from DM but has no label"),
    (lambda t: t["sources"][0]["columns"].update(HANDEDNESS="HAND"),
     r"sources\[0\].columns: HANDEDNESS has 10 characters \(SAS transport names have 8 at most\)"),
])
def test_adam_config_mistakes_stop_at_config_check_naming_them(change, message):
    from ucmsc.validate import ConfigError, check_trial_config

    trial = load_yaml(ROOT / "config" / "trials" / "t2dm_safety.yaml")
    trial["adam"] = {"bds": {"ADLIPID": {"label": "Lipid Analysis Dataset", "parameters": ["TG", "CHOL"]}}}
    check_trial_config(trial, "t.yaml", root=str(ROOT))  # a lipid dataset of its own is fine
    change(trial)
    with pytest.raises(ConfigError, match=message):
        check_trial_config(trial, "t.yaml", root=str(ROOT))


def test_a_partial_date_is_not_written_as_a_sas_date_and_long_text_is_refused(tmp_path):
    from ucmsc.transport import TransportError, write_xpt

    with pytest.raises(TransportError, match=r"X.ADT: not date: row 2: '2019-03' is not a complete date"):
        write_xpt(pd.DataFrame({"ADT": ["2019-03-01", "2019-03"]}), tmp_path / "x.xpt", "X", "x", {}, {"ADT": "date"})
    with pytest.raises(TransportError, match=r"X.AETERM row 2: 201 bytes"):
        write_xpt(pd.DataFrame({"AETERM": ["short", "x" * 201]}), tmp_path / "x.xpt", "X", "x", {}, {})
    with pytest.raises(TransportError, match=r"X.TOOLONGNM: name longer than 8"):
        write_xpt(pd.DataFrame({"TOOLONGNM": [1.0]}), tmp_path / "x.xpt", "X", "x", {}, {})


def test_a_mapped_variable_parsed_as_a_number_is_a_numeric_adam_variable():
    config = load_yaml(ROOT / "config" / "trials" / "t2dm_safety.yaml")
    dm = next(s for s in config["sources"] if s["domain"] == "DM")
    dm["columns"]["SCRNWT"] = "WTKG"
    dm["numeric"] = ["SCRNWT"]
    config["adam"] = {"labels": {"SCRNWT": "Weight at Screening (kg)"}}
    variables = adamspec.resolve(config).of("ADSL").set_index("VARIABLE")
    assert variables.loc["SCRNWT", ["TYPE", "LABEL", "SOURCE"]].tolist() == ["float", "Weight at Screening (kg)",
                                                                             "DM.SCRNWT"]
    assert variables.loc["DIABDUR", "TYPE"] == "float" and variables.loc["RACE", "TYPE"] == "text"


def test_safety_liver_function_in_adlb_vital_signs_in_advs_and_both_by_visit_in_the_ard():
    """The liver tests and vital signs the simulator adds reach ADLB/ADVS and the LIVER/VITALS analyses: baseline
    means per arm as computed straight from the raw files."""
    trial, cut = FINAL_CUTS[1]
    config = load_yaml(ROOT / "config" / "trials" / f"{trial}.yaml")
    run = run_pipeline(trial, cut, config)
    split = adamspec.split_bds(run["bds"], adamspec.resolve(config), config)
    liver, vitals = ["ALT", "AST", "TBIL", "ALB"], ["SYSBP", "DIABP", "PULSE", "TEMP", "WEIGHT"]
    assert set(liver) <= set(split["ADLB"]["PARAMCD"]) and set(vitals) == set(split["ADVS"]["PARAMCD"])
    folder = ROOT / "resources" / "datacuts" / trial / cut
    dm = pyreadstat.read_xport(str(folder / "dm.xpt"))[0]
    arm = dm.set_index("PATNO")["GROUP"].map({1.0: "hUC-MSC", 0.0: "Placebo"})
    lb = pyreadstat.read_xport(str(folder / "lb.xpt"))[0].rename(columns={"TESTCODE": "TEST", "RESULT": "VALUE",
                                                                          "VISITNAM": "VISIT"})
    vs = pyreadstat.read_xport(str(folder / "vs.xpt"))[0].rename(columns={"VSTESTCD": "TEST", "VSORRES": "VALUE"})
    raw = pd.concat([lb[["PATNO", "VISIT", "TEST", "VALUE"]], vs[["PATNO", "VISIT", "TEST", "VALUE"]]])
    raw = raw[(raw["VISIT"] == "Baseline") & raw["TEST"].isin(liver + vitals) & raw["PATNO"].isin(arm.index)]
    expected = raw.assign(ARM=raw["PATNO"].map(arm), VALUE=pd.to_numeric(raw["VALUE"])).groupby(["TEST", "ARM"])[
        "VALUE"].mean()
    ard = run["ard"]
    means = ard[ard["ANALYSIS_ID"].isin(["LIVER", "VITALS"]) & (ard["AVISITN"] == 0) & (ard["VARIABLE"] == "AVAL")
                & (ard["STAT_NAME"] == "mean")].set_index(["PARAMCD", "GROUP1_LEVEL"])["VALUE"]
    assert len(expected) == len(means) == 18
    for (test, group), value in expected.items():
        assert means[(test, group)] == pytest.approx(value, rel=1e-12), (test, group)
