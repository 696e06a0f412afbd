"""core→main's proof: both servers' COPY counts, plus core's checksum of the snapshot and
main's of what it wrote wherever main could store something else than what was sent (a
trigger or a rule on its table, the staged upsert of keys main holds already)."""

from __future__ import annotations

import datetime as dt

import pytest

from persys_pipelines import handles
from persys_pipelines.handles import load_sample_data, resolve_tier, setup_tiers
from persys_pipelines.lib.errors import MoveError
from persys_pipelines.lib.moves.core_main import may_alter_rows
from persys_pipelines_tests.lifecycle_helpers import rows_text

AS_OF = dt.date(2024, 4, 30)


def test_a_trigger_in_main_that_rewrites_rows_is_caught_and_nothing_is_deleted(cfg):
    setup_tiers(cfg)
    load_sample_data(cfg, days=60, seed=3, as_of=AS_OF)
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    with main.connect() as conn:
        assert not may_alter_rows(conn, "journal_entries")
        conn.execute("""create function shout() returns trigger language plpgsql as
                        $$ begin new.body := upper(new.body); return new; end $$""")
        conn.execute("create trigger shout before insert on journal_entries "
                     "for each row execute function shout()")
        conn.commit()
        assert may_alter_rows(conn, "journal_entries")
    before = rows_text(core, "journal_entries")
    with pytest.raises(MoveError, match="verification failed"):
        handles.run_table(cfg, core, main, "journal_entries", AS_OF)
    assert rows_text(core, "journal_entries") == before, "nothing left core"
    assert not rows_text(main, "journal_entries"), "main's transaction rolled back"


def test_a_plain_move_records_its_count_and_a_staged_one_compares_checksums(cfg):
    """No trigger or rule in main: the ledger records the count both COPYs agreed on
    (`rows1`); a key already in main sends the range through the staged upsert, whose
    checksums (core's in the snapshot, main's of what it wrote) are compared and recorded."""
    from persys_pipelines.lib.pg import ledger

    setup_tiers(cfg)
    load_sample_data(cfg, days=60, seed=3, as_of=AS_OF)
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    run = handles.run_table(cfg, core, main, "journal_entries", AS_OF)
    assert run.rows > 0 and run.checksum == f"rows1:{run.rows}:0"
    moved = rows_text(main, "journal_entries")
    with main.connect() as m, core.connect() as c:  # the app re-inserts a moved key, edited
        row = m.execute("select * from journal_entries order by id limit 1").fetchone()
        cols = [d.name for d in m.execute("select * from journal_entries limit 0").description]
        c.execute(f"insert into journal_entries ({', '.join(cols)}) overriding system value "
                  f"values ({', '.join(['%s'] * len(cols))})", row)
        c.execute("update journal_entries set body = 'changed in core' where id = %s", (row[0],))
        day = row[cols.index("entry_date")]
    later = handles.run_table(cfg, core, main, "journal_entries", AS_OF + dt.timedelta(days=1),
                              first=day, last=day)
    assert later.rows == 1 and later.checksum.startswith("typed2:1:")
    with main.connect() as conn:
        entries = ledger.entries(conn, "journal_entries")
        body = conn.execute("select body from journal_entries where id = %s",
                            (row[0],)).fetchone()[0]
    assert body == "changed in core"
    assert later.checksum in [e.fingerprint for e in entries if e.outcome == "moved"]
    assert len(rows_text(main, "journal_entries")) == len(moved)
