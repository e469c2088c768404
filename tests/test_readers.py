"""Readers against real SAS files written outside this project (tests/fixtures/sas, MIT licensed: see LICENSES.md)."""

import hashlib

import pandas as pd
import pytest

from conftest import ROOT
from ucmsc.ingest import map_source
from ucmsc.io import read_raw

FIXTURES = ROOT / "tests" / "fixtures" / "sas"


def test_fixture_files_are_the_published_ones():
    sums = [line.split() for line in (FIXTURES / "SHA256SUMS").read_text().splitlines() if line.strip()]
    assert len(sums) == 5
    for digest, name in sums:
        assert hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("name, rows, columns", [
    ("adsl.sas7bdat", 24, 23), ("adae.sas7bdat", 20, 28), ("adlb.sas7bdat", 288, 45), ("adae.xpt", 1191, 55),
    ("iris.sas7bdat", 150, 5),
])
def test_real_files_read_with_their_shape(name, rows, columns):
    frame, meta = read_raw(FIXTURES / name)
    assert frame.shape == (rows, columns)
    assert meta["rows"] == rows and len(meta["sha256"]) == 64


def test_sas_dates_times_encoding_and_numeric_ids():
    frame, meta = read_raw(FIXTURES / "adsl.sas7bdat")
    assert meta["encoding"] == "WINDOWS-1252"
    assert meta["formats"]["RANDDT"] == "MMDDYY10" and meta["formats"]["TRTSTM"] == "TIME8"
    assert frame["RANDDT"].iloc[0] == "2018-04-08"  # MMDDYY10 numeric date arrives as ISO 8601 text
    assert frame["TRTSTM"].iloc[0] == "14:35:00"
    assert frame["USUBJID"].iloc[0] == "987650.000001"  # stored as a SAS number: every digit kept


def test_transport_file_keeps_dataset_and_variable_labels():
    frame, meta = read_raw(FIXTURES / "adae.xpt")
    assert meta["dataset_label"] == "Adverse Events Analysis Dataset"
    assert meta["labels"]["STUDYID"] == "Study Identifier"
    assert frame["USUBJID"].iloc[0] == "01-701-1015"


def test_a_real_adverse_event_file_maps_by_config_alone():
    frame, _ = read_raw(FIXTURES / "adae.xpt")
    source = {"file": "adae.xpt", "domain": "AE", "columns": {
        "SUBJID": "USUBJID", "AETERM": "AETERM", "AESTDTC": "ASTDT", "AEENDTC": "AENDT", "AESEV": "AESEV",
        "AESER": "AESER", "AEREL": "AEREL", "AEOUT": "AEOUT"}}
    mapped = map_source(frame, source)
    assert len(mapped) == 1191 and mapped["SRCROW"].tolist()[:3] == [1, 2, 3]
    assert pd.to_datetime(mapped["AESTDTC"].replace("", None)).notna().mean() > 0.9


@pytest.mark.parametrize("name", ["adsl.sas7bdat", "adae.sas7bdat", "adlb.sas7bdat", "adae.xpt", "iris.sas7bdat"])
def test_vectorised_text_rendering_equals_the_cell_by_cell_rule(name):
    import pyreadstat

    from ucmsc.io import _as_text

    frame, _ = read_raw(FIXTURES / name)
    reader = pyreadstat.read_xport if name.endswith(".xpt") else pyreadstat.read_sas7bdat
    raw, _ = reader(str(FIXTURES / name))
    assert (frame.to_numpy() == raw.astype(object).map(_as_text).astype(str).to_numpy()).all()
