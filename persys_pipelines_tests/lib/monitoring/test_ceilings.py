"""Supabase's two ceilings: the live read-only line and the billing cycle's average (HTTP 402),
from usage histories recorded in a real main tier."""

from __future__ import annotations

import datetime as dt

from pydantic import SecretStr

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.monitoring import ceilings, usage

MB = 1024 * 1024
QUOTA = 500 * MB


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


def test_billing_cycle_on_any_start_day():
    c = ceilings.billing_cycle(dt.date(2024, 5, 20), 1)
    assert (c.start, c.end, c.days) == (dt.date(2024, 5, 1), dt.date(2024, 6, 1), 31)
    c = ceilings.billing_cycle(dt.date(2024, 5, 3), 14)
    assert (c.start, c.end) == (dt.date(2024, 4, 14), dt.date(2024, 5, 14))
    c = ceilings.billing_cycle(dt.date(2024, 2, 29), 31)  # clamped to the month's last day
    assert (c.start, c.end) == (dt.date(2024, 2, 29), dt.date(2024, 3, 31))
    c = ceilings.billing_cycle(dt.date(2024, 2, 28), 31)
    assert (c.start, c.end) == (dt.date(2024, 1, 31), dt.date(2024, 2, 29))
    c = ceilings.billing_cycle(dt.date(2024, 12, 31), 15)
    assert (c.start, c.end) == (dt.date(2024, 12, 15), dt.date(2025, 1, 15))


def samples_growing(first: str, days: int, start_mb: float, mb_per_day: float) -> list:
    t0 = at(first)
    return [usage.Usage("core", int((start_mb + mb_per_day * i) * MB), QUOTA,
                        t0 + dt.timedelta(days=i)) for i in range(days)]


def test_read_only_line_date_and_move_by():
    samples = samples_growing("2024-05-01", 10, 400, 5)  # 445 MB on 05-10, +5 MB a day
    c = ceilings.ceilings(samples, [], read_only_pct=95, target_bytes=375 * MB, cycle_day=1)
    assert round(c.bytes_per_day / MB, 3) == 5
    # 95% of 500 MB = 475 MB, 30 MB away at 5 MB/day: 6 days after 05-10
    assert c.read_only.at.date() == dt.date(2024, 5, 16)
    assert c.read_only.move_by == dt.date(2024, 5, 15)
    assert not c.read_only.already


def test_average_under_quota_says_so():
    samples = samples_growing("2024-05-01", 5, 100, 1)
    c = ceilings.ceilings(samples, [], read_only_pct=95, target_bytes=375 * MB, cycle_day=1)
    assert not c.average.over and c.average.move_by is None
    assert "under the quota" in ceilings.lines(c)[1]


def test_a_shrunk_database_still_carries_its_big_days_in_the_average():
    """20 days at 700 MB (past the quota: a rescue session wrote on), then moved to 100 MB:
    the live size is small, but the average of May is over 500 MB whatever moves now."""
    daily = [usage.DailySize("core", dt.date(2024, 5, 1) + dt.timedelta(days=i), 700 * MB)
             for i in range(20)]
    now = usage.Usage("core", 100 * MB, QUOTA, at("2024-05-21"))
    c = ceilings.ceilings([now], daily, read_only_pct=95, target_bytes=375 * MB, cycle_day=1)
    assert c.average.measured_days == 21
    assert round(c.average.average_so_far / MB) == round((20 * 700 + 100) / 21)
    # (20×700 + 11×100) / 31 = 487 MB: just under, the small days dilute it
    assert not c.average.over
    daily += [usage.DailySize("core", dt.date(2024, 5, 21), 700 * MB)]
    now = usage.Usage("core", 400 * MB, QUOTA, at("2024-05-22"))
    c = ceilings.ceilings([now], daily, read_only_pct=95, target_bytes=375 * MB, cycle_day=1)
    assert c.average.over and c.average.unavoidable and c.average.move_by is None
    text = ceilings.lines(c)[1]
    assert "OVER the quota whatever is moved now" in text
    assert "shrinking the database does not lift a restriction" in text
    assert "2024-06-01" in text  # the cycle's reset


def test_average_move_by_is_the_last_day_that_keeps_it_under():
    daily = [usage.DailySize("core", dt.date(2024, 5, 1) + dt.timedelta(days=i),
                             (495 + i) * MB) for i in range(10)]
    samples = samples_growing("2024-05-01", 11, 495, 1)  # 505 MB on 05-11, +1 MB a day
    c = ceilings.ceilings(samples, daily, read_only_pct=100, target_bytes=375 * MB,
                          cycle_day=1)
    a = c.average
    assert a.over and not a.unavoidable and a.move_by is not None
    # check by hand: days before and on move_by at the projected size, later days at 375 MB
    k = (a.move_by - dt.date(2024, 5, 11)).days
    past = sum(495 + i for i in range(11))
    future = [505 + i + 1 for i in range(20)]
    assert (past + sum(future[:k]) + (20 - k) * 375) / 31 <= 500
    assert (past + sum(future[:k + 1]) + (20 - k - 1) * 375) / 31 > 500


def test_daily_history_keeps_each_days_peak_and_prunes_samples(cfg):
    with resolve_tier(cfg, "main").connect() as main:
        t0 = at("2024-01-01", 0)
        for i in range(100):  # two samples a day, the second the bigger
            day = t0 + dt.timedelta(days=i)
            usage.record(main, [usage.Usage("core", (100 + i) * MB, QUOTA, day),
                                usage.Usage("core", (150 + i) * MB, QUOTA,
                                            day + dt.timedelta(hours=6))])
        usage.record(main, [usage.Usage("core", 10 * MB, QUOTA,  # smaller: the peak stays
                                        t0 + dt.timedelta(days=99, hours=9))])
        daily = usage.daily_history(main, "core")
        assert len(daily) == 100
        assert daily[0].bytes == 150 * MB and daily[-1].bytes == 249 * MB  # the peak stays
        kept = usage.history(main, "core")
        assert kept[0].at >= t0 + dt.timedelta(days=99 - usage.SAMPLE_DAYS)  # pruned
        c = ceilings.from_history(main, read_only_pct=95, target_pct=75, cycle_day=1,
                                  now=t0 + dt.timedelta(days=99, hours=7))
        assert c.average.cycle.start == dt.date(2024, 4, 1)
        assert c.average.measured_days == 9  # April 1-9


def test_daily_history_is_filled_from_samples_kept_before_it_existed(cfg):
    with resolve_tier(cfg, "main").connect() as main:
        usage.record(main, [usage.Usage("core", 5 * MB, QUOTA, at("2024-03-01"))])
        main.execute("drop table persys.usage_daily")
        main.execute("insert into persys.usage values (%s, 'core', %s, %s)",
                     (at("2024-03-02"), 7 * MB, QUOTA))
        main.commit()
        assert [(d.day.isoformat(), d.bytes // MB) for d in usage.daily_history(main, "core")
                ] == []
        usage.record(main, [usage.Usage("core", 6 * MB, QUOTA, at("2024-03-02", 13))])
        assert [(d.day.isoformat(), d.bytes // MB) for d in usage.daily_history(main, "core")
                ] == [("2024-03-01", 5), ("2024-03-02", 7)]


def test_quota_tick_alerts_once_per_cycle_when_the_average_is_over(cfg):
    """The core is small now, but most of the cycle's days were big: one alert, naming the
    reset and saying shrinking does not lift the restriction; the next tick says nothing."""
    from persys_pipelines.lib.monitoring.watch import quota_tick
    from persys_pipelines_tests.monitoring_fakes import fake_telegram

    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    now = dt.datetime.now(dt.UTC)
    day = (now - dt.timedelta(days=15)).day  # a cycle that started about 15 days ago
    cfg = cfg.model_copy(update={"tiers": cfg.tiers.model_copy(update={
        "core": cfg.tiers.core.model_copy(update={"billing_cycle_day": min(day, 28)})})})
    cycle = ceilings.billing_cycle(now.date(), min(day, 28))
    big = 3 * core.quota_bytes
    with main.connect() as conn:
        usage.ensure_daily_table(conn)
        for i in range((now.date() - cycle.start).days):
            conn.execute("insert into persys.usage_daily values ('core', %s, %s, %s)",
                         (cycle.start + dt.timedelta(days=i), big, core.quota_bytes))
        conn.commit()
    with fake_telegram() as tg:
        cfg = cfg.model_copy(update={
            "telegram": cfg.telegram.model_copy(update={"token": SecretStr("1:t"), "chat_id": "5",
                                                        "base_url": tg.base_url}),
            "notify": cfg.notify.model_copy(update={"telegram": True})})
        alerts = handles.notifier(cfg)
        first = quota_tick(handles.watch(cfg), core, main, alerts, None, now=now)
        quota_tick(handles.watch(cfg), core, main, alerts, first.cursor,
                   now=now + dt.timedelta(minutes=1))
        texts = [m["text"] for m in tg.messages]
    assert len(texts) == 1, texts
    assert "billing average is over the free quota" in texts[0]
    assert "does not lift a restriction" in texts[0]
    assert cycle.end.isoformat() in texts[0]


def test_status_and_report_show_both_lines(cfg, tmp_path):
    from persys_pipelines.handles import setup_tiers
    from persys_pipelines.lib.monitoring import report, status

    setup_tiers(cfg)
    now = dt.datetime.now(dt.UTC)
    core = resolve_tier(cfg, "core")
    size = core.size_bytes()
    with resolve_tier(cfg, "main").connect() as main:  # 2 MB a day over the last 3 days
        usage.record(main, [usage.Usage("core", size - (3 - i) * 2 * MB, core.quota_bytes,
                                        now - dt.timedelta(days=3 - i)) for i in range(3)])
    doc = handles.status(cfg)
    c = doc["ceilings"]
    assert c["read_only"]["limit_bytes"] == int(core.quota_bytes * 0.95)
    assert c["read_only"]["move_by"] is not None and not c["billing_average"]["over"]
    text = status.render(doc)
    assert "Supabase ceilings (core)" in text and "read-only line (475.0 MB): around" in text
    assert "billing average (" in text and "under the quota" in text
    md = report.build(handles.status_context(cfg), ("sizes",))
    assert "### Supabase ceilings" in md and "a move must run by" in md
