"""`voice_briefing` in Dagster: yesterday's run falls back / sends once, a ranged backfill makes
every day locally in one run and messages nobody; no secret in metadata or the event log."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from persys_pipelines.definitions import build_definitions
from persys_pipelines.lib.config import load_config
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.voice_fakes import (
    API_KEY,
    BOT_TOKEN,
    fake_elevenlabs,
    fake_telegram_voice,
    store_day,
)


def test_morning_run_sends_once_and_backfill_sends_nothing(tmp_path, tier_dsns, monkeypatch):
    monkeypatch.setenv("TEST_ELEVEN_KEY", API_KEY)
    monkeypatch.setenv("TEST_BOT_TOKEN", BOT_TOKEN)
    with fake_elevenlabs(character_count=9_999) as eleven, fake_telegram_voice() as tg:
        path = write_config(
            tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
            voice={"engine": "elevenlabs", "target_seconds": 20,
                   "elevenlabs": {"api_key": "env:TEST_ELEVEN_KEY", "base_url": eleven.base_url}},
            telegram={"token": "env:TEST_BOT_TOKEN", "chat_id": "42", "base_url": tg.base_url},
        )
        cfg = load_config(path)
        yesterday = cfg.today() - dt.timedelta(days=1)
        old = [dt.date(2024, 3, 1), dt.date(2024, 3, 2)]
        for day in [yesterday, *old]:
            store_day(cfg, day)
        defs = build_definitions(cfg, str(path))
        job = defs.resolve_job_def("voice_briefing_job")
        with dg.instance_for_test() as instance:
            for _ in range(2):  # the re-run sends nothing twice
                result = job.execute_in_process(instance=instance,
                                                partition_key=yesterday.isoformat())
                assert result.success
            (mat,) = result.asset_materializations_for_node("voice_briefing")
            meta = {k: v.value for k, v in mat.metadata.items()}
            assert meta["engine"] == "local"  # over budget → fallback_local (the default)
            assert "credit guard" in meta["notes"] and "built-in voice" in meta["script"]
            assert meta["telegram"] == f"{yesterday}: already sent"
            assert str(meta["uri"]).endswith(f"voice/{yesterday:%Y/%m}/{yesterday}.ogg")
            assert len(tg.voices) == 1 and eleven.tts_requests == []

            backfill = job.execute_in_process(instance=instance, tags={
                "dagster/asset_partition_range_start": old[0].isoformat(),
                "dagster/asset_partition_range_end": old[1].isoformat()})
            assert backfill.success
            mats = backfill.asset_materializations_for_node("voice_briefing")
            assert sorted(m.partition for m in mats) == [d.isoformat() for d in old]
            meta = {k: v.value for k, v in mats[-1].metadata.items()}
            assert meta["days"] == 2 and meta["engines"] == {"local": 2}
            assert "not sent" in meta["telegram"] and len(tg.voices) == 1
            # only the two morning runs read the subscription; the backfill asked nothing
            assert [r["path"] for r in eleven.requests] == ["/v1/user/subscription"] * 2
            for day in old:
                assert (cfg.home / f"voice/2024/03/{day}.ogg").is_file()

            logged = " ".join(str(e) for e in instance.all_logs(result.run_id)) + " ".join(
                str(e) for e in instance.all_logs(backfill.run_id))
            assert API_KEY not in logged and BOT_TOKEN not in logged
            assert API_KEY not in repr(meta) and BOT_TOKEN not in repr(meta)


def test_the_credit_plan_is_announced_once_and_shown_in_metadata(tmp_path, tier_dsns,
                                                                monkeypatch):
    from persys_pipelines_tests.monitoring_fakes import fake_telegram

    monkeypatch.setenv("TEST_ELEVEN_KEY", API_KEY)
    yesterday = dt.date.today() - dt.timedelta(days=1)
    reset = dt.datetime.combine(dt.date.today() + dt.timedelta(days=10), dt.time(), dt.UTC)
    with fake_elevenlabs(character_count=5_000, reset_unix=int(reset.timestamp())) as eleven, \
            fake_telegram() as tg:
        path = write_config(
            tmp_path / "persys.yaml", tier_dsns, tmp_path / "home", timezone="UTC",
            voice={"engine": "elevenlabs", "send_telegram": False,
                   "elevenlabs": {"api_key": "env:TEST_ELEVEN_KEY", "base_url": eleven.base_url}},
            telegram={"token": "1:alerts", "chat_id": "3", "base_url": tg.base_url},
            notify={"telegram": True})
        cfg = load_config(path)
        store_day(cfg, yesterday)
        job = build_definitions(cfg, str(path)).resolve_job_def("voice_briefing_job")
        with dg.instance_for_test() as instance:
            results = [job.execute_in_process(instance=instance,
                                              partition_key=yesterday.isoformat())
                       for _ in range(2)]  # the re-run reuses the paid audio: no new plan
        (mat,) = results[0].asset_materializations_for_node("voice_briefing")
        plan = mat.metadata["credit_plan"].value
        assert "half-price model eleven_flash_v2_5" in plan and "10 briefing(s)" in plan
        subjects = [m["text"].splitlines()[0] for m in tg.messages]
        assert subjects == ["🔉 persys: briefings move to ElevenLabs' half-price voice"]
