"""A Snakemake logger plugin (``snakemake --logger ucmsc``): one console line per job, naming trial, cut and stage.

Snakemake's default console prints each job's full input and output lists (15+ package files per job); this
handler keeps them out and prints instead, per job, when it finished or failed, with the path of its log file.
Warnings, errors and Snakemake messages that are not routine progress are printed as they come. Every job's
full detail stays in its per-rule log and in Snakemake's own log under ``.snakemake/log``.
"""

import logging
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent
from snakemake_interface_logger_plugins.settings import LogHandlerSettingsBase

from ucmsc.stages import job_label

# Routine Snakemake chatter that the per-job lines already say (matched at the start of the message).
ROUTINE = re.compile(
    r"(Building DAG of jobs|Using shell:|Provided (cores|resources)|Rules claiming more threads|Select jobs to execute"
    r"|Execute \d+ jobs|Conda environments: ignored|Singularity containers: ignored|Assuming unrestricted shared"
    r"|Job stats:|Finished jobid:|Shell command:|Waiting at most|Submitted (group )?job|Job \d+ has been submitted)"
)


def short_reason(reason: str) -> str:
    """The first clause of Snakemake's rerun reason ("Missing output files: a, b, c" -> "missing output files")."""
    first = reason.split(";")[0].split(":")[0].strip()
    return first[:1].lower() + first[1:]


@dataclass
class _Job:
    label: str
    logs: list[str]
    started: float = field(default_factory=time.monotonic)


@dataclass
class LogHandlerSettings(LogHandlerSettingsBase):
    index: str = field(default="results/index.html",
                       metadata={"help": "The page the last console line points to after a run."})


class LogHandler(LogHandlerBase):
    def __post_init__(self) -> None:
        self.jobs: dict[int, _Job] = {}
        self.done = 0
        self.total = 0
        self.stream = sys.stderr
        self.dryrun = bool(getattr(self.common_settings, "dryrun", False))
        self.failed: list[str] = []
        self.closed = False

    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return True

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False

    def write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._emit(record)
        except Exception:  # a console formatting problem must never stop a run
            self.handleError(record)

    def _emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "event", None)
        if event == LogEvent.JOB_INFO:
            label = job_label(getattr(record, "wildcards", None), record.rule_name)
            self.jobs[record.jobid] = _Job(label, list(getattr(record, "log", []) or []))
            if self.dryrun:
                self.write(f"would run  {label}  ({short_reason(getattr(record, 'reason', ''))})")
        elif event == LogEvent.RUN_INFO:
            stats = dict(getattr(record, "stats", {}) or {})
            self.total = int(stats.pop("total", 0))
            per_rule = ", ".join(f"{rule} {count}" for rule, count in stats.items())
            self.write(f"{self.total} job(s) to run: {per_rule}")
        elif event == LogEvent.JOB_FINISHED:
            job = self.jobs.pop(record.job_id, None)
            self.done += 1
            if job is not None:
                took = time.monotonic() - job.started
                self.write(f"[{self.done}/{self.total or '?'}] done  {job.label}  ({took:.1f} s)")
        elif event in (LogEvent.JOB_ERROR, LogEvent.GROUP_ERROR):
            self._job_error(record)
        elif event in (LogEvent.PROGRESS, LogEvent.SHELLCMD, LogEvent.WORKFLOW_STARTED, LogEvent.RULEGRAPH,
                       LogEvent.RESOURCES_INFO, LogEvent.JOB_STARTED, LogEvent.GROUP_INFO, LogEvent.DEBUG_DAG):
            return
        else:
            message = record.getMessage() if record.msg is not None else ""
            if not message or message == "None":
                return
            if record.levelno < logging.WARNING and ROUTINE.match(message.strip()):
                return
            prefix = "" if record.levelno < logging.WARNING else f"{record.levelname}: "
            self.write(prefix + message.rstrip())

    def _job_error(self, record: logging.LogRecord) -> None:
        jobid = getattr(record, "jobid", None)
        job = self.jobs.pop(jobid, None)
        label = job.label if job else job_label(None, getattr(record, "rule_name", "?"))
        logs = list(getattr(record, "log", []) or []) or (job.logs if job else [])
        self.failed.append(label)
        self.write(f"FAILED  {label}" + (f": see {', '.join(map(str, logs))}" if logs else ""))
        for log in logs[:1]:
            for line in _tail(Path(str(log).split(" ")[0])):
                self.write(f"    {line}")
        message = getattr(record, "rule_msg", None) or (getattr(record, "aux", {}) or {}).get("msg")
        if message:
            self.write(f"    {message}")


    def close(self) -> None:
        """The last line: where the reports are, or which jobs failed."""
        if not self.closed and not self.dryrun:
            self.closed = True
            self.write(last_line(Path(self.settings.index if self.settings else "results/index.html"), self.failed))
        super().close()


def last_line(index: Path, failed: list[str]) -> str:
    if failed:
        return f"{len(failed)} job(s) failed ({'; '.join(failed)}); their logs are named above"
    if not index.exists():
        return f"No index page at {index}: it was not among the targets of this run"
    built = datetime.fromtimestamp(index.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    return f"Reports: {index} (index page, built {built})"


def _tail(path: Path, lines: int = 8) -> list[str]:
    """The last lines of a failed job's log: usually the error and where it happened."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return []
