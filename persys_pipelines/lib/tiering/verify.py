"""Verifying a copy: count and order-independent checksum of the copied rows on each side.

Core's side is read in the copy's own snapshot: on a second session that imports the copy's
exported snapshot (so it runs while the copy streams), or, behind a transaction pooler, in the
copy's own transaction after the copy.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from ..pg.protocol import Fingerprint, prepare_session
from ..pg.tiers import PgTier


def source_fingerprint(source: PgTier, snapshot_id: str, table: str, taken: sql.Composable,
                        whole: list[str]) -> tuple[Fingerprint, dict[str, int]]:
    """Count and checksum of the copied rows in the copy's own snapshot, plus the rows of each
    whole month partition (for the settle step)."""
    with source.connect() as conn:
        prepare_session(conn)
        conn.execute("set transaction isolation level repeatable read, read only")
        conn.execute(sql.SQL("set transaction snapshot {}").format(sql.Literal(snapshot_id)))
        out = snapshot_fingerprint(conn, table, taken, whole)
        conn.rollback()
    return out


def snapshot_fingerprint(conn: psycopg.Connection, table: str, taken: sql.Composable,
                          whole: list[str]) -> tuple[Fingerprint, dict[str, int]]:
    """`source_fingerprint`'s query in `conn`'s current (REPEATABLE READ) transaction."""
    rows = conn.execute(sql.SQL(
        "select t.tableoid::regclass::text, count(*), "
        "coalesce(sum(hashtextextended(t::text, 0)), 0) from {} t where {} group by 1"
    ).format(sql.Identifier(table), taken)).fetchall()
    total = sum((Fingerprint(int(n), int(h)) for _, n, h in rows), Fingerprint(0, 0))
    names = {name.strip('"'): int(n) for name, n, _ in rows}
    return total, {p: names.get(p, 0) for p in whole}


def dest_fingerprint(dst: psycopg.Connection, table: str, mine: sql.Composable) -> Fingerprint:
    row = dst.execute(sql.SQL(
        "select count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) from {} t "
        "where {}").format(sql.Identifier(table), mine)).fetchone()
    return Fingerprint(int(row[0]), int(row[1]))
