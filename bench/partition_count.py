"""Does a ranged run cost more when the daily partitions reach further back? (issue 24)

    .venv/bin/python bench/partition_count.py [--days 30] [--tables 8] [--repeat 3]

Each night adds a daily partition: after ten years every daily asset has 3,650. This runs the
same work — one ranged run of `--tables` daily-partitioned assets over the last `--days` days,
as `lifecycle_core_to_main` does (BackfillPolicy.single_run, partition range tags), the assets
doing nothing — with `start_date` one year and ten years back, in a Dagster instance stored in
PostgreSQL (the embedded server, persys's storage class), and prints the best wall time of
`--repeat` runs each, the statements sent to the instance, and their ratio on the last line.
"""


import argparse
import collections
import datetime as dt
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

from persys_pipelines.defs.tags import partition_range  # noqa: E402


def assets(start: dt.date, tables: int) -> list[dg.AssetsDefinition]:
    parts = dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="Europe/London")
    out = []
    for i in range(tables):
        key = dg.AssetKey(["main", f"t{i}"])

        @dg.asset(key=key, partitions_def=parts, backfill_policy=dg.BackfillPolicy.single_run(),
                  check_specs=[dg.AssetCheckSpec("left_core", asset=key)])
        def _move(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
            return dg.MaterializeResult(
                metadata={"rows": 1, "days": len(context.partition_keys)},
                check_results=[dg.AssetCheckResult(check_name="left_core", passed=True)])
        out.append(_move)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--tables", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import pgserver
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements = collections.Counter()

    @event.listens_for(Engine, "after_cursor_execute")
    def _count(*_a, **_k):
        statements["n"] += 1

    data = Path(tempfile.mkdtemp(prefix="persys-partitions-"))
    server = pgserver.get_server(data / "pg", cleanup_mode="delete")
    today = dt.date.today()
    last = today - dt.timedelta(days=2)
    first = last - dt.timedelta(days=args.days - 1)
    results = {}
    try:
        for years in (1, 10):
            import psycopg

            db = f"inst{years}"
            with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
                conn.execute(f"create database {db}")
            url = server.get_uri(db).replace("postgresql://", "postgresql+psycopg2://", 1)
            storage = {"custom": {"module": "persys_pipelines.defs.instance_storage",
                                  "class": "PersysStorage", "config": {"postgres_url": url}}}
            start = today - dt.timedelta(days=365 * years)
            job = dg.Definitions(assets=assets(start, args.tables), jobs=[
                dg.define_asset_job("move", selection="*")]).resolve_job_def("move")
            times, counts = [], []
            with dg.instance_for_test(overrides={"storage": storage}) as instance:
                for _ in range(args.repeat):
                    statements.clear()
                    t = time.perf_counter()
                    result = job.execute_in_process(
                        instance=instance, tags=partition_range(first.isoformat(),
                                                                last.isoformat()),
                        run_config={"loggers": {"console": {"config": {
                            "log_level": "WARNING"}}}})
                    times.append(time.perf_counter() - t)
                    counts.append(statements["n"])
                    assert result.success
            results[years] = (min(times), min(counts))
            print(f"start_date {years:>2} year(s) back ({start}): best {min(times):.2f} s of "
                  f"{[round(x, 2) for x in times]}, {min(counts)} statements", flush=True)
    finally:
        server.cleanup()
    print(f"partition_count_ten_vs_one_year: {results[10][0] / results[1][0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
