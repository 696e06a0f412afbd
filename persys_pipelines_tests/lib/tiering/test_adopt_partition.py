"""`adopt partition` on a Supabase-shaped table: rows, checksums, grants, RLS, triggers,
publications, FKs in and out and identity survive the copy-and-swap; refusals say why; a move
afterwards drops whole months; a writer during the conversion loses nothing (the isolation
levels, rules, the key change, lock times and default privileges: test_adopt_truth.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import psycopg
import pytest

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.errors import TierError
from persys_pipelines.lib.moves import adopt
from persys_pipelines.lib.pg import ledger
from persys_pipelines.lib.pg import partitions as space
from persys_pipelines.lib.pg.session import pin_session
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.lifecycle_helpers import assert_conserved, rows_text
from persys_pipelines_tests.supabase_fixture import USERS, create_supabase_core

AS_OF = dt.date(2024, 6, 15)

EXTRAS = """
alter table journal add constraint journal_id_day_key unique (id, written_at);
alter table journal force row level security;
comment on table journal is 'my journal';
create table journal_tags (
  id bigint generated always as identity primary key,
  journal_id bigint not null, journal_written_at timestamptz not null, tag text,
  foreign key (journal_id, journal_written_at) references journal (id, written_at)
    on delete cascade);
insert into journal_tags (journal_id, journal_written_at, tag)
  select id, written_at, 'tag' from journal where id % 5 = 0;
grant select (content) on journal to anon;
"""


def make_supa(tier_dsns, tmp_path):
    """(cfg, core, main): the Supabase fixture over 70 days (three months), plus a table whose
    foreign key references journal's (id, written_at)."""
    create_supabase_core(tier_dsns["core"], days=70, as_of=AS_OF)
    with psycopg.connect(tier_dsns["core"], autocommit=True) as conn:
        conn.execute(EXTRAS)
    cfg = load_config(write_config(
        tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
        tables={"journal": {"day_column": "written_at", "core_days": 7},
                "sleep_log": {"day_column": "night", "core_days": 7}}))
    return cfg, resolve_tier(cfg, "core"), resolve_tier(cfg, "main")


@pytest.fixture
def supa(tier_dsns, tmp_path):
    return make_supa(tier_dsns, tmp_path)


def adopt_table(cfg, table: str = "journal", as_of: dt.date = AS_OF, core=None, **kw):
    """What `persys adopt partition TABLE --yes` does."""
    return adopt.adopt_partition(handles.engine(cfg), core or resolve_tier(cfg, "core"),
                                 handles.spec(cfg, table), as_of, key_change_ok=True, **kw)


def adopt_entries(main, table: str = "journal") -> list[ledger.LedgerEntry]:
    with main.connect() as conn:
        return ledger.entries(conn, table, route="adopt")


def catalog(core, table: str = "journal") -> dict:
    """What a person (or their app) would notice about the table, partitions aside."""
    q = {
        "policies": "select policyname, permissive, roles::text, cmd, qual, with_check "
                    "from pg_policies where tablename = %(t)s",
        "triggers": "select tgname, tgenabled from pg_trigger where tgrelid = %(t)s::regclass "
                    "and not tgisinternal",
        "publications": "select p.pubname from pg_publication_rel r join pg_publication p "
                        "on p.oid = r.prpubid where r.prrelid = %(t)s::regclass",
        "grants": "select coalesce(relacl, acldefault('r', relowner))::text, relrowsecurity, "
                  "relforcerowsecurity, "
                  "pg_get_userbyid(relowner), obj_description(oid, 'pg_class') "
                  "from pg_class where oid = %(t)s::regclass",
        "column_grants": "select attname, attacl::text from pg_attribute where attrelid = "
                         "%(t)s::regclass and attacl is not null",
        "fks": "select conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
               "from pg_constraint where contype = 'f' and conparentid = 0 and "
               "(conrelid = %(t)s::regclass or confrelid = %(t)s::regclass)",
        "columns": "select attname, format_type(atttypid, atttypmod), attidentity, "
                   "attgenerated, attnotnull, pg_get_expr(d.adbin, d.adrelid) from "
                   "pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and "
                   "d.adnum = a.attnum where attrelid = %(t)s::regclass and attnum > 0 "
                   "and not attisdropped",
        "sequence": "select s.seqrelid::regclass::text, "
                    "coalesce(c.relacl, acldefault('s', c.relowner))::text from pg_sequence s "
                    "join pg_class c on c.oid = s.seqrelid where s.seqrelid = "
                    "pg_get_serial_sequence(%(t)s, 'id')::regclass",
    }
    with core.connect() as conn:
        return {k: sorted(conn.execute(v, {"t": table}).fetchall()) for k, v in q.items()}


def test_adopt_keeps_rows_and_everything_the_table_carries(supa):
    cfg, core, main = supa
    rows, cat = rows_text(core, "journal"), catalog(core)
    tags = rows_text(core, "journal_tags")
    done = adopt_table(cfg)
    assert rows_text(core, "journal") == rows and rows_text(core, "journal_tags") == tags
    after = catalog(core)
    for key in cat:
        assert after[key] == cat[key], key
    with core.connect() as conn:
        assert space.is_partitioned(conn, "journal")
        months = space.month_partitions(conn, "journal")
        assert dt.date(2024, 4, 1) in months and dt.date(2024, 8, 1) in months
        assert conn.execute("select count(*) from journal_pdefault").fetchone()[0] == 0
        # the identity keeps counting where it was; ALWAYS still refuses a given id
        top = conn.execute("select max(id) from journal").fetchone()[0]
        new_id = conn.execute("insert into journal (user_id, content) values (%s, 'new') "
                              "returning id", (USERS[0],)).fetchone()[0]
        assert new_id == top + 1
        with pytest.raises(psycopg.errors.GeneratedAlways):
            conn.execute("insert into journal (id, user_id) values (1, %s)", (USERS[0],))
        conn.rollback()
        # the updated_at trigger still fires; RLS (forced) still hides other users' rows
        conn.execute("update journal set content = 'edited', updated_at = '2000-01-01' "
                     "where id = 1")
        assert conn.execute("select updated_at > '2001-01-01' from journal where id = 1"
                            ).fetchone()[0]
        conn.execute("set role authenticated")
        conn.execute("select set_config('request.jwt.claim.sub', %s, false)", (str(USERS[0]),))
        assert {r[0] for r in conn.execute("select user_id from journal")} == {USERS[0]}
        # a month partition asked for directly (Supabase's API lists it) is refused
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from journal_p2024_06")
        conn.rollback()
        # the foreign keys, re-created NOT VALID in the swap, were validated after it
        assert conn.execute("select bool_and(convalidated) from pg_constraint where "
                            "contype = 'f' and (conrelid = 'journal'::regclass or "
                            "confrelid = 'journal'::regclass)").fetchone()[0]
    (entry,) = adopt_entries(main)
    assert entry.state == "done" and entry.fingerprint == done.fingerprint.text
    assert entry.rows == sum(rows.values()) and entry.outcome == "moved"


def test_a_move_after_adoption_drops_whole_months(supa):
    cfg, core, main = supa
    adopt_table(cfg)
    before = rows_text(core, "journal")
    with core.connect() as conn:
        conn.execute("delete from journal_tags")  # else the references hold rows back
        conn.commit()
    run = handles.run_table(cfg, core, main, "journal", AS_OF)
    assert run.rows > 0
    assert {"journal_p2024_04", "journal_p2024_05"} <= set(run.partitions_dropped)
    assert_conserved(core, main, "journal", before, ["id"])


def test_refused_with_the_reason(supa, tier_dsns):
    cfg, core, main = supa
    tight = dataclasses.replace(core, quota_bytes=core.size_bytes() + 50_000)
    with core.connect() as conn:
        plan = adopt.plan_adoption(handles.spec(cfg, "journal"), tight, conn, AS_OF)
    assert plan.problems and "the conversion needs" in plan.problems[0]
    assert plan.estimate is None  # refused: nothing measured
    with pytest.raises(TierError, match="quota has"):
        adopt_table(cfg, core=tight)
    with psycopg.connect(tier_dsns["core"], autocommit=True) as conn:
        conn.execute("create table notes (id bigint primary key, "
                     "journal_id bigint references journal (id))")
        conn.execute("alter table sleep_log alter column night drop not null")
    with pytest.raises(TierError) as info:
        adopt_table(cfg)
    assert "foreign key notes_journal_id_fkey on notes references journal(id)" in str(info.value)
    assert "must reference a unique key that includes the partition column" in str(info.value)
    with pytest.raises(TierError, match=r"sleep_log.night may be NULL \(0 rows are\)"):
        adopt_table(cfg, "sleep_log")
    with core.connect() as conn:
        assert not space.is_partitioned(conn, "journal")


def test_a_writer_during_adoption_loses_nothing(supa):
    cfg, core, main = supa
    with core.connect() as conn:
        conn.execute("insert into journal (user_id, written_at, content) select %s, "
                     "%s::timestamptz - n * interval '3 minutes', repeat('x', 200) "
                     "from generate_series(1, 30000) n", (USERS[1], f"{AS_OF} 12:00Z"))
        conn.commit()
        start = conn.execute("select count(*) from journal").fetchone()[0]
    written, stop = [], threading.Event()

    def app() -> None:
        with core.connect(autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("insert into journal (user_id, content) values (%s, 'live')",
                             (USERS[0],))
                written.append(1)

    writer = threading.Thread(target=app)
    writer.start()
    try:
        done = adopt_table(cfg)
    finally:
        stop.set()
        writer.join()
    with core.connect() as conn:
        pin_session(conn)
        assert conn.execute("select count(*) from journal").fetchone()[0] == start + len(written)
        assert space.is_partitioned(conn, "journal")
    assert len(written) > 10 and done.seconds_writes < 10


ODD_DDL = """
create table mood_log (
  id serial primary key,
  "Day" date not null default current_date,
  score int check (score between 0 and 10),
  note text default 'none'
);
comment on column mood_log.score is 'zero to ten';
alter table mood_log replica identity full;
create function bump() returns trigger language plpgsql as $$
begin new.score := new.score + 1; return new; end $$;
create trigger "Bump" before insert on mood_log for each row execute function bump();
alter table mood_log disable trigger "Bump";
grant select, insert on mood_log to anon;
grant usage on sequence mood_log_id_seq to anon;
insert into mood_log ("Day", score) select date '2024-06-15' - n, n % 10
  from generate_series(0, 99) n;
"""


def test_a_serial_key_a_quoted_day_column_and_replica_identity_full(tier_dsns, tmp_path):
    create_supabase_core(tier_dsns["core"], days=1, as_of=AS_OF)
    with psycopg.connect(tier_dsns["core"], autocommit=True) as conn:
        conn.execute(ODD_DDL)
    cfg = load_config(write_config(
        tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
        tables={"mood_log": {"day_column": "Day", "core_days": 7}}))
    core = resolve_tier(cfg, "core")
    rows, cat = rows_text(core, "mood_log"), catalog(core, "mood_log")
    adopt_table(cfg, "mood_log")
    assert rows_text(core, "mood_log") == rows and catalog(core, "mood_log") == cat
    with core.connect() as conn:
        assert space.is_partitioned(conn, "mood_log")
        # the serial keeps counting, the disabled trigger stays disabled, the comment stays
        assert conn.execute("""insert into mood_log (score) values (3)
                               returning id, score, note""").fetchone() == (101, 3, "none")
        assert conn.execute("""select col_description('mood_log'::regclass, 3)"""
                            ).fetchone()[0] == "zero to ten"
        idents = {r[0] for r in conn.execute(
            "select relreplident from pg_class where relname like 'mood_log%%' "
            "and relkind in ('r', 'p')")}
        assert idents == {"f"}


def test_an_app_transaction_holding_rows_delays_adoption_and_never_fails(supa):
    """The app keeps a row locked for 1.5 s: the conversion gives way (lock_timeout) and
    retries; the app's own update commits, and its change is in the converted table."""
    cfg, core, main = supa
    holding, result = threading.Event(), []

    def app() -> None:
        with core.connect() as conn:
            conn.execute("update journal set content = 'held' where id = 2")
            holding.set()
            threading.Event().wait(1.5)
            conn.commit()
            result.append("committed")

    holder = threading.Thread(target=app)
    holder.start()
    holding.wait(10)
    try:
        done = adopt_table(cfg)
    finally:
        holder.join()
    assert result == ["committed"]
    with core.connect() as conn:
        assert conn.execute("select content from journal where id = 2").fetchone()[0] == "held"
        assert space.is_partitioned(conn, "journal")
    assert done.fingerprint.rows == 4 * 70


def test_a_step_postgresql_refuses_rolls_everything_back(supa, tier_dsns):
    """A row trigger with a transition table cannot exist on a partitioned table: the whole
    conversion rolls back, and the error names the reason."""
    cfg, core, main = supa
    with psycopg.connect(tier_dsns["core"], autocommit=True) as conn:
        conn.execute("""create function audit() returns trigger language plpgsql as $$
                        begin return null; end $$;
                        create trigger journal_audit after delete on journal
                          referencing old table as gone for each row execute function audit()""")
    rows, cat = rows_text(core, "journal"), catalog(core)
    with pytest.raises(TierError, match=r"PostgreSQL refused a step of the conversion \(.*"
                       r"transition tables.*nothing changed, journal is as it was"):
        adopt_table(cfg)
    assert rows_text(core, "journal") == rows and catalog(core) == cat
    with core.connect() as conn:
        assert not space.is_partitioned(conn, "journal")
        assert conn.execute("select to_regclass('journal_persys_new')").fetchone()[0] is None
    assert adopt_entries(main)[0].state == "failed"
