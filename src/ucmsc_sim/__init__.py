"""Seeded simulator of raw data cuts, calibrated to the two trials' published statistics.

The data it writes are synthetic. They reproduce published summary statistics only; they
are not, and do not approximate, any real patient's data.

A package of its own beside ``ucmsc``: the simulator may use the pipeline's helpers (rounding,
hashing), but the pipeline never imports the simulator (tests/test_stages.py checks it), so
nothing it analyses can depend on how the synthetic data were made.
"""
