"""Verify a backup, and give a table's rows back exactly as they were backed up.

A restore works per table in one transaction: the file's rows go into a temporary copy of the
table, their checksum is proven equal to the manifest's, then the table's rows that differ
from the backup are deleted and the backup's missing rows inserted; rows unchanged since the
backup are not touched (no trigger, no cascade fires for them). The table's checksum is
checked again before commit, so a trigger that rewrote a row rolls everything back. Other
tables are never written. A crash leaves the table as it was before the restore.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..archive import format as fmt
from ..archive.crypto import CryptoError
from ..archive.manifest import copy_back, row_checksum, sha256
from ..archive.stores import Store, StoreError, archive_stores, keyring
from ..config import Config
from ..pg.catalog import ident, regclass
from ..pg.tiers import PgTier, resolve_tier
from .snapshot import Backup, BackupError


@dataclass
class VerifyResult:
    backup: Backup
    checked: list[str] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)  # (table, why)

    @property
    def ok(self) -> bool:
        return not self.bad


def load_table(store: Store, ring, entry: dict) -> bytes:
    """The plain Parquet bytes of one backed-up table, proven by its sha256."""
    plain, _ = ring.decrypt(store.get(entry["key"]), entry["key"])
    if sha256(plain) != entry["sha256"]:
        raise BackupError(f"{store.uri(entry['key'])}: sha256 differs from the manifest's: "
                          "the file is damaged")
    return plain


def verify(cfg: Config, backup: Backup, *, store: Store | None = None) -> VerifyResult:
    """Download, decrypt, check sha256 and row count of every table of the backup."""
    store = store or archive_stores(cfg, check=False).primary
    ring = keyring(cfg)
    result = VerifyResult(backup)
    for table, entry in backup.manifest["tables"].items():
        try:
            rows = fmt.read_parquet(load_table(store, ring, entry), use_threads=False).num_rows
        except (BackupError, CryptoError, StoreError) as exc:
            result.bad.append((table, str(exc)))
            continue
        if rows != entry["rows"]:
            result.bad.append((table, f"{rows} rows, the manifest says {entry['rows']}"))
        else:
            result.checked.append(table)
    return result


@dataclass(frozen=True)
class Restored:
    table: str
    rows: int
    deleted: int
    inserted: int
    checksum: str


def restore(cfg: Config, backup: Backup, tables: list[str] | None = None, *,
            into: str | None = None, store: Store | None = None) -> list[Restored]:
    """Give back the rows of `tables` (default all of the backup's) into the backup's tier, or
    into the database `into` (a DSN; a missing table is created there from the file's types)."""
    store = store or archive_stores(cfg, check=False).primary
    ring = keyring(cfg)
    entries = backup.manifest["tables"]
    names = tables or list(entries)
    unknown = [t for t in names if t not in entries]
    if unknown:
        raise BackupError(f"backup {backup.id} of {backup.tier} has no table {unknown[0]!r}; "
                          f"it holds {', '.join(entries) or 'none'}")
    out = []
    for table in names:
        data = fmt.read_parquet(load_table(store, ring, entries[table]))
        with _connect(cfg, backup.tier, into) as conn:
            out.append(_restore_table(conn, table, entries[table], data))
    return out


def _connect(cfg: Config, tier: str, into: str | None) -> psycopg.Connection:
    if into is None:
        return resolve_tier(cfg, tier).connect()
    return PgTier("restore target", into, False, None).connect()


def _restore_table(conn: psycopg.Connection, table: str, entry: dict, data) -> Restored:
    pg_types = fmt.pg_types_of(data.schema)
    rel = ident(table)
    exists = conn.execute("select to_regclass(%s) is not null", (regclass(table),)).fetchone()[0]
    if not exists:
        conn.execute(sql.SQL("create table {} ({})").format(rel, sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in pg_types.items())))
    tmp = sql.Identifier(f"persys_backup_restore_{table}"[:63])
    conn.execute(sql.SQL("create temp table {} (like {}) on commit drop").format(tmp, rel))
    want = (entry["rows"], entry["checksum"])
    if copy_back(conn, tmp, data)[1] != want:
        raise BackupError(f"{entry['key']}: rows read back do not match the manifest's "
                          "checksum; nothing was restored")
    writable = sql.SQL(", ").join(map(sql.Identifier, _insertable(conn, table, pg_types)))
    deleted = conn.execute(sql.SQL(
        "delete from {t} x where not exists (select from {tmp} b where b::text = x::text)"
    ).format(t=rel, tmp=tmp)).rowcount
    inserted = conn.execute(sql.SQL(
        "insert into {t} ({c}) overriding system value select {c} from {tmp} b "
        "where not exists (select from {t} x where x::text = b::text)"
    ).format(t=rel, c=writable, tmp=tmp)).rowcount
    got = row_checksum(conn, rel)
    if got != want:
        conn.rollback()
        raise BackupError(
            f"restore of {table}: the table holds {got[0]} rows, checksum {got[1]} after the "
            f"restore, the backup {want[0]}, {want[1]} (a trigger or default rewrote rows?); "
            "rolled back, nothing changed")
    conn.commit()
    return Restored(table, want[0], deleted, inserted, want[1])


def _insertable(conn: psycopg.Connection, table: str, pg_types: dict[str, str]) -> list[str]:
    """The backup's columns minus stored generated ones (PostgreSQL computes those again)."""
    generated = {r[0] for r in conn.execute(
        "select attname from pg_attribute where attrelid = to_regclass(%s) and attgenerated <> ''",
        (regclass(table),)).fetchall()}
    return [c for c in pg_types if c not in generated]
