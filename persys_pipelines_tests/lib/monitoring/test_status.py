"""persys status: sizes and day ranges agree with direct SQL, in the documented JSON shape."""

from __future__ import annotations

import datetime as dt
import json

import psycopg

from persys_pipelines import handles
from persys_pipelines import handles as setup_lib
from persys_pipelines.cli import main

AS_OF = dt.date(2026, 3, 31)


def test_status_numbers_match_sql(cfg, tier_dsns):
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=40, seed=7, as_of=AS_OF)
    with psycopg.connect(tier_dsns["core"]) as conn:  # a row with no day, and one moved by hand
        conn.execute("insert into tasks (title, status) values ('open task', 'open')")
    doc = handles.status(cfg, AS_OF)

    assert doc["as_of"] == "2026-03-31"
    for tier in ("core", "main"):
        with psycopg.connect(tier_dsns[tier]) as conn:
            size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        # the database grows a little between the two measurements only through our reads
        assert abs(doc["tiers"][tier]["bytes"] - size) < 256 * 1024
    assert doc["tiers"]["core"]["quota_bytes"] == 500 * 1024 * 1024
    assert doc["tiers"]["core"]["pct"] == round(
        100 * doc["tiers"]["core"]["bytes"] / (500 * 1024 * 1024), 2)
    assert doc["tiers"]["main"]["quota_bytes"] is None and doc["tiers"]["main"]["pct"] is None
    archive = doc["tiers"]["archive"]
    assert {k: archive[k] for k in ("bytes", "files", "url")} == {
        "bytes": 0, "files": 0, "url": cfg.archive_url}
    assert [s["role"] for s in archive["stores"]] == ["primary"]

    with psycopg.connect(tier_dsns["core"]) as conn:
        rows, first, last = conn.execute(
            "select count(*), min((measured_at at time zone 'Europe/London')::date), "
            "max((measured_at at time zone 'Europe/London')::date) from health_metrics"
        ).fetchone()
        tasks_null = conn.execute("select count(*) from tasks where completed_at is null"
                                  ).fetchone()[0]
    health = doc["tables"]["health_metrics"]
    assert health["core"] == {"rows": rows, "first_day": first.isoformat(),
                              "last_day": last.isoformat(), "null_day_rows": 0,
                              "unplaced_day_rows": 0}
    assert last == AS_OF
    assert health["main"] == {"rows": 0, "first_day": None, "last_day": None, "null_day_rows": 0,
                              "unplaced_day_rows": 0}
    assert health["archive"]["rows"] == 0
    assert doc["tables"]["tasks"]["core"]["null_day_rows"] == tasks_null > 0


def test_status_cli_json_shape_and_text(cfg, capsys):
    assert main(["setup", "--sample-data", "--days", "10", "--seed", "7",
                 "--as-of", "2026-03-31"]) == 0
    assert "sample data:" in capsys.readouterr().out
    assert main(["status", "--json", "--as-of", "2026-03-31"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= {"as_of", "tiers", "tables"}
    for tier in ("core", "main"):
        assert set(doc["tiers"][tier]) >= {"bytes", "quota_bytes", "pct"}
        assert isinstance(doc["tiers"][tier]["bytes"], int)
    assert set(doc["tiers"]["archive"]) >= {"bytes", "files"}
    for table, tiers in doc["tables"].items():
        for tier in ("core", "main", "archive"):
            assert set(tiers[tier]) >= {"rows", "first_day", "last_day"}, (table, tier)
    assert doc["tables"]["journal_entries"]["core"]["last_day"] == "2026-03-31"

    assert main(["status", "--as-of", "2026-03-31"]) == 0
    text = capsys.readouterr().out
    assert "core" in text and "of 500.0 MB" in text and "journal_entries" in text


def test_config_error_exits_nonzero_naming_the_key(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "persys.yaml"
    bad.write_text("tables:\n  journal_entries: {day_column: entry_date, core_days: 400, "
                   "main_days: 365}\n")
    monkeypatch.setenv("PERSYS_CONFIG", str(bad))
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert "tables.journal_entries.core_days (400) must be <= main_days (365)" in err
    assert str(bad) in err


def test_status_text_when_a_tier_holds_only_rows_without_a_day(cfg, tier_dsns, capsys):
    """Open tasks (completed_at NULL) only: `persys status` shows them instead of crashing."""
    setup_lib.setup_tiers(cfg)
    with psycopg.connect(tier_dsns["core"]) as conn:
        conn.execute("insert into tasks (title, status) values ('a', 'open'), ('b', 'open')")
    assert main(["status", "--as-of", "2026-03-31"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("tasks"))
    assert "2 rows, none with a day" in line
    assert "(2 rows in core have no day and stay there)" in out


def test_status_shows_the_age_of_each_tiers_newest_backup(cfg, capsys):
    """A fresh install's backups are not yet due; a daily core backup two days old is OVERDUE;
    main's weekly one is fine; a tier never backed up says how to take one."""
    from persys_pipelines import handles
    from persys_pipelines.handles import archive_stores
    from persys_pipelines.lib.archive.marker import MARKER

    setup_lib.setup_tiers(cfg)
    setup_lib.mark_archive_stores(cfg)  # as `persys setup` does: the install begins now
    now = dt.datetime.now(dt.UTC)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "OVERDUE" not in out
    assert ("core    none yet (not yet due: the daily schedule takes the first; `persys backup "
            "run --tier core` takes one now)") in out

    store = archive_stores(cfg, check=False).primary  # the install began two days ago
    store.put(MARKER, json.dumps({"created": (now - dt.timedelta(days=2)).isoformat()}).encode())
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "core    none yet (OVERDUE: daily schedule; `persys backup run --tier core`)" in out
    assert "main    none yet (not yet due" in out  # weekly: its first is still ahead

    handles.backup(cfg, "core", now=now - dt.timedelta(hours=50))
    main_backup = handles.backup(cfg, "main", now=now - dt.timedelta(days=3))
    assert main(["status", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["backups"]
    assert doc["core"]["overdue"] is True and 49.9 <= doc["core"]["age_hours"] <= 50.5
    assert doc["main"] == {"id": main_backup.id, "age_hours": doc["main"]["age_hours"],
                           "schedule": "weekly", "overdue": False}
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    backups = out.split("Backups (newest)\n", 1)[1].splitlines()
    assert backups[0].startswith("  core    ") and backups[0].endswith(
        "2.1 d old  OVERDUE for its daily schedule")
    assert backups[1] == f"  main    {main_backup.id}  3.0 d old"
