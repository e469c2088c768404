rule clean:
    """Run the named record checks; write clean domains (Parquet and SAS transport), the query log and quarantined
    records."""
    input:
        tables=domain_tables("ingest"),
        other=f"{CUT}/ingest/other",
        code=code("clean"),
    output:
        tables=domain_tables("sdtm"),
        other=directory(f"{CUT}/sdtm/other"),
        queries=cut_report(f"{CUT}/queries.csv", "queries"),
        quarantine=f"{CUT}/quarantine.csv",
        summary=f"{CUT}/cleaning_summary.csv",
        dictionary=f"{CUT}/sdtm/define.csv",
        transport=directory(f"{CUT}/sdtm/xpt"),
    log:
        f"{CUT}/logs/clean.log",
    conda:
        "../../envs/environment.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("clean"),
        runtime=job_runtime("clean"),
    params:
        cut_results=cut_results,
        trial=trial_params("clean"),
    script:
        "../scripts/clean.py"
