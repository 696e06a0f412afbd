"""One day of a journal-shaped table read through the cross-tier reader, from each tier,
against the bare read of the same day in the same place:

    .venv/bin/python bench/read.py [--rows 1000000] [--days 30]

Builds N journal-like rows over 3 years (2021-2023) three times in a fresh embedded server:
in core (partitioned by month, as `persys setup` makes it), in main, and in the archive (a
file:// store, written by `handles.archive_due` from a third database, one file per month).
Then reads `--days` different days, one at a time, from each tier:
- ours: `reader.read(handles.tiered_reader(cfg), "journal_entries", day, day,
  from_sources=[<that tier's source>])`
  (a pandas DataFrame with the `day` column, values as psycopg gives them);
- bare, core and main: a new psycopg connection, `select * … where entry_date = %s`, fetchall;
- bare, archive: `pyarrow.dataset.dataset(<that month's file>).to_table(filter=day)`.
Both sides include opening what they read (a connection, the file), so a day read is what a
caller pays. Prints the median and best milliseconds of each and, last,
`read_core_vs_bare`, `read_main_vs_bare`, `read_archive_vs_bare` (medians).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.dataset as ds
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from persys_pipelines import handles
from persys_pipelines.handles import archive_stores, resolve_tier
from persys_pipelines.lib.archive import format as fmt
from persys_pipelines.lib.archive.manifest import read_manifest
from persys_pipelines.lib.calendar import months_between
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.pg.partitions import ensure_months
from persys_pipelines.lib.pg.schema import create_ledger, create_personal_tables
from persys_pipelines.lib.pg.tiers import connect, ensure_database
from persys_pipelines.lib.tiering import reader

ZONE = "Europe/London"
FIRST = dt.date(2021, 1, 1)
DAYS = 3 * 365
TABLE = "journal_entries"
INSERT = f"""insert into {TABLE} (entry_date, mood, title, body, tags, created_at)
   select %(first)s::date + (g * %(days)s / %(n)s)::int,
          1 + g %% 10,
          'entry ' || g,
          repeat(md5(g::text), 9) || ' ünïcode ✓',
          array['work', 'tag ' || (g %% 7)],
          %(first)s::timestamptz + (g * %(days)s / %(n)s) * interval '1 day'
            + (g %% 86400) * interval '1 second'
     from generate_series(0, %(n)s - 1) g"""


def build(dsn: str, rows: int, *, partitioned: bool, cfg=None) -> None:
    with connect(dsn) as conn:
        create_personal_tables(conn, partitioned=partitioned)
        create_ledger(conn)
        if partitioned:
            ensure_months(conn, TABLE, cfg.tables[TABLE], ZONE,
                          months_between(FIRST, FIRST + dt.timedelta(days=DAYS)))
        conn.execute(INSERT, {"first": FIRST, "days": DAYS, "n": rows})
    with connect(dsn, autocommit=True) as conn:
        conn.execute(f"vacuum analyze {TABLE}")


def config(tmp: Path, dsns: dict[str, str]):
    doc = {"home": str(tmp / "home"), "timezone": ZONE, "start_date": str(FIRST), "tiers": {
        "core": {"dsn": dsns["core"]}, "main": {"dsn": dsns["main"]},
        "archive": {"url": f"file://{tmp}/archive"}},
        "tables": {TABLE: {"day_column": "entry_date", "core_days": 0, "main_days": 0}}}
    (tmp / "persys.yaml").write_text(yaml.safe_dump(doc))
    return load_config(tmp / "persys.yaml")


def timed(fn: Callable[[dt.date], int], days: list[dt.date]) -> tuple[list[float], int]:
    out, rows = [], 0
    for day in days:
        t = time.perf_counter()
        rows += fn(day)
        out.append((time.perf_counter() - t) * 1000)
    return out, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    with (tempfile.TemporaryDirectory(prefix="persys-bench-") as tmp_name,
          contextlib.ExitStack() as stop):
        tmp = Path(tmp_name)
        server = pgserver.get_server(tmp / "pg", cleanup_mode="stop")
        stop.callback(server.cleanup)  # stopped while its folder still exists
        admin = server.get_uri("postgres")
        dsns = {}
        for name in ("core", "main", "arch"):
            ensure_database(admin, f"bench_{name}")
            dsns[name] = server.get_uri(f"bench_{name}")
        cfg = config(tmp, dsns)
        t = time.perf_counter()
        build(dsns["core"], args.rows, partitioned=True, cfg=cfg)
        build(dsns["main"], args.rows, partitioned=False)
        build(dsns["arch"], args.rows, partitioned=False)
        arch_cfg = config(tmp, {"core": dsns["core"], "main": dsns["arch"]})
        files = handles.archive_due(arch_cfg, dt.date(2024, 2, 1))
        # the archived rows left 1M dead rows there: autovacuum would clean them up at some
        # moment of the measurements below, so the database goes now (the files stay)
        with connect(admin, autocommit=True) as conn:
            conn.execute("drop database bench_arch with (force)")
        cfg = config(tmp, dsns)
        print(f"built {args.rows:,} rows over 3 years in core, main and the archive "
              f"({len(files)} month files) in {time.perf_counter() - t:.1f}s")

        step = DAYS // args.days
        days = [FIRST + dt.timedelta(days=3 + i * step) for i in range(args.days)]
        store = archive_stores(cfg, check=False).primary
        entries = read_manifest(store, TABLE).files

        def ours(source) -> Callable[[dt.date], int]:
            tiers = handles.tiered_reader(cfg)
            return lambda day: len(reader.read(tiers, TABLE, day, day, from_sources=[source]))

        def bare_pg(dsn: str) -> Callable[[dt.date], int]:
            def run(day: dt.date) -> int:
                with psycopg.connect(dsn) as conn:
                    return len(conn.execute(f"select * from {TABLE} where entry_date = %s",
                                            (day,)).fetchall())
            return run

        def bare_archive(day: dt.date) -> int:
            entry = next(e for e in entries if e.min_day <= str(day) <= e.max_day)
            data = ds.dataset(str(Path(tmp, "archive", entry.key)), format="parquet").to_table(
                filter=ds.field(fmt.DAY) == pa.scalar(day, pa.date32()))
            return data.num_rows

        results = {}
        for tier, source, bare in (
            ("core", reader.PostgresSource(resolve_tier(cfg, "core")), bare_pg(dsns["core"])),
            ("main", reader.PostgresSource(resolve_tier(cfg, "main")), bare_pg(dsns["main"])),
            ("archive", handles.archive_source(cfg), bare_archive),
        ):
            ours(source)(days[0])  # warm: imports, caches, first connection
            bare(days[0])
            mine, mine_rows = timed(ours(source), days)
            base, base_rows = timed(bare, days)
            assert mine_rows == base_rows > 0, (tier, mine_rows, base_rows)
            results[tier] = (mine, base, mine_rows // len(days))
        server.cleanup()

    for tier, (mine, base, per_day) in results.items():
        print(f"{tier}: reader {statistics.median(mine):.1f} ms (best {min(mine):.1f}), bare "
              f"{statistics.median(base):.1f} ms (best {min(base):.1f}), {per_day} rows a day, "
              f"{len(mine)} days")
    for tier, (mine, base, _) in results.items():
        print(f"read_{tier}_vs_bare: {statistics.median(mine) / statistics.median(base):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
