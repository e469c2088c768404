"""Loading configuration and setting up a stage's log. No Snakemake import."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import yaml


def load_yaml(path: str | Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def setup_logging(log_path: str | Path | None) -> logging.Logger:
    """Log to the rule's log file (and stderr), one line per event with a timestamp."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
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
