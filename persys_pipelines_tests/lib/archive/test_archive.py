"""Archive tier: months leave main as verified Parquet files and come back exactly."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
import yaml

from persys_pipelines import handles
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.archive import manifest
from persys_pipelines.lib.config import load_config
from persys_pipelines_tests.archive_helpers import LATER, count, rows_in_main, snapshot
from persys_pipelines_tests.conftest import DEFAULT_TABLES, write_config

TYPED = ["journal_entries", "tasks", "transactions", "daily_summaries", "health_metrics",
         "shadow_work"]


def _summaries(cfg) -> None:
    """jsonb, NULL-able text and timestamptz rows the sample data does not write."""
    with resolve_tier(cfg, "main").connect() as conn:
        for i in range(1, 29):
            conn.execute(
                "insert into persys.daily_summaries (day, health, finance, summary_text, "
                "created_at) "
                "values (%s, %s, %s, %s, %s)",
                (dt.date(2024, 2, i), json.dumps({"sleep": 7.25 + i / 100, "tags": ["a", None]}),
                 json.dumps({"spent": "12.30", "n": None, "nested": {"k": [1, 2.5]}}),
                 "quote \" comma , newline\nand tab\t and unicode ✓" if i % 2 else "",
                 dt.datetime(2024, 2, i, 23, 59, 59, 123456, tzinfo=dt.UTC)))


def test_archive_then_restore_is_exact(cfg):
    rows_in_main(cfg)
    _summaries(cfg)
    short = {t: {**p, "main_days": 30} for t, p in DEFAULT_TABLES.items()}
    cfg = cfg.model_copy(update={"tables": load_config_tables(cfg, short)})
    before = {t: snapshot(cfg, t) for t in TYPED}
    open_tasks = [r for r in before["tasks"] if ",open," in r[0]]

    results = handles.archive_due(cfg, LATER)
    assert {(r.table, r.month.month) for r in results} >= {("journal_entries", 2),
                                                          ("transactions", 4),
                                                          ("daily_summaries", 2)}
    assert all(count(cfg, t) == 0 for t in ("journal_entries", "transactions", "daily_summaries"))
    assert snapshot(cfg, "tasks") == sorted(open_tasks), "open tasks (only_when) stay in main"
    root = cfg.home / "archive"
    assert len(list(root.rglob("*.parquet"))) == len(results)
    manifest = json.loads((root / "journal_entries" / "manifest.json").read_text())
    entry = manifest["files"][0]
    assert entry["key"].startswith("journal_entries/2024/02/") and entry["state"] == "committed"
    assert entry["rows"] == 31 and entry["min_day"] == "2024-02-01"
    assert ["tags", "text[]"] in entry["schema"]
    with resolve_tier(cfg, "main").connect() as conn:
        ledger = conn.execute("select count(*) from persys.ledger where to_tier = 'archive' "
                              "and outcome = 'moved'").fetchone()[0]
    assert ledger == len(results)
    assert handles.verify_archive(cfg).ok

    again = handles.archive_due(cfg, LATER)
    assert again == [], "nothing is due twice"

    for table in TYPED:
        handles.restore(cfg, table, dt.date(2024, 1, 1), dt.date(2024, 12, 31))
        assert snapshot(cfg, table) == before[table], f"{table} came back exactly"
    assert not list(root.rglob("*.parquet")), "restored rows left the archive"
    again = handles.restore(cfg, "journal_entries", dt.date(2024, 1, 1),
                                    dt.date(2024, 12, 31))
    assert again.rows == 0 and snapshot(cfg, "journal_entries") == before["journal_entries"]


def load_config_tables(cfg, tables: dict) -> dict:
    from persys_pipelines.lib.config import TablePolicy

    return {t: TablePolicy(**p) for t, p in tables.items()}


def test_partial_restore_keeps_the_rest_archived_and_late_rows_add_a_file(cfg):
    rows_in_main(cfg)
    handles.archive_due(cfg, LATER, tables=["journal_entries"])
    march = [r for r in snapshot_archive(cfg) if r.month == "2024-03"][0]
    # not pinned: the next archive run takes them back
    got = handles.restore(cfg, "journal_entries", dt.date(2024, 3, 10),
                                  dt.date(2024, 3, 12), pin_days=0)
    assert got.rows == count(cfg, "journal_entries") > 0
    new_march = [r for r in snapshot_archive(cfg) if r.month == "2024-03"]
    assert len(new_march) == 1 and new_march[0].key != march.key
    assert new_march[0].rows + got.rows == march.rows
    assert handles.verify_archive(cfg).ok

    # the restored days are due again: they go into a new file next to the remainder
    handles.archive_due(cfg, LATER, tables=["journal_entries"])
    assert count(cfg, "journal_entries") == 0
    files = [r for r in snapshot_archive(cfg) if r.month == "2024-03"]
    assert len(files) == 2 and sum(f.rows for f in files) == march.rows
    assert new_march[0].key in {f.key for f in files}, "archived files are never rewritten"


def snapshot_archive(cfg, table: str = "journal_entries") -> list:
    return manifest.read_manifest(handles.archive_stores(cfg).active, table).files


def test_a_corrupted_byte_is_found_by_verify(cfg, capsys):
    from persys_pipelines.cli import main

    rows_in_main(cfg)
    handles.archive_due(cfg, LATER, tables=["journal_entries"])
    path = sorted((cfg.home / "archive").rglob("*.parquet"))[1]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    (sorted((cfg.home / "archive").rglob("*.parquet"))[0]).unlink()

    report = handles.verify_archive(cfg)
    assert not report.ok and report.checked == 2
    assert [uri for uri, _ in report.bad] == [f"file://{path}"]
    assert "sha256" in report.bad[0][1] and len(report.missing) == 1
    assert main(["archive", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"BAD      file://{path}" in out and "MISSING  " in out


def test_purge_deletes_only_files_past_delete_days(cfg, capsys):
    from persys_pipelines.cli import main

    rows_in_main(cfg)
    handles.archive_due(cfg, LATER, tables=["journal_entries", "health_metrics"])
    files = len(list((cfg.home / "archive").rglob("*.parquet")))
    # delete_days 2555: Feb 2024 is past it on 2031-03-15, March and April are not
    as_of = dt.date(2024, 2, 29) + dt.timedelta(days=2556)
    assert main(["archive", "purge", "--as-of", as_of.isoformat(), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("/2024/02/") == 2 and "/2024/03/" not in out and "would delete" in out
    assert len(list((cfg.home / "archive").rglob("*.parquet"))) == files

    items = handles.purge_due(cfg, as_of)
    assert {(i.table, i.max_day) for i in items} == {("journal_entries", "2024-02-29"),
                                                     ("health_metrics", "2024-02-29")}
    assert len(list((cfg.home / "archive").rglob("*.parquet"))) == files - 2
    assert handles.verify_archive(cfg).ok
    with resolve_tier(cfg, "main").connect() as conn:
        assert conn.execute("select count(*) from persys.ledger where to_tier = 'deleted'"
                            ).fetchone()[0] == 2


def test_s3_store_through_boto3(tmp_path, tier_dsns, moto_server, monkeypatch):
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(
        Bucket="persys-archive")
    path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home")
    doc = yaml.safe_load(path.read_text())
    doc["tiers"]["archive"] = {"url": "s3://persys-archive/home", "endpoint_url": moto_server,
                               "region": "us-east-1", "access_key_id": "env:S3_KEY",
                               "secret_access_key": "env:S3_SECRET"}
    path.write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("S3_KEY", "testing")
    monkeypatch.setenv("S3_SECRET", "testing")
    cfg = load_config(path)
    rows_in_main(cfg)
    before = snapshot(cfg, "journal_entries")
    results = handles.archive_due(cfg, LATER, tables=["journal_entries"])
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
            .list_objects_v2(Bucket="persys-archive")["Contents"]]
    assert "home/journal_entries/manifest.json" in keys
    assert {f"home/{r.key}" for r in results} <= set(keys)
    assert handles.verify_archive(cfg).ok
    handles.restore(cfg, "journal_entries", dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert snapshot(cfg, "journal_entries") == before


def test_failover_to_the_secondary_store_when_the_primary_is_down(tmp_path, tier_dsns):
    blocker = tmp_path / "nas-not-mounted"
    blocker.write_text("a file where the mount point should be")
    path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home")
    doc = yaml.safe_load(path.read_text())
    doc["tiers"]["archive"] = {"url": f"file://{blocker}/persys",
                               "secondary_url": f"file://{tmp_path}/usb"}
    path.write_text(yaml.safe_dump(doc))
    cfg = load_config(path)
    rows_in_main(cfg)
    results = handles.archive_due(cfg, LATER, tables=["journal_entries"])
    assert results and all(r.store == f"file://{tmp_path}/usb" for r in results)
    inv = handles.inventory(cfg)
    primary, secondary = inv["stores"]
    assert not primary["reachable"] and "not writable" in primary["error"]
    assert secondary["files"] == len(results) and secondary["role"] == "secondary"
    assert inv["tables"]["journal_entries"]["stores"] == [f"file://{tmp_path}/usb"]
    report = handles.verify_archive(cfg)
    assert report.checked == len(results) and not report.bad
    assert report.unreachable and not report.ok, "a primary that is down is reported"

    both_down = cfg.model_copy(update={"tiers": cfg.tiers.model_copy(update={
        "archive": cfg.tiers.archive.model_copy(update={
            "secondary_url": f"file://{blocker}/usb"})})})
    with pytest.raises(Exception, match="not writable"):
        handles.archive_stores(both_down)
