"""What each simulated trial looks like: arms, visits, parameters and published targets.

Targets marked ``exact`` are published in the abstracts (see ``resources/published``)
and are hit to the published decimals; the others follow the direction the abstract
states, with plausible clinical values. Anything not in the abstracts is an assumption
and says so. The third trial, ``dose_ranging``, is wholly invented (three arms, for testing)
and calibrated to no publication.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

import numpy as np

MSC, PBO = "UC-MSC", "Placebo"


@dataclass(frozen=True)
class Param:
    """A continuous measurement: one (mean, sd) per arm and visit."""

    testcd: str
    label: str
    unit: str
    source: str  # which raw delivery carries it: lb, central_lab, vs, clamp, imaging
    decimals: int
    weeks: tuple[int, ...]
    means: dict[str, tuple[float, ...]]
    sds: dict[str, tuple[float, ...]]
    lower: float = 0.0
    rho: float = 0.7  # correlation between a subject's visits
    exact: frozenset[tuple[str, int]] = frozenset()  # (arm, week) cells published to 2 decimals
    paired_p: tuple[tuple[str, int, float], ...] = ()  # (arm, week, P): published paired t-test against week 0
    lognormal: bool = False  # right-skewed (enzymes, bilirubin): log-normal with the cell's mean and SD


@dataclass(frozen=True)
class Absence:
    """A planned gap in one subject's follow-up, listed in the manifest as a planted problem.

    ``withdrawal``: no visit after ``week``; ``missed_visit``: no visit at ``week``. The subject
    is drawn from ``arm`` (SUBJID order) between the fractions ``among`` of that arm's list, so
    that, for example, an early enrollee's withdrawal is already visible in the interim cut.
    """

    kind: str  # "withdrawal" or "missed_visit"
    arm: str
    week: int
    among: tuple[Fraction, Fraction] = (Fraction(0), Fraction(1))


@dataclass(frozen=True)
class TrialSpec:
    trial: str
    studyid: str
    title: str
    seed_file: str | None  # the publication's seed file it is calibrated to; None: calibrated to none
    arms: dict[str, int]  # arm -> number randomised
    arm_codes: dict[str, int]  # how the site codes the arm in DM
    weeks: tuple[int, ...]
    visit_window_days: dict[int, int]
    infusion_days: tuple[int, ...]
    enrol_start: date
    enrol_end: date
    cuts: dict[str, date]  # cut label -> cut date; the last one is final
    sites: dict[str, str]
    params: tuple[Param, ...]
    male_counts: dict[str, int] = field(default_factory=dict)
    age_mean_sd: dict[str, tuple[float, float]] = field(default_factory=dict)
    demographics_published: bool = False  # sex counts and age mean/SD hit exactly
    scale: float = 1.0  # > 1 for the benchmark's enlarged trials: published counts scale with it
    subject_prefix: str = "S"  # SUBJID = prefix + 3-digit number
    control: str = PBO  # the arm infused with saline; every other arm is active
    doses: dict[str, float] = field(default_factory=dict)  # arm -> 10^6 cells/kg per infusion (absent: 1.0)
    absences: tuple[Absence, ...] = ()  # withdrawals and missed visits, in the order they are drawn
    hba1c_at_target: dict[str, dict[int, int]] = field(default_factory=dict)  # arm -> week -> subjects < 7.0 %
    steatosis_improved: dict[str, dict[int, int]] = field(default_factory=dict)  # arm -> week -> ultrasound improved
    height: bool = False  # a baseline height in vs
    post_infusion_fever: dict[str, int] = field(default_factory=dict)  # arm -> subjects with fever within 24 h
    fever_infusions: tuple[int, int] = (2, 3)  # first and last infusion number a fever may follow
    hypoglycaemia_arms: tuple[str, ...] = ()  # one hypoglycaemic attack within a month, in a subject of these arms
    # Parameters added after the cuts were first bundled: each is drawn from a random stream of its own
    # (generate.added_findings), so adding one leaves every value of ``params`` and of the cuts as it was.
    added_params: tuple[Param, ...] = ()
    # (low, high) °C: a temperature (TEMP) taken on a calendar day of a post-infusion fever is drawn from this range.
    fever_temperature: tuple[float, float] | None = None


def _const(value: float, n: int) -> tuple[float, ...]:
    return (value,) * n


EFF_WEEKS = (0, 9, 20, 48)

EFFICACY = TrialSpec(
    trial="nafld_efficacy",
    studyid="UCMSC-NAFLD",
    title="UC-MSC infusion in type 2 diabetes with NAFLD (post hoc efficacy analysis)",
    seed_file="000_beb968a2bf6530a9.txt",
    arms={MSC: 33, PBO: 32},
    arm_codes={MSC: 1, PBO: 2},
    weeks=EFF_WEEKS,
    visit_window_days={0: 0, 9: 7, 20: 7, 48: 14},
    # Assumption: the abstract gives no dosing; three infusions four weeks apart.
    infusion_days=(0, 28, 56),
    enrol_start=date(2015, 10, 12),
    enrol_end=date(2017, 11, 30),
    cuts={"2017-06-30": date(2017, 6, 30), "2019-01-15": date(2019, 1, 15)},
    sites={"01": "First Medical Center of Chinese PLA General Hospital"},
    male_counts={MSC: 22, PBO: 22},
    age_mean_sd={MSC: (51.36, 8.85), PBO: (50.47, 8.42)},
    demographics_published=True,
    subject_prefix="E",
    absences=(
        # Withdrawn after week 9, enrolled early: visible in the interim cut.
        Absence("withdrawal", PBO, 9, among=(Fraction(0), Fraction(1, 2))),
        # Week 9: keeps the published week-20 and week-48 group sizes at 33 vs 31.
        Absence("missed_visit", MSC, 9, among=(Fraction(1, 3), Fraction(1))),
    ),
    # Published HbA1c < 7.0 % counts (Zhao 2024): subjects at target per arm and week, out of
    # all randomised (a subject without a value counts as not at target).
    hba1c_at_target={MSC: {0: 0, 9: 20, 20: 17, 48: 16}, PBO: {0: 0, 9: 9, 20: 8, 48: 4}},
    # Published ultrasound improvement at week 20 (15/33 vs 6/32); week 48 is an assumption.
    steatosis_improved={MSC: {20: 15, 48: 13}, PBO: {20: 6, 48: 5}},
    height=True,
    params=(
        Param("GLUC", "Fasting plasma glucose", "mmol/L", "lb", 2, EFF_WEEKS,
              {MSC: (8.33, 7.46, 7.51, 7.80), PBO: (8.21, 8.19, 9.10, 8.95)},
              {MSC: (1.80, 1.79, 1.77, 1.85), PBO: (1.92, 1.95, 2.78, 2.60)}, lower=3.0, rho=0.6,
              exact=frozenset({(MSC, 0), (MSC, 9), (MSC, 20), (PBO, 9), (PBO, 20)}),
              paired_p=((MSC, 9, 0.001),)),
        Param("HBA1C", "Hemoglobin A1c", "%", "central_lab", 1, EFF_WEEKS,
              {MSC: (8.3, 7.1, 7.3, 7.4), PBO: (8.2, 7.8, 7.9, 8.1)},
              {MSC: (0.9, 1.0, 1.1, 1.1), PBO: (0.9, 1.1, 1.2, 1.2)}, lower=7.0, rho=0.6),
        Param("INSULIN", "Fasting insulin", "uU/mL", "central_lab", 1, EFF_WEEKS,
              {MSC: (14.5, 12.8, 12.5, 12.9), PBO: (14.2, 14.0, 14.6, 14.4)},
              {MSC: (6.0, 5.2, 5.0, 5.3), PBO: (5.8, 5.9, 6.2, 6.0)}, lower=2.5),
        Param("TG", "Triglycerides", "mmol/L", "lb", 2, EFF_WEEKS,
              {MSC: (2.45, 1.98, 2.02, 2.05), PBO: (2.40, 2.36, 2.42, 2.38)},
              {MSC: (1.10, 0.95, 0.98, 1.00), PBO: (1.05, 1.04, 1.10, 1.08)}, lower=0.45, rho=0.8),
        Param("CHOL", "Total cholesterol", "mmol/L", "lb", 2, EFF_WEEKS,
              {MSC: (5.10, 4.72, 4.98, 4.70), PBO: (5.05, 5.02, 5.08, 5.04)},
              {MSC: _const(0.95, 4), PBO: _const(0.95, 4)}, lower=2.5, rho=0.8),
        Param("HDL", "HDL cholesterol", "mmol/L", "lb", 2, EFF_WEEKS,
              {MSC: (1.08, 1.10, 1.11, 1.10), PBO: (1.09, 1.08, 1.08, 1.07)},
              {MSC: _const(0.25, 4), PBO: _const(0.25, 4)}, lower=0.5, rho=0.8),
        Param("LDL", "LDL cholesterol", "mmol/L", "lb", 2, EFF_WEEKS,
              {MSC: (3.10, 2.92, 3.02, 2.90), PBO: (3.08, 3.06, 3.10, 3.07)},
              {MSC: _const(0.80, 4), PBO: _const(0.80, 4)}, lower=1.0, rho=0.8),
        Param("ALT", "Alanine aminotransferase", "U/L", "lb", 0, EFF_WEEKS,
              {MSC: (42, 40, 33, 39), PBO: (41, 40, 41, 40)},
              {MSC: (18, 17, 14, 16), PBO: _const(18, 4)}, lower=8, rho=0.75),
        Param("AST", "Aspartate aminotransferase", "U/L", "lb", 0, EFF_WEEKS,
              {MSC: (31, 30, 30, 31), PBO: (30, 31, 30, 31)},
              {MSC: _const(11, 4), PBO: _const(11, 4)}, lower=10, rho=0.75),
        Param("GGT", "Gamma-glutamyl transferase", "U/L", "lb", 0, EFF_WEEKS,
              {MSC: (52, 43, 42, 44), PBO: (50, 50, 51, 50)},
              {MSC: (26, 22, 21, 22), PBO: _const(25, 4)}, lower=8, rho=0.8),
        Param("PLAT", "Platelets", "10^9/L", "lb", 0, EFF_WEEKS,
              {MSC: (228, 230, 232, 229), PBO: (225, 226, 224, 227)},
              {MSC: _const(55, 4), PBO: _const(55, 4)}, lower=80),
        Param("ALB", "Albumin", "g/L", "lb", 1, EFF_WEEKS,
              {MSC: (42.5, 42.7, 42.8, 42.6), PBO: (42.3, 42.4, 42.2, 42.3)},
              {MSC: _const(3.5, 4), PBO: _const(3.5, 4)}, lower=28, rho=0.7),
        Param("GIR", "Clamp glucose infusion rate", "mg/kg/min", "clamp", 2, (0, 9, 48),
              {MSC: (3.60, 4.35, 4.77), PBO: (3.55, 3.70, 3.57)},
              {MSC: (1.55, 1.62, 1.70), PBO: (1.60, 1.65, 1.76)}, lower=0.8,
              exact=frozenset({(MSC, 48), (PBO, 48)})),
        Param("LSM", "Liver stiffness (transient elastography)", "kPa", "imaging", 1, (0, 20, 48),
              {MSC: (8.6, 7.9, 7.6), PBO: (8.4, 8.5, 8.6)},
              {MSC: _const(2.4, 3), PBO: _const(2.4, 3)}, lower=3.0),
        Param("WEIGHT", "Weight", "kg", "vs", 1, EFF_WEEKS,
              {MSC: (78.5, 78.0, 77.6, 77.8), PBO: (77.9, 78.1, 78.3, 78.2)},
              {MSC: _const(11.0, 4), PBO: _const(11.0, 4)}, lower=45, rho=0.95),
        Param("WAIST", "Waist circumference", "cm", "vs", 1, EFF_WEEKS,
              {MSC: (96.0, 95.2, 94.8, 95.0), PBO: (95.5, 95.6, 95.9, 95.8)},
              {MSC: _const(8.0, 4), PBO: _const(8.0, 4)}, lower=65, rho=0.9),
        Param("SYSBP", "Systolic blood pressure", "mmHg", "vs", 0, EFF_WEEKS,
              {MSC: (132, 130, 129, 130), PBO: (131, 131, 132, 131)},
              {MSC: _const(14, 4), PBO: _const(14, 4)}, lower=90, rho=0.5),
        Param("DIABP", "Diastolic blood pressure", "mmHg", "vs", 0, EFF_WEEKS,
              {MSC: (82, 81, 80, 81), PBO: (81, 81, 82, 81)},
              {MSC: _const(9, 4), PBO: _const(9, 4)}, lower=55, rho=0.5),
    ),
)

# Safety trial: group differences follow the abstract's pattern. A "differ" visit puts the
# hUC-MSC mean 0.9 to 1.5 SD from placebo (t-test P well under 0.05 with 24 vs 10); other
# visits differ only by a wobble of about 0.1 SD.
HUC = "hUC-MSC"
SAF_WEEKS = (0, 1, 2, 3, 4, 12, 24)


def _pattern(testcd: str, base: float, sd: float, shift_sd: float, weeks_differ: tuple[int, ...]
             ) -> tuple[dict[str, tuple[float, ...]], dict[str, tuple[float, ...]]]:
    """Means and SDs per arm and visit, with a small fixed visit-to-visit wobble (seeded by the test code)."""
    wobble = np.random.default_rng(zlib.crc32(testcd.encode()))
    means, sds = {}, {}
    for arm in (HUC, PBO):
        shifts = [shift_sd if (arm == HUC and w in weeks_differ) else 0.0 for w in SAF_WEEKS]
        noise = [0.0] + list(wobble.normal(0, 0.07, len(SAF_WEEKS) - 1))
        means[arm] = tuple(base + sd * (s + e) for s, e in zip(shifts, noise))
        sds[arm] = tuple(sd * f for f in wobble.uniform(0.9, 1.1, len(SAF_WEEKS)))
    return means, sds


def _safety_param(testcd, label, unit, source, decimals, base, sd, shift_sd=0.0, weeks_differ=(), lower=0.0, rho=0.6,
                  lognormal=False):
    means, sds = _pattern(testcd, base, sd, shift_sd, weeks_differ)
    return Param(testcd, label, unit, source, decimals, SAF_WEEKS, means, sds, lower=lower, rho=rho,
                 lognormal=lognormal)


SAFETY = TrialSpec(
    trial="t2dm_safety",
    studyid="HUCMSC-T2DM",
    title="Safety of hUC-MSC infusion in type 2 diabetes (phase 2)",
    seed_file="001_12be7326dd9301d2.txt",
    arms={HUC: 24, PBO: 10},
    arm_codes={HUC: 1, PBO: 0},
    weeks=SAF_WEEKS,
    visit_window_days={0: 0, 1: 2, 2: 2, 3: 2, 4: 3, 12: 7, 24: 14},
    infusion_days=(0, 7, 14),  # once a week for 3 weeks
    enrol_start=date(2019, 9, 2),
    enrol_end=date(2020, 12, 18),
    cuts={"2020-09-30": date(2020, 9, 30), "2021-07-30": date(2021, 7, 30)},
    sites={"01": "Peking University Shenzhen Hospital", "02": "Longgang District Central Hospital of Shenzhen"},
    # Assumption: sex and age are not in the abstract.
    male_counts={HUC: 14, PBO: 6},
    age_mean_sd={HUC: (52.0, 9.5), PBO: (51.0, 9.0)},
    subject_prefix="S",
    absences=(Absence("missed_visit", PBO, 12),),
    # Lian 2023: transient fever in 4 of 24 within 24 h after the 2nd or 3rd infusion; one
    # hypoglycaemic attack within a month of transplantation.
    post_infusion_fever={HUC: 4},
    fever_infusions=(2, 3),
    hypoglycaemia_arms=(HUC,),
    params=(
        _safety_param("LYM", "Lymphocytes", "10^9/L", "lb", 2, 2.10, 0.55, -1.3, (2, 3), lower=0.5),
        _safety_param("NEUT", "Neutrophils", "10^9/L", "lb", 2, 3.80, 1.00, 0.9, (2, 3), lower=1.2),
        _safety_param("PLAT", "Platelets", "10^9/L", "lb", 0, 230, 50, 1.3, (3,), lower=90),
        _safety_param("IGG", "Immunoglobulin G", "g/L", "central_lab", 2, 12.5, 2.4, 1.3, (1, 2, 3, 4), lower=5.0),
        _safety_param("IGA", "Immunoglobulin A", "g/L", "central_lab", 2, 2.40, 0.80, 1.3, (1, 2, 3, 4), lower=0.5),
        _safety_param("IGM", "Immunoglobulin M", "g/L", "central_lab", 2, 1.10, 0.40, 1.3, (1, 2, 3, 4), lower=0.3),
        _safety_param("TT", "Thrombin time", "s", "lb", 1, 17.0, 1.2, -1.3, (2,), lower=12.0),
        _safety_param("FIBRINO", "Fibrinogen", "g/L", "lb", 2, 3.00, 0.60, 1.3, (2, 3), lower=1.5),
        _safety_param("DDIMER", "D-dimer", "mg/L FEU", "lb", 2, 0.80, 0.25, 1.5, (1, 2, 3, 4, 12, 24), lower=0.2),
        _safety_param("AFP", "Alpha-fetoprotein", "ng/mL", "central_lab", 2, 3.20, 1.50, lower=0.6),
        _safety_param("CEA", "Carcinoembryonic antigen", "ng/mL", "central_lab", 2, 2.10, 1.00, lower=0.3),
        _safety_param("CA199", "Carbohydrate antigen 19-9", "U/mL", "central_lab", 2, 12.0, 7.0, lower=1.0),
        _safety_param("TG", "Triglycerides", "mmol/L", "lb", 2, 2.10, 1.00, lower=0.45, rho=0.8),
        _safety_param("CHOL", "Total cholesterol", "mmol/L", "lb", 2, 4.90, 0.95, lower=2.5, rho=0.8),
        _safety_param("HDL", "HDL cholesterol", "mmol/L", "lb", 2, 1.12, 0.25, lower=0.5, rho=0.8),
        _safety_param("LDL", "LDL cholesterol", "mmol/L", "lb", 2, 2.95, 0.80, lower=1.0, rho=0.8),
        _safety_param("GLUC", "Fasting plasma glucose", "mmol/L", "lb", 2, 8.60, 2.20, lower=3.5),
        _safety_param("HBA1C", "Hemoglobin A1c", "%", "central_lab", 1, 8.3, 1.3, lower=6.0),
        _safety_param("WEIGHT", "Weight", "kg", "vs", 1, 70.0, 11.0, lower=42, rho=0.95),
    ),
    # Liver function and vital signs, added for the report (Lian 2023: "no liver damage"; signs evaluated
    # weekly). Assumptions, not published: typical T2DM values, the same in both arms at every visit.
    added_params=(
        _safety_param("ALT", "Alanine aminotransferase", "U/L", "lb", 0, 26, 11, lower=5, rho=0.75, lognormal=True),
        _safety_param("AST", "Aspartate aminotransferase", "U/L", "lb", 0, 23, 7, lower=8, rho=0.75, lognormal=True),
        _safety_param("TBIL", "Total bilirubin", "umol/L", "lb", 1, 12.0, 4.2, lower=2.0, rho=0.7, lognormal=True),
        _safety_param("ALB", "Albumin", "g/L", "lb", 1, 42.0, 3.2, lower=30, rho=0.7),
        _safety_param("SYSBP", "Systolic blood pressure", "mmHg", "vs", 0, 131, 14, lower=95, rho=0.5),
        _safety_param("DIABP", "Diastolic blood pressure", "mmHg", "vs", 0, 80, 9, lower=55, rho=0.5),
        _safety_param("PULSE", "Pulse rate", "beats/min", "vs", 0, 77, 10, lower=50, rho=0.5),
        _safety_param("TEMP", "Temperature", "C", "vs", 1, 36.5, 0.25, lower=35.8, rho=0.2),
    ),
    # Assumption: a fever within 24 h of an infusion (Lian 2023: transient) reads 37.5-38.5 °C.
    fever_temperature=(37.5, 38.5),
)

# Dose-ranging trial: SYNTHETIC, for testing the pipeline on three arms. It is calibrated to no
# publication: arms, sizes, visits, doses, effects and adverse-event counts are all assumptions,
# chosen to be clinically plausible and to give a visible dose-response for some parameters.
HIGH, LOW = "High dose", "Low dose"
DOSE_ARMS = (HIGH, LOW, PBO)
DOSE_WEEKS = (0, 4, 12, 24)


def _dose_param(testcd, label, unit, source, decimals, base, sd, change=None, lower=0.0, rho=0.6):
    """Means and SDs per arm and visit: ``base`` plus the arm's ``change`` from week 0 (absent: none).

    Every cell gets a small fixed wobble (about 0.05 SD, seeded by the test code) so that
    arms without an effect do not have identical means.
    """
    change = change or {}
    wobble = np.random.default_rng(zlib.crc32(f"dose_ranging:{testcd}".encode()))
    means, sds = {}, {}
    for arm in DOSE_ARMS:
        shifts = change.get(arm, _const(0.0, len(DOSE_WEEKS)))
        noise = [0.0] + list(wobble.normal(0, 0.05, len(DOSE_WEEKS) - 1))
        means[arm] = tuple(base + d + sd * e for d, e in zip(shifts, noise))
        sds[arm] = tuple(sd * f for f in wobble.uniform(0.92, 1.08, len(DOSE_WEEKS)))
    return Param(testcd, label, unit, source, decimals, DOSE_WEEKS, means, sds, lower=lower, rho=rho)


DOSE_RANGING = TrialSpec(
    trial="dose_ranging",
    studyid="SYN-HUCMSC-DR",
    title="hUC-MSC dose-ranging in type 2 diabetes (synthetic, for testing only)",
    seed_file=None,  # calibrated to no publication
    arms={HIGH: 24, LOW: 24, PBO: 24},
    arm_codes={HIGH: 2, LOW: 1, PBO: 0},
    weeks=DOSE_WEEKS,
    visit_window_days={0: 0, 4: 3, 12: 7, 24: 14},
    infusion_days=(0, 7, 14),  # once a week for 3 weeks
    enrol_start=date(2021, 3, 1),
    enrol_end=date(2022, 4, 29),
    cuts={"2021-11-30": date(2021, 11, 30), "2022-11-30": date(2022, 11, 30)},
    sites={"01": "Synthetic Site A (fictitious)", "02": "Synthetic Site B (fictitious)"},
    male_counts={HIGH: 13, LOW: 14, PBO: 12},
    age_mean_sd={HIGH: (53.0, 9.0), LOW: (52.5, 9.5), PBO: (53.5, 8.5)},
    subject_prefix="D",
    doses={HIGH: 2.0, LOW: 1.0, PBO: 0.0},  # 10^6 cells/kg per infusion
    absences=(
        Absence("withdrawal", LOW, 4, among=(Fraction(0), Fraction(1, 2))),  # early enrollee: in the interim cut
        Absence("missed_visit", HIGH, 12, among=(Fraction(0), Fraction(1, 4))),
    ),
    post_infusion_fever={HIGH: 6, LOW: 3, PBO: 1},  # subjects with fever within 24 h: more with dose
    fever_infusions=(1, 3),
    hypoglycaemia_arms=(HIGH, LOW),
    params=(
        # Dose-response: glycaemia falls with dose, C-peptide rises, lymphocytes dip at week 4 only.
        _dose_param("HBA1C", "Hemoglobin A1c", "%", "central_lab", 1, 8.4, 1.1,
                    {HIGH: (0, -0.4, -0.9, -1.1), LOW: (0, -0.2, -0.5, -0.6), PBO: (0, -0.1, -0.2, -0.2)},
                    lower=5.0, rho=0.75),
        _dose_param("GLUC", "Fasting plasma glucose", "mmol/L", "lb", 2, 9.2, 2.3,
                    {HIGH: (0, -0.9, -1.5, -1.7), LOW: (0, -0.5, -0.8, -0.9), PBO: (0, -0.1, -0.3, -0.2)},
                    lower=3.5),
        _dose_param("CPEP", "Fasting C-peptide", "ng/mL", "central_lab", 2, 1.90, 0.80,
                    {HIGH: (0, 0.20, 0.45, 0.50), LOW: (0, 0.10, 0.22, 0.25)}, lower=0.3, rho=0.7),
        _dose_param("LYM", "Lymphocytes", "10^9/L", "lb", 2, 2.05, 0.55,
                    {HIGH: (0, -0.55, -0.05, 0.0), LOW: (0, -0.30, 0.0, 0.0)}, lower=0.5),
        # No effect.
        _dose_param("NEUT", "Neutrophils", "10^9/L", "lb", 2, 3.90, 1.00, lower=1.2),
        _dose_param("PLAT", "Platelets", "10^9/L", "lb", 0, 235, 52, lower=90),
        _dose_param("ALT", "Alanine aminotransferase", "U/L", "lb", 0, 28, 12, lower=7, rho=0.75),
        _dose_param("CREAT", "Creatinine", "umol/L", "lb", 0, 72, 16, lower=35, rho=0.85),
        _dose_param("CRP", "C-reactive protein", "mg/L", "lb", 1, 3.2, 2.2, lower=0.3, rho=0.5),
        _dose_param("TG", "Triglycerides", "mmol/L", "lb", 2, 2.00, 0.95, lower=0.45, rho=0.8),
        _dose_param("CHOL", "Total cholesterol", "mmol/L", "lb", 2, 4.85, 0.95, lower=2.5, rho=0.8),
        _dose_param("IGG", "Immunoglobulin G", "g/L", "central_lab", 2, 12.4, 2.3, lower=5.0),
        _dose_param("WEIGHT", "Weight", "kg", "vs", 1, 71.0, 11.5, lower=42, rho=0.95),
        _dose_param("SYSBP", "Systolic blood pressure", "mmHg", "vs", 0, 131, 14, lower=90, rho=0.5),
    ),
)

TRIALS = {spec.trial: spec for spec in (EFFICACY, SAFETY, DOSE_RANGING)}


def scaled(spec: TrialSpec, n_subjects: int) -> TrialSpec:
    """The same trial with ``n_subjects`` randomised in the same proportions, for benchmarks.

    Published cells are no longer hit exactly (that is a property of the real trial size);
    counts such as responders scale with the trial.
    """
    factor = n_subjects / sum(spec.arms.values())
    arms = {arm: max(2, round(n * factor)) for arm, n in spec.arms.items()}
    males = {arm: min(arms[arm], round(n * factor)) for arm, n in spec.male_counts.items()}
    params = tuple(dataclasses.replace(p, exact=frozenset(), paired_p=()) for p in spec.params)
    return dataclasses.replace(spec, arms=arms, male_counts=males, params=params, demographics_published=False,
                               scale=factor)
