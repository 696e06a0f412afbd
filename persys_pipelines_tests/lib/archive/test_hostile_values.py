"""Every value round-trips exactly through every route (DESIGN invariant 10): the hostile
corpus (hostile.py) goes core → main → archive → read across tiers → restore → backup →
backup restore, compared as PostgreSQL text before and after, and read the same from every
tier."""

from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd
import pyarrow as pa

from persys_pipelines import handles
from persys_pipelines.handles import archive_stores, keyring, resolve_tier, setup_tiers
from persys_pipelines.lib.archive import format as fmt
from persys_pipelines.lib.archive.manifest import load_file, read_manifest
from persys_pipelines.lib.pg.tiers import PgTier
from persys_pipelines.lib.tiering import reader
from persys_pipelines_tests.lib.archive import hostile


def read(cfg, *args, **kwargs):
    """reader.read with the handles persys.yaml gives (handles.tiered_reader)."""
    return reader.read(handles.tiered_reader(cfg), *args, **kwargs)


def same(a, b) -> bool:
    """Equal, NaN equal to NaN, element by element in lists and dicts. (In a frame a NULL and
    a float NaN look alike, as pandas has it; the text comparisons tell them apart.)"""
    if isinstance(a, Decimal) and isinstance(b, Decimal) and a.is_nan() and b.is_nan():
        return True
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a)
                                                       == math.copysign(1, b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b or (missing(a) and missing(b))


def missing(value) -> bool:
    """What a frame shows for NULL: None, NaN or NaT (pandas makes one of the others)."""
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def assert_same_frames(got, want) -> None:
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    got, want = got.sort_values("id").reset_index(drop=True), want.sort_values(
        "id").reset_index(drop=True)
    for column in want.columns:
        for i, (g, w) in enumerate(zip(got[column].tolist(), want[column].tolist(), strict=True)):
            assert same(g, w), f"row {i} column {column}: {g!r} != {w!r}"


def read_all(cfg, tier: str | None = None):
    srcs = [s for s in reader.sources(handles.tiered_reader(cfg)) if tier is None or s.name == tier]
    return read(cfg, hostile.TABLE, hostile.FIRST, hostile.LAST, from_sources=srcs)


def test_the_corpus_round_trips_through_every_route(cfg, make_database):
    cfg = hostile.with_corpus(cfg)
    setup_tiers(cfg)
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    with core.connect() as conn:
        hostile.create(conn)
    before = hostile.text_rows(core)
    assert len(before) == len(hostile.ROWS)

    # core → main (binary COPY through the engine)
    run = handles.run_table(cfg, core, main, hostile.TABLE, hostile.MOVE_AS_OF)
    assert run.rows == len(hostile.ROWS)
    assert hostile.text_rows(main) == before and hostile.text_rows(core) == []
    from_main = read_all(cfg, "main")

    # main → archive: every month goes, the odd ones with their odd columns kept as text
    results = handles.archive_due(cfg, hostile.ARCHIVE_AS_OF, tables=[hostile.TABLE])
    assert [(r.month.month, r.rows, r.refused) for r in results] == [
        (1, 3, None), (2, 3, None), (3, 2, None)]
    assert hostile.text_rows(main) == []
    kinds = archived_kinds(cfg)
    assert kinds[1]["d"] == pa.date32() and kinds[1]["ints"] == pa.list_(pa.int32())
    assert kinds[1]["f8"] == pa.float64() and kinds[1]["p"] == pa.int32(), "domain: its base"
    assert kinds[2]["d"] == kinds[2]["ints"] == kinds[2]["n2"] == pa.string()
    assert kinds[3]["n2"] == pa.string() and kinds[3]["d"] == pa.date32()
    assert "__day" in kinds[1] and kinds[1]["_day"] == pa.string()

    # read across tiers: the archive's rows read as main's did
    assert_same_frames(read_all(cfg), from_main)

    # archive → main
    restored = handles.restore(cfg, hostile.TABLE, hostile.FIRST, hostile.LAST)
    assert restored.rows == len(hostile.ROWS)
    assert hostile.text_rows(main) == before
    assert_same_frames(read_all(cfg, "main"), from_main)

    # backup of main → restore into a fresh database, and over a wiped main (replace)
    backup = handles.backup(cfg, "main")
    fresh = PgTier("main", make_database("fresh"), embedded=False, quota_bytes=None)
    with fresh.connect() as conn:
        conn.execute(hostile.TYPES)
        conn.commit()
    handles.restore_backup(cfg, backup, [hostile.TABLE], into=fresh)
    assert hostile.text_rows(fresh) == before
    with main.connect() as conn:
        conn.execute("delete from hostile")
        conn.commit()
    handles.restore_backup(cfg, backup, [hostile.TABLE], replace=True)
    assert hostile.text_rows(main) == before


def archived_kinds(cfg) -> dict[int, dict[str, pa.DataType]]:
    """Month → column → the Arrow type its file keeps it as."""
    store, ring = archive_stores(cfg, check=False).primary, keyring(cfg)
    out = {}
    for entry in read_manifest(store, hostile.TABLE).committed():
        schema = fmt.read_parquet(load_file(store, ring, entry)[0]).schema
        out[int(entry.month[5:])] = {f.name: f.type for f in schema}
    return out
