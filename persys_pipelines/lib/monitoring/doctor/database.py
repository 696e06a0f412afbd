"""Doctor's database checks: each tier (reachable, size against its quota, read-only) and each
table persys.yaml names (primary key, day column, foreign keys in and out, triggers, RLS).

Read-only: catalog queries and `pg_database_size` only. A table the project owns
(`daily_summaries`, …, the ledger) that is missing is fixed by `persys setup`; one of the
person's tables is theirs to create, or to drop from persys.yaml.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import psycopg

from ...config import Daily, TablePolicy, Tiers
from ...config.sources import Source
from ...daily.sources import check_sources, shared_tables
from ...dsn import dsn_fields, safe_dsn
from ...pg import references
from ...pg.catalog import primary_key, regclass, table_exists
from ...pg.schema import OUTPUT_TABLES, SAMPLE_TABLES
from ...pg.tables import TableError, day_expression
from ...pg.tiers import PgTier
from ...supabase_rest import PAUSED_HINT
from .findings import FAIL, OK, WARN, Finding

TIERS = ("core", "main")
# persys's own tables on a fresh install: nothing for the person to fix
NOT_YET = "not created yet: `persys up` (or `persys setup`) creates it"
NOT_YET_ALL = "not created yet: `persys up` (or `persys setup`) creates them"


def config_summary(tables: Mapping[str, TablePolicy], timezone: str) -> list[Finding]:
    return [Finding("config", OK, f"{len(tables)} tables, timezone {timezone}")]


class TierProbe:
    """The tiers of one doctor run: each resolved (`resolve`, from the config boundary) and
    probed with `select 1` once per run, not once per check; a new run makes a new probe."""

    def __init__(self, resolve: Callable[[str], PgTier]):
        self._resolve = resolve
        self._tiers: dict[str, PgTier] = {}
        self._found: list[tuple[str, PgTier, str | None]] | None = None

    def tier(self, name: str) -> PgTier:
        if name not in self._tiers:
            self._tiers[name] = self._resolve(name)
        return self._tiers[name]

    def tiers(self) -> list[tuple[str, PgTier, str | None]]:
        """(tier name, tier, why unreachable or None) of core and main."""
        if self._found is None:
            found = []
            for name in TIERS:
                tier = self.tier(name)
                try:
                    with tier.connect() as conn:
                        conn.execute("select 1")
                    found.append((name, tier, None))
                except Exception as exc:  # TierUnavailable names the tier and the DSN key
                    found.append((name, tier, (str(exc).splitlines() or ["?"])[0]))
            self._found = found
        return self._found

    def reachable(self) -> dict[str, PgTier]:
        """The tiers that answered `select 1` in this doctor run."""
        return {name: tier for name, tier, problem in self.tiers() if problem is None}


def _is_supabase(tier: PgTier) -> bool:
    host = (dsn_fields(tier.dsn) or {}).get("host", "")
    return host.endswith((".supabase.co", ".supabase.com"))


def tier_checks(probe: TierProbe, limits: Tiers) -> list[Finding]:
    findings = []
    for name, tier, problem in probe.tiers():
        if problem is not None:
            hint = f"; {PAUSED_HINT}" if _is_supabase(tier) else ""
            findings.append(Finding(f"{name}: connect", FAIL, problem + hint))
            continue
        findings.append(Finding(f"{name}: connect", OK, safe_dsn(tier.dsn)))
        findings.append(_size(limits, name, tier))
        findings.append(_writable(name, tier))
    return findings


def _size(tiers: Tiers, name: str, tier: PgTier) -> Finding:
    size = tier.size_bytes()
    shown = f"{size / 2**20:,.1f} MB"
    if tier.quota_bytes is None:
        return Finding(f"{name}: size", OK, f"{shown}, no quota")
    pct = 100 * size / tier.quota_bytes
    limits = getattr(tiers, name)
    text = f"{shown} of {tier.quota_bytes / 2**20:,.0f} MB ({pct:.0f}%)"
    if pct >= limits.critical_pct:
        return Finding(f"{name}: size", FAIL, f"{text}, over critical_pct "
                       f"{limits.critical_pct:g}; run `persys lifecycle run` to move rows out")
    if pct >= limits.warn_pct:
        return Finding(f"{name}: size", WARN, f"{text}, over warn_pct {limits.warn_pct:g}; "
                       "the next lifecycle run moves rows out")
    return Finding(f"{name}: size", OK, text)


def _writable(name: str, tier: PgTier) -> Finding:
    with tier.connect() as conn:
        read_only = conn.execute("show transaction_read_only").fetchone()[0] == "on"
        create = conn.execute("select has_schema_privilege('public', 'CREATE')").fetchone()[0]
    if read_only:
        return Finding(f"{name}: writable", WARN, "read-only (transaction_read_only is on): "
                       "rows cannot be deleted or written here; use a read-write DSN unless "
                       "that is what you want")
    if not create:
        return Finding(f"{name}: writable", WARN, "this role may not create tables in schema "
                       "public: `persys setup` cannot create the project's own tables; connect "
                       "as the database owner (Supabase: the postgres role)")
    return Finding(f"{name}: writable", OK, "read-write")


# ---------------------------------------------------------------------------------------------
# Tables


def table_checks(probe: TierProbe, tables: Mapping[str, TablePolicy],
                 timezone: str) -> list[Finding]:
    findings = []
    reachable = probe.reachable()
    for name in TIERS:
        tier = reachable.get(name)
        if tier is None:
            continue
        with tier.connect() as conn:
            missing = [] if name != "main" or table_exists(conn, "persys.ledger") else [
                "persys.ledger"]
            found = [f for table in dict.fromkeys([*OUTPUT_TABLES, *tables])
                     for f in _table(timezone, conn, name, table, tables.get(table))]
            missing += [f.item.split(": ", 1)[1] for f in found if f.detail == NOT_YET]
            if missing:  # a fresh install: one line, not one per table
                findings.append(Finding(f"{name}: persys's own tables", WARN,
                                        f"{', '.join(missing)} {NOT_YET_ALL}"))
            elif name == "main":
                findings.append(Finding("main: persys.ledger", OK))
            findings += [f for f in found if f.detail != NOT_YET]
    return findings


def _table(timezone: str, conn: psycopg.Connection, tier: str, table: str,
           policy: TablePolicy | None) -> list[Finding]:
    item = f"{tier}: {table}"
    if not table_exists(conn, table):
        if tier == "main" and table not in OUTPUT_TABLES:
            return [Finding(item, OK, "created from core's on first move")]
        if table in OUTPUT_TABLES:  # persys's own: made by setup or up, nothing to fix
            return [Finding(item, WARN, NOT_YET)]
        if table in SAMPLE_TABLES:
            return [Finding(item, FAIL, "missing; run `persys setup` (it creates this "
                            "sample table because persys.yaml names it)")]
        return [Finding(item, FAIL, "missing; create it or drop it from persys.yaml")]
    if policy is None:
        return [Finding(item, OK)]
    try:
        day_expression(conn, table, policy, timezone)
    except TableError as exc:
        return [Finding(item, FAIL, str(exc))]
    key = primary_key(conn, table)
    if not key:
        return [Finding(item, FAIL, f"no primary key: moves verify and delete rows by it; add "
                        f"one (alter table {table} add primary key (id))")]
    findings = [Finding(item, OK, f"primary key ({', '.join(key)}), day column "
                        f"{policy.day_column}")]
    if tier == "core":
        findings.extend(_references(conn, table))
        findings.extend(_triggers(conn, table))
        findings.extend(_row_security(conn, table))
    return findings


def _references(conn: psycopg.Connection, table: str) -> list[Finding]:
    incoming = references.incoming(conn, table)
    outgoing = conn.execute(
        """select distinct n.nspname || '.' || c.relname
             from pg_constraint k join pg_class c on c.oid = k.confrelid
             join pg_namespace n on n.oid = c.relnamespace
            where k.contype = 'f' and k.conrelid = to_regclass(%s) and k.conparentid = 0
            order by 1""", (regclass(table),)).fetchall()
    findings = []
    if outgoing:
        targets = [t for (t,) in outgoing]
        others = [t for t in targets if not t.startswith("public.")]
        note = (f"; {', '.join(others)} is not recreated in main (the key is not copied "
                "there)" if others else "")
        findings.append(Finding(f"core: {table} references", OK,
                                f"refers to {', '.join(targets)}{note}"))
    if incoming:
        hidden = references.hidden_by_row_security(conn, incoming)
        named = ", ".join(f"{r.name} on delete {r.on_delete}" for r in incoming)
        if hidden:
            findings.append(Finding(f"core: {table} referenced by", WARN,
                                    f"{named}; row-level security hides rows of "
                                    f"{', '.join(hidden)} from this role, so referenced rows "
                                    "cannot all be seen: connect as the owner or a role with "
                                    "BYPASSRLS (Supabase: postgres)"))
        else:
            findings.append(Finding(f"core: {table} referenced by", OK,
                                    f"{named}; a row still referenced stays in core"))
    return findings


def _triggers(conn: psycopg.Connection, table: str) -> list[Finding]:
    rows = conn.execute(
        """select t.tgname, p.proname, (t.tgtype & 8) <> 0,
                  p.prosrc ~* '\\m(insert|update|delete)\\M'
             from pg_trigger t join pg_proc p on p.oid = t.tgfoid
            where t.tgrelid = to_regclass(%s) and not t.tgisinternal and t.tgparentid = 0
            order by 1""", (regclass(table),)).fetchall()
    findings = []
    for name, function, on_delete, writes in rows:
        if on_delete and writes:
            findings.append(Finding(
                f"core: {table} trigger {name}", WARN,
                f"fires on DELETE and {function}() writes to a table: every row a move "
                "deletes from core runs it, so what it writes (audit rows) grows core during "
                "the move; exclude that table from the quota's worries or make the trigger "
                "skip persys (e.g. `when (current_setting('application_name') <> 'persys')`)"))
        else:
            findings.append(Finding(f"core: {table} trigger {name}", OK,
                                    f"{function}(){' on delete' if on_delete else ''}"))
    return findings


def _row_security(conn: psycopg.Connection, table: str) -> list[Finding]:
    row = conn.execute(
        """select c.relrowsecurity, c.relforcerowsecurity,
                  (select rolbypassrls or rolsuper from pg_roles where rolname = current_user)
             from pg_class c where c.oid = to_regclass(%s)""", (regclass(table),)).fetchone()
    enabled, forced, bypass = row
    if not enabled:
        return []
    if forced and not bypass:
        return [Finding(f"core: {table} rls", WARN, "FORCE ROW LEVEL SECURITY: even the owner "
                        "sees only the rows its policies allow, so a move would miss rows; "
                        "connect as a role with BYPASSRLS (Supabase: postgres) or drop FORCE")]
    return [Finding(f"core: {table} rls", OK, "row-level security on; this role sees every "
                    "row" + (" (FORCE, bypassed)" if forced else ""))]


def sources_checks(probe: TierProbe, daily: Daily,
                   person_sources: Callable[[psycopg.Connection], dict[str, Source]]
                   ) -> list[Finding]:
    """The metrics' sources: each one's table, columns and `value` expression, planned and run
    on a few rows of core read-only with the statement timeout (lib/daily/sources.py), and a
    WARN for a table shared by several people that no person filter narrows.
    `person_sources`: the metrics' sources as core answers them (lib/daily/sources.py)."""
    tier = probe.reachable().get("core")
    if tier is None or not daily.metric_sources():
        return []
    keys = {m: daily.source_key(m) for m in daily.metric_sources()}
    timeout = daily.statement_timeout_s
    with tier.connect(autocommit=True) as conn:
        sources = person_sources(conn)
        problems = check_sources(conn, sources, keys=keys, timeout_s=timeout)
        shared = [] if problems else shared_tables(conn, sources, keys=keys, timeout_s=timeout)
    item = "daily.metrics" if daily.metrics is not None else "daily.sources"
    if problems:
        return [Finding(item, FAIL, detail)
                for item, _, detail in (p.partition(": ") for p in problems)]
    filtered = sorted(m for m, s in sources.items() if daily.person is not None
                      and daily.person.column in s.where)
    note = f"; daily.person filters {', '.join(filtered)}" if filtered else ""
    findings = [Finding(item, OK, f"{len(sources)} metrics run on core: "
                        f"{', '.join(sorted(sources))}{note}")]
    findings += [Finding(w.partition(": ")[0], WARN, w.partition(": ")[2]) for w in shared]
    return findings
