"""Does Dagster's bookkeeping of a run cost more in an instance with years of history?

    .venv/bin/python bench/instance_history.py --home /tmp/persys-history-XXXX/state [--repeat 4]

Takes the home that bench/history.py left behind (its embedded PostgreSQL holds the instance
database persys_dagster with years of monthly lifecycle runs) and runs the same work
alternately against that instance and against a fresh one in the same server: one ranged
run of the `main/<table>` asset keys of that persys.yaml (same keys, same daily partitions,
the same check name), over the last 30 days, the assets doing nothing. So only Dagster's own
recording differs: events, asset keys, partitions, checks in a big event log or an empty one.
Each also runs with the storage's connection pool off (`pool: false`: dagster-postgres'
default, a connection per statement). Prints best and median seconds, the statements sent and
their time by kind, the pool's effect, and the ratio of the best times (grown / fresh, both
pooled) on its last line.
"""

import argparse
import collections
import datetime as dt
import os
import re
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

from persys_pipelines.defs.tags import partition_range  # noqa: E402
from persys_pipelines.lib.config import load_config  # noqa: E402
from persys_pipelines.lib.pg.tiers import embedded_server, embedded_uri, stop_embedded  # noqa: E402

KIND = re.compile(r"^\s*(\w+)\s+(?:.*?\b(?:into|from|update)\s+\"?(\w+))?", re.I | re.S)


def noop_assets(cfg) -> list[dg.AssetsDefinition]:
    parts = dg.DailyPartitionsDefinition(start_date=cfg.start_date.isoformat(),
                                         timezone=cfg.timezone)
    out = []
    for table in cfg.tables:
        key = dg.AssetKey(["main", table])

        @dg.asset(key=key, partitions_def=parts, backfill_policy=dg.BackfillPolicy.single_run(),
                  check_specs=[dg.AssetCheckSpec("moved_range_left_core", asset=key)])
        def _noop(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
            return dg.MaterializeResult(
                metadata={"days": len(context.partition_keys), "rows": 0},
                check_results=[dg.AssetCheckResult(check_name="moved_range_left_core",
                                                   passed=True)])
        out.append(_noop)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="bench/history.py's <tmp>/state")
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    home = Path(args.home)
    cfg = load_config(home.parent / "persys.yaml")
    os.environ.pop("DAGSTER_HOME", None)
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    stats: dict = {"n": collections.Counter(), "s": collections.Counter()}

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn, *_a):
        conn.info.setdefault("t0", []).append(time.perf_counter())

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn, cursor, statement, *_a):
        took = time.perf_counter() - conn.info["t0"].pop()
        m = KIND.match(statement)
        key = f"{m.group(1).upper()} {m.group(2) or ''}".strip() if m else "?"
        stats["n"][key] += 1
        stats["s"][key] += took

    embedded_server(cfg.home)
    import psycopg

    with psycopg.connect(embedded_uri(cfg.home, "postgres"), autocommit=True) as conn:
        conn.execute("drop database if exists fresh_instance with (force)")
        conn.execute("create database fresh_instance")
        grown_mb = conn.execute("select pg_database_size('persys_dagster')").fetchone()[0]
    job = dg.Definitions(assets=noop_assets(cfg), jobs=[
        dg.define_asset_job("lifecycle_core_to_main", selection="*")]).resolve_job_def(
        "lifecycle_core_to_main")
    last = dt.date.today() - dt.timedelta(days=2)
    first = last - dt.timedelta(days=29)
    tags = partition_range(first.isoformat(), last.isoformat())
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    variants = {"grown": ("persys_dagster", True), "fresh": ("fresh_instance", True),
                "grown, no pool": ("persys_dagster", False),
                "fresh, no pool": ("fresh_instance", False)}
    times: dict[str, list[float]] = {v: [] for v in variants}
    by_kind: dict[str, list] = {v: [] for v in variants}
    try:
        for _ in range(args.repeat):
            for label, (db, pool) in variants.items():
                url = embedded_uri(cfg.home, db).replace("postgresql://",
                                                         "postgresql+psycopg2://", 1)
                storage = {"custom": {"module": "persys_pipelines.defs.instance_storage",
                                      "class": "PersysStorage",
                                      "config": {"postgres_url": url, "pool": pool}}}
                with dg.instance_for_test(overrides={"storage": storage}) as instance:
                    stats["n"].clear()
                    stats["s"].clear()
                    t = time.perf_counter()
                    assert job.execute_in_process(instance=instance, tags=tags,
                                                  run_config=quiet).success
                    times[label].append(time.perf_counter() - t)
                    by_kind[label].append((dict(stats["n"]), dict(stats["s"])))
                print(f"{label}: {times[label][-1]:.2f} s, {sum(stats['n'].values())} "
                      f"statements, {sum(stats['s'].values()):.2f} s of SQL", flush=True)
    finally:
        stop_embedded(cfg.home)
    print(f"\ngrown instance: {grown_mb / 2**20:.0f} MB; {len(cfg.tables)} assets × 30 days")
    for label in variants:
        print(f"{label}: best {min(times[label]):.2f} s, median "
              f"{statistics.median(times[label]):.2f} s")
    print(f"pool_vs_no_pool (fresh): {min(times['fresh']) / min(times['fresh, no pool']):.2f}")
    print("\nSQL by kind, best run of each (count, seconds): grown | fresh")
    best = {lb: by_kind[lb][times[lb].index(min(times[lb]))] for lb in by_kind}
    keys = sorted(set(best["grown"][0]) | set(best["fresh"][0]),
                  key=lambda k: -best["grown"][1].get(k, 0))
    for k in keys[:14]:
        g = (best["grown"][0].get(k, 0), best["grown"][1].get(k, 0))
        f = (best["fresh"][0].get(k, 0), best["fresh"][1].get(k, 0))
        print(f"  {k:<40}{g[0]:>6} {g[1]:7.3f} s | {f[0]:>6} {f[1]:7.3f} s")
    print(f"instance_history_grown_vs_fresh: {min(times['grown']) / min(times['fresh']):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
