"""Checks computed once per distinct value (``checks.per_distinct``, ``checks.map_distinct``) give each record what
the check gives that record alone; the stage runner writing domain by domain writes what ``clean_cut`` returns."""

from datetime import date

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ucmsc import checks
from ucmsc.io import isin

VISITS = [{"visitnum": 0, "avisit": "Week 0", "day": 0, "window": 0},
          {"visitnum": 4, "avisit": "Week 4", "day": 28, "window": 3},
          {"visitnum": 12, "avisit": "Week 12", "day": 84, "window": 7}]
LABELS = {"BASELINE": 0, "WEEK 4": 4, " week 12 ": 12}
FORMATS = {"a.csv": None, "b.csv": "%d/%m/%Y", "c.csv": "%d%b%Y:%H:%M"}

text = st.one_of(st.none(), st.sampled_from(
    ["", " ", "BASELINE", "week 4", "WEEK 12", "4", "12", "5", "x", "2020-01-01", "2020-02-30", "2020-02", " 2020 ",
     "01/02/2020", "31/12/1899", "03JAN2020:10:30", "<0.5", ">=3", "12.5", "1e400", "-0", "NaN"]), st.text(max_size=4))
records = st.lists(st.tuples(st.sampled_from(list(FORMATS)), text, st.sampled_from(["S1", "S2", "S3", "S4"])),
                   min_size=1, max_size=40)


def frame_of(rows) -> pd.DataFrame:
    return pd.DataFrame({"SRCFILE": [r[0] for r in rows], "VALUE_TEXT": [r[1] for r in rows],
                         "USUBJID": [r[2] for r in rows], "SRCROW": np.arange(1, len(rows) + 1)},
                        index=np.arange(len(rows)) * 3 + 7)  # an index that is not 0..n-1


def one_by_one(frame: pd.DataFrame, check) -> list:
    """The check run on each record alone: a reference that nothing is shared between records."""
    return [check(frame.iloc[[i]]) for i in range(len(frame))]


def same(a, b) -> bool:
    return (pd.isna(a) and pd.isna(b)) or a == b


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_distinct_values_spread_back_to_every_record(rows):
    frame = frame_of(rows)
    spread = checks.per_distinct(frame, ["SRCFILE", "VALUE_TEXT"],
                                 lambda r: r["SRCFILE"] + "|" + r["VALUE_TEXT"].fillna("<NA>").str.lower())
    assert spread.index.equals(frame.index)
    assert list(spread) == [f"{f}|{'<na>' if v is None else v.lower()}" for f, v, _ in rows]
    mapping = {"x": 1, "4": 2, "BASELINE": 3}
    looked_up = checks.map_distinct(frame["VALUE_TEXT"], mapping)
    assert looked_up.index.equals(frame.index)
    assert all(same(a, mapping.get(v, np.nan)) for a, (_, v, _) in zip(looked_up, rows))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_dates_of_each_record_are_those_of_the_record_alone(rows):
    frame = frame_of(rows).rename(columns={"VALUE_TEXT": "DTC"})
    for with_time in (False, True):
        result = checks.dates(frame, "DTC", FORMATS, with_time=with_time, required=False, partial=True)
        def text_alone(r, with_time=with_time):
            return checks.dates(r, "DTC", FORMATS, with_time=with_time, required=False, partial=True).updates["DTC"]

        alone = one_by_one(frame, lambda r: text_alone(r).iloc[0])
        assert list(result.updates["DTC"]) == alone
        late = checks.after_cut_date(frame.assign(DTC=result.updates["DTC"]), "DTC", date(2020, 1, 31))
        late_alone = one_by_one(frame.assign(DTC=result.updates["DTC"]),
                                lambda r: bool(checks.after_cut_date(r, "DTC", date(2020, 1, 31)).findings))
        flagged = late.findings[0].rows if late.findings else pd.Series(False, index=frame.index)
        assert list(flagged) == late_alone


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_visits_and_results_of_each_record_are_those_of_the_record_alone(rows):
    frame = frame_of(rows).rename(columns={"VALUE_TEXT": "VISIT"}).assign(ORRES=lambda f: f["VISIT"])
    result = checks.visit_label(frame, LABELS, VISITS)
    for column in ("VISITNUM", "VISIT"):
        alone = one_by_one(frame,
                           lambda r, column=column: checks.visit_label(r, LABELS, VISITS).updates[column].iloc[0])
        assert all(same(a, b) for a, b in zip(result.updates[column], alone))
    parsed = checks.numeric_result(frame)
    for column in ("STRESC", "VALUE", "LLOQ"):
        alone = one_by_one(frame, lambda r, column=column: checks.numeric_result(r).updates[column].iloc[0])
        assert all(same(a, b) for a, b in zip(parsed.updates[column], alone))
    found = {(f.check, f.message): list(f.rows) for f in parsed.findings}
    for i in range(len(frame)):
        for f in checks.numeric_result(frame.iloc[[i]]).findings:
            assert found[(f.check, f.message)][i]


def test_study_days_by_hand():
    """Study day = date - reference date (day 0); a date outside its visit window is queried (hand-computed)."""
    frame = pd.DataFrame({"USUBJID": ["S1", "S1", "S2", "S3", "S1"], "VISITNUM": [0.0, 4.0, 4.0, 4.0, 12.0],
                          "DTC": ["2020-01-01", "2020-01-29", "2020-02-10", "2020-02-10", ""],
                          "SRCFILE": "a.csv", "SRCROW": [1, 2, 3, 4, 5]}, index=[10, 11, 12, 13, 14])
    randdt = pd.Series({"S1": "2020-01-01", "S2": "2020-01-02"})
    result = checks.visit_window(frame, randdt, VISITS, "window")
    # S1: 0 and 28 days; S2: 2020-01-02 -> 2020-02-10 = 39 days (Week 4 window 25-31, not Week 12's 77-91); S3 none
    assert result.updates["DY"].tolist()[:3] == [0, 28, 39] and result.updates["DY"].iloc[3:].isna().all()
    (finding,) = result.findings
    assert list(finding.rows) == [False, False, True, False, False]
    assert finding.message[12] == "Week 4 on study day 39, window 25 to 31"
    assert result.updates["VISITNUM"].tolist() == [0.0, 4.0, 4.0, 4.0, 12.0]


def test_stage_runner_writing_domain_by_domain_writes_what_clean_cut_returns(tmp_path):
    """run_clean hands each finished domain to the writers and keeps none; the files hold clean_cut's tables (the
    SDTM delivery has other domains, DM's reference date from DS and delivered --SEQ)."""
    import logging

    from conftest import DATACUTS, ROOT
    from ucmsc.clean import clean_cut, run_clean
    from ucmsc.config import load_yaml
    from ucmsc.domains import DOMAINS, data_dictionary
    from ucmsc.ingest import ingest_cut
    from ucmsc.io import read_table, write_table

    trial, cut = "sdtm_delivery", "2023-06-30"
    config = load_yaml(ROOT / "config" / "trials" / f"{trial}.yaml")
    tables, _, _ = ingest_cut(DATACUTS / trial / cut, config, cut_date=cut)
    (tmp_path / "other").mkdir()
    for domain, table in tables.items():
        folder = tmp_path if domain in DOMAINS else tmp_path / "other"
        write_table(table, folder / f"{domain.lower()}.parquet")
    held = {d: read_table(tmp_path / f"{d.lower()}.parquet") for d in DOMAINS}
    held |= {p.stem.upper(): read_table(p) for p in sorted((tmp_path / "other").glob("*.parquet"))}
    held = {d: t.astype({c: str for c in t.columns if c != "SRCROW"}) for d, t in held.items()}
    clean, queries, quarantine, summary = clean_cut(held, config, date.fromisoformat(cut))
    out = tmp_path / "out"
    run_clean([str(tmp_path / f"{d.lower()}.parquet") for d in DOMAINS], tmp_path / "other", config,
              date.fromisoformat(cut), [str(out / f"{d.lower()}.parquet") for d in DOMAINS], out / "other",
              str(out / "queries.csv"), str(out / "quarantine.csv"), str(out / "summary.csv"), str(out / "define.csv"),
              logging.getLogger("test"))
    assert set(clean) - set(DOMAINS), "the delivery should have other domains"
    for domain, table in clean.items():
        path = out / (f"{domain.lower()}.parquet" if domain in DOMAINS else f"other/{domain.lower()}.parquet")
        pd.testing.assert_frame_equal(pd.read_parquet(path), table.reset_index(drop=True))
    pd.testing.assert_frame_equal(read_table(out / "define.csv"), read_table_csv(data_dictionary(clean)))
    assert len(read_table(out / "queries.csv")) == len(queries)
    assert len(read_table(out / "quarantine.csv")) == len(quarantine)


def read_table_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame as it reads back from CSV (what define.csv holds)."""
    import io

    return pd.read_csv(io.StringIO(frame.to_csv(index=False)), keep_default_na=False, na_values=[""])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.booleans(), min_size=0, max_size=60), st.integers(min_value=0, max_value=20))
def test_kept_records_are_the_boolean_selection(kept, most_runs):
    """Slicing the kept runs and putting them together selects what boolean indexing selects, dtypes included."""
    from ucmsc.clean import kept_records

    n = len(kept)
    frame = pd.DataFrame({"TEXT": pd.array([f"v{i % 7}" if i % 5 else None for i in range(n)], dtype="str"),
                          "NUMBER": np.arange(n) / 4, "FLAG": np.arange(n) % 3 == 0, "ROW": np.arange(n),
                          "WHEN": pd.to_datetime(np.arange(n), unit="D")}, index=np.arange(n) * 2 + 5)
    mask = np.array(kept, dtype=bool)
    pd.testing.assert_frame_equal(kept_records(frame, mask, most_runs), frame[mask])


def test_distinct_rows_in_order_of_first_appearance_by_hand():
    frame = pd.DataFrame({"A": ["b", "a", "b", "c", "a", None, None], "B": [1, 1, 1, 1, 2, 1, 1],
                          "OTHER": range(7)}, index=[9, 8, 7, 6, 5, 4, 3])
    seen = []

    def compute(records):
        seen.append(records.copy())
        return records["A"].fillna("?") + records["B"].astype(str)
    spread = checks.per_distinct(frame, ["A", "B"], compute)
    assert seen[0].fillna("?").values.tolist() == [["b", 1], ["a", 1], ["c", 1], ["a", 2], ["?", 1]]  # only those asked
    assert spread.to_dict() == {9: "b1", 8: "a1", 7: "b1", 6: "c1", 5: "a2", 4: "?1", 3: "?1"}


def test_is_in_as_pandas_isin_by_hand():
    values = pd.Series(["S1", "S2", None, "S3", ""], dtype="str", index=[5, 4, 3, 2, 1])
    cases = [(["S2", "S3", "S9"], [False, True, False, True, False]), ([], [False] * 5),
             ([""], [False, False, False, False, True])]
    for allowed, expected in cases + [(["S1", None], [True, False, True, False, False])]:  # a missing text is found
        found = isin(values, pd.Series(allowed, dtype="str"))
        assert found.tolist() == expected and found.index.equals(values.index), allowed
    for allowed, expected in cases:  # other types: pandas' isin
        assert isin(values.astype(object), pd.Series(allowed, dtype=object)).tolist() == expected


def test_visit_window_queries_once_per_subject_visit_date_and_file_by_hand():
    """Records outside their window are queried once per subject, visit, date and file (the first); records inside
    it are not, whatever their key shares with others."""
    frame = pd.DataFrame({"USUBJID": ["S1", "S1", "S1", "S1", "S1", "S2", "S1"],
                          "VISITNUM": [4.0, 4.0, 4.0, 4.0, 12.0, 4.0, 4.0],
                          "DTC": ["2020-02-10", "2020-02-10", "2020-02-10", "2020-01-29", "2020-02-10", "2020-02-10",
                                  "2020-02-10"],
                          "SRCFILE": ["a.csv", "a.csv", "b.csv", "a.csv", "a.csv", "a.csv", "a.csv"],
                          "SRCROW": range(1, 8)}, index=[20, 21, 22, 23, 24, 25, 26])
    randdt = pd.Series({"S1": "2020-01-01", "S2": "2020-01-13"})
    # S1 2020-02-10 is day 40: outside Week 4 (25-31) and Week 12 (77-91); S1 2020-01-29 day 28 and S2 day 28 inside
    (finding,) = checks.visit_window(frame, randdt, VISITS, "nominal").findings
    assert finding.rows.tolist() == [True, False, True, False, True, False, False]
    assert finding.message.to_dict() == {20: "Week 4 on study day 40, window 25 to 31",
                                         22: "Week 4 on study day 40, window 25 to 31",
                                         24: "Week 12 on study day 40, window 77 to 91"}


def test_sequence_in_key_order_per_subject_by_hand():
    """--SEQ: 1, 2, ... per subject in the order of USUBJID, --TESTCD, VISITNUM; equal keys keep their record order."""
    from ucmsc.clean import assign_sequence

    lb = pd.DataFrame({"USUBJID": ["B", "A", "A", "B", "A", "C", "A"],
                       "LBTESTCD": ["GLUC", "HBA1C", "GLUC", "GLUC", "GLUC", "X", "GLUC"],
                       "VISITNUM": [9, 0, 9, 0, 0, 1, 0]}, index=[5, 3, 1, 0, 2, 4, 7])
    # A: GLUC 0 (index 2, then 7), GLUC 9 (1), HBA1C 0 (3); B: GLUC 0 (0), GLUC 9 (5); C: X 1 (4)
    out = assign_sequence("LB", lb)
    assert out["LBSEQ"].tolist() == [2, 4, 3, 1, 1, 1, 2] and out.index.equals(lb.index)
    assert list(out.columns) == ["USUBJID", "LBSEQ", "LBTESTCD", "VISITNUM"]


def test_duplicates_by_hand():
    """Identical copies keep the first; a key whose copies disagree anywhere loses all; other keys are untouched."""
    frame = pd.DataFrame({"USUBJID": ["S1", "S1", "S2", "S2", "S2", "S3", "S1"],
                          "TESTCD": ["ALT", "ALT", "ALT", "ALT", "ALT", "ALT", "AST"],
                          "STRESC": ["30", "30", "5", "5", "6", "30", "30"]}, index=[9, 8, 7, 6, 5, 4, 3])
    result = checks.duplicate_records(frame, ["USUBJID", "TESTCD"], ["STRESC"], lambda r: pd.Series("x", r.index))
    found = {f.action: f.rows[f.rows].index.tolist() for f in result.findings}
    assert found == {"quarantined; first copy kept": [8], "quarantined; all copies": [7, 6, 5]}
