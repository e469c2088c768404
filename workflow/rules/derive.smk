rule derive:
    """Build the ADaM datasets by the spec (config/adam/spec.yaml): ADSL, the trial's BDS datasets, ADAE; their SAS
    transport files, data dictionary, define.xml and conformance checks."""
    input:
        tables=domain_tables("sdtm"),
        ae_dictionary=ae_dictionary,
        spec="config/adam/spec.yaml",
        code=code("derive"),
    output:
        adsl=f"{CUT}/adam/adsl.parquet",
        bds=directory(f"{CUT}/adam/bds"),
        adae=f"{CUT}/adam/adae.parquet",
        transport=directory(f"{CUT}/adam/xpt"),
        dictionary=f"{CUT}/adam/dictionary.csv",
        define=f"{CUT}/adam/define.xml",
        conformance=f"{CUT}/adam/conformance.csv",
        queries=f"{CUT}/adam/queries.csv",
    log:
        f"{CUT}/logs/derive.log",
    conda:
        "../../envs/environment.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("derive"),
        runtime=job_runtime("derive"),
    params:
        cut_results=cut_results,
        trial=trial_params("derive"),
    script:
        "../scripts/derive.py"
