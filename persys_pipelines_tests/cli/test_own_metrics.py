"""A person with six metrics of their own and none of the sample tables: `doctor`, `daily run`,
`voice preview` and `today` work from a persys.yaml without a single `null`; their tables are
shared with a partner (user_id → auth.users), and only their rows count. The source
expressions run read-only with a statement timeout: a value that writes or hangs is refused by
doctor and by the run, and nothing is changed."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from persys_pipelines import handles
from persys_pipelines.cli import main
from persys_pipelines.lib.pg.tiers import connect
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.supabase_fixture import USERS, add_personal_tables, create_supabase_core

A, B = USERS
DAYS = 40


def metrics() -> dict:
    vitals = {"table": "vitals", "day_column": "recorded_at", "value": "reading"}
    return {
        "mood": {"label": "mood", "unit": "/10", "better": "higher",
                 "source": {"table": "journal", "day_column": "written_at",
                            "value": "mood_score", "agg": "mean"}},
        "sleep": {"label": "sleep", "unit": "h", "better": "higher", "goal": {"min": 7},
                  "source": {"table": "sleep_log", "day_column": "night", "value": "hours",
                             "agg": "mean"}},
        "meditation": {"unit": "min", "better": "higher", "goal": 10,
                       "source": {**vitals, "where": {"kind": "meditation"}}},
        "glucose": {"unit": "mmol/L", "better": "lower", "goal": {"max": 6},
                    "source": {**vitals, "agg": "mean", "where": {"kind": "glucose"}}},
        "pages_read": {"label": "pages read", "unit": "pages", "better": "higher",
                       "source": {**vitals, "where": {"kind": "pages"}}},
        "coffee": {"label": "coffee", "unit": "EUR", "better": "lower", "no_rows": "zero",
                   "source": {"table": "payments", "day_column": "paid_on",
                              "value": "amount_cents / 100.0"}},
    }


def add_rows(core: str, yesterday: dt.date) -> None:
    """Their vitals and payments each day, and the partner's on the same tables."""
    tz = ZoneInfo("Europe/London")
    with connect(core) as conn, conn.cursor() as cur:
        for n in range(DAYS):
            day = yesterday - dt.timedelta(days=DAYS - 1 - n)
            at = dt.datetime.combine(day, dt.time(9), tz)
            for user, scale in ((A, 1), (B, 3)):
                cur.executemany("insert into vitals (user_id, recorded_at, kind, reading) "
                                "values (%s, %s, %s, %s)",
                                [(user, at, "meditation", scale * (10 + n % 5)),
                                 (user, at, "glucose", 5 + (n % 3) * 0.1 * scale),
                                 (user, at, "pages", scale * 20)])
                cur.execute("insert into payments (user_id, paid_on, amount_cents) "
                            "values (%s, %s, %s)", (user, day, scale * 350))


@pytest.fixture
def person(tmp_path: Path, tier_dsns, monkeypatch):
    yesterday = dt.datetime.now(ZoneInfo("Europe/London")).date() - dt.timedelta(days=1)
    create_supabase_core(tier_dsns["core"], days=DAYS, as_of=yesterday)
    add_personal_tables(tier_dsns["core"])
    add_rows(tier_dsns["core"], yesterday)

    def config(daily: dict) -> Path:
        path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
                            tables={"journal": {"day_column": "written_at", "core_days": 30,
                                                "main_days": 3650}},
                            daily=daily, voice={"engine": "local"})
        monkeypatch.setenv("PERSYS_CONFIG", str(path))
        return path

    return yesterday, config


def test_six_metrics_of_their_own_without_a_null(person, tier_dsns, capsys):
    yesterday, config = person
    path = config({"currency": "EUR", "monthly_budget": 100,
                   "person": {"column": "user_id", "value": str(A)}, "metrics": metrics()})
    assert "null" not in path.read_text()

    assert main(["setup"]) == 0
    capsys.readouterr()
    assert main(["doctor"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "FAIL" not in out and "shared" not in out
    assert "6 metrics run on core" in out and "daily.person filters" in out

    assert main(["daily", "run", "--days", "3"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    with connect(tier_dsns["core"]) as conn:
        day, metrics_, text = conn.execute(
            "select day, metrics, summary_text from persys.daily_summaries order by day desc "
            "limit 1").fetchone()
        assert conn.execute("select count(*) from information_schema.tables where table_name "
                            "in ('journal_entries', 'health_metrics', 'tasks', "
                            "'transactions', 'shadow_work')").fetchone()[0] == 0
    n = DAYS - 1  # yesterday's row index in the fixture
    assert day == yesterday
    assert set(metrics_) == set(metrics())
    # only A's rows: A's two journal entries share (n*3) % 10; B's add 1 (mean would be +0.5)
    assert metrics_["mood"]["value"] == (n * 3) % 10
    assert metrics_["meditation"]["value"] == 10 + n % 5  # B's are three times as long
    assert metrics_["coffee"]["value"] == 3.5 and metrics_["coffee"]["unit"] == "EUR"
    assert metrics_["pages_read"]["value"] == 20
    assert metrics_["sleep"]["goal"]["met"] is (6 + (n % 4) * 0.75 >= 7)
    assert not metrics_["glucose"]["calibrating"]  # 39 days before it
    assert "meditation" in text and "€3.50" in text and "null" not in text.lower()

    assert main(["voice", "preview", "--date", yesterday.isoformat()]) == 0, \
        capsys.readouterr().err
    said = capsys.readouterr().out
    assert "meditation" in said and "Nothing was recorded" not in said

    assert main(["today", "--date", yesterday.isoformat()]) == 0, capsys.readouterr().err
    page = Path(capsys.readouterr().out.strip().splitlines()[-1])
    html = page.read_text()
    for part in ("<audio", "data:image/png;base64", "meditation", "pages read", "Tiers"):
        assert part in html


def test_a_shared_table_without_a_filter_is_warned(person, capsys):
    _, config = person
    config({"metrics": metrics()})
    assert main(["setup"]) == 0
    capsys.readouterr()
    assert main(["doctor"]) == 0  # a warning, not a failure
    out = capsys.readouterr().out
    assert "WARN  daily.metrics.mood.source" in out and "table journal is shared" in out
    assert "daily.person: {column: user_id" in out


@pytest.mark.parametrize("value, said", [
    ("mood_score + setval(pg_get_serial_sequence('journal', 'id'), 1)", "tries to write"),
    ("mood_score + length(pg_sleep(5)::text)", "longer than the statement timeout of 1 s"),
])
def test_a_source_that_writes_or_hangs_is_refused_and_changes_nothing(person, tier_dsns,
                                                                      capsys, value, said):
    _, config = person
    hostile = {**metrics(), "mood": {"source": {"table": "journal", "day_column": "written_at",
                                                "value": value, "agg": "mean"}}}
    config({"person": {"column": "user_id", "value": str(A)}, "metrics": hostile,
            "statement_timeout_s": 1})
    with connect(tier_dsns["core"]) as conn:
        sequence = conn.execute("select last_value from journal_id_seq").fetchone()[0]
    assert main(["setup"]) == 0
    capsys.readouterr()
    started = time.monotonic()
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  daily.metrics.mood.source.value" in out and said in out, out
    assert main(["daily", "run", "--days", "1"]) != 0
    err = capsys.readouterr().err
    assert "daily.metrics.mood.source.value" in err and said in err
    assert time.monotonic() - started < 30  # each refusal within a second or two
    with connect(tier_dsns["core"]) as conn:
        assert conn.execute("select last_value from journal_id_seq").fetchone()[0] == sequence


def test_the_summary_itself_refuses_a_hostile_value(person, tier_dsns):
    """Past doctor (a config changed after it ran): the read is read-only and bounded too."""
    from persys_pipelines.lib.config import load_config
    from persys_pipelines.lib.daily import summary
    from persys_pipelines.lib.daily.sections import SourceError

    yesterday, config = person
    hostile = {**metrics(), "mood": {"source": {
        "table": "journal", "day_column": "written_at", "agg": "mean",
        "value": "mood_score + setval(pg_get_serial_sequence('journal', 'id'), 1)"}}}
    cfg = load_config(config({"metrics": hostile, "statement_timeout_s": 1}))
    with pytest.raises(SourceError) as err:
        summary.compute(handles.daily_handles(cfg), yesterday, yesterday)
    assert str(err.value).startswith("daily.metrics.mood.source (journal.mood_score + setval")
    assert "tries to write" in str(err.value)
    with psycopg.connect(tier_dsns["core"]) as conn:
        assert conn.execute("select last_value from journal_id_seq").fetchone()[0] > 1
