"""What makes a lifecycle run cost more as history piles up (issue 24, investigation):

    .venv/bin/python bench/history.py [--years 5] [--profile 12,48] [--out DIR]

A person's sample data (the five sample tables, ~45 health rows a day) lived month by month:
each month's rows go into core, then `persys lifecycle run --as-of <the next month's first
day> --yes` runs in this process (core→main, main→archive, purge: the `persys` command's own
code), its runs recorded in a Dagster instance in the embedded PostgreSQL (database
persys_dagster) as `persys up` records them. Policies are shortened so every route runs within
the years simulated: core_days 7/30, main_days 365, delete_days 1095.

Per run it prints the wall seconds and their split (plan, core→main run, archive due + run,
purge look + run), the SQL statements Dagster sent to the instance (counted and timed at
SQLAlchemy, by kind and by table), the instance database's size and rows per table, and
main's ledger rows. `--profile M,N`: cProfile of those months' runs (pstats files in --out),
the top cumulative functions printed side by side.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import datetime as dt
import io
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from persys_pipelines.handles import resolve_tier, setup_tiers  # noqa: E402
from persys_pipelines.lib import sample_data  # noqa: E402
from persys_pipelines.lib.config import load_config  # noqa: E402
from persys_pipelines.lib.pg.instance import prepare_dagster_home  # noqa: E402
from persys_pipelines.lib.pg.tiers import embedded_uri, stop_embedded  # noqa: E402
from persys_pipelines.lib.provision import ensure_partitions  # noqa: E402

TABLE_OF = re.compile(r"\b(?:from|into|update|join)\s+\"?([a-z_]+)\"?", re.I)


class SqlCounter:
    """Every statement SQLAlchemy sends (Dagster's storage), counted and timed."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count: collections.Counter = collections.Counter()
        self.seconds: collections.Counter = collections.Counter()
        self.texts: dict[str, str] = {}

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        @event.listens_for(Engine, "before_cursor_execute")
        def _before(conn, cursor, statement, params, context, executemany):
            conn.info.setdefault("persys_t0", []).append(time.perf_counter())

        @event.listens_for(Engine, "after_cursor_execute")
        def _after(conn, cursor, statement, params, context, executemany):
            took = time.perf_counter() - conn.info["persys_t0"].pop()
            words = statement.split()
            kind = words[0].upper() if words else "?"
            table = (TABLE_OF.search(statement) or [None, "?"])[1]
            key = f"{kind} {table}"
            self.count[key] += 1
            self.seconds[key] += took
            self.texts.setdefault(key, " ".join(words)[:300])

    def summary(self) -> tuple[int, float]:
        return sum(self.count.values()), sum(self.seconds.values())


def month_starts(first: dt.date, last: dt.date) -> list[dt.date]:
    out, d = [], first.replace(day=1)
    while d <= last:
        out.append(d)
        d = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def day_of(table: str, row: tuple, zone) -> dt.date | None:
    value = row[sample_data.COLUMNS[table].index(
        {"journal_entries": "entry_date", "health_metrics": "measured_at", "tasks":
         "completed_at", "transactions": "occurred_on", "shadow_work": "entry_date"}[table])]
    if table == "tasks":  # an app writes a task when it is created
        value = row[sample_data.COLUMNS[table].index("created_at")]
    if value is None:
        return None
    return value.astimezone(zone).date() if isinstance(value, dt.datetime) else value


def instance_stats(home: Path) -> dict:
    import psycopg

    with psycopg.connect(embedded_uri(home, "persys_dagster")) as conn:
        size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        rows = dict(conn.execute(
            "select relname, n_live_tup from pg_stat_user_tables").fetchall())
        scans = dict(conn.execute(
            "select relname, seq_scan from pg_stat_user_tables").fetchall())
    return {"bytes": size, "rows": rows, "seq_scans": scans}


def timed_phases(phases: collections.Counter):
    """Wrap the lifecycle command's steps to time them (plan, core→main, archive, purge)."""
    from persys_pipelines.cli import lifecycle as cli
    from persys_pipelines.defs.archive import run as archive_run
    from persys_pipelines.lib.archive import maintenance
    from persys_pipelines.lib.tiering import lifecycle as lifecycle_lib

    def wrap(owner, name, label):
        original = getattr(owner, name)

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                phases[label] += time.perf_counter() - t
        setattr(owner, name, timed)

    wrap(lifecycle_lib, "plan", "plan")
    wrap(cli, "execute", "core_to_main_run")
    wrap(archive_run, "due", "archive_due")
    wrap(archive_run, "run_archive", "archive_run")
    wrap(maintenance, "purge", "purge_look")
    wrap(archive_run, "run_purge", "purge_run")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=5)
    parser.add_argument("--profile", default="", help="months (1-based) to profile, e.g. 12,48")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="persys-history-out-"))
    out.mkdir(parents=True, exist_ok=True)
    profile_months = {int(m) for m in args.profile.split(",") if m}
    home = Path(tempfile.mkdtemp(prefix="persys-history-"))
    days = int(args.years * 365)
    last = dt.date(2026, 11, 30)
    first = last - dt.timedelta(days=days - 1)
    first = first.replace(day=1)
    doc = yaml.safe_load((ROOT / "persys_pipelines" / "default_persys.yaml").read_text())
    doc.update(home=str(home / "state"), start_date=first.isoformat())
    for policy in doc["tables"].values():
        policy.update(main_days=365, delete_days=1095)
    config = home / "persys.yaml"
    config.write_text(yaml.safe_dump(doc))
    os.environ["PERSYS_CONFIG"] = str(config)
    cfg = load_config(config)
    setup_tiers(cfg, sample_data=True)
    rows = sample_data.generate((last - first).days + 1, 7, last, cfg.zone)
    by_month: dict[dt.date, dict[str, list]] = collections.defaultdict(
        lambda: {t: [] for t in rows})
    for table, table_rows in rows.items():
        for row in table_rows:
            day = day_of(table, row, cfg.zone)
            by_month[(day or last).replace(day=1)][table].append(row)
    prepare_dagster_home(cfg.home)
    from persys_pipelines.cli import main as persys

    counter = SqlCounter()
    counter.install()
    phases: collections.Counter = collections.Counter()
    timed_phases(phases)
    results = []
    print("month  as_of       wall_s  plan  c2m_run  arch_due  arch_run  purge  "
          "sql_n  sql_s  inst_MB  events  ledger", flush=True)
    core = resolve_tier(cfg, "core")
    try:
        for i, month in enumerate(month_starts(first, last), 1):
            with core.connect() as conn:
                ensure_partitions(conn, cfg.tables, cfg.timezone, month,
                                  month + dt.timedelta(days=62))
                sample_data.load(conn, by_month.get(month, {t: [] for t in rows}))
            as_of = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            counter.reset()
            phases.clear()
            prof = cProfile.Profile() if i in profile_months else None
            t = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                if prof:
                    prof.enable()
                code = persys(["lifecycle", "run", "--as-of", as_of.isoformat(), "--yes"])
                if prof:
                    prof.disable()
            wall = time.perf_counter() - t
            if code:
                print(printed.getvalue())
                raise SystemExit(f"month {month}: lifecycle run exited {code}")
            if prof:
                path = out / f"month{i:03d}.pstats"
                prof.dump_stats(path)
            n, sql_s = counter.summary()
            inst = instance_stats(cfg.home)
            with resolve_tier(cfg, "main").connect() as conn:
                ledger = conn.execute("select count(*) from persys.ledger").fetchone()[0]
            r = {"month": i, "as_of": as_of, "wall": wall, **dict(phases), "sql_n": n,
                 "sql_s": sql_s, "inst_mb": inst["bytes"] / 2**20,
                 "events": inst["rows"].get("event_logs", 0), "ledger": ledger,
                 "top": counter.count.most_common(12),
                 "top_s": sorted(counter.seconds.items(), key=lambda kv: -kv[1])[:8],
                 "texts": dict(counter.texts), "seq": inst["seq_scans"],
                 "rows": inst["rows"]}
            results.append(r)
            print(f"{i:>5}  {as_of}  {wall:6.1f}  {phases['plan']:4.1f}  "
                  f"{phases['core_to_main_run']:7.1f}  {phases['archive_due']:8.1f}  "
                  f"{phases['archive_run']:8.1f}  "
                  f"{phases['purge_look'] + phases['purge_run']:5.1f}  {n:5d}  {sql_s:5.1f}  "
                  f"{r['inst_mb']:7.1f}  {r['events']:6d}  {ledger:6d}", flush=True)
    finally:
        stop_embedded(cfg.home)
    print("\nper year: median wall s, median SQL statements / seconds to the instance, "
          "instance MB at the year's end")
    for y in range(0, len(results), 12):
        chunk = results[y:y + 12]
        print(f"  year {y // 12 + 1}: {statistics.median(r['wall'] for r in chunk):5.1f} s, "
              f"{statistics.median(r['sql_n'] for r in chunk):6.0f} statements / "
              f"{statistics.median(r['sql_s'] for r in chunk):5.2f} s, "
              f"{chunk[-1]['inst_mb']:6.1f} MB")
    for label, r in (("early", results[min(13, len(results) - 1)]), ("late", results[-1])):
        print(f"\n{label} run (month {r['month']}): statements by kind and table "
              "(count, seconds)")
        secs = dict(r["top_s"])
        for key, count in r["top"]:
            print(f"  {count:5d}  {secs.get(key, 0):6.3f} s  {key}: {r['texts'][key][:140]}")
    print("\ninstance tables: rows and sequential scans, after the last run")
    last_r = results[-1]
    for t, n in sorted(last_r["rows"].items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {t:<32}{n:>9} rows {last_r['seq'].get(t, 0):>7} seq scans")
    for m in sorted(profile_months):
        path = out / f"month{m:03d}.pstats"
        if path.exists():
            s = io.StringIO()
            pstats.Stats(str(path), stream=s).sort_stats("cumulative").print_stats(45)
            print(f"\nprofile of month {m} (cumulative):\n" + s.getvalue()[-9000:])
    first_w, last_w = results[min(13, len(results) - 1)]["wall"], results[-1]["wall"]
    print(f"history_ratio_last_vs_month14: {last_w / first_w:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
