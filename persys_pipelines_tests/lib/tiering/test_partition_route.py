"""DEFAULT → month partition (lib/moves/partition.py) on a Supabase-shaped core: a row that
landed in DEFAULT gets its month partition without deleting an ON DELETE CASCADE child or
firing the person's delete triggers (ENABLE ALWAYS ones included); a table with a stored
generated column keeps moving; a role that may not switch replication off gets a clear
refusal and nothing changes; the new partition has the parent's grants (none for the client
roles) and row level security."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.moves import partition
from persys_pipelines.lib.pg import ledger
from persys_pipelines.lib.pg import partitions as space
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.lifecycle_helpers import rows_text
from persys_pipelines_tests.supabase_fixture import create_supabase_core

AS_OF = dt.date(2024, 6, 15)
MARCH = dt.date(2024, 3, 1)

NOTES = r"""
do $$ begin create role reporting nologin;
exception when duplicate_object or unique_violation then null; end $$;
create table notes (
  id bigint generated always as identity,
  day date not null,
  body text,
  words int generated always as
    (coalesce(array_length(regexp_split_to_array(body, '\s+'), 1), 0)) stored,
  primary key (id, day)
) partition by range (day);
create table notes_pdefault partition of notes default;
create table notes_p2024_06 partition of notes for values from ('2024-06-01') to ('2024-07-01');
create table note_links (id serial primary key, note_id bigint not null, note_day date not null,
  foreign key (note_id, note_day) references notes (id, day) on delete cascade);
create table notes_audit (note_id bigint, what text);
create function notes_deleted() returns trigger language plpgsql as $$
begin insert into notes_audit values (old.id, tg_name); return old; end $$;
create trigger notes_deleted after delete on notes for each row
  execute function notes_deleted();
create trigger notes_deleted_always after delete on notes for each row
  execute function notes_deleted();
alter table notes enable always trigger notes_deleted_always;
alter table notes enable row level security;
create policy own_notes on notes for all to authenticated using (true);
revoke all on notes from anon;
grant select on notes to reporting;
insert into notes (day, body) values ('2024-03-02', 'one two three'), ('2024-03-30', 'four'),
  ('2024-06-01', 'june');
insert into note_links (note_id, note_day) select id, day from notes;
"""


def notes_config(tmp_path, tier_dsns, core_dsn: str | None = None, name: str = "persys"):
    dsns = {**tier_dsns, "core": core_dsn or tier_dsns["core"]}
    return load_config(write_config(tmp_path / f"{name}.yaml", dsns, tmp_path / "home",
                                    tables={"notes": {"day_column": "day", "core_days": 30}}))


@pytest.fixture
def notes(tier_dsns, tmp_path):
    create_supabase_core(tier_dsns["core"], days=1, as_of=AS_OF)
    with psycopg.connect(tier_dsns["core"], autocommit=True) as conn:
        conn.execute(NOTES)
    return notes_config(tmp_path, tier_dsns)


def where_rows_live(core) -> dict[int, str]:
    with core.connect() as conn:
        return dict(conn.execute("select id, tableoid::regclass::text from notes"))


ACL = """select coalesce(g.rolname, 'public'), a.privilege_type
           from pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
           left join pg_roles g on g.oid = a.grantee
          where c.oid = %s::regclass and a.grantee <> c.relowner order by 1, 2"""


def test_a_row_in_default_moves_to_its_month_with_no_cascade_and_no_trigger(notes):
    cfg = notes
    core = resolve_tier(cfg, "core")
    before, links = rows_text(core, "notes"), rows_text(core, "note_links")
    assert set(where_rows_live(core).values()) == {"notes_pdefault", "notes_p2024_06"}
    done = partition.from_default(handles.engine(cfg), core, handles.spec(cfg, "notes"), [MARCH])
    assert done.created == ["notes_p2024_03"] and done.rows == 2 and not done.refused
    assert rows_text(core, "notes") == before  # generated words included
    assert set(where_rows_live(core).values()) == {"notes_p2024_03", "notes_p2024_06"}
    with core.connect() as conn:
        # no child deleted, no delete trigger fired (the ENABLE ALWAYS one neither), and that
        # one is ENABLE ALWAYS again
        assert rows_text(core, "note_links") == links
        assert conn.execute("select count(*) from notes_audit").fetchone()[0] == 0
        assert conn.execute("select tgenabled from pg_trigger where tgname = "
                            "'notes_deleted_always' and tgrelid = 'notes_pdefault'::regclass"
                            ).fetchone() == ("A",)
        # the cascade still works for the moved rows (the partition got the parent's keys)
        conn.execute("delete from notes where day = '2024-03-02'")
        assert conn.execute("select count(*) from note_links").fetchone()[0] == 2
        assert conn.execute("select count(*) from notes_audit").fetchone()[0] == 2
        conn.rollback()
        # grants: the parent's, none for the client roles; row level security on
        parent = conn.execute(ACL, ("notes",)).fetchall()
        assert ("authenticated", "SELECT") in parent and ("reporting", "SELECT") in parent
        assert conn.execute(ACL, ("notes_p2024_03",)).fetchall() == [
            r for r in parent if r[0] not in ("anon", "authenticated", "public")]
        assert conn.execute("select relrowsecurity from pg_class where oid = "
                            "'notes_p2024_03'::regclass").fetchone() == (True,)
        conn.execute("set role authenticated")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from notes_p2024_03")
        conn.rollback()
    with handles.engine(cfg).main.connect() as conn:
        (entry,) = ledger.entries(conn, "notes", route="partition")
    assert entry.state == "done" and entry.rows == 2 and entry.fingerprint


def test_a_table_with_a_generated_column_keeps_moving_after_a_row_lands_in_default(notes):
    """The whole lifecycle: the row in DEFAULT gets its month, then moves to main with the
    rest; the generated column's values arrive as they were."""
    cfg = notes
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    with core.connect() as conn:
        conn.execute("delete from note_links")  # else the references hold rows back
        conn.commit()
    before = rows_text(core, "notes")
    run = handles.run_table(cfg, core, main, "notes", AS_OF)
    assert "notes_p2024_03" in run.partitions_created and not run.partitions_refused
    assert run.rows == 2  # March moved to main (core_days 30)
    assert rows_text(main, "notes") + rows_text(core, "notes") == before
    with main.connect() as conn:
        assert sorted(conn.execute("select body, words from notes").fetchall()) == [
            ("four", 1), ("one two three", 3)]
    with core.connect() as conn:  # a late row for March lands in its partition, and moves
        conn.execute("insert into notes (day, body) values ('2024-03-15', 'late row')")
        conn.commit()
    assert handles.run_table(cfg, core, main, "notes", AS_OF).rows == 1


PLAIN = """
do $$ begin create role persys_plain login;
exception when duplicate_object or unique_violation then null; end $$;
grant create, usage on schema public to persys_plain;
alter table notes owner to persys_plain;
alter table notes_pdefault owner to persys_plain;
alter table notes_p2024_06 owner to persys_plain;
grant select on note_links to persys_plain;  -- the lifecycle reads what references notes
"""


def test_a_role_that_may_not_switch_replication_off_is_refused_and_nothing_changes(
        tier_dsns, tmp_path):
    create_supabase_core(tier_dsns["core"], days=1, as_of=AS_OF)
    with psycopg.connect(tier_dsns["core"], autocommit=True) as conn:
        conn.execute(NOTES)
        conn.execute(PLAIN)
    parts = urlsplit(tier_dsns["core"])
    plain_dsn = urlunsplit(parts._replace(netloc=f"persys_plain@{parts.hostname or ''}"))
    cfg = notes_config(tmp_path, tier_dsns, plain_dsn)
    core = resolve_tier(cfg, "core")
    with core.connect() as conn:
        assert conn.execute("select rolsuper from pg_roles where rolname = current_user"
                            ).fetchone() == (False,)
    admin = resolve_tier(notes_config(tmp_path, tier_dsns, name="admin"), "core")
    before, links = rows_text(admin, "notes"), rows_text(admin, "note_links")
    done = partition.from_default(handles.engine(cfg), core, handles.spec(cfg, "notes"), [MARCH])
    assert not done.created and list(done.refused) == ["2024-03"]
    why = done.refused["2024-03"]
    assert ("this role may not switch off the delete triggers notes_deleted, "
            "notes_deleted_always and the foreign keys of public.note_links(note_id, "
            "note_day) (on delete cascade)") in why
    assert "Connect core as a superuser" in why
    assert rows_text(admin, "notes") == before and rows_text(admin, "note_links") == links
    assert set(where_rows_live(admin).values()) == {"notes_pdefault", "notes_p2024_06"}
    with admin.connect() as conn:
        assert conn.execute("select to_regclass('notes_p2024_03')").fetchone() == (None,)
        assert conn.execute("select count(*) from notes_audit").fetchone()[0] == 0
    with handles.engine(cfg).main.connect() as conn:
        (entry,) = ledger.entries(conn, "notes", route="partition")
    assert entry.state == "failed" and "may not switch off" in entry.detail["error"]
    # the lifecycle goes on: the refused month stays in DEFAULT, the rest of the run works
    run = handles.run_table(cfg, core, resolve_tier(cfg, "main"), "notes", AS_OF)
    assert "2024-03" in run.partitions_refused
    with core.connect() as conn:
        assert space.is_partitioned(conn, "notes")


MOVE_OUT_OF_DEFAULT = """
import datetime as dt, sys
from persys_pipelines import handles
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.moves import partition
from persys_pipelines.handles import resolve_tier
cfg = load_config(sys.argv[1])
partition.from_default(handles.engine(cfg), resolve_tier(cfg, "core"),
                       handles.spec(cfg, "notes"), [dt.date(2024, 3, 1)])
"""


@pytest.mark.slow
@pytest.mark.parametrize("point", ["partition.copied", "partition.committed"])
def test_kill_9_at_each_crash_point_loses_and_doubles_nothing(notes, tmp_path, point):
    """Killed inside the transaction: nothing happened; killed after its commit: the month
    has its partition and every row, and the next run finishes the ledger's story."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from persys_pipelines.lib.moves.engine import CRASH_ENV

    cfg = notes
    core = resolve_tier(cfg, "core")
    before, links = rows_text(core, "notes"), rows_text(core, "note_links")
    root = Path(__file__).parents[3]
    proc = subprocess.run([sys.executable, "-c", MOVE_OUT_OF_DEFAULT,
                           str(tmp_path / "persys.yaml")], cwd=root, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, CRASH_ENV: point, "PYTHONPATH": str(root)})
    assert proc.returncode == -9 and f"persys-crash-point {point}" in proc.stdout, proc.stderr
    assert rows_text(core, "notes") == before and rows_text(core, "note_links") == links
    lives = set(where_rows_live(core).values())
    assert lives == ({"notes_pdefault", "notes_p2024_06"} if point == "partition.copied"
                     else {"notes_p2024_03", "notes_p2024_06"})
    again = partition.from_default(handles.engine(cfg), core, handles.spec(cfg, "notes"),
                                   [MARCH])
    assert not again.refused and rows_text(core, "notes") == before
    assert set(where_rows_live(core).values()) == {"notes_p2024_03", "notes_p2024_06"}
    with core.connect() as conn:
        assert conn.execute("select count(*) from notes_audit").fetchone()[0] == 0
    with handles.engine(cfg).main.connect() as conn:
        states = [e.state for e in ledger.entries(conn, "notes", route="partition")]
    assert states == ["done", "interrupted"]
