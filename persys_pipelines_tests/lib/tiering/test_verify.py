"""The move's proof of equality: the same rows in two databases give the same checksum
(enums whose OIDs differ, json, arrays, domains), and a changed, missing or duplicated row
does not."""

from __future__ import annotations

import psycopg
from psycopg import sql

from persys_pipelines.lib.pg import fingerprint as verify
from persys_pipelines.lib.pg.fingerprint import Fingerprint

COLUMNS = ["id", "mood", "moods", "note", "payload", "spot", "tags", "score", "at"]
SCHEMA = """
create type filler as enum ('x');  -- only in one database: the enum's OIDs then differ
create type mood as enum ('low', 'ok', 'high');
create domain score as numeric(4, 1) check (value >= 0);
create table t (id int primary key, mood mood, moods mood[], note text, payload json,
                spot point, tags text[], score score, at timestamptz);
"""
ROWS = """insert into t values
  (1, 'low', '{low,high}', 'ünï ✓', '{"a": [1, 2]}', '(1,2)', '{a,b}', 1.5, '2024-01-01 10:00Z'),
  (2, 'high', null, null, null, null, '{}', null, null),
  (3, 'ok', '{ok}', 'three', '[]', '(0,0)', '{"x y"}', 0, '2024-02-29 23:59:59.5Z')"""


def fingerprint(conn: psycopg.Connection, hashed: sql.Composable) -> Fingerprint:
    return verify.dest_fingerprint(conn, "t", sql.SQL("true"), hashed)


def two_databases(make_database) -> tuple[psycopg.Connection, psycopg.Connection]:
    a, b = (psycopg.connect(make_database(n)) for n in ("a", "b"))
    a.execute(SCHEMA.replace("create type filler as enum ('x');", ""))
    b.execute(SCHEMA)
    for conn in (a, b):
        conn.execute(ROWS)
        conn.commit()
    return a, b


def test_same_rows_in_two_databases_have_the_same_checksum(make_database):
    a, b = two_databases(make_database)
    with a, b:
        hashed = verify.row_hash([a, b], "t", COLUMNS)
        assert verify.text_hashed(a, "t", COLUMNS) == {"mood", "moods", "payload", "spot"}
        assert fingerprint(a, hashed) == fingerprint(b, hashed)
        assert fingerprint(a, hashed).rows == 3


def test_a_changed_missing_or_duplicated_row_changes_the_checksum(make_database):
    a, b = two_databases(make_database)
    with a, b:
        hashed = verify.row_hash([a, b], "t", COLUMNS)
        same = fingerprint(a, hashed)
        for change in ("update t set note = 'ünï ✓ ' where id = 1",  # one trailing space
                       "update t set mood = 'ok' where id = 1",
                       "update t set payload = '{\"a\": [2, 1]}' where id = 1",
                       "update t set score = 1.6 where id = 1",
                       "update t set note = 'three', mood = 'ok' where id = 2",  # swap-ish
                       "delete from t where id = 2"):
            b.execute(change)
            assert fingerprint(b, hashed) != same, change
            b.rollback()
        b.execute("alter table t drop constraint t_pkey")
        b.execute("insert into t select * from t where id = 3")
        b.execute("delete from t where id = 2")  # same count, one row twice
        got = fingerprint(b, hashed)
        assert got.rows == same.rows and got.checksum != same.checksum
        b.rollback()


def test_typed2_sees_what_a_typed_hash_calls_equal(make_database):
    """Array bounds and dimensions, the sign of a float zero and an unconstrained numeric's
    scale change the fingerprint (typed1 could not tell them apart)."""
    from persys_pipelines.lib.pg import fingerprint as fp

    with psycopg.connect(make_database("odd")) as conn:
        conn.execute("create table o (id int primary key, a text[], m int[], f float8, "
                     "r real, n numeric)")
        conn.execute("insert into o values (1, '{x,y}', '{1,2,3,4}', 0, 0, 1.0)")
        base = fp.of_table(conn, "o", ["id", "a", "m", "f", "r", "n"])
        typed1 = fp.of_table(conn, "o", ["id", "a", "m", "f", "r", "n"], algorithm=fp.TYPED1)
        for change in ("update o set a = '[0:1]={x,y}'", "update o set m = '{{1,2},{3,4}}'",
                       "update o set f = '-0'", "update o set r = '-0'",
                       "update o set n = 1.00"):
            with conn.transaction(force_rollback=True):
                conn.execute(change)
                assert fp.of_table(conn, "o", ["id", "a", "m", "f", "r", "n"]) != base, change
                assert fp.of_table(conn, "o", ["id", "a", "m", "f", "r", "n"],
                                   algorithm=fp.TYPED1) == typed1, "typed1's blind spot"
