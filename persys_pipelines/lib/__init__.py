"""Plain Python for persys: no Dagster imports anywhere below this package."""
