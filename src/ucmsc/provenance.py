"""Provenance records: which raw files, code, parameters and results produced an artefact."""

from __future__ import annotations

import functools
import hashlib
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from ucmsc.ard import KEYS as ARD_KEYS
from ucmsc.io import sha256_file

PACKAGES = ("ucmsc", "snakemake", "pandas", "numpy", "scipy", "statsmodels", "pyreadstat", "matplotlib", "jinja2",
            "pyarrow")


def package_versions() -> dict[str, str]:
    return dict(_package_versions())  # a copy: a record may be edited


@functools.cache
def _package_versions() -> tuple[tuple[str, str], ...]:  # once a process: every figure's record asked for them
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return tuple(versions.items())


def code_hash(roots: list[Path]) -> str:
    """SHA-256 over every source file under ``roots`` (path and content), so an uncommitted edit shows."""
    digest = hashlib.sha256()
    for root in roots:
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for path in files:
            if path.suffix in (".py", ".smk", ".j2", ".yaml", ".yml", ".json", ".rst") or path.name == "Snakefile":
                digest.update(str(path.relative_to(root.parent if root.is_dir() else root.parent)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def code_version(project_dir: Path) -> dict:
    """Git commit (if the project is a git checkout), whether tracked files differ from it, and a code hash."""
    project_dir = Path(project_dir)
    commit, dirty = "unknown (not a git checkout)", None
    try:
        commit = subprocess.run(["git", "-C", str(project_dir), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "-C", str(project_dir), "status", "--porcelain", "--untracked-files=no", "--",
                                 "src", "workflow", "config", "Snakefile"], capture_output=True, text=True, check=True,
                                timeout=10).stdout
        dirty = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    roots = [p for p in (project_dir / "src" / "ucmsc", project_dir / "workflow", project_dir / "Snakefile",
                         project_dir / "config") if p.exists()]
    return {"git_commit": commit, "uncommitted_changes": dirty, "code_sha256": code_hash(roots)}


def file_entry(path: str | Path, role: str) -> dict:
    path = Path(path)
    return {"path": str(path), "role": role, "sha256": sha256_file(path) if path.is_file() else None}


def record(*, artefact: str, title: str, rule: str, script: str, inputs: list[dict], raw_files: list[dict],
           params: dict, code: dict, ard_rows: list[dict] | None = None) -> dict:
    """One provenance record. The artefact's own SHA-256 is added by the writer once the file exists."""
    return {
        "artefact": artefact,
        "title": title,
        "rule": rule,
        "script": script,
        "raw_files": [{"file": f["file"], "sha256": f["sha256"], "rows": f.get("rows")} for f in raw_files],
        "inputs": inputs,
        "params": params,
        "code": code,
        "packages": package_versions(),
        "ard_rows": ard_rows or [],
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


ARD_KEY_COLUMNS = ARD_KEYS + ["VALUE"]


def ard_keys(rows) -> list[dict]:
    """The identifying columns and value of each ARD row an artefact draws."""
    keep = [c for c in ARD_KEY_COLUMNS if c in rows.columns]
    return rows[keep].drop_duplicates().astype(object).where(rows[keep].notna(), None).to_dict("records")


def summary(record: dict, cut: str | None = None) -> list[tuple[str, str]]:
    """The short human reading of a table's or figure's provenance record, in the order a reader asks: which raw
    files (by name, with rows when recorded, and the data cut they belong to: ingest records no other date), which
    rule built it from what, at which code commit, and when. ``cut`` is used when the record does not name its cut
    (table records); the full record stays the reference."""
    cut = (record.get("params") or {}).get("cut") or cut
    files = [f["file"] + (f" ({f['rows']} rows)" if f.get("rows") is not None else "")
             for f in record.get("raw_files", [])]
    lines = [("Raw files", (f"data cut {cut}: " if cut else "") + (", ".join(files) or "none recorded"))]
    lines.append(("Rule", f"{record.get('rule', 'not recorded')}"
                  + (f" ({record['script']})" if record.get("script") else "")))
    drawn = record.get("drawn_from") or {}
    ard_rows = drawn.get("ard_rows", record.get("ard_rows"))
    n_rows = ard_rows if isinstance(ard_rows, int) else len(ard_rows or [])
    inputs = [drawn["ard"]] if drawn.get("ard") else record.get("inputs", [])
    if inputs or n_rows:
        names = ", ".join(Path(i["path"]).name for i in inputs) or "the ARD"
        analyses = drawn.get("analysis_ids") or []
        lines.append(("Drawn from", f"{n_rows} rows of {names}"
                      + (f" (analysis {', '.join(analyses)})" if analyses else "")))
    code = record.get("code") or {}
    commit = str(code.get("git_commit") or "not recorded")
    state = {True: "with uncommitted changes", False: "working tree clean"}.get(code.get("uncommitted_changes"))
    if len(commit) == 40 and all(c in "0123456789abcdef" for c in commit):
        commit = f"git commit {commit[:12]}"
    lines.append(("Code", commit + (f" ({state})" if state else "")))
    built = record.get("created_utc")
    lines.append(("Built", built.replace("T", " ").replace("Z", " UTC") if built else "not recorded"))
    return lines
