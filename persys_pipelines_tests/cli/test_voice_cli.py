"""`persys voice preview|send|history` as a person runs them (in-process `main`)."""

from __future__ import annotations

import datetime as dt

import soundfile as sf

from persys_pipelines.cli import main
from persys_pipelines.handles import setup_tiers
from persys_pipelines.lib.config import load_config
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.voice_fakes import BOT_TOKEN, fake_telegram_voice, store_day

DAY = dt.date(2024, 6, 4)


def test_preview_prints_the_script_and_writes_playable_ogg_opus(config_path, cfg, capsys):
    store_day(cfg, DAY)
    assert main(["voice", "preview", "--date", DAY.isoformat()]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Good morning. Here is your briefing for Tuesday, 4 June.")
    path = cfg.home / "voice/2024/06/2024-06-04.ogg"
    assert f"audio: file://{path}" in out and "2024-06-04: local (en)" in out
    info = sf.info(str(path))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("OGG", "OPUS", 48000, 1)
    assert 40 < info.duration < 100


def test_preview_of_a_day_not_yet_summarised_still_works(config_path, cfg, capsys):
    setup_tiers(cfg)
    assert main(["voice", "preview", "--date", "2024-06-01"]) == 0
    assert "Nothing was recorded for this day." in capsys.readouterr().out


def test_send_once_then_history(tmp_path, tier_dsns, monkeypatch, capsys):
    monkeypatch.setenv("TEST_BOT_TOKEN", BOT_TOKEN)
    with fake_telegram_voice() as tg:
        path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
                            voice={"target_seconds": 20},
                            telegram={"token": "env:TEST_BOT_TOKEN", "chat_id": "42",
                                      "base_url": tg.base_url})
        monkeypatch.setenv("PERSYS_CONFIG", str(path))
        store_day(load_config(path), DAY)
        assert main(["voice", "send", "--date", DAY.isoformat()]) == 0
        assert "telegram: sent (message 101)" in capsys.readouterr().out
        assert main(["voice", "send", "--date", DAY.isoformat()]) == 0
        assert "already sent (message 101); nothing to do" in capsys.readouterr().out
        assert len(tg.voices) == 1
    assert main(["voice", "history"]) == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("2024-06-04")]
    assert "local" in line and "core" in line and line.count("-") > 2
    assert BOT_TOKEN not in out


def test_send_without_telegram_and_bad_elevenlabs_config_are_clear(config_path, cfg, capsys,
                                                                   tmp_path, tier_dsns,
                                                                   monkeypatch):
    store_day(cfg, DAY)
    assert main(["voice", "send", "--date", DAY.isoformat()]) == 1
    assert "telegram.token and telegram.chat_id are not set" in capsys.readouterr().err
    path = write_config(tmp_path / "bad.yaml", tier_dsns, tmp_path / "home",
                        voice={"engine": "elevenlabs"})
    assert main(["voice", "preview", "--config", str(path)]) == 2
    assert "voice.elevenlabs.api_key is missing" in capsys.readouterr().err
