"""The README's performance table is the one the committed benchmark CSV gives (benchmarks/performance_table.py)."""

import importlib.util

from conftest import ROOT

spec = importlib.util.spec_from_file_location("performance_table", ROOT / "benchmarks" / "performance_table.py")
performance_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(performance_table)


def test_readme_holds_the_table_of_the_committed_csv():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = performance_table.render(performance_table.read_rows())
    assert f"{performance_table.START}\n{table}{performance_table.END}" in readme


def test_targets_are_judged_from_the_numbers():
    common = {"subjects": "", "cores_used": "", "peak_mib": "100", "detail": "d", "machine_cores": "2",
              "machine": "m", "when_utc": "t"}
    rows = [dict(common, measure="full_rebuild", cores_used="4", wall_s="13"),
            dict(common, measure="full_rebuild", cores_used="2", wall_s="11.9"),
            dict(common, measure="single_process_baseline", wall_s="12"),
            dict(common, measure="ratio_rebuild_cores2_to_baseline", wall_s="0.99"),
            dict(common, measure="noop_rerun", wall_s="1.3"),
            dict(common, measure="incremental_one_raw_file", wall_s="6"),
            dict(common, measure="enlarged_cut_to_ard", subjects="100000", wall_s="59", peak_mib="4200")]
    table = performance_table.render(rows)
    assert "<= 12 s on 2 cores: met" in table and "<= 1: met" in table and "<= 6 s: met" in table
    assert "<= 1.2 s: **missed**" in table
    assert "< 60 s: met; < 4 GiB: **missed**" in table and "| 4.1 GiB |" in table
