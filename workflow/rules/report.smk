rule report:
    """Render the self-contained HTML report of one trial and cut."""
    input:
        unpack(diff_of),
        ard=f"{CUT}/ard.csv",
        audit=f"{CUT}/audit.csv",
        queries=f"{CUT}/queries.csv",
        derive_queries=f"{CUT}/adam/queries.csv",
        adam_dictionary=f"{CUT}/adam/dictionary.csv",
        conformance=f"{CUT}/adam/conformance.csv",
        define=f"{CUT}/adam/define.xml",
        summary=f"{CUT}/cleaning_summary.csv",
        raw_files=f"{CUT}/ingest/raw_files.json",
        figures=f"{CUT}/figures",
        shells=tlf_files,
        code=code("report"),
    output:
        html=cut_report(f"{CUT}/report.html", "html"),
        tables_provenance=f"{CUT}/report_tables_provenance.json",
        build=f"{CUT}/report_build.json",
        tlf=directory(f"{CUT}/tlf"),
    log:
        f"{CUT}/logs/report.log",
    conda:
        "../../envs/environment.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("report"),
        runtime=job_runtime("report"),
    params:
        cut_results=cut_results,
        trial=trial_params("report"),
        previous=lambda wc: previous_cut(wc.trial, wc.cut),
    script:
        "../scripts/report.py"


rule index:
    """Link every trial and cut's report from one page."""
    input:
        # each cut's report, and beside it: when it was built, its audit, whether its data are synthetic
        reports=each_cut("report.html"),
        builds=each_cut("report_build.json"),
        audits=each_cut("audit.csv"),
        raw_files=each_cut("ingest/raw_files.json"),
        code=code("report"),
    output:
        html="results/index.html",
    log:
        "results/logs/index.log",
    conda:
        "../../envs/environment.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("index"),
        runtime=job_runtime("index"),
    params:
        titles={trial: cfg["title"] for trial, cfg in TRIAL_CONFIG.items()},
    script:
        "../scripts/index.py"
