rule analyze:
    """Run the trial's analysis plan into the analysis-results dataset (ARD)."""
    input:
        adsl=f"{CUT}/adam/adsl.parquet",
        bds=f"{CUT}/adam/bds",
        adae=f"{CUT}/adam/adae.parquet",
        code=code("analyze"),
    output:
        ard=cut_report(f"{CUT}/ard.csv", "ard"),
        cards=f"{CUT}/ard_cards.csv",
    log:
        f"{CUT}/logs/analyze.log",
    conda:
        "../../envs/environment.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("analyze"),
        runtime=job_runtime("analyze"),
    params:
        cut_results=cut_results,
        trial=trial_params("analyze"),
    script:
        "../scripts/analyze.py"


rule audit:
    """Compare the ARD with every number the publication gives, at its rounding."""
    input:
        ard=f"{CUT}/ard.csv",
        published=config["published_numbers"],
        code=code("audit"),
    output:
        audit=cut_report(f"{CUT}/audit.csv", "audit"),
    log:
        f"{CUT}/logs/audit.log",
    conda:
        "../../envs/environment.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("audit"),
        runtime=job_runtime("audit"),
    params:
        cut_results=cut_results,
        trial=trial_params("audit"),
    script:
        "../scripts/audit.py"
