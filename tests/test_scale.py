"""The fast paths that make 100,000 subjects feasible give the same results as the plain paths they replace, on a
2,000-subject simulated cut (issue 20).

Fast: the BDS read as the analyses' columns with low-cardinality text as categories, the BDS split by parameter
once, membership tested once per population through Arrow's is_in, level texts once per distinct value, the
Hodges-Lehmann order statistics selected without building the pairwise differences (forced here by a low limit: arms
of 1,000 would otherwise be built, as any arm below 2,000 is). Reference: every BDS column as stored, a boolean mask
per parameter, pandas' isin, every pairwise difference built and partitioned. The two ARDs must be equal value for
value.
"""

import logging

import pandas as pd
import pytest

from conftest import ROOT
from ucmsc import analyze, derive, stats
from ucmsc.adamspec import combine_bds
from ucmsc.clean import run_clean
from ucmsc.config import load_yaml
from ucmsc.dates import complete_date
from ucmsc.derive import run_derive
from ucmsc.domains import DOMAINS
from ucmsc.ingest import run_ingest
from ucmsc.io import read_table, write_table
from ucmsc.paramcodes import is_yes_no
from ucmsc.queries import QueryLog
from ucmsc.stages import stage_config
from ucmsc_sim.cli import main as simulate

TRIAL, SUBJECTS = "nafld_efficacy", 2000
LOG = logging.getLogger("test_scale")


@pytest.fixture(scope="module")
def adam(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale")
    assert simulate(["--out", str(root / "raw"), "--trial", TRIAL, "--subjects", str(SUBJECTS), "--final-only"]) == 0
    cut_dir = next((root / "raw" / TRIAL).iterdir())
    config = load_yaml(ROOT / "config" / "trials" / f"{TRIAL}.yaml")
    out = root / "out"

    def tables(stage):
        return [str(out / stage / f"{d.lower()}.parquet") for d in DOMAINS]

    run_ingest(cut_dir, stage_config(config, "ingest"), tables("ingest"), str(out / "ingest" / "other"),
               str(out / "ingest" / "raw_files.json"), LOG)
    run_clean(tables("ingest"), str(out / "ingest" / "other"), stage_config(config, "clean"),
              pd.Timestamp(cut_dir.name).date(), tables("sdtm"), str(out / "sdtm" / "other"), str(out / "queries.csv"),
              str(out / "quarantine.csv"), str(out / "cleaning_summary.csv"), str(out / "sdtm" / "define.csv"), LOG)
    run_derive(tables("sdtm"), stage_config(config, "derive"), {}, str(out / "adam" / "adsl.parquet"),
               str(out / "adam" / "bds"), str(out / "adam" / "adae.parquet"), str(out / "adam" / "queries.csv"), LOG,
               spec_path=str(ROOT / "config" / "adam" / "spec.yaml"), cut=cut_dir.name)
    return out / "adam", stage_config(config, "analyze"), cut_dir.name


def _reference_parameter(self, paramcd):
    return self.bds[self.bds["PARAMCD"] == paramcd]


def test_fast_paths_give_the_reference_ard(adam, monkeypatch, tmp_path):
    folder, config, cut = adam
    adsl = read_table(folder / "adsl.parquet")
    assert (adsl["ARM"].value_counts() >= 900).all()  # arms of about 1,000: 1e6 pairwise differences each

    monkeypatch.setattr(stats, "MATERIALIZE_LIMIT", 20_000)  # selection, as for arms above 2,000
    calls = []
    select = stats.PairSums.select
    monkeypatch.setattr(stats.PairSums, "select", lambda self, rank: calls.append(self._cells is None)
                        or select(self, rank))
    analyze.run_analyze(str(folder / "adsl.parquet"), str(folder / "bds"), str(folder / "adae.parquet"), config,
                        TRIAL, cut, str(tmp_path / "fast.csv"), LOG)
    assert sum(calls) > 100  # selections from the implicit matrix, not from the distinct values alone

    monkeypatch.setattr(stats, "MATERIALIZE_LIMIT", 10**12)  # every pairwise difference built
    monkeypatch.setattr(analyze, "isin", lambda values, members: values.isin(members))
    monkeypatch.setattr(analyze.Context, "parameter", _reference_parameter)
    monkeypatch.setattr(analyze.Context, "in_population",
                        lambda self, records, population: records["USUBJID"].isin(self.members(population)))
    monkeypatch.setattr(analyze, "_level_texts", lambda values: values.map(analyze._level_text))
    bds = combine_bds({p.stem.upper(): read_table(p) for p in sorted((folder / "bds").glob("*.parquet"))})
    assert not any(isinstance(bds[c].dtype, pd.CategoricalDtype) for c in bds)
    reference = analyze.run_analyses(adsl, bds, read_table(folder / "adae.parquet"), config, TRIAL, cut, "")

    write_table(reference, tmp_path / "reference.csv")  # the same CSV writer; INPUTS (the datasets' hashes) aside
    fast, reference = (pd.read_csv(tmp_path / f"{name}.csv", keep_default_na=False, na_values=[""])
                       .drop(columns="INPUTS") for name in ("fast", "reference"))
    assert len(reference) > 5000
    pd.testing.assert_frame_equal(fast, reference, check_exact=True)
    hl = reference["STAT_LABEL"].str.contains("Hodges-Lehmann", na=False) | (
        reference["STAT_NAME"].isin(["lcl", "ucl"]) & reference["METHOD"].isin(["Mann-Whitney U",
                                                                                 "Wilcoxon signed-rank"]))
    assert hl.sum() > 100 and reference.loc[hl, "VALUE"].notna().mean() > 0.9


def _bds_one_parameter_at_a_time(sdtm: dict, adsl: pd.DataFrame, config: dict) -> tuple[pd.DataFrame, QueryLog]:
    """The long dataset built as derive_bds built it before it held text as categories: plain text throughout, each
    derived parameter appended in turn, treatments joined by pandas' merge, the dates completed record by record,
    sorted by text."""
    log = QueryLog(prefix="D")
    bds = derive.findings_to_bds(sdtm, config)
    bds = bds.astype({c: "str" for c in bds.columns if isinstance(bds[c].dtype, pd.CategoricalDtype)})
    for spec in derive._derived_params(config):
        bds = derive.derive_param(bds, adsl, spec, log)
    bds = derive.derive_range_indicator(derive.derive_baseline_and_change(bds))
    for paramcd, spec in config.get("derived", {}).items():
        if is_yes_no(spec):
            bds = derive.derive_param_yes_no(bds, paramcd, spec)
    treatments = adsl[["USUBJID", "STUDYID", "ARM", "TRT01P", "TRT01A"]].rename(columns={"TRT01P": "TRTP",
                                                                                          "TRT01A": "TRTA"})
    bds = bds.merge(treatments, on="USUBJID", how="left", validate="many_to_one").reindex(columns=derive.BDS_ORDER)
    for column in ("AVALC", "AVALU", "DTYPE", "ABLFL", "ANL01FL", "ANRIND", "SRCDOM", "SRCVAR"):
        bds[column] = bds[column].fillna("").astype(str)
    bds["ADT"] = complete_date(bds["ADT"])
    return bds.sort_values(["USUBJID", "PARAMCD", "AVISITN"], kind="stable").reset_index(drop=True), log


def test_long_dataset_held_as_categories_equals_the_plain_text_build(adam):
    folder, _, _ = adam
    config = stage_config(load_yaml(ROOT / "config" / "trials" / f"{TRIAL}.yaml"), "derive")
    sdtm = {d: derive.read_findings(folder.parent / "sdtm" / f"{d.lower()}.parquet", d) if d in derive.PARCAT
            else read_table(folder.parent / "sdtm" / f"{d.lower()}.parquet") for d in DOMAINS}
    adsl = derive.derive_adsl(sdtm, config)
    log = QueryLog(prefix="D")
    held = derive.derive_bds(sdtm, adsl, config, log)
    plain, plain_log = _bds_one_parameter_at_a_time(sdtm, adsl, config)
    assert len(held) > 100_000 and held["PARAMCD"].nunique() > 20
    categorical = [c for c in held.columns if isinstance(held[c].dtype, pd.CategoricalDtype)]
    assert set(categorical) == set(derive.BDS_CATEGORIES)
    for column in categorical:  # the categories astype("category") gives: the values used, sorted
        assert list(held[column].cat.categories) == sorted(set(held[column].dropna().astype(str)))
    pd.testing.assert_frame_equal(held.astype({c: "str" for c in categorical}), plain, check_exact=True)
    pd.testing.assert_frame_equal(log.frame(), plain_log.frame())
