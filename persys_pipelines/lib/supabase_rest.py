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
from typing import TYPE_CHECKING

import httpx

from .errors import ServiceError, scrub

if TYPE_CHECKING:
    from supabase import Client

    from .config import Config

PROBE_TABLE = "daily_summaries"
PAUSED_HINT = ("is the Supabase project paused? Free projects pause after a week without "
               "activity: open the dashboard (https://supabase.com/dashboard) and restore it")


class SupabaseError(ServiceError):
    """Supabase's HTTP API refused or could not be reached; never carries the key."""


def configured(cfg: Config) -> bool:
    core = cfg.tiers.core
    return bool(core.supabase_url and core.service_key)


def client(url: str, key: str, *, timeout_s: float = 10) -> Client:
    """A `supabase` client for the project; PostgREST and Storage share the timeout."""
    from supabase import ClientOptions, create_client

    options = ClientOptions(postgrest_client_timeout=timeout_s, postgrest_client_retry=False,
                            storage_client_timeout=int(max(1, timeout_s)))
    return create_client(url, key, options=options)


def client_for(cfg: Config, *, timeout_s: float = 10) -> Client:
    core = cfg.tiers.core
    if not configured(cfg):
        raise SupabaseError("tiers.core.supabase_url and service_key are not set; set "
                            "supabase_url: https://<ref>.supabase.co and service_key: "
                            "env:SUPABASE_SERVICE_KEY")
    return client(str(core.supabase_url), core.service_key.get_secret_value(),
                  timeout_s=timeout_s)


def probe(cfg: Config, *, table: str = PROBE_TABLE, timeout_s: float = 10) -> str:
    """One-row REST select; returns what it saw, or raises SupabaseError with the fix."""
    from postgrest.exceptions import APIError

    url = str(cfg.tiers.core.supabase_url)
    key = cfg.tiers.core.service_key.get_secret_value() if cfg.tiers.core.service_key else None
    start = time.perf_counter()
    try:
        client_for(cfg, timeout_s=timeout_s).table(table).select("day").limit(
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
