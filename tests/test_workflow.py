"""The workflow end to end in a temporary copy of the project, plus its lint and format checks."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from ucmsc.report import SECTIONS

BIN = Path(sys.executable).parent


def _copy_project(dest: Path) -> Path:
    for name in ("Snakefile", "workflow", "config", "resources", "src", "envs", "pyproject.toml"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, dest / name)
    return dest


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "snakemake"), *args], cwd=workdir, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workdir = _copy_project(tmp_path_factory.mktemp("project"))
    result = _snakemake(workdir, "--cores", "2")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


@pytest.mark.e2e
def test_every_report_exists_with_its_sections(built):
    reports = sorted(built.glob("results/*/*/report.html"))
    assert len(reports) == 4
    for report in reports:
        html = report.read_text()
        for section in SECTIONS:
            assert f'id="{section.lower().replace(" ", "-")}"' in html, f"{report}: no section {section}"
        assert "SYNTHETIC DATA" in html
    index = (built / "results" / "index.html").read_text()
    assert all(f"{r.parent.parent.name}/{r.parent.name}/report.html" in index for r in reports)


@pytest.mark.e2e
def test_second_run_has_nothing_to_do(built):
    result = _snakemake(built, "--cores", "2")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_snakemake_lint_is_clean():
    result = _snakemake(ROOT, "--lint")
    assert result.returncode == 0 and "Congratulations" in result.stdout + result.stderr, result.stdout[-3000:]


def test_snakefmt_check_passes():
    result = subprocess.run([str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
