"""Forecast of quota crossings on synthetic usage histories."""

from __future__ import annotations

import datetime as dt

import pytest

from persys_pipelines.lib.monitoring.forecast import forecast, growth_rate, soon
from persys_pipelines.lib.monitoring.usage import Usage

MB = 1024 * 1024
T0 = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)


def series(values_mb: list[float], quota_mb: float = 100, step_h: float = 24) -> list[Usage]:
    return [Usage("core", int(v * MB), int(quota_mb * MB), T0 + dt.timedelta(hours=i * step_h))
            for i, v in enumerate(values_mb)]


def test_linear_growth_gives_each_crossing_date():
    # 50 MB growing 1 MB a day on a 100 MB quota: 80% in 30 days, 90% in 40, 95% in 45
    samples = series([40 + i for i in range(11)])
    fc = forecast(samples)
    assert fc.bytes_per_day == pytest.approx(MB)
    last = samples[-1].at
    dates = {c.line: c.at for c in fc.crossings}
    assert dates[80] == last + dt.timedelta(days=30)
    assert dates[90] == last + dt.timedelta(days=40)
    assert dates[95] == last + dt.timedelta(days=45)
    assert fc.as_json(last)["lines"]["90"] == {"date": "2024-04-20", "days": 40.0,
                                               "already": False}


def test_flat_and_shrinking_never_cross():
    for values in ([60.0] * 10, [70 - i for i in range(10)]):
        fc = forecast(series(values))
        assert [c.at for c in fc.crossings] == [None, None, None]
        assert soon(fc, T0, 14) == []


def test_a_line_already_crossed_is_reported_as_such():
    fc = forecast(series([84, 85, 86]))
    crossed = {c.line: c.already for c in fc.crossings}
    assert crossed == {80: True, 90: False, 95: False}
    assert fc.crossings[1].at == series([84, 85, 86])[-1].at + dt.timedelta(days=4)


def test_the_rate_starts_after_an_emergency_drop():
    # grew 2 MB/day to 91, migrated down to 60, now grows 0.5 MB/day
    before = [73 + 2 * i for i in range(10)]
    after = [60 + 0.5 * i for i in range(6)]
    fc = forecast(series(before + after))
    assert fc.bytes_per_day == pytest.approx(0.5 * MB)


def test_alert_window_picks_only_near_crossings():
    samples = series([70 + i for i in range(5)])  # at 74, +1 MB/day: 80% in 6 days
    fc = forecast(samples)
    now = samples[-1].at
    assert [c.line for c in soon(fc, now, 14)] == [80]  # 90% is 16 days away
    assert [c.line for c in soon(fc, now, 17)] == [80, 90]  # 95% is 21 days away


def test_too_little_history_or_no_quota():
    assert growth_rate(series([50])) is None
    assert [c.at for c in forecast(series([50])).crossings] == [None, None, None]
    assert forecast([Usage("main", 5 * MB, None, T0)]) is None


def test_minutes_of_history_give_no_rate_and_no_alert():
    # a bulk import between two sensor ticks a minute apart is not a growth rate
    samples = series([60, 75], step_h=1 / 60)
    fc = forecast(samples)
    assert fc.bytes_per_day is None and [c.at for c in fc.crossings] == [None, None, None]
    assert soon(fc, samples[-1].at, 14) == []
