"""Manifests and crash repair: what the archive holds, and how a killed run is made whole.

`<table>/manifest.json` lists the table's files (key, month, sha256, rows, min/max day, schema,
checksum, key id, ledger id, state). A file is written before its entry, an entry before the
rows leave main, and a file is deleted only after its entry is gone, so `reconcile` can always
tell what a killed run left and repair it (see its docstring).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from ..config import TablePolicy
from ..errors import ArchiveError
from ..pg import ledger
from ..pg.catalog import table_exists
from ..pg.protocol import fingerprint
from ..pg.tiers import PgTier
from . import format as fmt
from .crypto import Keyring
from .stores import Store

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


# ---------------------------------------------------------------------------------------------
# Manifest


def manifest_key(table: str) -> str:
    return f"{table}/{MANIFEST}"


def file_key(table: str, month: dt.date, sha256: str) -> str:
    return f"{table}/{month:%Y}/{month:%m}/{sha256}.parquet"


def read_manifest(store: Store, table: str) -> dict:
    key = manifest_key(table)
    if not store.exists(key):
        return {"format": 1, "table": table, "files": []}
    try:
        doc = json.loads(store.get(key))
    except json.JSONDecodeError as exc:
        raise ArchiveError(f"{store.uri(key)} is not valid JSON ({exc}); restore it from a "
                           "backup or rebuild it with `persys archive verify`") from None
    return doc


def write_manifest(store: Store, table: str, doc: dict) -> None:
    """Atomic: the folder store writes temp+fsync+rename, S3 replaces whole objects."""
    doc["files"].sort(key=lambda e: (e["min_day"], e["key"]))
    store.put(manifest_key(table), json.dumps(doc, indent=1).encode())


def committed(doc: dict) -> list[dict]:
    return [e for e in doc["files"] if e.get("state", "committed") == "committed"]


# ---------------------------------------------------------------------------------------------
# Ledger (persys.ledger in main; lib/ledger.py of the lifecycle follows the same columns)


def ledger_start(conn: psycopg.Connection, table: str, first: dt.date | None,
                 last: dt.date | None, from_tier: str, to_tier: str, run_id: str | None) -> int:
    """A `started` row in the caller's transaction (lib/ledger.py makes it a savepoint there):
    it turns `moved` in the same commit as the rows it describes, so `moved` is proof the
    move happened and a killed run leaves no row claiming otherwise."""
    return ledger.open_entry(conn, table=table, first_day=first, last_day=last,
                             from_tier=from_tier, to_tier=to_tier, run_id=run_id)


def ledger_finish(conn: psycopg.Connection, ledger_id: int, *, rows: int, size: int,
                  checksum: str | None, detail: dict | None = None) -> None:
    """Close the row as `moved` inside the caller's transaction."""
    ledger.close_entry(conn, ledger_id, outcome=ledger.MOVED, rows=rows, bytes_=size,
                       checksum=checksum, detail=detail)


def ledger_outcomes(conn: psycopg.Connection, ids: list[int]) -> dict[int, str]:
    if not ids or not table_exists(conn, "persys.ledger"):
        return {}
    rows = conn.execute("select id, outcome from persys.ledger where id = any(%s)", (ids,))
    return dict(rows.fetchall())


# ---------------------------------------------------------------------------------------------
# Helpers shared by archive, verify, restore


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    first = month.replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


def due_cutoff(policy: TablePolicy, as_of: dt.date) -> dt.date | None:
    """Days before this date belong in the archive (None: the table stays in main forever)."""
    return None if policy.main_days is None else as_of - dt.timedelta(days=policy.main_days)


def row_checksum(conn: psycopg.Connection, source: sql.Composable) -> tuple[int, str]:
    """(rows, order-independent checksum) of a row source: sum(hashtextextended(row::text)),
    with the session pinned first (archive_format.pin_session) as when the rows left main."""
    fmt.pin_session(conn)
    found = fingerprint(conn, source)
    return found.rows, str(found.checksum)


def copy_back(conn: psycopg.Connection, target: sql.Composable, data: pa.Table
              ) -> tuple[sql.Composable, tuple[int, str]]:
    """COPY archived rows (a decoded Parquet table) into `target`, a table with at least the
    archived columns, and return (its column list, (rows, checksum) of what arrived), taken
    with the text forms the file's checksum was taken with: the one way restore, drill and
    backup restore put a file's rows back before they trust them."""
    pg_types = fmt.pg_types_of(data.schema)  # table column order, as archived
    fmt.pin_session(conn)
    cols = sql.SQL(", ").join(map(sql.Identifier, pg_types))
    with conn.cursor() as cur, cur.copy(
        sql.SQL("copy {} ({}) from stdin").format(target, cols)
    ) as copy:
        for row in fmt.python_rows(data, pg_types):
            copy.write_row(row)
    return cols, row_checksum(conn, sql.SQL("(select {} from {})").format(cols, target))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_file(store: Store, ring: Keyring, entry: dict) -> tuple[bytes, str | None]:
    """(plain Parquet bytes, key id) of a manifest entry; errors say which key and why."""
    stored = store.get(entry["key"])
    plain, key_id = ring.decrypt(stored, entry["key"])
    if sha256(plain) != entry["sha256"]:
        raise ArchiveError(f"{store.uri(entry['key'])}: sha256 {sha256(plain)[:12]}… does not "
                           f"match the manifest's {entry['sha256'][:12]}…: the file is damaged")
    return plain, key_id


# ---------------------------------------------------------------------------------------------
# Reconcile: repair what a killed run left


@dataclass
class Reconciled:
    committed: list[str] = field(default_factory=list)  # pending entries whose delete committed
    removed: list[str] = field(default_factory=list)  # pending entries whose rows stayed in main
    orphans: list[str] = field(default_factory=list)  # files no manifest entry names (deleted)
    restores: int = 0  # restores whose manifest swap was finished here


def reconcile(tier: PgTier, store: Store, table: str) -> Reconciled:
    """Make the manifest and the store agree with main (call under `table_lock`).

    A `pending` entry whose ledger row is `moved` had its rows deleted from main: it becomes
    committed. Any other pending entry never deleted its rows: entry and file go. A file no
    entry names was written by a run that died before its entry: its rows are still in main.
    """
    out = Reconciled()
    with tier.connect() as conn:
        if table_exists(conn, "persys.ledger"):
            out.restores = finish_interrupted_restores(conn, store, table)
    doc = read_manifest(store, table)
    pending = [e for e in doc["files"] if e.get("state") == "pending"]
    if pending:
        with tier.connect() as conn:
            outcomes = ledger_outcomes(conn, [e["ledger_id"] for e in pending])
        for entry in pending:
            if outcomes.get(entry["ledger_id"]) == ledger.MOVED:
                entry["state"] = "committed"
                out.committed.append(entry["key"])
            else:
                doc["files"].remove(entry)
                out.removed.append(entry["key"])
        write_manifest(store, table, doc)
    named = {e["key"] for e in doc["files"]}
    for obj in store.list(f"{table}/"):
        if obj.key.endswith(".parquet") and obj.key not in named:
            store.delete(obj.key)
            out.orphans.append(obj.key)
    for key in out.removed:
        store.delete(key)
    if out.committed or out.removed or out.orphans or out.restores:
        log.warning("archive %s: repaired after an interrupted run: %s", table, out)
    return out


def finish_restore(store: Store, table: str, old_key: str, remainder: dict | None) -> None:
    """Swap the restored file's manifest entry for its remainder, then delete the file.

    A remainder under the old key is the old file itself (same rows → same bytes → same
    content-addressed key): nothing replaced it, so nothing is swapped or deleted (invariant 5:
    a restore never deletes a file it has not replaced by a different one).
    """
    if replaces_nothing(old_key, remainder):
        log.warning("archive %s: restore left %s whole; it stays as it is", table, old_key)
        return
    doc = read_manifest(store, table)
    if any(e["key"] == old_key for e in doc["files"]):
        doc["files"] = [e for e in doc["files"] if e["key"] != old_key]
        if remainder and all(e["key"] != remainder["key"] for e in doc["files"]):
            doc["files"].append(remainder)
        write_manifest(store, table, doc)
    store.delete(old_key)


def finish_interrupted_restores(conn: psycopg.Connection, store: Store, table: str) -> int:
    """Restores whose rows committed in main but whose manifest swap did not happen.

    Matched by key AND the entry's ledger id: the same key may name a later generation of the
    same rows (archived again after the restore), which must stay.
    """
    doc = read_manifest(store, table)
    generation = {e["key"]: e.get("ledger_id") for e in doc["files"]}
    if not generation:
        return 0
    rows = conn.execute(
        """select detail->>'key', (detail->>'entry_ledger_id')::bigint, detail->'remainder'
             from persys.ledger
            where table_name = %s and from_tier = 'archive' and to_tier = 'main'
              and outcome = %s and detail->>'key' = any(%s) and detail->>'store' = %s""",
        (table, ledger.MOVED, list(generation), store.url)).fetchall()
    finished = 0
    for old_key, entry_ledger_id, remainder in rows:
        if replaces_nothing(old_key, remainder):
            continue  # the file was the whole remainder: there is no swap to finish
        if generation.get(old_key) == entry_ledger_id:
            finish_restore(store, table, old_key, remainder)
            finished += 1
    return finished




def replaces_nothing(old_key: str, remainder: dict | None) -> bool:
    """True when a restore's "remainder" is the restored file itself (same key), which a
    restore that took no row out of the file produces; deleting "the old file" would then
    delete the only copy of the rows it still holds."""
    return bool(remainder) and remainder.get("key") == old_key
