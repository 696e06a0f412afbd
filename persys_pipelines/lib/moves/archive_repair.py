"""What a killed archive run or restore left, made whole: a file is deleted only on proof.

`reconcile(locked, target, table)` (holding the table's lock) makes the manifest and the
store agree with main and the ledger:
- a `pending` entry whose ledger entry is `done`: its rows left main; it becomes committed;
- a `pending` entry whose ledger entry never committed: its rows stayed in main. The file is
  deleted only when main (or another committed file: a restore killed before its commit
  leaves its remainder file behind) is proven to hold every one of its rows (same keys, same
  fingerprint); otherwise the file is kept and the entry committed, so no row can vanish;
- a file no entry names: a `done` move or restore in the ledger says what it is (a committed
  file whose entry was lost: the entry comes back from the ledger; a file a restore replaced:
  it goes); else it is deleted when main is proven to hold its rows (a run killed before
  writing its entry), and otherwise kept and listed as committed, rebuilt from the file
  itself: its rows exist nowhere else;
- a manifest that is missing (while files exist) or unreadable is rebuilt the same way.
Nothing here deletes a file because a manifest does not name it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from ..archive import format as fmt
from ..archive.manifest import (
    COMMITTED,
    PENDING,
    FileEntry,
    Manifest,
    ManifestUnreadable,
    load_file,
    manifest_key,
    now_text,
    read_manifest,
    sha256,
    write_manifest,
)
from ..archive.rows import load_rows
from ..lazy import lazy_module
from ..pg import fingerprint, ledger
from ..pg.catalog import ident, primary_key, regclass, table_columns, table_exists
from ..pg.tiers import PgTier
from .engine import DONE, Locked
from .target import ArchiveTarget

pa = lazy_module("pyarrow")
pc = lazy_module("pyarrow.compute")
log = logging.getLogger(__name__)
PROOF_TABLE = "persys_proof"


@dataclass
class Reconciled:
    committed: list[str] = field(default_factory=list)  # pending entries whose move committed
    removed: list[str] = field(default_factory=list)  # files proven to be in main: deleted
    kept: list[str] = field(default_factory=list)  # files whose rows exist nowhere else: listed
    recovered: list[str] = field(default_factory=list)  # entries a lost manifest got back
    restores: int = 0  # restores whose manifest swap was finished here
    rebuilt: bool = False  # the manifest was missing or unreadable and was rebuilt

    def __bool__(self) -> bool:
        return bool(self.committed or self.removed or self.kept or self.recovered
                    or self.restores or self.rebuilt)


def holding(main: PgTier, entries: list[FileEntry]) -> list[FileEntry]:
    """Those of `entries` whose rows are in the archive: committed ones, and pending ones whose
    move committed (their ledger entry is `done`: a run killed after its commit, which the
    next repair marks committed). What anything asking "does the archive hold this row?"
    must read: committed entries alone miss those rows, and a backup merge or an import
    would then write them into a tier a second time."""
    pending = [e.ledger_id for e in entries if e.state == PENDING and e.ledger_id]
    moved: set[int] = set()
    if pending:
        with main.connect() as conn:
            moved = {i for i, s in ledger.states_of(conn, pending).items() if s == DONE}
    return [e for e in entries if e.state == COMMITTED or e.ledger_id in moved]


def file_pattern(table: str) -> re.Pattern[str]:
    """The keys of a table's archive files (nothing else under its prefix is one)."""
    return re.compile(rf"^{re.escape(table)}/\d{{4}}/\d{{2}}/[0-9a-f]{{64}}\.parquet$")


def reconcile(locked: Locked, target: ArchiveTarget, table: str) -> Reconciled:
    """See the module docstring. Call holding `table`'s lock."""
    out = Reconciled()
    store = target.store
    pattern = file_pattern(table)
    present = {o.key for o in store.list(f"{table}/") if pattern.match(o.key)}
    try:
        manifest = read_manifest(store, table)
    except ManifestUnreadable:
        manifest, out.rebuilt = Manifest(table), True
    if not store.exists(manifest_key(table)) and present:
        out.rebuilt = True
    with locked.engine.main.connect() as conn:
        history = _ledger_files(conn, table, store.url)
        states = ledger.states_of(conn, [e.ledger_id for e in manifest.pending() if e.ledger_id])
        for entry in manifest.pending():
            if states.get(entry.ledger_id) == "done":
                manifest.put(entry.committed())
                out.committed.append(entry.key)
            elif entry.key in present and not _prove_elsewhere(conn, target, manifest, table,
                                                               entry):
                manifest.put(entry.committed())  # its rows are nowhere else: keep them listed
                out.kept.append(entry.key)
            else:
                manifest.drop(entry.key)
                out.removed.append(entry.key)
        for key in sorted(present - manifest.named()):
            known = history.get(key)
            if known is not None and known[0] == "archived":
                manifest.put(known[1])
                out.recovered.append(key)
            elif known is not None and known[0] == "replaced":
                out.removed.append(key)
                out.restores += 1
            elif known is not None and known[0] == "purged":
                out.removed.append(key)  # retention began deleting it
            else:
                entry = entry_from_file(conn, target, table, key)
                if _prove_elsewhere(conn, target, manifest, table, entry):
                    out.removed.append(key)
                else:
                    manifest.put(entry)
                    out.kept.append(key)
        conn.rollback()
    swapped = _finish_restores(manifest, history, present)
    out.restores += len(swapped)
    out.removed += swapped
    if out:
        if out.rebuilt:
            manifest.rebuilt = f"{now_text()} from {len(present)} files and the ledger"
        write_manifest(store, manifest)
        for key in out.removed:
            if key in present and key not in manifest.named():
                store.delete(key)
        log.warning("archive %s: repaired after an interrupted run: %s", table, out)
    return out


def _finish_restores(manifest: Manifest, history: dict[str, tuple[str, Any]],
                     present: set[str]) -> list[str]:
    """Entries of files a committed restore replaced (by its remainder, or by nothing): the
    swap a killed restore did not finish. The restored rows are in main and the remainder is
    stored (the restore's ledger entry records both), so the old entry and file go."""
    finished = []
    for entry in list(manifest.files):
        known = history.get(entry.key)
        if known is None or known[0] != "replaced":
            continue
        generation, remainder = known[1]
        if generation != entry.ledger_id:
            continue  # a later generation of the same rows, archived again after the restore
        manifest.drop(entry.key)
        if remainder is not None and remainder.key in present:
            manifest.put(remainder)
        finished.append(entry.key)
    return finished


def _ledger_files(conn: psycopg.Connection, table: str, store_url: str
                  ) -> dict[str, tuple[str, Any]]:
    """Key → what the ledger says of it, newest word first: ("archived", its entry) for a
    file a move committed; ("replaced", (the entry's ledger id, remainder entry or None)) for
    one a committed restore took rows out of; ("purged", None) for one retention deletes."""
    if not table_exists(conn, "persys.ledger"):
        return {}
    rows = conn.execute(
        """select route, detail from persys.ledger
            where table_name = %s and detail->>'store' = %s
              and (route in ('main_archive', 'archive_main') and state = 'done'
                   or route = 'purge' and state in ('deleting', 'done'))
            order by id""", (table, store_url)).fetchall()
    out: dict[str, tuple[str, Any]] = {}
    for route, detail in rows:
        if route == "purge":
            out |= {key: ("purged", None) for key in detail.get("keys", [])}
        elif route == "main_archive" and detail.get("entry"):
            entry = FileEntry.from_json(detail["entry"])
            out[entry.key] = ("archived", entry)
        elif route == "archive_main" and detail.get("key"):
            rest = detail.get("remainder")
            remainder = FileEntry.from_json(rest) if rest else None
            if remainder is not None:
                out[remainder.key] = ("archived", remainder)
            if remainder is None or remainder.key != detail["key"]:
                out[detail["key"]] = ("replaced", (detail.get("entry_ledger_id"), remainder))
    return out


def entry_from_file(conn: psycopg.Connection, target: ArchiveTarget, table: str,
                    key: str) -> FileEntry:
    """A committed entry rebuilt from the file alone: its rows, days and PostgreSQL types
    from the Parquet file, its fingerprint taken now by loading it into a scratch table."""
    stored = target.store.get(key)
    plain, key_id = target.ring.decrypt(stored, key)
    data = fmt.read_parquet(plain)
    types = fmt.pg_types_of(data.schema)
    _load(conn, data)
    found = fingerprint.of_table(conn, table, list(types), relation=sql.Identifier(PROOF_TABLE),
                                 types=f"pg_temp.{PROOF_TABLE}")
    day = data.column(fmt.day_of(data.schema))
    return FileEntry(
        key=key, month=key.split("/")[-3] + "-" + key.split("/")[-2], sha256=sha256(plain),
        rows=data.num_rows, bytes=len(stored),
        min_day=pc.min(day).as_py().isoformat() if data.num_rows else "",
        max_day=pc.max(day).as_py().isoformat() if data.num_rows else "",
        schema=list(types.items()), primary_key=primary_key(conn, table),
        fingerprint=found.text, key_id=key_id, created=now_text(), ledger_id=None,
        state=COMMITTED)


def _load(conn: psycopg.Connection, data: pa.Table) -> None:
    """The file's rows into a scratch table typed as the file says."""
    types = fmt.pg_types_of(data.schema)
    conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(PROOF_TABLE)))
    conn.execute(sql.SQL("create temp table {} ({})").format(
        sql.Identifier(PROOF_TABLE), sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in types.items())))
    load_rows(conn, sql.Identifier(PROOF_TABLE), data)


def _prove_in_main(conn: psycopg.Connection, target: ArchiveTarget, table: str,
                   entry: FileEntry) -> bool:
    """Positive proof that main holds every row of the file: the rows of main with the
    file's keys have the fingerprint of the file's rows (same columns, same hashing)."""
    if not table_exists(conn, table):
        return False
    keys = primary_key(conn, table)
    plain, _ = load_file(target.store, target.ring, entry)
    data = fmt.read_parquet(plain)
    types = fmt.pg_types_of(data.schema)
    main_types = table_columns(conn, table)
    if not keys or any(main_types.get(c) != t for c, t in types.items()):
        return False  # no key to match by, or a column changed since: no proof, keep the file
    _load(conn, data)
    columns = list(types)
    hashed = fingerprint.hash_expression(columns, fingerprint.merge_forms(
        fingerprint.column_forms(conn, f"pg_temp.{PROOF_TABLE}", columns),
        fingerprint.column_forms(conn, regclass(table), columns)))
    theirs = fingerprint.of_rows(conn, ident(table), hashed, sql.SQL("({}) in (select {} from {})")
                                 .format(sql.SQL(", ").join(
                                     sql.SQL("{}.{}").format(sql.Identifier(fingerprint.ALIAS),
                                                             sql.Identifier(k)) for k in keys),
                                     sql.SQL(", ").join(map(sql.Identifier, keys)),
                                     sql.Identifier(PROOF_TABLE)))
    file_side = fingerprint.of_rows(conn, sql.Identifier(PROOF_TABLE), hashed)
    return theirs == file_side and theirs.rows == data.num_rows


def _prove_elsewhere(conn: psycopg.Connection, target: ArchiveTarget, manifest: Manifest,
                     table: str, entry: FileEntry) -> bool:
    return (_prove_in_main(conn, target, table, entry)
            or _prove_in_archive(conn, target, manifest, table, entry))


OTHER_TABLE = "persys_proof_other"


def _prove_in_archive(conn: psycopg.Connection, target: ArchiveTarget, manifest: Manifest,
                      table: str, entry: FileEntry) -> bool:
    """Positive proof that committed files of the table hold every row of the file: the rows
    of those files with the file's keys have the fingerprint of the file's rows."""
    plain, _ = load_file(target.store, target.ring, entry)
    data = fmt.read_parquet(plain)
    types = fmt.pg_types_of(data.schema)
    keys = [k for k in entry.primary_key if k in types]
    others = [e for e in manifest.committed() if e.key != entry.key and e.pg_types == types
              and not (e.max_day < entry.min_day or e.min_day > entry.max_day)]
    if not keys or not others or not data.num_rows:
        return False
    _load(conn, data)
    other = sql.Identifier(OTHER_TABLE)
    conn.execute(sql.SQL("drop table if exists {}").format(other))
    conn.execute(sql.SQL("create temp table {} (like {})").format(
        other, sql.Identifier(PROOF_TABLE)))
    for e in others:
        load_rows(conn, other, fmt.read_parquet(load_file(target.store, target.ring, e)[0]))
    columns = list(types)
    hashed = fingerprint.hash_expression(
        columns, fingerprint.column_forms(conn, f"pg_temp.{PROOF_TABLE}", columns))
    theirs = fingerprint.of_rows(conn, other, hashed, sql.SQL("({}) in (select {} from {})").format(
        sql.SQL(", ").join(sql.SQL("{}.{}").format(sql.Identifier(fingerprint.ALIAS),
                                                   sql.Identifier(k)) for k in keys),
        sql.SQL(", ").join(map(sql.Identifier, keys)), sql.Identifier(PROOF_TABLE)))
    mine = fingerprint.of_rows(conn, sql.Identifier(PROOF_TABLE), hashed)
    return theirs == mine and mine.rows == data.num_rows
