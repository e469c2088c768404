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
