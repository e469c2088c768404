# Input functions and parse-time validation only; logic belongs in the ucmsc package.
from pathlib import Path

import yaml
from snakemake.utils import validate

from ucmsc.domains import DOMAINS
from ucmsc.stages import stage_files

validate(config, "../schemas/config.schema.yaml")

TRIAL_CONFIG = {}
for _trial, _entry in config["trials"].items():
    with open(_entry["config"], encoding="utf-8") as _handle:
        TRIAL_CONFIG[_trial] = yaml.safe_load(_handle)
    validate(TRIAL_CONFIG[_trial], "../schemas/trial.schema.yaml")
    if TRIAL_CONFIG[_trial]["trial"] != _trial:
        raise ValueError(
            f"{_entry['config']}: trial id '{TRIAL_CONFIG[_trial]['trial']}' differs from config key '{_trial}'"
        )

CUT = "results/{trial}/{cut}"


wildcard_constraints:
    trial="|".join(config["trials"]),
    cut=r"\d{4}-\d{2}-\d{2}",


def trial_config_file(wildcards):
    return config["trials"][wildcards.trial]["config"]


def cut_dir(wildcards):
    return Path(config["trials"][wildcards.trial]["datacuts"]) / wildcards.cut


def raw_files(wildcards):
    """Every raw file the trial config maps, plus the cut's manifest when it has one."""
    folder = cut_dir(wildcards)
    files = [str(folder / s["file"]) for s in TRIAL_CONFIG[wildcards.trial]["sources"]]
    manifest = folder / "manifest.json"
    return files + ([str(manifest)] if manifest.exists() else [])


def domain_tables(stage):
    return [f"{CUT}/{stage}/{domain.lower()}.parquet" for domain in DOMAINS]


def all_outputs():
    outputs = ["results/index.html"]
    for trial, entry in config["trials"].items():
        for cut in entry["cuts"]:
            outputs.append(f"results/{trial}/{cut}/report.html")
    return outputs
