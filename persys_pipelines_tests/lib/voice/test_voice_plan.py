"""ElevenLabs credits spread over the cycle: the plan's levels, and a month of briefings
through the real SDK against the local ElevenLabs stand-in, which bills Flash/Turbo at half a
credit a character as ElevenLabs does."""

from __future__ import annotations

import datetime as dt

import pytest

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.voice import briefing, script
from persys_pipelines.lib.voice.plan import make_plan, reset_day
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.voice_fakes import (
    API_KEY,
    PROJECTION,
    SUMMARY,
    fake_elevenlabs,
    store_day,
)

RESET = dt.date(2024, 7, 1)


def plan(left: int, days: int, chars: int, economy: str | None = "eleven_flash_v2_5"):
    return make_plan(left, days, chars, model_id="eleven_multilingual_v2",
                     economy_model_id=economy, min_characters=250, reset=RESET)


def test_levels_from_full_to_local():
    assert plan(30_000, 30, 900).level == "full"
    economy = plan(10_000, 20, 900)  # 450 credits a day × 20 = 9,000
    assert (economy.level, economy.model_id, economy.max_characters) == (
        "economy", "eleven_flash_v2_5", None)
    shorter = plan(10_000, 30, 900)  # 10,000 / 30 days / 0.5 = 666 characters a day
    assert (shorter.level, shorter.max_characters, shorter.credits_per_briefing) == (
        "shorter", 666, 333)
    assert shorter.credits_per_briefing * 30 <= 10_000
    assert plan(3_000, 30, 900).level == "local"  # 200 characters a day: under 250
    assert plan(10_000, 30, 900, economy=None).max_characters == 333  # full price cut
    assert "scripts of at most 666 characters on eleven_flash_v2_5" in shorter.text()
    assert "until the credits reset on 2024-07-01" in shorter.text()


def test_reset_day_from_the_account_else_next_month():
    today = dt.date(2024, 6, 5)
    unix = int(dt.datetime(2024, 6, 19, 3, tzinfo=dt.UTC).timestamp())
    assert reset_day(unix, today) == dt.date(2024, 6, 19)
    assert reset_day(0, today) == dt.date(2024, 7, 1)
    assert reset_day(unix, dt.date(2024, 6, 20)) == dt.date(2024, 7, 1)  # stale: next month


def test_max_characters_cuts_least_important_sentences_first():
    day = dt.date(2024, 6, 4)
    full = script.build(day, SUMMARY, None)
    cut = script.build(day, SUMMARY, None, max_characters=250)
    assert len(cut.text) <= 250 < len(full.text)
    assert cut.text.startswith("Good morning.") and cut.text.endswith("Have a good day.")
    assert "You slept 7.2 hours" in cut.text  # a headline stays before any detail


def month(tmp_path, tier_dsns, spread: bool, days: int = 10, credits: int = 5_000,
          target: int = 75) -> tuple[list, int]:
    """`days` mornings of a cycle that resets after them with `credits`; each morning makes
    yesterday's briefing (~790 characters) as the morning run does."""
    start = dt.date(2024, 6, 1)
    reset = start + dt.timedelta(days=days)
    unix = int(dt.datetime.combine(reset, dt.time(), dt.UTC).timestamp())
    with fake_elevenlabs(character_count=0, character_limit=credits, reset_unix=unix) as fake:
        path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home", voice={
            "engine": "elevenlabs", "target_seconds": target, "spread_credits": spread,
            "elevenlabs": {"api_key": API_KEY, "base_url": fake.base_url}})
        cfg = load_config(path)
        made = []
        for i in range(days):
            today = start + dt.timedelta(days=i)
            store_day(cfg, today - dt.timedelta(days=1))
            made.append(briefing.produce(handles.voice_handles(cfg), today - dt.timedelta(days=1),
                                         today=today))
        return made, fake.character_count


def test_a_month_spread_evenly_never_falls_back(tmp_path, tier_dsns):
    made, spent = month(tmp_path, tier_dsns, spread=True)
    assert [b.engine for b in made] == ["elevenlabs"] * len(made)
    assert spent <= 5_000
    assert made[0].plan.level in ("economy", "shorter") and made[0].plan.reset == \
        dt.date(2024, 6, 11)
    assert 700 < len(script.build(made[0].day, SUMMARY, PROJECTION).text)  # the full script
    cfg = load_config(tmp_path / "persys.yaml")
    with resolve_tier(cfg, "core").connect() as core:
        voices = {v for (v,) in core.execute("select voice from persys.voice_messages")}
    assert voices <= {"JBFqnCBsd6RMkjVDRZzb/eleven_flash_v2_5",
                      "JBFqnCBsd6RMkjVDRZzb/eleven_multilingual_v2"}
    levels = [b.plan.level for b in made]
    # economy from the first morning; the surplus it leaves buys the full model at the end
    assert levels[0] == "economy" and "local" not in levels and spent > 4_000, (levels, spent)


def test_without_spreading_the_local_voice_takes_over_mid_month(tmp_path, tier_dsns):
    made, spent = month(tmp_path, tier_dsns, spread=False, credits=2_800, target=40)
    engines = [b.engine for b in made]
    first_local = engines.index("local")  # paid until a day's script no longer fits
    assert first_local == 2_800 // len(made[0].script.text) and first_local < len(made) - 1
    assert set(engines[first_local:]) == {"local"}
    assert "built-in voice" in made[-1].script.text and spent <= 2_800


@pytest.mark.parametrize(("used", "level"), [(5_000, "economy"), (7_000, "shorter")])
def test_rerun_of_a_planned_day_reuses_its_audio(tmp_path, tier_dsns, used, level):
    day, today = dt.date(2024, 6, 4), dt.date(2024, 6, 5)
    unix = int(dt.datetime(2024, 6, 15, tzinfo=dt.UTC).timestamp())  # 10 briefings left
    with fake_elevenlabs(character_count=used, reset_unix=unix) as fake:
        path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home", voice={
            "engine": "elevenlabs", "elevenlabs": {"api_key": API_KEY,
                                                   "base_url": fake.base_url}})
        cfg = load_config(path)
        store_day(cfg, day)
        first = briefing.produce(handles.voice_handles(cfg), day, today=today)
        again = briefing.produce(handles.voice_handles(cfg), day, today=today)
    assert first.plan.level == level and first.plan.briefings_left == 10
    assert len(fake.tts_requests) == 1 and again.reused
    assert again.script.text == first.script.text
    assert fake.tts_requests[0]["json"]["model_id"] == "eleven_flash_v2_5"
