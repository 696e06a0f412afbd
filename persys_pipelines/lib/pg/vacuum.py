"""Space back from a plain (unpartitioned) core table after a move: VACUUM, then VACUUM FULL
when the rows that stay fit the free quota.

A DELETE frees no bytes of `pg_database_size`. Plain `VACUUM` marks the freed room reusable at
once (the app's next inserts fill it instead of growing the table) and cuts empty pages off the
end; only a rewrite (`VACUUM FULL`) gives the bytes back. A rewrite writes a new copy of the
*live* rows (heap, TOAST and rebuilt indexes) next to the old file until it commits, so it needs
free quota for what stays, not for the whole table: it runs when the quota's free room exceeds
`REWRITE_HEADROOM` × the live size, and when at least `MIN_FREE_SHARE` of the table is free
room (a rewrite that returns nothing is not worth its lock).

The live size is measured, not guessed from statistics that may be stale: one scan sums each
live row's stored size (`pg_column_size(t.*)`, TOAST included, aligned, plus its line pointer);
indexes are scaled by the same live share. A personal table in a 500 MB tier scans in well
under a second.

`VACUUM FULL` holds an ACCESS EXCLUSIVE lock while it rewrites. The session's `lock_timeout`
(session.pin_session) bounds the wait for it, so the person's app waits at most that long;
when the lock cannot be had, the rewrite is skipped with the reason and tried again next run.
VACUUM cannot run inside a transaction block: the connection must be in autocommit mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from .catalog import ident, regclass
from .session import LOCK_TIMEOUT
from .tiers import PgTier, session_pooler_dsn

REWRITE_HEADROOM = 1.1  # free quota needed, as a multiple of the live size that stays
MIN_FREE_SHARE = 0.10  # rewrite only when at least this share of the table is free room
RETRY_FREE_SHARE = 0.20  # with nothing moved this run, only a clearly worthwhile rewrite


@dataclass
class Reclaimed:
    vacuumed: bool = False
    rewritten: bool = False
    bytes_before: int = 0
    bytes_after: int = 0
    live_bytes: int = 0
    note: str = ""

    def as_json(self) -> dict:
        return {"vacuumed": self.vacuumed, "rewritten": self.rewritten,
                "bytes_before": self.bytes_before, "bytes_after": self.bytes_after,
                "live_bytes": self.live_bytes, "note": self.note}


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if abs(n) >= 100_000 else f"{n / 1e3:.1f} kB"


def relation_bytes(conn: psycopg.Connection, table: str) -> int:
    """Total bytes of a table (all partitions, indexes and TOAST included). pg_partition_tree
    lists nothing for a plain table, hence the fallback to the table itself."""
    row = conn.execute(
        """select coalesce((select sum(pg_total_relation_size(relid))
                              from pg_partition_tree(to_regclass(%(t)s))
                             where isleaf or level = 0),
                           pg_total_relation_size(to_regclass(%(t)s)), 0)::bigint""",
        {"t": regclass(table)},
    ).fetchone()
    return int(row[0])


def live_bytes(conn: psycopg.Connection, table: str) -> int:
    """What a rewrite of `table` would write: its live rows as stored, plus indexes scaled by
    the live share of heap + TOAST (module docstring)."""
    data, heap, total = conn.execute(sql.SQL(
        """select coalesce(sum(((pg_column_size(t.*) + 7) / 8) * 8 + 4), 0)::bigint,
                  (pg_table_size(to_regclass({n})))::bigint,
                  (pg_total_relation_size(to_regclass({n})))::bigint
             from {t} t""").format(n=sql.Literal(regclass(table)), t=ident(table))
    ).fetchone()
    if not heap:
        return 0
    share = min(1.0, data / heap)
    return int(min(total, data + (total - heap) * share))


def rewrite_check(tier: PgTier, live: int, tier_bytes: int) -> tuple[bool, str]:
    """May a rewrite that writes `live` bytes run in `tier`? (ok, why not)."""
    if tier.quota_bytes is None:
        return True, ""
    free = max(0, tier.quota_bytes - tier_bytes)
    need = REWRITE_HEADROOM * live
    if free >= need:  # an emptied table rewrites even in a full core: that is the rescue
        return True, ""
    return False, (f"VACUUM FULL skipped: needs {mb(need)} free ({REWRITE_HEADROOM}× the "
                   f"{mb(live)} that stay), the {tier.name} quota has {mb(free)}")


def reclaim(tier: PgTier, conn: psycopg.Connection, table: str, rows_deleted: int) -> Reclaimed:
    """VACUUM after a move (`rows_deleted` > 0), then VACUUM FULL by the live-size rule; with
    nothing deleted this run only the rewrite a previous run had to skip is tried again."""
    out = Reclaimed(bytes_before=relation_bytes(conn, table))
    rel = ident(table)
    notes = []
    if rows_deleted:
        try:
            conn.execute(sql.SQL("vacuum {}").format(rel))
            out.vacuumed = True
        except psycopg.errors.LockNotAvailable:
            notes.append(f"VACUUM skipped: another maintenance job held {table} for longer "
                         f"than {LOCK_TIMEOUT}")
    size = relation_bytes(conn, table)
    out.live_bytes = live_bytes(conn, table)
    free_inside = size - out.live_bytes
    share = MIN_FREE_SHARE if rows_deleted else RETRY_FREE_SHARE
    if free_inside <= share * size:
        if rows_deleted:
            notes.append(f"VACUUM FULL not needed: {mb(max(0, free_inside))} free room inside "
                         f"{table} is reused by new rows")
    else:
        ok, why = rewrite_check(tier, out.live_bytes, tier.size_bytes())
        if not ok:
            notes.append(why + "; the freed room is reused by new rows, and the rewrite is "
                         "tried again next run (or `persys adopt partition " + table + "`)")
        else:
            busy = (f"VACUUM FULL skipped: the app held {table} for longer than "
                    f"{LOCK_TIMEOUT}; tried again next run")
            try:
                out.rewritten = _vacuum_full(tier, conn, table)
                if not out.rewritten:
                    notes.append(busy)
            except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
                notes.append(busy)
            except psycopg.errors.ReadOnlySqlTransaction:
                notes.append("VACUUM FULL skipped: core is read-only and, behind a transaction "
                             "pooler, no session can switch itself to read-write; use the "
                             f"session pooler ({session_pooler_dsn(tier.dsn)}) for this run")
            except psycopg.errors.InsufficientPrivilege:
                notes.append(f"VACUUM FULL skipped: only the owner of {table} may rewrite it; "
                             "connect core as the table's owner (on Supabase: postgres)")
    out.bytes_after = relation_bytes(conn, table)
    if out.rewritten or out.vacuumed:
        verb = "VACUUM FULL" if out.rewritten else "VACUUM"
        notes.insert(0, f"{verb}: {table} {mb(out.bytes_before)} → {mb(out.bytes_after)}")
    out.note = "; ".join(notes)
    return out


def _vacuum_full(tier: PgTier, conn: psycopg.Connection, table: str) -> bool:
    """VACUUM FULL, never queueing the app behind it: directly, the session's lock_timeout
    bounds the wait. Behind a transaction pooler no setting holds for a statement outside a
    transaction, so SKIP_LOCKED: the rewrite starts only if the lock is free at once.
    False when it was skipped."""
    rel = ident(table)
    if not tier.transaction_pooled:
        conn.execute(sql.SQL("vacuum full {}").format(rel))
        return True
    skipped: list[str] = []

    def notice(diag: psycopg.errors.Diagnostic) -> None:
        if diag.sqlstate == "55P03":  # lock_not_available, sent as a warning
            skipped.append(diag.message_primary or "")

    conn.add_notice_handler(notice)
    try:
        conn.execute(sql.SQL("vacuum (full, skip_locked) {}").format(rel))
    finally:
        conn.remove_notice_handler(notice)
    return not skipped
