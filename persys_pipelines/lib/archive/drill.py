"""Restore drills: prove archived months come back exactly, without touching the live tables.

Each drilled file is loaded into a table of a scratch schema in main (`persys_drill_<hex>`),
its row count and row checksum compared with its manifest entry and with the ledger's `moved`
row that archived it. The scratch schema is dropped whatever happens; a crash between create
and drop leaves a schema named `persys_drill_…` that holds only copies (safe to drop).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from psycopg import sql

from ..config import Config
from ..errors import ArchiveError
from ..lazy import lazy_module
from ..pg.catalog import ident, table_exists
from ..pg.tiers import PgTier, resolve_tier
from . import format as fmt
from .crypto import CryptoError
from .maintenance import tables_in
from .manifest import committed, copy_back, load_file, read_manifest
from .stores import ArchiveStores, Store, StoreError, archive_stores, keyring

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


def drill(cfg: Config, *, months: int | None = 1, seed: int | None = None,
          stores: ArchiveStores | None = None) -> list[DrillResult]:
    """Drill `months` archived files picked at random (None: every file); only reads the store."""
    stores = stores or archive_stores(cfg, check=False)
    tier = resolve_tier(cfg, "main")
    ring = keyring(cfg)
    candidates: list[tuple[Store, str, dict]] = []
    for store in stores.all:
        try:
            tables = tables_in(store, cfg)
            candidates += [(store, t, e) for t in tables
                           for e in committed(read_manifest(store, t))]
        except StoreError as exc:
            raise ArchiveError(f"drill: cannot read {store.url}: {exc}") from None
    if months is not None and months < len(candidates):
        candidates = random.Random(seed).sample(candidates, months)
    candidates.sort(key=lambda c: (c[1], c[2]["min_day"], c[2]["key"]))
    return [drill_file(tier, store, ring, table, entry) for store, table, entry in candidates]


def drill_file(tier: PgTier, store: Store, ring, table: str, entry: dict) -> DrillResult:
    """Restore one file into a scratch schema, compare, drop the schema (also on failure)."""
    result = DrillResult(table, entry["min_day"][:7], store.uri(entry["key"]))
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


def _compare(conn, scratch: str, table: str, entry: dict, data: pa.Table
             ) -> tuple[int, str | None]:
    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(scratch)))
    conn.commit()  # the schema exists for the `finally` to drop even if what follows fails
    target = sql.Identifier(scratch, table)
    conn.execute(sql.SQL("create table {} (like {} including defaults)")
                 .format(target, ident(table)))
    _, (rows, checksum) = copy_back(conn, target, data)
    if (rows, checksum) != (entry["rows"], entry["checksum"]):
        return rows, (f"{rows} rows, checksum {checksum}; the manifest says {entry['rows']}, "
                      f"{entry['checksum']}")
    return rows, _ledger_problem(conn, entry, rows, checksum)


def _ledger_problem(conn, entry: dict, rows: int, checksum: str) -> str | None:
    """The ledger row that wrote the file must be `moved`; an archive row must agree on rows
    and checksum (a restore's remainder file is written under the restore's own row)."""
    if not table_exists(conn, "persys.ledger"):
        return "main has no persys.ledger"
    found = conn.execute("select outcome, to_tier, rows, checksum from persys.ledger "
                         "where id = %s", (entry["ledger_id"],)).fetchone()
    if found is None:
        return f"ledger row {entry['ledger_id']} is missing"
    outcome, to_tier, l_rows, l_checksum = found
    if outcome != "moved":
        return f"ledger row {entry['ledger_id']} is {outcome!r}, not 'moved'"
    if to_tier == "archive" and (l_rows, l_checksum) != (rows, checksum):
        return (f"ledger row {entry['ledger_id']} says {l_rows} rows, checksum {l_checksum}; "
                f"the file holds {rows}, {checksum}")
    return None


def leftover_schemas(tier: PgTier) -> list[str]:
    """Scratch schemas still in main (none, unless a drill was killed)."""
    with tier.connect() as conn:
        return [r[0] for r in conn.execute(
            "select nspname from pg_namespace where nspname like %s order by 1",
            (SCRATCH_PREFIX.replace("_", r"\_") + "%",))]
