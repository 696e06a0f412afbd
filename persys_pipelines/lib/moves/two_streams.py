"""The core→main copy of a large range in two streams, one per half, each into its own main
transaction.

Main's `COPY FROM` (the heap, every index, the WAL) is the slow side of a move, several times
the CPU of core's `COPY TO`, and a stream runs on one server process: two streams over two
halves of the range put main's work on two cores. Both halves read core in the copy's
snapshot S (exported to the second core session), so together they are exactly one copy.

Two main transactions cannot commit as one. The second stream's (the helper's) commits first,
with the ledger entry moved to `half_copied`: its transaction id, its half's first day and S.
The first then commits as before (`copied`, naming both ids), and settling treats the rows of
both as the copy's. A failure or a kill between the two commits leaves `half_copied`: a copy
of the second half in S, committed to main, which the next run settles like any `copied`
entry (core deletes the versions still unchanged since S; main's copies of the others go);
the first half never left core and moves then too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
from psycopg import sql

from ..calendar import month_start, next_month
from ..pg.partitions import month_partition_bytes
from ..pg.session import in_snapshot, pin_session
from ..pg.tiers import PgTier
from .engine import Progress, Step
from .relay import stream_copy

HALF = "half_copied"  # the core→main route's ledger state between the two commits
TWO_STREAMS_FROM = 16 << 20  # bytes of core's month partitions in the range; below, one stream


def split_day(src: psycopg.Connection, table: str, first: dt.date | None,
              last: dt.date | None) -> dt.date | None:
    """The day that starts the second half of [first, last] (about half the bytes on each
    side, core's month partitions' sizes spread evenly over their days), or None: one
    stream (an open or one-day range, a plain table, less than `TWO_STREAMS_FROM` bytes)."""
    if first is None or last is None or last <= first:
        return None
    sizes = {month: size for month, size in month_partition_bytes(src, table).items()
             if next_month(month) > first and month <= last}
    if not sizes:
        return None
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    per_day = [sizes.get(month_start(d), 0) / (next_month(month_start(d)) - month_start(d)).days
               for d in days]
    total = sum(per_day)
    if total < TWO_STREAMS_FROM:
        return None
    before = 0.0
    for day, size in zip(days[1:], per_day, strict=False):
        before += size  # bytes of the days before `day`
        if 2 * before >= total:
            return day
    return last


@contextlib.contextmanager
def helper_sessions(core: PgTier, main: PgTier, snapshot_id: str
                    ) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    """A second core session in the copy's exported snapshot and a second main session."""
    with core.connect() as src, main.connect() as dst:
        for conn in (src, dst):
            pin_session(conn)
        in_snapshot(src, snapshot_id)
        try:
            yield src, dst
        finally:
            src.rollback()
            dst.rollback()  # a no-op once the helper committed


def copy_both(first: tuple[psycopg.Connection, psycopg.Connection],
              second: tuple[psycopg.Connection, psycopg.Connection],
              selects: tuple[sql.Composable, sql.Composable], table: str, columns: list[str],
              progress: Progress | None) -> tuple[int, int, int]:
    """`stream_copy` of each half at once (the second on a thread); returns (rows of the
    first, rows of the second, bytes). Both streams have ended when it returns or raises
    (the first stream's error cancels the second's COPY; the caller rolls both main
    transactions back)."""
    shared = _locked(progress)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="persys-stream") as pool:
        helper = pool.submit(stream_copy, *second, selects[1], table, columns, shared)
        try:
            rows_a, bytes_a = stream_copy(*first, selects[0], table, columns, shared)
        except BaseException:
            with contextlib.suppress(Exception):  # stop the helper's COPY instead of waiting
                second[1].cancel_safe(timeout=5)
            with contextlib.suppress(BaseException):
                helper.result()
            raise
        rows_b, bytes_b = helper.result()
    return rows_a, rows_b, bytes_a + bytes_b


def commit_helper(dst: psycopg.Connection, step: Step, rows: int, first_day: dt.date,
                  snapshot: str) -> int:
    """Commit the helper's rows with the ledger entry in `half_copied` (what settling its half
    alone needs: xid, first day, S); returns its xid."""
    xid = int(dst.execute("select pg_current_xact_id()::text").fetchone()[0])
    step.advance(HALF, conn=dst, helper_xid=xid, helper_rows=rows,
                 helper_first_day=first_day.isoformat(), snapshot=snapshot)
    dst.commit()
    return xid


def _locked(progress: Progress | None) -> Progress | None:
    """`progress` called from two threads, one at a time."""
    if progress is None:
        return None
    lock = threading.Lock()

    def report(rows: int) -> None:
        with lock:
            progress(rows)

    return report
