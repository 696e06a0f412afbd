"""backup→tier: a table's rows given back from a backup, without losing what happened since.

Per table, in one transaction holding the table's lock: the backup's rows go into a scratch
table (typed as the backup records them) and their fingerprint is proven equal to the one
taken with the backup. Then, by default (merge), a row of the backup whose key the table does
not hold is inserted, unless another tier holds that key (it moved on since the backup: core
→ main → archive) or the row is past the table's delete_days (`kept_by_policy`: retention let
it go since; counted), and rows whose key the table holds with other values are only reported;
nothing is deleted. `replace` (the CLI's `--replace --yes`) makes the table equal to the
backup instead: rows written since the backup are deleted and exist nowhere else afterwards.
The ledger entry commits with the rows. A crash leaves the table as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..archive import format as fmt
from ..archive.crypto import Keyring
from ..archive.rows import load_rows
from ..archive.stores import Store
from ..backup.snapshot import Backup, BackupError
from ..backup.verify import load_table
from ..calendar import cutoff
from ..pg import fingerprint
from ..pg.catalog import generated_columns, ident, primary_key, table_exists
from ..pg.tables import TableSpec, day_expression
from ..pg.tiers import PgTier
from .engine import Engine, route

BACKUP_RESTORE = route("backup_restore", "backup", "tier",
                       points=("loaded", "before_commit", "after_commit"))
SCRATCH = "persys_backup_scratch"
SHOWN = 5  # differing keys named per table
# table, keys (as rows of key values) → the keys another tier or the archive holds
Elsewhere = Callable[[str, list[str], list[tuple]], set[tuple]]
# (session, table) → what the table's retention still keeps, as a condition on a row's own
# columns (None: it keeps everything)
Kept = Callable[[psycopg.Connection, str], sql.Composable | None]


@dataclass(frozen=True)
class Restored:
    table: str
    rows: int  # rows in the backup
    inserted: int
    deleted: int = 0  # replace only
    elsewhere: int = 0  # missing here, but held by another tier: not inserted
    differing: int = 0  # same key here with other values: reported, kept as they are
    examples: list[str] = field(default_factory=list)
    fingerprint: str = ""
    past_retention: int = 0  # missing here, but older than delete_days: not given back


def restore(engine: Engine, tier: PgTier, store: Store, ring: Keyring, backup: Backup,
            tables: list[str] | None = None, *, elsewhere: Elsewhere | None = None,
            kept: Kept | None = None, replace: bool = False, into: PgTier | None = None
            ) -> list[Restored]:
    """Give back the rows of `tables` (default all of the backup's) into `tier` (or `into`,
    another database, where a missing table is created from the backup's types); a merge
    gives back no row retention has since let go (`kept`)."""
    entries = backup.manifest["tables"]
    names = tables or list(entries)
    unknown = [t for t in names if t not in entries]
    if unknown:
        why = backup.refused.get(unknown[0])
        raise BackupError(f"backup {backup.id} of {backup.tier} has no table {unknown[0]!r}"
                          + (f" (it was refused: {why})" if why else "")
                          + f"; it holds {', '.join(entries) or 'none'}")
    target = into or tier
    out = []
    for table in names:
        data = fmt.read_parquet(load_table(store, ring, entries[table]))
        with engine.locked(table) as locked, target.connect() as conn:
            step = locked.open(BACKUP_RESTORE, None, None, conn=None, backup=backup.id,
                               tier=target.name, mode="replace" if replace else "merge")
            try:
                done = _restore_table(conn, table, entries[table], data, replace,
                                      None if into else elsewhere, None if into else kept)
                step.crash("before_commit")
                conn.commit()
            except BaseException as exc:
                conn.rollback()
                step.failed(exc)
                raise
            step.done(rows=done.inserted, fingerprint=done.fingerprint, deleted=done.deleted,
                      elsewhere=done.elsewhere, differing=done.differing,
                      past_retention=done.past_retention)
            step.crash("after_commit")
            out.append(done)
    return out


def kept_by_policy(specs: dict[str, TableSpec], today: dt.date) -> Kept:
    """What each table's `delete_days` still keeps as of `today`: a merge gives back no row
    retention has let go since the backup (tables without a policy or kept forever: all; a
    row without a day: kept)."""

    def kept(conn: psycopg.Connection, table: str) -> sql.Composable | None:
        spec = specs.get(table)
        cut = cutoff(today, spec.policy.delete_days) if spec else None
        if spec is None or cut is None:
            return None
        return sql.SQL("coalesce({} >= {}, true)").format(
            day_expression(conn, table, spec.policy, spec.zone), sql.Literal(cut))

    return kept


def _want(entry: dict) -> fingerprint.Fingerprint:
    if "fingerprint" in entry:
        return fingerprint.Fingerprint.parse(entry["fingerprint"])
    return fingerprint.Fingerprint(int(entry["rows"]), int(entry["checksum"]), fingerprint.TEXT)


def _restore_table(conn: psycopg.Connection, table: str, entry: dict, data,
                   replace: bool, elsewhere: Elsewhere | None, kept: Kept | None) -> Restored:
    types = fmt.pg_types_of(data.schema)
    created = not table_exists(conn, table)
    if created:  # made from the backup's types, without a key: a merge has nothing to match
        conn.execute(sql.SQL("create table {} ({})").format(ident(table), sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in types.items())))
    scratch = sql.Identifier(SCRATCH)
    conn.execute(sql.SQL("create temp table {} ({}) on commit drop").format(
        scratch, sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in types.items())))
    columns = load_rows(conn, scratch, data)
    want = _want(entry)
    got = fingerprint.of_table(conn, table, columns, relation=scratch,
                               types=f"pg_temp.{SCRATCH}", algorithm=want.algorithm)
    if got != want:
        raise BackupError(f"{entry['key']}: rows read back do not match the backup's "
                          f"fingerprint ({got.text} vs {want.text}); nothing was restored")
    BACKUP_RESTORE.crash("loaded")
    if replace or created:
        return _replace(conn, table, columns, want)
    return _merge(conn, table, columns, want, elsewhere, kept and kept(conn, table))


def _merge(conn: psycopg.Connection, table: str, columns: list[str],
           want: fingerprint.Fingerprint, elsewhere: Elsewhere | None,
           kept: sql.Composable | None) -> Restored:
    keys = primary_key(conn, table)
    if not keys:
        raise BackupError(f"restore of {table}: the table has no primary key, so rows cannot "
                          "be matched; nothing was restored. Restore into another database "
                          "(--into DSN) and compare, or replace it (--replace --yes)")
    k = sql.SQL(", ").join(map(sql.Identifier, keys))
    bk = sql.SQL(", ").join(sql.SQL("b.{}").format(sql.Identifier(c)) for c in keys)
    xk = sql.SQL(", ").join(sql.SQL("x.{}").format(sql.Identifier(c)) for c in keys)
    scratch = sql.Identifier(SCRATCH)
    lacking = sql.SQL("({bk}) not in (select {xk} from {t} x)").format(bk=bk, xk=xk,
                                                                      t=ident(table))
    past = 0
    if kept is not None:  # rows retention let go since the backup stay gone
        past = conn.execute(sql.SQL("select count(*) from {s} b where {lacking} and not {kept}")
                            .format(s=scratch, lacking=lacking, kept=kept)).fetchone()[0]
        lacking = sql.SQL("{} and {}").format(lacking, kept)
    missing = [tuple(r) for r in conn.execute(sql.SQL("select {bk} from {s} b where {w}").format(
        bk=bk, s=scratch, w=lacking)).fetchall()]
    held = elsewhere(table, keys, missing) if elsewhere and missing else set()
    if held:
        conn.execute(sql.SQL("create temp table persys_held as select {} from {} limit 0")
                     .format(k, scratch))
        with conn.cursor() as cur, cur.copy(sql.SQL("copy persys_held ({}) from stdin").format(
                k)) as copy:
            for row in held:
                copy.write_row(row)
    skip = (sql.SQL("and ({}) not in (select {} from persys_held)").format(bk, k)
            if held else sql.SQL(""))
    inserted = _insert(conn, table, columns, sql.SQL("where {w} {skip}").format(
        w=lacking, skip=skip))
    diff = sql.SQL("from {s} b join {t} x using ({k}) where row({bc})::text <> row({xc})::text"
                   ).format(s=scratch, t=ident(table), k=k,
                            bc=_cols("b", columns), xc=_cols("x", columns))
    differing = conn.execute(sql.SQL("select count(*) {}").format(diff)).fetchone()[0]
    examples = [r[0] for r in conn.execute(sql.SQL("select row({})::text {} limit {}").format(
        bk, diff, sql.Literal(SHOWN))).fetchall()]
    return Restored(table, want.rows, inserted, 0, len(held), int(differing), examples,
                    want.text, past_retention=int(past))


def _replace(conn: psycopg.Connection, table: str, columns: list[str],
             want: fingerprint.Fingerprint) -> Restored:
    """The table made equal to the backup: rows not in it deleted, missing ones inserted;
    rows unchanged since are not touched (no trigger or cascade fires for them)."""
    scratch = sql.Identifier(SCRATCH)
    same = sql.SQL("row({})::text = row({})::text").format(_cols("b", columns),
                                                           _cols("x", columns))
    deleted = conn.execute(sql.SQL(
        "delete from {t} x where not exists (select from {s} b where {same})").format(
        t=ident(table), s=scratch, same=same)).rowcount
    inserted = _insert(conn, table, columns, sql.SQL(
        "where not exists (select from {t} x where {same})").format(t=ident(table), same=same))
    got = fingerprint.of_table(conn, table, columns, algorithm=want.algorithm)
    if got != want:
        raise BackupError(
            f"restore of {table}: the table holds {got.text} after the restore, the backup "
            f"{want.text} (a trigger or default rewrote rows?); rolled back, nothing changed")
    return Restored(table, want.rows, inserted, deleted, fingerprint=want.text)


def _insert(conn: psycopg.Connection, table: str, columns: list[str],
            where: sql.Composable) -> int:
    writable = [c for c in columns if c not in generated_columns(conn, table)]
    cols = sql.SQL(", ").join(map(sql.Identifier, writable))
    return conn.execute(sql.SQL(
        "insert into {t} ({c}) overriding system value select {bc} from {s} b {w}").format(
        t=ident(table), c=cols, bc=_cols("b", writable), s=sql.Identifier(SCRATCH),
        w=where)).rowcount


def _cols(alias: str, columns: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(c))
                              for c in columns)


def keys_in(tier: PgTier, table: str, keys: list[str], wanted: list[tuple]) -> set[tuple]:
    """Which of `wanted` (tuples of `keys`) `tier` holds in `table`, matched by that tier's own
    primary key (core's partitioned copy has `(id, day)`, main's `id`): an `Elsewhere`
    building block."""
    with tier.connect() as conn:
        if not table_exists(conn, table):
            return set()
        theirs = primary_key(conn, table)
        if not theirs or not set(theirs) <= set(keys):
            return set()
        at = [keys.index(k) for k in theirs]
        projected = {tuple(w[i] for i in at): w for w in wanted}
        k = sql.SQL(", ").join(map(sql.Identifier, theirs))
        conn.execute(sql.SQL("create temp table persys_wanted as select {} from {} limit 0")
                     .format(k, ident(table)))
        with conn.cursor() as cur, cur.copy(sql.SQL("copy persys_wanted ({}) from stdin")
                                            .format(k)) as copy:
            for row in projected:
                copy.write_row(row)
        rows = conn.execute(sql.SQL("select {} from {} x where ({}) in (select {} from "
                                    "persys_wanted)").format(
            _cols("x", theirs), ident(table), _cols("x", theirs), k)).fetchall()
        conn.rollback()
    return {projected[tuple(r)] for r in rows}
