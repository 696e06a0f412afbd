"""Backups of the core and main tiers: one encrypted Parquet file per table in the archive store
under `backups/<tier>/<id>/`, a manifest per backup, retention, verify and restore. May import
`pg/` and `archive/` (format, crypto, stores); nothing above them."""
