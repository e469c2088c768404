"""Tables of a clinical study report as data: YAML shells rendered from the ARD by one engine.

A trial's TLF file (``tlf:`` in its config; config/tlf/) lists its outputs. Each output is a shell:
number, title, population, columns, row blocks and footnotes; ``use:`` takes a shell of the library
(config/tlf/library.yaml) and overrides its keys. Nothing here knows a trial or an endpoint: a new
table is YAML.

Columns: ``stub`` (the row labels), ``arms`` (one per plan arm, active arms first), ``total`` (the
ARD's overall group) and ``contrast`` (one per comparison of an active arm with control). Headers
may name ``{arm}`` and ``{N}``, the arm's subjects in the shell's population (the populations analysis).

Rows are blocks. A block narrows the ARD rows of its parent (``select``: column -> value or list),
and either prints one line (``label`` and ``cells``) or, with ``by``, one group per distinct value of
that column (``order``: ard, value or frequency) whose label line is followed by its child ``rows``.
``link`` takes a child's rows from the parent's selection where a column equals the current key
(a preferred term's GROUP2_LEVEL is its system organ class). ``when`` keeps a block only where it
holds: ``summary`` (the plan's summary rule of the parameter: mean or median), ``has`` (a statistic
present) or a column value present among the rows.

A cell is a template over STAT_NAMEs of the rows of its column's group: ``{mean} ({sd:d+1})``.
Labels are str.format templates over the ARD's columns (``{PARAM}``; ``{PARAMCD!c}`` capitalised).
Formats: ``d`` the parameter's decimals (``decimals:`` of the TLF file), ``d+1``/``d-1``, a digit
count, ``p`` (P-value), ``i`` (integer). Defaults: counts as integers, pct one decimal, P-values
as P, the rest ``d``. A cell may be a list of choices: the first whose ``if`` holds (statistic ->
value; NE: not estimated) is printed. A statistic the ARD lacks prints blank; one it has as not estimable prints NE
(or ∞ for an infinite odds ratio). Two ARD rows for one statistic in a cell is a shell error: a
shell must select the method it prints.
"""

from __future__ import annotations

import copy
import functools
import math
import re
import string
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from ucmsc import ard as ardlib
from ucmsc.ard import MISSING_LEVEL
from ucmsc.plan import Trial
from ucmsc.rounding import display_unit, format_half_up, format_p

NE = "NE"
INFINITE = "∞"
INDENT = "\u2003"
INTEGER_STATS = {"n", "N", "events", "n_subjects", "n_records"}
P_STATS = {"p", "fisher_p", "p_holm", "p_bh", "p_exact"}
PERCENT_STATS = {"pct"}
FIELD = re.compile(r"\{([^{}:]+)(?::([^{}]*))?\}")
FIELD_AND_PERCENT = re.compile(FIELD.pattern + "(%?)")  # a not-estimable percentage prints NE, not NE%
GROUP_COLUMNS = ("GROUP1_LEVEL", "COMPARATOR")
BLOCK_KEYS = {"select", "by", "order", "label", "cells", "rows", "link", "when", "levels"}
SHELL_KEYS = {"id", "use", "number", "title", "section", "population", "analysis", "per", "columns", "rows",
              "footnotes", "orientation", "decimals", "kind", "skip_empty", "parameters"}


class ShellError(ValueError):
    """A shell cannot be read or rendered; the message names the TLF file, the output and the key."""


@dataclass
class Row:
    label: str
    depth: int
    cells: list[str]
    heading: bool = False


@dataclass
class Output:
    """One rendered table: what the HTML and RTF writers print."""

    id: str
    number: str
    title: str
    section: str
    population: str
    header: list[str]
    rows: list[Row]
    footnotes: list[str] = field(default_factory=list)
    analysis_ids: list[str] = field(default_factory=list)
    ard_rows: int = 0
    orientation: str = "landscape"

    @property
    def anchor(self) -> str:
        return "tlf-" + re.sub(r"[^a-z0-9]+", "-", self.number.lower()).strip("-")


@dataclass
class Column:
    key: str  # what a block's ``cells`` name: stub, arm, total, or the contrast's name
    header: str
    group: tuple[str, str] | None  # (GROUP1_LEVEL, COMPARATOR) of the column's ARD rows; None: the row's own
    level: str = ""  # a level column's level ($col in its cells)


# --- reading the shells -------------------------------------------------------------------------------------------

def _yaml(text: str):
    """yaml.safe_load, with libyaml's parser where PyYAML has it (the same data, ~10x faster on the shell library)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load(path: str | Path, library: str | Path | None = None) -> list[dict]:
    """The outputs of a TLF file, each with its library shell merged in (``use:``) and its keys checked."""
    path = Path(path)
    document = _yaml(path.read_text()) or {}
    library_path = Path(library) if library else path.parent / document.get("library", "library.yaml")
    shells = (_yaml(library_path.read_text()) or {}).get("shells", {}) if library_path.exists() else {}
    decimals = document.get("decimals", {})
    outputs = []
    for index, entry in enumerate(document.get("outputs", [])):
        where = f"{path}: outputs[{index}] ({entry.get('id', entry.get('number', '?'))})"
        if "use" in entry:
            if entry["use"] not in shells:
                raise ShellError(f"{where}: use: {entry['use']!r} is not a shell of {library_path}")
            entry = {**copy.deepcopy(shells[entry["use"]]), **entry}
        unknown = set(entry) - SHELL_KEYS
        if unknown:
            raise ShellError(f"{where}: unknown key(s) {sorted(unknown)}; a shell has {sorted(SHELL_KEYS)}")
        for key in ("id", "number", "title", "columns", "rows"):
            if key not in entry:
                raise ShellError(f"{where}: no {key!r}")
        _check_blocks(entry["rows"], where)
        entry["decimals"] = {**decimals, **entry.get("decimals", {})}
        entry["source"] = str(path)
        outputs.append(entry)
    numbers = [o["number"] for o in outputs if "per" not in o]
    duplicated = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicated:
        raise ShellError(f"{path}: output number(s) used twice: {duplicated}")
    return outputs


def _check_blocks(blocks, where: str) -> None:
    if not isinstance(blocks, list):
        raise ShellError(f"{where}: rows must be a list of blocks")
    for i, block in enumerate(blocks):
        unknown = set(block) - BLOCK_KEYS
        if unknown:
            raise ShellError(f"{where}: rows[{i}]: unknown key(s) {sorted(unknown)}; a block has {sorted(BLOCK_KEYS)}")
        _check_blocks(block.get("rows", []), f"{where}: rows[{i}]")


# --- formatting ---------------------------------------------------------------------------------------------------

def _places(spec: str, decimals: int) -> int | str:
    if spec in ("p", "i") or (spec.startswith("%") and spec[1:].isdigit()):
        return spec
    if spec.startswith("d"):
        return max(decimals + int(spec[1:] or 0), 0)
    if spec.isdigit():
        return int(spec)
    raise ShellError(f"format {spec!r}: use d, d+1, d-1, a number of decimals, p or i")


def _default_spec(stat: str) -> str:
    if stat in PERCENT_STATS or stat.endswith("_pct"):
        return "1"
    if stat in INTEGER_STATS or stat.startswith("n_") or ">" in stat:  # counts, shift cells ("LOW>HIGH")
        return "i"
    return "p" if stat in P_STATS else "d"


def fill(template: str, stats: dict, decimals: int, infinite: set = frozenset()) -> str:
    """The template with each {STAT[:format]} replaced; '' when the ARD has none of its statistics."""
    fields = FIELD.findall(template)
    if not fields:
        return template
    if all(stats.get(name.strip()) is None for name, _ in fields):
        return ""

    def one(match: re.Match) -> str:
        name, spec, percent = match.group(1).strip(), match.group(2), match.group(3)
        value = stats.get(name)
        if value is None:
            return ""
        if pd.isna(value):
            return INFINITE if name in infinite else NE
        places = _places(spec or _default_spec(name), decimals)
        if places == "p":
            return format_p(value) + percent
        if isinstance(places, str) and places.startswith("%"):  # a proportion printed as a percentage
            return format_half_up(100 * value, int(places[1:])) + percent
        if places == "i":
            return (f"{value:.0f}" if float(value).is_integer() else format_half_up(value, 1)) + percent
        return format_half_up(value, places) + percent

    return FIELD_AND_PERCENT.sub(one, template)


def _equals(value, wanted) -> bool:
    """A choice's condition: the statistic equals ``wanted``; ``NE`` matches a statistic not estimated (NaN)."""
    if wanted == NE:
        return value is not None and pd.isna(value)
    return value == wanted


class _LabelFormatter(string.Formatter):
    """str.format with one more conversion: ``{PARAMCD!c}`` capitalised ('NOT RELATED' -> 'Not related')."""

    def convert_field(self, value, conversion):
        return str(value).capitalize() if conversion == "c" else super().convert_field(value, conversion)


_LABELS = _LabelFormatter()


# --- the engine ---------------------------------------------------------------------------------------------------

def _grouped(values: list, rows) -> dict:
    """The positions of ``rows`` by their value in ``values``, keys in order of first appearance."""
    groups: dict = {}
    for i in rows:
        groups.setdefault(values[i], []).append(i)
    return groups


class Engine:
    """Renders shells from one ARD. A selection of ARD rows is a list of positions into the ARD's columns, held as
    plain lists (native Python values): narrowing and grouping are list operations and dictionary look-ups, not
    pandas masks (a report makes tens of thousands of them)."""

    def __init__(self, ard: pd.DataFrame, trial: Trial):
        ard = ardlib.conform(ard)
        for column in ("GROUP2", "GROUP2_LEVEL"):  # the AE hierarchy's columns; an ARD from before them: ""
            if column not in ard:
                ard[column] = ""
        self.ard = ard.assign(AVISITN=ard["AVISITN"].fillna(ardlib.NO_VISIT))
        self.trial = trial
        self.population_ids = [a.id for a in trial.analyses if a.method == "populations"]
        self.methods = {a.id: a.method for a in trial.analyses}
        self.values = {column: self.ard[column].tolist() for column in self.ard.columns}
        self.labels = self.ard.index.tolist()  # index labels of the positions (the rows a table draws)
        self.by_analysis = _grouped(self.values["ANALYSIS_ID"], range(len(self.ard)))

    def analysis_ids(self, analysis) -> list[str]:
        """A shell's analyses: IDs as written, or selectors ``{method: ..., options: {...}}``, each the plan's first
        analysis of the method whose options (with ``plan.OPTION_DEFAULTS``) have those values. The first: a second
        one, such as a per-protocol repeat, would put two analyses' rows into one table."""
        ids = []
        for entry in analysis if isinstance(analysis, list) else [analysis]:
            if isinstance(entry, dict):
                if "method" not in entry or set(entry) - {"method", "options"}:
                    raise ShellError(f"analysis: {entry}: an ID, or {{method: ..., options: {{...}}}}")
                ids += [a.id for a in self.trial.analyses_by(entry["method"])
                        if all(a.option(name) == value for name, value in entry.get("options", {}).items())][:1]
            else:
                ids.append(entry)
        return ids

    def _analysis_rows(self, ids: list) -> list[int]:
        """The positions of the analyses' rows, in ARD order."""
        found = [self.by_analysis.get(i, []) for i in dict.fromkeys(ids) if isinstance(i, str)]
        return found[0] if len(found) == 1 else sorted(i for rows in found for i in rows)

    def _column(self, column: str, rows: list[int]) -> list:
        values = self.values[column]
        return [values[i] for i in rows]

    # columns
    def population_sizes(self, flag: str) -> dict[str, float | None]:
        paramcd, stat, level, comparator, value = (self.values[c] for c in ("PARAMCD", "STAT_NAME", "GROUP1_LEVEL",
                                                                             "COMPARATOR", "VALUE"))
        sizes = {arm: None for arm in self.trial.arm_names}
        for i in self._analysis_rows(self.population_ids):
            if paramcd[i] == flag and stat[i] == "n" and comparator[i] == "" and level[i] in sizes:
                sizes[level[i]] = value[i]
        known = [v for v in sizes.values() if v is not None]
        sizes[""] = sum(known) if known else None
        return sizes

    def columns(self, shell: dict) -> list[Column]:
        sizes = self.population_sizes(shell.get("population", ""))

        def n_text(group: str) -> str:
            return "" if sizes.get(group) is None else f"{sizes[group]:.0f}"

        columns = []
        for spec in shell["columns"]:
            if "stub" in spec:
                columns.append(Column("stub", spec["stub"] or "", None))
            elif "arms" in spec:
                columns += [Column("arm", spec["arms"].format(arm=arm, N=n_text(arm)), (arm, ""))
                            for arm in self.trial.arm_names]
            elif "total" in spec:
                columns.append(Column("total", spec["total"].format(arm="Total", N=n_text("")), ("", "")))
            elif "overall" in spec:  # a statistic of all arms together (a trend contrast, a model)
                columns.append(Column(spec["overall"], spec.get("header", spec["overall"]), ("", "")))
            elif "levels" in spec:  # one column per level; the row's own group; $col in a template is the level
                columns += [Column("level", spec.get("header", "{level}").format(level=str(level).title()), None,
                                   str(level)) for level in spec["levels"]]
            elif "contrast" in spec:
                contrasts = [c.levels for c in self.trial.contrasts]
                for active, control in contrasts:
                    header = spec.get("header", spec["contrast"])
                    if len(contrasts) > 1:
                        header = f"{active} vs {control}: {header}"
                    columns.append(Column(spec["contrast"], header, (active, control)))
            else:
                raise ShellError(f"{shell['source']}: {shell['id']}: column {spec}: use stub, arms, total, overall, "
                                 "levels or contrast")
        return columns

    # rows
    def _narrow(self, rows: list[int], select: dict) -> list[int]:
        for column, value in (select or {}).items():
            if column not in self.values:
                raise ShellError(f"select: {column!r} is not an ARD column")
            if column == "ANALYSIS_ID" and isinstance(value, dict) and "method" in value:
                value = self.analysis_ids(value)  # the plan's analyses of a method, whatever their IDs
            negate = isinstance(value, dict)
            if negate:
                if set(value) != {"not"}:
                    raise ShellError(f"select: {column}: {value}: a value, a list, or {{not: value or list}}; "
                                     "ANALYSIS_ID also {method: ..., options: {...}}")
                value = value["not"]
            wanted = value if isinstance(value, list) else [value]
            if column == "AVISITN":
                wanted = [ardlib.NO_VISIT if v is None else v for v in wanted]
            wanted, values = set(wanted), self.values[column]
            rows = [i for i in rows if (values[i] in wanted) != negate]
        return rows

    def _any(self, rows: list[int], column: str, value) -> bool:
        """Whether a row has ``column`` equal to the value (or one of the list)."""
        wanted, values = set(value if isinstance(value, list) else [value]), self.values[column]
        return any(values[i] in wanted for i in rows)

    def _holds(self, when: dict, rows: list[int], keys: dict) -> bool:
        for name, value in (when or {}).items():
            if name == "summary":
                paramcd = keys.get("PARAMCD") or (self.values["PARAMCD"][rows[0]] if rows else "")
                if self.summary_rule(paramcd) != value:
                    return False
            elif name == "has":
                if not self._any(rows, "STAT_NAME", value):
                    return False
            elif name not in self.values or not self._any(rows, name, value):
                return False
        return True

    def summary_rule(self, paramcd: str) -> str:
        rule = getattr(self.trial, "summary", None)
        return rule(paramcd) if callable(rule) else "mean"

    def _order(self, block: dict, rows: list[int], column: str) -> list[tuple]:
        """The groups of ``by``: (value, its rows) in the block's order."""
        groups = _grouped(self.values[column], rows)
        keys = list(groups)
        order = block.get("order", "ard")
        if order == "value":
            keys = sorted(keys, key=lambda k: (isinstance(k, str), k))
        elif order == "frequency":  # descending subjects (n) over all groups shown, ties alphabetical
            stat, value = self.values["STAT_NAME"], self.values["VALUE"]
            counts = {k: sum(value[i] for i in mine if stat[i] == "n" and not math.isnan(value[i]))
                      for k, mine in groups.items()}
            keys = sorted(keys, key=lambda k: (-counts[k], str(k)))
        elif order != "ard":
            raise ShellError(f"order: {order!r}: use ard, value or frequency")
        return [(key, groups[key]) for key in keys]

    def _label(self, template: str, rows: list[int], keys: dict) -> str:
        first = {column: values[rows[0]] for column, values in self.values.items()} if rows else {}
        values = {**first, **keys}
        if values.get("PARAMCD") == MISSING_LEVEL:
            values["PARAMCD"] = "Missing"
        if "PARAM" in values:
            values["PARAM"] = display_unit(str(values["PARAM"]))
        if "AVISITN" in values and not isinstance(values["AVISITN"], str):
            values["AVISITN"] = f"{values['AVISITN']:g}"
        values = {k: ("" if v is None or (isinstance(v, float) and math.isnan(v)) else v) for k, v in values.items()}
        for name in {f for _, f, _, _ in string.Formatter().parse(template) if f} - set(values):
            stat = [v for s, v in zip(self._column("STAT_NAME", rows), self._column("VALUE", rows)) if s == name]
            if len(stat) != 1:  # a count named in a label: "(n = {n})"
                raise ShellError(f"label {template!r}: {name!r} is neither a column nor one statistic of the rows")
            values[name] = fill("{" + name + "}", {name: stat[0]}, 0)
        return _LABELS.format(template, **values)

    def _cells(self, block: dict, rows: list[int], columns: list[Column], decimals: int, where: str) -> list[str]:
        cells = block.get("cells", {})
        by_group = None  # the rows by (GROUP1_LEVEL, COMPARATOR), made at the first column with a group
        out = []
        for column in columns[1:]:
            template = cells.get(column.key)
            if template is None:
                out.append("")
                continue
            if column.level:
                template = ([{**c, "text": c["text"].replace("$col", column.level)} for c in template]
                            if isinstance(template, list) else template.replace("$col", column.level))
            if column.group is None:
                mine = rows
            else:
                if by_group is None:
                    level, comparator = self.values["GROUP1_LEVEL"], self.values["COMPARATOR"]
                    by_group = {}
                    for i in rows:
                        by_group.setdefault((level[i], comparator[i]), []).append(i)
                mine = by_group.get(column.group, [])
            names = self._column("STAT_NAME", mine)
            seen, duplicated = set(), set()
            for name in names:
                (duplicated if name in seen else seen).add(name)
            texts = [c["text"] for c in template] if isinstance(template, list) else [template]
            named = {n.strip() for text in texts for n, _ in FIELD.findall(text)}
            clash = sorted(duplicated & named)
            if clash:
                frame = self.ard.iloc[mine]
                ways = frame[frame["STAT_NAME"].isin(clash)][["METHOD", "VARIABLE", "AVISITN"]].drop_duplicates()
                raise ShellError(f"{where}: cell {column.key!r}: {clash} selected from {len(ways)} ARD rows "
                                 f"({ways.to_dict('records')}); select METHOD/VARIABLE/AVISITN")
            stats = dict(zip(names, self._column("VALUE", mine)))
            if isinstance(template, list):  # choices: the first whose `if` statistics equal the ARD's
                template = next((c["text"] for c in template
                                 if all(_equals(stats.get(k), v) for k, v in c.get("if", {}).items())), "")
            printed = {n.strip() for n, _ in FIELD.findall(template)}
            if printed:
                self.used.update(self.labels[i] for i, name in zip(mine, names) if name in printed)
            warning = self.values["WARNING"]
            infinite = {name for i, name in zip(mine, names)
                        if warning[i].startswith("not finite:") and "infinite" in warning[i]}
            out.append(fill(template, stats, decimals, infinite))
        return out

    def blocks(self, blocks: list[dict], frame: list[int], columns: list[Column], shell: dict, depth: int,
               keys: dict, where: str) -> list[Row]:
        rows: list[Row] = []
        for index, block in enumerate(blocks):
            here = f"{where}.rows[{index}]"
            selected = self._narrow(frame, block.get("select"))
            if not selected:  # nothing of the ARD here: no line (a plan without the analysis or parameter)
                continue
            if not self._holds(block.get("when"), selected, keys):
                continue
            if "by" in block:
                column = block["by"]
                for key, mine in self._order(block, selected, column):
                    inner = {**keys, column: key}
                    decimals = self._decimals(shell, inner, mine)
                    children = []
                    for child in block.get("rows", []):
                        if "link" in child:  # the child's rows: the parent's selection where link column = key
                            source = self._narrow(frame, {child["link"]: key})
                        else:
                            source = mine
                        children += self.blocks([{k: v for k, v in child.items() if k != "link"}], source, columns,
                                                 shell, depth + 1, inner, f"{here}[{key}]")
                    if not block.get("rows") or children:
                        label = self._label(block.get("label", "{" + column + "}"), mine, inner)
                        cells = self._cells(block, mine, columns, decimals, here)
                        rows.append(Row(label, depth, cells, heading=bool(block.get("rows"))))
                        rows += children
            elif "levels" in block:  # a fixed list of lines, one per level, the level as {level} in the templates
                for level in block["levels"]:
                    text = str(level)
                    cells = {k: v.replace("$row", text) for k, v in block["cells"].items()}
                    line = {**block, "cells": cells}
                    decimals = self._decimals(shell, keys, selected)
                    rows.append(Row(block.get("label", "{level}").replace("{level}", text.title()), depth,
                                    self._cells(line, selected, columns, decimals, here)))
            else:
                decimals = self._decimals(shell, keys, selected)
                label = self._label(block.get("label", ""), selected, keys)
                cells = self._cells(block, selected, columns, decimals, here)
                if block.get("rows"):
                    if not label and not any(cells):  # a block that only narrows: its lines at its own depth
                        rows += self.blocks(block["rows"], selected, columns, shell, depth, keys, here)
                        continue
                    children = self.blocks(block["rows"], selected, columns, shell, depth + 1, keys, here)
                    if children:
                        rows.append(Row(label, depth, cells, heading=True))
                        rows += children
                elif any(cells) or not block.get("cells"):
                    rows.append(Row(label, depth, cells))
        return rows

    def _decimals(self, shell: dict, keys: dict, rows: list[int]) -> int:
        table = shell.get("decimals", {})
        paramcd = keys.get("PARAMCD")
        if paramcd is None and rows and len(set(self._column("PARAMCD", rows))) == 1:
            paramcd = self.values["PARAMCD"][rows[0]]
        return int(table.get(paramcd, table.get("default", 2)))

    @staticmethod
    def methods_used(used: pd.DataFrame) -> dict:
        """Footnote fields: {test} the comparisons' methods, {ci_method} their CIs' methods (from the STAT_LABEL of
        the lower limits, e.g. '95% CI lower (Newcombe hybrid score)')."""
        contrasts = used[used["COMPARATOR"] != ""]
        labels = contrasts.loc[contrasts["STAT_NAME"] == "lcl", "STAT_LABEL"].astype(str)
        cis = [m.group(1) for m in map(re.compile(r"\((.+)\)\s*$").search, labels) if m]
        return {"test": " / ".join(dict.fromkeys(contrasts["METHOD"])) or "none",
                "ci_method": " / ".join(dict.fromkeys(cis)) or "t distribution"}

    # outputs
    def render(self, shell: dict) -> list[Output]:
        """The output(s) of one shell: one, or one per parameter (``per: PARAMCD``) numbered .1, .2, ..."""
        frame = list(range(len(self.ard)))
        analysis = shell.get("analysis")
        if analysis:
            frame = self._analysis_rows(self.analysis_ids(analysis))
        if "per" in shell:
            per = shell["per"]
            wanted = shell.get("parameters")
            groups = _grouped(self.values[per], frame)
            parts = [(i + 1, {per: key}, mine) for i, (key, mine) in enumerate(groups.items())
                     if wanted is None or key in wanted]
        else:
            parts = [(None, {}, frame)]
        outputs = []
        for index, keys, part in parts:
            where = f"{shell['source']}: {shell['id']}"
            flag = shell.get("population") or next((p for p in self._column("POPULATION", part) if p), "")
            self.used = set()
            columns = self.columns({**shell, "population": flag})
            rows = self.blocks(shell["rows"], part, columns, shell, 0, keys, where)
            if not rows and shell.get("skip_empty", True):
                continue
            number = shell["number"] if index is None else f"{shell['number']}.{index}"
            population = self.trial.population(flag).name if flag else ""
            used = self.ard.loc[sorted(self.used)]
            meddra = (getattr(self.trial, "raw", None) or {}).get("meddra_version")
            context = {"population": population[:1].lower() + population[1:], **self.methods_used(used),
                       "coding": f"Coded with MedDRA version {meddra}." if meddra else ""}  # {coding} in footnotes
            title = self._label(shell["title"], part, {**keys, **context})
            notes = [self._label(note, part, {**keys, **context}).strip() for note in shell.get("footnotes", [])]
            if any(re.search(rf"\b{NE}\b", c) for r in rows for c in r.cells):
                notes.append("NE: not estimable (the report's section Statistics not estimated gives the reasons).")
            if any(INFINITE in c for r in rows for c in r.cells):
                notes.append("∞: infinite (a zero cell).")
            outputs.append(Output(
                id=shell["id"] if index is None else f"{shell['id']}.{index}", number=number, title=title,
                section=shell.get("section", ""), population=population,
                header=[c.header for c in columns], rows=rows,
                footnotes=notes, analysis_ids=list(dict.fromkeys(used["ANALYSIS_ID"])), ard_rows=len(used),
                orientation=shell.get("orientation", "landscape")))
        return outputs


def render_outputs(ard: pd.DataFrame, trial: Trial, shells: list[dict]) -> list[Output]:
    """Every output of the trial's TLF file, in its order; a shell whose analysis has no rows is left out."""
    engine = Engine(ard, trial)
    outputs = []
    for shell in shells:
        outputs += engine.render(shell)
    return outputs


# --- writers ------------------------------------------------------------------------------------------------------

def _frame(output: Output):
    """The table's text as a polars frame of strings: great-tables fills a polars frame cell by cell several times
    faster than a pandas one (same HTML), and rtflite takes polars."""
    import polars as pl

    columns = [f"c{i}" for i in range(len(output.header))]
    lines = [[INDENT * row.depth + row.label, *row.cells] for row in output.rows]
    return pl.DataFrame(lines, schema={c: pl.String for c in columns}, orient="row")


def to_html(output: Output) -> str:
    """The output as an HTML table (great-tables): number and title, population, column headers with the arms' N,
    label rows in bold, footnotes under the table."""
    from great_tables import GT, loc, style

    frame = _frame(output)
    columns = list(frame.columns)
    table = (GT(frame, id=f"{output.anchor}-gt")  # the report's wrapper carries the anchor itself
             .tab_header(title=f"{output.number}  {output.title}",
                         subtitle=f"Population: {output.population}" if output.population else None)
             .cols_label(**dict(zip(columns, output.header)))
             .cols_align("left", columns=columns[:1]).cols_align("center", columns=columns[1:])
             .tab_options(table_font_size="13px", heading_title_font_size="15px", heading_subtitle_font_size="13px",
                          heading_align="left", data_row_padding="2px", source_notes_font_size="12px",
                          table_width="100%"))
    headings = [i for i, row in enumerate(output.rows) if row.heading]
    if headings:
        table = table.tab_style(style.text(weight="bold"), loc.body(columns=columns[:1], rows=headings))
    table = table.tab_style(style.css("white-space: pre; "), loc.body(columns=columns[:1]))
    table = table.tab_style(style.css("white-space: nowrap"), loc.body(columns=columns[1:]))
    for note in output.footnotes:
        table = table.tab_source_note(note)
    return table.as_raw_html(inline_css=False)


NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _rtf_escape(text: str) -> str:
    """Non-ASCII characters as RTF Unicode escapes (\\uN?), so the file is plain ASCII whatever reads it."""
    return NON_ASCII.sub(lambda m: f"\\u{ord(m[0]) if ord(m[0]) < 32768 else ord(m[0]) - 65536}?", text)


@functools.cache
def _memoise_rtflite_string_width() -> None:
    """Memoise the text widths rtflite's pagination measures (rtflite 2.6.0; a run-time patch, installed once).

    rtflite.pagination.core measures every cell's text with rtflite.strwidth.get_string_width to count its wrapped
    lines, and that function reloads the font file at every call (importlib.resources, PIL truetype): 40,446 loads for
    the 217 tables of the 7 bundled cuts, ~45% of their RTF time; rtflite has no option or cache for it. The width is
    a pure function of its arguments (text, font, size, unit, dpi), so pagination's reference to it becomes an LRU
    cache over the same function, and the function's font loader (PIL ImageFont.truetype, pure in path and size) a
    cached one: the same widths, page breaks and bytes. tests/test_tlf.py pins the function's source and checks the
    widths and the RTF are the same with and without the caches; review this if rtflite is upgraded."""
    import types

    from rtflite import strwidth
    from rtflite.pagination import core

    if core.get_string_width is strwidth.get_string_width:  # not yet installed (or rtflite moved it: left alone)
        core.get_string_width = functools.lru_cache(maxsize=1 << 16, typed=True)(strwidth.get_string_width)
        strwidth.ImageFont = types.SimpleNamespace(truetype=functools.lru_cache(maxsize=64)(
            strwidth.ImageFont.truetype))


def to_rtf(output: Output, source: str) -> str:
    """The output as an RTF document (rtflite), the CSR convention: number, title and population at the top of
    every page, column headers repeated on each page, footnotes and a source line under the table."""
    import rtflite

    _memoise_rtflite_string_width()
    frame = _frame(output)
    widths = [3] + [2] * (len(output.header) - 1)
    justify = [["l"] + ["c"] * (len(output.header) - 1)]
    document = rtflite.RTFDocument(
        df=frame,
        rtf_page=rtflite.RTFPage(orientation=output.orientation, nrow=36 if output.orientation == "landscape" else 50),
        # text_convert off everywhere: rtflite reads text as LaTeX by default, so "t2dm_safety" printed "t2dm" and a
        # subscript "safety"; our text is plain Unicode
        rtf_title=rtflite.RTFTitle(text=[f"{output.number}", output.title]
                                   + ([f"Population: {output.population}"] if output.population else []),
                                   text_convert=[False]),
        rtf_column_header=[rtflite.RTFColumnHeader(text=output.header, col_rel_width=widths,
                                                   text_justification=justify[0], text_convert=[False])],
        rtf_body=rtflite.RTFBody(col_rel_width=widths, text_justification=justify, text_convert=[[False]]),
        rtf_footnote=rtflite.RTFFootnote(text=output.footnotes, text_convert=[False]) if output.footnotes else None,
        rtf_source=rtflite.RTFSource(text=[source], text_convert=[False]))
    return _rtf_escape(document.rtf_encode())
