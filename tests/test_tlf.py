"""The TLF engine (ucmsc.tlf) on hand-made ARDs and shells: every printed string written out by hand."""

import copy
import math
import re

import pandas as pd
import pytest
import yaml

from ucmsc import ard as ardlib
from ucmsc import tlf
from ucmsc.plan import load_trial

CONFIG = {
    "trial": "demo", "studyid": "DEMO", "design": "safety", "title": "Demo",
    "arms": [{"arm": "Saline", "armcd": "PBO", "role": "control"}, {"arm": "Cells", "armcd": "C", "role": "active"}],
    "visits": [{"visitnum": 0, "avisit": "Week 0", "day": 0, "window": 0}],
    "populations": [{"flag": "SAFFL", "name": "Safety population", "label": "Safety"}],
    "tests": {"GLUC": {"test": "Glucose", "unit": "mmol/L"}, "TG": {"test": "Triglycerides", "unit": "mmol/L"}},
    "summaries": {"median": ["TG"]},
    "analyses": [{"id": "POP", "method": "populations"}],
}
CELLS, SALINE = ardlib.arm_group("Cells"), ardlib.arm_group("Saline")
VS = ardlib.contrast_group("Cells", "Saline")


def rows(analysis: str, stats: dict, **keys) -> list[dict]:
    return [{"ANALYSIS_ID": analysis, "STAT_NAME": name, "VALUE": value, **keys} for name, value in stats.items()]


def make_ard() -> pd.DataFrame:
    records = []
    for group, n in ((CELLS, 5), (SALINE, 4)):  # N per arm: 5 and 4
        records += rows("POP", {"n": n}, PARAMCD="SAFFL", PARAM="Safety", **group)
    # a by-visit summary: glucose summarised by mean (SD), triglycerides by median [Q1; Q3]
    for paramcd, param in (("GLUC", "Glucose (mmol/L)"), ("TG", "Triglycerides (mmol/L)")):
        keys = dict(PARAMCD=paramcd, PARAM=param, AVISITN=4, AVISIT="Week 4", VARIABLE="AVAL", POPULATION="SAFFL")
        records += rows("CONT", {"n": 5, "mean": 7.125, "sd": 1.0449, "median": 6.995, "q1": 6.5, "q3": 7.75},
                        METHOD="descriptive", **keys, **CELLS)
        records += rows("CONT", {"n": 4, "mean": -0.004, "sd": 0.5, "median": 8.0, "q1": 7.0, "q3": 9.25},
                        METHOD="descriptive", **keys, **SALINE)
        records += rows("CONT", {"estimate": 7.129, "lcl": 5.5, "ucl": 8.75, "p": 0.0004},
                        METHOD="Student t-test", **keys, **VS)
        records += rows("CONT", {"estimate": -1.0, "lcl": -2.25, "ucl": 0.5, "p": 0.0285},
                        METHOD="Mann-Whitney U", **keys, **VS)
    # adverse events: two SOCs, three terms; 'Fever' and 'Cough' tie on frequency (3 subjects each)
    terms = [("Infections", "Cough", 2, 1), ("General", "Fever", 3, 0), ("Infections", "Rhinitis", 0, 1)]
    socs = {"Infections": (2, 2), "General": (3, 0)}
    for soc, (a, b) in socs.items():
        for group, n, big_n in ((CELLS, a, 5), (SALINE, b, 4)):
            records += rows("AESOCPT", {"n": n, "N": big_n, "pct": 100 * n / big_n, "events": n},
                            PARAMCD=soc, PARAM=soc, VARIABLE="AEBODSYS", METHOD="count", **group)
    for soc, term, a, b in terms:
        for group, n, big_n in ((CELLS, a, 5), (SALINE, b, 4)):
            records += rows("AESOCPT", {"n": n, "N": big_n, "pct": 100 * n / big_n, "events": n},
                            PARAMCD=term, PARAM=term, VARIABLE="AEDECOD", METHOD="count", **group,
                            **ardlib.nested("AEBODSYS", soc))
    # a saline arm without subjects for one statistic: not estimable
    records += rows("AEOVER", {"n": 0, "pct": math.nan, "events": 0}, PARAMCD="ANY", PARAM="Any TEAE",
                    VARIABLE="USUBJID", METHOD="count", **SALINE)
    records += rows("AEOVER", {"n": 2, "pct": 40.0, "events": 3}, PARAMCD="ANY", PARAM="Any TEAE",
                    VARIABLE="USUBJID", METHOD="count", **CELLS)
    return ardlib.conform(pd.DataFrame(records))


@pytest.fixture(scope="module")
def engine():
    return tlf.Engine(make_ard(), load_trial(CONFIG))


def shell(**keys) -> dict:
    return {"id": "t", "number": "Table 1", "title": "T", "source": "test.yaml", "decimals": {"default": 2, "GLUC": 2},
            "columns": [{"stub": ""}, {"arms": "{arm} (N={N})"}], **keys}


def render(engine, **keys) -> tlf.Output:
    (output,) = engine.render(shell(**keys))
    return output


# --- formatting --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("template, stats, decimals, printed", [
    ("{mean} ({sd:d+1})", {"mean": 64.333333, "sd": 5.859465}, 1, "64.3 (5.86)"),
    ("{mean}", {"mean": 2.345}, 2, "2.35"),  # half up, as SAS's ROUND: not 2.34 (binary 2.34499...)
    ("{mean}", {"mean": -0.004}, 2, "0.00"),  # no negative zero
    ("{p}", {"p": 0.0004}, 2, "<0.001"),
    ("{p}", {"p": 0.0285}, 2, "0.029"),
    ("{n}/{N} ({pct}%)", {"n": 3.0, "N": 7.0, "pct": 300 / 7}, 2, "3/7 (42.9%)"),
    ("{estimate:%1} ({lcl:%1}, {ucl:%1})", {"estimate": 0.325, "lcl": -0.0834, "ucl": 0.5}, 2, "32.5 (-8.3, 50.0)"),
    ("{n} ({pct}%) [{events}]", {"n": 0.0, "pct": math.nan, "events": 0.0}, 2, "0 (NE) [0]"),
    ("{min:d-1}; {max:d-1}", {"min": 60.0, "max": 71.0}, 1, "60; 71"),
    ("{LOW>HIGH} ({LOW>HIGH_pct}%)", {"LOW>HIGH": 1.0, "LOW>HIGH_pct": 100 / 6}, 2, "1 (16.7%)"),
    ("{mean} ({sd})", {}, 2, ""),  # the ARD has none of them: blank
])
def test_fill(template, stats, decimals, printed):
    assert tlf.fill(template, stats, decimals) == printed


def test_an_infinite_statistic_prints_infinity():
    assert tlf.fill("{or} ({or_lcl}, {or_ucl})", {"or": math.nan, "or_lcl": 0.27, "or_ucl": math.nan}, 2,
                    infinite={"or", "or_ucl"}) == "∞ (0.27, ∞)"


# --- columns and rows ---------------------------------------------------------------------------------------------

def test_arm_headers_carry_the_population_counts_active_arm_first(engine):
    output = render(engine, population="SAFFL", analysis="AEOVER",
                    rows=[{"by": "PARAMCD", "label": "{PARAM}", "cells": {"arm": "{n}"}}])
    assert output.header == ["", "Cells (N=5)", "Saline (N=4)"]
    assert output.population == "Safety population"


def test_contrast_columns_and_the_summary_rule_per_parameter(engine):
    block = {"by": "PARAMCD", "label": "{PARAM}", "rows": [
        {"when": {"summary": "mean"}, "select": {"METHOD": ["descriptive", "Student t-test"]}, "label": "Mean (SD)",
         "cells": {"arm": "{mean} ({sd:d+1})", "diff": "{estimate} ({lcl}, {ucl})", "p": "{p}"}},
        {"when": {"summary": "median"}, "select": {"METHOD": ["descriptive", "Mann-Whitney U"]},
         "label": "Median [Q1; Q3]", "cells": {"arm": "{median} [{q1}; {q3}]", "diff": "{estimate} ({lcl}, {ucl})",
                                              "p": "{p}"}}]}
    output = render(engine, analysis="CONT", population="SAFFL", rows=[block], decimals={"default": 2, "TG": 1},
                    columns=[{"stub": ""}, {"arms": "{arm}"}, {"contrast": "diff", "header": "Difference (95% CI)"},
                             {"contrast": "p", "header": "P"}])
    assert output.header == ["", "Cells", "Saline", "Difference (95% CI)", "P"]
    assert [(r.label, r.depth, r.cells) for r in output.rows] == [
        ("Glucose (mmol/L)", 0, ["", "", "", ""]),
        ("Mean (SD)", 1, ["7.13 (1.045)", "0.00 (0.500)", "7.13 (5.50, 8.75)", "<0.001"]),
        ("Triglycerides (mmol/L)", 0, ["", "", "", ""]),
        ("Median [Q1; Q3]", 1, ["7.0 [6.5; 7.8]", "8.0 [7.0; 9.3]", "-1.0 (-2.3, 0.5)", "0.029"])]


def test_system_organ_classes_and_their_terms_by_descending_frequency_ties_alphabetical(engine):
    cells = {"arm": "{n} ({pct}%)"}
    output = render(engine, analysis="AESOCPT", population="SAFFL", rows=[{
        "select": {"VARIABLE": "AEBODSYS"}, "by": "PARAMCD", "order": "frequency", "label": "{PARAMCD}",
        "cells": cells, "rows": [{"link": "GROUP2_LEVEL", "select": {"VARIABLE": "AEDECOD"}, "by": "PARAMCD",
                                  "order": "frequency", "label": "{PARAMCD}", "cells": cells}]}])
    # Infections 4 subjects before General 3; within Infections Cough (3) before Rhinitis (1)
    assert [(r.label, r.depth, r.cells) for r in output.rows] == [
        ("Infections", 0, ["2 (40.0%)", "2 (50.0%)"]),
        ("Cough", 1, ["2 (40.0%)", "1 (25.0%)"]),
        ("Rhinitis", 1, ["0 (0.0%)", "1 (25.0%)"]),
        ("General", 0, ["3 (60.0%)", "0 (0.0%)"]),
        ("Fever", 1, ["3 (60.0%)", "0 (0.0%)"])]
    terms = render(engine, analysis="AESOCPT", rows=[{"select": {"VARIABLE": "AEDECOD"}, "by": "PARAMCD",
                                                      "order": "frequency", "cells": {"arm": "{n}"}}])
    assert [r.label for r in terms.rows] == ["Cough", "Fever", "Rhinitis"]  # 3, 3 (alphabetical), 1


def test_a_choice_prints_the_first_that_holds_and_ne_is_footnoted(engine):
    choice = [{"if": {"pct": "NE"}, "text": "{n} (no subjects)"}, {"text": "{n} ({pct}%) [{events}]"}]
    output = render(engine, analysis="AEOVER", rows=[{"by": "PARAMCD", "label": "{PARAM}", "cells": {"arm": choice}}])
    assert output.rows[0].cells == ["2 (40.0%) [3]", "0 (no subjects)"]
    plain = render(engine, analysis="AEOVER", rows=[{"by": "PARAMCD", "cells": {"arm": "{n} ({pct}%)"}}])
    assert plain.rows[0].cells == ["2 (40.0%)", "0 (NE)"]
    assert plain.footnotes == ["NE: not estimable (the report's section Statistics not estimated gives the reasons)."]


def test_capitalised_labels_and_a_count_in_a_label(engine):
    output = render(engine, analysis="AEOVER", rows=[{"select": {"GROUP1_LEVEL": "Cells"}, "by": "PARAMCD",
                                                      "label": "{PARAMCD!c} (n = {n})", "cells": {"arm": "{events}"}}])
    assert [(r.label, r.cells) for r in output.rows] == [("Any (n = 2)", ["3", ""])]


def test_a_selection_without_rows_prints_nothing_and_a_table_without_lines_is_left_out(engine):
    output = render(engine, analysis="AEOVER", rows=[
        {"select": {"PARAMCD": "SER"}, "label": "Serious", "cells": {"arm": "{n}"}},
        {"by": "PARAMCD", "label": "{PARAM}", "cells": {"arm": "{n}"}}])
    assert [r.label for r in output.rows] == ["Any TEAE"]
    assert engine.render(shell(analysis="NOPE", rows=[{"by": "PARAMCD", "cells": {"arm": "{n}"}}])) == []


def test_one_output_per_parameter_numbered_in_order(engine):
    outputs = engine.render(shell(analysis="CONT", per="PARAMCD", title="{PARAM} by visit", rows=[
        {"select": {"METHOD": "descriptive"}, "label": "n", "cells": {"arm": "{n}"}}]))
    assert [(o.number, o.title, o.anchor) for o in outputs] == [
        ("Table 1.1", "Glucose (mmol/L) by visit", "tlf-table-1-1"),
        ("Table 1.2", "Triglycerides (mmol/L) by visit", "tlf-table-1-2")]
    assert [o.ard_rows for o in outputs] == [2, 2]  # the two n rows each table printed



def test_negated_and_visitless_selections_on_an_ard_in_reversed_order_with_its_own_row_labels():
    ard = make_ard().iloc[::-1]
    ard = ard.set_axis(range(100, 100 + len(ard)))  # row labels that are not positions
    engine = tlf.Engine(ard, load_trial(CONFIG))
    (output,) = engine.render(shell(analysis=["AEOVER", "POP"], population="SAFFL", rows=[
        {"select": {"ANALYSIS_ID": {"not": "POP"}, "AVISITN": None}, "by": "PARAMCD", "label": "{PARAM}",
         "cells": {"arm": "{n} ({pct}%)"}},
        {"select": {"ANALYSIS_ID": "POP", "STAT_NAME": "n"}, "label": "Safety", "cells": {"arm": "{n}"}}]))
    assert output.header == ["", "Cells (N=5)", "Saline (N=4)"]
    assert [(r.label, r.cells) for r in output.rows] == [("Any TEAE", ["2 (40.0%)", "0 (NE)"]), ("Safety", ["5", "4"])]
    # rows drawn: n and pct of each arm, and the two population counts; analyses in the ARD's (reversed) order
    assert output.ard_rows == 6 and output.analysis_ids == ["AEOVER", "POP"]
    assert output.footnotes[-1].startswith("NE: not estimable")

# --- shell errors -------------------------------------------------------------------------------------------------

def test_a_cell_that_matches_two_methods_is_a_shell_error(engine):
    with pytest.raises(tlf.ShellError, match=r"cell 'p': \['p'\] selected from 2 ARD rows .*select METHOD"):
        render(engine, analysis="CONT", rows=[{"by": "PARAMCD", "cells": {"p": "{p}"}}],
               columns=[{"stub": ""}, {"contrast": "p"}])


def test_shell_files_are_checked_with_file_and_output_named(tmp_path):
    library = tmp_path / "library.yaml"
    library.write_text(yaml.safe_dump({"shells": {"counts": {"title": "Counts", "columns": [{"stub": ""}],
                                                             "rows": [{"by": "PARAMCD"}]}}}))
    trial = tmp_path / "trial.yaml"
    trial.write_text(yaml.safe_dump({"outputs": [{"use": "counts", "id": "a", "number": "Table 1", "colour": "red"}]}))
    with pytest.raises(tlf.ShellError, match=r"trial.yaml: outputs\[0\] \(a\): unknown key\(s\) \['colour'\]"):
        tlf.load(trial)
    trial.write_text(yaml.safe_dump({"outputs": [{"use": "count", "id": "a", "number": "Table 1"}]}))
    with pytest.raises(tlf.ShellError, match="use: 'count' is not a shell of"):
        tlf.load(trial)
    trial.write_text(yaml.safe_dump({"outputs": [{"use": "counts", "id": "a", "number": "Table 1",
                                                  "rows": [{"by": "PARAMCD", "sort": "x"}]}]}))
    with pytest.raises(tlf.ShellError, match=r"rows\[0\]: unknown key\(s\) \['sort'\]"):
        tlf.load(trial)
    trial.write_text(yaml.safe_dump({"outputs": [{"use": "counts", "id": "a", "number": "Table 1"},
                                                 {"use": "counts", "id": "b", "number": "Table 1"}]}))
    with pytest.raises(tlf.ShellError, match=r"number\(s\) used twice: \['Table 1'\]"):
        tlf.load(trial)


def test_a_new_table_is_yaml_only(tmp_path, engine):
    """A shell written to a file (no Python) is read, merged with its library entry and rendered."""
    (tmp_path / "library.yaml").write_text(yaml.safe_dump({"shells": {"teae": {
        "section": "Adverse events", "title": "TEAEs", "columns": [{"stub": "Term"}, {"arms": "{arm} (N={N})"}],
        "rows": [{"select": {"VARIABLE": "AEDECOD"}, "by": "PARAMCD", "order": "frequency",
                  "cells": {"arm": "{n}/{N}"}}],
        "footnotes": ["Subjects of the {population}."]}}}))
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({"outputs": [
        {"use": "teae", "id": "teae", "number": "Table 14.3.9", "analysis": "AESOCPT", "population": "SAFFL"}]}))
    (output,) = tlf.render_outputs(make_ard(), load_trial(CONFIG), tlf.load(tmp_path / "mine.yaml"))
    assert (output.number, output.title, output.header) == ("Table 14.3.9", "TEAEs",
                                                            ["Term", "Cells (N=5)", "Saline (N=4)"])
    assert [(r.label, r.cells) for r in output.rows] == [("Cough", ["2/5", "1/4"]), ("Fever", ["3/5", "0/4"]),
                                                         ("Rhinitis", ["0/5", "1/4"])]
    assert output.footnotes == ["Subjects of the safety population."]


# --- writers ------------------------------------------------------------------------------------------------------

def _long_output(lines: int) -> tlf.Output:
    return tlf.Output(id="x", number="Table 14.3.4.1", title="Lymphocytes (10⁹/L) by visit", section="Labs",
                      population="Safety population", header=["Visit", "Cells (N=5)", "Saline (N=4)"],
                      rows=[tlf.Row(f"Line {i}", i % 2, [f"{i}.0 (1.00)", "µ 2"]) for i in range(lines)],
                      footnotes=["Observed cases.", "Mean (SD)."])


def test_rtf_has_titles_headers_on_every_page_footnotes_and_the_source_line():
    from striprtf.striprtf import rtf_to_text

    lines = 80  # 36 lines a landscape page: 3 pages
    document = tlf.to_rtf(_long_output(lines), "Source: demo, data cut 2024-01-01; built 2024-01-02 10:00 UTC.")
    assert document.startswith("{\\rtf1") and document.isascii()
    assert document.count("\\page") == math.ceil(lines / 36) - 1
    text = rtf_to_text(document)
    assert text.count("Table 14.3.4.1") == 3 and text.count("Population: Safety population") == 3
    assert text.count("Lymphocytes (10⁹/L) by visit") == 3  # non-ASCII written as \u escapes, read back
    assert text.count("Cells (N=5)") == 3 and text.count("Saline (N=4)") == 3
    assert all(f"Line {i}" in text for i in range(lines)) and "µ 2" in text
    assert text.rstrip().endswith("Source: demo, data cut 2024-01-01; built 2024-01-02 10:00 UTC.")
    assert text.index("Line 79") < text.index("Observed cases.") < text.index("Source: demo")


def test_rtf_prints_underscores_and_carets_as_written():
    # rtflite reads text as LaTeX unless told not to: "t2dm_safety" became "t2dm" + \\sub "safety"
    from striprtf.striprtf import rtf_to_text

    output = tlf.Output(id="x", number="Table 14.1.1", title="HOMA_IR and x^2", section="S", population="",
                        header=["Visit_name", "A_B (N=5)"], rows=[tlf.Row("ALT_U", 0, ["a_b^c"])],
                        footnotes=["Per_protocol set."])
    document = tlf.to_rtf(output, "Source: t2dm_safety data cut 2024-01-01.")
    assert "\\sub" not in document and "\\super" not in document
    text = rtf_to_text(document)
    for written in ("HOMA_IR and x^2", "Visit_name", "A_B (N=5)", "ALT_U", "a_b^c", "Per_protocol set.",
                    "Source: t2dm_safety data cut 2024-01-01."):
        assert written in text, written


def test_html_table_has_number_title_population_headers_and_footnotes():
    html = tlf.to_html(_long_output(3))
    assert 'id="tlf-table-14-3-4-1-gt"' in html
    assert "Table 14.3.4.1  Lymphocytes (10⁹/L) by visit" in html and "Population: Safety population" in html
    headers = re.findall(r'<th[^>]*class="gt_col_heading[^"]*"[^>]*>(.*?)</th>', html, re.S)
    assert [re.sub(r"<[^>]+>", "", h).strip() for h in headers] == ["Visit", "Cells (N=5)", "Saline (N=4)"]
    assert "Observed cases." in html and "Mean (SD)." in html
    assert html.index("Line 0") < html.index("Line 1") < html.index("Line 2")


RTFLITE_STRWIDTH_SHA256 = "dbefcee9f5b08262d8c120f569ebf9570d54523b148341bacdf5ad7161e9dcaf"


def _wrapping_output() -> tlf.Output:
    """A long table whose labels wrap onto two or three lines: its page breaks depend on the measured widths."""
    words = "Gastrointestinal disorders, abdominal pain upper and lower, dyspepsia and nausea "
    return tlf.Output(id="w", number="Table 14.3.1.2", title="TEAEs by SOC and PT", section="AE",
                      population="Safety population", header=["SOC / PT", "Cells (N=5)", "Saline (N=4)"],
                      rows=[tlf.Row(f"{i} " + words * (i % 3), i % 2, [f"{i} ({i}.0%)", "0"]) for i in range(70)],
                      footnotes=["Coded with MedDRA."])


def test_rtflite_string_width_the_cache_wraps_is_the_one_it_was_checked_against():
    """tlf._memoise_rtflite_string_width caches rtflite.strwidth.get_string_width, a pure function of its arguments in
    rtflite 2.6.0. A change of that module fails here: check the cache still holds before updating the hash."""
    import hashlib
    import inspect

    from rtflite import strwidth
    from rtflite.pagination import core

    source = inspect.getsource(strwidth)
    assert hashlib.sha256(source.encode()).hexdigest() == RTFLITE_STRWIDTH_SHA256
    tlf.to_rtf(_wrapping_output(), "Source: demo.")
    assert core.get_string_width.__wrapped__ is strwidth.get_string_width  # pagination measures through the cache
    assert core.get_string_width.cache_info().hits > 0


def test_cached_widths_are_pil_widths_of_rtflite_fonts():
    """The widths through the caches, against PIL measuring the font file itself (9 pt Times = Liberation Serif)."""
    from importlib import resources

    import rtflite.fonts
    from PIL import ImageFont
    from rtflite.pagination import core

    tlf.to_rtf(_long_output(2), "Source: demo.")
    font = ImageFont.truetype(str(resources.files(rtflite.fonts) / "liberation/LiberationSerif-Regular.ttf"), size=9)
    for text in ["", "Placebo (N=10)", "12.3 (4.56)", "\u2003\u2003Abdominal pain upper", "≥ 3 × ULN", "Placebo"]:
        for _ in range(2):  # measured, then from the cache
            assert core.get_string_width(text, font=1, font_size=9) == pytest.approx(font.getlength(text) / 72, abs=0)


def test_rtf_is_the_same_without_the_width_caches(monkeypatch):
    """The RTF of a paginated table with wrapping labels, with rtflite's own uncached measuring restored."""
    from PIL import ImageFont
    from rtflite import strwidth
    from rtflite.pagination import core

    output = _wrapping_output()
    cached = tlf.to_rtf(output, "Source: demo.")
    assert cached.count("\\page") > math.ceil(len(output.rows) / 36) - 1  # the widths move the page breaks
    monkeypatch.setattr(core, "get_string_width", core.get_string_width.__wrapped__)
    monkeypatch.setattr(strwidth, "ImageFont", ImageFont)
    assert tlf.to_rtf(output, "Source: demo.") == cached


def test_a_shell_finds_its_analyses_by_method_and_option_whatever_their_ids():
    config = dict(CONFIG, analyses=[
        {"id": "POP", "method": "populations"},
        {"id": "BYVIS", "method": "by_visit", "population": "SAFFL", "parameters": ["GLUC"]},
        {"id": "PT", "method": "adverse_events", "population": "SAFFL"},  # by preferred term: the default
        {"id": "SOCPT", "method": "adverse_events", "population": "SAFFL", "options": {"by": "soc_pt"}},
        {"id": "SEV", "method": "ae_by_grade", "population": "SAFFL"},  # AESEV: the default
        {"id": "REL", "method": "ae_by_grade", "population": "SAFFL", "options": {"variable": "AEREL"}}])
    engine = tlf.Engine(make_ard(), load_trial(config))
    assert engine.analysis_ids([{"method": "by_visit"}, {"method": "within_arm"}]) == ["BYVIS"]
    assert engine.analysis_ids({"method": "adverse_events", "options": {"by": "preferred_term"}}) == ["PT"]
    assert engine.analysis_ids({"method": "adverse_events", "options": {"by": "soc_pt"}}) == ["SOCPT"]
    assert engine.analysis_ids({"method": "adverse_events", "options": {"by": "system_organ_class"}}) == []
    assert engine.analysis_ids({"method": "ae_by_grade", "options": {"variable": "AESEV"}}) == ["SEV"]
    assert engine.analysis_ids({"method": "ae_by_grade", "options": {"variable": "AEREL"}}) == ["REL"]
    assert engine.analysis_ids(["CONT", {"method": "ancova"}]) == ["CONT"]  # an ID is taken as written
    with pytest.raises(tlf.ShellError, match="an ID, or"):
        engine.analysis_ids({"by": "soc_pt"})


def test_of_two_analyses_of_one_method_a_selector_takes_the_first_in_the_plan():
    config = dict(CONFIG, analyses=[
        {"id": "POP", "method": "populations"},
        {"id": "CONT", "method": "by_visit", "population": "SAFFL", "parameters": ["GLUC", "TG"]},
        {"id": "CONTPP", "method": "by_visit", "population": "PPROTFL", "parameters": ["GLUC", "TG"]}])
    ard = make_ard()
    per_protocol = ard[ard["ANALYSIS_ID"] == "CONT"].assign(ANALYSIS_ID="CONTPP", VALUE=0.0)
    engine = tlf.Engine(pd.concat([ard, per_protocol], ignore_index=True), load_trial(config))
    assert engine.analysis_ids({"method": "by_visit"}) == ["CONT"]
    outputs = engine.render(shell(analysis={"method": "by_visit"}, per="PARAMCD", rows=[
        {"select": {"VARIABLE": "AVAL", "METHOD": "descriptive"}, "label": "n", "cells": {"arm": "{n}"}}]))
    assert [(o.rows[0].cells, o.analysis_ids) for o in outputs] == [(["5", "4"], ["CONT"])] * 2  # GLUC, TG: not 0


def test_the_default_tables_do_not_depend_on_the_trials_analysis_ids(trial_configs_all):
    """dose_ranging has no TLF file of its own: with every analysis renamed, in its plan and its ARD, the default
    file gives the same tables (the ARD of its bundled final cut)."""
    from conftest import run_pipeline
    from ucmsc.report import build_tables
    config = trial_configs_all["dose_ranging"]
    assert not config.get("tlf")
    ard = run_pipeline("dose_ranging", "2022-11-30", config)["ard"]
    renamed = copy.deepcopy(config)
    for analysis in renamed["analyses"]:
        analysis["id"] = "X" + analysis["id"]
    for section in ("families", "figures"):
        for entry in renamed.get(section, {}).values():
            entry["analysis"] = "X" + entry["analysis"]
    before = build_tables(ard, config)
    fixed = ard["ANALYSIS_ID"].isin(["DISP", "EXCL"])  # written by the populations analysis under these IDs
    after = build_tables(ard.assign(ANALYSIS_ID=ard["ANALYSIS_ID"].where(fixed, "X" + ard["ANALYSIS_ID"])), renamed)
    assert [o.number for o in before] == [o.number for o in after] and len(before) >= 20
    assert [[(r.label, r.cells) for r in o.rows] for o in before] == [[(r.label, r.cells) for r in o.rows]
                                                                      for o in after]
    assert {"Table 14.2.1.1", "Table 14.2.2", "Table 14.3.1.1"} <= {o.number for o in after}
