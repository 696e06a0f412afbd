"""Daily summaries on a tiny hand-made fixture: every number below is computed by hand.

The three days 2024-03-30 .. 2024-04-01 straddle London's switch to summer time (31 March,
01:00 UTC) and a month end; some rows live in main, the rest in core.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from persys_pipelines import handles
from persys_pipelines.handles import setup_tiers
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.daily import summary
from persys_pipelines.lib.pg.tiers import connect
from persys_pipelines_tests.conftest import write_config

LONDON = ZoneInfo("Europe/London")
UTC = dt.UTC
D1, D2, D3 = dt.date(2024, 3, 30), dt.date(2024, 3, 31), dt.date(2024, 4, 1)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), LONDON)


def fixture_rows() -> dict[str, dict[str, list[tuple]]]:
    """tier → table → rows (columns as in `insert`)."""
    core = {
        "health_metrics": [
            (at(D2, 8), "sleep_hours", 6.0),
            (at(D2, 7, 30), "resting_heart_rate", 60.0),
            (at(D2, 7, 40), "resting_heart_rate", 58.0),
            (at(D2, 7), "weight_kg", 80.0),
            (at(D2, 21), "weight_kg", 79.6),
            (at(D2, 12), "steps", 4000.0),
            (at(D2, 18), "steps", 2500.0),
            # 23:30 UTC on 31 March is 00:30 BST on 1 April: a D3 row
            (dt.datetime(2024, 3, 31, 23, 30, tzinfo=UTC), "steps", 500.0),
            (at(D3, 7), "weight_kg", 79.0),
        ],
        "tasks": [  # title, status, created_at, due_date, completed_at
            ("T1", "done", at(D1, 9), D1, at(D2, 10)),  # 24 h, done on D2
            ("T2", "open", at(D1, 10), D2, None),
            ("T3", "done", at(D2, 12), None, at(D2, 13)),  # 1 h
            ("T4", "open", at(dt.date(2024, 3, 28), 9), dt.date(2024, 3, 29), None),
            ("T5", "done", at(dt.date(2024, 3, 20), 9), dt.date(2024, 3, 21),
             at(dt.date(2024, 3, 25), 9)),
            # created 00:10 BST on 1 April (23:10 UTC on 31 March), done after the range
            ("T6", "done", dt.datetime(2024, 3, 31, 23, 10, tzinfo=UTC), D3,
             at(dt.date(2024, 4, 2), 8)),
        ],
        "transactions": [  # occurred_on, amount, currency, category
            (D2, "-12.00", "GBP", "transport"),
            (D2, "-7.50", "GBP", "groceries"),
            (D2, "-10.00", "EUR", "shopping"),
            (D3, "-1250.00", "GBP", "rent"),
        ],
        "journal_entries": [(D2, None, "just one entry here")],
        "shadow_work": [
            (D2, "anger", 4, ["work"]),
            (D2, "shame", 7, ["work", "family"]),
        ],
    }
    main = {
        "health_metrics": [
            (at(D1, 7), "sleep_hours", 7.5),
            (dt.datetime(2024, 3, 30, 23, 30, tzinfo=UTC), "steps", 1000.0),  # 23:30 GMT: D1
        ],
        "transactions": [
            (dt.date(2024, 3, 2), "-300.00", "GBP", "shopping"),
            (D1, "-20.50", "GBP", "groceries"),
            (D1, "-4.25", "GBP", "eating_out"),
            (D1, "100.00", "GBP", "income"),
        ],
        "journal_entries": [(D1, 6, "one two three"), (D1, 8, "four five")],
    }
    return {"core": core, "main": main}


COLUMNS = {
    "health_metrics": "measured_at, metric, value, unit",
    "tasks": "title, status, created_at, due_date, completed_at",
    "transactions": "occurred_on, amount, currency, category",
    "journal_entries": "entry_date, mood, body",
    "shadow_work": "entry_date, emotion, intensity, tags",
}


def insert(dsn: str, table: str, rows: list[tuple]) -> None:
    cols = COLUMNS[table]
    extra = ", 'u'" if table == "health_metrics" else ""
    marks = ", ".join(["%s"] * len(rows[0]))
    with connect(dsn) as conn:
        conn.cursor().executemany(
            f"insert into {table} (id, {cols}) values (%s, {marks}{extra})",
            [(uuid.uuid4(), *r) for r in rows],
        )


@pytest.fixture
def daily_cfg(tmp_path: Path, tier_dsns, monkeypatch):
    """Fresh tiers with the schema, a config with a 1,000 GBP monthly budget."""
    path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
                        daily={"monthly_budget": 1000, "projection_window_days": 7})
    monkeypatch.setenv("PERSYS_CONFIG", str(path))
    cfg = load_config(path)
    setup_tiers(cfg)
    return cfg


def load_fixture(tier_dsns: dict[str, str]) -> None:
    for tier, tables in fixture_rows().items():
        for table, rows in tables.items():
            insert(tier_dsns[tier], table, rows)


def test_three_days_match_the_hand_computation(daily_cfg, tier_dsns):
    load_fixture(tier_dsns)
    d1, d2, d3 = summary.compute(handles.daily_handles(daily_cfg), D1, D3)

    assert d1.health == {"measurements": 2, "sleep_hours": 7.5, "steps": 1000,
                         "resting_heart_rate": None, "heart_rate_mean": None, "weight_kg": None}
    assert d2.health == {"measurements": 7, "sleep_hours": 6.0, "steps": 6500,
                         "resting_heart_rate": 59.0, "heart_rate_mean": None, "weight_kg": 79.6}
    assert d3.health["steps"] == 500 and d3.health["weight_kg"] == 79.0

    # overdue = due on or before the day and open at its end (T4 is overdue throughout)
    assert d1.productivity == {"tasks_done": 0, "tasks_created": 2, "overdue": 2,
                               "completion_rate": 0.0, "hours_to_done_mean": None,
                               "negative_durations": 0}
    assert d2.productivity == {"tasks_done": 2, "tasks_created": 1, "overdue": 2,
                               "completion_rate": 0.5, "hours_to_done_mean": 12.5,
                               "negative_durations": 0}
    assert d3.productivity["tasks_created"] == 1 and d3.productivity["overdue"] == 3

    assert d1.finance["spend"] == 24.75 and d1.finance["income"] == 100.0
    assert d1.finance["net"] == 75.25 and d1.finance["transactions"] == 3
    assert d1.finance["spend_by_category"] == {"eating_out": 4.25, "groceries": 20.5}
    assert d1.finance["month_to_date_spend"] == 324.75  # 300 on 2 March + 24.75
    assert d1.finance["budget_used_pct"] == pytest.approx(32.5, abs=0.05)
    assert d2.finance["spend"] == 19.5 and d2.finance["transactions"] == 2
    assert d2.finance["other_currency_transactions"] == 1  # the EUR row is not added to GBP
    assert d2.finance["month_to_date_spend"] == 344.25
    assert d3.finance["month_to_date_spend"] == 1250.0  # a new month
    assert d3.finance["budget_used_pct"] == 125.0

    assert d1.mood == {"entries": 2, "mood_mean": 7.0, "journal_words": 5}
    assert d2.mood == {"entries": 1, "mood_mean": None, "journal_words": 4}
    assert d2.shadow_work == {"entries": 2, "intensity_mean": 5.5,
                              "emotions": {"anger": 1, "shame": 1},
                              "tags": {"family": 1, "work": 2}}
    assert d1.shadow_work == {}

    assert d2.summary_text.startswith("Sun 31 Mar 2024: Health: slept 6.0 h, 6,500 steps")
    assert "Tasks: 2 done, 1 new, 2 overdue." in d2.summary_text
    assert "Month to date £344.25 of £1,000.00 (34%)" in d2.summary_text


def test_a_day_without_data_says_so(daily_cfg, tier_dsns):
    load_fixture(tier_dsns)
    quiet_day = dt.date(2024, 3, 15)
    (quiet,) = summary.compute(handles.daily_handles(daily_cfg), quiet_day, quiet_day)
    assert quiet.summary_text == f"Fri 15 Mar 2024: {summary.NO_DATA}"
    assert quiet.health == {} and quiet.mood == {}
    assert quiet.productivity["tasks_done"] == 0 and quiet.finance["transactions"] == 0


def test_store_is_idempotent_and_keeps_each_day_in_one_tier(daily_cfg, tier_dsns):
    """A recomputed day replaces the day where it lives: D1 moved to main already, so its new
    summary goes to main (never a second copy in core); D2 and D3 are in core."""
    load_fixture(tier_dsns)
    with connect(tier_dsns["main"]) as conn:  # an older copy of D1 already moved to main
        conn.execute("insert into persys.daily_summaries (day, summary_text) "
                     "values (%s, 'old')", (D1,))
    for _ in range(2):
        hs = handles.daily_handles(daily_cfg)
        result = summary.store(hs, D1, D3, summary.compute(hs, D1, D3))
    assert result == {"written": 3, "replaced_core": 2, "removed_main": 1, "restored": 0}
    with connect(tier_dsns["core"]) as conn:
        days = [r[0] for r in conn.execute("select day from persys.daily_summaries order by day")]
    with connect(tier_dsns["main"]) as conn:
        in_main = conn.execute("select day, summary_text from persys.daily_summaries").fetchall()
    assert days == [D2, D3] and [d for d, _ in in_main] == [D1]
    assert in_main[0][1] != "old"
    assert summary.verify(handles.daily_handles(daily_cfg), D1, D3) == []


def test_verify_finds_rows_that_arrived_after_the_summary(daily_cfg, tier_dsns):
    load_fixture(tier_dsns)
    hs = handles.daily_handles(daily_cfg)
    summary.store(hs, D1, D3, summary.compute(hs, D1, D3))
    insert(tier_dsns["core"], "transactions", [(D2, "-5.00", "GBP", "groceries")])
    assert summary.verify(handles.daily_handles(daily_cfg), D1, D3) == [
        "2024-03-31: finance.transactions is 2, raw rows give 3",
        "2024-03-31: finance.net is -19.5, raw rows give -24.5",
    ]


def test_daily_config_defaults_and_errors():
    from persys_pipelines.lib.config import ConfigError, parse_config

    cfg = parse_config("timezone: Europe/London\n")
    assert (cfg.daily.morning_hour, cfg.daily.projection_window_days) == (6, 30)
    with pytest.raises(ConfigError) as err:
        parse_config("daily: {morning_hour: 10, freshness_hour: 8, category_budgets: {food: -5}}")
    assert "daily.freshness_hour (8) must be >= morning_hour (10)" in str(err.value)
    assert "daily.category_budgets.food (-5): must be > 0" in str(err.value)
