"""Nothing is deleted without a digest: archiving keeps each file's per-day digest, the purge
recomputes it from the file it deletes and refuses on any difference, and what remains of the
purged days (counts, sums, extremes, categories) equals what the rows gave."""

from __future__ import annotations

import datetime as dt
import json

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.archive import digest
from persys_pipelines.lib.archive.manifest import read_manifest
from persys_pipelines_tests.archive_helpers import LATER, rows_in_main

TABLE = "health_metrics"
PURGE_AS_OF = dt.date(2031, 6, 1)  # delete_days 2555: Feb..Apr 2024 are past it


def test_purge_keeps_a_digest_equal_to_the_rows_and_refuses_a_changed_one(cfg):
    rows_in_main(cfg)
    with resolve_tier(cfg, "main").connect() as conn:
        want = {d.isoformat(): (n, float(s), lo, hi, dict(zip(ms, cs, strict=True)))
                for d, n, s, lo, hi, ms, cs in conn.execute(
                    "select d, count(*), sum(value), min(value), max(value), "
                    "array_agg(metric order by metric), array_agg(c order by metric) from ("
                    " select (measured_at at time zone 'Europe/London')::date d, value, metric,"
                    " count(*) over (partition by (measured_at at time zone 'Europe/London')"
                    "::date, metric) c from health_metrics) x "
                    "where d < '2024-05-01' group by d").fetchall()}
    handles.archive_due(cfg, LATER, tables=[TABLE])
    store = handles.archive_stores(cfg).active
    files = read_manifest(store, TABLE).committed()
    assert files
    with resolve_tier(cfg, "main").connect() as conn:  # damage one kept digest
        conn.execute("update persys.digests set days = jsonb_set(days, array[%s, 'rows'], "
                     "'0') where source = %s", (files[0].min_day, files[0].key))
        conn.commit()
    purged = handles.purge_due(cfg, PURGE_AS_OF)
    assert {p.key for p in purged} == {store.uri(f.key) for f in files[1:]}
    assert store.exists(files[0].key), "a file whose digest changed is refused and stays"
    with resolve_tier(cfg, "main").connect() as conn:
        why = conn.execute("select detail->>'refused' from persys.ledger where route = 'purge' "
                           "and state = 'failed'").fetchone()[0]
        assert "digest" in why
        kept = {d: v for d, v in conn.execute(  # a day's digest, as SQL reads it
            "select d.key, d.value from persys.digests, jsonb_each(days) d "
            "where table_name = %s", (TABLE,))}
    for day, (n, total, lo, hi, metrics) in want.items():
        got = kept[day]
        if day == files[0].min_day:
            continue
        value = got["columns"]["value"]
        assert (got["rows"], value["count"]) == (n, n)
        assert abs(value["sum"] - total) < 1e-6 and (value["min"], value["max"]) == (lo, hi)
        assert got["columns"]["metric"]["values"] == {m: c for m, c in metrics.items()}
    month = digest.merge([kept[d] for d in kept if d.startswith("2024-03")])
    assert month["rows"] == sum(n for d, (n, *_) in want.items() if d.startswith("2024-03"))
    digest_files = [o.key for o in store.list(".persys/digests/")]
    assert len(digest_files) == len(files) - 1


def test_deletions_are_told_ahead_once_with_how_to_keep_them(cfg, tmp_path):
    from persys_pipelines.lib.monitoring import retention, status
    from persys_pipelines.lib.monitoring.notify import Notifier

    class Recorder:
        name = "recorder"

        def __init__(self) -> None:
            self.sent: list[tuple[str, str]] = []

        def send(self, subject: str, body: str) -> None:
            self.sent.append((subject, body))

    rows_in_main(cfg)
    handles.archive_due(cfg, LATER, tables=[TABLE])
    stores = handles.archive_stores(cfg, check=False)
    assert retention.upcoming(stores, cfg.tables, PURGE_AS_OF - dt.timedelta(days=200)) == []
    soon = retention.upcoming(stores, cfg.tables, dt.date(2031, 4, 20))
    assert soon and all(u.table == TABLE for u in soon)
    assert soon[0].on <= dt.date(2031, 5, 4)
    channel = Recorder()
    alerts = Notifier(resolve_tier(cfg, "main").connect, [channel])
    retention.announce(alerts, soon)
    retention.announce(alerts, soon)  # told once per file, however often the sensor ticks
    assert len(channel.sent) == len(soon)
    assert "persys archive pin" in channel.sent[0][1] and TABLE in channel.sent[0][0]
    handles.purge_due(cfg, PURGE_AS_OF)
    doc = handles.status(cfg, PURGE_AS_OF)
    assert doc["digests"][TABLE]["days"] >= 80
    assert "all that remains of it once purged" in status.render(doc)


def test_digests_kept_a_row_per_day_become_a_row_per_file(cfg):
    """The first version kept a row per day and file; reading them brings the table to one
    row per file (a month's days compressed as one value), with the same digests."""
    from persys_pipelines.lib.monitoring.retention import digest_summary
    from persys_pipelines.lib.pg.private import ensure_persys_schema

    day = {"v": 2, "rows": 3, "columns": {"value": {"count": 3, "sum": 6.5}}}
    with resolve_tier(cfg, "main").connect() as conn:
        ensure_persys_schema(conn)
        conn.execute("create table persys.digests (table_name text not null, day date not "
                     "null, source text not null, digest jsonb not null, created_at "
                     "timestamptz not null default now(), primary key (table_name, day, source))")
        for d, source in (("2024-01-01", "f1"), ("2024-01-02", "f1"), ("2024-01-31", "f2")):
            conn.execute("insert into persys.digests (table_name, day, source, digest) "
                         "values ('t', %s, %s, %s::jsonb)", (d, source, json.dumps(day)))
        conn.commit()
        before = digest_summary(conn)
        assert digest.stored(conn, "t", "f1") == {"2024-01-01": day, "2024-01-02": day}
        conn.commit()
        assert conn.execute("select source, first_day::text, last_day::text from "
                            "persys.digests order by 1").fetchall() == [
            ("f1", "2024-01-01", "2024-01-02"), ("f2", "2024-01-31", "2024-01-31")]
        after = digest_summary(conn)
        assert {k: v for k, v in after["t"].items() if k != "bytes"} == {
            k: v for k, v in before["t"].items() if k != "bytes"} == {
            "days": 3, "first_day": "2024-01-01", "last_day": "2024-01-31"}
        assert conn.execute("select relrowsecurity from pg_class "
                            "where oid = 'persys.digests'::regclass").fetchone()[0]
        assert conn.execute("select to_regclass('persys.digests_per_day')").fetchone()[0] is None


def test_a_pin_keeps_archived_days_from_the_purge_until_unpinned(cfg, capsys):
    """`persys archive pin` keeps days past delete_days in the archive: the purge leaves every
    file holding one, the notices and the briefing stop telling them; unpin lets them go."""
    from persys_pipelines.cli import main

    rows_in_main(cfg)
    handles.archive_due(cfg, LATER, tables=[TABLE])
    store = handles.archive_stores(cfg).active
    files = read_manifest(store, TABLE).committed()
    march = {f.key for f in files if f.month == "2024-03"}
    assert march and len(files) > len(march)
    told = {u.key for u in handles.deletions_ahead(cfg, dt.date(2031, 4, 20))}
    assert march <= told
    assert main(["archive", "pin", TABLE, "--from", "2024-03-10", "--to", "2024-03-10"]) == 0
    assert f"pinned {TABLE} 2024-03-10..2024-03-10 until" in capsys.readouterr().out
    told = {u.key for u in handles.deletions_ahead(cfg, dt.date(2031, 4, 20))}
    assert told and not march & told
    assert {p.key for p in handles.purge_due(cfg, PURGE_AS_OF, dry_run=True)} == {
        store.uri(f.key) for f in files if f.key not in march}
    handles.purge_due(cfg, PURGE_AS_OF)
    assert all(store.exists(k) for k in march), "a pinned day keeps its file"
    assert not any(store.exists(f.key) for f in files if f.key not in march)
    assert main(["archive", "unpin", TABLE]) == 0
    handles.purge_due(cfg, PURGE_AS_OF)
    assert not any(store.exists(k) for k in march), "unpinned: purged as any other"


def test_pin_refuses_what_it_cannot_keep(cfg, capsys):
    from persys_pipelines.cli import main

    assert main(["archive", "pin", "nope", "--from", "2024-03-10", "--to", "2024-03-11"]) != 0
    assert "nope: not in persys.yaml tables" in capsys.readouterr().err
    assert main(["archive", "pin", TABLE, "--from", "2024-03-10", "--to", "2024-03-11",
                 "--days", "0"]) != 0
    assert "--days 0" in capsys.readouterr().err
    assert main(["archive", "pin", TABLE, "--from", "2024-03-10", "--to", "2024-03-11",
                 "--days", "1000000000"]) != 0
    assert "--days 1000000000: give a number of days from 1 to 36500" in capsys.readouterr().err
    assert main(["archive", "pin", TABLE, "--from", "2024-03-12", "--to", "2024-03-11"]) != 0
    assert "is after --to" in capsys.readouterr().err
