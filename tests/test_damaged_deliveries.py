"""Damaged, changed or late deliveries stop the cut or are queried; never analysed as if whole.

Each test damages a copy of a bundled cut the way a site or a transfer would, then runs the
package on it. Expected counts come from the raw files (csv module, pyreadstat, bytes).
"""

import copy
import json
from datetime import date

import pandas as pd
import pytest

import deliveries as dl
from conftest import run_pipeline
from ucmsc.clean import BookkeepingError, clean_cut, run_clean
from ucmsc.ingest import EmptySourceError, MappingError, ingest_cut
from ucmsc.io import RawReadError
from ucmsc.manifest import ManifestError

EFF, INTERIM = "nafld_efficacy", "2017-06-30"


@pytest.fixture
def cut(tmp_path):
    return dl.copy_cut(EFF, INTERIM, tmp_path)


@pytest.fixture(scope="module")
def config(trial_configs):
    return trial_configs[EFF]


def _ingest(folder, config):
    return ingest_cut(folder, config, cut_date=folder.name)


# --- files against the manifest ------------------------------------------------------------

@pytest.mark.parametrize("file, fraction", [("lb.xpt", 0.5), ("dm.xpt", 0.6)])
def test_a_truncated_transport_file_differs_from_the_manifest(cut, config, file, fraction):
    path = cut / file
    listed = dl.sha256(path)
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * fraction)])
    with pytest.raises(ManifestError) as error:
        _ingest(cut, config)
    message = str(error.value)
    assert str(path) in message and listed in message and dl.sha256(path) in message


def test_an_edited_value_differs_from_the_manifest(cut, config):
    path = cut / "central_lab.csv"
    text = path.read_text()
    assert "E001,BASELINE,17/11/2015,HBA1C,8.4,%" in text
    path.write_text(text.replace("E001,BASELINE,17/11/2015,HBA1C,8.4,%", "E001,BASELINE,17/11/2015,HBA1C,9.9,%"))
    with pytest.raises(ManifestError, match="central_lab.csv: SHA-256 .* differs from"):
        _ingest(cut, config)


def test_a_file_missing_its_last_bytes_differs_from_the_manifest(cut, config):
    path = cut / "clamp.csv"
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(ManifestError, match="clamp.csv"):
        _ingest(cut, config)


def test_a_row_count_other_than_the_manifest_stops_the_cut(cut, config):
    manifest = json.loads((cut / "manifest.json").read_text())
    next(e for e in manifest["files"] if e["name"] == "vs.xpt")["rows"] += 1
    (cut / "manifest.json").write_text(json.dumps(manifest))
    rows = dl.raw_data_rows(cut / "vs.xpt")
    with pytest.raises(ManifestError, match=f"vs.xpt: {rows} data rows read but .*manifest.json states {rows + 1}"):
        _ingest(cut, config)


def test_a_file_the_manifest_does_not_list_stops_the_cut(cut, config):
    manifest = json.loads((cut / "manifest.json").read_text())
    manifest["files"] = [e for e in manifest["files"] if e["name"] != "ae.xpt"]
    (cut / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="ae.xpt: not listed in"):
        _ingest(cut, config)


def test_a_cut_without_a_manifest_is_read_and_says_so(cut, config):
    (cut / "manifest.json").unlink()
    tables, metadata, manifest = _ingest(cut, config)
    assert manifest is None and not any(m["verified_against_manifest"] for m in metadata)
    assert len(tables["LB"]) == dl.raw_data_rows(cut / "lb.xpt") + dl.raw_data_rows(cut / "central_lab.csv")


# --- empty sources -------------------------------------------------------------------------

def test_a_header_only_source_is_an_error_unless_it_may_be_empty(cut, config):
    dl.edit_csv(cut / "central_lab.csv", lambda rows: rows.__delitem__(slice(1, None)))
    dl.refresh_manifest(cut)  # delivered like this: the manifest agrees, the file is still empty
    with pytest.raises(EmptySourceError, match="central_lab.csv: no data rows .* 'may_be_empty: true'"):
        _ingest(cut, config)
    lenient = copy.deepcopy(config)
    next(s for s in lenient["sources"] if s["file"] == "central_lab.csv")["may_be_empty"] = True
    tables, _, _ = _ingest(cut, lenient)
    assert (tables["LB"]["SRCFILE"] == "central_lab.csv").sum() == 0


# --- records dated after the cut -----------------------------------------------------------

def _n(ard, analysis, paramcd, visit, group, variable="AVAL", stat="n"):
    rows = ard[(ard["ANALYSIS_ID"] == analysis) & (ard["PARAMCD"] == paramcd) & (ard["AVISITN"] == visit)
               & (ard["GROUP1_LEVEL"] == group) & (ard["COMPARATOR"] == "") & (ard["VARIABLE"] == variable)
               & (ard["STAT_NAME"] == stat)]
    return rows["VALUE"].tolist()


def test_records_dated_after_the_cut_are_queried_and_not_analysed(cut, config):
    before = run_pipeline(EFF, INTERIM, config)
    dm = before["sdtm"]["DM"]
    with_week9 = set(before["sdtm"]["LB"].query("LBTESTCD == 'HBA1C' and VISITNUM == 9")["USUBJID"])
    late = dm[~dm["USUBJID"].isin(with_week9)].sort_values("RANDDT").iloc[-1]
    dl.edit_csv(cut / "central_lab.csv",
                lambda rows: rows.append([late["SUBJID"], "WEEK 9", "14/08/2017", "HBA1C", "6.5", "%"]))
    ae_row = {"SUBJID": "E002", "AETERM": "Pyrexia", "AESTDTC": "2017-08-01T10:00", "AEENDTC": "2017-08-02T10:00",
              "AESEV": "MILD", "AESER": "N", "AEREL": "RELATED", "AEOUT": "RECOVERED/RESOLVED"}
    dl.edit_xpt(cut / "ae.xpt", lambda frame: pd.concat([frame, pd.DataFrame([ae_row])], ignore_index=True))
    dl.refresh_manifest(cut)
    after = run_pipeline(EFF, INTERIM, config, folder=cut)
    late_queries = after["queries"][after["queries"]["CHECK"] == "after_cut_date"]
    lab_rows = dl.raw_data_rows(cut / "central_lab.csv")
    ae_rows = dl.raw_data_rows(cut / "ae.xpt")
    assert set(zip(late_queries["FILE"], late_queries["ROW"])) == {("central_lab.csv", lab_rows), ("ae.xpt", ae_rows)}
    assert (set(zip(after["quarantine"]["SRCFILE"], after["quarantine"]["SRCROW"]))
            >= {("central_lab.csv", lab_rows), ("ae.xpt", ae_rows)})
    for arm in ("UC-MSC", "Placebo"):
        assert _n(after["ard"], "CONT", "HBA1C", 9, arm) == _n(before["ard"], "CONT", "HBA1C", 9, arm)
        assert (_n(after["ard"], "AE", "ANY", None, arm, "USUBJID", "events")
                == _n(before["ard"], "AE", "ANY", None, arm, "USUBJID", "events"))


def test_an_end_date_after_the_cut_is_set_missing_and_queried(cut, config):
    def edit(frame):
        frame.loc[0, "AEENDTC"] = "2017-07-15T10:00"
        return frame
    dl.edit_xpt(cut / "ae.xpt", edit)
    dl.refresh_manifest(cut)
    result = run_pipeline(EFF, INTERIM, config, folder=cut)
    ae = result["sdtm"]["AE"]
    assert ae.loc[ae["SRCROW"] == 1, "AEENDTC"].tolist() == [""]
    query = result["queries"][(result["queries"]["CHECK"] == "after_cut_date")
                              & (result["queries"]["FILE"] == "ae.xpt")]
    assert query[["ROW", "VARIABLE", "VALUE"]].values.tolist() == [[1, "AEENDTC", "2017-07-15T10:00"]]


# --- duplicates ----------------------------------------------------------------------------

def test_an_identical_duplicate_dm_row_keeps_the_subject_and_its_records(cut, config):
    before = run_pipeline(EFF, INTERIM, config)
    dl.edit_xpt(cut / "dm.xpt", lambda frame: pd.concat([frame, frame.iloc[[0]]], ignore_index=True))
    dl.refresh_manifest(cut)
    after = run_pipeline(EFF, INTERIM, config, folder=cut)
    subject = before["sdtm"]["DM"]["USUBJID"].iloc[0]
    assert subject in set(after["adsl"]["USUBJID"]) and len(after["adsl"]) == len(before["adsl"])
    assert (after["bds"]["USUBJID"] == subject).sum() == (before["bds"]["USUBJID"] == subject).sum() > 0
    query = after["queries"][after["queries"]["CHECK"] == "duplicate_records"]
    dm_rows = dl.raw_data_rows(cut / "dm.xpt")
    assert query[query["DOMAIN"] == "DM"][["ROW", "ACTION"]].values.tolist() == [
        [dm_rows, "quarantined; first copy kept"]]


# --- values set missing or dropped ---------------------------------------------------------

def test_a_blank_result_in_wide_layout_is_queried_like_the_long_layout(cut, config):
    def blank(rows):
        rows[3][3] = ""  # clamp.csv data row 3, gir_mg_kg_min
    dl.edit_csv(cut / "clamp.csv", blank)
    dl.refresh_manifest(cut)
    tables, _, _ = _ingest(cut, config)
    assert len(tables["XP"]) == 2 * dl.raw_data_rows(cut / "liver_imaging.csv") + dl.raw_data_rows(cut / "clamp.csv")
    _, queries, quarantine, _ = clean_cut(tables, config, date.fromisoformat(INTERIM))
    query = queries[(queries["FILE"] == "clamp.csv") & (queries["ROW"] == 3)]
    assert query[["COLUMN", "CHECK", "ACTION"]].values.tolist() == [["gir_mg_kg_min", "required_value", "quarantined"]]
    assert ((quarantine["SRCFILE"] == "clamp.csv") & (quarantine["SRCROW"] == 3)).sum() == 1


def test_text_in_dose_and_diabetes_duration_is_queried(cut, config):
    def garble_dm(frame):
        frame["DMDUR"] = frame["DMDUR"].map(lambda v: f"{v:g}")
        frame.loc[1, "DMDUR"] = "about 5"
        return frame

    def garble_ex(frame):
        frame["DOSE"] = frame["DOSE"].map(lambda v: f"{v:g}")
        frame.loc[2, "DOSE"] = "1,0"
        return frame
    dl.edit_xpt(cut / "dm.xpt", garble_dm)
    dl.edit_xpt(cut / "ex.xpt", garble_ex)
    dl.refresh_manifest(cut)
    result = run_pipeline(EFF, INTERIM, config, folder=cut)
    queries = result["queries"].set_index(["FILE", "ROW"])
    assert (queries.loc[("dm.xpt", 2), ["COLUMN", "VARIABLE", "VALUE", "CHECK"]].tolist()
            == ["DMDUR", "DIABDUR", "about 5", "numeric_result"])
    assert (queries.loc[("ex.xpt", 3), ["COLUMN", "VARIABLE", "VALUE", "CHECK"]].tolist()
            == ["DOSE", "EXDOSE", "1,0", "numeric_result"])
    ex = result["sdtm"]["EX"]
    assert pd.isna(ex.loc[ex["SRCROW"] == 3, "EXDOSE"]).all() and ex["EXDOSE"].notna().sum() == len(ex) - 1


def test_a_value_lost_without_a_query_stops_cleaning(monkeypatch, config):
    """The bookkeeping guard itself: a check that blanks a value silently is caught."""
    from ucmsc import checks

    real = checks.numbers

    def silent(frame, column, required=False, limits=None):
        result = real(frame, column, required, limits)
        result.updates[column] = result.updates[column].where(frame.index != frame.index[0])
        return result
    monkeypatch.setattr(checks, "numbers", silent)
    tables, _, _ = ingest_cut(dl.DATACUTS / EFF / INTERIM, config, cut_date=INTERIM)
    with pytest.raises(BookkeepingError, match=r"DM: dm.xpt row 1: AGE '\d+' became missing without a data query"):
        clean_cut(tables, config, date.fromisoformat(INTERIM))


GARBAGE = ["", "#N/A", "12..5", "?", "=1+1"]


def test_every_garbled_value_is_carried_queried_or_its_record_quarantined(cut, config):
    """Garble values in every mapped column of every raw file; then, per domain, from the raw rows:
    records in = out + quarantined, and each garbled cell is either carried verbatim into the clean
    record, or queried on its file, row and column, or its record is quarantined with a query."""
    garbled = {}  # (file, row, column) -> text written
    for source in config["sources"]:
        path, columns = cut / source["file"], list(source["columns"].values())
        columns += [spec["column"] for spec in source.get("results", {}).values()]
        if path.suffix == ".csv":
            def edit(rows, columns=columns, file=source["file"]):
                header = rows[0]
                for k, column in enumerate(columns):
                    row = 1 + (7 * k) % (len(rows) - 1)
                    rows[row][header.index(column)] = GARBAGE[k % len(GARBAGE)]
                    garbled[(file, row, column)] = GARBAGE[k % len(GARBAGE)]
            dl.edit_csv(path, edit, source.get("encoding", "utf-8"))
        else:
            def edit(frame, columns=columns, file=source["file"]):
                for k, column in enumerate(columns):
                    frame[column] = frame[column].map(lambda v: "" if pd.isna(v)
                                                      else v.isoformat() if hasattr(v, "isoformat")
                                                      else f"{v:g}" if isinstance(v, float) else str(v))
                    row = 1 + (7 * k) % len(frame)
                    frame.loc[row - 1, column] = GARBAGE[k % len(GARBAGE)]
                    garbled[(file, row, column)] = GARBAGE[k % len(GARBAGE)]
                return frame
            dl.edit_xpt(path, edit)
    dl.refresh_manifest(cut)
    tables, metadata, _ = _ingest(cut, config)
    clean, queries, quarantine, summary = clean_cut(tables, config, date.fromisoformat(INTERIM))

    expected_in = {}
    for source in config["sources"]:
        rows = dl.raw_data_rows(cut / source["file"], source.get("encoding", "utf-8"))
        expected_in[source["domain"]] = (expected_in.get(source["domain"], 0)
                                         + rows * max(1, len(source.get("results", {}))))
    summary = summary.set_index("DOMAIN")
    for domain, records in expected_in.items():
        assert summary.loc[domain, "RECORDS_IN"] == records, domain
        assert summary.loc[domain, "RECORDS_OUT"] + summary.loc[domain, "QUARANTINED"] == records, domain
        assert summary.loc[domain, "RECORDS_OUT"] == len(clean[domain]), domain

    queried = set(zip(queries["FILE"], queries["ROW"], queries["COLUMN"]))
    quarantined = set(zip(quarantine["SRCFILE"], quarantine["SRCROW"]))
    queried_rows = set(zip(queries["FILE"], queries["ROW"]))
    outcomes = {"carried": 0, "queried": 0, "quarantined": 0}
    for (file, row, column), text in garbled.items():
        source = next(s for s in config["sources"] if s["file"] == file)
        variable = next((v for v, c in source["columns"].items() if c == column), None)
        domain = source["domain"]
        table = clean[domain]
        mine = table[(table["SRCFILE"] == file) & (table["SRCROW"] == row)]
        if (file, row, column) in queried:
            outcomes["queried"] += 1
        elif (file, row) in quarantined and (file, row) in queried_rows:
            outcomes["quarantined"] += 1
        else:
            name = variable if variable in mine else f"{domain}{variable}"
            assert variable is not None and name in mine and len(mine) >= 1, f"{file} row {row} {column}: value lost"
            assert (mine[name].astype(str).str.strip() == text.strip()).all(), (
                f"{file} row {row} {column}: '{text}' changed silently")
            outcomes["carried"] += 1
    assert outcomes["queried"] > 0 and outcomes["quarantined"] > 0


# --- spreadsheet formulas ------------------------------------------------------------------

def test_a_formula_in_a_raw_cell_is_neutralised_in_the_csv_outputs(cut, config, tmp_path):
    formula = '=HYPERLINK("http://example.org","click")'

    def edit(rows):
        rows[1][1] = formula  # central_lab.csv row 1, Visit: not in the schedule -> queried and quarantined
    dl.edit_csv(cut / "central_lab.csv", edit)
    dl.refresh_manifest(cut)
    tables, _, _ = _ingest(cut, config)
    ingest_dir = tmp_path / "ingest"
    ingest_dir.mkdir()
    from ucmsc.domains import DOMAINS
    from ucmsc.io import read_table, write_table
    paths = []
    for domain in DOMAINS:
        paths.append(str(ingest_dir / f"{domain}.parquet"))
        write_table(tables[domain], paths[-1])
    out = tmp_path / "out"
    out.mkdir()

    class Log:
        def info(self, *args):
            pass
    run_clean(paths, str(tmp_path / "no_other"), config, date.fromisoformat(INTERIM),
              [str(out / f"{d}.parquet") for d in DOMAINS], str(out / "other"), str(out / "queries.csv"),
              str(out / "quarantine.csv"), str(out / "summary.csv"), str(out / "define.csv"),
              Log())
    assert "'=HYPERLINK" in (out / "queries.csv").read_text()
    assert "HYPERLINK" in (out / "quarantine.csv").read_text()  # inside the record's JSON, not at the start of a cell
    for name in ("queries.csv", "quarantine.csv"):
        assert not any(cell.startswith(("=", "+", "@")) for line in dl.csv_rows(out / name) for cell in line), name
    assert (read_table(out / "queries.csv")["VALUE"] == formula).any()  # read back exactly


def test_csv_output_round_trips_text_that_begins_like_a_formula(tmp_path):
    from ucmsc.io import read_table, write_table
    frame = pd.DataFrame({"TEXT": ["=1+1", "+44 20", "-x", "@SUM(A1)", "\tTAB", "'quoted", "plain"],
                          "VALUE": [-1.5, 2, -3, 4, 5, 6, 7]})
    write_table(frame, tmp_path / "t.csv")
    cells = [line[0] for line in dl.csv_rows(tmp_path / "t.csv")[1:]]
    assert cells == ["'=1+1", "'+44 20", "'-x", "'@SUM(A1)", "'\tTAB", "''quoted", "plain"]
    assert [line[1] for line in dl.csv_rows(tmp_path / "t.csv")[1:]][0] == "-1.5"  # numbers untouched
    back = read_table(tmp_path / "t.csv")
    assert back["TEXT"].tolist() == frame["TEXT"].tolist() and back["VALUE"].tolist() == frame["VALUE"].tolist()


# --- unreadable without a manifest ---------------------------------------------------------

def test_a_truncated_transport_file_without_a_manifest_is_an_error(cut, config):
    (cut / "manifest.json").unlink()
    path = cut / "lb.xpt"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RawReadError, match="lb.xpt"):
        _ingest(cut, config)


# --- property tests: any damage ends in an error or a query, never in fewer records -----------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import DATACUTS, FINAL_CUTS, INTERIM_CUTS  # noqa: E402

BUNDLED = sorted((trial, cut, path.name) for cuts in (FINAL_CUTS, INTERIM_CUTS) for trial, cut in cuts.items()
                 for path in (DATACUTS / trial / cut).iterdir() if path.name != "manifest.json")


def _damage(data: bytes, kind: str, where: float, byte: int) -> bytes:
    position = min(int(where * len(data)), len(data) - 1)
    if kind == "truncate":
        return data[:position]
    changed = bytes([byte]) if byte != data[position] else bytes([(byte + 1) % 256])
    return data[:position] + changed + data[position + 1:]


damage = st.tuples(st.sampled_from(BUNDLED), st.sampled_from(["truncate", "edit"]), st.floats(0, 1),
                   st.integers(0, 255))


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(damage)
def test_any_damage_to_a_file_of_a_cut_with_a_manifest_stops_the_cut(tmp_path_factory, trial_configs, case):
    (trial, cut, file), kind, where, byte = case
    folder = dl.copy_cut(trial, cut, tmp_path_factory.mktemp("cut"))
    path = folder / file
    path.write_bytes(_damage(path.read_bytes(), kind, where, byte))
    with pytest.raises((ManifestError, RawReadError)) as error:
        ingest_cut(folder, trial_configs[trial], cut_date=cut)
    assert file in str(error.value)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(damage)
def test_damage_without_a_manifest_is_an_error_or_accounted_for_record_by_record(tmp_path_factory, trial_configs, case):
    """Without a manifest a changed value can pass (the report says completeness is unverified), but a record
    can never go missing: the reader refuses the file, or every raw row is out, quarantined or queried."""
    (trial, cut, file), kind, where, byte = case
    folder = dl.copy_cut(trial, cut, tmp_path_factory.mktemp("cut"))
    (folder / "manifest.json").unlink()
    path = folder / file
    original = path.read_bytes()
    damaged = _damage(original, kind, where, byte)
    path.write_bytes(damaged)
    config = trial_configs[trial]
    source = next(s for s in config["sources"] if s["file"] == file)
    try:
        tables, metadata, _ = ingest_cut(folder, config, cut_date=cut)
    except (RawReadError, EmptySourceError, MappingError) as error:
        assert file in str(error)
        return
    rows = next(m["rows"] for m in metadata if m["file"] == file)
    if kind == "truncate":  # only a cut exactly at a record boundary can pass: then every complete record is there
        if path.suffix == ".csv":
            text = damaged.decode(source.get("encoding", "utf-8"))
            assert damaged.endswith(b"\n") and rows == len([line for line in text.splitlines()[1:] if line.strip()])
    else:
        before = dl.raw_data_rows(DATACUTS / trial / cut / file, source.get("encoding", "utf-8"))
        # never fewer records (a changed padding byte of a transport file can add a garbage one, then queried)
        assert rows >= before
    clean, queries, quarantine, summary = clean_cut(tables, config, date.fromisoformat(cut))
    assert (summary["RECORDS_IN"] == summary["RECORDS_OUT"] + summary["QUARANTINED"]).all()


def test_every_clean_record_reaches_its_analysis_dataset(trial_configs):
    from ucmsc.derive import account_for_records
    result = run_pipeline(EFF, INTERIM, trial_configs[EFF])
    sdtm, bds = result["sdtm"], result["bds"]
    account_for_records(sdtm, result["adsl"], bds, result["adae"])
    for domain in ("LB", "VS", "XP"):
        assert (bds["SRCDOM"] == domain).sum() == len(sdtm[domain]) > 0
    with pytest.raises(AssertionError, match="ADBDS has .* records from LB"):
        account_for_records(sdtm, result["adsl"], bds.drop(bds.index[bds["SRCDOM"] == "LB"][:1]), result["adae"])
    with pytest.raises(AssertionError, match="ADAE has"):
        account_for_records(sdtm, result["adsl"], bds, result["adae"].iloc[1:])


# --- implausible values, end before start, levels ------------------------------------------------

def _queries(result, check: str, file: str) -> list[list]:
    queries = result["queries"]
    found = queries[(queries["CHECK"] == check) & (queries["FILE"] == file)]
    return found[["ROW", "VARIABLE", "VALUE"]].values.tolist()


def test_an_impossible_age_duration_or_dose_is_set_missing_and_queried(cut, config):
    def dm(frame):
        frame.loc[0, "AGE"], frame.loc[1, "AGE"], frame.loc[2, "DMDUR"] = -5.0, 250.0, -3.0
        return frame

    def ex(frame):
        frame.loc[3, "DOSE"] = -1.0
        return frame
    dl.edit_xpt(cut / "dm.xpt", dm)
    dl.edit_xpt(cut / "ex.xpt", ex)
    dl.refresh_manifest(cut)
    result = run_pipeline(EFF, INTERIM, config, folder=cut)
    assert _queries(result, "plausible_range", "dm.xpt") == [[1, "AGE", "-5"], [2, "AGE", "250"], [3, "DIABDUR", "-3"]]
    assert _queries(result, "plausible_range", "ex.xpt") == [[4, "EXDOSE", "-1"]]
    adsl = result["adsl"].set_index("SUBJID")
    assert adsl.loc[["E001", "E002"], "AGE"].isna().all() and pd.isna(adsl.loc["E003", "DIABDUR"])
    assert len(adsl) == dl.raw_data_rows(cut / "dm.xpt")  # every subject kept
    ex_clean = result["sdtm"]["EX"]
    assert ex_clean.loc[ex_clean["SRCROW"] == 4, "EXDOSE"].isna().all() and len(ex_clean) == dl.raw_data_rows(
        cut / "ex.xpt")


def test_the_trials_ranges_narrow_the_plausible_values(cut, config):
    dl.edit_xpt(cut / "dm.xpt", lambda frame: frame.assign(AGE=frame["AGE"].where(frame.index != 5, 80.0)))
    dl.refresh_manifest(cut)
    result = run_pipeline(EFF, INTERIM, dict(config, ranges={"AGE": [18, 75]}), folder=cut)
    assert _queries(result, "plausible_range", "dm.xpt") == [[6, "AGE", "80"]]
    assert _queries(run_pipeline(EFF, INTERIM, config, folder=cut), "plausible_range", "dm.xpt") == []


def test_an_ae_ending_before_it_starts_is_queried_and_taken_as_ongoing(cut, config):
    def edit(frame):
        assert frame.loc[3, "AESTDTC"] == "2017-01-23T21:00"
        frame.loc[3, "AEENDTC"] = "2015-01-01T00:00"
        assert frame.loc[4, "AESTDTC"] == "2016-11-18T20:00"
        frame.loc[4, "AEENDTC"] = "2016-11-18T20:00"  # ends as it starts: not before
        return frame
    dl.edit_xpt(cut / "ae.xpt", edit)
    dl.refresh_manifest(cut)
    result = run_pipeline(EFF, INTERIM, config, folder=cut)
    assert _queries(result, "end_before_start", "ae.xpt") == [[4, "AEENDTC", "2015-01-01T00:00"]]
    ae = result["sdtm"]["AE"].set_index("SRCROW")
    assert ae.loc[4, "AEENDTC"] == "" and ae.loc[5, "AEENDTC"] == "2016-11-18T20:00"


def test_a_severity_or_relationship_outside_its_levels_is_set_missing_and_queried(cut, config):
    def edit(frame):
        frame.loc[4, "AESEV"], frame.loc[5, "AEREL"] = "GRADE 3", "POSIBLY RELATED"
        frame.loc[0, "AESEV"] = " moderate "  # a level, spelt loosely
        return frame
    dl.edit_xpt(cut / "ae.xpt", edit)
    dl.refresh_manifest(cut)
    result = run_pipeline(EFF, INTERIM, config, folder=cut)
    assert _queries(result, "codes", "ae.xpt") == [[5, "AESEV", "GRADE 3"], [6, "AEREL", "POSIBLY RELATED"]]
    ae = result["sdtm"]["AE"].set_index("SRCROW")
    assert ae.loc[[1, 5, 6], ["AESEV", "AEREL"]].values.tolist() == [["MODERATE", "NOT RELATED"],
                                                                     ["", "NOT RELATED"], ["MILD", ""]]
    grade = result["ard"][(result["ard"]["ANALYSIS_ID"] == "AESEV") & (result["ard"]["STAT_NAME"] == "n")]
    assert "MISSING" in set(grade["PARAMCD"])  # the event without a level is counted apart, the ARD is whole


def test_a_character_that_prints_as_nothing_is_shown_escaped_in_the_query(cut, config):
    path = cut / "clamp.csv"
    raw = path.read_bytes()
    assert raw.count(b"\nE001,") == 3  # three clamp records of E001; the first gets a NUL
    path.write_bytes(raw.replace(b"\nE001,", b"\nE001\x00,", 1))
    dl.refresh_manifest(cut)
    result = run_pipeline(EFF, INTERIM, config, folder=cut)
    queries = result["queries"]
    shown = queries.loc[(queries["FILE"] == "clamp.csv") & (queries["CHECK"] == "subject_in_dm"), "VALUE"].tolist()
    assert shown == ["UCMSC-NAFLD-E001\\x00"]  # not "UCMSC-NAFLD-E001", which reads as the valid subject


def test_the_default_age_range_is_in_years_and_a_trials_range_replaces_it():
    from ucmsc.clean import CutSpec
    spec = CutSpec({"sources": []}, date(2020, 1, 1))
    months = pd.DataFrame({"AGE": ["200"], "AGEU": ["MONTHS"]})
    assert spec.limits("AGE", months) is None  # 200 months is a plausible age: no default range
    assert spec.limits("AGE", months.assign(AGEU=" years")) == (0.0, 125.0)
    assert spec.limits("AGE", pd.DataFrame({"AGE": ["40"]})) == (0.0, 125.0)
    assert CutSpec({"sources": [], "ranges": {"AGE": [0, 300]}}, date(2020, 1, 1)).limits("AGE", months) == (0.0, 300.0)
    assert spec.limits("EXDOSE") == (0.0, float("inf")) and spec.limits("AESEQ") is None
