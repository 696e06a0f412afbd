"""The lifecycle on a Supabase-shaped core: the person's tables move to main and back out of
core exactly, with core's RLS, triggers, grants and publication left as they were."""

from __future__ import annotations

import datetime as dt

import pytest

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.pg import mirror
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.lifecycle_helpers import assert_conserved, rows_text
from persys_pipelines_tests.supabase_fixture import create_supabase_core

AS_OF = dt.date(2024, 6, 15)


@pytest.fixture
def supabase(tier_dsns, tmp_path):
    """(cfg, core, main) for a Supabase core whose persys.yaml names only the person's tables."""
    tables = create_supabase_core(tier_dsns["core"], days=10, as_of=AS_OF)
    cfg = load_config(write_config(
        tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
        tables={t: {"day_column": d, "core_days": 3} for t, d in tables.items()}))
    return cfg, resolve_tier(cfg, "core"), resolve_tier(cfg, "main")


def core_catalog(core) -> tuple:
    with core.connect() as conn:
        q = lambda s: sorted(conn.execute(s).fetchall())  # noqa: E731
        return (q("select tablename, policyname from pg_policies"),
                q("select tgname from pg_trigger where not tgisinternal"),
                q("select pubname, tablename from pg_publication_tables"),
                q("select relname, relacl::text from pg_class where relname in "
                  "('journal', 'sleep_log')"))


def test_sleep_log_moves_to_main_exactly(supabase):
    """Identity key, FK into auth.users, default auth.uid(), a domain column and a generated
    column over a core-only function (plain in main, so `select *` still fits)."""
    cfg, core, main = supabase
    before, catalog = rows_text(core, "sleep_log"), core_catalog(core)
    run = handles.run_table(cfg, core, main, "sleep_log", AS_OF)
    assert run.rows == 2 * 6 and run.days == 6  # 6..11 June; core keeps the cutoff day on
    assert sum(rows_text(core, "sleep_log").values()) == 2 * 4
    assert assert_conserved(core, main, "sleep_log", before, ["id"]) is None
    assert core_catalog(core) == catalog


def test_journal_with_a_generated_column_moves_to_main_exactly(supabase):
    cfg, core, main = supabase
    before, catalog = rows_text(core, "journal"), core_catalog(core)
    run = handles.run_table(cfg, core, main, "journal", AS_OF)
    assert run.rows == 4 * 6
    assert assert_conserved(core, main, "journal", before, ["id"]) is None
    assert core_catalog(core) == catalog
    with main.connect() as conn:
        assert "words" not in mirror.copy_columns(conn, "journal")
