"""Rows of any size archive: a journal body of 3 MiB and one of 50 MiB (longer than Arrow's
1 MiB CSV block) go to Parquet, verify, and come back byte for byte."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pyarrow as pa

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier, setup_tiers
from persys_pipelines.lib.archive import format as fmt
from persys_pipelines_tests.archive_helpers import LATER, count

TABLE = "journal_entries"
MIB = 1 << 20


def big_text(size: int, seed: bytes) -> str:
    """`size` characters of hex (incompressible), with quotes, commas and newlines in it so the
    value is quoted in the CSV and holds newlines, as a real long entry would."""
    body = os.urandom(size // 2).hex()
    return f'"{seed.decode()}",\n' + body[: size - len(seed) - 4]


def digests(cfg) -> dict[dt.date, str]:
    with resolve_tier(cfg, "main").connect() as conn:
        rows = conn.execute(f"select entry_date, sha256(convert_to(body, 'UTF8')) from {TABLE} "
                            "where octet_length(body) > 1000000").fetchall()
    return {day: bytes(h).hex() for day, h in rows}


def test_rows_bigger_than_a_csv_block_archive_and_restore_exactly(cfg):
    setup_tiers(cfg)
    values = {dt.date(2024, 2, 10): big_text(3 * MIB, b"three"),
              dt.date(2024, 2, 20): big_text(50 * MIB, b"fifty")}
    with resolve_tier(cfg, "main").connect() as conn:
        for day, body in values.items():
            conn.execute(f"insert into {TABLE} (entry_date, title, body) values (%s, %s, %s)",
                         (day, f"big {day}", body))
        for i in range(1, 29):  # ordinary rows around them
            conn.execute(f"insert into {TABLE} (entry_date, body) values (%s, %s)",
                         (dt.date(2024, 2, i), f"day {i}"))
        conn.commit()
    expected = {d: hashlib.sha256(v.encode()).hexdigest() for d, v in values.items()}
    assert digests(cfg) == expected

    results = handles.archive_due(cfg, LATER, tables=[TABLE])
    assert [(r.month, r.rows) for r in results] == [(dt.date(2024, 2, 1), 30)]
    assert count(cfg, TABLE) == 0
    assert handles.verify_archive(cfg).ok

    got = handles.restore(cfg, TABLE, dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert got.rows == 30 and count(cfg, TABLE) == 30
    assert digests(cfg) == expected, "the same values came back"
    assert handles.verify_archive(cfg).ok


def test_block_size_grows_only_when_a_row_needs_it():
    columns = fmt.columns_for({"id": "integer", "body": "text"})
    small = b"".join(b'%d,"x",2024-02-01\n' % i for i in range(1000))
    big = small + b'1000,"' + b"y" * (9 * MIB) + b'",2024-02-02\n'
    for data, rows in ((small, 1000), (big, 1001)):
        batch = fmt._typed(fmt._read_csv(pa.py_buffer(data), "t", columns, 0), "t", columns)
        assert batch.num_rows == rows
    assert fmt._bigger_block(fmt.BLOCK_BYTES, 3 * MIB) == 3 * MIB + 1
    assert fmt._bigger_block(3 * MIB + 1, 3 * MIB) is None
    assert fmt._bigger_block(fmt.BLOCK_BYTES, 100 * MIB) == 8 * MIB
