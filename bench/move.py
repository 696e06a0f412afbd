"""Throughput of one verified core→main move against the physical baseline, a psql pipe.

    .venv/bin/python bench/move.py --rows 1000000 [--repeat 3]

Builds N journal-like rows over 3 years (~300-byte bodies, `text[]` tags, `timestamptz`) in the
core database of a fresh embedded server (core tables partitioned by month, as `persys setup`
makes them), then moves one year (a third of the rows), `--repeat` times (a different year each
time: 2022, 2021, 2023), each move right after the pipe copied the same year into an emptied
table (in turn, so a drift in the machine's speed meets both sides), comparing the best time
of each side so that one noisy sample on a shared 2-core machine does not decide:
  1. baseline: `psql -c "\\copy (select … one year …) to stdout (format binary)" |
     psql -c "\\copy journal_entries from stdin (format binary)"` into an empty main-shaped
     table of a third database;
  2. the engine's core→main route (`core_main.move_range`: binary COPY straight into main,
     in two streams for a range this large (`two_streams`), both servers' COPY counts; core's
     and main's checksums only where main could alter rows, i.e. never here; whole month
     partitions truncated in core, ledger).
A `CHECKPOINT` (untimed) precedes each timed side, so neither pays for writing out the
other's pages or for creating WAL files the other then reuses.
Prints the timings, this process's peak memory (it must not grow with N) and, last,
`copy_vs_copy_pipe: <ratio>` (copy phase) and `move_vs_copy_pipe: <ratio>` (whole move).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from persys_pipelines.lib.calendar import months_between
from persys_pipelines.lib.config import TablePolicy
from persys_pipelines.lib.moves import core_main as moves
from persys_pipelines.lib.moves.engine import Engine
from persys_pipelines.lib.pg.partitions import ensure_months
from persys_pipelines.lib.pg.schema import create_ledger, create_personal_tables
from persys_pipelines.lib.pg.tiers import PgTier, connect, ensure_database

ZONE = "Europe/London"
POLICY = TablePolicy(day_column="entry_date", core_days=7)
FIRST = dt.date(2021, 1, 1)
DAYS = 3 * 365


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(core_dsn: str, rows: int) -> None:
    with connect(core_dsn) as conn:
        create_personal_tables(conn, partitioned=True)
        ensure_months(conn, "journal_entries", POLICY, ZONE,
                      months_between(FIRST, FIRST + dt.timedelta(days=DAYS)))
        conn.execute(
            """insert into journal_entries (entry_date, mood, title, body, tags, created_at)
               select %(first)s::date + (g * %(days)s / %(n)s)::int,
                      1 + g %% 10,
                      'entry ' || g,
                      repeat(md5(g::text), 9) || ' ünïcode ✓',
                      array['work', 'tag ' || (g %% 7)],
                      %(first)s::timestamptz + (g * %(days)s / %(n)s) * interval '1 day'
                        + (g %% 86400) * interval '1 second'
                 from generate_series(0, %(n)s - 1) g""",
            {"first": FIRST, "days": DAYS, "n": rows},
        )
    with connect(core_dsn, autocommit=True) as conn:
        conn.execute("vacuum analyze journal_entries")


def checkpoint(admin_dsn: str) -> None:
    """Before each timed side: the previous side's dirty pages written and its WAL segments
    free for reuse, so neither side pays for the other's writes (or for creating WAL files
    the other would then reuse)."""
    with connect(admin_dsn, autocommit=True) as conn:
        conn.execute("checkpoint")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, choices=(1, 2, 3))
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    with tempfile.TemporaryDirectory(prefix="persys-bench-") as tmp, contextlib.ExitStack() as stop:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        stop.callback(server.cleanup)  # stopped while its folder still exists
        psql = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
        admin = server.get_uri("postgres")
        dsns = {}
        for name in ("core", "main", "pipe"):
            ensure_database(admin, f"bench_{name}")
            dsns[name] = server.get_uri(f"bench_{name}")
        t = time.perf_counter()
        build(dsns["core"], args.rows)
        for name in ("main", "pipe"):
            with connect(dsns[name]) as conn:
                create_personal_tables(conn)
                create_ledger(conn)
        print(f"built {args.rows:,} rows over 3 years in {time.perf_counter() - t:.1f}s")

        rss_before = peak_rss_mb()
        core = PgTier("core", dsns["core"], True, None)
        main_tier = PgTier("main", dsns["main"], True, None)
        pipes, runs = [], []
        for y in (2022, 2021, 2023)[: args.repeat]:  # in turn, so both sides share a drift
            select = ("select * from journal_entries where entry_date between "
                      f"'{y}-01-01' and '{y}-12-31'")  # the year the move takes next
            with connect(dsns["pipe"], autocommit=True) as conn:
                conn.execute("truncate journal_entries")
            checkpoint(admin)
            t = time.perf_counter()
            out = subprocess.Popen(
                [str(psql), "-X", "-q", dsns["core"], "-c",
                 f"\\copy ({select}) to stdout (format binary)"], stdout=subprocess.PIPE)
            into = subprocess.run(
                [str(psql), "-X", "-q", dsns["pipe"], "-c",
                 "\\copy journal_entries from stdin (format binary)"], stdin=out.stdout,
                check=True, capture_output=True)
            out.wait()
            pipes.append(time.perf_counter() - t)
            assert out.returncode == 0 and not into.stderr, into.stderr
            with connect(dsns["pipe"]) as conn:
                piped = conn.execute("select count(*) from journal_entries").fetchone()[0]
            checkpoint(admin)
            t = time.perf_counter()
            result = moves.move_range(Engine(main_tier), core, moves.MoveRange(
                "journal_entries", POLICY, ZONE, dt.date(y, 1, 1), dt.date(y, 12, 31)))
            runs.append((time.perf_counter() - t, result))
            assert abs(result.rows - piped) <= args.rows // 1000, (result.rows, piped)
        pipe_s = min(pipes)
        move_s, result = min(runs, key=lambda r: r[0])
        copy_s = min(r.seconds["copy"] for _, r in runs)
        print(f"rows moved: {result.rows:,} ({result.bytes / 1e6:.1f} MB binary COPY) a year")
        print("psql pipe: " + " / ".join(f"{p:.2f}s" for p in pipes) + f" (best {pipe_s:.2f}s)")
        for seconds, r in runs:
            rest = seconds - r.seconds["copy"] - r.seconds["verify"] - r.seconds["settle"]
            print(f"move {r.first_day.year}: {seconds:.2f}s = copy {r.seconds['copy']:.2f}s "
                  f"in {r.streams} stream{'s' if r.streams > 1 else ''} "
                  f"(core's checksum alongside: {r.seconds.get('verify_core', 0):.2f}s) + "
                  f"verify {r.seconds['verify']:.2f}s (main's own pass "
                  f"{r.seconds.get('verify_main', 0):.2f}s) + settle "
                  f"{r.seconds['settle']:.2f}s ({len(r.partitions_dropped)} month "
                  f"partitions truncated) + lock/ledger/schema {rest:.2f}s")
        print(f"peak memory of this process: {peak_rss_mb():.0f} MB "
              f"(before the moves {rss_before:.0f} MB)")
        print(f"copy_vs_copy_pipe: {pipe_s / copy_s:.2f}")
        print(f"move_vs_copy_pipe: {pipe_s / move_s:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
