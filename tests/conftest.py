from pathlib import Path

import pytest

from ucmsc.config import load_yaml

ROOT = Path(__file__).resolve().parents[1]
DATACUTS = ROOT / "resources" / "datacuts"
FINAL_CUTS = {"nafld_efficacy": "2019-01-15", "t2dm_safety": "2021-07-30"}
INTERIM_CUTS = {"nafld_efficacy": "2017-06-30", "t2dm_safety": "2020-09-30"}


def configured_cuts(root=ROOT) -> list[tuple[str, str]]:
    """Every (trial, cut) the workflow config lists: tests count outputs from it, not from a fixed number of trials."""
    config = load_yaml(root / "config" / "config.yaml")
    return [(trial, cut) for trial, entry in config["trials"].items() for cut in entry["cuts"]]


@pytest.fixture(scope="session")
def trial_configs_all():
    """Every trial config, the synthetic three-arm dose_ranging included."""
    return {path.stem: load_yaml(path) for path in sorted((ROOT / "config" / "trials").glob("*.yaml"))}


@pytest.fixture(scope="session")
def trial_configs():
    return {trial: load_yaml(ROOT / "config" / "trials" / f"{trial}.yaml") for trial in FINAL_CUTS}


def run_pipeline(trial: str, cut: str, config: dict, edit_sdtm=None, dictionary: dict | None = None,
                 folder=None) -> dict:
    """ingest -> clean -> derive -> analyze on a bundled cut (or a copy in ``folder``), in memory, through the
    package."""
    from datetime import date

    from ucmsc import derive
    from ucmsc.analyze import run_analyses
    from ucmsc.clean import clean_cut
    from ucmsc.ingest import ingest_cut
    from ucmsc.queries import QueryLog

    tables, raw_meta, _manifest = ingest_cut(folder or DATACUTS / trial / cut, config, cut_date=cut)
    sdtm, queries, quarantine, summary = clean_cut(tables, config, date.fromisoformat(cut))
    if edit_sdtm:
        edit_sdtm(sdtm)
    log = QueryLog(prefix="D")
    adsl = derive.derive_adsl(sdtm, config)
    bds = derive.derive_bds(sdtm, adsl, config, log)
    adsl = derive.derive_population_flags(adsl, bds, len(config["visits"]))
    adsl = derive.derive_vars_baseline(adsl, bds, config.get("adsl_baseline", []))
    adsl = derive.derive_vars_groups(adsl, config.get("adsl_groups", {}))
    adae = derive.derive_adae(sdtm["AE"], adsl, sdtm["EX"],
                              dictionary or load_yaml(ROOT / "config" / "ae_dictionary.yaml"), log)
    ard = run_analyses(adsl, bds, adae, config, trial, cut, "test")
    return {"raw_meta": raw_meta, "sdtm": sdtm, "queries": queries, "quarantine": quarantine, "summary": summary,
            "adsl": adsl, "bds": bds, "adae": adae, "log": log, "ard": ard}
