"""Provenance records: which raw files, code, parameters and results produced an artefact."""

from __future__ import annotations

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
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


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
