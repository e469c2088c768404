rule ingest:
    """Read every raw file of a cut and map its columns to the standard variables."""
    input:
        raw=raw_files,
        code=code("ingest"),
    output:
        tables=domain_tables("ingest"),
        other=directory(f"{CUT}/ingest/other"),
        raw_files=f"{CUT}/ingest/raw_files.json",
    log:
        f"{CUT}/logs/ingest.log",
    conda:
        "../../envs/environment.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("ingest"),
        runtime=job_runtime("ingest"),
    params:
        cut_results=cut_results,
        trial=trial_params("ingest"),
        cut_dir=lambda wc: str(cut_dir(wc)),
    script:
        "../scripts/ingest.py"
