"""Seeded simulator of raw data cuts: two trials calibrated to their published statistics, one invented.

The data it writes are synthetic. ``nafld_efficacy`` and ``t2dm_safety`` reproduce published
summary statistics only; ``dose_ranging`` (three arms, for testing) and ``sdtm_delivery`` (three
arms delivered as SDTM datasets, ``sdtm.py``) are calibrated to no publication. None is, or
approximates, any real patient's data.

A package of its own beside ``ucmsc``: the simulator may use the pipeline's helpers (rounding,
hashing), but the pipeline never imports the simulator (tests/test_stages.py checks it), so
nothing it analyses can depend on how the synthetic data were made.
"""
