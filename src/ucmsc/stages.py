"""Which package files each workflow stage runs, so that editing them reruns that stage.

Snakemake watches a rule's ``script:`` but not the modules the script imports. The
workflow lists these files as rule inputs: a changed statistic reruns the analyses and
everything after them, and nothing before. Importing this module must stay cheap (no
pandas): the Snakefile imports it at parse time.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent

# The module a stage's workflow script calls, and the modules every script uses to start. The files a stage
# depends on are these and everything they import from the package (found by reading the code, not by hand).
STAGE_ENTRY = {"ingest": "ingest", "clean": "clean", "derive": "derive", "analyze": "analyze", "audit": "audit",
               "figures": "figures", "diff": "diffcuts", "report": "report"}
SCRIPT_MODULES = ("stages", "config")
# files read at run time, not imported
STAGE_DATA = {"report": ("templates/report.html.j2", "templates/_provenance.html.j2", "templates/index.html.j2")}


# One import statement of the package: "from ucmsc[.module] import names" or "import ucmsc.module", at any indentation
# (function-level imports count); names may run over lines inside parentheses.
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+ucmsc(?P<module>(?:\.\w+)*)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n#]*)"
                     r"|import[ \t]+ucmsc\.(?P<plain>[\w.]+))", re.MULTILINE)


@functools.lru_cache(maxsize=None)
def _direct_imports(path: Path) -> tuple[str, ...]:
    """The package modules one file imports (function-level imports too), read with a regular expression: parsing
    the syntax trees of the package cost every workflow start 0.6 s (tests/test_stages.py checks it against them)."""
    found = []
    for match in _IMPORT.finditer(path.read_text(encoding="utf-8")):
        if match["plain"]:
            found.append(match["plain"])
        elif match["module"]:
            found.append(match["module"][1:])
        else:  # from ucmsc import stats, ard as ardlib
            names = (n.split(" as ")[0].strip() for n in match["names"].strip("()").split(","))
            found += [n for n in names if n and (path.parent / f"{n}.py").exists()]
    return tuple(found)


@functools.lru_cache(maxsize=None)
def package_imports(module: str, package_dir: Path | None = None) -> frozenset[str]:
    """The package's modules that ``module`` imports, directly or through others (function-level imports too)."""
    package_dir = package_dir or PACKAGE_DIR
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += _direct_imports(package_dir / f"{name.replace('.', '/')}.py")
    return frozenset(seen)


def _stage_file_names(stage: str, package_dir: Path | None = None) -> list[str]:
    modules = set()
    for entry in (STAGE_ENTRY[stage], *SCRIPT_MODULES):
        modules |= package_imports(entry, package_dir)
    return ["__init__.py"] + sorted(f"{m.replace('.', '/')}.py" for m in modules) + list(STAGE_DATA.get(stage, ()))


def stage_files(stage: str, package_dir: Path | None = None) -> list[str]:
    """Absolute paths of the package files ``stage`` depends on (in ``package_dir``, default the imported package)."""
    return [str((package_dir or PACKAGE_DIR) / name) for name in _stage_file_names(stage, package_dir)]


# The parts of a trial config each stage reads. The workflow passes exactly these as the
# rule's params, so a change to (say) the analysis plan reruns the analyses and what
# follows, but not ingestion, cleaning or derivations.
STAGE_CONFIG = {
    "ingest": ("trial", "sources"),
    "clean": ("trial", "studyid", "arms", "not_analysed_arms", "visits", "visit_labels", "visit_assignment", "sources",
              "tests", "reference_date", "disposition", "imputation", "adverse_events.levels", "ranges"),
    # sources and adam: the ADaM spec carries the mapped DM and AE variables and places parameters in datasets;
    # title: define.xml's study description
    "derive": ("trial", "studyid", "title", "arms", "not_analysed_arms", "visits", "sources", "tests", "derived",
               "adsl_baseline", "adsl_groups", "populations", "disposition", "exposure", "imputation", "adverse_events",
               "adam"),
    # visits: a visit without data is reported
    # adsl_groups: a demographics analysis of a group takes its label and levels from it
    # summaries: a median parameter gets the Hodges-Lehmann rows (checked against tests and derived)
    # adverse_events.levels: the default levels of ae_by_grade
    "analyze": ("trial", "design", "arms", "visits", "analyses", "families", "adsl_groups", "populations", "exposure",
                "tests", "derived", "summaries", "adverse_events.levels"),
    # publication.cut: the audit scores that cut only
    "audit": ("trial", "publication.cut"),
    # summaries: a parameter summarised by median is starred by its Mann-Whitney P in the trajectories (checked
    # against tests and derived, which also give the axes' units)
    "figures": ("trial", "design", "arms", "analyses", "figures", "tests", "derived", "summaries"),
    "report": ("trial", "studyid", "title", "design", "publication", "arms", "visits", "analyses", "families",
               "populations", "exposure", "meddra_version", "tests", "derived", "summaries", "tlf"),
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
    "analyze": ("ard.csv", "ard_cards.csv"),
    "audit": ("audit.csv",),
    "figures": ("figures",),
    "diff": (),  # results/<trial>/diff/<old>..<cut>/, found by name
    "report": ("report.html", "report_tables_provenance.json", "report_build.json", "tlf"),
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


def job_label(wildcards, stage: str) -> str:
    """How the console names a job: trial, cut (old..new for a comparison of cuts) and stage, as in
    "t2dm_safety 2021-07-30 analyze"; other wildcards as name=value."""
    wildcards = dict(wildcards or {})
    if "old" in wildcards and "cut" in wildcards:
        wildcards["cut"] = f"{wildcards.pop('old')}..{wildcards['cut']}"
    parts = [str(wildcards.pop(key)) for key in ("trial", "cut") if key in wildcards]
    return " ".join([*parts, *(f"{key}={value}" for key, value in wildcards.items()), stage])


# Stages whose large temporary arrays are allocated and freed over and over: their processes keep freed memory.
RETAINS_FREED_MEMORY = frozenset({"clean", "derive", "analyze"})


def retain_freed_memory() -> bool:
    """Make this process keep the memory it frees for its next allocations instead of handing it back to the kernel.

    glibc serves every block above 32 MiB (a column of a few million records) by its own mmap and unmaps it when
    freed, so the next such array faults in fresh zeroed pages; the free space at the top of the heap is trimmed
    too. Where freed pages go back to a hypervisor, as on the 2-core benchmark machine, those faults were a third
    of the derivations' time at 100,000 subjects. mallopt(3): M_MMAP_MAX 0 puts large blocks on the heap,
    M_TRIM_THRESHOLD at its maximum keeps the heap's free top. The peak is the same arrays, but a freed block can
    be too small for the next one, so peaks may grow a little. Not glibc (macOS, musl): nothing changes and False
    is returned."""
    import ctypes

    m_trim_threshold, m_mmap_max = -1, -4  # <malloc.h>
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the symbols this process has loaded, the C library's among them
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(m_mmap_max, 0) == 1 and mallopt(m_trim_threshold, 2**31 - 1) == 1  # mallopt returns 1 on success


def start_stage(stage: str, cut_results: str | Path, log_path: str | Path, wildcards=None):
    """Begin a stage's job: set up its log (console lines prefixed with the job's trial, cut and stage), then
    remove the outputs it makes stale (each one logged). A stage of ``RETAINS_FREED_MEMORY`` keeps freed memory."""
    import shutil

    from ucmsc.config import setup_logging

    if stage in RETAINS_FREED_MEMORY:
        retain_freed_memory()
    log = setup_logging(log_path, console_prefix=job_label(wildcards, stage) if wildcards is not None else "")
    for path in stale_outputs(stage, cut_results):
        # Jobs of other cuts run at the same time and remove the shared index page too: gone already is fine.
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        log.info("removed %s: it depends on this %s job and would be out of date", path, stage)
    return log
