"""UC-MSC in type 2 diabetes: a reproducible analysis pipeline for two published trials.

Stage modules hold plain functions over data frames and paths; the Snakemake workflow
under ``workflow/`` only wires them to files.
"""

__version__ = "0.1.0"
