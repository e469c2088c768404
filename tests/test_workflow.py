"""The workflow end to end in a temporary copy of the project, plus its lint and format checks."""

import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
from PIL import Image

from conftest import FINAL_CUTS, ROOT, configured_cuts
from ucmsc.io import sha256_file
from ucmsc.report import SECTIONS, section_id

BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"  # kept after the run for a reader to look at (not in git)


def _copy_project(dest: Path) -> Path:
    for name in ("Snakefile", "workflow", "profiles", "config", "resources", "src", "envs", "pyproject.toml"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, dest / name)
    return dest


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "snakemake"), *args], cwd=workdir, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workdir = _copy_project(tmp_path_factory.mktemp("project"))
    result = _snakemake(workdir, "--cores", "2")
    assert result.returncode == 0, result.stderr[-4000:]
    (workdir / "console.txt").write_text(result.stdout + result.stderr)  # what a user saw, for the console test
    return workdir


@pytest.mark.e2e
def test_every_report_exists_with_its_sections(built):
    reports = sorted(built.glob("results/*/*/report.html"))
    assert [(r.parent.parent.name, r.parent.name) for r in reports] == sorted(configured_cuts(built))
    for report in reports:
        html = report.read_text()
        for section in SECTIONS:
            assert html.count(f'id="{section_id(section)}"') == 1, f"{report}: section {section} not once"
        assert 'id="synthetic-banner"' in html and "SYNTHETIC DATA" in html
        # the analysis datasets: define.xml, each transport file and the conformance checks, linked and present
        adam = report.parent / "adam"
        links = set(re.findall(r'href="(adam/[^"#]+)"', html))
        assert {"adam/define.xml", "adam/conformance.csv"} <= links
        assert {f"adam/xpt/{p.name}" for p in (adam / "xpt").glob("*.xpt")} == {x for x in links if "/xpt/" in x}
        assert all((report.parent / link).is_file() for link in links)
        import xml.etree.ElementTree as ET

        import yaml

        title = yaml.safe_load((built / "config" / "trials" / f"{report.parent.parent.name}.yaml").read_text())["title"]
        described = ET.parse(adam / "define.xml").getroot()
        assert described.find(".//{http://www.cdisc.org/ns/odm/v1.3}StudyDescription").text == title
        if report.parent.parent.name in ("nafld_efficacy", "t2dm_safety"):
            assert "no findings" in html and (adam / "conformance.csv").read_text().count("\n") == 1
    index = (built / "results" / "index.html").read_text()
    assert all(f"{r.parent.parent.name}/{r.parent.name}/report.html" in index for r in reports)


@pytest.mark.e2e
def test_every_clean_domain_is_also_a_labelled_transport_file_with_the_same_values(built):
    import numpy as np
    import pandas as pd
    import pyreadstat

    for folder in sorted(built.glob("results/*/*/sdtm")):
        parquet = {p.stem: pd.read_parquet(p) for p in folder.glob("*.parquet")}
        parquet |= {p.stem: pd.read_parquet(p) for p in (folder / "other").glob("*.parquet")}
        files = sorted((folder / "xpt").glob("*.xpt"))
        assert {p.stem for p in files} == set(parquet), folder
        for path in files:
            data, meta = pyreadstat.read_xport(str(path))
            mine = parquet[path.stem]
            assert meta.table_name == path.stem.upper() and meta.file_label and list(data.columns) == list(mine)
            assert len(data) == len(mine), path
            for column in mine.columns:
                if pd.api.types.is_numeric_dtype(mine[column]):
                    assert np.array_equal(data[column].to_numpy(float), mine[column].to_numpy(float),
                                          equal_nan=True), f"{path}:{column}"
                else:
                    assert data[column].tolist() == mine[column].fillna("").astype(str).tolist(), f"{path}:{column}"
            if path.stem in ("dm", "ds", "ex", "lb", "vs", "xp", "ae"):
                assert all(meta.column_names_to_labels.values()), path  # every variable labelled


@pytest.mark.e2e
def test_raw_files_are_untouched_by_a_build(built):
    for manifest in built.glob("resources/datacuts/*/*/manifest.json"):
        for entry in json.loads(manifest.read_text())["files"]:
            assert sha256_file(manifest.parent / entry["name"]) == entry["sha256"]


@pytest.mark.e2e
def test_every_figure_carries_its_provenance_in_sidecar_png_and_svg(built):
    figures = sorted(built.glob("results/*/*/figures/*.png"))
    assert len(figures) >= 5 * len(configured_cuts(built))
    for png in figures:
        sidecar = json.loads(png.with_suffix(".json").read_text())
        assert sidecar["files"]["png"]["sha256"] == sha256_file(png)
        assert sidecar["files"]["svg"]["sha256"] == sha256_file(png.with_suffix(".svg"))
        assert (sidecar["raw_files"] and sidecar["ard_rows"] and sidecar["code"]["code_sha256"]
                and sidecar["packages"]["pandas"])
        embedded = json.loads(Image.open(png).text["Provenance"])
        assert embedded["raw_files"] == sidecar["raw_files"] and embedded["ard_rows"] == sidecar["ard_rows"]
        svg = png.with_suffix(".svg").read_text()
        assert "<dc:description>" in svg and sidecar["code"]["code_sha256"] in svg


@pytest.mark.e2e
def test_the_console_shows_one_line_per_job_and_ends_with_the_index(built):
    lines = (built / "console.txt").read_text().splitlines()
    planned = next(line for line in lines if " job(s) to run: " in line)
    total = int(planned.split()[0])
    done = [line for line in lines if re.match(r"\[\d+/\d+\] done  ", line)]
    assert len(done) == total
    for line in done:
        assert re.fullmatch(r"\[\d+/\d+\] done  (\w+ \d{4}-\d{2}-\d{2}(\.\.\d{4}-\d{2}-\d{2})? [a-z]+|index|all)  "
                            r"\(\d+\.\d s\)", line), line
    stages = {line.split("  ")[1].split()[-1] for line in done}
    assert stages == {"ingest", "clean", "derive", "analyze", "audit", "figures", "report", "diff", "index", "all"}
    assert not [line for line in lines if re.match(r"\s*(input|output|wildcards|reason): ", line)]
    assert not [line for line in lines if re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", line)]  # package lines prefixed
    # every other line is a package line prefixed with its job, or one of Snakemake's few closing lines
    labels = tuple(f"{line.split('  ')[1]}: " for line in done)
    other = [line for line in lines if line not in done and line != planned and not line.startswith(labels)
             and not re.match(r"Using workflow specific profile |Complete log\(s\): |Elapsed time: |Reports: ", line)]
    assert not other, other[:10]
    assert lines[-1].startswith("Reports: results/index.html (index page, built ")


@pytest.mark.e2e
def test_second_run_has_nothing_to_do(built):
    result = _snakemake(built, "--cores", "2")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def _embedded_json(html: str, marker: str):
    """A JSON value the Snakemake report embeds as `<marker> = {...};`."""
    return json.JSONDecoder().raw_decode(html, html.index(marker) + len(marker))[0]


@pytest.mark.e2e
def test_snakemake_report_holds_each_cuts_outputs_and_a_caption_per_figure(built, tmp_path):
    out = tmp_path / "snakemake_report.html"
    result = _snakemake(built, "--report", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    html = out.read_text(errors="replace")
    categories = _embedded_json(html, "var categories = ")
    cuts = configured_cuts()
    assert {(trial, cut) for trial, by_cut in categories.items() for cut in by_cut} == set(cuts)
    for trial, cut in cuts:
        folder = f"results/{trial}/{cut}"
        listed = set(categories[trial][cut])
        figures = {f"{folder}/figures/{png.name}" for png in (built / folder / "figures").glob("*.png")}
        assert figures and listed == figures | {f"{folder}/{name}" for name in
                                                ("report.html", "ard.csv", "audit.csv", "queries.csv")}
    labels = [json.loads(match) for match in re.findall(r'"labels": (\{[^{}]*\})', html)]
    sidecars = sorted(built.glob("results/*/*/figures/*.json"))
    assert len(labels) == len(sidecars) + 4 * len(cuts)
    for sidecar in sidecars:  # one label set per figure, as its sidecar says (several cuts share number and title)
        record = json.loads(sidecar.read_text())
        detail = f"{record['footnote']} Source: {len(record['ard_rows'])} ARD rows"
        assert [label for label in labels if label["output"] == record["number"] and label["title"] == record["title"]
                and label["detail"].startswith(detail)]
        # the caption (reStructuredText rendered to HTML, then JSON-escaped) repeats number and title
        caption = json.dumps(f"{record['number']}. {record['title']}</strong> (trial", ensure_ascii=True)[1:-1]
        assert caption in html, sidecar
    for output in ("Study report (HTML)", "Analysis results dataset (ARD)", "Published-vs-reproduced audit",
                   "Data-query log"):
        assert sum(label["output"] == output for label in labels) == len(cuts)


# The clinical study report's content (issue 18) each final cut must have: (table number, title pattern).
REQUIRED_TABLES = {
    "nafld_efficacy": [
        ("Table 14.1.1", "Analysis populations and end-of-study status"),
        ("Table 14.1.2", "Demographic and baseline characteristics"),
        ("Table 14.1.4", "Extent of exposure"),
        ("Table 14.2.1.1", "Fasting plasma glucose .*: value and change from baseline by visit"),
        ("Table 14.2.2", "ANCOVA of change from baseline"),
        ("Table 14.2.3", "MMRM of change from baseline"),
        ("Table 14.2.4", "Responders by visit"),
        ("Table 14.3.1.1", "Overview of treatment-emergent adverse events"),
        ("Table 14.3.1.2", "by system organ class and preferred term"),
        ("Table 14.3.1.3", "by maximum severity"),
        ("Table 14.3.1.4", "by relationship to study treatment"),
        ("Table 14.3.1.5", "within 24 h after an infusion, by infusion number")],
    "t2dm_safety": [
        ("Table 14.1.1", "Analysis populations and end-of-study status"),
        ("Table 14.1.2", "Demographic and baseline characteristics"),
        ("Table 14.1.4", "Extent of exposure"),
        ("Table 14.3.1.1", "Overview of treatment-emergent adverse events"),
        ("Table 14.3.1.2", "by system organ class and preferred term"),
        ("Table 14.3.1.3", "by maximum severity"),
        ("Table 14.3.1.4", "by relationship to study treatment"),
        ("Table 14.3.1.5", "within 24 h after an infusion, by infusion number"),
        ("Table 14.3.4.1", "Lymphocytes .*: laboratory value and change from baseline by visit"),
        ("Table 14.3.5.1", "Liver function, Alanine aminotransferase"),
        ("Table 14.3.6", "ANCOVA of change from baseline"),
        ("Table 14.3.7", "Shift from baseline to the worst post-baseline reference-range indicator"),
        ("Table 14.3.8.1", "Vital signs, Systolic blood pressure"),
        ("Table 14.3.9", "Vital signs: shift from baseline")],
}


def _tables_of(html: str) -> list[tuple[str, str, str]]:
    """(anchor, number, title) of each table the report lists, in its table of contents."""
    toc = html.split('<ol class="toc">')[1].split("</ol>")[0]
    return re.findall(r'<li><a href="#(tlf-[^"]+)">([^<]+)</a> ([^<]+)</li>', toc)


@pytest.mark.e2e
def test_every_table_is_listed_numbered_and_written_as_an_rtf_file_a_reader_opens(built):
    from striprtf.striprtf import rtf_to_text

    for report in sorted(built.glob("results/*/*/report.html")):
        html, trial = report.read_text(), report.parent.parent.name
        tables = _tables_of(html)
        assert tables, report
        body = re.findall(r'<div class="tlf" id="(tlf-[^"]+)">', html)
        assert [anchor for anchor, _, _ in tables] == body  # every table in the contents, in the same order
        assert len(set(body)) == len(body)
        figures_listed = re.findall(r'<li><a href="#(figure-[^"]+)">', html)
        assert figures_listed == re.findall(r'<figure id="(figure-[^"]+)">', html) and figures_listed
        rtf_files = sorted((report.parent / "tlf").glob("*.rtf"))
        assert [p.stem for p in rtf_files] == sorted(body)
        for anchor, number, title in tables:
            document = (report.parent / "tlf" / f"{anchor}.rtf").read_text(encoding="ascii")
            text = rtf_to_text(document)
            header = re.search(rf'id="{anchor}".*?<thead>(.*?)</thead>', html, re.S).group(1)
            columns = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<th[^>]*>(.*?)</th>", header, re.S)]
            columns = [unescape(c) for c in columns if c and "Population:" not in c and number not in c]
            pages = document.count("\\page") + 1
            assert text.count(number) == pages and text.count(unescape(title)) == pages, (anchor, pages)
            for column in columns:
                assert text.count(column) >= pages, (anchor, column)  # column headers on every page
            assert re.search(rf"Source: \S+ data cut {report.parent.name}, ard.csv \(SHA-256 [0-9a-f]{{12}}\), "
                             rf"analyses [A-Z0-9, ]+; program ucmsc.tlf, code \S+.*; built \d{{4}}-", text), anchor
        if (trial, report.parent.name) in FINAL_CUTS.items():
            for number, pattern in REQUIRED_TABLES[trial]:
                assert any(n == number and re.search(pattern, unescape(t)) for _, n, t in tables), (trial, number)


@pytest.mark.e2e
@pytest.mark.skipif(not CHROMIUM.exists() and os.environ.get("UCMSC_REQUIRE_BROWSER") != "1",
                    reason="Debian's chromium is not installed (.ci/run installs it and requires this test)")
def test_reports_open_offline_in_a_headless_browser(built, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        for report in sorted(built.glob("results/*/*/report.html")):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            outside = []
            page.on("request", lambda request, outside=outside: outside.append(request.url)
                    if not request.url.startswith(("file:", "data:")) else None)
            page.goto(report.as_uri())
            images = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
            assert images and all(images), f"{report}: a figure did not load"
            assert outside == [], f"{report}: the page asked the network for {outside}"
            assert page.locator("#synthetic-banner").is_visible()
            shot = tmp_path / f"{report.parent.parent.name}_{report.parent.name}.png"
            page.screenshot(path=str(shot), full_page=False)
            assert shot.stat().st_size > 10_000
            # every entry of the table of contents leads to its table or figure
            targets = page.evaluate("Array.from(document.querySelectorAll('ol.toc a')).map("
                                    "a => [a.getAttribute('href'), !!document.getElementById(a.hash.slice(1))])")
            assert targets and all(found for _, found in targets), [t for t, found in targets if not found]
            # a screenshot of each table and figure, kept (test-artifacts/screenshots/<trial>/<cut>/)
            kept = ARTIFACTS / report.parent.parent.name / report.parent.name
            kept.mkdir(parents=True, exist_ok=True)
            elements = page.locator("div.tlf, figure")
            assert elements.count() == len(targets)
            for i in range(elements.count()):
                element = elements.nth(i)
                name = element.get_attribute("id")
                element.screenshot(path=str(kept / f"{name}.png"))
                assert (kept / f"{name}.png").stat().st_size > 2_000, name
            # printing: each table starts a page and repeats its column headers (thead) on the next
            page.emulate_media(media="print")
            assert page.evaluate("getComputedStyle(document.querySelector('div.tlf')).breakBefore") == "page"
            assert page.evaluate("getComputedStyle(document.querySelector('div.tlf thead')).display") == (
                "table-header-group")
            assert page.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
            page.close()
        browser.close()


def test_snakemake_lint_is_clean():
    result = _snakemake(ROOT, "--lint")
    assert result.returncode == 0 and "Congratulations" in result.stdout + result.stderr, result.stdout[-3000:]


def test_ruff_check_passes():
    """The Python code is clean under the project's ruff rules ([tool.ruff] in pyproject.toml), as make lint checks."""
    result = subprocess.run([str(BIN / "ruff"), "check", "src", "tests", "workflow", "benchmarks"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr


def test_snakefmt_check_passes():
    result = subprocess.run([str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.e2e
def test_the_sdtm_delivery_report_words_its_treatment_sources_and_coding_from_config(built):
    import pyreadstat

    from ucmsc.io import read_table

    cut = built / "results" / "sdtm_delivery" / "2023-06-30"
    raw = built / "resources" / "datacuts" / "sdtm_delivery" / "2023-06-30"
    html = (cut / "report.html").read_text()
    ds = pyreadstat.read_xport(str(raw / "ds.xpt"))[0]
    other = int((ds["DSCAT"] == "OTHER EVENT").sum())
    assert (f"ds.xpt: {other} of {len(ds)} rows not selected (kept where DSCAT = PROTOCOL MILESTONE or DISPOSITION "
            "EVENT)") in html
    suppae = pyreadstat.read_xport(str(raw / "suppae.xpt"))[0]
    assert f"suppae.xpt: {len(suppae)} qualifier records merged onto ae.xpt" in html
    assert "treatment: subcutaneous injections, once weekly for 12 weeks" in html
    assert "Coded with MedDRA version 26.0." in html and "no visit schedule (no findings delivered)" in html
    assert "infusion" not in html.lower()
    # Table 14.1.1 lists the delivered population flag and the subjects in none, by reason
    assert re.search(r">\s*Intent-to-treat\s*</td>", html) and re.search(r">\s*screen failure: 6</td>", html)
    sv = pyreadstat.read_xport(str(raw / "sv.xpt"))[0]
    assert len(read_table(cut / "sdtm" / "other" / "sv.parquet")) == len(sv)  # another domain, carried whole
