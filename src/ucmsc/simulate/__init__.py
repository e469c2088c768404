"""Seeded simulator of raw data cuts, calibrated to the two trials' published statistics.

The data it writes are synthetic. They reproduce published summary statistics only; they
are not, and do not approximate, any real patient's data.
"""
