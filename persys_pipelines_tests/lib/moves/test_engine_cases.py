"""The issue's cases for the engine's archive routes: a lost or damaged manifest is rebuilt,
never a reason to delete; a file is deleted only on proof; a restore after a `timezone:`
change and after a column was widened; recomputed summaries of archived days replace them;
DuckDB (a reader we did not write) agrees with main before main's copy goes."""

from __future__ import annotations

import datetime as dt

import duckdb
import yaml

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.archive.manifest import load_file, manifest_key, read_manifest
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.daily.summary import store_days
from persys_pipelines.lib.tiering import reader
from persys_pipelines_tests.archive_helpers import LATER, count, rows_in_main, snapshot

TABLE = "journal_entries"
MUCH_LATER = dt.date(2026, 7, 1)  # transactions keep 730 days in main


def archived_rows(cfg, table: str = TABLE) -> int:
    return sum(e.rows for e in read_manifest(handles.archive_stores(cfg).active,
                                             table).committed())


def test_a_lost_manifest_is_rebuilt_and_no_file_is_deleted(cfg, config_path, capsys):
    from persys_pipelines.cli import main

    rows_in_main(cfg)
    before = snapshot(cfg, TABLE)
    handles.archive_due(cfg, LATER, tables=[TABLE])
    store = handles.archive_stores(cfg).active
    files = {o.key for o in store.list(f"{TABLE}/") if o.key.endswith(".parquet")}
    archived = archived_rows(cfg)
    assert files and archived
    store.delete(manifest_key(TABLE))  # a sync tool, a hand clean-up
    assert main(["lifecycle", "repair", "--config", str(config_path)]) == 1
    assert "no manifest" in capsys.readouterr().out
    handles.archive_due(cfg, LATER, tables=[TABLE])  # the next run repairs first
    assert {o.key for o in store.list(f"{TABLE}/") if o.key.endswith(".parquet")} == files
    assert archived_rows(cfg) == archived
    assert count(cfg, TABLE) + archived == len(before)
    handles.restore(cfg, TABLE, dt.date(2024, 1, 1), dt.date(2024, 12, 31), pin_days=0)
    assert snapshot(cfg, TABLE) == before


def test_a_damaged_manifest_stops_nothing_else_and_is_rebuilt(cfg, config_path, capsys):
    from persys_pipelines.cli import main

    rows_in_main(cfg)
    before = snapshot(cfg, TABLE)
    handles.archive_due(cfg, LATER, tables=[TABLE, "health_metrics"])
    store = handles.archive_stores(cfg).active
    store.put(manifest_key(TABLE), b'{"files": [{"key": ')  # cut off mid-write
    assert main(["archive", "verify", "--config", str(config_path)]) == 1
    assert "lifecycle repair" in capsys.readouterr().out
    assert handles.verify_archive(cfg.model_copy(update={"tables": {
        "health_metrics": cfg.tables["health_metrics"]}})).checked  # other tables fine
    assert main(["lifecycle", "repair", "--apply", "--config", str(config_path)]) == 0
    assert count(cfg, TABLE) + archived_rows(cfg) == len(before)
    assert handles.verify_archive(cfg).ok


def test_an_unnamed_file_whose_rows_are_nowhere_else_is_kept(cfg):
    """A committed file dropped from the manifest while the ledger forgot it too (main
    restored from an old backup, say): its rows exist nowhere else, so it is listed again
    (rebuilt from the file), never deleted. (A killed run's file whose rows are still in main
    is deleted on proof: test_archive_crash, main_archive.after_put.)"""
    from persys_pipelines.lib.archive.manifest import write_manifest

    rows_in_main(cfg)
    before = snapshot(cfg, TABLE)
    handles.archive_due(cfg, LATER, tables=[TABLE])
    store = handles.archive_stores(cfg).active
    doc = read_manifest(store, TABLE)
    gone = doc.committed()[0]
    doc.drop(gone.key)
    write_manifest(store, doc)
    with resolve_tier(cfg, "main").connect() as conn:
        conn.execute("delete from persys.ledger where detail->>'key' = %s", (gone.key,))
        conn.commit()
    handles.repair_all(cfg, [TABLE], apply=True)
    assert store.exists(gone.key)
    back = {e.key: e for e in read_manifest(store, TABLE).committed()}[gone.key]
    assert (back.rows, back.min_day, back.max_day) == (gone.rows, gone.min_day, gone.max_day)
    assert count(cfg, TABLE) + archived_rows(cfg) == len(before)
    handles.restore(cfg, TABLE, dt.date(2024, 1, 1), dt.date(2024, 12, 31), pin_days=0)
    assert snapshot(cfg, TABLE) == before


def test_restore_after_a_timezone_change_cuts_by_the_day_the_file_records(cfg, config_path):
    """A row near midnight is restored by the day it was archived under, not lost."""
    rows_in_main(cfg)
    with resolve_tier(cfg, "main").connect() as conn:
        conn.execute("insert into health_metrics (measured_at, metric, value, unit) values "
                     "('2024-03-10 23:30+00', 'midnight', 1, 'x')")  # 10 March in London
        conn.commit()
    before = snapshot(cfg, "health_metrics")
    handles.archive_due(cfg, LATER, tables=["health_metrics"])
    doc = yaml.safe_load(config_path.read_text())
    doc["timezone"] = "Asia/Tokyo"  # 11 March there
    config_path.write_text(yaml.safe_dump(doc))
    tokyo = load_config(config_path)
    got = handles.restore(tokyo, "health_metrics", dt.date(2024, 3, 10), dt.date(2024, 3, 10),
                          pin_days=0)
    assert got.rows >= 1
    with resolve_tier(cfg, "main").connect() as conn:
        assert conn.execute("select count(*) from health_metrics where metric = 'midnight'"
                            ).fetchone()[0] == 1
    handles.restore(tokyo, "health_metrics", dt.date(2024, 1, 1), dt.date(2024, 12, 31),
                    pin_days=0)
    assert snapshot(cfg, "health_metrics") == before


def test_restore_after_a_column_was_widened(cfg):
    rows_in_main(cfg)
    before = snapshot(cfg, "transactions")
    assert sum(r.rows for r in handles.archive_due(cfg, MUCH_LATER, tables=["transactions"]))
    with resolve_tier(cfg, "main").connect() as conn:
        conn.execute("alter table transactions alter column amount type numeric(14,2)")
        conn.execute("alter table transactions alter column merchant type varchar(500)")
        conn.commit()
    handles.restore(cfg, "transactions", dt.date(2024, 1, 1), dt.date(2024, 12, 31), pin_days=0)
    assert len(snapshot(cfg, "transactions")) == len(before)
    assert snapshot(cfg, "transactions") == before  # text forms equal: the values are
    from persys_pipelines.lib.archive import drill
    again = handles.archive_due(cfg, MUCH_LATER, tables=["transactions"])
    assert sum(r.rows for r in again) == len(before), again
    results = drill.drill(resolve_tier(cfg, "main"), handles.archive_stores(cfg),
                          handles.keyring(cfg), ["transactions"], months=None)
    assert results and all(r.ok for r in results), [r.line() for r in results]


def test_resummarised_archived_days_replace_never_double(cfg):
    """The issue's demo case: days whose summaries were archived are summarised again; the
    archive holds one row per day and a read returns one row per day."""
    from persys_pipelines.handles import setup_tiers

    setup_tiers(cfg)
    days = [dt.date(2024, 3, 1) + dt.timedelta(days=i) for i in range(29)]
    first, last = days[0], days[-1]
    columns = ("day", "summary_text")
    daily = handles.daily_handles(cfg)
    store_days(daily, "daily_summaries", columns, first, last, [(d, "first") for d in days])
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    handles.run_table(cfg, core, main, "daily_summaries", LATER)
    handles.archive_due(cfg, LATER, tables=["daily_summaries"])
    assert archived_rows(cfg, "daily_summaries") == 29
    store_days(daily, "daily_summaries", columns, first, last, [(d, "second") for d in days])
    assert archived_rows(cfg, "daily_summaries") + count(cfg, "persys.daily_summaries") == 29
    got = reader.read(handles.tiered_reader(cfg), "daily_summaries", days[3], days[5],
                      columns=("summary_text",))
    assert list(got["summary_text"]) == ["second"] * 3


def test_duckdb_agrees_with_main_before_mains_copy_goes(cfg):
    """Each archived month read by DuckDB (not our reader) gives main's count, sums and
    extremes for those rows, taken before the archive run deleted them."""
    rows_in_main(cfg)
    with resolve_tier(cfg, "main").connect() as conn:
        want = {m: (n, float(s), lo, hi) for m, n, s, lo, hi in conn.execute(
            "select to_char(occurred_on, 'YYYY-MM'), count(*), sum(amount), min(occurred_on),"
            " max(occurred_on) from transactions where occurred_on < '2024-05-01' group by 1"
        ).fetchall()}
    assert handles.archive_due(cfg, MUCH_LATER, tables=["transactions"])
    store, ring = handles.archive_stores(cfg).active, handles.keyring(cfg)
    got = {}
    db = duckdb.connect()
    for entry in read_manifest(store, "transactions").committed():
        plain, _ = load_file(store, ring, entry)
        path = cfg.home / f"{entry.sha256}.parquet"
        path.write_bytes(plain)
        n, s, lo, hi = db.execute(
            "select count(*), sum(amount)::double, min(occurred_on), max(occurred_on) "
            f"from read_parquet('{path}')").fetchone()
        got[entry.month] = (n, s, lo, hi)
    assert got == want
