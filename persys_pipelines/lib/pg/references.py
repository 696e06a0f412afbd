"""Foreign keys into a moved table: a row still referenced in core stays in core.

Deleting a referenced row would fire the person's `ON DELETE CASCADE` (their child rows gone),
`SET NULL` (their child rows rewritten) or fail (`NO ACTION`). So before a move the references
into the table are read from the catalog (every schema: `storage`, `auth`, the person's own),
and a row is moved only when no row anywhere references it (`unreferenced`). Such a row is
*held back* and reported; once its children leave core (their own policy moves them first, or
the person deletes them), it moves on the next run. A self-reference works the same way: a
chain drains one level per run.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from .catalog import ident, regclass


@dataclass(frozen=True)
class Reference:
    """`child_schema.child_table (child_columns)` references our `parent_columns`."""

    child_schema: str
    child_table: str
    child_columns: tuple[str, ...]
    parent_columns: tuple[str, ...]
    on_delete: str  # cascade, set null, set default, restrict, no action

    @property
    def name(self) -> str:
        return f"{self.child_schema}.{self.child_table}({', '.join(self.child_columns)})"


_ACTIONS = {"a": "no action", "r": "restrict", "c": "cascade", "n": "set null",
            "d": "set default"}


def incoming(conn: psycopg.Connection, table: str) -> list[Reference]:
    """Every foreign key, in any schema, that references `public.<table>`. A partitioned
    parent's constraint is listed once (its partitions' clones are skipped)."""
    rows = conn.execute(
        """select n.nspname, c.relname,
                  array(select a.attname from unnest(k.conkey) with ordinality u(n, i)
                         join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n
                        order by u.i),
                  array(select a.attname from unnest(k.confkey) with ordinality u(n, i)
                         join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.n
                        order by u.i),
                  k.confdeltype
             from pg_constraint k
             join pg_class c on c.oid = k.conrelid
             join pg_namespace n on n.oid = c.relnamespace
            where k.contype = 'f' and k.confrelid = to_regclass(%s) and k.conparentid = 0
              and not c.relispartition
            order by 1, 2, k.conname""",
        (regclass(table),),
    ).fetchall()
    return [Reference(s, t, tuple(cc), tuple(pc), _ACTIONS.get(a, a)) for s, t, cc, pc, a in rows]


def _referenced_by(ref: Reference, alias: str) -> sql.Composable:
    pairs = [sql.SQL("c.{} = {}.{}").format(sql.Identifier(cc), sql.Identifier(alias),
                                            sql.Identifier(pc))
             for cc, pc in zip(ref.child_columns, ref.parent_columns, strict=True)]
    return sql.SQL("exists (select 1 from {}.{} c where {})").format(
        sql.Identifier(ref.child_schema), sql.Identifier(ref.child_table),
        sql.SQL(" and ").join(pairs))


def unreferenced(refs: list[Reference], alias: str = "t") -> sql.Composable:
    """`true` when no row references the row `alias` of the moved table."""
    if not refs:
        return sql.SQL("true")
    return sql.SQL("not ({})").format(
        sql.SQL(" or ").join(_referenced_by(r, alias) for r in refs))


def held_back(conn: psycopg.Connection, table: str, refs: list[Reference],
              condition: sql.Composable) -> dict[str, int]:
    """Rows matching `condition` kept in core by each reference: {reference name: rows}."""
    if not refs:
        return {}
    counts = sql.SQL(", ").join(
        sql.SQL("count(*) filter (where {})").format(_referenced_by(r, "t")) for r in refs)
    row = conn.execute(sql.SQL("select {} from {} t where {}").format(
        counts, ident(table), condition)).fetchone()
    return {r.name: int(n) for r, n in zip(refs, row, strict=True) if n}


def hidden_by_row_security(conn: psycopg.Connection, refs: list[Reference]) -> list[str]:
    """Referencing tables whose rows this session may not all see (row-level security applies
    to it): counting their references there would miss rows and let a cascade through."""
    hidden = []
    for ref in refs:
        row = conn.execute(
            """select c.relrowsecurity
                      and (c.relforcerowsecurity or not pg_has_role(c.relowner, 'USAGE'))
                      and not (select rolbypassrls or rolsuper from pg_roles
                                where rolname = current_user)
                 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where n.nspname = %s and c.relname = %s""",
            (ref.child_schema, ref.child_table)).fetchone()
        if row and row[0]:
            hidden.append(f"{ref.child_schema}.{ref.child_table}")
    return hidden
