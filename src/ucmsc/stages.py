"""Which package files each workflow stage runs, so that editing them reruns that stage.

Snakemake watches a rule's ``script:`` but not the modules the script imports. The
workflow lists these files as rule inputs: a changed statistic reruns the analyses and
everything after them, and nothing before. Importing this module must stay cheap (no
pandas): the Snakefile imports it at parse time.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent

_SHARED = ("__init__.py", "config.py", "io.py", "provenance.py", "stages.py")
STAGE_FILES = {
    "ingest": _SHARED + ("domains.py", "ingest.py", "manifest.py"),
    "clean": _SHARED + ("domains.py", "clean.py", "queries.py"),
    "derive": _SHARED + ("derive.py", "queries.py"),
    "analyze": _SHARED + ("analyze.py", "stats.py", "mmrm.py"),
    "audit": _SHARED + ("audit.py", "rounding.py"),
    "figures": _SHARED + ("figures.py", "rounding.py"),
    "diff": _SHARED + ("diffcuts.py", "domains.py", "rounding.py"),
    "report": _SHARED + ("report.py", "rounding.py", "templates/report.html.j2", "templates/index.html.j2"),
}


def stage_files(stage: str, package_dir: Path | None = None) -> list[str]:
    """Absolute paths of the package files ``stage`` depends on (in ``package_dir``, default the imported package)."""
    return [str((package_dir or PACKAGE_DIR) / name) for name in STAGE_FILES[stage]]


# The parts of a trial config each stage reads. The workflow passes exactly these as the
# rule's params, so a change to (say) the analysis plan reruns the analyses and what
# follows, but not ingestion, cleaning or derivations.
STAGE_CONFIG = {
    "ingest": ("trial", "sources"),
    "clean": ("trial", "studyid", "arms", "visits", "visit_labels", "visit_assignment", "sources", "tests"),
    "derive": ("trial", "studyid", "arms", "visits", "tests", "analysis.adsl_baseline"),
    "analyze": ("trial", "design", "arms", "visits", "analysis"),  # visits: a scheduled visit without data is reported
    "figures": ("trial", "design", "arms", "analysis"),
    "report": ("trial", "studyid", "title", "design", "publication", "arms", "visits"),
}


def stage_config(trial_config: dict, stage: str) -> dict:
    """The subset of ``trial_config`` that ``stage`` reads ("a.b" keeps only key b of section a)."""
    subset: dict = {}
    for key in STAGE_CONFIG[stage]:
        section, _, sub = key.partition(".")
        if section not in trial_config:
            continue
        if sub:
            if sub in trial_config[section]:
                subset.setdefault(section, {})[sub] = trial_config[section][sub]
        else:
            subset[section] = trial_config[section]
    return subset
