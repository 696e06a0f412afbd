"""`persys daily run [--from D --to D | --days N]`: summaries and projections for a day range.

The same ranged Dagster run a backfill makes (`daily_morning_job`, one run for every day), so
the days show in `persys up` like the morning schedule's. Days are checked before anything
runs: none before `start_date`, none later than yesterday (a day is summarised once it is over),
`--from` not after `--to`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from ..lib.config import Config, find_config_path
from ..lib.errors import ConfigError, UsageError
from ..lib.monitoring.units import plural
from .common import add_config_arg, iso_date, load

DEFAULT_DAYS = 7


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("daily", help="daily summaries and projections")
    dsub = p.add_subparsers(dest="daily_command", required=True, metavar="ACTION")
    run = dsub.add_parser("run", help="summaries and projections of a day range, one ranged "
                          "Dagster run (default: the last 7 days up to yesterday)")
    add_config_arg(run)
    run.add_argument("--from", dest="first", type=iso_date, help="first day (YYYY-MM-DD)")
    run.add_argument("--to", dest="last", type=iso_date,
                     help="last day (YYYY-MM-DD; default: yesterday)")
    run.add_argument("--days", type=int, default=None,
                     help=f"without --from: this many days ending with --to (default "
                          f"{DEFAULT_DAYS})")
    run.set_defaults(handler=run_command)


def day_range(cfg: Config, first: dt.date | None, last: dt.date | None, days: int | None
              ) -> tuple[dt.date, dt.date]:
    """The days to run, or a UsageError that says which bound is wrong and what is allowed."""
    yesterday = cfg.today() - dt.timedelta(days=1)
    if first is not None and days is not None:
        raise UsageError("give --from or --days, not both")
    if days is not None and days < 1:
        raise UsageError(f"--days {days}: must be 1 or more")
    if first is not None and first > yesterday and (last is None or first <= last):
        raise UsageError(f"--from {first}: that day is not over yet in {cfg.timezone}; the "
                         f"latest day with a summary is yesterday, {yesterday}")
    last = last or yesterday
    if last > yesterday:
        raise UsageError(f"--to {last}: that day is not over yet in {cfg.timezone}; the latest "
                         f"day with a summary is yesterday, {yesterday}")
    if last < cfg.start_date:
        raise UsageError(f"--to {last} is before start_date ({cfg.start_date} in persys.yaml)"
                         "; days start there (lower start_date to summarise earlier days)")
    if first is None:
        # more days than since start_date is all of them (and keeps timedelta in range)
        span = min(days or DEFAULT_DAYS, (last - cfg.start_date).days + 1)
        first = last - dt.timedelta(days=span - 1)
    if first > last:
        raise UsageError(f"--from {first} is after --to {last}; swap them")
    if first < cfg.start_date:
        raise UsageError(f"--from {first} is before start_date ({cfg.start_date} in persys.yaml)"
                         "; days start there (lower start_date to summarise earlier days)")
    return first, last


def check(cfg: Config, config_file: str) -> None:
    """Every source parsed by PostgreSQL first (read-only), so a typo is one clear line, not a
    failed run."""
    from ..handles import resolve_tier
    from ..lib.daily.sources import check_sources, person_sources

    keys = {m: cfg.daily.source_key(m) for m in cfg.daily.metric_sources()}
    with resolve_tier(cfg, "core").connect(autocommit=True) as conn:
        problems = check_sources(conn, person_sources(cfg.daily, conn), keys=keys,
                                 timeout_s=cfg.daily.statement_timeout_s)
    if problems:
        raise ConfigError(config_file, problems)


def run_command(args: argparse.Namespace) -> int:
    from ..defs.daily.backfill import backfill
    from ..defs.runner import materializations

    cfg = load(args)
    first, last = day_range(cfg, args.first, args.last, args.days)
    check(cfg, str(args.config or find_config_path() or "persys.yaml"))
    n = (last - first).days + 1
    print(f"daily summaries and projections {first}..{last}: {plural(n, 'day')}, "
          "one Dagster run ...", flush=True)
    path = args.config or find_config_path()
    started = time.perf_counter()
    result = backfill(cfg, str(Path(path).resolve()) if path else None, first, last)
    done = materializations(result)
    summary, projection = done.get("daily_summary", {}), done.get("daily_projection", {})
    print(f"  daily_summary     {plural(summary.get('days', 0), 'day')} written, "
          f"{summary.get('days_without_data', 0)} without data")
    print(f"  daily_projection  {plural(projection.get('days', 0), 'day')}, "
          f"chart {projection.get('chart_path', '-')}")
    print(f"done in {time.perf_counter() - started:.1f} s, run {result.run_id}")
    text = summary.get("last_day_summary")
    if text:
        print(text)
    return 0
