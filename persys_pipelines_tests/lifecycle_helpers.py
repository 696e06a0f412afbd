"""Shared by the lifecycle tests: tier snapshots that prove nothing was lost or doubled."""

from __future__ import annotations

from collections import Counter

from psycopg import sql

from persys_pipelines.lib.pg.catalog import ident, table_exists
from persys_pipelines.lib.pg.session import pin_session
from persys_pipelines.lib.pg.tiers import PgTier


def rows_text(tier: PgTier, table: str) -> Counter:
    """The multiset of a table's rows (as `t::text`, session settings fixed) in one tier."""
    with tier.connect() as conn:
        pin_session(conn)
        if not table_exists(conn, table):
            return Counter()
        rows = conn.execute(sql.SQL("select t::text from {} t").format(
            ident(table))).fetchall()
    return Counter(r[0] for r in rows)


def keys(tier: PgTier, table: str, pk: list[str]) -> set:
    with tier.connect() as conn:
        if not table_exists(conn, table):
            return set()
        cols = sql.SQL(", ").join(map(sql.Identifier, pk))
        return set(conn.execute(sql.SQL("select {} from {}").format(
            cols, ident(table))).fetchall())


def assert_conserved(core: PgTier, main: PgTier, table: str, before: Counter,
                     pk: list[str]) -> None:
    """Per table: the multiset of rows across tiers is unchanged; no key is in two tiers."""
    after = rows_text(core, table) + rows_text(main, table)
    assert after == before, f"{table}: rows lost {before - after} / doubled {after - before}"
    both = keys(core, table, pk) & keys(main, table, pk)
    assert not both, f"{table}: keys in both tiers: {sorted(both)[:3]}"
