rule ingest:
    """Read every raw file of a cut and map its columns to the standard variables."""
    input:
        raw=raw_files,
        trial_config=trial_config_file,
        code=stage_files("ingest"),
    output:
        tables=domain_tables("ingest"),
        raw_files=f"{CUT}/ingest/raw_files.json",
    log:
        f"{CUT}/logs/ingest.log",
    conda:
        "../../envs/environment.yaml"
    params:
        cut_dir=lambda wc: str(cut_dir(wc)),
    script:
        "../scripts/ingest.py"
