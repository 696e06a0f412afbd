"""The pause guard: a free Supabase project pauses after 7 days without real queries, and then
nothing moves out of core and the person's app fails. persys reads a real table of core at
least every `tiers.core.keepalive_days` (3): a SQL select through the tier's DSN, and a
PostgREST select when `supabase_url` and `service_key` are set. It queries every third of
that (daily by default), so two missed chances (the machine off, a failed run) still keep the
gap under it.

Each keepalive is a health check of the Supabase endpoint (`persys.health_checks`, detail
`keepalive: ...`): a failure opens the endpoint's incident and alerts once, naming what was
found (paused: HTTP 540 or the host gone from DNS; restricted: HTTP 402) and the fix; the next
good check resolves it. While the incident is open the guard checks every tick (hourly), so a
restore is noticed within the hour.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from psycopg import sql

from .. import supabase_rest
from ..config import CoreTier
from ..dsn import dsn_fields, is_url
from ..errors import PersysError
from ..pg.catalog import ident, table_exists
from ..pg.tiers import PgTier, TierUnavailable
from . import health
from .context import HealthContext, Watch
from .notify import Notifier

PREFIX = "keepalive: "
RECHECK_WHILE_DOWN = dt.timedelta(minutes=55)
# Supavisor (the pooler) answers this for a project that is paused or gone.
POOLER_PAUSED = "tenant or user not found"


@dataclass(frozen=True)
class Keepalive:
    due: bool
    ok: bool | None = None  # None: nothing was done
    state: str = ""  # up, paused, restricted, unreachable, error
    detail: str = ""


def core_host(core: CoreTier) -> str | None:
    dsn = core.dsn.get_secret_value() if core.dsn else ""
    if not dsn:
        return None
    if is_url(dsn):
        return urlsplit(dsn).hostname
    return (dsn_fields(dsn) or {}).get("host")


def guarded(w: Watch) -> bool:
    """The guard runs for a Supabase core: its REST API configured or a Supabase host."""
    return w.core.keepalive_days is not None and (
        w.health.rest.configured or supabase_rest.is_supabase_host(core_host(w.core)))


def endpoint_name(ctx: HealthContext) -> str:
    """The health endpoint the keepalive is a check of (shares its incident)."""
    for e in health.endpoints(ctx):
        if e.url == health.SUPABASE_URL:
            return e.name
    return "supabase"


def interval(core: CoreTier) -> dt.timedelta:
    return dt.timedelta(days=(core.keepalive_days or 3) / 3)


def is_due(conn, name: str, every: dt.timedelta, now: dt.datetime) -> bool:
    """No keepalive yet, the last one older than `every`, or the endpoint down and its last
    check older than RECHECK_WHILE_DOWN."""
    if not table_exists(conn, "persys.health_checks"):
        return True
    last_ok = conn.execute(
        "select max(at) from persys.health_checks where endpoint = %s and ok and "
        "detail like %s", (name, PREFIX + "%")).fetchone()[0]
    if last_ok is None or now - last_ok >= every:
        if health.is_healthy(conn, name) is False:
            last = conn.execute("select max(at) from persys.health_checks where endpoint = %s",
                                (name,)).fetchone()[0]
            return last is None or now - last >= RECHECK_WHILE_DOWN
        return True
    return False


def real_query(tables: Iterable[str], core: PgTier) -> str:
    """A select on a real table of core (persys's daily_summaries, else the first table of
    persys.yaml that exists); raises with the reason."""
    with core.connect(autocommit=True) as conn:
        for table in ("daily_summaries", *tables):
            if table_exists(conn, table):
                conn.execute(sql.SQL("select 1 from {} limit 1").format(
                    ident(table))).fetchall()
                return f"select on {table}"
        conn.execute("select count(*) from pg_class").fetchone()
        return "select on pg_class"


def check(w: Watch, core: PgTier, transport: httpx.BaseTransport | None = None
          ) -> tuple[bool, str, str]:
    """Both queries; (ok, state, detail). Never raises."""
    parts, state = [], "up"
    try:
        parts.append(real_query(w.tables, core) + " ok")
    except PersysError as exc:
        text = str(exc)
        state = "paused" if POOLER_PAUSED in text.lower() or (
            "translate host name" in text and supabase_rest.is_supabase_host(core_host(w.core))
        ) else "unreachable"
        hint = supabase_rest.RESTORE_HINT if state == "paused" else supabase_rest.PAUSED_HINT
        parts.append(f"SQL: {text}; {hint}")
    rest = w.health.rest
    if rest.configured:
        found = supabase_rest.project_state(str(rest.url), str(rest.key), transport=transport)
        parts.append(found.detail)
        if found.state != "up" and state in ("up", "unreachable"):
            state = found.state
    return state == "up", state, PREFIX + "; ".join(parts)


SUBJECTS = {"paused": "🛑 persys: the Supabase project is paused",
            "restricted": "🚫 persys: Supabase restricts the project (HTTP 402)",
            "unreachable": "❌ persys: the Supabase project cannot be reached",
            "error": "❌ persys: the Supabase project answers with an error"}


def keepalive_tick(w: Watch, core: PgTier, main: PgTier, alerts: Notifier,
                   now: dt.datetime | None = None,
                   transport: httpx.BaseTransport | None = None) -> Keepalive:
    """Query core when due, record it as a check of the Supabase endpoint, alert on a change."""
    now = now or dt.datetime.now(dt.UTC)
    name = endpoint_name(w.health)
    try:
        conn = main.connect()
    except TierUnavailable:  # no record to keep: query core anyway (the sensor ticks hourly)
        ok, state, detail = check(w, core, transport)
        if not ok:
            alerts.notify(f"keepalive:{state}:{now.date()}", SUBJECTS.get(
                state, SUBJECTS["error"]), detail + " (main is unreachable too)")
        return Keepalive(True, ok, state, detail)
    with conn:
        if not is_due(conn, name, interval(w.core), now):
            return Keepalive(due=False)
        start = time.perf_counter()
        ok, state, detail = check(w, core, transport)
        result = health.CheckResult(name, ok, (time.perf_counter() - start) * 1000, detail, now)
        transitions = health.record(conn, [result])
    for t in transitions:
        if t.ok:
            alerts.notify(f"incident:{t.incident_id}:resolved",
                          f"✅ persys: the Supabase project answers again ({name})", t.detail)
        else:
            alerts.notify(f"incident:{t.incident_id}:opened",
                          SUBJECTS.get(state, SUBJECTS["error"]), t.detail)
    alerts.flush()
    return Keepalive(True, ok, state, detail)
