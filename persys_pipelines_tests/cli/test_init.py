"""`persys init` on the Supabase-shaped fixture and on a project with no recognisable tables:
it only reads the database, writes a persys.yaml that loads, names the person's tables with a
policy and the forecast, guesses the metrics with the person filter, runs doctor (no FAIL) and
prints the next three commands; the summaries it configures are about one person only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
import yaml

from persys_pipelines.cli import main
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.pg.tiers import connect
from persys_pipelines_tests.supabase_fixture import USERS, add_personal_tables, create_supabase_core

DAYS = 40


def fingerprint(dsn: str) -> tuple:
    """What init must not change: the catalog's relations and every public table's rows."""
    with connect(dsn) as conn:
        relations = conn.execute("select count(*), max(oid::int8) from pg_class").fetchone()
        tables = [r[0] for r in conn.execute(
            "select tablename from pg_tables where schemaname = 'public' order by 1")]
        rows = {t: conn.execute(f'select md5(string_agg(x::text, \'|\' order by x::text)) '
                                f'from "{t}" x').fetchone()[0] for t in tables}
    return relations, rows


@pytest.fixture
def person_env(tier_dsns, tmp_path, monkeypatch):
    """SUPABASE_DB_URL (core) and MAIN_DATABASE_URL (main) exported, as a person would."""
    monkeypatch.setenv("SUPABASE_DB_URL", tier_dsns["core"])
    monkeypatch.setenv("MAIN_DATABASE_URL", tier_dsns["main"])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def init(tmp_path: Path, *extra: str) -> int:
    return main(["init", "--timezone", "Europe/London",
                 "--archive", f"file://{tmp_path / 'nas' / 'persys'}", *extra])


def test_init_on_the_supabase_shaped_project(person_env, tier_dsns, capsys):
    yesterday = dt.datetime.now(ZoneInfo("Europe/London")).date() - dt.timedelta(days=1)
    create_supabase_core(tier_dsns["core"], days=DAYS, as_of=yesterday)
    add_personal_tables(tier_dsns["core"])
    with connect(tier_dsns["core"], autocommit=True) as conn:
        conn.execute("create table profiles (id uuid primary key references auth.users(id), "
                     "display_name text)")  # a table without a day
        for user in USERS:  # rows in todos and payments; vitals stays empty
            conn.execute("insert into todos (user_id, title, is_done, done_at) values "
                         "(%s, 'x', true, now()), (%s, 'y', false, null)", (user, user))
            conn.execute("insert into payments (user_id, paid_on, amount_cents, category) "
                         "values (%s, current_date, 450, 'coffee')", (user,))
    before = fingerprint(tier_dsns["core"])

    assert init(person_env) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert fingerprint(tier_dsns["core"]) == before, "init changed the database"

    text = (person_env / "persys.yaml").read_text()
    assert tier_dsns["core"] not in text and "password" not in text.lower()
    assert "dsn: env:SUPABASE_DB_URL" in text and "dsn: env:MAIN_DATABASE_URL" in text
    assert "# Forecast with these policies" in text and "warning line" in text
    doc = yaml.safe_load(text)
    tables = doc["tables"]
    assert tables["journal"]["day_column"] == "written_at"
    assert tables["sleep_log"]["day_column"] == "night"
    assert tables["todos"] == {"day_column": "done_at", "only_when": {"is_done": True},
                               "core_days": 30, "main_days": 365, "delete_days": None}
    for own in ("daily_summaries", "daily_projections", "voice_messages"):
        assert tables[own]["day_column"] == "day", own  # persys's own tables too
    assert "profiles" not in tables and "# not managed: profiles (no date" in text

    metrics = doc["daily"]["metrics"]
    sources = {name: m["source"] for name, m in metrics.items()}
    assert metrics["sleep_hours"]["label"] == "sleep" and metrics["sleep_hours"]["unit"] == "h"
    assert metrics["spend"]["better"] == "lower"
    person = {"user_id": str(USERS[0])}  # two users; the first owns as many rows, sorts first
    assert sources["sleep_hours"] == {"table": "sleep_log", "day_column": "night",
                                      "value": "hours", "agg": "sum", "where": person}
    assert sources["mood"] == {"table": "journal", "day_column": "written_at",
                               "value": "mood_score", "agg": "mean", "where": person}
    assert sources["journal_words"]["value"] == "words"
    assert sources["spend"]["value"] == "amount_cents / 100.0" and sources["spend"]["by"] == \
        "category"
    assert sources["tasks_done"]["where"] == {"is_done": True, **person}
    assert "income" not in metrics and "steps" not in metrics
    # vitals has no rows: nothing from it is switched on (a summary would say "0 steps")
    with connect(tier_dsns["core"], autocommit=True) as conn:
        assert conn.execute("select count(*) from vitals").fetchone()[0] == 0
    assert f"also there: {USERS[1]}" in text
    assert "who owns the most rows (as many as another: check it is you)" in text  # a tie

    cfg = load_config(person_env / "persys.yaml")
    assert cfg.home == person_env / ".persys" and cfg.timezone == "Europe/London"
    assert "FAIL" not in out and "0 failed" in out  # doctor ran on it
    assert ("WARN  core: persys's own tables  (daily_summaries, daily_projections, "
            "voice_messages, weekly_correlations not created yet: `persys up`") in out
    # (one line, not three)
    nexts = out.split("Next:\n", 1)[1].splitlines()
    assert [n.split("#")[0].split(". ", 1)[1].strip() for n in nexts[:3]] == [
        "persys doctor", "persys lifecycle run --dry-run", "persys up"]

    # what it configured works: yesterday's summary is the first person's alone
    assert main(["setup"]) == 0
    assert main(["daily", "run", "--days", "1"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    with connect(tier_dsns["core"]) as conn:
        mood, sleep = conn.execute("select mood->>'mood_mean', health->>'sleep_hours' from "
                                   "persys.daily_summaries where day = %s", (yesterday,)).fetchone()
    n = DAYS - 1  # supabase_fixture.add_rows: mood_score (n·3 + u) % 10, user u = 0
    assert float(mood) == (n * 3) % 10
    assert float(sleep) == 6 + (n % 4) * 0.75  # one night, not both people's


def test_init_on_a_project_with_no_recognisable_tables(person_env, tier_dsns, capsys):
    with connect(tier_dsns["core"], autocommit=True) as conn:
        conn.execute("""
            create table widgets (id int primary key, name text);
            create table events (id bigint generated always as identity primary key,
                                 happened_at timestamptz not null, payload jsonb);
            create table blobs (data bytea);
            create table sleep_diary (id int primary key, night date not null, hours real);
            create table "My Notes" ("ID" int primary key, "Written On" date not null,
                                     "Mood Score" int);
            insert into "My Notes" values (1, current_date, 5);
            insert into events (happened_at, payload)
              select now() - g * interval '1 hour', '{}' from generate_series(1, 100) g;
        """)
    assert init(person_env) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    doc = yaml.safe_load((person_env / "persys.yaml").read_text())
    assert set(doc["tables"]) == {"events", "sleep_diary", "daily_summaries",
                                  "daily_projections", "voice_messages"}
    assert doc["tables"]["events"]["day_column"] == "happened_at"
    assert doc["daily"]["metrics"] == {}
    text = (person_env / "persys.yaml").read_text()
    assert "None of your columns looked like a metric" in text
    # an empty sleep table: suggested in a comment, not switched on (no "you slept 0 hours")
    assert ("# sleep_hours: sleep_diary has no rows yet; once it has, add: {label: sleep, "
            "unit: h, better: higher, source: {table: sleep_diary, day_column: night, "
            "value: hours, agg: sum}}") in text
    assert "widgets" in out and "blobs" in out and "not managed" in out
    assert 'My Notes                 not managed: its name needs quotes in SQL' in out
    assert "0 failed" in out
    load_config(person_env / "persys.yaml")


def test_init_says_what_it_needs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("SUPABASE_DB_URL", "CORE_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["init"]) == 1
    assert "export SUPABASE_DB_URL='postgresql://…'" in capsys.readouterr().err

    (tmp_path / "persys.yaml").write_text("home: mine\n")
    monkeypatch.setenv("SUPABASE_DB_URL", "postgresql://u:secret-pw@127.0.0.1:1/db")
    assert main(["init"]) == 1
    assert "`persys init --force` replaces it" in capsys.readouterr().err
    assert (tmp_path / "persys.yaml").read_text() == "home: mine\n"

    spaced = tmp_path / "my configs" / "persys.yaml"  # home would be "my configs/.persys"
    assert main(["init", "--output", str(spaced)]) == 1
    assert "`persys init --home /a/plain/path`" in capsys.readouterr().err
    assert not spaced.exists()

    assert main(["init", "--force", "--no-doctor"]) == 1  # nobody listens on port 1
    err = capsys.readouterr().err
    assert "cannot connect to postgresql://u@127.0.0.1:1/db" in err and "secret-pw" not in err
    assert (tmp_path / "persys.yaml").read_text() == "home: mine\n"  # nothing written


def test_the_policy_gets_shorter_when_core_would_fill():
    """A busy table (40 MB a day) gets the core_days that keep core under 70% of the warning
    line; a table without a policy that keeps growing makes the forecast say when the line is
    crossed."""
    from persys_pipelines.lib.onboarding.inspect import Column, Project, Table
    from persys_pipelines.lib.onboarding.policy import suggest

    def table(name: str, mb: float, rows: int, per_day: int, day: bool = True) -> Table:
        columns = [Column("at", "timestamp with time zone", True)] if day else []
        return Table(name, columns, ["id"], bytes=int(mb * 2**20), rows=rows,
                     partitioned=False, rls=False, rls_forced=False, recent_rows=per_day * 30,
                     day_column="at" if day else None)

    busy = table("readings", 200, 100_000, 20_000)  # 2 kB rows: 40 MB a day
    slow = table("log", 10, 10_000, 10, day=False)  # 10 kB a day, no policy
    project = Project("db", 260 * 2**20, 260 * 2**20, [busy, slow], [], dt.date(2026, 1, 1))
    forecast = suggest(project, [busy])
    assert forecast.core_days == 3  # × 1.3 for indexes: 7 days would be 364 MB
    assert forecast.level_bytes < 0.7 * 0.8 * 500 * 2**20
    assert forecast.years_to_warn is None  # 10 kB a day: decades
    assert "for 10+ years" in " ".join(forecast.lines())

    fast = table("log", 10, 10_000, 1000, day=False)  # 1 MB a day, no policy
    project = Project("db", 260 * 2**20, 260 * 2**20, [busy, fast], [], dt.date(2026, 1, 1))
    forecast = suggest(project, [busy])
    assert forecast.core_days == 1 and forecast.years_to_warn < 1
    assert "warning line in about 0." in " ".join(forecast.lines())


def test_the_inspection_is_one_read_only_transaction(tier_dsns):
    """A write inside it would fail: the session is read only while it looks."""
    from persys_pipelines.lib.onboarding import inspect

    with connect(tier_dsns["core"], autocommit=True) as conn:
        conn.execute("create table t (id int primary key, day date not null)")
    seen = []

    class Spy(psycopg.Connection):
        def execute(self, query, params=None, **kw):
            if "count(*) from" in str(query):
                seen.append(super().execute("show transaction_read_only").fetchone()[0])
            return super().execute(query, params, **kw)

    with Spy.connect(tier_dsns["core"]) as conn:
        project = inspect.inspect(conn, "UTC", dt.date(2026, 1, 1))
    assert [t.name for t in project.tables] == ["t"] and set(seen) == {"on"}


def test_supabase_hosts_give_the_project_url_and_the_cluster_scope():
    from persys_pipelines.lib.onboarding.draft import is_supabase, supabase_url

    direct = "postgresql://postgres:pw@db.abcd1234.supabase.co:5432/postgres"
    pooler = "postgresql://postgres.abcd1234:pw@aws-0-eu-west-2.pooler.supabase.com:6543/postgres"
    assert supabase_url(direct) == supabase_url(pooler) == "https://abcd1234.supabase.co"
    assert is_supabase(direct) and is_supabase(pooler)
    assert not is_supabase("postgresql://u@127.0.0.1/db") and supabase_url(
        "postgresql://u@127.0.0.1/db") is None
