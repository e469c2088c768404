"""ADaM conformance checks: a small conforming build written by hand, then one change per case and the exact
findings it must raise (RULE, DATASET, VARIABLE, N)."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ucmsc.conformance import COLUMNS, CONFORMANCE_RULES, check_conformance, write_conformance

NAN = np.nan
S1, S2, S3 = "UC01-001", "UC01-002", "UC01-003"


def build():
    """ADSL of 3 subjects, ADLB of 2 parameters x 2 visits for 2 subjects (BASE/CHG/PCHG by hand), ADAE of 2
    events, and metadata describing them exactly."""
    adsl = pd.DataFrame({
        "STUDYID": ["UC01"] * 3, "USUBJID": [S1, S2, S3], "SUBJID": ["001", "002", "003"],
        "SITEID": ["01", "02", "01"], "AGE": [54, 61, 47], "AGEU": ["YEARS"] * 3, "SEX": ["F", "M", "F"],
        "RACE": ["ASIAN"] * 3, "ARM": ["UC-MSC", "Placebo", "UC-MSC"], "TRT01P": ["UC-MSC", "Placebo", "UC-MSC"],
        "TRT01A": ["UC-MSC", "Placebo", "UC-MSC"],
        "TRTSDT": pd.to_datetime(["2024-01-10", "2024-01-12", "2024-02-01"]),
        "SAFFL": ["Y", "Y", "N"], "ITTFL": ["Y", "Y", "Y"],
    })
    hba1c, gluc = "HbA1c (%)", "Fasting Plasma Glucose (mmol/L)"
    adlb = pd.DataFrame({
        "STUDYID": ["UC01"] * 8,
        "USUBJID": [S1, S1, S1, S1, S2, S2, S2, S2],
        "TRTP": ["UC-MSC"] * 4 + ["Placebo"] * 4,
        "TRTA": ["UC-MSC"] * 4 + ["Placebo"] * 4,
        "PARAMCD": ["HBA1C", "HBA1C", "GLUC", "GLUC"] * 2,
        "PARAM": [hba1c, hba1c, gluc, gluc] * 2,
        "AVISITN": [0, 12, 0, 12] * 2,
        "AVISIT": ["Baseline", "Week 12"] * 4,
        "AVAL": [8.0, 7.2, 9.5, 7.6, 7.5, 7.5, 5.5, 6.6],
        "BASE": [8.0, 8.0, 9.5, 9.5, 7.5, 7.5, 5.5, 5.5],
        "CHG": [NAN, -0.8, NAN, -1.9, NAN, 0.0, NAN, 1.1],
        "PCHG": [NAN, -10.0, NAN, -20.0, NAN, 0.0, NAN, 20.0],
        "ABLFL": ["Y", "", "Y", ""] * 2,
        "ANL01FL": ["Y"] * 8,
    })
    adae = pd.DataFrame({
        "STUDYID": ["UC01"] * 2, "USUBJID": [S1, S3], "AESEQ": [1, 1], "TRTA": ["UC-MSC", "UC-MSC"],
        "AETERM": ["headache", "nausea"], "AEDECOD": ["Headache", "Nausea"],
        "AEBODSYS": ["Nervous system disorders", "Gastrointestinal disorders"], "AESEV": ["MILD", "MODERATE"],
        "TRTEMFL": ["Y", ""], "SAFFL": ["Y", "N"],
    })
    # (name, label, type, length, codelist)
    spec = {
        "ADSL": [("STUDYID", "Study Identifier", "text", 8, ""),
                 ("USUBJID", "Unique Subject Identifier", "text", 8, ""),
                 ("SUBJID", "Subject Identifier for the Study", "text", 3, ""),
                 ("SITEID", "Study Site Identifier", "text", 2, ""), ("AGE", "Age", "integer", 8, ""),
                 ("AGEU", "Age Units", "text", 5, "AGEU"), ("SEX", "Sex", "text", 1, "SEX"),
                 ("RACE", "Race", "text", 5, ""), ("ARM", "Description of Planned Arm", "text", 7, ""),
                 ("TRT01P", "Planned Treatment for Period 01", "text", 7, ""),
                 ("TRT01A", "Actual Treatment for Period 01", "text", 7, ""),
                 ("TRTSDT", "Date of First Exposure to Treatment", "date", 8, ""),
                 ("SAFFL", "Safety Population Flag", "text", 1, "NY"),
                 ("ITTFL", "Intent-To-Treat Population Flag", "text", 1, "NY")],
        "ADLB": [("STUDYID", "Study Identifier", "text", 8, ""),
                 ("USUBJID", "Unique Subject Identifier", "text", 8, ""),
                 ("TRTP", "Planned Treatment", "text", 7, ""), ("TRTA", "Actual Treatment", "text", 7, ""),
                 ("PARAMCD", "Parameter Code", "text", 8, ""), ("PARAM", "Parameter", "text", 40, ""),
                 ("AVISITN", "Analysis Visit (N)", "integer", 8, ""), ("AVISIT", "Analysis Visit", "text", 10, ""),
                 ("AVAL", "Analysis Value", "float", 8, ""), ("BASE", "Baseline Value", "float", 8, ""),
                 ("CHG", "Change from Baseline", "float", 8, ""),
                 ("PCHG", "Percent Change from Baseline", "float", 8, ""),
                 ("ABLFL", "Baseline Record Flag", "text", 1, "Y"), ("ANL01FL", "Analysis Flag 01", "text", 1, "Y")],
        "ADAE": [("STUDYID", "Study Identifier", "text", 8, ""),
                 ("USUBJID", "Unique Subject Identifier", "text", 8, ""),
                 ("AESEQ", "Sequence Number", "integer", 8, ""), ("TRTA", "Actual Treatment", "text", 7, ""),
                 ("AETERM", "Reported Term for the Adverse Event", "text", 20, ""),
                 ("AEDECOD", "Dictionary-Derived Term", "text", 200, ""),
                 ("AEBODSYS", "Body System or Organ Class", "text", 40, ""),
                 ("AESEV", "Severity/Intensity", "text", 8, "AESEV"),
                 ("TRTEMFL", "Treatment Emergent Analysis Flag", "text", 1, ""),
                 ("SAFFL", "Safety Population Flag", "text", 1, "NY")],
    }
    variables = pd.DataFrame(
        [{"DATASET": ds, "VARIABLE": v, "LABEL": label, "TYPE": t, "LENGTH": n, "CODELIST": cl, "ORIGIN": "Derived",
          "SOURCE": "", "DERIVATION": "", "MANDATORY": "", "ORDER": i + 1}
         for ds, rows in spec.items() for i, (v, label, t, n, cl) in enumerate(rows)])
    datasets_meta = pd.DataFrame([
        ("ADSL", "Subject-Level Analysis Dataset", "SUBJECT LEVEL ANALYSIS DATASET", "", "STUDYID, USUBJID"),
        ("ADLB", "Laboratory Analysis Dataset", "BASIC DATA STRUCTURE", "", "STUDYID, USUBJID, PARAMCD, AVISITN"),
        ("ADAE", "Adverse Events Analysis Dataset", "OCCURRENCE DATA STRUCTURE", "ADVERSE EVENT",
         "STUDYID, USUBJID, AESEQ"),
    ], columns=["DATASET", "LABEL", "CLASS", "SUBCLASS", "KEYS"]).assign(STRUCTURE="", FILE="", RECORDS=0)
    codelists = pd.DataFrame(
        [("SEX", "Sex", "F", "Female"), ("SEX", "Sex", "M", "Male"), ("AGEU", "Age Unit", "YEARS", "Years"),
         ("NY", "No Yes Response", "Y", "Yes"), ("NY", "No Yes Response", "N", "No"), ("Y", "Flag Y", "Y", "Yes"),
         ("AESEV", "Severity", "MILD", "Mild"), ("AESEV", "Severity", "MODERATE", "Moderate"),
         ("AESEV", "Severity", "SEVERE", "Severe")], columns=["CODELIST", "NAME", "TERM", "DECODE"])
    parameters = pd.DataFrame(
        [("ADLB", "HBA1C", hba1c, "%", "float", "Derived", ""),
         ("ADLB", "GLUC", gluc, "mmol/L", "float", "Derived", "")],
        columns=["DATASET", "PARAMCD", "PARAM", "AVALU", "TYPE", "ORIGIN", "DERIVATION"])
    metadata = SimpleNamespace(datasets=datasets_meta, variables=variables, codelists=codelists,
                               parameters=parameters)
    return {"ADSL": adsl, "ADLB": adlb, "ADAE": adae}, metadata


def labels_of(metadata):
    """Transport-file labels as pyreadstat reads them back, equal to the metadata."""
    v = metadata.variables
    return {row.DATASET: {"dataset_label": row.LABEL,
                          "variables": dict(zip(v.loc[v.DATASET == row.DATASET, "VARIABLE"],
                                                v.loc[v.DATASET == row.DATASET, "LABEL"]))}
            for row in metadata.datasets.itertuples()}


def found(findings):
    return sorted((r.RULE, r.DATASET, r.VARIABLE, r.N) for r in findings.itertuples())


# ------------------------------------------------------------------------------------------------ edits
def rename_variable(d, m, ds, old, new):
    d[ds] = d[ds].rename(columns={old: new})
    m.variables.loc[(m.variables.DATASET == ds) & (m.variables.VARIABLE == old), "VARIABLE"] = new


def drop_variable(d, m, ds, var):
    d[ds] = d[ds].drop(columns=var)
    m.variables = m.variables[~((m.variables.DATASET == ds) & (m.variables.VARIABLE == var))]


def rename_dataset(d, m, old, new):
    d[new] = d.pop(old)
    for frame in (m.datasets, m.variables, m.parameters):
        frame.loc[frame.DATASET == old, "DATASET"] = new


def set_label(m, ds, var, label):
    m.variables.loc[(m.variables.DATASET == ds) & (m.variables.VARIABLE == var), "LABEL"] = label


def set_value(d, ds, row, var, value):
    d[ds].loc[row, var] = value


def edit_subject_param(d, s, paramcd, **values):
    lb = d["ADLB"]
    for (var, vals) in values.items():
        lb.loc[(lb.USUBJID == s) & (lb.PARAMCD == paramcd), var] = vals


def reparam(d, m, old, new):
    d["ADLB"].loc[d["ADLB"].PARAMCD == old, "PARAMCD"] = new
    m.parameters.loc[m.parameters.PARAMCD == old, "PARAMCD"] = new


def long_param(d, m):
    text = "G" * 201
    d["ADLB"].loc[d["ADLB"].PARAMCD == "GLUC", "PARAM"] = text
    m.parameters.loc[m.parameters.PARAMCD == "GLUC", "PARAM"] = text


def append_row(d, ds, row, **values):
    extra = d[ds].iloc[[row]].assign(**values)
    d[ds] = pd.concat([d[ds], extra], ignore_index=True)


def add_parameter(m, paramcd):
    m.parameters = pd.concat([m.parameters, pd.DataFrame([{"DATASET": "ADLB", "PARAMCD": paramcd}])],
                             ignore_index=True)


CASES = {
    # 1. names and label lengths
    "dataset name of 9 characters": (lambda d, m: rename_dataset(d, m, "ADLB", "ADLBCHEMX"),
                                     [("DATASET-NAME", "ADLBCHEMX", "", 1)]),
    "dataset name not starting AD": (lambda d, m: rename_dataset(d, m, "ADLB", "XXLB"),
                                     [("DATASET-NAME", "XXLB", "", 1)]),
    "variable name of 9 characters": (lambda d, m: rename_variable(d, m, "ADSL", "ITTFL", "ITTPOPFLG"),
                                      [("VARIABLE-NAME", "ADSL", "ITTPOPFLG", 1)]),
    "variable name in lower case": (lambda d, m: rename_variable(d, m, "ADSL", "ITTFL", "ittfl"),
                                    [("VARIABLE-NAME", "ADSL", "ittfl", 1)]),
    "variable name starting with a digit": (lambda d, m: rename_variable(d, m, "ADSL", "ITTFL", "1TTFL"),
                                            [("VARIABLE-NAME", "ADSL", "1TTFL", 1)]),
    "variable label of 41 characters": (lambda d, m: set_label(m, "ADSL", "AGE", "A" * 41),
                                        [("LABEL-LENGTH", "ADSL", "AGE", 1)]),
    "dataset label of 41 characters": (lambda d, m: m.datasets.__setitem__("LABEL", ["A" * 41, "Lab", "AE"]),
                                       [("LABEL-LENGTH", "ADSL", "", 1)]),
    # 2. spec vs data
    "dataset not described": (lambda d, m: d.__setitem__("ADVS", d["ADLB"].copy()),
                              [("DATASET-NOT-IN-SPEC", "ADVS", "", 1)]),
    "described dataset not written": (lambda d, m: d.pop("ADAE"), [("DATASET-MISSING", "ADAE", "", 1)]),
    "undescribed variable": (lambda d, m: d["ADSL"].insert(14, "EXTRA", ["a", "b", "c"]),
                             [("VARIABLE-NOT-IN-SPEC", "ADSL", "EXTRA", 1)]),
    "described variable absent": (lambda d, m: d.__setitem__("ADSL", d["ADSL"].drop(columns="ITTFL")),
                                  [("VARIABLE-MISSING", "ADSL", "ITTFL", 1)]),
    "AGE and SEX swapped": (lambda d, m: d.__setitem__("ADSL", d["ADSL"][[
        "STUDYID", "USUBJID", "SUBJID", "SITEID", "SEX", "AGEU", "AGE", "RACE", "ARM", "TRT01P", "TRT01A", "TRTSDT",
        "SAFFL", "ITTFL"]]), [("VARIABLE-ORDER", "ADSL", "", 2)]),
    # 3. required variables
    "ADSL without RACE": (lambda d, m: drop_variable(d, m, "ADSL", "RACE"), [("ADSL-REQUIRED", "ADSL", "RACE", 1)]),
    "ADSL without TRT01A": (lambda d, m: drop_variable(d, m, "ADSL", "TRT01A"), [("ADSL-TRT01A", "ADSL", "TRT01A", 1)]),
    "BDS without PARAM": (lambda d, m: drop_variable(d, m, "ADLB", "PARAM"), [("BDS-REQUIRED", "ADLB", "PARAM", 1)]),
    "BDS without AVAL or AVALC": (lambda d, m: drop_variable(d, m, "ADLB", "AVAL"), [("BDS-REQUIRED", "ADLB", "", 1)]),
    "BDS without TRTP or TRTA": (lambda d, m: [drop_variable(d, m, "ADLB", v) for v in ("TRTP", "TRTA")],
                                 [("BDS-REQUIRED", "ADLB", "", 1)]),
    "ADAE without AEDECOD": (lambda d, m: drop_variable(d, m, "ADAE", "AEDECOD"),
                             [("OCCDS-REQUIRED", "ADAE", "AEDECOD", 1)]),
    # 4. subjects
    "USUBJID twice in ADSL": (lambda d, m: append_row(d, "ADSL", 0),
                              [("ADSL-ONE-PER-SUBJECT", "ADSL", "USUBJID", 2), ("KEYS-UNIQUE", "ADSL", "", 2)]),
    "ADAE subject not in ADSL": (lambda d, m: set_value(d, "ADAE", 1, "USUBJID", "UC01-009"),
                                 [("SUBJECT-NOT-IN-ADSL", "ADAE", "USUBJID", 1)]),
    # 5. parameters
    "second PARAM for one PARAMCD": (lambda d, m: set_value(d, "ADLB", 1, "PARAM", "HbA1c (mmol/mol)"),
                                     [("BDS-PARAMCD-ONE-PARAM", "ADLB", "PARAM", 1)]),
    "second PARAMCD for one PARAM": (lambda d, m: set_value(d, "ADLB", 5, "PARAMCD", "HBA1X"),
                                     [("BDS-PARAM-ONE-PARAMCD", "ADLB", "PARAMCD", 1),
                                      ("PARAMCD-NOT-IN-SPEC", "ADLB", "PARAMCD", 1)]),
    "PARAMCD in lower case": (lambda d, m: reparam(d, m, "HBA1C", "hba1c"),
                              [("BDS-PARAMCD-FORMAT", "ADLB", "PARAMCD", 1)]),
    "PARAMCD of 9 characters": (lambda d, m: reparam(d, m, "HBA1C", "HBA1CPCT1"),
                                [("BDS-PARAMCD-FORMAT", "ADLB", "PARAMCD", 1), ("TEXT-LENGTH", "ADLB", "PARAMCD", 4)]),
    "PARAM of 201 characters": (long_param, [("BDS-PARAM-LENGTH", "ADLB", "PARAM", 1),
                                             ("TEXT-200-BYTES", "ADLB", "PARAM", 4),
                                             ("TEXT-LENGTH", "ADLB", "PARAM", 4)]),
    # 6. baseline
    "BASE 5.0 where baseline AVAL is 5.5": (
        lambda d, m: edit_subject_param(d, S2, "GLUC", BASE=5.0, CHG=[NAN, 1.6], PCHG=[NAN, 32.0]),
        [("BDS-BASE-AVAL", "ADLB", "BASE", 1)]),
    "two baseline records": (lambda d, m: set_value(d, "ADLB", 5, "ABLFL", "Y"),
                             [("BDS-ONE-BASELINE", "ADLB", "ABLFL", 2)]),
    "BASE differs within a parameter": (
        lambda d, m: edit_subject_param(d, S1, "GLUC", BASE=[9.5, 8.0], CHG=[NAN, -0.4], PCHG=[NAN, -5.0]),
        [("BDS-BASE-CONSTANT", "ADLB", "BASE", 2)]),
    "CHG not AVAL - BASE": (lambda d, m: edit_subject_param(d, S1, "HBA1C", CHG=[NAN, -0.7], PCHG=[NAN, -8.75]),
                            [("BDS-CHG", "ADLB", "CHG", 1)]),
    "PCHG not 100 CHG / BASE": (lambda d, m: set_value(d, "ADLB", 1, "PCHG", -12.0), [("BDS-PCHG", "ADLB", "PCHG", 1)]),
    # 7. flags
    "two ANL01FL = Y at one visit": (lambda d, m: append_row(d, "ADLB", 1),
                                     [("BDS-ANL01FL-UNIQUE", "ADLB", "ANL01FL", 2), ("KEYS-UNIQUE", "ADLB", "", 2)]),
    "TRTEMFL N in ADAE": (lambda d, m: set_value(d, "ADAE", 1, "TRTEMFL", "N"),
                          [("FLAG-VALUES", "ADAE", "TRTEMFL", 1)]),
    "ANL01FL N in ADLB": (lambda d, m: set_value(d, "ADLB", 3, "ANL01FL", "N"),
                          [("FLAG-VALUES", "ADLB", "ANL01FL", 1), ("CODELIST-TERMS", "ADLB", "ANL01FL", 1)]),
    "ITTFL X in ADSL": (lambda d, m: set_value(d, "ADSL", 2, "ITTFL", "X"),
                        [("FLAG-VALUES", "ADSL", "ITTFL", 1), ("CODELIST-TERMS", "ADSL", "ITTFL", 1)]),
    "ANL01FL = Y without a value": (lambda d, m: edit_subject_param(d, S2, "GLUC", AVAL=[NAN, 6.6], BASE=NAN,
                                                                    CHG=NAN, PCHG=NAN),
                                    [("BDS-ANL01FL-VALUE", "ADLB", "ANL01FL", 1)]),
    "CHG missing after baseline": (lambda d, m: set_value(d, "ADLB", 1, "CHG", NAN),
                                   [("BDS-CHG-MISSING", "ADLB", "CHG", 1), ("BDS-PCHG", "ADLB", "PCHG", 1)]),
    "SRCSEQ without SRCDOM": (lambda d, m: [d.__setitem__("ADLB", d["ADLB"].assign(
        SRCDOM=["LB"] * len(d["ADLB"]), SRCVAR=["LBSTRESN"] * len(d["ADLB"]),
        SRCSEQ=[float(i + 1) if i != 2 else NAN for i in range(len(d["ADLB"]))])),
        m.__setattr__("variables", pd.concat([m.variables, pd.DataFrame(
            [{**m.variables[m.variables.DATASET == "ADLB"].iloc[0].to_dict(), "VARIABLE": v, "LABEL": v, "TYPE": t,
              "CODELIST": "", "ORDER": 100 + k} for k, (v, t) in enumerate(
                [("SRCDOM", "text"), ("SRCVAR", "text"), ("SRCSEQ", "integer")])])], ignore_index=True))],
        [("BDS-TRACE", "ADLB", "", 1)]),
    # 8. keys
    "AESEQ 1 twice for one subject": (lambda d, m: [set_value(d, "ADAE", 1, "USUBJID", S1)],
                                      [("KEYS-UNIQUE", "ADAE", "", 2)]),
    # 9. codelists
    "SEX X with codelist SEX [F, M]": (lambda d, m: set_value(d, "ADSL", 1, "SEX", "X"),
                                       [("CODELIST-TERMS", "ADSL", "SEX", 1)]),
    # 10. types and lengths
    "AGE stored as text": (lambda d, m: d["ADSL"].__setitem__("AGE", ["54", "61", "47"]), [("TYPE", "ADSL", "AGE", 3)]),
    "AGE not whole": (lambda d, m: d["ADSL"].__setitem__("AGE", [54.5, 61.0, 47.0]), [("TYPE", "ADSL", "AGE", 1)]),
    "date stored as text": (lambda d, m: d["ADSL"].__setitem__("TRTSDT", ["2024-01-10", "2024-01-12", ""]),
                            [("TYPE", "ADSL", "TRTSDT", 2)]),
    "text stored as numbers": (lambda d, m: d["ADSL"].__setitem__("SITEID", [1, 2, 1]),
                               [("TYPE", "ADSL", "SITEID", 3)]),
    "AETERM longer than LENGTH 20": (lambda d, m: set_value(d, "ADAE", 0, "AETERM", "h" * 21),
                                     [("TEXT-LENGTH", "ADAE", "AETERM", 1)]),
    "AEDECOD of 202 bytes": (lambda d, m: set_value(d, "ADAE", 0, "AEDECOD", "é" * 101),
                             [("TEXT-200-BYTES", "ADAE", "AEDECOD", 1)]),
    # 11. value-level metadata
    "PARAMCD not described": (lambda d, m: setattr(m, "parameters", m.parameters[m.parameters.PARAMCD != "GLUC"]),
                              [("PARAMCD-NOT-IN-SPEC", "ADLB", "PARAMCD", 1)]),
    "described PARAMCD absent": (lambda d, m: add_parameter(m, "INSULIN"),
                                 [("PARAMCD-NOT-IN-DATA", "ADLB", "PARAMCD", 1)]),
}

QUIET = {
    "repeat record not flagged for analysis": lambda d, m: append_row(d, "ADLB", 1, ANL01FL=""),
    "ADSL population flag N carried to ADAE": lambda d, m: set_value(d, "ADAE", 0, "SAFFL", "N"),
    "both BASE and baseline AVAL missing": lambda d, m: edit_subject_param(
        d, S2, "GLUC", AVAL=[NAN, 6.6], BASE=NAN, CHG=NAN, PCHG=NAN, ANL01FL=["", "Y"]),
    "PCHG missing where BASE is 0": lambda d, m: edit_subject_param(
        d, S2, "GLUC", AVAL=[0.0, 6.6], BASE=0.0, CHG=[NAN, 6.6], PCHG=NAN),
    "blank SEX": lambda d, m: set_value(d, "ADSL", 1, "SEX", ""),
}


def test_conforming_build_has_no_findings():
    datasets, metadata = build()
    findings = check_conformance(datasets, metadata, labels_of(metadata))
    assert list(findings.columns) == COLUMNS
    assert len(findings) == 0
    assert findings["N"].dtype == "int64"


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_change_raises_its_rule(case):
    edit, expected = CASES[case]
    datasets, metadata = build()
    edit(datasets, metadata)
    assert found(check_conformance(datasets, metadata)) == sorted(expected)


@pytest.mark.parametrize("case", sorted(QUIET))
def test_allowed_variation_is_quiet(case):
    datasets, metadata = build()
    QUIET[case](datasets, metadata)
    assert found(check_conformance(datasets, metadata)) == []
    assert found(check_conformance(datasets, metadata)) == []


def test_transport_labels_compared_with_metadata():
    datasets, metadata = build()
    labels = labels_of(metadata)
    labels["ADLB"]["dataset_label"] = "Lab Analysis Dataset"
    labels["ADSL"]["variables"]["AGE"] = "Age (years)"
    del labels["ADAE"]["variables"]["AESEV"]
    findings = check_conformance(datasets, metadata, labels)
    assert found(findings) == [("XPT-DATASET-LABEL", "ADLB", "", 1), ("XPT-VARIABLE-LABEL", "ADAE", "AESEV", 1),
                               ("XPT-VARIABLE-LABEL", "ADSL", "AGE", 1)]
    age = findings[findings.VARIABLE == "AGE"].iloc[0]
    assert age.MESSAGE == "Label of ADSL.AGE read back 'Age (years)', metadata 'Age'"


def test_messages_say_what_and_where():
    datasets, metadata = build()
    edit_subject_param(datasets, S2, "GLUC", BASE=5.0, CHG=[NAN, 1.6], PCHG=[NAN, 32.0])
    datasets["ADSL"].loc[1, "SEX"] = "X"
    findings = check_conformance(datasets, metadata).set_index("RULE")
    assert findings.loc["BDS-BASE-AVAL", "MESSAGE"] == (
        "1 ABLFL = Y records of ADLB with BASE not equal to AVAL: "
        "e.g. record 7 (USUBJID=UC01-002, PARAMCD=GLUC, AVISITN=0)")
    assert findings.loc["CODELIST-TERMS", "MESSAGE"] == (
        "1 records of ADSL.SEX outside codelist SEX: values 'X'; e.g. record 2 (USUBJID=UC01-002)")
    assert findings.loc["BDS-BASE-AVAL", "SEVERITY"] == "ERROR"
    assert findings.loc["BDS-BASE-AVAL", "REFERENCE"] == "ADaMIG 1.1 §3.3.4"


def test_trt01a_missing_is_a_warning():
    datasets, metadata = build()
    drop_variable(datasets, metadata, "ADSL", "TRT01A")
    findings = check_conformance(datasets, metadata)
    assert findings[["RULE", "SEVERITY"]].values.tolist() == [["ADSL-TRT01A", "WARNING"]]


def test_every_rule_listed_once_and_raised_by_some_case():
    rules = [r[0] for r in CONFORMANCE_RULES]
    assert len(rules) == len(set(rules)) == 37
    raised = {f[0] for _, expected in CASES.values() for f in expected} | {"XPT-DATASET-LABEL", "XPT-VARIABLE-LABEL"}
    assert raised == set(rules)
    assert {r[1] for r in CONFORMANCE_RULES} == {"ERROR", "WARNING"}


def test_write_conformance(tmp_path):
    datasets, metadata = build()
    datasets["ADSL"].loc[1, "SEX"] = "X"
    findings = check_conformance(datasets, metadata)
    write_conformance(findings, tmp_path / "conformance.csv")
    back = pd.read_csv(tmp_path / "conformance.csv", keep_default_na=False)
    assert list(back.columns) == COLUMNS
    assert back[["RULE", "DATASET", "VARIABLE", "N"]].values.tolist() == [["CODELIST-TERMS", "ADSL", "SEX", 1]]


def _text_of(value) -> str:
    """The text a check compares, value by value: "" for missing, whole numbers without a decimal point."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


@pytest.mark.parametrize("series", [
    pd.Series([0.5, 2.0, -0.0, np.nan, np.inf, 1e20, 2.0**63, 1 / 3, 1e-7, 123456789012345678.0]),
    pd.Series([3, -1, 0]), pd.Series(["a", " ", "", None, "é"], dtype="str"),
    pd.Series(["a", None, 1.0, 2.5, np.nan], dtype=object), pd.Series([True, False]),
    pd.to_datetime(pd.Series(["2019-01-01", None, "2020-02-03 04:05"]), format="mixed"),
    pd.Series(["x", None], dtype="category"), pd.Series([], dtype=float)])
def test_text_and_blank_as_value_by_value(series):
    from ucmsc.conformance import _blank, _text
    from ucmsc.io import utf8_lengths

    expected = [_text_of(v) for v in series]
    assert list(_text(series)) == expected
    assert list(_blank(series)) == [t.strip() == "" for t in expected]
    assert list(utf8_lengths(_text(series))) == [len(t.encode("utf-8")) for t in expected]


def _held_as_categories(datasets: dict) -> dict:
    """Each text column as categories (as derive holds the long dataset), with an unused category of 250 bytes."""
    held = {}
    for name, frame in datasets.items():
        text = [c for c in frame.columns if isinstance(frame[c].dtype, pd.StringDtype)]
        held[name] = frame.assign(**{c: frame[c].astype("category").cat.add_categories(["u" * 250]) for c in text})
    return held


@pytest.mark.parametrize("case", sorted(CASES))
def test_text_held_as_categories_gives_the_same_findings(case):
    edit, expected = CASES[case]
    datasets, metadata = build()
    edit(datasets, metadata)
    plain = check_conformance(datasets, metadata)
    held = check_conformance(_held_as_categories(datasets), metadata)
    assert found(held) == sorted(expected)
    # messages too (the TYPE rule names the storage: "category" where the plain frame has "str")
    held["MESSAGE"] = held["MESSAGE"].str.replace("stored as category,", "stored as str,")
    pd.testing.assert_frame_equal(held, plain)
