"""Three-year backfill of daily_summary (with every metric's baselines, trend, change points and
anomalies) and daily_projection against Dagster's own floor; weekly correlations of 30 metrics.

    .venv/bin/python bench/backfill.py --days 1095

In one process, on a fresh embedded PostgreSQL (a temporary home) with Dagster instance storage
in PostgreSQL as `persys up` uses it:
1. sample data for `--days` days; rows older than 60 days are put in main (as the lifecycle
   would have moved them), so the backfill reads across tiers;
2. the floor: a no-op asset with the same daily partitions over the same range, one ranged run;
3. daily_summary, then daily_projection, each as one ranged run over the whole range;
4. per-partition runs (both assets) for 10 sampled days;
5. weekly correlations of 30 metrics over 364 days (lib/insight/correlations.find_pairs, best
   of 3; 1,305 pairs with Benjamini-Hochberg), goal < 2 s.
Last lines: `single_vs_per_partition` = (per-day run time × days) / (summary + projection);
`backfill_3y_seconds` = summary + projection; `insight_3y_seconds`: the statistics' share
of the summary run (lib/insight.analyse over the same values, timed alone);
`weekly_correlations_30x364_seconds`, goal < 2; last, `backfill_vs_dagster_floor` =
(summary + projection) / (2 × floor), goal <= 1.3.
"""


import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

import dagster as dg
import yaml

warnings.filterwarnings("ignore")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from persys_pipelines.defs.daily.assets import projection_asset, summary_asset
from persys_pipelines.defs.lifecycle.sources import core_sources
from persys_pipelines.defs.partitions import daily
from persys_pipelines.defs.resources import resources
from persys_pipelines.handles import resolve_tier, setup_tiers
from persys_pipelines.lib import sample_data
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.pg.instance import prepare_dagster_home
from persys_pipelines.lib.pg.tiers import stop_embedded

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DAY_FIELD = {"journal_entries": 1, "health_metrics": 1, "tasks": 7, "transactions": 1,
             "shadow_work": 1}


def split_by_age(rows: dict[str, list[tuple]], cutoff: dt.date, zone) -> tuple[dict, dict]:
    """(core, main): rows whose day is before `cutoff` go to main; open tasks stay in core."""
    core: dict[str, list[tuple]] = {t: [] for t in rows}
    main: dict[str, list[tuple]] = {t: [] for t in rows}
    for table, table_rows in rows.items():
        for row in table_rows:
            value = row[DAY_FIELD[table]]
            if value is None:
                core[table].append(row)
                continue
            day = value.astimezone(zone).date() if isinstance(value, dt.datetime) else value
            (main if day < cutoff else core)[table].append(row)
    return core, main


def noop_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(name="noop_floor", partitions_def=partitions,
              backfill_policy=dg.BackfillPolicy.single_run())
    def noop_floor(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return dg.MaterializeResult()

    return noop_floor


def timed(label: str, fn) -> float:
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    assert result.success, f"{label} failed"
    print(f"{label}: {seconds:.1f} s", flush=True)
    return seconds


def insight_alone(cfg, first: dt.date, last: dt.date) -> float:
    """lib/insight.analyse over the summary's own values (rows already read), timed alone."""
    from persys_pipelines import handles
    from persys_pipelines.lib.daily import metric_stats, summary

    raw = summary.read_for(handles.daily_handles(cfg), first, last)
    started = time.perf_counter()
    metric_stats.compute(cfg.daily, raw, first, last)
    return time.perf_counter() - started


def correlations_30x364(seed: int) -> float:
    """Best of 3: every pair of 30 metrics over 364 days, same and next day, BH."""
    import numpy as np
    import pandas as pd

    from persys_pipelines.lib.insight.correlations import find_pairs

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(364, 30)), columns=[f"m{i}" for i in range(30)])
    frame[rng.random(frame.shape) < 0.1] = np.nan  # days without a value
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        _, tested = find_pairs(frame)
        best = min(best, time.perf_counter() - started)
    assert tested == 1305, tested
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="persys-bench-"))
    last = dt.date(2025, 12, 31)
    first = last - dt.timedelta(days=args.days - 1)
    config = home / "persys.yaml"
    doc = yaml.safe_load((ROOT / "persys_pipelines" / "default_persys.yaml").read_text())
    doc.update(home=str(home / "state"), start_date=first.isoformat())
    config.write_text(yaml.safe_dump(doc))
    os.environ["PERSYS_CONFIG"] = str(config)
    cfg = load_config(config)
    try:
        setup_tiers(cfg)
        started = time.perf_counter()
        rows = sample_data.generate(args.days, args.seed, last, cfg.zone)
        core_rows, main_rows = split_by_age(rows, last - dt.timedelta(days=60), cfg.zone)
        for tier, part in (("core", core_rows), ("main", main_rows)):
            with resolve_tier(cfg, tier).connect() as conn:
                sample_data.load(conn, part)
        n = sum(len(r) for r in rows.values())
        print(f"sample data: {n:,} rows over {args.days} days ({first}..{last}), "
              f"older than 60 days in main, in {time.perf_counter() - started:.1f} s", flush=True)

        prepare_dagster_home(cfg.home)
        instance = dg.DagsterInstance.get()
        res = resources(str(config))
        summary_def, projection_def = summary_asset(cfg), projection_asset(cfg)
        everything = [*core_sources(cfg), summary_def, projection_def, noop_asset(daily(cfg))]
        whole = {"dagster/asset_partition_range_start": first.isoformat(),
                 "dagster/asset_partition_range_end": last.isoformat()}

        def run(selection: list[str], tags: dict[str, str]):
            return dg.materialize(everything, instance=instance, resources=res, tags=tags,
                                  selection=selection, run_config=QUIET)

        floor = timed("floor (no-op asset, one ranged run)", lambda: run(["noop_floor"], whole))
        t_sum = timed("daily_summary (one ranged run)", lambda: run(["daily_summary"], whole))
        t_proj = timed("daily_projection (one ranged run)",
                       lambda: run(["daily_projection"], whole))

        with resolve_tier(cfg, "core").connect() as conn:
            written = [conn.execute(f"select count(*) from {t}").fetchone()[0]
                       for t in ("daily_summaries", "daily_projections")]
        assert written == [args.days, args.days], f"expected {args.days} rows each, got {written}"
        print(f"written: {written[0]} summaries, {written[1]} projections")

        sampled = random.Random(args.seed).sample(range(args.days), args.samples)
        per_run = []
        for offset in sampled:
            key = (first + dt.timedelta(days=offset)).isoformat()
            per_run.append(timed(f"per-partition run {key}", lambda key=key: run(
                ["daily_summary", "daily_projection"], {"dagster/partition": key})))
        per_day = sum(per_run) / len(per_run)
        ours = t_sum + t_proj
        print(f"per-partition: {per_day:.2f} s a day in process -> {per_day * args.days / 60:.1f} "
              f"min for {args.days} days (launched runs add ~4 s each)")
        print(f"single_vs_per_partition: {per_day * args.days / ours:.1f}")
        print(f"backfill_3y_seconds: {ours:.1f}")
        print(f"insight_3y_seconds: {insight_alone(cfg, first, last):.1f}")
        print(f"weekly_correlations_30x364_seconds: {correlations_30x364(args.seed):.2f}")
        print(f"backfill_vs_dagster_floor: {ours / (2 * floor):.2f}")
    finally:
        stop_embedded(cfg.home)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
