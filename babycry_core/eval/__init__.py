"""Metrics on predictions alone: macro-F1 with intervals, cry metrics, calibration. Imports nothing of the package."""
