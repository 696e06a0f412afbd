"""A hostile corpus: one table of odd types and odd values, and its rows as PostgreSQL text.

January's values all fit the archive's typed columns (but NaN and ±Infinity floats, -0, the
first and last representable days, quoted array elements); February's do not (BC and
five-digit years, ±infinity dates and timestamps, numeric NaN and ±Infinity, arrays with
explicit bounds and two or three dimensions, a float array holding NaN); March has one numeric
NaN. Every row has a column named `_day` (the archive's own day column) and one named `t`.
"""

from __future__ import annotations

import datetime as dt

from psycopg import sql

from persys_pipelines.lib.config import TablePolicy
from persys_pipelines.lib.pg.catalog import ident, table_exists
from persys_pipelines.lib.pg.session import pin_session
from persys_pipelines.lib.pg.tiers import PgTier

TABLE = "hostile"
POLICY = TablePolicy(day_column="day", core_days=7, main_days=30)
MOVE_AS_OF = dt.date(2024, 4, 30)  # core_days 7: January..March are due for main
ARCHIVE_AS_OF = dt.date(2024, 6, 1)  # main_days 30: January..March are due for the archive
FIRST, LAST = dt.date(2024, 1, 1), dt.date(2024, 3, 31)

TYPES = """
create type mood as enum ('low', 'ok', 'high');
create domain positive_int as integer check (value > 0);
"""
DDL = """
create table hostile (
    id bigint primary key,
    day date not null,
    f4 real, f8 double precision, n numeric, n2 numeric(12,2),
    d date, ts timestamp, tstz timestamptz,
    ints integer[], grid integer[], texts text[], f8s double precision[], bools boolean[],
    doc jsonb, "_day" text, t text, u uuid, b bytea, iv interval, m mood, p positive_int,
    c char(5), v varchar(20), tt time, ip inet, pt point, r int4range,
    "a ""quoted"", spaced Näme" text
)"""
COLUMNS = ["id", "day", "f4", "f8", "n", "n2", "d", "ts", "tstz", "ints", "grid", "texts",
           "f8s", "bools", "doc", "_day", "t", "u", "b", "iv", "m", "p", "c", "v", "tt", "ip",
           "pt", "r", 'a "quoted", spaced Näme']
QUOTED_TEXTS = r'{"a,b","quote\"d",NULL,"","NULL","back\\slash"," lead","{brace}","ünï ✓"}'
PLAIN = {  # a row every typed column can take
    "f4": "NaN", "f8": "Infinity", "n": "1.000", "n2": "12.50", "d": "2024-01-01",
    "ts": "2024-01-01 00:00:00", "tstz": "2024-01-01 00:00:00+00", "ints": "{1,NULL,3}",
    "grid": "{}", "texts": QUOTED_TEXTS, "f8s": "{1.5,-0,5e-324}", "bools": "{t,NULL,f}",
    "doc": '{"ü": "✓ 😀", "n": [1, null, 2.50], "esc": "tab\\there \\"q\\""}',
    "_day": "not the archive's day", "t": "a column named t",
    "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "b": "\\x00ff10", "m": "high", "p": "42",
    "iv": "1 year 2 mons 3 days 04:05:06.789", "c": "ab", "v": "vé", "tt": "23:59:59.999999",
    "ip": "10.0.0.1/8", "pt": "(1.5,-2)", "r": "[1,5)", 'a "quoted", spaced Näme': "odd name",
}
ROWS: list[tuple[int, str, dict[str, str | None]]] = [
    (1, "2024-01-10", PLAIN),
    (2, "2024-01-20", {"f4": "-Infinity", "f8": "-0", "texts": "{}", "grid": None}),
    (3, "2024-01-31", {"f4": "1.17549435e-38", "f8": "1.7976931348623157e308",
                       "n": "-0.000000000000000000001", "n2": "-0.01", "d": "0001-01-01",
                       "ts": "9999-12-31 23:59:59.999999", "tstz": "0001-01-01 00:00:00+00",
                       "ints": "{}", "f8s": "{}", "doc": '"just text"', "_day": "",
                       "t": "", "b": "\\x", "iv": "-178000000 years", "c": "", "v": ""}),
    (4, "2024-02-01", {**PLAIN, "f4": "Infinity", "f8": "NaN", "n": "NaN", "n2": "NaN",
                       "d": "0044-03-15 BC", "ts": "4713-01-01 00:00:00 BC",
                       "tstz": "12345-06-07 08:09:10+00", "ints": "[0:1]={1,2}",
                       "grid": "{{1,2},{3,4}}", "texts": "[0:1]={x,y}",
                       "f8s": "{NaN,Infinity,-Infinity,-0}", "m": "low"}),
    (5, "2024-02-14", {"n": "Infinity", "n2": "9999999999.99", "d": "infinity",
                       "ts": "-infinity", "tstz": "infinity", "ints": "[-5:-4]={7,8}",
                       "grid": "[0:1][1:2]={{1,2},{3,4}}", "texts": '{{a,b},{"c d",NULL}}',
                       "f8s": "{1,2}", "bools": "[0:0]={t}"}),
    (6, "2024-02-29", {"n": "-Infinity", "d": "-infinity", "ts": "infinity",
                       "tstz": "-infinity", "grid": "{{{1}}}", "t": "t"}),
    (7, "2024-03-01", {**PLAIN, "n2": "NaN"}),
    (8, "2024-03-31", PLAIN),
]


def create(conn) -> None:
    """The types, the table and the rows, in `conn`'s database."""
    conn.execute(TYPES)
    conn.execute(DDL)
    for key, day, values in ROWS:
        insert(conn, key, day, values)
    conn.commit()


def insert(conn, key: int, day: str, values: dict[str, str | None]) -> None:
    cols = ["id", "day", *values]
    conn.execute(sql.SQL("insert into {} ({}) values ({})").format(
        ident(TABLE), sql.SQL(", ").join(map(sql.Identifier, cols)),
        sql.SQL(", ").join(sql.Placeholder() * len(cols))), [key, day, *values.values()])


def text_rows(tier: PgTier, table: str = TABLE, where: str = "true") -> list[str]:
    """Every row as PostgreSQL's text form, session text forms pinned, sorted by key. The
    alias is no column's name: `t::text` of a table with a column `t` is that column."""
    with tier.connect() as conn:
        pin_session(conn)
        if not table_exists(conn, table):
            return []
        return [r[0] for r in conn.execute(sql.SQL(
            "select persys_whole_row::text from {} persys_whole_row where {} order by id"
        ).format(ident(table), sql.SQL(where))).fetchall()]


def with_corpus(cfg):
    """The config with the corpus table's policy."""
    return cfg.model_copy(update={"tables": {**cfg.tables, TABLE: POLICY}})
