"""The cross-tier reader: a day range's rows from core and main, each row once."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from persys_pipelines import handles
from persys_pipelines.handles import setup_tiers
from persys_pipelines.lib.pg.tiers import connect
from persys_pipelines.lib.tiering import reader


def read(cfg, *args, **kwargs):
    """reader.read with the handles persys.yaml gives (handles.tiered_reader)."""
    return reader.read(handles.tiered_reader(cfg), *args, **kwargs)

UTC = dt.UTC


def add_metric(dsn: str, row_id: uuid.UUID, at: dt.datetime, value: float) -> None:
    with connect(dsn) as conn:
        conn.execute(
            "insert into health_metrics (id, measured_at, metric, value, unit) "
            "values (%s, %s, 'steps', %s, 'steps')", (row_id, at, value))


def test_rows_from_both_tiers_once_each_core_copy_wins(cfg, tier_dsns):
    setup_tiers(cfg)
    moving = uuid.uuid4()  # caught mid-move: copied to main, not yet deleted from core
    add_metric(tier_dsns["main"], uuid.uuid4(), dt.datetime(2024, 1, 1, 12, tzinfo=UTC), 1)
    add_metric(tier_dsns["main"], moving, dt.datetime(2024, 1, 2, 12, tzinfo=UTC), 2)
    add_metric(tier_dsns["core"], moving, dt.datetime(2024, 1, 2, 12, tzinfo=UTC), 20)
    add_metric(tier_dsns["core"], uuid.uuid4(), dt.datetime(2024, 1, 3, 12, tzinfo=UTC), 3)
    add_metric(tier_dsns["core"], uuid.uuid4(), dt.datetime(2024, 1, 4, 12, tzinfo=UTC), 4)

    rows = read(cfg, "health_metrics", dt.date(2024, 1, 1), dt.date(2024, 1, 3),
                       columns=("value",))
    assert sorted(zip(rows["day"], rows["value"], strict=True)) == [
        (dt.date(2024, 1, 1), 1.0), (dt.date(2024, 1, 2), 20.0), (dt.date(2024, 1, 3), 3.0)]
    assert "id" in rows.columns  # the primary key always comes along


def test_day_is_the_local_calendar_day(cfg, tier_dsns):
    """23:30 UTC on 30 June is 00:30 on 1 July in London (BST)."""
    setup_tiers(cfg)
    add_metric(tier_dsns["core"], uuid.uuid4(), dt.datetime(2024, 6, 30, 23, 30, tzinfo=UTC), 5)
    june = read(cfg, "health_metrics", dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    july = read(cfg, "health_metrics", dt.date(2024, 7, 1), dt.date(2024, 7, 1))
    assert len(june) == 0 and list(july["day"]) == [dt.date(2024, 7, 1)]


def test_undated_rows_and_open_ranges(cfg, tier_dsns):
    """Open tasks never move (only_when: done); include_undated brings them along."""
    setup_tiers(cfg)
    with connect(tier_dsns["core"]) as conn:
        conn.cursor().executemany(
            "insert into tasks (title, status, created_at, completed_at) values (%s, %s, %s, %s)",
            [("open", "open", dt.datetime(2024, 1, 1, tzinfo=UTC), None),
             ("old", "done", dt.datetime(2024, 1, 1, tzinfo=UTC),
              dt.datetime(2024, 1, 2, 12, tzinfo=UTC)),
             ("new", "done", dt.datetime(2024, 1, 1, tzinfo=UTC),
              dt.datetime(2024, 3, 2, 12, tzinfo=UTC))])
    dated = read(cfg, "tasks", dt.date(2024, 2, 1), None)
    both = read(cfg, "tasks", dt.date(2024, 2, 1), None, include_undated=True,
                       day_columns={"created_day": "created_at"})
    assert list(dated["title"]) == ["new"]
    assert sorted(both["title"]) == ["new", "open"]
    assert set(both["created_day"]) == {dt.date(2024, 1, 1)}


def test_clear_errors(cfg, tier_dsns):
    setup_tiers(cfg)
    with pytest.raises(reader.ReaderError, match="has no column 'colour'"):
        read(cfg, "tasks", None, None, columns=("colour",))
    with pytest.raises(reader.ReaderError, match="tables.nope"):
        read(cfg, "nope", None, None)


def test_a_tier_without_the_table_is_skipped(cfg, tier_dsns):
    setup_tiers(cfg)
    with connect(tier_dsns["main"]) as conn:
        conn.execute("drop table persys.daily_summaries")
    rows = read(cfg, "daily_summaries", dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    assert len(rows) == 0 and "summary_text" in rows.columns


def test_the_columns_a_query_sees_are_the_catalogs(tier_dsns):
    """The reader learns a table's columns from a `where false` select (free on a new connection,
    where a catalog query is not): it must name them as `table_columns` does, in table order,
    for the shapes people have (a dropped column, a partitioned table, the day types), and
    say None for a table that is not there (other types are only shown in messages)."""
    from persys_pipelines.lib.pg.catalog import query_columns, table_columns

    with connect(tier_dsns["core"], autocommit=True) as conn:
        conn.execute("create table keyed (a int, gone int, b text, c date, t timestamptz, "
                     "n timestamp, primary key (c, a))")
        conn.execute("alter table keyed drop column gone")
        conn.execute("create table parted (id bigint generated always as identity, d date not null,"
                     " at timestamptz, primary key (id, d)) partition by range (d)")
        for name in ("keyed", "parted"):
            seen, catalog = query_columns(conn, name), table_columns(conn, name)
            assert list(seen) == list(catalog)
            days = {c: t for c, t in catalog.items() if t.startswith(("date", "timestamp"))}
            assert days and {c: seen[c] for c in days} == days
        assert list(query_columns(conn, "keyed")) == ["a", "b", "c", "t", "n"]
        assert query_columns(conn, "missing") is None


def test_a_column_added_between_two_reads_is_seen(cfg, tier_dsns):
    """What the catalog said is kept for one read call only: the next call sees the change."""
    setup_tiers(cfg)
    add_metric(tier_dsns["core"], uuid.uuid4(), dt.datetime(2024, 1, 3, 12, tzinfo=UTC), 3)
    day = dt.date(2024, 1, 3)
    assert "note" not in read(cfg, "health_metrics", day, day).columns
    with connect(tier_dsns["core"]) as conn:
        conn.execute("alter table health_metrics add column note text default 'hi'")
    assert list(read(cfg, "health_metrics", day, day)["note"]) == ["hi"]


@pytest.mark.parametrize("zone", ["UTC", "Europe/London", "America/New_York", "+05:30"])
def test_the_fast_frame_is_the_frame_pandas_makes(tier_dsns, zone):
    """Aware timestamps are converted at once (lib/tiering/frames.py): the frame must equal
    `pd.DataFrame(rows, columns=names)`, dtypes included, in any session zone, across DST
    changes, with NULLs, an all-NULL column, naive timestamps, dates and repeated names."""
    import pandas as pd

    from persys_pipelines.lib.tiering.frames import rows_frame

    with connect(tier_dsns["core"]) as conn:
        conn.execute("select set_config('timezone', %s, false)", (zone,))
        cur = conn.execute(
            """select g, timestamptz '2024-03-31 00:30+00' + g * interval '17 minutes' as at,
                      case when g % 4 = 0 then null
                           else timestamptz '2024-10-27 00:10+00' + g * interval '7 minutes'
                      end as maybe,
                      null::timestamptz as never,
                      timestamp '2024-03-31 00:30' + g * interval '1 hour' as naive,
                      date '2024-03-31' + g as day, 'x' || g as at,
                      timestamptz '0001-01-03 00:00+00' + g * interval '1 day' as old,
                      timestamptz '9999-12-01 00:00+00' + g * interval '11 hours' as late,
                      case when g % 3 = 0 then null else g end as some_int,
                      case when g % 3 = 0 then null else g % 2 = 0 end as some_bool,
                      g * 1.25::numeric(8, 2) as amount, gen_random_uuid() as id,
                      jsonb_build_object('g', g) as doc, array['a', 'b' || g] as tags,
                      case when g % 2 = 0 then null else 'x' end as some_text
                 from generate_series(0, 40) g""")
        rows, names = cur.fetchall(), [d.name for d in cur.description]
        empty = conn.execute("select now() as at where false")
        nothing = (empty.fetchall(), [d.name for d in empty.description])
    pd.testing.assert_frame_equal(rows_frame(rows, names), pd.DataFrame(rows, columns=names))
    pd.testing.assert_frame_equal(rows_frame(*nothing), pd.DataFrame(nothing[0],
                                                                     columns=nothing[1]))


def test_a_view_reads_like_a_table(cfg, tier_dsns):
    """daily.sources may name a view: its columns come from the same `where false` select."""
    from persys_pipelines.lib.config import TablePolicy

    setup_tiers(cfg)
    add_metric(tier_dsns["core"], uuid.uuid4(), dt.datetime(2024, 1, 3, 12, tzinfo=UTC), 3)
    with connect(tier_dsns["core"]) as conn:
        conn.execute("create view steps as select measured_at, value from health_metrics")
    day = dt.date(2024, 1, 3)
    policy = TablePolicy(day_column="measured_at", core_days=0)
    rows = read(cfg, "steps", day, day, policy=policy)
    assert list(rows["value"]) == [3.0] and list(rows["day"]) == [day]
