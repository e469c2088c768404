"""Damaged raw files are refused with the file and the place named, never read as a shorter table.

Expected values come from byte arithmetic on the files (offsets, line breaks), from the files'
manifest, or from pyreadstat's metadata, never from the code under test.
"""

import csv
import io
import math

import pandas as pd
import pyreadstat
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import DATACUTS, ROOT
from ucmsc.ingest import ingest_cut
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
    count = 8  # dm.xpt: 8 variables, 140-byte NAMESTR records from byte 640 (1120 bytes, whole 80-byte records)
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


# CSV ------------------------------------------------------------------------------------------------------------------

LAB = CUT / "central_lab.csv"  # header + 294 rows (manifest), 6 columns
CLAMP = CUT / "clamp.csv"  # header + 111 rows (manifest), ends "E049,0,2017-06-12,1.41\n"
FIELDS_HINT = "(an unquoted separator or a missing field?)"


def test_unquoted_decimal_comma_in_the_first_row_is_refused_not_shifted(tmp_path):
    raw = LAB.read_bytes()
    assert raw.split(b"\n")[1] == b"E001,BASELINE,17/11/2015,HBA1C,8.4,%"
    path = _write(tmp_path, "central_lab.csv", raw.replace(b"HBA1C,8.4,%", b"HBA1C,8,4,%", 1))
    assert _refused(path) == f"{path}: cannot read: line 2 has 7 fields, the header has 6 {FIELDS_HINT}"


def test_short_row_is_refused_not_padded(tmp_path):
    lines = LAB.read_bytes().split(b"\n")
    lines[9] = lines[9].rsplit(b",", 1)[0]  # line 10 loses its last field
    path = _write(tmp_path, "central_lab.csv", b"\n".join(lines))
    assert _refused(path) == f"{path}: cannot read: line 10 has 5 fields, the header has 6 {FIELDS_HINT}"


def test_quoted_separators_and_line_breaks_are_read_and_lines_are_counted_physically(tmp_path):
    text = 'id,comment,value\n1,"a, b",2\n2,"line one\nline two",3\n\n3,"say ""hi""",4\n'
    frame, meta = read_raw(_write(tmp_path, "notes.csv", text.encode()), multiline_columns=("comment",))
    assert frame.to_dict("list") == {"id": ["1", "2", "3"], "comment": ["a, b", "line one\nline two", 'say "hi"'],
                                     "value": ["2", "3", "4"]}
    path = _write(tmp_path, "notes_bad.csv", (text + "4,oops\n").encode())  # lines: 1, 2, 3-4, (5 blank), 6, 7
    assert _refused(path) == f"{path}: cannot read: line 7 has 2 fields, the header has 3 {FIELDS_HINT}"


DISPOSITION = CUT / "disposition.csv"  # subject_id,status,status_date,reason


def _stray_quote(tmp_path, line_end: str):
    lines = DISPOSITION.read_text().splitlines()
    assert lines[3] == "E003,COMPLETED,2016-11-12,Completed follow-up" and lines[7].startswith("E007,")
    lines[3] = lines[3].replace(",Completed", ',"Completed')  # the quote opens on line 4 ...
    lines[7] += '"'  # ... and closes at the end of line 8: lines 5-8 would be read as a reason of E003
    return _write(tmp_path, "disposition.csv", (line_end.join(lines) + line_end).encode())


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_stray_quote_that_joins_records_into_one_value_is_refused(tmp_path, line_end):
    path = _stray_quote(tmp_path, line_end)
    assert _refused(path) == (f"{path}: cannot read: lines 4-8: the quoted value of column 'reason' runs over 5 "
                              "lines: a stray quote character joins lines into one value, and the records on them "
                              "would be lost; if this column holds free text with line breaks, list it under "
                              "multiline_columns for this source in the trial config")
    # a free-text column may hold line breaks, but not lines that read as records of the file
    assert _refused(path, multiline_columns=("reason",)) == (
        f"{path}: cannot read: lines 4-8: the quoted value of column 'reason' runs over 5 lines, and line 5 inside it "
        "reads as a record of this file (as many fields, each like its column's values): a stray quote character has "
        "probably joined records into one value, which would lose them")


def test_a_stray_quote_that_joins_part_of_the_next_line_is_refused(tmp_path):
    lines = DISPOSITION.read_text().splitlines()
    lines[3] = lines[3].replace("E003,", 'E003,"')  # opens in the status of line 4, closes in the status of line 5:
    lines[4] = lines[4].replace(",2016", '",2016', 1)  # E003 keeps 4 fields, E004's record is gone
    path = _write(tmp_path, "disposition.csv", ("\n".join(lines) + "\n").encode())
    assert "lines 4-5: the quoted value of column 'status' runs over 2 lines" in _refused(path)


def test_free_text_with_as_many_commas_as_a_record_is_read_in_a_listed_column(tmp_path):
    text = 'id,st,dt,comment\n1,C,2020,"Patient reports:\nnausea, vomiting, headache, fatigue"\n2,C,2021,none\n'
    frame, _ = read_raw(_write(tmp_path, "notes.csv", text.encode()), multiline_columns=("comment",))
    assert frame["comment"].tolist() == ["Patient reports:\nnausea, vomiting, headache, fatigue", "none"]


def test_the_lines_named_are_those_of_the_value_not_of_its_record(tmp_path):
    text = 'id,a,b,c\n1,"x\ny\nz","p\nq",3\n'  # record on lines 2-5: a on lines 2-4, b on lines 4-5
    path = _write(tmp_path, "notes.csv", text.encode())
    assert "lines 4-5: the quoted value of column 'b' runs over 2 lines" in _refused(path, multiline_columns=("a",))
    assert "lines 2-4: the quoted value of column 'a' runs over 3 lines" in _refused(path, multiline_columns=("b",))


def test_a_quoted_line_break_in_a_listed_free_text_column_is_read(tmp_path):
    text = 'id,comment,value\n1,"first line\nsecond, with a comma",2\n2,"a\r\n\r\nb",3\n'
    path = _write(tmp_path, "notes.csv", text.encode())
    frame, _ = read_raw(path, multiline_columns=("comment",))
    assert frame["comment"].tolist() == ["first line\nsecond, with a comma", "a\r\n\r\nb"]
    assert "lines 2-3: the quoted value of column 'comment' runs over 2 lines" in _refused(path)


def test_missing_last_line_break_is_refused_unless_allowed(tmp_path):
    raw = CLAMP.read_bytes()
    assert raw.endswith(b",1.41\n") and raw.count(b"\n") == 112  # header + 111 rows
    path = _write(tmp_path, "clamp.csv", raw[:-2])  # "1.41" became "1.4"
    message = _refused(path)
    assert message.startswith(f"{path}: cannot read: line 112: the last line has no line break")
    assert "allow_unterminated_last_line" in message
    frame, _ = read_raw(path, allow_unterminated_last_line=True)
    assert len(frame) == 111 and frame["gir_mg_kg_min"].iloc[-1] == "1.4"
    frame, _ = read_raw(_write(tmp_path, "clamp_nobreak.csv", raw[:-1]), allow_unterminated_last_line=True)
    assert frame["gir_mg_kg_min"].iloc[-1] == "1.41"


def test_file_ending_inside_a_quoted_field_is_refused(tmp_path):
    path = _write(tmp_path, "notes.csv", b'id,comment\n1,"unfinished\nsecond line\n')
    assert "lines 2-3: the file ends inside a quoted field: truncated?" in _refused(path)


@pytest.mark.parametrize("header, message", [
    (b"id,visit,id\n", "line 1: header column name 'id' appears twice (columns 1 and 3)"),
    (b"id,,value\n", "line 1: header column 2 of 3 has no name"),
    (b"id,value,\n", "line 1: header column 3 of 3 has no name"),
])
def test_duplicate_or_empty_header_names_are_refused(tmp_path, header, message):
    path = _write(tmp_path, "x.csv", header + b"1,2,3\n")
    assert _refused(path) == f"{path}: cannot read: {message}"


@pytest.mark.parametrize("content, message", [
    (b"", "empty file (0 bytes): no header line"),
    (b"\n\r\n\n", "no header line: the file holds only blank lines"),
])
def test_empty_file_or_no_header_is_refused(tmp_path, content, message):
    path = _write(tmp_path, "x.csv", content)
    assert _refused(path) == f"{path}: cannot read: {message}"


def test_header_only_csv_reads_as_no_rows(tmp_path):
    path = _write(tmp_path, "central_lab.csv", LAB.read_bytes().split(b"\n")[0] + b"\n")
    frame, meta = read_raw(path)
    assert meta["rows"] == 0 and len(frame) == 0
    assert meta["columns"] == ["Patient ID", "Visit", "Collection Date", "Analyte", "Result", "Units"]


def test_crlf_line_breaks_blank_lines_and_a_byte_order_mark_read_the_same_records(tmp_path):
    raw = LAB.read_bytes()
    frame, _ = read_raw(LAB)
    assert len(frame) == 294  # manifest
    variant = b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n").replace(b"\r\nE002,", b"\r\n\r\nE002,", 1)
    same, _ = read_raw(_write(tmp_path, "central_lab.csv", variant))
    assert same.equals(frame)
    expected = list(csv.reader(io.StringIO(raw.decode("utf-8"))))  # the csv module's reading of the original
    assert frame.columns.tolist() == expected[0] and frame.to_numpy().tolist() == expected[1:]


def test_wrong_encoding_names_the_byte_and_line(tmp_path):
    path = _write(tmp_path, "notes.csv", "id,comment\n1,ok\n2,hémolysé\n".encode("latin-1"))
    assert "not valid utf-8 text (invalid continuation byte at byte 19, line 3)" in _refused(path)


def test_ingestion_passes_the_sources_allow_unterminated_last_line(tmp_path, trial_configs):
    source = next(s for s in trial_configs["nafld_efficacy"]["sources"] if s["file"] == "clamp.csv")
    (tmp_path / "clamp.csv").write_bytes(CLAMP.read_bytes()[:-1])  # only the final line break is missing
    config = {"sources": [source]}
    with pytest.raises(RawReadError, match="allow_unterminated_last_line"):
        ingest_cut(tmp_path, config)
    tables, _, _ = ingest_cut(tmp_path, {"sources": [dict(source, allow_unterminated_last_line=True)]})
    assert len(tables["XP"]) == 111  # one GIR result per data row (manifest: 111 rows)


def test_ingestion_passes_the_sources_multiline_columns(tmp_path, trial_configs):
    source = next(s for s in trial_configs["nafld_efficacy"]["sources"] if s["file"] == "disposition.csv")
    lines = DISPOSITION.read_text().splitlines()
    lines[3] = lines[3].replace(",Completed follow-up", ',"Completed follow-up,\nsigned off by the PI"')
    (tmp_path / "disposition.csv").write_text("\n".join(lines) + "\n")  # a free-text reason over two lines
    with pytest.raises(RawReadError, match="lines 4-5: the quoted value of column 'reason' runs over 2 lines"):
        ingest_cut(tmp_path, {"sources": [source]})
    tables, _, _ = ingest_cut(tmp_path, {"sources": [dict(source, multiline_columns=["reason"])]})
    assert len(tables["DS"]) == len(lines) - 1  # every data row a record
    assert tables["DS"]["DSTERM"].iloc[2] == "Completed follow-up,\nsigned off by the PI"
    with pytest.raises(RawReadError, match=r"config's multiline_columns names 'Reason', not among the file's "
                                            r"columns 'subject_id', 'status', 'status_date', 'reason'"):
        ingest_cut(tmp_path, {"sources": [dict(source, multiline_columns=["Reason"])]})


# Truncation at any point ----------------------------------------------------------------------------------------------

CSV_FILES = sorted(CUT.glob("*.csv"))
XPT_FILES = sorted(CUT.glob("*.xpt"))


@st.composite
def csv_cut(draw):
    path = draw(st.sampled_from(CSV_FILES))
    raw = path.read_bytes()
    after_breaks = [i + 1 for i, byte in enumerate(raw) if byte == ord("\n")]
    cut = draw(st.one_of(st.integers(0, len(raw)), st.sampled_from(after_breaks)))
    return path, raw, cut


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_cut())
def test_truncated_csv_reads_whole_records_or_is_refused(tmp_path_factory, case):
    source, raw, cut = case
    assert b'"' not in raw and b"\r" not in raw  # so every record is one line ending in \n
    path = tmp_path_factory.mktemp("cut") / source.name
    path.write_bytes(raw[:cut])
    lines = raw[:cut].count(b"\n")
    if cut and raw[cut - 1:cut] == b"\n":  # the cut follows a line break: nothing can tell it from a whole file
        event("cut after a line break")
        frame, meta = read_raw(path)
        assert meta["rows"] == lines - 1  # every complete line but the header
        whole = [line.split(",") for line in raw.decode("utf-8").split("\n")]
        assert frame.to_numpy().tolist() == whole[1:lines]
    else:
        _refused(path)


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
