"""`persys lifecycle repair`: a key in both core and main is reported with both versions (dry
run by default); `--apply` keeps core's version only."""

from __future__ import annotations

import psycopg

from persys_pipelines import handles as setup_lib
from persys_pipelines.cli import main


def test_repair_reports_then_fixes_a_key_in_both_tiers(cfg, tier_dsns, capsys):
    setup_lib.setup_tiers(cfg)
    with psycopg.connect(tier_dsns["core"]) as conn:
        key = conn.execute("insert into journal_entries (entry_date, body) values "
                           "('2024-01-05', 'the app changed me') returning id").fetchone()[0]
    with psycopg.connect(tier_dsns["main"]) as conn:
        conn.execute("insert into journal_entries (id, entry_date, body) values "
                     "(%s, '2024-01-05', 'stale copy')", (key,))
    assert main(["lifecycle", "repair", "--table", "journal_entries"]) == 1
    out = capsys.readouterr().out
    assert "FOUND journal_entries: 0 unsettled moves, 1 key in both" in out
    assert "the app changed me" in out and "stale copy" in out and "dry run" in out
    assert main(["lifecycle", "repair", "--table", "journal_entries", "--apply"]) == 0
    assert main(["lifecycle", "repair", "--table", "journal_entries"]) == 0
    assert "ok    journal_entries" in capsys.readouterr().out
    with psycopg.connect(tier_dsns["main"]) as conn:
        assert conn.execute("select count(*) from journal_entries").fetchone()[0] == 0
    with psycopg.connect(tier_dsns["core"]) as conn:
        assert conn.execute("select body from journal_entries").fetchone()[0] == (
            "the app changed me")
