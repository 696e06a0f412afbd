"""A day's briefing end to end on real PostgreSQL and a real folder store, with the ElevenLabs
SDK and Telegram client talking to local fakes: the credit guard refuses or falls back as
configured, backfills never pay, re-runs neither pay nor send twice, no secret leaks."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path

import pytest

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier, setup_tiers
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.telegram import TelegramClient, TelegramError
from persys_pipelines.lib.voice import VoiceError, briefing, records
from persys_pipelines.lib.voice.tts_elevenlabs import CreditRefused, QuotaExceeded
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.voice_fakes import (
    API_KEY,
    BOT_TOKEN,
    fake_elevenlabs,
    fake_telegram_voice,
    store_day,
)

DAY, TODAY = dt.date(2024, 6, 4), dt.date(2024, 6, 5)


@pytest.fixture
def make_cfg(tmp_path: Path, tier_dsns, monkeypatch):
    monkeypatch.setenv("TEST_ELEVEN_KEY", API_KEY)
    monkeypatch.setenv("TEST_BOT_TOKEN", BOT_TOKEN)

    def _make(eleven=None, telegram_url=None, **voice):
        voice.setdefault("target_seconds", 20)  # short scripts: a faster local voice
        if eleven is not None:
            voice = {"engine": "elevenlabs", **voice,
                     "elevenlabs": {"api_key": "env:TEST_ELEVEN_KEY", "base_url": eleven.base_url,
                                    **voice.pop("elevenlabs", {})}}
        extra = {"voice": voice} if voice else {}
        if telegram_url:
            extra["telegram"] = {"token": "env:TEST_BOT_TOKEN", "chat_id": "42",
                                 "base_url": telegram_url}
        path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home", **extra)
        return load_config(path)
    return _make


def rows(cfg, tier="core") -> list[tuple]:
    with resolve_tier(cfg, tier).connect() as conn:
        return conn.execute("select day, engine, voice, characters, duration_s, uri, sha256, "
                            "sent_at, telegram_message_id from persys.voice_messages").fetchall()


def test_local_briefing_is_stored_as_a_file_and_one_row(make_cfg):
    cfg = make_cfg(target_seconds=75)
    store_day(cfg, DAY)
    b = briefing.produce(handles.voice_handles(cfg), DAY)
    path = cfg.home / "voice" / "2024" / "06" / "2024-06-04.ogg"
    assert b.uri == f"file://{path}" and path.read_bytes()[:4] == b"OggS"
    assert (cfg.home / "voice/2024/06/2024-06-04.txt").read_text() == b.script.text
    assert b.engine == "local" and b.notes == [] and 40 < b.audio.duration_s < 100
    (row,) = rows(cfg)
    assert row[:5] == (DAY, "local", "en", len(b.script.text), pytest.approx(b.audio.duration_s))
    assert row[5] == b.uri and row[6] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rows(cfg, "main") == []
    again = briefing.produce(handles.voice_handles(cfg), DAY)  # idempotent: same key, one row
    (row,) = rows(cfg)
    assert row[6] == again.audio.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert b.caption.startswith("Tue 04 Jun 2024")


def test_missing_summary_is_a_clear_error_unless_computed(make_cfg):
    cfg = make_cfg()
    setup_tiers(cfg)
    with pytest.raises(VoiceError, match="no daily summary stored for 2024-06-04; materialize"):
        briefing.produce(handles.voice_handles(cfg), DAY)
    b = briefing.produce(handles.voice_handles(cfg), DAY, compute_missing=True)
    assert "Nothing was recorded for this day." in b.script.text


def test_elevenlabs_success_records_the_paid_voice(make_cfg):
    with fake_elevenlabs(character_count=0) as fake:
        cfg = make_cfg(fake)
        store_day(cfg, DAY)
        b = briefing.produce(handles.voice_handles(cfg), DAY, today=TODAY)
    assert b.engine == "elevenlabs" and b.voice == "JBFqnCBsd6RMkjVDRZzb/eleven_multilingual_v2"
    assert b.plan.level == "full" and fake.tts_requests[0]["json"]["model_id"] == \
        "eleven_multilingual_v2"
    assert (cfg.home / "voice/2024/06/2024-06-04.ogg").read_bytes() == fake.audio
    assert fake.tts_requests[0]["json"]["text"] == b.script.text
    assert rows(cfg)[0][1:4] == ("elevenlabs", "JBFqnCBsd6RMkjVDRZzb/eleven_multilingual_v2",
                                 len(b.script.text))


def test_over_budget_refuses_when_configured(make_cfg):
    with fake_elevenlabs(character_count=9_900) as fake:
        cfg = make_cfg(fake, on_over_budget="refuse", spread_credits=False)  # the guard alone
        store_day(cfg, DAY)
        with pytest.raises(CreditRefused, match="credit guard: the briefing needs"):
            briefing.produce(handles.voice_handles(cfg), DAY, today=TODAY)
    assert fake.tts_requests == [] and rows(cfg) == []
    assert not (cfg.home / "voice").exists()


def test_over_budget_falls_back_to_the_local_voice_and_says_so(make_cfg):
    with fake_elevenlabs(character_count=0) as fake:
        cfg = make_cfg(fake, monthly_character_budget=100, on_over_budget="fallback_local",
                       spread_credits=False)
        store_day(cfg, DAY)
        b = briefing.produce(handles.voice_handles(cfg), DAY, today=TODAY)
    assert fake.tts_requests == [] and b.engine == "local"
    assert "built-in voice, because the ElevenLabs voice would have gone over this month's " \
        "character budget" in b.script.text
    assert "credit guard" in b.notes[0] and "fell back" in b.notes[0]
    assert rows(cfg)[0][1] == "local"


def test_quota_exceeded_refuses_or_falls_back_never_retried(make_cfg):
    with fake_elevenlabs(tts=["quota"]) as fake:
        cfg = make_cfg(fake, on_over_budget="refuse", elevenlabs={"max_retries": 3})
        store_day(cfg, DAY)
        with pytest.raises(QuotaExceeded, match="quota_exceeded"):
            briefing.produce(handles.voice_handles(cfg), DAY, today=TODAY)
        assert len(fake.tts_requests) == 1
    with fake_elevenlabs(tts=["quota"]) as fake:
        cfg = make_cfg(fake, on_over_budget="fallback_local")
        b = briefing.produce(handles.voice_handles(cfg), DAY, today=TODAY)
    assert len(fake.tts_requests) == 1 and b.engine == "local"
    assert "ElevenLabs has no credits left this month" in b.script.text


def test_429_then_success(make_cfg):
    with fake_elevenlabs(tts=[429, "ok"], retry_after="0") as fake:
        cfg = make_cfg(fake)
        store_day(cfg, DAY)
        b = briefing.produce(handles.voice_handles(cfg), DAY, today=TODAY)
    assert b.engine == "elevenlabs" and len(fake.tts_requests) == 2


def test_backfill_never_pays_unless_allowed(make_cfg):
    old = dt.date(2024, 5, 1)
    with fake_elevenlabs() as fake:
        cfg = make_cfg(fake)
        store_day(cfg, old)
        b = briefing.produce(handles.voice_handles(cfg), old, today=TODAY)
        assert b.engine == "local" and fake.requests == []  # not even the subscription
        assert "past day" in b.notes[0]
        paid = briefing.produce(handles.voice_handles(cfg), old, today=TODAY, allow_paid=True)
    assert paid.engine == "elevenlabs" and len(fake.tts_requests) == 1


def test_rerun_reuses_paid_audio_instead_of_paying_again(make_cfg):
    with fake_elevenlabs() as fake:
        cfg = make_cfg(fake)
        store_day(cfg, DAY)
        first = briefing.produce(handles.voice_handles(cfg), DAY, today=TODAY)
        second = briefing.produce(handles.voice_handles(cfg), DAY, today=TODAY)
    assert len(fake.tts_requests) == 1 and second.reused and not first.reused
    assert second.audio.sha256 == first.audio.sha256 and second.engine == "elevenlabs"


def test_send_once_per_day_with_429_back_off_and_no_token_anywhere(make_cfg, caplog):
    caplog.set_level(logging.DEBUG)
    with fake_telegram_voice() as tg:
        cfg = make_cfg(telegram_url=tg.base_url)
        store_day(cfg, DAY)
        b = briefing.produce(handles.voice_handles(cfg), DAY)
        tg.answers = [429]
        sent = briefing.send(handles.voice_handles(cfg), DAY, b)
        assert (sent.status, sent.message_id) == ("sent", 101)
        assert len(tg.paths) == 2 and len(tg.voices) == 1  # one 429, then the message
        body = tg.voices[0]
        assert b.audio.data in body and b'filename="briefing-2024-06-04.ogg"' in body
        assert b.caption.encode() in body
        voice = handles.voice_handles(cfg)
        again = briefing.send(voice, DAY, briefing.produce(voice, DAY))  # a re-run
        assert again.status == "already sent" and again.message_id == 101
        assert len(tg.voices) == 1 and len(tg.paths) == 2
    (row,) = rows(cfg)
    assert row[7] is not None and row[8] == 101
    everything = caplog.text + repr(row) + repr(sent) + repr(again) + repr(cfg.telegram)
    assert BOT_TOKEN not in everything and "TG-secret" not in everything


def test_day_sent_from_main_is_not_sent_again(make_cfg):
    with fake_telegram_voice() as tg:
        cfg = make_cfg(telegram_url=tg.base_url)
        store_day(cfg, DAY)
        briefing.produce(handles.voice_handles(cfg), DAY)
        assert briefing.send(handles.voice_handles(cfg), DAY).status == "sent"
        with resolve_tier(cfg, "core").connect() as core, resolve_tier(cfg, "main").connect() \
                as main:  # the lifecycle moved the row to main
            row = core.execute("select * from persys.voice_messages").fetchone()
            main.execute("insert into persys.voice_messages values (" + ", ".join(["%s"] * len(row))
                         + ")", row)
            main.commit()
            core.execute("delete from persys.voice_messages")
            core.commit()
        voice = handles.voice_handles(cfg)
        b = briefing.produce(voice, DAY)  # updates the row in main, adds none to core
        assert rows(cfg) == [] and len(rows(cfg, "main")) == 1
        assert briefing.send(voice, DAY, b).status == "already sent" and len(tg.voices) == 1
        assert records.history(voice.tiers)[0].tier == "main"


def test_failed_send_releases_the_claim(make_cfg):
    with fake_telegram_voice() as tg:
        cfg = make_cfg(telegram_url=tg.base_url)
        store_day(cfg, DAY)
        b = briefing.produce(handles.voice_handles(cfg), DAY)
        wrong = TelegramClient("111:wrong-token", "42", base_url=tg.base_url)
        with pytest.raises(TelegramError, match="Not Found") as info:
            briefing.send(handles.voice_handles(cfg), DAY, b, client=wrong)
        assert "wrong-token" not in str(info.value)
        assert rows(cfg)[0][7] is None  # not marked sent
        assert briefing.send(handles.voice_handles(cfg), DAY, b).status == "sent"
        assert len(tg.voices) == 1


def test_without_telegram_nothing_is_sent(make_cfg):
    cfg = make_cfg()
    store_day(cfg, DAY)
    briefing.produce(handles.voice_handles(cfg), DAY)
    assert briefing.send(handles.voice_handles(cfg), DAY).status == "not configured"
    assert rows(cfg)[0][7] is None


def test_the_briefing_says_ahead_which_archived_days_retention_deletes(make_cfg):
    """On the mornings 14, 7, 3 and 1 days before the purge may delete archived days, the
    briefing says which, that only their digest remains and how to keep them; not between."""
    from persys_pipelines.lib.monitoring.retention import upcoming
    from persys_pipelines_tests.archive_helpers import LATER, rows_in_main

    cfg = make_cfg(target_seconds=75)
    rows_in_main(cfg)
    handles.archive_due(cfg, LATER, tables=["health_metrics"])
    store_day(cfg, DAY)
    soon = upcoming(handles.archive_stores(cfg, check=False), cfg.tables,
                    dt.date(2031, 1, 1), days=365)
    first = min(u.on for u in soon)
    said = briefing.produce(handles.voice_handles(cfg), DAY,
                            today=first - dt.timedelta(days=7)).script.text
    assert "In 7 days, retention deletes your health metrics from 1 February 2024" in said
    assert "only their digest of totals will remain" in said
    assert "persys archive pin" in said
    quiet = briefing.produce(handles.voice_handles(cfg), DAY,
                             today=first - dt.timedelta(days=8)).script.text
    assert "retention" not in quiet
