from pathlib import Path

import pytest

from ucmsc.config import load_yaml

ROOT = Path(__file__).resolve().parents[1]
DATACUTS = ROOT / "resources" / "datacuts"
FINAL_CUTS = {"nafld_efficacy": "2019-01-15", "t2dm_safety": "2021-07-30"}
INTERIM_CUTS = {"nafld_efficacy": "2017-06-30", "t2dm_safety": "2020-09-30"}


@pytest.fixture(scope="session")
def trial_configs():
    return {trial: load_yaml(ROOT / "config" / "trials" / f"{trial}.yaml") for trial in FINAL_CUTS}
