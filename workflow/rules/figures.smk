rule figures:
    """Draw every figure of a cut from the ARD, each with a provenance sidecar."""
    input:
        ard=f"{CUT}/ard.csv",
        raw_files=f"{CUT}/ingest/raw_files.json",
        code=code("figures"),
    output:
        figures=report(
            directory(f"{CUT}/figures"),
            patterns=["{name}.png"],
            caption="../report/figure.rst",
            category="{trial}",
            subcategory="{cut}",
            labels=figure_report_labels,
        ),
    log:
        f"{CUT}/logs/figures.log",
    conda:
        "../../envs/environment.yaml"
    threads: 1
    resources:
        mem_mb=job_mem_mb("figures"),
        runtime=job_runtime("figures"),
    params:
        cut_results=cut_results,
        trial=trial_params("figures"),
    script:
        "../scripts/figures.py"
