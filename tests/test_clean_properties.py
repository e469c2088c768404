"""Property-based tests: malformed tables and files get a clear error or a query, never a crash."""

from datetime import date

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ucmsc.clean import clean_cut
from ucmsc.domains import DOMAINS, REQUIRED
from ucmsc.ingest import MappingError, map_source
from ucmsc.io import RawReadError, read_raw

CHECKS = {"required_value", "codes", "dates", "after_cut_date", "numeric_result", "unit_conversion", "plausible_range",
          "subject_in_dm", "duplicate_records", "visit_label", "arm_not_in_plan"}  # those that quarantine

CONFIG = {
    "studyid": "T", "arms": [{"arm": "A", "armcd": "A", "role": "active"},
                             {"arm": "B", "armcd": "B", "role": "control"}],
    "visits": [{"visitnum": 0, "avisit": "Week 0", "day": 0, "window": 0},
               {"visitnum": 4, "avisit": "Week 4", "day": 28, "window": 3}],
    "visit_labels": {"BASELINE": 0, "WEEK 4": 4},
    "sources": [{"file": f"{d.lower()}.csv", "domain": d, "columns": {},
                 "codes": {"ARM": {"1": "A", "2": "B"}, "SEX": {"M": "M", "F": "F"}}}
                for d in DOMAINS],
    "tests": {"GLUC": {"test": "Glucose", "unit": "mmol/L", "range": [1, 35], "divide": {"mg/dL": 18.016}},
              "ALT": {"test": "ALT", "unit": "U/L", "range": [1, 3000]}},
}

messy_text = st.one_of(
    st.sampled_from(["", " ", "1", "2", "M", "F", "x", "<0.5", ">3", "NaN", "1e400", "-0", "12.5", "BASELINE", "WEEK 4",
                     "4", "GLUC", "ALT", "mg/dL", "mmol/L", "U/L", "2020-01-01", "2020-02-30", "01/02/2020",
                     "2020-01-29T08:00", "S1", "S2", "S3"]),
    st.text(max_size=6),
)


def mapped(domain: str) -> list[str]:
    """What a site export of the domain maps: the subject, the required variables, and DM's randomisation date."""
    return ["SUBJID", *REQUIRED[domain], *(["RANDDT"] if domain == "DM" else [])]


def _table(domain: str, draw_rows) -> pd.DataFrame:
    columns = mapped(domain)
    frame = pd.DataFrame(draw_rows, columns=columns) if draw_rows else pd.DataFrame(columns=columns)
    frame = frame.astype(str)
    frame["SRCFILE"] = f"{domain.lower()}.csv"
    frame["SRCROW"] = range(1, len(frame) + 1)
    return frame


@st.composite
def messy_cut(draw):
    tables = {}
    for domain in DOMAINS:
        width = len(mapped(domain))
        rows = draw(st.lists(st.lists(messy_text, min_size=width, max_size=width), max_size=8))
        tables[domain] = _table(domain, rows)
    return tables


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_cut())
def test_messy_records_become_queries_not_crashes(tables):
    clean, queries, quarantine, summary = clean_cut(tables, CONFIG, date(2020, 6, 30))
    assert (summary["RECORDS_IN"] == summary["RECORDS_OUT"] + summary["QUARANTINED"]).all()
    assert (quarantine["REASON"].astype(str).str.strip() != "").all() and quarantine["CHECK"].isin(list(CHECKS)).all()
    quarantined_rows = set(zip(quarantine["SRCFILE"], quarantine["SRCROW"].astype(str)))
    queried_rows = set(zip(queries["FILE"], queries["ROW"].astype(str)))
    assert quarantined_rows <= queried_rows, "a record left the data without a query"
    for domain, table in clean.items():
        if len(table) and f"{domain}STRESN" in table:
            assert not table[f"{domain}STRESN"].isin([float("inf"), float("-inf")]).any()


VALID = {
    "SUBJID": ["S1", "S2", "S3"], "SITEID": ["01"], "SEX": ["M", "F"], "AGE": ["45", "60"],
    "RANDDT": ["2020-01-01", "2020-01-15"],
    "ARM": ["1", "2"], "DSDECOD": ["COMPLETED", "WITHDRAWAL BY SUBJECT"], "DSSTDTC": ["2020-03-01"], "DSTERM": ["x"],
    "EXSEQ": ["1", "2"], "EXSTDTC": ["2020-01-01T09:00", "2020-01-08T09:00"], "EXDOSE": ["1"],
    "EXDOSU": ["10^6 cells/kg"],
    "EXTRT": ["UC-MSC"], "VISIT": ["BASELINE", "WEEK 4", "4"], "DTC": ["2020-01-01", "2020-01-29", "2020-03-15"],
    "TESTCD": ["GLUC", "ALT"], "ORRES": ["7.2", "145", "<0.5", "35"], "ORRESU": ["mmol/L", "mg/dL", "U/L"],
    "AETERM": ["Fever"], "AESTDTC": ["2020-01-02T10:00", "2019-12-30T10:00"], "AEENDTC": ["", "2020-01-03T10:00"],
    "AESEV": ["MILD"], "AESER": ["N", "Y"], "AEREL": ["POSSIBLY RELATED"], "AEOUT": ["RECOVERED/RESOLVED"],
}


@st.composite
def near_valid_cut(draw):
    """Mostly valid records, each cell sometimes replaced by mess: reaches the deeper checks."""
    tables = {}
    for domain in DOMAINS:
        columns = mapped(domain)
        cell = {c: st.one_of(st.sampled_from(VALID[c]), st.sampled_from(VALID[c]), messy_text) for c in columns}
        rows = draw(st.lists(st.tuples(*[cell[c] for c in columns]), min_size=1 if domain == "DM" else 0, max_size=10))
        tables[domain] = _table(domain, [list(r) for r in rows])
    return tables


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_valid_cut())
def test_near_valid_records_are_cleaned_or_queried(tables):
    clean, queries, quarantine, summary = clean_cut(tables, CONFIG, date(2020, 6, 30))
    assert (summary["RECORDS_IN"] == summary["RECORDS_OUT"] + summary["QUARANTINED"]).all()
    for domain in ("LB", "VS", "XP"):
        table = clean[domain]
        values = table[f"{domain}STRESN"].dropna()
        assert values.between(1, 3000).all(), "an implausible value passed the range check"
        assert not table.duplicated(["USUBJID", f"{domain}TESTCD", "VISITNUM"]).any(), (
            "two records for one subject, test, visit")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["SUBJID", "VISIT", "LBDAT", "LBTESTCD", "LBORRES", "LBORRESU", "OTHER"]), unique=True))
def test_mapping_with_missing_columns_names_the_file_and_column(columns):
    raw = pd.DataFrame({c: ["x"] for c in columns})
    source = {"file": "lb.xpt", "domain": "LB", "columns": {"SUBJID": "SUBJID", "VISIT": "VISIT", "DTC": "LBDAT",
                                                            "TESTCD": "LBTESTCD", "ORRES": "LBORRES",
                                                            "ORRESU": "LBORRESU"}}
    required = set(source["columns"].values())
    if required <= set(columns):
        assert len(map_source(raw, source)) == 1
    else:
        with pytest.raises(MappingError, match=r"^lb\.xpt: required column"):
            map_source(raw, source)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from([".xpt", ".sas7bdat", ".csv"]),
       st.sampled_from([None, "latin-1", "utf-8"]))
def test_any_bytes_read_or_fail_with_the_file_named(tmp_path_factory, content, suffix, encoding):
    path = tmp_path_factory.mktemp("raw") / f"delivery{suffix}"
    path.write_bytes(content)
    try:
        frame, meta = read_raw(path, encoding=encoding)
    except RawReadError as error:
        assert str(error).startswith(f"{path}: cannot read")
    else:
        assert meta["rows"] == len(frame)
