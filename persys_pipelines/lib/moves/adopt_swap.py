"""The conversion transaction of `adopt partition` (adopt.py): copy into frozen month
partitions, build, verify, then swap the names in a short window.

One transaction on core:
1. `LOCK … IN EXCLUSIVE MODE` on the table: the app's writes wait, its reads go on. While a
   SERIALIZABLE transaction that read the table is still tracked (SIREAD locks), the
   conversion gives way and tries again: its conflicts could not be tracked across the swap.
2. The new partitioned table and its month partitions are created, owned like the table and
   granted exactly its grants (partitions.same_grants: what the schema's default privileges
   added is taken back; partitions get none for PUBLIC and the client roles); the rows go in
   by one pass over the table, each month's with `COPY … FREEZE` (relay.copy_split). Frozen
   rows are visible to every snapshot, so a REPEATABLE READ or SERIALIZABLE transaction whose
   snapshot is older than the conversion still finds them after the swap: its UPDATE or
   DELETE changes the rows it means instead of reporting 0 rows. (A transaction that had
   read or written the table before holds a lock the swap waits for.)
3. The fingerprint of the copy must equal the table's; the primary key, unique constraints
   and indexes are built under temporary names, the table's own foreign keys are added to the
   copy and checked against its rows (a partitioned table cannot take one NOT VALID; this
   holds the referenced tables' writes from here to the commit); identity sequences continue
   where the old ones stopped, with exactly the old ones' grants.
4. The swap, the only step that stops reads: ACCESS EXCLUSIVE (asked for with a short lock
   wait, retried in a savepoint while writes stay stopped, so a reader never queues behind
   it for long), drop the foreign keys into the table, rename, drop the old table (which
   takes ACCESS EXCLUSIVE on the tables its foreign keys reference, e.g. auth.users: their
   reads wait for the swap too), rename the temporary names, re-create triggers, rules,
   policies, column grants, publication membership, replica identity, comment, and the
   foreign keys into the table NOT VALID (no scan). An app transaction sitting idle on one of
   those tables would stall the swap: the conversion gives way before it locks anything and
   names it (`_check_nobody_idles_on`).
5. Commit; then the foreign keys into the table are validated one by one, which takes no lock
   that stops the app (the rows are the ones they held for before). Their names are in the
   ledger first, so a run killed before it validated them validates them next time
   (adopt.finish_left_over).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..errors import MoveError, TierError
from ..pg import fingerprint
from ..pg import partitions as space
from ..pg.catalog import constraint_validated, ident, regclass, stored_columns, table_columns
from .adopt_catalog import Catalog, read_catalog
from .engine import Step
from .relay import copy_split

NEW_SUFFIX = "_persys_new"
OLD_SUFFIX = "_persys_old"
TEMP_PREFIX = "persys_tmp_"
SWAP_LOCK_WAIT = "100ms"  # readers queue behind a waiting ACCESS EXCLUSIVE at most this long
SWAP_TRIES_S = 3.0  # then the whole conversion gives way (session.yielding) and starts again


class GiveWay(MoveError):
    """Something of the app's must end first (the conversion rolls back and tries again)."""


@dataclass
class Swapped:
    fingerprint: fingerprint.Fingerprint
    partitions: list[str]
    seconds_writes: float  # from the EXCLUSIVE lock to the commit (and the validations)
    seconds_reads: float  # from asking for ACCESS EXCLUSIVE (the try that got it) to the commit
    swap_tries: int
    to_validate: list[tuple[str, str]]  # (relation as regclass text, constraint name)


def convert(conn: psycopg.Connection, cat0: Catalog,
            months_of: Callable[[psycopg.Connection], list[dt.date]], zone: str,
            step: Step) -> Swapped:
    """The one transaction (module doc); the caller rolls back on any exception."""
    table, day = cat0.table, cat0.day_column
    t, new = ident(table), ident(table + NEW_SUFFIX)
    x = conn.execute
    _check_nobody_idles_on(conn, cat0)
    x(sql.SQL("lock table {} in exclusive mode").format(t))
    locked_at = time.monotonic()
    readers = x("select count(distinct pid) from pg_locks where mode = 'SIReadLock' and "
                "relation = %s and database = (select oid from pg_database "
                "where datname = current_database())", (cat0.oid,)).fetchone()[0]
    if readers:
        raise GiveWay(f"{table}: {readers} SERIALIZABLE transaction(s) that read it are still "
                      "tracked; the conversion waits until they are done")
    cat = read_catalog(conn, table, day)  # again, under the lock
    if cat.problems:
        raise TierError(f"adopt partition {table} refused:\n  - " + "\n  - ".join(cat.problems))
    months = months_of(conn)
    columns = list(table_columns(conn, table))
    before = fingerprint.of_table(conn, table, columns)
    x(sql.SQL("create table {} (like {} including all excluding indexes) "
              "partition by range ({})").format(new, t, sql.Identifier(day)))
    x(sql.SQL("alter table {} owner to {}").format(new, sql.Identifier(cat.owner)))
    space.same_grants(conn, table, table + NEW_SUFFIX)
    partitions, bounds = _partitions(conn, cat, new, months, zone)
    stored = stored_columns(conn, table)  # generated columns are computed by the new table
    bucket = sql.SQL("coalesce(nullif(least(width_bucket({d}, array[{b}]), {n}), 0), {n}) - 1"
                     ).format(d=sql.Identifier(day), b=sql.SQL(", ").join(bounds),
                              n=sql.Literal(len(partitions)))
    copy_split(conn, sql.SQL("select {}, {} from {}").format(
        bucket, sql.SQL(", ").join(map(sql.Identifier, stored)), t),
        [ident(p) for p in partitions], stored, freeze=True)
    copied = fingerprint.of_table(conn, table + NEW_SUFFIX, columns)
    if copied != before:
        raise MoveError(f"adopt partition {table}: the copy holds {copied.text}, the table "
                        f"{before.text} (rows:checksum); nothing changed")
    step.crash("copied")
    temp = _build(conn, cat, new)
    for key in cat.fks_out:  # checked against the copy's rows now, under our own lock
        conn.execute(sql.SQL("alter table {} add constraint {} {}").format(
            new, sql.Identifier(key.name), sql.SQL(_pointed_at_copy(conn, cat, key))))
    new_seqs = _carry_sequences(conn, cat, table + NEW_SUFFIX)
    to_validate = [(k.child, k.name) for k in cat.fks_in
                   if k.valid and not k.child_partitioned]
    step.note(validate=to_validate, fingerprint=before.text)  # main's round trip: not in the swap
    asked, tries = _swap(conn, cat, temp, new_seqs, partitions)
    if x("select to_regclass(%s)::oid <> %s", (regclass(table), cat.oid)).fetchone()[0] \
            is not True:
        raise MoveError(f"adopt partition {table}: after the swap the name is not the new "
                        "table's; nothing changed")
    step.crash("swapped")
    # The commit does not wait for its WAL to reach the disk (tens of ms for a big copy, with
    # reads waiting): an app write acknowledged after it flushes it anyway (WAL is in order),
    # and a server crash before that loses the whole conversion, never a part of it.
    x("select set_config('synchronous_commit', 'off', true)")
    conn.commit()
    done = time.monotonic()
    return Swapped(before, partitions, done - locked_at, done - asked, tries, to_validate)


def _check_nobody_idles_on(conn: psycopg.Connection, cat: Catalog) -> None:
    """The swap takes ACCESS EXCLUSIVE on the table, on the tables its foreign keys reference
    (dropping the old table drops their triggers) and on the tables referencing it. A
    transaction of the app that holds one of them and sits idle would make the swap wait
    while the app's writes already wait for the conversion: give way before copying
    anything, and say who."""
    rows = conn.execute(
        """select distinct a.pid, c.oid::regclass::text, a.application_name,
                  to_char(a.xact_start, 'HH24:MI:SS TZ')
             from pg_locks l join pg_stat_activity a on a.pid = l.pid
             join pg_class c on c.oid = l.relation
            where l.granted and l.pid <> pg_backend_pid()
              and a.state like 'idle in transaction%%'
              and l.relation = any(array[%s::oid] || array(
                  select to_regclass(r)::oid from unnest(%s::text[]) r))
            order by 1""",
        (cat.oid, [k.ref_table for k in cat.fks_out] + [k.child for k in cat.fks_in])
    ).fetchall()
    if rows:
        who = "; ".join(f"pid {pid} ({app or 'no application_name'}, open since {since}) "
                        f"holds {rel}" for pid, rel, app, since in rows)
        raise GiveWay(f"the swap needs {cat.table} and the tables its foreign keys join "
                      f"alone for a moment, and a transaction of the app sits idle holding "
                      f"one: {who}; it waits for it to end (or end it: select "
                      f"pg_terminate_backend({rows[0][0]}))")


def _partitions(conn: psycopg.Connection, cat: Catalog, new: sql.Composable,
                months: list, zone: str) -> tuple[list[str], list[sql.Composable]]:
    """The month partitions and DEFAULT (last), guarded, and the month bounds in order."""
    partitions, bounds = [], []
    for month in months:
        name = space.partition_name(cat.table, month)
        lo, hi = space.month_bounds(conn, cat.table, cat.day_column, month, zone)
        conn.execute(sql.SQL("create table {} partition of {} for values from ({}) to ({})")
                     .format(ident(name), new, lo, hi))
        partitions.append(name)
        bounds.append(lo)
        if month == months[-1]:
            bounds.append(hi)
    partitions.append(cat.table + space.DEFAULT_SUFFIX)
    conn.execute(sql.SQL("create table {} partition of {} default").format(
        ident(partitions[-1]), new))
    for name in partitions:
        conn.execute(sql.SQL("alter table {} owner to {}").format(ident(name),
                                                                  sql.Identifier(cat.owner)))
        space.guard_partition(conn, cat.table, name)  # the old table's grants and RLS
    kind = table_columns(conn, cat.table)[cat.day_column]  # read_catalog checked it exists
    typed = [sql.SQL("{}::{}").format(b, sql.SQL(kind)) for b in bounds]
    return partitions, typed


def _build(conn: psycopg.Connection, cat: Catalog, new: sql.Composable) -> dict[str, str]:
    """Primary key, unique constraints and indexes on the copy, under temporary names (the
    old table still holds the real ones); returns temporary name → real name."""
    temp: dict[str, str] = {}

    def name_for(real: str) -> str:
        name = f"{TEMP_PREFIX}{len(temp)}"
        temp[name] = real
        return name

    conn.execute(sql.SQL("alter table {} add constraint {} primary key ({})").format(
        new, sql.Identifier(name_for(cat.pk_name)),
        sql.SQL(", ").join(map(sql.Identifier, cat.new_key))))
    for name, definition in cat.uniques:
        conn.execute(sql.SQL("alter table {} add constraint {} {}").format(
            new, sql.Identifier(name_for(name)), sql.SQL(definition)))
    on = conn.execute("select quote_ident('public') || '.' || quote_ident(%s)",
                      (cat.table + NEW_SUFFIX,)).fetchone()[0]
    for index in cat.indexes:
        conn.execute(sql.SQL(index.on(on, name_for(index.name))))
    return temp


def _pointed_at_copy(conn: psycopg.Connection, cat: Catalog, key) -> str:
    """A foreign key's definition; one that references the table itself references the copy
    (it follows the copy's renames)."""
    if not key.self_reference:
        return key.definition
    shown = conn.execute("select %s::regclass::text", (cat.oid,)).fetchone()[0]
    copy = conn.execute("select quote_ident('public') || '.' || quote_ident(%s)",
                        (cat.table + NEW_SUFFIX,)).fetchone()[0]
    head = f"REFERENCES {shown}("
    if head not in key.definition:
        raise MoveError(f"foreign key {key.name}: unexpected definition {key.definition!r}")
    return key.definition.replace(head, f"REFERENCES {copy}(", 1)


def _carry_sequences(conn: psycopg.Connection, cat: Catalog, new: str) -> dict[str, str]:
    """Identity sequences: the new ones continue where the old stopped and get exactly their
    grants; serial sequences move to the new table. Returns new sequence → the old name."""
    renames = {}
    for col, old_seq in cat.identity.items():
        new_seq = conn.execute("select pg_get_serial_sequence(%s, %s)",
                               (regclass(new), col)).fetchone()[0]
        last, called = conn.execute(sql.SQL("select last_value, is_called from {}").format(
            sql.SQL(old_seq))).fetchone()
        conn.execute("select setval(%s, %s, %s)", (new_seq, last, called))
        space.same_grants(conn, _unquoted(old_seq), _unquoted(new_seq))
        renames[new_seq] = _unquoted(old_seq).split(".", 1)[1]
    for col, seq in cat.owned_sequences.items():
        conn.execute(sql.SQL("alter sequence {} owned by {}.{}").format(
            sql.SQL(seq), ident(new), sql.Identifier(col)))
    return renames


def _unquoted(seq: str) -> str:
    """`public.journal_id_seq` from pg_get_serial_sequence's quoted text."""
    schema, _, name = seq.partition(".")
    return f"{schema.strip(chr(34))}.{name.strip(chr(34))}"


def _swap(conn: psycopg.Connection, cat: Catalog, temp: dict[str, str],
          new_seqs: dict[str, str], partitions: list[str]) -> tuple[float, int]:
    """Step 4 of the module doc, in a savepoint retried while a reader holds the table;
    returns when the successful try asked for the lock, and the number of tries."""
    deadline = time.monotonic() + SWAP_TRIES_S
    for tries in range(1, 10_000):
        asked = time.monotonic()
        try:
            with conn.transaction():
                conn.execute("select set_config('lock_timeout', %s, true)", (SWAP_LOCK_WAIT,))
                conn.execute(sql.SQL("lock table {} in access exclusive mode").format(
                    ident(cat.table)))
                _rename_and_rebuild(conn, cat, temp, new_seqs, partitions)
            return asked, tries
        except psycopg.errors.LockNotAvailable:
            if time.monotonic() > deadline:
                raise GiveWay(f"the swap could not have {cat.table} and the tables its "
                              f"foreign keys join alone for {SWAP_TRIES_S:g} s") from None
            time.sleep(0.05)
    raise MoveError("unreachable")


def _rename_and_rebuild(conn: psycopg.Connection, cat: Catalog, temp: dict[str, str],
                        new_seqs: dict[str, str], partitions: list[str]) -> None:
    t = ident(cat.table)
    x = conn.execute
    for key in cat.fks_in:
        x(sql.SQL("alter table {} drop constraint {}").format(sql.SQL(key.child),
                                                               sql.Identifier(key.name)))
    x(sql.SQL("alter table {} rename to {}").format(t, sql.Identifier(cat.table + OLD_SUFFIX)))
    x(sql.SQL("alter table {} rename to {}").format(ident(cat.table + NEW_SUFFIX),
                                                     sql.Identifier(cat.table)))
    x(sql.SQL("drop table {}").format(ident(cat.table + OLD_SUFFIX)))
    constraints = {cat.pk_name, *(n for n, _ in cat.uniques)}
    for tmp, real in temp.items():
        if real in constraints:
            x(sql.SQL("alter table {} rename constraint {} to {}").format(
                t, sql.Identifier(tmp), sql.Identifier(real)))
        else:
            x(sql.SQL("alter index {} rename to {}").format(ident(tmp), sql.Identifier(real)))
    for index in cat.indexes:
        if index.comment:
            x(sql.SQL("comment on index {} is {}").format(ident(index.name),
                                                         sql.Literal(index.comment)))
    for seq, name in new_seqs.items():
        x(sql.SQL("alter sequence {} rename to {}").format(sql.SQL(seq), sql.Identifier(name)))
    _rebuild(conn, cat, partitions)
    for key in cat.fks_in:
        later = key.valid and not key.child_partitioned
        x(sql.SQL("alter table {} add constraint {} {}{}").format(
            sql.SQL(key.child), sql.Identifier(key.name), sql.SQL(key.definition),
            sql.SQL(" not valid") if later else sql.SQL("")))


def _rebuild(conn: psycopg.Connection, cat: Catalog, partitions: list[str]) -> None:
    """What the table carried besides keys and indexes, on the new table now named like the
    old one (the deparsed statements name it)."""
    t = ident(cat.table)
    x = conn.execute
    for name, ddl, enabled in cat.triggers:
        x(sql.SQL(ddl))
        _enable(conn, t, "trigger", name, enabled)
    for name, ddl, enabled in cat.rules:
        x(sql.SQL(ddl))
        _enable(conn, t, "rule", name, enabled)
    if cat.rls:
        x(sql.SQL("alter table {} enable row level security").format(t))
    if cat.force_rls:
        x(sql.SQL("alter table {} force row level security").format(t))
    for stmt in cat.policies + cat.grants:
        x(stmt)
    for pub in cat.publications:
        x(sql.SQL("alter publication {} add table {}").format(sql.Identifier(pub), t))
    if cat.replica_identity in ("f", "n"):
        mode = sql.SQL("full" if cat.replica_identity == "f" else "nothing")
        for name in [cat.table, *partitions]:
            x(sql.SQL("alter table {} replica identity {}").format(ident(name), mode))
    if cat.comment is not None:
        x(sql.SQL("comment on table {} is {}").format(t, sql.Literal(cat.comment)))


def _enable(conn: psycopg.Connection, t: sql.Composable, what: str, name: str,
            enabled: str) -> None:
    """A trigger's or rule's enabled state as it was (O: the default, nothing to do)."""
    mode = {"D": "disable", "R": "enable replica", "A": "enable always"}.get(enabled)
    if mode:
        conn.execute(sql.SQL("alter table {} {} {} {}").format(
            t, sql.SQL(mode), sql.SQL(what), sql.Identifier(name)))


def validate(conn: psycopg.Connection, keys: list[tuple[str, str]]) -> list[str]:
    """VALIDATE the foreign keys (relation as regclass text, name) the swap re-created NOT
    VALID, each in its own transaction (SHARE UPDATE EXCLUSIVE: the app's reads and writes
    go on); returns the ones checked. `conn` in autocommit."""
    done = []
    for relation, name in keys:
        validated = constraint_validated(conn, relation, name)
        if validated is None:
            continue
        if not validated:
            conn.execute(sql.SQL("alter table {} validate constraint {}").format(
                sql.SQL(relation), sql.Identifier(name)))
        done.append(name)
    return done
