"""One tick of each sensor of the real definitions, with 10 tables × 3 years of data:

    .venv/bin/python bench/sensors.py [--days 1095] [--ticks 3]

Builds a temporary home (embedded PostgreSQL, `persys setup`'s tables): the five sample
tables (sample data for `--days` days) and two more tables of the person's own (`sleep_log`
by date, `water_log` by timestamptz, ~4 rows a day), rows older than their `core_days` in
main (as the lifecycle leaves them), newer ones in core; summaries and projections for every
day but the last three (so the catch-up sensor has days to ask for), and one voice message a
day: 10 tables. Nothing is older than `main_days` in main yet except for the tables whose
main_days is one year, so `archive_due` finds ~24 months to request per such table.

Then, with the Dagster instance stored in PostgreSQL as `persys up` has it, each sensor of
`build_definitions(cfg)` is evaluated `--ticks` times through `dg.build_sensor_context`
(cursor carried over from tick to tick, as the daemon does). Prints the milliseconds of the
first (cold) tick and the best later one per sensor, and what it returned. Dagster's limit for
one tick is 60 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from backfill import split_by_age  # noqa: E402

from persys_pipelines.definitions import build_definitions  # noqa: E402
from persys_pipelines.defs.resources import resources  # noqa: E402
from persys_pipelines.handles import (
    resolve_tier,
    setup_tiers,  # noqa: E402
)
from persys_pipelines.lib import sample_data  # noqa: E402
from persys_pipelines.lib.config import load_config  # noqa: E402
from persys_pipelines.lib.pg.instance import prepare_dagster_home  # noqa: E402
from persys_pipelines.lib.pg.tiers import stop_embedded  # noqa: E402

OWN_TABLES = {  # name → (columns, inserted columns, their values for days first..last)
    "sleep_log": ("night date not null, hours real, note text", "night, hours, note",
                  "select d::date, 6 + random() * 3, 'night ' || g from generate_series(%(first)s"
                  "::date, %(last)s::date, '1 day') d, generate_series(1, 2) g"),
    "water_log": ("logged_at timestamptz not null, ml integer", "logged_at, ml",
                  "select d + g * interval '3 hours', 250 from generate_series(%(first)s::date,"
                  " %(last)s::date, '1 day') d, generate_series(1, 4) g"),
}


def build(cfg, config_path: Path, first: dt.date, last: dt.date, days: int) -> int:
    setup_tiers(cfg, sample_data=True)
    rows = sample_data.generate(days, 11, last, cfg.zone)
    core_rows, main_rows = split_by_age(rows, last - dt.timedelta(days=30), cfg.zone)
    total = sum(len(r) for r in rows.values())
    for tier, part in (("core", core_rows), ("main", main_rows)):
        with resolve_tier(cfg, tier).connect() as conn:
            sample_data.load(conn, part)
    cutoff = last - dt.timedelta(days=30)
    for name, (columns, inserted, select) in OWN_TABLES.items():
        for tier in ("core", "main"):
            with resolve_tier(cfg, tier).connect() as conn:
                conn.execute(f"create table {name} (id bigint generated always as identity "
                             f"primary key, {columns})")
                span = ({"first": cutoff, "last": last} if tier == "core"
                        else {"first": first, "last": cutoff - dt.timedelta(days=1)})
                total += conn.execute(f"insert into {name} ({inserted}) {select}",
                                      span).rowcount
    done = last - dt.timedelta(days=3)
    for tier, span in (("main", (first, cutoff - dt.timedelta(days=1))), ("core", (cutoff, done))):
        with resolve_tier(cfg, tier).connect() as conn:
            for table, extra in (("daily_summaries", ""), ("daily_projections", ", 7"),
                                 ("voice_messages", ", 'local', 400")):
                cols = {"daily_summaries": "day", "daily_projections": "day, window_days",
                        "voice_messages": "day, engine, characters"}[table]
                total += conn.execute(
                    f"insert into {table} ({cols}) select d::date{extra} from "
                    "generate_series(%s::date, %s::date, '1 day') d", span).rowcount
    for tier in ("core", "main"):
        with resolve_tier(cfg, tier).connect(autocommit=True) as conn:
            conn.execute("vacuum analyze")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--ticks", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="persys-bench-"))
    last = dt.date.today()
    first = last - dt.timedelta(days=args.days - 1)
    config = home / "persys.yaml"
    doc = yaml.safe_load((ROOT / "persys_pipelines" / "default_persys.yaml").read_text())
    doc.update(home=str(home / "state"), start_date=first.isoformat())
    doc["tables"]["sleep_log"] = {"day_column": "night", "core_days": 30, "main_days": 365}
    doc["tables"]["water_log"] = {"day_column": "logged_at", "core_days": 30,
                                  "main_days": 365}
    config.write_text(yaml.safe_dump(doc))
    os.environ["PERSYS_CONFIG"] = str(config)
    cfg = load_config(config)
    try:
        started = time.perf_counter()
        n = build(cfg, config, first, last, args.days)
        print(f"data: {n:,} rows in {len(cfg.tables)} tables over {args.days} days "
              f"({first}..{last}), built in {time.perf_counter() - started:.1f} s", flush=True)
        prepare_dagster_home(cfg.home)
        instance = dg.DagsterInstance.get()
        started = time.perf_counter()
        defs = build_definitions(cfg, str(config))
        print(f"definitions built in {time.perf_counter() - started:.2f} s")
        res = resources(str(config))
        repo = defs.get_repository_def()
        results = []
        for sensor in repo.sensor_defs:
            cursor, times, said = None, [], ""
            for _ in range(args.ticks):
                with dg.build_sensor_context(instance=instance, cursor=cursor, resources=res,
                                             repository_def=repo,
                                             sensor_name=sensor.name) as ctx:
                    t = time.perf_counter()
                    data = sensor.evaluate_tick(ctx)
                    times.append((time.perf_counter() - t) * 1000)
                    cursor = data.cursor if data.cursor is not None else ctx.cursor
                said = (f"{len(data.run_requests or [])} run requests" if data.run_requests
                        else f"skip: {(data.skip_message or '')[:70]}")
            results.append((sensor.name, times, said))
        for name, times, said in results:
            later = f", best later {min(times[1:]):.0f} ms" if len(times) > 1 else ""
            print(f"{name}: first tick {times[0]:.0f} ms{later} ({said})")
        worst = max(max(t) for _, t, _ in results)
        print(f"sensor_tick_max_ms: {worst:.0f}")
        print(f"sensor_tick_vs_dagster_limit: {worst / 60000:.4f}")
    finally:
        stop_embedded(cfg.home)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
