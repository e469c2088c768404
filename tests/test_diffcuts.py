"""What changed between two cuts, on hand-made clean domains and ARDs."""

import math

import pandas as pd

from ucmsc import ard as ardlib
from ucmsc.diffcuts import record_changes, result_changes, subject_changes
from ucmsc.domains import DOMAINS


def _domains(lb_rows, dm_subjects=("S1", "S2")):
    empty = {d: pd.DataFrame(columns=["USUBJID", "SRCFILE", "SRCROW"]) for d in DOMAINS}
    empty["DS"] = pd.DataFrame(columns=["USUBJID", "DSDECOD"])
    empty["EX"] = pd.DataFrame(columns=["USUBJID", "EXSEQ", "EXDOSE"])
    empty["AE"] = pd.DataFrame(columns=["USUBJID", "AETERM", "AESTDTC", "AESEV"])
    for d in ("VS", "XP"):
        empty[d] = pd.DataFrame(columns=["USUBJID", f"{d}TESTCD", "VISITNUM", f"{d}STRESN"])
    empty["DM"] = pd.DataFrame(
        {
            "USUBJID": list(dm_subjects),
            "AGE": [50.0] * len(dm_subjects),
            "SRCFILE": "dm.xpt",
            "SRCROW": range(1, len(dm_subjects) + 1),
        }
    )
    empty["LB"] = pd.DataFrame(lb_rows, columns=["USUBJID", "LBTESTCD", "VISITNUM", "LBSTRESN", "SRCFILE", "SRCROW"])
    return empty


def test_records_are_matched_on_their_keys_not_on_file_rows():
    old = _domains(
        [("S1", "GLUC", 0, 7.1, "lb.xpt", 1), ("S1", "GLUC", 9, 6.5, "lb.xpt", 2), ("S2", "GLUC", 0, 8.0, "lb.xpt", 3)]
    )
    # the new delivery has the rows in another order (SRCROW moves), one value corrected, one record added, one gone
    new = _domains(
        [
            ("S2", "GLUC", 0, 8.0, "lb.xpt", 1),
            ("S1", "GLUC", 9, 5.6, "lb.xpt", 2),
            ("S1", "GLUC", 20, 6.0, "lb.xpt", 3),
        ],
        dm_subjects=("S1", "S2", "S3"),
    )
    changes = record_changes(old, new)
    lb = changes[changes["DOMAIN"] == "LB"].set_index("CHANGE")
    assert lb.loc["changed", ["KEY", "VARIABLE", "OLD", "NEW"]].tolist() == [
        "USUBJID=S1; LBTESTCD=GLUC; VISITNUM=9",
        "LBSTRESN",
        "6.5",
        "5.6",
    ]
    assert lb.loc["added", "KEY"] == "USUBJID=S1; LBTESTCD=GLUC; VISITNUM=20"
    assert lb.loc["deleted", "KEY"] == "USUBJID=S1; LBTESTCD=GLUC; VISITNUM=0"
    assert len(lb) == 3  # S2 week 0 moved from row 3 to row 1: not a change
    assert subject_changes(old["DM"], new["DM"]).values.tolist() == [["S3", "added"]]


def _ard(rows):
    return ardlib.conform(
        pd.DataFrame(
            [
                {
                    "ANALYSIS_ID": "CONT",
                    "PARAMCD": "GLUC",
                    "AVISITN": 9,
                    "VARIABLE": "AVAL",
                    "METHOD": "Student t-test",
                    "GROUP1": "ARM",
                    "GROUP1_LEVEL": "A",
                    "COMPARATOR": "P",
                }
                | r
                for r in rows
            ]
        )
    )


def test_results_change_beyond_their_printed_rounding_and_flip_significance():
    old = _ard(
        [
            {"STAT_NAME": "p", "VALUE": 0.0494},
            {"STAT_NAME": "estimate", "VALUE": -0.8041},
            {"STAT_NAME": "df", "VALUE": 60.0},
            {"STAT_NAME": "lcl", "VALUE": -1.5},
        ]
    )
    new = _ard(
        [
            {"STAT_NAME": "p", "VALUE": 0.0506},
            {"STAT_NAME": "estimate", "VALUE": -0.8049},
            {"STAT_NAME": "df", "VALUE": 61.0},
            {"STAT_NAME": "ucl", "VALUE": math.nan, "WARNING": "not estimable"},
        ]
    )
    records = pd.DataFrame(columns=["DOMAIN", "KEY", "USUBJID", "CHANGE", "VARIABLE", "OLD", "NEW"])
    changes = result_changes(old, new, records).set_index("STAT_NAME")
    # estimate -0.8041 -> -0.8049 prints -0.80 both times (2 decimals): not a change; P prints 0.049 -> 0.051
    assert sorted(changes.index) == ["df", "lcl", "p", "ucl"]
    assert changes.loc["p", ["OLD", "NEW", "CHANGE", "SIGNIFICANCE_FLIPPED"]].tolist() == [
        "0.049",
        "0.051",
        "changed",
        "Y",
    ]
    assert changes.loc["df", ["OLD", "NEW"]].tolist() == ["60.0", "61.0"]
    assert changes.loc["lcl", "CHANGE"] == "removed" and changes.loc["ucl", ["NEW", "CHANGE"]].tolist() == [
        "NE",
        "added",
    ]


def test_results_name_the_subjects_whose_records_moved_under_them():
    old = _ard([{"STAT_NAME": "mean", "VALUE": 7.00, "COMPARATOR": ""}])
    new = _ard([{"STAT_NAME": "mean", "VALUE": 7.25, "COMPARATOR": ""}])
    records = pd.DataFrame(
        [
            {
                "DOMAIN": "LB",
                "KEY": "USUBJID=S1; LBTESTCD=GLUC; VISITNUM=9",
                "USUBJID": "S1",
                "CHANGE": "changed",
                "VARIABLE": "LBSTRESN",
                "OLD": "6.5",
                "NEW": "5.6",
            }
        ]
    )
    row = result_changes(old, new, records).iloc[0]
    assert row["RECORDS_MOVED"] == 1 and row["SUBJECTS"] == "S1" and row["GROUP1_LEVEL"] == "A"


def test_p_values_print_as_the_tables_print_them_and_no_negative_zero():
    old = _ard([{"STAT_NAME": "p", "VALUE": 0.0004}, {"STAT_NAME": "estimate", "VALUE": -0.004}])
    new = _ard([{"STAT_NAME": "p", "VALUE": 0.0204}, {"STAT_NAME": "estimate", "VALUE": 0.012}])
    records = pd.DataFrame(columns=["DOMAIN", "KEY", "USUBJID", "CHANGE", "VARIABLE", "OLD", "NEW"])
    changes = result_changes(old, new, records).set_index("STAT_NAME")
    assert changes.loc["p", ["OLD", "NEW"]].tolist() == ["<0.001", "0.020"]
    assert changes.loc["estimate", ["OLD", "NEW"]].tolist() == ["0.00", "0.01"]
