"""`persys demo`: the whole system end to end on the embedded default, saying what it does.

It runs on the packaged default config with its own home, ./.persys-demo (cli/common.py), so it
never writes sample tables into your Supabase or mixes its data, archive files and Dagster runs
with those of your own persys.yaml; `persys up --demo` shows it, `persys down --demo` stops it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from .. import handles as setup_lib
from ..lib.monitoring import status as status_lib
from ..lib.monitoring.units import human_bytes, plural
from ..lib.pg.instance import prepare_dagster_home
from ..lib.sample_data import SampleDataRefused
from .common import DEMO_HOME, add_config_arg, iso_date, load, use_demo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="setup, sample data, summaries, voice, lifecycle, archive "
                       "and status, end to end")
    add_config_arg(p)
    p.add_argument("--days", type=int, default=400, help="days of sample data (default 400)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--as-of", type=iso_date, help="the demo's today (default today)")
    p.set_defaults(handler=run, demo=True)


def daily_step(cfg, args: argparse.Namespace, as_of: dt.date) -> None:
    """Summaries and projections of the whole sample period in one Dagster run."""
    from .. import handles
    from ..defs.daily.backfill import backfill
    from ..lib.config import find_config_path
    from ..lib.tiering import reader

    first = max(cfg.start_date, as_of - dt.timedelta(days=args.days - 1))
    last = min(as_of, cfg.today() - dt.timedelta(days=1))  # partitions end with yesterday
    step(f"3. daily summaries and projections {first}..{last} (one Dagster run)")
    if last < first:
        print("nothing to summarise: the sample period is before start_date or in the future")
        return
    path = args.config or find_config_path()
    started = time.perf_counter()
    result = backfill(cfg, str(Path(path).resolve()) if path else None, first, last)
    days = (last - first).days + 1
    print(f"{plural(days, 'day')} in {time.perf_counter() - started:.0f} s, run {result.run_id}")
    tiers = handles.tiered_reader(cfg)
    (text,) = reader.read(tiers, "daily_summaries", last, last, columns=("summary_text",))[
        "summary_text"]
    chart = reader.read(tiers, "daily_projections", last, last, columns=("chart_uri",))
    print(text)
    print(f"chart: {chart['chart_uri'].iloc[0]} (and in `persys up`: asset daily_projection)")
    correlations_step(cfg, args, first, last)


def correlations_step(cfg, args: argparse.Namespace, first: dt.date, last: dt.date) -> None:
    """The weekly correlations of every whole week of the sample period (one Dagster run)."""
    from .. import handles
    from ..defs.insight.assets import backfill_weeks
    from ..lib.config import find_config_path
    from ..lib.daily import weekly

    path = args.config or find_config_path()
    started = time.perf_counter()
    result = backfill_weeks(cfg, str(Path(path).resolve()) if path else None, first, last)
    if result is None:
        print("weekly correlations: no whole week yet")
        return
    week = weekly.latest(handles.tiered_reader(cfg), last)
    print(f"weekly correlations in {time.perf_counter() - started:.0f} s, run "
          f"{result.run_id}: " + (week["text"] if week else "none stored"))


def voice_step(cfg, as_of: dt.date) -> None:
    """This morning's briefing (about yesterday) with the local voice, whatever the config."""
    from .. import handles
    from ..lib.voice import briefing

    day = as_of - dt.timedelta(days=1)
    step(f"4. voice briefing for {day} (local voice, eSpeak NG)")
    local = cfg.model_copy(update={"voice": cfg.voice.model_copy(update={"engine": "local"})})
    b = briefing.produce(handles.voice_handles(local), day, compute_missing=True)
    record_briefing(cfg, b)
    print(b.script.text)
    print(f"audio: {b.uri} ({b.audio.duration_s:.0f} s OGG/Opus; `persys voice send` sends it "
          "to Telegram)")


def today_step(cfg, as_of: dt.date) -> None:
    """Yesterday as one HTML page (`persys today`)."""
    from ..handles import today_page

    day = as_of - dt.timedelta(days=1)
    step(f"4b. the page of {day} (`persys today`)")
    print(today_page(cfg, day))
def record_briefing(cfg, b) -> None:
    """The briefing as a materialization of `voice_briefing` (its partition, its metadata), so
    the UI does not say "Never materialized" after the demo made one."""
    import dagster as dg

    from ..defs.runner import cli_instance

    with cli_instance(home=cfg.home) as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key="voice_briefing", partition=b.day.isoformat(),
            description="made by `persys demo` (local voice)",
            metadata={"engine": b.engine, "voice": b.voice,
                      "duration_s": round(b.audio.duration_s, 1),
                      "characters": len(b.script.text), "uri": dg.MetadataValue.path(b.uri),
                      "script": dg.MetadataValue.md(b.script.text)}))


def lifecycle_step(cfg, args: argparse.Namespace, as_of: dt.date) -> None:
    """core→main for every due day, through the same Dagster assets as the nightly run."""
    from .. import handles
    from ..handles import resolve_tier
    from ..lib.tiering import lifecycle
    from . import lifecycle as lifecycle_cli

    step(f"5. lifecycle core→main as of {as_of} (one ranged Dagster run)")
    plans = lifecycle.plan(resolve_tier(cfg, "core"), handles.specs(cfg), as_of)
    lifecycle_cli.print_plan(plans)
    due = {t: p for t, p in plans.items() if p.days}
    if due:
        lifecycle_cli.print_results(lifecycle_cli.execute(cfg, args, as_of, due))
    archive_step(cfg, args, as_of)


def archive_step(cfg, args: argparse.Namespace, as_of: dt.date) -> None:
    """main→archive for months older than main_days (the same `archive/<table>` assets), then
    the files the archive now holds."""
    from ..handles import archive_stores
    from ..lib.archive import maintenance
    from . import lifecycle as lifecycle_cli

    step(f"6. lifecycle main→archive and purge as of {as_of} (Parquet files, verified)")
    lifecycle_cli.archive_steps(cfg, lifecycle_cli.config_path(args), as_of, list(cfg.tables))
    stores = archive_stores(cfg, check=False)
    files = [(store, e) for t in cfg.tables for store, e in maintenance.manifest_rows(stores, t)]
    if not files:
        print("no month is older than main_days yet; try `persys lifecycle run --as-of "
              f"{as_of + dt.timedelta(days=400)}` to see one archived")
    for store, e in files:
        print(f"  {store.uri(e.key)}  {plural(e.rows, 'row')}, "
              f"{human_bytes(e.bytes)}, {e.min_day}..{e.max_day}")


def step(text: str) -> None:
    print(f"\n== {text}")


def run(args: argparse.Namespace) -> int:
    use_demo(args)  # the packaged default in ./.persys-demo, unless --config names another
    cfg = load(args)
    as_of = args.as_of or cfg.today()
    step(f"1. tiers and schema (home {cfg.home})")
    dagster_home = prepare_dagster_home(cfg.home, cfg.instance)
    print(f"Dagster runs of this demo are recorded in {dagster_home}")
    for tier, tables in setup_lib.setup_tiers(cfg, sample_data=True).items():
        print(f"{tier}: " + (f"created {', '.join(tables)}" if tables else "schema up to date"))
    print(setup_lib.backup_key_note(cfg))

    step(f"2. sample data: {args.days} days ending {as_of}, seed {args.seed}")
    try:
        counts = setup_lib.load_sample_data(cfg, days=args.days, seed=args.seed, as_of=as_of)
        print(", ".join(f"{t} {n:,}" for t, n in counts.items()))
    except SampleDataRefused:
        print("the tables already hold data from an earlier demo: keeping it")

    daily_step(cfg, args, as_of)
    voice_step(cfg, as_of)
    today_step(cfg, as_of)
    lifecycle_step(cfg, args, as_of)

    step("7. status")
    print(status_lib.render(status_of(cfg, as_of)))
    step("done")
    flag = "" if args.config else " --demo"
    where = f"./{DEMO_HOME}" if not args.config else str(cfg.home)
    print(f"The demo's data, archive and Dagster runs are in {where}. Its embedded PostgreSQL "
          f"keeps running: `persys down{flag}` stops it.")
    print(f"See it all in the Dagster UI: `persys up{flag}`.")
    print("Your own Supabase next: `persys init` writes a persys.yaml for your tables.")
    return 0


def status_of(cfg, as_of: dt.date) -> dict:
    """`persys status`'s document (the boundary resolves the tiers and stores)."""
    from ..handles import status

    return status(cfg, as_of)
