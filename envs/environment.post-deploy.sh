#!/usr/bin/env bash
# Run by Snakemake inside the new conda environment (`--sdm conda`), from the directory it runs in: installs this
# project's ucmsc package (editable, without dependencies: the environment's pins are envs/requirements.lock), so
# that the rules' scripts import the project's code and an edit to it is seen, as the workflow's rerun tracking
# expects.
set -euo pipefail
if ! grep -q '^name = "ucmsc"' pyproject.toml 2>/dev/null; then
  echo "envs/environment.post-deploy.sh: run Snakemake from the project directory (no ucmsc pyproject.toml in $PWD)" >&2
  exit 1
fi
python -m pip install --no-deps --disable-pip-version-check -e .
