"""Projections: trends recover a known line; the band covers the truth; month-end vs budget."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from persys_pipelines import handles
from persys_pipelines.lib.daily import charts, projection
from persys_pipelines.lib.pg.tiers import connect
from persys_pipelines_tests.lib.daily.test_summary import daily_cfg  # noqa: F401  (fixture)


def test_a_known_linear_series_gives_back_its_slope():
    rng = np.random.default_rng(3)
    x = np.arange(30) - 29.0
    y = 80.0 + 0.05 * x + rng.normal(0, 0.2, 30)  # 80 kg on the last day, +0.05 kg a day
    exact = projection.trend(80.0 + 0.05 * x, horizon=7)
    noisy = projection.trend(y, horizon=7)
    assert exact["slope_per_day"] == pytest.approx(0.05, abs=1e-9)
    assert exact["forecast"]["value"] == pytest.approx(80.35)
    assert exact["residual_sd"] == pytest.approx(0, abs=1e-6)
    assert noisy["slope_per_day"] == pytest.approx(0.05, abs=0.015)
    f = noisy["forecast"]
    assert f["low"] < 80.35 < f["high"] and 0.5 < f["high"] - f["low"] < 1.5


def test_gaps_are_skipped_and_short_series_give_no_line():
    y = np.array([np.nan, 1.0, np.nan, 3.0, 4.0, np.nan])  # on the line y = x
    t = projection.trend(y, horizon=1)
    assert t["n"] == 3 and t["slope_per_day"] == pytest.approx(1.0)
    assert projection.trend(np.array([np.nan, 2.0]), 1) == {"n": 1, "mean": 2.0, "last": 2.0}
    assert projection.trend(np.full(4, np.nan), 1) == {"n": 0}


def summaries(days: list[dt.date], spend: float, mtd_start: float = 0.0) -> pd.DataFrame:
    rows = []
    for i, day in enumerate(days):
        rows.append({"day": day, "health": {"weight_kg": 70 + 0.1 * i, "sleep_hours": 7.0},
                     "productivity": {"tasks_done": 2}, "mood": {},
                     "finance": {"spend": spend,
                                 "month_to_date_spend": mtd_start + spend * (i + 1)}})
    return pd.DataFrame(rows)


def test_month_end_spend_against_the_budget(daily_cfg):  # noqa: F811  budget 1,000, window 7
    days = [dt.date(2024, 5, d) for d in range(1, 11)]
    series = projection.series_from_summaries(summaries(days, 40.0), days[0], days[-1])
    ((day, window, p),) = projection.project(daily_cfg.daily, series, days[-1], days[-1])
    spend = p["month_end_spend"]
    # 400 by 10 May, 40 a day for the 21 days left: 1,240 of 1,000, no spread
    assert (window, spend["month_to_date"], spend["days_left"]) == (7, 400.0, 21)
    assert spend["projected"] == 1240.0 and spend["status"] == "likely over"
    assert p["trends"]["weight_kg"]["slope_per_day"] == pytest.approx(0.1)
    assert p["trends"]["weight_kg"]["n"] == 7  # the window, not all ten days
    assert "month-end spend £1,240.00" in p["text"]


def test_store_and_chart(daily_cfg, tier_dsns):  # noqa: F811
    days = [dt.date(2024, 5, d) for d in range(1, 11)]
    series = projection.series_from_summaries(summaries(days, 10.0), days[0], days[-1])
    rows = projection.project(daily_cfg.daily, series, days[3], days[-1])
    path = charts.render(daily_cfg.daily, daily_cfg.home / "charts", days[-1], series, rows[-1][2])
    assert path == daily_cfg.home / "charts" / "2024" / "05" / "2024-05-10.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert charts.markdown_image(path, "chart").startswith("![chart](data:image/png;base64,iVBOR")
    projection.store(handles.daily_handles(daily_cfg), days[3], days[-1], rows,
                     {days[-1]: path.as_uri()})
    with connect(tier_dsns["core"]) as conn:
        stored = conn.execute("select day, window_days, projections, chart_uri "
                              "from persys.daily_projections order by day").fetchall()
    assert [r[0] for r in stored] == days[3:]
    assert stored[-1][3] == path.as_uri() and stored[0][3] is None
    assert json.loads(json.dumps(stored[-1][2]))["month_end_spend"]["projected"] == 310.0
