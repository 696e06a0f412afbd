"""Ten years unattended (issue 24): a heavy person lived month by month, every row accounted for.

    .venv/bin/python bench/decade.py [--years 10] [--health-per-day 1000] [--out DIR]
        [--summaries-every 1] [--backup-every 1]

The sample data (bench/history.py's month by month) plus `--health-per-day` extra
health_metrics rows a day (heart rate every few seconds, generated deterministically). Each
simulated month: the month's rows are COPYed into core; then the app edits a few recent rows
(UPDATE), deletes a few and sends late rows (dated days or weeks earlier, some of them of days
already moved to main), each counted in a Python-side tally from what its statements returned;
then what the schedules do, with the `persys` commands run in this process: `persys lifecycle
run --as-of <next month's 1st> --yes` (core→main, main→archive, purge with digests), `persys
daily run --from A --to B` over the days not summarised yet (every `--summaries-every` months,
one ranged run), `persys backup run`
(every `--backup-every` months), and the instance retention job's prune (no CLI: its function,
with the cut-off at the month's start in wall time, i.e. keep_runs_days of simulated time).
Runs are recorded in a Dagster instance in the embedded PostgreSQL (database persys_dagster).

Policies are shortened so every route runs: core_days 7/30, main_days 365, delete_days 1095,
scaled down when --years is small (below 1 year: main_days 30, delete_days 60).

Per simulated year and at the end it prints rows lost, doubled and changed, per table and day:
the tally (every row written minus the app's deletes, count and sum of one number column)
against core + main + the archive's files + the digests of purged files (their row count and
that column's sum); core's peak size against its quota, main's size, archive bytes, digest
bytes (the archive's digest files, and main's persys.digests JSONB of the purged files)
against both the purged files' Parquet bytes and their rows' raw bytes (decoded, Arrow
`nbytes`), the median lifecycle run and the instance's size; and a PNG of the decade (core's
peak and month's average against the quota, run seconds, instance and archive sizes). At the
end, per route (the ledger's start and end of each step: core_main, main_archive, purge), its
median seconds a run in its first full year and in the last: the same month of work early and
late, which the whole run's ratio is not (year 1 neither archives nor purges). Last lines:
`decade_move_ratio_year_last_vs_year1: X` (core→main),
`decade_run_ratio_same_work_year_last_vs_yearN: X` (the whole lifecycle run of the months that
ran every route and moved no daily run's days, in the first full year with such months and in
the last) and `decade_run_ratio_year_last_vs_year1: X` (every month's lifecycle run).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import io
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import history  # noqa: E402

from persys_pipelines.handles import resolve_tier, setup_tiers  # noqa: E402
from persys_pipelines.lib import sample_data  # noqa: E402
from persys_pipelines.lib.config import load_config  # noqa: E402
from persys_pipelines.lib.pg.instance import prepare_dagster_home  # noqa: E402
from persys_pipelines.lib.pg.tiers import embedded_uri, stop_embedded  # noqa: E402
from persys_pipelines.lib.provision import ensure_partitions  # noqa: E402

TABLES = tuple(sample_data.COLUMNS)
DAY_COLUMN = {"journal_entries": "entry_date", "health_metrics": "measured_at",
              "tasks": "completed_at", "transactions": "occurred_on",
              "shadow_work": "entry_date"}
SUM_COLUMN = {"journal_entries": "mood", "health_metrics": "value", "tasks": "priority",
              "transactions": "amount", "shadow_work": "intensity"}
TIMESTAMPS = {"health_metrics", "tasks"}
DIGESTS = ".persys/digests"
MB = 2**20

Tally = dict  # (table, day or None) -> [rows, sum]


def policies(years: float) -> tuple[int, int]:
    """main_days, delete_days: a purge happens within the years simulated."""
    days = int(years * 365)
    if years < 1:
        return 30, 60
    delete = min(1095, max(60, int(days * 0.4)))
    return min(365, max(30, delete // 3)), delete


def policy_day(table: str, row, zone) -> dt.date | None:
    value = row[sample_data.COLUMNS[table].index(DAY_COLUMN[table])]
    if value is None:
        return None
    return value.astimezone(zone).date() if isinstance(value, dt.datetime) else value


def count(tally: Tally, table: str, day: dt.date | None, rows: int, total: float) -> None:
    have = tally.setdefault((table, day), [0, 0.0])
    have[0] += rows
    have[1] += total


def tally_rows(tally: Tally, rows: dict[str, list], zone) -> None:
    for table, table_rows in rows.items():
        i = sample_data.COLUMNS[table].index(SUM_COLUMN[table])
        for row in table_rows:
            count(tally, table, policy_day(table, row, zone), 1, float(row[i]))


def extra_health(day: dt.date, n: int, zone) -> list[tuple]:
    """`n` heart-rate readings over the day, the same for the same day."""
    rng = random.Random(day.toordinal() * 7919 + n)
    start = dt.datetime.combine(day, dt.time(), zone)
    out = []
    for k in range(n):
        at = start + dt.timedelta(seconds=k * 86400 // n)
        bpm = 58 + 22 * math.sin(math.pi * max(0.0, at.hour - 6) / 17) + rng.gauss(0, 5)
        out.append((uuid.UUID(int=rng.getrandbits(128), version=4), at, "heart_rate",
                    float(round(bpm)), "bpm", "watch"))
    return out


def app_activity(conn, tally: Tally, month: dt.date, month_rows: dict[str, list],
                 rng: random.Random, zone: str, zinfo) -> dict[str, int]:
    """What the person's app does in core this month: edits, deletes, late rows. The tally
    follows what the statements returned (an edit of a row no longer in core edits nothing)."""
    done = collections.Counter()
    health = month_rows["health_metrics"]
    recent = [r for r in health if r[1].astimezone(zinfo).date()
              >= month + dt.timedelta(days=20)] or health
    if recent:
        edit = [r[0] for r in rng.sample(recent, min(20, len(recent)))]
        for day, in conn.execute(
                "update health_metrics set value = value + 1 where id = any(%s) "
                "returning (measured_at at time zone %s)::date", (edit, zone)).fetchall():
            count(tally, "health_metrics", day, 0, 1.0)
            done["edited"] += 1
        gone = [r[0] for r in rng.sample(recent, min(10, len(recent))) if r[0] not in edit]
        for day, value in conn.execute(
                "delete from health_metrics where id = any(%s) "
                "returning (measured_at at time zone %s)::date, value", (gone, zone)).fetchall():
            count(tally, "health_metrics", day, -1, -float(value))
            done["deleted"] += 1
    journal = month_rows["journal_entries"]
    if journal:
        jid = rng.choice(journal)[0]
        for day, in conn.execute(
                "update journal_entries set mood = least(mood + 1, 10), title = 'edited' "
                "where id = %s and mood < 10 returning entry_date", (jid,)).fetchall():
            count(tally, "journal_entries", day, 0, 1.0)
            done["edited"] += 1
    spend = month_rows["transactions"]
    if spend:
        tid = rng.choice(spend)[0]
        for day, amount in conn.execute(
                "delete from transactions where id = %s returning occurred_on, amount",
                (tid,)).fetchall():
            count(tally, "transactions", day, -1, -float(amount))
            done["deleted"] += 1
    # late rows: health readings of 10-20 days ago (still in core), a journal entry of 12 days
    # ago and a purchase of 40 days ago (their days already moved to main)
    late: dict[str, list] = {t: [] for t in TABLES}
    for _ in range(30):
        day = month - dt.timedelta(days=rng.randint(10, 20))
        at = dt.datetime.combine(day, dt.time(rng.randint(0, 23), rng.randint(0, 59)), zinfo)
        late["health_metrics"].append((uuid.UUID(int=rng.getrandbits(128), version=4), at,
                                       "weight_kg", float(rng.randint(700, 800)) / 10, "kg",
                                       "scale"))
    day = month - dt.timedelta(days=12)
    late["journal_entries"].append((uuid.UUID(int=rng.getrandbits(128), version=4), day, 6,
                                    "Late note", "written on the train, sent later", ["ideas"],
                                    dt.datetime.combine(day, dt.time(21), zinfo)))
    day = month - dt.timedelta(days=40)
    late["transactions"].append((uuid.UUID(int=rng.getrandbits(128), version=4), day, -12.34,
                                 "GBP", "shopping", "Amazon", "late import"))
    sample_data.load(conn, late)
    tally_rows(tally, late, zinfo)
    done["late"] += sum(len(v) for v in late.values())
    conn.commit()
    return done


def tier_rows(cfg, tier: str) -> Tally:
    found: Tally = {}
    with resolve_tier(cfg, tier).connect() as conn:
        for table in TABLES:
            exists = conn.execute("select to_regclass(%s) is not null",
                                  (f"public.{table}",)).fetchone()[0]
            if not exists:
                continue
            col = DAY_COLUMN[table]
            day = f"({col} at time zone %s)::date" if table in TIMESTAMPS else col
            args = (cfg.timezone,) if table in TIMESTAMPS else ()
            for d, n, s in conn.execute(
                    f"select {day}, count(*), coalesce(sum({SUM_COLUMN[table]}), 0)::float8 "
                    f"from {table} group by 1", args).fetchall():
                count(found, table, d, n, s)
    return found


def archive_rows(cfg) -> Tally:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from persys_pipelines.handles import archive_stores, keyring
    from persys_pipelines.lib.archive import format as fmt
    from persys_pipelines.lib.archive.manifest import load_file, read_manifest

    store, ring = archive_stores(cfg, check=False).primary, keyring(cfg)
    found: Tally = {}
    for table in TABLES:
        for entry in read_manifest(store, table).committed():
            plain = load_file(store, ring, entry)[0]
            with pa.BufferReader(plain) as source:
                data = pq.read_table(source, columns=[fmt.DAY, SUM_COLUMN[table]])
            data = data.set_column(1, "v", pc.cast(data.column(1), pa.float64()))
            grouped = data.group_by(fmt.DAY).aggregate([("v", "count"), ("v", "sum")])
            for d, n, s in zip(*(grouped.column(c).to_pylist()
                                 for c in (fmt.DAY, "v_count", "v_sum")), strict=True):
                count(found, table, d, n, s or 0.0)
    return found


def digest_files(store_dir: Path) -> list[Path]:
    root = store_dir / DIGESTS
    return sorted(p for p in root.rglob("*") if p.name.endswith((".json", ".json.zst"))
                  ) if root.exists() else []


def read_digest(path: Path) -> dict:
    """A digest file: JSON, zstd-compressed (`.json.zst`) or plain (written before)."""
    import pyarrow as pa

    data = path.read_bytes()
    if path.name.endswith(".zst"):
        data = pa.CompressedInputStream(pa.BufferReader(data), "zstd").read()
    return json.loads(data)


def raw_bytes(cfg, known: dict[str, int]) -> None:
    """The rows of each archive file not measured yet, decoded (Arrow `nbytes`, without the
    archive's day column): what a purge deletes, uncompressed."""
    from persys_pipelines.handles import archive_stores, keyring
    from persys_pipelines.lib.archive import format as fmt
    from persys_pipelines.lib.archive.manifest import load_file, read_manifest

    store, ring = archive_stores(cfg, check=False).primary, keyring(cfg)
    for table in cfg.tables:
        for entry in read_manifest(store, table).committed():
            if entry.key not in known:
                data = fmt.read_parquet(load_file(store, ring, entry)[0])
                known[entry.key] = data.drop_columns([fmt.day_of(data.schema)]).nbytes


def main_digest_bytes(cfg, purged: set[str]) -> int:
    """Main's `persys.digests` of the purged files: their JSONB (pg_column_size); main also
    keeps the digests of the files still in the archive, not counted here."""
    with resolve_tier(cfg, "main").connect() as conn:
        if not conn.execute("select to_regclass('persys.digests') is not null").fetchone()[0]:
            return 0
        return conn.execute("select coalesce(sum(pg_column_size(days)), 0) from "
                            "persys.digests where source = any(%s)", (list(purged),)
                            ).fetchone()[0]


def purged_rows(cfg, store_dir: Path) -> tuple[Tally, int, int]:
    """Rows the digests of purged files stand for; digests checked against main's."""
    from persys_pipelines.lib.archive import digest

    found: Tally = {}
    verified = mismatched = 0
    with resolve_tier(cfg, "main").connect() as conn:
        for path in digest_files(store_dir):
            doc = read_digest(path)
            if doc["table"] not in SUM_COLUMN:  # daily_summaries, daily_projections
                continue
            kept = digest.stored(conn, doc["table"], doc["file"])
            if kept is not None and digest.same(kept, doc["days"]):
                verified += 1
            else:
                mismatched += 1
            for day, d in doc["days"].items():
                col = d["columns"].get(SUM_COLUMN[doc["table"]], {})
                count(found, doc["table"], dt.date.fromisoformat(day), d["rows"],
                      col.get("sum") or 0.0)
    return found, verified, mismatched


def compare(expected: Tally, parts: list[Tally]) -> tuple[int, int, int, list[str]]:
    """Rows lost, doubled, and days whose rows are all there but whose sum differs."""
    actual: Tally = {}
    for part in parts:
        for (table, day), (n, s) in part.items():
            count(actual, table, day, n, s)
    lost = doubled = changed = 0
    notes = []
    for key in sorted(set(expected) | set(actual), key=lambda k: (k[0], k[1] or dt.date.min)):
        e, a = expected.get(key, [0, 0.0]), actual.get(key, [0, 0.0])
        if a[0] < e[0]:
            lost += e[0] - a[0]
        elif a[0] > e[0]:
            doubled += a[0] - e[0]
        elif not math.isclose(a[1], e[1], rel_tol=1e-9, abs_tol=1e-6):
            changed += 1
        if a[0] != e[0] or not math.isclose(a[1], e[1], rel_tol=1e-9, abs_tol=1e-6):
            notes.append(f"{key[0]} {key[1]}: expected {e[0]} rows sum {e[1]:.2f}, "
                         f"found {a[0]} rows sum {a[1]:.2f}")
    return lost, doubled, changed, notes


def db_size(cfg, database: str) -> int:
    import psycopg

    with psycopg.connect(embedded_uri(cfg.home, database)) as conn:
        return conn.execute("select pg_database_size(current_database())").fetchone()[0]


def folder_bytes(store_dir: Path) -> dict[str, int]:
    """Bytes in the archive folder: digests, backups, the rest (archive files, manifests)."""
    out = collections.Counter()
    for path in store_dir.rglob("*"):
        if path.is_file():
            rel = path.relative_to(store_dir).as_posix()
            kind = ("digests" if rel.startswith(DIGESTS) else
                    "backups" if rel.startswith(".persys/backups") else "archive")
            out[kind] += path.stat().st_size
    return out


def manifest_bytes(cfg) -> dict[str, int]:
    from persys_pipelines.handles import archive_stores
    from persys_pipelines.lib.archive.manifest import read_manifest

    store = archive_stores(cfg, check=False).primary
    return {e.key: e.bytes for t in cfg.tables for e in read_manifest(store, t).committed()}


def archived_bytes(cfg, key: str) -> int:
    """A file's bytes from main's ledger (archived and purged within one lifecycle run, it
    was never in a manifest read before the run)."""
    with resolve_tier(cfg, "main").connect() as conn:
        row = conn.execute("select bytes from persys.ledger where route = 'main_archive' and "
                           "state = 'done' and detail->>'key' = %s", (key,)).fetchone()
    return row[0] if row else 0


def ledger_mark(cfg) -> int:
    """The newest ledger entry's id before a run (its routes' entries come after it)."""
    with resolve_tier(cfg, "main").connect() as conn:
        return conn.execute("select coalesce(max(id), 0) from persys.ledger").fetchone()[0]


def route_seconds(cfg, after: int) -> dict[str, float]:
    """Seconds each route's steps took in a run (the ledger's started/ended), summed per
    route: a run's own work, apart from its start-up and the Dagster records around it."""
    with resolve_tier(cfg, "main").connect() as conn:
        rows = conn.execute(
            "select route, sum(extract(epoch from ended_at - started_at)) from persys.ledger "
            "where id > %s and ended_at is not null group by 1", (after,)).fetchall()
    return {route: float(sec) for route, sec in rows}


def route_ratios(months: list[dict]) -> dict[str, tuple[float, float, int]]:
    """Per route: (median seconds in the first full year it ran, in the last year, that
    first year's number): the same work (a month of days through that route) early and late."""
    years = [months[y:y + 12] for y in range(0, len(months), 12)]
    out = {}
    for route in sorted({r for m in months for r in m["routes"]}):
        ran = [(n, [m["routes"][route] for m in y if route in m["routes"]])
               for n, y in enumerate(years, 1)]
        full = [(n, v) for n, v in ran if len(v) >= 6]
        if len(full) >= 2:
            (first_n, first), (_, last) = full[0], full[-1]
            out[route] = (statistics.median(first), statistics.median(last), first_n)
    return out


def same_work_ratio(months: list[dict]) -> tuple[float, float, int, int] | None:
    """The whole lifecycle run, like for like: months that ran every route the last year's
    months ran and that came after a month of the same kind (a daily run before it or not:
    its summaries' days move in this run), in the first full year where such months exist
    and in the last year. (median first, median last, that year, months compared)."""
    years = [months[y:y + 12] for y in range(0, len(months), 12)]
    if len(years) < 2:
        return None
    routes = set.intersection(*(set(m["routes"]) for m in years[-1])) if years[-1] else set()

    def plain(m: dict) -> bool:
        before = months[m["month"] - 2] if m["month"] > 1 else None
        return bool(before) and not before["daily_s"] and routes <= set(m["routes"])

    last = [m["lifecycle_s"] for m in years[-1] if plain(m)]
    for n, year in enumerate(years[:-1], 1):
        first = [m["lifecycle_s"] for m in year if plain(m)]
        if len(year) == 12 and len(first) >= 3 and last:
            return statistics.median(first), statistics.median(last), n, len(first)
    return None


def persys_quiet(persys, argv: list[str]) -> float:
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        code = persys(argv)
    if code:
        print(printed.getvalue())
        raise SystemExit(f"persys {' '.join(argv)}: exited {code}")
    return time.perf_counter() - t


def draw(months: list[dict], quota_mb: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [m["as_of"] for m in months]
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True, dpi=72)
    axes[0].plot(x, [m["core_peak"] / MB for m in months], label="core (peak of the month)")
    axes[0].plot(x, [m / MB for m in month_average(months)], linestyle=":",
                 label="core, the month's average (Supabase's 402 rule)")
    axes[0].plot(x, [m["main"] / MB for m in months], label="main")
    axes[0].axhline(quota_mb, color="red", linestyle="--", label=f"core quota {quota_mb:.0f} MB")
    axes[0].set_ylabel("MB")
    axes[0].legend(fontsize=8)
    axes[1].plot(x, [m["lifecycle_s"] for m in months], marker=".", label="lifecycle run")
    ran = [m for m in months if m["daily_s"]]
    axes[1].plot([m["as_of"] for m in ran], [m["daily_s"] for m in ran], marker=".",
                 label="daily run (the days since the last one)")
    axes[1].set_ylabel("seconds")
    axes[1].legend(fontsize=8)
    axes[2].plot(x, [m["instance"] / MB for m in months], label="Dagster instance")
    axes[2].plot(x, [m["archive"] / MB for m in months], label="archive files")
    axes[2].set_ylabel("MB")
    axes[2].legend(fontsize=8)
    axes[0].set_title("persys, a heavy person lived month by month")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def month_average(months: list[dict]) -> list[float]:
    """Core's average size over each month, for the fair-use rule (the billing period's
    average of the daily size): it grows from the last month's end to the peak before the
    move, so the mean of the two."""
    ends = [months[0]["core_end"], *(m["core_end"] for m in months[:-1])]
    return [(end + m["core_peak"]) / 2 for end, m in zip(ends, months, strict=True)]


def share(part: int, whole: int) -> str:
    return f"{part / whole * 100:.2f}%" if whole else "-"


def report(label: str, months: list[dict], check: tuple, cfg, purged_b: int,
           purged_raw: int) -> None:
    lost, doubled, changed, notes, verified, mismatched = check
    ms = [m["lifecycle_s"] for m in months]
    last = months[-1]
    quota = cfg.tiers.core.quota_mb
    peak = max(m["core_peak"] for m in months)
    pct = f" ({100 * peak / MB / quota:.1f}% of {quota} MB)" if quota else ""
    digest_b, main_b = last["digests"], last["main_digests"]
    print(f"{label}: rows lost {lost}, doubled {doubled}, changed {changed}; "
          f"rows written {last['written']:,}, app edits {last['edited']}, deletes "
          f"{last['deleted']}, late rows {last['late']}", flush=True)
    print(f"  core peak {peak / MB:.1f} MB{pct}, highest month's average "
          f"{max(month_average(months)) / MB:.1f} MB; main {last['main'] / MB:.1f} MB; "
          f"archive files {last['archive'] / MB:.1f} MB (+ backups {last['backups'] / MB:.1f} MB); "
          f"instance {last['instance'] / MB:.1f} MB", flush=True)
    print(f"  purged: {last['purged_files']} files, {purged_b / MB:.2f} MB of Parquet, "
          f"{purged_raw / MB:.2f} MB of rows decoded (raw, Arrow); {verified} digests verified, "
          f"{mismatched} mismatched", flush=True)
    print(f"  digests: archive digest files {digest_b / 1024:.1f} kB = {share(digest_b, purged_b)}"
          f" of the purged Parquet, {share(digest_b, purged_raw)} of the purged rows' raw bytes; "
          f"main's persys.digests of them (JSONB) {main_b / 1024:.1f} kB = "
          f"{share(main_b, purged_b)} / {share(main_b, purged_raw)}", flush=True)
    daily = [m["daily_s"] for m in months if m["daily_s"]] or [0.0]
    backup = [m["backup_s"] for m in months if m["backup_s"]] or [0.0]
    print(f"  lifecycle run median {statistics.median(ms):.1f} s (min {min(ms):.1f}, max "
          f"{max(ms):.1f}); daily run median {statistics.median(daily):.1f} s, backup median "
          f"{statistics.median(backup):.1f} s (of the months that ran them)", flush=True)
    for note in notes[:10]:
        print(f"    {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=10)
    parser.add_argument("--health-per-day", type=int, default=1000)
    parser.add_argument("--summaries-every", type=int, default=1,
                        help="daily summaries every N months (0: never)")
    parser.add_argument("--backup-every", type=int, default=1,
                        help="`persys backup run` every N months (0: never)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    out = Path(args.out or tempfile.mkdtemp(prefix="persys-decade-out-"))
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="persys-decade-", dir=args.out and out))
    days = max(28, int(args.years * 365))
    last = dt.date(2026, 11, 30)
    first = (last - dt.timedelta(days=days - 1)).replace(day=1)
    main_days, delete_days = policies(args.years)
    doc = yaml.safe_load((ROOT / "persys_pipelines" / "default_persys.yaml").read_text())
    doc.update(home=str(home / "state"), start_date=first.isoformat())
    for policy in doc["tables"].values():
        policy.update(main_days=main_days, delete_days=delete_days)
    config = home / "persys.yaml"
    config.write_text(yaml.safe_dump(doc))
    os.environ["PERSYS_CONFIG"] = str(config)
    cfg = load_config(config)
    zone = cfg.zone
    print(f"{first}..{last}: {len(history.month_starts(first, last))} months, "
          f"{args.health_per_day} extra health rows a day; core_days 7/30, main_days "
          f"{main_days}, delete_days {delete_days}; home {home}", flush=True)
    setup_tiers(cfg, sample_data=True)
    rows = sample_data.generate((last - first).days + 1, 7, last, zone)
    by_month: dict[dt.date, dict[str, list]] = collections.defaultdict(
        lambda: {t: [] for t in TABLES})
    for table, table_rows in rows.items():
        for row in table_rows:
            day = history.day_of(table, row, zone)
            by_month[(day or last).replace(day=1)][table].append(row)
    del rows
    prepare_dagster_home(cfg.home)
    store_dir = Path(cfg.archive_url.removeprefix("file://"))
    import dagster as dg

    from persys_pipelines.cli import main as persys
    from persys_pipelines.defs.housekeeping.retention import prune

    tally: Tally = {}
    app = collections.Counter()
    rng = random.Random(24)
    months: list[dict] = []
    purged_b = purged_raw = 0
    raw_known: dict[str, int] = {}  # archive file -> its rows' raw bytes
    purged_keys: set[str] = set()
    purged_by: collections.Counter = collections.Counter()  # table -> purged Parquet bytes
    raw_by: collections.Counter = collections.Counter()  # table -> purged rows' raw bytes
    digest_by: collections.Counter = collections.Counter()  # table -> its digest files' bytes
    unsummarised = first
    purged_files = 0
    written = 0
    all_months = history.month_starts(first, last)
    core = resolve_tier(cfg, "core")
    year_checks = []
    try:
        instance = dg.DagsterInstance.get()
        for i, month in enumerate(all_months, 1):
            wall0 = dt.datetime.now(dt.UTC)
            month_rows = by_month.pop(month, {t: [] for t in TABLES})
            next_month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            d = month
            while d < next_month and args.health_per_day:
                month_rows["health_metrics"] += extra_health(d, args.health_per_day, zone)
                d += dt.timedelta(days=1)
            with core.connect() as conn:
                # the tables the app writes (voice_messages gets its months from its runs)
                ensure_partitions(conn, {t: cfg.tables[t] for t in TABLES}, cfg.timezone, month,
                                  month + dt.timedelta(days=62))
                sample_data.load(conn, month_rows)
                tally_rows(tally, month_rows, zone)
                written += sum(len(v) for v in month_rows.values())
                app += app_activity(conn, tally, month, month_rows, rng, cfg.timezone, zone)
            core_peak = db_size(cfg, "persys_core")
            before = manifest_bytes(cfg)
            raw_bytes(cfg, raw_known)
            seen = set(digest_files(store_dir))
            mark = ledger_mark(cfg)
            lifecycle_s = persys_quiet(persys, ["lifecycle", "run", "--as-of",
                                                next_month.isoformat(), "--yes"])
            routes = route_seconds(cfg, mark)
            for path in set(digest_files(store_dir)) - seen:
                doc = read_digest(path)
                size = before.get(doc["file"]) or archived_bytes(cfg, doc["file"])
                raw = raw_known.get(doc["file"]) or doc.get("raw_bytes", 0)
                purged_by[doc["table"]] += size
                raw_by[doc["table"]] += raw
                digest_by[doc["table"]] += path.stat().st_size
                purged_b += size
                purged_raw += raw
                purged_keys.add(doc["file"])
                purged_files += 1
            daily_s = backup_s = 0.0
            if args.summaries_every and (i % args.summaries_every == 0
                                         or i == len(all_months)):
                # every day not summarised yet, in one ranged run
                daily_s = persys_quiet(persys, [
                    "daily", "run", "--from", unsummarised.isoformat(),
                    "--to", (next_month - dt.timedelta(days=1)).isoformat()])
                unsummarised = next_month
            if args.backup_every and i % args.backup_every == 0:
                backup_s = persys_quiet(persys, ["backup", "run"])
            # the daily retention job with keep_runs_days of simulated time: runs of earlier
            # months go (their partitions' status kept)
            pruned = prune(instance, wall0, kept_days=cfg.instance.keep_runs_days,
                           limit=100_000)
            sizes = folder_bytes(store_dir)
            m = {"month": i, "as_of": next_month, "lifecycle_s": lifecycle_s, "routes": routes,
                 "daily_s": daily_s, "backup_s": backup_s,
                 "core_peak": max(core_peak, core_end := db_size(cfg, "persys_core")),
                 "core_end": core_end,
                 "main": db_size(cfg, "persys_main"),
                 "instance": history.instance_stats(cfg.home)["bytes"],
                 "archive": sizes["archive"], "backups": sizes["backups"],
                 "digests": sizes["digests"], "main_digests": main_digest_bytes(cfg, purged_keys),
                 "written": written, "purged_files": purged_files,
                 "pruned_runs": pruned.runs, **app}
            months.append(m)
            print(f"month {i:3d} {month:%Y-%m}: lifecycle {lifecycle_s:5.1f} s, daily "
                  f"{daily_s:5.1f} s, backup {backup_s:5.1f} s; core {m['core_peak'] / MB:6.1f} "
                  f"MB, main {m['main'] / MB:6.1f} MB, archive {m['archive'] / MB:6.1f} MB, "
                  f"instance {m['instance'] / MB:5.1f} MB ({pruned.runs} runs pruned); "
                  f"{time.perf_counter() - started:5.0f} s", flush=True)
            if i % 12 == 0 or i == len(all_months):
                found = [tier_rows(cfg, "core"), tier_rows(cfg, "main"), archive_rows(cfg)]
                digested, verified, mismatched = purged_rows(cfg, store_dir)
                check = (*compare(tally, [*found, digested]), verified, mismatched)
                year_checks.append(check)
                chunk = months[-12:] if i % 12 == 0 else months[(i - 1) // 12 * 12:]
                label = f"year {(i - 1) // 12 + 1}" + (" (part)" if len(chunk) < 12 else "")
                report(label, chunk, check, cfg, purged_b, purged_raw)
        png = out / "decade.png"
        draw(months, cfg.tiers.core.quota_mb or 500, png)
    finally:
        stop_embedded(cfg.home)
    print()
    report("end", months, year_checks[-1], cfg, purged_b, purged_raw)
    print("  purged Parquet / raw rows / digest files, by table: " + ", ".join(
        f"{t} {purged_by[t] / 1024:.0f} kB / {raw_by[t] / 1024:.0f} kB / "
        f"{digest_by[t] / 1024:.1f} kB ({share(digest_by[t], purged_by[t])}, "
        f"{share(digest_by[t], raw_by[t])})"
        for t in sorted(purged_by, key=lambda t: -purged_by[t])))
    print(f"chart: {png}")
    print(f"took {time.perf_counter() - started:.0f} s")
    lost, doubled, changed, _, verified, mismatched = year_checks[-1]
    print(f"decade_rows_lost: {lost}")
    print(f"decade_rows_doubled: {doubled}")
    print(f"decade_rows_changed: {changed}")
    print(f"decade_digest_bytes: {months[-1]['digests']}")
    print(f"decade_purged_bytes: {purged_b}")
    print(f"decade_purged_raw_bytes: {purged_raw}")
    print(f"decade_main_digest_bytes: {months[-1]['main_digests']}")
    print(f"decade_digest_pct_of_parquet: {months[-1]['digests'] / max(purged_b, 1) * 100:.2f}")
    print(f"decade_digest_pct_of_raw: {months[-1]['digests'] / max(purged_raw, 1) * 100:.2f}")
    print(f"decade_digests_verified: {verified}")
    print(f"decade_digests_mismatched: {mismatched}")
    years = [months[y:y + 12] for y in range(0, len(months), 12)]
    full = [y for y in years if len(y) == 12] or years
    ratio = (statistics.median(m["lifecycle_s"] for m in full[-1])
             / statistics.median(m["lifecycle_s"] for m in full[0]))
    ratios = route_ratios(months)
    for route, (first, last, first_n) in ratios.items():
        print(f"  route {route}: median {first:.2f} s a run in year {first_n} (its first "
              f"full year), {last:.2f} s in the last year")
    moves = ratios.get("core_main")
    if moves:
        print(f"decade_move_ratio_year_last_vs_year1: {moves[1] / moves[0]:.2f}")
    same = same_work_ratio(months)
    if same:
        first, last, first_n, n = same
        print(f"  lifecycle run, same work (every route, no daily run's days to move): median "
              f"{first:.1f} s in year {first_n} ({n} months), {last:.1f} s in the last year")
        print(f"decade_run_ratio_same_work_year_last_vs_year{first_n}: {last / first:.2f}")
    print(f"decade_run_ratio_year_last_vs_year1: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
