"""The index page on a hand-made results tree: per cut the build date the report recorded, the synthetic flag and the
audit's status."""

import json
import os
import re

import pandas as pd

from ucmsc.audit import AUDIT_COLUMNS, INTERIM
from ucmsc.report import run_index


def _cut(root, trial, cut, statuses, synthetic, built):
    folder = root / trial / cut
    (folder / "ingest").mkdir(parents=True)
    (folder / "report.html").write_text("<html></html>")
    (folder / "report_build.json").write_text(json.dumps({"trial": trial, "cut": cut, "built_utc": built}))
    manifest = {"synthetic": True, "notice": "SYNTHETIC"} if synthetic else None
    (folder / "ingest" / "raw_files.json").write_text(json.dumps({"files": [], "manifest": manifest}))
    pd.DataFrame([{c: "" for c in AUDIT_COLUMNS} | {"CHECK_ID": f"c{i}", "STATUS": s} for i, s in enumerate(statuses)],
                 columns=AUDIT_COLUMNS).to_csv(folder / "audit.csv", index=False)
    # the file's own time is far from the recorded one: the index must read the record, not the clock or the mtime
    os.utime(folder / "report.html", (0, 0))
    return str(folder / "report.html")


def test_each_cut_shows_its_recorded_build_date_synthetic_flag_and_audit_status(tmp_path):
    reports = [
        _cut(tmp_path, "eff", "2017-06-30", [INTERIM] * 3 + ["design"], True, "2026-01-02T03:04:05Z"),
        _cut(tmp_path, "eff", "2019-01-15", ["match"] * 12 + ["design"], True, "2026-01-02T03:09:00Z"),
        _cut(tmp_path, "saf", "2021-07-30", ["match"] * 2 + ["mismatch", "inconsistent publication"], False,
             "2025-12-31T23:59:59Z"),
        _cut(tmp_path, "syn", "2023-06-30", [], True, "2026-02-03T00:00:00Z"),
    ]
    run_index(reports, {"eff": "Efficacy", "saf": "Safety", "syn": "Synthetic"}, tmp_path / "index.html")
    html = (tmp_path / "index.html").read_text()
    rows = [re.sub(r"<[^>]+>", "|", r) for r in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)]
    cells = [[c.strip() for c in r.split("|") if c.strip()] for r in rows]
    assert cells[0] == ["Trial", "Data cut", "Data", "Report built", "Published vs reproduced", "Report"]
    assert cells[1:] == [
        ["Efficacy", "eff", "2017-06-30", "synthetic", "2026-01-02 03:04:05 UTC", "interim: not scored", "report"],
        ["2019-01-15", "synthetic", "2026-01-02 03:09:00 UTC", "12 match, 0 mismatch", "report"],
        ["Safety", "saf", "2021-07-30", "delivered", "2025-12-31 23:59:59 UTC",
         "2 match, 1 mismatch, 1 inconsistent publication", "report"],
        ["Synthetic", "syn", "2023-06-30", "synthetic", "2026-02-03 00:00:00 UTC", "no publication", "report"]]
    assert 'rowspan="2"' in html and html.count('<td class="flag">') == 1  # only the cut with a mismatch is flagged
    assert 'href="eff/2019-01-15/report.html"' in html
    # dates never wrap
    assert len(re.findall(r'<td class="nowrap">\d{4}-\d{2}-\d{2}</td>', html)) == 4
    assert ".nowrap { white-space: nowrap; }" in html
