"""The config boundary of lib/monitoring: persys.yaml → the contexts and handles the watching
code is given (lib/monitoring/context.py), and the whole-config monitoring entry points the
CLI, the Dagster assets and the tests share. handles.py re-exports these.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from .handles_stores import archive_stores, open_configured, resolve_tier, resolve_tiers
from .lib import supabase_rest
from .lib.config import Config, secret_values
from .lib.monitoring import health
from .lib.monitoring import report as report_lib
from .lib.monitoring import status as status_lib
from .lib.monitoring.context import HealthContext, StatusContext, SupabaseRest, Watch
from .lib.monitoring.costs import CostSources
from .lib.monitoring.doctor.findings import Finding
from .lib.monitoring.notify import Notifier, channels
from .lib.voice.context import VoiceHandles


def rest(cfg: Config) -> SupabaseRest:
    """Core's Supabase REST API as persys.yaml configures it (maybe not at all)."""
    core = cfg.tiers.core
    return SupabaseRest(supabase_rest.configured(core), partial(supabase_rest.probe, core),
                        str(core.supabase_url) if core.supabase_url else None,
                        core.service_key.get_secret_value() if core.service_key else None)


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


def cost_sources(cfg: Config) -> CostSources:
    """What the free-tier usage document reads (lib/monitoring/costs.collect)."""
    return CostSources(resolve_tier(cfg, "core"), resolve_tier(cfg, "main"), cfg.costs,
                       cfg.tiers.core.quota_mb, cfg.archive_url)


def status_context(cfg: Config) -> StatusContext:
    """The tiers and stores `persys status`, the report and the today page measure."""
    stores = archive_stores(cfg, check=False)
    url = cfg.tiers.archive.backup_url
    backup_store = partial(open_configured, cfg, url) if url else lambda: stores.primary
    return StatusContext(resolve_tiers(cfg), stores, backup_store, dict(cfg.tables),
                         cfg.timezone, cfg.tiers, cfg.backup, cfg.notify.forecast_alert_days,
                         tuple(cfg.health.endpoints), cfg.home)


def status(cfg: Config, as_of: dt.date | None = None) -> dict[str, Any]:
    """The status document (lib/monitoring/status.collect) of persys.yaml's tiers."""
    return status_lib.collect(status_context(cfg), as_of)


def report(cfg: Config, sections: tuple[str, ...] = (), *, as_of: dt.date | None = None,
           chart_png: Path | None = None, now: dt.datetime | None = None) -> str:
    """The Markdown report, with the free-tier document the daily asset stored last."""
    return report_lib.build(status_context(cfg), sections, as_of=as_of,
                            costs_doc=report_lib.latest_costs(cfg.home), chart_png=chart_png,
                            now=now)


def today_page(cfg: Config, day: dt.date) -> Path:
    """Write the day's page (lib/monitoring/today.py): the day's summary, computed when it is
    missing, its briefing, chart, week and the tiers' usage; returns its path."""
    from .handles import voice_handles
    from .lib.daily import charts, projection, weekly
    from .lib.monitoring import today as today_lib
    from .lib.tiering import reader
    from .lib.voice import briefing

    voice = voice_handles(cfg)
    daily = voice.daily
    summary, proj = briefing.load_day(daily.reader, day)
    if summary is None:
        summary, proj = briefing.compute_day(daily, day)
    b = _briefing(voice, day)
    series = projection.read_series(daily, day, day)
    if proj is None:
        proj = projection.project(daily.settings, series, day, day)[0][2]
    chart = charts.render(daily.settings, daily.charts_dir, day, series, proj)
    try:
        week = weekly.latest(daily.reader, day)
    except reader.ReaderError:
        week = None
    doc = today_lib.html_page(day, summary, proj, b, chart, week,
                              list(cfg.daily.metric_defs()),
                              today_lib.usage_rows(status_context(cfg)))
    return today_lib.write(today_lib.page_path(cfg.home, day), doc)


def _briefing(voice: VoiceHandles, day: dt.date) -> dict[str, Any]:
    """The stored briefing's script and audio, or a new one with the local voice."""
    from .lib.monitoring import today as today_lib
    from .lib.voice import briefing, records

    stored = today_lib.stored_briefing(records.find(voice.tiers, day), voice.store, day)
    if stored is not None:
        return stored
    local = dataclasses.replace(voice, settings=voice.settings.model_copy(
        update={"engine": "local"}))
    return today_lib.made_briefing(briefing.produce(local, day, compute_missing=True))


def doctor_checks(cfg: Config) -> list[Callable[[], list[Finding]]]:
    """`persys doctor`'s checks in order, each bound to what it reads; one TierProbe per run
    (each tier probed once). Whatever a check opens, it opens when it runs (a failure there is
    its FAIL line)."""
    from .lib.daily.sources import person_sources
    from .lib.monitoring.doctor import aws_budget_checks, database, imports, privacy, services
    from .lib.voice.briefing import store_for

    probe = database.TierProbe(partial(resolve_tier, cfg))
    return [
        partial(database.config_summary, cfg.tables, cfg.timezone),
        partial(database.tier_checks, probe, cfg.tiers),
        partial(database.table_checks, probe, cfg.tables, cfg.timezone),
        partial(database.sources_checks, probe, cfg.daily, partial(person_sources, cfg.daily)),
        partial(privacy.privacy_checks, probe, list(cfg.tables)),
        partial(imports.import_checks, probe, cfg.imports, cfg.tables),
        partial(services.archive_checks, probe, partial(archive_stores, cfg, check=False),
                cfg.voice.store_url, partial(store_for, cfg.voice, cfg.home, cfg.tiers)),
        partial(privacy.backup_checks, probe, cfg.tiers.archive, cfg.home,
                cfg.tiers.main.dsn is None),
        partial(services.key_checks, cfg.tiers.archive),
        partial(services.supabase_checks, rest(cfg)),
        partial(services.telegram_checks, cfg.telegram),
        partial(services.email_checks, cfg.notify.email),
        partial(services.elevenlabs_checks, cfg.voice),
        services.ssm_checks,
        partial(aws_budget_checks, cfg.costs.aws),
    ]


def doctor(cfg: Config) -> list[Finding]:
    """Every finding of `persys doctor` (lib/monitoring/doctor.run); never raises."""
    from .lib.monitoring.doctor import run

    return run(doctor_checks(cfg))
