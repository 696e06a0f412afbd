"""Summaries from the person's own tables (Supabase-shaped, unlike the sample schema) through
`daily.sources`, some days' rows in core and some in main; every number computed by hand.

D1 = Mon 10 June 2024, D2 = Tue 11 June 2024 (London is on BST, UTC+1).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from persys_pipelines import handles
from persys_pipelines.handles import setup_tiers
from persys_pipelines.lib.config import load_config, parse_config
from persys_pipelines.lib.config.sources import Source
from persys_pipelines.lib.daily import summary
from persys_pipelines.lib.daily.sources import check_sources
from persys_pipelines.lib.errors import ConfigError
from persys_pipelines.lib.pg.tiers import connect
from persys_pipelines.lib.voice import script
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.supabase_fixture import USERS, add_personal_tables, create_supabase_core

LONDON = ZoneInfo("Europe/London")
D1, D2 = dt.date(2024, 6, 10), dt.date(2024, 6, 11)
A = USERS[0]

SOURCES = {
    "sleep_hours": {"table": "sleep_log", "day_column": "night", "value": "hours"},
    "steps": {"table": "vitals", "day_column": "recorded_at", "value": "reading",
              "where": {"kind": "steps"}},
    "resting_heart_rate": {"table": "vitals", "day_column": "recorded_at", "value": "reading",
                           "agg": "min", "where": {"kind": "heart_rate"}},
    "heart_rate": None,
    "weight_kg": {"table": "vitals", "day_column": "recorded_at", "value": "reading",
                  "agg": "last", "where": {"kind": "weight"}},
    "tasks_done": {"table": "todos", "day_column": "done_at", "agg": "count",
                   "where": {"is_done": True}},
    "tasks_created": {"table": "todos", "day_column": "created_at", "agg": "count"},
    "spend": {"table": "payments", "day_column": "paid_on", "value": "amount_cents / 100.0",
              "by": "category"},
    "income": None,
    "mood": {"table": "journal", "day_column": "written_at", "value": "mood_score",
             "agg": "mean"},
    "journal_words": {"table": "journal", "day_column": "written_at", "value": "words"},
    "shadow_entries": None, "shadow_intensity": None, "shadow_emotions": None,
    "shadow_tags": None,
}


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), LONDON)


def load_rows(core: str, main: str) -> None:
    with connect(core) as conn:
        cur = conn.cursor()
        cur.executemany("insert into vitals (user_id, recorded_at, kind, reading) "
                        "values (%s, %s, %s, %s)", [
                            (A, at(D2, 9), "steps", 3000), (A, at(D2, 18), "steps", 2500),
                            (A, at(D2, 7), "heart_rate", 61), (A, at(D2, 8), "heart_rate", 57),
                            (A, at(D2, 7), "weight", 72.4), (A, at(D2, 21), "weight", 72.1)])
        cur.execute("insert into sleep_log (user_id, night, hours) values (%s, %s, 7.25)",
                    (A, D2))
        cur.executemany("insert into todos (user_id, title, is_done, created_at, done_at) "
                        "values (%s, %s, %s, %s, %s)", [
                            (A, "T1", True, at(D1, 9), at(D2, 10)),
                            (A, "T2", False, at(D1, 10), None),
                            (A, "T3", True, at(D2, 11), at(D2, 12))])
        cur.executemany("insert into payments (user_id, paid_on, amount_cents, category) "
                        "values (%s, %s, %s, %s)",
                        [(A, D2, 125000, "rent"), (A, D2, 350, "coffee")])
        cur.executemany("insert into journal (user_id, written_at, content, mood_score) "
                        "values (%s, %s, %s, %s)",
                        [(A, at(D2, 8, 30), "one two three", 6),
                         (A, at(D2, 22, 30), "four five", 8)])
    with connect(main) as conn:  # days that already moved (ids as core gave them)
        cur = conn.cursor()
        cur.executemany("insert into vitals values (%s, %s, %s, %s, %s)", [
            (1001, A, at(D1, 12), "steps", 4000), (1002, A, at(D1, 7), "weight", 73.0),
            # 23:30 UTC on 10 June is 00:30 BST on 11 June: a D2 row
            (1003, A, dt.datetime(2024, 6, 10, 23, 30, tzinfo=dt.UTC), "steps", 1000)])
        cur.execute("insert into sleep_log (id, user_id, night, hours) values (1001, %s, %s, 6.5)",
                    (A, D1))
        cur.execute("insert into todos values (1001, %s, 'T5', true, %s, %s)",
                    (A, at(D1, 8), at(D1, 20)))
        cur.execute("insert into payments values (1001, %s, %s, 2050, 'groceries')", (A, D1))
        cur.execute("insert into journal (id, user_id, written_at, content, mood_score, words) "
                    "values (1001, %s, %s, 'alpha beta', 4, 2)", (A, at(D1, 9)))


def own_config(tmp_path: Path, tier_dsns, sources: dict):
    path = write_config(
        tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
        tables={"vitals": {"day_column": "recorded_at", "core_days": 7, "main_days": 365}},
        daily={"monthly_budget": 1000, "sources": sources})
    return path, load_config(path)


@pytest.fixture
def own(tmp_path: Path, tier_dsns, monkeypatch):
    """The Supabase-shaped core with the person's tables, rows in core and main."""
    create_supabase_core(tier_dsns["core"], days=0)
    add_personal_tables(tier_dsns["core"], tier_dsns["main"])
    load_rows(tier_dsns["core"], tier_dsns["main"])
    path, cfg = own_config(tmp_path, tier_dsns, SOURCES)
    monkeypatch.setenv("PERSYS_CONFIG", str(path))
    setup_tiers(cfg)
    return cfg


def test_own_tables_give_the_hand_computed_summary(own):
    d1, d2 = summary.compute(handles.daily_handles(own), D1, D2)
    assert d1.health == {"measurements": 3, "sleep_hours": 6.5, "steps": 4000,
                         "resting_heart_rate": None, "heart_rate_mean": None, "weight_kg": 73.0}
    assert d2.health == {"measurements": 8, "sleep_hours": 7.25, "steps": 6500,
                         "resting_heart_rate": 57.0, "heart_rate_mean": None, "weight_kg": 72.1}
    assert (d1.productivity["tasks_done"], d1.productivity["tasks_created"]) == (1, 3)
    assert (d2.productivity["tasks_done"], d2.productivity["tasks_created"]) == (2, 1)
    assert d2.productivity["overdue"] is None  # no due dates in todos
    assert d1.finance["spend"] == 20.5 and d1.finance["month_to_date_spend"] == 20.5
    assert d2.finance["spend"] == 1253.5 and d2.finance["transactions"] == 2
    assert d2.finance["spend_by_category"] == {"coffee": 3.5, "rent": 1250.0}
    assert d2.finance["month_to_date_spend"] == 1274.0
    assert d2.finance["budget_used_pct"] == 127.4 and d2.finance["income"] is None
    assert d2.finance["net"] is None  # income not tracked: no net figure (not -1253.5)
    assert d1.mood == {"entries": 1, "mood_mean": 4.0, "journal_words": 2}
    assert d2.mood == {"entries": 2, "mood_mean": 7.0, "journal_words": 5}
    assert d2.shadow_work == {}
    assert d2.summary_text == (
        "Tue 11 Jun 2024: Health: slept 7.2 h, 6,500 steps, resting heart rate 57, weight "
        "72.1 kg. Tasks: 2 done, 1 new. Money: spent £1,253.50 (rent £1,250.00, coffee £3.50). "
        "Month to date £1,274.00 of £1,000.00 (127%). Journal: mood 7.0/10, 2 entries, 5 words. "
        "Still learning your usual for every metric (1 of 14 days so far).")
    summary.store(handles.daily_handles(own), D1, D2, [d1, d2])
    assert summary.verify(handles.daily_handles(own), D1, D2) == []


def test_a_metric_without_a_source_leaves_the_text_and_the_briefing(own, tmp_path, tier_dsns):
    _, cfg = own_config(tmp_path, tier_dsns, {**SOURCES, "mood": None, "journal_words": None,
                                               "sleep_hours": None})
    (d2,) = summary.compute(handles.daily_handles(cfg), D2, D2)
    assert d2.mood == {} and d2.health["sleep_hours"] is None
    assert "Journal" not in d2.summary_text and "slept" not in d2.summary_text
    assert "6,500 steps" in d2.summary_text
    said = " ".join(t for _, t in script.sentences(D2, {
        "health": d2.health, "productivity": d2.productivity, "finance": d2.finance,
        "mood": d2.mood, "shadow_work": d2.shadow_work}, None, "GBP"))
    assert "mood" not in said and "slept" not in said and "6,500 steps" in said
    (with_mood,) = summary.compute(handles.daily_handles(own), D2, D2)
    assert "mood" in " ".join(t for _, t in script.sentences(D2, {"mood": with_mood.mood},
                                                                None, "GBP"))


def test_bad_sources_are_config_errors_naming_the_key():
    with pytest.raises(ConfigError) as err:
        parse_config("""
daily:
  sources:
    steps: {table: vitals, day_column: recorded_at, value: reading, agg: median}
    spend: {table: payments, day_column: paid_on, value: "amount; drop table payments"}
    mood: {table: journal, day_column: written_at, value: "(select max(x) from t)"}
    weight_kg: {table: "vitals x", day_column: recorded_at}
    income: {table: payments, day_column: paid_on, value: "amount -- note"}
    moods: {table: journal, day_column: written_at}
""")
    text = str(err.value)
    assert ("daily.sources.steps.agg ('median'): input should be 'sum', 'mean', 'min', 'max', "
            "'count' or 'last'") in text
    assert "daily.sources.spend.value" in text and "`;`" in text
    assert "daily.sources.mood.value" in text and "no subqueries" in text
    assert "daily.sources.weight_kg.table ('vitals x')" in text
    assert "daily.sources.income.value" in text
    with pytest.raises(ConfigError) as err:
        parse_config("daily: {sources: {moods: {table: journal, day_column: written_at}}}")
    assert "daily.sources.moods: unknown metric; known metrics: sleep_hours" in str(err.value)


def test_check_sources_lets_postgres_parse_each_source(own, tier_dsns):
    good = own.daily.metric_sources()
    bad = {
        "mood": Source(table="journal", day_column="written_at", value="mood_scor + 1"),
        "steps": Source(table="vitals", day_column="recorded_at", value="reading",
                        where={"knd": "steps"}),
        "spend": Source(table="payment", day_column="paid_on", value="amount_cents"),
        "weight_kg": Source(table="vitals", day_column="recorded_at", value="reading",
                            where={"reading": "heavy"}),  # numeric = 'heavy'
    }
    with connect(tier_dsns["core"]) as conn:
        assert check_sources(conn, good) == []
        problems = check_sources(conn, bad)
        assert conn.execute("select count(*) from vitals").fetchone()[0] == 6  # read only
    assert len(problems) == 4
    assert problems[0].startswith("daily.sources.mood.value ('mood_scor + 1'): PostgreSQL "
                                  "cannot run it on journal: column \"mood_scor\" does not exist")
    assert problems[1].startswith("daily.sources.steps.where: table vitals has no column 'knd'")
    assert problems[2].startswith("daily.sources.spend.table: no table 'payment'")
    assert "daily.sources.weight_kg.value" in problems[3] and "heavy" in problems[3]


def test_check_sources_refuses_a_sum_or_mean_of_text(own, tier_dsns):
    """A sum of a text column planned fine and then showed 0.0 in the summary; now doctor
    names the key. A domain over a number, a boolean or a min of text stay fine."""
    bad = {"mood": Source(table="journal", day_column="written_at", value="content",
                          agg="mean"),
           "spend": Source(table="journal", day_column="written_at", value="content || 'x'")}
    fine = {"mood": Source(table="journal", day_column="written_at", value="mood_score",
                           agg="mean"),
            "spend": Source(table="journal", day_column="written_at", value="content",
                            agg="max")}
    with connect(tier_dsns["core"]) as conn:
        problems = check_sources(conn, bad)
        assert check_sources(conn, fine) == []
    assert problems == [
        "daily.sources.mood.agg ('mean'): the value 'content' is text, and a mean needs "
        "numbers; use a numeric column or expression, or agg: count, min, max or last",
        "daily.sources.spend.agg ('sum'): the value \"content || 'x'\" is text, and a sum "
        "needs numbers; use a numeric column or expression, or agg: count, min, max or last"]


def test_check_sources_refuses_a_day_column_that_is_not_a_day(own, tier_dsns):
    # the summary's reader refuses it mid-run, under the tables.<table> key; doctor says it first
    bad = {"mood": Source(table="journal", day_column="content", value="mood_score")}
    with connect(tier_dsns["core"]) as conn:
        problems = check_sources(conn, bad)
    assert problems == ["daily.sources.mood.day_column: column journal.content is text; it "
                        "must be a date or timestamptz column"]


def test_a_bad_source_fails_the_summary_naming_its_key(own, tmp_path, tier_dsns):
    from persys_pipelines.lib.daily.sections import SourceError

    _, cfg = own_config(tmp_path, tier_dsns, {**SOURCES, "spend": {
        "table": "payments", "day_column": "paid_on", "value": "amount_cents / 'x'"}})
    with pytest.raises(SourceError) as err:
        summary.compute(handles.daily_handles(cfg), D1, D2)
    assert str(err.value).startswith("daily.sources.spend (payments.amount_cents / 'x'): ")
    assert "set the metric to null" in str(err.value)
