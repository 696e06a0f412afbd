"""Space that really comes back: monthly partitions in core, dropped when a move empties them.

Deleting rows returns no bytes of `pg_database_size`, and `VACUUM FULL` needs room for a second
copy of the table while it runs (on a nearly full free tier that alone crosses the read-only
line). So `persys setup` creates core tables whose day column is NOT NULL as declaratively
partitioned by month of the day (month bounds are local midnights in the configured zone, so a
row's month is the month of its day) with a DEFAULT partition for anything unforeseen; a month
partition emptied by moves is detached and dropped, which returns its bytes at once.

Tables that are not partitioned that way (a nullable day column like tasks.completed_at,
tables a person created) get a plain DELETE from the move, then VACUUM and, when the rows that
stay fit the free quota, VACUUM FULL (`vacuum.py`); `persys adopt partition` converts such a
table for good (`adopt.py`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..calendar import month_start, next_month
from ..config import TablePolicy
from .catalog import client_roles, ident, is_partitioned, regclass, table_columns
from .session import yielding
from .tiers import PgTier
from .vacuum import Reclaimed, reclaim, relation_bytes, rewrite_check

__all__ = ["relation_bytes"]  # also read by monitoring.quota
DEFAULT_SUFFIX = "_pdefault"
_MONTH_RE = re.compile(r"_p(\d{4})_(\d{2})$")


@dataclass
class SpaceResult:
    table: str
    dropped: list[str] = field(default_factory=list)
    rewritten: bool = False
    note: str = ""
    reclaimed: Reclaimed | None = None  # a plain table: VACUUM / VACUUM FULL, bytes before → after


def partition_name(table: str, month: dt.date) -> str:
    return f"{table}_p{month:%Y_%m}"


def month_partitions(conn: psycopg.Connection, table: str) -> dict[dt.date, str]:
    """Month → partition name, for the partitions this module created (`<table>_pYYYY_MM`)."""
    rows = conn.execute(
        """select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
            where i.inhparent = to_regclass(%s)""",
        (regclass(table),),
    ).fetchall()
    out = {}
    for (name,) in rows:
        m = _MONTH_RE.search(name)
        if m and name == partition_name(table, dt.date(int(m[1]), int(m[2]), 1)):
            out[dt.date(int(m[1]), int(m[2]), 1)] = name
    return out


def month_partition_bytes(conn: psycopg.Connection, table: str) -> dict[dt.date, int]:
    """Month → bytes of its partition's rows (heap and TOAST, `pg_table_size`)."""
    names = {name: month for month, name in month_partitions(conn, table).items()}
    rows = conn.execute(
        """select c.relname, pg_table_size(c.oid) from pg_inherits i
             join pg_class c on c.oid = i.inhrelid
            where i.inhparent = to_regclass(%s) and c.relname = any(%s)""",
        (regclass(table), list(names))).fetchall()
    return {names[name]: int(size) for name, size in rows}


def _bound(conn: psycopg.Connection, table: str, day_column: str, day: dt.date,
           zone: str) -> sql.Composable:
    """The partition bound for local midnight of `day`: a date, or a timestamptz in `zone`."""
    kind = table_columns(conn, table)[day_column]
    if kind == "timestamp with time zone":
        return sql.Literal(f"{day.isoformat()} 00:00:00 {zone}")
    return sql.Literal(day.isoformat())


def month_bounds(conn: psycopg.Connection, table: str, day_column: str, month: dt.date,
                 zone: str) -> tuple[sql.Composable, sql.Composable]:
    """FROM and TO of `month`'s partition (local midnights in `zone`), for `table`'s day type."""
    return (_bound(conn, table, day_column, month, zone),
            _bound(conn, table, day_column, next_month(month), zone))


def day_in(day_expr: sql.Composable, month: dt.date) -> sql.Composable:
    return sql.SQL("{d} >= {a} and {d} < {b}").format(
        d=day_expr, a=sql.Literal(month), b=sql.Literal(next_month(month)))


def ensure_months(
    conn: psycopg.Connection, table: str, policy: TablePolicy, zone: str,
    months: Iterable[dt.date],
) -> tuple[list[str], list[dt.date]]:
    """Create missing month partitions that no row waits for in DEFAULT (idempotent); returns
    (the partitions created, the months whose rows sit in DEFAULT): those are made by the
    engine's partition route (lib/moves/partition.py), which moves the rows."""
    if not is_partitioned(conn, table):
        return [], []
    existing = month_partitions(conn, table)
    created, waiting = [], []
    for month in sorted({month_start(m) for m in months}):
        if month in existing:
            continue
        name = partition_name(table, month)
        made = yielding(f"{table}: creating partition {name}",
                        lambda m=month, n=name: _create_empty_month(conn, table, policy, zone,
                                                                    m, n))
        if made is None:
            waiting.append(month)
        elif made:
            created.append(name)
    return created, waiting


def _create_empty_month(conn: psycopg.Connection, table: str, policy: TablePolicy, zone: str,
                        month: dt.date, name: str) -> bool | None:
    """One empty month partition, in one transaction (None: rows of the month are in DEFAULT,
    False: it exists). The parent is locked first (waiting at most the session's
    lock_timeout): the app's inserts wait a few milliseconds instead of being routed to a
    DEFAULT partition whose constraint changes under them."""
    lo, hi = month_bounds(conn, table, policy.day_column, month, zone)
    with conn.transaction():
        conn.execute(sql.SQL("lock table {} in access exclusive mode").format(ident(table)))
        if month in month_partitions(conn, table):
            return False
        if rows_in_default(conn, table, policy, zone, month):
            return None
        conn.execute(sql.SQL(
            "create table {} partition of {} for values from ({}) to ({})").format(
            ident(name), ident(table), lo, hi))
        guard_partition(conn, table, name)
    return True


def rows_in_default(conn: psycopg.Connection, table: str, policy: TablePolicy, zone: str,
                    month: dt.date) -> bool:
    from .tables import day_expression

    default = f"{table}{DEFAULT_SUFFIX}"
    if not _exists(conn, default):
        return False
    day = day_expression(conn, default, policy, zone)
    return bool(conn.execute(sql.SQL("select exists (select 1 from {} where {})").format(
        ident(default), day_in(day, month))).fetchone()[0])


def guard_partition(conn: psycopg.Connection, table: str, partition: str) -> None:
    """A partition is a table of its own: on Supabase the API exposes it and the schema's
    default privileges grant it to `anon`. So it gets the parent's grants except those to
    PUBLIC and Supabase's client roles (what the default privileges added is taken back):
    the app reaches the rows through the parent, where PostgreSQL checks only the parent's
    grants and policies, and a client asking for a partition by name is refused. A parent
    with row level security gets it on each partition too, without policies."""
    same_grants(conn, table, partition, without=("public", *client_roles(conn)))
    row = conn.execute("select relrowsecurity, relforcerowsecurity from pg_class "
                       "where oid = to_regclass(%s)", (regclass(table),)).fetchone()
    if not row or not row[0]:
        return
    conn.execute(sql.SQL("alter table {} enable row level security").format(
        ident(partition)))
    if row[1]:
        conn.execute(sql.SQL("alter table {} force row level security").format(
            ident(partition)))


_ACL = """select coalesce(g.rolname, 'public'), a.privilege_type, a.is_grantable
            from pg_class c, aclexplode(coalesce(c.relacl, acldefault(
                   case when c.relkind = 'S' then 's' else 'r' end::"char", c.relowner))) a
            left join pg_roles g on g.oid = a.grantee
           where c.oid = to_regclass(%s) and a.grantee <> c.relowner"""


def same_grants(conn: psycopg.Connection, table: str, other: str, *,
                without: Iterable[str] = ()) -> None:
    """`other` gets exactly `table`'s privileges (but none for the roles in `without`): every
    grant it has is revoked, then `table`'s ACL is granted again (owner's own rights
    untouched). Tables and sequences (`schema.name` for a sequence)."""
    kind = sql.SQL("sequence" if conn.execute(
        "select relkind = 'S' from pg_class where oid = to_regclass(%s)",
        (regclass(other),)).fetchone()[0] else "table")
    skip = set(without)
    rows = conn.execute(_ACL, (regclass(table),)).fetchall()
    current = {r[0] for r in conn.execute(_ACL, (regclass(other),)).fetchall()}
    for role in sorted(current):
        conn.execute(sql.SQL("revoke all on {} {} from {}").format(kind, ident(other),
                                                                   _role(role)))
    for role, privilege, grantable in rows:
        if role in skip:
            continue
        conn.execute(sql.SQL("grant {} on {} {} to {}{}").format(
            sql.SQL(privilege), kind, ident(other), _role(role),
            sql.SQL(" with grant option") if grantable else sql.SQL("")))


def _role(name: str) -> sql.Composable:
    return sql.SQL("public") if name == "public" else sql.Identifier(name)


def _exists(conn: psycopg.Connection, name: str) -> bool:
    return bool(conn.execute("select to_regclass(%s) is not null",
                             (regclass(name),)).fetchone()[0])


def months_in_default(conn: psycopg.Connection, table: str, policy: TablePolicy,
                      zone: str) -> list[dt.date]:
    from .tables import day_expression, placeable

    default = f"{table}{DEFAULT_SUFFIX}"
    if not _exists(conn, default):
        return []
    day = day_expression(conn, default, policy, zone)
    rows = conn.execute(sql.SQL(  # a row dated ±infinity or BC stays in DEFAULT: no month
        "select distinct date_trunc('month', {})::date from {} where {}").format(
        day, ident(default), placeable(day))).fetchall()
    return [r[0] for r in rows]


def prepare_partitions(conn: psycopg.Connection, table: str, policy: TablePolicy, zone: str,
                       as_of: dt.date, months_ahead: int = 2
                       ) -> tuple[list[str], list[dt.date]]:
    """Nightly: partitions for this month and the next ones, and for months found in DEFAULT
    (those come back as waiting for the partition route: see `ensure_months`)."""
    if not is_partitioned(conn, table):
        return [], []
    months = [month_start(as_of)]
    for _ in range(months_ahead):
        months.append(next_month(months[-1]))
    return ensure_months(conn, table, policy, zone,
                         months + months_in_default(conn, table, policy, zone))


def drop_empty_months(conn: psycopg.Connection, table: str, before: dt.date) -> list[str]:
    """Month partitions that hold no row and end on or before `before` go: DETACH + DROP when
    the parent's lock can be had at once, else TRUNCATE (the space comes back either way and
    the empty partition is dropped another night). Emptiness is checked under the same locks
    as the drop, in one transaction: a row the app writes into an old month meanwhile is
    never dropped with it."""
    dropped = []
    for month, name in sorted(month_partitions(conn, table).items()):
        if next_month(month) > before:
            continue
        try:
            if _emptied(conn, table, name, drop=True):
                dropped.append(name)
            continue
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            pass
        try:
            _emptied(conn, table, name, drop=False)
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            continue
    return dropped


def _emptied(conn: psycopg.Connection, table: str, name: str, *, drop: bool) -> bool:
    """In one transaction: lock (parent first, like the app's statements, then the month),
    make sure the month is empty, then drop it (or truncate it). False when it holds rows."""
    with conn.transaction():
        if drop:
            conn.execute(sql.SQL("lock table {} in access exclusive mode").format(
                ident(table)))
        conn.execute(sql.SQL("lock table {} in access exclusive mode").format(
            ident(name)))
        if conn.execute(sql.SQL("select exists (select 1 from {})").format(
                ident(name))).fetchone()[0]:
            return False
        if drop:
            conn.execute(sql.SQL("alter table {} detach partition {}").format(
                ident(table), ident(name)))
            conn.execute(sql.SQL("drop table {}").format(ident(name)))
        else:
            conn.execute(sql.SQL("truncate {}").format(ident(name)))
    return True


def return_space(tier: PgTier, conn: psycopg.Connection, table: str, cutoff: dt.date,
                 rows_deleted: int) -> SpaceResult:
    """After moves of days before `cutoff`: drop emptied month partitions, or VACUUM a plain
    table and rewrite it when its live rows fit the free quota (vacuum.reclaim). `conn` must
    be in autocommit mode (VACUUM)."""
    result = SpaceResult(table)
    if is_partitioned(conn, table):
        result.dropped = drop_empty_months(conn, table, cutoff)
        return result
    result.reclaimed = reclaim(tier, conn, table, rows_deleted)
    result.rewritten = result.reclaimed.rewritten
    result.note = result.reclaimed.note
    return result


def reclaimable_bytes(tier: PgTier, conn: psycopg.Connection, table: str, due_rows: int,
                      cutoff: dt.date) -> int:
    """Bytes the next lifecycle run would return: for a partitioned table the month partitions
    that end before the cutoff (moves empty them); for a plain table its share of due rows
    (0 when the rewrite of the rows that stay would not fit). Nothing due → 0: the run then
    does not touch the table (empty month partitions made ahead, e.g. for tables nobody
    writes yet, stay)."""
    if not _exists(conn, table) or not due_rows:
        return 0
    if is_partitioned(conn, table):
        total = 0
        for month, name in month_partitions(conn, table).items():
            if next_month(month) <= cutoff:
                total += int(conn.execute("select pg_total_relation_size(%s::regclass)",
                                          (name,)).fetchone()[0])
        return total
    size = relation_bytes(conn, table)
    rows = conn.execute(sql.SQL("select count(*) from {}").format(
        ident(table))).fetchone()[0]
    if not rows or not due_rows:
        return 0
    staying = int(size * (rows - min(due_rows, rows)) / rows)
    if not rewrite_check(tier, staying, tier.size_bytes())[0]:
        return 0
    return int(size * due_rows / rows)
