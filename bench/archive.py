"""Archive one year of journal-like rows with the project's code, against baselines run in the
same process on the same rows:

    .venv/bin/python bench/archive.py [--rows 333000] [--repeat 3]

- baseline: COPY (csv) → Arrow (pyarrow's CSV reader) → Parquet zstd (pyarrow defaults);
- DuckDB's Parquet writer (zstd) on that same Arrow table (size);
- `pg_dump -Fc` of the same table (size and time, for reference).
Ours: `export and write` = COPY → typed Arrow → Parquet per month (lib/archive/format.py; a
month encoded while the next is exported, lib/archive/overlap.py), and
the whole verified archive (`archive.archive_due`: export, write, read-back verify, manifest,
delete from main, ledger). Last lines: archive_size_vs_duckdb, archive_write_vs_copy_arrow,
archive_vs_copy_arrow.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import random
import subprocess
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import duckdb
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from persys_pipelines import handles
from persys_pipelines.lib.archive import format as fmt
from persys_pipelines.lib.calendar import month_span
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.moves import main_archive as archive
from persys_pipelines.lib.moves.overlap import overlapped
from persys_pipelines.lib.pg.schema import create_ledger, create_personal_tables
from persys_pipelines.lib.pg.tiers import connect, ensure_database
from persys_pipelines.lib.sample_data import JOURNAL_TAGS, WORDS

YEAR = dt.date(2023, 1, 1)


def rows(n: int, seed: int = 5):
    rng = random.Random(seed)
    per_day = n / 365
    for i in range(n):
        day = YEAR + dt.timedelta(days=int(i / per_day))
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 70)))
        yield (uuid.UUID(int=rng.getrandbits(128), version=4), day, rng.randint(1, 10),
               rng.choice(["Morning pages", "Evening notes", "Reflection", None]),
               words.capitalize() + ".", rng.sample(JOURNAL_TAGS, rng.randint(0, 3)),
               dt.datetime.combine(day, dt.time(rng.randint(6, 23), rng.randint(0, 59)),
                                   dt.UTC))


def load(dsn: str, n: int) -> None:
    with connect(dsn) as conn:
        create_personal_tables(conn)
        create_ledger(conn)
        with conn.cursor() as cur, cur.copy(
            "copy journal_entries (id, entry_date, mood, title, body, tags, created_at) "
            "from stdin") as copy:
            for row in rows(n):
                copy.write_row(row)


def baseline(dsn: str, out: Path):
    started = time.perf_counter()
    buf = io.BytesIO()
    with connect(dsn) as conn, conn.cursor() as cur, cur.copy(
            "copy (select * from journal_entries) to stdout (format csv, header)") as copy:
        for chunk in copy:
            buf.write(chunk)
    table = pacsv.read_csv(io.BytesIO(buf.getbuffer()),
                           parse_options=pacsv.ParseOptions(newlines_in_values=True))
    pq.write_table(table, out, compression="zstd")
    return time.perf_counter() - started, out.stat().st_size, table


def ours_write(cfg, dsn: str) -> tuple[float, int]:
    """Export and write alone, month by month, with the archive's own functions and its
    overlap (month k's Parquet encoded while month k+1 is exported; no store, no verify, no
    delete)."""
    started = time.perf_counter()
    sizes: list[int] = []
    level = cfg.tiers.archive.compression_level
    with connect(dsn) as conn:
        def export(month: int):
            first, last = month_span(dt.date(2023, month, 1))
            data = archive.export_rows(conn, handles.spec(cfg, "journal_entries"), first, last)
            conn.rollback()
            return data

        overlapped(range(1, 13), export, lambda data: fmt.parquet_bytes(data, level=level),
                   lambda _, plain: sizes.append(len(plain)))
    return time.perf_counter() - started, sum(sizes)


def config(tmp: Path, core_dsn: str, main_dsn: str, rep: int):
    """persys.yaml for one repetition: a fresh archive folder, everything due."""
    doc = {"home": str(tmp / "home"), "tiers": {
        "core": {"dsn": core_dsn}, "main": {"dsn": main_dsn},
        "archive": {"url": f"file://{tmp}/archive-{rep}"}},
        "tables": {"journal_entries": {"day_column": "entry_date", "core_days": 0,
                                       "main_days": 0}}}
    (tmp / "persys.yaml").write_text(yaml.safe_dump(doc))
    return load_config(tmp / "persys.yaml")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=333_000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each side; the best time of each is compared")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import pgserver

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stop:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)
        server = pgserver.get_server(tmp / "pg", cleanup_mode="stop")
        stop.callback(server.cleanup)  # stopped while its folder still exists
        admin = server.get_uri("postgres")
        for db in ("bench_main", "bench_core"):
            ensure_database(admin, db)
        main_dsn, core_dsn = server.get_uri("bench_main"), server.get_uri("bench_core")
        load(main_dsn, args.rows)
        with connect(main_dsn, autocommit=True) as conn:
            conn.execute("vacuum analyze journal_entries")
        with connect(main_dsn, autocommit=True) as conn:
            conn.execute("create table journal_snapshot as select * from journal_entries")
        with connect(core_dsn) as conn:
            create_personal_tables(conn)

        times: dict[str, list[float]] = {"base": [], "write": [], "whole": []}
        for rep in range(args.repeat):
            if rep:  # the archive deleted the rows: put the same rows back, in a table as
                # compact as the first run's (after a delete, an insert then vacuum leaves the
                # table twice its size, which slows the baseline's full scan, not our months)
                with connect(main_dsn, autocommit=True) as conn:
                    conn.execute("truncate journal_entries")
                    conn.execute("insert into journal_entries select * from journal_snapshot")
                    conn.execute("vacuum analyze journal_entries")
            cfg = config(tmp, core_dsn, main_dsn, rep)
            base_s, base_bytes, arrow_rows = baseline(main_dsn, tmp / "baseline.parquet")
            write_s, write_bytes = ours_write(cfg, main_dsn)
            started = time.perf_counter()
            results = handles.archive_due(cfg, dt.date(2024, 1, 1))
            times["whole"].append(time.perf_counter() - started)
            times["base"].append(base_s)
            times["write"].append(write_s)
            whole_bytes = sum(r.bytes for r in results)
            assert sum(r.rows for r in results) == args.rows
        base_s, write_s, whole_s = (min(times[k]) for k in ("base", "write", "whole"))

        started = time.perf_counter()
        duckdb.sql(f"copy (select * from arrow_rows) to '{tmp}/duck.parquet' "
                   "(format parquet, compression zstd)")
        duck_s, duck_bytes = time.perf_counter() - started, (tmp / "duck.parquet").stat().st_size
        pg_dump = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
        started = time.perf_counter()
        subprocess.run([str(pg_dump), "-Fc", "-t", "journal_snapshot", "-f",
                        str(tmp / "dump.fc"), main_dsn], check=True)
        dump_s, dump_bytes = time.perf_counter() - started, (tmp / "dump.fc").stat().st_size
        server.cleanup()

    mb = 1024 * 1024
    print(f"rows: {args.rows:,} journal-like rows over one year; best of {args.repeat} runs "
          "of each side (" + ", ".join(f"{k} " + "/".join(f"{t:.2f}" for t in v)
                                       for k, v in times.items()) + " s)")
    print(f"baseline COPY csv → Arrow → Parquet zstd: {base_s:.2f} s, {base_bytes / mb:.1f} MB")
    print(f"DuckDB Parquet zstd (same Arrow table): {duck_s:.2f} s, {duck_bytes / mb:.1f} MB")
    print(f"pg_dump -Fc: {dump_s:.2f} s, {dump_bytes / mb:.1f} MB")
    print(f"ours export + write (12 monthly files): {write_s:.2f} s, {write_bytes / mb:.1f} MB")
    print(f"ours whole verified archive (+ read-back, manifest, delete, ledger): {whole_s:.2f} s, "
          f"{whole_bytes / mb:.1f} MB")
    print(f"archive_size_vs_duckdb: {whole_bytes / duck_bytes:.3f}")
    print(f"archive_write_vs_copy_arrow: {write_s / base_s:.3f}")
    print(f"archive_vs_copy_arrow: {whole_s / base_s:.3f}")


if __name__ == "__main__":
    main()
