"""Bring your history: one streaming parser per kind of export (Apple Health, OFX/QFX, bank
CSV, .ics calendars, Day One JSON, Markdown notes), each yielding normalized rows (`rows`),
routed by age into per-tier month batches on local disk (`spool`), then written into the
tier each day belongs in by the engine's `import` route (lib/moves/import_rows.py, the only
code that writes imported rows), with one record per file (`record`) and a coverage report
(`coverage`). `run` is one import (persys_pipelines/handles.import_file makes its arguments
from the config); `inbox` is what the sensor watches.

May import `config`, `errors`, `pg`, `archive` and `moves`; nothing above them.
"""
