"""Figures drawn from the ARD only, each saved as PNG + SVG with its provenance inside and beside it.

Every ``*_figure`` function takes the ARD and returns ``(figure, ard_rows_drawn)`` or None
when the trial has nothing to draw; the rows drawn go into the figure's provenance record.
A figure draws whatever arms and visits have values; those without (an empty arm, a visit
without data, a not-estimable statistic) are left out and named in a note on the panel.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

from ucmsc import ard as ardlib  # noqa: E402
from ucmsc.io import sha256_file, write_json  # noqa: E402
from ucmsc.plan import load_trial  # noqa: E402
from ucmsc.rounding import format_half_up  # noqa: E402

# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies. Control arm orange, active arms blue,
# then green, purple, vermillion, sky blue.
ACTIVE_COLOURS, CONTROL_COLOUR, GREY = ("#0072B2", "#009E73", "#CC79A7", "#D55E00", "#56B4E9"), "#E69F00", "#999999"
ACTIVE_COLOUR = ACTIVE_COLOURS[0]
ACTIVE_MARKERS, CONTROL_MARKER = ("o", "D", "^", "v", "P", "X"), "s"  # the AE dot plot's; cycled like the colours
plt.rcParams.update({"font.size": 10, "svg.hashsalt": "ucmsc", "figure.dpi": 100, "axes.spines.top": False,
                     "axes.spines.right": False})
PANELS_PER_PAGE = 6


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
    ax.set_title("\n".join(t for t in (title, f"({note})" if note else "") if t), fontsize=fontsize)


def trajectory_figures(ard: pd.DataFrame, paramcds: list[str], arms: list[str], title: str, analysis: str = "CONT",
                       ranges_analysis: str = "REFRANGE") -> list[tuple[plt.Figure, pd.DataFrame]]:
    """Mean ± SE by visit and arm, six parameters a page; reference range shaded where the ARD has one.
    A star marks a visit where a comparison with control has P < 0.05 (coloured as the active arm)."""
    cont = ard[(ard["ANALYSIS_ID"] == analysis) & (ard["VARIABLE"] == "AVAL")]
    t_method = "Welch t-test" if (cont["METHOD"] == "Welch t-test").any() else "Student t-test"  # plan option ttest
    ranges = ard[ard["ANALYSIS_ID"] == ranges_analysis].pivot_table(index="PARAMCD", columns="STAT_NAME",
                                                                    values="VALUE")
    present = [p for p in paramcds if p in set(cont["PARAMCD"])]
    pages = []
    for start in range(0, len(present), PANELS_PER_PAGE):
        chunk = present[start:start + PANELS_PER_PAGE]
        ncols = min(3, len(chunk))
        nrows = -(-len(chunk) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.3 * ncols, 3.3 * nrows), squeeze=False)
        used = []
        for ax, paramcd in zip(axes.flat, chunk):
            rows = cont[cont["PARAMCD"] == paramcd]
            if paramcd in ranges.index:
                ax.axhspan(ranges.loc[paramcd, "low"], ranges.loc[paramcd, "high"], color=GREY, alpha=0.15, lw=0,
                           label="reference range")
                used.append(ard[(ard["ANALYSIS_ID"] == ranges_analysis) & (ard["PARAMCD"] == paramcd)])
            visits = sorted(rows["AVISITN"].unique())
            missing = {}
            for offset, arm in zip(_offsets(len(arms)), arms):
                mine = _wide(_arm_rows(rows, arm)[lambda r: r["STAT_NAME"].isin(["mean", "se"])], "AVISITN",
                             ["mean", "se"])
                mine = mine[mine["mean"].notna()]  # a visit where the arm has no value: no point (SE NaN: no bar)
                used.append(_arm_rows(rows, arm)[lambda r: r["STAT_NAME"].isin(["mean", "se", "n"])])
                missing[arm] = [v for v in visits if v not in mine.index]
                if mine.empty:
                    continue
                ax.errorbar(mine.index + offset, mine["mean"], yerr=mine["se"], marker="o", ms=4, capsize=3,
                            color=_colours(arms)[arm], label=arm)
            p_rows = _contrast_rows(rows)[lambda r: (r["STAT_NAME"] == "p") & (r["METHOD"] == t_method)]
            used.append(p_rows)
            top = ax.get_ylim()[1]
            star_offset = dict(zip(arms[:-1], _offsets(len(arms) - 1, 0.5)))
            for _, p in p_rows[(p_rows["AVISITN"] > 0) & (p_rows["VALUE"] < 0.05)].iterrows():
                ax.text(p["AVISITN"] + star_offset.get(p["GROUP1_LEVEL"], 0), top, "*", ha="center", va="bottom",
                        fontsize=13, color=_colours(arms).get(p["GROUP1_LEVEL"], "black"))
            _title(ax, rows["PARAM"].iloc[0], _missing_text(missing, visits), fontsize=10)
            ax.set_xlabel("Week")
            ax.set_xticks(sorted(rows["AVISITN"].unique()))
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(chunk):]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize=8, frameon=False)
        fig.suptitle(f"{title}: mean ± SE by visit (* P < 0.05, {t_method} between arms)", fontsize=11)
        fig.tight_layout()
        pages.append((fig, pd.concat(used)))
    return pages


def responder_figure(ard: pd.DataFrame, arms: list[str], analysis: str = "RESP"):
    """Responder percentage by visit and arm, with the chi-square P of each comparison at each visit."""
    resp = ard[ard["ANALYSIS_ID"] == analysis]
    if resp.empty:
        return None
    paramcds = list(dict.fromkeys(resp["PARAMCD"]))
    fig, axes = plt.subplots(1, len(paramcds), figsize=(4.6 * len(paramcds), 3.6), squeeze=False)
    used = []
    for ax, paramcd in zip(axes.flat, paramcds):
        rows = resp[resp["PARAMCD"] == paramcd]
        visits = sorted(rows["AVISITN"].unique())
        missing = {}
        width = 0.76 / len(arms)
        for k, arm in enumerate(arms):
            pct = _arm_rows(rows, arm)[lambda r: r["STAT_NAME"] == "pct"].set_index("AVISITN")["VALUE"]
            used.append(_arm_rows(rows, arm)[lambda r: r["STAT_NAME"].isin(["n", "N", "pct"])])
            heights = [pct.get(v, 0) for v in visits]  # NaN (no denominator or no data): no bar
            missing[arm] = [v for v, h in zip(visits, heights) if pd.isna(h)]
            if len(missing[arm]) < len(visits):
                ax.bar([i + (k - (len(arms) - 1) / 2) * width for i in range(len(visits))], heights, width=width,
                       color=_colours(arms)[arm], label=arm)
        p_rows = _contrast_rows(rows)[lambda r: r["STAT_NAME"] == "p"]
        used.append(p_rows)
        several = p_rows["GROUP1_LEVEL"].nunique() > 1
        for i, visit in enumerate(visits):
            for j, p in enumerate(p_rows[p_rows["AVISITN"] == visit].itertuples()):
                text = ("P not estimable" if pd.isna(p.VALUE) else
                        f"P {'< 0.001' if p.VALUE < 0.001 else '= ' + format_half_up(p.VALUE, 3)}")
                ax.text(i, 96 - 5 * j, f"{p.GROUP1_LEVEL}: {text}" if several else text, ha="center",
                        fontsize=7 if several else 8)
        ax.set_xticks(range(len(visits)), [f"Week {v:g}" for v in visits])
        ax.set_ylim(0, 105)
        ax.set_ylabel("% of full analysis set")
        _title(ax, rows["PARAM"].iloc[0], _missing_text(missing, visits))
    axes.flat[0].legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(0, 0.9))
    fig.suptitle("Responders by visit (missing = non-responder); P: Pearson chi-square", fontsize=11)
    fig.tight_layout()
    return fig, pd.concat(used)


def grade_shift_figure(ard: pd.DataFrame, arms: list[str], analysis: str = "GRADESHIFT"):
    """Baseline grade x grade at a visit, one heat map per arm and visit."""
    shift = ard[ard["ANALYSIS_ID"] == analysis]
    if shift.empty:
        return None
    visits = sorted(shift["AVISITN"].unique())
    fig, axes = plt.subplots(len(visits), len(arms), figsize=(3.6 * len(arms), 3.2 * len(visits)), squeeze=False)
    cells = shift[shift["STAT_NAME"].str.contains(">", regex=False)]
    grades = sorted({float(s.split(">")[0]) for s in cells["STAT_NAME"]})
    sizes = shift[shift["STAT_NAME"] == "n"].set_index(["AVISITN", "GROUP1_LEVEL"])["VALUE"]
    for r, visit in enumerate(visits):
        for c, arm in enumerate(arms):
            ax = axes[r, c]
            if not grades or not sizes.get((visit, arm), 0) > 0:  # no subject with both grades: no heat map
                ax.set_axis_off()
                _title(ax, f"{arm}, week {visit:g}", "no data")
                continue
            mine = _arm_rows(cells[cells["AVISITN"] == visit], arm).set_index("STAT_NAME")["VALUE"]
            grid = np.array([[mine.get(f"{b:g}>{g:g}", 0) for g in grades] for b in grades])
            ax.imshow(grid, cmap="Blues", vmin=0)
            for i in range(len(grades)):
                for j in range(len(grades)):
                    ax.text(j, i, f"{grid[i, j]:g}", ha="center", va="center",
                            color="black" if grid[i, j] < grid.max() / 2 else "white")
            labels = [f"{g:g}" for g in grades]
            ax.set_xticks(range(len(grades)), labels)
            ax.set_yticks(range(len(grades)), labels)
            ax.set_xlabel(f"Grade at week {visit:g}")
            ax.set_ylabel("Grade at baseline")
            ax.set_title(f"{arm}, week {visit:g} (below diagonal: improved)", fontsize=9)
    fig.suptitle(f"{shift['PARAM'].iloc[0]}: shift from baseline", fontsize=11)
    fig.tight_layout()
    return fig, shift


def forest_figure(ard: pd.DataFrame, arms: list[str], paramcds: list[str], analysis: str = "ANCOVA"):
    """ANCOVA difference (each active arm - control) in change from baseline with 95 % CI: one panel per key endpoint,
    one row per visit (one marker per comparison, coloured as its active arm)."""
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
                             figsize=(4.3 * ncols, (0.45 * n_visits * max(1, len(actives) / 1.5) + 1.3) * nrows),
                             squeeze=False)
    colours = _colours(arms)
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
        ax.set_yticks([y_of[v] for v in visits], [f"Week {v:g}" for v in visits], fontsize=8)
        ax.set_ylim(-0.7, len(visits) - 0.3)
        _title(ax, mine["PARAM"].iloc[0], f"not estimable: {', '.join(absent)}" if absent else "")
        ax.tick_params(axis="x", labelsize=8)
    for ax in list(axes.flat)[len(params):]:
        ax.set_visible(False)
    if len(actives) > 1:
        axes.flat[0].legend(fontsize=7, frameon=False)
    fig.suptitle(f"ANCOVA of change from baseline: {_contrast_label(rows)}, 95% CI (filled: P < 0.05)", fontsize=11)
    fig.tight_layout()
    return fig, rows


def ae_figure(ard: pd.DataFrame, arms: list[str], analysis: str = "AE"):
    """Adverse-event dot plot: % of subjects with each preferred term by arm, and each active arm's risk difference
    from control with 95 % CI."""
    ae = ard[(ard["ANALYSIS_ID"] == analysis) & ~ard["PARAMCD"].isin(["ANY", "SER"])]
    if ae.empty:
        return None
    terms = sorted(ae["PARAMCD"].unique())
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 0.42 * len(terms) + 1.6), sharey=True,
                                      gridspec_kw={"width_ratios": [1.2, 1]})
    y = np.arange(len(terms))
    missing = {}
    markers = [ACTIVE_MARKERS[i % len(ACTIVE_MARKERS)] for i in range(len(arms) - 1)] + [CONTROL_MARKER]
    for arm, marker in zip(arms, markers):
        pct = _arm_rows(ae, arm)[lambda r: r["STAT_NAME"] == "pct"].set_index("PARAMCD")["VALUE"]
        xs = [pct.get(t, 0) for t in terms]  # NaN: the arm has no subject in the safety population
        missing[arm] = [t for t, x in zip(terms, xs) if pd.isna(x)]
        if len(missing[arm]) < len(terms):
            left.scatter(xs, y, color=_colours(arms)[arm], marker=marker, label=arm, zorder=3)
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
    left.set_yticks(y, terms)
    _title(left, "", "; ".join(f"no data: {arm}" for arm, absent in missing.items() if absent))
    left.set_xlabel("% of subjects (safety population)")
    method = f", {' / '.join(methods)}" if methods else ""
    right.set_xlabel(f"Risk difference, {_contrast_label(contrast)} (%, 95% CI{method})")
    left.grid(axis="x", alpha=0.3)
    left.legend(fontsize=8, frameon=False)
    fig.suptitle("Treatment-emergent adverse events by preferred term", fontsize=11)
    fig.tight_layout()
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


def all_figures(ard: pd.DataFrame, config: dict) -> list[tuple[str, str, plt.Figure, pd.DataFrame]]:
    """(stem, title, figure, ARD rows drawn) for every figure the trial's plan asks for (``figures:``), in report
    order."""
    trial = load_trial(config)
    arms = list(trial.arm_names)  # active arm(s), then control, whatever the config's order
    spec = trial.figures
    populations = next((a.id for a in trial.analyses_by("populations")), "POP")
    ranges = next((a.id for a in trial.analyses_by("reference_ranges")), "REFRANGE")
    out = []
    drawn = consort_figure(ard, arms, populations)
    if drawn:
        out.append(("01_consort", "Participant flow (CONSORT)", *drawn))
    if "trajectories" in spec:
        label = spec["trajectories"].get("title", "Endpoints")
        pages = trajectory_figures(ard, list(spec["trajectories"]["parameters"]), arms, label,
                                   spec["trajectories"]["analysis"], ranges)
        for i, (fig, rows) in enumerate(pages, start=1):
            out.append((f"02_trajectories_{i}", f"{label} by visit and arm, page {i}", fig, rows))
    for stem, name, default_title, draw in (
            ("03_responders", "responders", "Responders by visit and arm",
             lambda s: responder_figure(ard, arms, s["analysis"])),
            ("04_grade_shift", "grade_shift", "Grade: baseline vs follow-up",
             lambda s: grade_shift_figure(ard, arms, s["analysis"])),
            ("05_forest", "forest", "Between-arm differences (ANCOVA)",
             lambda s: forest_figure(ard, arms, list(s["parameters"]), s["analysis"])),
            ("06_adverse_events", "adverse_events", "Adverse events: incidence and risk difference",
             lambda s: ae_figure(ard, arms, s["analysis"]))):
        if name in spec:
            drawn = draw(spec[name])
            if drawn:
                out.append((stem, spec[name].get("title", default_title), *drawn))
    return out


def run_figures(ard_path: str, raw_files_path: str, config: dict, trial: str, cut: str, out_dir: str, project_dir: Path,
                log) -> None:
    """Stage runner: every figure of one cut, each with its provenance record (sidecar, PNG, SVG)."""
    from ucmsc import provenance

    ard = ardlib.read(ard_path)
    raw = json.loads(Path(raw_files_path).read_text())
    code = provenance.code_version(project_dir)
    inputs = [provenance.file_entry(ard_path, "ARD")]
    for stem, title, fig, rows in all_figures(ard, config):
        record = provenance.record(
            artefact=f"{stem}.png", title=title, rule="figures", script="workflow/scripts/figures.py", inputs=inputs,
            raw_files=raw["files"], params={"trial": trial, "cut": cut, "figures": config.get("figures", {}),
                                             "analyses": config.get("analyses", [])},
            code=code, ard_rows=provenance.ard_keys(rows))
        save_figure(fig, Path(out_dir), stem, record)
        log.info("%s: %d ARD rows drawn", stem, len(rows))
