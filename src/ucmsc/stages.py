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
    "clean": _SHARED + ("domains.py", "checks.py", "clean.py", "queries.py"),
    "derive": _SHARED + ("derive.py", "queries.py"),
    "analyze": _SHARED + ("analyze.py", "stats.py", "mmrm.py", "gee.py"),
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


# What each stage writes under results/<trial>/<cut>/, in workflow order. A stage that runs makes
# everything after it stale, so it removes those outputs first: a failed rebuild then leaves no
# out-of-date report, ARD or figure that could be taken for current.
STAGE_OUTPUTS = {
    "ingest": ("ingest",),
    "clean": ("sdtm", "queries.csv", "quarantine.csv", "cleaning_summary.csv"),
    "derive": ("adam",),
    "analyze": ("ard.csv",),
    "audit": ("audit.csv",),
    "figures": ("figures",),
    "diff": (),  # results/<trial>/diff/<old>..<cut>/, found by name
    "report": ("report.html", "report_tables_provenance.json"),
}
_AFTER = {
    "ingest": ("clean", "derive", "analyze", "audit", "figures", "diff", "report"),
    "clean": ("derive", "analyze", "audit", "figures", "diff", "report"),
    "derive": ("analyze", "audit", "figures", "diff", "report"),
    "analyze": ("audit", "figures", "diff", "report"),
    "audit": ("report",),
    "figures": ("report",),
    "diff": ("report",),
    "report": (),
}


def stale_outputs(stage: str, cut_results: str | Path) -> list[Path]:
    """The existing outputs that depend on ``stage`` of this cut: later stages of the cut, the comparisons
    with the neighbouring cuts and the next cut's report (which shows the comparison), and the index page."""
    cut_results = Path(cut_results)
    trial_results, cut = cut_results.parent, cut_results.name
    later = _AFTER[stage]
    paths = [cut_results / name for s in later for name in STAGE_OUTPUTS[s]]
    if "diff" in later:
        paths += sorted((trial_results / "diff").glob(f"*..{cut}"))
        for folder in sorted((trial_results / "diff").glob(f"{cut}..*")):
            paths += [folder, trial_results / folder.name.split("..")[1] / "report.html"]
    paths.append(trial_results.parent / "index.html")
    return [p for p in paths if p.exists()]


def start_stage(stage: str, cut_results: str | Path, log_path: str | Path):
    """Begin a stage's job: set up its log, then remove the outputs it makes stale (each one logged)."""
    import shutil

    from ucmsc.config import setup_logging

    log = setup_logging(log_path)
    for path in stale_outputs(stage, cut_results):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        log.info("removed %s: it depends on this %s job and would be out of date", path, stage)
    return log
