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
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from . import ledger
from .config import TablePolicy
from .postgres import PgTier
from .tables import day_expression, only_when_condition

Progress = Callable[[int], None]  # called with rows just copied
CRASH_ENV = "PERSYS_CRASH_AT"
STAGE = "persys_stage"
SESSION_SETTINGS = (  # row text (and so the checksum) must not depend on server defaults
    "set timezone to 'UTC'",
    "set datestyle to 'ISO, YMD'",
    "set intervalstyle to 'postgres'",
    "set extra_float_digits to 1",
)


class MoveError(Exception):
    """A move could not be completed safely; nothing was deleted at the source."""


class SchemaMismatch(MoveError):
    """The table differs between tiers; the message names the table, column and both types."""


@dataclass(frozen=True)
class MoveRange:
    """Rows of `table` whose day (in `zone`) is within [first_day, last_day] (None: open) and
    which match the policy's `only_when`."""

    table: str
    policy: TablePolicy
    zone: str
    first_day: dt.date | None
    last_day: dt.date | None


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    checksum: int

    @property
    def text(self) -> str:
        return f"{self.rows}:{self.checksum}"


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


@dataclass(frozen=True)
class TableShape:
    columns: dict[str, str]  # name → formatted type, in table order
    primary_key: list[str]


# ---------------------------------------------------------------------------------------------
# Reusable steps


def prepare_session(conn: psycopg.Connection) -> None:
    for statement in SESSION_SETTINGS:
        conn.execute(statement)


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
    from .schema import table_columns

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


def fingerprint(conn: psycopg.Connection, table: str, condition: sql.Composable) -> Fingerprint:
    """Row count and order-independent checksum of the rows of `table` matching `condition`."""
    row = conn.execute(
        sql.SQL(
            "select count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) from {} t where {}"
        ).format(sql.Identifier(table), condition)
    ).fetchone()
    return Fingerprint(int(row[0]), int(row[1]))


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


def table_shape(conn: psycopg.Connection, table: str) -> TableShape:
    from .schema import primary_key, table_columns

    return TableShape(table_columns(conn, table), primary_key(conn, table))


def check_same_shape(
    table: str, source: TableShape, dest: TableShape, src_name: str, dst_name: str
) -> None:
    """Same columns, same order, same types — a difference is an error, never a silent cast."""
    s_cols, d_cols = list(source.columns.items()), list(dest.columns.items())
    for i in range(max(len(s_cols), len(d_cols))):
        s = s_cols[i] if i < len(s_cols) else None
        d = d_cols[i] if i < len(d_cols) else None
        if s == d:
            continue
        where = f"table {table}, column {i + 1}"
        s_text = f"{s[0]} {s[1]}" if s else "(none)"
        d_text = f"{d[0]} {d[1]}" if d else "(none)"
        raise SchemaMismatch(
            f"{where}: {src_name} has {s_text!r} but {dst_name} has {d_text!r}. Make the "
            f"{dst_name} table match {src_name} (same columns, order and types), or drop the "
            f"empty {dst_name} table so the next move creates it from {src_name}'s definition"
        )
    if not source.primary_key:
        raise SchemaMismatch(
            f"table {table} has no primary key in {src_name}; a move needs one to verify and "
            f"to skip rows already copied. Add one (e.g. `alter table {table} add primary key "
            "(id)`)"
        )


def create_like(
    src: psycopg.Connection, dst: psycopg.Connection, table: str, day_column: str
) -> None:
    """Create `table` at `dst` from its definition at `src`: columns, types, NOT NULL, plain
    defaults, primary key, and an index on the day column."""
    rows = src.execute(
        """select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(d.adbin, d.adrelid)
             from pg_attribute a
             left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
            where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped
            order by a.attnum""",
        (f"public.{table}",),
    ).fetchall()
    parts = []
    for name, kind, notnull, default in rows:
        col = sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))
        if notnull:
            col = sql.SQL("{} not null").format(col)
        if default and "nextval(" not in default:  # the source's sequence does not exist here
            col = sql.SQL("{} default {}").format(col, sql.SQL(default))
        parts.append(col)
    pk = table_shape(src, table).primary_key
    if pk:
        parts.append(sql.SQL("primary key ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, pk))))
    with dst.transaction():
        dst.execute(sql.SQL("create table if not exists {} ({})").format(
            sql.Identifier(table), sql.SQL(", ").join(parts)))
        dst.execute(sql.SQL("create index if not exists {} on {} ({})").format(
            sql.Identifier(f"{table}_{day_column}_idx"), sql.Identifier(table),
            sql.Identifier(day_column)))


def ensure_destination(
    src: psycopg.Connection, dst: psycopg.Connection, rng: MoveRange, src_name: str,
    dst_name: str,
) -> TableShape:
    """The destination table exists and matches the source; returns the source's shape."""
    from .schema import table_exists

    if not table_exists(src, rng.table):
        raise MoveError(f"table {rng.table} does not exist in {src_name}; create it or drop "
                        f"tables.{rng.table} from persys.yaml")
    if not table_exists(dst, rng.table):
        create_like(src, dst, rng.table, rng.policy.day_column)
    source = table_shape(src, rng.table)
    check_same_shape(rng.table, source, table_shape(dst, rng.table), src_name, dst_name)
    return source


def lock_key(table: str, from_tier: str, to_tier: str) -> str:
    return f"persys_move:{from_tier}:{to_tier}:{table}"


def checkpoint(step: str) -> None:
    """Crash tests: with PERSYS_CRASH_AT=<step>, announce the step and wait to be killed."""
    if os.environ.get(CRASH_ENV) == step:
        print(f"persys-crash-point {step}", flush=True)
        sys.stdout.flush()
        while True:
            time.sleep(60)


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
    with dest.connect(autocommit=True) as lock_conn:
        key = lock_key(rng.table, source.name, dest.name)
        lock_conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))", (key,))
        ledger.ensure(lock_conn)
        ledger.mark_interrupted(lock_conn, rng.table, source.name, dest.name)
        with source.connect() as src, dest.connect() as dst:
            src.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            for conn in (src, dst):
                prepare_session(conn)
                conn.commit()
            shape = ensure_destination(src, dst, rng, source.name, dest.name)
            src.commit()
            result.ledger_id = ledger.open_entry(
                lock_conn, table=rng.table, first_day=rng.first_day, last_day=rng.last_day,
                from_tier=source.name, to_tier=dest.name, run_id=run_id,
            )
            checkpoint("opened")
            try:
                _copy_verify_delete(src, dst, rng, shape, result, progress)
            except BaseException as exc:
                src.rollback()
                dst.rollback()
                ledger.close_entry(lock_conn, result.ledger_id, outcome=ledger.FAILED,
                                   detail={"error": str(exc)[:500]})
                raise
        checkpoint("deleted")
        ledger.close_entry(
            lock_conn, result.ledger_id,
            outcome=ledger.MOVED if result.rows else ledger.NOTHING,
            rows=result.rows, bytes_=result.bytes, checksum=result.checksum,
            detail={"inserted": result.inserted,
                    "seconds": {k: round(v, 3) for k, v in result.seconds.items()}},
        )
        checkpoint("closed")
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
    checkpoint("main_committed")

    t2 = time.perf_counter()
    table = sql.Identifier(rng.table)
    condition = range_condition(src, rng)
    dropped_rows = drop_whole_partitions(src, rng, whole, condition, result)
    deleted = src.execute(sql.SQL("delete from {} where {}").format(table, condition)).rowcount
    if deleted + dropped_rows != source_fp.rows:
        raise MoveError(f"{rng.table}: removed {deleted + dropped_rows} rows at the source, "
                        f"expected {source_fp.rows}; rolled back, run again")
    checkpoint("delete_sent")
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
    checkpoint("copied")
    checkpoint("inserted")
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
    checkpoint("copied")
    dst.execute(sql.SQL("analyze {}").format(sql.Identifier(STAGE)))
    result.inserted = dst.execute(sql.SQL(
        "insert into {} select * from {} on conflict do nothing").format(
        table, sql.Identifier(STAGE))).rowcount
    result.seconds["copy"] = time.perf_counter() - t0
    checkpoint("inserted")
    t1 = time.perf_counter()
    keys = keys_condition(shape.primary_key, STAGE)
    source_fp, dest_fp = _both(lambda: fingerprint(dst, rng.table, keys),
                               lambda: fingerprint(src, rng.table, condition))
    result.seconds["verify"] = time.perf_counter() - t1
    return source_fp, dest_fp, copied
