"""core→main's proof: both servers' COPY counts and core's fingerprint of the snapshot, plus
main's own fingerprint wherever main could store something else than what was sent (a trigger
or a rule on its table)."""

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
