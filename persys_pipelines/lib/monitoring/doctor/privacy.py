"""Doctor's privacy checks (DESIGN invariant 8): nothing persys created or adopted is readable
by Supabase's client roles, and the backups do not share the data's disk.

In each tier whose cluster has `anon` or `authenticated` (the anon key ships in every client
app): FAIL for
- USAGE on schema `persys` for one of them (PUBLIC's grants count: every role has them);
- any privilege of theirs on a relation in schema `persys` (readable now when they also have
  the schema's USAGE; one GRANT away otherwise);
- a persys table in `public` with row level security off: the sample tables setup created,
  the tables persys partitioned (setup or `adopt partition`: they have `<table>_pdefault`),
  main's copies of the configured tables, and output tables an older version left there;
- any privilege of theirs on a partition persys made of such a table, with USAGE on public
  (the app reaches the rows through the parent; a partition asked for by name must refuse).
An adopted table's own grants are the person's, kept as they were: only its row level
security is checked.

WARN when the backups share the data's disk: `tiers.archive.backup_url` unset (they go into
the archive store), or a folder on the same filesystem device as the embedded PostgreSQL's
data or main's data directory. Read-only: catalog queries and `os.stat`.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

from ...archive.stores import FileStore, open_store
from ...config import ArchiveTier
from ...dsn import dsn_fields
from ...pg.catalog import LEGACY_NAMES, OWN_TABLES, PERSYS_SCHEMA, client_roles, partitions
from ...pg.schema import SAMPLE_TABLES
from ...pg.tiers import PgTier, pgdata_dir
from .database import TierProbe
from .findings import FAIL, OK, WARN, Finding

TABLE_PRIVILEGES = "select,insert,update,delete,truncate,references,trigger"
SEQUENCE_PRIVILEGES = "usage,select,update"


def privacy_checks(probe: TierProbe, tables: list[str]) -> list[Finding]:
    findings = []
    for name, tier in probe.reachable().items():
        with tier.connect() as conn:
            roles = client_roles(conn)
            if not roles:
                findings.append(Finding(f"{name}: privacy", OK, "no client roles (anon, "
                                        "authenticated) in this database"))
                continue
            problems, checked = _exposed(conn, name, tables, roles)
        findings += problems or [Finding(
            f"{name}: privacy", OK, f"nothing persys made is readable by {', '.join(roles)} "
            f"({checked} relations checked)")]
    return findings


def _exposed(conn: psycopg.Connection, tier: str, tables: list[str],
             roles: list[str]) -> tuple[list[Finding], int]:
    out = []
    who = roles  # their privileges include PUBLIC's
    made = conn.execute("select to_regnamespace(%s) is not null", (PERSYS_SCHEMA,)).fetchone()[0]
    for role in who if made else []:  # before `persys setup` there is no schema to expose
        if _may(conn, "has_schema_privilege(%s, %s, 'usage')", role, PERSYS_SCHEMA):
            out.append(Finding(f"{tier}: schema {PERSYS_SCHEMA}", FAIL,
                               f"{role} has USAGE on it; revoke it: `revoke all on schema "
                               f"{PERSYS_SCHEMA} from {role}`"))
    own = conn.execute(
        """select c.oid, n.nspname || '.' || c.relname, c.relkind::text, c.relrowsecurity
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
            order by 2""", (PERSYS_SCHEMA,)).fetchall()
    for oid, rel, kind, rls in own:
        out += _grants(conn, tier, oid, rel, kind, who, PERSYS_SCHEMA)
        if kind in ("r", "p") and not rls:
            out.append(_rls_off(tier, rel))
    parents = _persys_tables_in_public(conn, tier, tables)
    checked = len(own)
    for table, rls in parents:
        checked += 1
        if not rls:
            out.append(_rls_off(tier, f"public.{table}"))
        for part in partitions(conn, f"public.{table}"):
            checked += 1
            oid = conn.execute("select to_regclass(%s)::oid",
                               (f'"public"."{part}"',)).fetchone()[0]
            out += _grants(conn, tier, oid, f"public.{part}", "r", who, "public")
    return out, checked


def _persys_tables_in_public(conn: psycopg.Connection, tier: str,
                             tables: list[str]) -> list[tuple[str, bool]]:
    """(table, row level security on) of the tables in public persys made or adopted
    (`tables`: persys.yaml's, all made by persys in main)."""
    names = set(SAMPLE_TABLES) | set(LEGACY_NAMES) | set(OWN_TABLES)
    if tier == "main":
        names |= set(tables)
    rows = conn.execute(
        """select c.relname, c.relrowsecurity,
                  to_regclass(quote_ident('public') || '.' || quote_ident(c.relname || '_pdefault'))
                    is not null
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
            order by 1""").fetchall()
    return [(name, rls) for name, rls, partitioned in rows if name in names or partitioned]


def _grants(conn: psycopg.Connection, tier: str, oid: int, rel: str, kind: str,
            who: list[str], schema: str) -> list[Finding]:
    check, privileges = (("has_sequence_privilege", SEQUENCE_PRIVILEGES) if kind == "S"
                         else ("has_table_privilege", TABLE_PRIVILEGES))
    out = []
    for role in who:
        held = [p for p in privileges.split(",")
                if _may(conn, f"{check}(%s, %s::oid, %s)", role, oid, p)]
        if not held:
            continue
        reach = _may(conn, "has_schema_privilege(%s, %s, 'usage')", role, schema)
        now = ("readable now: it has USAGE on schema " + schema if reach else
               f"one `grant usage on schema {schema}` away from readable")
        out.append(Finding(f"{tier}: privacy {rel}", FAIL,
                           f"{role} may {', '.join(p.upper() for p in held)} ({now}); "
                           f"revoke it: `revoke all on {rel} from {role}`"))
    return out


def _may(conn: psycopg.Connection, expression: str, role: str, *args: object) -> bool:
    """A has_*_privilege check for `role` (what PUBLIC was granted counts: every role has it)."""
    return bool(conn.execute(f"select {expression}", (role, *args)).fetchone()[0])


def _rls_off(tier: str, rel: str) -> Finding:
    return Finding(f"{tier}: privacy {rel}", FAIL,
                   "row level security is off: a client role granted it (Supabase's default "
                   f"privileges do) reads every row; `alter table {rel} enable row level "
                   "security`, then add the policies your app needs")


# ---------------------------------------------------------------------------------------------
# Backups


def backup_checks(probe: TierProbe, archive: ArchiveTier, home: Path,
                  main_embedded: bool) -> list[Finding]:
    """Backups apart from the data: not in the archive store, not on the disk of the embedded
    server's data (under `home`) nor of main's data (`main_embedded`: main has no dsn)."""
    url = archive.backup_url
    if not url:
        return [Finding("backups", WARN, "tiers.archive.backup_url is not set: backups go "
                        "into the archive store, so one lost disk (or bucket) takes the data "
                        "and its backups together; set backup_url to another disk or bucket")]
    store = open_store(url) if url.startswith("file://") else None
    if not isinstance(store, FileStore):
        return [Finding("backups", OK, f"{url}, apart from the data's disk")]
    device = _device(store.root)
    main = probe.reachable().get("main")
    for what, path in _data_dirs(pgdata_dir(home), main_embedded, main):
        if device is not None and device == _device(path):
            return [Finding("backups", WARN, f"{url} is on the same disk as {what} ({path}): "
                            "one failed disk loses both; point tiers.archive.backup_url at "
                            "another disk or a bucket")]
    return [Finding("backups", OK, f"{url}, not on the data's disk")]


def _data_dirs(embedded: Path, main_embedded: bool,
               main: PgTier | None) -> list[tuple[str, Path]]:
    """The embedded PostgreSQL's data (when main is embedded, or it exists), and main's data
    directory when main runs on this machine."""
    out = ([("the embedded PostgreSQL's data", embedded)]
           if main_embedded or embedded.exists() else [])
    if main is not None and _local(main):
        try:
            with main.connect() as conn:
                out.append(("main's data", Path(conn.execute("show data_directory")
                                                .fetchone()[0])))
        except psycopg.Error:  # not a superuser nor pg_read_all_settings: cannot tell
            pass
    return out


def _local(tier: PgTier) -> bool:
    host = (dsn_fields(tier.dsn) or {}).get("host", "")
    return not host or host.startswith("/") or host in ("localhost", "127.0.0.1", "::1")


def _device(path: Path) -> int | None:
    """The filesystem device of `path`, or of its nearest existing parent (not made yet)."""
    for candidate in [path, *path.parents]:
        try:
            return os.stat(candidate).st_dev
        except OSError:
            continue
    return None
