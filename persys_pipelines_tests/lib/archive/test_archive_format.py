"""Arrays in the archive format: PostgreSQL's text form of `text[]` comes back element for
element, whatever the elements hold."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from persys_pipelines import handles
from persys_pipelines.lib.archive import format as fmt
from persys_pipelines.lib.moves import main_archive as archive
from persys_pipelines.lib.pg.tiers import resolve_tier
from persys_pipelines.lib.provision import setup_tiers

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
    assert fmt.parse_text_array('[0:1]={"x y",NULL}', "t.c") == ["x y", None]
