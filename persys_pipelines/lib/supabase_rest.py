"""The HTTP side of a Supabase project (`tiers.core.supabase_url` + `service_key`), through the
`supabase` client: one client per use, and a cheap REST probe for `doctor` and the health
sensor.

The probe is a `select day … limit 1` on the project's own `daily_summaries` through PostgREST:
it proves the project is up (not paused), the key is accepted and the API sees the schema, for
the cost of one indexed row. The service key bypasses RLS, so the probe never depends on the
person's policies. Errors say what failed without the key or the URL's secrets (`scrub`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from .errors import ServiceError, scrub

if TYPE_CHECKING:
    from supabase import Client

    from .config import CoreTier

PROBE_TABLE = "daily_summaries"
PAUSED_HINT = ("is the Supabase project paused? Free projects pause after a week without "
               "activity: open the dashboard (https://supabase.com/dashboard) and restore it")


class SupabaseError(ServiceError):
    """Supabase's HTTP API refused or could not be reached; never carries the key."""


def configured(core: CoreTier) -> bool:
    """Are the project's URL and service key set (`tiers.core`, the only section read here)?"""
    return bool(core.supabase_url and core.service_key)


def client(url: str, key: str, *, timeout_s: float = 10) -> Client:
    """A `supabase` client for the project; PostgREST and Storage share the timeout."""
    from supabase import ClientOptions, create_client

    options = ClientOptions(postgrest_client_timeout=timeout_s, postgrest_client_retry=False,
                            storage_client_timeout=int(max(1, timeout_s)))
    return create_client(url, key, options=options)


def client_for(core: CoreTier, *, timeout_s: float = 10) -> Client:
    if not configured(core):
        raise SupabaseError("tiers.core.supabase_url and service_key are not set; set "
                            "supabase_url: https://<ref>.supabase.co and service_key: "
                            "env:SUPABASE_SERVICE_KEY")
    return client(str(core.supabase_url), core.service_key.get_secret_value(),
                  timeout_s=timeout_s)


def probe(core: CoreTier, *, table: str = PROBE_TABLE, timeout_s: float = 10) -> str:
    """One-row REST select; returns what it saw, or raises SupabaseError with the fix."""
    from postgrest.exceptions import APIError

    url = str(core.supabase_url)
    key = core.service_key.get_secret_value() if core.service_key else None
    start = time.perf_counter()
    try:
        client_for(core, timeout_s=timeout_s).table(table).select("day").limit(
            1).execute()
    except APIError as exc:
        code = str(exc.code or "")
        message = scrub(str(exc.message or ""), [key])[:200]
        if code in {"401", "403"} or "JWT" in message or "Invalid API key" in message:
            fix = "check tiers.core.service_key (the project's service_role key)"
        elif code == "42P01" or "does not exist" in message or "schema cache" in message:
            fix = f"run `persys setup` (the REST API does not see table {table})"
        else:
            fix = PAUSED_HINT
        raise SupabaseError(f"Supabase REST at {url}: {message or 'refused'}"
                            f"{f' ({code})' if code else ''}; {fix}") from None
    except httpx.HTTPError as exc:
        raise SupabaseError(f"Supabase REST at {url} cannot be reached "
                            f"({type(exc).__name__}); {PAUSED_HINT}") from None
    ms = (time.perf_counter() - start) * 1000
    return f"REST select on {table} answered in {ms:.0f} ms"


# Supabase's own status codes (docs: guides/platform/http-status-codes): 540 the project is
# paused; 402 the organisation's services are restricted under the Fair Use Policy.
PAUSED_STATUS = 540
RESTRICTED_STATUS = 402
RESTORE_HINT = ("restore it in the dashboard (https://supabase.com/dashboard, the project's "
                "page: Restore project); until then nothing moves out of core and the app's "
                "requests fail")
RESTRICTED_HINT = ("the organisation is restricted under Supabase's Fair Use Policy (HTTP "
                   "402), judged on the billing cycle's average database size; shrinking the "
                   "database does not lift it until the average falls under the quota or the "
                   "cycle resets (`persys status` shows both)")


@dataclass(frozen=True)
class ProjectState:
    """What one REST request found: `up`, `paused`, `restricted` (402), `unreachable` or
    `error`; `status` is the HTTP status (None when nothing answered)."""

    state: str
    status: int | None
    detail: str


def is_supabase_host(host: str | None) -> bool:
    return bool(host) and host.rstrip(".").endswith((".supabase.co", ".supabase.com"))


def project_state(url: str, key: str, *, table: str = PROBE_TABLE, timeout_s: float = 10,
                  transport: httpx.BaseTransport | None = None) -> ProjectState:
    """One real read through PostgREST (`select day … limit 1`, the service key), classified
    by Supabase's status codes; never raises, never returns the key."""
    endpoint = f"{url.rstrip('/')}/rest/v1/{table}"
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(timeout=timeout_s, transport=transport) as http:
            r = http.get(endpoint, params={"select": "day", "limit": "1"}, headers=headers)
    except httpx.HTTPError as exc:
        host = urlsplit(url).hostname
        why = f"cannot be reached ({type(exc).__name__})"
        if isinstance(exc, httpx.ConnectError) and is_supabase_host(host):
            # a paused project's subdomain is withdrawn from DNS
            why += f"; {PAUSED_HINT}"
        return ProjectState("unreachable", None, f"Supabase REST at {url} {why}")
    body = scrub(r.text.strip().replace("\n", " "), [key])[:200]
    if r.is_success:
        return ProjectState("up", r.status_code, f"REST select on {table}: HTTP {r.status_code}")
    if r.status_code == PAUSED_STATUS:
        return ProjectState("paused", r.status_code,
                            f"Supabase project {url} is paused (HTTP 540); {RESTORE_HINT}")
    if r.status_code == RESTRICTED_STATUS:
        return ProjectState("restricted", r.status_code,
                            f"Supabase project {url} answers HTTP 402 ({body or 'restricted'}); "
                            f"{RESTRICTED_HINT}")
    return ProjectState("error", r.status_code,
                        f"Supabase REST at {url}: HTTP {r.status_code} {body}".rstrip())
