"""Bring your history: one streaming parser per kind of export (Apple Health, OFX/QFX, bank
CSV, .ics calendars, Day One JSON, Markdown notes), each yielding normalized rows (`rows`),
routed by age into per-tier month batches on local disk (`spool`), then written into the
tier each day belongs in by `deliver` (the only module that writes imported rows), with one
record per file (`record`) and a coverage report (`coverage`). `run` is one import;
`handles` the config boundary; `inbox` what the sensor watches.

May import `config`, `errors`, `pg` and `archive`; nothing above them.
"""
