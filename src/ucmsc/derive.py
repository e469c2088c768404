"""Analysis datasets (ADaM-style) from the clean domains: ADSL, a long BDS dataset, ADAE.

Naming follows admiral: ``compute_*`` works on values, ``derive_*`` takes a dataset and
returns it with variables or parameter records added. No I/O here. A derived value that
cannot be computed (an input missing, a formula undefined) is left missing and logged as a
data query saying why; no inf or NaN goes through silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ucmsc import adamspec
from ucmsc import dates as isodates
from ucmsc.checks import CENSORED, shown_text
from ucmsc.io import by_code, codes_of, reordered, sort_order, sorted_categories, stack_frames
from ucmsc.paramcodes import DERIVATIONS, derived_inputs, derived_label, is_yes_no
from ucmsc.plan import load_exposure, load_populations
from ucmsc.queries import QueryLog
from ucmsc.subjects import COMPLETED, SCREEN_FAILURE, disposition_records, end_of_study

TG_MG_DL_PER_MMOL_L = 88.57  # triglyceride molar mass ~885.7 g/mol
GLUCOSE_MG_DL_PER_MMOL_L = 18.016  # glucose 180.16 g/mol


# --- formulas (vectors in, vector out; undefined -> NaN) -----------------------------

def compute_homa_ir(glucose_mmol_l, insulin_uu_ml):
    """HOMA-IR = glucose (mmol/L) x insulin (uU/mL) / 22.5 (Matthews et al., Diabetologia 1985)."""
    return np.asarray(glucose_mmol_l, dtype=float) * np.asarray(insulin_uu_ml, dtype=float) / 22.5


def compute_homa_beta(glucose_mmol_l, insulin_uu_ml):
    """HOMA-%B = 20 x insulin (uU/mL) / (glucose (mmol/L) - 3.5) (Matthews 1985); undefined for glucose <= 3.5."""
    glucose = np.asarray(glucose_mmol_l, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(glucose > 3.5, 20 * np.asarray(insulin_uu_ml, dtype=float) / (glucose - 3.5), np.nan)


def compute_tyg(tg_mmol_l, glucose_mmol_l):
    """TyG index = ln(TG mg/dL x glucose mg/dL / 2) (Simental-Mendia et al., Metab Syndr Relat Disord 2008)."""
    product = (np.asarray(tg_mmol_l, dtype=float) * TG_MG_DL_PER_MMOL_L
               * np.asarray(glucose_mmol_l, dtype=float) * GLUCOSE_MG_DL_PER_MMOL_L / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(product > 0, np.log(product), np.nan)


def compute_bmi(weight_kg, height_cm):
    """BMI = weight (kg) / height (m)^2 (WHO)."""
    height_m = np.asarray(height_cm, dtype=float) / 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(height_m > 0, np.asarray(weight_kg, dtype=float) / height_m**2, np.nan)


def compute_nlr(neutrophils, lymphocytes):
    """Neutrophil-to-lymphocyte ratio = neutrophils / lymphocytes, both 10^9/L (Zahorec, Bratisl Lek Listy 2001)."""
    lym = np.asarray(lymphocytes, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lym > 0, np.asarray(neutrophils, dtype=float) / lym, np.nan)


def compute_fib4(age_years, ast_u_l, alt_u_l, platelets_10e9_l):
    """FIB-4 = age x AST / (platelets x sqrt(ALT)) (Sterling et al., Hepatology 2006)."""
    alt = np.asarray(alt_u_l, dtype=float)
    plat = np.asarray(platelets_10e9_l, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((plat > 0) & (alt > 0), np.asarray(age_years, dtype=float) * np.asarray(ast_u_l, dtype=float)
                        / (plat * np.sqrt(alt)), np.nan)


def compute_apri(ast_u_l, ast_uln_u_l, platelets_10e9_l):
    """APRI = (AST / AST upper limit of normal) x 100 / platelets (Wai et al., Hepatology 2003)."""
    plat = np.asarray(platelets_10e9_l, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(plat > 0, np.asarray(ast_u_l, dtype=float) / ast_uln_u_l * 100 / plat, np.nan)


def compute_nafld_fibrosis_score(age_years, bmi, diabetes, ast_u_l, alt_u_l, platelets_10e9_l, albumin_g_l):
    """NFS = -1.675 + 0.037 age + 0.094 BMI + 1.13 IFG/diabetes + 0.99 AST/ALT - 0.013 platelets - 0.66 albumin (g/dL)
    (Angulo et al., Hepatology 2007)."""
    alt = np.asarray(alt_u_l, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(alt > 0, np.asarray(ast_u_l, dtype=float) / alt, np.nan)
    return (-1.675 + 0.037 * np.asarray(age_years, dtype=float) + 0.094 * np.asarray(bmi, dtype=float)
            + 1.13 * np.asarray(diabetes, dtype=float) + 0.99 * ratio
            - 0.013 * np.asarray(platelets_10e9_l, dtype=float)
            - 0.66 * np.asarray(albumin_g_l, dtype=float) / 10)


# --- ADSL ---------------------------------------------------------------------------

def raw_column(config: dict, domain: str, variable: str) -> str:
    """The raw column the trial's ``domain`` source maps to ``variable`` ('' when none does), for queries."""
    return next((s["columns"][variable] for s in config.get("sources", []) if s["domain"] == domain
                 and variable in s.get("columns", {})), "")


def _complete(text: pd.Series) -> pd.Series:
    """ISO 8601 values known at least to the day (a partial date is not a dose date)."""
    return isodates.parse_iso(text)["precision"].isin(["D", "h", "m", "s"])


def exposure_dates(ex: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per subject: the first dose start, the last dose start or end (EXENDTC when delivered, complete dates only)
    and the number of EX records."""
    starts = pd.to_datetime(ex["EXSTDTC"].where(_complete(ex["EXSTDTC"])), errors="coerce")
    ends = starts
    if "EXENDTC" in ex:
        ends = pd.concat([starts, pd.to_datetime(ex["EXENDTC"].where(_complete(ex["EXENDTC"])),
                                                 errors="coerce")], axis=1).max(axis=1)
    by_subject = ex["USUBJID"]
    return (starts.groupby(by_subject).min(), ends.groupby(by_subject).max(), by_subject.value_counts())


# CDISC CT FREQ (C71113): days between single doses of an EX record given at a frequency from EXSTDTC to EXENDTC
DOSING_INTERVAL_DAYS = {"QD": 1, "QOD": 2, "QW": 7, "Q2W": 14, "Q3W": 21, "Q4W": 28}
SINGLE_DOSE_FREQUENCIES = ("", "ONCE")  # one administration per EX record


def doses_per_record(ex: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Single doses each EX record stands for, and why a record could not be expanded ('' when it could).

    One per record, unless EXDOSFRQ is an interval frequency of ``DOSING_INTERVAL_DAYS`` and EXENDTC is complete:
    then floor((EXENDTC - EXSTDTC) / interval) + 1, as admiral's create_single_dose_dataset expands them. Another
    frequency, or an interval record without complete dates, counts one dose and says why."""
    count = pd.Series(1, index=ex.index, dtype=float)
    problem = pd.Series("", index=ex.index, dtype=object)
    if "EXDOSFRQ" not in ex:
        return count, problem
    frequency = ex["EXDOSFRQ"].fillna("").astype(str).str.strip().str.upper()
    interval = frequency.map(DOSING_INTERVAL_DAYS)
    start = pd.to_datetime(ex["EXSTDTC"].where(_complete(ex["EXSTDTC"])), errors="coerce").dt.normalize()
    end_text = ex["EXENDTC"] if "EXENDTC" in ex else pd.Series("", index=ex.index)
    end = pd.to_datetime(end_text.where(_complete(end_text.fillna(""))), errors="coerce").dt.normalize()
    days = (end - start).dt.days
    expandable = interval.notna() & days.notna() & (days >= 0)
    count[expandable] = np.floor(days[expandable] / interval[expandable]) + 1
    problem[interval.notna() & ~expandable] = ("EXDOSFRQ " + frequency + " without a complete EXSTDTC and a "
                                               "complete EXENDTC on or after it")
    problem[interval.isna() & ~frequency.isin(SINGLE_DOSE_FREQUENCIES)] = ("EXDOSFRQ " + frequency
                                                                           + " is not an interval frequency")
    return count, problem


def exposure_amounts(ex: pd.DataFrame) -> pd.DataFrame:
    """Per subject with EX records: NUMDOSE (single doses, ``doses_per_record``), CUMDOSE (sum of EXDOSE x doses)
    and CUMDOSU (EXDOSU). CUMDOSE is missing when an EXDOSE is missing or the subject's records have different units
    (CUMDOSU then blank)."""
    doses, _ = doses_per_record(ex)
    unit = ex["EXDOSU"].fillna("").astype(str).str.strip()
    frame = pd.DataFrame({"USUBJID": ex["USUBJID"], "DOSES": doses, "UNIT": unit,
                          "AMOUNT": pd.to_numeric(ex["EXDOSE"], errors="coerce") * doses})
    by_subject = frame.groupby("USUBJID")
    units = by_subject["UNIT"].first().where(by_subject["UNIT"].nunique() == 1, "")  # one unit, else blank
    complete = by_subject["AMOUNT"].count() == by_subject["AMOUNT"].size()  # no dose missing
    cumulative = by_subject["AMOUNT"].sum().where(complete & (units != ""))
    return pd.DataFrame({"NUMDOSE": by_subject["DOSES"].sum().astype(int), "CUMDOSE": cumulative, "CUMDOSU": units})


def derive_adsl(sdtm: dict[str, pd.DataFrame], config: dict) -> pd.DataFrame:
    """One row per subject of DM: every DM variable, treatment, exposure dates and disposition.

    TRTSDTM/TRTEDTM: first and last dose (EX); TRTSDT/TRTEDT their dates; TRTDURD = TRTEDT - TRTSDT + 1 (ADaM IG);
    NEXREC: EX records; NUMDOSE, CUMDOSE, CUMDOSU: single doses, cumulative dose and its unit (``exposure_amounts``;
    0 doses and 0 dose without EX records). EOSSTT/DCSREAS/EOSDT from the subject's last disposition event
    (``ucmsc.subjects``).
    """
    dm, ex, ds = sdtm["DM"], sdtm["EX"], sdtm["DS"]
    adsl = dm.drop(columns=[c for c in ("DOMAIN", "SRCFILE", "SRCROW") if c in dm]).copy()
    adsl["TRT01P"] = adsl["ARM"]
    # ADaM IG: TRT01A is the actual treatment (ACTARM when delivered); the analyses group by the planned arm
    adsl["TRT01A"] = adsl["ACTARM"].where(adsl["ACTARM"].fillna("") != "", adsl["ARM"]) if "ACTARM" in adsl \
        else adsl["ARM"]
    first, last, records = exposure_dates(ex)
    adsl["TRTSDTM"] = adsl["USUBJID"].map(first)
    adsl["TRTEDTM"] = adsl["USUBJID"].map(last)
    adsl["TRTSDT"] = adsl["TRTSDTM"].dt.normalize()
    adsl["TRTEDT"] = adsl["TRTEDTM"].dt.normalize()
    adsl["TRTDURD"] = (adsl["TRTEDT"] - adsl["TRTSDT"]).dt.days + 1  # ADaM IG: TRTEDT - TRTSDT + 1
    adsl["NEXREC"] = adsl["USUBJID"].map(records).fillna(0).astype(int)
    amounts = exposure_amounts(ex)
    adsl["NUMDOSE"] = adsl["USUBJID"].map(amounts["NUMDOSE"]).fillna(0).astype(int)
    adsl["CUMDOSE"] = adsl["USUBJID"].map(amounts["CUMDOSE"]).where(adsl["USUBJID"].isin(amounts.index), 0.0)
    adsl["CUMDOSU"] = adsl["USUBJID"].map(amounts["CUMDOSU"]).fillna("")
    # A subject whose arm is not one the plan compares (queried in cleaning, or a listed arm not analysed such as
    # screen failures) is in no analysis population.
    planned = adsl["ARM"].isin([a["arm"] for a in config["arms"]])
    expected = {a["arm"]: a["reason"] for a in config.get("not_analysed_arms", [])}
    arm = adsl["ARM"].fillna("")
    adsl["EXCLREAS"] = np.select([planned, arm.isin(list(expected)), arm == ""],
                                 ["", arm.map(expected).astype(object).fillna(""), "arm missing"],
                                 default="arm '" + arm + "' is not compared by the plan")
    status = end_of_study(ds, config)
    decod = adsl["USUBJID"].map(status["DSDECOD"])
    # as admiral's format_eosstt: a screen failure has no end-of-study status
    adsl["EOSSTT"] = np.select([decod.isna(), decod == COMPLETED, decod == SCREEN_FAILURE],
                               ["ONGOING", "COMPLETED", ""], default="DISCONTINUED")
    adsl["DCSREAS"] = decod.where(adsl["EOSSTT"] == "DISCONTINUED", "").fillna("")
    ended = adsl["USUBJID"].map(status["DSSTDTC"]).fillna("")
    adsl["EOSDT"] = ended.where(_complete(ended), "").str.slice(0, 10)  # a date; a partial one stays in DS
    return adsl


def derive_population_flags(adsl: pd.DataFrame, bds: pd.DataFrame, config: dict, log: QueryLog,
                            dm: pd.DataFrame | None = None) -> pd.DataFrame:
    """The trial's population flags (``populations``, ucmsc.plan), each Y or N, all within the randomised set.

    Rules: randomised (an arm the plan compares), treated (and at least one EX record), baseline_and_post (treated,
    with a baseline and a post-baseline value of any parameter), every_visit (baseline_and_post with an assessment
    at every scheduled visit). A delivered flag (``from``) counts Y; for a subject of a compared arm, a blank (no
    SUPPDM record) or another value than Y or N is queried and counts as N, and Y without any EX record is queried.
    ``dm`` (the clean DM) lets the queries name the raw file and row.
    """
    adsl = adsl.copy(deep=False)  # copy-on-write: the caller's frame stays as it was
    where = (dm.set_index("USUBJID")[["SRCFILE", "SRCROW"]] if dm is not None
             else pd.DataFrame(columns=["SRCFILE", "SRCROW"]))
    planned = adsl["ARM"].isin([a["arm"] for a in config["arms"]])
    treated = planned & (adsl["NEXREC"] > 0)
    measured = bds.loc[bds["AVAL"].notna() & (bds["PARCAT1"] != "RESPONSE"), ["USUBJID", "AVISITN"]
                       ].groupby("USUBJID")["AVISITN"]
    has_base_and_post = adsl["USUBJID"].map(measured.min().eq(0) & measured.max().gt(0)).astype(object) \
        .fillna(False).astype(bool)
    fas = treated & has_base_and_post
    every_visit = fas & adsl["USUBJID"].map(measured.nunique()).eq(len(config.get("visits", [])))
    rules = {"randomised": planned, "treated": treated, "baseline_and_post": fas, "every_visit": every_visit}
    for population in load_populations(config):
        if population.source:
            delivered = adsl[population.source].fillna("").astype(str).str.strip().str.upper()
            column = raw_column(config, "DM", population.source)
            odd = planned & ~delivered.isin(["Y", "N"])
            for record in adsl[odd].to_dict("records"):
                value = record[population.source]
                located = where.loc[record["USUBJID"]].to_dict() if record["USUBJID"] in where.index else {}
                problem = "blank (no record delivered)" if value in ("", None) else "not Y or N"
                log.add("ADSL", record | located, population.source, value, "codes",
                        f"{population.source} is {problem} for a subject of a compared arm", f"{population.flag} = N",
                        column)
            undosed = planned & (delivered == "Y") & (adsl["NEXREC"] == 0) & (population.flag == "SAFFL")
            for record in adsl[undosed].to_dict("records"):
                located = where.loc[record["USUBJID"]].to_dict() if record["USUBJID"] in where.index else {}
                log.add("ADSL", record | located, population.source, "Y", "exposure",
                        f"{population.source} = Y but the subject has no EX record", "kept in SAFFL as delivered",
                        column)
            member = planned & (delivered == "Y")
        else:
            member = rules[population.rule]
        adsl[population.flag] = np.where(member, "Y", "N")
    return adsl


def derive_vars_baseline(adsl: pd.DataFrame, bds: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The baseline value of each parameter of ``names`` (PARAMCD -> ADSL variable: GLUCBL, INSBL, ...)."""
    adsl = adsl.copy(deep=False)  # copy-on-write: the caller's frame stays as it was
    base = bds[bds["ABLFL"] == "Y"].set_index(["PARAMCD", "USUBJID"])["AVAL"]
    for paramcd, name in names.items():
        adsl[name] = (adsl["USUBJID"].map(base[paramcd]) if paramcd in base.index.get_level_values(0) else np.nan)
    return adsl


def group_index(values, cuts: list[float], closed) -> np.ndarray:
    """1-based group of each value between the increasing ``cuts`` (NaN where the value is missing).

    ``closed`` says which group a value exactly at a cut falls into: "left" (intervals [a, b): the group above
    the cut), "right" (intervals (a, b]: the group below), or a list with one of these per cut. The CDISC pilot's
    AGEGR1 "<65", "65-80", ">80" is cuts [65, 80], closed [left, right]: 65 and 80 are both in "65-80".
    """
    x = np.asarray(values, dtype=float)
    sides = [closed] * len(cuts) if isinstance(closed, str) else list(closed)
    above = sum(((x > cut) | ((x == cut) & (side == "left"))).astype(int) for cut, side in zip(cuts, sides))
    return np.where(np.isnan(x), np.nan, 1 + above)


def derive_vars_groups(adsl: pd.DataFrame, groups: dict[str, dict]) -> pd.DataFrame:
    """<NAME> and <NAME>N for each entry of the trial's ``adsl_groups``, as ADaM's AGEGR1 / AGEGR1N: the label of
    the interval between ``cuts`` the subject's ``variable`` falls into (boundaries by ``closed``, see
    ``group_index``) and its number 1, 2, ...; blank and NaN where the variable is missing. A group whose variable
    ADSL lacks is not derived (``run_derive`` logs it; an analysis of it says so in the ARD)."""
    adsl = adsl.copy(deep=False)  # copy-on-write: the caller's frame stays as it was
    for name, spec in groups.items():
        if spec["variable"] not in adsl:
            continue
        source = adsl[spec["variable"]]
        values = pd.to_numeric(source, errors="coerce")
        text = source[values.isna() & source.notna() & source.astype(str).str.strip().ne("")]  # blank: missing
        if len(text):
            raise ValueError(f"adsl_groups.{name}: {spec['variable']} is not numeric in ADSL (e.g. {text.iloc[0]!r})")
        number = group_index(values, spec["cuts"], spec["closed"])
        labels = np.array([""] + list(spec["labels"]), dtype=object)
        adsl[name] = labels[np.nan_to_num(number, nan=0).astype(int)]
        adsl[f"{name}N"] = number
    return adsl


# --- BDS ----------------------------------------------------------------------------

PARCAT = {"LB": "LABORATORY", "VS": "VITAL SIGNS", "XP": "PROCEDURES"}
BDS_ORDER = ["STUDYID", "USUBJID", "ARM", "TRTP", "TRTA", "PARCAT1", "PARAMCD", "PARAM", "AVISITN", "AVISIT", "ADT",
             "ADY", "AVAL", "AVALC", "AVALU", "DTYPE", "BASE", "CHG", "PCHG", "ABLFL", "ANL01FL", "A1LO", "A1HI",
             "ANRIND", "SRCDOM", "SRCVAR", "SRCSEQ"]

# BDS text variables held as categorical columns (codes into their distinct values) in memory
BDS_CATEGORIES = ("STUDYID", "USUBJID", "ARM", "TRTP", "TRTA", "PARCAT1", "PARAMCD", "PARAM", "AVISIT", "AVALU",
                  "DTYPE", "ABLFL", "ANL01FL", "ANRIND", "SRCDOM", "SRCVAR")


def _held_as_categories(bds: pd.DataFrame) -> bool:
    """Whether the long dataset holds its text as categories (derive_bds does; a caller's plain frame does not)."""
    return "PARAMCD" in bds and isinstance(bds["PARAMCD"].dtype, pd.CategoricalDtype)


def _as_held(bds: pd.DataFrame, codes: np.ndarray, texts: list[str]) -> pd.Categorical | np.ndarray:
    """A new text column for ``bds``, ``texts[code]`` for each record: categories when ``bds`` holds its text so,
    else the texts themselves."""
    if _held_as_categories(bds):
        return pd.Categorical.from_codes(codes, categories=pd.Index(texts, dtype="str"))
    return np.array(texts)[codes]


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with categorical columns as the values they stand for (for small selections of the long dataset)."""
    held = {c: frame[c].astype(frame[c].cat.categories.dtype) for c in frame.columns
            if isinstance(frame[c].dtype, pd.CategoricalDtype)}
    return frame.assign(**held) if held else frame


def _append(bds: pd.DataFrame, new: pd.DataFrame | None) -> pd.DataFrame:
    """``new`` records after those of ``bds``. A column ``bds`` holds as categories stays so (its categories extended
    by ``new``'s values): the long dataset is never turned back into text to add a parameter."""
    if new is None:
        return bds
    extended, recoded = {}, {}
    for column in bds.columns:
        held = bds[column]
        if not isinstance(held.dtype, pd.CategoricalDtype):
            continue
        values = new[column] if column in new else pd.Series(np.nan, index=new.index, dtype=object)
        if isinstance(values.dtype, pd.CategoricalDtype):  # recoded through its categories, not its values
            fresh = values.cat.categories.difference(held.cat.categories)
        else:
            fresh = pd.Index(pd.unique(values.dropna())).difference(held.cat.categories)
        if len(fresh):
            held = extended[column] = held.cat.add_categories(fresh)
        if isinstance(values.dtype, pd.CategoricalDtype):
            position = held.cat.categories.get_indexer(values.cat.categories)
            recoded[column] = pd.Categorical.from_codes(by_code(position, values.cat.codes.to_numpy(), -1),
                                                        categories=held.cat.categories)
        else:
            recoded[column] = pd.Categorical(values, categories=held.cat.categories)
    plain = {c: new[c].astype(new[c].cat.categories.dtype) for c in new.columns
             if c not in recoded and isinstance(new[c].dtype, pd.CategoricalDtype)}
    return pd.concat([bds.assign(**extended), new.assign(**recoded, **plain)], ignore_index=True)


def findings_to_bds(sdtm: dict[str, pd.DataFrame], config: dict) -> pd.DataFrame:
    """Stack LB, VS and XP into one long dataset: one record per subject, parameter and visit.

    A censored result ('<x') is analysed at half its limit of quantification (AVAL = LLOQ/2,
    DTYPE = 'LLOQ/2'); the reported text stays in AVALC. Text of few distinct values (``BDS_CATEGORIES``) is held
    as categories from here on.
    """
    parts = []
    for domain in ("LB", "VS", "XP"):
        frame = sdtm[domain]
        if frame.empty:
            continue
        p = domain

        def constant(text: str, n: int = len(frame)) -> pd.Categorical:
            return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=pd.Index([text], dtype="str"))

        part = pd.DataFrame({
            "USUBJID": frame["USUBJID"].astype("category"), "PARAMCD": frame[f"{p}TESTCD"].astype("category"),
            "PARAM": _param_names(frame[f"{p}TEST"], frame[f"{p}STRESU"]),
            "PARCAT1": constant(PARCAT[domain]), "AVISITN": frame["VISITNUM"].astype(int),
            "AVISIT": frame["VISIT"].astype("category"), "ADT": frame[f"{p}DTC"], "ADY": frame[f"{p}DY"],
            "AVAL": frame[f"{p}STRESN"].astype(float), "AVALC": frame[f"{p}STRESC"],
            "AVALU": frame[f"{p}STRESU"].astype("category"), "SRCDOM": constant(domain),
            "SRCVAR": constant(f"{p}STRESN"), "SRCSEQ": frame[f"{p}SEQ"] if f"{p}SEQ" in frame else np.nan,
        })
        censored = (part["AVAL"].isna() & frame[f"{p}LLOQ"].notna()).to_numpy()
        part["DTYPE"] = pd.Categorical.from_codes(censored.astype(np.int8), categories=pd.Index(["", "LLOQ/2"],
                                                                                                  dtype="str"))
        part.loc[censored, "AVAL"] = frame.loc[censored, f"{p}LLOQ"] / 2
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=BDS_ORDER).assign(A1LO=np.nan, A1HI=np.nan)
    bds = stack_frames(parts)
    normal = {t: spec.get("normal") for t, spec in config.get("tests", {}).items()}
    codes, paramcds = bds["PARAMCD"].cat.codes.to_numpy(), bds["PARAMCD"].cat.categories
    for limit, side in (("A1LO", 0), ("A1HI", 1)):  # each parameter's range looked up once, taken by code
        per_code = [float(normal[c][side]) if normal.get(c) else np.nan for c in paramcds]
        bds[limit] = by_code(per_code, codes, np.nan)
    return bds


def _param_names(tests: pd.Series, units: pd.Series) -> pd.Categorical:
    """PARAM, "<test> (<unit>)" (missing when either is), built once per distinct pair of test and unit."""
    pairs, distinct = pd.factorize(_pair_key(tests, units))
    first = np.zeros(len(distinct), dtype=np.int64)
    first[pairs] = np.arange(len(pairs))  # a record of each pair (all of a pair's records hold the same texts)
    test, unit = (pd.Series(np.asarray(v.iloc[first], dtype=object), dtype="str") for v in (tests, units))
    names, shown = pd.factorize(test + " (" + unit + ")")
    return pd.Categorical.from_codes(names[pairs], categories=pd.Index(shown, dtype="str"))


@dataclass(frozen=True)
class DerivedParam:
    paramcd: str
    param: str
    unit: str
    inputs: tuple[str, ...]  # PARAMCDs at the same visit; "AGE" comes from ADSL, "HEIGHT" from baseline
    formula: Callable[[pd.DataFrame], np.ndarray]
    undefined: str  # why the formula can be undefined with all inputs present


def _ast_uln(spec: dict, config: dict) -> float:
    normal = config.get("tests", {}).get("AST", {}).get("normal")
    if "ast_uln" in spec:
        return float(spec["ast_uln"])
    if not normal:
        raise ValueError("derivation apri needs the AST upper limit of normal: set ast_uln or tests.AST.normal")
    return float(normal[1])


def _apri(spec: dict, config: dict) -> tuple[Callable[[pd.DataFrame], np.ndarray], str]:
    uln = _ast_uln(spec, config)  # read (and checked) when the derivation is set up, not per call
    return (lambda w: compute_apri(w["AST"], uln, w["PLAT"])), "platelets of zero"


# The formulas of the named derivations (ucmsc.paramcodes.DERIVATIONS): spec and trial config -> (formula, why
# undefined).
FORMULAS: dict[str, Callable[[dict, dict], tuple[Callable[[pd.DataFrame], np.ndarray], str]]] = {
    "homa_ir": lambda spec, config: (lambda w: compute_homa_ir(w["GLUC"], w["INSULIN"]), ""),
    "homa_beta": lambda spec, config: (lambda w: compute_homa_beta(w["GLUC"], w["INSULIN"]),
                                       "glucose at or below 3.5 mmol/L"),
    "tyg": lambda spec, config: (lambda w: compute_tyg(w["TG"], w["GLUC"]), "non-positive TG or glucose"),
    "bmi": lambda spec, config: (lambda w: compute_bmi(w["WEIGHT"], w["HEIGHT"]), "height of zero"),
    "nlr": lambda spec, config: (lambda w: compute_nlr(w["NEUT"], w["LYM"]), "lymphocyte count of zero"),
    "fib4": lambda spec, config: (lambda w: compute_fib4(w["AGE"], w["AST"], w["ALT"], w["PLAT"]),
                                  "platelets or ALT of zero"),
    "apri": _apri,
    "nafld_fibrosis_score": lambda spec, config: (
        lambda w, diabetes=float(spec["diabetes"]): compute_nafld_fibrosis_score(
            w["AGE"], w["BMI"], diabetes, w["AST"], w["ALT"], w["PLAT"], w["ALB"]), "ALT of zero"),
}


def _derived_params(config: dict) -> list[DerivedParam]:
    """The trial's derived numeric parameters (``derived:``), each after the derived parameters it needs."""
    derived = {code: spec for code, spec in config.get("derived", {}).items() if not is_yes_no(spec)}
    ordered: list[str] = []

    def visit(code: str, path: tuple[str, ...] = ()) -> None:
        if code in ordered or code not in derived:
            return
        if code in path:
            raise ValueError(f"derived: {' -> '.join(path + (code,))} is circular")
        for needed in derived_inputs(derived[code]):
            visit(needed, path + (code,))
        ordered.append(code)
    for code in derived:
        visit(code)
    params = []
    for code in ordered:
        spec = derived[code]
        formula, undefined = FORMULAS[spec["derivation"]](spec, config)
        params.append(DerivedParam(code, derived_label(spec), DERIVATIONS[spec["derivation"]]["unit"],
                                   derived_inputs(spec), formula, undefined))
    return params


def derive_param(bds: pd.DataFrame, adsl: pd.DataFrame, spec: DerivedParam, log: QueryLog) -> pd.DataFrame:
    """Add the records of one derived parameter at every visit where any of its inputs was measured.

    Where an input is missing or the formula is undefined the record is not created and a
    data query names the subject, visit and reason.
    """
    new = derived_records([bds], adsl, spec, log)
    return bds if new is None else _append(bds, new)


def _of_subject(subjects: pd.Series, by_subject: pd.Series) -> pd.Series:
    """``by_subject``'s value for each record's subject (missing where it has none): ``subjects.map(by_subject)``,
    taken by subject code when the subjects are categories."""
    if isinstance(subjects.dtype, pd.CategoricalDtype) and (subjects.cat.codes >= 0).all():
        by_subject = by_subject.set_axis(by_subject.index.astype(object))
        return pd.Series(by_subject.reindex(subjects.cat.categories.astype(object)).to_numpy()[subjects.cat.codes],
                         index=subjects.index)
    return subjects.astype(object).map(by_subject)


def _selected(sources: list[pd.DataFrame], paramcds: list[str], columns: list[str]) -> pd.DataFrame:
    """The records of ``paramcds`` in ``sources`` (the long dataset, then records added to it), in that order."""
    parts = [s.loc[s["PARAMCD"].isin(paramcds), [c for c in columns if c in s]] for s in sources]
    if len(parts) == 1:
        return parts[0]
    held = [c for c in parts[0].columns if isinstance(parts[0][c].dtype, pd.CategoricalDtype)]
    return stack_frames([parts[0]] + [p.astype({c: "category" for c in held if c in p}) for p in parts[1:]])


def derived_records(sources: list[pd.DataFrame], adsl: pd.DataFrame, spec: DerivedParam, log: QueryLog
                    ) -> pd.DataFrame | None:
    """The records of one derived parameter from its inputs in ``sources`` (the long dataset and the records already
    derived for it); None when an input parameter has no record at all (one query says so)."""
    visit_inputs = [p for p in spec.inputs if p not in ("AGE", "HEIGHT")]
    measured = set().union(*(s["PARAMCD"].unique() for s in sources))
    absent = sorted(set(spec.inputs) - {"AGE"} - measured)
    if absent:  # one query for the whole parameter, not one per subject and visit
        log.add("ADBDS", {}, spec.paramcd, "", "derivation", f"{spec.paramcd} not derived for any record: no "
                f"{', '.join(absent)} results in this cut", "parameter missing")
        return None
    sub = _selected(sources, visit_inputs, ["USUBJID", "AVISITN", "PARAMCD", "AVISIT", "AVAL"]
                    ).drop_duplicates(["USUBJID", "AVISITN", "PARAMCD"])
    sub = sub.assign(PARAMCD=_plain(sub[["PARAMCD"]])["PARAMCD"])  # the parameters become columns below
    wide = sub.set_index(["USUBJID", "AVISITN", "PARAMCD"])["AVAL"].unstack("PARAMCD").reset_index()
    # by subject and visit as unstack orders text (missing first); it keeps a categorical level's order of
    # appearance: the queries' order and numbers must not depend on which domain a subject's records came from first
    wide = wide.iloc[sort_order(wide, ["USUBJID", "AVISITN"], missing_first=True)].reset_index(drop=True)
    wide.columns.name = None
    wide["AVISIT"] = wide["AVISITN"].map(sub.drop_duplicates("AVISITN").set_index("AVISITN")["AVISIT"])
    for p in visit_inputs:
        if p not in wide:
            wide[p] = np.nan
    if "AGE" in spec.inputs:
        wide["AGE"] = _of_subject(wide["USUBJID"], adsl.set_index("USUBJID")["AGE"])
    if "HEIGHT" in spec.inputs:
        heights = _selected(sources, ["HEIGHT"], ["USUBJID", "AVAL"])
        wide["HEIGHT"] = _of_subject(wide["USUBJID"], heights.groupby("USUBJID", observed=True)["AVAL"].first())
    values = np.asarray(spec.formula(wide), dtype=float)
    missing_inputs = wide[list(spec.inputs)].isna()
    for i in np.flatnonzero(~np.isfinite(values)):
        absent = [p for p in spec.inputs if missing_inputs.iloc[i][p]]
        row = wide.iloc[i]
        reason = f"{', '.join(absent)} missing" if absent else f"formula undefined: {spec.undefined}"
        shown = "; ".join(f"{p}={row[p]:g}" for p in spec.inputs if not missing_inputs.iloc[i][p])
        log.add("ADBDS", {"USUBJID": row["USUBJID"]}, spec.paramcd, shown, "derivation",
                f"{spec.paramcd} at {row['AVISIT']} not derived: {reason}", "derived value missing")
    keep = np.isfinite(values)
    new = wide.loc[keep, ["USUBJID", "AVISITN", "AVISIT"]].copy()
    new["AVAL"] = values[keep]
    new["PARAMCD"], new["PARAM"], new["AVALU"] = spec.paramcd, spec.param, spec.unit
    new["PARCAT1"], new["SRCDOM"] = "DERIVED", ""
    new["AVALC"], new["DTYPE"] = "", ""
    return new


def derive_baseline_and_change(bds: pd.DataFrame) -> pd.DataFrame:
    """ANL01FL on the analysed record of each subject, parameter and visit; ABLFL on the analysed week-0 record;
    BASE its AVAL, CHG = AVAL - BASE, PCHG = 100 x CHG / BASE (missing when BASE is 0, as admiral)."""
    bds = bds.copy(deep=False)  # copy-on-write: the caller's frame stays as it was
    # ADaMIG 1.1 section 3.3.8: ANL01FL marks the record analysed, one per subject, parameter and analysis visit
    # (with AVAL; of several, the latest dated)
    present = bds.loc[bds["AVAL"].notna(), [c for c in ("USUBJID", "PARAMCD", "AVISITN", "ADT") if c in bds]]
    if "ADT" in present:  # by date, undated first (the sort of the distinct dates, as codes)
        dated, _ = pd.factorize(present["ADT"], sort=True)
        present = present.iloc[np.argsort(dated, kind="stable")]
    chosen = present.drop_duplicates(["USUBJID", "PARAMCD", "AVISITN"], keep="last").index
    analysed = np.zeros(len(bds), dtype=bool)
    analysed[bds.index.get_indexer(chosen)] = True
    bds["ANL01FL"] = _as_held(bds, analysed.astype(np.int8), ["", "Y"])
    # ADaMIG 1.1 section 3.3.4: one baseline record per subject and parameter, the one BASE comes from
    baseline = (bds["AVISITN"] == 0).to_numpy() & analysed
    bds["ABLFL"] = _as_held(bds, baseline.astype(np.int8), ["", "Y"])
    key = _pair_key(bds["USUBJID"], bds["PARAMCD"])
    base_key, base_value = key[baseline], bds["AVAL"].to_numpy()[baseline]
    order = np.argsort(base_key, kind="stable")
    base_key, base_value = base_key[order], base_value[order]
    at = np.minimum(np.searchsorted(base_key, key), max(len(base_key) - 1, 0))
    found = base_key[at] == key if len(base_key) else np.zeros(len(key), dtype=bool)
    bds["BASE"] = np.where(found, base_value[at] if len(base_key) else np.nan, np.nan)
    bds["CHG"] = np.where(bds["AVISITN"] > 0, bds["AVAL"] - bds["BASE"], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        bds["PCHG"] = np.where((bds["AVISITN"] > 0) & (bds["BASE"] != 0), 100 * bds["CHG"] / bds["BASE"], np.nan)
    return bds


def _pair_key(first: pd.Series, second: pd.Series) -> np.ndarray:
    """One integer per record for the pair of values (a missing value a value of its own)."""
    (first_codes, _), (second_codes, second_values) = codes_of(first), codes_of(second)
    return (first_codes.astype(np.int64) + 1) * (len(second_values) + 1) + second_codes + 1


def derive_range_indicator(bds: pd.DataFrame) -> pd.DataFrame:
    """ANRIND: LOW / NORMAL / HIGH against the reference range A1LO-A1HI (blank without a range)."""
    bds = bds.copy(deep=False)  # copy-on-write: the caller's frame stays as it was
    bds["ANRIND"] = _as_held(bds, np.select(
        [bds["A1LO"].isna() | bds["AVAL"].isna(), bds["AVAL"] < bds["A1LO"], bds["AVAL"] > bds["A1HI"]],
        [0, 1, 2], default=3).astype(np.int8), ["", "LOW", "HIGH", "NORMAL"])
    return bds


def derive_param_yes_no(bds: pd.DataFrame, paramcd: str, spec: dict, log: QueryLog | None = None) -> pd.DataFrame:
    """Add a yes/no parameter (AVAL 1/0, AVALC Y/N) from the trial's ``derived:`` entry.

    target_attainment: at every visit of ``parameter``, AVAL below ``below`` (or above ``above``), e.g. HbA1c < 7.0 %.
    grade_change: at every post-baseline visit with a baseline, the grade at least ``by`` below (improvement) or above
    (worsening) baseline, e.g. ultrasound steatosis improved by one grade.
    """
    new = yes_no_records([bds], paramcd, spec, log)
    return bds if new is None else _append(bds, new)


def yes_no_records(sources: list[pd.DataFrame], paramcd: str, spec: dict, log: QueryLog | None = None
                   ) -> pd.DataFrame | None:
    """The records of a yes/no parameter from ``sources`` (the long dataset and the records already added to it);
    None when there is no analysed record to derive it from. At a visit whose records of the parameter have no number,
    a censored result decides a target when its bound does ('>14' is not below 7.0); otherwise, or when a grade change
    has no baseline grade, the visit is not derived and, with ``log``, queried."""
    source = _selected(sources, [spec["parameter"]], ["USUBJID", "AVISITN", "AVISIT", "ADT", "AVAL", "AVALC", "BASE",
                                                      "ANL01FL"])
    settled = _visits_without_number(source, paramcd, spec, log)
    if "ANL01FL" in source:
        source = source[source["ANL01FL"] == "Y"]  # the analysed records only
    if spec["derivation"] == "target_attainment":
        label = derived_label(spec) or (f"{spec['parameter']} < {spec['below']:g}" if "below" in spec
                                        else f"{spec['parameter']} > {spec['above']:g}")
        met = source["AVAL"] < spec["below"] if "below" in spec else source["AVAL"] > spec["above"]
    elif spec["derivation"] == "grade_change":
        source = source[(source["AVISITN"] > 0) & source["BASE"].notna()]
        improve = spec["direction"] == "improvement"
        label = derived_label(spec) or (f"{spec['parameter']} {'improved' if improve else 'worsened'} "
                                        f"by at least {spec['by']}")
        met = (source["AVAL"] <= source["BASE"] - spec["by"] if improve
               else source["AVAL"] >= source["BASE"] + spec["by"])
    else:
        raise ValueError(f"derived.{paramcd}: {spec['derivation']} is not a yes/no derivation")
    source = source[source["AVAL"].notna()]
    if source.empty and settled.empty:
        return None
    new = source[["USUBJID", "AVISITN", "AVISIT", "ADT"]].assign(AVAL=met[source.index].astype(float))
    if not settled.empty:
        new = pd.concat([new.astype({c: object for c in ("USUBJID", "AVISIT")}), settled], ignore_index=True)
    new["PARAMCD"], new["PARAM"] = paramcd, label
    new["AVALC"] = np.where(new["AVAL"] == 1, "Y", "N")
    new["PARCAT1"], new["SRCDOM"], new["DTYPE"], new["ANL01FL"], new["ABLFL"] = "RESPONSE", "", "", "Y", ""
    return new


def _met_by_bound(reported: str, spec: dict) -> float:
    """1.0 or 0.0 when a censored result ('>14', '<=0.5') decides the target whatever its value, else NaN."""
    match = CENSORED.match(reported)  # as cleaning reads '<x' and '>x'
    if not match or spec["derivation"] != "target_attainment":
        return np.nan
    sign, bound = match.group(1), float(match.group(2))
    if "below" in spec:  # met: value < t
        t = spec["below"]
        decided = {">": (bound >= t, 0.0), ">=": (bound >= t, 0.0), "<": (bound <= t, 1.0), "<=": (bound < t, 1.0)}
    else:  # met: value > t
        t = spec["above"]
        decided = {">": (bound >= t, 1.0), ">=": (bound > t, 1.0), "<": (bound <= t, 0.0), "<=": (bound <= t, 0.0)}
    holds, value = decided[sign]
    return value if holds else np.nan


def _visits_without_number(source: pd.DataFrame, paramcd: str, spec: dict, log: QueryLog | None) -> pd.DataFrame:
    """The subject-visits of the input where no record has a number: those a censored bound decides, as records
    (USUBJID, AVISITN, AVISIT, ADT, AVAL); a query for each of the others, and for each post-baseline grade without
    a baseline grade (grade_change)."""
    columns = ["USUBJID", "AVISITN", "AVISIT", "ADT", "AVAL"]
    blank = source[source["AVAL"].isna()]
    if spec["derivation"] == "grade_change":
        blank = pd.concat([blank[blank["AVISITN"] > 0],
                           source[source["AVAL"].notna() & (source["AVISITN"] > 0) & source["BASE"].isna()]])
    if blank.empty:
        return pd.DataFrame(columns=columns)
    others = source[source["AVAL"].notna() & source["USUBJID"].isin(blank["USUBJID"].unique())]
    if spec["derivation"] == "grade_change":
        others = others[others["BASE"].notna()]
    numbered = set(zip(others["USUBJID"].tolist(), others["AVISITN"].tolist()))
    reported_text = blank["AVALC"].astype(object).fillna("").astype(str) if "AVALC" in blank else pd.Series(
        "", index=blank.index)
    dates = blank["ADT"].astype(object).tolist() if "ADT" in blank else [None] * len(blank)
    settled, seen = [], set()
    for subject, visitn, visit, when, value, text in zip(blank["USUBJID"].tolist(), blank["AVISITN"].tolist(),
                                                         blank["AVISIT"].tolist(), dates, blank["AVAL"].tolist(),
                                                         reported_text.tolist()):
        if (subject, visitn) in numbered or (subject, visitn) in seen:
            continue
        seen.add((subject, visitn))
        met = _met_by_bound(text, spec) if pd.isna(value) else np.nan
        if not np.isnan(met):
            settled.append((subject, visitn, visit, when, met))
        elif log is not None:
            why = (f"{spec['parameter']} has no baseline grade" if not pd.isna(value)
                   else f"{spec['parameter']} has no numeric value" + (f" ({text})" if text else ""))
            log.add("ADBDS", {"USUBJID": subject}, paramcd, shown_text(text if pd.isna(value) else value),
                    "derivation", f"{paramcd} at {visit} not derived: {why}", "derived value missing")
    return pd.DataFrame(settled, columns=columns)


def derive_bds(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame, config: dict, log: QueryLog) -> pd.DataFrame:
    # few distinct values per column over millions of records: held as categories (codes) from the start, written
    # back as text; parameters are added and variables derived on the codes
    bds = findings_to_bds(sdtm, config)
    bds = _append(bds, _added(bds, [lambda sources, spec=spec: derived_records(sources, adsl, spec, log)
                                    for spec in _derived_params(config)]))
    bds = derive_baseline_and_change(bds)
    bds = derive_range_indicator(bds)
    bds = _append(bds, _added(bds, [lambda sources, c=paramcd, spec=spec: yes_no_records(sources, c, spec, log)
                                    for paramcd, spec in config.get("derived", {}).items() if is_yes_no(spec)]))
    bds = bds.assign(**treatments_of_records(bds["USUBJID"], adsl))
    bds = bds.reindex(columns=BDS_ORDER)
    for column in ("AVALC", "AVALU", "DTYPE", "ABLFL", "ANL01FL", "ANRIND", "SRCDOM", "SRCVAR"):
        values = bds[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            if values.isna().any():
                bds[column] = (values if "" in values.cat.categories else values.cat.add_categories([""])).fillna("")
        else:
            bds[column] = values.fillna("").astype(str)
    days, dates = pd.factorize(bds["ADT"])  # each distinct date text completed once
    bds["ADT"] = isodates.complete_date(pd.Series(dates, dtype=object)).array.take(days, allow_fill=True)
    bds = bds.assign(**{c: sorted_categories(bds[c].astype("category")) for c in BDS_CATEGORIES})
    return reordered(bds, sort_order(bds, ["USUBJID", "PARAMCD", "AVISITN"]))


def _added(bds: pd.DataFrame, derivations: list[Callable[[list[pd.DataFrame]], pd.DataFrame | None]]
           ) -> pd.DataFrame | None:
    """The records of each derivation in turn, each seeing the long dataset and the records added before it, as one
    frame: the long dataset is copied once for all of them, not once per parameter."""
    added = []
    for derivation in derivations:
        new = derivation([bds, *added])
        if new is not None:
            added.append(new)
    return pd.concat(added, ignore_index=True) if added else None


def treatments_of_records(subjects: pd.Series, adsl: pd.DataFrame) -> dict[str, pd.Categorical]:
    """STUDYID, ARM, TRTP (TRT01P) and TRTA (TRT01A) of each record's subject, as categories: ADSL's values taken by
    subject code (a left join on USUBJID; missing where the subject is not in ADSL)."""
    if adsl["USUBJID"].duplicated().any():
        raise ValueError(f"ADSL has more than one row for subject(s) "
                         f"{sorted(adsl.loc[adsl['USUBJID'].duplicated(), 'USUBJID'].unique())[:5]}")
    codes, ids = codes_of(subjects)
    rows = pd.Index(adsl["USUBJID"]).get_indexer(ids)  # ADSL row of each subject code, -1 where it has none
    taken = {}
    for variable, source in (("STUDYID", "STUDYID"), ("ARM", "ARM"), ("TRTP", "TRT01P"), ("TRTA", "TRT01A")):
        value_codes, values = pd.factorize(adsl[source])
        per_subject = by_code(value_codes, rows, -1)
        taken[variable] = pd.Categorical.from_codes(by_code(per_subject, codes, -1), categories=values)
    return taken


# --- ADAE ---------------------------------------------------------------------------

def _term_key(term) -> str:
    """Dictionary lookup key of a reported term: case and runs of spaces ignored."""
    return " ".join(str(term).split()).casefold()


def code_adverse_events(adae: pd.DataFrame, dictionary: dict, log: QueryLog, column: str = "") -> pd.DataFrame:
    """AEDECOD and AEBODSYS as delivered (MedDRA coding of an SDTM AE domain; AEBODSYS falls back to AESOC); what the
    delivery leaves blank is coded from the trial's dictionary of reported terms (``ae_dictionary``, looked up by
    AETERM, then by the delivered AEDECOD, ignoring case), variable by variable; what neither gives is UNCODED and a
    data query saying which variable is missing (``column``: the raw AETERM column)."""
    adae = adae.copy(deep=False)  # copy-on-write: the caller's frame stays as it was
    lookup = {_term_key(term): entry for term, entry in (dictionary or {}).items()}
    blank = pd.Series("", index=adae.index)

    def delivered(variable: str) -> pd.Series:
        return adae[variable].fillna("").astype(str).str.strip() if variable in adae else blank

    decod, bodsys = delivered("AEDECOD"), delivered("AEBODSYS")
    bodsys = bodsys.where(bodsys != "", delivered("AESOC"))
    by_term = adae["AETERM"].map(lambda t: lookup.get(_term_key(t), {}))
    by_decod = decod.map(lambda t: lookup.get(_term_key(t), {}) if t else {})
    decod = decod.where(decod != "", by_term.map(lambda e: e.get("decod", "")))
    bodsys = bodsys.where(bodsys != "", by_term.map(lambda e: e.get("soc", "")))
    bodsys = bodsys.where(bodsys != "", by_decod.map(lambda e: e.get("soc", "")))
    adae["AEDECOD"], adae["AEBODSYS"] = decod.replace("", "UNCODED"), bodsys.replace("", "UNCODED")
    for record in adae[(decod == "") | (bodsys == "")].to_dict("records"):
        missing = " and ".join(v for v, value in (("AEDECOD", record["AEDECOD"]), ("AEBODSYS", record["AEBODSYS"]))
                               if value == "UNCODED")
        log.add("ADAE", record, "AETERM", record["AETERM"], "coding",
                f"{missing} neither delivered nor in the trial's AE dictionary", f"{missing} = UNCODED; add the "
                "term to the trial's ae_dictionary", column)
    return adae


def impute_dates(text: pd.Series, rule: dict | None, bounds: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """An SDTM --DTC as an ADaM datetime by the plan's imputation rule (``imputation.<variable>``: date_imputation,
    highest_imputation, time_imputation, min_dates, max_dates naming ADSL variables), with the date and time
    imputation flags. Without a rule a partial date stays missing (only a missing time is imputed, as 00:00)."""
    rule = rule or {}
    highest = rule.get("highest_imputation", "n")
    return isodates.impute_datetime(
        text, highest_imputation="h" if highest == "n" else highest,  # "n": no date part imputed, a time may be
        date_imputation=rule.get("date_imputation", "first"), time_imputation=rule.get("time_imputation", "first"),
        min_dates=[bounds[v] for v in rule.get("min_dates", [])] or None,
        max_dates=[bounds[v] for v in rule.get("max_dates", [])] or None)


def dose_numbers(ex: pd.DataFrame) -> pd.DataFrame:
    """EX with DOSENUM: each record's number among its subject's records (1 = first), in order of EXSEQ (the
    sequence of the subject's doses), then EXSTDTC. A dose with a partial date is no dose date for LDOSEDTM, but keeps
    its number, so the doses after it keep theirs."""
    ordered = ex.assign(_START=ex["EXSTDTC"].fillna("").astype(str),
                        _SEQ=pd.to_numeric(ex["EXSEQ"], errors="coerce") if "EXSEQ" in ex else 0.0)
    ordered = ordered.sort_values(["USUBJID", "_SEQ", "_START"], kind="stable")
    ordered["DOSENUM"] = ordered.groupby("USUBJID").cumcount() + 1.0
    return ordered.drop(columns=["_START", "_SEQ"]).reindex(ex.index)


def treatment_emergent_by_rule(adae: pd.DataFrame, until_days: int | None = None) -> pd.Series:
    """Onset on or after the first dose (compared as dates when the onset has no time), and within ``until_days`` of
    the last dose when given. An onset that stays unknown after imputation counts as treatment-emergent unless the
    event ended before the first dose (admiral's derive_var_trtemfl) or its partial date (AESTDTC) lies wholly
    before the first dose or after the window. Nothing is treatment-emergent without a dose."""
    first, onset = adae["TRTSDTM"], adae["ASTDTM"]
    by_date = adae["ASTTMF"] != ""
    on_or_after = pd.Series(np.where(by_date, onset.dt.normalize() >= first.dt.normalize(), onset >= first),
                            index=adae.index)
    ended_before = (adae["AENDTM"].notna() & (adae["AENDTM"].dt.normalize() < first.dt.normalize())) | \
        isodates.before(adae["AEENDTC"].fillna(""), first)
    unknown = onset.isna() & ~ended_before & ~isodates.before(adae["AESTDTC"].fillna(""), first)
    if until_days is not None:
        limit = adae["TRTEDTM"].dt.normalize() + pd.to_timedelta(until_days, "D")
        unknown &= ~isodates.after(adae["AESTDTC"].fillna(""), limit)
        on_or_after &= onset.dt.normalize() <= limit
    return first.notna() & ((onset.notna() & on_or_after) | unknown)


def derive_adae(ae: pd.DataFrame, adsl: pd.DataFrame, ex: pd.DataFrame, dictionary: dict, log: QueryLog,
                config: dict | None = None) -> pd.DataFrame:
    """Adverse events with coding, analysis dates, treatment-emergence and timing relative to the latest dose.

    ASTDTM/AENDTM with ASTDTF/ASTTMF and AENDTF/AENTMF: the reported dates imputed by the plan's rules
    (``imputation``), flagged as ADaM does. TRTEMFL: onset on or after the first dose (on the same date when the
    onset has no time), or the delivered flag the config names (``adverse_events.treatment_emergent.from``).
    LDOSEDTM: the latest dose start before onset; LDOSENUM: its number (``dose_numbers``); DOSEDY: whole days since
    it; ``exposure.ae_window`` adds a flag for onsets within that many hours of a dose (e.g. INF24FL). Coding:
    ``code_adverse_events``.
    """
    config = config or {}
    imputation = config.get("imputation", {})
    limits = [v for r in imputation.values() for v in (*r.get("min_dates", []), *r.get("max_dates", []))]
    carried = ["ARM", "TRT01A", "SAFFL", "TRTSDTM", "TRTEDTM"]
    merged = ae.merge(adsl[["USUBJID"] + [c for c in dict.fromkeys(carried + limits) if c in adsl]], on="USUBJID",
                      how="left", validate="many_to_one")
    adae = code_adverse_events(merged, dictionary, log, raw_column(config, "AE", "AETERM"))
    bounds = pd.DataFrame({v: pd.to_datetime(adae[v], errors="coerce") for v in dict.fromkeys(limits)},
                          index=adae.index)
    adae["ASTDTM"], adae["ASTDTF"], adae["ASTTMF"] = impute_dates(adae["AESTDTC"], imputation.get("AESTDTC"), bounds)
    adae["AENDTM"], adae["AENDTF"], adae["AENTMF"] = impute_dates(adae["AEENDTC"], imputation.get("AEENDTC"), bounds)
    column = raw_column(config, "AE", "AESTDTC")
    for record in adae[adae["ASTDTM"].isna()].to_dict("records"):
        partial = record["AESTDTC"] not in ("", None)
        log.add("ADAE", record, "AESTDTC", record["AESTDTC"], "imputation" if partial else "required_value",
                ("partial onset date not imputed by the plan's rules (imputation.AESTDTC)" if partial
                 else "onset date missing"),
                "ASTDTM missing; treatment-emergent unless the event ended before the first dose", column)
    emergent = config.get("adverse_events", {}).get("treatment_emergent", {})
    adae["TRTEMFL"] = np.where(treatment_emergent_by_rule(adae, emergent.get("until_days_after_last_dose")), "Y", "")
    if emergent.get("from"):
        flag = adae[emergent["from"]].fillna("").astype(str).str.strip().str.upper()
        for record in adae[~flag.isin(["Y", "N"])].to_dict("records"):
            problem = "blank (no record delivered)" if not record[emergent["from"]] else "not Y or N"
            log.add("ADAE", record, emergent["from"], record[emergent["from"]], "codes",
                    f"{emergent['from']} is {problem}",
                    f"TRTEMFL by the rule instead: {record['TRTEMFL'] or 'not'} treatment-emergent",
                    raw_column(config, "AE", emergent["from"]))
        adae["TRTEMFL"] = np.where(flag == "Y", "Y", np.where(flag == "N", "", adae["TRTEMFL"]))
    doses = dose_numbers(ex)
    doses = doses.assign(DTM=pd.to_datetime(doses["EXSTDTC"].where(_complete(doses["EXSTDTC"])), errors="coerce"))[
        ["USUBJID", "DTM", "DOSENUM"]].dropna(subset=["DTM"]).sort_values("DTM")
    onsets = (adae[["ASTDTM", "USUBJID"]].astype({"ASTDTM": "datetime64[ns]"}).reset_index()
              .dropna(subset=["ASTDTM"]).sort_values("ASTDTM"))
    doses = doses.astype({"DTM": "datetime64[ns]"})
    latest = pd.merge_asof(onsets, doses, left_on="ASTDTM", right_on="DTM", by="USUBJID", direction="backward")
    adae["LDOSEDTM"] = latest.set_index("index")["DTM"].reindex(adae.index)
    adae["LDOSENUM"] = latest.set_index("index")["DOSENUM"].reindex(adae.index)
    hours = (adae["ASTDTM"] - adae["LDOSEDTM"]).dt.total_seconds() / 3600
    adae["DOSEDY"] = np.floor(hours / 24)
    exposure = load_exposure(config)
    if exposure.window_flag:
        adae[exposure.window_flag] = np.where(hours.notna() & (hours <= exposure.window_hours), "Y", "")
    adae = adae.rename(columns={"TRT01A": "TRTA"})
    # traced to AE by AESEQ (ADaM OCCDS); the raw file and row stay in the clean AE domain
    return adae.drop(columns=[c for c in dict.fromkeys(["TRTSDTM", "TRTEDTM", *limits]) if c in adae and c not in ae]
                     + [c for c in ("DOMAIN", "SRCFILE", "SRCROW") if c in adae])


def account_for_records(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame, bds: pd.DataFrame,
                        adae: pd.DataFrame) -> None:
    """Stop unless every clean record reached its analysis dataset: one ADSL row per DM subject, one BDS
    record per findings record (with its numeric value where the finding has one), one ADAE row per AE."""
    problems = []
    if sorted(adsl["USUBJID"]) != sorted(sdtm["DM"]["USUBJID"]):
        problems.append(f"ADSL has {len(adsl)} subjects, DM {len(sdtm['DM'])}")
    for domain in PARCAT:
        found = bds[bds["SRCDOM"] == domain]
        if len(found) != len(sdtm[domain]):
            problems.append(f"ADBDS has {len(found)} records from {domain}, {domain} has {len(sdtm[domain])}")
        elif (found["AVAL"].isna() & found["SRCSEQ"].notna()).sum() > sdtm[domain][f"{domain}STRESN"].isna().sum():
            problems.append(f"ADBDS lost numeric values of {domain} records")
    if len(adae) != len(sdtm["AE"]):
        problems.append(f"ADAE has {len(adae)} events, AE {len(sdtm['AE'])}")
    if problems:
        raise AssertionError("derivations lost records: " + "; ".join(problems))


# SDTMIG 3.2 section 5 (DM): ACTARM values of subjects given no arm; not a treatment different from the randomised one
NOT_GIVEN = ("SCREEN FAILURE", "NOT ASSIGNED", "NOT TREATED")


def derive_datasets(sdtm: dict[str, pd.DataFrame], config: dict, dictionary: dict, spec: dict | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, QueryLog]:
    """ADSL, the long BDS dataset and ADAE from one cut's clean domains, with the derivation queries; ADSL and ADAE
    carry exactly the variables of the ADaM spec (``spec``: config/adam/spec.yaml when not given)."""
    queries = QueryLog(prefix="D")
    ds, where = sdtm["DS"], config.get("disposition", {}).get("where")
    if len(ds) and where and not disposition_records(ds, config).any():
        queries.add("ADSL", {}, "DSCAT", "", "disposition",
                    f"disposition.where {where} selects none of the {len(ds)} DS records",
                    "every subject's status at the cut is ONGOING")
    for record in sdtm["EX"][~_complete(sdtm["EX"]["EXSTDTC"])].to_dict("records"):
        queries.add("ADSL", record, "EXSTDTC", record["EXSTDTC"], "dates", "dose start date is partial",
                    "not used for the first or last dose (TRTSDTM, TRTEDTM)", raw_column(config, "EX", "EXSTDTC"))
    ex = sdtm["EX"]
    _, frequency_problems = doses_per_record(ex)
    expanded = frequency_problems != ""
    for record, problem in zip(ex[expanded].to_dict("records"), frequency_problems[expanded]):
        queries.add("ADSL", record, "EXDOSFRQ", record.get("EXDOSFRQ", ""), "exposure", problem,
                    "counted as one dose in NUMDOSE and CUMDOSE", raw_column(config, "EX", "EXDOSFRQ"))
    for record in ex[pd.to_numeric(ex["EXDOSE"], errors="coerce").isna()].to_dict("records"):
        queries.add("ADSL", record, "EXDOSE", record["EXDOSE"], "exposure", "dose missing",
                    "CUMDOSE missing for the subject", raw_column(config, "EX", "EXDOSE"))
    units = ex.assign(U=ex["EXDOSU"].fillna("").astype(str).str.strip()).groupby("USUBJID")["U"].nunique()
    for record in ex[ex["USUBJID"].isin(units[units > 1].index)].drop_duplicates("USUBJID").to_dict("records"):
        queries.add("ADSL", record, "EXDOSU", record["EXDOSU"], "exposure", "the subject's doses have different units",
                    "CUMDOSE and CUMDOSU missing for the subject", raw_column(config, "EX", "EXDOSU"))
    adsl = derive_adsl(sdtm, config)
    dm = sdtm["DM"]
    if "ACTARM" in dm:  # treated otherwise than randomised: listed for the statistician (analyses use the planned arm)
        compared = dm["ARM"].isin([a["arm"] for a in config["arms"]])
        actual = dm["ACTARM"].fillna("").astype(str).str.strip()
        differs = (actual != "") & (actual.str.upper() != dm["ARM"].str.upper()) & ~actual.str.upper().isin(NOT_GIVEN)
        for record in dm[compared & differs].to_dict("records"):
            queries.add("ADSL", record, "ACTARM", record["ACTARM"], "actual_treatment",
                        f"actual treatment {record['ACTARM']!r} differs from the randomised arm {record['ARM']!r}",
                        "analysed by randomised arm (TRT01P); TRT01A is the actual treatment",
                        raw_column(config, "DM", "ACTARM"))
    adbds = derive_bds(sdtm, adsl, config, queries)
    adsl = derive_population_flags(adsl, adbds, config, queries, sdtm["DM"])
    adsl = derive_vars_baseline(adsl, adbds, adamspec.baseline_names(config))
    adsl = derive_vars_groups(adsl, config.get("adsl_groups", {}))
    adae = derive_adae(sdtm["AE"], adsl, sdtm["EX"], dictionary, queries, config)
    resolved = adamspec.resolve(config, spec)
    return adamspec.shape(adsl, "ADSL", resolved), adbds, adamspec.shape(adae, "ADAE", resolved), queries


# What the derivations read of a findings domain (LB, VS, XP: with its prefix but for the visit and subject), and
# which of it has few distinct values
FINDINGS_READ = ("USUBJID", "VISITNUM", "VISIT", "-TESTCD", "-TEST", "-STRESU", "-DTC", "-DY", "-STRESN", "-STRESC",
                 "-LLOQ", "-SEQ")
FINDINGS_HELD = ("USUBJID", "VISIT", "-TESTCD", "-TEST", "-STRESU")


def read_findings(path, domain: str) -> pd.DataFrame:
    """A clean findings domain with only the variables the derivations read, its text of few distinct values held
    as categories from the file's dictionary pages (at 100,000 subjects LB alone is 4 million records)."""
    import pyarrow.parquet as pq

    from ucmsc.io import read_held

    def named(variables):
        return [v.replace("-", domain) if v.startswith("-") else v for v in variables]

    present = set(pq.read_schema(path).names)
    return read_held(path, [v for v in named(FINDINGS_READ) if v in present], named(FINDINGS_HELD))


def run_derive(table_paths: list[str], config: dict, dictionary: dict, adsl_path: str, bds_folder: str, adae_path: str,
               queries_path: str, log, transport_folder: str | None = None, dictionary_path: str | None = None,
               spec_path: str | None = None, define_path: str | None = None, conformance_path: str | None = None,
               cut: str = "") -> None:
    """Stage runner: ADSL, the trial's BDS datasets (<bds_folder>/<name>.parquet) and ADAE from one cut's clean
    domains, shaped by the ADaM spec, with the derivation queries; their SAS transport files, data dictionary,
    define.xml and the ADaM conformance checks (one row per finding; the report shows them)."""
    from pathlib import Path

    from ucmsc.domains import DOMAINS
    from ucmsc.io import read_table, write_table

    sdtm = {domain: read_findings(path, domain) if domain in PARCAT else read_table(path)
            for domain, path in zip(DOMAINS, table_paths)}
    raw_spec = adamspec.load_spec(spec_path) if spec_path else None
    adsl, adbds, adae, queries = derive_datasets(sdtm, config, dictionary, raw_spec)
    for name, group in config.get("adsl_groups", {}).items():
        if name not in adsl:
            log.warning("adsl_groups.%s not derived: ADSL has no variable %s", name, group["variable"])
    account_for_records(sdtm, adsl, adbds, adae)
    del sdtm  # the clean domains are no longer needed: free them before the datasets are written
    spec = adamspec.resolve(config, raw_spec)
    parts = adamspec.split_bds(adbds, spec, config)
    records = len(adbds)
    del adbds  # the BDS datasets hold its records
    if sum(len(p) for p in parts.values()) != records:
        raise AssertionError(f"derivations lost records: {records} BDS records, "
                             f"{sum(len(p) for p in parts.values())} in the BDS datasets")
    write_table(adsl, adsl_path)
    Path(bds_folder).mkdir(parents=True, exist_ok=True)
    for name, part in parts.items():
        write_table(part, Path(bds_folder) / f"{name.lower()}.parquet")
    write_table(adae, adae_path)
    write_table(queries.frame(), queries_path)
    datasets = {"ADSL": adsl, **parts, "ADAE": adae}
    described = adamspec.metadata(datasets, spec, config)
    labels = None
    if transport_folder:
        from ucmsc.transport import read_xpt_labels

        labels = {}
        for path in adamspec.write_transport(datasets, spec, transport_folder):
            meta = read_xpt_labels(path)
            labels[meta["dataset"]] = {"dataset_label": meta["label"], "variables": meta["labels"]}
    if dictionary_path:
        write_table(described.variables, dictionary_path)
    if define_path:
        from ucmsc.define import write_define

        write_define(described, adamspec.study_of(config, cut), define_path)
    if conformance_path:
        from ucmsc.conformance import check_conformance

        findings = check_conformance(datasets, described, labels)
        write_table(findings, conformance_path)
        log.info("ADaM conformance: %d findings (%d errors)", len(findings), (findings["SEVERITY"] == "ERROR").sum())
    log.info("ADSL %d subjects, %s, ADAE %d events, %d derivation queries", len(adsl),
             ", ".join(f"{n} {len(p)} records" for n, p in parts.items()) or "no BDS dataset", len(adae),
             len(queries.rows))
