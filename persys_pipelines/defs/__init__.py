"""Dagster wiring, one folder per concern; each exposes a function returning Definitions."""
