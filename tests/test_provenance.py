"""Provenance records: code version and hash, ARD rows drawn, raw files, on hand-made inputs."""

import hashlib
import subprocess

import numpy as np
import pandas as pd

from ucmsc import provenance


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _project(tmp_path):
    (tmp_path / "src" / "ucmsc").mkdir(parents=True)
    (tmp_path / "src" / "ucmsc" / "stats.py").write_text("X = 1\n")
    (tmp_path / "workflow").mkdir()
    (tmp_path / "workflow" / "a.smk").write_text("rule a:\n    output: 'x'\n")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "c.yaml").write_text("a: 1\n")
    (tmp_path / "Snakefile").write_text("include: 'workflow/a.smk'\n")
    return tmp_path


def test_an_uncommitted_edit_shows_in_the_flag_and_the_code_hash(tmp_path):
    project = _project(tmp_path)
    _git(project, "init", "-q")
    _git(project, "-c", "user.email=a@b", "-c", "user.name=a", "add", "-A")
    _git(project, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "x")
    clean = provenance.code_version(project)
    assert len(clean["git_commit"]) == 40 and clean["uncommitted_changes"] is False
    (project / "src" / "ucmsc" / "stats.py").write_text("X = 2\n")
    edited = provenance.code_version(project)
    assert edited["uncommitted_changes"] is True and edited["git_commit"] == clean["git_commit"]
    assert edited["code_sha256"] != clean["code_sha256"]
    (project / "src" / "ucmsc" / "stats.py").write_text("X = 1\n")
    assert provenance.code_version(project)["code_sha256"] == clean["code_sha256"]


def test_a_config_edit_changes_the_code_hash_and_a_cache_file_does_not(tmp_path):
    project = _project(tmp_path)
    before = provenance.code_version(project)
    assert before["git_commit"].startswith("unknown")  # not a git checkout: said, not guessed
    (project / "src" / "ucmsc" / "__pycache__").mkdir()
    (project / "src" / "ucmsc" / "__pycache__" / "stats.cpython-311.pyc").write_bytes(b"\0")
    assert provenance.code_version(project)["code_sha256"] == before["code_sha256"]
    (project / "config" / "c.yaml").write_text("a: 2\n")
    assert provenance.code_version(project)["code_sha256"] != before["code_sha256"]


def test_ard_keys_name_each_row_drawn_with_its_value_and_no_nan():
    rows = pd.DataFrame({"ANALYSIS_ID": ["CONT", "CONT", "CONT"], "POPULATION": ["FASFL"] * 3, "PARAMCD": ["GLUC"] * 3,
                         "AVISITN": [9.0, np.nan, 9.0], "GROUP1": ["ARM"] * 3, "GROUP1_LEVEL": ["A"] * 3,
                         "COMPARATOR": [""] * 3, "VARIABLE": ["AVAL"] * 3, "METHOD": ["descriptive"] * 3,
                         "STAT_NAME": ["mean", "n", "mean"], "VALUE": [7.25, 30.0, 7.25], "PARAM": ["x"] * 3})
    keys = provenance.ard_keys(rows)
    common = {"ANALYSIS_ID": "CONT", "POPULATION": "FASFL", "PARAMCD": "GLUC", "GROUP1": "ARM", "GROUP1_LEVEL": "A",
              "COMPARATOR": "", "VARIABLE": "AVAL", "METHOD": "descriptive"}
    assert keys == [common | {"AVISITN": 9.0, "STAT_NAME": "mean", "VALUE": 7.25},
                    common | {"AVISITN": None, "STAT_NAME": "n", "VALUE": 30.0}]
    assert list(keys[0]) == ["ANALYSIS_ID", "POPULATION", "PARAMCD", "AVISITN", "GROUP1", "GROUP1_LEVEL", "COMPARATOR",
                             "VARIABLE", "METHOD", "STAT_NAME", "VALUE"]


def test_a_record_carries_each_raw_file_with_its_hash_and_rows(tmp_path):
    ard = tmp_path / "ard.csv"
    ard.write_text("a\n1\n")
    record = provenance.record(artefact="f.png", title="t", rule="figures", script="s.py",
                               inputs=[provenance.file_entry(ard, "ARD")],
                               raw_files=[{"file": "dm.xpt", "sha256": "ab" * 32, "rows": 65, "labels": {"X": "y"}}],
                               params={"trial": "x"}, code={"git_commit": "c"}, ard_rows=[])
    assert record["raw_files"] == [{"file": "dm.xpt", "sha256": "ab" * 32, "rows": 65}]
    assert record["inputs"][0]["sha256"] == hashlib.sha256(b"a\n1\n").hexdigest()
    assert record["packages"]["pandas"] == pd.__version__ and record["created_utc"].endswith("Z")


FIGURE_RECORD = {  # the shape figures write (ucmsc.provenance.record), by hand
    "artefact": "02_trajectories_1.png", "title": "Endpoints", "rule": "figures",
    "script": "workflow/scripts/figures.py",
    "raw_files": [{"file": "dm.xpt", "sha256": "f290" * 16, "rows": 65},
                  {"file": "lab.csv", "sha256": "be0c" * 16, "rows": 514}],
    "inputs": [{"path": "results/t/2019-01-15/ard.csv", "role": "ARD", "sha256": "5f1e" * 16}],
    "params": {"trial": "t", "cut": "2019-01-15"},
    "code": {"git_commit": "5a2f455268222496bae47d247dca0762f7944072", "uncommitted_changes": True,
             "code_sha256": "9497" * 16},
    "packages": {"pandas": "2.3"}, "ard_rows": [{"PARAMCD": "GLUC"}, {"PARAMCD": "HBA1C"}, {"PARAMCD": "TG"}],
    "created_utc": "2026-11-28T12:51:59Z"}


def test_the_summary_reads_a_figure_record_in_plain_words():
    assert provenance.summary(FIGURE_RECORD) == [
        ("Raw files", "data cut 2019-01-15: dm.xpt (65 rows), lab.csv (514 rows)"),
        ("Rule", "figures (workflow/scripts/figures.py)"),
        ("Drawn from", "3 rows of ard.csv"),
        ("Code", "git commit 5a2f45526822 (with uncommitted changes)"),
        ("Built", "2026-11-28 12:51:59 UTC")]


def test_the_summary_of_a_table_record_takes_the_cut_it_is_given_and_says_what_is_not_recorded():
    table = {"table": "Demographics", "section": "Baseline",
             "drawn_from": {"ard": {"path": "ard.csv", "sha256": "z"}, "analysis_ids": ["DEMOG", "POP"],
                            "ard_rows": 48},
             "rule": "report", "script": "workflow/scripts/report.py",
             "code": {"git_commit": "unknown (not a git checkout)", "uncommitted_changes": None, "code_sha256": "y"},
             "raw_files": [{"file": "dm.xpt", "sha256": "f290" * 16}]}
    assert dict(provenance.summary(table, cut="2017-06-30")) == {
        "Raw files": "data cut 2017-06-30: dm.xpt", "Rule": "report (workflow/scripts/report.py)",
        "Drawn from": "48 rows of ard.csv (analysis DEMOG, POP)", "Code": "unknown (not a git checkout)",
        "Built": "not recorded"}
    clean = {**table, "code": {"git_commit": "a" * 40, "uncommitted_changes": False}}
    assert dict(provenance.summary(clean))["Code"] == "git commit aaaaaaaaaaaa (working tree clean)"
    assert dict(provenance.summary(clean))["Raw files"] == "dm.xpt"
