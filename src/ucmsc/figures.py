"""Figures drawn from the ARD only, each saved as PNG + SVG with its provenance inside and beside it."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ucmsc.io import sha256_file, write_json  # noqa: E402
from ucmsc.rounding import format_half_up  # noqa: E402

# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
ACTIVE_COLOUR, CONTROL_COLOUR = "#0072B2", "#E69F00"
plt.rcParams.update({"font.size": 10, "svg.hashsalt": "ucmsc", "figure.dpi": 100})


def _arm_colours(arms: list[str]) -> dict[str, str]:
    return dict(zip(arms, (ACTIVE_COLOUR, CONTROL_COLOUR)))


def _stat(ard: pd.DataFrame, **keys) -> pd.DataFrame:
    mask = pd.Series(True, index=ard.index)
    for column, value in keys.items():
        mask &= ard[column] == value
    return ard[mask]


def trajectory_figure(ard: pd.DataFrame, paramcds: list[str], arms: list[str]) -> tuple[plt.Figure, pd.DataFrame]:
    """Mean ± SE of each parameter by visit and arm; returns the figure and the ARD rows drawn."""
    cont = ard[(ard["ANALYSIS_ID"] == "CONT") & (ard["VARIABLE"] == "AVAL") & ard["PARAMCD"].isin(paramcds)]
    present = [p for p in paramcds if p in set(cont["PARAMCD"])]
    ncols = min(3, len(present))
    nrows = -(-len(present) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    colours = _arm_colours(arms)
    used = []
    for ax, paramcd in zip(axes.flat, present):
        rows = cont[cont["PARAMCD"] == paramcd]
        for offset, arm in zip((-0.15, 0.15), arms):
            mine = rows[rows["GROUP"] == arm].pivot_table(index="AVISITN", columns="STAT_NAME", values="VALUE")
            used.append(rows[(rows["GROUP"] == arm) & rows["STAT_NAME"].isin(["mean", "se", "n"])])
            ax.errorbar(mine.index + offset, mine["mean"], yerr=mine["se"], marker="o", capsize=3, color=colours[arm], label=arm)
        p_rows = rows[(rows["STAT_NAME"] == "p") & (rows["GROUP"].str.contains(" vs "))]
        used.append(p_rows)
        for _, p in p_rows.iterrows():
            if p["AVISITN"] > 0 and p["VALUE"] < 0.05:
                ax.annotate("*", (p["AVISITN"], ax.get_ylim()[1]), ha="center", va="top", fontsize=14)
        ax.set_title(rows["PARAM"].iloc[0], fontsize=10)
        ax.set_xlabel("Week")
        ax.set_xticks(sorted(rows["AVISITN"].unique()))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(present):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8, frameon=False)
    fig.suptitle("Mean ± SE by visit (* P < 0.05, Student t-test between arms)", fontsize=11)
    fig.tight_layout()
    return fig, pd.concat(used)


def responder_figure(ard: pd.DataFrame, arms: list[str]) -> tuple[plt.Figure, pd.DataFrame] | None:
    """Responder percentage by visit and arm, with the chi-square P of each visit."""
    resp = ard[ard["ANALYSIS_ID"] == "RESP"]
    if resp.empty:
        return None
    paramcds = list(dict.fromkeys(resp["PARAMCD"]))
    fig, axes = plt.subplots(1, len(paramcds), figsize=(4.6 * len(paramcds), 3.4), squeeze=False)
    colours = _arm_colours(arms)
    used = []
    for ax, paramcd in zip(axes.flat, paramcds):
        rows = resp[resp["PARAMCD"] == paramcd]
        visits = sorted(rows["AVISITN"].unique())
        for k, arm in enumerate(arms):
            pct = rows[(rows["GROUP"] == arm) & (rows["STAT_NAME"] == "pct")].set_index("AVISITN")["VALUE"]
            used.append(rows[(rows["GROUP"] == arm) & rows["STAT_NAME"].isin(["n", "N", "pct"])])
            ax.bar([i + (k - 0.5) * 0.38 for i in range(len(visits))], [pct.get(v, 0) for v in visits], width=0.38,
                   color=colours[arm], label=arm)
        p_rows = rows[rows["STAT_NAME"] == "p"].set_index("AVISITN")["VALUE"]
        used.append(rows[rows["STAT_NAME"] == "p"])
        for i, visit in enumerate(visits):
            if visit in p_rows:
                ax.text(i, 95, f"P = {format_half_up(p_rows[visit], 3)}", ha="center", fontsize=8)
        ax.set_xticks(range(len(visits)), [f"Week {v:g}" for v in visits])
        ax.set_ylim(0, 100)
        ax.set_ylabel("% of full analysis set")
        ax.set_title(rows["PARAM"].iloc[0], fontsize=10)
    axes.flat[0].legend(fontsize=8, frameon=False, loc="upper right", bbox_to_anchor=(1, 0.9))
    fig.tight_layout()
    return fig, pd.concat(used)


def ae_figure(ard: pd.DataFrame, arms: list[str]) -> tuple[plt.Figure, pd.DataFrame] | None:
    """Adverse-event dot plot: % of subjects with each preferred term by arm."""
    ae = ard[(ard["ANALYSIS_ID"] == "AE") & ~ard["PARAMCD"].isin(["ANY", "SER"])]
    if ae.empty:
        return None
    terms = sorted(ae["PARAMCD"].unique())
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(terms) + 1.5))
    colours = _arm_colours(arms)
    used = []
    for arm, marker in zip(arms, ("o", "s")):
        pct = ae[(ae["GROUP"] == arm) & (ae["STAT_NAME"] == "pct")].set_index("PARAMCD")["VALUE"]
        used.append(ae[(ae["GROUP"] == arm) & ae["STAT_NAME"].isin(["n", "N", "pct"])])
        ax.scatter([pct.get(t, 0) for t in terms], range(len(terms)), color=colours[arm], marker=marker, label=arm, zorder=3)
    ax.set_yticks(range(len(terms)), terms)
    ax.set_xlabel("% of subjects (safety population)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("Treatment-emergent adverse events by preferred term", fontsize=10)
    fig.tight_layout()
    return fig, pd.concat(used)


def save_figure(fig: plt.Figure, out_dir: Path, stem: str, provenance: dict) -> dict:
    """Write ``stem``.png and .svg with the provenance record embedded, and ``stem``.json beside them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(provenance, sort_keys=True)
    png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
    fig.savefig(png, dpi=110, metadata={"Title": provenance["title"], "Provenance": text})
    fig.savefig(svg, metadata={"Title": provenance["title"], "Description": text, "Date": None})
    plt.close(fig)
    sidecar = dict(provenance, files={"png": {"path": png.name, "sha256": sha256_file(png)},
                                      "svg": {"path": svg.name, "sha256": sha256_file(svg)}})
    write_json(sidecar, out_dir / f"{stem}.json")
    return sidecar
