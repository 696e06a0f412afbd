"""The briefing's words: natural sentences, tolerant of missing keys, cut to the target."""

from __future__ import annotations

import datetime as dt

from persys_pipelines.lib.voice import script
from persys_pipelines_tests.voice_fakes import PROJECTION, SUMMARY

DAY = dt.date(2024, 6, 4)


def test_full_day_reads_naturally_and_lasts_about_a_minute():
    s = script.build(DAY, SUMMARY, PROJECTION)
    assert s.text.startswith("Good morning. Here is your briefing for Tuesday, 4 June.")
    assert "You slept 7.2 hours and walked 8,431 steps." in s.text
    assert "Your sleep was longer than your recent average of 6.8 hours." in s.text
    assert "2 tasks are overdue" in s.text
    assert "You spent 42 pounds 10, mostly on groceries and transport." in s.text
    assert "60 percent of your budget of 2,000 pounds" in s.text
    assert "month ends near 1,950 pounds, so the budget is at risk." in s.text
    assert "mood averaged 6.5 out of 10 across 2 journal entries" in s.text
    assert s.text.endswith("Have a good day.")
    assert 45 <= s.seconds <= 90 and s.left_out == 0
    assert "{" not in s.text and "None" not in s.text and "nan" not in s.text


def test_shorter_target_drops_details_keeps_greeting_headlines_and_closing():
    full = script.build(DAY, SUMMARY, PROJECTION)
    short = script.build(DAY, SUMMARY, PROJECTION, target_seconds=20)
    assert short.words < full.words and short.left_out > 0
    assert short.seconds <= 20 + 5  # only the always-kept sentences may exceed it
    assert short.text.startswith("Good morning.") and short.text.endswith("Have a good day.")
    assert "resting heart rate" not in short.text  # a detail
    assert "You slept 7.2 hours" in short.text  # a headline


def test_missing_and_odd_values_are_left_out_not_spoken():
    odd = {
        "health": {"sleep_hours": None, "steps": "lots", "weight_kg": float("nan")},
        "productivity": {},  # no keys at all
        "finance": {"spend": 12.5, "spend_by_category": None, "currency": "EUR"},
        "mood": {"entries": 1},
        # shadow_work missing entirely, summary_text missing
    }
    s = script.build(DAY, odd, None)
    assert "You spent 12 euros 50." in s.text
    assert "You wrote 1 journal entry." in s.text
    assert "slept" not in s.text and "steps" not in s.text and "kilos" not in s.text
    assert "None" not in s.text and "nan" not in s.text


def test_day_without_data_and_day_without_summary_say_so():
    assert "Nothing was recorded for this day." in script.build(DAY, {}, {}).text
    assert "No summary has been made for this day yet." in script.build(DAY, None, None).text


def test_note_is_the_second_sentence():
    s = script.build(DAY, SUMMARY, PROJECTION, note="Today you hear the built-in voice.")
    assert s.text.split(". ")[2].startswith("Today you hear the built-in voice")


def test_spoken_money():
    assert script.spoken_money(42.1, "GBP") == "42 pounds 10"
    assert script.spoken_money(0.5, "USD") == "50 cents"
    assert script.spoken_money(1234.56, "GBP") == "1,235 pounds"
    assert script.spoken_money(7.0, "CHF") == "7 CHF"


def test_the_lead_says_the_most_notable_things_once_each_naming_its_subject():
    from persys_pipelines.lib.insight.analyse import Spec

    day = dt.date(2024, 6, 4)
    specs = {"resting_heart_rate": Spec("resting heart rate", "bpm", "lower"),
             "steps": Spec("steps", "steps", "higher", goal_min=8000),
             "meditation": Spec("meditation", "min", "higher")}
    base = {"calibrating": False, "valid_days_60": 60}
    summary = {
        "health": {"resting_heart_rate": 52, "steps": 15279, "sleep_hours": 8.8},
        "finance": {"currency": "EUR", "spend": 0.0, "transactions": 0,
                    "other_currency_transactions": 1, "spend_other_currencies": {"GBP": 12.5}},
        "mood": {"mood_mean": 4.0, "entries": 1},
        "metrics": {
            "resting_heart_rate": {**base, "value": 52, "median_60": 57, "z": -3.4,
                                   "record": {"kind": "lowest", "days": 61}},
            "steps": {**base, "value": 15279, "median_60": 12075, "z": 1.2,
                      "goal": {"met": True, "streak": 26, "streak_before": 25}},
            "meditation": {"calibrating": True, "valid_days_60": 5, "value": 20},
        }}
    s = script.build(day, summary, None, currency="EUR", specs=specs, target_seconds=120)
    assert ("briefing for Tuesday, 4 June. Your resting heart rate was 52 beats per minute, "
            "below your usual 57 beats per minute, the lowest in 61 days.") in s.text
    assert "Your steps goal was met 26 days in a row." in s.text
    assert s.text.count("resting heart rate was 52") == 1  # not again in the health part
    assert "That is more" not in s.text and "You spent 12 pounds 50." in s.text
    assert "You spent nothing" not in s.text
    assert "Your mood was 4 out of 10 in your one journal entry." in s.text
    assert "Your meditation was 20 minutes." in s.text
    assert "still learning what is usual for meditation: 5 of 14 days" in s.text


def test_categories_and_plural_labels_are_said_as_words():
    """A category key is spoken as words ("eating_out" → "eating out"), and a plural label
    takes a plural verb ("Your journal words were …")."""
    from persys_pipelines.lib.insight.analyse import Spec
    from persys_pipelines.lib.voice.spoken import own_metrics

    summary = {**SUMMARY, "finance": {**SUMMARY["finance"],
                                      "spend_by_category": {"eating_out": 9.3}}}
    assert "mostly on eating out." in script.build(DAY, summary, PROJECTION).text
    specs = {"journal_words": Spec("journal words", "words"), "sleep": Spec("sleep", "hours")}
    said = own_metrics({"journal_words": {"value": 555}, "sleep": {"value": 7.2}}, specs, set())
    assert said[0].startswith("Your journal words were 555") and "Your sleep was 7.2" in said[1]


def test_deletions_are_said_on_the_mornings_before_grouped_by_the_day_they_go():
    on = dt.date(2031, 2, 5)
    soon = [("health_metrics", "2024-02-01", "2024-02-29", on),
            ("journal_entries", "2024-02-10", "2024-02-10", on),
            ("tasks", "2024-03-01", "2024-03-31", dt.date(2031, 3, 2))]
    (said,) = script.deletions_ahead(soon, on - dt.timedelta(days=1))
    assert said[1].startswith("Tomorrow, retention deletes your health metrics and journal "
                              "entries from 1 February 2024 to 29 February 2024;")
    assert [t for _, t in script.deletions_ahead(soon, on - dt.timedelta(days=3))][0].startswith(
        "In 3 days, retention deletes your health metrics and journal entries")
    assert script.deletions_ahead(soon, on - dt.timedelta(days=5)) == []
    text = script.build(dt.date(2031, 2, 3), {}, {}, deletions=script.deletions_ahead(
        soon, on - dt.timedelta(days=14))).text
    assert text.split(". ")[2].startswith("In 14 days, retention deletes")  # after the greeting
