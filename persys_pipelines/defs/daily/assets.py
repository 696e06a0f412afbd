"""`daily_summary` and `daily_projection`: daily partitions, ranged single-run backfills.

Each run computes every day of `context.partition_time_window` at once (one read per raw table
through the cross-tier reader) and replaces those days idempotently, so a three-year backfill is
one run, and re-running any range gives the same rows.
"""

import time

import dagster as dg

from ... import handles
from ...lib.config import Config
from ...lib.daily import charts, metric_table, projection, summary
from ..partitions import daily, window_days
from ..resources import PersysConfigResource, PostgresTierResource

# A chart (one panel per metric, 1200 px) costs ~0.5 s; ranges longer than this render only
# their last day's chart.
CHART_EVERY_DAY_MAX = 7


def raw_rows_table(raw: summary.RawRows) -> dg.TableMetadataValue:
    """The rows the summary read, one line per table and filter: metrics that read the same
    rows (same table, day column and filters, as mood and journal words do) count them once,
    so a table's rows are never shown twice over."""
    reads: dict[tuple, dict] = {}
    for metric, source in raw.sources.items():
        where = ", ".join(f"{k} = {v}" for k, v in sorted(source.where.items())) or "-"
        read = reads.setdefault((source.table, source.day_column, where),
                                {"rows": 0, "metrics": []})
        read["rows"] = max(read["rows"], len(raw.frames[metric]))
        read["metrics"].append(metric)
    return dg.MetadataValue.table(
        [dg.TableRecord({"table": t, "filter": w, "day_column": d, "rows": r["rows"],
                         "metrics": ", ".join(r["metrics"])})
         for (t, d, w), r in reads.items()],
        schema=dg.TableSchema(columns=[dg.TableColumn("table", "string"),
                                       dg.TableColumn("filter", "string"),
                                       dg.TableColumn("day_column", "string"),
                                       dg.TableColumn("rows", "int"),
                                       dg.TableColumn("metrics", "string")]),
    )


def metrics_table(stats: dict, order: list[str]) -> dg.TableMetadataValue:
    """The day's metrics, one row per metric (value, usual, z, goal, record, trend, change,
    anomaly), as the UI renders a table."""
    return dg.MetadataValue.table(
        [dg.TableRecord(r) for r in metric_table.rows(stats, order)],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, "string")
                                       for c in metric_table.COLUMNS]),
    )


def summary_asset(cfg: Config) -> dg.AssetsDefinition:
    raw = [dg.AssetKey(["core", t]) for t in summary.raw_tables(cfg.daily) if t in cfg.tables]

    @dg.asset(
        name="daily_summary",
        group_name="daily",
        kinds={"postgres"},
        partitions_def=daily(cfg),
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=raw,
        description="What each day held: each of the person's metrics against their own "
        "usual (baselines, robust z, goal streak, record, trend, change point, anomaly), "
        "health, tasks, money, mood, and a text that leads with what is notable. Rows in "
        "daily_summaries.",
    )
    def daily_summary(
        context: dg.AssetExecutionContext, persys_config: PersysConfigResource,
        core: PostgresTierResource, main: PostgresTierResource,
    ) -> dg.MaterializeResult:
        cfg = persys_config.load()
        hs = handles.daily_handles(cfg, core=core.handle(), main=main.handle())
        first, last = window_days(context)
        started = time.perf_counter()
        raw_rows = summary.read_for(hs, first, last)
        days = summary.compute(hs, first, last, raw_rows)
        written = summary.store(hs, first, last, days)
        context.log.info(f"summaries {first}..{last}: {written} in "
                         f"{time.perf_counter() - started:.1f} s")
        empty = sum(1 for d in days if d.summary_text.endswith(summary.NO_DATA))
        return dg.MaterializeResult(metadata={
            "first_day": first.isoformat(),
            "last_day": last.isoformat(),
            "days": len(days),
            "days_without_data": empty,
            "raw_rows_read": raw_rows_table(raw_rows),
            "removed_from_main": written["removed_main"],
            "last_day_summary": dg.MarkdownMetadataValue(days[-1].summary_text),
            "last_day_metrics": metrics_table(days[-1].metrics, list(cfg.daily.metric_defs())),
        })

    return daily_summary


def projection_asset(cfg: Config) -> dg.AssetsDefinition:
    window = cfg.daily.projection_window_days

    @dg.asset(
        name="daily_projection",
        group_name="daily",
        kinds={"python", "matplotlib"},
        partitions_def=daily(cfg),
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[dg.AssetDep(
            "daily_summary",
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-(window - 1), allow_nonexistent_upstream_partitions=True
            ),
        )],
        description=f"Trends of the trailing {window} days of daily_summary with 95% bands, "
        "month-end spend vs budget, and a chart per day (`charts/YYYY/MM/YYYY-MM-DD.png` in "
        "persys's home folder).",
    )
    def daily_projection(
        context: dg.AssetExecutionContext, persys_config: PersysConfigResource,
        core: PostgresTierResource, main: PostgresTierResource,
    ) -> dg.MaterializeResult:
        cfg = persys_config.load()
        hs = handles.daily_handles(cfg, core=core.handle(), main=main.handle())
        first, last = window_days(context)
        series = projection.read_series(hs, first, last)
        rows = projection.project(hs.settings, series, first, last)
        to_draw = rows if len(rows) <= CHART_EVERY_DAY_MAX else rows[-1:]
        drawn = {day: charts.render(hs.settings, hs.charts_dir, day, series, p)
                 for day, _, p in to_draw}
        projection.store(hs, first, last, rows, {d: p.as_uri() for d, p in drawn.items()})
        last_chart = drawn[last]
        image = dg.MarkdownMetadataValue(
            f"{rows[-1][2]['text']}\n\n{charts.markdown_image(last_chart, f'projection {last}')}"
        )
        metadata: dict = {
            "first_day": first.isoformat(),
            "last_day": last.isoformat(),
            "days": len(rows),
            "window_days": window,
            "charts_rendered": len(drawn) if len(drawn) == len(rows) else
            f"{len(drawn)} (last day only: ranges over {CHART_EVERY_DAY_MAX} days skip the "
            "others; run a day's partition to draw its chart)",
            "chart_path": dg.PathMetadataValue(str(last_chart)),
            "last_day_projection": dg.JsonMetadataValue(rows[-1][2]),
        }
        if len(rows) <= CHART_EVERY_DAY_MAX:
            metadata["chart"] = image
        else:
            # Metadata repeats on every partition's event: a long range gets the image once.
            context.log_event(dg.AssetObservation(
                asset_key=context.asset_key, partition=last.isoformat(),
                metadata={"chart": image, "chart_path": dg.PathMetadataValue(str(last_chart))},
            ))
        return dg.MaterializeResult(metadata=metadata)

    return daily_projection
