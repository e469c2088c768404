"""Which outputs a stage makes stale, on a hand-made results tree."""

from ucmsc.stages import stale_outputs, start_stage


def _tree(root):
    files = ["t/2020-01-01/ingest/dm.parquet", "t/2020-01-01/sdtm/dm.parquet", "t/2020-01-01/queries.csv",
             "t/2020-01-01/adam/adsl.parquet", "t/2020-01-01/ard.csv", "t/2020-01-01/audit.csv", "t/2020-01-01/figures/a.png",
             "t/2020-01-01/report.html", "t/2020-01-01/logs/ingest.log",
             "t/2019-06-01/ard.csv", "t/2019-06-01/report.html", "t/2021-01-01/ard.csv", "t/2021-01-01/report.html",
             "t/diff/2019-06-01..2020-01-01/results.csv", "t/diff/2020-01-01..2021-01-01/results.csv", "u/2020-01-01/report.html",
             "index.html"]
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text("x")
    return root / "t" / "2020-01-01"


def test_analyze_makes_later_stages_comparisons_the_next_report_and_the_index_stale(tmp_path):
    cut = _tree(tmp_path)
    stale = {p.relative_to(tmp_path).as_posix() for p in stale_outputs("analyze", cut)}
    assert stale == {"t/2020-01-01/audit.csv", "t/2020-01-01/figures", "t/2020-01-01/report.html",
                     "t/diff/2019-06-01..2020-01-01", "t/diff/2020-01-01..2021-01-01", "t/2021-01-01/report.html", "index.html"}


def test_ingest_makes_everything_of_the_cut_stale_but_its_logs_and_other_cuts_results(tmp_path):
    cut = _tree(tmp_path)
    start_stage("ingest", cut, tmp_path / "ingest.log")
    left = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert left == {"t/2020-01-01/ingest/dm.parquet", "t/2020-01-01/logs/ingest.log", "t/2019-06-01/ard.csv",
                    "t/2019-06-01/report.html", "t/2021-01-01/ard.csv", "u/2020-01-01/report.html", "ingest.log"}


def test_the_report_makes_only_the_index_stale(tmp_path):
    cut = _tree(tmp_path)
    assert [p.name for p in stale_outputs("report", cut)] == ["index.html"]
