"""Define-XML 2.1 from hand-made metadata (ADSL of 5 variables, ADLB with two parameters); expected values by hand."""

import dataclasses
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pandas as pd
import pytest

from ucmsc.define import define_xml, described, write_define

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
DEF = "{http://www.cdisc.org/ns/def/v2.1}"

STUDY = {"STUDYID": "UCMSC-01", "NAME": "UCMSC-01", "DESCRIPTION": "UC-MSC in T2DM <pilot> & follow-up",
         "PROTOCOL": "UCMSC-01 v2", "CREATED": "2024-05-01T10:00:00"}
GLUC_SOURCE = "LB.LBSTRESN where LBTESTCD = GLUC"
HOMA = "HOMA-IR = glucose x insulin / 22.5"
TRTSDT_RULE = "Date of first exposure: min(EX.EXSTDTC) where EXDOSE > 0 & EXTRT <> 'PLACEBO'"


def datasets():
    return pd.DataFrame([
        {"DATASET": "ADSL", "LABEL": "Subject-Level Analysis Dataset", "CLASS": "SUBJECT LEVEL ANALYSIS DATASET",
         "SUBCLASS": "", "STRUCTURE": "One record per subject", "KEYS": "STUDYID, USUBJID", "FILE": "adsl.xpt",
         "RECORDS": 3},
        {"DATASET": "ADLB", "LABEL": "Laboratory Analysis Dataset", "CLASS": "BASIC DATA STRUCTURE", "SUBCLASS": "",
         "STRUCTURE": "One record per subject per parameter per analysis visit",
         "KEYS": "STUDYID,USUBJID,PARAMCD,AVISITN", "FILE": "adlb.xpt", "RECORDS": 12},
    ])


def variables():
    columns = ["DATASET", "VARIABLE", "LABEL", "TYPE", "LENGTH", "CODELIST", "ORIGIN", "SOURCE", "DERIVATION",
               "MANDATORY", "ORDER"]
    return pd.DataFrame([
        ("ADSL", "STUDYID", "Study Identifier", "text", 8, "", "Predecessor", "DM.STUDYID", "", "Yes", 1),
        ("ADSL", "USUBJID", "Unique Subject Identifier", "text", 14, "", "Predecessor", "DM.USUBJID", "", "Yes", 2),
        ("ADSL", "AGE", "Age", "integer", 8, "", "Predecessor", "DM.AGE", "", "No", 3),
        ("ADSL", "SEX", "Sex", "text", 1, "SEX", "Predecessor", "DM.SEX", "", "No", 4),
        ("ADSL", "TRTSDT", "Date of First Exposure to Treatment", "date", 8, "", "Derived", "", TRTSDT_RULE, "No",
         5),
        ("ADLB", "STUDYID", "Study Identifier", "text", 8, "", "Predecessor", "ADSL.STUDYID", "", "Yes", 1),
        ("ADLB", "USUBJID", "Unique Subject Identifier", "text", 14, "", "Predecessor", "ADSL.USUBJID", "", "Yes",
         2),
        ("ADLB", "AVISITN", "Analysis Visit (N)", "integer", 8, "", "Assigned", "", "Week number of the visit",
         "Yes", 3),
        ("ADLB", "PARAMCD", "Parameter Code", "text", 6, "PARAMCD", "Assigned", "", "", "Yes", 4),
        ("ADLB", "AVAL", "Analysis Value", "float", 8, "", "Derived", "", "See the parameter", "No", 5),
        ("ADLB", "ADTM", "Analysis Datetime", "datetime", 8, "", "Predecessor", "LB.LBDTC", "", "No", 6),
    ], columns=columns)


def codelists():
    return pd.DataFrame([("SEX", "Sex", "F", "Female"), ("SEX", "Sex", "M", "Male"),
                         ("PARAMCD", "Parameter Code", "GLUC", ""), ("PARAMCD", "Parameter Code", "HOMAIR", "")],
                        columns=["CODELIST", "NAME", "TERM", "DECODE"])


def parameters():
    return pd.DataFrame([("ADLB", "GLUC", "Fasting Glucose (mmol/L)", "mmol/L", "float", "Predecessor", GLUC_SOURCE),
                         ("ADLB", "HOMAIR", "HOMA-IR", "", "float", "Derived", HOMA)],
                        columns=["DATASET", "PARAMCD", "PARAM", "AVALU", "TYPE", "ORIGIN", "DERIVATION"])


def metadata(**frames):
    parts = {"datasets": datasets(), "variables": variables(), "codelists": codelists(), "parameters": parameters()}
    return SimpleNamespace(**{**parts, **frames})


@pytest.fixture(scope="module")
def text():
    return define_xml(metadata(), STUDY)


@pytest.fixture(scope="module")
def mdv(text):
    return ET.fromstring(text.encode("utf-8")).find("odm:Study/odm:MetaDataVersion", NS)


def item_def(mdv, oid):
    [element] = mdv.findall(f"odm:ItemDef[@OID='{oid}']", NS)
    return element


def description(element):
    [translated] = element.findall("odm:Description/odm:TranslatedText", NS)
    assert translated.get(XML_LANG) == "en"
    return translated.text


def test_root_study_and_standard(text):
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<ODM ')
    assert "xml-stylesheet" not in text
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "{http://www.cdisc.org/ns/odm/v1.3}ODM"
    assert {k: root.get(k) for k in ("FileType", "ODMVersion", "CreationDateTime", f"{DEF}Context")} == {
        "FileType": "Snapshot", "ODMVersion": "1.3.2", "CreationDateTime": "2024-05-01T10:00:00",
        f"{DEF}Context": "Submission"}
    globals_ = root.find("odm:Study/odm:GlobalVariables", NS)
    assert [(e.tag.split("}")[1], e.text) for e in globals_] == [
        ("StudyName", "UCMSC-01"), ("StudyDescription", "UC-MSC in T2DM <pilot> & follow-up"),
        ("ProtocolName", "UCMSC-01 v2")]
    mdv = root.find("odm:Study/odm:MetaDataVersion", NS)
    assert mdv.get(f"{DEF}DefineVersion") == "2.1.0"
    [standard] = mdv.findall("def:Standards/def:Standard", NS)
    assert dict(standard.attrib) == {"OID": "STD.ADaMIG.1.1", "Name": "ADaMIG", "Type": "IG", "Version": "1.1",
                                     "Status": "Final"}


def test_metadataversion_children_in_schema_order(mdv):
    tags = [child.tag.split("}")[1] for child in mdv]
    runs = [tag for i, tag in enumerate(tags) if i == 0 or tag != tags[i - 1]]
    assert runs == ["Standards", "ValueListDef", "WhereClauseDef", "ItemGroupDef", "ItemDef", "CodeList", "MethodDef"]
    assert tags.count("ItemGroupDef") == 2 and tags.count("ItemDef") == 11 + 2 and tags.count("MethodDef") == 4


def test_item_group_defs(mdv):
    adsl, adlb = mdv.findall("odm:ItemGroupDef", NS)
    assert (adsl.get("OID"), adsl.get("Repeating"), adlb.get("OID"), adlb.get("Repeating")) == (
        "IG.ADSL", "No", "IG.ADLB", "Yes")
    assert {k: adlb.get(k) for k in ("Name", "SASDatasetName", "IsReferenceData", "Purpose", f"{DEF}Structure",
                                     f"{DEF}StandardOID", f"{DEF}ArchiveLocationID", f"{DEF}HasNoData")} == {
        "Name": "ADLB", "SASDatasetName": "ADLB", "IsReferenceData": "No", "Purpose": "Analysis",
        f"{DEF}Structure": "One record per subject per parameter per analysis visit",
        f"{DEF}StandardOID": "STD.ADaMIG.1.1", f"{DEF}ArchiveLocationID": "LF.ADLB", f"{DEF}HasNoData": None}
    assert description(adlb) == "Laboratory Analysis Dataset"
    [adlb_class] = adlb.findall("def:Class", NS)
    assert adlb_class.get("Name") == "BASIC DATA STRUCTURE" and adlb_class.findall("def:SubClass", NS) == []
    # def:Class after the ItemRefs, def:leaf last
    assert [c.tag.split("}")[1] for c in adlb][-3:] == ["ItemRef", "Class", "leaf"]


def test_item_refs_keys_order_and_methods(mdv):
    [adlb] = mdv.findall("odm:ItemGroupDef[@OID='IG.ADLB']", NS)
    refs = [(r.get("ItemOID"), r.get("OrderNumber"), r.get("Mandatory"), r.get("KeySequence"), r.get("MethodOID"))
            for r in adlb.findall("odm:ItemRef", NS)]
    assert refs == [
        ("IT.ADLB.STUDYID", "1", "Yes", "1", None),
        ("IT.ADLB.USUBJID", "2", "Yes", "2", None),
        ("IT.ADLB.AVISITN", "3", "Yes", "4", "MT.ADLB.AVISITN"),  # keys order, not variable order
        ("IT.ADLB.PARAMCD", "4", "Yes", "3", None),  # Assigned without a derivation: no method
        ("IT.ADLB.AVAL", "5", "No", None, "MT.ADLB.AVAL"),
        ("IT.ADLB.ADTM", "6", "No", None, None),
    ]


def test_item_defs(mdv):
    age = item_def(mdv, "IT.ADSL.AGE")
    assert (age.get("Name"), age.get("SASFieldName"), age.get("DataType"), age.get("Length")) == (
        "AGE", "AGE", "integer", "8")
    assert description(age) == "Age"
    [origin] = age.findall("def:Origin", NS)
    assert origin.get("Type") == "Predecessor" and description(origin) == "DM.AGE"
    sex = item_def(mdv, "IT.ADSL.SEX")
    assert (sex.get("DataType"), sex.get("Length")) == ("text", "1")
    assert [e.get("CodeListOID") for e in sex.findall("odm:CodeListRef", NS)] == ["CL.SEX"]
    assert [c.tag.split("}")[1] for c in sex] == ["Description", "CodeListRef", "Origin"]


def test_dates_have_display_format_and_no_length(mdv):
    trtsdt, adtm = item_def(mdv, "IT.ADSL.TRTSDT"), item_def(mdv, "IT.ADLB.ADTM")
    assert (trtsdt.get("DataType"), trtsdt.get("Length"), trtsdt.get(f"{DEF}DisplayFormat")) == (
        "integer", "8", "DATE9.")
    assert (adtm.get("DataType"), adtm.get("Length"), adtm.get(f"{DEF}DisplayFormat")) == (
        "integer", "8", "DATETIME20.")
    [origin] = trtsdt.findall("def:Origin", NS)
    assert origin.get("Type") == "Derived" and origin.findall("odm:Description", NS) == []


def test_value_level_metadata(mdv):
    aval = item_def(mdv, "IT.ADLB.AVAL")
    assert [e.get("ValueListOID") for e in aval.findall("def:ValueListRef", NS)] == ["VL.ADLB.AVAL"]
    assert item_def(mdv, "IT.ADSL.AGE").findall("def:ValueListRef", NS) == []
    [value_list] = mdv.findall("def:ValueListDef", NS)
    assert value_list.get("OID") == "VL.ADLB.AVAL"
    refs = value_list.findall("odm:ItemRef", NS)
    assert [(r.get("ItemOID"), r.get("OrderNumber"), r.get("Mandatory"), r.get("MethodOID")) for r in refs] == [
        ("IT.ADLB.AVAL.GLUC", "1", "No", None), ("IT.ADLB.AVAL.HOMAIR", "2", "No", "MT.ADLB.AVAL.HOMAIR")]
    where_oids = [r.find("def:WhereClauseRef", NS).get("WhereClauseOID") for r in refs]
    assert where_oids == ["WC.ADLB.PARAMCD.GLUC", "WC.ADLB.PARAMCD.HOMAIR"]
    checks = []
    for oid in where_oids:
        [check] = mdv.findall(f"def:WhereClauseDef[@OID='{oid}']/odm:RangeCheck", NS)
        assert (check.get("Comparator"), check.get("SoftHard"), check.get(f"{DEF}ItemOID")) == (
            "EQ", "Soft", "IT.ADLB.PARAMCD")
        checks += [value.text for value in check.findall("odm:CheckValue", NS)]
    assert checks == ["GLUC", "HOMAIR"]
    gluc, homa = item_def(mdv, "IT.ADLB.AVAL.GLUC"), item_def(mdv, "IT.ADLB.AVAL.HOMAIR")
    assert (gluc.get("Name"), gluc.get("DataType"), gluc.get("Length"), description(gluc)) == (
        "AVAL", "float", "8", "Fasting Glucose (mmol/L)")
    assert gluc.find("def:Origin", NS).get("Type") == "Predecessor"
    assert description(gluc.find("def:Origin", NS)) == "LB.LBSTRESN where LBTESTCD = GLUC"
    assert (description(homa), homa.find("def:Origin", NS).get("Type")) == ("HOMA-IR", "Derived")


def test_codelists(mdv):
    sex, paramcd = mdv.findall("odm:CodeList", NS)
    assert dict(sex.attrib) == {"OID": "CL.SEX", "Name": "Sex", "DataType": "text"}
    assert [(i.get("CodedValue"), i.find("odm:Decode/odm:TranslatedText", NS).text)
            for i in sex.findall("odm:CodeListItem", NS)] == [("F", "Female"), ("M", "Male")]
    assert sex.findall("odm:EnumeratedItem", NS) == []
    assert paramcd.get("OID") == "CL.PARAMCD" and paramcd.findall("odm:CodeListItem", NS) == []
    assert [i.get("CodedValue") for i in paramcd.findall("odm:EnumeratedItem", NS)] == ["GLUC", "HOMAIR"]


def test_method_defs(mdv):
    methods = {m.get("OID"): (m.get("Type"), description(m)) for m in mdv.findall("odm:MethodDef", NS)}
    assert methods == {
        "MT.ADSL.TRTSDT": ("Computation", "Date of first exposure: min(EX.EXSTDTC) where EXDOSE > 0 & EXTRT <> "
                                          "'PLACEBO'"),
        "MT.ADLB.AVISITN": ("Computation", "Week number of the visit"),
        "MT.ADLB.AVAL": ("Computation", "See the parameter"),
        "MT.ADLB.AVAL.HOMAIR": ("Computation", "HOMA-IR = glucose x insulin / 22.5"),
    }


def test_leaf_and_escaping(text, mdv):
    [leaf] = mdv.findall("odm:ItemGroupDef[@OID='IG.ADSL']/def:leaf", NS)
    assert (leaf.get("ID"), leaf.get(XLINK_HREF), leaf.find("def:title", NS).text) == (
        "LF.ADSL", "adsl.xpt", "adsl.xpt")
    assert "EXDOSE &gt; 0 &amp; EXTRT &lt;&gt; 'PLACEBO'" in text
    assert "UC-MSC in T2DM &lt;pilot&gt; &amp; follow-up" in text
    assert "\n      <ItemGroupDef OID=\"IG.ADSL\"" in text  # pretty-printed, two spaces a level


def test_subclass_stylesheet_and_no_data():
    extra = pd.DataFrame([{"DATASET": "ADAE", "LABEL": "Adverse Events Analysis Dataset",
                           "CLASS": "OCCURRENCE DATA STRUCTURE", "SUBCLASS": "ADVERSE EVENT",
                           "STRUCTURE": "One record per adverse event", "KEYS": "USUBJID", "FILE": "adae.xpt",
                           "RECORDS": 0}])
    var = pd.DataFrame([{"DATASET": "ADAE", "VARIABLE": "USUBJID", "LABEL": "Unique Subject Identifier",
                         "TYPE": "text", "LENGTH": 14, "CODELIST": "", "ORIGIN": "Predecessor", "SOURCE": "AE.USUBJID",
                         "DERIVATION": "", "MANDATORY": "Yes", "ORDER": 1}])
    text = define_xml(metadata(datasets=pd.concat([datasets(), extra]), variables=pd.concat([variables(), var])),
                      STUDY, stylesheet=True)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n'
                           '<?xml-stylesheet type="text/xsl" href="define2-1.xsl"?>\n<ODM ')
    [adae] = ET.fromstring(text.encode("utf-8")).findall(".//odm:ItemGroupDef[@OID='IG.ADAE']", NS)
    [cls] = adae.findall("def:Class", NS)
    assert (cls.get("Name"), [s.get("Name") for s in cls.findall("def:SubClass", NS)]) == (
        "OCCURRENCE DATA STRUCTURE", ["ADVERSE EVENT"])
    assert adae.get(f"{DEF}HasNoData") == "Yes"


def test_deterministic_and_any_metadata_object(text):
    @dataclasses.dataclass
    class Metadata:
        datasets: pd.DataFrame
        variables: pd.DataFrame
        codelists: pd.DataFrame
        parameters: pd.DataFrame

    again = define_xml(Metadata(datasets(), variables(), codelists(), parameters()), dict(STUDY))
    assert again == text
    assert define_xml(metadata(), STUDY) == text


def test_identical_derivations_share_one_method():
    frame = _set(variables(), "ADLB", "AVISITN", "DERIVATION", TRTSDT_RULE)
    mdv = ET.fromstring(define_xml(metadata(variables=frame), STUDY)).find(".//odm:MetaDataVersion", NS)
    assert mdv.find("odm:ItemGroupDef/odm:ItemRef[@ItemOID='IT.ADLB.AVISITN']", NS).get("MethodOID") == (
        "MT.ADSL.TRTSDT")
    assert [m.get("OID") for m in mdv.findall("odm:MethodDef", NS)] == [
        "MT.ADSL.TRTSDT", "MT.ADLB.AVAL", "MT.ADLB.AVAL.HOMAIR"]


def test_described_round_trip(text):
    assert described(text) == {
        "ADSL": ["STUDYID", "USUBJID", "AGE", "SEX", "TRTSDT"],
        "ADLB": ["STUDYID", "USUBJID", "AVISITN", "PARAMCD", "AVAL", "ADTM"],
    }


def test_write_define_utf8(tmp_path):
    study = {**STUDY, "DESCRIPTION": "Wharton’s jelly MSC, HbA1c ≥ 7%"}
    path = write_define(metadata(), study, tmp_path / "define.xml")
    raw = path.read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert "Wharton’s jelly MSC, HbA1c ≥ 7%".encode("utf-8") in raw
    assert ET.fromstring(raw).find(".//odm:StudyDescription", NS).text == "Wharton’s jelly MSC, HbA1c ≥ 7%"
    assert described(raw)["ADSL"] == ["STUDYID", "USUBJID", "AGE", "SEX", "TRTSDT"]


def _set(frame, dataset, key, column, value, key_column="VARIABLE"):
    frame = frame.copy()
    frame.loc[(frame["DATASET"] == dataset) & (frame[key_column] == key), column] = value
    return frame


@pytest.mark.parametrize("edit, message", [
    (lambda: {"variables": _set(variables(), "ADSL", "AGE", "VARIABLE", "AGEATRAND")},
     r"ADSL\.AGEATRAND: variable name 'AGEATRAND' is longer than 8 characters"),
    (lambda: {"variables": _set(variables(), "ADSL", "AGE", "LABEL", "Age at randomisation, completed years, derived")},
     r"ADSL\.AGE: label longer than 40 characters"),
    (lambda: {"variables": _set(variables(), "ADSL", "SEX", "CODELIST", "GENDER")},
     r"ADSL\.SEX: CODELIST 'GENDER' not in metadata\.codelists"),
    (lambda: {"variables": _set(variables(), "ADLB", "AVAL", "TYPE", "double")},
     r"ADLB\.AVAL: unknown TYPE 'double'"),
    (lambda: {"variables": _set(variables(), "ADSL", "AGE", "ORIGIN", "Collected")},
     r"ADSL\.AGE: unknown ORIGIN 'Collected'"),
    (lambda: {"datasets": _set(datasets(), "ADLB", "ADLB", "KEYS", "STUDYID, USUBJID, PARAMCD, ADT", "DATASET")},
     r"ADLB\.ADT: KEYS variable not among the dataset's variables"),
    (lambda: {"variables": _set(variables(), "ADSL", "TRTSDT", "DERIVATION", "")},
     r"ADSL\.TRTSDT: Derived variable without DERIVATION"),
    (lambda: {"variables": _set(variables(), "ADSL", "AGE", "SOURCE", "")},
     r"ADSL\.AGE: Predecessor variable without SOURCE"),
    (lambda: {"parameters": _set(parameters(), "ADLB", "HOMAIR", "TYPE", "text", "PARAMCD")},
     r"ADLB PARAMCD HOMAIR: unknown TYPE 'text'"),
])
def test_invalid_metadata_raises(edit, message):
    with pytest.raises(ValueError, match=message):
        define_xml(metadata(**edit()), STUDY)
