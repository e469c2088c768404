rule report:
    """Render the self-contained HTML report of one trial and cut."""
    input:
        ard=f"{CUT}/ard.csv",
        audit=f"{CUT}/audit.csv",
        queries=f"{CUT}/queries.csv",
        derive_queries=f"{CUT}/adam/queries.csv",
        summary=f"{CUT}/cleaning_summary.csv",
        raw_files=f"{CUT}/ingest/raw_files.json",
        figures=f"{CUT}/figures",
        trial_config=trial_config_file,
        code=stage_files("report"),
    output:
        html=f"{CUT}/report.html",
        tables_provenance=f"{CUT}/report_tables_provenance.json",
    log:
        f"{CUT}/logs/report.log",
    conda:
        "../../envs/environment.yaml"
    script:
        "../scripts/report.py"


rule index:
    """Link every trial and cut's report from one page."""
    input:
        reports=[o for o in all_outputs() if o.endswith("report.html")],
        code=stage_files("report"),
    output:
        html="results/index.html",
    log:
        "results/logs/index.log",
    conda:
        "../../envs/environment.yaml"
    params:
        titles={trial: cfg["title"] for trial, cfg in TRIAL_CONFIG.items()},
    script:
        "../scripts/index.py"
