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


def test_memory_slope_and_projection_by_hand():
    spec_b = importlib.util.spec_from_file_location("benchmark", ROOT / "benchmarks" / "benchmark.py")
    benchmark = importlib.util.module_from_spec(spec_b)
    spec_b.loader.exec_module(benchmark)
    peaks = {10_000: {"ingest": 400, "clean": 500, "derive": 800, "analyze": 600},
             100_000: {"ingest": 1300, "clean": 2300, "derive": 3500, "analyze": 3100},
             300_000: {"ingest": 3300, "clean": 6300, "derive": 9500, "analyze": 9100}}
    rows = benchmark.memory_projection(peaks, [1_000_000])
    def by_stage(measure):
        return {r["detail"].split(":")[0]: r["peak_mib"] for r in rows if r["measure"] == measure}
    slopes = by_stage("enlarged_cut_marginal_memory")
    # the two largest cuts: (3300 - 1300) MiB / 200 thousand subjects = 10 MiB per 1,000, and so on
    assert slopes == {"ingest": 10.0, "clean": 20.0, "derive": 30.0, "analyze": 30.0}
    # the 300,000-subject peak + 700 thousand more subjects x the slope
    assert by_stage("enlarged_cut_projected_peak") == {"ingest": 10_300.0, "clean": 20_300.0, "derive": 30_500.0,
                                                       "analyze": 30_100.0}


def test_linear_memory_is_judged_by_the_slope_between_sizes():
    def stage(n, peak):
        return {"subjects": str(n), "peak_mib": str(peak), "detail": "derive: x"}
    two = performance_table._at_most_linear
    assert two([stage(10_000, 800), stage(100_000, 3500)])
    assert not two([stage(10_000, 800), stage(100_000, 8100)])  # 81 > 80 MiB per 1,000 subjects
    # 10 MiB per 1,000 more subjects, then 13: faster than linear, though the peak per subject falls (100 > 15)
    assert not two([stage(10_000, 1000), stage(100_000, 1900), stage(300_000, 4500)])
    assert two([stage(10_000, 1000), stage(100_000, 1900), stage(300_000, 3900)])  # 10, then 10
    assert two([stage(10_000, 1000), stage(100_000, 1900), stage(300_000, 4050)])  # 10, then 10.75: within 10%
