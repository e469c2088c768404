# Input functions and parse-time validation only; logic belongs in the ucmsc package.
import functools
import types
from pathlib import Path

from ucmsc.config import load_yaml
from ucmsc.domains import DOMAINS, source_files
from ucmsc.snakemake_report import cut_output_labels, figure_labels
from ucmsc.stages import stage_config, stage_files
from ucmsc.validate import check_config, check_schema, check_trial_config
from ucmsc.jobresources import files_mb, mem_mb, runtime_min

# Schema first, then what a schema cannot express (ucmsc.validate): a wrong config stops here, before any job.
# (ucmsc.validate.check_schema, not snakemake.utils.validate: that one imports pandas and polars, 0.5 s per run;
# a config that passed before with the same content, schema and code is taken from SCHEMA_CACHE)
SCHEMAS = Path(workflow.basedir) / "workflow" / "schemas"
SCHEMA_CACHE = Path(".snakemake") / "ucmsc" / "schema"
_CONFIG_SOURCE = " + ".join(map(str, workflow.configfiles)) or "--config"
check_schema(config, SCHEMAS / "config.schema.yaml", _CONFIG_SOURCE, SCHEMA_CACHE)
check_config(config, _CONFIG_SOURCE)

TRIAL_CONFIG = {}
for _trial, _entry in config["trials"].items():
    TRIAL_CONFIG[_trial] = load_yaml(_entry["config"])
    check_schema(
        TRIAL_CONFIG[_trial],
        SCHEMAS / "trial.schema.yaml",
        _entry["config"],
        SCHEMA_CACHE,
    )
    check_trial_config(
        TRIAL_CONFIG[_trial], _entry["config"], trial_id=_trial, root="."
    )

# Track the project's own package sources when they sit beside the workflow (an editable
# install); otherwise the installed package's files.
_SOURCE = Path(workflow.basedir) / "src" / "ucmsc"
PACKAGE_DIR = _SOURCE if _SOURCE.is_dir() else None

CUT = "results/{trial}/{cut}"
DIFF = "results/{trial}/diff/{old}..{cut}"


def code(stage):
    """The package files a stage runs; relative paths when they sit in the project, so a moved copy stays up to date."""
    if PACKAGE_DIR is None:
        return stage_files(stage)
    return [
        str(Path(f).relative_to(workflow.basedir))
        for f in stage_files(stage, PACKAGE_DIR)
    ]


def _trial_section(wildcards, stage):
    return stage_config(TRIAL_CONFIG[wildcards.trial], stage)


def trial_params(stage):
    """The part of the trial config a stage reads, passed as params (editing it reruns that stage only)."""
    return functools.partial(_trial_section, stage=stage)


def cut_results(wildcards):
    """The cut's results folder, where a job removes the outputs it makes stale."""
    return CUT.format(trial=wildcards.trial, cut=wildcards.cut)


def cut_dir(wildcards):
    return Path(config["trials"][wildcards.trial]["datacuts"]) / wildcards.cut


def raw_files(wildcards):
    """Every raw file the trial config maps, plus the cut's manifest when it has one."""
    folder = cut_dir(wildcards)
    files = [
        str(folder / f)
        for s in TRIAL_CONFIG[wildcards.trial]["sources"]
        for f in source_files(s)
    ]
    manifest = folder / "manifest.json"
    return files + ([str(manifest)] if manifest.exists() else [])


def _raw_mb(wildcards):
    """MB of raw files of the job's cut (and of the older cut a comparison reads); none for the index."""
    cuts = [
        getattr(wildcards, name) for name in ("old", "cut") if hasattr(wildcards, name)
    ]
    return sum(
        files_mb(raw_files(types.SimpleNamespace(trial=wildcards.trial, cut=cut)))
        for cut in cuts
    )


def job_mem_mb(stage):
    """A stage's memory request for a cluster (ucmsc.jobresources: measured, grows with the raw files)."""
    return lambda wildcards: mem_mb(stage, _raw_mb(wildcards))


def job_runtime(stage):
    """A stage's time limit in minutes for a cluster (ucmsc.jobresources)."""
    return lambda wildcards: runtime_min(stage, _raw_mb(wildcards))


def domain_tables(stage):
    return [f"{CUT}/{stage}/{domain.lower()}.parquet" for domain in DOMAINS]


def ae_dictionary(wildcards):
    """The trial's dictionary of reported AE terms (none when its AEs arrive coded)."""
    path = TRIAL_CONFIG[wildcards.trial].get("ae_dictionary")
    return [path] if path else []


def tlf_files(wildcards):
    """The trial's TLF shells and their library (editing either rebuilds the report)."""
    path = TRIAL_CONFIG[wildcards.trial].get("tlf", "config/tlf/default.yaml")
    return [path, str(Path(path).parent / "library.yaml")]


def previous_cut(trial, cut):
    cuts = config["trials"][trial]["cuts"]
    position = cuts.index(cut)
    return cuts[position - 1] if position > 0 else None


def diff_of(wildcards):
    """The comparison with the previous cut, for the report of a later cut (none for the first)."""
    old = previous_cut(wildcards.trial, wildcards.cut)
    if old is None:
        return {}
    folder = f"results/{wildcards.trial}/diff/{old}..{wildcards.cut}"
    return {
        "diff_results": f"{folder}/results.csv",
        "diff_records": f"{folder}/records.csv",
        "diff_subjects": f"{folder}/subjects.csv",
    }


def each_cut(name):
    """results/<trial>/<cut>/<name> for every configured trial and cut (the index's inputs)."""
    return [
        f"results/{t}/{c}/{name}"
        for t, e in config["trials"].items()
        for c in e["cuts"]
    ]


def selected_cuts():
    """(trial, cut) pairs to build: all, or those picked with --config trial=... [cut=...]."""
    pairs = [(t, c) for t, entry in config["trials"].items() for c in entry["cuts"]]
    if config.get("trial"):
        pairs = [(t, c) for t, c in pairs if t == config["trial"]]
    if config.get("cut"):
        pairs = [(t, c) for t, c in pairs if c == config["cut"]]
    if not pairs:
        raise ValueError(
            f"--config trial={config.get('trial')} cut={config.get('cut')} selects no configured cut"
        )
    return pairs


def all_outputs():
    outputs = [f"results/{trial}/{cut}/report.html" for trial, cut in selected_cuts()]
    if not config.get("trial") and not config.get("cut"):
        outputs.append(
            "results/index.html"
        )  # the index links every cut, so only a full build makes it
    return outputs


def figure_report_labels(wildcards, output):
    """A figure's columns in `snakemake --report` (number, title, statistic, population, ARD rows), from its sidecar."""
    return figure_labels(Path(output.figures) / f"{wildcards.name}.json")


def cut_report(path, name):
    """An output of a cut listed in `snakemake --report` under its trial and cut, with its caption and labels."""
    return report(
        path,
        caption=f"../report/{name}.rst",
        category="{trial}",
        subcategory="{cut}",
        labels=cut_output_labels(name),
    )
