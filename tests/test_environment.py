"""The conda environment the rules declare (`snakemake --sdm conda`): conda cannot run here (no conda-forge
channel is reachable), so these tests check what the environment file says and run its post-deploy script."""

import os
import shutil
import subprocess
import venv
from pathlib import Path

import yaml

from conftest import ROOT

ENVS = ROOT / "envs"


def _pins(lines):
    return sorted(line.strip() for line in lines if "==" in line and not line.lstrip().startswith("#"))


def test_every_rule_declares_the_project_environment():
    for rules in (ROOT / "workflow" / "rules").glob("*.smk"):
        text = rules.read_text()
        assert text.count("rule ") == text.count('conda:\n        "../../envs/environment.yaml"'), rules.name


def test_the_environment_pins_exactly_the_lock():
    env = yaml.safe_load((ENVS / "environment.yaml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    lock = (ENVS / "requirements.lock").read_text().splitlines()
    assert _pins(pip) == _pins(lock), "run `make conda-env` after changing envs/requirements.lock"
    assert "python=3.11" in env["dependencies"]
    assert not [item for item in pip if item.startswith("-r")]  # Snakemake copies the file alone: no relative -r


def test_the_post_deploy_script_installs_the_project_so_a_job_imports_it(tmp_path):
    """Snakemake runs envs/environment.post-deploy.sh inside the new environment, from the project directory. Here a
    bare virtual environment stands in for the conda one: after the script, its Python imports ucmsc from the
    project, and the script refuses to run outside a project directory."""
    script = ENVS / "environment.post-deploy.sh"
    assert script.exists() and os.access(script, os.X_OK)
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    path = f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}"
    environ = {**os.environ, "PATH": path, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    environ.pop("PYTHONPATH", None)
    outside = subprocess.run(["bash", str(script)], cwd=tmp_path, env=environ, capture_output=True, text=True)
    assert outside.returncode != 0 and "run Snakemake from the project directory" in outside.stderr
    project = tmp_path / "project"
    for name in ("src", "pyproject.toml", "README.md"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, project / name)
    done = subprocess.run(["bash", str(script)], cwd=project, env=environ, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import ucmsc.stages; print(ucmsc.stages.__file__)"],
                           cwd=tmp_path, env=environ, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).is_relative_to(project / "src"), found.stdout
