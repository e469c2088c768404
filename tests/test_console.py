"""The console of a run: one line per job naming trial, cut and stage; failures with their log; the reports last."""

import io
import logging
from types import SimpleNamespace

from snakemake_interface_logger_plugins.common import LogEvent

from snakemake_logger_plugin_ucmsc import LogHandler, LogHandlerSettings
from ucmsc.config import setup_logging
from ucmsc.stages import job_label


def _handler(tmp_path, dryrun=False):
    handler = LogHandler(SimpleNamespace(dryrun=dryrun, quiet=None, nocolor=True),
                         LogHandlerSettings(index=str(tmp_path / "index.html")))
    handler.stream = io.StringIO()
    return handler


def _record(message="", level=logging.INFO, **extra):
    record = logging.LogRecord("snakemake", level, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return record


def _job_info(jobid, rule, wildcards, log=()):
    return _record(f" Rule: {rule}, Jobid: {jobid}", event=LogEvent.JOB_INFO, jobid=jobid, rule_name=rule,
                   wildcards=wildcards, log=list(log), input=["src/ucmsc/a.py"] * 15, output=["x"],
                   reason="Missing output files: results/x/ard.csv")


def test_job_label_names_trial_cut_and_stage():
    assert job_label({"trial": "t2dm_safety", "cut": "2021-07-30"}, "analyze") == "t2dm_safety 2021-07-30 analyze"
    assert (job_label({"trial": "t2dm_safety", "old": "2020-09-30", "cut": "2021-07-30"}, "diff")
            == "t2dm_safety 2020-09-30..2021-07-30 diff")
    assert job_label({}, "index") == "index"
    assert job_label({"trial": "a", "name": "b"}, "figure") == "a name=b figure"


def test_one_line_per_finished_job_and_the_index_last(tmp_path):
    (tmp_path / "index.html").write_text("<html></html>")
    handler = _handler(tmp_path)
    handler.emit(_record("Job stats: ...", event=LogEvent.RUN_INFO, stats={"ingest": 1, "analyze": 1, "total": 2}))
    handler.emit(_job_info(7, "ingest", {"trial": "nafld_efficacy", "cut": "2019-01-15"}))
    handler.emit(_record("Building DAG of jobs..."))
    handler.emit(_record("Select jobs to execute..."))
    handler.emit(_record("Finished jobid: 7 (Rule: ingest)", event=LogEvent.JOB_FINISHED, job_id=7))
    handler.emit(_record(None, event=LogEvent.PROGRESS, done=1, total=2))
    handler.emit(_job_info(8, "analyze", {"trial": "nafld_efficacy", "cut": "2019-01-15"}))
    handler.emit(_record("Finished jobid: 8 (Rule: analyze)", event=LogEvent.JOB_FINISHED, job_id=8))
    handler.emit(_record("a warning Snakemake gave", level=logging.WARNING))
    handler.close()
    lines = handler.stream.getvalue().splitlines()
    assert lines[0] == "2 job(s) to run: ingest 1, analyze 1"
    assert lines[1].startswith("[1/2] done  nafld_efficacy 2019-01-15 ingest  (")
    assert lines[2].startswith("[2/2] done  nafld_efficacy 2019-01-15 analyze  (")
    assert lines[3] == "WARNING: a warning Snakemake gave"
    assert lines[4].startswith(f"Reports: {tmp_path / 'index.html'} (index page, built ")
    assert len(lines) == 5  # no input lists, no routine Snakemake lines
    assert "src/ucmsc" not in handler.stream.getvalue()


def test_a_failed_job_prints_its_log_tail_and_the_last_line_says_so(tmp_path):
    log = tmp_path / "analyze.log"
    log.write_text("INFO start\n" + "".join(f"line {i}\n" for i in range(20)) + "ERROR ValueError: bad visit\n")
    handler = _handler(tmp_path)
    handler.emit(_job_info(3, "analyze", {"trial": "t2dm_safety", "cut": "2021-07-30"}, [str(log)]))
    handler.emit(_record("Error in rule analyze, jobid: 3", level=logging.ERROR, event=LogEvent.JOB_ERROR, jobid=3,
                         rule_name="analyze", rule_msg=None, log=[str(log)]))
    handler.close()
    lines = handler.stream.getvalue().splitlines()
    assert lines[0] == f"FAILED  t2dm_safety 2021-07-30 analyze: see {log}"
    assert lines[-2] == "    ERROR ValueError: bad visit"
    assert "line 12" not in handler.stream.getvalue()  # the tail only: the last 8 lines of the log
    assert lines[-1] == "1 job(s) failed (t2dm_safety 2021-07-30 analyze); their logs are named above"


def test_a_dry_run_names_each_job_with_the_first_clause_of_its_reason(tmp_path):
    handler = _handler(tmp_path, dryrun=True)
    handler.emit(_job_info(1, "figures", {"trial": "t2dm_safety", "cut": "2021-07-30"}))
    handler.close()
    assert handler.stream.getvalue() == "would run  t2dm_safety 2021-07-30 figures  (missing output files)\n"


def test_package_log_lines_on_the_console_carry_the_job_and_the_log_file_keeps_timestamps(tmp_path, capsys):
    log = setup_logging(tmp_path / "clean.log", console_prefix="t2dm_safety 2021-07-30 clean")
    log.info("119 queries\nDOMAIN RECORDS")
    log.warning("2 records quarantined")
    for handler in logging.getLogger().handlers:
        handler.flush()
    console = capsys.readouterr().err.splitlines()
    assert console == ["t2dm_safety 2021-07-30 clean: 119 queries", "t2dm_safety 2021-07-30 clean: DOMAIN RECORDS",
                       "t2dm_safety 2021-07-30 clean: WARNING 2 records quarantined"]
    file_lines = (tmp_path / "clean.log").read_text().splitlines()
    assert file_lines[0].endswith(" INFO 119 queries") and file_lines[0][:4].isdigit()
    logging.basicConfig(force=True, handlers=[logging.NullHandler()])
