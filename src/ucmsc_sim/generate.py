"""Simulate the complete ("true") follow-up of a trial, before any data cut or delivery mess."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from ucmsc_sim.calibrate import assign_below_threshold, calibrate_mean_sd, pair_for_paired_p
from ucmsc_sim.trials import Param, TrialSpec

HBA1C_TARGET = 7.0  # %, ADA glycaemic target (the efficacy trial's responder threshold)

BACKGROUND_AE_TERMS = (
    ("Upper respiratory tract infection", "MILD"),
    ("Headache", "MILD"),
    ("Dizziness", "MILD"),
    ("Diarrhoea", "MILD"),
    ("Fatigue", "MILD"),
    ("Back pain", "MODERATE"),
)


@dataclass
class TrueTrial:
    spec: TrialSpec
    seed: int
    subjects: pd.DataFrame  # SUBJID SITEID ARM SEX AGE RANDDT
    visits: pd.DataFrame  # SUBJID WEEK VISITDT
    findings: pd.DataFrame  # SUBJID WEEK TESTCD VALUE UNIT SOURCE
    exposure: pd.DataFrame  # SUBJID INFNO EXSTDTM DOSE
    adverse_events: pd.DataFrame  # SUBJID AETERM AESTDTM AEENDTM AESEV AESER AEREL AEOUT
    disposition: pd.DataFrame  # SUBJID DSDECOD DSSTDT DSTERM
    events: list[dict] = field(default_factory=list)  # withdrawals and missed visits, for the manifest


def _subjects(spec: TrialSpec, rng: np.random.Generator) -> pd.DataFrame:
    arms = np.array([arm for arm, n in spec.arms.items() for _ in range(n)], dtype=object)
    rng.shuffle(arms)
    n = arms.size
    span = (spec.enrol_end - spec.enrol_start).days
    offsets = np.sort(rng.choice(np.arange(span + 1), size=n, replace=n > span + 1))
    prefix = spec.subject_prefix
    site_ids = list(spec.sites)
    if len(site_ids) == 1:
        sites = np.array(site_ids * n, dtype=object)
    else:  # the first site enrols about 60 %
        sites = rng.choice(site_ids, size=n, p=[0.6] + [0.4 / (len(site_ids) - 1)] * (len(site_ids) - 1))
    frame = pd.DataFrame(
        {
            "SUBJID": [f"{prefix}{i + 1:03d}" for i in range(n)],
            "SITEID": sites,
            "ARM": arms,
            "RANDDT": [spec.enrol_start + timedelta(days=int(d)) for d in offsets],
        }
    )
    frame["SEX"] = "F"
    frame["AGE"] = 0
    # Assumption (not in the abstracts): years since diagnosis, right-skewed, mean about 8.
    frame["DIABDUR"] = np.round(np.clip(rng.gamma(2.5, 3.2, n), 0.5, 30), 1)
    for arm in spec.arms:
        idx = frame.index[frame["ARM"] == arm]
        males = rng.choice(idx, size=spec.male_counts[arm], replace=False)
        frame.loc[males, "SEX"] = "M"
        mean, sd = spec.age_mean_sd[arm]
        ages = rng.normal(mean, sd, idx.size)
        if spec.demographics_published:
            ages = calibrate_mean_sd(ages, mean, sd, value_decimals=0, lower=25)
        ages = np.clip(np.round(ages), 25, 75)
        frame.loc[idx, "AGE"] = ages.astype(int)
    return frame


def _planned_absences(spec: TrialSpec, subjects: pd.DataFrame, rng: np.random.Generator) -> tuple[set, list[dict]]:
    """(SUBJID, WEEK) pairs with no visit, and the events behind them, as the spec plans them."""
    absent: set[tuple[str, int]] = set()
    events: list[dict] = []
    for plan in spec.absences:
        pool = subjects.loc[subjects["ARM"] == plan.arm, "SUBJID"].tolist()
        low, high = (math.floor(len(pool) * f) for f in plan.among)
        subj = pool[int(rng.integers(low, high))]
        if plan.kind == "withdrawal":
            absent.update((subj, week) for week in spec.weeks if week > plan.week)
            events.append({"kind": "withdrawal", "subject": subj, "after_week": plan.week, "arm": plan.arm})
        elif plan.kind == "missed_visit":
            absent.add((subj, plan.week))
            events.append({"kind": "missed_visit", "subject": subj, "week": plan.week, "arm": plan.arm})
        else:
            raise ValueError(f"unknown absence kind {plan.kind!r}")
    return absent, events


def _visits(spec: TrialSpec, subjects: pd.DataFrame, absent: set, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for subj, randdt in zip(subjects["SUBJID"], subjects["RANDDT"]):
        for week in spec.weeks:
            if (subj, week) in absent:
                continue
            jitter = int(rng.integers(-min(3, spec.visit_window_days[week]), min(3, spec.visit_window_days[week]) + 1))
            rows.append({"SUBJID": subj, "WEEK": week, "VISITDT": randdt + timedelta(days=7 * week + jitter)})
    return pd.DataFrame(rows)


def _continuous(spec: TrialSpec, subjects: pd.DataFrame, visits: pd.DataFrame,
                rng: np.random.Generator) -> pd.DataFrame:
    frames = [_draw_param(spec, param, subjects, visits, rng) for param in spec.params]
    if spec.height:
        frames.append(_height(subjects, rng))
    if spec.steatosis_improved:
        frames.append(_steatosis(spec, subjects, visits, rng))
    return pd.concat(frames, ignore_index=True)


def _draw_param(spec: TrialSpec, param: Param, subjects: pd.DataFrame, visits: pd.DataFrame,
                rng: np.random.Generator) -> pd.DataFrame:
    """One parameter's values at every visit held: correlated within subject, each cell at its mean and SD."""
    present = visits.set_index(["SUBJID", "WEEK"]).index
    arm_of = subjects.set_index("SUBJID")["ARM"]
    latent = rng.standard_normal(len(subjects))
    noise = rng.standard_normal((len(subjects), len(param.weeks)))
    raw = np.sqrt(param.rho) * latent[:, None] + np.sqrt(1 - param.rho) * noise
    grid = pd.DataFrame(raw, index=subjects["SUBJID"], columns=list(param.weeks))
    long = grid.stack().rename("Z").reset_index().rename(columns={"level_1": "WEEK"})
    long = long[long.set_index(["SUBJID", "WEEK"]).index.isin(present)].copy()
    long["ARM"] = long["SUBJID"].map(arm_of)
    long["VALUE"] = np.nan
    for (arm, week), cell in long.groupby(["ARM", "WEEK"]):
        k = param.weeks.index(week)
        mean, sd = param.means[arm][k], param.sds[arm][k]
        if (arm, week) in param.exact:
            values = calibrate_mean_sd(cell["Z"].to_numpy(), mean, sd, param.decimals, lower=param.lower)
        elif param.lognormal:  # log-normal with mean m, SD s: sigma^2 = ln(1 + s^2/m^2), mu = ln(m) - sigma^2/2
            z = cell["Z"].to_numpy()
            sigma = np.sqrt(np.log1p((sd / mean) ** 2))
            skewed = np.exp(np.log(mean) - sigma**2 / 2 + sigma * (z - z.mean()) / z.std(ddof=1))
            values = np.maximum(np.round(skewed, param.decimals), param.lower)
        else:
            z = cell["Z"].to_numpy()
            values = np.maximum(np.round(mean + sd * (z - z.mean()) / z.std(ddof=1), param.decimals), param.lower)
        long.loc[cell.index, "VALUE"] = values
    for arm, week, target_p in param.paired_p:
        base = long[(long["ARM"] == arm) & (long["WEEK"] == 0)].set_index("SUBJID")["VALUE"]
        follow = long[(long["ARM"] == arm) & (long["WEEK"] == week) & long["SUBJID"].isin(base.index)]
        paired = pair_for_paired_p(base[follow["SUBJID"]].to_numpy(), follow["VALUE"].to_numpy(), target_p, rng)
        long.loc[follow.index, "VALUE"] = paired
    if param.testcd == "HBA1C" and spec.hba1c_at_target:
        for (arm, week), cell in long.groupby(["ARM", "WEEK"]):
            count = min(len(cell), round(spec.hba1c_at_target[arm][week] * spec.scale))
            long.loc[cell.index, "VALUE"] = assign_below_threshold(
                cell["VALUE"].to_numpy(), count, HBA1C_TARGET, rng, decimals=param.decimals
            )
    long["TESTCD"], long["UNIT"], long["SOURCE"] = param.testcd, param.unit, param.source
    return long[["SUBJID", "WEEK", "TESTCD", "VALUE", "UNIT", "SOURCE"]]


def _stream(seed: int, label: str) -> np.random.Generator:
    """A random stream of its own for ``label``, derived from the trial seed (independent of the main stream)."""
    return np.random.default_rng([seed, zlib.crc32(label.encode())])


def added_findings(spec: TrialSpec, seed: int, subjects: pd.DataFrame, visits: pd.DataFrame,
                   adverse_events: pd.DataFrame) -> pd.DataFrame:
    """The spec's ``added_params`` at every visit held, each from its own stream ``added:<TESTCD>``.

    They consume nothing of the main stream, so every value drawn before they existed stays as it was.
    With ``fever_temperature``, a temperature taken on a calendar day of a fever event (onset to end date)
    is redrawn from that range (stream ``fever_temperature``): the fever shows in the vital signs.
    """
    frames = [_draw_param(spec, param, subjects, visits, _stream(seed, f"added:{param.testcd}"))
              for param in spec.added_params]
    added = pd.concat(frames, ignore_index=True).merge(visits, on=["SUBJID", "WEEK"], how="left",
                                                       validate="many_to_one")
    if spec.fever_temperature:
        febrile = _visits_during_fever(added[added["TESTCD"] == "TEMP"], adverse_events)
        low, high = spec.fever_temperature
        draws = _stream(seed, "fever_temperature").uniform(low, high, int(febrile.sum()))
        added.loc[febrile[febrile].index, "VALUE"] = np.round(draws, 1)
    return added[["SUBJID", "WEEK", "TESTCD", "VALUE", "UNIT", "SOURCE", "VISITDT"]]


def _visits_during_fever(temperatures: pd.DataFrame, adverse_events: pd.DataFrame) -> pd.Series:
    """Whether each temperature record's visit date lies within a fever event's onset and end dates."""
    fevers = adverse_events[adverse_events["AETERM"] == "Fever"]
    during = pd.Series(False, index=temperatures.index)
    for subj, onset, end in zip(fevers["SUBJID"], fevers["AESTDTM"], fevers["AEENDTM"]):
        day = temperatures["VISITDT"]
        during |= (temperatures["SUBJID"] == subj) & (day >= onset.date()) & (day <= end.date())
    return during


def _height(subjects: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    mean = np.where(subjects["SEX"] == "M", 170.0, 158.0)
    sd = np.where(subjects["SEX"] == "M", 6.0, 5.0)
    return pd.DataFrame(
        {
            "SUBJID": subjects["SUBJID"],
            "WEEK": 0,
            "TESTCD": "HEIGHT",
            "VALUE": np.round(rng.normal(mean, sd), 1),
            "UNIT": "cm",
            "SOURCE": "vs",
        }
    )


def _steatosis(spec: TrialSpec, subjects: pd.DataFrame, visits: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Ultrasound steatosis grade (0-3) at week 0 and the spec's later weeks; improvement = lower than baseline."""
    baseline = pd.Series(rng.choice([1, 2, 3], size=len(subjects), p=[0.35, 0.45, 0.20]), index=subjects["SUBJID"])
    rows = [{"SUBJID": s, "WEEK": 0, "VALUE": float(g)} for s, g in baseline.items()]
    have = set(map(tuple, visits[["SUBJID", "WEEK"]].to_numpy()))
    for week in sorted({week for counts in spec.steatosis_improved.values() for week in counts}):
        for arm, counts in spec.steatosis_improved.items():
            ids = [s for s in subjects.loc[subjects["ARM"] == arm, "SUBJID"] if (s, week) in have]
            improved = set(rng.choice(ids, size=min(len(ids), round(counts[week] * spec.scale)), replace=False))
            for subj in ids:
                grade = baseline[subj]
                if subj in improved:
                    new = grade - (2 if grade == 3 and rng.random() < 0.25 else 1)
                elif grade < 3 and rng.random() < 0.12:
                    new = grade + 1
                else:
                    new = grade
                rows.append({"SUBJID": subj, "WEEK": week, "VALUE": float(new)})
    frame = pd.DataFrame(rows)
    frame["TESTCD"], frame["UNIT"], frame["SOURCE"] = "STEATOS", "grade", "imaging"
    return frame


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


def _exposure(spec: TrialSpec, subjects: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for subj, arm, randdt in zip(subjects["SUBJID"], subjects["ARM"], subjects["RANDDT"]):
        for number, day in enumerate(spec.infusion_days, start=1):
            start = _at(randdt + timedelta(days=day), 9, int(rng.integers(0, 60)))
            rows.append({"SUBJID": subj, "INFNO": number, "EXSTDTM": start, "DOSE": spec.doses.get(arm, 1.0)})
    return pd.DataFrame(rows)


def _adverse_events(spec: TrialSpec, subjects: pd.DataFrame, exposure: pd.DataFrame,
                    rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    horizon = 7 * spec.weeks[-1]
    for subj, randdt in zip(subjects["SUBJID"], subjects["RANDDT"]):
        for _ in range(int(rng.poisson(0.5))):
            term, severity = BACKGROUND_AE_TERMS[int(rng.integers(len(BACKGROUND_AE_TERMS)))]
            start = _at(randdt + timedelta(days=int(rng.integers(3, horizon))), int(rng.integers(7, 22)), 0)
            rows.append(_ae(subj, term, start, start + timedelta(days=int(rng.integers(1, 8))), severity,
                            "NOT RELATED"))
    # One event before the first infusion, so the treatment-emergent flag has a "N" to find.
    first = subjects.iloc[int(rng.integers(len(subjects)))]
    pre = _at(first["RANDDT"] - timedelta(days=3), 10, 0)
    rows.append(_ae(first["SUBJID"], "Headache", pre, pre + timedelta(days=1), "MILD", "NOT RELATED"))
    # Fever within 24 h after an infusion (the spec's infusion range), in the planned number of subjects per arm.
    first_inf, last_inf = spec.fever_infusions
    for arm, count in spec.post_infusion_fever.items():
        pool = subjects.loc[subjects["ARM"] == arm, "SUBJID"].to_numpy()
        for subj in rng.choice(pool, size=count, replace=False):
            number = int(rng.integers(first_inf, last_inf + 1))
            infusion = exposure[(exposure["SUBJID"] == subj) & (exposure["INFNO"] == number)]
            onset = infusion["EXSTDTM"].iloc[0] + timedelta(hours=int(rng.integers(4, 21)))
            rows.append(_ae(subj, "Fever", onset, onset + timedelta(hours=int(rng.integers(6, 20))), "MILD",
                            "POSSIBLY RELATED"))
    if spec.hypoglycaemia_arms:  # one hypoglycaemic attack within a month of transplantation
        subj = rng.choice(subjects.loc[subjects["ARM"].isin(spec.hypoglycaemia_arms), "SUBJID"].to_numpy())
        randdt = subjects.loc[subjects["SUBJID"] == subj, "RANDDT"].iloc[0]
        onset = _at(randdt + timedelta(days=int(rng.integers(15, 29))), 16, 30)
        rows.append(_ae(subj, "Hypoglycaemia", onset, onset + timedelta(hours=2), "MODERATE", "POSSIBLY RELATED"))
    return pd.DataFrame(rows).sort_values(["SUBJID", "AESTDTM"], ignore_index=True)


def _ae(subj, term, start, end, severity, relation) -> dict:
    return {
        "SUBJID": subj, "AETERM": term, "AESTDTM": start, "AEENDTM": end,
        "AESEV": severity, "AESER": "N", "AEREL": relation, "AEOUT": "RECOVERED/RESOLVED",
    }


def _disposition(subjects: pd.DataFrame, visits: pd.DataFrame, events: list[dict]) -> pd.DataFrame:
    last = visits.groupby("SUBJID")["VISITDT"].max()
    withdrawn = {e["subject"]: e for e in events if e["kind"] == "withdrawal"}
    rows = []
    for subj in subjects["SUBJID"]:
        if subj in withdrawn:
            rows.append({"SUBJID": subj, "DSDECOD": "WITHDRAWAL BY SUBJECT", "DSSTDT": last[subj] + timedelta(days=10),
                         "DSTERM": "Moved away; withdrew consent for further visits"})
        else:
            rows.append({"SUBJID": subj, "DSDECOD": "COMPLETED", "DSSTDT": last[subj], "DSTERM": "Completed follow-up"})
    return pd.DataFrame(rows)


def simulate_trial(spec: TrialSpec, seed: int) -> TrueTrial:
    """Simulate the complete follow-up of ``spec`` with a given seed (deterministic)."""
    rng = np.random.default_rng(seed)
    subjects = _subjects(spec, rng)
    absent, events = _planned_absences(spec, subjects, rng)
    visits = _visits(spec, subjects, absent, rng)
    findings = _continuous(spec, subjects, visits, rng)
    findings = findings.merge(visits, on=["SUBJID", "WEEK"], how="left", validate="many_to_one")
    exposure = _exposure(spec, subjects, rng)
    adverse_events = _adverse_events(spec, subjects, exposure, rng)
    disposition = _disposition(subjects, visits, events)
    if spec.added_params:  # appended after every earlier row: those rows and their index labels stay as they were
        findings = pd.concat([findings, added_findings(spec, seed, subjects, visits, adverse_events)],
                             ignore_index=True)
    return TrueTrial(spec, seed, subjects, visits, findings, exposure, adverse_events, disposition, events)
