"""Restore drills: prove archived months come back exactly, without touching the live tables.

Each drilled file is loaded into a table of a scratch schema in main (`persys_drill_<hex>`),
typed as the file records its columns (a column widened in main since changes nothing), its
fingerprint compared with its manifest entry and with the ledger's entry that archived it.
The scratch schema is dropped whatever happens; a crash between create
and drop leaves a schema named `persys_drill_…` that holds only copies (safe to drop).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from psycopg import sql

from ..errors import ArchiveError
from ..lazy import lazy_module
from ..pg import fingerprint
from ..pg.catalog import schemas_like, table_exists
from ..pg.tiers import PgTier
from . import format as fmt
from .crypto import CryptoError, Keyring
from .maintenance import tables_in
from .manifest import FileEntry, ManifestUnreadable, load_file, read_manifest
from .rows import load_rows
from .stores import ArchiveStores, Store, StoreError

pa = lazy_module("pyarrow")

SCRATCH_PREFIX = "persys_drill_"


@dataclass
class DrillResult:
    table: str
    month: str  # YYYY-MM of the file's first day
    uri: str
    rows: int = 0
    problem: str | None = None  # None: the month came back exactly

    @property
    def ok(self) -> bool:
        return self.problem is None

    def line(self) -> str:
        """`ok  journal_entries 2024-03  1,234 rows` or `BAD journal_entries 2024-03  why`."""
        if self.ok:
            return f"ok  {self.table} {self.month}  {self.rows:,} rows"
        return f"BAD {self.table} {self.month}  {self.problem} ({self.uri})"


def drill(tier: PgTier, stores: ArchiveStores, ring: Keyring, tables: list[str], *,
          months: int | None = 1, seed: int | None = None) -> list[DrillResult]:
    """Drill `months` archived files picked at random (None: every file); only reads the store."""
    candidates: list[tuple[Store, str, FileEntry]] = []
    for store in stores.all:
        try:
            names = tables_in(store, tables)
            candidates += [(store, t, e) for t in names
                           for e in read_manifest(store, t).committed()]
        except (StoreError, ManifestUnreadable) as exc:
            raise ArchiveError(f"drill: cannot read {store.url}: {exc}") from None
    if months is not None and months < len(candidates):
        candidates = random.Random(seed).sample(candidates, months)
    candidates.sort(key=lambda c: (c[1], c[2].min_day, c[2].key))
    return [drill_file(tier, store, ring, table, entry) for store, table, entry in candidates]


def drill_file(tier: PgTier, store: Store, ring: Keyring, table: str,
               entry: FileEntry) -> DrillResult:
    """Restore one file into a scratch schema, compare, drop the schema (also on failure)."""
    result = DrillResult(table, entry.min_day[:7], store.uri(entry.key))
    try:
        plain, _ = load_file(store, ring, entry)
        data = fmt.read_parquet(plain, use_threads=False)
    except (ArchiveError, CryptoError) as exc:
        result.problem = str(exc)
        return result
    except (pa.ArrowException, OSError) as exc:
        result.problem = f"not a readable Parquet file ({exc})"
        return result
    scratch = f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:12]}"
    with tier.connect() as conn:
        try:
            result.rows, result.problem = _compare(conn, scratch, table, entry, data)
        except Exception as exc:  # noqa: BLE001 - reported as BAD, the schema still dropped
            result.problem = f"could not be restored ({type(exc).__name__}: {exc})"
        finally:
            conn.rollback()
            conn.execute(sql.SQL("drop schema if exists {} cascade")
                         .format(sql.Identifier(scratch)))
            conn.commit()
    return result


def _compare(conn, scratch: str, table: str, entry: FileEntry, data: pa.Table
             ) -> tuple[int, str | None]:
    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(scratch)))
    conn.commit()  # the schema exists for the `finally` to drop even if what follows fails
    target = sql.Identifier(scratch, table)
    types = fmt.pg_types_of(data.schema)
    conn.execute(sql.SQL("create table {} ({})").format(target, sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in types.items())))
    columns = load_rows(conn, target, data)
    want = entry.fp
    got = fingerprint.of_table(conn, table, columns, relation=target,
                               types=f'"{scratch}"."{table}"', algorithm=want.algorithm)
    if got != want:
        return got.rows, f"its rows give {got.text}; the manifest says {want.text}"
    return got.rows, _ledger_problem(conn, entry, got)


def _ledger_problem(conn, entry: FileEntry, got: fingerprint.Fingerprint) -> str | None:
    """The ledger entry that wrote the file must be done; an archive move's must agree on the
    fingerprint (a restore's remainder file is written under the restore's own entry)."""
    if entry.ledger_id is None:
        return None  # rebuilt from the file alone: its fingerprint is all there is
    if not table_exists(conn, "persys.ledger"):
        return "main has no persys.ledger"
    found = conn.execute("select state, route, fingerprint from persys.ledger where id = %s",
                         (entry.ledger_id,)).fetchone()
    if found is None:
        return f"ledger entry {entry.ledger_id} is missing"
    state, route, recorded = found
    if state != "done":
        return f"ledger entry {entry.ledger_id} is {state!r}, not done"
    legacy = recorded is not None and ":" not in recorded  # a checksum alone, before the engine
    if route == "main_archive" and recorded and (
            recorded != str(got.checksum) if legacy
            else fingerprint.Fingerprint.parse(recorded, fingerprint.TEXT) != got):
        return (f"ledger entry {entry.ledger_id} says {recorded}; the file holds {got.text}")
    return None


def leftover_schemas(tier: PgTier) -> list[str]:
    """Scratch schemas still in main (none, unless a drill was killed)."""
    with tier.connect() as conn:
        return schemas_like(conn, SCRATCH_PREFIX.replace("_", r"\_") + "%")
