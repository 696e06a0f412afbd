"""The archive tier: a month of a table leaves main as one immutable, verified Parquet file.

Archiving month M of table t (`archive_month`), under a per-table advisory lock in main:
  1. reconcile: finish what a killed run left (see `reconcile`);
  2. one REPEATABLE READ transaction on main: COPY M's due rows out into Arrow
     (lib/archive_format.py), sorted by day in Arrow, while a second connection sharing the
     snapshot takes their count and row checksum (restore proves the same checksum);
  3. Parquet zstd → sha256 → key `t/yyyy/mm/<sha256>.parquet` → (AES-256-GCM) → store.put;
  4. read back: get → decrypt → sha256 → rows equal to what was exported;
  5. in the SAME transaction as step 2: DELETE exactly those rows (count must match);
  6. manifest `t/manifest.json` gets the entry as `pending` (written atomically, after the
     file); the ledger row is marked done; COMMIT; then the entry becomes `committed`.
A crash anywhere leaves either the rows in main (the file/entry is then an uncommitted left-over
that `reconcile` removes) or the rows in the file with a `done` ledger row (the entry is then
marked committed). Nothing is lost or doubled; readers only use committed entries.

Several months of a table (`archive_months`, what a run does) go under one lock, one
reconcile, and each month in its own transaction through the same steps; steps 3-4 of month
k (on a worker thread, no connection) run while step 2 of month k+1 does, and months commit
in order (lib/archive/overlap.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..config import Config
from ..errors import ArchiveError
from ..lazy import lazy_module
from ..pg import ledger
from ..pg.catalog import ident, primary_key, table_columns, table_exists
from ..pg.protocol import crash_point, table_lock
from ..pg.schema import create_ledger
from ..pg.tables import day_expression, only_when_condition
from ..pg.tiers import PgTier, resolve_tier
from . import format as fmt
from . import pins
from .crypto import Keyring
from .manifest import (
    Reconciled,
    due_cutoff,
    file_key,
    ledger_finish,
    ledger_start,
    month_bounds,
    read_manifest,
    reconcile,
    row_checksum,
    sha256,
    write_manifest,
)
from .marker import ensure_marker
from .overlap import overlapped
from .stores import ArchiveStores, Store, archive_stores, keyring

pa = lazy_module("pyarrow")
pc = lazy_module("pyarrow.compute")

log = logging.getLogger(__name__)



# ---------------------------------------------------------------------------------------------
# Archive one month


@dataclass(frozen=True)
class MonthResult:
    table: str
    month: dt.date
    rows: int
    key: str | None = None
    bytes: int = 0
    store: str | None = None
    key_id: str | None = None
    checksum: str | None = None
    reconciled: Reconciled | None = None


def due_months(cfg: Config, table: str, as_of: dt.date,
               tier: PgTier | None = None) -> list[dt.date]:
    """Months (first days) whose every day is older than main_days and that still have rows in
    main — asked from the data, so late rows for an archived month make it due again."""
    return list(due_month_rows(cfg, table, as_of, tier))


def due_month_rows(cfg: Config, table: str, as_of: dt.date,
                   tier: PgTier | None = None) -> dict[dt.date, int]:
    """Due months (see `due_months`) → how many of their rows are in main; days a restore
    pinned (lib/archive/pins.py) are not counted, so a month of only pinned days is not due."""
    policy = cfg.tables[table]
    cutoff = due_cutoff(policy, as_of)
    if cutoff is None:
        return {}
    tier = tier or resolve_tier(cfg, "main")
    with tier.connect() as conn:
        if not table_exists(conn, table):
            return {}
        day = day_expression(conn, table, policy, cfg.timezone)
        rows = conn.execute(
            sql.SQL("select date_trunc('month', {day})::date, count(*) from {t} "
                    "where {day} < {cut} and {cond} and {unpinned} group by 1 order by 1").format(
                day=day, t=ident(table), cut=sql.Literal(cutoff),
                cond=only_when_condition(policy),
                unpinned=pins.unpinned_condition(conn, table, day, as_of))
        ).fetchall()
    return {m: n for m, n in rows if month_bounds(m)[1] < cutoff}


def month_generations(tier: PgTier, table: str) -> dict[dt.date, int]:
    """Month → how many times rows of it went main→archive (the ledger's `moved` rows)."""
    with tier.connect() as conn:
        if not table_exists(conn, "persys.ledger"):
            return {}
        rows = conn.execute(
            "select date_trunc('month', first_day)::date, count(*) from persys.ledger "
            "where table_name = %s and from_tier = 'main' and to_tier = 'archive' "
            "and outcome = %s group by 1", (table, ledger.MOVED)).fetchall()
    return dict(rows)


def month_run_key(table: str, month: dt.date, rows: int, generation: int) -> str:
    """Changes when the month's data does: late rows after an archive run (a new ledger
    generation, or a different row count) make a new key, so the sensor asks again."""
    return f"archive/{table}/{month:%Y-%m}/g{generation}-r{rows}"


def archive_month(cfg: Config, table: str, month: dt.date, *, as_of: dt.date | None = None,
                  stores: ArchiveStores | None = None, run_id: str | None = None,
                  tier: PgTier | None = None, ring: Keyring | None = None) -> MonthResult:
    """Move the due rows of `month` from main into one verified archive file (module doc).

    `stores`, `tier` and `ring` are the run's handles (the resources); left out, they are
    opened from `cfg`, as the CLI does."""
    return archive_months(cfg, table, [month], as_of=as_of, stores=stores, run_id=run_id,
                          tier=tier, ring=ring)[0]


def archive_months(cfg: Config, table: str, months: list[dt.date], *,
                   as_of: dt.date | None = None, stores: ArchiveStores | None = None,
                   run_id: str | None = None, tier: PgTier | None = None,
                   ring: Keyring | None = None) -> list[MonthResult]:
    """`archive_month` for each of `months` of one table, in order, under one table lock.
    Each month keeps its own transaction and the module doc's steps; month k's file is
    written, stored and read back while month k+1 is exported (lib/archive/overlap.py)."""
    if table not in cfg.tables:
        raise ArchiveError(f"table {table!r} has no policy in persys.yaml tables:")
    as_of = as_of or cfg.today()
    cutoff = due_cutoff(cfg.tables[table], as_of)
    results = {month_bounds(m)[0]: MonthResult(table, month_bounds(m)[0], 0) for m in months}
    spans = []
    for first in results:
        last = month_bounds(first)[1]
        if cutoff is not None and min(last, cutoff - dt.timedelta(days=1)) >= first:
            spans.append((first, min(last, cutoff - dt.timedelta(days=1))))
    if spans:
        tier = tier or resolve_tier(cfg, "main")
        stores = stores or archive_stores(cfg)
        ring = ring or keyring(cfg)
        with table_lock(tier, table):
            repaired = reconcile(tier, stores.active, table)
            results |= _archive_locked(cfg, tier, stores.active, ring, table, spans, as_of,
                                       run_id, repaired)
    return [results[month_bounds(m)[0]] for m in months]


@dataclass
class _Exported:
    """One month's rows, exported in a REPEATABLE READ transaction that stays open until
    they are deleted (the same snapshot for export, checksum and delete)."""

    first: dt.date
    last: dt.date
    conn: psycopg.Connection
    data: pa.Table
    pg_types: dict[str, str]
    pkey: list[str]
    where: sql.Composable
    checksum: str


@dataclass(frozen=True)
class _Written:
    key: str
    digest: str
    size: int
    key_id: str | None


def _archive_locked(cfg: Config, tier: PgTier, store: Store, ring: Keyring, table: str,
                    spans: list[tuple[dt.date, dt.date]], as_of: dt.date, run_id: str | None,
                    repaired: Reconciled) -> dict[dt.date, MonthResult]:
    with tier.connect(autocommit=True) as setup:
        create_ledger(setup)
    out = {first: MonthResult(table, first, 0, reconciled=repaired) for first, _ in spans}
    with contextlib.ExitStack() as open_months:  # a month not committed is rolled back

        def export(span: tuple[dt.date, dt.date]) -> _Exported | None:
            conn = tier.connect()
            open_months.callback(conn.close)
            exported = _export(cfg, tier, conn, table, *span, as_of)
            if exported is None:
                conn.close()
                return None
            ensure_marker(store, conn)  # an unmounted share is not an empty archive
            return exported

        def commit(exported: _Exported, written: _Written) -> None:
            out[exported.first] = _commit(store, table, exported, written, run_id, repaired)
            exported.conn.close()

        overlapped(spans, export, lambda e: _write(cfg, store, ring, table, e), commit)
    return out


def _export(cfg: Config, tier: PgTier, conn: psycopg.Connection, table: str, first: dt.date,
            last: dt.date, as_of: dt.date) -> _Exported | None:
    """Steps 2 of the module doc: the month's rows and, alongside, their count and checksum
    in the same snapshot (None: no table, or no rows due)."""
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    if not table_exists(conn, table):
        return None
    pg_types = table_columns(conn, table)
    pkey = primary_key(conn, table)
    where = month_condition(conn, cfg, table, first, last, as_of)
    source = sql.SQL("(select {} from {} where {})").format(
        sql.SQL(", ").join(map(sql.Identifier, pg_types)), ident(table), where)
    with ThreadPoolExecutor(1, thread_name_prefix="persys-archive-checksum") as pool:
        counted = checksum_alongside(tier, conn, pool, source)
        data = export_rows(conn, cfg, table, first, last, pg_types, pkey, as_of=as_of)
        counted_rows, checksum = counted.result()
    if data.num_rows != counted_rows:
        raise ArchiveError(f"{table} {first:%Y-%m}: exported {data.num_rows} rows, counted "
                           f"{counted_rows} in the same snapshot; nothing deleted")
    if data.num_rows == 0:
        return None
    return _Exported(first, last, conn, data, pg_types, pkey, where, checksum)


def _write(cfg: Config, store: Store, ring: Keyring, table: str,
           exported: _Exported) -> _Written:
    """Steps 3 and 4 (on the worker thread): Parquet, sha256, key, encryption, the store's
    write, the read-back. Touches no connection."""
    plain = fmt.parquet_bytes(exported.data, level=cfg.tiers.archive.compression_level)
    digest = sha256(plain)
    key = file_key(table, exported.first, digest)
    stored, key_id = ring.encrypt(plain, key)
    crash_point("before_put")
    store.put(key, stored)
    crash_point("after_put")
    _read_back(store, ring, key, digest, exported.data)
    return _Written(key, digest, len(stored), key_id)


def _commit(store: Store, table: str, exported: _Exported, written: _Written,
            run_id: str | None, repaired: Reconciled) -> MonthResult:
    """Steps 5 and 6: delete exactly the exported rows (same snapshot), the pending manifest
    entry, the ledger, COMMIT, then the entry becomes committed."""
    conn, first, data, rows = exported.conn, exported.first, exported.data, exported.data.num_rows
    deleted = conn.execute(sql.SQL("delete from {} where {}").format(
        ident(table), exported.where)).rowcount
    if deleted != rows:
        raise ArchiveError(f"{table} {first:%Y-%m}: would delete {deleted} rows from main "
                           f"but archived {rows}; nothing deleted, run again")
    ledger_id = ledger_start(conn, table, first, exported.last, "main", "archive", run_id)
    entry = {
        "key": written.key, "month": f"{first:%Y-%m}", "sha256": written.digest, "rows": rows,
        "bytes": written.size, "min_day": _day(data, pc.min), "max_day": _day(data, pc.max),
        "schema": [[n, t] for n, t in exported.pg_types.items()], "primary_key": exported.pkey,
        "checksum": exported.checksum, "key_id": written.key_id,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "ledger_id": ledger_id, "state": "pending",
    }
    doc = read_manifest(store, table)
    doc["files"] = [e for e in doc["files"] if e["key"] != written.key] + [entry]
    write_manifest(store, table, doc)
    crash_point("after_manifest")
    ledger_finish(conn, ledger_id, rows=rows, size=written.size, checksum=exported.checksum,
                  detail={"key": written.key, "store": store.url, "key_id": written.key_id})
    crash_point("before_commit")
    conn.commit()
    crash_point("after_commit")
    entry["state"] = "committed"
    doc["files"] = [e for e in doc["files"] if e["key"] != written.key] + [entry]
    write_manifest(store, table, doc)
    return MonthResult(table, first, rows, written.key, written.size, store.url,
                       written.key_id, exported.checksum, repaired)


def month_condition(conn: psycopg.Connection, cfg: Config, table: str, first: dt.date,
                    last: dt.date, as_of: dt.date | None = None) -> sql.Composable:
    """The rows of [first, last] the archive takes: dated in the range, matching only_when,
    and (given `as_of`, as every archive run does) on no day a restore pinned in main."""
    policy = cfg.tables[table]
    day = day_expression(conn, table, policy, cfg.timezone)
    unpinned = sql.SQL("true") if as_of is None else pins.unpinned_condition(conn, table, day,
                                                                              as_of)
    return sql.SQL("{day} between {a} and {b} and {cond} and {unpinned}").format(
        day=day, a=sql.Literal(first), b=sql.Literal(last), cond=only_when_condition(policy),
        unpinned=unpinned)


def export_rows(conn: psycopg.Connection, cfg: Config, table: str, first: dt.date,
                last: dt.date, pg_types: dict[str, str] | None = None,
                pkey: list[str] | None = None, *, as_of: dt.date | None = None) -> pa.Table:
    """The archived rows of [first, last] as typed Arrow, sorted by day, day column and key
    (so the same rows always give the same file and key); pinned days left out given `as_of`."""
    policy = cfg.tables[table]
    pg_types = pg_types or table_columns(conn, table)
    pkey = primary_key(conn, table) if pkey is None else pkey
    columns = fmt.columns_for(pg_types)
    query = sql.SQL("select {cols}, {day} from {t} where {w}").format(
        cols=sql.SQL(", ").join(c.select() for c in columns),
        day=day_expression(conn, table, policy, cfg.timezone), t=ident(table),
        w=month_condition(conn, cfg, table, first, last, as_of))
    # a date day column equals _day: sorting by it again would change nothing
    finer = [] if pg_types.get(policy.day_column) == "date" else [policy.day_column]
    return fmt.sort_rows(fmt.export_arrow(conn, table, columns, query),
                         [fmt.DAY, *dict.fromkeys((*finer, *pkey))])


def checksum_alongside(tier: PgTier, conn: psycopg.Connection, pool: ThreadPoolExecutor,
                       source: sql.Composable) -> Future[tuple[int, str]]:
    """`row_checksum(source)` on a second connection that shares `conn`'s snapshot (a
    REPEATABLE READ transaction), so PostgreSQL hashes the rows while `conn` exports them."""
    snapshot = conn.execute("select pg_export_snapshot()").fetchone()[0]

    def work() -> tuple[int, str]:
        with tier.connect() as other:
            other.execute("set transaction isolation level repeatable read")
            other.execute(sql.SQL("set transaction snapshot {}").format(sql.Literal(snapshot)))
            return row_checksum(other, source)

    return pool.submit(work)


def _read_back(store: Store, ring: Keyring, key: str, digest: str, data: pa.Table) -> None:
    plain, _ = ring.decrypt(store.get(key), key)
    if sha256(plain) != digest:
        raise ArchiveError(f"{store.uri(key)}: read back with a different sha256; the store "
                           "altered the file; nothing was deleted from main")
    back = fmt.read_parquet(plain)
    if back.num_rows != data.num_rows or not back.equals(data):
        raise ArchiveError(f"{store.uri(key)}: read back rows differ from the exported rows; "
                           "nothing was deleted from main")


def _day(data: pa.Table, fn) -> str:
    return fn(data.column(fmt.DAY)).as_py().isoformat()


def archive_due(cfg: Config, as_of: dt.date | None = None, *, run_id: str | None = None,
                tables: list[str] | None = None) -> list[MonthResult]:
    """Every due month of every table (what `persys lifecycle run` does for main→archive)."""
    as_of = as_of or cfg.today()
    tier = resolve_tier(cfg, "main")
    stores = archive_stores(cfg)
    results = []
    for table in tables or list(cfg.tables):
        months = due_months(cfg, table, as_of, tier)
        if not months:
            settle(tier, stores.active, table)
        results += archive_months(cfg, table, months, as_of=as_of, stores=stores,
                                  run_id=run_id, tier=tier)
    return results


def settle(tier: PgTier, store: Store, table: str) -> Reconciled:
    """Repair what a killed run left (`reconcile`) for a table with nothing due. Every month
    run does this first; but a restore killed after its commit leaves days that are pinned,
    hence not due, and its manifest swap must not wait until some month is due again (until
    then the restored rows would be in main and in the listed file)."""
    with table_lock(tier, table):
        return reconcile(tier, store, table)
