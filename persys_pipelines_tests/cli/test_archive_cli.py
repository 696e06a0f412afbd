"""The archive issue's done-criterion through the command line, on a small sample:
`persys lifecycle run --as-of <two years later>` leaves months older than main_days in Parquet,
`persys archive verify` is clean, restoring a month gives back exactly the rows that left, and
the purge deletes only files past delete_days."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

from persys_pipelines import handles as setup_lib
from persys_pipelines.cli import main
from persys_pipelines.handles import resolve_tier
from persys_pipelines_tests.lifecycle_helpers import rows_text

AS_OF = dt.date(2025, 2, 20)  # sample: 2024-12-23 .. 2025-02-20
LATER = dt.date(2027, 2, 20)  # two years later


def in_month(rows: Counter, month: str) -> Counter:
    """journal_entries rows (text form, `(id,entry_date,...)`) of one month."""
    return Counter({r: n for r, n in rows.items() if r.split(",")[1].startswith(month)})


def manifest_keys(cfg, table: str) -> list[str]:
    path = cfg.home / "archive" / table / "manifest.json"
    return [e["key"] for e in json.loads(path.read_text())["files"]] if path.exists() else []


def test_lifecycle_archives_verify_restore_and_purge(cfg, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    (tmp_path / "dh").mkdir()
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=60, seed=5, as_of=AS_OF)
    core, main_tier = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    journal = rows_text(core, "journal_entries") + rows_text(main_tier, "journal_entries")
    tasks = rows_text(core, "tasks") + rows_text(main_tier, "tasks")

    assert main(["lifecycle", "run", "--as-of", LATER.isoformat(), "--yes"]) == 0
    out = capsys.readouterr().out
    archived = out.split("main→archive")[1]
    assert "journal_entries" in archived and "file://" in archived
    # every journal month is older than main_days (365): nothing left in core or main
    assert not rows_text(core, "journal_entries") and not rows_text(main_tier, "journal_entries")
    keys = manifest_keys(cfg, "journal_entries")
    assert [k.split("/")[1:3] for k in keys] == [["2024", "12"], ["2025", "01"], ["2025", "02"]]
    assert all((cfg.home / "archive" / k).is_file() for k in keys)
    # tasks keep 730 days in main: February 2025 is not older than that on 2027-02-20
    assert [k.split("/")[2] for k in manifest_keys(cfg, "tasks")] == ["12", "01"]
    assert sum(rows_text(main_tier, "tasks").values()) > 0

    assert main(["archive", "verify"]) == 0
    out = capsys.readouterr().out
    assert "0 bad, 0 missing, 0 orphans; backups: 0 bad tables: ok" in out
    assert "main: no backup yet" in out
    assert main(["backup", "run"]) == 0
    capsys.readouterr()
    assert main(["archive", "verify"]) == 0
    assert "main: backup " in capsys.readouterr().out

    assert main(["archive", "restore", "journal_entries", "--from", "2025-01-01",
                 "--to", "2025-01-31"]) == 0
    capsys.readouterr()
    january = in_month(journal, "2025-01")
    assert sum(january.values()) > 0
    assert rows_text(main_tier, "journal_entries") == january, "exactly the rows that left"
    assert len(manifest_keys(cfg, "journal_entries")) == 2

    # delete_days 2555: as of 2555 days after 2025-01-01 only December 2024 is past it
    purge_day = dt.date(2025, 1, 1) + dt.timedelta(days=2555)
    assert main(["lifecycle", "run", "--as-of", purge_day.isoformat(), "--dry-run"]) == 0
    dry = capsys.readouterr().out.split("lifecycle purge")[1]
    assert "would delete" in dry and "journal_entries/2024/12/" in dry
    assert "journal_entries/2025/" not in dry and "tasks" not in dry
    assert len(manifest_keys(cfg, "journal_entries")) == 2, "a dry run deletes nothing"

    assert main(["lifecycle", "run", "--as-of", purge_day.isoformat(), "--yes"]) == 0
    purged = capsys.readouterr().out.split("lifecycle purge")[1]
    assert "journal_entries" in purged
    # January went back to the archive (due again), December is gone, tasks keep everything
    assert [k.split("/")[1:3] for k in manifest_keys(cfg, "journal_entries")] == [
        ["2025", "01"], ["2025", "02"]]
    assert not list((cfg.home / "archive" / "journal_entries" / "2024").rglob("*.parquet"))
    assert len(manifest_keys(cfg, "tasks")) == 3, "delete_days: null keeps every file"
    tasks_archived = sum(e["rows"] for e in json.loads(
        (cfg.home / "archive" / "tasks" / "manifest.json").read_text())["files"])
    tasks_in_db = rows_text(core, "tasks") + rows_text(main_tier, "tasks")  # open tasks: core
    assert sum(tasks.values()) == sum(tasks_in_db.values()) + tasks_archived
    with main_tier.connect() as conn:
        deleted = conn.execute("select table_name, rows from persys.ledger "
                               "where to_tier = 'deleted' and outcome = 'moved'").fetchall()
    assert ("journal_entries", sum(in_month(journal, "2024-12").values())) in deleted
    assert main(["archive", "verify"]) == 0


def test_archive_run_goes_through_dagster_and_says_nothing_for_nothing(cfg, capsys):
    """`persys archive run` archives through the same Dagster run as `lifecycle run` (so it is
    in the UI), names each table once with its noun forms, and a run with nothing due is one
    line."""
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=60, seed=5, as_of=AS_OF)
    assert main(["lifecycle", "run", "--as-of", AS_OF.isoformat(), "--table",
                 "journal_entries"]) == 0  # core→main first (journal: 7 days in core)
    capsys.readouterr()
    assert main(["archive", "run", "--as-of", LATER.isoformat(), "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert dry.startswith("journal_entries: 2024-12, 2025-01, 2025-02 (")
    assert main(["archive", "run", "--as-of", LATER.isoformat()]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("archived journal_entries: 3 months, 3 files, ")
    assert main(["archive", "run", "--as-of", LATER.isoformat()]) == 0
    assert capsys.readouterr().out == "archive: nothing is due\n"
