"""Analysis datasets (ADaM-style) from the clean domains: ADSL, a long BDS dataset, ADAE.

Naming follows admiral: ``compute_*`` works on values, ``derive_*`` takes a dataset and
returns it with variables or parameter records added. No I/O here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HBA1C_TARGET = 7.0  # %, ADA 2015 glycaemic target used by the efficacy trial


# --- formulas -----------------------------------------------------------------------

def compute_homa_ir(glucose_mmol_l, insulin_uu_ml):
    """HOMA-IR = glucose (mmol/L) x insulin (uU/mL) / 22.5 (Matthews et al., Diabetologia 1985)."""
    return np.asarray(glucose_mmol_l, dtype=float) * np.asarray(insulin_uu_ml, dtype=float) / 22.5


def compute_bmi(weight_kg, height_cm):
    """BMI = weight (kg) / height (m)^2 (WHO)."""
    height_m = np.asarray(height_cm, dtype=float) / 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(height_m > 0, np.asarray(weight_kg, dtype=float) / height_m**2, np.nan)


def compute_nlr(neutrophils, lymphocytes):
    """Neutrophil-to-lymphocyte ratio = neutrophils / lymphocytes (both 10^9/L; Zahorec 2001)."""
    lym = np.asarray(lymphocytes, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lym > 0, np.asarray(neutrophils, dtype=float) / lym, np.nan)


# --- ADSL ---------------------------------------------------------------------------

def derive_adsl(sdtm: dict[str, pd.DataFrame], config: dict) -> pd.DataFrame:
    """One row per randomised subject with treatment, dates, disposition and population flags."""
    dm, ex, ds = sdtm["DM"], sdtm["EX"], sdtm["DS"]
    adsl = dm[["STUDYID", "USUBJID", "SUBJID", "SITEID", "AGE", "AGEU", "SEX", "ARM", "ARMCD", "RANDDT"]].copy()
    adsl["TRT01P"] = adsl["ARM"]
    adsl["TRT01A"] = adsl["ARM"]
    infusions = ex.assign(DTM=pd.to_datetime(ex["EXSTDTC"])).groupby("USUBJID")["DTM"]
    adsl["TRTSDTM"] = adsl["USUBJID"].map(infusions.min())
    adsl["TRTEDTM"] = adsl["USUBJID"].map(infusions.max())
    adsl["NINFUS"] = adsl["USUBJID"].map(infusions.count()).fillna(0).astype(int)
    adsl["RANDFL"] = "Y"
    adsl["SAFFL"] = np.where(adsl["NINFUS"] > 0, "Y", "N")
    status = ds.set_index("USUBJID")
    adsl["EOSSTT"] = adsl["USUBJID"].map(status["DSDECOD"]).map(
        lambda d: "ONGOING" if pd.isna(d) else ("COMPLETED" if d == "COMPLETED" else "DISCONTINUED"))
    adsl["DCSREAS"] = adsl["USUBJID"].map(status["DSDECOD"]).where(adsl["EOSSTT"] == "DISCONTINUED", "")
    adsl["EOSDT"] = adsl["USUBJID"].map(status["DSSTDTC"]).fillna("")
    return adsl


def derive_population_flags(adsl: pd.DataFrame, bds: pd.DataFrame, n_visits: int) -> pd.DataFrame:
    """FASFL: treated with a baseline and a post-baseline value of any parameter; PPROTFL: FAS with every scheduled visit."""
    adsl = adsl.copy()
    has = bds[bds["AVAL"].notna()].groupby("USUBJID")["AVISITN"]
    has_base = has.min().eq(0)
    has_post = has.max().gt(0)
    visits = has.nunique()
    fas = adsl["USUBJID"].map(has_base & has_post).fillna(False).astype(bool) & (adsl["SAFFL"] == "Y")
    adsl["FASFL"] = np.where(fas, "Y", "N")
    adsl["PPROTFL"] = np.where(fas & adsl["USUBJID"].map(visits).eq(n_visits), "Y", "N")
    return adsl


# --- BDS ----------------------------------------------------------------------------

PARCAT = {"LB": "LABORATORY", "VS": "VITAL SIGNS", "XP": "PROCEDURES"}


def findings_to_bds(sdtm: dict[str, pd.DataFrame], config: dict) -> pd.DataFrame:
    """Stack LB, VS and XP into one long dataset: one record per subject, parameter and visit.

    A censored result ('<x') is analysed at half its limit of quantification (AVAL = LLOQ/2,
    DTYPE = 'LLOQ/2'); its reported text stays in AVALC.
    """
    parts = []
    for domain in ("LB", "VS", "XP"):
        frame = sdtm[domain]
        if frame.empty:
            continue
        p = domain
        part = pd.DataFrame({
            "USUBJID": frame["USUBJID"], "PARAMCD": frame[f"{p}TESTCD"],
            "PARAM": frame[f"{p}TEST"] + " (" + frame[f"{p}STRESU"] + ")", "PARCAT1": PARCAT[domain],
            "AVISITN": frame["VISITNUM"].astype(int), "AVISIT": frame["VISIT"], "ADT": frame[f"{p}DTC"],
            "ADY": frame[f"{p}DY"], "AVAL": frame[f"{p}STRESN"].astype(float), "AVALC": frame[f"{p}STRESC"],
            "AVALU": frame[f"{p}STRESU"], "SRCDOM": domain, "SRCFILE": frame["SRCFILE"], "SRCROW": frame["SRCROW"],
        })
        censored = part["AVAL"].isna() & frame[f"{p}LLOQ"].notna()
        part["DTYPE"] = np.where(censored, "LLOQ/2", "")
        part.loc[censored, "AVAL"] = frame.loc[censored, f"{p}LLOQ"] / 2
        parts.append(part)
    bds = pd.concat(parts, ignore_index=True)
    ranges = {t: spec.get("normal") for t, spec in config["tests"].items()}
    bds["A1LO"] = bds["PARAMCD"].map(lambda t: ranges.get(t)[0] if ranges.get(t) else np.nan)
    bds["A1HI"] = bds["PARAMCD"].map(lambda t: ranges.get(t)[1] if ranges.get(t) else np.nan)
    return bds


def _wide(bds: pd.DataFrame, paramcds: list[str]) -> pd.DataFrame:
    sub = bds[bds["PARAMCD"].isin(paramcds)]
    return sub.pivot_table(index=["USUBJID", "AVISITN", "AVISIT"], columns="PARAMCD", values="AVAL", aggfunc="first").reset_index()


def _param_records(wide: pd.DataFrame, paramcd: str, param: str, values, unit: str) -> pd.DataFrame:
    out = wide[["USUBJID", "AVISITN", "AVISIT"]].copy()
    out["PARAMCD"], out["PARAM"], out["PARCAT1"], out["AVALU"] = paramcd, param, "DERIVED", unit
    out["AVAL"] = values
    out["AVALC"] = ""
    out["DTYPE"] = ""
    out["SRCDOM"] = "DERIVED"
    return out[np.isfinite(out["AVAL"].astype(float))]


def derive_param_homa_ir(bds: pd.DataFrame) -> pd.DataFrame:
    wide = _wide(bds, ["GLUC", "INSULIN"])
    if not {"GLUC", "INSULIN"} <= set(wide.columns):
        return bds
    new = _param_records(wide, "HOMAIR", "HOMA-IR", compute_homa_ir(wide["GLUC"], wide["INSULIN"]), "")
    return pd.concat([bds, new], ignore_index=True)


def derive_param_bmi(bds: pd.DataFrame) -> pd.DataFrame:
    """BMI at each visit from that visit's weight and the baseline height."""
    wide = _wide(bds, ["WEIGHT"])
    height = bds[bds["PARAMCD"] == "HEIGHT"].groupby("USUBJID")["AVAL"].first()
    if "WEIGHT" not in wide or height.empty:
        return bds
    new = _param_records(wide, "BMI", "Body mass index (kg/m^2)", compute_bmi(wide["WEIGHT"], wide["USUBJID"].map(height)), "kg/m^2")
    return pd.concat([bds, new], ignore_index=True)


def derive_param_nlr(bds: pd.DataFrame) -> pd.DataFrame:
    wide = _wide(bds, ["NEUT", "LYM"])
    if not {"NEUT", "LYM"} <= set(wide.columns):
        return bds
    new = _param_records(wide, "NLR", "Neutrophil-to-lymphocyte ratio", compute_nlr(wide["NEUT"], wide["LYM"]), "")
    return pd.concat([bds, new], ignore_index=True)


def derive_baseline_and_change(bds: pd.DataFrame) -> pd.DataFrame:
    """ABLFL on the week-0 record; BASE, CHG = AVAL - BASE, PCHG = 100 x CHG / BASE (missing when BASE is 0)."""
    bds = bds.copy()
    bds["ABLFL"] = np.where(bds["AVISITN"] == 0, "Y", "")
    base = bds[bds["ABLFL"] == "Y"].set_index(["USUBJID", "PARAMCD"])["AVAL"]
    key = pd.MultiIndex.from_frame(bds[["USUBJID", "PARAMCD"]])
    bds["BASE"] = base.reindex(key).to_numpy()
    bds["CHG"] = np.where(bds["AVISITN"] > 0, bds["AVAL"] - bds["BASE"], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        bds["PCHG"] = np.where((bds["AVISITN"] > 0) & (bds["BASE"] != 0), 100 * bds["CHG"] / bds["BASE"], np.nan)
    bds["ANL01FL"] = "Y"
    return bds


def derive_range_indicator(bds: pd.DataFrame) -> pd.DataFrame:
    bds = bds.copy()
    bds["ANRIND"] = np.select(
        [bds["A1LO"].isna() | bds["AVAL"].isna(), bds["AVAL"] < bds["A1LO"], bds["AVAL"] > bds["A1HI"]],
        ["", "LOW", "HIGH"], default="NORMAL")
    return bds


def derive_param_responders(bds: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """HBA1CTGT: HbA1c < 7.0 %; STEATIMP: steatosis grade at least 1 below baseline. AVAL 1/0, AVALC Y/N."""
    out = []
    hba1c = bds[bds["PARAMCD"] == "HBA1C"]
    if not hba1c.empty:
        rec = hba1c[["USUBJID", "AVISITN", "AVISIT", "ADT"]].copy()
        rec["PARAMCD"], rec["PARAM"] = "HBA1CTGT", "HbA1c < 7.0 %"
        rec["AVAL"] = (hba1c["AVAL"] < HBA1C_TARGET).astype(float)
        out.append(rec)
    grade = bds[(bds["PARAMCD"] == "STEATOS") & (bds["AVISITN"] > 0) & bds["BASE"].notna()]
    if not grade.empty:
        rec = grade[["USUBJID", "AVISITN", "AVISIT", "ADT"]].copy()
        rec["PARAMCD"], rec["PARAM"] = "STEATIMP", "Ultrasound steatosis improved (grade lower than baseline)"
        rec["AVAL"] = (grade["AVAL"] <= grade["BASE"] - 1).astype(float)
        out.append(rec)
    if not out:
        return bds
    new = pd.concat(out, ignore_index=True)
    new["AVALC"] = np.where(new["AVAL"] == 1, "Y", "N")
    new["PARCAT1"], new["SRCDOM"], new["DTYPE"], new["ANL01FL"], new["ABLFL"] = "RESPONSE", "DERIVED", "", "Y", ""
    return pd.concat([bds, new], ignore_index=True)


def derive_bds(sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame, config: dict) -> pd.DataFrame:
    bds = findings_to_bds(sdtm, config)
    bds = derive_param_homa_ir(bds)
    bds = derive_param_bmi(bds)
    bds = derive_param_nlr(bds)
    bds = derive_baseline_and_change(bds)
    bds = derive_range_indicator(bds)
    bds = derive_param_responders(bds, adsl)
    bds = bds.merge(adsl[["USUBJID", "STUDYID", "TRT01A", "ARM"]], on="USUBJID", how="left", validate="many_to_one")
    order = ["STUDYID", "USUBJID", "ARM", "TRT01A", "PARCAT1", "PARAMCD", "PARAM", "AVISITN", "AVISIT", "ADT", "ADY",
             "AVAL", "AVALC", "AVALU", "DTYPE", "BASE", "CHG", "PCHG", "ABLFL", "ANL01FL", "A1LO", "A1HI", "ANRIND",
             "SRCDOM", "SRCFILE", "SRCROW"]
    bds = bds.reindex(columns=order)
    for column in ("AVALC", "AVALU", "DTYPE", "ABLFL", "ANL01FL", "ANRIND", "SRCFILE", "ADT"):
        bds[column] = bds[column].fillna("").astype(str)
    return bds.sort_values(["USUBJID", "PARAMCD", "AVISITN"], kind="stable").reset_index(drop=True)


# --- ADAE ---------------------------------------------------------------------------

def derive_adae(ae: pd.DataFrame, adsl: pd.DataFrame, ex: pd.DataFrame, dictionary: dict) -> pd.DataFrame:
    """Adverse events with coding, treatment-emergence and timing relative to the latest infusion.

    TRTEMFL: onset on or after the first infusion. INFDY: days from the latest infusion
    before onset. INF24FL: onset within 24 h after an infusion.
    """
    adae = ae.merge(adsl[["USUBJID", "ARM", "TRT01A", "TRTSDTM", "SAFFL"]], on="USUBJID", how="left", validate="many_to_one")
    adae["ASTDTM"] = pd.to_datetime(adae["AESTDTC"])
    adae["AENDTM"] = pd.to_datetime(adae["AEENDTC"].replace("", None))
    adae["AEDECOD"] = adae["AETERM"].map(lambda t: dictionary.get(t, {}).get("decod", "UNCODED"))
    adae["AEBODSYS"] = adae["AETERM"].map(lambda t: dictionary.get(t, {}).get("soc", "UNCODED"))
    adae["TRTEMFL"] = np.where(adae["TRTSDTM"].notna() & (adae["ASTDTM"] >= adae["TRTSDTM"]), "Y", "")
    infusions = ex.assign(DTM=pd.to_datetime(ex["EXSTDTC"]))[["USUBJID", "DTM"]].sort_values("DTM")
    latest = pd.merge_asof(adae[["ASTDTM", "USUBJID"]].reset_index().sort_values("ASTDTM"), infusions,
                           left_on="ASTDTM", right_on="DTM", by="USUBJID", direction="backward").set_index("index")["DTM"]
    adae["LINFDTM"] = latest.reindex(adae.index)
    hours = (adae["ASTDTM"] - adae["LINFDTM"]).dt.total_seconds() / 3600
    adae["INFDY"] = np.floor(hours / 24)
    adae["INF24FL"] = np.where(hours.notna() & (hours <= 24), "Y", "")
    return adae.drop(columns=["TRTSDTM"])
