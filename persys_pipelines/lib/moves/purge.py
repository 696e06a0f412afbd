"""Retention: archive files whose newest day is older than the table's `delete_days` go,
and what remains of their days is their digest (lib/archive/digest.py).

Holding the table's lock, per file: its digest is computed again from the file and must equal
the one kept when the file was written (a file archived before digests gets its digest now);
on any difference the file is refused and stays. The digest is kept in main and written as a
digest file beside the archive (`.persys/digests/…json.zst`: compact JSON, zstd). Then the
ledger entry names the files and their fingerprints and is moved to `deleting` (committed)
before the manifest loses them, the files are deleted and the entry is `done`. A run killed in
between is finished by the next one (`reconcile`), and the archive's own repair never brings a
file back that a purge had begun to delete.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..archive import digest, pins
from ..archive import format as fmt
from ..archive.manifest import FileEntry, load_file, read_manifest, write_manifest
from ..archive.stores import StoreError
from ..calendar import cutoff
from ..pg.tables import TableSpec
from .engine import Engine, Locked, Step, route
from .target import ArchiveTarget

DELETING = "deleting"
PURGE = route("purge", "archive", "deleted", states=(DELETING,),
              points=("deleting", "after_manifest", "after_files"))


DIGESTS = ".persys/digests"  # digest files: one per purged archive file


@dataclass(frozen=True)
class PurgeItem:
    table: str
    store: str
    key: str
    rows: int
    bytes: int
    max_day: str


def due(target: ArchiveTarget, spec: TableSpec, as_of: dt.date,
        pinned: list[pins.Pin] | None = None) -> list[FileEntry]:
    """Committed files of the table past its retention (none when it keeps them forever),
    except those holding a day a pin keeps (`persys archive pin`)."""
    cut = cutoff(as_of, spec.policy.delete_days)
    if cut is None:
        return []
    return [e for e in read_manifest(target.store, spec.name).committed()
            if e.max_day < cut.isoformat()
            and not pins.holds(pinned or [], spec.name, e.min_day, e.max_day, as_of)]


def purge(engine: Engine, targets: list[ArchiveTarget], specs: list[TableSpec],
          as_of: dt.date, *, dry_run: bool = False) -> list[PurgeItem]:
    """Delete every file past its table's `delete_days`, in every store that is up (a store
    that is down is purged on a later run); `dry_run` only lists them."""
    items: list[PurgeItem] = []
    for spec in specs:
        for target in targets:
            try:
                target.store.check()
            except StoreError:
                continue
            if dry_run:
                with engine.main.connect() as conn:
                    pinned = pins.active_pins(conn, as_of, spec.name)
                items += _items(spec.name, target, due(target, spec, as_of, pinned))
                continue
            with engine.locked(spec.name) as locked:
                reconcile(locked, target)
                pinned = pins.active_pins(locked.conn, as_of, spec.name)  # under the lock
                old = [e for e in due(target, spec, as_of, pinned)
                       if _digested(locked, target, e)]
                if old:
                    _purge(locked, target, old)
                    items += _items(spec.name, target, old)
    return items


def _digested(locked: Locked, target: ArchiveTarget, entry: FileEntry) -> bool:
    """The file's digest, recomputed from the file, equals the one kept when it was written
    (kept now when there is none); written as a digest file. False (the file stays, the
    ledger says why) on a difference or a file that cannot be read."""
    table = locked.table
    try:
        data = fmt.read_parquet(load_file(target.store, target.ring, entry)[0])
        fresh = digest.of_file(data)
    except Exception as exc:  # noqa: BLE001 - a damaged file is refused, not purged
        _refuse(locked, entry, f"cannot be read to take its digest ({exc})")
        return False
    with locked.engine.main.connect() as conn:
        kept = digest.stored(conn, table, entry.key)
        if kept is None:
            digest.store(conn, table, entry.key, fresh)
            conn.commit()
        elif not digest.same(kept, fresh):
            _refuse(locked, entry, "its rows no longer give the digest kept when it was "
                                   "archived; the file stays (run `persys archive verify`)")
            return False
    name = entry.key.rsplit("/", 1)[-1].removesuffix(".parquet")
    # bytes: the file's; raw_bytes: its rows decoded (Arrow, without the archive's day column)
    target.store.put(f"{DIGESTS}/{table}/{entry.month.replace('-', '/')}/{name}.json.zst",
                     digest.file_bytes({"table": table, "file": entry.key, "rows": entry.rows,
                                        "bytes": entry.bytes, "raw_bytes": data.drop_columns(
                                            [fmt.day_of(data.schema)]).nbytes,
                                        "days": fresh}))
    return True


def _refuse(locked: Locked, entry: FileEntry, why: str) -> None:
    step = locked.open(PURGE, None, None, key=entry.key, refused=why)
    step.failed(RuntimeError(f"{entry.key}: {why}"))


def _items(table: str, target: ArchiveTarget, entries: list[FileEntry]) -> list[PurgeItem]:
    return [PurgeItem(table, target.store.url, target.store.uri(e.key), e.rows, e.bytes,
                      e.max_day) for e in entries]


def _purge(locked: Locked, target: ArchiveTarget, old: list[FileEntry]) -> None:
    step = locked.open(PURGE, dt.date.fromisoformat(min(e.min_day for e in old)),
                       dt.date.fromisoformat(max(e.max_day for e in old)))
    step.advance(DELETING, store=target.store.url, keys=[e.key for e in old],
                 fingerprints={e.key: e.fingerprint for e in old})
    step.crash("deleting")
    _finish(step, target, [e.key for e in old], sum(e.rows for e in old),
            sum(e.bytes for e in old))


def _finish(step: Step, target: ArchiveTarget, keys: list[str], rows: int, size: int) -> None:
    manifest = read_manifest(target.store, step.locked.table)
    if set(keys) & manifest.named():
        for key in keys:
            manifest.drop(key)
        write_manifest(target.store, manifest)
    step.crash("after_manifest")
    for key in keys:
        if target.store.exists(key):
            target.store.delete(key)
    step.crash("after_files")
    step.done(rows=rows, bytes_=size)


def reconcile(locked: Locked, target: ArchiveTarget) -> int:
    """Finish purges a killed run left `deleting` in this store."""
    done = 0
    for entry in locked.unfinished(PURGE):
        if entry.detail.get("store") != target.store.url:
            continue
        keys = list(entry.detail.get("keys", []))
        _finish(locked.step(PURGE, entry), target, keys, 0, 0)
        done += 1
    locked.interrupt_open(PURGE)
    return done
