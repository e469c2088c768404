"""Figures drawn from the ARD only, each saved as PNG + SVG with its provenance inside and beside it.

Every ``*_figure`` function takes the ARD and returns ``(figure, ard_rows_drawn)`` or None
when the trial has nothing to draw; the rows drawn go into the figure's provenance record.
A figure draws whatever arms and visits have values; those without (an empty arm, a visit
without data, a not-estimable statistic) are left out and named in a note on the panel.

Layout rules, checked for every figure of every bundled cut by tests/test_figure_layout.py: no text
overlaps another or leaves the canvas, no marker is cut by its axes. Visits are equally spaced
categories (weeks 0-4 of a 24-week trial are not crammed together), y-limits come from the data (a
reference range is shaded where it meets them, never widens them), and the number of subjects per arm
and visit is printed under each trajectory. ``all_figures`` gives each figure a ``Caption``: number
(``number:`` of the figure's config entry, else "Figure <k>" in report order), title and a footnote
naming the statistic shown and the population; ``run_figures`` writes them to the sidecar.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.layout_engine import PlaceHolderLayoutEngine  # noqa: E402
from matplotlib.patches import FancyBboxPatch, Patch  # noqa: E402
from matplotlib.transforms import ScaledTranslation  # noqa: E402

from ucmsc import ard as ardlib  # noqa: E402
from ucmsc.io import sha256_file, write_json  # noqa: E402
from ucmsc.paramcodes import DERIVATIONS  # noqa: E402
from ucmsc.plan import RANDOMISED, load_trial  # noqa: E402
from ucmsc.rounding import display_unit, format_p  # noqa: E402

# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies. Control arm orange, active arms blue,
# then green, purple, vermillion, sky blue.
ACTIVE_COLOURS, CONTROL_COLOUR, GREY = ("#0072B2", "#009E73", "#CC79A7", "#D55E00", "#56B4E9"), "#E69F00", "#999999"
ACTIVE_COLOUR = ACTIVE_COLOURS[0]
ACTIVE_MARKERS, CONTROL_MARKER = ("o", "D", "^", "v", "P", "X"), "s"  # the AE dot plot's; cycled like the colours
# svg.fonttype none: SVG text stays text (editable, searchable); svg.hashsalt and no Date keep reruns byte-identical.
plt.rcParams.update({"font.size": 10, "svg.hashsalt": "ucmsc", "svg.fonttype": "none", "figure.dpi": 100,
                     "axes.spines.top": False, "axes.spines.right": False})
PNG_DPI = 300
PANELS_PER_PAGE = 6
SMALL = 8  # tick labels, notes, the n table


@dataclass(frozen=True)
class Caption:
    """What the report prints with a figure: its number, title and footnote (statistic shown, population)."""

    number: str
    title: str
    footnote: str


def _colours(arms: list[str]) -> dict[str, str]:
    """Arms in display order (active arms, then control last) -> colour."""
    return {arm: ACTIVE_COLOURS[i % len(ACTIVE_COLOURS)]
            for i, arm in enumerate(arms[:-1])} | {arms[-1]: CONTROL_COLOUR}


def _offsets(n: int, spread: float = 0.24) -> list[float]:
    """Horizontal offsets that keep ``n`` arms' points at one visit apart."""
    return [0.0] if n == 1 else list(np.linspace(-spread / 2, spread / 2, n))


def _arm_rows(rows: pd.DataFrame, arm: str) -> pd.DataFrame:
    return rows[(rows["GROUP1_LEVEL"] == arm) & (rows["COMPARATOR"] == "")]


def _contrast_rows(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["COMPARATOR"] != ""]


def _contrast_label(rows: pd.DataFrame) -> str:
    """'UC-MSC - Placebo' (one comparison) or 'each arm - Placebo'."""
    pairs = rows[["GROUP1_LEVEL", "COMPARATOR"]].drop_duplicates()
    if len(pairs) == 1:
        return f"{pairs.iloc[0, 0]} - {pairs.iloc[0, 1]}"
    return f"each arm - {pairs.iloc[0, 1]}" if len(pairs) else ""


def _wide(rows: pd.DataFrame, index, stats: list[str]) -> pd.DataFrame:
    """VALUE by ``index`` x STAT_NAME, a column for each name in ``stats`` (NaN kept, which pivot_table drops)."""
    index = [index] if isinstance(index, str) else list(index)
    wide = rows.set_index(index + ["STAT_NAME"])["VALUE"].unstack("STAT_NAME") if len(rows) else pd.DataFrame()
    return wide.reindex(columns=stats)


def _missing_text(missing: dict[str, list], visits: list, what: str = "no data") -> str:
    """'no data: Placebo' (an arm with nothing to draw) or 'no data: Placebo at week 20' (some visits only); every arm
    without the same visits: 'no data at week 20'."""
    absent_lists = [sorted(a) for a in missing.values()]
    if len(missing) > 1 and absent_lists[0] and all(a == absent_lists[0] for a in absent_lists):
        every = set(absent_lists[0]) >= set(visits)
        return what if every else f"{what} at week " + ", ".join(f"{v:g}" for v in absent_lists[0])
    parts = []
    for arm, absent in missing.items():
        if not absent:
            continue
        at = "" if set(absent) >= set(visits) else " at week " + ", ".join(f"{v:g}" for v in absent)
        parts.append(f"{arm}{at}")
    return f"{what}: {'; '.join(parts)}" if parts else ""


def _title(ax, title: str, note: str = "", fontsize: float = 9) -> None:
    """The panel's title, with the note on what is missing on a second line (never over the data)."""
    ax.set_title("\n".join(t for t in (display_unit(title), f"({note})" if note else "") if t), fontsize=fontsize)


def _visit_labels(rows: pd.DataFrame) -> dict[float, str]:
    """AVISITN -> its tick label: the ARD's AVISIT with "Week" shortened ("Wk 12"), else the number."""
    labels = {}
    for visit, name in zip(rows["AVISITN"].to_numpy(), rows["AVISIT"].to_numpy()):
        if not np.isnan(visit) and visit not in labels:  # each visit's first row names it
            labels[visit] = re.sub(r"^Week\s*", "Wk ", str(name or "")) or f"{visit:g}"
    return labels


def _points_below_axis(ax, points: float):
    """Transform: x in data, y ``points`` below the axes' bottom edge (the n table, favours labels)."""
    return ax.get_xaxis_transform() + ScaledTranslation(0, -points / 72, ax.figure.dpi_scale_trans)


def _n_table(ax, counts: dict[str, dict[float, float]], positions: dict[float, float], colours: dict[str, str],
             first_row: float = 20) -> None:
    """Subjects with a value per arm (rows) and visit (columns, at the visits' x positions), under the axis."""
    label_at = ax.transAxes + ScaledTranslation(-4 / 72, 0, ax.figure.dpi_scale_trans)
    for row, (arm, by_visit) in enumerate(counts.items()):
        down = first_row + 10 * row
        ax.text(0, 0, arm, transform=label_at + ScaledTranslation(0, -down / 72, ax.figure.dpi_scale_trans),
                ha="right", va="top", fontsize=SMALL - 1, color=colours[arm])
        below = _points_below_axis(ax, down)  # one transform for the row's texts
        for visit, x in positions.items():
            n = by_visit.get(visit)
            ax.text(x, 0, "-" if n is None or pd.isna(n) else f"{n:.0f}", transform=below,
                    ha="center", va="top", fontsize=SMALL - 1, color=colours[arm])


def _data_ylim(ax, low: np.ndarray, high: np.ndarray, headroom: float = 0.06) -> tuple[float, float]:
    """y-limits from the values drawn (means ± SE), a margin below and ``headroom`` above."""
    low, high = np.nanmin(low), np.nanmax(high)
    span = (high - low) or abs(high) or 1.0
    return low - 0.06 * span, high + headroom * span


MANN_WHITNEY = "Mann-Whitney U"


def star_tests(ard: pd.DataFrame, analysis: str, paramcds: list[str], medians: frozenset[str]) -> dict[str, str]:
    """The test whose P marks each parameter's visits: the plan's for its summary, Mann-Whitney U for a parameter
    summarised by median, the t-test the plan chose (option ttest) for the others."""
    cont = ard[ard["ANALYSIS_ID"] == analysis]
    t_method = "Welch t-test" if (cont["METHOD"] == "Welch t-test").any() else "Student t-test"
    return {p: MANN_WHITNEY if p in medians else t_method for p in paramcds}


def tests_named(tests: dict[str, str], drawn: list[str]) -> str:
    """The tests of the drawn parameters, for a legend or footnote: one name, or which is used for which."""
    used = list(dict.fromkeys(tests[p] for p in drawn if p in tests))
    if len(used) <= 1:
        return used[0] if used else ""
    return " / ".join(f"{t} ({'median' if t == MANN_WHITNEY else 'mean'}-summarised parameters)" for t in used)


def trajectory_figures(ard: pd.DataFrame, paramcds: list[str], arms: list[str], title: str, analysis: str = "CONT",
                       ranges_analysis: str = "REFRANGE", units: dict[str, str] | None = None,
                       medians: frozenset[str] = frozenset()) -> list[tuple[plt.Figure, pd.DataFrame]]:
    """Mean ± SE by visit and arm, six parameters a page, visits equally spaced; the reference range shaded where the
    ARD has one (within the data's y-limits); n per arm and visit under each panel. A star marks a visit where a
    comparison with control has P < 0.05 (coloured as the active arm), by the plan's test of the parameter (``medians``:
    those summarised by median, marked by the Mann-Whitney U test)."""
    units = units or {}
    cont = ard[(ard["ANALYSIS_ID"] == analysis) & (ard["VARIABLE"] == "AVAL")]
    tests = star_tests(ard, analysis, paramcds, medians)
    range_rows = ard[ard["ANALYSIS_ID"] == ranges_analysis]
    ranges = range_rows.pivot_table(index="PARAMCD", columns="STAT_NAME", values="VALUE")
    range_rows = dict(tuple(range_rows.groupby("PARAMCD", sort=False)))
    by_param = dict(tuple(cont.groupby("PARAMCD", sort=False)))  # once, instead of a mask per panel
    present = [p for p in paramcds if p in by_param]
    colours = _colours(arms)
    pages = []
    for start in range(0, len(present), PANELS_PER_PAGE):
        chunk = present[start:start + PANELS_PER_PAGE]
        ncols = min(3, len(chunk))
        nrows = -(-len(chunk) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, (3.2 + 0.14 * len(arms)) * nrows + 0.7),
                                 squeeze=False)
        used, shaded, starred = [], False, False
        for ax, paramcd in zip(axes.flat, chunk):
            rows = by_param[paramcd]
            visits = sorted(rows["AVISITN"].dropna().unique())
            position = {v: float(i) for i, v in enumerate(visits)}
            missing, counts, lows, highs = {}, {}, [], []
            arm_stats = rows[(rows["COMPARATOR"] == "") & rows["STAT_NAME"].isin(["mean", "se", "n"])]
            by_arm = dict(tuple(arm_stats.groupby("GROUP1_LEVEL", sort=False)))
            for offset, arm in zip(_offsets(len(arms)), arms):
                drawn = by_arm.get(arm, arm_stats.iloc[:0])
                mine = _wide(drawn, "AVISITN", ["mean", "se", "n"])
                used.append(drawn)
                counts[arm] = mine["n"].to_dict()
                mine = mine[mine["mean"].notna()]  # a visit where the arm has no value: no point (SE NaN: no bar)
                missing[arm] = [v for v in visits if v not in mine.index]
                if mine.empty:
                    continue
                se = mine["se"].fillna(0)
                lows.append((mine["mean"] - se).to_numpy())
                highs.append((mine["mean"] + se).to_numpy())
                ax.errorbar([position[v] + offset for v in mine.index], mine["mean"], yerr=mine["se"], marker="o",
                            ms=4, capsize=3, color=colours[arm], label=arm)
            contrasts = _contrast_rows(rows)
            p_rows = contrasts[(contrasts["STAT_NAME"] == "p") & (contrasts["METHOD"] == tests[paramcd])]
            used.append(p_rows)
            stars = p_rows[(p_rows["AVISITN"] > 0) & (p_rows["VALUE"] < 0.05) & p_rows["AVISITN"].isin(visits)]
            if lows:
                ax.set_ylim(*_data_ylim(ax, np.concatenate(lows), np.concatenate(highs),
                                        0.22 if len(stars) else 0.06))
            if paramcd in ranges.index:  # shaded where it meets the data's limits; never sets them
                ylim = ax.get_ylim()
                ax.axhspan(ranges.loc[paramcd, "low"], ranges.loc[paramcd, "high"], color=GREY, alpha=0.15, lw=0,
                           zorder=0)
                ax.set_ylim(ylim)
                shaded = True
                used.append(range_rows[paramcd])
            star_offset = dict(zip(arms[:-1], _offsets(len(arms) - 1, 0.3)))
            for _, p in stars.iterrows():  # in the headroom left above the data, inside the panel
                starred = True
                ax.text(position[p["AVISITN"]] + star_offset.get(p["GROUP1_LEVEL"], 0), 0.985, "*",
                        transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=13,
                        color=colours.get(p["GROUP1_LEVEL"], "black"))
            _title(ax, rows["PARAM"].iloc[0], _missing_text(missing, visits), fontsize=9.5)
            unit = display_unit(units.get(paramcd, ""))
            ax.set_ylabel("Mean ± SE" + (f" ({unit})" if unit and unit not in ax.get_title() else ""),
                          fontsize=SMALL)
            labels = _visit_labels(rows)
            ax.set_xticks(list(position.values()), [labels.get(v, f"{v:g}") for v in visits], fontsize=SMALL)
            ax.set_xlim(-0.5, len(visits) - 0.5)
            ax.tick_params(axis="y", labelsize=SMALL)
            ax.grid(alpha=0.3)
            _n_table(ax, counts, position, colours)
        for ax in list(axes.flat)[len(chunk):]:
            ax.set_visible(False)
        handles = [plt.Line2D([], [], color=colours[a], marker="o", ms=4, label=a) for a in arms]
        if shaded:
            handles.append(Patch(color=GREY, alpha=0.3, label="Reference range"))
        if starred:
            handles.append(plt.Line2D([], [], ls="", label=f"* P < 0.05 vs {arms[-1]} ({tests_named(tests, chunk)})"))
        fig.legend(handles=handles, loc="upper center", ncol=len(handles), frameon=False, fontsize=SMALL,
                   bbox_to_anchor=(0.5, 1 - 0.42 / fig.get_figheight()))
        fig.suptitle(f"{title}: mean ± SE by visit and arm (n: subjects with a value)", fontsize=11)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.62 / fig.get_figheight()))
        pages.append((fig, pd.concat(used)))
    return pages


def responder_figure(ard: pd.DataFrame, arms: list[str], analysis: str = "RESP"):
    """Responder percentage by visit and arm with n/N over each bar, the 95 % CI of each arm's proportion when the
    ARD has it (arm rows lcl/ucl), and the chi-square P of each comparison under each visit."""
    resp = ard[ard["ANALYSIS_ID"] == analysis]
    if resp.empty:
        return None
    paramcds = list(dict.fromkeys(resp["PARAMCD"]))
    colours = _colours(arms)
    n_visits = resp.groupby("PARAMCD")["AVISITN"].nunique().max()
    fig, axes = plt.subplots(1, len(paramcds), figsize=(max(4.2, 1.2 + 0.55 * len(arms) * n_visits) * len(paramcds),
                                                        4.2), squeeze=False)
    used = []
    for ax, paramcd in zip(axes.flat, paramcds):
        rows = resp[resp["PARAMCD"] == paramcd]
        visits = sorted(rows["AVISITN"].dropna().unique())
        missing = {}
        width = 0.8 / len(arms)
        for k, arm in enumerate(arms):
            stats = _wide(_arm_rows(rows, arm), "AVISITN", ["n", "N", "pct", "lcl", "ucl"]).reindex(visits)
            used.append(_arm_rows(rows, arm)[lambda r: r["STAT_NAME"].isin(["n", "N", "pct", "lcl", "ucl"])])
            missing[arm] = [v for v in visits if pd.isna(stats.loc[v, "pct"])]  # no denominator or no data: no bar
            if len(missing[arm]) == len(visits):
                continue
            x = np.arange(len(visits)) + (k - (len(arms) - 1) / 2) * width
            heights = stats["pct"].to_numpy(dtype=float)
            ax.bar(x, np.nan_to_num(heights), width=width, color=colours[arm], label=arm)
            top = heights.copy()
            if stats[["lcl", "ucl"]].notna().any().all():  # the CI of the arm's proportion, as the ARD gives it
                lcl, ucl = 100 * stats["lcl"].to_numpy(dtype=float), 100 * stats["ucl"].to_numpy(dtype=float)
                ax.errorbar(x, heights, yerr=[heights - lcl, ucl - heights], fmt="none", ecolor="black", capsize=2,
                            lw=0.8)
                top = np.fmax(top, ucl)
            for xi, t, n, big_n in zip(x, top, stats["n"], stats["N"]):
                if pd.notna(t):
                    ax.text(xi, t + 1.5, f"{n:.0f}/{big_n:.0f}", rotation=90, ha="center", va="bottom",
                            fontsize=SMALL - 1)
        p_rows = _contrast_rows(rows)[lambda r: r["STAT_NAME"] == "p"]
        used.append(p_rows)
        several = p_rows["GROUP1_LEVEL"].nunique() > 1
        labels = _visit_labels(rows)
        ticks = []
        for visit in visits:
            lines = [labels.get(visit, f"{visit:g}")]
            for p in p_rows[p_rows["AVISITN"] == visit].itertuples():
                text = "P not estimable" if pd.isna(p.VALUE) else (
                    f"P {format_p(p.VALUE)}" if p.VALUE < 0.001 else f"P = {format_p(p.VALUE)}")
                lines.append(f"{p.GROUP1_LEVEL}: {text}" if several else text)
            ticks.append("\n".join(lines))
        ax.set_xticks(range(len(visits)), ticks, fontsize=SMALL)
        ax.set_xlim(-0.5, len(visits) - 0.5)
        ax.set_ylim(0, 122)  # room for n/N over a bar of 100 %
        ax.set_yticks(range(0, 101, 20))
        ax.tick_params(axis="y", labelsize=SMALL)
        ax.set_ylabel("Responders, % (n/N)", fontsize=SMALL + 1)
        _title(ax, rows["PARAM"].iloc[0], _missing_text(missing, visits))
    fig.legend(handles=[Patch(color=colours[a], label=a) for a in arms], loc="upper center", ncol=len(arms),
               frameon=False, fontsize=SMALL, bbox_to_anchor=(0.5, 1 - 0.4 / fig.get_figheight()))
    fig.suptitle("Responders by visit and arm (missing = non-responder); P: Pearson chi-square", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / fig.get_figheight()))
    return fig, pd.concat(used)


def grade_shift_figure(ard: pd.DataFrame, arms: list[str], analysis: str = "GRADESHIFT",
                       grade_names: dict | None = None):
    """Baseline grade x grade at a visit, one heat map per arm and visit; grades labelled by ``grade_names``
    (grade -> name, from the figure's config) or "Grade g"."""
    shift = ard[ard["ANALYSIS_ID"] == analysis]
    if shift.empty:
        return None
    names = {float(k): str(v) for k, v in (grade_names or {}).items()}
    visits = sorted(shift["AVISITN"].dropna().unique())
    fig, axes = plt.subplots(len(visits), len(arms), figsize=(3.9 * len(arms), 3.5 * len(visits) + 0.5),
                             squeeze=False)
    cells = shift[shift["STAT_NAME"].str.contains(">", regex=False)]
    grades = sorted({float(s.split(">")[0]) for s in cells["STAT_NAME"]})
    sizes = shift[shift["STAT_NAME"] == "n"].set_index(["AVISITN", "GROUP1_LEVEL"])["VALUE"]
    visit_labels = _visit_labels(shift)
    for r, visit in enumerate(visits):
        at = visit_labels.get(visit, f"{visit:g}").replace("Wk ", "week ")
        for c, arm in enumerate(arms):
            ax = axes[r, c]
            size = sizes.get((visit, arm), 0)
            if not grades or not size > 0:  # no subject with both grades: no heat map
                ax.set_axis_off()
                _title(ax, f"{arm}, {at}", "no data")
                continue
            mine = _arm_rows(cells[cells["AVISITN"] == visit], arm).set_index("STAT_NAME")["VALUE"]
            grid = np.array([[mine.get(f"{b:g}>{g:g}", 0) for g in grades] for b in grades])
            ax.imshow(grid, cmap="Blues", vmin=0)
            for i in range(len(grades)):
                for j in range(len(grades)):
                    ax.text(j, i, f"{grid[i, j]:g}", ha="center", va="center", fontsize=SMALL + 1,
                            color="black" if grid[i, j] < grid.max() / 2 else "white")
            ax.set_xticks(range(len(grades)), [f"{g:g}\n{names[g]}" if g in names else f"Grade\n{g:g}"
                                               for g in grades], fontsize=SMALL - 0.5)
            ax.set_yticks(range(len(grades)), [f"{g:g} = {names[g]}" if g in names else f"Grade {g:g}"
                                               for g in grades], fontsize=SMALL - 0.5)
            ax.set_xlabel(f"Grade at {at}", fontsize=SMALL)
            ax.set_ylabel("Grade at baseline", fontsize=SMALL)
            ax.set_title(f"{arm}, {at} (n = {size:.0f})", fontsize=9)
    fig.suptitle(f"{display_unit(shift['PARAM'].iloc[0])}: shift from baseline (below the diagonal: improved)",
                 fontsize=11)
    fig.tight_layout()
    return fig, shift


def forest_figure(ard: pd.DataFrame, arms: list[str], paramcds: list[str], analysis: str = "ANCOVA",
                  units: dict[str, str] | None = None, better: dict[str, str] | None = None):
    """ANCOVA difference (each active arm - control) in change from baseline with 95 % CI: one panel per key endpoint,
    one row per visit (one marker per comparison, coloured as its active arm). The x-axis names the statistic and the
    parameter's unit; a parameter with a direction in ``better`` ("lower" or "higher" is better, from the figure's
    config) gets "Favours <arm>" labels on the side of zero that favours it."""
    units, better = units or {}, better or {}
    rows = _contrast_rows(ard[(ard["ANALYSIS_ID"] == analysis) & ard["PARAMCD"].isin(paramcds)
                              & ard["STAT_NAME"].isin(["estimate", "lcl", "ucl", "p"])])
    if rows.empty:
        return None
    wide = _wide(rows, ["PARAMCD", "PARAM", "AVISITN", "GROUP1_LEVEL"], ["estimate", "lcl", "ucl", "p"]).reset_index()
    params = [p for p in paramcds if p in set(wide["PARAMCD"])]
    actives = [a for a in arms[:-1] if a in set(wide["GROUP1_LEVEL"])]
    ncols = min(3, len(params))
    nrows = -(-len(params) // ncols)
    n_visits = wide.groupby("PARAMCD")["AVISITN"].nunique().max()
    fig, axes = plt.subplots(nrows, ncols,
                             figsize=(4.4 * ncols, (0.45 * n_visits * max(1, len(actives) / 1.5) + 2.0) * nrows + 0.5),
                             squeeze=False)
    colours = _colours(arms)
    visit_labels = _visit_labels(ard[ard["ANALYSIS_ID"] == analysis])
    favour_active = actives[0] if len(actives) == 1 else "active arm"
    for ax, paramcd in zip(axes.flat, params):
        mine = wide[wide["PARAMCD"] == paramcd]
        visits = sorted(mine["AVISITN"].unique())
        y_of = {v: len(visits) - 1 - i for i, v in enumerate(visits)}
        absent = []
        for offset, active in zip(_offsets(len(actives), 0.4), actives):
            arm = mine[mine["GROUP1_LEVEL"] == active].sort_values("AVISITN")
            drawn = arm[["estimate", "lcl", "ucl"]].notna().all(axis=1)  # not estimable: a labelled empty row
            absent += [f"week {v:g}" + (f" ({active})" if len(actives) > 1 else "") for v in arm.loc[~drawn, "AVISITN"]]
            arm = arm[drawn]
            y = np.array([y_of[v] for v in arm["AVISITN"]]) - offset
            significant = arm["p"].to_numpy() < 0.05
            ax.errorbar(arm["estimate"], y, xerr=[arm["estimate"] - arm["lcl"], arm["ucl"] - arm["estimate"]],
                        fmt="none", ecolor=colours[active], capsize=2)
            ax.scatter(arm["estimate"], y, marker="s", color=np.where(significant, colours[active], "white"),
                       edgecolor=colours[active], zorder=3, label=active)
        ax.axvline(0, color=GREY, lw=1)
        low, high = min(mine["lcl"].min(), 0), max(mine["ucl"].max(), 0)  # zero always in view, with a margin
        if np.isfinite(low) and np.isfinite(high) and high > low:
            ax.set_xlim(low - 0.08 * (high - low), high + 0.08 * (high - low))
        ax.set_yticks([y_of[v] for v in visits], [visit_labels.get(v, f"{v:g}") for v in visits], fontsize=SMALL)
        ax.set_ylim(-0.7, len(visits) - 0.3)
        _title(ax, mine["PARAM"].iloc[0], f"not estimable: {', '.join(absent)}" if absent else "")
        ax.tick_params(axis="x", labelsize=SMALL)
        unit = display_unit(units.get(paramcd, ""))
        ax.set_xlabel("Difference in LS mean change from baseline" + (f" ({unit})" if unit else ""),
                      fontsize=SMALL)
        if paramcd in better:  # lower is better: a negative difference (active - control) favours the active arm
            left, right = (favour_active, arms[-1]) if better[paramcd] == "lower" else (arms[-1], favour_active)
            below = ax.xaxis.label
            for x, ha, text in ((0, "left", f"\u2190 Favours {left}"), (1, "right", f"Favours {right} \u2192")):
                ax.annotate(text, (x, 0), xycoords=("axes fraction", below), xytext=(0, -3),
                            textcoords="offset points", ha=ha, va="top", fontsize=SMALL - 0.5, color="dimgrey")
    for ax in list(axes.flat)[len(params):]:
        ax.set_visible(False)
    if len(actives) > 1:
        axes.flat[0].legend(fontsize=SMALL - 1, frameon=False, loc="lower left", bbox_to_anchor=(0, 1.12),
                            ncol=len(actives), borderaxespad=0)
    fig.suptitle(f"ANCOVA of change from baseline: {_contrast_label(rows)}, difference in LS means with 95% CI "
                 "(filled: P < 0.05)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.15 / fig.get_figheight()))  # a gap between the title and the panels
    return fig, rows


def ae_figure(ard: pd.DataFrame, arms: list[str], analysis: str = "AE", population: str = "safety population"):
    """Adverse-event dot plot: % of subjects with each preferred term by arm, and each active arm's risk difference
    from control with 95 % CI; terms by descending incidence (all arms together), the most frequent on top."""
    ae = ard[(ard["ANALYSIS_ID"] == analysis) & ~ard["PARAMCD"].isin(["ANY", "SER"])]
    if ae.empty:
        return None
    arm_counts = ae[(ae["COMPARATOR"] == "") & ae["STAT_NAME"].isin(["n", "N"])]
    totals = arm_counts.pivot_table(index="PARAMCD", columns="STAT_NAME", values="VALUE", aggfunc="sum")
    incidence = (totals["n"] / totals["N"].where(totals["N"] > 0)).fillna(0) if {"n", "N"} <= set(totals.columns) \
        else ae[ae["STAT_NAME"] == "pct"].groupby("PARAMCD")["VALUE"].mean()  # all arms together
    top_down = sorted(ae["PARAMCD"].unique(), key=lambda t: (-incidence.get(t, 0), t))  # ties alphabetical
    terms = top_down[::-1]  # y = 0 at the bottom
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 0.34 * len(terms) + 2.4), sharey=True,
                                      gridspec_kw={"width_ratios": [1.1, 1]})
    y = np.arange(len(terms))
    missing, highest = {}, 0.0
    markers = [ACTIVE_MARKERS[i % len(ACTIVE_MARKERS)] for i in range(len(arms) - 1)] + [CONTROL_MARKER]
    sizes = ae[(ae["COMPARATOR"] == "") & (ae["STAT_NAME"] == "N")].groupby("GROUP1_LEVEL")["VALUE"].max()
    for arm, marker, shift in zip(arms, markers, _offsets(len(arms), 0.3)):  # arms apart: equal % stay visible
        pct = _arm_rows(ae, arm)[lambda r: r["STAT_NAME"] == "pct"].set_index("PARAMCD")["VALUE"]
        xs = [pct.get(t, 0) for t in terms]  # NaN: the arm has no subject in the safety population
        missing[arm] = [t for t, x in zip(terms, xs) if pd.isna(x)]
        highest = max([highest] + [x for x in xs if pd.notna(x)])
        if len(missing[arm]) < len(terms):
            label = f"{arm} (N = {sizes[arm]:.0f})" if pd.notna(sizes.get(arm)) else arm
            left.scatter(xs, y - shift, color=_colours(arms)[arm], marker=marker, label=label, zorder=3)
    left.set_xlim(-0.06 * max(highest, 5), 1.08 * max(highest, 5))  # markers at 0 % and at the largest % inside
    left.set_ylim(-0.6, len(terms) - 0.4)
    contrast = _contrast_rows(ae)
    # the CI's method, as its label names it ("95% CI lower (Newcombe hybrid score)"; an older ARD: "Wald CI lower")
    labels = contrast.loc[contrast["STAT_NAME"] == "lcl", "STAT_LABEL"].dropna().astype(str).unique()
    methods = sorted({m.group(1) if (m := re.search(r"CI lower \((.+)\)$", label)) else label.split(" CI")[0]
                      for label in labels})
    actives = [a for a in arms[:-1] if a in set(contrast["GROUP1_LEVEL"])]
    for offset, active in zip(_offsets(len(actives), 0.4), actives):
        diff = _wide(contrast[contrast["GROUP1_LEVEL"] == active], "PARAMCD", ["estimate", "lcl", "ucl"]).reindex(terms)
        right.errorbar(100 * diff["estimate"], y - offset, xerr=[100 * (diff["estimate"] - diff["lcl"]),
                                                                 100 * (diff["ucl"] - diff["estimate"])],
                       fmt="o", color="black" if len(actives) == 1 else _colours(arms)[active], capsize=2, ms=4)
    right.axvline(0, color=GREY, lw=1)
    right.margins(x=0.06)
    left.set_yticks(y, terms, fontsize=SMALL + 0.5)
    _title(left, "", "; ".join(f"no data: {arm}" for arm, absent in missing.items() if absent))
    left.set_xlabel(f"Subjects with the event, % of the {population}", fontsize=SMALL + 0.5)
    method = f"; 95% CI: {' / '.join(methods)}" if methods else ""
    right.set_xlabel(f"Risk difference, {_contrast_label(contrast)}\n(percentage points{method})",
                     fontsize=SMALL + 0.5)
    for ax in (left, right):
        ax.tick_params(axis="x", labelsize=SMALL)
    left.grid(axis="x", alpha=0.3)
    # above both panels, in a band tight_layout keeps free (the legend may be wider than the left panel)
    legend = left.legend(fontsize=SMALL, frameon=False, loc="lower left", ncol=len(arms), borderaxespad=0,
                         bbox_to_anchor=(0, 1 + 0.12 / left.get_position().height / fig.get_figheight()))
    legend.set_in_layout(False)
    fig.suptitle("Treatment-emergent adverse events by preferred term", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    return fig, ae[ae["STAT_NAME"].isin(["n", "N", "pct", "estimate", "lcl", "ucl", "ci_method"])]


def consort_figure(ard: pd.DataFrame, arms: list[str], analysis: str = "POP"):
    """CONSORT-style flow from the ARD's population and disposition counts, one column per arm: allocation, each
    further population of the plan (its ARD label), then disposition."""
    counts = ard[ard["ANALYSIS_ID"].isin([analysis, "DISP"])]
    if counts.empty:
        return None
    n = counts.set_index(["PARAMCD", "GROUP1_LEVEL"])["VALUE"]
    populations = ard.loc[ard["ANALYSIS_ID"] == analysis, ["PARAMCD", "PARAM"]].drop_duplicates("PARAMCD")
    randomised = populations["PARAMCD"].iloc[0] if len(populations) else "RANDFL"
    further = [(flag, label) for flag, label in populations.itertuples(index=False) if flag != randomised]
    levels = 3 + len(further)  # allocation, the further populations, two disposition boxes
    width = 4.8 * len(arms) / 2
    fig, ax = plt.subplots(figsize=(max(8, 4 * len(arms)), 2.4 + 1.2 * levels))
    ax.set_axis_off()
    ax.set_xlim(0, 10)
    top = 1.7 * (levels + 1)
    ax.set_ylim(0, top + 0.8)

    box_width = min(3.6, 9.6 / len(arms))

    def box(x, y, text, width=box_width):
        ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.55), width, 1.1, boxstyle="round,pad=0.05", fc="white",
                                    ec="black"))
        ax.text(x, y, text, ha="center", va="center", fontsize=8.5)

    def count(flag, arm) -> int:
        return int(n.get((flag, arm), 0))

    box(5, top, f"Randomised\nn = {sum(count(randomised, a) for a in arms)}", width=3)
    xs = list(np.linspace(5 - width / 2, 5 + width / 2, len(arms))) if len(arms) > 1 else [5.0]
    for x, arm in zip(xs, arms):
        texts = [f"Allocated to {arm}\nn = {count(randomised, arm)}"]
        texts += [f"{label}\nn = {count(flag, arm)}" for flag, label in further]
        texts += [f"Discontinued n = {count('DISCONTINUED', arm)}\nOngoing at cut n = {count('ONGOING', arm)}",
                  f"Completed\nn = {count('COMPLETED', arm)}"]
        ax.annotate("", (x, top - 1.15), (5, top - 0.6), arrowprops={"arrowstyle": "->"})
        for level, text in enumerate(texts, start=1):
            y = top - 1.7 * level
            box(x, y, text)
            if level > 1:
                ax.annotate("", (x, y + 0.6), (x, y + 1.15), arrowprops={"arrowstyle": "->"})
    ax.set_title("Participant flow", fontsize=11)
    return fig, counts


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 of type and data (PNG specification, section 5.3)."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path: Path, rgba: np.ndarray, dpi: float, text: dict[str, str]) -> None:
    """8-bit RGBA pixels (rows top down) as a PNG with ``text`` (tEXt, or iTXt when not latin-1, as Pillow writes
    matplotlib's metadata) and ``dpi`` (pHYs). No row filter and zlib level 6: on these plots (flat colours, text)
    that is about half Pillow's time (it tries every filter on every row) and a slightly smaller file."""
    height, width, _ = rgba.shape
    compressor = zlib.compressobj(6)
    block = np.zeros((min(height, 256), 1 + 4 * width), np.uint8)  # rows of a block: filter type 0, then the pixels
    data = []
    for start in range(0, height, len(block)):
        pixels = rgba[start:start + len(block)].reshape(-1, 4 * width)
        block[:len(pixels), 1:] = pixels
        data.append(compressor.compress(block[:len(pixels)]))
    data.append(compressor.flush())
    chunks = [_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))]  # 8 bits, RGBA
    for key, value in text.items():
        try:
            chunks.append(_png_chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1")))
        except UnicodeEncodeError:  # iTXt: keyword, no compression, no language, no translated keyword, UTF-8
            chunks.append(_png_chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8")))
    per_metre = int(dpi / 0.0254 + 0.5)
    chunks.append(_png_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)))
    chunks.append(_png_chunk(b"IDAT", b"".join(data)))
    chunks.append(_png_chunk(b"IEND", b""))
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.writelines(chunks)


def save_figure(fig: plt.Figure, out_dir: Path, stem: str, provenance: dict) -> dict:
    """Write ``stem``.png (300 dpi) and .svg (text as text) with the provenance record embedded, and ``stem``.json
    beside them. Matplotlib writes no date into either file, so the same figure and record give the same bytes
    (the record itself carries the time it was made)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(provenance, sort_keys=True)
    png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        # tight_layout ran once and left a placeholder engine, for which savefig would run a layout-only draw before
        # each real one; the layout is done, so none
        fig.set_layout_engine(None)
    # the pixels savefig would hand to Pillow for a PNG (the same draw), encoded by write_png
    fig.savefig(os.devnull, format="rgba", dpi=PNG_DPI)
    write_png(png, np.asarray(fig.canvas.buffer_rgba()), PNG_DPI,
              {"Software": f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/",
               "Title": provenance["title"], "Provenance": text})
    fig.savefig(svg, metadata={"Title": provenance["title"], "Description": text, "Date": None})
    plt.close(fig)
    sidecar = dict(provenance, files={"png": {"path": png.name, "sha256": sha256_file(png)},
                                      "svg": {"path": svg.name, "sha256": sha256_file(svg)}})
    write_json(sidecar, out_dir / f"{stem}.json")
    return sidecar


def parameter_units(trial) -> dict[str, str]:
    """PARAMCD -> unit as configured (``tests.<P>.unit``; a derived parameter: its ``unit`` or the derivation's)."""
    units = {code: str(spec.get("unit", "")) for code, spec in trial.tests.items()}
    for code, spec in trial.derived.items():
        units[code] = str(spec.get("unit", DERIVATIONS.get(spec.get("derivation"), {}).get("unit", "")))
    return units


def _population_name(trial, analysis_id: str) -> str:
    analysis = trial.analysis(analysis_id)
    return trial.population(analysis.population).name if analysis and analysis.population else ""


def _footnote(*sentences: str, population: str = "") -> str:
    parts = [s.rstrip(".") + "." for s in sentences if s]
    return " ".join(parts + ([f"Population: {population}."] if population else []))


# Figure kinds in report order: (config key, stem, default title).
KINDS = (("consort", "01_consort", "Participant flow (CONSORT)"),
         ("trajectories", "02_trajectories", "Endpoints by visit and arm"),
         ("responders", "03_responders", "Responders by visit and arm"),
         ("grade_shift", "04_grade_shift", "Grade: baseline vs follow-up"),
         ("forest", "05_forest", "Between-arm differences (ANCOVA)"),
         ("adverse_events", "06_adverse_events", "Adverse events: incidence and risk difference"))


def all_figures(ard: pd.DataFrame, config: dict) -> list[tuple[str, Caption, plt.Figure, pd.DataFrame]]:
    """(stem, caption, figure, ARD rows drawn) for every figure the trial's plan asks for (``figures:``; the
    participant flow always), in report order. A figure's number is its entry's ``number:``, else "Figure <k>" with
    k its place among the kinds drawn; a figure of several pages has one number, its title says the page."""
    trial = load_trial(config)
    arms = list(trial.arm_names)  # active arm(s), then control, whatever the config's order
    spec = dict(trial.figures)
    spec.setdefault("consort", {"analysis": next((a.id for a in trial.analyses_by("populations")), "POP")})
    ranges = next((a.id for a in trial.analyses_by("reference_ranges")), "REFRANGE")
    units = parameter_units(trial)
    control = arms[-1]
    out, kinds_drawn = [], 0
    for key, stem, default_title in KINDS:
        if key not in spec:
            continue
        entry = spec[key]
        title, analysis = entry.get("title", default_title), entry["analysis"]
        population = _population_name(trial, analysis)
        if key == "consort":
            drawn = consort_figure(ard, arms, analysis)
            pages = [drawn] if drawn else []
            footnote = _footnote("Subjects by analysis population and disposition at the data cut",
                                 population=trial.population(RANDOMISED).name)
        elif key == "trajectories":
            label = entry.get("title", "Endpoints")
            title = f"{label} by visit and arm"
            parameters = list(entry["parameters"])
            pages = trajectory_figures(ard, parameters, arms, label, analysis, ranges, units, trial.medians)
            tests = star_tests(ard, analysis, parameters, trial.medians)
            present = set(ard.loc[ard["ANALYSIS_ID"] == analysis, "PARAMCD"])
            drawn = [p for p in parameters if p in present]
            footnote = _footnote(
                "Mean ± SE of the value by visit and arm; visits equally spaced (not to time scale)",
                "Numbers under each panel: subjects with a value (n) per arm and visit",
                f"* P < 0.05, {tests_named(tests, drawn)} of each active arm vs {control} at the visit, not adjusted "
                "for multiplicity" + ("; parameters the plan summarises by median are drawn as mean ± SE too, for "
                                      "one scale across panels" if set(drawn) & trial.medians else ""),
                "Shaded band: reference range, where it lies within the plotted values", population=population)
        elif key == "responders":
            drawn = responder_figure(ard, arms, analysis)
            pages = [drawn] if drawn else []
            has_ci = drawn is not None and drawn[1]["STAT_NAME"].isin(["lcl", "ucl"]).any()
            footnote = _footnote("Percentage of responders by visit and arm, n/N over each bar"
                                 + (" with the 95% CI of the proportion" if has_ci else ""),
                                 "Subjects with a missing value count as non-responders",
                                 "P: Pearson chi-square of each active arm vs " + control, population=population)
        elif key == "grade_shift":
            drawn = grade_shift_figure(ard, arms, analysis, entry.get("grades"))
            pages = [drawn] if drawn else []
            footnote = _footnote("Number of subjects by grade at baseline (rows) and at the visit (columns), by arm",
                                 "Cells below the diagonal: improved", population=population)
        elif key == "forest":
            drawn = forest_figure(ard, arms, list(entry["parameters"]), analysis, units, entry.get("better"))
            pages = [drawn] if drawn else []
            contrast = _contrast_label(_contrast_rows(ard[ard["ANALYSIS_ID"] == analysis]))
            footnote = _footnote(
                f"Difference in LS means (95% CI) of the change from baseline, {contrast}",
                "ANCOVA: change ~ arm + baseline value; filled marker: P < 0.05",
                "Favours labels follow the figure's configured direction (better: lower or higher)"
                if entry.get("better") else "", population=population)
        else:
            drawn = ae_figure(ard, arms, analysis, population[:1].lower() + population[1:] or "safety population")
            pages = [drawn] if drawn else []
            footnote = _footnote("Percentage of subjects with each treatment-emergent preferred term, by arm",
                                 "Risk difference (95% CI) of each active arm vs " + control + ", percentage points",
                                 population=population)
        if not pages:
            continue
        kinds_drawn += 1
        number = str(entry.get("number") or f"Figure {kinds_drawn}")
        for i, (fig, rows) in enumerate(pages, start=1):
            page_title = f"{title} (page {i} of {len(pages)})" if len(pages) > 1 else title
            out.append((f"{stem}_{i}" if key == "trajectories" else stem, Caption(number, page_title, footnote),
                        fig, rows))
    return out


def run_figures(ard_path: str, raw_files_path: str, config: dict, trial: str, cut: str, out_dir: str, project_dir: Path,
                log) -> None:
    """Stage runner: every figure of one cut, each with its provenance record (sidecar, PNG, SVG); the sidecar
    carries the caption's number, title and footnote for the report."""
    from ucmsc import provenance

    ard = ardlib.read(ard_path)
    raw = json.loads(Path(raw_files_path).read_text())
    code = provenance.code_version(project_dir)
    inputs = [provenance.file_entry(ard_path, "ARD")]
    for stem, caption, fig, rows in all_figures(ard, config):
        record = provenance.record(
            artefact=f"{stem}.png", title=caption.title, rule="figures", script="workflow/scripts/figures.py",
            inputs=inputs, raw_files=raw["files"], params={"trial": trial, "cut": cut,
                                                           "figures": config.get("figures", {}),
                                                           "analyses": config.get("analyses", [])},
            code=code, ard_rows=provenance.ard_keys(rows))
        record |= {"number": caption.number, "footnote": caption.footnote}
        save_figure(fig, Path(out_dir), stem, record)
        log.info("%s: %s, %d ARD rows drawn", stem, caption.number, len(rows))
