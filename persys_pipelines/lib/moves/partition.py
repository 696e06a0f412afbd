"""DEFAULT → month partition: rows that landed in a table's DEFAULT partition get their month.

In one transaction on core, holding the table's lock and the parent's ACCESS EXCLUSIVE lock
(waited for at most the session's lock_timeout; in a conflict the route gives way and tries
again): a standalone table shaped like the parent (generated columns stay generated) takes the
month's rows by INSERT … SELECT, which fires nothing (the table has no trigger yet); the rows
leave DEFAULT with the person's triggers and foreign-key actions switched off for this
transaction only (`session_replication_role = replica`: a row that only changes partition
must not cascade to its children or reach an ON DELETE trigger); the fingerprints of both
sides must be equal; then the table is attached as the month's partition and gets exactly the
parent's grants and row level security. Where the role may not switch replication off (not a
superuser, no SET privilege on it) and the table has delete triggers or foreign keys pointing
at it, the month is refused before anything moves, naming what stops it: its rows stay in
DEFAULT, where moves and reads work as well.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..errors import MoveError
from ..pg import fingerprint, references
from ..pg import partitions as parts
from ..pg.catalog import delete_triggers, generated_columns, ident, table_columns
from ..pg.session import pin_session, yielding
from ..pg.tables import TableSpec, day_expression
from ..pg.tiers import PgTier
from .engine import Engine, Step, route

PARTITION = route("partition", "core", "core", points=("copied", "committed"))


@dataclass
class Partitioned:
    table: str
    created: list[str] = field(default_factory=list)
    rows: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # month → why


def from_default(engine: Engine, core: PgTier, spec: TableSpec,
                 months: list[dt.date]) -> Partitioned:
    """Give each of `months` its partition, moving its rows out of DEFAULT (module doc)."""
    out = Partitioned(spec.name)
    if not months:
        return out
    with engine.locked(spec.name) as locked, core.connect() as conn:
        pin_session(conn)
        locked.interrupt_open(PARTITION)
        for month in sorted(set(months)):
            step = locked.open(PARTITION, month, parts.next_month(month) - dt.timedelta(days=1))
            try:
                moved = yielding(f"{spec.name}: partition for {month:%Y-%m}",
                                 lambda m=month, s=step: _one(conn, spec, m, s))
            except MoveError as exc:
                step.failed(exc)
                out.refused[f"{month:%Y-%m}"] = str(exc)
                continue
            step.crash("committed")
            if moved is not None:
                step.done(rows=moved.rows, fingerprint=moved.text,
                          partition=parts.partition_name(spec.name, month))
                out.created.append(parts.partition_name(spec.name, month))
                out.rows += moved.rows
            else:
                step.done()
    return out


def _one(conn: psycopg.Connection, spec: TableSpec, month: dt.date,
         step: Step) -> fingerprint.Fingerprint | None:
    table, name = spec.name, parts.partition_name(spec.name, month)
    default = f"{table}{parts.DEFAULT_SUFFIX}"
    try:
        with conn.transaction():
            conn.execute(sql.SQL("lock table {} in access exclusive mode").format(ident(table)))
            if month in parts.month_partitions(conn, table):
                return None
            always = _switch_off_side_effects(conn, table)
            lo, hi = parts.month_bounds(conn, table, spec.policy.day_column, month, spec.zone)
            where = parts.day_in(day_expression(conn, default, spec.policy, spec.zone), month)
            conn.execute(sql.SQL(
                "create table {} (like {} including defaults including constraints "
                "including generated including storage including compression)").format(
                ident(name), ident(table)))
            columns = list(table_columns(conn, table))
            writable = [c for c in columns if c not in generated_columns(conn, table)]
            cols = sql.SQL(", ").join(map(sql.Identifier, writable))
            before = fingerprint.of_table(conn, default, columns, where)
            copied = conn.execute(sql.SQL("insert into {} ({c}) select {c} from {} where {}")
                                  .format(ident(name), ident(default), where, c=cols)).rowcount
            after = fingerprint.of_table(conn, name, columns)
            for name_ in always:  # ENABLE ALWAYS fires even in replica mode: off for this
                conn.execute(sql.SQL("alter table {} disable trigger {}").format(
                    ident(default), sql.Identifier(name_)))
            deleted = conn.execute(sql.SQL("delete from {} where {}").format(
                ident(default), where)).rowcount
            for name_ in always:  # … delete only, as it was before
                conn.execute(sql.SQL("alter table {} enable always trigger {}").format(
                    ident(default), sql.Identifier(name_)))
            if not before == after or copied != deleted or before.rows != copied:
                raise MoveError(f"{table} {month:%Y-%m}: the rows copied out of DEFAULT differ "
                                f"from the rows there ({before.text} vs {after.text}); "
                                "nothing changed")
            conn.execute(sql.SQL(
                "alter table {} attach partition {} for values from ({}) to ({})").format(
                ident(table), ident(name), lo, hi))
            parts.guard_partition(conn, table, name)
            step.crash("copied")
    except psycopg.errors.InsufficientPrivilege as exc:
        raise MoveError(f"{table} {month:%Y-%m}: {exc}".strip()) from None
    return before


def _switch_off_side_effects(conn: psycopg.Connection, table: str) -> list[str]:
    """Triggers and foreign-key actions off for this transaction (returns the DEFAULT
    partition's delete triggers set ENABLE ALWAYS, which replica mode does not stop: the
    caller switches them off around its DELETE), or, where the role may not do that, proof
    that there is nothing to switch off (else a MoveError naming it)."""
    default = f"{table}{parts.DEFAULT_SUFFIX}"
    try:
        with conn.transaction():  # a savepoint: SET LOCAL outlives it, a refusal does not
            conn.execute("set local session_replication_role = replica")
        return delete_triggers(conn, [default], always_only=True)
    except psycopg.errors.InsufficientPrivilege:
        pass
    triggers = delete_triggers(conn, [table, default])
    refs = [f"{r.name} (on delete {r.on_delete})" for r in references.incoming(conn, table)]
    what = ([f"the delete triggers {', '.join(triggers)}"] if triggers else []) + (
        [f"the foreign keys of {', '.join(refs)}"] if refs else [])
    if what:
        raise MoveError(
            f"{table}: rows in its DEFAULT partition cannot get their month partition: this "
            f"role may not switch off {' and '.join(what)} for the move (moving a row out of "
            "DEFAULT would fire them; switching them off needs session_replication_role). "
            "Connect core as a superuser or as Supabase's `postgres` role; meanwhile the "
            "rows stay in DEFAULT and move to main as usual")
    return []
