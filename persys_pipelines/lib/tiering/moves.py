"""The one move protocol: copy → verify → delete at the source → ledger, for a table's day range.

    move_range(core, main, MoveRange("journal_entries", policy, zone, first, last))

1. Lock: a session advisory lock on the destination per (table, from, to), so two movers of
   one table never interleave; `started` ledger rows a killed mover left are marked
   `interrupted`.
2. Copy: the source range is read in a REPEATABLE READ transaction (one snapshot for copy,
   checksum and delete) and streamed as binary COPY straight into the destination table,
   chunk by chunk (never the whole range in memory). If a key is already there (a crashed
   earlier attempt committed it), that transaction is undone and the range goes through a
   temporary staging table with `INSERT … SELECT … ON CONFLICT DO NOTHING` instead, so
   nothing is doubled. (Always staging costs about 2× in copy time.)
3. Verify: row count and an order-independent checksum (`sum(hashtextextended(t::text, 0))`)
   of the source range equal those of the destination rows this transaction inserted (direct
   copy) or that carry the staged primary keys (staging); both sides are computed at once, in
   two threads. On a mismatch the destination transaction is rolled back and nothing is
   deleted.
4. Commit the destination, then delete the range at the source in the snapshot the copy read:
   a row written to the source after the copy started is invisible to that DELETE and stays.
   Month partitions lying wholly inside the range are dropped instead (DETACH + DROP): they
   were locked against writers before the snapshot, so nothing can be in them unseen.
5. Close the ledger row with rows, bytes, checksum and outcome.

A crash anywhere leaves each row in the source, or in both tiers (between 4's two commits);
running again copies (conflicts are skipped), verifies and deletes, so nothing is lost or
doubled. `PERSYS_CRASH_AT=<step>` makes a mover stop dead at a step (crash tests kill it there).

The steps (`range_condition`, `fingerprint`, `stream_copy`, `table_shape`, ...) are separate
functions so other tier pairs (main→archive) reuse them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..config import TablePolicy
from ..errors import MoveError
from ..pg import ledger
from ..pg.mirror import SchemaMismatch, TableShape, ensure_destination  # noqa: F401
from ..pg.protocol import (
    Fingerprint,
    crash_point,
    fingerprint,
    prepare_session,
    table_lock,
)
from ..pg.tables import day_expression, only_when_condition
from ..pg.tiers import PgTier

Progress = Callable[[int], None]  # called with rows just copied
STAGE = "persys_stage"


@dataclass(frozen=True)
class MoveRange:
    """Rows of `table` whose day (in `zone`) is within [first_day, last_day] (None: open) and
    which match the policy's `only_when`."""

    table: str
    policy: TablePolicy
    zone: str
    first_day: dt.date | None
    last_day: dt.date | None


@dataclass
class MoveResult:
    table: str
    first_day: dt.date | None
    last_day: dt.date | None
    rows: int = 0
    bytes: int = 0
    checksum: str | None = None
    inserted: int = 0  # rows new at the destination (fewer when a crashed move is finished)
    partitions_dropped: list[str] = field(default_factory=list)  # whole months dropped at once
    ledger_id: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Reusable steps


def range_condition(conn: psycopg.Connection, rng: MoveRange) -> sql.Composable:
    """`<day> between first and last and <only_when>` (the day as `tables.day_expression`)."""
    day = day_expression(conn, rng.table, rng.policy, rng.zone)
    parts: list[sql.Composable] = [sql.SQL("{} is not null").format(day)]
    parts += _instant_bounds(conn, rng)
    if rng.first_day is not None:
        parts.append(sql.SQL("{} >= {}").format(day, sql.Literal(rng.first_day)))
    if rng.last_day is not None:
        parts.append(sql.SQL("{} <= {}").format(day, sql.Literal(rng.last_day)))
    parts.append(sql.SQL("({})").format(only_when_condition(rng.policy)))
    return sql.SQL(" and ").join(parts)


def _instant_bounds(conn: psycopg.Connection, rng: MoveRange) -> list[sql.Composable]:
    """For a timestamptz day column, the same range as instants, so the column's index (and
    partition pruning) can serve it; the day expression stays the exact test."""
    from ..pg.schema import table_columns

    if table_columns(conn, rng.table).get(rng.policy.day_column) != "timestamp with time zone":
        return []
    col = sql.Identifier(rng.policy.day_column)
    out = []
    if rng.first_day is not None:
        out.append(sql.SQL("{} >= {}::timestamptz").format(
            col, sql.Literal(f"{rng.first_day} 00:00:00 {rng.zone}")))
    if rng.last_day is not None:
        out.append(sql.SQL("{} < {}::timestamptz").format(
            col, sql.Literal(f"{rng.last_day + dt.timedelta(days=1)} 00:00:00 {rng.zone}")))
    return out


def keys_condition(primary_key: list[str], keys_table: str) -> sql.Composable:
    """Rows whose primary key is in `keys_table` (e.g. the staging table)."""
    cols = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in primary_key)
    keys = sql.SQL(", ").join(map(sql.Identifier, primary_key))
    return sql.SQL("({}) in (select {} from {})").format(cols, keys, sql.Identifier(keys_table))


def stream_copy(
    src: psycopg.Connection,
    dst: psycopg.Connection,
    select: sql.Composable,
    target: str,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Binary COPY of `select` at `src` into table `target` at `dst`; returns (rows, bytes).

    Chunks flow straight from one connection to the other; memory stays flat whatever the size.
    The server sends one COPY message per row (plus header and trailer), which counts rows.
    """
    n_bytes = 0
    messages = 0
    with (
        src.cursor() as scur,
        dst.cursor() as dcur,
        scur.copy(sql.SQL("copy ({}) to stdout (format binary)").format(select)) as out,
        dcur.copy(sql.SQL("copy {} from stdin (format binary)").format(
            sql.Identifier(target))) as into,
    ):
        for chunk in out:
            into.write(chunk)
            n_bytes += len(chunk)
            messages += 1
            if progress is not None and messages % 5000 == 0:
                progress(5000)
        rows = scur.rowcount  # set from the server's `COPY n` once the stream ended
    if rows < 0:
        raise MoveError("the source did not report how many rows it copied")
    if progress is not None and rows % 5000:
        progress(rows % 5000)
    return rows, n_bytes


# ---------------------------------------------------------------------------------------------
# The protocol


def move_range(
    source: PgTier,
    dest: PgTier,
    rng: MoveRange,
    *,
    run_id: str | None = None,
    progress: Progress | None = None,
) -> MoveResult:
    """Move one day range of one table from `source` to `dest` (see the module docstring)."""
    result = MoveResult(rng.table, rng.first_day, rng.last_day)
    with table_lock(dest, rng.table) as lock_conn:
        ledger.ensure(lock_conn)
        ledger.mark_interrupted(lock_conn, rng.table, source.name, dest.name)
        with source.connect() as src, dest.connect() as dst:
            src.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            for conn in (src, dst):
                prepare_session(conn)
                conn.execute("set lock_timeout to 0")  # the SHARE-lock protocol waits
                conn.commit()
            shape = ensure_destination(src, dst, rng.table, rng.policy.day_column, source.name,
                                       dest.name)
            src.commit()
            result.ledger_id = ledger.open_entry(
                lock_conn, table=rng.table, first_day=rng.first_day, last_day=rng.last_day,
                from_tier=source.name, to_tier=dest.name, run_id=run_id,
            )
            crash_point("opened")
            try:
                _copy_verify_delete(src, dst, rng, shape, result, progress)
            except BaseException as exc:
                src.rollback()
                dst.rollback()
                ledger.close_entry(lock_conn, result.ledger_id, outcome=ledger.FAILED,
                                   detail={"error": str(exc)[:500]})
                raise
        crash_point("deleted")
        ledger.close_entry(
            lock_conn, result.ledger_id,
            outcome=ledger.MOVED if result.rows else ledger.NOTHING,
            rows=result.rows, bytes_=result.bytes, checksum=result.checksum,
            detail={"inserted": result.inserted,
                    "seconds": {k: round(v, 3) for k, v in result.seconds.items()}},
        )
        crash_point("closed")
    return result


def _copy_verify_delete(
    src: psycopg.Connection,
    dst: psycopg.Connection,
    rng: MoveRange,
    shape: TableShape,
    result: MoveResult,
    progress: Progress | None,
) -> None:
    """Copy (directly; through staging when a crashed move left some rows), verify, commit the
    destination, delete at the source in the copy's snapshot."""
    t0 = time.perf_counter()
    whole = lock_whole_partitions(src, rng)
    try:
        source_fp, dest_fp, copied = _copy_direct(src, dst, rng, result, progress)
    except psycopg.errors.UniqueViolation:
        # Some keys are already at the destination (a move crashed after committing there):
        # start over in a new snapshot, through staging with ON CONFLICT DO NOTHING.
        src.rollback()
        dst.rollback()
        whole = lock_whole_partitions(src, rng)
        source_fp, dest_fp, copied = _copy_staged(src, dst, rng, shape, result, progress)
    result.seconds["copy+verify"] = time.perf_counter() - t0
    if source_fp != dest_fp or source_fp.rows != copied:
        raise MoveError(
            f"{rng.table} {rng.first_day}..{rng.last_day}: verification failed (source "
            f"{source_fp.rows} rows, checksum {source_fp.checksum}; destination "
            f"{dest_fp.rows} rows, checksum {dest_fp.checksum}; copied {copied}). Nothing was "
            "deleted. Rows with these primary keys differ between the tiers (a row changed "
            "after an interrupted move?): compare them, fix one side, and run again"
        )
    result.rows = source_fp.rows
    result.checksum = source_fp.text
    dst.commit()
    crash_point("main_committed")

    t2 = time.perf_counter()
    table = sql.Identifier(rng.table)
    condition = range_condition(src, rng)
    dropped_rows = drop_whole_partitions(src, rng, whole, condition, result)
    deleted = src.execute(sql.SQL("delete from {} where {}").format(table, condition)).rowcount
    if deleted + dropped_rows != source_fp.rows:
        raise MoveError(f"{rng.table}: removed {deleted + dropped_rows} rows at the source, "
                        f"expected {source_fp.rows}; rolled back, run again")
    crash_point("delete_sent")
    src.commit()
    result.seconds["delete"] = time.perf_counter() - t2


def lock_whole_partitions(src: psycopg.Connection, rng: MoveRange) -> list[str]:
    """Month partitions of the source lying wholly inside the range, locked against writers.

    Such a month is dropped after the copy instead of deleted row by row (a DELETE of a year
    costs about as much as its copy, a DROP nothing, and the space comes back at once). The
    SHARE lock is taken before the transaction's snapshot (LOCK is no query: the snapshot
    starts with the next statement), so no row can reach the partition unseen by the copy.
    """
    from .space import month_partitions, next_month

    if rng.policy.only_when:
        return []
    names = [name for month, name in sorted(month_partitions(src, rng.table).items())
             if (rng.first_day is None or month >= rng.first_day)
             and (rng.last_day is None or next_month(month) - dt.timedelta(days=1) <= rng.last_day)]
    src.commit()  # the catalog read above must not be the snapshot the copy uses
    if names:
        src.execute(sql.SQL("lock table {} in share mode").format(
            sql.SQL(", ").join(map(sql.Identifier, names))))
    return names


def drop_whole_partitions(src: psycopg.Connection, rng: MoveRange, names: list[str],
                          condition: sql.Composable, result: MoveResult) -> int:
    """DETACH + DROP the locked whole-month partitions whose rows are all in the range (a
    partition made under another time zone is left to the DELETE); returns rows dropped."""
    dropped = 0
    for name in names:
        rows, outside = src.execute(sql.SQL(
            "select count(*), count(*) filter (where not ({})) from {} t").format(
            condition, sql.Identifier(name))).fetchone()
        if outside:
            continue
        src.execute(sql.SQL("alter table {} detach partition {}").format(
            sql.Identifier(rng.table), sql.Identifier(name)))
        src.execute(sql.SQL("drop table {}").format(sql.Identifier(name)))
        result.partitions_dropped.append(name)
        dropped += rows
    return dropped


def _both(dest_query: Callable[[], Fingerprint],
          source_query: Callable[[], Fingerprint]) -> tuple[Fingerprint, Fingerprint]:
    """Both checksums at once (one per connection), returns (source, dest)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        dest = pool.submit(dest_query)
        source = source_query()
        return source, dest.result()


def _copy_direct(src, dst, rng, result, progress) -> tuple[Fingerprint, Fingerprint, int]:
    """The common case: COPY straight into the destination table (one transaction, so a key
    conflict undoes it all). The destination side of the verification is then every row of
    the range this transaction inserted (`xmin` = its id)."""
    table = sql.Identifier(rng.table)
    condition = range_condition(src, rng)  # first statement: the snapshot starts here
    t0 = time.perf_counter()
    select = sql.SQL("select * from {} where {}").format(table, condition)
    copied, result.bytes = stream_copy(src, dst, select, rng.table, progress)
    result.inserted = copied
    result.seconds["copy"] = time.perf_counter() - t0
    crash_point("copied")
    crash_point("inserted")
    mine = sql.SQL("{} and t.xmin = pg_current_xact_id()::xid").format(range_condition(dst, rng))
    t1 = time.perf_counter()
    source_fp, dest_fp = _both(lambda: fingerprint(dst, rng.table, mine),
                               lambda: fingerprint(src, rng.table, condition))
    result.seconds["verify"] = time.perf_counter() - t1
    return source_fp, dest_fp, copied


def _copy_staged(src, dst, rng, shape, result, progress) -> tuple[Fingerprint, Fingerprint, int]:
    """After a crash: COPY into a temporary staging table, `INSERT … ON CONFLICT DO NOTHING`,
    and verify against the destination rows with the staged primary keys."""
    table = sql.Identifier(rng.table)
    condition = range_condition(src, rng)  # first statement: the snapshot starts here
    t0 = time.perf_counter()
    dst.execute(sql.SQL("create temp table {} (like {}) on commit drop").format(
        sql.Identifier(STAGE), table))
    select = sql.SQL("select * from {} where {}").format(table, condition)
    copied, result.bytes = stream_copy(src, dst, select, STAGE, progress)
    crash_point("copied")
    dst.execute(sql.SQL("analyze {}").format(sql.Identifier(STAGE)))
    result.inserted = dst.execute(sql.SQL(
        "insert into {} select * from {} on conflict do nothing").format(
        table, sql.Identifier(STAGE))).rowcount
    result.seconds["copy"] = time.perf_counter() - t0
    crash_point("inserted")
    t1 = time.perf_counter()
    keys = keys_condition(shape.primary_key, STAGE)
    source_fp, dest_fp = _both(lambda: fingerprint(dst, rng.table, keys),
                               lambda: fingerprint(src, rng.table, condition))
    result.seconds["verify"] = time.perf_counter() - t1
    return source_fp, dest_fp, copied
