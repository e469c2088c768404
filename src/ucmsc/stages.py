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
    "ingest": _SHARED + ("domains.py", "ingest.py"),
    "clean": _SHARED + ("domains.py", "clean.py", "queries.py"),
    "derive": _SHARED + ("derive.py", "queries.py"),
    "analyze": _SHARED + ("analyze.py", "stats.py", "mmrm.py"),
    "audit": _SHARED + ("audit.py", "rounding.py"),
    "figures": _SHARED + ("figures.py", "rounding.py"),
    "report": _SHARED + ("report.py", "rounding.py", "templates/report.html.j2", "templates/index.html.j2"),
}


def stage_files(stage: str) -> list[str]:
    """Absolute paths of the package files ``stage`` depends on."""
    return [str(PACKAGE_DIR / name) for name in STAGE_FILES[stage]]
