"""Write envs/environment.yaml from envs/requirements.lock, so that the conda environment has the same pins.

Snakemake copies a rule's conda file alone into .snakemake/conda/ before `conda env create`, so the file cannot
point at the lock (`-r requirements.lock` would not be found there): the pins are written into it. Run
`make conda-env` after changing the lock; tests/test_environment.py fails while the two disagree.
"""

import sys
from pathlib import Path

ENVS = Path(__file__).resolve().parent
HEADER = """\
# Conda environment of every rule (`snakemake --sdm conda`) and for working by hand:
#   conda env create -f envs/environment.yaml && conda activate ucmsc && pip install --no-deps -e .
# The pip pins are envs/requirements.lock, copied by `make conda-env` (envs/write_environment.py); do not edit them
# here. Snakemake runs envs/environment.post-deploy.sh after creating the environment: it installs the ucmsc
# package (editable, from the project directory Snakemake runs in), so that jobs import the project's own code.
name: ucmsc
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
"""


def lock_pins(lock: Path) -> list[str]:
    return [line.strip() for line in lock.read_text().splitlines() if line.strip() and not line.startswith("#")]


def environment_text(lock: Path) -> str:
    return HEADER + "".join(f"      - {pin}\n" for pin in lock_pins(lock))


if __name__ == "__main__":
    target = ENVS / "environment.yaml"
    target.write_text(environment_text(ENVS / "requirements.lock"))
    print(f"wrote {target.relative_to(Path.cwd()) if target.is_relative_to(Path.cwd()) else target}", file=sys.stderr)
