"""Catch-up after downtime: the sensor finds the missed days from the data and asks once."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from persys_pipelines import handles
from persys_pipelines.defs.daily.catch_up import daily_catch_up
from persys_pipelines.defs.resources import PersysConfigResource
from persys_pipelines.defs.tags import (
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    SEND_ONLY_LATEST_TAG,
    partition_range,
)
from persys_pipelines.defs.voice.assets import should_send
from persys_pipelines.lib.daily import catch_up, projection, summary
from persys_pipelines_tests.lib.daily.test_summary import (  # noqa: F401  (daily_cfg is a fixture)
    daily_cfg,
    insert,
)


def tick(cfg_path: str, cursor: str | None, instance: dg.DagsterInstance):
    with dg.build_sensor_context(
        cursor=cursor, instance=instance,
        resources={"persys_config": PersysConfigResource(config_path=cfg_path)},
    ) as ctx:
        return daily_catch_up(ctx), ctx


def test_three_day_gap_is_one_ranged_request_and_asked_once(daily_cfg, tier_dsns,  # noqa: F811
                                                           tmp_path):
    today = daily_cfg.today()
    days = [today - dt.timedelta(days=n) for n in range(5, 0, -1)]  # the last 5 days
    insert(tier_dsns["core"], "journal_entries", [(d, 3, f"day {d}") for d in days])
    for d in days[:2]:  # the morning runs of the first two days happened
        hs = handles.daily_handles(daily_cfg)
        summary.store(hs, d, d, summary.compute(hs, d, d))
        projection.store(handles.daily_handles(daily_cfg), d, d, [(d, 7, {})], {})
    assert catch_up.missing_days(handles.daily_handles(daily_cfg)) == days[2:]

    path = str(tmp_path / "persys.yaml")
    with dg.instance_for_test() as instance:
        result, ctx = tick(path, None, instance)
        assert isinstance(result, dg.SensorResult)
        (request,) = result.run_requests
        assert request.tags == {**partition_range(days[2].isoformat(), days[4].isoformat()),
                                SEND_ONLY_LATEST_TAG: "true"}
        assert request.run_key and result.cursor == request.run_key

        again, _ = tick(path, result.cursor, instance)  # same state: nothing new
        assert isinstance(again, dg.SkipReason)

        # only a summary written: the day still lacks its projection, the state is the same
        hs = handles.daily_handles(daily_cfg)
        summary.store(hs, days[2], days[2], summary.compute(hs, days[2], days[2]))
        assert isinstance(tick(path, result.cursor, instance)[0], dg.SkipReason)

        # the projection too: two days remain, a different state, one new request
        projection.store(handles.daily_handles(daily_cfg), days[2], days[2], [(days[2], 7, {})], {})
        still, _ = tick(path, result.cursor, instance)
        assert isinstance(still, dg.SensorResult)
        (req,) = still.run_requests
        assert req.run_key != request.run_key
        assert req.tags[PARTITION_RANGE_START_TAG] == days[3].isoformat()
        assert req.tags[PARTITION_RANGE_END_TAG] == days[4].isoformat()


def test_no_raw_rows_means_nothing_to_catch_up(daily_cfg, tmp_path):  # noqa: F811
    with dg.instance_for_test() as instance:
        result, _ = tick(str(tmp_path / "persys.yaml"), None, instance)
    assert isinstance(result, dg.SkipReason)


def test_window_honours_catch_up_days_and_start_date(daily_cfg):  # noqa: F811
    today = dt.date(2023, 1, 10)
    hs = handles.daily_handles(daily_cfg)
    assert catch_up.window(hs, today) == (dt.date(2023, 1, 1), dt.date(2023, 1, 9))
    assert catch_up.window(hs, dt.date(2024, 6, 1)) == (dt.date(2024, 5, 18),
                                                              dt.date(2024, 5, 31))


def test_catch_up_sends_only_the_latest_day(daily_cfg):  # noqa: F811
    y = daily_cfg.today() - dt.timedelta(days=1)
    old = y - dt.timedelta(days=3)
    assert should_send(daily_cfg, old, old, only_latest=True)  # the latest missed briefing
    assert not should_send(daily_cfg, old, y, only_latest=True)
    assert should_send(daily_cfg, y, y, only_latest=True)
    assert not should_send(daily_cfg, y - dt.timedelta(days=1), y, only_latest=True)
    assert not should_send(daily_cfg, old, old, only_latest=False)  # a backfill sends nothing


def test_catch_up_run_after_three_days_off_makes_every_day_and_sends_one_note(
        tmp_path, tier_dsns, monkeypatch):
    """The whole path a person meets after a long weekend with the server off: the sensor's
    request, run as the daemon would run it, makes the three missed days' summaries,
    projections and briefings, and exactly one Telegram note goes out: the latest day's."""
    from persys_pipelines.definitions import build_definitions
    from persys_pipelines.handles import resolve_tier, setup_tiers
    from persys_pipelines.lib.config import load_config
    from persys_pipelines_tests.conftest import write_config
    from persys_pipelines_tests.voice_fakes import BOT_TOKEN, fake_telegram_voice

    monkeypatch.setenv("TEST_BOT_TOKEN", BOT_TOKEN)
    with fake_telegram_voice() as tg:
        path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
                            telegram={"token": "env:TEST_BOT_TOKEN", "chat_id": "42",
                                      "base_url": tg.base_url})
        cfg = load_config(path)
        setup_tiers(cfg)
        today = cfg.today()
        days = [today - dt.timedelta(days=n) for n in range(3, 0, -1)]  # off for three days
        insert(tier_dsns["core"], "journal_entries", [(d, 6, f"words on {d}") for d in days])

        with dg.instance_for_test() as instance:
            result, _ = tick(str(path), None, instance)
            (request,) = result.run_requests
            job = build_definitions(cfg, str(path)).resolve_job_def("daily_catch_up_job")
            run = job.execute_in_process(instance=instance, tags=request.tags)
            assert run.success
            after, _ = tick(str(path), result.cursor, instance)
            assert isinstance(after, dg.SkipReason) and "no missed days" in after.skip_message

        assert catch_up.missing_days(handles.daily_handles(cfg)) == []
        with resolve_tier(cfg, "core").connect() as conn:
            summaries = conn.execute(
                "select day from persys.daily_summaries order by day").fetchall()
            voices = conn.execute("select day from persys.voice_messages order by day").fetchall()
        assert [d for (d,) in summaries] == days
        assert [d for (d,) in voices] == days  # every briefing made ...
        assert len(tg.voices) == 1  # ... one sent
        # the note is the latest day's: its caption is that day's summary
        assert f"{days[-1]:%a %d %b %Y}".encode() in tg.voices[0]
        assert f"{days[0]:%a %d %b %Y}".encode() not in tg.voices[0]
