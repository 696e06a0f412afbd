"""`persys adopt partition TABLE`: a table the person already had becomes monthly-partitioned,
in a verified copy-and-swap, so its space comes back at once when months move (space.py).

The form is the one `persys setup` creates: partitioned by range of the day column, one
partition per month (bounds at local midnights of the configured zone), a DEFAULT partition,
primary key `(<key>, <day column>)`. Everything the table carries is kept (adopt_catalog):
grants, RLS (enabled/forced) and policies, triggers (and their enabled state), publication
membership, foreign keys out and in, identity and generated columns (sequence positions kept),
defaults, CHECK constraints, indexes, comments, owner, replica identity.

How the app's writes stay consistent: the whole conversion is **one transaction** that first
locks the table in EXCLUSIVE mode (the app still reads; its writes wait), copies, verifies row
fingerprint (pg/fingerprint.py) of the copy against the original, swaps the names,
rebuilds what the table carries and verifies again. Chosen over "copy, then catch up under a
short lock" because a personal table copies in about a second, and one transaction is what
makes a crash harmless: a kill -9 at any point rolls everything back, the original table is
untouched and in use, and running again starts afresh. A write the app issued meanwhile waits
and then lands in the new table (PostgreSQL looks the name up again after a lock wait). Every
lock is waited for at most the session's lock_timeout; in a conflict the conversion gives way
and retries (session.yielding), the app never fails.

The room it needs (the table with its indexes and TOAST, ×1.1, plus the empty partitions) is
computed first and the conversion is refused when that does not fit the core quota.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..calendar import month_start, next_month
from ..errors import MoveError, TierError, UsageError
from ..pg import fingerprint
from ..pg import partitions as space
from ..pg.catalog import ident, regclass, table_columns, table_exists
from ..pg.session import is_lock_conflict, pin_session, yielding
from ..pg.tables import TableSpec, day_expression
from ..pg.tiers import PgTier
from ..pg.vacuum import REWRITE_HEADROOM, mb, relation_bytes
from .adopt_catalog import Catalog, acl_grants, read_catalog
from .engine import Engine, route

ADOPT = route("adopt", "core", "core", points=("copied", "swapped"))
PAGE = 8192
NEW_SUFFIX = "_persys_new"
OLD_SUFFIX = "_persys_old"


@dataclass
class AdoptPlan:
    table: str
    day_column: str
    rows: int
    table_bytes: int
    need_bytes: int
    free_bytes: int | None  # None: core has no quota
    months: list[dt.date]
    catalog: Catalog
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        out = list(self.catalog.problems)
        if self.free_bytes is not None and self.need_bytes > self.free_bytes:
            out.append(f"the conversion needs {mb(self.need_bytes)} free in core (the table "
                       f"with indexes and TOAST, {mb(self.table_bytes)}, ×{REWRITE_HEADROOM}, "
                       f"plus {len(self.months) + 1} partitions); the quota has "
                       f"{mb(self.free_bytes)}. Move its old days out first "
                       f"(`persys lifecycle run --table {self.table}`), then adopt")
        return out

    def lines(self) -> list[str]:
        free = "no quota" if self.free_bytes is None else f"{mb(self.free_bytes)} free"
        span = (f"{self.months[0]:%Y-%m}..{self.months[-1]:%Y-%m}" if self.months else "none")
        out = [f"adopt partition {self.table}: {self.rows:,} rows, {mb(self.table_bytes)} "
               f"(indexes and TOAST included)",
               f"  headroom: needs {mb(self.need_bytes)}, core has {free}",
               f"  partitions: by month of {self.day_column}, {len(self.months)} months "
               f"({span}) and {self.table}{space.DEFAULT_SUFFIX}",
               "  writes wait while it copies (EXCLUSIVE lock, one transaction); reads go on"]
        for what, names in self.catalog.preserved().items():
            if names:
                out.append(f"  keeps {what}: {', '.join(names)}")
        out += [f"  note: {n}" for n in self.notes]
        out += [f"  REFUSED: {p}" for p in self.problems]
        return out


@dataclass
class Adopted:
    plan: AdoptPlan
    fingerprint: fingerprint.Fingerprint
    seconds_locked: float
    partitions: list[str]
    bytes_after: int


def plan_adoption(spec: TableSpec, core: PgTier, conn: psycopg.Connection,
                  as_of: dt.date) -> AdoptPlan:
    """What `adopt partition` would do, and the problems that refuse it (nothing changes)."""
    table = spec.name
    if not table_exists(conn, table):
        raise TierError(f"adopt partition {table}: core has no table public.{table}")
    if space.is_partitioned(conn, table):
        raise UsageError(f"adopt partition {table}: it is already partitioned; nothing to do")
    policy = spec.policy
    cat = read_catalog(conn, table, policy.day_column)
    months: list[dt.date] = []
    rows = conn.execute(sql.SQL("select count(*) from {}").format(
        ident(table))).fetchone()[0]
    if not cat.problems:
        months = _months(conn, spec, as_of)
    size = relation_bytes(conn, table)
    n_idx = 1 + len(cat.indexes) + len(cat.uniques)
    need = int(REWRITE_HEADROOM * size + (len(months) + 1) * PAGE * (1 + 2 * n_idx))
    free = None if core.quota_bytes is None else max(0, core.quota_bytes - core.size_bytes())
    plan = AdoptPlan(table, policy.day_column, rows, size, need, free, months, cat)
    for pub in cat.pubs_not_via_root:
        plan.notes.append(
            f"publication {pub} publishes a partitioned table's changes under each month's "
            f"name ({table}_pYYYY_MM) unless `alter publication {pub} set "
            "(publish_via_partition_root = true)`; realtime subscribers of "
            f"{table} need that")
    return plan


def _months(conn: psycopg.Connection, spec: TableSpec, as_of: dt.date) -> list[dt.date]:
    """Months holding rows, up to this month and the next two (as the nightly run prepares)."""
    table = spec.name
    day = day_expression(conn, table, spec.policy, spec.zone)
    found = {r[0] for r in conn.execute(sql.SQL(
        "select distinct date_trunc('month', {})::date from {}").format(
        day, ident(table))).fetchall()}
    month = month_start(as_of)
    for _ in range(3):
        found.add(month)
        month = next_month(month)
    return sorted(found)


def adopt_partition(engine: Engine, core: PgTier, spec: TableSpec, as_of: dt.date) -> Adopted:
    """Convert the table (module docstring); refused with the reasons when the plan has any."""
    table = spec.name
    with engine.locked(table) as locked:  # no mover of this table meanwhile
        locked.interrupt_open(ADOPT)
        with core.connect() as conn:
            pin_session(conn)
            plan = plan_adoption(spec, core, conn, as_of)
            conn.rollback()
            if plan.problems:
                raise TierError(f"adopt partition {table} refused:\n  - "
                                + "\n  - ".join(plan.problems))
            step = locked.open(ADOPT, None, None)

            def attempt() -> Adopted:
                try:
                    return _convert(spec, conn, plan, as_of)
                except psycopg.Error as exc:
                    conn.rollback()
                    if is_lock_conflict(exc):
                        raise
                    why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    if exc.diag.message_detail:
                        why += f": {exc.diag.message_detail}"
                    raise TierError(f"adopt partition {table}: PostgreSQL refused a step of "
                                    f"the conversion ({why}); nothing changed, {table} is "
                                    "as it was") from None
                except BaseException:
                    conn.rollback()
                    raise

            try:
                done = yielding(f"adopt partition {table}", attempt)
            except Exception as exc:
                step.failed(exc)
                raise
        with core.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("analyze {}").format(ident(table)))
            done.bytes_after = relation_bytes(conn, table)
        step.done(rows=done.fingerprint.rows, bytes_=plan.table_bytes,
                  fingerprint=done.fingerprint.text, partitions=done.partitions,
                  seconds_locked=round(done.seconds_locked, 3), bytes_before=plan.table_bytes,
                  bytes_after=done.bytes_after, preserved=plan.catalog.preserved())
    return done


def _convert(spec: TableSpec, conn: psycopg.Connection, plan: AdoptPlan,
             as_of: dt.date) -> Adopted:
    """The one transaction (module docstring). Raises (and the caller rolls back) on any
    difference; commits only when the swapped table holds exactly the original rows."""
    table = plan.table
    t, new, old = (sql.Identifier(n) for n in (table, table + NEW_SUFFIX, table + OLD_SUFFIX))
    conn.execute(sql.SQL("lock table {} in exclusive mode").format(t))
    locked_at = time.monotonic()
    cat = read_catalog(conn, table, plan.day_column)  # again, under the lock
    if cat.problems:
        raise TierError(f"adopt partition {table} refused:\n  - " + "\n  - ".join(cat.problems))
    months = _months(conn, spec, as_of)
    columns = list(table_columns(conn, table))
    before = fingerprint.of_table(conn, table, columns)
    x = conn.execute
    x(sql.SQL("create table {} (like {} including all excluding indexes) "
              "partition by range ({})").format(new, t, sql.Identifier(plan.day_column)))
    x(sql.SQL("alter table {} owner to {}").format(new, sql.Identifier(cat.owner)))
    partitions = []
    for month in months:
        name = space.partition_name(table, month)
        lo, hi = space.month_bounds(conn, table, plan.day_column, month, spec.zone)
        x(sql.SQL("create table {} partition of {} for values from ({}) to ({})").format(
            sql.Identifier(name), new, lo, hi))
        partitions.append(name)
    partitions.append(table + space.DEFAULT_SUFFIX)
    x(sql.SQL("create table {} partition of {} default").format(
        sql.Identifier(partitions[-1]), new))
    for name in partitions:
        x(sql.SQL("alter table {} owner to {}").format(sql.Identifier(name),
                                                        sql.Identifier(cat.owner)))
    stored = [r[0] for r in conn.execute(  # generated columns are computed by the new table
        "select attname from pg_attribute where attrelid = %s and attnum > 0 and not "
        "attisdropped and attgenerated = '' order by attnum", (cat.oid,)).fetchall()]
    cols = sql.SQL(", ").join(map(sql.Identifier, stored))
    x(sql.SQL("insert into {} ({c}) overriding system value select {c} from {}").format(
        new, t, c=cols))
    copied = fingerprint.of_table(conn, table + NEW_SUFFIX, columns)
    if copied != before:
        raise MoveError(f"adopt partition {table}: the copy holds {copied.text}, the table "
                        f"{before.text} (rows:checksum); nothing changed")
    ADOPT.crash("copied")
    new_seqs = _carry_sequences(conn, cat, table + NEW_SUFFIX)
    for child, name, _ in cat.fks_in:
        x(sql.SQL("alter table {} drop constraint {}").format(sql.SQL(child),
                                                               sql.Identifier(name)))
    x(sql.SQL("alter table {} rename to {}").format(t, old))
    x(sql.SQL("alter table {} rename to {}").format(new, t))
    x(sql.SQL("drop table {}").format(old))
    _rebuild(conn, cat, partitions)
    for seq, name in new_seqs.items():
        x(sql.SQL("alter sequence {} rename to {}").format(sql.SQL(seq), sql.Identifier(name)))
    after = fingerprint.of_table(conn, table, columns)
    if after != before:
        raise MoveError(f"adopt partition {table}: after the swap the table holds "
                        f"{after.text}, before {before.text}; nothing changed")
    ADOPT.crash("swapped")
    conn.commit()
    return Adopted(plan, after, time.monotonic() - locked_at, partitions, 0)


def _carry_sequences(conn: psycopg.Connection, cat: Catalog, new: str) -> dict[str, str]:
    """Identity sequences: the new ones continue where the old stopped and get their grants;
    serial sequences move to the new table. Returns new sequence → the old one's name."""
    renames = {}
    for col, old_seq in cat.identity.items():
        new_seq = conn.execute("select pg_get_serial_sequence(%s, %s)",
                               (regclass(new), col)).fetchone()[0]
        last, called = conn.execute(sql.SQL("select last_value, is_called from {}").format(
            sql.SQL(old_seq))).fetchone()
        conn.execute("select setval(%s, %s, %s)", (new_seq, last, called))
        for _, stmt in acl_grants(conn, sql.SQL("sequence {}").format(sql.SQL(new_seq)),
                                  "select relacl from pg_class where oid = %(s)s::regclass "
                                  "and relacl is not null", {"s": old_seq}):
            conn.execute(stmt)
        renames[new_seq] = old_seq.split(".")[-1].strip('"')
    for col, seq in cat.owned_sequences.items():
        conn.execute(sql.SQL("alter sequence {} owned by {}.{}").format(
            sql.SQL(seq), sql.Identifier(new), sql.Identifier(col)))
    return renames


def _rebuild(conn: psycopg.Connection, cat: Catalog, partitions: list[str]) -> None:
    """What the table carried, on the new table now named like the old one."""
    t = ident(cat.table)
    x = conn.execute
    x(sql.SQL("alter table {} add constraint {} primary key ({})").format(
        t, sql.Identifier(cat.pk_name), sql.SQL(", ").join(map(sql.Identifier, cat.new_key))))
    for name, definition in cat.uniques + cat.fks_out:
        x(sql.SQL("alter table {} add constraint {} {}").format(
            t, sql.Identifier(name), sql.SQL(definition)))
    for name, ddl, comment in cat.indexes:
        x(sql.SQL(ddl))
        if comment:
            x(sql.SQL("comment on index {} is {}").format(sql.Identifier(name),
                                                         sql.Literal(comment)))
    for name, ddl, enabled in cat.triggers:
        x(sql.SQL(ddl))
        if enabled == "D":
            x(sql.SQL("alter table {} disable trigger {}").format(t, sql.Identifier(name)))
        elif enabled in ("R", "A"):
            mode = "replica" if enabled == "R" else "always"
            x(sql.SQL("alter table {} enable {} trigger {}").format(
                t, sql.SQL(mode), sql.Identifier(name)))
    if cat.rls:
        x(sql.SQL("alter table {} enable row level security").format(t))
    if cat.force_rls:
        x(sql.SQL("alter table {} force row level security").format(t))
    for name in partitions:
        space.guard_partition(conn, cat.table, name)
    for stmt in cat.policies + cat.grants:
        x(stmt)
    for pub in cat.publications:
        x(sql.SQL("alter publication {} add table {}").format(sql.Identifier(pub), t))
    if cat.replica_identity in ("f", "n"):
        mode = sql.SQL("full" if cat.replica_identity == "f" else "nothing")
        for name in [cat.table, *partitions]:
            x(sql.SQL("alter table {} replica identity {}").format(sql.Identifier(name), mode))
    if cat.comment is not None:
        x(sql.SQL("comment on table {} is {}").format(t, sql.Literal(cat.comment)))
    for child, name, definition in cat.fks_in:
        x(sql.SQL("alter table {} add constraint {} {}").format(
            sql.SQL(child), sql.Identifier(name), sql.SQL(definition)))
