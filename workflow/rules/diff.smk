rule diff:
    """What changed between two consecutive cuts of a trial: subjects, records, results."""
    input:
        old_tables=[
            f"results/{{trial}}/{{old}}/sdtm/{d.lower()}.parquet" for d in DOMAINS
        ],
        new_tables=domain_tables("sdtm"),
        old_ard="results/{trial}/{old}/ard.csv",
        new_ard=f"{CUT}/ard.csv",
        code=code("diff"),
    output:
        subjects=f"{DIFF}/subjects.csv",
        records=f"{DIFF}/records.csv",
        results=f"{DIFF}/results.csv",
    log:
        "results/{trial}/diff/logs/{old}..{cut}.log",
    conda:
        "../../envs/environment.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("diff"),
        runtime=job_runtime("diff"),
    params:
        cut_results=cut_results,
    script:
        "../scripts/diff.py"
