"""The nightly schedule asks core's data what is due and requests ONE ranged run for it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from persys_pipelines import handles as setup_lib
from persys_pipelines.defs import lifecycle
from persys_pipelines.defs.lifecycle.assets import main_key
from persys_pipelines.defs.resources import resources

AS_OF = dt.date(2025, 2, 20)


def evaluate(cfg, config_path):
    defs = lifecycle.definitions(cfg)
    schedule = defs.schedules[0]
    when = dt.datetime(AS_OF.year, AS_OF.month, AS_OF.day, 2, 30, tzinfo=ZoneInfo(cfg.timezone))
    with dg.build_schedule_context(scheduled_execution_time=when,
                                   resources=resources(str(config_path))) as context:
        return schedule.evaluate_tick(context)


def test_nightly_requests_one_run_for_the_due_range(cfg, config_path):
    setup_lib.setup_tiers(cfg)
    assert evaluate(cfg, config_path).skip_message.startswith("nothing due in core")
    setup_lib.load_sample_data(cfg, days=60, seed=5, as_of=AS_OF)
    result = evaluate(cfg, config_path)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    # journal_entries keeps 7 days, the rest 30: the range spans the oldest due day to the
    # newest due day over all tables
    assert request.tags["dagster/asset_partition_range_start"] == "2024-12-23"
    assert request.tags["dagster/asset_partition_range_end"] == "2025-02-12"
    assert request.tags["persys/as_of"] == AS_OF.isoformat()
    assert main_key("journal_entries") in request.asset_selection
    assert main_key("daily_summaries") not in request.asset_selection  # nothing there


def test_main_assets_are_daily_ranged_with_a_warning_check(cfg, config_path):
    defs = dg.Definitions.merge(lifecycle.definitions(cfg),
                                dg.Definitions(resources=resources(str(config_path))))
    graph = defs.resolve_asset_graph()
    node = graph.get(main_key("tasks"))
    assert node.partitions_def.start.date() == cfg.start_date
    assert node.backfill_policy == dg.BackfillPolicy.single_run()
    assert dg.AssetKey(["core", "tasks"]) in node.parent_keys
    checks = [c for c in defs.resolve_asset_graph().asset_check_keys
              if c.asset_key == main_key("tasks")]
    assert [c.name for c in checks] == ["moved_range_left_core"]
    spec = next(s for a in defs.assets if isinstance(a, dg.AssetsDefinition)
                for s in a.check_specs if s.asset_key == main_key("tasks"))
    assert not spec.blocking, "late rows landing mid-move are supported: a warning, not a stop"
