"""A full Supabase free project turns read-only (`default_transaction_read_only = on`); the
mover's own sessions still move rows out and free space, which is what makes it writable."""

from __future__ import annotations

import datetime as dt

import psycopg

from persys_pipelines import handles
from persys_pipelines import handles as setup_lib
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import TablePolicy
from persys_pipelines_tests.lifecycle_helpers import assert_conserved, rows_text


def test_a_read_only_core_is_moved_out_of(cfg, tier_dsns):
    cfg = cfg.model_copy(update={"tables": {
        "journal_entries": TablePolicy(day_column="entry_date", core_days=7)}})
    setup_lib.setup_tiers(cfg)
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    with core.connect() as conn:
        conn.execute("""insert into journal_entries (entry_date, body)
                        select d::date, 'day ' || d::date from generate_series(
                        '2024-01-01'::date, '2024-03-31'::date, interval '1 day') d""")
        db = conn.execute("select current_database()").fetchone()[0]
        conn.execute(f'alter database "{db}" set default_transaction_read_only = on')
        conn.commit()
    before = rows_text(core, "journal_entries")
    with psycopg.connect(tier_dsns["core"]) as app:  # what the person's app now sees
        try:
            app.execute("insert into journal_entries (entry_date, body) values (now(), 'x')")
            raise AssertionError("core should be read-only for the app")
        except psycopg.errors.ReadOnlySqlTransaction:
            pass
    run = handles.run_table(cfg, core, main, "journal_entries", dt.date(2024, 6, 15))
    assert run.rows == 91 and run.partitions_dropped
    assert_conserved(core, main, "journal_entries", before, ["id"])
    assert sum(rows_text(core, "journal_entries").values()) == 0


def test_a_read_only_core_with_nothing_due_still_drops_its_empty_months(cfg, tier_dsns):
    """The idle table's clean-up runs in the mover's own read-write session too."""
    cfg = cfg.model_copy(update={"tables": {
        "journal_entries": TablePolicy(day_column="entry_date", core_days=7)}})
    setup_lib.setup_tiers(cfg)
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    handles.run_table(cfg, core, main, "journal_entries", dt.date(2024, 1, 15))
    with core.connect() as conn:
        db = conn.execute("select current_database()").fetchone()[0]
        conn.execute(f'alter database "{db}" set default_transaction_read_only = on')
        conn.commit()
    run = handles.run_table(cfg, core, main, "journal_entries", dt.date(2024, 6, 15))
    assert run.rows == 0 and "journal_entries_p2024_01" in run.partitions_dropped
