"""How big the Dagster instance database gets in ten years with run retention (issue 24):

    .venv/bin/python bench/instance_size.py [--days 7] [--daemon-seconds 150]

A temporary home (embedded PostgreSQL, sample data for 60 days, the Dagster instance in the
database persys_dagster as `persys up` has it) lives `--days` days of the schedules' work, each
day in the order the schedules run it: `persys lifecycle run --as-of D` (core→main, archive,
purge), then the morning jobs for D-1 (daily_morning_job, voice_briefing_job with the local
voice, monitoring_daily_job) and the core backup (backup_tier). It measures the instance's
tables (pg_total_relation_size: rows, indexes, TOAST) after each day, then runs the retention
job's prune as if every run were older than keep_runs_days and measures what stays: one
runless materialization per partition. With `--daemon-seconds`, `dagster-daemon run` ticks the
real sensors and schedules that long and the size of a tick row is measured.

The ten-year figure it prints: the runs of keep_runs_days days (bytes a day × days), plus one
kept materialization per daily partition of each daily asset over 3,650 days and per monthly
partition of each monthly asset over 120 months, plus the ticks kept (ticks a day × days kept
× bytes a tick). Measured on a shared machine: sizes are what they are, times are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from persys_pipelines.handles import load_sample_data, setup_tiers  # noqa: E402
from persys_pipelines.lib.config import load_config  # noqa: E402
from persys_pipelines.lib.pg.instance import prepare_dagster_home  # noqa: E402
from persys_pipelines.lib.pg.tiers import embedded_uri, stop_embedded  # noqa: E402


def table_bytes(home: Path) -> dict[str, tuple[int, int]]:
    """Instance table → (rows, bytes with indexes and TOAST)."""
    import psycopg

    with psycopg.connect(embedded_uri(home, "persys_dagster"), autocommit=True) as conn:
        conn.execute("analyze")
        rows = conn.execute(
            "select c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid) "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind = 'r'").fetchall()
    return {name: (max(0, n), b) for name, n, b in rows}


def exact_rows(home: Path, table: str) -> int:
    import psycopg

    with psycopg.connect(embedded_uri(home, "persys_dagster")) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


def total(sizes: dict[str, tuple[int, int]]) -> int:
    return sum(b for _, b in sizes.values())


def run_day(cfg, config: Path, defs, instance, day: dt.date) -> None:
    from persys_pipelines.cli import main as persys
    from persys_pipelines.defs.runner import QUIET

    with contextlib.redirect_stdout(io.StringIO()):
        code = persys(["lifecycle", "run", "--as-of", day.isoformat(), "--yes"])
    assert code == 0, f"lifecycle run as of {day} exited {code}"
    part = (day - dt.timedelta(days=1)).isoformat()
    for job in ("daily_morning_job", "voice_briefing_job", "monitoring_daily_job"):
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, partition_key=part, run_config=QUIET)
        assert result.success, job
    result = defs.resolve_job_def("backup_tier").execute_in_process(
        instance=instance, run_config={**QUIET, "ops": {"take_backup": {"config": {
            "tier": "core"}}}})
    assert result.success


def left_behind(marker: str) -> list[int]:
    """Processes whose command line names `marker` (this run's temporary home): the code
    server the daemon started outlives it."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                line = (entry / "cmdline").read_bytes().decode(errors="replace")
                if marker in line and "dagster" in line:  # not the embedded PostgreSQL
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def daemon_ticks(seconds: int, env: dict, marker: str) -> None:
    proc = subprocess.Popen([str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w",
                             str(ROOT / "workspace.yaml")], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        time.sleep(seconds)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in left_behind(marker):
            os.kill(pid, signal.SIGTERM)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--daemon-seconds", type=int, default=0)
    args = parser.parse_args()
    import dagster as dg

    from persys_pipelines.definitions import build_definitions
    from persys_pipelines.defs.housekeeping.retention import prune

    home = Path(tempfile.mkdtemp(prefix="persys-instance-size-"))
    today = dt.date.today()
    first_run = today - dt.timedelta(days=args.days)
    doc = yaml.safe_load((ROOT / "persys_pipelines" / "default_persys.yaml").read_text())
    doc.update(home=str(home / "state"), start_date=(today - dt.timedelta(days=400)).isoformat())
    config = home / "persys.yaml"
    config.write_text(yaml.safe_dump(doc))
    os.environ["PERSYS_CONFIG"] = str(config)
    cfg = load_config(config)
    try:
        setup_tiers(cfg, sample_data=True)
        load_sample_data(cfg, days=60, seed=5, as_of=today - dt.timedelta(days=1))
        prepare_dagster_home(cfg.home, cfg.instance)
        defs = build_definitions(cfg, str(config))
        sizes0 = table_bytes(cfg.home)
        with dg.DagsterInstance.get() as instance:
            per_day = []
            for i in range(args.days):
                day = first_run + dt.timedelta(days=i + 1)
                before = total(table_bytes(cfg.home))
                t = time.perf_counter()
                run_day(cfg, config, defs, instance, day)
                grew = total(table_bytes(cfg.home)) - before
                per_day.append(grew)
                print(f"day {day}: +{grew / 1024:,.0f} kB in "
                      f"{time.perf_counter() - t:.0f} s", flush=True)
            runs = len(instance.get_run_records())
            grown = table_bytes(cfg.home)
            events = exact_rows(cfg.home, "event_logs")
            done = prune(instance, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1),
                         kept_days=cfg.instance.keep_runs_days, limit=100_000)
            kept = exact_rows(cfg.home, "event_logs")
        after = table_bytes(cfg.home)
        with_runs = total(grown) - total(sizes0)
        print(f"\n{runs} runs over {args.days} days: instance tables +{with_runs / 2**20:.2f} MB, "
              f"{events:,} events")
        for name, (n, b) in sorted(grown.items(), key=lambda kv: -kv[1][1])[:8]:
            print(f"  {name:<28}{n:>9,} rows {b / 1024:>10,.0f} kB")
        print(f"prune: {done.runs} runs deleted, {done.partitions_kept} partitions kept as "
              f"runless materializations, {done.check_rows} check rows deleted; "
              f"{kept:,} events left")
        # what the kept events take, rows and index entries: compacted to measure it
        import psycopg

        with psycopg.connect(embedded_uri(cfg.home, "persys_dagster"),
                             autocommit=True) as conn:
            conn.execute("vacuum full event_logs")
            conn.execute("vacuum full asset_event_tags")
            row_bytes = conn.execute(
                "select avg(pg_column_size(e.*)) from event_logs e where run_id = ''"
            ).fetchone()[0] or 0
        after = table_bytes(cfg.home)
        kept_bytes = (after["event_logs"][1] + after["asset_event_tags"][1]) / max(1, kept)
        print(f"a kept materialization: {row_bytes:.0f} B of row, {kept_bytes:.0f} B with "
              "its indexes and tags (event_logs + asset_event_tags after VACUUM FULL, per "
              "event)")
        # ticks a day: each sensor every minimum_interval_seconds (Dagster's default 30 s),
        # each schedule at its cron times (a handful a day: left out)
        ticks_per_day = sum(86400 / (s.minimum_interval_seconds or 30)
                            for s in defs.sensors or [])
        tick_bytes = 1000.0  # until measured
        if args.daemon_seconds:
            daemon_ticks(args.daemon_seconds, dict(os.environ), str(home))
            with psycopg.connect(embedded_uri(cfg.home, "persys_dagster")) as conn:
                n_ticks, avg = conn.execute(
                    "select count(*), avg(pg_column_size(t.*)) from job_ticks t").fetchone()
            if n_ticks:  # the row, its header and line pointer, ~3 index entries of ~40 B
                tick_bytes = float(avg) + 28 + 3 * 40
                print(f"daemon {args.daemon_seconds} s: {n_ticks} ticks, {float(avg):.0f} B of "
                      f"row each, ~{tick_bytes:.0f} B with its index entries")
        print(f"sensors: {len(defs.sensors or [])}, ~{ticks_per_day:,.0f} ticks a day")
        graph = defs.resolve_asset_graph()
        kinds = [type(graph.get(k).partitions_def).__name__
                 for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
        daily_assets = [k for k in kinds if k == "DailyPartitionsDefinition"]
        monthly = [k for k in kinds if k == "MonthlyPartitionsDefinition"]
        keep_days = cfg.instance.keep_runs_days
        window = sorted(per_day)[len(per_day) // 2] * keep_days
        summaries = (len(daily_assets) * 3650 + len(monthly) * 120) * kept_bytes
        i = cfg.instance
        ticks = ticks_per_day * tick_bytes * i.keep_skipped_ticks_days
        print(f"\nten years with keep_runs_days={keep_days}: runs {window / 2**20:.0f} MB "
              f"(median day × {keep_days}) + kept partitions {summaries / 2**20:.0f} MB "
              f"({len(daily_assets)} daily assets × 3,650 + {len(monthly)} monthly × 120) + "
              f"ticks {ticks / 2**20:.0f} MB ({ticks_per_day:,.0f} a day × "
              f"{i.keep_skipped_ticks_days} days)")
        bound = window + summaries + ticks
        print(f"instance_ten_years_mb: {bound / 2**20:.0f}")
    finally:
        stop_embedded(cfg.home)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
