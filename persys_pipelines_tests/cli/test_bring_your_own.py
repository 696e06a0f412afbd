"""The README's "Bring your own Supabase" walk, as a person runs it, on the Supabase-shaped
fixture: `persys doctor`, `persys setup`, `persys lifecycle run`, `persys daily run` and
`persys voice preview` work on the person's own tables, every row stays in exactly one tier,
and nothing of the sample schema appears in their databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from persys_pipelines.cli import main
from persys_pipelines.lib.pg.tiers import connect
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.supabase_fixture import DAILY_SOURCES, create_supabase_core

SAMPLE_TABLES = ("journal_entries", "health_metrics", "tasks", "transactions", "shadow_work")
DAYS = 60  # of rows in the person's journal and sleep log, ending yesterday


def public_tables(dsn: str) -> set[str]:
    with connect(dsn) as conn:
        return {r[0] for r in conn.execute(
            "select tablename from pg_tables where schemaname = 'public'")}


def ids(dsn: str, table: str) -> list[int]:
    with connect(dsn) as conn:
        if table not in public_tables(dsn):
            return []
        return [r[0] for r in conn.execute(f"select id from {table}")]  # noqa: S608


@pytest.fixture
def person(tmp_path: Path, tier_dsns, monkeypatch):
    """Their Supabase project (journal, sleep_log: identity and generated columns, an enum, a
    domain, RLS, a trigger, a publication, FKs into auth.users) and a persys.yaml naming it."""
    tz = ZoneInfo("Europe/London")
    yesterday = dt.datetime.now(tz).date() - dt.timedelta(days=1)
    create_supabase_core(tier_dsns["core"], days=DAYS, as_of=yesterday)
    path = write_config(
        tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
        tiers={"core": {"dsn": tier_dsns["core"], "quota_mb": 500},  # a space, as NAS shares have
               "main": {"dsn": tier_dsns["main"]},
               "archive": {"url": f"file://{tmp_path / 'my nas' / 'persys'}"}},
        tables={"journal": {"day_column": "written_at", "core_days": 30, "main_days": 3650},
                "sleep_log": {"day_column": "night", "core_days": 30, "main_days": 3650}},
        daily={"sources": DAILY_SOURCES}, voice={"engine": "local"})
    monkeypatch.setenv("PERSYS_CONFIG", str(path))
    return yesterday


def test_the_readme_walk_on_the_persons_own_tables(person, tier_dsns, capsys):
    yesterday = person
    before = {t: sorted(ids(tier_dsns["core"], t)) for t in ("journal", "sleep_log")}
    assert len(before["journal"]) == DAYS * 4 and len(before["sleep_log"]) == DAYS * 2

    assert main(["setup"]) == 0
    capsys.readouterr()
    assert main(["doctor"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "journal" in out and "FAIL" not in out

    assert main(["lifecycle", "run"]) == 0
    out = capsys.readouterr().out
    assert "journal" in out and "sleep_log" in out
    for table, every in before.items():  # each row in exactly one tier, none lost or doubled
        core, main_ = ids(tier_dsns["core"], table), ids(tier_dsns["main"], table)
        assert sorted(core + main_) == every, table
        assert main_ and len(core) < len(every), f"{table}: nothing moved"
    with connect(tier_dsns["core"]) as conn:  # their policies and trigger are left as they were
        assert conn.execute("select count(*) from pg_policies where tablename in "
                            "('journal', 'sleep_log')").fetchone()[0] == 2
        assert conn.execute("select count(*) from pg_trigger where tgname = "
                            "'journal_updated_at'").fetchone()[0] == 1

    assert main(["daily", "run", "--days", "3"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    with connect(tier_dsns["core"]) as conn:
        rows = conn.execute("select day, health->>'sleep_hours', mood->>'mood_mean', "
                            "mood->>'journal_words', summary_text from persys.daily_summaries "
                            "order by day").fetchall()
    assert [r[0] for r in rows] == [yesterday - dt.timedelta(days=n) for n in (2, 1, 0)]
    # by hand (supabase_fixture.add_rows, n = 59): sleep 6 + (59 % 4) × 0.75 for both users;
    # mood_score (59·3 + u) % 10 → 7, 7, 8, 8; four entries of seven words each
    _, sleep, mood, words, text = rows[-1]
    assert (float(sleep), float(mood), int(words)) == (8.25, 7.5, 28)
    assert "slept 8.2" in text and "mood 7.5/10" in text and "Money" not in text

    assert main(["voice", "preview", "--date", yesterday.isoformat()]) == 0, \
        capsys.readouterr().err
    said = capsys.readouterr().out
    assert "mood" in said.lower()

    for dsn in (tier_dsns["core"], tier_dsns["main"]):
        assert not public_tables(dsn) & set(SAMPLE_TABLES), dsn
