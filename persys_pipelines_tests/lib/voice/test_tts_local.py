"""eSpeak NG through ctypes → 48 kHz mono OGG/Opus that decodes to speech of the right length."""

from __future__ import annotations

import numpy as np
import pytest

from persys_pipelines.lib.voice import VoiceError, audio, tts_local


def test_local_voice_writes_ogg_opus_whose_duration_fits_the_text():
    short = "Good morning. You slept seven hours."
    long = " ".join([short] * 6)
    a_short = tts_local.synthesize(short, words_per_minute=165)
    a_long = tts_local.synthesize(long, words_per_minute=165)
    for a in (a_short, a_long):
        assert a.extension == "ogg" and a.data[:4] == b"OggS" and b"OpusHead" in a.data[:64]
    samples, rate = audio.decode(a_long.data)
    assert rate == 48_000
    seconds = len(samples) / rate
    expected = 60 * len(long.split()) / 165
    assert 0.6 * expected <= seconds <= 1.6 * expected
    assert abs(seconds - a_long.duration_s) < 0.05
    assert 4.5 <= a_long.duration_s / a_short.duration_s <= 7.5  # six times the words
    assert float(np.sqrt(np.mean(samples**2))) > 0.01  # speech, not silence


def test_slower_rate_gives_longer_audio():
    text = "This sentence is spoken at two different speeds."
    fast = tts_local.synthesize(text, words_per_minute=250)
    slow = tts_local.synthesize(text, words_per_minute=120)
    assert slow.duration_s > 1.5 * fast.duration_s


def test_unknown_voice_is_a_clear_error():
    with pytest.raises(VoiceError, match="voice.local.voice 'xx-nope' is not an eSpeak NG voice"):
        tts_local.synthesize("hello", voice="xx-nope")
