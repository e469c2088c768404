"""Which outputs a stage makes stale, on a hand-made results tree."""

import pytest

from ucmsc.stages import stale_outputs, start_stage


def _tree(root):
    files = ["t/2020-01-01/ingest/dm.parquet", "t/2020-01-01/sdtm/dm.parquet", "t/2020-01-01/queries.csv",
             "t/2020-01-01/adam/adsl.parquet", "t/2020-01-01/ard.csv", "t/2020-01-01/audit.csv",
             "t/2020-01-01/figures/a.png", "t/2020-01-01/report.html", "t/2020-01-01/logs/ingest.log",
             "t/2019-06-01/ard.csv", "t/2019-06-01/report.html", "t/2021-01-01/ard.csv", "t/2021-01-01/report.html",
             "t/diff/2019-06-01..2020-01-01/results.csv", "t/diff/2020-01-01..2021-01-01/results.csv",
             "u/2020-01-01/report.html", "index.html"]
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text("x")
    return root / "t" / "2020-01-01"


def test_analyze_makes_later_stages_comparisons_the_next_report_and_the_index_stale(tmp_path):
    cut = _tree(tmp_path)
    stale = {p.relative_to(tmp_path).as_posix() for p in stale_outputs("analyze", cut)}
    assert stale == {"t/2020-01-01/audit.csv", "t/2020-01-01/figures", "t/2020-01-01/report.html",
                     "t/diff/2019-06-01..2020-01-01", "t/diff/2020-01-01..2021-01-01", "t/2021-01-01/report.html",
                     "index.html"}


def test_ingest_makes_everything_of_the_cut_stale_but_its_logs_and_other_cuts_results(tmp_path):
    cut = _tree(tmp_path)
    start_stage("ingest", cut, tmp_path / "ingest.log")
    left = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert left == {"t/2020-01-01/ingest/dm.parquet", "t/2020-01-01/logs/ingest.log", "t/2019-06-01/ard.csv",
                    "t/2019-06-01/report.html", "t/2021-01-01/ard.csv", "u/2020-01-01/report.html", "ingest.log"}


def test_the_report_makes_only_the_index_stale(tmp_path):
    cut = _tree(tmp_path)
    assert [p.name for p in stale_outputs("report", cut)] == ["index.html"]


def test_each_stage_depends_on_every_package_module_its_script_imports():
    """A module a stage's script (or anything it calls) imports is among the stage's inputs, so editing it reruns the
    stage."""
    import ast

    from conftest import ROOT
    from ucmsc.stages import STAGE_ENTRY, stage_files

    scripts = ROOT / "workflow" / "scripts"
    for stage in STAGE_ENTRY:
        tree = ast.parse((scripts / f"{stage}.py").read_text())
        imported = {node.module.split(".")[1] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and node.module and node.module.startswith("ucmsc.")}
        names = {f.split("/ucmsc/", 1)[1] for f in stage_files(stage)}
        assert {f"{m}.py" for m in imported} <= names, stage
    derive = {f.split("/ucmsc/", 1)[1] for f in stage_files("derive")}
    assert "domains.py" in derive and "queries.py" in derive  # derive imports domains inside run_derive
    analyze = {f.split("/ucmsc/", 1)[1] for f in stage_files("analyze")}
    assert "mmrm.py" in analyze and "figures.py" not in analyze  # mmrm is imported inside a function


def test_a_new_import_is_followed_without_editing_a_list(tmp_path):
    from ucmsc.stages import package_imports

    (tmp_path / "a.py").write_text("def f():\n    from ucmsc.b import g\n")
    (tmp_path / "b.py").write_text("from ucmsc import c\n")
    (tmp_path / "c.py").write_text("import os\n")
    assert package_imports("a", tmp_path) == {"a", "b", "c"}


def test_the_pipeline_never_imports_the_simulator():
    import ast

    from conftest import ROOT

    for path in list((ROOT / "src" / "ucmsc").rglob("*.py")) + list((ROOT / "workflow").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            assert not any(n.split(".")[0] == "ucmsc_sim" or n.startswith("ucmsc.simulate") for n in names), path
    assert not (ROOT / "src" / "ucmsc" / "simulate").exists()


def test_no_trial_name_or_trial_specific_branch_in_the_generic_code():
    """Trial knowledge lives in config: no trial id, study id, arm name or design value is a string constant of the
    pipeline's code (docstrings and comments may give examples). Test codes do appear, as the inputs of the named
    derivations of the library (HOMA-IR needs GLUC and INSULIN), which a trial chooses in its config."""
    import ast

    from conftest import ROOT
    from ucmsc.config import load_yaml

    forbidden = {"safety", "efficacy"}
    for path in (ROOT / "config" / "trials").glob("*.yaml"):
        trial = load_yaml(path)
        forbidden |= {trial["trial"], trial["studyid"]} | {arm["arm"] for arm in trial["arms"]}
    found = []
    for path in sorted((ROOT / "src" / "ucmsc").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if node.value in forbidden:
                    found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert not found, found


def test_planning_the_workflow_imports_no_pandas(tmp_path):
    # A no-op rerun pays for everything the Snakefile runs at parse time (its imports, the config checks with the
    # ADaM spec, the stages' code inputs) and for planning the jobs (input functions, resources); pandas, polars and
    # scipy cost a third of a second or more. A dry run of a fresh copy of the project plans every job. Snakemake
    # itself imports pandas to compare the parameters of jobs that ran before (none has here), and the SLURM executor
    # plugin imports it when Snakemake loads it at start: only the imports our code makes are counted.
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from conftest import ROOT

    for name in ("Snakefile", "workflow", "profiles", "config", "resources", "src"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, tmp_path / name)
    import ucmsc

    # every import statement passes through builtins.__import__, even of a module already loaded (the SLURM executor
    # plugin, loaded by Snakemake at its start, imports pandas itself): those made by our code are the ones counted
    ours = (str(tmp_path), str(Path(ucmsc.__file__).parent))
    code = ("import atexit, builtins, sys\n"
            f"OURS = {ours!r}\n"
            "heavy = set()\n"
            "plain_import = builtins.__import__\n"
            "def watched(name, globals=None, locals=None, fromlist=(), level=0):\n"
            "    caller = sys._getframe(1).f_code.co_filename\n"
            "    if name.split('.')[0] in ('pandas', 'polars', 'scipy') and caller.startswith(OURS):\n"
            "        heavy.add(name.split('.')[0])\n"
            "    return plain_import(name, globals, locals, fromlist, level)\n"
            "builtins.__import__ = watched\n"
            "atexit.register(lambda: print('heavy:', sorted(heavy)))\n"
            "from snakemake.cli import main\n"
            "sys.argv = ['snakemake', '-n', '--cores', '1']\n"
            "main()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ingest" in result.stdout + result.stderr  # every job was planned
    assert result.stdout.strip().splitlines()[-1] == "heavy: []"


def test_package_imports_read_by_pattern_equal_the_syntax_trees():
    # stages._direct_imports reads import statements with a regular expression (fast at every workflow start); the
    # syntax tree of each module is the reference
    import ast

    from ucmsc import stages

    def by_tree(path):
        found = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ucmsc":
                parts = node.module.split(".")[1:]
                found += [".".join(parts)] if parts else [a.name for a in node.names
                                                          if (path.parent / f"{a.name}.py").exists()]
            elif isinstance(node, ast.Import):
                found += [a.name.split(".", 1)[1] for a in node.names if a.name.startswith("ucmsc.")]
        return sorted(found)

    modules = sorted(stages.PACKAGE_DIR.glob("*.py"))
    assert len(modules) > 30
    for path in modules:
        assert sorted(stages._direct_imports(path)) == by_tree(path), path.name
    assert sum(len(stages._direct_imports(p)) for p in modules) > 50


def test_package_imports_by_pattern_in_every_form(tmp_path):
    from ucmsc import stages

    for name in ("stats", "ard", "io"):
        (tmp_path / f"{name}.py").write_text("")
    module = tmp_path / "mine.py"
    module.write_text("from ucmsc import (\n    stats,\n    ard as ardlib,\n)\nimport os\n\n\ndef f():\n"
                      "    from ucmsc.io import read_table  # inside a function\n    import ucmsc.plan\n"
                      "    from ucmsc import config, io as files\n# from ucmsc.commented import nothing\n")
    assert sorted(stages._direct_imports(module)) == ["ard", "io", "io", "plan", "stats"]


# mallinfo2(3) of the process, read by ctypes: hblkhd is the bytes in blocks glibc mmapped on their own, fordblks the
# free bytes it keeps in its heap. Printed as "<mmapped while held> <kept after free>" by a fresh interpreter.
_MALLOC_PROBE = """
import ctypes, sys
import numpy as np
from ucmsc.stages import retain_freed_memory
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
applied = retain_freed_memory() if sys.argv[1] == "retain" else None
block = np.ones(100 * 2**20, np.uint8)  # 100 MiB, far above glibc's largest mmap threshold (32 MiB)
held = libc.mallinfo2().hblkhd
del block
print(applied, held, libc.mallinfo2().fordblks)
"""


@pytest.mark.parametrize("mode", ["retain", "default"])
def test_retained_memory_stays_in_the_heap(mode):
    """glibc's own accounting: by default a 100 MiB array is mmapped on its own and unmapped when freed; once the
    stage's process retains freed memory it comes from the heap and stays there, free, after the array is gone."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _MALLOC_PROBE, mode], capture_output=True, text=True, check=True)
    applied, mmapped_while_held, kept_after_free = out.stdout.split()
    mib = 2**20
    if mode == "retain":
        assert applied == "True"
        assert int(mmapped_while_held) < 100 * mib <= int(kept_after_free)
    else:
        assert int(mmapped_while_held) >= 100 * mib > int(kept_after_free)
