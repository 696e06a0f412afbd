"""Health checks of configured endpoints, incidents, and uptime per endpoint per day.

Each check is recorded in main's `persys.health_checks`; a failing endpoint opens one incident
(`incidents`, at most one open per endpoint) and the next healthy check resolves it. The archive
failover asks `known_down` first: an open incident on `archive:primary` sends new files to the
secondary store at once; otherwise the archive probes the primary itself.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psycopg

from .. import supabase_rest
from ..config import HealthEndpoint
from ..errors import scrub
from ..pg.catalog import table_exists
from ..pg.schema import create_monitoring_tables
from ..pg.tiers import PgTier
from .context import HealthContext


@dataclass(frozen=True)
class CheckResult:
    endpoint: str
    ok: bool
    latency_ms: float
    detail: str
    at: dt.datetime


@dataclass(frozen=True)
class Transition:
    """An incident opened (ok=False) or resolved (ok=True) by a check."""

    endpoint: str
    ok: bool
    detail: str
    incident_id: int
    opened_at: dt.datetime


SUPABASE_URL = "supabase:core"  # the project's REST API (lib/supabase_rest.probe)


def endpoints(ctx: HealthContext) -> list[HealthEndpoint]:
    """health.endpoints, plus the Supabase REST probe when tiers.core.supabase_url and
    service_key are set and no endpoint checks it already (a paused project shows up as an
    incident, not only as the next run's connection error)."""
    listed = list(ctx.endpoints)
    if ctx.rest.configured and all(e.url != SUPABASE_URL for e in listed):
        listed.append(HealthEndpoint(name="supabase", url=SUPABASE_URL))
    return listed


def check(ctx: HealthContext, endpoint: HealthEndpoint,
          transport: httpx.BaseTransport | None = None,
          at: dt.datetime | None = None) -> CheckResult:
    """Probe one endpoint; never raises (a failure is a result with ok=False)."""
    at = at or dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    try:
        detail = _probe(ctx, endpoint, transport)
        ok = True
    except Exception as exc:  # every failure kind is an unhealthy result, with its reason
        ok, detail = False, _reason(exc)
    return CheckResult(endpoint.name, ok, (time.perf_counter() - start) * 1000, detail, at)


def _probe(ctx: HealthContext, endpoint: HealthEndpoint, transport) -> str:
    url = endpoint.url
    if url.startswith(("http://", "https://")):
        with httpx.Client(timeout=endpoint.timeout_s, transport=transport) as client:
            response = client.get(url)
        if response.status_code >= 400:
            raise RuntimeError(f"HTTP {response.status_code}")
        return f"HTTP {response.status_code}"
    if url == SUPABASE_URL:
        rest = ctx.rest
        if not rest.configured:
            return rest.probe()  # raises: says which keys to set
        found = supabase_rest.project_state(str(rest.url), str(rest.key),
                                            timeout_s=endpoint.timeout_s, transport=transport)
        if found.state == "up":
            return found.detail
        if found.state == "error":  # the probe's message names the fix (key, table)
            return rest.probe(timeout_s=endpoint.timeout_s)
        raise RuntimeError(found.detail)
    if url.startswith("tier:"):
        tier = ctx.tier(url[len("tier:"):])
        with tier.connect() as conn:
            conn.execute("select 1")
        return "select 1 ok"
    stores = ctx.stores()  # opened as the archive opens them: credentials
    store = stores.primary if url == "archive:primary" else stores.secondary
    if store is None:
        raise RuntimeError("tiers.archive.secondary_url is not configured")
    store.check()
    return "store writable"


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    # httpx errors can carry the URL (and a userinfo part); keep the kind and first line only
    first = text[0] if text else ""
    first = first if not isinstance(exc, httpx.HTTPError) else ""
    return scrub(f"{type(exc).__name__}{': ' + first[:400] if first else ''}")


def record(conn: psycopg.Connection, results: list[CheckResult]) -> list[Transition]:
    """Store the checks; open/resolve incidents; returns the transitions (for alerts)."""
    create_monitoring_tables(conn)
    transitions = []
    for r in results:
        conn.execute(
            "insert into persys.health_checks (at, endpoint, ok, latency_ms, detail) "
            "values (%s, %s, %s, %s, %s) on conflict do nothing",
            (r.at, r.endpoint, r.ok, r.latency_ms, r.detail),
        )
        open_row = conn.execute(
            "select id, opened_at from persys.incidents "
            "where endpoint = %s and resolved_at is null",
            (r.endpoint,),
        ).fetchone()
        if not r.ok and open_row is None:
            row = conn.execute(
                "insert into persys.incidents (endpoint, opened_at, detail) values (%s, %s, %s) "
                "returning id, opened_at",
                (r.endpoint, r.at, r.detail),
            ).fetchone()
            transitions.append(Transition(r.endpoint, False, r.detail, row[0], row[1]))
        elif r.ok and open_row is not None:
            conn.execute("update persys.incidents set resolved_at = %s where id = %s",
                         (r.at, open_row[0]))
            transitions.append(Transition(r.endpoint, True, r.detail, open_row[0], open_row[1]))
    conn.commit()
    return transitions


def due(conn: psycopg.Connection, endpoints: list[HealthEndpoint],
        now: dt.datetime) -> list[HealthEndpoint]:
    """Endpoints whose interval has passed since their last check."""
    if not table_exists(conn, "persys.health_checks"):
        return list(endpoints)
    last = dict(conn.execute(
        "select endpoint, max(at) from persys.health_checks group by endpoint").fetchall())
    return [e for e in endpoints
            if e.name not in last or (now - last[e.name]).total_seconds() >= e.interval_s - 1]


def is_healthy(conn: psycopg.Connection, endpoint: str) -> bool | None:
    """No open incident → True; open → False; never checked → None."""
    if not table_exists(conn, "persys.health_checks"):
        return None
    checked = conn.execute("select 1 from persys.health_checks where endpoint = %s limit 1",
                           (endpoint,)).fetchone()
    if not checked:
        return None
    row = conn.execute("select 1 from persys.incidents where endpoint = %s and resolved_at is null",
                       (endpoint,)).fetchone()
    return row is None


def known_down(endpoints: list[HealthEndpoint] | tuple[HealthEndpoint, ...],
               main: Callable[[], PgTier], url: str) -> str | None:
    """Why the health sensor holds the endpoint checking `url` (e.g. `archive:primary`) down:
    its open incident, or None (healthy, never checked, not configured, or main unreachable:
    no opinion, the caller checks for itself). The archive fails over on this without waiting
    for its own probe to time out. `main` resolves main (a failure there is "no opinion")."""
    names = [e.name for e in endpoints if e.url == url]
    if not names:
        return None
    try:
        with main().connect() as conn:
            if not table_exists(conn, "persys.incidents"):
                return None
            row = conn.execute(
                "select endpoint, opened_at, detail from persys.incidents where endpoint = any(%s) "
                "and resolved_at is null order by opened_at limit 1", (names,)).fetchone()
    except Exception:  # main down: the health state is unknown, not "down"
        return None
    return None if row is None else f"{row[0]} down since {row[1]:%Y-%m-%d %H:%M} ({row[2]})"


def open_incidents(conn: psycopg.Connection) -> list[dict]:
    if not table_exists(conn, "persys.incidents"):
        return []
    rows = conn.execute("select id, endpoint, opened_at, detail from persys.incidents "
                        "where resolved_at is null order by opened_at").fetchall()
    return [{"id": i, "endpoint": e, "opened_at": o.isoformat(), "detail": d}
            for i, e, o, d in rows]


def uptime(conn: psycopg.Connection, day: dt.date, zone: str) -> dict[str, dict]:
    """Per endpoint for one calendar day in `zone`: checks, healthy checks, uptime %."""
    if not table_exists(conn, "persys.health_checks"):
        return {}
    rows = conn.execute(
        "select endpoint, count(*), count(*) filter (where ok) from persys.health_checks "
        "where (at at time zone %s)::date = %s group by endpoint order by endpoint",
        (zone, day),
    ).fetchall()
    return {e: {"checks": n, "ok": k, "uptime_pct": round(100.0 * k / n, 2)} for e, n, k in rows}
