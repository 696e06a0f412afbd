"""Main's table made from a Supabase-shaped core table: identity, generated columns, enums,
domains, defaults main cannot make, foreign keys into auth, RLS/triggers left in core; the
binary COPY of `copy_columns` round-trips; a column added in core is added in main."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from persys_pipelines.lib.pg import fingerprint, mirror
from persys_pipelines.lib.pg.catalog import table_columns
from persys_pipelines.lib.pg.session import pin_session
from persys_pipelines_tests.supabase_fixture import create_supabase_core


@pytest.fixture
def tiers(make_database) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    """(core, main) connections: core holds the Supabase schema, main is empty."""
    core_dsn, main_dsn = make_database("core"), make_database("main")
    create_supabase_core(core_dsn, days=6)
    with psycopg.connect(core_dsn) as core, psycopg.connect(main_dsn) as main:
        for conn in (core, main):
            pin_session(conn)
        yield core, main


def ensure(core, main, table: str, day: str, notes: list[str] | None = None):
    return mirror.ensure_destination(core, main, table, day, "core", "main", notes)


def rows(conn: psycopg.Connection, table: str) -> Counter:
    q = sql.SQL("select t::text from {} t").format(sql.Identifier(table))
    return Counter(r[0] for r in conn.execute(q))


def copy_rows(core: psycopg.Connection, main: psycopg.Connection, table: str) -> int:
    """What the mover does, with the column list mirror gives: binary COPY core → main."""
    cols = sql.SQL(", ").join(map(sql.Identifier, mirror.copy_columns(main, table)))
    t = sql.Identifier(table)
    with (core.cursor() as s, main.cursor() as d,
          s.copy(sql.SQL("copy (select {} from {}) to stdout (format binary)").format(cols, t))
          as out,
          d.copy(sql.SQL("copy {} ({}) from stdin (format binary)").format(t, cols)) as into):
        for chunk in out:
            into.write(chunk)
        copied = s.rowcount
    main.commit()
    return copied


def catalog(conn: psycopg.Connection) -> tuple:
    """What must never be copied to main nor changed in core: policies, RLS, triggers, grants,
    publication tables, foreign keys."""
    q = lambda s: sorted(conn.execute(s).fetchall())  # noqa: E731
    return (
        q("select tablename, policyname, qual from pg_policies"),
        q("select relname, relrowsecurity from pg_class where relname in ('journal','sleep_log')"),
        q("select tgname from pg_trigger where not tgisinternal"),
        q("select table_name, grantee, privilege_type from information_schema.table_privileges"
          " where table_schema = 'public' and grantee in ('anon','authenticated','service_role')"),
        q("select pubname, tablename from pg_publication_tables"),
        q("select conname from pg_constraint where contype = 'f'"),
    )


def attributes(conn: psycopg.Connection, table: str) -> dict[str, tuple[str, str]]:
    """Column → (attidentity, attgenerated)."""
    return {n: (i, g) for n, i, g in conn.execute(
        "select attname, attidentity::text, attgenerated::text from pg_attribute "
        "where attrelid = %s::regclass and attnum > 0 and not attisdropped", (table,))}


def test_main_table_from_supabase_core(tiers):
    core, main = tiers
    before = catalog(core)
    notes: list[str] = []
    for table, day in (("journal", "written_at"), ("sleep_log", "night")):
        shape = ensure(core, main, table, day, notes)
        assert mirror.table_shape(main, table) == shape  # same columns, order, types, key

    journal, sleep = attributes(main, "journal"), attributes(main, "sleep_log")
    assert journal["id"] == ("", "") and sleep["id"] == ("", "")  # identity → plain
    assert journal["words"] == ("", "s")  # main can evaluate it: still generated
    assert sleep["label"] == ("", "")  # calls public.night_label, which main lacks: plain
    assert mirror.copy_columns(main, "journal") == [
        "id", "user_id", "written_at", "content", "mood", "mood_score", "updated_at"]
    assert "label" in mirror.copy_columns(main, "sleep_log")
    assert main.execute("select enum_range(null::mood_level)::text").fetchone()[0] == (
        "{awful,low,ok,good,great}")
    domain = main.execute("select pg_get_constraintdef(c.oid) from pg_constraint c "
                          "where contypid = 'quality_score'::regtype").fetchone()[0]
    assert domain == "CHECK (((VALUE >= 1) AND (VALUE <= 5)))"
    defaults = dict(main.execute("select column_name, column_default from "
                                 "information_schema.columns where table_name = 'sleep_log'"))
    assert defaults["user_id"] is None and defaults["inserted_at"] == "now()"
    text = "\n".join(notes)
    assert "sleep_log.user_id: default auth.uid() left out" in text
    assert "foreign key journal_user_id_fkey → auth.users not recreated" in text
    assert "created enum public.mood_level" in text and "sleep_log.label: generated" in text

    assert catalog(core) == before  # core untouched
    # no policy, trigger or grant of core's; row level security on (private: schema.protect)
    assert catalog(main) == ([], [("journal", True), ("sleep_log", True)], [], [], [], [])
    assert main.execute("select to_regnamespace('auth')").fetchone()[0] is None


def test_binary_copy_of_copy_columns_round_trips(tiers):
    core, main = tiers
    for table, day in (("journal", "written_at"), ("sleep_log", "night")):
        ensure(core, main, table, day)
        assert copy_rows(core, main, table) == (24 if table == "journal" else 12)
        assert rows(main, table) == rows(core, table)  # generated `words` recomputed equal
        columns = list(table_columns(core, table))
        assert (fingerprint.of_table(main, table, columns)
                == fingerprint.of_table(core, table, columns))


def test_select_star_into_a_generated_column_fails(tiers):
    """Why the mover must use copy_columns: binary COPY of every column is refused."""
    core, main = tiers
    ensure(core, main, "journal", "written_at")
    with (pytest.raises(psycopg.Error, match="row field count is 8, expected 7"),
          core.cursor() as s, main.cursor() as d,
          s.copy("copy (select * from journal) to stdout (format binary)") as out,
          d.copy("copy journal from stdin (format binary)") as into):
        for chunk in out:
            into.write(chunk)


def test_column_and_enum_label_added_later_in_core(tiers):
    core, main = tiers
    ensure(core, main, "journal", "written_at")
    copy_rows(core, main, "journal")
    core.execute("alter type mood_level add value 'meh' after 'low'")
    core.commit()
    core.execute("alter table journal add column place text not null default 'home'")
    core.execute("alter table journal add column tags text[]")
    core.execute("delete from journal")
    core.execute("insert into journal (user_id, content, mood, place) select id, 'new', 'meh',"
                 " 'park' from auth.users")
    core.commit()
    notes: list[str] = []
    ensure(core, main, "journal", "written_at", notes)
    assert list(mirror.table_shape(main, "journal").columns)[-2:] == ["place", "tags"]
    assert main.execute("select enum_range(null::mood_level)::text").fetchone()[0] == (
        "{awful,low,meh,ok,good,great}")
    assert main.execute("select count(*) from journal where place = 'home'").fetchone()[0] == 24
    assert copy_rows(core, main, "journal") == 2
    assert main.execute("select count(*) from journal where mood = 'meh'").fetchone()[0] == 2
    assert any("added column journal.place text" in n for n in notes)
    assert any("added label 'meh'" in n for n in notes)


def test_other_differences_stay_a_schema_mismatch(tiers):
    core, main = tiers
    ensure(core, main, "journal", "written_at")
    core.execute("alter table journal alter column mood_score type bigint")
    core.commit()
    with pytest.raises(mirror.SchemaMismatch, match=r"table journal, column 6: core has "
                       r"'mood_score bigint' but main has 'mood_score integer'"):
        ensure(core, main, "journal", "written_at")


def test_types_main_cannot_match_are_a_clear_mismatch(tiers):
    core, main = tiers
    main.execute("create type mood_level as enum ('great', 'awful')")
    main.execute("create domain quality_score as text")
    main.commit()
    with pytest.raises(mirror.SchemaMismatch, match=r"enum public.mood_level has labels "
                       r"\['awful', .*\] in core but \['great', 'awful'\] in main"):
        ensure(core, main, "journal", "written_at")
    with pytest.raises(mirror.SchemaMismatch, match=r"domain public.quality_score is over "
                       r"integer in core but over text in main; recreate"):
        ensure(core, main, "sleep_log", "night")


def test_domain_default_main_lacks_and_types_persys_does_not_copy(tiers):
    core, main = tiers
    core.execute("create domain owner_id as uuid not null default auth.uid()")
    core.execute("create type span as (lo int, hi int)")
    core.execute("create table notes (id bigint generated always as identity primary key, "
                 "owner owner_id, day date not null)")
    core.execute("create table spans (id int primary key, day date not null, s span)")
    core.commit()
    notes: list[str] = []
    ensure(core, main, "notes", "day", notes)
    assert main.execute("select typnotnull, typdefault from pg_type "
                        "where typname = 'owner_id'").fetchone() == (True, None)
    assert "created domain public.owner_id in main, without its default auth.uid()" in "\n".join(
        notes)
    with pytest.raises(mirror.SchemaMismatch, match=r"table spans uses composite type "
                       r"public.span, which main lacks .* create it in main"):
        ensure(core, main, "spans", "day")


def test_not_null_column_added_in_core_is_nullable_in_a_main_with_rows(tiers):
    core, main = tiers
    ensure(core, main, "sleep_log", "night")
    copy_rows(core, main, "sleep_log")
    core.execute("delete from sleep_log")
    core.execute("alter table sleep_log add column device text not null")  # core was emptied
    core.commit()
    notes: list[str] = []
    ensure(core, main, "sleep_log", "night", notes)
    assert "sleep_log.device: NOT NULL in core, nullable in main" in "\n".join(notes)
    assert main.execute("select count(*) from sleep_log where device is null").fetchone()[0] == 12
