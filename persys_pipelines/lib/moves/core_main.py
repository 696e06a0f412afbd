"""core→main: the one move protocol for a table's day range, safe while the app writes.

    move_range(engine, core, MoveRange("journal_entries", policy, zone, first, last))

1. Lock: `Engine.locked` (one mover per table); first `reconcile` settles whatever a killed
   or failed mover left (ledger entries in state `copied`/`deleting`).
2. Copy: core is read in one REPEATABLE READ snapshot S (its text is kept) and streamed as
   binary COPY straight into main's table (chunk by chunk, memory flat). Rows still referenced
   from core are not taken (`references`). If a key is already in main (the app re-inserted a
   moved key, or an earlier copy was undone), the range goes through a staging table with
   `INSERT … ON CONFLICT DO UPDATE`: core's version wins.
3. Verify: main took exactly the rows core's COPY sent in S (both servers' `COPY n`), and
   main's table has core's columns and types (mirror), so the binary COPY is exact. Where
   main could store something else — a trigger or rule on its table, or the staged upsert
   (`may_alter_rows`) — checksums are compared too: core's of the range in S (taken
   alongside the copy) and main's of the rows its transaction wrote (`xmin` = its xid M).
   Without either, a checksum of core's side would be compared with nothing, so none is
   taken: the ledger records the count (`rows1`). The ledger entry records S and M in the
   same main transaction, which then commits.
4. Settle (`settle.py`): delete in core exactly the copied versions still unchanged (whole
   unchanged months by TRUNCATE); copies of rows the app changed or deleted since S leave
   main; the core transaction's id is in the ledger before it commits.
5. Close the ledger entry: rows, bytes, checksum, what the app kept in core.

The person's app is never blocked for long and never fails because of a move: the mover's
sessions wait at most `session.LOCK_TIMEOUT` for a lock and retry, and it takes locks the
app needs only for milliseconds (a month partition it truncates). Rows the app writes into
the range during a move are simply newer than S: they stay in core and move next time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import psycopg
from psycopg import sql

from ..calendar import next_month
from ..config import TablePolicy
from ..errors import MoveError
from ..pg import fingerprint, mirror, references
from ..pg.catalog import has_triggers_or_rules, ident, table_columns
from ..pg.fingerprint import ALIAS
from ..pg.partitions import month_partitions
from ..pg.session import pin_session
from ..pg.tables import day_expression, only_when_condition
from ..pg.tiers import PgTier
from . import settle, two_streams
from .engine import Engine, Locked, Progress, Step, route
from .relay import copy_staged, stream_copy

__all__ = ["CORE_MAIN", "MoveRange", "MoveResult", "Progress", "move_range", "range_condition",
           "reconcile", "repair"]
T = TypeVar("T")
CORE_MAIN = route("core_main", "core", "main", states=(*settle.STATES, two_streams.HALF),
                  points=("opened", "copied", "helper_committed", "main_committed",
                          "core_deleting", "delete_sent", "deleted", "closed", "space"))
def may_alter_rows(dst: psycopg.Connection, table: str) -> bool:
    """Could main store other values than the binary COPY carried? Only through a trigger or
    a rule on its table (or a partition of it): main's columns have core's types in core's
    order (mirror), a binary COPY between the same types is exact, and both servers report
    how many rows they sent and took. Without either, those counts and core's fingerprint of
    the snapshot are the proof, and main's own pass over the rows is not needed."""
    return has_triggers_or_rules(dst, table)


SAME_TRANSACTION_NOTE = (
    "core is behind a transaction pooler: its checksum is computed in the copy's own "
    "transaction after the copy (slower than alongside it, equally exact)")


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
    rows: int = 0  # rows that left core for main
    bytes: int = 0
    checksum: str | None = None
    inserted: int = 0  # rows copied to main (kept ones included)
    kept: int = 0  # copied, but the app changed or deleted them meanwhile: core's version stays
    held_back: dict[str, int] = field(default_factory=dict)  # reference → rows kept in core
    partitions_dropped: list[str] = field(default_factory=list)  # whole months truncated
    repaired: int = 0  # interrupted moves settled first
    streams: int = 1  # 2: copied in two halves at once (two_streams)
    ledger_id: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # said once in the run's output


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


def whole_partitions(src: psycopg.Connection, rng: MoveRange) -> list[str]:
    """Month partitions lying wholly inside the range: the settle step may truncate them."""
    if rng.policy.only_when:
        return []
    return [name for month, name in sorted(month_partitions(src, rng.table).items())
            if (rng.first_day is None or month >= rng.first_day)
            and (rng.last_day is None or next_month(month) - dt.timedelta(days=1) <= rng.last_day)]


# ---------------------------------------------------------------------------------------------
# The protocol


def move_range(engine: Engine, core: PgTier, rng: MoveRange) -> MoveResult:
    """Move one day range of one table from core to main (see the module docstring)."""
    result = MoveResult(rng.table, rng.first_day, rng.last_day)
    with engine.locked(rng.table) as locked, core.connect() as src, \
            engine.main.connect() as dst:
        for conn in (src, dst):
            pin_session(conn)
        result.repaired = reconcile(locked, src, dst, rng)
        shape = mirror.ensure_destination(src, dst, rng.table, rng.policy.day_column,
                                          core.name, engine.main.name)
        refs = _references(src, rng.table)
        src.commit()
        dst.commit()
        step = locked.open(CORE_MAIN, rng.first_day, rng.last_day)
        result.ledger_id = step.id
        step.crash("opened")
        try:
            copied = _copy_and_verify((core, engine.main), src, dst, rng, shape, refs,
                                      result, step, engine.progress)
            step.crash("main_committed")
            t0 = time.perf_counter()
            out = settle.settle(src, dst, copied, step)
            result.seconds["settle"] = time.perf_counter() - t0
        except BaseException as exc:
            src.rollback()
            dst.rollback()
            step.failed(exc)  # a committed copy (or half) stays as it is: the next run settles it
            raise
        step.crash("deleted")
        result.rows, result.kept = out.deleted, result.inserted - out.deleted
        result.partitions_dropped = out.truncated
        step.done(rows=result.rows, bytes_=result.bytes, fingerprint=result.checksum,
                  inserted=result.inserted, kept=result.kept, held_back=result.held_back,
                  truncated=out.truncated,
                  seconds={k: round(v, 3) for k, v in result.seconds.items()})
        step.crash("closed")
    return result


def repair(engine: Engine, core: PgTier, rng: MoveRange) -> int:
    """Settle what killed or failed movers of this table left, without moving anything new
    (every run starts here, even when nothing is due)."""
    with engine.locked(rng.table) as locked, core.connect() as src, \
            engine.main.connect() as dst:
        for conn in (src, dst):
            pin_session(conn)
        return reconcile(locked, src, dst, rng)


def _references(src: psycopg.Connection, table: str) -> list[references.Reference]:
    refs = references.incoming(src, table)
    hidden = references.hidden_by_row_security(src, refs)
    if hidden:
        raise MoveError(
            f"{table}: rows of {', '.join(hidden)} reference it, but row-level security hides "
            "some of them from this connection, so a move could fire their ON DELETE action. "
            "Connect core as the tables' owner or a role with BYPASSRLS (e.g. postgres or "
            "service_role in Supabase)")
    return refs


def _copy_and_verify(tiers: tuple[PgTier, PgTier], src: psycopg.Connection,
                     dst: psycopg.Connection, rng: MoveRange, shape: mirror.TableShape,
                     refs: list[references.Reference], result: MoveResult, step: Step,
                     progress: Progress | None) -> settle.Copied:
    """Copy the range from one snapshot of core into main, verify, commit main (with the
    ledger's record of what to settle). Returns that record.

    Core's checksum, where one is compared (`may_alter_rows`), runs while the copy streams,
    on a second connection that shares the copy's exported snapshot, so it costs (almost) no
    time of its own. Where none is, a large range is copied in two streams (two_streams)."""
    source = tiers[0]
    src.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="persys-verify")
    sessions = contextlib.ExitStack()
    try:
        snapshot = settle.Snapshot.parse(
            src.execute("select pg_current_snapshot()::text").fetchone()[0])  # S starts here
        in_range = range_condition(src, rng)
        taken = sql.SQL("{} and {}").format(in_range, references.unreferenced(refs, ALIAS))
        if refs:
            result.held_back = references.held_back(src, rng.table, refs, in_range)
        columns = mirror.copy_columns(dst, rng.table)
        whole = whole_partitions(src, rng)
        alters = may_alter_rows(dst, rng.table)
        # the checksums' row hash (a few catalog queries), only where checksums are compared
        hashed = fingerprint.row_hash([src, dst], rng.table, columns) if alters else None
        source_side = None  # without `alters`, a checksum only if the copy is staged (in S)
        if alters and source.transaction_pooled:  # no second session may share S
            result.notes.append(SAME_TRANSACTION_NOTE)
        elif alters:
            exported = src.execute("select pg_export_snapshot()").fetchone()[0]
            source_side = pool.submit(_timed, result, "verify_core",
                                      fingerprint.source_fingerprint,
                                      source, exported, rng.table, taken, hashed)
        t0 = time.perf_counter()
        select = _select(rng.table, columns, taken)
        staged, second, helper_rows = False, None, 0
        middle = (None if alters or source.transaction_pooled else
                  two_streams.split_day(src, rng.table, rng.first_day, rng.last_day))
        try:
            if middle is None:
                copied_rows, result.bytes = stream_copy(src, dst, select, rng.table, columns,
                                                        progress)
            else:
                second = sessions.enter_context(two_streams.helper_sessions(
                    source, tiers[1], src.execute("select pg_export_snapshot()").fetchone()[0]))
                halves = [dataclasses.replace(rng, last_day=middle - dt.timedelta(days=1)),
                          dataclasses.replace(rng, first_day=middle)]
                rows_a, helper_rows, result.bytes = two_streams.copy_both(
                    (src, dst), second, tuple(_select(rng.table, columns, sql.SQL(
                        "{} and {}").format(range_condition(src, half), references.unreferenced(
                            refs, ALIAS))) for half in halves), rng.table, columns, progress)
                copied_rows, result.streams = rows_a + helper_rows, 2
        except psycopg.errors.UniqueViolation:
            dst.rollback()  # nothing else is in main's transaction yet
            if second is not None:
                second[1].rollback()
                second, result.streams = None, 1
            staged = True
            # main's own key: core's may be wider (a month-partitioned core's key holds its
            # day column, a plain main's does not) and ON CONFLICT names main's constraint
            copied_rows, result.bytes = copy_staged(
                src, dst, rng.table, select, columns,
                mirror.table_shape(dst, rng.table).primary_key or shape.primary_key, progress)
        result.inserted = copied_rows
        result.seconds["copy"] = time.perf_counter() - t0
        step.crash("copied")
        t1 = time.perf_counter()
        dest_range = range_condition(dst, rng)
        # main's transaction id as a constant, not `pg_current_xact_id()` in the query: that
        # function is parallel-unsafe, and with a constant PostgreSQL checksums the rows with
        # parallel workers (which see the transaction's own rows)
        main_xid = int(dst.execute("select pg_current_xact_id()::text").fetchone()[0])
        if staged or alters:
            hashed = hashed or fingerprint.row_hash([src, dst], rng.table, columns)
            source_fp = (source_side.result() if source_side is not None
                         else fingerprint.snapshot_fingerprint(src, rng.table, taken, hashed))
            mine = sql.SQL("{} and {}").format(dest_range,
                                               settle.written_by(ALIAS, (main_xid,)))
            dest_fp = fingerprint.dest_fingerprint(dst, rng.table, mine, hashed)
            result.seconds["verify_main"] = time.perf_counter() - t1
            fingerprint.check(rng.table, rng.first_day, rng.last_day, source_fp, dest_fp,
                              copied_rows)
        else:  # stream_copy checked both COPY counts: main holds exactly what core sent
            source_fp = fingerprint.Fingerprint(copied_rows, 0, fingerprint.COUNTED)
        result.seconds["verify"] = time.perf_counter() - t1
        result.checksum = source_fp.text
        helpers = (() if second is None else (two_streams.commit_helper(
            second[1], step, helper_rows, middle, snapshot.text),))
        if helpers:
            step.crash("helper_committed")
        copied = settle.Copied(
            ledger_id=result.ledger_id, table=rng.table, snapshot=snapshot, main_xid=main_xid,
            rows=copied_rows, source_condition=in_range, dest_condition=dest_range,
            primary_key=shape.primary_key, references=refs, whole_partitions=whole,
            helper_xids=helpers)
        step.advance(settle.COPIED, conn=dst, **copied.ledger_detail())
        dst.commit()  # failing, a committed helper's half stays `half_copied`: settled next run
    finally:
        sessions.close()
        pool.shutdown(wait=True)
        src.rollback()
        src.isolation_level = None
    return copied


def _select(table: str, columns: list[str], taken: sql.Composable) -> sql.Composable:
    return sql.SQL("select {} from {} {} where {}").format(
        sql.SQL(", ").join(sql.SQL("{}.{}").format(sql.Identifier(ALIAS), sql.Identifier(c))
                           for c in columns), ident(table), sql.Identifier(ALIAS), taken)


def _timed(result: MoveResult, key: str, fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)`, its wall time in `result.seconds[key]` (the bench's breakdown)."""
    t0 = time.perf_counter()
    try:
        return fn(*args)
    finally:
        result.seconds[key] = time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# Reconciliation: what a killed or failed mover left


def reconcile(locked: Locked, src: psycopg.Connection, dst: psycopg.Connection,
              rng: MoveRange) -> int:
    """Settle every core→main entry of the table left `copied`, `half_copied` or `deleting`
    and mark the
    ones left `open` interrupted (call holding the table's lock, sessions pinned, no
    transaction open); returns how many were repaired."""
    repaired = 0
    for entry in locked.unfinished(CORE_MAIN):
        detail, step = entry.detail, locked.step(CORE_MAIN, entry)
        if entry.state == settle.DELETING:
            status = settle.core_transaction_status(src, int(detail["core_xid"]))
            if status == "committed":
                _close_repaired(step, entry, int(detail.get("deleted", 0)))
                repaired += 1
                continue
            if status is None:
                raise MoveError(
                    f"{rng.table}: interrupted move #{entry.id} ({entry.first_day}.."
                    f"{entry.last_day}) cannot be settled automatically: core no longer knows "
                    f"whether its delete (transaction {detail['core_xid']}) committed. Run "
                    f"`persys lifecycle repair --table {rng.table}`")
        part = MoveRange(rng.table, rng.policy, rng.zone, entry.first_day, entry.last_day)
        if "main_xid" in detail:
            main_xid, written = int(detail["main_xid"]), int(detail.get("copied", -1))
            helpers = tuple(int(x) for x in detail.get("helper_xids", ()))
        else:  # `half_copied`: only the helper's half committed, settled alone
            part = dataclasses.replace(part, first_day=dt.date.fromisoformat(
                detail["helper_first_day"]))
            main_xid, helpers = int(detail["helper_xid"]), ()
            written = int(detail.get("helper_rows", -1))
        dest_range = range_condition(dst, part)
        still = dst.execute(sql.SQL("select count(*) from {} t where {} and {}").format(
            ident(rng.table), dest_range, settle.written_by("t", (main_xid, *helpers)))
            ).fetchone()[0]
        refs = _references(src, rng.table)
        copied = settle.Copied(
            ledger_id=entry.id, table=rng.table,
            snapshot=settle.Snapshot.parse(detail["snapshot"]), main_xid=main_xid,
            rows=int(still), source_condition=range_condition(src, part),
            dest_condition=dest_range, primary_key=mirror.table_shape(dst, rng.table).primary_key,
            references=refs, whole_partitions=[], helper_xids=helpers,
            careful=still != written)  # copies lost in main: a count proves nothing
        src.commit()
        dst.commit()
        out = settle.settle(src, dst, copied, step)
        _close_repaired(step, entry, out.deleted)
        repaired += 1
    locked.interrupt_open(CORE_MAIN)
    return repaired


def _close_repaired(step: Step, entry: object, deleted: int) -> None:
    step.done(rows=deleted, bytes_=getattr(entry, "bytes", 0), repaired=True, deleted=deleted)
