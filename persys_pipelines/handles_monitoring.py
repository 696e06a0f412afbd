"""The config boundary of lib/monitoring: persys.yaml → the contexts and handles the watching
code is given (lib/monitoring/context.py), and the whole-config monitoring entry points the
CLI, the Dagster assets and the tests share. handles.py re-exports these.
"""

from __future__ import annotations

from functools import partial

from .lib import supabase_rest
from .lib.archive.stores import archive_stores
from .lib.config import Config, secret_values
from .lib.monitoring import health
from .lib.monitoring.context import HealthContext, SupabaseRest, Watch
from .lib.monitoring.notify import Notifier, channels
from .lib.pg.tiers import resolve_tier


def rest(cfg: Config) -> SupabaseRest:
    """Core's Supabase REST API as persys.yaml configures it (maybe not at all)."""
    core = cfg.tiers.core
    return SupabaseRest(supabase_rest.configured(cfg),
                        str(core.supabase_url) if core.supabase_url else None,
                        core.service_key.get_secret_value() if core.service_key else None,
                        partial(supabase_rest.probe, cfg))


def health_context(cfg: Config) -> HealthContext:
    """The endpoints and, opened when a check needs them, the tiers and archive stores."""
    return HealthContext(tuple(cfg.health.endpoints), rest(cfg),
                         partial(resolve_tier, cfg), partial(archive_stores, cfg, check=False))


def watch(cfg: Config) -> Watch:
    """What the quota guard and the keepalive read from persys.yaml."""
    return Watch(cfg.tiers.core, dict(cfg.tables), cfg.timezone,
                 cfg.notify.forecast_alert_days, health_context(cfg))


def notifier(cfg: Config) -> Notifier:
    """The alert sender: the `notify:` channels, the outbox in main, every secret scrubbed."""
    def connect():
        return resolve_tier(cfg, "main").connect()

    return Notifier(connect, channels(cfg.notify, cfg.telegram, cfg.notifications.sms, connect),
                    secret_values(cfg))


def known_down(cfg: Config, url: str) -> str | None:
    """lib/monitoring/health.known_down for persys.yaml's endpoints (main resolved only when
    an endpoint watches `url`)."""
    return health.known_down(cfg.health.endpoints, partial(resolve_tier, cfg, "main"), url)
