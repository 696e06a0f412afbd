"""Each statistic against the library that defines it, and the edge cases the issue names:
a metric with 80% of its days missing, a new metric with 5 days (calibrating), records and
streaks, goal projections."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pymannkendall
import pytest
from scipy import stats

from persys_pipelines.lib.insight import correlations, goals, streaks, trend
from persys_pipelines.lib.insight.analyse import Spec, analyse

DAYS = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(400)]


def test_mann_kendall_equals_pymannkendall_window_by_window():
    rng = np.random.default_rng(1)
    y = np.round(rng.normal(size=300) * 3) + np.arange(300) * 0.02  # ties, a slow rise
    y[rng.random(300) < 0.2] = np.nan
    ours = trend.mann_kendall(y)
    compared = 0
    for i in range(27, 300):
        window = y[i - 27:i + 1]
        if (~np.isnan(window)).sum() < trend.MIN_VALUES:
            assert np.isnan(ours["p"][i])
            continue
        ref = pymannkendall.original_test(window)
        assert (ours["s"][i], ours["z"][i], ours["p"][i], ours["tau"][i], ours["slope"][i]) \
            == pytest.approx((ref.s, ref.z, ref.p, ref.Tau, ref.slope), rel=1e-9, abs=1e-12)
        compared += 1
    assert compared > 200


def test_spearman_p_values_are_scipys():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=80), rng.normal(size=80)
    b[::3] += a[::3]
    rho = pd.Series(a).corr(pd.Series(b), method="spearman")
    ref = stats.spearmanr(a, b)
    assert rho == pytest.approx(ref.statistic)
    assert correlations.spearman_p(np.array([rho]), np.array([80.0]))[0] == \
        pytest.approx(ref.pvalue, rel=1e-9)


def test_a_missing_day_is_dropped_never_imputed():
    """Pairs count only days where both metrics have a value."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    frame.loc[::2, "a"] = np.nan
    frame["b"] = frame["a"] * 2 + rng.normal(0, 0.1, 60)  # b missing where a is
    (found,), tested = correlations.find_pairs(frame)
    assert (found.first, found.second, found.lag, found.n) == ("a", "b", 0, 30)
    assert tested == 1  # next-day pairs have no day where both exist


def test_a_metric_with_80_percent_of_days_missing():
    """Baselines, z and trend use the days there are; windows with too few days say nothing
    rather than something made up."""
    rng = np.random.default_rng(4)
    y = 50 + rng.normal(0, 5, 400)
    y[rng.random(400) < 0.8] = np.nan
    frame = pd.DataFrame({"m": y}, index=DAYS)
    out = analyse(frame, {"m": Spec("m")}, DAYS[200:])
    for day in DAYS[200:]:
        s = out[day]["m"]
        assert s["calibrating"] == (s["valid_days_60"] < 14)
        if s["calibrating"]:
            assert s["z"] is None
        if s["trend"] is not None:
            assert s["trend"]["values"] >= trend.MIN_VALUES
        if s["value"] is None:
            assert s["anomaly"] is None and s["record"] is None
    known = [out[d]["m"] for d in DAYS[200:] if not out[d]["m"]["calibrating"]]
    assert known and all(40 < s["median_60"] < 60 for s in known)
    assert all(out[d]["m"]["trend"] is None for d in DAYS[200:])  # 28 days hold ~6 values


def test_a_new_metric_with_five_days_is_calibrating():
    y = np.full(400, np.nan)
    y[-5:] = [20, 25, 22, 90, 21]  # a day that would look wild against nothing
    out = analyse(pd.DataFrame({"m": y}, index=DAYS), {"m": Spec("m", goal_min=20)},
                  DAYS[-5:])
    last = out[DAYS[-2]]["m"]
    assert last["calibrating"] and last["valid_days_60"] == 3
    assert last["z"] is None and last["anomaly"] is None and last["record"] is None
    assert out[DAYS[-1]]["m"]["goal"] == {"met": True, "streak": 5, "streak_before": 4}


def test_streaks_end_on_a_miss_or_a_day_without_value():
    met = streaks.goal_met(np.array([8, 9, 6, 8, np.nan, 8, 8, 8.0]), 7, None)
    assert list(streaks.streaks(met)) == [1, 2, 0, 1, 0, 1, 2, 3]


def test_records_say_how_far_back_the_value_was_beaten():
    y = np.array([5, 3, 4, np.nan, 6, 2, 2, 7.0])
    high, low, history = streaks.records(y)
    assert list(high) == [0, 1, 2, 0, 0, 1, 1, 0]  # 0: nothing as high before
    assert list(low) == [0, 0, 1, 0, 2, 0, 1, 1]
    assert history[-1] == 7


def test_dst_days_are_one_calendar_day_each():
    """Days are calendar days (the reader turns timestamps into days in the configured zone);
    the statistics see one value per day across the clock changes, no gap, no double."""
    zone = "Europe/London"
    stamps = pd.date_range("2024-03-25 00:30", "2024-04-05 00:30", freq="D", tz=zone)
    stamps = stamps.append(pd.date_range("2024-10-20 23:30", "2024-11-02 23:30", freq="D",
                                         tz=zone))
    days = sorted({t.date() for t in stamps})
    assert dt.date(2024, 3, 31) in days and dt.date(2024, 10, 27) in days  # the change days
    index = [days[0] + dt.timedelta(days=i) for i in range((days[-1] - days[0]).days + 1)]
    frame = pd.DataFrame({"m": [1.0 if d in days else np.nan for d in index]}, index=index)
    out = analyse(frame, {"m": Spec("m")}, [dt.date(2024, 3, 31), dt.date(2024, 10, 27)])
    assert out[dt.date(2024, 3, 31)]["m"]["value"] == 1.0
    assert out[dt.date(2024, 10, 27)]["m"]["value"] == 1.0


def test_a_goal_is_dated_with_an_interval_or_not_at_this_rate():
    rng = np.random.default_rng(0)
    rising = 6000 + np.arange(30) * 40 + rng.normal(0, 300, 30)
    day = dt.date(2024, 3, 1)
    on_way = goals.goal_projection(rising, day, 8000, None)
    assert on_way["status"] == "on the way"
    assert on_way["earliest"] <= on_way["date"] <= on_way["latest"]
    assert dt.date.fromisoformat(on_way["date"]) - day == dt.timedelta(days=25)
    assert goals.goal_projection(rising, day, 6000, None)["status"] == "reached"
    assert goals.goal_projection(rising[::-1], day, 8000, None)["status"] == "not at this rate"
    assert goals.goal_projection(np.full(30, np.nan), day, 1, None) is None


def test_theil_sen_of_every_window_equals_scipy():
    rng = np.random.default_rng(3)
    y = np.round(rng.normal(size=200) * 2, 1) + np.arange(200) * 0.05  # ties, a rise
    y[rng.random(200) < 0.3] = np.nan
    ours = goals.theil_sen(y, 30)
    compared = 0
    for i in range(29, 200):
        window, x = y[i - 29:i + 1], np.arange(30.0) - 29
        ok = ~np.isnan(window)
        if ok.sum() < goals.MIN_VALUES:
            continue
        ref = stats.theilslopes(window[ok], x[ok], 0.95)
        assert (ours["slope"][i], ours["intercept"][i], ours["low"][i], ours["high"][i]) == \
            pytest.approx(tuple(ref), rel=1e-9, abs=1e-12)
        compared += 1
    assert compared > 100


def test_every_windows_least_squares_trend_equals_the_one_by_one_trend():
    from persys_pipelines.lib.daily import projection

    rng = np.random.default_rng(0)
    y = rng.normal(5, 2, 300)
    y[rng.random(300) < 0.4] = np.nan
    y[:10] = np.nan
    together = projection.trends(y, 30, 7, list(range(300)))
    assert together == [projection.trend(y[max(0, i - 29):i + 1], 7) for i in range(300)]
