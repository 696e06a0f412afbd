"""Voice briefings in Supabase Storage (`voice.store_url: supabase://bucket/prefix`), through
the real `supabase` client against a local fake: the audio is uploaded, a signed URL that
plays without any key is recorded with the day, and a re-run replaces the file."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.archive.stores import StoreError
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.voice import briefing
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.supabase_fakes import SERVICE_KEY, fake_supabase
from persys_pipelines_tests.voice_fakes import store_day

DAY = dt.date(2024, 6, 4)


def supabase_cfg(tmp_path, tier_dsns, monkeypatch, base_url: str, bucket: str = "voice"):
    monkeypatch.setenv("TEST_SB_KEY", SERVICE_KEY)
    path = write_config(
        tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
        tiers={"core": {"dsn": tier_dsns["core"], "supabase_url": base_url,
                        "service_key": "env:TEST_SB_KEY"},
               "main": {"dsn": tier_dsns["main"]}},
        voice={"target_seconds": 15, "store_url": f"supabase://{bucket}/persys",
               "signed_url_days": 2})
    return load_config(path)


def test_the_briefing_goes_to_storage_with_a_signed_url(tmp_path, tier_dsns, monkeypatch):
    with fake_supabase() as sb:
        cfg = supabase_cfg(tmp_path, tier_dsns, monkeypatch, sb.base_url)
        store_day(cfg, DAY)
        b = briefing.produce(handles.voice_handles(cfg), DAY)

        key = f"persys/voice/2024/06/{DAY}.ogg"
        assert b.uri == f"supabase://voice/{key}"
        assert sb.buckets["voice"][key] == b.audio.data and b.audio.data[:4] == b"OggS"
        assert sb.buckets["voice"][f"persys/voice/2024/06/{DAY}.txt"].decode() == b.script.text
        assert b.signed_url and b.signed_url.startswith(f"{sb.base_url}/storage/v1/object/sign/")
        assert f"e={2 * 86400}" in b.signed_url  # voice.signed_url_days
        played = httpx.get(b.signed_url)  # no key: what a phone opening the link does
        assert played.status_code == 200 and played.content == b.audio.data
        assert SERVICE_KEY not in b.signed_url

        with resolve_tier(cfg, "core").connect() as conn:
            assert conn.execute("select uri, signed_url from persys.voice_messages where day = %s",
                                (DAY,)).fetchone() == (b.uri, b.signed_url)

        # a re-run replaces the file (upsert), one row
        again = briefing.produce(handles.voice_handles(cfg), DAY)
        assert sb.buckets["voice"][key] == again.audio.data
        assert again.signed_url != b.signed_url
        with resolve_tier(cfg, "core").connect() as conn:
            assert conn.execute("select count(*), max(signed_url) from persys.voice_messages"
                                ).fetchone() == (1, again.signed_url)


def test_a_missing_bucket_says_how_to_create_it(tmp_path, tier_dsns, monkeypatch):
    with fake_supabase() as sb:
        cfg = supabase_cfg(tmp_path, tier_dsns, monkeypatch, sb.base_url, bucket="briefings")
        store_day(cfg, DAY)
        with pytest.raises(StoreError, match="create the bucket briefings in the Supabase "
                                             "dashboard"):
            briefing.produce(handles.voice_handles(cfg), DAY)
        with resolve_tier(cfg, "core").connect() as conn:
            assert conn.execute("select count(*) from persys.voice_messages").fetchone()[0] == 0
