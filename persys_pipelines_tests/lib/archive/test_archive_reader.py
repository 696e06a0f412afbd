"""The cross-tier reader with the archive source: archived days read back like main's rows, so
daily summaries of archived days come out the same as before archiving."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.archive.crypto import new_key_text
from persys_pipelines.lib.config import TablePolicy
from persys_pipelines.lib.daily import summary
from persys_pipelines.lib.tiering import reader
from persys_pipelines_tests.archive_helpers import AS_OF_DATA, rows_in_main
from persys_pipelines_tests.conftest import DEFAULT_TABLES

from .test_crypto import with_keys


def read(cfg, *args, **kwargs):
    """reader.read with the handles persys.yaml gives (handles.tiered_reader)."""
    return reader.read(handles.tiered_reader(cfg), *args, **kwargs)

FIRST, LAST = dt.date(2024, 2, 1), dt.date(2024, 4, 30)


def short_main(cfg, days: int = 20):
    """Every table keeps `days` in main: as of 2024-04-30, February and March are due."""
    tables = {t: TablePolicy(**{**p, "main_days": days, "core_days": 0})
              for t, p in DEFAULT_TABLES.items()}
    return cfg.model_copy(update={"tables": tables})


def test_summaries_of_archived_days_are_unchanged(cfg):
    cfg = with_keys(short_main(cfg), new_key_text("k1"))  # encrypted files: decrypted on read
    rows_in_main(cfg)
    before = [s.row() for s in summary.compute(handles.daily_handles(cfg), FIRST, LAST)]
    journal_before = read(cfg, "journal_entries", FIRST, LAST)

    results = handles.archive_due(cfg, AS_OF_DATA)
    assert {r.month for r in results if r.table == "journal_entries"} == {
        dt.date(2024, 2, 1), dt.date(2024, 3, 1)}
    assert {r.table for r in results} >= {"health_metrics", "tasks", "transactions",
                                          "shadow_work"}
    assert all(r.key_id == "k1" for r in results)
    with resolve_tier(cfg, "main").connect() as conn:
        left = conn.execute("select count(*) from journal_entries where entry_date < "
                            "'2024-04-01'").fetchone()[0]
    assert left == 0, "February and March now live only in the archive"

    after = [s.row() for s in summary.compute(handles.daily_handles(cfg), FIRST, LAST)]
    assert after == before, "a backfill of archived days gives the same numbers"
    journal = read(cfg, "journal_entries", FIRST, LAST)
    assert len(journal) == len(journal_before)
    key = ["id"]
    both = journal_before.merge(journal, on=key, suffixes=("", "_now"))
    assert len(both) == len(journal)
    for column in ("entry_date", "mood", "title", "body", "tags", "created_at", "day"):
        assert both[column].tolist() == both[f"{column}_now"].tolist(), column
    assert all(isinstance(v, uuid.UUID) for v in journal["id"])


def test_archive_rows_are_filtered_by_day_and_the_main_copy_wins(cfg):
    cfg = short_main(cfg)
    rows_in_main(cfg)
    handles.archive_due(cfg, AS_OF_DATA)
    empty = handles.archive_months(cfg, "journal_entries", [dt.date(2024, 3, 1)],
                                   as_of=AS_OF_DATA)[0]
    assert (empty.rows, empty.key) == (0, None), "an archived month has nothing left to move"
    march5 = read(cfg, "journal_entries", dt.date(2024, 3, 5), dt.date(2024, 3, 6),
                         columns=("body",))
    assert len(march5) and set(march5["day"]) <= {dt.date(2024, 3, 5), dt.date(2024, 3, 6)}
    assert {"body", "id", "day"} <= set(march5.columns) and "title" not in march5.columns

    # a row caught mid-restore: back in main while its archive file is still committed
    row_id = march5["id"].iloc[0]
    with resolve_tier(cfg, "main").connect() as conn:
        conn.execute("insert into journal_entries (id, entry_date, body) values "
                     "(%s, '2024-03-05', 'the main copy')", (row_id,))
    again = read(cfg, "journal_entries", dt.date(2024, 3, 5), dt.date(2024, 3, 6),
                        columns=("body",))
    assert len(again) == len(march5), "each row once"
    assert again.loc[again["id"] == row_id, "body"].tolist() == ["the main copy"]

    tasks = read(cfg, "tasks", dt.date(2024, 3, 1), dt.date(2024, 3, 31),
                        columns=("status",), day_columns={"created_day": "created_at"})
    assert len(tasks) and set(tasks["status"]) == {"done"}
    assert all(isinstance(d, dt.date) for d in tasks["created_day"])


def test_an_unreachable_store_is_an_error_only_where_days_were_archived(cfg):
    """With the archive store down, reading archived days fails with a clear message (a
    summary computed without them would be silently wrong); recent days still read."""
    import socket

    import pytest
    from pydantic import SecretStr

    from persys_pipelines.lib.archive.stores import StoreError

    cfg = short_main(cfg)
    rows_in_main(cfg)
    handles.archive_due(cfg, AS_OF_DATA)  # February and March leave main
    with socket.socket() as s:  # a port nothing listens on: the store "is down"
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    tiers = cfg.tiers.model_copy(update={"archive": cfg.tiers.archive.model_copy(
        update={"url": "s3://persys-archive", "endpoint_url": dead, "region": "us-east-1",
                "access_key_id": SecretStr("x"), "secret_access_key": SecretStr("y")})})
    down = cfg.model_copy(update={"tiers": tiers})
    with pytest.raises(StoreError, match=r"cannot be reached .* rows of journal_entries from "
                       r"2024-02-01 to 2024-03-31 were archived"):
        read(down, "journal_entries", dt.date(2024, 2, 1), dt.date(2024, 3, 31))
    recent = read(down, "journal_entries", dt.date(2024, 4, 15), dt.date(2024, 4, 30))
    assert len(recent) > 0


WIDE = """create table wide (
    id uuid primary key, small smallint, num integer, big bigint, maybe bigint, ratio real,
    score double precision, gap double precision, amount numeric(12,2), done boolean,
    unsure boolean, label text, nothing text, code varchar(8), tags text[], counts integer[],
    doc jsonb, day date, at timestamptz, naive timestamp, spent interval, blob bytea)"""


def test_the_fast_column_conversion_gives_what_one_value_at_a_time_gave(make_database):
    """Arrow converts most archived columns to the frame at once; the frame must be the one
    the per-value Python conversion made (dtype and values), NULLs included, for every kind
    of column persys archives."""
    import pandas as pd
    import pyarrow as pa
    from psycopg import sql

    from persys_pipelines.lib.archive import format as fmt
    from persys_pipelines.lib.archive.reader import frame_column, python_values
    from persys_pipelines.lib.pg.catalog import table_columns
    from persys_pipelines.lib.pg.tiers import connect

    with connect(make_database("wide")) as conn:
        conn.execute(WIDE)
        conn.execute("""insert into wide select gen_random_uuid(), g, g * 10, g * 1000000000000,
            case when g % 3 = 0 then null else g end, g / 3.0, g / 7.0,
            case when g % 2 = 0 then null else g end, g * 1.25, g % 2 = 0,
            case when g % 3 = 0 then null else g % 2 = 0 end, 'row ' || g,
            case when g % 2 = 0 then null else 'x' end, 'c' || g, array['a', 'b ' || g],
            array[g, null], jsonb_build_object('g', g, 'l', jsonb_build_array(1, 'two')),
            date '2024-03-01' + g, timestamptz '2024-03-01 10:00+00' + g * interval '1 hour',
            timestamp '2024-03-01 10:00' + g * interval '1 minute', g * interval '1 day',
            decode(md5(g::text), 'hex') from generate_series(1, 50) g""")
        pg_types = table_columns(conn, "wide")
        data = fmt.read_parquet(fmt.parquet_bytes(fmt.export_arrow(
            conn, "wide", pg_types, rows=sql.Identifier("wide"), day=sql.SQL("day")), level=3))
    ids = [uuid.UUID(bytes=b) for b in data.column("id").to_pylist()]
    made = frame_column(data.column("id"), "uuid")
    assert made == ids and [hash(u) for u in made] == [hash(u) for u in ids]
    assert [str(u) for u in made] == [str(u) for u in ids] and made[0] in set(ids)
    sliced = pa.chunked_array([data.column("id").chunk(0).slice(7, 5),
                               pa.array([None, ids[3].bytes], pa.binary(16))])
    assert frame_column(sliced, "uuid") == [*ids[7:12], None, ids[3]]
    offset = pa.chunked_array([data.column("id").chunk(0).slice(7, 5)])
    assert frame_column(offset, "uuid") == ids[7:12]
    for name, pg_type in pg_types.items():
        fast = pd.Series(frame_column(data.column(name), pg_type))
        slow = pd.DataFrame({name: python_values(data.column(name), pg_type)})[name]
        assert fast.dtype == slow.dtype, (name, fast.dtype, slow.dtype)
        pd.testing.assert_series_equal(fast, slow, check_names=False, obj=name)


@pytest.mark.parametrize("order", ["sorted", "shuffled"])
def test_a_day_range_of_a_file_is_what_a_filter_on_its_days_gives(order):
    """`read_days` decodes only the row groups whose statistics meet the range and slices the
    sorted rows by binary search; it must give what a filter gives, for sorted files (as the
    archive writes them), files that are not sorted, several row groups, open ends, days
    outside the file and a range between two rows."""
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    from persys_pipelines.lib.archive import format as fmt
    from persys_pipelines.lib.archive.reader import _day_range, read_days

    days = sorted(dt.date(2024, 3, 1) + dt.timedelta(days=d % 31 // 2 * 2)
                  for d in range(400))
    if order == "shuffled":
        random.Random(3).shuffle(days)
    table = pa.table({"n": list(range(len(days))), fmt.DAY: pa.array(days, pa.date32())})
    plain = fmt.parquet_bytes(table, level=1, row_group_rows=37)
    assert pq.ParquetFile(pa.BufferReader(plain)).num_row_groups > 10
    cases = [(dt.date(2024, 3, 10), dt.date(2024, 3, 10)), (dt.date(2024, 3, 5), None),
             (None, dt.date(2024, 3, 7)), (dt.date(2024, 3, 2), dt.date(2024, 3, 2)),
             (dt.date(2024, 2, 1), dt.date(2024, 2, 28)), (None, None),
             (dt.date(2024, 3, 29), dt.date(2024, 4, 30))]
    for first, last in cases:
        got = read_days(plain, ["n", fmt.DAY], first, last)
        want = fmt.read_parquet(plain)
        if first or last:
            want = want.filter(_day_range(first, last))
        assert sorted(got.column("n").to_pylist()) == sorted(want.column("n").to_pylist()), (
            first, last)
    assert read_days(plain, ["n", fmt.DAY], dt.date(2024, 3, 2), dt.date(2024, 3, 2)).num_rows == 0
