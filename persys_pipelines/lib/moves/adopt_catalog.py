"""What a table carries besides its rows, read from the catalog so `adopt.py` can rebuild it on
the partitioned copy: the statements come from PostgreSQL's own deparsers (`pg_get_indexdef`,
`pg_get_constraintdef`, `pg_get_triggerdef`, `pg_policies`, `aclexplode`), taken while the
original still holds the name, and run after the swap, when the same name means the new table.

Also what makes a conversion impossible (`problems`), each with the reason and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..pg.catalog import ident, primary_key, regclass, table_columns
from ..pg.tables import DATE_TYPES, TIMESTAMP_TYPES

MAX_NAME = 63 - len("_persys_new")  # PostgreSQL cuts identifiers at 63 bytes


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key of the table (`child` None) or into it (`child`: the referencing table,
    qualified and quoted). One of the table's is built on the copy before the swap (a
    partitioned table cannot take one NOT VALID); one into it is re-created NOT VALID in the
    swap and validated after it commits (no lock that stops the app's reads or writes),
    unless it was NOT VALID before or its table is partitioned too."""

    name: str
    definition: str  # pg_get_constraintdef: ends with NOT VALID when it was not validated
    valid: bool
    child: str | None = None
    child_partitioned: bool = False
    columns: tuple[str, ...] = ()  # the table's own: its columns, the referenced ones
    ref_table: str = ""  # qualified and quoted
    ref_columns: tuple[str, ...] = ()
    self_reference: bool = False

    @property
    def label(self) -> str:
        return f"{self.child.removeprefix('public.')}.{self.name}" if self.child else self.name


@dataclass(frozen=True)
class IndexDef:
    """An index that backs no constraint, as pg_get_indexdef deparses it."""

    name: str
    ddl: str
    comment: str | None
    quoted_name: str  # quote_ident(name), as it appears in `ddl`
    quoted_table: str  # schema.table quoted, as it appears in `ddl`

    def on(self, quoted_table: str, name: str) -> str:
        """The same index under `name` on another table (the copy, before the swap)."""
        for head in ("CREATE INDEX ", "CREATE UNIQUE INDEX "):
            prefix = f"{head}{self.quoted_name} ON {self.quoted_table} USING "
            if self.ddl.startswith(prefix):
                return f"{head}{name} ON {quoted_table} USING {self.ddl[len(prefix):]}"
        raise ValueError(f"index {self.name}: unexpected definition {self.ddl!r}")


@dataclass
class Catalog:
    """Everything `adopt` preserves, as statements to run after the swap."""

    table: str
    oid: int
    owner: str
    day_column: str
    primary_key: list[str]
    pk_name: str
    rls: bool = False
    force_rls: bool = False
    replica_identity: str = "d"
    comment: str | None = None
    indexes: list[IndexDef] = field(default_factory=list)
    uniques: list[tuple[str, str]] = field(default_factory=list)  # name, definition
    fks_out: list[ForeignKey] = field(default_factory=list)  # self-references included
    fks_in: list[ForeignKey] = field(default_factory=list)
    triggers: list[tuple[str, str, str]] = field(default_factory=list)  # name, ddl, tgenabled
    rules: list[tuple[str, str, str]] = field(default_factory=list)  # name, ddl, ev_enabled
    replaced_by_key: list[str] = field(default_factory=list)  # unique constraints = new key
    policies: list[sql.Composable] = field(default_factory=list)
    policy_names: list[str] = field(default_factory=list)
    grants: list[sql.Composable] = field(default_factory=list)  # column grants
    grant_names: list[str] = field(default_factory=list)
    publications: list[str] = field(default_factory=list)
    pubs_not_via_root: list[str] = field(default_factory=list)
    identity: dict[str, str] = field(default_factory=dict)  # column → its sequence (qualified)
    owned_sequences: dict[str, str] = field(default_factory=dict)  # serial column → sequence
    generated: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def preserved(self) -> dict[str, list[str]]:
        """What a person checks in the plan: category → names."""
        return {
            "primary key": ([f"{self.pk_name} ({', '.join(self.new_key)})"]
                            if self.primary_key else []),  # none: refused, said below
            "indexes": [i.name for i in self.indexes] + [n for n, _ in self.uniques],
            "foreign keys out": [k.name for k in self.fks_out],
            "foreign keys in": [k.label for k in self.fks_in],
            "triggers": [n for n, _, _ in self.triggers],
            "rules": [n for n, _, _ in self.rules],
            "row level security": ([("enabled" + (", forced" if self.force_rls else ""))]
                                   if self.rls else []) + self.policy_names,
            "grants": self.grant_names,
            "publications": self.publications,
            "identity columns": [f"{c} ({s})" for c, s in self.identity.items()],
            "generated columns": self.generated,
        }

    @property
    def key_changes(self) -> bool:
        return bool(self.primary_key) and self.day_column not in self.primary_key

    @property
    def new_key(self) -> list[str]:
        return self.primary_key + ([] if self.day_column in self.primary_key
                                   else [self.day_column])


def _rows(conn: psycopg.Connection, query: str, oid: int) -> list[tuple]:
    return conn.execute(query, {"oid": oid}).fetchall()


def read_catalog(conn: psycopg.Connection, table: str, day_column: str) -> Catalog:
    """The table's catalog entries and the problems that refuse a conversion."""
    oid, owner, rls, force, ident, ispart, comment, kind = conn.execute(
        """select c.oid::int, pg_get_userbyid(c.relowner), c.relrowsecurity,
                  c.relforcerowsecurity, c.relreplident::text, c.relispartition,
                  obj_description(c.oid, 'pg_class'), c.relkind::text
             from pg_class c where c.oid = to_regclass(%s)""", (regclass(table),)).fetchone()
    pk = primary_key(conn, table)
    pk_name = conn.execute("select conname from pg_constraint where conrelid = %s "
                           "and contype = 'p'", (oid,)).fetchone()
    cat = Catalog(table, oid, owner, day_column, pk, pk_name[0] if pk_name else f"{table}_pkey",
                  rls, force, ident, comment)
    problems = cat.problems
    if len(table.encode()) > MAX_NAME:
        problems.append(f"the name {table} is longer than {MAX_NAME} bytes: its month "
                        "partitions' names would be cut to 63 bytes and collide; rename it")
    if kind != "r" or ispart:
        problems.append(f"{table} is not a plain table (relkind {kind!r}"
                        + (", already a partition" if ispart else "") + ")")
    _check_day_column(conn, cat)
    if not pk:
        problems.append(f"{table} has no primary key; add one (`alter table {table} add "
                        "primary key (id)`) so moved rows can be matched")
    if _rows(conn, "select 1 from pg_inherits where inhparent = %(oid)s or inhrelid = %(oid)s",
             oid):
        problems.append(f"{table} takes part in table inheritance; adopt cannot convert it")
    users = _rows(conn, """select distinct v.oid::regclass::text, v.relkind in ('v', 'm'),
                                    r.rulename
                             from pg_depend d join pg_rewrite r on r.oid = d.objid
                             join pg_class v on v.oid = r.ev_class
                            where d.refobjid = %(oid)s and d.classid = 'pg_rewrite'::regclass
                              and v.oid <> %(oid)s order by 1, 3""", oid)
    views = [v for v, is_view, _ in users if is_view]
    if views:
        problems.append(f"views depend on {table}: {', '.join(views)}; drop them "
                        "first and create them again after the conversion")
    for other, is_view, rule in users:
        if not is_view:
            problems.append(f"rule {rule} on {other} refers to {table}: drop it first and "
                            "create it again after the conversion (`pg_get_ruledef` shows it)")
    if ident == "i":
        problems.append(f"{table} uses an index as its replica identity; set `alter table "
                        f"{table} replica identity default` (or full) first")
    _read_constraints(conn, cat)
    _read_indexes(conn, cat)
    _read_triggers(conn, cat)
    _read_rules(conn, cat)
    _read_policies(conn, cat)
    _read_grants(conn, cat)
    _read_publications(conn, cat)
    _read_sequences(conn, cat)
    return cat


def _check_day_column(conn: psycopg.Connection, cat: Catalog) -> None:
    kind = table_columns(conn, cat.table).get(cat.day_column)
    if kind is None:
        cat.problems.append(f"{cat.table} has no column {cat.day_column!r}; fix "
                            f"tables.{cat.table}.day_column in persys.yaml")
        return
    if kind not in DATE_TYPES | TIMESTAMP_TYPES:
        cat.problems.append(f"{cat.table}.{cat.day_column} is {kind}; months need a date or "
                            "timestamp(tz) column")
        return
    infinite = conn.execute(sql.SQL("select count(*) from {} where not isfinite({})").format(
        ident(cat.table), sql.Identifier(cat.day_column))).fetchone()[0]
    if infinite:
        cat.problems.append(
            f"{cat.table}.{cat.day_column} is infinity or -infinity in {infinite} rows: such "
            "a row has no month to live in. Give those rows a real day first")
    notnull = conn.execute("select attnotnull from pg_attribute where attrelid = %s and "
                           "attname = %s", (cat.oid, cat.day_column)).fetchone()[0]
    if not notnull:
        nulls = conn.execute(sql.SQL("select count(*) from {} where {} is null").format(
            ident(cat.table), sql.Identifier(cat.day_column))).fetchone()[0]
        cat.problems.append(
            f"{cat.table}.{cat.day_column} may be NULL ({nulls} rows are): a row needs a month "
            f"to live in. Give those rows a day, then `alter table {cat.table} alter column "
            f"{cat.day_column} set not null`; or leave {cat.table} unpartitioned (moves still "
            "work, space comes back by VACUUM FULL)")


def _read_constraints(conn: psycopg.Connection, cat: Catalog) -> None:
    key = set(cat.new_key)
    for name, contype, definition, cols, valid, ref, ref_cols, self_ref in _rows(conn, """
            select conname, contype::text, pg_get_constraintdef(k.oid),
                   array(select attname from pg_attribute where attrelid = conrelid
                          and attnum = any(conkey) order by array_position(conkey, attnum)),
                   convalidated,
                   (select quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                      from pg_class c join pg_namespace n on n.oid = c.relnamespace
                     where c.oid = k.confrelid),
                   array(select attname from pg_attribute where attrelid = confrelid
                          and attnum = any(confkey) order by array_position(confkey, attnum)),
                   confrelid = conrelid
              from pg_constraint k where conrelid = %(oid)s and contype in ('u', 'x', 'f')
             order by conname""", cat.oid):
        if contype == "x":
            cat.problems.append(f"exclusion constraint {name} cannot hold across partitions")
        elif contype == "u" and cat.day_column not in cols:
            cat.problems.append(
                f"unique constraint {name} ({', '.join(cols)}) does not include "
                f"{cat.day_column}: PostgreSQL enforces uniqueness on a partitioned table only "
                f"when the key includes the partition column. Add {cat.day_column} to it or "
                "drop it first")
        elif contype == "u" and set(cols) != key:
            cat.uniques.append((name, definition))
        elif contype == "u":
            cat.replaced_by_key.append(name)
        elif contype == "f":
            cat.fks_out.append(ForeignKey(name, definition, valid, columns=tuple(cols),
                                          ref_table=ref, ref_columns=tuple(ref_cols),
                                          self_reference=self_ref))
    for child, name, definition, cols, self_ref, valid, partitioned in _rows(conn, """
            select (select quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                      from pg_class c join pg_namespace n on n.oid = c.relnamespace
                     where c.oid = k.conrelid),
                   conname, pg_get_constraintdef(oid),
                   array(select attname from pg_attribute where attrelid = confrelid
                          and attnum = any(confkey)), conrelid = confrelid, convalidated,
                   (select relkind = 'p' from pg_class where oid = k.conrelid)
              from pg_constraint k where confrelid = %(oid)s and contype = 'f'
               and conparentid = 0 order by 1, 2""", cat.oid):
        if set(cols) != key:
            shown = child.removeprefix("public.")
            cat.problems.append(
                f"foreign key {name} on {shown} references {cat.table}({', '.join(cols)}): a "
                "foreign key into a partitioned table must reference a unique key that "
                f"includes the partition column ({', '.join(cat.new_key)}). Add "
                f"{cat.day_column} to {shown} and to the foreign key, or drop it first")
        elif not self_ref:
            cat.fks_in.append(ForeignKey(name, definition, valid, child, partitioned))


def _read_indexes(conn: psycopg.Connection, cat: Catalog) -> None:
    for name, ddl, unique, cols, comment, quoted, on in _rows(conn, """
            select c.relname, pg_get_indexdef(i.indexrelid), i.indisunique,
                   array(select attname from pg_attribute where attrelid = i.indrelid
                          and attnum = any(i.indkey)), obj_description(c.oid, 'pg_class'),
                   quote_ident(c.relname), quote_ident(n.nspname) || '.' || quote_ident(t.relname)
              from pg_index i join pg_class c on c.oid = i.indexrelid
              join pg_class t on t.oid = i.indrelid
              join pg_namespace n on n.oid = t.relnamespace
             where i.indrelid = %(oid)s and not exists (
                   select 1 from pg_constraint k where k.conindid = i.indexrelid
                      and k.conrelid = i.indrelid)
             order by 1""", cat.oid):
        if unique and cat.day_column not in cols:
            cat.problems.append(f"unique index {name} does not include {cat.day_column}; a "
                                "partitioned table cannot enforce it. Add the column or drop "
                                "the index first")
        else:
            cat.indexes.append(IndexDef(name, ddl, comment, quoted, on))


def _read_triggers(conn: psycopg.Connection, cat: Catalog) -> None:
    cat.triggers = [tuple(r) for r in _rows(conn, """
        select tgname, pg_get_triggerdef(oid), tgenabled::text from pg_trigger
         where tgrelid = %(oid)s and not tgisinternal order by tgname""", cat.oid)]


def _read_rules(conn: psycopg.Connection, cat: Catalog) -> None:
    """CREATE RULE rules on the table (a view's `_RETURN` aside): PostgreSQL keeps them on a
    partitioned table as well, so they are re-created after the swap."""
    cat.rules = [tuple(r) for r in _rows(conn, """
        select rulename, pg_get_ruledef(oid), ev_enabled::text from pg_rewrite
         where ev_class = %(oid)s and rulename <> '_RETURN' order by rulename""", cat.oid)]


def _read_policies(conn: psycopg.Connection, cat: Catalog) -> None:
    for name, permissive, roles, cmd, qual, check in conn.execute(
            """select policyname, permissive, roles::text[], cmd, qual, with_check
                 from pg_policies where schemaname = 'public' and tablename = %s
                order by policyname""", (cat.table,)).fetchall():
        to = sql.SQL(", ").join(sql.SQL("public") if r == "public" else sql.Identifier(r)
                                for r in roles)
        stmt = sql.SQL("create policy {} on {} as {} for {} to {}").format(
            sql.Identifier(name), ident(cat.table), sql.SQL(permissive),
            sql.SQL(cmd), to)
        if qual is not None:
            stmt = sql.SQL("{} using ({})").format(stmt, sql.SQL(qual))
        if check is not None:
            stmt = sql.SQL("{} with check ({})").format(stmt, sql.SQL(check))
        cat.policies.append(stmt)
        cat.policy_names.append(f"policy {name!r}")


def acl_grants(conn: psycopg.Connection, target: sql.Composable, acl_query: str,
               params: dict, column: str | None = None) -> list[tuple[str, sql.Composable]]:
    """GRANT statements re-creating the privileges `acl_query` (one aclitem[] row) lists."""
    out = []
    for grantee, priv, grantable in conn.execute(
            f"""select case when a.grantee = 0 then 'public'
                            else pg_get_userbyid(a.grantee) end,
                       a.privilege_type, a.is_grantable
                  from ({acl_query}) q(acl), aclexplode(q.acl) a
                 order by 1, 2""", params).fetchall():  # noqa: S608 (our own fixed text)
        who = sql.SQL("public") if grantee == "public" else sql.Identifier(grantee)
        cols = sql.SQL(" ({})").format(sql.Identifier(column)) if column else sql.SQL("")
        stmt = sql.SQL("grant {}{} on {} to {}{}").format(
            sql.SQL(priv), cols, target, who,
            sql.SQL(" with grant option") if grantable else sql.SQL(""))
        out.append((f"{priv.lower()}{'(' + column + ')' if column else ''} to {grantee}", stmt))
    return out


def _read_grants(conn: psycopg.Connection, cat: Catalog) -> None:
    """Table grants are copied onto the new table exactly (partitions.same_grants, which also
    takes back what default privileges added); column grants are re-granted from here."""
    target = sql.SQL("table {}").format(ident(cat.table))
    found = acl_grants(conn, target, "select relacl from pg_class where oid = %(oid)s "
                       "and relacl is not null", {"oid": cat.oid})
    columns = []
    for (col,) in _rows(conn, "select attname from pg_attribute where attrelid = %(oid)s "
                        "and attnum > 0 and attacl is not null", cat.oid):
        columns += acl_grants(conn, ident(cat.table), "select attacl from pg_attribute "
                              "where attrelid = %(oid)s and attname = %(col)s",
                              {"oid": cat.oid, "col": col}, column=col)
    cat.grant_names = [n for n, _ in found + columns]
    cat.grants = [s for _, s in columns]  # column grants


def _read_publications(conn: psycopg.Connection, cat: Catalog) -> None:
    for name, via_root, filtered in _rows(conn, """
            select p.pubname, p.pubviaroot, r.prqual is not null or r.prattrs is not null
              from pg_publication_rel r join pg_publication p on p.oid = r.prpubid
             where r.prrelid = %(oid)s order by 1""", cat.oid):
        if filtered:
            cat.problems.append(f"publication {name} publishes {cat.table} with a row filter "
                                "or column list; remove it from the publication first and "
                                "add it back after the conversion")
        cat.publications.append(name)
        if not via_root:
            cat.pubs_not_via_root.append(name)


def _read_sequences(conn: psycopg.Connection, cat: Catalog) -> None:
    for col, identity, generated, seq in _rows(conn, """
            select a.attname, a.attidentity::text, a.attgenerated::text,
                   pg_get_serial_sequence(%(oid)s::regclass::text, a.attname)
              from pg_attribute a where a.attrelid = %(oid)s and a.attnum > 0
               and not a.attisdropped order by a.attnum""", cat.oid):
        if generated:
            cat.generated.append(col)
        if seq and identity:
            cat.identity[col] = seq
        elif seq:
            cat.owned_sequences[col] = seq
