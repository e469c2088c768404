"""Damaged raw files are refused with the file and the place named, never read as a shorter table.

Expected values come from byte arithmetic on the files (offsets, line breaks), from the files'
manifest, or from pyreadstat's metadata, never from the code under test.
"""

import math

import pandas as pd
import pyreadstat
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import DATACUTS, ROOT
from ucmsc.io import RawReadError, read_raw

CUT = DATACUTS / "nafld_efficacy" / "2017-06-30"
SAS = ROOT / "tests" / "fixtures" / "sas"
RECORD = 80  # SAS TS-140: transport files are 80-byte records
OBS_HEADER = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!"  # SAS TS-140: the data follow this record


def _write(tmp_path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _refused(path, **kwargs) -> str:
    with pytest.raises(RawReadError) as caught:
        read_raw(path, **kwargs)
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot read: "), message
    return message


def _xpt_geometry(path) -> tuple[int, int]:
    """Where the observations start (just after the OBS header record) and their length (pyreadstat's widths)."""
    start = path.read_bytes().index(OBS_HEADER) + RECORD
    _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
    return start, sum(meta.variable_storage_width.values())


# SAS transport --------------------------------------------------------------------------------------------------------

LB = CUT / "lb.xpt"  # 53,120 bytes, 1,472 rows (manifest)


def test_bundled_transport_geometry_is_as_counted_by_hand():
    raw = LB.read_bytes()
    start, width = _xpt_geometry(LB)
    assert (len(raw), start, width) == (53120, 1600, 35)  # 6 variables: 4 + 8 + 8 + 4 + 5 + 6 bytes
    assert start + 1472 * width == len(raw)  # 1,472 observations fill the data area exactly: no padding
    assert len(read_raw(LB)[0]) == 1472


@pytest.mark.parametrize("cut", [53120 // 2, 53120 - 1, 53120 - 80, 8000, 1600 + 35 * 10 + 3])
def test_truncated_transport_file_is_refused_naming_the_observation_it_ends_in(tmp_path, cut):
    path = _write(tmp_path, "lb.xpt", LB.read_bytes()[:cut])
    message = _refused(path)
    observation = (cut - 1600) // 35 + 1  # the incomplete observation the file ends in
    assert f"observation {observation} of 35 bytes" in message and "truncated?" in message
    if cut % RECORD:
        assert f"file size {cut} bytes is not a whole number of 80-byte records" in message


def test_truncated_transport_header_is_refused(tmp_path):
    path = _write(tmp_path, "lb.xpt", LB.read_bytes()[:700])  # NAMESTR records start at byte 640
    message = _refused(path)
    assert "file ends at byte 700 inside the 6 NAMESTR records of 140 bytes" in message


def test_transport_cut_on_a_record_and_observation_boundary_reads_the_observations_before_it(tmp_path):
    # 560 = lcm(80, 35): the cut falls between observations and between records, which no reader can tell from the
    # end of a file; the complete observations before it are read (the manifest's row count catches the rest).
    cut = 1600 + 3 * 560
    path = _write(tmp_path, "lb.xpt", LB.read_bytes()[:cut])
    frame, meta = read_raw(path)
    expected, _ = pyreadstat.read_xport(str(LB))
    assert meta["rows"] == 48 == 3 * 560 // 35
    assert frame["SUBJID"].tolist() == expected["SUBJID"].head(48).tolist()


def test_transport_file_extended_by_bytes_is_refused(tmp_path):
    assert "not a whole number of 80-byte records" in _refused(_write(tmp_path, "lb.xpt", LB.read_bytes() + b"abc"))
    message = _refused(_write(tmp_path, "lb.xpt", LB.read_bytes() + b"Z" * 80))  # a record of junk, not padding
    assert "observation 1475 of 35 bytes" in message  # (51520 + 80) // 35 = 1474 whole observations


def test_a_second_data_set_in_one_transport_file_is_refused(tmp_path):
    first = (CUT / "dm.xpt").read_bytes()
    second = (CUT / "ae.xpt").read_bytes()[240:]  # SAS TS-140: its member header starts at record 4 (byte 240)
    message = _refused(_write(tmp_path, "dm.xpt", first + second))
    assert f"byte {len(first)}: a second data set" in message


def _write_xport(path, values, version):
    pyreadstat.write_xport(pd.DataFrame({"X": values}), str(path), file_format_version=version)
    return path


def test_blank_padding_of_the_last_record_is_not_data(tmp_path):
    path = _write_xport(tmp_path / "pad.xpt", ["ab", "cd", "ef"], 5)
    start, width = _xpt_geometry(path)
    assert width == 2 and path.stat().st_size - start == RECORD  # 6 bytes of data, 74 blanks: 37 blank "observations"
    assert read_raw(path)[0]["X"].tolist() == ["ab", "cd", "ef"]


def test_blank_observations_beyond_the_last_record_are_refused_not_dropped(tmp_path):
    path = _write_xport(tmp_path / "blank.xpt", ["ab"] + [""] * 45, 5)  # 46 x 2 bytes, padded to 160
    start, width = _xpt_geometry(path)
    assert path.stat().st_size - start == 160
    assert len(pyreadstat.read_xport(str(path))[0]) == 1  # pyreadstat drops every trailing blank observation
    # padding is shorter than 80 bytes: at most 39 of the 80 two-byte slots, so at least 41 observations are data
    message = _refused(path)
    assert "1 row read, but the data area (from byte" in message and "holds 41 observations" in message


def test_version_8_transport_is_read_and_checked_against_its_observation_count(tmp_path):
    path = _write_xport(tmp_path / "v8.xpt", ["ab", "", "ef"], 8)
    raw = path.read_bytes()
    header = raw.index(b"HEADER RECORD*******OBSV8   HEADER RECORD!!!!!!!")
    assert raw[header + 48:header + 63] == b"              3"  # v8: the OBSV8 header states the count
    assert read_raw(path)[0]["X"].tolist() == ["ab", "", "ef"]
    message = _refused(_write(tmp_path, "v8_cut.xpt", raw[:-RECORD]))
    assert "the OBSV8 header states 3 observations" in message and "truncated?" in message
    stated_41 = raw[:header + 48] + b"             41" + raw[header + 63:]  # 82 bytes: more than the 80 present
    message = _refused(_write(tmp_path, "v8_count.xpt", stated_41))
    assert "the OBSV8 header states 41 observations of 2 bytes" in message and "after 40 of them" in message


def test_vax_namestr_records_are_refused_clearly(tmp_path):
    raw = (CUT / "dm.xpt").read_bytes()
    count = 7  # dm.xpt: 7 variables, 140-byte NAMESTR records from byte 640, padded to 1680
    block = b"".join(raw[640 + i * 140:640 + i * 140 + 136] for i in range(count))
    block = block.ljust(-(-len(block) // RECORD) * RECORD, b" ")
    vax = raw[:315] + b"136" + raw[318:640] + block + raw[640 + -(-count * 140 // RECORD) * RECORD:]
    assert "NAMESTR records of 136 bytes (VAX/VMS) are not supported" in _refused(_write(tmp_path, "dm.xpt", vax))


def test_not_a_transport_file_is_refused(tmp_path):
    assert "not a SAS transport (XPORT) file" in _refused(_write(tmp_path, "x.xpt", b"HEADER RECORD" + b" " * 200))


# sas7bdat -------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["adsl.sas7bdat", "adlb.sas7bdat", "iris.sas7bdat"])
@pytest.mark.parametrize("cut", ["half", "len-1", "header", "one page less", "inside header"])
def test_truncated_sas7bdat_is_refused_as_truncated(tmp_path, name, cut):
    raw = (SAS / name).read_bytes()
    at = {"half": len(raw) // 2, "len-1": len(raw) - 1, "header": 65536, "one page less": len(raw) - 65536,
          "inside header": 100}[cut]  # these files have a 65,536-byte header and 65,536-byte pages
    message = _refused(_write(tmp_path, name, raw[:at]))
    assert "truncated?" in message
    if at >= 216:
        assert f"file is {at} bytes but its header describes {len(raw)}" in message


def test_extended_sas7bdat_is_refused(tmp_path):
    raw = (SAS / "iris.sas7bdat").read_bytes()
    assert "extended?" in _refused(_write(tmp_path, "iris.sas7bdat", raw + b"\0" * 10))


def test_sas7bdat_rows_read_must_equal_the_header_row_count(tmp_path, monkeypatch):
    real = pyreadstat.read_sas7bdat

    def drops_the_last_row(*args, **kwargs):
        frame, meta = real(*args, **kwargs)
        return frame.iloc[:-1], meta

    monkeypatch.setattr(pyreadstat, "read_sas7bdat", drops_the_last_row)
    path = _write(tmp_path, "adlb.sas7bdat", (SAS / "adlb.sas7bdat").read_bytes())
    assert "287 rows read, but the file's header states 288" in _refused(path)  # 288 rows: fixtures README


# Truncation at any point ----------------------------------------------------------------------------------------------

XPT_FILES = sorted(CUT.glob("*.xpt"))


@st.composite
def xpt_cut(draw):
    path = draw(st.sampled_from(XPT_FILES))
    raw = path.read_bytes()
    start, width = _xpt_geometry(path)
    step = math.lcm(RECORD, width)  # both a record and an observation boundary
    cut = draw(st.one_of(st.integers(0, len(raw)), st.integers(0, len(raw) // RECORD).map(lambda k: k * RECORD),
                         st.integers(0, (len(raw) - start) // step).map(lambda k: start + k * step)))
    return path, raw, start, width, cut


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xpt_cut())
def test_truncated_transport_file_reads_whole_observations_or_is_refused(tmp_path_factory, case):
    source, raw, start, width, cut = case
    path = tmp_path_factory.mktemp("cut") / source.name
    path.write_bytes(raw[:cut])
    whole, _ = pyreadstat.read_xport(str(source))
    # whole if it ends between records and between observations, or is the whole file (ending in its padding)
    if cut >= start and cut % RECORD == 0 and ((cut - start) % width == 0 or cut == len(raw)):
        event("cut between records and observations")
        frame, meta = read_raw(path)
        assert meta["rows"] == min((cut - start) // width, len(whole))
        assert frame.iloc[:, 0].tolist() == whole.iloc[: meta["rows"], 0].tolist()
    else:
        _refused(path)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["adsl.sas7bdat", "adae.sas7bdat", "adlb.sas7bdat", "iris.sas7bdat"]),
       st.floats(0, 1, exclude_max=True))
def test_truncated_sas7bdat_is_refused_at_any_point(tmp_path_factory, name, fraction):
    raw = (SAS / name).read_bytes()
    path = tmp_path_factory.mktemp("cut") / name
    path.write_bytes(raw[:int(len(raw) * fraction)])
    assert "truncated?" in _refused(path)
