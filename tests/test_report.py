"""The report renders from the ARD, escapes text that comes from data, and carries table provenance."""

import pandas as pd
import pytest

from conftest import FINAL_CUTS, ROOT, run_pipeline
from ucmsc import report
from ucmsc.audit import audit_trial
from ucmsc.config import load_yaml

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def safety_with_a_hostile_term(trial_configs):
    trial, cut = "t2dm_safety", FINAL_CUTS["t2dm_safety"]
    config = trial_configs[trial]

    def hostile(sdtm):  # a site typed markup into a free-text field
        sdtm["AE"].loc[0, "AETERM"] = SCRIPT

    dictionary = load_yaml(ROOT / "config" / "ae_dictionary.yaml") | {SCRIPT: {"decod": SCRIPT, "soc": SCRIPT}}
    run = run_pipeline(trial, cut, config, edit_sdtm=hostile, dictionary=dictionary)
    ard, queries = run["ard"], run["queries"]
    hostile_query = pd.DataFrame([{c: "" for c in queries.columns}
                                  | {"QUERYID": "Q99999", "VALUE": SCRIPT, "MESSAGE": SCRIPT}])
    queries = pd.concat([queries.astype(str), hostile_query], ignore_index=True)
    audit = audit_trial(ard, load_yaml(ROOT / "resources" / "published" / "published_numbers.yaml")[trial])
    context = report.build_context(ard, audit, queries, run["summary"],
                                   {"files": run["raw_meta"], "manifest": {"synthetic": True, "notice": "SYNTHETIC"}},
                                   [], config, cut,
                                   {"git_commit": "x", "uncommitted_changes": False, "code_sha256": "y"},
                                   {"path": "ard.csv", "sha256": "z"})
    return ard, context, report.render_report(context)


def test_text_from_data_is_escaped(safety_with_a_hostile_term):
    ard, _, html = safety_with_a_hostile_term
    assert (ard["PARAM"] == SCRIPT).any(), "the hostile term should reach the ARD for this test to mean anything"
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_every_section_and_table_with_its_provenance(safety_with_a_hostile_term):
    _, context, html = safety_with_a_hostile_term
    for section in report.SECTIONS:
        assert f'id="{report.section_id(section)}"' in html
    assert html.count("Provenance of this table") == len(context["tables"]) >= 10
    for provenance in context["table_provenance"]:
        assert provenance["drawn_from"]["ard_rows"] > 0 and provenance["raw_files"]


def test_numbers_in_tables_come_from_the_ard(safety_with_a_hostile_term):
    _, context, _ = safety_with_a_hostile_term
    flow = next(t for t, _, _ in context["tables"] if t.title.startswith("Analysis populations"))
    randomised = next(row for row in flow.rows if row.label == "Randomised")
    assert randomised.cells == ["24", "10"]  # the publication: 24 hUC-MSC, 10 placebo
    assert flow.header == ["", "hUC-MSC (N=24)", "Placebo (N=10)"]


def test_p_values_print_as_sas_would():
    assert (report.format_p(0.0285) == "0.029" and report.format_p(0.0004) == "<0.001"
            and report.format_p(float("nan")) == "")


def test_ae_table_names_its_ci_and_prints_an_infinite_odds_ratio(safety_with_a_hostile_term):
    ard, context, _ = safety_with_a_hostile_term
    assert not ard["VALUE"].abs().eq(float("inf")).any()  # an infinite odds ratio is NaN with a WARNING in the ARD
    table = next(t for t, _, _ in context["tables"] if t.title.endswith("by preferred term: comparison between arms"))
    notes = " ".join(table.footnotes)
    assert "Risk difference in percentage points: Newcombe hybrid score 95% CI" in notes and "Wald" not in notes
    assert table.header[-1] == "Odds ratio (95% exact CI)"
    zero_placebo = [row for row in table.rows if row.cells[1].startswith("0 (") and not row.cells[0].startswith("0 (")]
    assert zero_placebo, "the safety trial has terms without a placebo subject"
    for row in zero_placebo:  # a zero cell: the conditional MLE and its upper limit are infinite
        assert row.cells[-1].startswith("∞ (") and row.cells[-1].endswith(", ∞)"), row
    assert "∞: infinite (a zero cell)." in table.footnotes


def test_an_interim_cut_says_it_is_not_expected_to_match_and_the_final_cut_does_not(safety_with_a_hostile_term):
    _, context, html = safety_with_a_hostile_term
    assert context["publication_cut"] == context["cut"] == FINAL_CUTS["t2dm_safety"]
    assert 'id="interim-audit"' not in html
    interim = report.render_report(context | {"cut": "2020-09-30"})
    note = interim.split('id="interim-audit">')[1].split("</p>")[0]
    assert "interim cut (2020-09-30)" in note and "final cut\n2021-07-30" in note
    assert "not expected to match the final publication" in note


def test_each_provenance_panel_leads_with_the_summary_then_the_full_record(safety_with_a_hostile_term):
    _, context, html = safety_with_a_hostile_term
    panels = html.split('<details class="provenance">')[1:]
    assert len(panels) == len(context["tables"])
    first = panels[0]
    # summary terms in order, each before the full record, whose JSON holds the hashes
    positions = [first.index(f"<dt>{label}</dt>") for label in ("Raw files", "Rule", "Drawn from", "Code", "Built")]
    assert positions == sorted(positions) and positions[-1] < first.index("Full record")
    assert "<dd>x (working tree clean)</dd>" in first  # the fixture's commit is "x"
    assert "<dd>data cut 2021-07-30: dm.xpt (34 rows), ex.xpt (102 rows), lb.xpt (3557 rows)," in first
    assert '&#34;sha256&#34;: &#34;z&#34;' in first.split("Full record")[1]
