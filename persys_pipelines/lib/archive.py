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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import signal
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from . import archive_format as fmt
from . import ledger
from .config import Config, TablePolicy
from .crypto import Keyring
from .postgres import PgTier, resolve_tier
from .schema import create_ledger, primary_key, table_columns, table_exists
from .stores import Store, StoreError, open_store
from .tables import day_expression, only_when_condition

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FAILPOINT_ENV = "PERSYS_ARCHIVE_FAILPOINT"  # tests: SIGKILL this process at a named step


class ArchiveError(Exception):
    """The archive cannot do what was asked; the message names the table/month/key."""


# ---------------------------------------------------------------------------------------------
# Stores: primary, failover to secondary


@dataclass(frozen=True)
class ArchiveStores:
    """The configured stores; `active` is where new files go (primary unless it is down)."""

    primary: Store
    secondary: Store | None
    active: Store
    primary_error: str | None = None

    @property
    def all(self) -> list[Store]:
        return [s for s in (self.primary, self.secondary) if s is not None]

    def role(self, store: Store) -> str:
        return "primary" if store is self.primary else "secondary"


def _open(cfg: Config, url: str) -> Store:
    a = cfg.tiers.archive
    secret = a.secret_access_key.get_secret_value() if a.secret_access_key else None
    key_id = a.access_key_id.get_secret_value() if a.access_key_id else None
    return open_store(url, endpoint_url=a.endpoint_url, region=a.region,
                      access_key_id=key_id, secret_access_key=secret)


def archive_stores(cfg: Config, *, check: bool = True) -> ArchiveStores:
    """Open the stores; when the primary fails its health check, new files go to the secondary."""
    primary = _open(cfg, cfg.archive_url)
    secondary_url = cfg.tiers.archive.secondary_url
    secondary = _open(cfg, secondary_url) if secondary_url else None
    if not check:
        return ArchiveStores(primary, secondary, primary)
    from .health import known_down  # the health sensor's state (issue 7), else probe below

    if secondary is not None and (down := known_down(cfg, "archive:primary")):
        secondary.check()
        log.warning("archive: primary store down (%s); writing to %s", down, secondary.url)
        return ArchiveStores(primary, secondary, secondary, down)
    try:
        primary.check()
        return ArchiveStores(primary, secondary, primary)
    except StoreError as exc:
        if secondary is None:
            raise ArchiveError(f"archive store is down and no tiers.archive.secondary_url is "
                               f"set: {exc}") from None
        secondary.check()  # both down: StoreError says which
        log.warning("archive: primary store down (%s); writing to %s", exc, secondary.url)
        return ArchiveStores(primary, secondary, secondary, str(exc))


def keyring(cfg: Config) -> Keyring:
    return Keyring.from_texts(cfg.tiers.archive.encryption_keys)


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
# Ledger (persys_ledger in main; lib/ledger.py of the lifecycle follows the same columns)


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
    if not ids or not table_exists(conn, "persys_ledger"):
        return {}
    rows = conn.execute("select id, outcome from persys_ledger where id = any(%s)", (ids,))
    return dict(rows.fetchall())


# ---------------------------------------------------------------------------------------------
# Helpers shared by archive, verify, restore


def failpoint(name: str) -> None:
    """Crash trials: `PERSYS_ARCHIVE_FAILPOINT=name` kills this process with SIGKILL here."""
    if os.environ.get(FAILPOINT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


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
    rows, total = conn.execute(
        sql.SQL("select count(*), coalesce(sum(hashtextextended(r::text, 0)), 0)::text "
                "from {} r").format(source)
    ).fetchone()
    return int(rows), str(total)


@contextmanager
def table_lock(tier: PgTier, table: str) -> Iterator[None]:
    """One archive writer per table at a time (manifest read-modify-write), across processes."""
    with tier.connect(autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))",
                     (f"persys-archive:{table}",))
        try:
            yield
        finally:
            conn.execute("select pg_advisory_unlock(hashtextextended(%s, 0))",
                         (f"persys-archive:{table}",))


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
        if table_exists(conn, "persys_ledger"):
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
    """Swap the restored file's manifest entry for its remainder, then delete the file."""
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
             from persys_ledger
            where table_name = %s and from_tier = 'archive' and to_tier = 'main'
              and outcome = %s and detail->>'key' = any(%s) and detail->>'store' = %s""",
        (table, ledger.MOVED, list(generation), store.url)).fetchall()
    finished = 0
    for old_key, entry_ledger_id, remainder in rows:
        if generation.get(old_key) == entry_ledger_id:
            finish_restore(store, table, old_key, remainder)
            finished += 1
    return finished


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
    """Due months (see `due_months`) → how many of their rows are in main."""
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
                    "where {day} < {cut} and {cond} group by 1 order by 1").format(
                day=day, t=sql.Identifier(table), cut=sql.Literal(cutoff),
                cond=only_when_condition(policy))
        ).fetchall()
    return {m: n for m, n in rows if month_bounds(m)[1] < cutoff}


def month_generations(tier: PgTier, table: str) -> dict[dt.date, int]:
    """Month → how many times rows of it went main→archive (the ledger's `moved` rows)."""
    with tier.connect() as conn:
        if not table_exists(conn, "persys_ledger"):
            return {}
        rows = conn.execute(
            "select date_trunc('month', first_day)::date, count(*) from persys_ledger "
            "where table_name = %s and from_tier = 'main' and to_tier = 'archive' "
            "and outcome = %s group by 1", (table, ledger.MOVED)).fetchall()
    return dict(rows)


def month_run_key(table: str, month: dt.date, rows: int, generation: int) -> str:
    """Changes when the month's data does: late rows after an archive run (a new ledger
    generation, or a different row count) make a new key, so the sensor asks again."""
    return f"archive/{table}/{month:%Y-%m}/g{generation}-r{rows}"


def archive_month(cfg: Config, table: str, month: dt.date, *, as_of: dt.date | None = None,
                  stores: ArchiveStores | None = None, run_id: str | None = None,
                  tier: PgTier | None = None) -> MonthResult:
    """Move the due rows of `month` from main into one verified archive file (module doc)."""
    if table not in cfg.tables:
        raise ArchiveError(f"table {table!r} has no policy in persys.yaml tables:")
    policy = cfg.tables[table]
    as_of = as_of or cfg.today()
    first, last = month_bounds(month)
    cutoff = due_cutoff(policy, as_of)
    if cutoff is None:
        return MonthResult(table, first, 0)
    last = min(last, cutoff - dt.timedelta(days=1))
    if last < first:
        return MonthResult(table, first, 0)
    tier = tier or resolve_tier(cfg, "main")
    stores = stores or archive_stores(cfg)
    store = stores.active
    ring = keyring(cfg)
    with table_lock(tier, table):
        repaired = reconcile(tier, store, table)
        return _archive_locked(cfg, tier, store, ring, table, policy, first, last, run_id,
                               repaired)


def _archive_locked(cfg, tier, store, ring, table, policy, first, last, run_id, repaired):
    with tier.connect(autocommit=True) as setup:
        create_ledger(setup)
    with tier.connect() as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        if not table_exists(conn, table):
            return MonthResult(table, first, 0)
        pg_types = table_columns(conn, table)
        pkey = primary_key(conn, table)
        where = month_condition(conn, cfg, table, first, last)
        source = sql.SQL("(select {} from {} where {})").format(
            sql.SQL(", ").join(map(sql.Identifier, pg_types)), sql.Identifier(table), where)
        with ThreadPoolExecutor(1, thread_name_prefix="persys-archive-checksum") as pool:
            counted = checksum_alongside(tier, conn, pool, source)
            data = export_rows(conn, cfg, table, first, last, pg_types, pkey)
            counted_rows, checksum = counted.result()
        rows = data.num_rows
        if rows != counted_rows:
            raise ArchiveError(f"{table} {first:%Y-%m}: exported {rows} rows, counted "
                               f"{counted_rows} in the same snapshot; nothing deleted")
        if rows == 0:
            return MonthResult(table, first, 0, reconciled=repaired)
        plain = fmt.parquet_bytes(data, level=cfg.tiers.archive.compression_level)
        digest = sha256(plain)
        key = file_key(table, first, digest)
        stored, key_id = ring.encrypt(plain, key)
        failpoint("before_put")
        store.put(key, stored)
        failpoint("after_put")
        _read_back(store, ring, key, digest, data)

        # Delete exactly the exported rows (same snapshot as export and checksum), uncommitted
        # until the manifest entry below exists.
        deleted = conn.execute(sql.SQL("delete from {} where {}").format(
            sql.Identifier(table), where)).rowcount
        if deleted != rows:
            raise ArchiveError(f"{table} {first:%Y-%m}: would delete {deleted} rows from main "
                               f"but archived {rows}; nothing deleted, run again")
        ledger_id = ledger_start(conn, table, first, last, "main", "archive", run_id)
        entry = {
            "key": key, "month": f"{first:%Y-%m}", "sha256": digest, "rows": rows,
            "bytes": len(stored), "min_day": _day(data, pc.min), "max_day": _day(data, pc.max),
            "schema": [[n, t] for n, t in pg_types.items()], "primary_key": pkey,
            "checksum": checksum, "key_id": key_id,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "ledger_id": ledger_id, "state": "pending",
        }
        doc = read_manifest(store, table)
        doc["files"] = [e for e in doc["files"] if e["key"] != key] + [entry]
        write_manifest(store, table, doc)
        failpoint("after_manifest")
        ledger_finish(conn, ledger_id, rows=rows, size=len(stored), checksum=checksum,
                      detail={"key": key, "store": store.url, "key_id": key_id})
        failpoint("before_commit")
        conn.commit()
    failpoint("after_commit")
    entry["state"] = "committed"
    doc["files"] = [e for e in doc["files"] if e["key"] != key] + [entry]
    write_manifest(store, table, doc)
    return MonthResult(table, first, rows, key, len(stored), store.url, key_id, checksum,
                       repaired)


def month_condition(conn: psycopg.Connection, cfg: Config, table: str, first: dt.date,
                    last: dt.date) -> sql.Composable:
    """The rows of [first, last] the archive takes: dated in the range, matching only_when."""
    policy = cfg.tables[table]
    day = day_expression(conn, table, policy, cfg.timezone)
    return sql.SQL("{day} between {a} and {b} and {cond}").format(
        day=day, a=sql.Literal(first), b=sql.Literal(last), cond=only_when_condition(policy))


def export_rows(conn: psycopg.Connection, cfg: Config, table: str, first: dt.date,
                last: dt.date, pg_types: dict[str, str] | None = None,
                pkey: list[str] | None = None) -> pa.Table:
    """The archived rows of [first, last] as typed Arrow, sorted by day, day column and key
    (so the same rows always give the same file and key)."""
    policy = cfg.tables[table]
    pg_types = pg_types or table_columns(conn, table)
    pkey = primary_key(conn, table) if pkey is None else pkey
    columns = fmt.columns_for(pg_types)
    query = sql.SQL("select {cols}, {day} from {t} where {w}").format(
        cols=sql.SQL(", ").join(c.select() for c in columns),
        day=day_expression(conn, table, policy, cfg.timezone), t=sql.Identifier(table),
        w=month_condition(conn, cfg, table, first, last))
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
        for month in due_months(cfg, table, as_of, tier):
            results.append(archive_month(cfg, table, month, as_of=as_of, stores=stores,
                                         run_id=run_id, tier=tier))
    return results
