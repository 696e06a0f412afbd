"""Weekly correlations from stored summaries, and through the Dagster asset: a planted relation
is found and said in the person's units, marked new, and not new the week after; the same run
over the same weeks gives the same rows."""

from __future__ import annotations

import datetime as dt
import json
import os

import dagster as dg
import numpy as np

from persys_pipelines import handles
from persys_pipelines.defs.insight.assets import correlations_asset, weeks_within
from persys_pipelines.defs.resources import resources
from persys_pipelines.lib.daily import summary, weekly
from persys_pipelines.lib.pg.tiers import connect
from persys_pipelines_tests.lib.daily.test_summary import daily_cfg  # noqa: F401  (fixture)

LAST = dt.date(2024, 6, 30)  # a Sunday


def stored(cfg, days: int = 200) -> None:
    """Summaries whose sleep and mood move together on the same day (rho about 0.75)."""
    rng = np.random.default_rng(5)
    rows = []
    for i in range(days):
        s = summary.DaySummary(LAST - dt.timedelta(days=days - 1 - i))
        sleep = 7.5 + 0.8 * rng.normal()
        s.metrics = {"sleep_hours": {"value": round(sleep, 2)},
                     "steps": {"value": float(rng.integers(4000, 12000))},
                     "mood": {"value": round(6 + 1.2 * (sleep - 7.5) + 0.8 * rng.normal(), 2)}}
        rows.append(s)
    summary.store(handles.daily_handles(cfg), rows[0].day, rows[-1].day, rows)


def test_a_planted_next_day_relation_is_found_and_said_in_units(daily_cfg):  # noqa: F811
    stored(daily_cfg)
    row = weekly.compute(handles.daily_handles(daily_cfg), LAST)
    day, first, metrics, tested, found, text = row
    assert (day, first) == (LAST, LAST - dt.timedelta(days=363))
    found = json.loads(found)
    pair = next(f for f in found if (f["first"], f["second"]) == ("sleep_hours", "mood"))
    assert pair["lag"] == 0 and pair["q"] < 0.05 and pair["new"] and pair["n"] == 200
    assert pair["text"].startswith("On days with sleep at 7.")
    assert "h or more, your mood was" in pair["text"] and "/10 higher" in pair["text"]
    assert "correlation, not cause" in pair["text"]
    assert not any("steps" in (f["first"], f["second"]) for f in found)
    again = weekly.compute(handles.daily_handles(daily_cfg), LAST + dt.timedelta(days=7), found)
    assert not json.loads(again[4])[0]["new"]


def test_the_asset_stores_whole_weeks_idempotently(daily_cfg):  # noqa: F811
    stored(daily_cfg)
    first, last = weeks_within(LAST - dt.timedelta(days=20), LAST)
    defs = [correlations_asset(daily_cfg)]
    tags = {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}
    for _ in range(2):
        result = dg.materialize(defs, resources=resources(os.environ["PERSYS_CONFIG"]),
                                tags=tags)
        assert result.success
    with connect(daily_cfg.tiers.core.dsn.get_secret_value()) as conn:
        rows = conn.execute("select day, pairs_tested, jsonb_array_length(found) "
                            "from persys.weekly_correlations order by day").fetchall()
    assert [r[0] for r in rows] == [LAST - dt.timedelta(days=14), LAST - dt.timedelta(days=7),
                                    LAST]
    assert all(r[1] > 0 and r[2] >= 1 for r in rows)
    week = weekly.latest(handles.tiered_reader(daily_cfg), LAST + dt.timedelta(days=3))
    assert week["day"] == LAST and "correlation, not cause" in week["text"]
