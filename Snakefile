# UC-MSC in type 2 diabetes: raw data cuts -> clean domains -> ADaM -> ARD -> figures -> report.
# A table of contents only; each stage lives in workflow/rules/<stage>.smk.


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


wildcard_constraints:
    trial="|".join(config["trials"]),
    cut=r"\d{4}-\d{2}-\d{2}",
    old=r"\d{4}-\d{2}-\d{2}",


include: "workflow/rules/ingest.smk"
include: "workflow/rules/clean.smk"
include: "workflow/rules/derive.smk"
include: "workflow/rules/analyze.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/diff.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
