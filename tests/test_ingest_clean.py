import json
from datetime import date

import pandas as pd
import pytest

from conftest import DATACUTS, FINAL_CUTS
from ucmsc.clean import clean_cut
from ucmsc.ingest import MappingError, ingest_cut, map_source
from ucmsc.io import RawReadError, read_raw


def test_missing_required_column_names_file_and_column():
    raw = pd.DataFrame({"SUBJID": ["E001"], "VISIT": ["BASELINE"]})
    source = {"file": "lb.xpt", "domain": "LB",
              "columns": {"SUBJID": "SUBJID", "VISIT": "VISIT", "DTC": "LBDAT", "TESTCD": "LBTESTCD", "ORRES": "LBORRES",
                          "ORRESU": "LBORRESU"}}
    with pytest.raises(MappingError, match=r"lb.xpt: required column\(s\) 'LBDAT'"):
        map_source(raw, source)


def test_unreadable_file_names_the_file(tmp_path):
    bad = tmp_path / "dm.xpt"
    bad.write_bytes(b"not a transport file")
    with pytest.raises(RawReadError, match="dm.xpt: cannot read"):
        read_raw(bad)


@pytest.mark.parametrize("trial", sorted(FINAL_CUTS))
def test_records_are_accounted_for_and_planted_problems_queried(trial, trial_configs):
    cut = FINAL_CUTS[trial]
    tables, _ = ingest_cut(DATACUTS / trial / cut, trial_configs[trial])
    clean, queries, quarantine, summary = clean_cut(tables, trial_configs[trial], date.fromisoformat(cut))
    assert (summary["RECORDS_IN"] == summary["RECORDS_OUT"] + summary["QUARANTINED"]).all()
    manifest = json.loads((DATACUTS / trial / cut / "manifest.json").read_text())
    for problem in manifest["planted_problems"]:
        hits = queries[queries["CHECK"] == problem["check"]]
        if problem.get("subject"):
            hits = hits[hits["USUBJID"].str.endswith(problem["subject"])]
        assert len(hits), f"planted {problem['kind']} not caught by check {problem['check']}"
