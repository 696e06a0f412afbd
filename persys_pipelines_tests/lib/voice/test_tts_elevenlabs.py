"""The ElevenLabs SDK's real client code against a local fake API on 127.0.0.1: credit guard,
formats, 401 quota_exceeded (never retried), 429 back-off, and no key in any message."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from persys_pipelines.lib.config import ElevenLabsVoice
from persys_pipelines.lib.voice import VoiceError, audio
from persys_pipelines.lib.voice.tts_elevenlabs import CreditRefused, ElevenLabsEngine, QuotaExceeded
from persys_pipelines_tests.voice_fakes import API_KEY, fake_elevenlabs, mp3_bytes

TEXT = "Good morning. Here is your briefing."


def engine(fake, budget=None, key=API_KEY, **settings) -> tuple[ElevenLabsEngine, list[float]]:
    waits: list[float] = []
    cfg = ElevenLabsVoice(api_key=SecretStr(key), base_url=fake.base_url, **settings)
    return ElevenLabsEngine(cfg, budget=budget, sleep=waits.append), waits


def test_guard_then_opus_synthesis_with_the_key_in_the_header_only():
    with fake_elevenlabs(character_count=100) as fake:
        eng, _ = engine(fake, budget=5000)
        credits = eng.check(len(TEXT))
        assert (credits.used, credits.allowed, credits.remaining) == (100, 5000, 4900)
        a = eng.synthesize(TEXT)
    assert a.extension == "ogg" and a.data == fake.audio and 1.9 < a.duration_s < 2.1
    (tts,) = fake.tts_requests
    assert tts["path"] == "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb"
    assert tts["query"]["output_format"] == ["opus_48000_64"]
    assert tts["json"]["text"] == TEXT and tts["json"]["model_id"] == "eleven_multilingual_v2"
    assert tts["headers"]["xi-api-key"] == API_KEY
    assert all(API_KEY not in r["path"] + str(r["query"]) for r in fake.requests)


def test_mp3_output_format_per_config():
    with fake_elevenlabs(audio=mp3_bytes(1.5)) as fake:
        eng, _ = engine(fake, output_format="mp3_44100_128")
        a = eng.synthesize(TEXT)
    assert fake.tts_requests[0]["query"]["output_format"] == ["mp3_44100_128"]
    assert a.extension == "mp3" and 1.4 < audio.duration_of(a.data) < 1.7


def test_script_over_budget_is_refused_before_any_synthesis():
    with fake_elevenlabs(character_count=9_990, character_limit=10_000) as fake:
        eng, _ = engine(fake)
        with pytest.raises(CreditRefused, match=r"needs 36 characters but only 10 remain of "
                           r"the plan's limit of 10,000 \(9,990 used"):
            eng.check(len(TEXT))
    with fake_elevenlabs(character_count=1_000, character_limit=10_000) as fake:
        eng, _ = engine(fake, budget=1_020)
        with pytest.raises(CreditRefused, match="monthly budget of 1,020 characters"):
            eng.check(len(TEXT))
    assert fake.tts_requests == []


def test_401_quota_exceeded_is_clear_and_never_retried():
    with fake_elevenlabs(tts=["quota", "ok"]) as fake:
        eng, waits = engine(fake, max_retries=3)
        with pytest.raises(QuotaExceeded, match="quota_exceeded.*not retried"):
            eng.synthesize(TEXT)
    assert len(fake.tts_requests) == 1 and waits == []


def test_429_backs_off_then_succeeds():
    with fake_elevenlabs(tts=[429, 429, "ok"], retry_after="2") as fake:
        eng, waits = engine(fake, max_retries=3)
        a = eng.synthesize(TEXT)
    assert a.data == fake.audio and len(fake.tts_requests) == 3 and waits == [2.0, 2.0]


def test_429_gives_up_within_its_limits():
    with fake_elevenlabs(tts=[429] * 5) as fake:
        eng, waits = engine(fake, max_retries=2)
        with pytest.raises(VoiceError, match="HTTP 429.*retries exhausted"):
            eng.synthesize(TEXT)
    assert len(fake.tts_requests) == 3 and len(waits) == 2
    with fake_elevenlabs(tts=[429, "ok"], retry_after="600") as fake:
        eng, waits = engine(fake, max_retries=2, max_wait_s=30)
        with pytest.raises(VoiceError, match="HTTP 429"):
            eng.synthesize(TEXT)  # Retry-After beyond max_wait_s: no 10-minute sleep
    assert waits == [] and len(fake.tts_requests) == 1


def test_wrong_key_and_unreachable_api_never_show_the_key(caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "sk_wrong-" + API_KEY
    with fake_elevenlabs() as fake:
        eng, _ = engine(fake, key=wrong)
        with pytest.raises(VoiceError, match="API key was rejected") as info:
            eng.credits()
        assert wrong not in str(info.value) and wrong not in repr(eng)
    eng, _ = engine(fake, key=wrong)  # the server is gone now
    with pytest.raises(VoiceError, match="could not reach") as info:
        eng.synthesize(TEXT)
    assert wrong not in str(info.value)
    assert API_KEY not in caplog.text and wrong not in caplog.text


@pytest.mark.parametrize("cut_at", [1, 10, len(API_KEY) - 1])
def test_a_key_the_error_text_echoes_is_scrubbed_before_the_text_is_cut(cut_at):
    """ElevenLabs' message is cut at 300 characters: a key echoed across the cut must not
    leave its first characters in the error (scrub first, then cut)."""
    message = "x" * (299 - cut_at) + " " + API_KEY + " was used for this request"
    with fake_elevenlabs(tts=[(400, {"detail": {"status": "invalid_request",
                                                "message": message}})]) as fake:
        eng, _ = engine(fake)
        with pytest.raises(VoiceError, match="HTTP 400 invalid_request") as info:
            eng.synthesize(TEXT)
    kept = str(info.value).split("x" * (299 - cut_at) + " ")[1]  # what the cut left of it
    assert not kept.startswith(API_KEY[:cut_at]) and kept.startswith("*")
