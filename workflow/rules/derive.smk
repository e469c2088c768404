rule derive:
    """Build the analysis datasets: ADSL, the long BDS dataset of all parameters, ADAE."""
    input:
        tables=domain_tables("sdtm"),
        ae_dictionary=ae_dictionary,
        code=code("derive"),
    output:
        adsl=f"{CUT}/adam/adsl.parquet",
        adbds=f"{CUT}/adam/adbds.parquet",
        adae=f"{CUT}/adam/adae.parquet",
        queries=f"{CUT}/adam/queries.csv",
    log:
        f"{CUT}/logs/derive.log",
    conda:
        "../../envs/environment.yaml"
    params:
        cut_results=cut_results,
        trial=trial_params("derive"),
    script:
        "../scripts/derive.py"
