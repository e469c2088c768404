"""Loading configuration and setting up a stage's log. No Snakemake import."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import yaml


def load_yaml(path: str | Path) -> dict:
    """A YAML file by the safe loader, in libyaml's C implementation where PyYAML has it (ten times faster than the
    Python one; the workflow reads every config at the start of each run)."""
    with open(path, encoding="utf-8") as handle:
        return parse_yaml(handle)


def parse_yaml(text) -> dict:
    """YAML text (or an open file) by load_yaml's loader."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class PrefixFormatter(logging.Formatter):
    """Console lines as "<prefix>: message", every line of a multi-line message prefixed; warnings say so."""

    def __init__(self, prefix: str):
        super().__init__("%(message)s")
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno < logging.WARNING else f"{record.levelname} "
        lead = f"{self.prefix}: {level}" if self.prefix else level
        return "\n".join(lead + line for line in super().format(record).splitlines())


def setup_logging(log_path: str | Path | None, console_prefix: str = "") -> logging.Logger:
    """Log to the rule's log file, one line per event with a timestamp, and to stderr, each line prefixed with
    ``console_prefix`` (the job's trial, cut and stage) so that lines of jobs running side by side can be told
    apart."""
    console = logging.StreamHandler()
    if console_prefix:
        console.setFormatter(PrefixFormatter(console_prefix))
    handlers: list[logging.Handler] = [console]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers,
                        force=True)
    logger = logging.getLogger("ucmsc")

    def log_uncaught(kind, error, trace):  # the reason a rule failed belongs in its log file too
        logger.error("%s: %s", kind.__name__, error, exc_info=(kind, error, trace))

    sys.excepthook = log_uncaught
    return logger
