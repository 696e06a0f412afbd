"""One import of one file: read it whole into the spool, then deliver, then record.

    report = import_file("apple-health", path, handles=..., target=..., spool_root=...)

(`persys_pipelines/handles.import_file` makes the arguments from the config.)

1. sha256 of the file (its identity: the record's key, the inbox sensor's run key);
2. parse → spool (lib/imports/spool.py): a broken file stops here, with an error naming the
   file and the record or line, and nothing reaches a tier (the refusal is recorded);
3. `--dry-run` stops here too and reports where the rows would go;
4. deliver (the engine's `import` route, lib/moves/import_rows.py) and record
   (lib/imports/record.py) with the counts.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ..config.imports import STREAM_OF, CsvFormat, ImportTarget
from ..errors import UsageError
from ..moves.import_rows import Delivered, ImportHandles, ImportSource, deliver
from . import record
from .parts import read_in_parts
from .rows import STREAMS, ImportFileError, Row, Tally
from .spool import Spool, Spooled, spool_folder

log = logging.getLogger(__name__)

# kind → module with `parse(path, zone, tally[, options])`, and the field counted per type
PARSERS = {"apple-health": ("apple_health", "metric"), "ofx": ("ofx", None),
           "csv": ("bank_csv", None), "ics": ("calendar", None),
           "dayone": ("journals", None), "markdown": ("journals", None)}
# kinds whose natural key holds the row's day (instants, a date): moves.import_plan.Batch
KEY_HAS_DAY = {"apple-health", "csv", "markdown"}


@dataclass
class ImportReport:
    kind: str
    name: str
    sha256: str
    dry_run: bool
    tally: Tally
    spooled: Spooled
    delivered: Delivered | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    resumed: bool = False


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def rows_of(kind: str, path: Path, zone: ZoneInfo, tally: Tally,
            csv_format: CsvFormat | None = None, today: dt.date | None = None
            ) -> Iterator[Row]:
    """The parser of `kind` over `path` (normalized rows, see rows.py)."""
    if kind not in PARSERS:
        raise UsageError(f"unknown import kind {kind!r}; use one of {', '.join(PARSERS)}")
    module = importlib.import_module(f"{__package__}.{PARSERS[kind][0]}")
    if kind == "csv":
        return module.parse(path, zone, tally, csv_format or CsvFormat())
    if kind == "ics":
        return module.parse(path, zone, tally, today)
    if kind in ("dayone", "markdown"):
        return getattr(module, f"parse_{kind}")(path, zone, tally)
    return module.parse(path, zone, tally)


def import_file(kind: str, path: Path, *, handles: ImportHandles, target: ImportTarget,
                zone: ZoneInfo, spool_root: Path, dry_run: bool = False,
                csv_format: CsvFormat | None = None, sha256: str | None = None) -> ImportReport:
    """Import one file (module docstring); raises ImportFileError for a broken file."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir() and kind != "markdown":
        raise UsageError(f"{path} is a folder; give the export file ({kind})")
    t0 = time.perf_counter()
    sha = sha256 or (_folder_sha256(path) if path.is_dir() else file_sha256(path))
    name = str(path)
    earlier = None if dry_run else record.find(handles.main, sha)
    run_id = handles.engine.run_id
    seconds = {"sha256": time.perf_counter() - t0}
    folder = spool_folder(spool_root, sha)
    try:
        stream = STREAMS[STREAM_OF[kind]]
        columns = [(stream.index(f), c) for f, c in target.columns.items() if c]
        label = stream.index(PARSERS[kind][1]) if PARSERS[kind][1] else None
        make_spool = functools.partial(
            Spool, table=target.table, policy=handles.spec.policy, today=handles.today,
            key_column=target.key_column, columns=columns, label=label,
            key_has_day=kind in KEY_HAS_DAY)
        t1 = time.perf_counter()
        try:
            spooled, tally = _read(kind, path, zone, make_spool, folder, csv_format,
                                   handles.today)
        except ImportFileError as exc:
            if not dry_run:
                record.save(handles.main, sha256=sha, kind=kind, name=name,
                            state=record.REFUSED, run_id=run_id, detail={"error": str(exc)})
            raise
        seconds["read"] = time.perf_counter() - t1
        report = ImportReport(kind, name, sha, dry_run, tally, spooled, seconds=seconds,
                              resumed=earlier is not None and earlier.state == record.DELIVERING)
        if dry_run:
            return report
        record.save(handles.main, sha256=sha, kind=kind, name=name, state=record.DELIVERING,
                    run_id=run_id, first_day=spooled.first_day, last_day=spooled.last_day,
                    rows=_rows_json(report))
        t2 = time.perf_counter()
        report.delivered = deliver(handles, spooled.batches,
                                   source=ImportSource(sha, kind, name))
        seconds["deliver"] = time.perf_counter() - t2
        rows = _rows_json(report) | {"new": {target.table: record.written(handles.main, sha)}}
        record.save(handles.main, sha256=sha, kind=kind, name=name, state=record.DONE,
                    run_id=run_id, first_day=spooled.first_day, last_day=spooled.last_day,
                    rows=rows, detail=_detail_json(report))
        return report
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _read(kind: str, path: Path, zone: ZoneInfo, make_spool: Callable[[Path], Spool],
          folder: Path, csv_format: CsvFormat | None, today: dt.date) -> tuple[Spooled, Tally]:
    """The file read whole into the spool (step 2): a big Apple Health export by two
    processes (parts.py), anything else, or an export they could not share, by this one."""
    if kind == "apple-health" and not path.is_dir():
        read = read_in_parts(path, zone, make_spool, folder)
        if read is not None:
            return read
        shutil.rmtree(folder, ignore_errors=True)  # whatever a failed part left
    tally = Tally()
    spool = make_spool(folder)
    try:
        return spool.add_all(rows_of(kind, path, zone, tally, csv_format, today)), tally
    finally:
        spool.finish()


def _rows_json(report: ImportReport) -> dict:
    """{"planned": {type: {tier: n}}, "new"/"present": {table: {tier: n}}} of this run (the
    record's "new" is then every run's, from the ledger)."""
    planned: dict[str, dict[str, int]] = {}
    for (label, tier), n in report.spooled.planned.items():
        planned.setdefault(label, {})[tier] = n
    out: dict = {"planned": planned}
    d = report.delivered
    if d is not None:
        for name, counts in (("new", d.new), ("present", d.present)):
            per: dict[str, dict[str, int]] = {}
            for (table, tier), n in counts.items():
                per.setdefault(table, {})[tier] = n
            out[name] = per
        out["repeated"] = d.repeated
    return out


def _detail_json(report: ImportReport) -> dict:
    t = report.tally
    dropped = dict(t.dropped)
    if report.spooled.past_retention:
        dropped["older than the table's delete_days (retention)"] = report.spooled.past_retention
    return {"records": t.records, "seen": t.seen, "skipped": t.skipped, "dropped": dropped,
            "notes": t.notes,
            "archive_files": (report.delivered.archived if report.delivered else {}),
            "seconds": {k: round(v, 2) for k, v in report.seconds.items()}}


def _folder_sha256(folder: Path) -> str:
    """A folder of notes: the sha256 of its files' paths and contents, in path order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(folder)).encode() + b"\0")
        digest.update(bytes.fromhex(file_sha256(file)))
    return digest.hexdigest()
