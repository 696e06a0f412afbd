"""The archive format: PostgreSQL's text form of `text[]` comes back element for element,
whatever the elements hold; NaN verifies as NaN; the day column never takes a table column's
name."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier, setup_tiers
from persys_pipelines.lib.archive import format as fmt
from persys_pipelines.lib.moves import main_archive as archive

ODD = [[], ["a", "b"], ["with space", "comma,inside", 'quote"d', "back\\slash"], [None, "NULL"],
       [""], ["{brace}", "ünïcode ✓"], None]


def export(cfg, values: list) -> list:
    with resolve_tier(cfg, "main").connect() as conn:
        for i, tags in enumerate(values):
            conn.execute("insert into journal_entries (entry_date, body, tags, created_at) "
                         "values (%s, %s, coalesce(%s, '{}'::text[]), %s)",
                         (dt.date(2024, 1, 1), f"row {i}", tags,
                          dt.datetime(2024, 1, 1, 0, 0, i, tzinfo=dt.UTC)))
        conn.commit()
        data = archive.export_rows(conn, handles.spec(cfg, "journal_entries"),
                                   dt.date(2024, 1, 1), dt.date(2024, 1, 1))
        conn.rollback()
    return fmt.sort_rows(data, ["created_at"]).column("tags").to_pylist()


def test_text_arrays_round_trip_simple_and_quoted(cfg):
    setup_tiers(cfg)
    simple = [["a", "b"], [], ["x"], ["NULLish", "y"]]
    assert export(cfg, simple) == simple  # the vectorised path
    with resolve_tier(cfg, "main").connect() as conn:
        conn.execute("delete from journal_entries")
        conn.commit()
    expected = [v if v is not None else [] for v in ODD]  # tags is NOT NULL, default '{}'
    assert export(cfg, ODD) == expected  # quoted elements: parsed row by row


def test_text_lists_vectorised_keeps_null_arrays_and_null_elements():
    arr = pa.array(["{a,NULL,b}", None, "{}", "{c}"])
    assert fmt.text_lists(arr, "t.c").to_pylist() == [["a", None, "b"], None, [], ["c"]]
    assert fmt.parse_text_array('{"x y",NULL}', "t.c") == ["x y", None]
    with pytest.raises(fmt.ArchiveFormatError, match="explicit bounds"):
        fmt.parse_text_array('[0:1]={"x y",NULL}', "t.c")  # a list would lose the bounds


def test_same_rows_is_bit_exact_where_arrow_equality_is_not():
    nan = float("nan")
    a = pa.table({"f": pa.array([nan, 1.0, None]), "l": pa.array([[nan], None, [-0.0]]),
                  "g": pa.array([nan], pa.float32()).take([0, 0, 0])})
    assert not a.equals(a), "Arrow: NaN != NaN, so a month with one never verified"
    assert fmt.same_rows(a, a)
    b = a.set_column(0, "f", pa.array([nan, 1.0, 0.0]))
    assert not fmt.same_rows(a, b), "NULL is not 0"
    c = a.set_column(1, "l", pa.array([[nan], None, [0.0]]))
    assert not fmt.same_rows(a, c), "-0 is not 0"


def test_the_day_column_takes_a_name_no_table_column_has():
    assert fmt.day_field({"id", "day"}) == "_day"
    assert fmt.day_field({"id", "_day"}) == "__day"
    assert fmt.day_field({"_day", "__day"}) == "___day"
    columns = fmt.columns_for({"_day": "text", "x": "integer"})
    schema = fmt.arrow_schema("t", columns)
    assert schema.names == ["_day", "x", "__day"] and fmt.day_of(schema) == "__day"
