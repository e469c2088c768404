"""Rule index: a page linking every trial and cut's report."""

import json
from pathlib import Path

from ucmsc.config import setup_logging
from ucmsc.io import write_text
from ucmsc.report import render_index

sm = snakemake  # noqa: F821
setup_logging(sm.log[0])
entries = []
for path in sm.input.reports:
    trial, cut = Path(path).parts[-3], Path(path).parts[-2]
    raw = json.loads((Path(path).parent / "ingest" / "raw_files.json").read_text())
    entries.append({"title": sm.params.titles[trial], "cut": cut, "href": f"{trial}/{cut}/report.html",
                    "synthetic": bool((raw.get("manifest") or {}).get("synthetic"))})
write_text(render_index(entries), sm.output.html)
