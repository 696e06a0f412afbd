"""From a connection to a persys.yaml draft: inspect, pick the tables, size the policy, guess
the metrics (`persys init`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import psycopg

from ..dsn import dsn_fields, safe_dsn
from ..monitoring.units import plural
from .inspect import Project, Table, distinct_values, inspect, plain
from .metrics import MONEY_TABLES, guess, person_of
from .policy import OWN_TABLES, suggest
from .render import Draft

# persys's own bookkeeping (the ledger, usage, pins, ...), never a table to manage
OWN_PREFIX = "persys_"
FIRST_DAY_LIMIT_YEARS = 20  # an odd 1970 date must not make 20,000 daily partitions


def is_supabase(dsn: str) -> bool:
    host = (dsn_fields(dsn) or {}).get("host", "")
    return host.endswith((".supabase.co", ".supabase.com"))


def supabase_url(dsn: str) -> str | None:
    """https://<ref>.supabase.co from a direct host (db.<ref>.supabase.co) or a pooler user
    (postgres.<ref>)."""
    fields = dsn_fields(dsn) or {}
    host, user = fields.get("host", ""), fields.get("user", "")
    if host.startswith("db.") and host.endswith(".supabase.co"):
        return f"https://{host.removeprefix('db.').removesuffix('.supabase.co')}.supabase.co"
    if host.endswith(".pooler.supabase.com") and "." in user:
        return f"https://{user.split('.', 1)[1]}.supabase.co"
    return None


def unmanaged_reason(t: Table) -> str | None:
    if not plain(t.name):
        return (f"its name needs quotes in SQL; persys takes lower-case names (alter table "
                f"\"{t.name}\" rename to {t.name.lower().replace(' ', '_')})")
    if t.day_column is None:
        return "no date or timestamptz column to tell a row's day"
    if not t.primary_key:
        return (f"no primary key: moves verify and delete rows by it; add one, then run "
                f"`persys init` again (alter table {t.name} add primary key (id))")
    return None


def pick_tables(project: Project) -> tuple[list[Table], dict[str, str]]:
    managed, unmanaged = [], {}
    for t in project.tables:
        if t.name in OWN_TABLES or t.name.startswith(OWN_PREFIX):
            continue
        why = unmanaged_reason(t)
        if why:
            unmanaged[t.name] = f"{why}; {plural(t.rows, 'row')}"
        else:
            managed.append(t)
    return managed, unmanaged


def start_date(managed: list[Table], today: dt.date) -> dt.date:
    firsts = [t.first_day for t in managed if t.first_day and t.first_day <= today]
    floor = today.replace(year=today.year - FIRST_DAY_LIMIT_YEARS)
    return max(min(firsts), floor) if firsts else today - dt.timedelta(days=30)


def currency_of(conn: psycopg.Connection, managed: list[Table]) -> str | None:
    for t in managed:
        column = t.column("currency")
        if column and any(w in t.name.lower() for w in MONEY_TABLES):
            values = distinct_values(conn, t.name, "currency", limit=5)
            top = next(iter(values), "")
            if len(top.strip()) == 3 and top.strip().isalpha():
                return top.strip().upper()
    return None


def build(conn: psycopg.Connection, dsn: str, *, dsn_env: str, zone: str, today: dt.date,
          env: Mapping[str, str], archive_url: str | None = None, home: str = ".persys"
          ) -> Draft:
    """The draft persys.yaml for the database behind `conn` (read-only)."""
    project = inspect(conn, zone, today)
    managed, unmanaged = pick_tables(project)
    supabase = is_supabase(dsn)
    forecast = suggest(project, managed, cluster=supabase)
    person = person_of(managed)
    columns = {t.person_column for t in managed if t.person_column}
    return Draft(
        source=safe_dsn(dsn), dsn_env=dsn_env, timezone=zone,
        start_date=start_date(managed, today), supabase=supabase, forecast=forecast,
        managed=managed, unmanaged=unmanaged, guesses=guess(conn, managed, person),
        person=person, person_column=", ".join(sorted(columns)) or None,
        supabase_url=supabase_url(dsn),
        service_key_env="SUPABASE_SERVICE_KEY" if env.get("SUPABASE_SERVICE_KEY") else None,
        main_dsn_env="MAIN_DATABASE_URL" if env.get("MAIN_DATABASE_URL") else None,
        archive_url=archive_url,
        archive_key_env="PERSYS_ARCHIVE_KEY" if env.get("PERSYS_ARCHIVE_KEY") else None,
        currency=currency_of(conn, managed), today=today, home=home,
    )
