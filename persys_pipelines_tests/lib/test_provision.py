"""persys setup: idempotent schema, deterministic sample data, validation per item."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from persys_pipelines import handles
from persys_pipelines import handles as setup_lib
from persys_pipelines.cli import main
from persys_pipelines.lib.config import Config, load_config
from persys_pipelines.lib.pg.catalog import table_columns
from persys_pipelines.lib.pg.schema import OUTPUT_TABLES, PERSONAL_TABLES, SAMPLE_TABLES
from persys_pipelines.lib.sample_data import SampleDataRefused
from persys_pipelines_tests.supabase_fixture import DAILY_SOURCES, create_supabase_core

AS_OF = dt.date(2026, 3, 31)


def checksums(dsn: str) -> dict[str, tuple[int, int]]:
    """Per table: rows and an order-independent checksum of every row's text."""
    out = {}
    with psycopg.connect(dsn) as conn:
        for t in ("journal_entries", "health_metrics", "tasks", "transactions", "shadow_work"):
            out[t] = conn.execute(
                f"select count(*), coalesce(sum(hashtextextended(x::text, 0)), 0) from {t} x"
            ).fetchone()
    return out


def test_setup_creates_every_table_once(cfg, tier_dsns):
    first = setup_lib.setup_tiers(cfg)
    assert first["core"] == [t.name for t in PERSONAL_TABLES] == first["main"]
    assert setup_lib.setup_tiers(cfg) == {"core": [], "main": []}
    with psycopg.connect(tier_dsns["main"]) as conn:
        assert table_columns(conn, "persys.ledger")["fingerprint"] == "text"
        assert table_columns(conn, "journal_entries")["tags"] == "text[]"
        assert table_columns(conn, "transactions")["amount"] == "numeric(12,2)"
        assert table_columns(conn, "health_metrics")["measured_at"] == "timestamp with time zone"


def test_sample_data_is_deterministic_and_realistic(cfg, make_database, tmp_path):
    from persys_pipelines_tests.conftest import write_config

    setup_lib.setup_tiers(cfg)
    counts = setup_lib.load_sample_data(cfg, days=60, seed=7, as_of=AS_OF)
    other = {"core": make_database("core2"), "main": make_database("main2")}
    cfg2 = load_config(write_config(tmp_path / "b.yaml", other, tmp_path / "h2"))
    setup_lib.setup_tiers(cfg2)
    assert setup_lib.load_sample_data(cfg2, days=60, seed=7, as_of=AS_OF) == counts
    core_dsn = cfg.tiers.core.dsn.get_secret_value()
    assert checksums(core_dsn) == checksums(other["core"])

    third = {"core": make_database("core3"), "main": make_database("main3")}
    cfg3 = load_config(write_config(tmp_path / "c.yaml", third, tmp_path / "h3"))
    setup_lib.setup_tiers(cfg3)
    setup_lib.load_sample_data(cfg3, days=60, seed=8, as_of=AS_OF)
    assert checksums(third["core"]) != checksums(core_dsn)

    with psycopg.connect(core_dsn) as conn:
        q = lambda s: conn.execute(s).fetchone()  # noqa: E731
        assert q("select min(entry_date), max(entry_date) from journal_entries") == (
            AS_OF - dt.timedelta(days=59), AS_OF)
        assert q("select min(mood) >= 1 and max(mood) <= 10 from journal_entries")[0]
        lo, hi = q("select min(length(body)), max(length(body)) from journal_entries")
        assert lo >= 100 and hi <= 2000
        assert q("select count(distinct metric) from health_metrics")[0] == 5
        per_day = q("select count(*)::float / count(distinct (measured_at at time zone "
                    "'Europe/London')::date) from health_metrics")[0]
        assert per_day > 30
        assert q("select count(*) from tasks where status='done' and completed_at is null")[0] == 0
        assert q("select count(*) from tasks where status='open'")[0] > 0
        late = conn.execute("select count(*) from tasks where (completed_at at time zone "
                            "'Europe/London')::date > %s", (AS_OF,)).fetchone()[0]
        assert late == 0
        assert q("select count(*) from transactions where category='income'")[0] == 2
        assert q("select pg_typeof(amount)::text from transactions limit 1")[0] == "numeric"


def test_sample_data_never_doubles_rows(cfg):
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=5, seed=1, as_of=AS_OF)
    with pytest.raises(SampleDataRefused, match=r"journal_entries \(\d+ rows\)"):
        setup_lib.load_sample_data(cfg, days=5, seed=1, as_of=AS_OF)


def test_three_years_is_tens_of_megabytes(cfg):
    setup_lib.setup_tiers(cfg)
    core = cfg.tiers.core.dsn.get_secret_value()
    with psycopg.connect(core) as conn:
        empty = conn.execute("select pg_database_size(current_database())").fetchone()[0]
    setup_lib.load_sample_data(cfg, days=1095, seed=3, as_of=AS_OF)
    with psycopg.connect(core) as conn:
        full = conn.execute("select pg_database_size(current_database())").fetchone()[0]
    assert 10 * 2**20 < full - empty < 100 * 2**20


def test_validate_reports_each_item(cfg, make_database, tmp_path):
    from persys_pipelines_tests.conftest import write_config

    checks = handles.doctor(cfg)
    assert any(c.item == "core: journal_entries" and not c.ok and "persys setup" in c.detail
               for c in checks)
    setup_lib.setup_tiers(cfg)
    checks = handles.doctor(cfg)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert {c.item for c in checks} >= {"config", "core: connect", "main: connect",
                                        "main: persys.ledger", "main: voice_messages"}

    broken = {"core": cfg.tiers.core.dsn.get_secret_value(),
              "main": cfg.tiers.core.dsn.get_secret_value().rsplit("/", 1)[0] + "/nonexistent_db"}
    bad = load_config(write_config(tmp_path / "bad.yaml", broken, tmp_path / "h"))
    checks = handles.doctor(bad)
    (fail,) = [c for c in checks if not c.ok]
    assert fail.item == "main: connect" and "nonexistent_db" in fail.detail


def adopted_config(tier_dsns, tmp_path, monkeypatch, tables: dict) -> Config:
    """persys.yaml (exported as PERSYS_CONFIG) whose `tables:` names only `tables`, its
    daily.sources mapped to the Supabase fixture's journal and sleep_log."""
    from persys_pipelines_tests.conftest import write_config

    path = write_config(tmp_path / "adopt.yaml", tier_dsns, tmp_path / "home", tables={
        t: {"day_column": d, "core_days": 3} for t, d in tables.items()},
        daily={"sources": DAILY_SOURCES})
    monkeypatch.setenv("PERSYS_CONFIG", str(path))
    return load_config(path)


def public_tables(dsn: str, schema: str = "public") -> set[str]:
    """Tables of a schema (partitions not counted)."""
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute(
            "select relname from pg_class where relnamespace = to_regnamespace(%s) "
            "and relkind in ('r', 'p') and not relispartition", (schema,))}


def test_setup_adopts_a_supabase_core_without_the_sample_schema(tier_dsns, tmp_path,
                                                                 monkeypatch, capsys):
    """Invariant 8: on a core that holds the person's tables, `persys setup` creates only the
    project's own tables, and `--validate` passes without the sample tables."""
    tables = create_supabase_core(tier_dsns["core"], days=3)
    adopted_config(tier_dsns, tmp_path, monkeypatch, tables)
    before = public_tables(tier_dsns["core"])

    assert main(["setup"]) == 0
    assert "sample tables" not in capsys.readouterr().out
    assert public_tables(tier_dsns["core"]) == before, "nothing of persys's in public"
    assert public_tables(tier_dsns["core"], "persys") == set(OUTPUT_TABLES)
    assert public_tables(tier_dsns["main"], "persys") >= {*OUTPUT_TABLES, "ledger"}
    for dsn in tier_dsns.values():
        assert not public_tables(dsn) & set(SAMPLE_TABLES)

    assert main(["setup", "--validate"]) == 0
    out = capsys.readouterr().out
    assert "ok    core: journal" in out and "ok    core: sleep_log" in out
    assert "main: journal  (created from core's on first move)" in out
    assert "journal_entries" not in out and " 0 failed" in out


def test_validate_names_a_missing_person_table(tier_dsns, tmp_path, monkeypatch):
    create_supabase_core(tier_dsns["core"], days=1)
    cfg = adopted_config(tier_dsns, tmp_path, monkeypatch, {"journal": "written_at",
                                                            "mood_log": "day"})
    setup_lib.setup_tiers(cfg)
    (fail,) = [c for c in handles.doctor(cfg) if not c.ok]
    assert (fail.item, fail.detail) == (
        "core: mood_log", "missing; create it or drop it from persys.yaml")


def test_sample_tables_only_when_asked(tier_dsns, tmp_path, monkeypatch):
    """--sample-data creates them whatever the config; a named sample table the person
    already has is left alone, and main's copy waits for the first move (core's definition)."""
    with psycopg.connect(tier_dsns["core"]) as conn:
        conn.execute("create table tasks (id bigint primary key, done_on date, what text)")
    cfg = adopted_config(tier_dsns, tmp_path, monkeypatch, {"tasks": "done_on"})
    created = setup_lib.setup_tiers(cfg)
    assert created == {"core": list(OUTPUT_TABLES), "main": list(OUTPUT_TABLES)}
    with psycopg.connect(tier_dsns["core"]) as conn:
        assert list(table_columns(conn, "tasks")) == ["id", "done_on", "what"]
    assert "tasks" not in public_tables(tier_dsns["main"])

    created = setup_lib.setup_tiers(cfg, sample_data=True)
    expected = [t for t in SAMPLE_TABLES if t != "tasks"]
    assert created == {"core": expected, "main": expected}
    with pytest.raises(SampleDataRefused, match=r"core's table tasks is not the sample "
                       r"schema's \(columns: id, done_on, what\)"):
        setup_lib.load_sample_data(cfg, days=2, seed=1, as_of=AS_OF)
