"""Projections that hold on real data: a rent payment does not become the daily rate, no
forecast goes below zero, the band has width from day 0, the chart's x axis shows dates."""

from __future__ import annotations

import datetime as dt

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest

from persys_pipelines.lib.daily import charts, projection
from persys_pipelines_tests.lib.daily.test_summary import daily_cfg  # noqa: F401  (fixture)


def frame(days: list[dt.date], spend: list[float], steps: list[float]) -> pd.DataFrame:
    mtd, rows = 0.0, []
    for day, s, n in zip(days, spend, steps, strict=True):
        mtd = s if day.day == 1 else mtd + s
        rows.append({"day": day, "health": {"steps": n, "weight_kg": 70.0, "sleep_hours": 7.0},
                     "productivity": {"tasks_done": 2}, "mood": {},
                     "finance": {"spend": s, "month_to_date_spend": mtd}})
    return pd.DataFrame(rows)


def test_one_rent_payment_does_not_become_the_daily_rate(daily_cfg):  # noqa: F811  window 7
    days = [dt.date(2024, 5, d) for d in range(1, 11)]
    rng = np.random.default_rng(5)
    spend = [1250.0 + 30.0] + [float(v) for v in rng.normal(30, 5, 9)]  # rent on the 1st
    series = projection.series_from_summaries(frame(days, spend, [8000.0] * 10), days[0],
                                              days[-1])
    daily_cfg_window = daily_cfg.model_copy(update={"daily": daily_cfg.daily.model_copy(
        update={"projection_window_days": 10})})
    (_, _, p), = projection.project(daily_cfg_window.daily, series, days[-1], days[-1])
    s = p["month_end_spend"]
    mtd = sum(spend)
    # the mean of the window would say ~150 a day and ~4,900 by the 31st; without the
    # one-off day ~30 a day for the 21 days left: ~1,550 + 630
    assert s["one_off_days"] == 1 and 25 < s["daily_rate"] < 35
    assert s["month_to_date"] == pytest.approx(mtd, abs=0.01)
    assert mtd + 21 * 25 < s["projected"] < mtd + 21 * 35
    assert s["low"] >= s["month_to_date"] and s["high"] < mtd + 21 * 45


def test_forecasts_never_go_below_zero_and_bands_have_width_today():
    steps = np.array([9000.0 - 1200 * i + (300 if i % 2 else -300) for i in range(8)])
    t = projection.trend(steps, horizon=7)  # falling fast: the line crosses zero in the week
    assert t["slope_per_day"] < 0 and t["fitted_today"] + 7 * t["slope_per_day"] < 0
    f = t["forecast"]
    assert f["value"] == 0.0 and f["low"] == 0.0 and f["high"] >= 0.0
    today = t["today"]
    assert today["low"] < today["value"] < today["high"]  # not zero-width at day 0


def test_month_end_is_never_negative_with_refunds(daily_cfg):  # noqa: F811
    refunds = np.array([-50.0, -20.0, -10.0, -5.0, 0.0])
    s = projection.month_end(daily_cfg.daily, dt.date(2024, 5, 10), refunds, 100.0)
    assert s["daily_rate"] == 0.0 and s["projected"] == 100.0 and s["low"] >= 0


def test_the_chart_has_dates_on_its_x_axis(daily_cfg):  # noqa: F811
    days = [dt.date(2024, 5, d) for d in range(1, 11)]
    rng = np.random.default_rng(2)
    series = projection.series_from_summaries(
        frame(days, list(rng.normal(30, 5, 10)), list(rng.normal(8000, 500, 10))),
        days[0], days[-1])
    (_, _, p), = projection.project(daily_cfg.daily, series, days[-1], days[-1])
    fig = charts.draw(daily_cfg.daily, days[-1], series, p)
    ax = fig.axes[0]
    assert isinstance(ax.xaxis.get_major_formatter(), mdates.DateFormatter)
    lo, hi = (mdates.num2date(v).date() for v in ax.get_xlim())
    assert lo <= dt.date(2024, 5, 4) and hi >= dt.date(2024, 5, 17)  # window and the week ahead
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(label.split()[1] == "May" for label in labels)
