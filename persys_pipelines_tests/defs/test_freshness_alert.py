"""The hourly freshness schedule alerts on its own when yesterday's summary is missing."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from persys_pipelines import handles
from persys_pipelines.defs.daily.freshness import daily_freshness_alert
from persys_pipelines.defs.resources import resources
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.daily import summary
from persys_pipelines_tests.defs.test_monitoring import configure
from persys_pipelines_tests.lib.daily.test_summary import daily_cfg  # noqa: F401 (a fixture)
from persys_pipelines_tests.monitoring_fakes import fake_telegram


def evaluate(path: str, when: dt.datetime, instance: dg.DagsterInstance) -> dg.SkipReason:
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when,
        resources=resources(path),
    ) as ctx:
        return daily_freshness_alert(ctx)


def test_missing_summary_after_freshness_hour_alerts_once(daily_cfg, tmp_path):  # noqa: F811
    path = tmp_path / "persys.yaml"
    today = daily_cfg.today()
    yesterday = today - dt.timedelta(days=1)
    ten = dt.datetime.combine(today, dt.time(10), daily_cfg.zone)
    with fake_telegram() as tg, dg.instance_for_test() as instance:
        configure(path, tg.base_url)
        cfg = load_config(path)
        before = dt.datetime.combine(today, dt.time(8), cfg.zone)  # due: the day before
        hs, before_day = handles.daily_handles(cfg), yesterday - dt.timedelta(days=1)
        summary.store(hs, before_day, before_day, summary.compute(hs, before_day, before_day))
        assert "fresh" in evaluate(str(path), before, instance).skip_message
        assert tg.messages == []

        result = evaluate(str(path), ten, instance)  # after 09:00: yesterday is missing
        assert f"no summary for {yesterday}" in result.skip_message
        (message,) = tg.messages
        assert str(yesterday) in message["text"]

        evaluate(str(path), ten + dt.timedelta(hours=1), instance)  # the next hour: no repeat
        assert len(tg.messages) == 1

        summary.store(hs, yesterday, yesterday, summary.compute(hs, yesterday, yesterday))
        assert "fresh" in evaluate(str(path), ten + dt.timedelta(hours=2), instance).skip_message
        assert len(tg.messages) == 1
